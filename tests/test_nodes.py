"""Stage fingerprints: reuse follows the code that made an output, not a version number kept by hand."""
import json
import shutil

import pytest

from conftest import ROOT, edit_code
from pipeline import cli, nodes

TABLES = ("documents.parquet", "passages.parquet", "tokens.parquet", "labels.parquet")


def run(corpus, out):
    assert cli.main(["run", "--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet",
                     "--jobs", "1"]) == 0


def parts(out) -> dict[str, set[str]]:
    return {t: {p.name for p in (out / t).iterdir()} for t in TABLES}


def test_closure_follows_imports_inside_functions_and_records_library_versions():
    closure = nodes.package_closure("classify")
    assert {"classify", "lexicon", "model", "taxonomy"} <= closure
    assert "report" not in closure and "aggregate" not in closure
    # editing ingest's text code must not make every document be segmented again
    assert nodes.package_closure("segment") == {"segment", "article_numbers"}
    assert "jieba" in dict(nodes.library_versions(nodes.package_closure("tokenize")))
    assert "scikit-learn" in dict(nodes.library_versions(closure))


def test_fingerprint_changes_with_code_parameters_and_upstream(monkeypatch):
    base = nodes.fingerprint("tokenize", "terms", upstream=("seg",))
    assert nodes.fingerprint("tokenize", "terms", upstream=("seg",)) == base
    assert nodes.fingerprint("tokenize", "other terms", upstream=("seg",)) != base
    assert nodes.fingerprint("tokenize", "terms", upstream=("seg2",)) != base
    segment = nodes.fingerprint("segment")
    edit_code(monkeypatch, "tokenize")
    assert nodes.fingerprint("tokenize", "terms", upstream=("seg",)) != base
    assert nodes.fingerprint("segment") == segment


@pytest.mark.parametrize("edited, recomputed", [
    ("tokenize", {"tokens.parquet", "labels.parquet"}),
    ("lexicon", {"labels.parquet"}),
    ("segment", {"passages.parquet", "tokens.parquet", "labels.parquet"}),
    ("ingest", {"documents.parquet"}),  # the same documents, so the same passages
    ("text", {"documents.parquet", "labels.parquet"}),  # classify detects a coded passage's language with it
    ("aggregate", set()),
])
def test_editing_a_stage_recomputes_it_and_what_follows_it_and_nothing_else(tmp_path, monkeypatch, edited,
                                                                            recomputed):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    run(corpus, out)
    before, report = parts(out), json.loads((out / "run.json").read_text())["stages"]["report"]
    edit_code(monkeypatch, edited)
    run(corpus, out)
    after = parts(out)
    assert {t for t in TABLES if after[t] != before[t]} == recomputed
    for t in recomputed:
        assert not after[t] & before[t], f"{t}: every part made again"
    # the reports are made again whenever their inputs or their own code changed
    again = json.loads((out / "run.json").read_text())["stages"]["report"]
    assert (again["inputs_sha256"] != report["inputs_sha256"]) == (edited == "aggregate" or bool(recomputed))
