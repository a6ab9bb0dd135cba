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

import pandas as pd

from . import aggregate as aggregate_mod
from . import classify as classify_mod
from . import ingest as ingest_mod
from . import report as report_mod
from . import segment as segment_mod
from . import tokenize as tokenize_mod
from .io import ConfigError, read_table, write_csv, write_json, write_parquet, write_table, write_text
from .schemas import DOCUMENTS, INGEST_REPORT, LABELS, PASSAGES, TOKENS, SchemaError
from .taxonomy import load_taxonomy

log = logging.getLogger("pipeline")
PACKAGES = ("spacy", "jieba", "pandas", "scikit-learn", "pyarrow", "numpy", "opencc", "pyahocorasick", "PyYAML")


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

def cmd_ingest(args) -> None:
    out = Path(args.out)
    t0 = time.perf_counter()
    docs, rep = ingest_mod.ingest(args.corpus, max_bytes=int(args.max_mb * 2**20), progress=_progress(args))
    write_table(docs, DOCUMENTS, out)
    write_csv(rep, out / INGEST_REPORT.file)
    counts = rep["status"].value_counts().to_dict()
    counts["files"] = int(len(rep))
    manifest = Path(args.corpus) / ingest_mod.MANIFEST
    corpus_hash = hashlib.sha256("\n".join(sorted(docs["content_hash"])).encode()).hexdigest()
    _record(out, "ingest", time.perf_counter() - t0, counts={k: int(v) for k, v in counts.items()},
            corpus=str(args.corpus), corpus_sha256=corpus_hash,
            manifest_sha256=hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None)
    msg = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("ingested", "duplicate_of", "skipped", "failed"))
    print(f"ingest: {counts['files']} files: {msg} -> {out / INGEST_REPORT.file}", file=sys.stderr)
    if not len(docs):
        log.warning("no document could be ingested from %s", args.corpus)


def cmd_segment(args) -> None:
    out = Path(args.out)
    t0 = time.perf_counter()
    docs = read_table(DOCUMENTS, out)
    prev = _maybe(PASSAGES, out)
    passages = segment_mod.segment(docs, prev)
    write_table(passages, PASSAGES, out)
    kinds = passages["kind"].value_counts().to_dict()
    _record(out, "segment", time.perf_counter() - t0, counts={"passages": int(len(passages)), **{k: int(v) for k, v in kinds.items()}})
    print(f"segment: {len(passages)} passages from {len(docs)} documents", file=sys.stderr)


def _maybe(table, out: Path):
    try:
        return read_table(table, out) if (out / table.file).exists() else None
    except (SchemaError, OSError, ValueError):
        return None  # an unreadable previous table just means no reuse


def cmd_tokenize(args) -> None:
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    passages = read_table(PASSAGES, out)
    prev = _maybe(TOKENS, out)
    toks, key = tokenize_mod.tokenize(passages, tax, jobs=args.jobs, engine=args.engine, previous=prev,
                                      previous_key=tokenize_mod.read_key(out), progress=_progress(args))
    write_table(toks, TOKENS, out)
    write_json({"terms_key": key}, out / "tokens.meta.json")
    n_tok = int(toks["tokens"].map(len).sum())
    secs = time.perf_counter() - t0
    _record(out, "tokenize", secs, counts={"passages": int(len(toks)), "tokens": n_tok}, engine=args.engine, jobs=args.jobs)
    print(f"tokenize: {len(toks)} passages, {n_tok} tokens", file=sys.stderr)


def cmd_classify(args) -> None:
    tax = load_taxonomy(args.taxonomy)
    if getattr(args, "input", None):
        model, desc = classify_mod.resolve_model(args.model, Path(args.taxonomy), tax)
        n = classify_mod.classify_jsonl(Path(args.input), Path(args.out), tax, model)
        print(f"classify: {n} passages -> {args.out} (model: {desc})", file=sys.stderr)
        return
    out = Path(args.out)
    t0 = time.perf_counter()
    _, desc = classify_mod.resolve_model(args.model, Path(args.taxonomy), tax)
    passages = read_table(PASSAGES, out)
    toks = read_table(TOKENS, out)
    key = classify_mod.classifier_key(tax, desc)
    meta_path = out / "labels.meta.json"
    prev = prev_done = None
    if meta_path.exists() and json.loads(meta_path.read_text()).get("classifier_key") == key:
        prev = _maybe(LABELS, out)
        done_path = out / "labels.done.parquet"
        prev_done = pd.read_parquet(done_path) if done_path.exists() and prev is not None else None
    labels = classify_mod.classify(passages, toks, tax, desc, jobs=args.jobs, engine=args.engine,
                                   progress=_progress(args), previous=prev, previous_done=prev_done)
    write_table(labels, LABELS, out)
    write_parquet(toks[["passage_id", "content_hash"]], out / "labels.done.parquet")
    write_json({"classifier_key": key}, meta_path)
    secs = time.perf_counter() - t0
    leaf = labels[labels["source"] != "rollup"]
    _record(out, "classify", secs, model=desc, taxonomy_version=tax.version, taxonomy_sha256=tax.sha256,
            counts={"passages": int(len(toks)), "labels": int(len(leaf)),
                    "labelled_passages": int(leaf["passage_id"].nunique())},
            passages_per_second=round(len(toks) / secs, 1) if secs else None)
    print(f"classify: {leaf['passage_id'].nunique()} of {len(toks)} passages labelled ({len(leaf)} labels)",
          file=sys.stderr)


def cmd_aggregate(args) -> None:
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    docs = read_table(DOCUMENTS, out)
    passages = read_table(PASSAGES, out)
    labels = read_table(LABELS, out)
    tables = aggregate_mod.aggregate(docs, passages, labels, tax)
    for name, df in tables.items():
        write_csv(df, out / f"{name}.csv")
        write_parquet(df, out / f"{name}.parquet")
    _record(out, "aggregate", time.perf_counter() - t0, counts={k: int(len(v)) for k, v in tables.items()})
    print(f"aggregate: {len(tables['coverage_region'])} regions x {len(tax.nodes)} nodes -> "
          f"{out / 'coverage_region.csv'}", file=sys.stderr)


def cmd_report(args) -> None:
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in
              ("coverage_region", "coverage_region_long", "coverage_document", "coverage_document_long", "gaps",
               "region_ranking", "first_year", "coverage_by_year")}
    rep = pd.read_csv(out / INGEST_REPORT.file, encoding="utf-8-sig", keep_default_na=False)
    tables["ingest_report"] = rep
    counts = rep["status"].value_counts().to_dict()
    counts["files"] = len(rep)
    report_mod.write_xlsx(tables, out / "coverage.xlsx")
    write_text(report_mod.summary_md(tables, tax, counts), out / "summary.md")
    write_text(report_mod.report_md(tables, tax, counts), out / "report.md")
    evidence = report_mod.evidence_index(read_table(LABELS, out), read_table(PASSAGES, out), read_table(DOCUMENTS, out))
    write_text(report_mod.report_html(tables, tax, evidence, counts), out / "report.html")
    _record(out, "report", time.perf_counter() - t0, files=["coverage.xlsx", "summary.md", "report.md", "report.html"])
    print(f"report: {out / 'report.html'}, {out / 'coverage.xlsx'}, {out / 'summary.md'}", file=sys.stderr)


def cmd_run(args) -> None:
    load_taxonomy(args.taxonomy)  # a broken taxonomy fails before any table is written
    for fn in (cmd_ingest, cmd_segment, cmd_tokenize, cmd_classify, cmd_aggregate, cmd_report):
        fn(args)


def cmd_train(args) -> None:
    from .classify import doc_groups, examples_paths, fit_model, read_coded

    tax = load_taxonomy(args.taxonomy)
    paths = [Path(p) for p in args.train.split(",")] if args.train else examples_paths(Path(args.taxonomy))
    coded = read_coded(paths)
    t0 = time.perf_counter()
    model = fit_model(tax, coded, groups=doc_groups(coded["id"].tolist()))
    target = Path(args.model or "models/trained")
    model.save(target)
    trained = int(model.trained_.sum())
    print(f"train: {len(coded)} passages from {', '.join(p.name for p in paths)}; {trained} of {len(tax.leaf_ids)} "
          f"nodes learned ({time.perf_counter() - t0:.1f}s) -> {target}", file=sys.stderr)
    print(f"use it with: make run MODEL={target}   or   make evaluate GOLD=... MODEL={target}", file=sys.stderr)


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_cli

    evaluate_cli(args)


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
    t = add("train", cmd_train, "train the passage model from coded JSON-lines files")
    t.add_argument("--train", default=None, help="coded file(s), comma-separated (default: taxonomy/examples)")
    e = add("evaluate", cmd_evaluate, "score predictions against coded passages")
    e.add_argument("--gold", required=True, help="coded JSON-lines file")
    e.add_argument("--cv", type=int, default=None, help="cross-validate training on the gold file (k folds, "
                                                        "grouped by document)")
    e.add_argument("--train", default=None, help="with --cv: extra coded files always in the training folds")
    cp = add("compare", cmd_compare, "what one region or corpus addresses that another does not")
    cp.add_argument("--a", required=True, help="a region code, or an output folder of another run")
    cp.add_argument("--b", required=True, help="a region code, or an output folder of another run")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except (ConfigError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions on the output folder, ...
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
