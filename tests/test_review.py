"""The review loop: picking passages worth coding, importing what a coder coded, agreement."""
import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.io import ConfigError
from pipeline.coded import append_to_store, store_records
from pipeline.review import coded_rows, pick, read_sheet
from pipeline.taxonomy import load_taxonomy

from conftest import ROOT

NODES = ["a", "b", "c"]


def _model(positives=(50, 50, 2)):
    return SimpleNamespace(nodes_=NODES, thresholds_=np.array([0.5, 0.5, 0.5]), positives_=np.array(positives))


def test_pick_prefers_uncertain_rare_and_disputed_passages_skips_coded_and_near_duplicates():
    pool = pd.DataFrame({"id": [f"p{i}" for i in range(6)],
                         "text": ["sure yes", "sure no", "borderline a", "borderline a", "rare node c", "lexicon says b"]})
    proba = np.array([[0.99, 0.01, 0.01],   # certain
                      [0.01, 0.01, 0.01],   # certain
                      [0.52, 0.01, 0.01],   # at a's threshold
                      [0.52, 0.01, 0.01],   # the same passage again
                      [0.01, 0.01, 0.45],   # near c's threshold, c has 2 coded examples
                      [0.01, 0.05, 0.01]])  # the lexicon decides b, the model does not
    lexicon = np.zeros_like(proba)
    lexicon[5, 1] = 1
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)).fit_transform(pool["text"])
    picked = pick(pool, proba, lexicon, _model(), 3, set(), vectors)
    ids = [pool["id"][i] for i in picked["index"]]
    assert set(ids) == {"p2", "p4", "p5"} or set(ids) == {"p3", "p4", "p5"}
    assert ids[0] == "p4"                         # the rare node's uncertainty counts most
    assert "disagree" in picked["reason"][ids.index("p5")]
    assert not {"p2", "p3"} <= set(ids)           # never both copies
    again = pick(pool, proba, lexicon, _model(), 3, {"p4"}, vectors)
    assert "p4" not in [pool["id"][i] for i in again["index"]]
    # a passage picked otherwise for the same sheet (a gap check), and its near copy, are not picked again
    after_check = [pool["id"][i] for i in pick(pool, proba, lexicon, _model(), 3, set(), vectors, [2])["index"]]
    assert "p2" not in after_check and "p3" not in after_check


def _refused(rows, tax) -> str:
    """The message with which review-import refuses these coded rows (it must refuse them)."""
    with pytest.raises(ConfigError) as exc:
        coded_rows(rows, "review", tax, None)
    return str(exc.value)


@pytest.fixture
def tax():
    return load_taxonomy(ROOT / "taxonomy")


def test_import_validates_every_row_and_imports_nothing_from_a_bad_file(tax, tmp_path):
    rows = [{"id": "d#1", "text": "第一条 支持孵化器。", "label_1": "model.incubator", "coder": "ann"},
            {"id": "d#2", "text": "第二条 施行。", "label_1": "none", "coder": ""},
            {"id": "", "text": "x", "label_1": "model.incubator", "coder": "ann"},
            {"id": "d#4", "text": "y", "label_1": "model.nonexistent", "coder": "ann"},
            {"id": "d#5", "text": "z", "labels": "measure.ip", "coder": "ann"},
            {"id": "d#6", "text": "not coded yet"}]
    msg = _refused(rows, tax)
    assert "nothing imported" in msg
    assert "review row 3: empty coder" in msg
    assert "review row 4: missing id" in msg
    assert "review row 5: unknown node ID 'model.nonexistent'" in msg
    assert "review row 6: unknown node ID 'measure.ip' (a group" in msg
    ok = coded_rows(rows[:2] + rows[5:], "review", tax, "bob")
    assert [(r["id"], r["labels"], r["coder"]) for r in ok] == [("d#1", ["model.incubator"], "ann"),
                                                                ("d#2", [], "bob")]


def test_a_mistyped_node_id_is_answered_with_the_leaf_it_means(tax):
    """A node ID typed in another case or with a slip ('Model.Tech_Transfer', 'model.incubater') was refused with
    nothing to say what was meant; a spreadsheet's capitalised 'None' was refused as a node ID."""
    rows = [{"id": "d#1", "text": "t", "label_1": "Model.Tech_Transfer", "coder": "ann"},
            {"id": "d#2", "text": "t", "label_1": "model.incubater", "coder": "ann"},
            {"id": "d#3", "text": "t", "label_1": "supply chain finance", "coder": "ann"}]
    msg = _refused(rows, tax)
    assert "unknown node ID 'Model.Tech_Transfer' (did you mean model.tech_transfer?)" in msg
    assert "unknown node ID 'model.incubater' (did you mean model.incubator?)" in msg
    assert "unknown node ID 'supply chain finance'" in msg and "supply chain finance' (did" not in msg
    ok = coded_rows([{"id": "d#4", "text": "t", "label_1": "None", "coder": "ann"}], "review", tax, None)
    assert [(r["id"], r["labels"]) for r in ok] == [("d#4", [])]


def test_a_node_written_by_its_name_is_answered_with_its_id(tax):
    """A coder who wrote a node's name from the 'nodes' sheet ('Business incubators', 专利许可与技术转移模式) was
    told 'unknown node ID' with no hint, and an English name in 'labels' was split into one unknown ID a word
    ('Business', 'incubators')."""
    rows = [{"id": "d#1", "text": "t", "label_1": "专利许可与技术转移模式", "coder": "ann"},
            {"id": "d#2", "text": "t", "label_1": "Patent licensing and technology transfer", "coder": "ann"},
            {"id": "d#3", "text": "t", "labels": "Business incubators; model.spin_off", "coder": "ann"}]
    msg = _refused(rows, tax)
    assert "row 2: unknown node ID '专利许可与技术转移模式' (did you mean model.tech_transfer?)" in msg
    assert "row 3: unknown node ID 'Patent licensing and technology transfer' (did you mean model.tech_transfer?)" in msg
    assert "row 4: unknown node ID 'Business incubators' (did you mean model.incubator?)" in msg
    assert "'Business'" not in msg and "spin_off" not in msg
    # node IDs a space apart are still several IDs
    ok = coded_rows([{"id": "d#4", "text": "t", "labels": "model.incubator model.spin_off", "coder": "ann"}],
                    "review", tax, None)
    assert ok[0]["labels"] == ["model.incubator", "model.spin_off"]


def test_a_passage_coded_twice_in_one_sheet_by_one_coder_is_named(tax):
    """A row copied in the sheet and coded otherwise (d#1: model.incubator, then model.spin_off) was imported
    without a word: the later row silently became the coding, and the batch's agreement counted the passage
    twice. Now differing rows are an error naming both; identical ones are one coding."""
    rows = [{"id": "d#1", "text": "t", "label_1": "model.incubator", "coder": "ann"},
            {"id": "d#1", "text": "t", "label_1": "model.spin_off", "coder": "ann"},
            {"id": "d#1", "text": "t", "label_1": "model.spin_off", "coder": "bob"}]
    msg = _refused(rows, tax)
    assert ("review row 3: d#1 is coded by ann in row 2 too, otherwise (model.spin_off against model.incubator)"
            in msg), msg
    ok = coded_rows([rows[1], rows[1], rows[2]], "review", tax, None)
    assert [(r["id"], r["coder"]) for r in ok] == [("d#1", "ann"), ("d#1", "bob")]


def test_review_import_keeps_each_rows_region(tax, tmp_path):
    """The region a review row shows (the run's, from the corpus manifest) is kept with the coding, for
    make evaluate CV=region on the coded store."""
    recs = coded_rows([{"id": "laws/a.md#1", "text": "t", "region": "GD", "label_1": "none", "coder": "ann"}],
                      "review", tax, None)
    append_to_store(recs, tmp_path / "coded", "review-001.xlsx")
    assert store_records(tmp_path / "coded")[0]["region"] == "GD"


def test_store_is_append_only_and_idempotent(tax, tmp_path):
    recs = coded_rows([{"id": "d#1", "text": "t", "label_1": "model.incubator", "labels": "model.spin_off",
                        "coder": "ann"}], "s", tax, None)
    assert recs[0]["labels"] == ["model.incubator", "model.spin_off"]
    store = tmp_path / "coded"
    assert append_to_store(recs, store, "review-001.xlsx") == (1, 0)
    before = (store / "coded.jsonl").read_bytes()
    assert append_to_store(recs, store, "review-001.xlsx") == (0, 1)
    assert (store / "coded.jsonl").read_bytes() == before
    other = [dict(recs[0], coder="bob", labels=["model.incubator"])]
    assert append_to_store(other, store, "review-001.xlsx") == (1, 0)
    assert [r["coder"] for r in store_records(store)] == ["ann", "bob"]
    assert set(store_records(store)[0]) >= {"id", "text", "labels", "coder", "time", "source"}



def test_a_coder_going_back_to_an_earlier_coding_is_imported(tax, tmp_path):
    """ann imported a sheet, corrected one row in another file, then imported the first sheet again to go back:
    the import said '1 already there' and her correction stayed the coding that counts."""
    from pipeline.coded import latest_codings

    store = tmp_path / "coded"
    first = [{"id": "d#1", "text": "t", "lang": "en", "labels": ["model.incubator", "model.spin_off"], "coder": "ann"}]
    fix = [dict(first[0], labels=["model.incubator"])]
    assert append_to_store(first, store, "review-001.xlsx") == (1, 0)
    assert append_to_store(fix, store, "fix.jsonl") == (1, 0)
    assert append_to_store(first, store, "review-001.xlsx") == (1, 0)
    assert latest_codings(store_records(store))[("d#1", "ann")] == ["model.incubator", "model.spin_off"]
    assert append_to_store(first, store, "review-001.xlsx") == (0, 1)  # and again: nothing new


def test_a_coded_passage_is_learned_with_the_context_a_run_gives_it(tax, tmp_path):
    """A run's model sees each passage with its document's title and its chapter or section heading (context);
    a passage coded through a review sheet was learned with neither (the file name stood in for the title), so
    the sheet shows the heading, and the import keeps it and the title in the store for training."""
    from pipeline.classify import read_coded
    from pipeline.review import picks_table

    pool = pd.DataFrame({"id": ["zh/A/reg.txt#3"], "text": ["第三条 高等学校可以与企业共建联合实验室。"], "lang": ["zh"],
                         "title": ["某省促进产学研合作条例"], "heading_path": ["第二章 合作研发"]})
    picked = pd.DataFrame({"rank": [1], "index": [0], "value": [1.0], "reason": ["r"], "gap_region": [""],
                           "gap_node": [""]})
    scored = {"labels": [[]]}
    row = picks_table(pool, scored, picked, tax).iloc[0].to_dict()
    assert row["heading"] == "第二章 合作研发"
    row.update(label_1="model.joint_research", coder="ann")
    store = tmp_path / "coded"
    append_to_store(coded_rows([row], "review", tax, None), store, "review-001.xlsx")
    assert {"title": "某省促进产学研合作条例", "heading": "第二章 合作研发"}.items() <= store_records(store)[0].items()
    context = read_coded(sorted(store.glob("*.jsonl")))["context"].tolist()
    assert context == ["某省促进产学研合作条例 | 第二章 合作研发"]

def test_review_round_trip_through_the_cli(tmp_path):
    """make review IN=pool.jsonl picks with reasons; a coded sheet imports; a second import adds nothing; two
    coders give coder-vs-coder agreement."""
    pool = tmp_path / "pool.jsonl"
    texts = ["第一条 国家支持建设科技企业孵化器，为创业企业提供场地和服务。", "第二条 本条例自公布之日起施行。",
             "第三条 高等学校可以与企业共建联合实验室，开展合作研发。", "第四条 违反本条例规定的，依法追究法律责任。",
             "(a) Each Federal laboratory shall establish an Office of Research and Technology Applications.",
             "(b) The Secretary may make grants to support cooperative research centers."]
    pool.write_text("".join(json.dumps({"id": f"doc{i}#1", "text": t}, ensure_ascii=False) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")
    picked = tmp_path / "picked.jsonl"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)

    res = cli("review", "--in", str(pool), "--n", "3", "--out", str(picked), "--coded", str(tmp_path / "coded"))
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [json.loads(l) for l in picked.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and all(r["id"] and r["reason"] and r["text"] for r in rows)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    for r in rows:
        r["labels"] = ["model.incubator"] if "孵化器" in r["text"] else []
        r["label_1"] = "" if r["labels"] else "none"
    coded = tmp_path / "coded-ann.jsonl"
    coded.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    res = cli("review-import", "--file", str(coded), "--coder", "ann", "--coded", str(tmp_path / "coded"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "3 added" in res.stderr and "krippendorff_alpha" in res.stdout
    res = cli("review-import", "--file", str(coded), "--coder", "ann", "--coded", str(tmp_path / "coded"))
    assert "0 added" in res.stderr and "3 already there" in res.stderr
    res = cli("review-import", "--file", str(coded), "--coder", "bob", "--coded", str(tmp_path / "coded"))
    assert "coder vs coder: 3 passage pairs" in res.stdout
    again = cli("review", "--in", str(pool), "--n", "3", "--out", str(picked), "--coded", str(tmp_path / "coded"))
    assert "3 already coded, skipped" in again.stderr
    assert not {r["id"] for r in rows} & {json.loads(l)["id"] for l in picked.read_text().splitlines()}


def test_review_sheet_is_usable_in_a_spreadsheet(tmp_path):
    """The workbook a coder opens: frozen header, wrapped text, node names, a drop-down of node IDs."""
    from openpyxl import load_workbook

    from pipeline.review import write_sheets

    tax = load_taxonomy(ROOT / "taxonomy")
    rows = pd.DataFrame([{"rank": 1, "id": "d#1", "title": "某条例", "citation": "第一条", "region": "CN",
                          "lang": "zh", "text": "=HYPERLINK(\"x\")", "predicted": "", "evidence": "",
                          "reason": "uncertain", "value": 1.0}])
    files = write_sheets(rows, tax, tmp_path / "review" / "review-001.xlsx")
    assert [f.suffix for f in files] == [".xlsx", ".csv", ".jsonl"]
    wb = load_workbook(files[0])
    ws = wb["review"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    header = [c.value for c in ws[1]]
    assert {"label_1", "labels", "coder", "note"} <= set(header)
    assert ws.cell(row=2, column=header.index("text") + 1).alignment.wrap_text
    assert ws.cell(row=2, column=header.index("text") + 1).data_type == "s"  # text, not a live formula
    dv = ws.data_validations.dataValidation[0]
    assert dv.formula1.startswith("=nodes!") and "L2" in str(dv.sqref)
    names = {r[0]: r[2] for r in wb["nodes"].iter_rows(min_row=2, values_only=True)}
    assert names["model.incubator"] == "企业孵化器模式" and "none" in names
    back, sheet = read_sheet(files[0])
    assert sheet == "review" and back[0]["id"] == "d#1"


def test_human_coding_counts_this_corpus_passages_and_agreement(tax):
    from pipeline.coded import human_coding

    docs = pd.DataFrame({"doc_id": ["zj/a", "zj/b", "us/c"], "region": ["ZJ", "ZJ", "US"]})
    labels = pd.DataFrame({"passage_id": ["zj/a#1", "zj/a#1", "us/c#2"],
                           "node": ["model.incubator", "measure.government", "model.tech_transfer"],
                           "source": ["model", "rollup", "model"]})
    store = [
        {"id": "zj/a#1", "labels": ["model.incubator"], "coder": "ann"},
        {"id": "zj/a#1", "labels": ["model.incubator"], "coder": "bob"},
        {"id": "us/c#2", "labels": [], "coder": "ann"},  # the model labelled it, the coder did not
        {"id": "other/doc#1", "labels": ["model.incubator"], "coder": "ann"},  # not this corpus
    ]
    hc = human_coding(store, docs, labels, tax).set_index("region")
    assert list(hc.index) == ["all", "US", "ZJ"]
    assert hc.loc["all", "passages_coded"] == 2 and hc.loc["all", "coders"] == 2
    assert hc.loc["all", "double_coded"] == 1 and hc.loc["ZJ", "double_coded"] == 1
    # three codings: two agree on model.incubator, one is a false positive of the model: P 2/3, R 1
    assert hc.loc["all", "coder_model_f1"] == pytest.approx(0.8)
    assert hc.loc["ZJ", "coder_model_f1"] == 1.0 and hc.loc["US", "coder_model_f1"] == 0.0
    assert pd.isna(hc.loc["US", "coder_coder_alpha"])
    empty = human_coding([], docs, labels, tax)
    assert empty.set_index("region").loc["all", "passages_coded"] == 0


def test_codings_of_no_node_that_the_run_agrees_with_are_not_reported_as_f1_0(tax):
    """A coder marked a passage 'none' and the run gave it no label either: full agreement, which the summary
    reported as 'agree with the coders at micro-F1 0.00' (F1 has nothing to count there)."""
    from pipeline.coded import human_coding
    from pipeline.report import human_coding_line

    docs = pd.DataFrame({"doc_id": ["zj/a"], "region": ["ZJ"]})
    labels = pd.DataFrame({"passage_id": ["zj/a#2"], "node": ["model.incubator"], "source": ["model"]})
    hc = human_coding([{"id": "zj/a#1", "labels": [], "coder": "ann"}], docs, labels, tax)
    assert pd.isna(hc.set_index("region").loc["all", "coder_model_f1"])
    line = human_coding_line({"human_coding": hc})
    assert "micro-F1 0.00" not in line and "micro-F1 n/a" not in line
    assert "1 passages of this corpus (1 region) were coded by 1 person; neither the coder nor this run gives them " \
           "any node" in line, line


def test_the_report_says_how_much_a_person_coded(tmp_path):
    from pipeline import cli

    out, store = tmp_path / "out", tmp_path / "coded"
    args = ["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--model", "lexicon", "--quiet",
            "--jobs", "1", "--coded", str(store)]
    assert cli.main(args) == 0
    assert "No passage of this corpus has been coded by a person" in (out / "summary.md").read_text()
    passages = pd.read_parquet(out / "passages.parquet", columns=["passage_id", "text"])
    picked = passages.iloc[[3, 10, 20]]
    append_to_store([{"id": p, "text": t, "lang": "", "labels": [], "coder": "ann", "note": ""}
                     for p, t in zip(picked["passage_id"], picked["text"])], store, "sheet.xlsx")
    assert cli.main(args) == 0  # the store changed: the reports are made again
    summary = (out / "summary.md").read_text()
    assert "3 passages of this corpus" in summary and "coded by 1 person;" in summary
    assert "3 passages of this corpus" in (out / "report.html").read_text()
    hc = pd.read_csv(out / "human_coding.csv", encoding="utf-8-sig")
    assert hc.loc[hc["region"] == "all", "passages_coded"].item() == 3
    assert "human_coding" in __import__("openpyxl").load_workbook(out / "coverage.xlsx").sheetnames


def test_codings_follow_their_text_into_an_edited_document():
    from pipeline.coded import anchor_codings, anchoring_note

    # the document had articles A, B, C; an article was inserted first and C was struck out
    now = pd.DataFrame({"id": ["d#1", "d#2", "d#3", "e#1"], "doc_id": ["d", "d", "d", "e"],
                        "text": ["New article.", "Article A.", "Article  B.", "Other."]})
    store = [
        {"id": "d#1", "text": "Article A.", "labels": ["x"], "coder": "ann"},  # moved to d#2
        {"id": "d#2", "text": "Article\nB.", "labels": ["y"], "coder": "ann"},  # moved to d#3 (rewrapped text)
        {"id": "d#3", "text": "Article C.", "labels": ["z"], "coder": "ann"},  # no longer in the document
        {"id": "e#1", "text": "Other.", "labels": [], "coder": "bob"},  # unchanged
        {"id": "gone#1", "text": "Article A.", "labels": ["x"], "coder": "ann"},  # another corpus's document
    ]
    kept, stale, moved = anchor_codings(store, now)
    assert [(r["id"], r["labels"]) for r in kept] == [("d#2", ["x"]), ("d#3", ["y"]), ("e#1", [])]
    assert [r["id"] for r in stale] == ["d#3"] and moved == 2
    note = anchoring_note(stale, moved)
    assert "2 coding(s) of passages found at a new place" in note and "(d#3)" in note
    assert anchoring_note([], 0) is None
    # of several passages with the coded text, the nearest to the old place
    twice = pd.DataFrame({"id": ["d#1", "d#2", "d#7", "d#9"], "doc_id": ["d"] * 4,
                          "text": ["Same.", "x", "y", "Same."]})
    kept, _, _ = anchor_codings([{"id": "d#8", "text": "Same.", "labels": [], "coder": "ann"}], twice)
    assert kept[0]["id"] == "d#9"


def test_codings_follow_their_article_when_an_inserted_article_renumbers_it():
    """A Chinese article's text opens with its number: an article inserted before it renumbers it (第三条 becomes
    第四条) and leaves the rest of its text as it was, which is the coded passage still."""
    from pipeline.coded import anchor_codings

    now = pd.DataFrame({"id": ["d#1", "d#2", "d#3", "d#4"], "doc_id": ["d"] * 4,
                        "text": ["第一条 总则。", "第二条 新增的一条。", "第三条 鼓励共建联合实验室。", "第四条 设立引导基金。"]})
    store = [{"id": "d#2", "text": "第二条 鼓励共建联合实验室。", "labels": ["x"], "coder": "ann"},
             {"id": "d#3", "text": "第三条 设立引导基金。", "labels": ["y"], "coder": "ann"},
             {"id": "d#1", "text": "第一条 已删去的一条。", "labels": ["z"], "coder": "ann"}]
    kept, stale, moved = anchor_codings(store, now)
    assert [(r["id"], r["labels"]) for r in kept] == [("d#3", ["x"]), ("d#4", ["y"])]
    assert [r["id"] for r in stale] == ["d#1"] and moved == 2


def test_a_coding_is_not_counted_on_other_text_after_its_document_is_edited(tmp_path):
    import shutil

    from pipeline import cli

    corpus, out, store = tmp_path / "corpus", tmp_path / "out", tmp_path / "coded"
    shutil.copytree(ROOT / "corpus", corpus)
    args = ["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet", "--jobs", "1",
            "--coded", str(store)]
    assert cli.main(args) == 0
    doc = "en/US/title99_ch1_university_industry_research_partnerships.md"
    passages = pd.read_parquet(out / "passages.parquet", columns=["passage_id", "doc_id", "kind", "text"])
    paras = passages[(passages["doc_id"] == doc) & (passages["kind"] != "heading")]
    first, second = paras.iloc[2], paras.iloc[3]
    append_to_store([{"id": p.passage_id, "text": p.text, "lang": "en", "labels": ["model.joint_research"],
                      "coder": "ann", "note": ""} for p in (first, second)], store, "sheet.xlsx")
    assert cli.main(args) == 0
    cells = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    row = cells[(cells["region"] == "US") & (cells["node"] == "model.joint_research")]
    assert row["coder_passages"].item() == 2
    # the researcher's new version of the document: a paragraph inserted before both, the second one struck out
    path = corpus / doc
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(first.text, "An inserted paragraph about nothing in particular.\n\n" + first.text)
                    .replace(second.text, "A replacement paragraph.").replace("\r\n", "\n"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "1 coding(s) of passages found at a new place" in result.stderr
    assert f"not counted ({second.passage_id})" in result.stderr
    cells = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    row = cells[(cells["region"] == "US") & (cells["node"] == "model.joint_research")]
    assert row["coder_passages"].item() == 1
    hc = pd.read_csv(out / "human_coding.csv", encoding="utf-8-sig")
    assert hc.loc[hc["region"] == "all", "passages_coded"].item() == 1


_REGULATION = """北京市促进科技合作规定

第一条 为了推动高等学校与企业开展联合研究，制定本规定。
第二条 鼓励企业与高等学校共建联合实验室，开展产学研合作。
第三条 市财政设立科技成果转化引导基金，支持技术转移机构发展。
"""


def test_codings_follow_a_renamed_document(tmp_path):
    """Renaming a coded document (and its manifest row) keeps its codings, and the run says so."""
    from pipeline import cli

    corpus, out, store = tmp_path / "corpus", tmp_path / "out", tmp_path / "coded"
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text(_REGULATION, encoding="utf-8")
    other = _REGULATION.replace("北京", "天津").replace("联合", "共同").replace("市", "区")  # no text in common
    (corpus / "BJ" / "other.txt").write_text(other, encoding="utf-8")
    manifest = "path,region,lang,title\nBJ/a.txt,BJ,zh,北京市促进科技合作规定\nBJ/other.txt,BJ,zh,天津\n"
    (corpus / "manifest.csv").write_text(manifest, encoding="utf-8")
    args = ["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet", "--jobs", "1",
            "--coded", str(store)]
    assert cli.main(args) == 0
    passages = pd.read_parquet(out / "passages.parquet", columns=["passage_id", "doc_id", "text"])
    coded = passages[passages["doc_id"] == "BJ/a.txt"]
    append_to_store([{"id": p.passage_id, "text": p.text, "lang": "zh", "labels": ["model.joint_research"],
                      "coder": "ann", "note": ""} for p in coded.itertuples()], store, "sheet.xlsx")
    (corpus / "BJ" / "a.txt").rename(corpus / "BJ" / "b.txt")
    (corpus / "manifest.csv").write_text(manifest.replace("BJ/a.txt", "BJ/b.txt"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert f"{len(coded)} coding(s) followed their document from BJ/a.txt to BJ/b.txt" in result.stderr
    hc = pd.read_csv(out / "human_coding.csv", encoding="utf-8-sig")
    assert hc.loc[hc["region"] == "all", "passages_coded"].item() == len(coded)


def test_codings_of_a_document_gone_follow_it_only_when_unambiguous(capsys):
    from pipeline.coded import follow_codings

    def coding(pid, text):
        return {"id": pid, "text": text, "labels": ["x"], "coder": "ann"}

    now = pd.DataFrame({"id": ["b#1", "b#2", "b#3", "c#1", "c#2", "k#1"], "doc_id": ["b", "b", "b", "c", "c", "k"],
                        "text": ["One.", "Two.", "Four.", "One.", "Three.", "Kept."]})
    # a's texts are in b alone, which the store does not name: a was renamed b
    kept = follow_codings([coding("a#2", "Two."), coding("a#3", "Four.\n"), coding("k#1", "Kept.")], now)
    assert sorted(r["id"] for r in kept) == ["b#2", "b#3", "k#1"]
    assert "2 coding(s) followed their document from a to b" in capsys.readouterr().err
    # "One." is in b and c: which one the coder read is not known, so nothing moves, and the run says why
    kept = follow_codings([coding("a#1", "One."), coding("k#1", "Kept.")], now)
    assert [r["id"] for r in kept] == ["k#1"]
    err = capsys.readouterr().err
    assert "1 coding(s) name documents not in this corpus whose texts are found in it" in err and "(a)" in err
    # part of a's text is nowhere in the corpus: not followed
    kept = follow_codings([coding("a#1", "Two."), coding("a#2", "Gone."), coding("k#1", "Kept.")], now)
    assert [r["id"] for r in kept] == ["k#1"] and "1 coding(s) name documents" in capsys.readouterr().err
    # b is named by the store itself: not a new document, so a's codings are not put there
    kept = follow_codings([coding("a#1", "Two."), coding("b#1", "One."), coding("k#1", "Kept.")], now)
    assert sorted(r["id"] for r in kept) == ["b#1", "k#1"] and "name documents" in capsys.readouterr().err
    # another corpus's codings, whose texts are nowhere here, stay silent
    kept = follow_codings([coding("elsewhere#1", "Nothing here."), coding("k#1", "Kept.")], now)
    assert [r["id"] for r in kept] == ["k#1"] and capsys.readouterr().err == ""
    # ... and so do those of a document of another corpus that shares one boilerplate article with this one
    other = [coding("elsewhere#1", "Nothing here."), coding("elsewhere#2", "Nor here."), coding("elsewhere#3", "Three.")]
    kept = follow_codings(other + [coding("k#1", "Kept.")], now)
    assert [r["id"] for r in kept] == ["k#1"] and capsys.readouterr().err == ""


def test_weighted_coded_passages_move_a_nodes_threshold_and_calibration():
    """The researcher's coded passages weigh more in choosing a node's threshold and calibration, not only in
    its coefficients: their corpus may score a node lower than the gold it was trained with."""
    from pipeline.model import _best_threshold, _platt

    # gold: positives score 0.8, negatives 0.5; the researcher's corpus: positives 0.45, negatives 0.1
    proba = np.r_[np.full(40, 0.8), np.full(40, 0.5), np.full(10, 0.45), np.full(10, 0.1)]
    y = np.r_[np.ones(40), np.zeros(40), np.ones(10), np.zeros(10)].astype(int)
    theirs = np.arange(len(y)) >= 80
    even, heavy = np.ones(len(y)), np.where(theirs, 6.0, 1.0)
    assert _best_threshold(proba, y, 1.0, even) > 0.5  # gold alone: the corpus's positives are missed
    assert _best_threshold(proba, y, 1.0, heavy) <= 0.45
    z = np.log(proba / (1 - proba))
    assert _platt(z, y, heavy) != _platt(z, y, even)


def test_gap_checks_pick_each_gaps_likeliest_passages_of_its_region():
    """Region R1 has passages labelled a and b: no gap. R2 has none labelled a or b: a gap check each, the gap whose
    best passage scores higher first; a passage picked for one gap is passed over for the next; coded passages and
    gaps a coder has filled need no check."""
    from pipeline.review import gap_checks

    from pipeline.model import PolicyClassifier

    pool = pd.DataFrame({"id": [f"p{i}" for i in range(6)], "region": ["R1", "R1", "R2", "R2", "R2", "R2"],
                         "lang": ["zh", "zh", "zh", "zh", "en", "en"]})
    proba = np.array([[0.9, 0.1, 0.0],
                      [0.1, 0.1, 0.0],
                      [0.3, 0.2, 0.0],   # R2's best for a and for b
                      [0.2, 0.1, 0.0],
                      [0.1, 0.15, 0.0],
                      [0.0, 0.0, 0.0]])
    predicted = [["a"], ["b"], [], [], [], []]
    # thresholds per node and language (zh, en), read as the real model reads them
    model = SimpleNamespace(nodes_=NODES, thresholds_=np.array([[0.5, 0.4], [0.5, 0.4], [0.5, 0.4]]))
    model.thresholds_for = lambda langs: PolicyClassifier.thresholds_for(model, langs)
    picked = gap_checks(pool, proba, predicted, model, ["a", "b"], 1)
    assert [pool["id"][i] for i in picked["index"]] == ["p2", "p4"]
    assert "no passage of R2 is labelled a; the passage most likely" in picked["reason"][0]
    assert "no passage of R2 is labelled b; the second passage most likely" in picked["reason"][1]
    assert "threshold 0.50" in picked["reason"][0] and "threshold 0.40" in picked["reason"][1]  # p2 zh, p4 en
    assert picked[["gap_region", "gap_node"]].values.tolist() == [["R2", "a"], ["R2", "b"]]
    two = gap_checks(pool, proba, predicted, model, ["a"], 2)
    assert [pool["id"][i] for i in two["index"]] == ["p2", "p3"]
    coded_none = {("p2", "ann"): []}  # p2 coded, with no node
    assert [pool["id"][i] for i in gap_checks(pool, proba, predicted, model, ["a"], 1, coded_none)["index"]] == ["p3"]
    filled = {("p5", "ann"): ["a", "b"]}  # a coder gave R2's p5 both nodes
    assert gap_checks(pool, proba, predicted, model, ["a", "b"], 1, filled).empty
    # a coding without the nodes fills no gap: both are checked
    assert len(gap_checks(pool, proba, predicted, model, ["a", "b"], 1, {("p5", "ann"): []})) == 2


def test_gaps_left_without_a_passage_to_check_are_counted(tmp_path):
    """In a small corpus the gaps outnumber a region's passages (36 gaps, 16 passages not yet coded): review said
    '16 gap checks (the passages most likely to fill each gap the model leaves)' and the 20 gaps that got no
    check went unsaid."""
    from pipeline.model import PolicyClassifier
    from pipeline.review import gap_checks

    pool = pd.DataFrame({"id": ["p0", "p1"], "region": ["R1", "R2"], "lang": ["zh", "zh"]})
    proba = np.array([[0.3, 0.2, 0.1], [0.1, 0.1, 0.1]])
    model = SimpleNamespace(nodes_=NODES, thresholds_=np.array([[0.5, 0.5]] * 3))
    model.thresholds_for = lambda langs: PolicyClassifier.thresholds_for(model, langs)
    picked = gap_checks(pool, proba, [[], ["a", "b", "c"]], model, ["a", "b", "c"], 1)
    assert picked[["gap_region", "gap_node"]].values.tolist() == [["R1", "a"]]
    assert picked.attrs["gaps"] == 3
    all_coded = gap_checks(pool, proba, [[], ["a", "b", "c"]], model, ["a", "b", "c"], 1, {("p0", "ann"): []})
    assert all_coded.empty and all_coded.attrs["gaps"] == 3     # R1's every passage coded, none with a gap's node
    pool = tmp_path / "pool.jsonl"
    pool.write_text(json.dumps({"id": "gd/a.md#1", "text": "第一条 省人民政府支持建设孵化器。", "region": "GD"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "review", "--in", str(pool), "--n", "5", "--gaps", "1",
                          "--out", str(tmp_path / "picked.jsonl"), "--coded", str(tmp_path / "coded")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    said = re.search(r"1 gap checks .*; (\d+) of the (\d+) gaps can have no check, as every passage of their region "
                     r"is coded or checks another gap", res.stderr)
    assert said and int(said[1]) == int(said[2]) - 1 > 0, res.stderr


def test_review_refuses_a_count_below_one_or_negative_gap_checks(tmp_path):
    for args in (["--n", "0"], ["--n", "5", "--gaps", "-1"]):
        res = subprocess.run([sys.executable, "-m", "pipeline", "review", *args, "--out", str(tmp_path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and "N must be at least 1 and GAPS at least 0" in res.stderr
        assert not (tmp_path / "review").exists()


def test_import_says_which_gap_checks_found_the_node():
    from pipeline.review import gap_check_outcomes

    rows = [{"id": "a#1", "reason": "gap check: ...", "gap_region": "CN-BJ", "gap_node": "measure.ip.legal"},
            {"id": "a#2", "reason": "gap check: ...", "gap_region": "", "gap_node": "model.incubator"},
            {"id": "a#3", "reason": "uncertain model.incubator (p=0.45, threshold 0.50)", "gap_region": "",
             "gap_node": ""},
            {"id": "a#4", "gap_region": "US", "gap_node": "model.incubator"}]  # not coded
    records = [{"id": "a#1", "labels": ["measure.ip.legal"]}, {"id": "a#2", "labels": []},
               {"id": "a#3", "labels": ["model.incubator"]}]
    assert gap_check_outcomes(rows, records) == [("CN-BJ", "measure.ip.legal", True), ("", "model.incubator", False)]


def test_a_pool_file_keeps_its_regions_for_the_gap_checks(tmp_path):
    from pipeline.classify import read_coded

    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [
        {"id": "a#1", "text": "第一条 总则。", "region": "CN-SD"}, {"id": "b#1", "text": "(a) In general."}]),
        encoding="utf-8")
    assert read_coded([pool])["region"].tolist() == ["CN-SD", ""]


def test_a_review_file_that_would_lose_codings_is_refused_and_excel_csv_is_read(tmp_path):
    """A renamed label column (Label_1, 'label 1'), an added label_6 or a repeated column was silently not read:
    rows half imported or dropped. A CSV saved by Excel in a Chinese locale (GBK) raised a traceback, and one
    saved with ';' (European Excel) had 'no coded row'. Lines of a .jsonl file are counted as lines."""
    import csv as csv_mod

    header = ["id", "text", "label_1", "label_2", "labels", "coder", "note"]
    row = ["d#1", "第一条 支持孵化器。", "model.incubator", "", "", "ann", ""]

    def sheet(name, head, rows, encoding="utf-8-sig", delimiter=","):
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as f:
            w = csv_mod.writer(f, delimiter=delimiter)
            w.writerow(head)
            w.writerows(rows)
        return path

    for head, said in [(["id", "text", "Label_1", "label_2", "labels", "coder", "note"], "rename it 'label_1'"),
                       (["id", "text", "label 1", "label_2", "labels", "coder", "note"], "rename it 'label_1'"),
                       (header + ["label_6"], "column 'label_6' is not read"),
                       (header + ["coder"], "column 'coder' appears 2 times")]:
        with pytest.raises(ConfigError, match=said):
            read_sheet(sheet("bad.csv", head, [row + [""] * (len(head) - len(row))]))
    rows, _ = read_sheet(sheet("gbk.csv", header, [row], encoding="gbk"))
    assert rows[0]["text"] == "第一条 支持孵化器。" and rows[0]["label_1"] == "model.incubator"
    rows, _ = read_sheet(sheet("semi.csv", header, [row], delimiter=";"))
    assert rows[0]["label_1"] == "model.incubator" and rows[0]["coder"] == "ann"
    (tmp_path / "picked.jsonl").write_text(
        json.dumps({"id": "d#1", "text": "t", "labels": ["model.incubator"], "coder": "ann"}) + "\n" +
        json.dumps({"id": "d#2", "text": "t", "labels": ["model.nope"], "coder": "ann"}) + "\n", encoding="utf-8")
    rows, name = read_sheet(tmp_path / "picked.jsonl")
    with pytest.raises(ConfigError, match=r"picked.jsonl row 2: unknown node ID 'model.nope'"):
        coded_rows(rows, name, load_taxonomy(ROOT / "taxonomy"), None)


def test_a_coders_correction_replaces_their_earlier_coding_for_training(tmp_path, caplog):
    """The store is append-only: a coder who codes a passage again corrected it, and train learned both the old
    and the new coding (and warned that double-coded rows could not be told apart)."""
    from pipeline.classify import read_coded

    store = tmp_path / "coded"
    store.mkdir()
    lines = [{"id": "d#1", "text": "t1", "labels": ["measure.government.fiscal"], "coder": "ann"},
             {"id": "d#2", "text": "t2", "labels": [], "coder": "ann"},
             {"id": "d#1", "text": "t1", "labels": [], "coder": "bob"},
             {"id": "d#1", "text": "t1", "labels": [], "coder": "ann"}]  # ann's correction
    (store / "coded.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    with caplog.at_level("WARNING"):
        got = read_coded([store])
    assert [(r.id, r.coder, r.labels) for r in got.itertuples()] == [("d#1", "ann", []), ("d#2", "ann", []),
                                                                     ("d#1", "bob", [])]
    assert "cannot be told apart" not in caplog.text


def test_a_sheet_whose_passage_text_was_edited_is_refused(tmp_path):
    """An edited text cell was imported: the model learned the edit, and later runs said the passage had gone
    from its document. A CSV's formula guard (a leading ') is no edit."""
    from openpyxl import load_workbook

    from pipeline import cli
    from pipeline.review import write_sheets

    tax = load_taxonomy(ROOT / "taxonomy")
    rows = pd.DataFrame([{"rank": k, "id": f"d#{k}", "title": "某条例", "citation": f"第{k}条", "region": "CN",
                          "lang": "zh", "text": text, "predicted": "", "evidence": "", "reason": "uncertain",
                          "value": 1.0} for k, text in ((1, "第一条 支持孵化器。"), (2, "-第二条 施行。"))])
    xlsx, csv_path, _ = write_sheets(rows, tax, tmp_path / "review" / "review-001.xlsx")
    csv_text = csv_path.read_text(encoding="utf-8-sig").replace("uncertain,1.0,,,,,,,,", "uncertain,1.0,none,,,,,,ann,")
    csv_path.write_text(csv_text, encoding="utf-8-sig")
    store = tmp_path / "coded"
    assert cli.main(["review-import", "--file", str(csv_path), "--coded", str(store)]) == 0  # ' guard: no edit
    wb = load_workbook(xlsx)
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("text") + 1).value = "edited by the coder"
    ws.cell(row=2, column=header.index("label_1") + 1).value = "model.incubator"
    ws.cell(row=2, column=header.index("coder") + 1).value = "bob"
    wb.save(xlsx)
    before = (store / "coded.jsonl").read_text(encoding="utf-8")
    assert cli.main(["review-import", "--file", str(xlsx), "--coded", str(store)]) == 2
    assert (store / "coded.jsonl").read_text(encoding="utf-8") == before
    # the sheet saved under a coder's own name (review-001-bob.xlsx) was imported, edit and all: no picks file of
    # that name lay beside it
    mine = xlsx.with_name("review-001-bob.xlsx")
    wb.save(mine)
    assert cli.main(["review-import", "--file", str(mine), "--coded", str(store)]) == 2
    assert (store / "coded.jsonl").read_text(encoding="utf-8") == before


def test_a_coder_name_differing_only_in_case_is_warned_about(tmp_path, capsys):
    from pipeline import cli

    sheet = tmp_path / "s.jsonl"
    store = tmp_path / "coded"
    for who in ("ann", "Ann "):
        sheet.write_text(json.dumps({"id": "d#1", "text": "第一条 支持孵化器。", "labels": ["none"], "coder": who},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
        assert cli.main(["review-import", "--file", str(sheet), "--coded", str(store)]) == 0
    assert "coder 'Ann' is new to the store, which has 'ann'" in capsys.readouterr().err


def test_every_unreadable_line_of_a_pool_is_named_at_once(tmp_path):
    """A pool with four bad lines took four runs to fix: only the first was named."""
    from pipeline.classify import read_coded

    pool = tmp_path / "pool.jsonl"
    pool.write_text("\n".join([json.dumps({"id": "a#1", "text": "第一条 支持孵化器。"}), "{not json",
                               json.dumps({"id": "a#3"}), json.dumps({"id": "a#4", "text": "t", "labels": "x"}),
                               "[1, 2]"]) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        read_coded([pool])
    msg = str(exc.value)
    assert msg.startswith(f"{pool} line 2: not JSON")
    assert "line 3: needs a 'text' string" in msg and "line 4: 'labels' must be a list" in msg
    assert "line 5: needs a 'text' string" in msg


def test_a_review_csv_gives_back_the_text_the_review_wrote_not_its_spreadsheet_quote(tmp_path):
    """The review CSV quotes a text cell that starts like a formula ('- Section 3.' is written "'- Section 3.") so
    that Excel shows it as text; imported as it stood, the coding kept the quote, and the next run dropped it as
    a coding whose text is no longer in its document. A cell the coder began with a quote lost it to a second
    unquoting on import."""
    from pipeline.io import write_csv

    text = "- Section 3. =1+1 Disputes shall be referred to arbitration and mediation."
    path = write_csv(pd.DataFrame([{"id": "UK/act.html#4", "text": text, "label_1": "measure.benefit.arbitration",
                                    "coder": "ann", "note": "@see 2"}]), tmp_path / "review-001.csv")
    assert "'- Section 3." in path.read_text(encoding="utf-8-sig")
    rows, _ = read_sheet(path)
    assert rows[0]["text"] == text and rows[0]["note"] == "@see 2"
    coded = coded_rows(rows, "review-001.csv", load_taxonomy(ROOT / "taxonomy"), None)
    assert [c["text"] for c in coded] == [text]
    # a note that itself starts with a quote keeps it: the quote the CSV adds is taken off once, by read_sheet
    for note in ("'90s reforms, see 2", "'=1 is a formula in Excel"):
        path = write_csv(pd.DataFrame([{"id": "UK/act.html#4", "text": text, "label_1": "measure.benefit.arbitration",
                                        "coder": "ann", "note": note}]), tmp_path / "review-002.csv")
        coded = coded_rows(read_sheet(path)[0], "review-002.csv", load_taxonomy(ROOT / "taxonomy"), None)
        assert [c["note"] for c in coded] == [note]


def test_a_sheet_row_whose_id_names_no_picked_passage_is_refused(tmp_path, capsys):
    """A typo in a sheet's id column (d#22 for d#2) was imported: the store held a coding of a passage no run has,
    which no report counted and `make train` learned under a made-up id. The picks file the review wrote beside
    the sheet says which passages it holds."""
    from pipeline import cli
    from pipeline.review import write_sheets

    tax = load_taxonomy(ROOT / "taxonomy")
    rows = pd.DataFrame([{"rank": k, "id": f"d#{k}", "title": "某条例", "citation": f"第{k}条", "region": "CN",
                          "lang": "zh", "text": text, "predicted": "", "evidence": "", "reason": "uncertain",
                          "value": 1.0} for k, text in ((1, "第一条 支持孵化器。"), (2, "第二条 施行。"))])
    _, csv_path, _ = write_sheets(rows, tax, tmp_path / "review" / "review-001.xlsx")
    coded = (csv_path.read_text(encoding="utf-8-sig").replace("uncertain,1.0,,,,,,,,", "uncertain,1.0,none,,,,,,ann,")
             .replace("d#2,", "d#22,"))
    store = tmp_path / "coded"
    for name in ("review-001.csv", "review-001-ann.csv"):  # the sheet, and a copy saved under a coder's name
        sheet = csv_path.with_name(name)
        sheet.write_text(coded, encoding="utf-8-sig")
        assert cli.main(["review-import", "--file", str(sheet), "--coded", str(store)]) == 2
        assert f"{name} row 3: id 'd#22' names no passage the review picked (review-001.jsonl)" \
            in capsys.readouterr().err
        assert not store.exists()
    csv_path.write_text(coded.replace("d#22,", "d#2,"), encoding="utf-8-sig")
    assert cli.main(["review-import", "--file", str(csv_path), "--coded", str(store)]) == 0


def test_a_traditional_chinese_passage_is_shown_as_written_and_imported_as_coded(tax, tmp_path):
    """The review sheet (and its CSV and JSON-lines copies) showed a Traditional-Chinese document's passage in the
    Simplified text it is coded in, while gaps.csv and the report quote it as written: the coder read another text
    than the document's. The coding still goes into the store with the text as coded, which runs compare with
    their passages' (a coding whose text is not its passage's is not counted)."""
    from openpyxl import load_workbook

    from pipeline import cli
    from pipeline.coded import anchor_codings
    from pipeline.review import picks_table, write_sheets

    coded_text, written = "第二条 政府应设置产学合作平台。", "第二條 政府應設置產學合作平臺。"
    pool = pd.DataFrame({"id": ["TW/reg.txt#3"], "doc_id": ["TW/reg.txt"], "text": [coded_text],
                         "text_original": [written], "citation": ["第二条"], "lang": ["zh"], "region": ["TW"],
                         "title": ["臺灣科學技術發展條例"], "heading_path": [""]})
    picked = pd.DataFrame({"rank": [1], "index": [0], "value": [1.0], "reason": ["r"], "gap_region": [""],
                           "gap_node": [""]})
    rows = picks_table(pool, {"labels": [[]]}, picked, tax)
    assert (rows.loc[0, "text"], rows.loc[0, "citation"]) == (written, "第二條")
    xlsx, csv_path, jsonl = write_sheets(rows, tax, tmp_path / "review" / "review-001.xlsx")
    ws = load_workbook(xlsx)["review"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("text") + 1).value == written
    assert written in csv_path.read_text(encoding="utf-8-sig")
    assert json.loads(jsonl.read_text(encoding="utf-8"))["text"] == written
    for k, sheet in enumerate((xlsx, csv_path, jsonl)):
        back, name = read_sheet(sheet)
        back[0].update(label_1="model.joint_research_center", coder=f"coder{k}")
        store = tmp_path / f"coded{k}"
        append_to_store(coded_rows(back, name, tax, None), store, sheet.name)
        (record,) = store_records(store)
        assert record["text"] == coded_text
        assert len(anchor_codings([record], pool)[0]) == 1
    # the whole import, with its check of the text against the picks file beside the sheet
    csv_path.write_text(csv_path.read_text(encoding="utf-8-sig").replace(",r,,,1.0,,", ",r,,,1.0,none,"),
                        encoding="utf-8-sig")
    assert cli.main(["review-import", "--file", str(csv_path), "--coded", str(tmp_path / "coded"),
                     "--coder", "ann"]) == 0
    assert store_records(tmp_path / "coded")[0]["text"] == coded_text


def test_a_traditional_documents_chapter_is_shown_to_the_coder_as_written(tmp_path):
    """The review sheet's heading column named a Traditional-Chinese passage's chapter in Simplified (第二章 推动措施)
    beside its text as written: the coder reads a chapter the document does not have. The model still reads the
    chapter as coded."""
    from argparse import Namespace

    from pipeline.learning import review_pool

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "TW").mkdir(parents=True)
    (corpus / "TW" / "產學條例.txt").write_text(
        "臺灣產學合作條例\n\n第一章 總則\n\n第一條 為促進產學合作，制定本條例。\n\n第二章 推動措施\n\n"
        "第二條 政府應設置產學合作平臺，協助學校與企業共同研究。\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                          "--model", "lexicon", "--quiet", "--jobs", "1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    pool = review_pool(Namespace(input=None, out=str(out))).set_index("citation")
    assert pool.loc["第二条", "heading_written"] == "第二章 推動措施"
    assert "第二章 推动措施" in pool.loc["第二条", "context"]


def test_a_label_a_spreadsheet_made_a_number_is_refused_and_label_cells_are_text(tax, tmp_path):
    """A numbered codebook's 1.10 typed into a label cell is stored by a spreadsheet as the number 1.1, which read
    as text is another node's ID: imported as that node without a word. Such a cell is refused, naming the row;
    the sheet's label cells are text, so that what is typed stays as typed."""
    from openpyxl import load_workbook

    from pipeline.review import ROW, write_sheets

    rows = [{ROW: 2, "id": "a.txt#1", "text": "第一条 …", "label_1": 1.1, "coder": "ann"},
            {ROW: 3, "id": "a.txt#2", "text": "第二条 …", "labels": [2, "measure.ip.legal"], "coder": "ann"}]
    msg = _refused(rows, tax)
    assert "review row 2: label_1 holds the number 1.1" in msg
    assert "review row 3: labels holds the number 2" in msg
    sheet = pd.DataFrame({"id": ["a.txt#1"], "text": ["第一条 …"]})
    xlsx, _, _ = write_sheets(sheet, tax, tmp_path / "review-001.xlsx")
    ws = load_workbook(xlsx)["review"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("label_1") + 1).number_format == "@"
