"""The pipeline's commands on an output folder, as the CLI and the Makefile call them: ingest, the per-document
stages (segment, tokenize, classify, run through runner.ChunkRunner), the whole streaming run, and the learning
commands (train, review, review-import, evaluate). `make run` and the stage targets go through the same code."""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import classify as classify_mod
from . import ingest as ingest_mod
from . import workbook as workbook_mod
from .catalog import Catalog
from .classify import (PassageClassifier, coded_store_paths, context_of, examples_paths, fit_model, label_matrix,
                       read_coded, resolve_model, tokenize_frame)
from .corpus import MANIFEST, ROOT_REGION
from .evaluate import evaluate_cli
from .io import ChunkedTable, ConfigError, TableWriter, publishing, write_bytes_atomic
from .model import PolicyClassifier
from .reporting import Workbook, cmd_aggregate, cmd_report, read_ingest_report, reporting_fingerprint
from .review import (agreement, append_to_store, coded_rows, next_sheet, pick, picks_table, read_sheet, score_pool,
                     store_records, write_sheets)
from .runlog import record
from .runner import (DOCUMENT_FIELDS, WINDOW_PASSAGES, ChunkRunner, Settings, chunk_documents, chunk_key,
                     documents_in_chunks, small_change)
from .schemas import DOCUMENTS
from .taxonomy import load_taxonomy
from .text import detect_lang
from .validate import validate_cli

log = logging.getLogger("pipeline")


def show_progress(args) -> bool:
    return not args.quiet and sys.stderr.isatty()


def open_ingest(args) -> "ingest_mod.IngestRun":
    """The ingest pass over --corpus, with what the previous run in --out read (so unchanged files are not
    read again); it already knows how many files changed since then."""
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
            corpus=str(args.corpus), corpus_sha256=corpus_hash,
            manifest_sha256=hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None)
    msg = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ingested", "duplicate_of", "skipped", "failed"))
    print(f"ingest: {counts['files']} files: {msg} -> {catalog.path('ingest_report')}", file=sys.stderr)
    if run.root_files:
        shown = ", ".join(run.root_files[:5]) + (f" and {len(run.root_files) - 5} more" if len(run.root_files) > 5
                                                 else "")
        print(f"ingest: {len(run.root_files)} document(s) at the corpus root are in region "
              f"'{ROOT_REGION}': {shown} (move them into a folder named after their region, or give "
              f"their region in {MANIFEST})", file=sys.stderr)
    if not n_docs:
        log.warning("no document could be ingested from %s", args.corpus)


def cmd_ingest(args) -> None:
    for _ in ingest_chunks(args, open_ingest(args)):
        pass


def stage_settings(args, stages):
    if stages == ("segment",):
        return Settings.make()
    tax = load_taxonomy(args.taxonomy)
    path = classify_mod.model_path(args.model, Path(args.taxonomy), tax) if "classify" in stages else None
    return Settings.make(tax, path)


def run_chunked(args, stages: tuple[str, ...], chunks=None, changed: tuple[int, int] | None = None,
                 load_texts=None) -> dict:
    """Run per-document stages over the documents (from `chunks`, else documents.parquet) in --out."""
    out = Path(args.out)
    settings = stage_settings(args, stages)
    if chunks is None:
        catalog = Catalog(out)
        catalog.require("documents")
        for st, table in (("segment", "passages"), ("tokenize", "tokens")):
            if STAGE_ORDER.index(st) < STAGE_ORDER.index(stages[0]):
                catalog.require(table)
        chunks = documents_in_chunks(out)
    t0 = time.perf_counter()
    runner = ChunkRunner(out, stages, settings, engine=args.engine, jobs=args.jobs,
                         window=getattr(args, "window_passages", None) or WINDOW_PASSAGES)
    bar = None
    if show_progress(args):
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
        record(out, st, wall if len(stages) == 1 else wall * result["worker_seconds"][st]
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
        model, desc = classify_mod.resolve_model(args.model, Path(args.taxonomy), tax)
        n = classify_mod.classify_jsonl(Path(args.input), Path(args.out), tax, model)
        print(f"classify: {n} passages -> {args.out} (model: {desc})", file=sys.stderr)
        return
    run_chunked(args, ("classify",))


def cmd_run(args) -> None:
    """All stages; segment, tokenize and classify run chunk by chunk as ingest produces documents."""
    tax = load_taxonomy(args.taxonomy)  # a broken taxonomy fails before any table is written
    t0 = time.perf_counter()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    settings = stage_settings(args, STAGE_ORDER)  # trains the default model if needed, before workers start
    run = open_ingest(args)
    out = Path(args.out)
    # After a small change the workbook writer is forked now, while this process is small and has no thread,
    # rather than when the coverage tables are ready (on the critical path); not after a large one, where it
    # would sit idle (and in memory) through the whole run.
    names, sheets = workbook_mod.node_names(tax), workbook_mod.sheets_for(tax)
    catalog = Catalog(out)
    workbook = Workbook(catalog.path("workbook"), names, sheets) if catalog.path("workbook").exists() and small_change(
        run.changed_files, run.changed_bytes) else None
    try:
        run_chunked(args, STAGE_ORDER, chunks=ingest_chunks(args, run),
                     changed=(run.changed_files, run.changed_bytes), load_texts=run.fill_texts)
        fingerprint = reporting_fingerprint(args)
        run_json = catalog.path("run")
        previous = json.loads(run_json.read_text()).get("stages", {}) if run_json.exists() else {}
        if (previous.get("report", {}).get("inputs_sha256") == fingerprint
                and all(p.exists() for p in catalog.reporting_outputs(tax))):
            if workbook is not None:
                workbook.cancel()
            print("aggregate, report: their inputs are those of the last run; outputs kept", file=sys.stderr)
        else:
            # the workbook writer starts on the ingest report while the coverage tables are computed, and gets
            # them as soon as they exist, before they are written to CSV and Parquet
            workbook = workbook or Workbook(catalog.path("workbook"), names, sheets)
            workbook.send({"ingest_report": read_ingest_report(out)})
            saves: list = []
            # the coverage tables and the reports are published as one set: a full disk or a failed workbook
            # leaves all of them as the last run made them
            with publishing():
                tables, inputs = cmd_aggregate(args, on_tables=workbook.send, saves=saves)
                cmd_report(args, tables, inputs, workbook, fingerprint=fingerprint, saves=saves)
    except BaseException:
        if workbook is not None:
            workbook.cancel()
        raise
    record(out, "run", time.perf_counter() - t0, model=settings.model_path)


def cmd_train(args) -> None:
    """Train the model on the taxonomy's examples, the TRAIN= files and the coded store, and install it only if
    it learned enough of the taxonomy to be worth using.

    Passages of the coded store (coded by the researcher, from their own corpus, through the review loop) weigh
    --coded-weight times as much as the rest: there are few of them, and they are the text the model is for."""

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


def review_pool(args, tax) -> pd.DataFrame:
    """The passages to pick from: a JSON-lines pool (--in), else the content passages of the run in --out."""
    if args.input:
        return read_coded([Path(args.input)])
    out = Path(args.out)
    catalog = Catalog(out)
    for t in ("documents", "passages", "tokens"):
        if not catalog.path(t).exists():
            raise ConfigError(f"{catalog.path(t)}: missing; run the pipeline on your corpus first (make run CORPUS=... "
                              f"OUT={out})")
    toks = catalog.load("tokens", columns=["passage_id"])
    pas = catalog.load("passages", columns=["passage_id", "doc_id", "label", "heading_path", "text", "lang", "region"])
    docs = catalog.load("documents", columns=["doc_id", "title"])
    pool = toks.merge(pas, on="passage_id").merge(docs, on="doc_id", how="left")
    pool["context"] = [context_of(p, h or "", t or "") for p, h, t in
                       zip(pool["passage_id"], pool["heading_path"], pool["title"])]
    return pool.rename(columns={"passage_id": "id", "label": "citation"})


def cmd_review(args) -> None:
    """Pick the passages whose coding would most improve the model on this corpus (or pool)."""

    tax = load_taxonomy(args.taxonomy)
    model, path = resolve_model(args.model, Path(args.taxonomy), tax)
    if model is None:
        raise ConfigError("review needs a trained model (not MODEL=lexicon): it picks by the model's uncertainty")
    pool = review_pool(args, tax)
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
    evaluate_cli(args)


def cmd_validate(args) -> None:
    """Check a framework (or several): its YAML, its strength cues and its examples; exit 2 naming the file and
    the problem if anything is wrong."""
    validate_cli(args)
