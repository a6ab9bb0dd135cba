"""Incremental runs: a changed document costs its own chunk, and the result equals a fresh run."""
import json
import os
import shutil

import pytest

from conftest import ROOT, content
from pipeline import cli, reporting, runner

TABLES = ("documents.parquet", "passages.parquet", "tokens.parquet", "labels.parquet")


def run(corpus, out):
    assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet",
                     "--jobs", "1"]) == 0


def parts(out):
    return {t: {p.name: p.stat().st_ino for p in (out / t).iterdir()} for t in TABLES}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(runner, "CHUNK_DOCS", 3)


def test_changed_document_rewrites_only_its_chunk(tmp_path, small_chunks):
    corpus, out, fresh = tmp_path / "corpus", tmp_path / "out", tmp_path / "fresh"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    before = parts(out)
    assert all(len(names) >= 5 for names in before.values()), "the demo corpus spans several chunks"

    report_entry = json.loads((out / "run.json").read_text())["stages"]["report"]
    run(corpus, out)  # nothing changed: every part file stays where it was, and the reports are not redone
    assert parts(out) == before
    assert json.loads((out / "run.json").read_text())["stages"]["report"] == report_entry

    victim = corpus / "en" / "UK" / "knowledge_exchange_partnerships_framework.txt"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nThe council funds business incubators.\n",
                      encoding="utf-8")
    run(corpus, out)
    assert json.loads((out / "run.json").read_text())["stages"]["report"]["inputs_sha256"] != \
        report_entry["inputs_sha256"]
    after = parts(out)
    for table in TABLES:
        new = set(after[table]) - set(before[table])
        assert len(new) == 1, (table, new)  # the changed document's chunk, and nothing else
        kept = set(after[table]) & set(before[table])
        assert len(kept) == len(before[table]) - 1
        assert all(after[table][n] == before[table][n] for n in kept), "kept parts are not rewritten"

    run(corpus, fresh)
    for table in TABLES:
        assert content(out / table) == content(fresh / table), table


def test_reader_never_sees_a_half_replaced_table(tmp_path, small_chunks, monkeypatch):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    before = content(out / "passages.parquet")
    victim = corpus / "en" / "UK" / "knowledge_exchange_partnerships_framework.txt"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nA new paragraph.\n", encoding="utf-8")

    from pipeline import io as pio

    real = pio._swap_in

    def fail(staging, target):
        if target.name == "passages.parquet":
            raise OSError(28, "No space left on device (simulated)", str(target))
        return real(staging, target)

    monkeypatch.setattr(pio, "_swap_in", fail)
    assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet",
                     "--jobs", "1"]) == 1
    assert content(out / "passages.parquet") == before  # the previous table, whole
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(pio, "_swap_in", real)
    run(corpus, out)
    assert content(out / "passages.parquet") != before


def test_small_change_is_classified_beside_the_worker_and_equals_a_fresh_run(tmp_path, small_chunks, monkeypatch):
    """With two jobs and a change that fits one chunk, the worker tokenizes while this process loads the
    classifier and classifies: the tables must be those of a fresh run."""
    corpus, out, fresh = tmp_path / "corpus", tmp_path / "out", tmp_path / "fresh"
    shutil.copytree(ROOT / "corpus", corpus)

    def run2(out):
        assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet",
                         "--jobs", "2"]) == 0

    run2(out)
    calls = []
    real = runner.classify_result
    monkeypatch.setattr(runner, "classify_result", lambda *a: calls.append(1) or real(*a))
    victim = corpus / "zh" / "CN" / "产学研合作促进条例.md"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n第九十九条 鼓励高等学校与企业共建研发平台。\n",
                      encoding="utf-8")
    run2(out)
    assert calls, "the one-chunk change did not take the split path"
    run2(fresh)
    for table in TABLES:
        assert content(out / table) == content(fresh / table), table


def test_recorded_part_positions_find_the_rows_a_scan_finds(tmp_path, small_chunks):
    from pipeline.io import ChunkedTable

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    meta = json.loads((out / runner.META).read_text())
    for stage, table in runner.OUTPUT.items():
        located, scanned = ChunkedTable(table, out), ChunkedTable(table, out)
        located.locate({d: i for i, ids in enumerate(meta["parts"][stage]) for d in ids})
        for ids in meta["parts"][stage]:
            for doc_id in ids:
                assert located.arrow_rows_for([doc_id]).equals(scanned.arrow_rows_for([doc_id])), (stage, doc_id)


def test_reporting_reads_come_from_the_part_cache_and_equal_a_direct_read(tmp_path, small_chunks, monkeypatch):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline import io as pio

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    opened = []
    real_read = pq.read_table
    monkeypatch.setattr(pio.pq, "read_table", lambda p, *a, **k: opened.append(str(p)) or real_read(p, *a, **k))
    cached = reporting.reporting_inputs(out)
    assert not [p for p in opened if "/part-" in p], "the run left every part in the cache"

    def same(a, b):
        assert a[0].equals(b[0]) and a[1].equals(b[1]) and a[2].equals(b[2]) and a[3].sort_index().equals(
            b[3].sort_index())

    shutil.rmtree(out / "cache")
    same(cached, reporting.reporting_inputs(out))  # read from the parts themselves
    for f in (out / "cache").iterdir():
        f.write_bytes(b"not parquet")
    same(cached, reporting.reporting_inputs(out))  # a broken cache is read past

    # evidence depends on which passages are labelled: fewer labels, fewer evidence rows, whatever is cached
    labels = pq.read_table(sorted((out / "labels.parquet").iterdir())[0])
    ids = sorted(set(labels["passage_id"].to_pylist()))
    assert len(ids) > 1
    fewer = labels.filter(pc.is_in(labels["passage_id"], value_set=pa.array(ids[: len(ids) // 2])))
    evidence, _ = reporting.evidence_passages(out, fewer)
    assert sorted(evidence["passage_id"]) == ids[: len(ids) // 2]


def test_document_pages_are_remade_only_for_what_changed(tmp_path, small_chunks, monkeypatch):
    """report_files/: after one document changed, only its page and the pages of the cells its evidence is in
    are made again (the others' texts are not read), and every page equals a fresh run's; a document gone
    from the corpus takes its page with it."""
    from pipeline import report

    corpus, out, fresh = tmp_path / "corpus", tmp_path / "out", tmp_path / "fresh"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    pages = {p.name for p in (out / "report_files").glob("doc-*.html")}
    cells = {p.name for p in (out / "report_files").glob("cell-*.html")}
    assert len(pages) >= 10 and len(cells) >= 20
    made, made_cells = [], []
    real, real_cell = report.document_page, report._cell_page
    monkeypatch.setattr(report, "document_page", lambda meta, *a: made.append(meta["doc_id"]) or real(meta, *a))
    monkeypatch.setattr(report, "_cell_page", lambda region, node, *a: made_cells.append((region, node))
                        or real_cell(region, node, *a))
    victim = corpus / "en" / "UK" / "knowledge_exchange_partnerships_framework.txt"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nThe council funds business incubators.\n",
                      encoding="utf-8")
    run(corpus, out)
    assert made == ["en/UK/knowledge_exchange_partnerships_framework.txt"]
    page = (out / "report_files" / report.doc_page_name(made[0])).read_text(encoding="utf-8")
    assert "The council funds business <mark>incubators</mark>." in page
    # the cell that gained the new passage, and no cell of another region
    assert ("UK", "model.incubator") in made_cells and {r for r, _ in made_cells} == {"UK"}, made_cells
    assert len(made_cells) < len(cells) / 4
    run(corpus, fresh)
    for f in (fresh / "report_files").glob("*.html"):
        assert (out / "report_files" / f.name).read_bytes() == f.read_bytes(), f.name
    assert {p.name for p in (out / "report_files").glob("*.html")} == \
        {p.name for p in (fresh / "report_files").glob("*.html")}

    made.clear()
    victim.unlink()
    (corpus / "manifest.csv").write_text("".join(
        line for line in (corpus / "manifest.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        if "knowledge_exchange" not in line), encoding="utf-8")
    run(corpus, out)
    assert made == []
    assert not (out / "report_files" / report.doc_page_name("en/UK/knowledge_exchange_partnerships_framework.txt")
                ).exists()


def test_stages_one_at_a_time_write_the_same_bytes_as_the_streaming_run(tmp_path, small_chunks):
    """`make run` takes the streaming path; the stage targets stay for stepwise use and must agree with it."""
    corpus = ROOT / "corpus"
    run(corpus, tmp_path / "streamed")
    stepwise = tmp_path / "stepwise"
    for stage in ("ingest", "segment", "tokenize", "classify", "aggregate", "report"):
        extra = ["--corpus", str(corpus)] if stage == "ingest" else []
        assert cli.main([stage, "--out", str(stepwise), "--model", "lexicon", "--quiet", "--jobs", "1", *extra]) == 0
    for name in TABLES + ("coverage_region.csv", "gaps.csv", "coded_passages.csv", "summary.md", "report.html"):
        assert content(stepwise / name) == content(tmp_path / "streamed" / name), name


def test_document_pages_made_by_a_forked_process_are_the_same_and_a_failure_leaves_the_last_pages(
        tmp_path, small_chunks, monkeypatch, capsys):
    """A run that changed more than a chunk (a fresh run) has its document pages made by the workbook's writing
    process: the same files as those `report` makes in its own process. If making them fails there, the run
    fails naming report_files, the last run's pages stay, and no hidden file is left behind."""
    from pipeline import report

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    forked = []
    real_helper = reporting.Helper
    monkeypatch.setattr(reporting, "Helper", lambda *a: forked.append((a[0].__name__, a[-1] is not None))
                        or real_helper(*a))
    run(corpus, out)
    assert forked == [("serve_xlsx", True)]
    by_the_run = content(out / "report_files")
    assert len(list((out / "report_files").glob("doc-*.html"))) >= 10
    shutil.rmtree(out / "report_files")
    forked.clear()
    assert cli.main(["report", "--out", str(out), "--quiet"]) == 0
    assert forked == [("serve_xlsx", False)]
    assert content(out / "report_files") == by_the_run

    real_page = report.document_page
    parent = os.getpid()

    def page_failing_in_the_child(meta, *a):
        if os.getpid() != parent:
            raise RuntimeError("disk trouble")
        return real_page(meta, *a)

    monkeypatch.setattr(report, "document_page", page_failing_in_the_child)
    for f in corpus.rglob("*.md"):  # many documents changed: the run makes their pages again, in the child
        f.write_bytes(f.read_bytes() + b"\n\nThe council funds business incubators.\n")
    capsys.readouterr()
    assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet",
                     "--jobs", "1"]) == 1
    assert "report_files: the document pages could not be made" in capsys.readouterr().err
    assert content(out / "report_files") == by_the_run


def test_a_passage_keeps_its_own_language_in_the_stored_table_fresh_reused_and_stepwise(tmp_path, small_chunks):
    """An English article in a Chinese law is English in passages.parquet, whether the run made it, reused it
    or ran the stages one at a time (which read the language from that table)."""
    corpus = tmp_path / "corpus"
    (corpus / "CN-B").mkdir(parents=True)
    (corpus / "CN-B" / "mixed.txt").write_text(
        "某省促进科技合作条例\n\n第一条 为了促进产学研合作，制定本条例。\n\n"
        "第二条 Universities and enterprises shall establish joint research centres for industry.\n\n"
        "第三条 鼓励企业与高等学校共建联合实验室。\n", encoding="utf-8")
    (corpus / "CN-B" / "other.txt").write_text("另一条例\n\n第一条 鼓励科技成果转化。\n", encoding="utf-8")
    streamed, stepwise = tmp_path / "streamed", tmp_path / "stepwise"
    run(corpus, streamed)

    def english_article_lang(out):
        import pandas as pd
        p = pd.read_parquet(out / "passages.parquet")
        return p.loc[p["text"].str.contains("joint research"), "lang"].tolist()

    assert english_article_lang(streamed) == ["en"]
    (corpus / "CN-B" / "other.txt").write_text("另一条例\n\n第一条 鼓励科技成果转化和技术转移。\n", encoding="utf-8")
    run(corpus, streamed)  # mixed.txt's passages reused beside the changed document
    assert english_article_lang(streamed) == ["en"]
    for stage in ("ingest", "segment", "tokenize", "classify"):
        extra = ["--corpus", str(corpus)] if stage == "ingest" else []
        assert cli.main([stage, "--out", str(stepwise), "--model", "lexicon", "--quiet", "--jobs", "1", *extra]) == 0
    assert english_article_lang(stepwise) == ["en"]
    for name in TABLES:
        assert content(stepwise / name) == content(streamed / name), name


def test_a_language_corrected_in_the_manifest_alone_is_segmented_tokenized_and_classified_again(tmp_path):
    """The manifest first gave a Chinese plan as English; corrected, its text is the same but it reads as an
    outline of items (a Chinese document's), which a fresh run finds: the re-run must not keep the old rows."""
    corpus, out, fresh = tmp_path / "corpus", tmp_path / "out", tmp_path / "fresh"
    (corpus / "SD").mkdir(parents=True)
    (corpus / "SD" / "plan.txt").write_text(
        "某省深化产学研融合实施方案\n\n一、总体要求\n坚持企业主体地位，推动高等学校面向产业需求开展研究。\n\n"
        "二、主要任务\n（一）支持企业与高等学校共建联合实验室。\n（二）设立科技成果转化引导基金。\n", encoding="utf-8")
    (corpus / "SD" / "other.txt").write_text("另一条例\n\n第一条 鼓励科技成果转化。\n", encoding="utf-8")
    manifest = "path,region,lang\nSD/plan.txt,SD,{}\nSD/other.txt,SD,zh\n"
    (corpus / "manifest.csv").write_text(manifest.format("en"), encoding="utf-8")
    run(corpus, out)
    (corpus / "manifest.csv").write_text(manifest.format("zh"), encoding="utf-8")
    run(corpus, out)
    run(corpus, fresh)
    for name in TABLES + ("coded_passages.csv", "summary.md"):
        assert content(out / name) == content(fresh / name), name


def test_a_repeal_given_in_the_manifest_alone_reaches_the_in_force_tables(tmp_path):
    """Only the manifest's `repealed` cell changes (a repeal recorded, then corrected, then removed): the text and
    every per-document stage's rows stay, but the documents' metadata does not, and the in-force tables, the
    gap audit and the reports of the re-run (streamed, or the stages one at a time) are a fresh run's."""
    corpus = tmp_path / "corpus"
    (corpus / "SD").mkdir(parents=True)
    (corpus / "SD" / "old.txt").write_text("某省科技成果转化办法\n\n第一条 省财政设立中试基地专项资金，支持中间试验。\n",
                                           encoding="utf-8")
    (corpus / "SD" / "new.txt").write_text("某省孵化器管理办法\n\n第一条 支持建设科技企业孵化器。\n", encoding="utf-8")
    manifest = "path,region,lang,date,repealed\nSD/old.txt,SD,zh,2014-01-15,{}\nSD/new.txt,SD,zh,2018-05-01,\n"
    (corpus / "manifest.csv").write_text(manifest.format(""), encoding="utf-8")
    out, stepwise = tmp_path / "out", tmp_path / "stepwise"
    run(corpus, out)
    for stage in ("ingest", "segment", "tokenize", "classify", "aggregate", "report"):
        extra = ["--corpus", str(corpus)] if stage == "ingest" else []
        assert cli.main([stage, "--out", str(stepwise), "--model", "lexicon", "--quiet", "--jobs", "1", *extra]) == 0
    names = ("documents.parquet", "gaps.csv", "coverage_by_year.csv", "coverage_region_long.csv", "summary.md",
             "report.md", "report.html")
    for i, repealed in enumerate(("2019-06-30", "2016", "")):
        (corpus / "manifest.csv").write_text(manifest.format(repealed), encoding="utf-8")
        run(corpus, out)
        for stage in ("ingest", "aggregate", "report"):
            extra = ["--corpus", str(corpus)] if stage == "ingest" else []
            assert cli.main([stage, "--out", str(stepwise), "--model", "lexicon", "--quiet", *extra]) == 0
        fresh = tmp_path / f"fresh{i}"
        run(corpus, fresh)
        for name in names:
            assert content(out / name) == content(fresh / name), (repealed, name)
            assert content(stepwise / name) == content(fresh / name), (repealed, name)
        by = (fresh / "coverage_by_year.csv").read_text(encoding="utf-8-sig")
        assert ("SD,2019,measure.transformation.pilot_base" in by) == (repealed == "2019-06-30")  # the last repeal
        in_2018 = next(l for l in by.splitlines() if l.startswith("SD,2018,measure.transformation.pilot_base,"))
        assert in_2018.split(",")[-1] == ("" if repealed == "2016" else "SD/old.txt"), in_2018


def test_the_report_names_the_model_folder_of_this_run(tmp_path):
    """The same model files in a folder of another name (moved, or a copy) give the same labels; the report must
    still name the folder this run used, as a fresh run's does, not the last run's."""
    from pipeline import classify
    from pipeline.taxonomy import load_taxonomy

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.txt").write_text("某省条例\n\n第一条 鼓励企业与高等学校共建联合实验室。\n", encoding="utf-8")
    taxonomy = ROOT / "taxonomy"
    default = classify.build_default_model(taxonomy, load_taxonomy(taxonomy))
    for name in ("spring", "autumn"):
        shutil.copytree(default, tmp_path / name)
        assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", str(tmp_path / name),
                         "--quiet", "--jobs", "1", "--coded", str(tmp_path / "coded")]) == 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "'autumn'" in summary and "spring" not in summary


def test_a_rerun_makes_again_an_evidence_page_missing_from_the_output_folder(tmp_path):
    """A document's page deleted from report_files/ (report.html links to it) was not made again: the re-run said
    'outputs kept', as it checked report.html and index.json but not the pages index.json lists."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.txt").write_text("某省条例\n\n第一条 鼓励企业与高等学校共建联合实验室。\n", encoding="utf-8")
    run(corpus, out)
    pages = sorted((out / "report_files").glob("doc-*.html"))
    assert pages
    pages[0].unlink()
    run(corpus, out)
    assert pages[0].exists()


def test_a_run_after_aggregate_alone_with_another_store_does_not_keep_its_tables(tmp_path):
    """`aggregate` run alone (another CODED=, say) rewrites the coverage tables but not the reports; the next run,
    its inputs those of the run before, kept those tables beside reports that contradict them."""
    import pandas as pd

    corpus, out, fresh, store = tmp_path / "corpus", tmp_path / "out", tmp_path / "fresh", tmp_path / "coded"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.txt").write_text("某省条例\n\n第一条 鼓励企业与高等学校共建联合实验室。\n", encoding="utf-8")
    store.mkdir()
    (store / "coded.jsonl").write_text(json.dumps({"id": "GD/a.txt#1", "text": "第一条 鼓励企业与高等学校共建联合实验室。",
                                                   "labels": ["model.joint_research_center"], "coder": "ann"},
                                                  ensure_ascii=False) + "\n", encoding="utf-8")

    def run_with_store(where):
        assert cli.main(["run", "--corpus", str(corpus), "--out", str(where), "--model", "lexicon", "--quiet",
                         "--jobs", "1", "--coded", str(store)]) == 0

    run_with_store(out)
    (tmp_path / "nobody").mkdir()
    assert cli.main(["aggregate", "--out", str(out), "--coded", str(tmp_path / "nobody")]) == 0
    run_with_store(out)
    run_with_store(fresh)
    for name in ("human_coding.csv", "gaps.csv", "summary.md"):
        assert content(out / name) == content(fresh / name), name
    assert pd.read_csv(out / "human_coding.csv", encoding="utf-8-sig")["passages_coded"].max() == 1


def test_rows_kept_by_another_version_of_the_runner_are_made_again(tmp_path, monkeypatch):
    """Which rows the runner reuses decides what a part holds: parts an older runner stored wrongly (a document
    reused after its language changed in the manifest) were kept under the fixed code, since only the stages'
    own code keyed them. The runner's code keys them too: another runner makes every document again, the same
    runner reuses them."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "SD").mkdir(parents=True)
    (corpus / "SD" / "a.txt").write_text("某条例\n\n第一条 鼓励科技成果转化。\n", encoding="utf-8")
    (corpus / "SD" / "b.txt").write_text("另一条例\n\n第一条 支持企业与高等学校共建联合实验室。\n", encoding="utf-8")

    def reused():
        stages = json.loads((out / "run.json").read_text())["stages"]
        return {st: stages[st]["counts"]["reused_documents"] for st in ("segment", "tokenize", "classify")}

    run(corpus, out)
    run(corpus, out)
    assert reused() == {"segment": 2, "tokenize": 2, "classify": 2}
    monkeypatch.setattr(runner, "REUSE_CODE", "another version")
    run(corpus, out)
    assert reused() == {"segment": 0, "tokenize": 0, "classify": 0}
