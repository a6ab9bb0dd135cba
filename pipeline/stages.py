"""The pipeline's commands on an output folder, as the CLI and the Makefile call them: ingest, the per-document
stages (segment, tokenize, classify, run through runner.ChunkRunner), the whole streaming run and validate
(the learning commands are in learning.py). `make run` and the stage targets go through the same code."""
from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from . import classify as classify_mod
from . import ingest as ingest_mod
from . import workbook as workbook_mod
from .catalog import Catalog
from .corpus import MANIFEST, ROOT_REGION, display_name
from .io import ChunkedTable, ConfigError, TableWriter, check_not_input, publishing
from .reporting import (DocumentPages, Workbook, cmd_aggregate, cmd_report, read_ingest_report,
                        reporting_fingerprint)
from .runlog import record, stage_entry
from .runner import (WINDOW_PASSAGES, ChunkRunner, Settings, chunk_documents, chunk_key,
                     documents_in_chunks, preload_classifier, release_classifier, small_change)
from .schemas import DOCUMENT_META, DOCUMENTS
from .taxonomy import load_taxonomy
from .text import first_few, shown
from .validate import validate_cli

log = logging.getLogger("pipeline")


def show_progress(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


DEFAULT_CORPUS = "corpus"  # the demo corpus, which ingest and run read when no --corpus is given


def check_corpus_of_out(args) -> None:
    """With no corpus named, refuse an --out that holds a run of another corpus: `make report OUT=my_results`
    (make's CORPUS left at the demo corpus) replaced the researcher's results with the demo corpus's."""
    if getattr(args, "corpus_named", True):
        return
    recorded = stage_entry(Path(args.out), "ingest").get("corpus")
    if isinstance(recorded, str) and Path(recorded).resolve() != Path(args.corpus).resolve():
        raise ConfigError(f"{args.out}: holds the results of the corpus {recorded}, and no corpus was named (the "
                          f"default is the demo corpus, {args.corpus}): give CORPUS={recorded} (--corpus) to bring "
                          f"them up to date, or clean that folder first (make clean OUT={args.out}) to put the demo "
                          "corpus's results there")


def open_ingest(args) -> "ingest_mod.IngestRun":
    """The ingest pass over --corpus, with what the previous run in --out read (so unchanged files are not
    read again); it already knows how many files changed since then."""
    check_corpus_of_out(args)
    out = Path(args.out)
    prev_docs = ChunkedTable.open(DOCUMENTS, out)
    cache = Catalog(out).path("ingest_cache")
    previous = None
    if prev_docs is not None and cache.exists():
        try:
            previous = (pd.read_parquet(cache), prev_docs)
        except (OSError, ValueError):
            previous = None
    return ingest_mod.IngestRun(args.corpus, max_bytes=int(args.max_mb * 2**20), progress=show_progress(args),
                                previous=previous)


# a documents part holds every column; the text is covered by its hash (text_original by original_sha)
DOCUMENT_FIELDS = DOCUMENT_META + ("original_sha",)


def ingest_chunks(args, run: "ingest_mod.IngestRun"):
    """Ingest as a stream of document chunks; documents.parquet, the report and the cache are written when
    the stream is exhausted. Files unchanged since the last run (size, mtime, manifest row) are not re-read."""
    out = Path(args.out)
    catalog = Catalog(out)
    spent = 0.0
    n_docs, hashes = 0, []
    with TableWriter(DOCUMENTS, out) as writer:
        t = time.perf_counter()
        version = ingest_mod.documents_version()  # the ingest code's fingerprint, for every part's key
        for chunk in chunk_documents(run.documents()):
            key = chunk_key(version, chunk, DOCUMENT_FIELDS)
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
    catalog.save("ingest_report", rep)
    catalog.save("ingest_cache", run.cache_frame())
    counts = rep["status"].value_counts().to_dict()
    counts["files"] = int(len(rep))
    manifest = Path(args.corpus) / MANIFEST
    corpus_hash = hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()
    record(out, "ingest", spent, counts={k: int(v) for k, v in counts.items()}, reused_files=run.reused,
            corpus=display_name(str(args.corpus))[0], corpus_sha256=corpus_hash,
            manifest_sha256=hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None)
    msg = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ingested", "duplicate_of", "skipped", "failed"))
    # tqdm.write: the stream ends while the later stages' progress bar is on screen, and a plain print ran into it
    tqdm.write(f"ingest: {counts['files']} files: {msg} -> {catalog.path('ingest_report')}", file=sys.stderr)
    if run.root_files:
        tqdm.write(f"ingest: {len(run.root_files)} document(s) at the corpus root are in region "
                   f"'{ROOT_REGION}': {shown(first_few(run.root_files))} (move them into a folder named after their region, or give "
                   f"their region in {MANIFEST})", file=sys.stderr)
    if not n_docs:
        log.warning("no document could be ingested from %s", args.corpus)


def cmd_ingest(args) -> None:
    for _ in ingest_chunks(args, open_ingest(args)):
        pass


STAGE_ORDER = ("segment", "tokenize", "classify")
OUTPUT_NAMES = {"segment": "passages", "tokenize": "tokenized passages", "classify": "labels"}


def stage_settings(args, stages):
    if stages == ("segment",):
        return Settings.make()
    tax = load_taxonomy(args.taxonomy)
    path = classify_mod.model_path(args.model, Path(args.taxonomy), tax) if "classify" in stages else None
    return Settings.make(tax, path)


def run_chunked(args, stages: tuple[str, ...], chunks=None, changed: tuple[int, int] | None = None,
                 load_texts=None, settings: Settings | None = None, classifier=None) -> dict:
    """Run per-document stages over the documents (from `chunks`, else documents.parquet) in --out.
    `classifier`: see ChunkRunner.run."""
    out = Path(args.out)
    if chunks is None:
        catalog = Catalog(out)
        catalog.require("documents")
        for st, table in (("segment", "passages"), ("tokenize", "tokens")):
            if STAGE_ORDER.index(st) < STAGE_ORDER.index(stages[0]):
                catalog.require(table)
        chunks = documents_in_chunks(out)
    # after the inputs are found: making the settings may train the default model (a quarter of a minute on a
    # fresh clone), which a missing table would have been said after
    settings = settings or stage_settings(args, stages)
    t0 = time.perf_counter()
    runner = ChunkRunner(out, stages, settings, engine=args.engine, jobs=args.jobs,
                         window=getattr(args, "window_passages", None) or WINDOW_PASSAGES)
    bar = None
    if show_progress(args):
        bar = tqdm(desc="+".join(stages), unit="doc")
    result = runner.run(chunks, progress=bar.update if bar is not None else None, changed=changed,
                        load_texts=load_texts, classifier=classifier)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    rows = result["rows"]
    for st in stages:
        info = {"counts": {"rows": rows[st], "documents": result["documents"],
                           "reused_documents": result["reused_documents"]},
                "worker_seconds": result["worker_seconds"][st], "engine": args.engine, "jobs": args.jobs}
        if st == "classify":
            tax = load_taxonomy(args.taxonomy)
            info.update(model=settings.model_path, model_sha256=classify_mod.model_digest(settings.model_path),
                        taxonomy_sha256=tax.sha256, taxonomy_version=tax.version,
                        passages_per_second=round(rows.get("tokenize", 0) / result["worker_seconds"][st], 1)
                        if result["worker_seconds"][st] and "tokenize" in rows else None)
        # stages that ran together share the wall time; worker_seconds says how it divided
        record(out, st, wall if len(stages) == 1 else wall * result["worker_seconds"][st]
                / max(sum(result["worker_seconds"].values()), 1e-9), **info)
    said = [f"{rows[st]} {OUTPUT_NAMES[st]}" for st in stages]
    # fewer tokenized passages than passages is by design; say so, or it reads as passages lost
    if "tokenize" in stages and "segment" not in stages:
        said[stages.index("tokenize")] += " (content passages only; headings and file headers are not coded)"
    elif "tokenize" in stages and rows["segment"] != rows["tokenize"]:
        said[stages.index("tokenize")] += (f" (the content passages; the other {rows['segment'] - rows['tokenize']} "
                                           "are headings and file headers, which are not coded)")
    print(f"{'+'.join(stages)}: {result['documents']} documents ({result['reused_documents']} unchanged, reused): "
          + ", ".join(said), file=sys.stderr)
    return result


def cmd_segment(args) -> None:
    run_chunked(args, ("segment",))


def cmd_tokenize(args) -> None:
    run_chunked(args, ("tokenize",))


def cmd_classify(args) -> None:
    tax = load_taxonomy(args.taxonomy)
    if getattr(args, "input", None) is not None:
        source = Path(args.input)
        if not source.is_file():
            raise ConfigError(f"{source}: input file {'is a folder' if source.is_dir() else 'not found'} (--in / "
                              f"IN=: JSON lines of passages to classify, each {{\"id\", \"text\"[, \"lang\"]}})")
        check_not_input(source, Path(args.out), "predictions")
        if Path(args.out).is_dir():  # else the write fails naming its temporary file beside the folder
            raise ConfigError(f"{args.out}: is a folder; with --in, --out names the predictions file (JSON lines)")
        model, desc = classify_mod.resolve_model(args.model, Path(args.taxonomy), tax)
        n = classify_mod.classify_jsonl(source, Path(args.out), tax, model)
        print(f"classify: {n} passages -> {args.out} (model: {desc})", file=sys.stderr)
        return
    run_chunked(args, ("classify",))


def cmd_run(args) -> None:
    """All stages; segment, tokenize and classify run chunk by chunk as ingest produces documents."""
    # A re-run is most often after a small change: the classifier process starts importing its libraries now
    # (a second), while this process reads the taxonomy and the corpus; a fresh run has its workers for that.
    classifier = (preload_classifier() if Catalog(Path(args.out)).path("run").exists() and args.engine == "local"
                  and args.jobs > 1 and args.model != "lexicon" else None)
    try:
        _run(args, classifier)
    finally:
        if classifier is not None:
            release_classifier(classifier, used=False)  # if the run failed before using or releasing it


def _run(args, classifier) -> None:
    tax = load_taxonomy(args.taxonomy)  # a broken taxonomy fails before any table is written
    out = Path(args.out)
    t0 = time.perf_counter()
    # the corpus folder and its manifest are read first: an error in them is said at once, not after the default
    # model's training (a quarter of a minute on a fresh clone)
    run = open_ingest(args)
    settings = stage_settings(args, STAGE_ORDER)  # trains the default model if needed, before workers start
    # After a small change the workbook writer is forked now, while this process is small and has no thread,
    # rather than when the coverage tables are ready (on the critical path); not after a large one, where it
    # would sit idle (and in memory) through the whole run.
    names, sheets = workbook_mod.node_names(tax), workbook_mod.sheets_for(tax)
    catalog = Catalog(out)
    small = small_change(run.changed_files, run.changed_bytes)
    workbook = Workbook(catalog.path("workbook"), names, sheets) if catalog.path("workbook").exists() and small else None
    try:
        run_chunked(args, STAGE_ORDER, chunks=ingest_chunks(args, run), changed=(run.changed_files, run.changed_bytes),
                    load_texts=run.fill_texts, settings=settings, classifier=classifier)
        fingerprint = reporting_fingerprint(args)
        # both recorded by a run: aggregate run alone since (another CODED=, say) rewrote the tables alone
        if (all(stage_entry(out, st).get("inputs_sha256") == fingerprint for st in ("aggregate", "report"))
                and all(p.exists() for p in catalog.reporting_outputs(tax))):
            if workbook is not None:
                workbook.cancel()
            print("aggregate, report: their inputs are those of the last run; outputs kept", file=sys.stderr)
        else:
            # after a large change (a fresh run) most document pages are out of date: the workbook's writing
            # process makes them while this one computes the coverage tables
            pages = None if small else DocumentPages.for_writer(out, tax)
            workbook = workbook or Workbook(catalog.path("workbook"), names, sheets, pages)
            try:
                # the workbook writer starts on the ingest report while the coverage tables are computed, and gets
                # them as soon as they exist, before they are written to CSV and Parquet
                workbook.send({"ingest_report": read_ingest_report(out)})
                saves: list = []
                # the coverage tables and the reports are published as one set: a full disk or a failed workbook
                # leaves all of them as the last run made them
                with publishing():
                    tables, inputs = cmd_aggregate(args, on_tables=workbook.send, saves=saves, fingerprint=fingerprint)
                    cmd_report(args, tables, inputs, workbook, fingerprint=fingerprint, saves=saves, pages=pages)
            finally:
                if pages is not None:
                    pages.close()
    except BaseException:
        if workbook is not None:
            workbook.cancel()
        raise
    record(out, "run", time.perf_counter() - t0, model=settings.model_path,
           model_sha256=classify_mod.model_digest(settings.model_path))


def cmd_validate(args) -> None:
    """Check a framework (or several): its YAML, its strength cues and its examples; exit 2 naming the file and
    the problem if anything is wrong."""
    validate_cli(args)
