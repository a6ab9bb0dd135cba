"""`python -m pipeline <stage>`: one sub-command per stage, plus run, train, evaluate, classify --in, compare.

Stages talk only through the tables in --out; each records its timing and counts in run.json.
Fatal configuration errors print one line naming the file and the problem and exit with status 2.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import aggregate as aggregate_mod
from . import classify as classify_mod
from . import ingest as ingest_mod
from . import report as report_mod
from .io import ChunkedTable, ConfigError, TableWriter, read_csv, write_csv, write_json, write_parquet, write_text
from .schemas import DOCUMENTS, INGEST_REPORT, LABELS, PASSAGES, TOKENS, SchemaError, check
from .taxonomy import load_taxonomy

if TYPE_CHECKING:
    import pyarrow as pa

    from .outdir import OutLock

log = logging.getLogger("pipeline")
PACKAGES = ("spacy", "jieba", "pandas", "scikit-learn", "pyarrow", "numpy", "opencc", "pyahocorasick", "PyYAML",
            "google-re2")


def _versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _record(out: Path, stage: str, seconds: float, **info) -> None:
    """Add this stage's entry to run.json (the only file with timestamps)."""
    path = out / "run.json"
    run = json.loads(path.read_text()) if path.exists() else {}
    run.setdefault("stages", {})[stage] = {"seconds": round(seconds, 3), "finished": _now(), **info}
    run["packages"] = _versions()
    write_json(run, path)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _progress(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


# ----------------------------------------------------------------------------------------- stages

INGEST_CACHE = "ingest_cache.parquet"


def _open_ingest(args) -> "ingest_mod.IngestRun":
    """The ingest pass over --corpus, with what the previous run in --out read (so unchanged files are not
    read again); it already knows how many files changed since then."""
    out = Path(args.out)
    prev_docs = ChunkedTable.open(DOCUMENTS, out)
    cache = out / INGEST_CACHE
    previous = None
    if prev_docs is not None and cache.exists():
        try:
            previous = (pd.read_parquet(cache), prev_docs)
        except (OSError, ValueError):
            previous = None
    return ingest_mod.IngestRun(args.corpus, max_bytes=int(args.max_mb * 2**20), progress=_progress(args),
                                previous=previous)


def _ingest_chunks(args, run: "ingest_mod.IngestRun"):
    """Ingest as a stream of document chunks; documents.parquet, the report and the cache are written when
    the stream is exhausted. Files unchanged since the last run (size, mtime, manifest row) are not re-read."""
    from .runner import DOCUMENT_FIELDS, chunk_documents, chunk_key

    out = Path(args.out)
    cache = out / INGEST_CACHE
    spent = 0.0
    n_docs, hashes = 0, []
    with TableWriter(DOCUMENTS, out) as writer:
        t = time.perf_counter()
        for chunk in chunk_documents(run.documents()):
            key = chunk_key(ingest_mod.DOCUMENTS_VERSION, chunk, DOCUMENT_FIELDS)
            if writer.has(key):
                writer.keep(key)
            else:
                writer.write(pd.DataFrame(run.fill_texts(chunk), columns=list(DOCUMENTS.columns)), key)
            n_docs += len(chunk)
            hashes += [d["content_hash"] for d in chunk]
            spent += time.perf_counter() - t
            yield chunk
            t = time.perf_counter()
        spent += time.perf_counter() - t
    rep = run.report_frame()
    write_csv(rep, out / INGEST_REPORT.file)
    write_parquet(run.cache_frame(), cache)
    counts = rep["status"].value_counts().to_dict()
    counts["files"] = int(len(rep))
    manifest = Path(args.corpus) / ingest_mod.MANIFEST
    corpus_hash = hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()
    _record(out, "ingest", spent, counts={k: int(v) for k, v in counts.items()}, reused_files=run.reused,
            corpus=str(args.corpus), corpus_sha256=corpus_hash,
            manifest_sha256=hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None)
    msg = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ingested", "duplicate_of", "skipped", "failed"))
    print(f"ingest: {counts['files']} files: {msg} -> {out / INGEST_REPORT.file}", file=sys.stderr)
    if run.root_files:
        shown = ", ".join(run.root_files[:5]) + (f" and {len(run.root_files) - 5} more" if len(run.root_files) > 5
                                                 else "")
        print(f"ingest: {len(run.root_files)} document(s) at the corpus root are in region "
              f"'{ingest_mod.ROOT_REGION}': {shown} (move them into a folder named after their region, or give "
              f"their region in {ingest_mod.MANIFEST})", file=sys.stderr)
    if not n_docs:
        log.warning("no document could be ingested from %s", args.corpus)


def cmd_ingest(args) -> None:
    for _ in _ingest_chunks(args, _open_ingest(args)):
        pass


def _settings(args, stages):
    from .runner import Settings

    if stages == ("segment",):
        return Settings.make()
    tax = load_taxonomy(args.taxonomy)
    path = classify_mod.model_path(args.model, Path(args.taxonomy), tax) if "classify" in stages else None
    return Settings.make(tax, path)


def _run_chunked(args, stages: tuple[str, ...], chunks=None, changed: tuple[int, int] | None = None,
                 load_texts=None) -> dict:
    """Run per-document stages over the documents (from `chunks`, else documents.parquet) in --out."""
    from .runner import ChunkRunner, documents_in_chunks

    out = Path(args.out)
    settings = _settings(args, stages)
    if chunks is None:
        if not (out / DOCUMENTS.file).exists():
            raise ConfigError(f"{out / DOCUMENTS.file}: missing; run the stage that writes 'documents' first")
        for st, table in (("segment", PASSAGES), ("tokenize", TOKENS)):
            if STAGE_ORDER.index(st) < STAGE_ORDER.index(stages[0]) and not (out / table.file).exists():
                raise ConfigError(f"{out / table.file}: missing; run the stage that writes '{table.name}' first")
        chunks = documents_in_chunks(out)
    t0 = time.perf_counter()
    runner = ChunkRunner(out, stages, settings, engine=args.engine, jobs=args.jobs)
    bar = None
    if _progress(args):
        from tqdm import tqdm

        bar = tqdm(desc="+".join(stages), unit="doc")
    result = runner.run(chunks, progress=bar.update if bar is not None else None, changed=changed, load_texts=load_texts)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    rows = result["rows"]
    for st in stages:
        info = {"counts": {"rows": rows[st], "documents": result["documents"],
                           "reused_documents": result["reused_documents"]},
                "worker_seconds": result["worker_seconds"][st], "engine": args.engine, "jobs": args.jobs}
        if st == "classify":
            info.update(model=settings.model_path, taxonomy_sha256=load_taxonomy(args.taxonomy).sha256,
                        taxonomy_version=load_taxonomy(args.taxonomy).version,
                        passages_per_second=round(rows.get("tokenize", 0) / result["worker_seconds"][st], 1)
                        if result["worker_seconds"][st] and "tokenize" in rows else None)
        # stages that ran together share the wall time; worker_seconds says how it divided
        _record(out, st, wall if len(stages) == 1 else wall * result["worker_seconds"][st]
                / max(sum(result["worker_seconds"].values()), 1e-9), **info)
    said = [f"{rows[st]} {OUTPUT_NAMES[st]}" for st in stages]
    if "tokenize" in stages:
        # fewer tokenized passages than passages is by design; say so, or it reads as passages lost
        other = rows["segment"] - rows["tokenize"] if "segment" in stages else None
        said[stages.index("tokenize")] += (f" (the content passages; the other {other} are headings and file "
                                           "headers, which are not coded)" if other else
                                           " (content passages only; headings and file headers are not coded)"
                                           if other is None else "")
    print(f"{'+'.join(stages)}: {result['documents']} documents ({result['reused_documents']} unchanged, reused): "
          + ", ".join(said), file=sys.stderr)
    return result


STAGE_ORDER = ("segment", "tokenize", "classify")
# how much a passage the researcher coded from their own corpus weighs in training (see bench/review_sim.py)
CODED_WEIGHT = 6.0
OUTPUT_NAMES = {"segment": "passages", "tokenize": "tokenized passages", "classify": "labels"}


def cmd_segment(args) -> None:
    _run_chunked(args, ("segment",))


def cmd_tokenize(args) -> None:
    _run_chunked(args, ("tokenize",))


def cmd_classify(args) -> None:
    tax = load_taxonomy(args.taxonomy)
    if getattr(args, "input", None) is not None:
        source = Path(args.input)
        if not source.is_file():
            raise ConfigError(f"{source}: input file {'is a folder' if source.is_dir() else 'not found'} (--in / "
                              f"IN=: JSON lines of passages to classify, each {{\"id\", \"text\"[, \"lang\"]}})")
        model, desc = classify_mod.resolve_model(args.model, Path(args.taxonomy), tax)
        n = classify_mod.classify_jsonl(Path(args.input), Path(args.out), tax, model)
        print(f"classify: {n} passages -> {args.out} (model: {desc})", file=sys.stderr)
        return
    _run_chunked(args, ("classify",))


def _reporting_inputs(out: Path, saves: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                                                     pd.Series]:
    """(documents, evidence passages, labels, content passages per region) for aggregation: no document text,
    and passages only where they are labelled, so memory does not grow with the corpus.

    What is read from each part is also kept in --out/cache, one file per table, so the next run reads only
    the parts that changed (a stage table has one part per chunk of documents: opening them all is most of the
    cost when few changed)."""
    from .io import part_cache, part_files, read_parts

    for t in (DOCUMENTS, PASSAGES, LABELS):
        if not (out / t.file).exists():
            raise ConfigError(f"{out / t.file}: missing; run the stage that writes '{t.name}' first")
    docs, _ = read_parts(DOCUMENTS, part_files(out / DOCUMENTS.file), DOCUMENT_META, part_cache(out, "documents"),
                         saves)
    labels, _ = read_parts(LABELS, part_files(out / LABELS.file), list(LABELS.columns), part_cache(out, "labels"),
                           saves)
    evidence, counts = _evidence_passages(out, labels, saves)
    return docs.to_pandas(), evidence, check(labels.to_pandas(), LABELS), counts


DOCUMENT_META = [c for c in DOCUMENTS.columns if c not in ("text", "text_original")]


def _evidence_passages(out: Path, labels: "pa.Table", saves: list | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The labelled passages (whole rows) and the number of content passages per region."""
    import hashlib

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .io import PartCache, part_cache, part_files, read_parts
    from .segment import CONTENT_KINDS

    parts = part_files(out / PASSAGES.file)
    narrow, part_of = read_parts(PASSAGES, parts, ["passage_id", "kind", "region"], part_cache(out, "passages"),
                                 saves)
    content = narrow.filter(pc.is_in(narrow["kind"], value_set=pa.array(sorted(CONTENT_KINDS), pa.string())))
    grouped = content.group_by("region").aggregate([([], "count_all")])
    counts = pd.Series(grouped["count_all"].to_numpy(), index=grouped["region"].to_pylist(), dtype="int64")

    wanted = pc.unique(labels["passage_id"])
    hit = np.flatnonzero(pc.is_in(narrow["passage_id"], value_set=wanted).to_numpy(zero_copy_only=False))
    by_part: dict[int, list[str]] = {}
    for pid, i in zip(narrow["passage_id"].take(hit).to_pylist(), part_of[hit].tolist()):
        by_part.setdefault(i, []).append(pid)
    # a part's evidence depends on which of its passages are labelled, hence the tag
    store = PartCache(part_cache(out, "evidence"), PASSAGES.arrow_schema)
    pieces = [store.rows(parts[i].name, lambda i=i, ids=ids: pq.read_table(parts[i], schema=PASSAGES.arrow_schema)
                         .filter(pc.is_in(pc.field("passage_id"), value_set=pa.array(ids, pa.string()))),
                         tag=hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16])
              for i, ids in sorted(by_part.items())]
    store.save() if saves is None else saves.append(store.save)
    evidence = pa.concat_tables(pieces) if pieces else PASSAGES.arrow_schema.empty_table()
    return check(evidence.to_pandas(), PASSAGES), counts


def cmd_aggregate(args, inputs=None, on_tables=None, saves: list | None = None) -> tuple:
    """Coverage tables from the tables in --out (or from `inputs`, the same tables already read).
    `on_tables(batch)` gets them as they are computed, before they are written; updating the read caches is
    left to `saves` if given (see read_parts)."""
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    inputs = inputs or _reporting_inputs(out, saves)
    docs, passages, labels, counts = inputs
    tables = aggregate_mod.aggregate(docs, passages, labels, tax, passage_counts=counts, on_tables=on_tables)
    for name, df in tables.items():
        write_csv(df, out / f"{name}.csv")
        write_parquet(df, out / f"{name}.parquet")
    _record(out, "aggregate", time.perf_counter() - t0, counts={k: int(len(v)) for k, v in tables.items()})
    print(f"aggregate: {len(tables['coverage_region'])} regions x {len(tax.nodes)} nodes -> "
          f"{out / 'coverage_region.csv'}", file=sys.stderr)
    return tables, inputs


def _ingest_report(out: Path) -> pd.DataFrame:
    return read_csv(out / INGEST_REPORT.file)  # the cells as ingest found them, not as neutralised for a spreadsheet


class _Workbook:
    """coverage.xlsx written by a forked process (openpyxl builds every cell: the slowest report file) on the
    other core, sheet by sheet as this process sends the tables."""

    def __init__(self, path: Path, names: dict | None = None, sheets: tuple[str, ...] = report_mod.SHEETS):
        from .engine import Helper

        self.path, self.sheets = path, sheets
        self._helper = Helper(report_mod.serve_xlsx, path, sheets, names)
        self._sent: set[str] = set()

    def send(self, tables: dict[str, pd.DataFrame]) -> None:
        """Hand over the sheets among `tables` not sent yet, in one message: the writer takes it at once and
        this process goes on while the sheets are written."""
        batch = {name: tables[name] for name in self.sheets if name in tables and name not in self._sent}
        if not batch:
            return
        try:
            self._helper.send(batch)
        except OSError:  # the writer has stopped: say why
            self._finish()
            raise
        self._sent.update(batch)

    def wait(self) -> None:
        """Wait for the file (every sheet must have been sent); raise if it could not be written."""
        missing = set(self.sheets) - self._sent
        if missing:
            self.cancel()
            raise ValueError(f"workbook sheets never sent: {', '.join(sorted(missing))}")
        self._finish()

    def _finish(self) -> None:
        code = self._helper.finish()
        if code != 0:
            raise OSError(0, f"could not be written (the writing process exited with {code}; its error is "
                             f"above)", str(self.path))

    def cancel(self) -> None:
        self._helper.finish(timeout=10)  # the writer sees the end of the pipe and exits without writing


def cmd_report(args, tables=None, inputs=None, workbook: _Workbook | None = None,
               fingerprint: str | None = None, saves: list | None = None) -> None:
    """The report files from the coverage tables in --out (or `tables` and `inputs` from cmd_aggregate, and
    the workbook already being written by `workbook`)."""
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    tables = dict(tables) if tables is not None else {
        name: pd.read_parquet(out / f"{name}.parquet") for name in aggregate_tables(tax)}
    rep = _ingest_report(out)
    tables["ingest_report"] = rep
    workbook = workbook or _Workbook(out / "coverage.xlsx", report_mod.node_names(tax), report_mod.sheets_for(tax))
    try:
        workbook.send(tables)
        counts = rep["status"].value_counts().to_dict()
        counts["files"] = len(rep)
        write_text(report_mod.summary_md(tables, tax, counts), out / "summary.md")
        write_text(report_mod.report_md(tables, tax, counts), out / "report.md")
        docs, passages, labels, _ = inputs or _reporting_inputs(out)
        evidence = report_mod.evidence_index(labels, passages, docs, taxonomy=tax)
        write_text(report_mod.report_html(tables, tax, evidence, counts), out / "report.html")
        _write_companions(out, tax, docs, passages, labels, tables)
        for save in saves or ():  # while the workbook is being written
            save()
    except BaseException:
        workbook.cancel()
        raise
    workbook.wait()
    _record(out, "report", time.perf_counter() - t0, files=list(REPORT_FILES),
            **({"inputs_sha256": fingerprint} if fingerprint else {}))
    print(f"report: {out / 'report.html'}, {out / 'coverage.xlsx'}, {out / 'summary.md'}", file=sys.stderr)


def _write_companions(out: Path, tax, docs: pd.DataFrame, passages: pd.DataFrame, labels: pd.DataFrame,
                      tables: dict) -> None:
    """report_files/: every cell's evidence passages, and the text of every document with a coded passage.

    A document's page is made again only when what it shows changed (its text, metadata, labels, the taxonomy's
    names, or this code): `index.json` keeps what each page was made from, so an incremental run reads the
    texts of the changed documents alone. Pages no longer wanted are removed."""
    from .runner import SEGMENT_VERSION

    folder = out / report_mod.COMPANION
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / "index.json"
    try:
        previous = json.loads(index_path.read_text(encoding="utf-8"))
        previous = previous if isinstance(previous, dict) else {}
    except (OSError, ValueError):
        previous = {}
    index: dict[str, str] = {}  # document page -> what it was made from
    cells: set[str] = set()
    names = dict(zip(tables["region_ranking"]["region"], tables["region_ranking"]["region_name"]))
    shown = tax.shown_ids()
    for name, page in report_mod.cell_pages(labels, passages, docs, tax, names, shown):
        write_text(page, folder / name)  # unchanged bytes are not written again
        cells.add(name)

    leaf = labels[labels["source"] != "rollup"]
    code = hashlib.sha256(Path(report_mod.__file__).read_bytes() + tax.sha256.encode() + SEGMENT_VERSION.encode())
    meta_cols = [c for c in ("doc_id", "title", "region", "region_name", "date", "date_source", "lang",
                             "content_hash") if c in docs.columns]
    meta = docs.set_index("doc_id", drop=False)[meta_cols]
    todo: list[tuple[str, str, pd.DataFrame]] = []  # (doc_id, page, its labels)
    for doc_id, rows in leaf.groupby("doc_id", sort=True):
        if doc_id not in meta.index:
            continue
        h = code.copy()
        h.update(json.dumps([meta.loc[doc_id].tolist(), rows[["passage_id", "node", "score", "evidence"]]
                             .sort_values(["passage_id", "node"]).values.tolist()], ensure_ascii=False,
                            default=str).encode("utf-8"))
        page, key = report_mod.doc_page_name(doc_id), h.hexdigest()
        index[page] = key
        if previous.get(page) != key or not (folder / page).exists():
            todo.append((doc_id, page, rows))
    if todo:
        texts, parts = _located(DOCUMENTS, out), _located(PASSAGES, out)
        for i in range(0, len(todo), 50):  # a batch of documents at a time: texts are not all held at once
            batch = todo[i:i + 50]
            ids = [d for d, _, _ in batch]
            text = {r["doc_id"]: r for r in texts.arrow_rows_for(ids, columns=["doc_id", "text", "text_original"])
                    .to_pylist()}
            psg: dict[str, list] = {}
            for r in parts.arrow_rows_for(ids, columns=["passage_id", "doc_id", "ordinal", "kind", "label", "start",
                                                        "end"]).to_pylist():
                psg.setdefault(r["doc_id"], []).append(r)
            if set(ids) - set(text) or set(ids) - set(psg):  # recorded positions out of date: look everywhere
                texts, parts = ChunkedTable(DOCUMENTS, out), ChunkedTable(PASSAGES, out)
                text = {r["doc_id"]: r for r in texts.arrow_rows_for(ids, columns=["doc_id", "text",
                                                                                   "text_original"]).to_pylist()}
                psg = {}
                for r in parts.arrow_rows_for(ids, columns=["passage_id", "doc_id", "ordinal", "kind", "label",
                                                            "start", "end"]).to_pylist():
                    psg.setdefault(r["doc_id"], []).append(r)
            for doc_id, page, rows in batch:
                t = text.get(doc_id)
                if t is None:
                    continue
                write_text(report_mod.document_page(meta.loc[doc_id].to_dict(), t["text"], t["text_original"] or "",
                                                    psg.get(doc_id, []), rows, tax), folder / page)
    for f in folder.iterdir():
        if f.suffix == ".html" and f.name not in index and f.name not in cells:
            f.unlink()
    write_json(index, index_path)


def _located(table, out: Path):
    """The table with each document's part taken from chunks.meta.json (the passages' parts, which follow the
    same chunks as the documents'), so that finding a few documents does not read every part's ids."""
    from .runner import META

    t = ChunkedTable(table, out)
    try:
        parts = json.loads((out / META).read_text()).get("parts", {}).get("segment")
    except (OSError, ValueError):
        parts = None
    if isinstance(parts, list) and len(parts) == len(t.parts) and all(isinstance(ids, list) for ids in parts):
        t.locate({d: i for i, ids in enumerate(parts) for d in ids})
    return t


def cmd_run(args) -> None:
    """All stages; segment, tokenize and classify run chunk by chunk as ingest produces documents."""
    tax = load_taxonomy(args.taxonomy)  # a broken taxonomy fails before any table is written
    t0 = time.perf_counter()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    settings = _settings(args, STAGE_ORDER)  # trains the default model if needed, before workers start
    run = _open_ingest(args)
    out = Path(args.out)
    # After a small change the workbook writer is forked now, while this process is small and has no thread,
    # rather than when the coverage tables are ready (on the critical path); not after a large one, where it
    # would sit idle (and in memory) through the whole run.
    from .runner import small_change

    names = report_mod.node_names(tax)
    sheets = report_mod.sheets_for(tax)
    workbook = _Workbook(out / "coverage.xlsx", names, sheets) if (out / "coverage.xlsx").exists() and small_change(
        run.changed_files, run.changed_bytes) else None
    try:
        _run_chunked(args, STAGE_ORDER, chunks=_ingest_chunks(args, run),
                     changed=(run.changed_files, run.changed_bytes), load_texts=run.fill_texts)
        fingerprint = _reporting_fingerprint(args)
        previous = json.loads((out / "run.json").read_text()).get("stages", {}) if (out / "run.json").exists() else {}
        if (previous.get("report", {}).get("inputs_sha256") == fingerprint
                and all((out / f).exists() for f in reporting_outputs(tax))):
            if workbook is not None:
                workbook.cancel()
            print("aggregate, report: their inputs are those of the last run; outputs kept", file=sys.stderr)
        else:
            # the workbook writer starts on the ingest report while the coverage tables are computed, and gets
            # them as soon as they exist, before they are written to CSV and Parquet
            workbook = workbook or _Workbook(out / "coverage.xlsx", names, sheets)
            workbook.send({"ingest_report": _ingest_report(out)})
            saves: list = []
            tables, inputs = cmd_aggregate(args, on_tables=workbook.send, saves=saves)
            cmd_report(args, tables, inputs, workbook, fingerprint=fingerprint, saves=saves)
    except BaseException:
        if workbook is not None:
            workbook.cancel()
        raise
    _record(out, "run", time.perf_counter() - t0, model=settings.model_path)


AGGREGATE_TABLES = ("coverage_region", "coverage_region_long", "coverage_document", "coverage_document_long", "gaps",
                    "region_ranking", "first_year", "coverage_by_year", "coded_passages")
REPORT_FILES = ("coverage.xlsx", "summary.md", "report.md", "report.html", "report_files/index.json")
REPORTING_OUTPUTS = tuple(f"{t}.{ext}" for t in AGGREGATE_TABLES for ext in ("csv", "parquet")) + REPORT_FILES


def aggregate_tables(tax) -> tuple[str, ...]:
    """The tables aggregate writes: with several frameworks, also their crosstab."""
    return AGGREGATE_TABLES + (("crosstab",) if len(tax.parts) > 1 else ())


def reporting_outputs(tax) -> tuple[str, ...]:
    return tuple(f"{t}.{ext}" for t in aggregate_tables(tax) for ext in ("csv", "parquet")) + REPORT_FILES


def _reporting_fingerprint(args) -> str:
    """What aggregate and report read: the tables' parts (their names carry their content keys), the ingest
    report, the taxonomy, and the code that turns them into coverage tables and reports."""
    from .io import part_files

    out = Path(args.out)
    from .strength import load_strength

    tax = load_taxonomy(args.taxonomy)
    h = hashlib.sha256(tax.sha256.encode() + load_strength(taxonomy=tax).sha256.encode())
    for t in (DOCUMENTS, PASSAGES, LABELS):
        h.update(("\n".join(p.name for p in part_files(out / t.file)) + "\n").encode())
    from . import strength as strength_mod

    for f in (out / INGEST_REPORT.file, Path(aggregate_mod.__file__), Path(report_mod.__file__),
              Path(strength_mod.__file__)):
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def cmd_train(args) -> None:
    """Train the model on the taxonomy's examples, the TRAIN= files and the coded store, and install it only if
    it learned enough of the taxonomy to be worth using.

    Passages of the coded store (coded by the researcher, from their own corpus, through the review loop) weigh
    --coded-weight times as much as the rest: there are few of them, and they are the text the model is for."""
    from .classify import coded_store_paths, examples_paths, fit_model, label_matrix, read_coded
    from .model import PolicyClassifier

    tax = load_taxonomy(args.taxonomy)
    sources = [("coded files", [Path(p) for p in (args.train or "").split(",") if p], 1.0),
               ("coded store", coded_store_paths(Path(args.coded)), args.coded_weight),
               ("taxonomy examples", [] if args.no_examples else examples_paths(Path(args.taxonomy)), 1.0)]
    parts, weights, said = [], [], []
    for what, paths, weight in sources:
        if paths:
            d = read_coded(paths)
            parts.append(d)
            weights.append(np.full(len(d), weight))
            said.append(f"{len(d)} {what} ({', '.join(p.name for p in paths)})" + (f" x{weight:g}" if weight != 1 else ""))
    if not parts:
        raise ConfigError("nothing to train on: give TRAIN=coded.jsonl, import coded passages with make "
                          "review-import, or keep the taxonomy's examples")
    data = pd.concat(parts, ignore_index=True)
    print(f"train: {' + '.join(said)} ...", file=sys.stderr)
    min_pos = PolicyClassifier().min_positives
    learnable = int((label_matrix(data["labels"], tax.leaf_ids).sum(axis=0) >= min_pos).sum())
    if learnable < len(tax.leaf_ids) / 2:
        raise ConfigError(f"train: only {learnable} of {len(tax.leaf_ids)} nodes have enough coded examples "
                          f"(>= {min_pos}) to learn; no model was installed and the current one stays. Code more "
                          f"passages, or train with the taxonomy's examples too (without --no-examples)")
    t0 = time.perf_counter()
    model = fit_model(tax, data, weights=np.concatenate(weights))
    target = Path(args.model or "models/trained")
    model.save(target, info={"trained_on": said, "passages": len(data)})
    print(f"train: {int(model.trained_.sum())} of {len(tax.leaf_ids)} nodes learned "
          f"({time.perf_counter() - t0:.1f}s) -> {target}", file=sys.stderr)


def _review_pool(args, tax) -> pd.DataFrame:
    """The passages to pick from: a JSON-lines pool (--in), else the content passages of the run in --out."""
    from .classify import context_of, read_coded

    if args.input:
        return read_coded([Path(args.input)])
    out = Path(args.out)
    for t in (DOCUMENTS, PASSAGES, TOKENS):
        if not (out / t.file).exists():
            raise ConfigError(f"{out / t.file}: missing; run the pipeline on your corpus first (make run CORPUS=... "
                              f"OUT={out})")
    toks = pd.read_parquet(out / TOKENS.file, columns=["passage_id"])
    pas = pd.read_parquet(out / PASSAGES.file, columns=["passage_id", "doc_id", "label", "heading_path", "text",
                                                        "lang", "region"])
    docs = pd.read_parquet(out / DOCUMENTS.file, columns=["doc_id", "title"])
    pool = toks.merge(pas, on="passage_id").merge(docs, on="doc_id", how="left")
    pool["context"] = [context_of(p, h or "", t or "") for p, h, t in
                       zip(pool["passage_id"], pool["heading_path"], pool["title"])]
    return pool.rename(columns={"passage_id": "id", "label": "citation"})


def cmd_review(args) -> None:
    """Pick the passages whose coding would most improve the model on this corpus (or pool)."""
    from .classify import PassageClassifier, coded_store_paths, resolve_model, tokenize_frame
    from .review import next_sheet, pick, picks_table, score_pool, store_records, write_sheets

    tax = load_taxonomy(args.taxonomy)
    model, path = resolve_model(args.model, Path(args.taxonomy), tax)
    if model is None:
        raise ConfigError("review needs a trained model (not MODEL=lexicon): it picks by the model's uncertainty")
    pool = _review_pool(args, tax)
    if not len(pool):
        raise ConfigError("review: the pool has no passages")
    coded_ids = {r["id"] for r in store_records(Path(args.coded))}
    print(f"review: scoring {len(pool)} passages with {path} ...", file=sys.stderr)
    scored = score_pool(PassageClassifier(tax, model), pool, tokenize_frame(pool, tax))
    picked = pick(pool, scored["proba"], scored["lexicon"], model, args.n, coded_ids, scored["vectors"])
    rows = picks_table(pool, scored, picked, tax)
    skipped = sum(1 for i in pool["id"] if str(i) in coded_ids)
    if args.input:  # a pool file in, a picks file out
        target = Path(args.out if args.out.endswith(".jsonl") else Path(args.out) / "picked.jsonl")
        from .io import write_bytes_atomic

        write_bytes_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                           for r in rows.to_dict("records")).encode("utf-8"))
        files = [target]
    else:
        files = write_sheets(rows, tax, next_sheet(Path(args.out) / "review"))
    print(f"review: picked {len(rows)} of {len(pool)} passages ({skipped} already coded, skipped) -> "
          f"{', '.join(str(f) for f in files)}", file=sys.stderr)
    if not args.input:
        print(f"code them in {files[0]}, then: make review-import FILE={files[0]} CODER=<your name>", file=sys.stderr)


def cmd_review_import(args) -> None:
    """Validate a coded review file and append it to the coded store; report agreement on the batch."""
    from .classify import PassageClassifier, resolve_model, tokenize_frame
    from .ingest import detect_lang
    from .review import agreement, append_to_store, coded_rows, read_sheet, store_records

    tax = load_taxonomy(args.taxonomy)
    if not args.file:
        raise ConfigError("review-import needs FILE=<coded review sheet (.xlsx, .csv or .jsonl)>")
    path = Path(args.file)
    rows, sheet = read_sheet(path)
    records = coded_rows(rows, sheet, tax, args.coder)
    if not records:
        raise ConfigError(f"{path}: no coded row (a row counts once it has a node ID or 'none' in a label column)")
    for r in records:
        r["lang"] = r["lang"] if r["lang"] in ("zh", "en") else detect_lang(r["text"])
    store = Path(args.coded)
    added, known = append_to_store(records, store, path.name)
    print(f"review-import: {len(records)} coded passages from {path} ({sheet}): {added} added to {store}/, "
          f"{known} already there", file=sys.stderr)
    model, mpath = resolve_model(args.model, Path(args.taxonomy), tax)
    batch = pd.DataFrame(records)
    clf = PassageClassifier(tax, model)
    preds = clf.predict(batch["text"].tolist(), batch["lang"].tolist(), tokenize_frame(batch, tax))
    agree = agreement(records, [[l.node for l in p] for p in preds], tax.leaf_ids, store_records(store))
    pd.set_option("display.width", 200)
    print(f"# agreement on this batch: model {mpath} vs coder")
    if len(agree["per_node"]):
        print(agree["per_node"].to_string(index=False))
    print(agree["summary"].to_string(index=False))
    if agree["coders"]:
        c = agree["coders"]
        print(f"# coder vs coder: {c['passages']} passage pairs coded by two people, alpha {c['alpha']}, "
              f"identical codings {c['exact_agreement']:.0%}")


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_cli

    evaluate_cli(args)


def cmd_validate(args) -> None:
    """Check a framework (or several): its YAML, its strength cues and its examples; exit 2 naming the file and
    the problem if anything is wrong."""
    from .validate import validate_cli

    validate_cli(args)


def cmd_compare(args) -> None:
    from .compare import compare_cli

    compare_cli(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help_, corpus=False):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--out", default="outputs", help="folder of stage tables (default: outputs)")
        sp.add_argument("--taxonomy", default="taxonomy", help="taxonomy folder or YAML file")
        sp.add_argument("--jobs", type=int, default=2, help="worker processes for tokenize/classify")
        sp.add_argument("--engine", default="local", choices=["local", "dask"],
                        help="local processes, or Dask (DASK_SCHEDULER_ADDRESS for a cluster)")
        sp.add_argument("--model", default=None, help="model folder from `train`, or 'lexicon' (default: the "
                                                      "model trained from taxonomy/examples)")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        if corpus:
            sp.add_argument("--corpus", default="corpus", help="corpus folder (optional manifest.csv at its root)")
            sp.add_argument("--max-mb", type=float, default=ingest_mod.DEFAULT_MAX_BYTES / 2**20,
                            help="skip files larger than this many MB")
        sp.set_defaults(fn=fn)
        return sp

    add("ingest", cmd_ingest, "read a corpus folder into documents.parquet", corpus=True)
    add("segment", cmd_segment, "split documents into passages")
    add("tokenize", cmd_tokenize, "tokenize passages (spaCy; jieba for Chinese)")
    c = add("classify", cmd_classify, "label passages against the taxonomy")
    c.add_argument("--in", dest="input", default=None, help="classify a JSON-lines file instead; --out is then "
                                                            "the predictions file")
    add("aggregate", cmd_aggregate, "coverage tables and gap audit")
    add("report", cmd_report, "coverage.xlsx, summary.md, report.md, report.html")
    add("run", cmd_run, "all stages", corpus=True)
    t = add("train", cmd_train, "train the passage model on the taxonomy's examples plus coded passages")
    t.add_argument("--train", default=None, help="coded file(s), comma-separated (default: the coded store)")
    t.add_argument("--coded", default="coded", help="the coded store: a folder of JSON-lines files written by "
                                                    "review-import (default: coded)")
    t.add_argument("--no-examples", action="store_true", help="train on the coded passages alone")
    t.add_argument("--coded-weight", type=float, default=CODED_WEIGHT, help="weight of the coded store's passages "
                                                                             f"(default {CODED_WEIGHT:g})")
    e = add("evaluate", cmd_evaluate, "score the classifier against coded passages")
    e.add_argument("--gold", default=None, help="coded JSON-lines file(s), comma-separated")
    e.add_argument("--cv", default=None, help="cross-validate instead of scoring the current model: 'region' "
                                              "(hold out one region at a time), 'doc', or a number of folds "
                                              "grouped by document")
    e.add_argument("--train", default=None, help="with --cv: extra coded files always in the training folds")
    e.add_argument("--no-examples", action="store_true", help="with --cv: leave the taxonomy's own examples out "
                                                              "of the training folds")
    e.add_argument("--curve", action="store_true", help="with --cv: also train on 25%% and 50%% of the training "
                                                        "folds' documents (learning curve)")
    e.add_argument("--manifest", default=None, help="with --cv region: the corpus manifest giving each "
                                                    "document's region (default: corpus/manifest.csv beside "
                                                    "the coded file's folder)")
    r = add("review", cmd_review, "pick the passages most worth coding (writes OUT/review/review-NNN.xlsx)")
    r.add_argument("--n", type=int, default=100, help="how many passages to pick")
    r.add_argument("--in", dest="input", default=None, help="pick from a JSON-lines pool instead of the run in "
                                                            "--out; --out is then the picks file (.jsonl)")
    r.add_argument("--coded", default="coded", help="the coded store (passages coded already are skipped)")
    ri = add("review-import", cmd_review_import, "import a coded review sheet into the coded store")
    ri.add_argument("--file", default=None, help="the coded review file (.xlsx, .csv, .jsonl)")
    ri.add_argument("--coder", default=None, help="coder name for rows whose coder cell is empty")
    ri.add_argument("--coded", default="coded", help="the coded store folder (default: coded)")
    add("validate", cmd_validate, "check a taxonomy (framework): nodes, facets, lexicons, strength cues, examples")
    cp = add("compare", cmd_compare, "what one region or corpus addresses that another does not")
    cp.add_argument("--a", required=True, help="a region code, or an output folder of another run")
    cp.add_argument("--b", required=True, help="a region code, or an output folder of another run")
    return p


def _out_lock(args) -> "OutLock | None":
    """The lock on --out for commands that write there (not train, not classify --in, whose --out is a file),
    after refusing an --out inside the corpus; temporary files left there by a killed run are removed."""
    from .outdir import OutLock, check_separate, remove_litter

    if args.command in ("train", "validate") or getattr(args, "input", None):
        return None
    if getattr(args, "corpus", None) is not None:
        check_separate(Path(args.corpus), Path(args.out))
    lock = OutLock(Path(args.out)).acquire()
    try:
        removed = remove_litter(Path(args.out))
    except BaseException:
        lock.release()
        raise
    if removed:
        log.info("%s: removed %d temporary file(s) left by an interrupted run", args.out, len(removed))
    return lock


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        lock = _out_lock(args)
        try:
            args.fn(args)
        finally:
            if lock is not None:
                lock.release()
    except (ConfigError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions on the output folder, ...
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
