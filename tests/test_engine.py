"""ENGINE=dask runs the per-document stages as Dask tasks and must give byte-identical tables."""
import subprocess
import sys

import pytest

from conftest import ROOT, content

pytest.importorskip("distributed")


def run(out, *extra):
    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(ROOT / "corpus"), "--out", str(out),
                          "--quiet", *extra], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]


def test_dask_engine_gives_identical_tables(tmp_path):
    run(tmp_path / "local", "--engine", "local", "--jobs", "2")
    run(tmp_path / "dask", "--engine", "dask", "--jobs", "2")
    for name in ("tokens.parquet", "labels.parquet", "coverage_region.csv", "gaps.csv", "coverage_document.csv"):
        assert content(tmp_path / "local" / name) == content(tmp_path / "dask" / name), name


def test_dask_engine_without_dask_installed_says_how_to_get_it(monkeypatch):
    from pipeline.engine import imap_ordered
    from pipeline.io import ConfigError

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the [dask] extra were not installed
    with pytest.raises(ConfigError, match=r"\[dask\]"):
        list(imap_ordered(abs, [1, -2], engine="dask", jobs=1))


def test_dask_engine_keeps_dasks_routine_logging_off_the_terminal(caplog):
    # the run's terminal shows INFO (cli.main); Dask logs every start, connection and close of its scheduler and
    # workers at INFO, some thirty lines around the run's own
    from pipeline.engine import imap_ordered

    with caplog.at_level("INFO"):
        assert [r for _, r in imap_ordered(abs, [1, -2], engine="dask", jobs=1)] == [1, 2]
    assert not [r for r in caplog.records if r.name.startswith("distributed") and r.levelno < 40], \
        [r.getMessage() for r in caplog.records][:5]
