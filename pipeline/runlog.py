"""run.json: what each stage of the last run did (seconds, counts, inputs) and the library versions; the only
output with timestamps. An entry is written once the stage's outputs are published."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .catalog import Catalog
from .io import after_publication, write_json


PACKAGES = ("spacy", "jieba", "pandas", "scikit-learn", "pyarrow", "numpy", "opencc", "pyahocorasick", "PyYAML",
            "google-re2")


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def record(out: Path, stage: str, seconds: float, **info) -> None:
    """Add this stage's entry to run.json (the only file with timestamps), once the stage's outputs are
    published: run.json must never vouch for outputs that are not in place (a run whose reporting inputs
    match run.json's keeps the outputs it finds)."""
    finished = now()

    def write_entry() -> None:
        run = last_run(out)
        run.setdefault("stages", {})[stage] = {"seconds": round(seconds, 3), "finished": finished, **info}
        run["packages"] = versions()
        write_json(run, Catalog(out).path("run"), publish=False)

    after_publication(write_entry)


def last_run(out: Path) -> dict:
    """The run.json of the last run in `out`; {} when there is none or it is not one (edited by hand into
    something else: a run failed with a traceback from reading it, where it only needs to write it anew)."""
    try:
        run = json.loads(Catalog(out).path("run").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return run if isinstance(run, dict) and isinstance(run.get("stages", {}), dict) else {}


def stage_entry(out: Path, stage: str) -> dict:
    """`stage`'s entry in the run.json of the last run in `out`; {} when there is none or it cannot be read."""
    entry = last_run(out).get("stages", {}).get(stage)
    return entry if isinstance(entry, dict) else {}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
