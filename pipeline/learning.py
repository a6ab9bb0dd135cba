"""The commands that learn from coded passages or are measured against them: train, review, review-import and
evaluate. They need scikit-learn (about a second to import); the CLI imports this module only for them, so that
a run, whose classifier lives in worker processes, does not pay for it."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .aggregate import paths_as_written
from .catalog import Catalog
from .classify import (PassageClassifier, coded_store_paths, context_of, examples_paths, fit_model, leaf_examples,
                       read_coded, resolve_model, tokenize_frame)
from .coded import append_to_store, follow_codings, latest_codings, store_records
from .evaluate import evaluate_cli
from .io import ConfigError, check_not_input, write_bytes_atomic
from .review import (PICK_COLUMNS, ROW, agreement, coded_rows, coded_text, gap_check_outcomes, gap_checks,
                     next_sheet, pick, picks_table, read_sheet, score_pool, write_sheets)
from .taxonomy import load_taxonomy, one_framework
from .text import detect_lang


def cmd_train(args) -> None:
    """Train the model on the taxonomy's examples, the TRAIN= files and the coded store, and install it only if
    it learned enough of the taxonomy to be worth using.

    Passages of the coded store (coded by the researcher, from their own corpus, through the review loop) weigh
    --coded-weight times as much as the rest: there are few of them, and they are the text the model is for."""

    tax = load_taxonomy(args.taxonomy)
    one_framework(tax, "train")
    train_paths = [Path(p) for p in (args.train or "").split(",") if p]
    store_paths = coded_store_paths(Path(args.coded))
    sources = [("passages of the TRAIN files", train_paths, 1.0),
               ("passages of the coded store", store_paths, args.coded_weight),
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
    if not train_paths and not store_paths:
        # a mistyped CODED= (or a store not yet filled) gives a copy of the default model, which later runs would
        # name "the model trained" as if it had learned the researcher's coding
        store = Path(args.coded)
        why = "no such folder" if not store.is_dir() else "no .jsonl file of coded passages in it"
        print(f"WARNING: train: no coded passage of yours to learn from ({store}: {why}; no TRAIN= file): the "
              f"model learns the taxonomy's examples alone, as the default model does. Code passages with make "
              f"review and make review-import (CODED= names the store), or give TRAIN=", file=sys.stderr)
    _, min_pos, learnable = leaf_examples(tax, data["labels"])
    if learnable < len(tax.leaf_ids) / 2:
        raise ConfigError(f"train: only {learnable} of {len(tax.leaf_ids)} nodes have enough coded examples "
                          f"(>= {min_pos}) to learn; no model was installed and the current one stays. Code more "
                          f"passages, or train with the taxonomy's examples too (without --no-examples)")
    t0 = time.perf_counter()
    model = fit_model(tax, data, weights=np.concatenate(weights),
                      verbose=not getattr(args, "quiet", False) and sys.stderr.isatty())
    target = Path(args.model or "models/trained")
    model.save(target, info={"trained_on": said, "passages": len(data)})
    print(f"train: {int(model.trained_.sum())} of {len(tax.leaf_ids)} nodes learned "
          f"({time.perf_counter() - t0:.1f}s) -> {target}", file=sys.stderr)


def _check_texts_unedited(path: Path, sheet: str, records: list[dict]) -> None:
    """Refuse rows whose passage text differs from the passage `review` picked (its .jsonl beside the sheet, or,
    for a sheet saved under another name, the review's .jsonl files in its folder): the store would teach the
    model an edited text, and later runs would report the passage as gone from its document. Refuse too a
    sheet's row whose id no pick has (a typo in the id column): its coding would be of a passage no run has."""
    picked = path.with_suffix(".jsonl")
    own = picked != path and picked.is_file()
    # a sheet saved under a coder's own name (review-001-ann.xlsx) has no picks file of its name: the review's
    # picks files beside it say what text each passage had
    sources = [picked] if own else [p for p in sorted(path.parent.glob("review-*.jsonl")) if p != path]
    texts: dict[str, list[tuple[str, str]]] = {}  # id -> (text, picks file) of every pick of the passage
    for source in sources:
        try:
            picks = [r for r in map(json.loads, source.read_text(encoding="utf-8").splitlines()) if isinstance(r, dict)]
        except (OSError, ValueError):
            continue  # the sheet's rows are checked on their own; a picks file only adds a check when it is whole
        for r in picks:
            text = coded_text(r)  # which the import keeps
            if isinstance(text, str):
                texts.setdefault(str(r.get("id")), []).append((text, source.name))

    def same(a, b) -> bool:  # as a spreadsheet gives text back: line ends, and a CSV's formula guard
        norm = lambda t: str(t).replace("\r\n", "\n").strip()  # noqa: E731
        return norm(a) == norm(b) or norm(a) == "'" + norm(b)

    # a picks file imported itself has no other record of its ids; a file of a coder's own beside the picks, none
    # of whose ids they hold, is no review sheet
    if path.suffix.lower() != ".jsonl" and (own or any(r["id"] in texts for r in records)):
        unknown = [r for r in records if r["id"] not in texts]
        if unknown:
            files = ", ".join(p.name for p in sources)
            raise ConfigError(f"{path}: nothing imported: " + "; ".join(
                f"{sheet} row {r[ROW]}: id {r['id']!r} names no passage the review picked ({files})"
                for r in unknown[:20]) + (f" (and {len(unknown) - 20} more)" if len(unknown) > 20 else "")
                + "; the id column is the passage coded, not to be edited")
    edited = [r["id"] for r in records if texts.get(r["id"]) and not any(same(r["text"], t) for t, _ in texts[r["id"]])]
    if edited:
        where = sorted({name for pid in edited for _, name in texts[pid]})
        raise ConfigError(f"{path}: nothing imported: the text of {len(edited)} row(s) differs from the passage "
                          f"picked ({', '.join(where)}): {', '.join(edited[:5])}; the text column is the passage "
                          f"coded, not to be edited (write remarks in the note column)")


def review_pool(args) -> pd.DataFrame:
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
    pas = catalog.load("passages", columns=["passage_id", "doc_id", "kind", "label", "heading_path", "text",
                                           "text_original", "lang", "region"])
    docs = catalog.load("documents", columns=["doc_id", "title"])
    pool = toks.merge(pas, on="passage_id").merge(docs, on="doc_id", how="left")
    pool["context"] = [context_of(p, h or "", t or "") for p, h, t in
                       zip(pool["passage_id"], pool["heading_path"], pool["title"])]
    # the coder reads a Traditional document's chapter as written; the model keeps the coded one as context
    pool["heading_written"] = paths_as_written(pool["doc_id"], pool["heading_path"], pas)
    return pool.rename(columns={"passage_id": "id", "label": "citation"})


def cmd_review(args) -> None:
    """Pick the passages whose coding would most improve the model on this corpus (or pool)."""

    if args.n < 1 or args.gaps < 0:
        raise ConfigError(f"review: N must be at least 1 and GAPS at least 0 (got N={args.n}, GAPS={args.gaps})")
    target = None
    if args.input:  # a pool file in, a picks file out
        target = Path(args.out) if args.out.endswith(".jsonl") else Path(args.out) / "picked.jsonl"
        check_not_input(Path(args.input), target, "picks")
    tax = load_taxonomy(args.taxonomy)
    one_framework(tax, "review")
    model, path = resolve_model(args.model, Path(args.taxonomy), tax)
    if model is None:
        raise ConfigError("review needs a trained model (not MODEL=lexicon): it picks by the model's uncertainty")
    pool = review_pool(args)
    if not len(pool):
        raise ConfigError("review: the pool has no passages")
    store = store_records(Path(args.coded))
    if "doc_id" in pool:  # the run's passages: codings follow their text into edited documents
        store = follow_codings(store, pool)
    coded_ids = {r["id"] for r in store}
    print(f"review: scoring {len(pool)} passages with {path} ...", file=sys.stderr)
    scored = score_pool(PassageClassifier(tax, model), pool, tokenize_frame(pool, tax))
    checks, gaps, unchecked = (_sheet_gap_checks(tax, model, pool, scored, store, args.gaps, args.n) if args.gaps
                               else (pd.DataFrame(columns=PICK_COLUMNS), 0, 0))
    learn = pick(pool, scored["proba"], scored["lexicon"], model, args.n - len(checks), coded_ids, scored["vectors"],
                 picked_before=checks["index"].tolist())
    picked = pd.concat([checks, learn], ignore_index=True).assign(rank=lambda d: range(1, len(d) + 1))
    rows = picks_table(pool, scored, picked, tax)
    skipped = sum(1 for i in pool["id"] if str(i) in coded_ids)
    if target is not None:
        write_bytes_atomic(target, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                           for r in rows.to_dict("records")).encode("utf-8"))
        files = [target]
    else:
        files = write_sheets(rows, tax, next_sheet(Catalog(args.out).path("review")))
    if args.gaps:
        print(f"review: {len(checks)} gap checks (the passages most likely to fill each gap the model leaves), "
              f"then {len(learn)} passages for the model to learn from"
              + (f"; {unchecked} of the {gaps} gaps can have no check, as every passage of their region is coded or "
                 f"checks another gap" if unchecked > 0 else ""), file=sys.stderr)
    print(f"review: picked {len(rows)} of {len(pool)} passages ({skipped} already coded, skipped) -> "
          f"{', '.join(str(f) for f in files)}", file=sys.stderr)
    if not args.input:
        print(f"code them in {files[0]}, then: make review-import FILE={files[0]} CODER=<your name>", file=sys.stderr)


def _sheet_gap_checks(tax, model, pool: pd.DataFrame, scored: dict, store: list[dict], per_gap: int, n: int
                      ) -> tuple[pd.DataFrame, int, int]:
    """The gap checks that open the sheet, `per_gap` a gap and at most `n` (the likeliest to find a false gap),
    with how many gaps the model leaves and how many of them can have no check (their region's passages all
    coded or checking another gap), counted before `n` cuts the checks."""
    audited = [node.id for part in tax.parts for node in part.audit_leaves()]
    predicted = [[l.node for l in labels] for labels in scored["labels"]]
    checks = gap_checks(pool, scored["proba"], predicted, model, audited, per_gap, latest_codings(store))
    gaps = checks.attrs.get("gaps", 0)
    unchecked = gaps - len(checks[["gap_region", "gap_node"]].drop_duplicates())
    if len(checks) > n:
        print(f"review: {len(checks)} gap checks, of which the {n} likeliest to find a false gap fit in "
              f"N={n}; give a larger N for the others", file=sys.stderr)
        checks = checks.head(n)
    return checks, gaps, unchecked


def cmd_review_import(args) -> None:
    """Validate a coded review file and append it to the coded store; report agreement on the batch."""

    tax = load_taxonomy(args.taxonomy)
    if not args.file:
        raise ConfigError("review-import needs FILE=<coded review sheet (.xlsx, .csv or .jsonl)>")
    path = Path(args.file)
    rows, sheet = read_sheet(path)
    try:
        records = coded_rows(rows, sheet, tax, args.coder)
    except ConfigError as exc:  # the rows' errors name the sheet and the row; say which file
        raise ConfigError(f"{path}: {exc}") from None
    if not records:
        raise ConfigError(f"{path}: no coded row (a row counts once it has a node ID or 'none' in a label column)")
    _check_texts_unedited(path, sheet, records)
    for r in records:
        r["lang"] = r["lang"] if r["lang"] in ("zh", "en") else detect_lang(r["text"])
    store = Path(args.coded)
    # coder names are compared exactly (agreement pairs coders by name): 'Ann' and 'ann' are two coders
    known_coders = {r["coder"] for r in store_records(store)} if store.is_dir() else set()
    for who in sorted({r["coder"] for r in records} - known_coders):
        alike = sorted(c for c in known_coders if " ".join(c.split()).casefold() == " ".join(who.split()).casefold())
        if alike:
            print(f"review-import: warning: coder '{who}' is new to the store, which has {', '.join(map(repr, alike))}: "
                  f"if that is the same person, import again with their name as it is there (CODER= or the coder "
                  f"column), or they count as two coders in agreement", file=sys.stderr)
    added, known = append_to_store(records, store, path.name)
    print(f"review-import: {len(records)} coded passages from {path} ({sheet}): {added} added to {store}/, "
          f"{known} already there", file=sys.stderr)
    checks = gap_check_outcomes(rows, records)
    if checks:
        false = sorted({f"{region} {node}".strip() for region, node, found in checks if found})
        given = sum(found for *_, found in checks)
        print(f"review-import: {len(checks)} gap checks coded; the coder gave the checked node in {given}"
              + (f" (false gaps: {'; '.join(false)})" if false else "")
              + ". The report flags those gaps from the next run on (gaps.csv: coder_passages)", file=sys.stderr)
    model, mpath = resolve_model(args.model, Path(args.taxonomy), tax)
    batch = pd.DataFrame(records)
    clf = PassageClassifier(tax, model)
    preds = clf.predict(batch["text"].tolist(), batch["lang"].tolist(), tokenize_frame(batch, tax))
    agree = agreement(records, [[l.node for l in p] for p in preds], tax.leaf_ids, store_records(store))
    pd.set_option("display.width", 200)
    print(f"# agreement on this batch: model {mpath} vs coder")
    if len(agree["per_node"]):
        print(agree["per_node"].to_string(index=False, na_rep=""))
    print(agree["summary"].to_string(index=False, na_rep=""))
    if agree["coders"]:
        c = agree["coders"]
        print(f"# coder vs coder: {c['passages']} passage pairs coded by two people, alpha {c['alpha']}, "
              f"identical codings {c['exact_agreement']:.0%}")


def cmd_evaluate(args) -> None:
    evaluate_cli(args)
