"""Two runs on the same input give the same bytes; only run.json carries timestamps and timings.

The two runs differ in everything that must not matter: the output folder (name and length), the hash seed
(set and dict-of-str iteration order), and the number of worker processes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, content

PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(PY) if PY.exists() else sys.executable
CORPUS = ROOT / "corpus"
VOLATILE = {"worker_seconds", "seconds", "finished", "passages_per_second", "jobs"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} not available")
    base = tmp_path_factory.mktemp("determinism")
    runs = [(base / "a", "1", "1"), (base / "second_run_with_a_longer_name", "2", "2")]
    procs = []
    for out, seed, jobs in runs:
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
        cmd = [PYTHON, "-m", "pipeline", "run", "--corpus", str(CORPUS), "--out", str(out), "--model", "lexicon",
               "--quiet", "--jobs", jobs]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode("utf-8", "replace")[-3000:]
    return runs[0][0], runs[1][0]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_same_files(two_runs):
    a, b = two_runs
    assert _files(a) == _files(b)
    assert not [n for n in _files(a) if n.endswith(".tmp")]
    for name in ("documents.parquet", "labels.parquet", "coverage_region.csv", "coverage_region.parquet",
                 "ingest_report.csv", "coverage.xlsx"):
        assert name in _files(a)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".md", ".html", ".json"])
def test_tables_byte_identical(two_runs, suffix):
    a, b = two_runs
    names = [n for n in _files(a) if n.endswith(suffix) and n != "run.json"]
    assert names or suffix == ".json"
    differ = [n for n in names if content(a / n) != content(b / n)]
    assert not differ


def test_coverage_xlsx_identical(two_runs):
    a, b = two_runs
    xa, xb = (a / "coverage.xlsx").read_bytes(), (b / "coverage.xlsx").read_bytes()
    if xa != xb:  # say which part differs
        za, zb = zipfile.ZipFile(a / "coverage.xlsx"), zipfile.ZipFile(b / "coverage.xlsx")
        assert za.namelist() == zb.namelist()
        assert [n for n in za.namelist() if za.read(n) != zb.read(n)] == []
        assert [(i.filename, i.date_time) for i in za.infolist()] == [(i.filename, i.date_time) for i in zb.infolist()]
    assert xa == xb


def test_run_json_differs_only_in_timings(two_runs):
    a, b = two_runs
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert _strip(ra) == _strip(rb)
    assert set(ra["stages"]) == {"ingest", "segment", "tokenize", "classify", "aggregate", "report", "run"}


def test_companion_pages_identical(two_runs):
    a, b = two_runs
    pages = content(a / "report_files")
    assert any(name.startswith("doc-") for name, _ in pages) and any(name.startswith("cell-") for name, _ in pages)
    assert pages == content(b / "report_files")
