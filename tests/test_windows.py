"""A document with more passages than the window is processed in windows of passages (one part per window),
and the outputs are those of processing it whole: same passages, tokens, labels and evidence, same coverage
tables and reports. Run through the CLI the Makefile calls (`python -m pipeline run --window-passages`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import CN_REGULATION, ROOT, content, write

PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(PY) if PY.exists() else sys.executable

SENTENCES = [
    "鼓励企业与高等学校、科研院所共同建立联合实验室，开展产学研合作。",
    "县级以上人民政府应当设立科技成果转化专项资金，支持技术转移。",
    "高等学校应当建立技术转移机构，为科技成果转化提供服务。",
    "对在科技成果转化中作出重要贡献的人员给予奖励和报酬。",
    "本条例所称科技成果，是指通过科学研究与技术开发所产生的具有实用价值的成果。",
    "支持建设中试基地和概念验证中心，推动中试熟化。",
    "违反本条例规定的，由有关部门责令改正。",
    "企业研究开发费用按照国家规定享受税前加计扣除。",
]


def huge_text(articles: int) -> str:
    lines = ["# 某省科技条例汇编", "", "<!-- INFO END -->", ""]
    for n in range(1, articles + 1):
        if n % 97 == 1:
            lines += [f"## 第{n // 97 + 1}章 汇编第{n // 97 + 1}部分", ""]
        lines += [f"第{n}条 {SENTENCES[n % len(SENTENCES)]}{SENTENCES[(n * 5) % len(SENTENCES)] if n % 3 else ''}", ""]
    return "\n".join(lines)


def run(corpus: Path, out: Path, window: int, model: list[str]) -> str:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    cmd = [PYTHON, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out), "--quiet", "--jobs", "2",
           "--window-passages", str(window), *model]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stderr


def rows(out: Path, table: str) -> list[dict]:
    return [r for p in sorted((out / f"{table}.parquet").iterdir()) for r in pq.read_table(p).to_pylist()]


@pytest.fixture(scope="module", params=[["--model", "lexicon"], []], ids=["lexicon", "model"])
def runs(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("windows")
    corpus = base / "corpus"
    # a small document before and after the big one (the same chunk of documents), and one in another region
    write(corpus / "xx" / "a.md", CN_REGULATION)
    write(corpus / "xx" / "big.md", huge_text(1300))
    write(corpus / "xx" / "c.md", CN_REGULATION.replace("联合实验室", "技术转移机构"))
    write(corpus / "yy" / "d.md", CN_REGULATION.replace("中试熟化", "概念验证"))
    whole, windowed = base / "whole", base / "windowed"
    run(corpus, whole, 1_000_000, request.param)
    # 7 passages is rounded up to 500: the big document's 1300 articles make 3 windows
    run(corpus, windowed, 7, request.param)
    return whole, windowed, corpus, request.param


def test_windowed_document_gives_the_outputs_of_the_whole(runs):
    whole, windowed, _, _ = runs
    # the big document did go in windows: more parts, and its passages in several of them
    parts = json.loads((windowed / "chunks.meta.json").read_text())["parts"]["segment"]
    assert sum(ids == ["xx/big.md"] for ids in parts) == 3
    assert len(list((windowed / "passages.parquet").iterdir())) > len(list((whole / "passages.parquet").iterdir()))
    for table in ("passages", "tokens", "labels"):
        a, b = rows(whole, table), rows(windowed, table)
        assert len(a) == len(b) and a == b, table
    labels = rows(windowed, "labels")
    assert sum(r["doc_id"] == "xx/big.md" for r in labels) > 1000  # labels (with evidence) all along the document
    for name in sorted(p.name for p in whole.iterdir()):
        if name in ("run.json", "chunks.meta.json", "cache") or name.startswith("."):
            continue
        if (whole / name).is_dir() and name.endswith(".parquet") and name != "documents.parquet":
            continue  # the per-document tables: compared by rows above (the windows are parts of their own)
        assert content(whole / name) == content(windowed / name), name


def test_windows_are_kept_on_a_rerun(runs):
    whole, windowed, corpus, model = runs
    before = {p.name for p in (windowed / "labels.parquet").iterdir()}
    err = run(corpus, windowed, 7, model)
    assert "(4 unchanged, reused)" in err, err
    assert {p.name for p in (windowed / "labels.parquet").iterdir()} == before


def test_page_of_a_document_longer_than_the_cap_shows_its_coded_passages_only(runs, monkeypatch):
    from pipeline import report
    from pipeline.catalog import Catalog
    from pipeline.reporting import write_companions

    _, windowed, _, _ = runs
    page = Catalog(windowed).path("evidence_pages") / report.doc_page_name("xx/big.md")
    small = Catalog(windowed).path("evidence_pages") / report.doc_page_name("xx/a.md")
    full, small_before = page.read_text(encoding="utf-8"), small.read_text(encoding="utf-8")
    assert full.count('class="psg') == 1300 and "too many for one page" not in full
    coded = {r["passage_id"] for r in rows(windowed, "labels") if r["doc_id"] == "xx/big.md"}

    monkeypatch.setattr(report, "PAGE_PASSAGES", 100)
    page.unlink()
    small.unlink()
    args = type("A", (), {"out": str(windowed), "taxonomy": str(ROOT / "taxonomy")})
    from pipeline.reporting import cmd_aggregate
    from pipeline.taxonomy import load_taxonomy

    tables, (docs, passages, labels, _) = cmd_aggregate(type("A", (), {**vars(args), "coded": "nonexistent"}))
    write_companions(windowed, load_taxonomy(args.taxonomy), docs, passages, labels, tables, tables["evidence"])
    capped = page.read_text(encoding="utf-8")
    assert "This document has 1,315 passages" in capped and "only 100 coded passages are shown (the first 100)" in capped
    assert capped.count('class="psg coded"') == 100 == capped.count('class="psg')
    assert len(coded) > 100
    assert small.read_text(encoding="utf-8") == small_before  # a short document's page is as it was


def test_stages_one_at_a_time_window_as_the_whole_run(runs, tmp_path):
    _, windowed, corpus, model = runs
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    out = tmp_path / "stages"
    for stage in ("ingest", "segment", "tokenize", "classify"):
        cmd = [PYTHON, "-m", "pipeline", stage, "--out", str(out), "--quiet", "--window-passages", "7",
               *(["--corpus", str(corpus)] if stage == "ingest" else []), *(model if stage == "classify" else [])]
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stderr[-3000:]
    for table in ("passages", "tokens", "labels"):
        assert content(out / f"{table}.parquet") == content(windowed / f"{table}.parquet"), table


def test_a_window_ends_before_the_passage_that_would_take_it_past_the_character_limit():
    from pipeline.runner import passage_windows

    # content passages 1..6 of 40 characters each, a heading (number 0) after the third
    numbers = [1, 2, 3, 0, 4, 5, 6]
    ends = [40, 80, 120, 130, 170, 210, 250]
    assert passage_windows(numbers, 100) == [(0, 7)]
    # 100 characters: two passages a window, or three with the heading's ten characters between them
    assert passage_windows(numbers, 100, ends, 100) == [(0, 2), (2, 5), (5, 7)]
    # 60: a passage a window; the heading goes with the passage before it
    assert passage_windows(numbers, 100, ends, 60) == [(0, 1), (1, 2), (2, 4), (4, 5), (5, 6), (6, 7)]
    assert passage_windows(numbers, 4, ends, 10_000) == passage_windows(numbers, 4) == [(0, 5), (5, 7)]
    # a passage longer than the limit still makes a window of its own
    assert passage_windows([1, 2], 100, [500, 520], 100) == [(0, 1), (1, 2)]


def _run_with_character_windows(args: list[str]) -> None:
    """`python -m pipeline ARGS` with windows of 20,000 characters, in a process of its own (jieba's dictionary
    is per process, and so is the setting)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    code = ("import sys; from pipeline import cli, runner; runner.WINDOW_CHARS = 20_000; "
            "sys.exit(cli.main(sys.argv[1:]))")
    p = subprocess.run([PYTHON, "-c", code, *args, "--quiet", "--window-passages", "1000000"],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]


def test_a_document_with_more_text_than_a_window_goes_in_windows_with_the_outputs_of_the_whole(runs, tmp_path):
    """Few passages but much text (a long chapter of long paragraphs): windows by characters, the same rows;
    the stages run one at a time make the same windows and the same parts."""
    whole, _, corpus, model = runs
    out = tmp_path / "by_chars"
    # the big document has about 80,000 characters
    _run_with_character_windows(["run", "--corpus", str(corpus), "--out", str(out), "--jobs", "2", *model])
    parts = json.loads((out / "chunks.meta.json").read_text())["parts"]["segment"]
    assert sum(ids == ["xx/big.md"] for ids in parts) >= 4
    for table in ("passages", "tokens", "labels"):
        assert rows(whole, table) == rows(out, table), table
    stages = tmp_path / "by_chars_stages"
    for stage in ("ingest", "segment", "tokenize", "classify"):
        _run_with_character_windows([stage, "--out", str(stages),
                                     *(["--corpus", str(corpus)] if stage == "ingest" else []),
                                     *(model if stage == "classify" else [])])
    for table in ("passages", "tokens", "labels"):
        assert content(stages / f"{table}.parquet") == content(out / f"{table}.parquet"), table
