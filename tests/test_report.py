"""Report stage: escaping of every corpus string, the xlsx workbook, and the rendered page in headless Chromium."""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from pipeline import report, workbook
from pipeline.aggregate import aggregate
from pipeline.taxonomy import load_taxonomy

from conftest import ROOT, write

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
TITLE = "<b>INJECTED-B</b> Hostile title"
REGION_NAME = 'Evil <i>Region</i> & "Co"'
HOSTILE_PATH = "en/EV/evil <x>&y.txt"


# ------------------------------------------------------------------------------------ helpers

class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


def parse(page: str) -> Tags:
    p = Tags()
    p.feed(page)
    return p


# the only links a page may hold: inside itself, to the report's own companion pages (named by hashes, never by
# corpus strings), and back from those to the report
OWN_LINK = re.compile(r"#[\w-]*|(?:report_files/)?(?:doc|cell)-[0-9a-f]{16}\.html(?:#p\d+)?|\.\./report\.html")


def assert_no_injection(page: str, scripts: int = 1, has_title: bool = True) -> None:
    """No element, attribute or script of the page comes from the corpus."""
    tags = parse(page)
    names = [t for t, _ in tags.tags]
    assert "img" not in names
    assert "i" not in names
    assert names.count("script") == scripts, "only the page's own script"
    assert not any(a.lower().startswith("on") for _, attrs in tags.tags for a in attrs), "no event-handler attribute"
    for tag, attrs in tags.tags:
        if tag == "b":
            assert set(attrs) <= {"lang"}
        assert "src" not in attrs, f"no fetched resource ({tag})"
        if "href" in attrs:
            assert OWN_LINK.fullmatch(attrs["href"]), f"links stay inside the report: {attrs['href']}"
    assert "alert(" not in "".join(tags.script_text)
    assert "<b>INJECTED-B" not in page
    assert ("&lt;b&gt;INJECTED-B&lt;/b&gt;" in page) == has_title


# ------------------------------------------------------------------------ synthetic tables (fast)

def _synthetic():
    """Documents, passages and labels as the earlier stages write them, with hostile strings everywhere."""
    docs = pd.DataFrame([
        {"doc_id": "zh/SD/条例.txt", "region": "SD", "region_name": "山东", "lang": "zh",
         "title": "山东省促进产学研合作条例", "date": "2014-09-26"},
        {"doc_id": HOSTILE_PATH, "region": "EV", "region_name": REGION_NAME, "lang": "en", "title": TITLE,
         "date": ""},
    ])
    zh_text = "第八条 省知识产权部门建设知识产权保护中心，高等学校应当建立专利申请前评估制度。"
    en_text = f"Trade associations {SCRIPT} convene sector groups {IMG} with\x0c researchers."
    en_text2 = "=HYPERLINK(\"http://example.invalid\") contract research <svg onload=alert(4)>"
    passages = pd.DataFrame([
        {"passage_id": "zh/SD/条例.txt#1", "doc_id": "zh/SD/条例.txt", "kind": "article", "label": "第八条",
         "heading_path": "第二章 保护", "text": zh_text, "start": 0, "lang": "zh", "region": "SD"},
        {"passage_id": f"{HOSTILE_PATH}#1", "doc_id": HOSTILE_PATH, "kind": "paragraph", "label": "¶ <u>2</u>",
         "heading_path": "<h1>head</h1>", "text": en_text, "start": 0, "lang": "en", "region": "EV"},
        {"passage_id": f"{HOSTILE_PATH}#2", "doc_id": HOSTILE_PATH, "kind": "paragraph", "label": "¶ 3",
         "heading_path": "", "text": en_text2, "start": 100, "lang": "en", "region": "EV"},
    ])
    t = zh_text.index("知识产权保护中心")
    a = en_text.index("Trade associations")
    c = en_text2.index("contract research")
    labels = pd.DataFrame([
        {"passage_id": "zh/SD/条例.txt#1", "doc_id": "zh/SD/条例.txt", "region": "SD", "node": "measure.ip.system",
         "score": 1.0, "source": "lexicon",
         "evidence": json.dumps([{"term": "知识产权保护中心", "start": t, "end": t + 8, "rule": "term"}])},
        {"passage_id": f"{HOSTILE_PATH}#1", "doc_id": HOSTILE_PATH, "region": "EV",
         "node": "measure.platform.associations", "score": 1.0, "source": "lexicon",
         # a hostile span covering the injected markup, overlapping the real term
         "evidence": json.dumps([{"term": "Trade associations", "start": a, "end": a + 18, "rule": "term"},
                                 {"term": "<script>", "start": a + 5, "end": a + 30, "rule": "term"}])},
        {"passage_id": f"{HOSTILE_PATH}#2", "doc_id": HOSTILE_PATH, "region": "EV",
         "node": "model.commissioned_research", "score": 0.9, "source": "model",
         "evidence": json.dumps([{"term": "contract research", "start": c, "end": c + 17, "rule": "term"}])},
    ])
    return docs, passages, labels


@pytest.fixture(scope="module")
def built():
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _synthetic()
    tables = aggregate(docs, passages, labels, tax)
    tables["ingest_report"] = pd.DataFrame([{"path": HOSTILE_PATH, "status": "ingested", "reason": "ok"}])
    counts = {"files": 2, "ingested": 2}
    evidence = report.evidence_index(tables["evidence"])
    page = report.report_html(tables, tax, evidence, counts)
    return tax, tables, evidence, page, counts


def test_evidence_strings_are_left_to_the_templates_to_escape(built):
    _, _, evidence, page, _ = built
    items = [it for entry in evidence.values() for it in entry["items"]]
    assert len(items) == 3
    for it in items:
        # corpus strings stay plain text (never Markup), so autoescaping escapes them wherever they are written
        for field in ("title", "article", "heading", "doc", "date", "source"):
            assert type(it[field]) is str, (field, it[field])
        assert all(type(term) is str for term in it["terms"])
        # the passage and its matched terms are corpus text too: plain strings, escaped by the template
        for marked in (it["marked"], it["snippet"]):
            assert type(marked["tail"]) is str and all(type(x) is str for pair in marked["pairs"] for x in pair)
    ev = evidence["EV|measure.platform.associations"]["items"][0]
    assert ev["title"] == TITLE and html.escape(TITLE) in page
    assert ev["doc"] == HOSTILE_PATH and html.escape(HOSTILE_PATH) in page
    shown = _render_marked(ev["marked"])
    assert re.sub(r"</?mark>", "", shown).count("<") == 0
    unmarked = re.sub(r"</?mark>", "", shown)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in unmarked
    assert "&lt;img src=x onerror=alert(2)&gt;" in unmarked
    # overlapping spans are merged into one mark, which never cuts an entity
    assert shown.count("<mark>") == 1
    assert shown.startswith("<mark>Trade associations &lt;script&gt;ale</mark>")


def _render_marked(marked: dict) -> str:
    """A marked passage as the pages write it (templates/marks.html.j2)."""
    return report.HTML.from_string('{% from "marks.html.j2" import marked %}{{ marked(m) }}').render(m=marked)


def test_report_html_escapes_every_corpus_string(built):
    _, _, _, page, _ = built
    assert_no_injection(page)
    unmarked = re.sub(r"</?mark>", "", page)
    for raw in (SCRIPT, IMG, TITLE, REGION_NAME, HOSTILE_PATH, "<svg onload", "<u>2</u>", "<h1>head</h1>"):
        assert raw not in unmarked, raw
        assert html.escape(raw) in unmarked, raw
    assert "山东" in page and "知识产权保护中心" in page


def test_report_html_is_self_contained_and_its_script_is_allowed(built):
    _, _, _, page, _ = built
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp
    tags = parse(page)
    script = "".join(tags.script_text)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp, "the page's script must be allowed by its CSP hash"


def test_report_html_has_heatmaps_gaps_temporal_and_evidence_for_every_coloured_cell(built):
    tax, tables, _, page, _ = built
    assert 'data-facet="measure"' in page and 'data-facet="model"' in page
    assert 'id="gap-list"' in page and 'id="lacking"' in page
    assert "First year each region addressed each recommendation" in page
    ids = set(re.findall(r'<section class="evcell" id="(ev-\d+)"', page))
    cells = re.findall(r'<td class="hit b\d"><a class="cell" href="#(ev-\d+)"', page)
    assert cells and set(cells) <= ids
    n_coloured = len(re.findall(r'<td class="hit b\d"', page))
    assert n_coloured == len(cells), "every coloured cell links to its evidence"
    # missing recommendations carry the paper's recommendation
    assert tax.by_id["measure.government.fiscal"].recommendation in page
    # heatmap rows follow the region ranking; columns put the most widely lacking recommendation first
    heat = page[page.index('data-facet="measure"'):page.index('data-facet="model"')]
    rows = re.findall(r'<th class="row" title="([^"]+)">', heat)
    assert rows == list(tables["region_ranking"]["region"])
    lacking = tables["gaps"].query("facet == 'measure' and not is_group").groupby("node")["addressed"].sum()
    first_col = re.search(r'<th class="col" title="([\w.]+):', heat).group(1)
    assert lacking[first_col] == lacking.min()


def test_report_md_is_inert(built):
    tax, tables, _, _, counts = built
    md = report.report_md(tables, tax, counts)
    summary = report.summary_md(tables, tax, counts)
    for text in (md, summary):
        assert "<script" not in text and "<img" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;" in md
    assert "Recommendations ranked by how many regions lack them" in md
    assert "First year each region addressed each recommendation" in md


def test_xlsx_opens_with_one_sheet_per_table(built, tmp_path):
    import openpyxl

    _, tables, _, _, _ = built
    path = tmp_path / "coverage.xlsx"
    workbook.write_xlsx(tables, path)
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == [n for n in workbook.SHEETS if n in tables]
    # every coverage table has its sheet; the evidence table is Parquet only (coded_passages is its sheet)
    from pipeline.catalog import AGGREGATE_TABLES
    assert set(wb.sheetnames) == set(tables) - set(AGGREGATE_TABLES)
    for name in wb.sheetnames:
        header = next(wb[name].iter_rows(max_row=1, values_only=True))
        assert [h for h in header if h is not None] == list(tables[name].columns)
    # a title that starts like a formula is text shown as it is (Excel's hidden quote prefix, no visible ')
    full = openpyxl.load_workbook(path)
    formula_like = [c for row in full["coverage_document_long"].iter_rows() for c in row
                    if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    assert any(c.value.startswith("=HYPERLINK") for c in formula_like)
    assert all(c.data_type == "s" and c.quotePrefix for c in formula_like), "no corpus string becomes a formula"
    first = wb["coverage_document_long"]
    assert sum(1 for _ in first.iter_rows()) == len(tables["coverage_document_long"]) + 1
    # identical input, identical bytes
    again = tmp_path / "again.xlsx"
    workbook.write_xlsx(tables, again)
    assert again.read_bytes() == path.read_bytes()


def test_marked_passages_are_cut_around_the_match_and_escaped_by_the_template():
    text = "甲" * 3000 + "知识产权" + "乙" * 3000
    out = _render_marked(report._marked(text, [{"start": 3000, "end": 3004}], limit=400))
    assert "<mark>知识产权</mark>" in out and out.startswith("…") and out.endswith("…")
    assert len(out) < 500
    # spans out of range are ignored
    assert _render_marked(report._marked("a<b", [{"start": 5, "end": 9}])) == "a&lt;b"
    assert _render_marked(report._marked("<i>x</i> y", [{"start": 3, "end": 4}])) == "&lt;i&gt;<mark>x</mark>&lt;/i&gt; y"


def test_undated_corpus_has_no_temporal_view(built):
    tax, _, _, _, counts = built
    docs, passages, labels = _synthetic()
    docs["date"] = ""
    tables = aggregate(docs, passages, labels, tax)
    page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), counts)
    assert "No document has a date" in page
    assert_no_injection(page)


# ------------------------------------------------------------------------------ real browser

CN_DOC = textwrap.dedent("""\
    某省促进产学研合作条例（测试）

    第一条 为了促进产学研合作，制定本条例。

    第二条 省知识产权部门建设知识产权保护中心，高等学校、科研机构应当建立专利申请前评估制度。

    第三条 本省组织创新联合体承担省级重大科技专项，由领军企业牵头，高等学校、科研机构共同参与。

    第四条 市人民政府设立科技成果转化引导基金，由市财政出资。
    """)
BJ_DOC = textwrap.dedent("""\
    某市科技园区管理办法（测试）

    第一条 中关村科学城、怀柔科学城等科技园区应当为高等学校、科研机构和企业联合开展研发和成果产业化提供空间和配套服务。

    第二条 市科学技术主管部门编制关键技术攻关清单，支持企业牵头联合高等学校、科研机构组织攻关。
    """)
TW_DOC = textwrap.dedent("""\
    產學合作研發成果管理辦法（測試）

    第一章 權益歸屬

    第一條 學校應訂定智慧財產權管理規章，並設置技術移轉專責單位，辦理專利申請、維護及授權等事項。

    第二條 研發成果授權或讓與所得之淨收入，學校應以不低於百分之四十之比例分配予研發人員。
    """)
EVIL_DOC = textwrap.dedent(f"""\
    Hostile test document

    Trade associations and professional bodies are invited to convene sector groups {SCRIPT} that bring firms
    together {IMG} with researchers.

    Businesses may commission university departments to carry out contract research, testing or consultancy.
    """)


def chromium_binary() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def chromium(args: list[str], profile: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run headless Chromium in its own process group; a page that never finishes loading (an injected
    alert() blocks it) fails the test instead of leaving browser processes behind."""
    import signal

    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {timeout}s: the page is blocked (an injected alert()?)")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="module")
def pipeline_report(tmp_path_factory):
    """A small corpus (two Chinese documents, one hostile English one) run through the whole pipeline CLI."""
    root = tmp_path_factory.mktemp("report")
    corpus, out = root / "corpus", root / "out"
    write(corpus / "zh/SD/a.txt", CN_DOC)
    write(corpus / "zh/BJ/b.txt", BJ_DOC)
    write(corpus / HOSTILE_PATH, EVIL_DOC)
    write(corpus / "zh/TW/c.txt", TW_DOC)
    esc = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    write(corpus / "manifest.csv",
          "path,region,region_name,lang,title,date\n"
          "zh/SD/a.txt,SD,山东（测试）,zh,某省促进产学研合作条例,2015-03-01\n"
          "zh/BJ/b.txt,BJ,北京（测试）,zh,某市科技园区管理办法,\n"
          "zh/TW/c.txt,TW,臺灣（測試）,zh,,2018-01-01\n"
          f"{esc(HOSTILE_PATH)},EV,{esc(REGION_NAME)},en,{esc(TITLE + ' ' + '<script>alert(3)</script>')},2019-01-01\n")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                           "--taxonomy", str(ROOT / "taxonomy"), "--model", "lexicon", "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_pipeline_report_file_escapes_hostile_document(pipeline_report):
    page = (pipeline_report / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert html.escape(REGION_NAME) in page and html.escape(HOSTILE_PATH) in page
    assert_no_injection(page)
    md = (pipeline_report / "report.md").read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md


def test_report_renders_in_headless_chromium(pipeline_report, tmp_path):
    if not chromium_binary():
        pytest.skip("no chromium binary found (run `make browser` to install Debian's chromium)")
    url = (pipeline_report / "report.html").resolve().as_uri()
    proc = chromium(["--dump-dom", url], tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<table" in dom and 'data-facet="measure"' in dom and 'data-facet="model"' in dom
    assert re.search(r'<td class="hit b\d sel"><a class="cell"', dom), "the first coloured cell is selected on load"
    # the script ran: the evidence panel shows the first cell's passages, terms marked
    m = re.search(r'<section class="evcell on" id="ev-\d+">(.*?)</section>', dom, re.S)
    assert m, "evidence of the first cell is shown on load"
    assert "<mark>" in m.group(1) and "第" in m.group(1)
    assert re.search(r'<aside id="evidence"[^>]*class="picked"', dom), "the hint gave way to the evidence"
    # the hostile document: text present, escaped; nothing injected into the DOM
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=alert(2)&gt;" in dom
    assert_no_injection(dom)

    shot = tmp_path / "report.png"
    proc = chromium([f"--screenshot={shot}", "--window-size=1400,1800", url], tmp_path / "profile2")
    assert proc.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]


def test_browser_has_a_cjk_font():
    if not chromium_binary():
        pytest.skip("no chromium binary found (run `make browser` to install Debian's chromium)")
    if not shutil.which("fc-list"):
        pytest.skip("fc-list not available to check fonts")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no Chinese font: Chinese would render as boxes; `make browser` installs fonts-noto-cjk"


def test_xlsx_cells_empty_strings_zero_counts_and_formulas(tmp_path):
    import openpyxl

    doc = pd.DataFrame({"doc_id": ["a.txt"], "region": ["X"], "title": ["=HYPERLINK(\"x\")"], "date": [""],
                        "model.science_park": pd.Series([0], dtype="int64"),
                        "model.incubator": pd.Series([3], dtype="int64")})
    path = tmp_path / "c.xlsx"
    workbook.write_xlsx({"coverage_document": doc, "ingest_report": doc[["doc_id", "date"]]}, path)
    wb = openpyxl.load_workbook(path, read_only=True)
    row = list(wb["coverage_document"].iter_rows(min_row=2, values_only=True))[0]
    assert row[:4] == ("a.txt", "X", "=HYPERLINK(\"x\")", None)  # an empty date is not turned into a quote
    title = openpyxl.load_workbook(path)["coverage_document"]["C2"]
    assert title.data_type == "s" and title.quotePrefix  # text, shown without a visible '
    # a zero count is 0, as in the CSV: Excel's COUNT and AVERAGE skip blank cells
    assert row[4:] == (0, 3)
    # an empty string is an empty cell (read back as None, or not at all at the end of a row)
    assert list(wb["ingest_report"].iter_rows(min_row=2, values_only=True))[0] in (("a.txt", None), ("a.txt",))


def test_workbook_written_from_batches_in_any_order_is_the_same_file(tmp_path):
    """`run` hands the sheets to a forked writer as they become ready (the ingest report first); the file must
    be the one `report` writes in one go, and a writer whose sender goes away writes nothing."""
    from pipeline.reporting import Workbook as _Workbook

    tables = {name: pd.DataFrame({"region": ["X", "Y"], "n": [1, 0], "text": [name, ""]}) for name in workbook.SHEETS}
    workbook.write_xlsx(tables, tmp_path / "direct.xlsx")
    served = _Workbook(tmp_path / "served.xlsx")
    served.send({"ingest_report": tables["ingest_report"]})
    served.send(tables)  # the rest; the ingest report is not sent twice
    served.wait()
    assert (tmp_path / "served.xlsx").read_bytes() == (tmp_path / "direct.xlsx").read_bytes()

    abandoned = _Workbook(tmp_path / "abandoned.xlsx")
    abandoned.send({"ingest_report": tables["ingest_report"]})
    abandoned.cancel()
    assert not (tmp_path / "abandoned.xlsx").exists()
    with pytest.raises(ValueError):
        _Workbook(tmp_path / "partial.xlsx").wait()  # sheets never sent


# ------------------------------------------------------------------ evidence reachable, companion pages

def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section class="evcell" id="(ev-\d+)">(.*?)</section>', page, re.S))


def test_every_passage_of_every_cell_is_reachable(pipeline_report):
    """A cell's panel shows its strongest passages and links to a page with all of them; every passage links to
    its place in its document's page."""
    out = pipeline_report
    page = (out / "report.html").read_text(encoding="utf-8")
    labels = pd.read_parquet(out / "labels.parquet")
    leaf = labels[labels.source != "rollup"]
    passages = pd.read_parquet(out / "passages.parquet").set_index("passage_id")
    sections = _sections(page)
    assert sections
    checked = 0
    for sec in sections.values():
        m = re.search(r'<a class="allev" href="(report_files/cell-[0-9a-f]{16}\.html)">All (\d+) passage', sec)
        assert m, sec[:300]
        cell = (out / m.group(1)).read_text(encoding="utf-8")
        region, node = re.search(r"coded <code>([^<]+)</code> in ([^.<]+)\.", cell).group(2, 1)
        want = leaf[(leaf.region == html.unescape(region)) & (leaf.node == html.unescape(node))]
        items = re.findall(r'<div class="item" data-rank="\d+" data-order="\d+">', cell)
        assert len(items) == int(m.group(2)) == want["passage_id"].nunique()
        for href in re.findall(r'<a class="doclink" href="([^"]+)"', cell):
            target, _, anchor = href.partition("#")
            doc_page = (out / "report_files" / target).read_text(encoding="utf-8")
            assert anchor and f'id="{anchor}"' in doc_page
            checked += 1
    assert checked >= len(leaf["passage_id"].unique())
    # a document page holds the document's whole text, its coded passages marked
    for pid in leaf["passage_id"].unique()[:5]:
        p = passages.loc[pid]
        doc_page = (out / "report_files" / report.doc_page_name(p.doc_id)).read_text(encoding="utf-8")
        block = re.search(rf'<div class="psg coded" id="p{p.ordinal}">(.*?)</div></div>', doc_page, re.S).group(1)
        shown = p.text_original or p.text
        assert html.unescape(re.sub(r"<[^>]+>", "", block)).endswith(shown)


def test_companion_pages_escape_every_corpus_string(pipeline_report):
    files = sorted((pipeline_report / "report_files").glob("*.html"))
    assert any(f.name.startswith("cell-") for f in files) and any(f.name.startswith("doc-") for f in files)
    evil = 0
    for f in files:
        page = f.read_text(encoding="utf-8")
        assert_no_injection(page, scripts=1 if f.name.startswith("cell-") else 0, has_title="INJECTED-B" in page)
        unmarked = re.sub(r"</?mark>", "", page)
        assert SCRIPT not in unmarked and IMG not in unmarked
        evil += "&lt;script&gt;alert(1)&lt;/script&gt;" in unmarked
    assert evil >= 2  # the hostile document's own page and its cells'


def test_traditional_chinese_is_shown_as_written(pipeline_report):
    out = pipeline_report
    docs = pd.read_parquet(out / "documents.parquet").set_index("doc_id")
    tw = docs.loc["zh/TW/c.txt"]
    assert tw["converted_t2s"] and tw["title"] == "產學合作研發成果管理辦法（測試）"
    coded = pd.read_csv(out / "coded_passages.csv", encoding="utf-8-sig", keep_default_na=False)
    rows = coded[coded.doc_id == "zh/TW/c.txt"]
    assert len(rows) and all(r.text_original == tw["text_original"][r.start:r.end] for r in rows.itertuples())
    assert all(len(r.text_original) == len(r.text) and r.text_original != r.text for r in rows.itertuples())
    page = (out / "report.html").read_text(encoding="utf-8")
    tw_sections = [sec for sec in _sections(page).values() if "(TW) ×" in sec]
    texts = [t for sec in tw_sections for t in re.findall(r'<div class="txt" lang="zh-Hant">(.*?)</div>', sec)]
    assert len(texts) == len(tw_sections)
    plain = [html.unescape(re.sub(r"</?mark>", "", t)) for t in texts]
    assert all(t in tw["text_original"] for t in plain) and any("第一條 學校" in t for t in plain)
    assert all("<b>第一条</b>" not in sec and "产学合作" not in sec for sec in tw_sections)
    assert all("產學合作研發成果管理辦法" in sec for sec in tw_sections)
    doc_page = (out / "report_files" / report.doc_page_name("zh/TW/c.txt")).read_text(encoding="utf-8")
    assert "第一條 學校應訂定" in re.sub(r"</?mark>", "", doc_page)
    assert '<h1 lang="zh-Hant">產學合作研發成果管理辦法' in doc_page and '<a class="cite" href="#p2">第一條</a>' in doc_page
    # the chapter an evidence passage stands in is named as written too, in the report and in coded_passages.csv
    # (it read 第一章 权益归属 beside 第一條, and 权益归属 is nowhere in the document)
    assert all("权益归属" not in sec for sec in tw_sections) and any("第一章 權益歸屬" in sec for sec in tw_sections)
    articles = rows[rows["citation"].isin(["第一條", "第二條"])]
    assert len(articles) and set(articles["heading_path"]) == {"第一章 權益歸屬"}


def test_report_md_quotes_traditional_chinese_as_written(pipeline_report):
    """report.md is what is handed on: it quotes a Traditional document's evidence as report.html does, not the
    Simplified text it was coded in."""
    out = pipeline_report
    tw = pd.read_parquet(out / "documents.parquet").set_index("doc_id").loc["zh/TW/c.txt"]
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md[md.index("### 臺灣（測試） (TW)"):].split("\n### ")[0]
    quoted = [line for line in section.splitlines() if line.startswith("- ✅")]
    assert quoted
    for line in quoted:
        cited = line.rsplit(": ", 1)[1].replace("【", "").replace("】", "")
        assert cited in tw["text_original"], line
    assert "第一條" in section and "第一条" not in section


def test_the_csv_tables_quote_traditional_chinese_as_written(pipeline_report):
    """gaps.csv and coverage_document_long.csv are what a researcher quotes from: a Traditional document's
    evidence passage and its citation appear as the document writes them, as report.html and report.md show them."""
    out = pipeline_report
    tw = pd.read_parquet(out / "documents.parquet").set_index("doc_id").loc["zh/TW/c.txt"]
    for name, region_col in (("gaps.csv", "region"), ("coverage_document_long.csv", "region")):
        table = pd.read_csv(out / name, encoding="utf-8-sig", keep_default_na=False)
        rows = table[(table[region_col] == "TW") & (table["evidence_passage"] != "")]
        assert len(rows), name
        for r in rows.itertuples():
            quoted = r.evidence_passage.replace("【", "").replace("】", "")
            assert quoted in tw["text_original"], (name, quoted)
            # the title line before the first article is cited as the preamble, which it names, not quotes
            assert r.evidence_article in tw["text_original"] or r.evidence_article == "序言", (name, r.evidence_article)
        assert (rows["evidence_article"] == "第一條").any(), name


def test_tables_can_be_sorted_and_filtered(pipeline_report):
    page = (pipeline_report / "report.html").read_text(encoding="utf-8")
    for table in ("ranking-table", "lacking-table", "gap-list"):
        assert re.search(rf'<input type="search" class="filter" data-for="{table}"', page)
        assert f'id="{table}"' in page
    assert len(re.findall(r'<table class="list sortable"', page)) == 2
    script = "".join(parse(page).script_text)
    assert "table.sortable" in script and "input.filter" in script


def test_heatmap_headers_name_nodes_in_both_languages(built):
    tax, _, _, page, _ = built
    heat = page[page.index('data-facet="measure"'):page.index('data-facet="model"')]
    heads = re.findall(r'<th class="col" title="([\w.]+):[^"]*"><span>(.*?)</span></th>', heat)
    assert heads
    for node, inner in heads:
        n = tax.by_id[node]
        assert html.escape(n.name["en"]) in inner and n.name["zh"] in inner and node in inner


def test_undated_documents_are_shown_in_the_view_over_time(built):
    """The hostile document is undated; what only it addresses is "undated" in the first-year table (not "·",
    which would contradict the ranking), and it is listed by name."""
    _, tables, _, page, _ = built
    years = page[page.index('<table class="years heat">'):]
    years = years[:years.index("</table>")]
    ev_row = re.search(r'<tr><th class="row">[^<]*\(EV\).*?</tr>', years, re.S).group(0)
    assert re.search(r'<td class="und" title="[^"]*Industry associations as coordinators: addressed only in undated '
                     r'document\(s\): &lt;b&gt;INJECTED-B', ev_row), ev_row
    assert '<td class="miss">' in ev_row  # what it does not address stays "·"
    assert '<h3 id="undated">Undated documents (1)</h3>' in page
    listed = page[page.index('<h3 id="undated">'):]
    assert html.escape(TITLE) in listed and html.escape(HOSTILE_PATH) in listed


def test_an_undated_document_whose_manifest_date_was_refused_says_so(built):
    """A document the manifest dates 05/03/2021, a date ingest could not read, was listed among the undated ones
    as having "no date in the manifest, the file name or the text" and the researcher told to give its date in
    manifest.csv, which they had done. The list now names the refused value and why beside the document."""
    tax, tables, evidence, _, counts = built
    tables = dict(tables)
    tables["ingest_report"] = pd.DataFrame([{
        "path": HOSTILE_PATH, "status": "ingested", "doc_id": HOSTILE_PATH,
        "reason": "encoding: windows-1252; manifest.csv: date '05/03/2021' has the day and month before the year, "
                  "which reads two ways (write YYYY-MM-DD): the file name's or the text's date is used"}])
    page = report.report_html(tables, tax, evidence, counts)
    listed = page[page.index('<h3 id="undated">'):]
    listed = listed[:listed.index("</ul>")]
    assert "or a manifest date that could not be read" in listed
    item = re.search(r"<li>.*?</li>", listed, re.S).group(0)
    assert html.escape(HOSTILE_PATH) in item
    assert ("manifest date '05/03/2021' not read: it has the day and month before the year, which reads two "
            "ways (write YYYY-MM-DD)") in item, item
    assert "encoding" not in item


def test_xlsx_names_filters_widths_and_colour(built, tmp_path):
    """What a researcher opening the workbook needs: node names beside the IDs, filters on every sheet, columns
    wide enough to read, and colour on the coverage figures."""
    import openpyxl

    tax, tables, _, _, _ = built
    tables = dict(tables)
    path = tmp_path / "coverage.xlsx"
    workbook.write_xlsx(tables, path, workbook.node_names(tax))
    wb = openpyxl.load_workbook(path)
    for sheet in ("coverage_region", "coverage_document"):
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        assert header == list(tables[sheet].columns)  # the IDs stay the header
        names = [c.value for c in ws[2]]
        for node, cell in zip(header, names):
            if node in tax.by_id:
                assert cell == f"{tax.by_id[node].name['en']} / {tax.by_id[node].name['zh']}"
        assert ws.auto_filter.ref.startswith("A2:") and ws.freeze_panes == "B3"
        assert [c.value for c in ws[3]][0] == tables[sheet].iloc[0, 0]  # data right under the names
        assert len(ws.conditional_formatting) >= 1
    for sheet in wb.sheetnames:
        assert wb[sheet].auto_filter.ref, sheet
    gaps = wb["gaps"]
    cols = [c.value for c in gaps[1]]
    assert cols[cols.index("node") + 1: cols.index("node") + 3] == ["node_name", "node_name_zh"]
    width = {c.value: gaps.column_dimensions[openpyxl.utils.get_column_letter(i)].width
             for i, c in enumerate(gaps[1], 1)}
    assert width["evidence_passage"] >= 40 and width["addressed"] < width["evidence_passage"]
    assert len(gaps.conditional_formatting) >= 2  # addressed / missing, and the shares
    assert len(wb["region_ranking"].conditional_formatting) >= 1


def test_companion_pages_and_table_tools_run_in_headless_chromium(pipeline_report, tmp_path):
    """The scripts that sort and filter (report.html) and filter and order a cell's passages (its page) run under
    the pages' Content-Security-Policy: what they set up on load is in the DOM."""
    if not chromium_binary():
        pytest.skip("no chromium binary found (run `make browser` to install Debian's chromium)")
    page = (pipeline_report / "report.html").resolve()
    dom = chromium(["--dump-dom", page.as_uri()], tmp_path / "p1").stdout
    ranking = dom[dom.index('id="ranking-table"'):]
    assert '<th tabindex="0">' in ranking[:ranking.index("</thead>")], "sortable headers were set up"
    cell = re.search(r'href="(report_files/cell-[0-9a-f]{16}\.html)"', dom).group(1)
    dom = chromium(["--dump-dom", (pipeline_report / cell).resolve().as_uri()], tmp_path / "p2").stdout
    n = len(re.findall(r'<div class="item"', dom))
    assert n and f'<span id="shown" class="note">{n} of {n} shown</span>' in dom
    doc = re.search(r'href="(doc-[0-9a-f]{16}\.html)#p\d+"', dom).group(1)
    dom = chromium(["--dump-dom", (pipeline_report / "report_files" / doc).resolve().as_uri()], tmp_path / "p3").stdout
    assert '<div class="psg coded"' in dom and "<mark>" in dom


def test_a_gap_a_coder_contradicts_is_flagged_in_the_gap_list_and_the_summary():
    """SD shows no fiscal measure, but a coder gave it to one of SD's passages: both the report's gap list and
    the summary say so beside the gap; without the coded passage neither does."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _synthetic()
    coded = pd.DataFrame([{"region": "SD", "node": "measure.government.fiscal", "coder_passages": 1}])
    flag = "but a coder gave it to 1 passage(s) of this region"
    for person_coded, expected in ((coded, True), (None, False)):
        tables = aggregate(docs, passages, labels, tax, person_coded=person_coded)
        tables["ingest_report"] = pd.DataFrame([{"path": "x", "status": "ingested", "reason": "ok"}])
        counts = {"files": 2, "ingested": 2}
        page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), counts)
        summary = report.summary_md(tables, tax, counts)
        assert (flag in page) is expected and (flag in summary) is expected
        # report.md's gap audit, the list a researcher publishes, says it beside the gap too
        md = report.report_md(tables, tax, counts)
        audit = md[md.index("## Gap audit by region"):]
        sd = next(sec for sec in audit.split("\n### ") if "(SD)" in sec.splitlines()[0])
        gap = next(l for l in sd.splitlines() if l.startswith("- ❌ **Fiscal investment**"))
        assert (flag in gap) is expected


def _tied(tax_spec: str):
    """Regions A and B address the same recommendation and model, C one recommendation only; with the policy
    tools crossed in, B also addresses a tool that A does not."""
    tax = load_taxonomy(tax_spec)
    docs = pd.DataFrame([{"doc_id": f"{r}.md", "region": r, "region_name": r, "lang": "zh", "title": r,
                          "date": "2020-01-01"} for r in "BCA"])
    passages = pd.DataFrame([{"passage_id": f"{r}.md#1", "doc_id": f"{r}.md", "kind": "article", "label": "第一条",
                              "heading_path": "", "text": "建设孵化器和中试基地。", "start": 0, "lang": "zh",
                              "region": r} for r in "BCA"])
    hits = [(r, n) for r in "AB" for n in ("model.incubator", "measure.transformation.pilot_base")]
    hits.append(("C", "measure.transformation.pilot_base"))
    if len(tax.parts) > 1:
        hits.append(("B", "tool.supply.public_enterprise"))
    labels = pd.DataFrame([{"passage_id": f"{r}.md#1", "doc_id": f"{r}.md", "region": r, "node": n, "score": 1.0,
                            "source": "lexicon", "evidence": "[]"} for r, n in hits])
    tables = aggregate(docs, passages, labels, tax)
    tables["ingest_report"] = pd.DataFrame([{"path": "x", "status": "ingested", "reason": "ok"}])
    return tax, tables


def test_tied_regions_share_a_rank_in_the_same_order_everywhere(tmp_path):
    """A and B tie on the recommendations and the models: both rank 1, C ranks 3, and the ranking table, the
    summary, the report and the workbook list them in one order (ties by region code), also when a second
    framework, on which B does better, is crossed in."""
    import openpyxl

    for spec in (str(ROOT / "taxonomy"), f"{ROOT / 'taxonomy'},{ROOT / 'taxonomy' / 'policy_tools'}"):
        tax, tables = _tied(spec)
        rk = tables["region_ranking"]
        assert list(zip(rk["rank"], rk["region"])) == [(1, "A"), (1, "B"), (3, "C")]
        counts = {"files": 3, "ingested": 3}
        rankings = report.summary_md(tables, tax, counts).split("| rank |")[1:]  # one per framework
        assert re.findall(r"^\| (\d+) \| (\w) \|", rankings[0], re.M) == [("1", "A"), ("1", "B"), ("3", "C")]
        page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), counts)
        table = re.search(r'id="ranking-table[^"]*">(.*?)</table>', page, re.S).group(1)
        assert re.findall(r"<tr><td class=num>(\d+)</td><td><b>(\w)</b>", table) == [("1", "A"), ("1", "B"),
                                                                                      ("3", "C")]
        workbook.write_xlsx({"region_ranking": rk}, tmp_path / "w.xlsx")
        ws = openpyxl.load_workbook(tmp_path / "w.xlsx")["region_ranking"]
        assert [r[:2] for r in ws.iter_rows(min_row=2, values_only=True)] == [(1, "A"), (1, "B"), (3, "C")]
        if len(tax.parts) > 1:  # the tools' own ranking: B first, A and C tied
            assert dict(zip(rk["region"], rk["tool_rank"])) == {"B": 1, "A": 2, "C": 2}
            assert re.findall(r"^\| (\d+) \| (\w) \|", rankings[1], re.M) == [("1", "B"), ("2", "A"), ("2", "C")]
            assert "Broadest coverage: <b>A, B</b>" in page


def test_xlsx_document_matrix_holds_every_count_of_the_table(built, tmp_path):
    """The coverage_document sheet holds the table's counts, zeros included, so that an AVERAGE over a node's
    column is the mean over all documents, as computed from the CSV."""
    import openpyxl

    tax, tables, *_ = built
    doc = tables["coverage_document"]
    workbook.write_xlsx({"coverage_document": doc}, tmp_path / "w.xlsx", workbook.node_names(tax))
    rows = list(openpyxl.load_workbook(tmp_path / "w.xlsx", read_only=True)["coverage_document"].iter_rows(
        values_only=True))
    header, body = rows[0], rows[2:]  # the second header row names the nodes
    nodes = [n.id for n in tax.nodes]
    got = pd.DataFrame(body, columns=header)[nodes]
    assert (doc[nodes] == 0).any().any()
    assert got.astype("int64").equals(doc[nodes].reset_index(drop=True))


def test_chart_over_time_counts_what_the_documents_in_force_address():
    """A regulation's 2024 version drops one of the two measures its 2007 version addressed: from 2024 the chart
    counts one, and the dropped one is not passed off as addressed by undated documents."""
    from test_aggregate import _versions

    tax = load_taxonomy(ROOT / "taxonomy")
    tables = aggregate(*_versions(), tax)
    tables["ingest_report"] = pd.DataFrame([{"path": "x", "status": "ingested", "reason": "ok"}])
    page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), {"files": 4, "ingested": 4})
    chart = page[page.index("addressed by the documents in force"):]
    chart = chart[:chart.index("</svg>")]
    assert ">R (1)</text>" in chart
    assert "<title>R, 2024: 1</title>" in chart and "<title>R, 2007: 2</title>" in chart


def test_chart_over_time_drops_to_none_when_the_documents_in_force_are_repealed():
    """A region's regulation in force repealed in 2025, after which nothing in force addresses an audited node: the
    chart ended in 2024 with the region's line at 1, as though it still addressed it."""
    from test_aggregate import _versions

    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _versions()
    docs["repealed"] = ["", "2025", "", ""]
    tables = aggregate(docs, passages, labels, tax)
    tables["ingest_report"] = pd.DataFrame([{"path": "x", "status": "ingested", "reason": "ok"}])
    page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), {"files": 4, "ingested": 4})
    chart = page[page.index("addressed by the documents in force"):]
    chart = chart[:chart.index("</svg>")]
    assert "<title>R, 2025: 0</title>" in chart and ">R (0)</text>" in chart


def test_the_ranking_says_it_counts_documents_no_longer_in_force():
    """The ranking in summary.md, report.md and report.html counted a region's repealed regulation and superseded
    versions (its documents, and the recommendations they address) with nothing to say so: a reader took it for
    what the policies in force address. Where such a document addresses a node, one sentence under the ranking
    says so; the counts are unchanged."""
    from test_aggregate import _repealed, _tables

    tax = load_taxonomy(ROOT / "taxonomy")
    counts = {"files": 6, "ingested": 6}
    said = ("The ranking counts every document, superseded versions and repealed documents too; gaps.csv's "
            "{} says whether the documents in force now address a recommendation.")
    tables = aggregate(*_repealed(), tax)
    assert tables["region_ranking"].set_index("region").loc["R", "documents"] == 6
    page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), counts)
    for text in (report.summary_md(tables, tax, counts), report.report_md(tables, tax, counts)):
        assert text.count(said.format("`addressed_in_force`")) == 1
    assert page.count(said.format("<code>addressed_in_force</code>")) == 1
    # and so do the heatmaps, under each (report.html: recommendations, models, constraints; report.md: one table)
    under_heatmap = "Counts take in every document, superseded versions and repealed documents too"
    assert report.report_md(tables, tax, counts).count(under_heatmap) == 1
    assert page.count(under_heatmap) == 1 + len(list(tax.also_facets()))
    tables = aggregate(*_tables(), tax)  # every document in force
    page = report.report_html(tables, tax, report.evidence_index(tables["evidence"]), counts)
    for text in (report.summary_md(tables, tax, counts), report.report_md(tables, tax, counts), page):
        assert "superseded versions and repealed documents too" not in text


def test_a_region_with_no_document_read_is_named_where_the_audit_is(built):
    """A region folder whose only file is empty or unreadable has no row in the ranking or the gap audit; the
    summary, report.md and report.html say so, naming the file and why, instead of leaving it out unsaid."""
    tax, tables, evidence, _, counts = built
    tables = dict(tables)
    tables["ingest_report"] = pd.DataFrame([
        {"path": HOSTILE_PATH, "status": "ingested", "reason": "ok", "region": "EV"},
        {"path": "EMPTY/<b>empty</b>.txt", "status": "skipped", "reason": "empty file", "region": "EMPTY"},
        {"path": "README.md", "status": "skipped", "reason": "a README", "region": ""}])
    said = "Regions with no document read, left out of the ranking and the gap audit"
    for text in (report.summary_md(tables, tax, counts), report.report_md(tables, tax, counts)):
        line = next(l for l in text.splitlines() if said in l)
        assert "EMPTY (EMPTY/&lt;b&gt;empty&lt;/b&gt;.txt: empty file)" in line and "README" not in line
    page = report.report_html(tables, tax, evidence, counts)
    assert said in page and "EMPTY (EMPTY/&lt;b&gt;empty&lt;/b&gt;.txt: empty file)" in page
    assert_no_injection(page)
    # a report of an earlier version (no region column) says nothing rather than fail
    tables["ingest_report"] = tables["ingest_report"].drop(columns="region")
    assert said not in report.summary_md(tables, tax, counts)


def test_the_lead_does_not_end_a_citation_twice(built):
    """A framework cited as "Liu et al." read "... cooperation models of Liu et al.. Labels by ..."."""
    page = built[3]
    assert "of Liu et al. " in page or "of Liu et al.<" in page
    assert "et al.." not in page


def test_the_note_on_human_coding_does_not_call_lexicon_labels_the_models():
    """With MODEL=lexicon the summary said "Labels by the taxonomy's lexicon alone" and, two lines on, "every
    label is the model's"."""
    line = report.human_coding_line({})
    assert "coded by a person" in line and "the model's," not in line and "machine-made" in line


def test_report_md_marks_what_only_undated_documents_address(built):
    """report.md's first-year table says "undated" where only undated documents address a recommendation, as the
    report's does: a "·" there reads as not addressed, against the ranking and the gap audit below it."""
    tax, tables, _, _, counts = built
    md = report.report_md(tables, tax, counts)
    section = md[md.index("## First year each region addressed each recommendation"):]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines()[:8] if line.startswith("| ")}
    assert rows["EV"].count("undated") == 1, rows  # the hostile undated document addresses one recommendation
    assert "undated" not in rows["SD"] and "2014" in rows["SD"]


def test_the_gap_list_names_what_the_framework_says_in_plain_english(built):
    """The audit's owner is a possessive ("the paper's", "the framework's"): the gap list must not read "what the
    paper's says"."""
    _, _, _, page, _ = built
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "paper's says" not in text
    assert "the paper's description" in text


def test_xlsx_node_matrices_say_what_their_counts_count(built, tmp_path):
    """coverage_region counts a region's documents, coverage_document a document's passages: the same-looking
    heatmaps (a region's cell can read less than one of its documents') say which, in the row of node names."""
    import openpyxl

    tax, tables, *_ = built
    workbook.write_xlsx({s: tables[s] for s in ("coverage_region", "coverage_document")}, tmp_path / "w.xlsx",
                        workbook.node_names(tax))
    wb = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert "documents" in wb["coverage_region"]["A2"].value
    assert "passages" in wb["coverage_document"]["A2"].value


def test_evidence_does_not_name_a_documents_title_twice():
    """A Markdown document whose `# Title` is its title: its evidence read "title · title › 第二条"."""
    from pipeline.report import under_title

    assert under_title("某市条例 > 第一章 总则", "某市条例") == "第一章 总则"
    assert under_title("某市条例", "某市条例") == ""
    assert under_title("第一章 总则", "某市条例") == "第一章 总则"
    assert under_title("某市条例补充 > 第一章", "某市条例") == "某市条例补充 > 第一章"


def test_report_md_codes_each_recommendation_by_the_framework_not_by_the_ranking(built):
    """R1..R15 in report.md name the same recommendation in every report (the framework's order): numbered by the
    ranking, R1 was whichever this corpus lacked most, so a code quoted from one report named another item in
    the next. The coverage table's columns run R1..R15; the ranked list gives each item its code."""
    tax, tables, _, _, counts = built
    md = report.report_md(tables, tax, counts)
    leaves = tax.audit_leaves()
    listed = dict(re.findall(r"^- \*\*(R\d+) [^*]+\*\* \(`([\w.]+)`\)", md, flags=re.M))
    assert listed == {f"R{i}": n.id for i, n in enumerate(leaves, 1)}
    ranked = re.findall(r"^- \*\*(R\d+) ", md, flags=re.M)
    assert ranked != sorted(ranked, key=lambda c: int(c[1:])), "this corpus's ranking is not the framework's order"
    header = next(line for line in md.splitlines() if line.startswith("| region | R1 "))
    assert header.split(" | ")[1:] == [f"R{i}" for i in range(1, len(leaves))] + [f"R{len(leaves)} |"]
    # a cell sits under its item's code: one region's count per recommendation, read back by code
    row = next(line for line in md.splitlines() if line.startswith("| SD |"))
    cells = dict(zip([f"R{i}" for i in range(1, len(leaves) + 1)], row.strip("| ").split(" | ")[1:]))
    long = tables["coverage_region_long"].set_index(["region", "node"])["documents"]
    for code, node in listed.items():
        n = int(long.get(("SD", node), 0))
        assert cells[code] == (str(n) if n else "·"), (code, node)


def test_report_md_names_the_undated_documents(built):
    """report.md, the report handed on, counted the undated documents per region ("EV 1") without naming them, so
    its reader could not tell which documents the view over time leaves out; report.html lists them. It names
    them now, as the document's title and path, each escaped for Markdown."""
    tax, tables, _, _, counts = built
    md = report.report_md(tables, tax, counts)
    section = md[md.index("## First year each region addressed each recommendation"):md.index("## Gap audit")]
    listed = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(listed) == 1 and "INJECTED" in listed[0] and "(EV;" in listed[0], section
    assert listed[0].endswith(".txt)") and "\n\n## Gap audit" in md  # a line of its own, the next section apart
    assert "<b>" not in listed[0] and "\\<b\\>" in listed[0] or "&lt;b&gt;" in listed[0], listed
    assert "first_year.csv" in section  # where each year's document, date and date source are


def test_report_md_of_an_undated_corpus_says_why_it_has_no_view_over_time(tmp_path):
    """A corpus none of whose documents has a date: report.html says there is no view over time and lists the
    documents, but report.md left the section out without a word, so its reader could not tell that the dates
    were missing rather than never looked at."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _synthetic()
    docs["date"] = ""
    tables = aggregate(docs, passages, labels, tax)
    tables["ingest_report"] = pd.DataFrame([{"path": HOSTILE_PATH, "status": "ingested", "reason": "ok"}])
    md = report.report_md(tables, tax, {"files": 2, "ingested": 2})
    section = md[md.index("## First year each region addressed each recommendation"):md.index("## Gap audit")]
    assert "No document has a date, so there is no temporal view." in section
    assert "reads \"undated\"" not in section  # there is no table to read it in
    assert len([line for line in section.splitlines() if line.startswith("- ")]) == len(docs), section
