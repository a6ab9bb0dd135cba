"""Every file an output folder holds, named once: the per-document stage tables (folders of Parquet parts, their
schemas in `schemas.py`), the coverage tables (CSV for people, Parquet for programs), the reports, `run.json` and
the caches. Commands reach them through the catalog of their folder, never by building paths themselves:

    catalog = Catalog(out)
    labels = catalog.load("labels", columns=["passage_id", "node"])
    catalog.save("gaps", frame)

A table an earlier stage has not written yet is a one-line error naming the file and the stage to run.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .io import ConfigError, read_csv, write_csv, write_parquet
from .schemas import DOCUMENTS, EVIDENCE, INGEST_REPORT, LABELS, PASSAGES, TOKENS, Table, check, to_arrow

# the per-document tables, written one Parquet part per chunk of documents (runner.ChunkRunner, io.TableWriter)
STAGE_TABLES: dict[str, Table] = {t.name: t for t in (DOCUMENTS, PASSAGES, TOKENS, LABELS)}
WRITTEN_BY = {"documents": "ingest", "passages": "segment", "tokens": "tokenize", "labels": "classify",
              "ingest_report": "ingest"}
# the coverage tables `aggregate` writes, each as NAME.csv and NAME.parquet (and a workbook sheet)
COVERAGE_TABLES = ("coverage_region", "coverage_region_long", "coverage_document", "coverage_document_long", "gaps",
                   "region_ranking", "first_year", "coverage_by_year", "coded_passages", "human_coding")
# aggregate's tables kept as Parquet only, with their schema (no CSV, no sheet): what the report reads
AGGREGATE_TABLES: dict[str, Table] = {EVIDENCE.name: EVIDENCE}
# with several frameworks in one run, aggregate also writes their framework x framework table
CROSSTAB = "crosstab"


def coverage_tables(taxonomy) -> tuple[str, ...]:
    """The coverage tables of a run with this taxonomy (one framework, or several)."""
    return COVERAGE_TABLES + ((CROSSTAB,) if len(taxonomy.parts) > 1 else ())


# the files `report` writes; report.html links into the folder of evidence pages beside it
EVIDENCE_PAGES = "report_files"
REPORT_FILES = {"workbook": "coverage.xlsx", "summary": "summary.md", "report_md": "report.md",
                "report_html": "report.html", "evidence_index": f"{EVIDENCE_PAGES}/index.json"}
OTHER_FILES = {
    "ingest_report": INGEST_REPORT.file,  # every input file with its status
    "ingest_cache": "ingest_cache.parquet",  # what ingest read last time (size, mtime), to skip unchanged files
    "run": "run.json",  # what each stage of the last run did
    "chunks_meta": "chunks.meta.json",  # the per-document stages' reuse keys and each part's documents
    "evidence_pages": EVIDENCE_PAGES,  # every cell's and document's page
    "review": "review",  # the sheets `review` writes for coders (review-001.xlsx, ...)
}
# what `make evaluate` writes into OUT (evaluation_nodes.csv, evaluation_cv_summary.csv, ...)
EVALUATION_FILES = "evaluation_*.csv"
# what `make compare` writes into OUT (Catalog.comparison)
COMPARISON_FILES = "compare_*_vs_*.csv"
# the part caches (see Catalog.cache)
CACHE_FOLDER = "cache"


def owned_names() -> list[str]:
    """The names a run writes at the top of an output folder (files and folders), which it may replace or
    remove there (not review/: only `review` writes there, and the sheets in it are the coders' work)."""
    names = [t.file for t in STAGE_TABLES.values()] + [t.file for t in AGGREGATE_TABLES.values()]
    names += [f"{n}.{ext}" for n in COVERAGE_TABLES + (CROSSTAB,) for ext in ("csv", "parquet")]
    names += [f.split("/")[0] for f in REPORT_FILES.values()] + list(OTHER_FILES.values()) + [CACHE_FOLDER]
    return sorted(set(names) - {OTHER_FILES["review"]})


class Catalog:
    """The files of one output folder."""

    def __init__(self, out: str | Path):
        self.out = Path(out)

    def path(self, name: str, ext: str = "parquet") -> Path:
        """Where `name` lives (a coverage table in the format `ext`)."""
        if name in STAGE_TABLES:
            return self.out / STAGE_TABLES[name].file
        if name in COVERAGE_TABLES or name == CROSSTAB:
            return self.out / f"{name}.{ext}"
        if name in AGGREGATE_TABLES:
            return self.out / AGGREGATE_TABLES[name].file
        if name in REPORT_FILES:
            return self.out / REPORT_FILES[name]
        if name in OTHER_FILES:
            return self.out / OTHER_FILES[name]
        raise KeyError(f"no table or file named {name!r} in the catalog")

    def comparison(self, a: str, b: str, frameworks: str = "") -> Path:
        """Where `compare` writes what side `a` addresses that side `b` does not, and the reverse (on
        `frameworks` alone, when given)."""
        return self.out / f"compare_{a}_vs_{b}{'_' + frameworks if frameworks else ''}.csv".replace("/", "_")

    def cache(self, name: str) -> Path:
        """Where the part cache `name` lives (what aggregate and report read from each part, kept by part name)."""
        return self.out / CACHE_FOLDER / f"{name}.parquet"

    def require(self, name: str) -> Path:
        """The path of `name`, which an earlier stage must have written."""
        path = self.path(name)
        if not path.exists():
            stage = WRITTEN_BY.get(name, "aggregate" if name in COVERAGE_TABLES or name in AGGREGATE_TABLES else None)
            hint = f"run the stage that writes '{name}' first" + (f" ({stage})" if stage else "")
            raise ConfigError(f"{path}: missing; {hint}")
        return path

    def load(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        path = self.require(name)
        if name == "ingest_report":
            return read_csv(path)  # the cells as ingest found them, not as neutralised for a spreadsheet
        frame = pd.read_parquet(path, columns=columns)
        table = STAGE_TABLES.get(name) or AGGREGATE_TABLES.get(name)
        return check(frame, table) if table is not None and columns is None else frame

    def save(self, name: str, frame: pd.DataFrame) -> None:
        """Write a table whole (the per-document tables are written in parts by io.TableWriter instead)."""
        if name in COVERAGE_TABLES or name == CROSSTAB:
            write_csv(frame, self.path(name, "csv"))
            write_parquet(frame, self.path(name, "parquet"))
        elif name in AGGREGATE_TABLES:
            write_parquet(to_arrow(frame, AGGREGATE_TABLES[name]), self.path(name))
        elif name == "ingest_report":
            write_csv(frame, self.path(name))
        elif name == "ingest_cache":
            write_parquet(frame, self.path(name))
        else:
            raise KeyError(f"{name!r} is not saved whole")

    def reporting_outputs(self, taxonomy) -> list[Path]:
        """Every file aggregate and report publish, as one set (with the evidence pages report.html links to)."""
        return ([self.path(t, ext) for t in coverage_tables(taxonomy) for ext in ("csv", "parquet")]
                + [self.path(t) for t in AGGREGATE_TABLES] + [self.path(f) for f in REPORT_FILES]
                + self.evidence_pages())

    def evidence_pages(self) -> list[Path]:
        """The pages `report_files/index.json` lists (none when it is missing or unreadable)."""
        index = self.path("evidence_index")
        try:
            names = json.loads(index.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [index.parent / name for name in names] if isinstance(names, dict) else []
