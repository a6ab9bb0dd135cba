"""Agreement between the classifier and careful human coding, measured so that it predicts unseen text.

Without cross-validation: the current model on a coded file (passages it was trained on are cross-validated
instead: scored on them, it would show its memory). With `cv`: the model is trained on some
folds and scored on the others, folds grouped so that no document (`doc`) or no region (`region`: each
province, the national level, each US Code chapter) is on both sides; the taxonomy's own examples (and any
`--train` files) are always in the training folds. Reported: per-node precision/recall/F1 and support,
micro/macro-F1 per language (micro-F1 with a 95% interval from resampling documents, the unit that was sampled),
Krippendorff's alpha over every passage x node decision, the Brier score and a
reliability table of the calibrated probabilities, per-fold figures, and a learning curve (F1 with 25/50/100%
of the training folds' documents), which tells whether coding more passages would still help. Every coded
passage's prediction (out of fold under `cv`) is written beside the figures, misses and false labels spelled
out, so that a reader can see what the errors are and not only how many.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import brier_score_loss, f1_score
from sklearn.model_selection import GroupKFold

from .classify import (PassageClassifier, check_labels, coded_files, coded_store_paths, doc_groups, examples_paths,
                       fit_model, label_matrix, read_coded, resolve_model, tokenize_frame)
from .coded import CODED_WEIGHT
from .model import text_key
from .corpus import read_manifest
from .io import ConfigError, write_csv
from .taxonomy import Taxonomy, load_taxonomy, one_framework

MIN_SUPPORT_FOR_MACRO = 5
# a region with this few documents in the coded data is split into one group per document: a US Code
# chapter is a statute of its own, not a sample of its region
SMALL_REGION_DOCS = 10
CURVE = (0.25, 0.5, 1.0)
# a document with this many coded passages, numbered from 1 with none left out, counts as coded article by article
FULLY_CODED = 10
INTERVAL_LEVEL = 0.95
RESAMPLES = 2000


def alpha(Y_true: np.ndarray, Y_pred: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) treating gold and predictions as two coders of each passage x node."""
    data = np.vstack([Y_true.ravel(), Y_pred.ravel()]).astype(float)
    if len(np.unique(data)) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def document_interval(per_document: tuple[np.ndarray, ...], statistic, level: float = INTERVAL_LEVEL,
                      resamples: int = RESAMPLES) -> tuple[float, float]:
    """Percentile interval of `statistic(*sums)` with the documents resampled (a cluster bootstrap).

    `per_document`: counts per document (e.g. true positives, false positives, false negatives), summed by
    `statistic` over a resample's documents along the last axis. Passages of one document share its drafter,
    its wording and its boilerplate, so they are not independent draws: resampling passages would give an
    interval far too narrow. Seeded: the same data give the same interval. NaN with fewer than two documents.

    A resample where the statistic is undefined (recall over documents none of which has an addressed cell) is
    left out of the percentiles rather than making the whole interval undefined."""
    if len(per_document[0]) < 2:
        return float("nan"), float("nan")
    import warnings

    from scipy.stats import bootstrap  # 0.4 s of imports, for this command only

    with warnings.catch_warnings():  # scipy warns of the undefined resamples, which are dropped below
        warnings.simplefilter("ignore")
        res = bootstrap(per_document, lambda *c, axis=-1: statistic(*(x.sum(axis=axis) for x in c)), paired=True,
                        vectorized=True, n_resamples=resamples, confidence_level=level, method="percentile",
                        batch=200, random_state=np.random.default_rng(0))  # batches: memory stays flat
    dist = res.bootstrap_distribution[~np.isnan(res.bootstrap_distribution)]
    if not len(dist):
        return float("nan"), float("nan")
    low, high = np.percentile(dist, [50 * (1 - level), 50 * (1 + level)])
    return round(float(low), 4), round(float(high), 4)


def _f1(tp, fp, fn):
    """F1 from counts; undefined (NaN) where nothing was coded or predicted, so that document_interval leaves such
    a resample out instead of counting it as an F1 of 0 (a node coded in few documents got intervals of 0 to 1)."""
    d = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, 2 * tp / np.where(d > 0, d, 1), np.nan)


def _document_counts(Y_true: np.ndarray, Y_pred: np.ndarray, docs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives per document (passage x node decisions)."""
    names, d = np.unique(np.asarray(docs), return_inverse=True)
    yt, yp = Y_true.astype(bool), Y_pred.astype(bool)
    count = lambda m: np.bincount(d, weights=m.sum(axis=1), minlength=len(names))  # noqa: E731
    return count(yt & yp), count(~yt & yp), count(yt & ~yp)


def micro_f1_interval(Y_true: np.ndarray, Y_pred: np.ndarray, docs) -> tuple[float, float]:
    """Micro-F1's interval over passage x node decisions, documents resampled (see document_interval)."""
    return document_interval(_document_counts(Y_true, Y_pred, docs), _f1)


def node_f1_intervals(Y_true: np.ndarray, Y_pred: np.ndarray, docs) -> list[tuple[float, float]]:
    """Each node's F1 interval (a node's F1 is the micro-F1 of its one column); NaN for a node neither coded
    nor predicted."""
    return [micro_f1_interval(Y_true[:, [j]], Y_pred[:, [j]], docs) if (Y_true[:, j].any() or Y_pred[:, j].any())
            else (np.nan, np.nan) for j in range(Y_true.shape[1])]


def scores(Y_true: np.ndarray, Y_pred: np.ndarray, nodes: list[str], langs: list[str],
           proba: np.ndarray | None = None, docs: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-node table, summary table) for one set of predictions; with `docs` (each passage's document), the
    summary's micro-F1 has its 95% interval with documents resampled (the nodes' are node_f1_intervals)."""
    # from each column's counts, as _node_f1: scikit-learn's per-label scores take a framework of one leaf (one
    # column) for a binary problem and score its two classes, one row too many for the table
    tp, fp, fn = _node_counts(Y_true, Y_pred)
    # a node neither coded nor predicted has nothing to count: its cells are empty, as its interval is, rather
    # than a 0 that reads as a node the model always gets wrong
    unseen = (tp + fp + fn) == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        p, r = np.where(tp + fp > 0, tp / (tp + fp), 0.0), np.where(tp + fn > 0, tp / (tp + fn), 0.0)
    p, r, f = (np.where(unseen, np.nan, x) for x in (p, r, np.nan_to_num(_f1(tp, fp, fn))))
    per_node = pd.DataFrame({"node": nodes, "precision": p.round(4), "recall": r.round(4),
                             "f1": f.round(4), "support": (tp + fn).astype(int),
                             "predicted": Y_pred.sum(axis=0).astype(int)})
    if proba is not None:
        per_node["brier"] = [round(brier_score_loss(Y_true[:, j], proba[:, j]), 5) if len(Y_true) else np.nan
                             for j in range(len(nodes))]
    rows = []
    langs = np.asarray(langs)
    for lang in ["all", *sorted(set(langs))]:
        m = np.ones(len(langs), bool) if lang == "all" else langs == lang
        yt, yp = Y_true[m], Y_pred[m]
        sup = yt.sum(axis=0)
        # macro-F1 over the nodes coded or predicted (one predicted but never coded scores 0); NaN, not 0, where
        # there is no such node
        seen = (sup > 0) | (yp.sum(axis=0) > 0)
        frequent = sup >= MIN_SUPPORT_FOR_MACRO
        counted = yt.any() or yp.any()
        row = {
            "lang": lang, "passages": int(m.sum()), "labels": int(yt.sum()),
            # NaN where no node was coded or predicted (a batch of 'none' the model agrees with), as macro_f1;
            # its precision and recall too, which as 0 read as a model that found nothing right
            "micro_f1": round(f1_score(yt, yp, average="micro", zero_division=0), 4) if counted else np.nan,
            "micro_precision": round(_micro(yt, yp, "p"), 4) if counted else np.nan,
            "micro_recall": round(_micro(yt, yp, "r"), 4) if counted else np.nan,
            "macro_f1": round(float(np.mean(_node_f1(yt[:, seen], yp[:, seen]))) if seen.any() else np.nan, 4),
            f"macro_f1_support{MIN_SUPPORT_FOR_MACRO}": round(float(np.mean(_node_f1(yt[:, frequent], yp[:, frequent])))
                                                        if frequent.any() else np.nan, 4),
            "krippendorff_alpha": round(alpha(yt, yp), 4),
        }
        if docs is not None:
            row["micro_f1_low"], row["micro_f1_high"] = micro_f1_interval(yt, yp, np.asarray(docs)[m])
        if proba is not None:
            row["brier"] = round(float(np.mean((proba[m] - yt) ** 2)), 5)
        rows.append(row)
    return per_node, pd.DataFrame(rows)


def micro_f1_gain_interval(Y_true: np.ndarray, Y_a: np.ndarray, Y_b: np.ndarray, docs) -> tuple[float, float]:
    """Interval of micro-F1(Y_a) - micro-F1(Y_b) on the same passages, each resample's documents scored under
    both (paired): the figures share their documents, so their own intervals overlap even when one is better
    on nearly every document."""
    per_doc = _document_counts(Y_true, Y_a, docs) + _document_counts(Y_true, Y_b, docs)
    return document_interval(per_doc, lambda *c: _f1(*c[:3]) - _f1(*c[3:]))


def learning_curve(Y_true: np.ndarray, predicted: dict[float, np.ndarray], nodes: list[str], langs: list[str],
                   docs: list[str]) -> pd.DataFrame:
    """Micro-F1 (with its interval) at each share of the training folds' documents, and its gain over the
    smallest share with the paired interval of that gain: whether coding more passages still helps."""
    langs_a, docs_a = np.asarray(langs), np.asarray(docs)
    shares = sorted(predicted)
    first = predicted[shares[0]]
    masks = {lang: np.ones(len(langs_a), bool) if lang == "all" else langs_a == lang
             for lang in ["all", *sorted(set(langs))]}
    f1_first = {lang: f1_score(Y_true[m], first[m], average="micro", zero_division=0) for lang, m in masks.items()}
    rows = []
    for share in shares:
        _, summ = scores(Y_true, predicted[share], nodes, langs, docs=docs)
        for r in summ.to_dict("records"):
            m = masks[r["lang"]]
            gain, low, high = 0.0, 0.0, 0.0
            if share != shares[0]:
                gain = round(float(f1_score(Y_true[m], predicted[share][m], average="micro", zero_division=0)
                                   - f1_first[r["lang"]]), 4)
                low, high = micro_f1_gain_interval(Y_true[m], predicted[share][m], first[m], docs_a[m])
            rows.append({"training_share": share, **{k: r[k] for k in ("lang", "micro_f1", "micro_f1_low",
                         "micro_f1_high", "micro_precision", "micro_recall", "macro_f1")},
                         "gain": gain, "gain_low": low, "gain_high": high})
    return pd.DataFrame(rows, columns=["training_share", "lang", "micro_f1", "micro_f1_low", "micro_f1_high",
                                       "micro_precision", "micro_recall", "macro_f1", "gain", "gain_low", "gain_high"])


def _node_f1(yt, yp) -> np.ndarray:
    """Each column's F1, from its counts: scikit-learn reads a single column as a binary problem and, averaged
    per class, folds in the F1 of 'not this node' (a one-node macro-F1 of 0.73 came out 0.81)."""
    return _f1(*_node_counts(yt, yp))


def _node_counts(yt, yp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's true positives, false positives and false negatives."""
    yt, yp = yt.astype(bool), yp.astype(bool)
    return (yt & yp).sum(axis=0), (~yt & yp).sum(axis=0), (yt & ~yp).sum(axis=0)


def _micro(yt, yp, which):
    tp = int((yt & yp).sum())
    d = int(yp.sum()) if which == "p" else int(yt.sum())
    return tp / d if d else 0.0


def document_cells(ids: list[str], Y_true: np.ndarray, Y_pred: np.ndarray, min_passages: int = FULLY_CODED) -> dict:
    """The coverage tables' view: a document addresses a node when any of its passages carries it. Scored over
    the documents coded article by article (at least `min_passages` coded passages, numbered from 1 with none
    left out), every document x node cell: accuracy, and precision and recall of the cells the coders mark as
    addressed."""
    docs = np.array(doc_groups(ids))
    full = _coded_article_by_article(ids, min_passages)
    if not len(full):
        return {"documents": 0}
    T = np.array([Y_true[docs == d].max(axis=0) for d in full]).astype(bool)
    P = np.array([Y_pred[docs == d].max(axis=0) for d in full]).astype(bool)
    tp = int((T & P).sum())
    # counts per document, so that each resample pools its documents' cells before dividing (a ratio of sums,
    # as the point figure is), not an average of per-document ratios
    right, n, found, addressed = (T == P).sum(1), np.full(len(full), T.shape[1]), (T & P).sum(1), T.sum(1)
    share = lambda a, b: np.where(b > 0, a / np.maximum(b, 1), np.nan)  # noqa: E731
    acc_low, acc_high = document_interval((right, n), share)
    rec_low, rec_high = document_interval((found, addressed), share)
    return {"documents": int(len(full)), "cells": int(T.size), "addressed": int(T.sum()),
            "accuracy": round(float((T == P).mean()), 4), "accuracy_low": acc_low, "accuracy_high": acc_high,
            "recall_addressed": round(tp / T.sum(), 4) if T.sum() else float("nan"),
            "recall_addressed_low": rec_low, "recall_addressed_high": rec_high,
            "precision_addressed": round(tp / P.sum(), 4) if P.sum() else float("nan"),
            "false_gaps": int((T & ~P).sum())}


def _coded_article_by_article(ids: list[str], min_passages: int) -> list[str]:
    """The documents of `ids` ('<document>#<n>') with at least `min_passages` coded passages whose numbers run from
    1 to the last with none left out. A count alone took a sample of a document's paragraphs (a US Code chapter's
    70 keyword-enriched paragraphs of 858) for the whole document: its cells held what the sample addresses, and
    a node addressed only outside the sample was a gap."""
    counts: dict[str, int] = {}
    numbers: dict[str, set[int]] = {}
    for doc, pid in zip(doc_groups(ids), ids):
        counts[doc] = counts.get(doc, 0) + 1
        n = pid.rsplit("#", 1)[1] if "#" in pid else ""
        if n.isdigit():  # a preamble's or an annex's passage ('#p1', '#a2') is outside the articles' numbering
            numbers.setdefault(doc, set()).add(int(n))
    return sorted(d for d, c in counts.items()
                  if c >= min_passages and numbers.get(d) and numbers[d] == set(range(1, max(numbers[d]) + 1)))


def passage_errors(gold: pd.DataFrame, preds: list[list[str]], proba: np.ndarray, nodes: list[str],
                   groups: list[str]) -> pd.DataFrame:
    """One row per coded passage: what the coder gave, what the model gave, the misses and false labels with
    the model's probability for each, and the text (errors first, so a spreadsheet opens on them)."""
    col = {n: j for j, n in enumerate(nodes)}
    rows = []
    for i, (pid, lang, text, coded, pred, group) in enumerate(zip(gold["id"], gold["lang"], gold["text"],
                                                                  gold["labels"], preds, groups)):
        missed = [n for n in nodes if n in set(coded) - set(pred)]
        false = [n for n in nodes if n in set(pred) - set(coded)]
        shown = lambda ns: "; ".join(f"{n} ({proba[i, col[n]]:.2f})" for n in ns)  # noqa: E731
        rows.append({"id": pid, "lang": lang, "group": group, "errors": len(missed) + len(false),
                     "coded": "; ".join(coded), "predicted": shown(pred), "missed": shown(missed),
                     "false_labels": shown(false), "text": text})
    df = pd.DataFrame(rows, columns=["id", "lang", "group", "errors", "coded", "predicted", "missed",
                                     "false_labels", "text"])
    return df.sort_values(["errors", "id"], ascending=[False, True], kind="stable").reset_index(drop=True)


def reliability(Y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Calibration: in each band of predicted probability, how often the node was in fact coded. Only
    (passage, node) pairs the model scored above 0.01 count: the rest are the certain negatives of a
    sparse multi-label problem and would swamp the lowest band."""
    y, p = Y_true.ravel(), proba.ravel()
    keep = p > 0.01
    y, p = y[keep], p[keep]
    edges = np.linspace(0, 1, bins + 1)
    band = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        m = band == b
        rows.append({"band": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "pairs": int(m.sum()),
                     "mean_predicted": round(float(p[m].mean()), 4) if m.any() else np.nan,
                     "observed_rate": round(float(y[m].mean()), 4) if m.any() else np.nan})
    return pd.DataFrame(rows)


def region_groups(ids: list[str], manifest: Path | None, given: list[str] | None = None) -> list[str]:
    """Each coded passage's region, for folds that hold whole regions out.

    The region a passage was coded with (`given`: the review sheet's, which the run took from its manifest or
    folder; empty where unknown), else from the corpus manifest where its document is listed (`path` ->
    `region`), else the top folders of its path (zh/provincial/Shandong/...: the folder under the level; other
    paths: the first two folders, or the one folder of region/file.md). A region with few documents (US Code
    chapters) is split into one group per document."""
    docs = doc_groups(ids)
    regions: dict[str, str] = {}
    if manifest is not None and manifest.is_file():
        # read as a run reads it: one that Excel saved ;-separated, with its column names capitalised, gave the
        # run its regions and gave none here
        table = read_manifest(manifest.parent, manifest)
        if table is not None and "region" in table:
            regions = {p: r for p, r in zip(table["path"], table["region"]) if p and r}
    out = []
    for d, known in zip(docs, given or [""] * len(docs)):
        if known or d in regions:
            out.append(known or regions[d])
            continue
        # folders only: a corpus laid out region by region (GD/a.md) has its region in the first, and the file
        # name would make each document a region of its own
        folders = Path(d).parts[:-1]
        out.append("/".join(folders[:3] if len(folders) > 2 and folders[1] == "provincial" else folders[:2]) or d)
    docs_per_region: dict[str, set] = {}
    for r, d in zip(out, docs):
        docs_per_region.setdefault(r, set()).add(d)
    return [f"{r}:{d}" if len(docs_per_region[r]) < SMALL_REGION_DOCS else r for r, d in zip(out, docs)]


def fold_groups(gold: pd.DataFrame, how: str, manifest: Path | None) -> list[str]:
    ids = gold["id"].tolist()
    if how == "region":
        given = gold["region"].fillna("").astype(str).tolist() if "region" in gold else None
        return region_groups(ids, manifest, given)
    return doc_groups(ids)


def predict(clf: PassageClassifier, coded: pd.DataFrame, tokens) -> tuple[list[list[str]], np.ndarray]:
    """Predicted leaves and every leaf's probability, per coded passage."""
    sc: list[dict] = []
    preds = clf.predict(coded["text"].tolist(), coded["lang"].tolist(), tokens, scores=sc,
                        contexts=coded["context"].tolist())
    proba = np.array([[s[n] for n in clf.leaf_ids] for s in sc]) if sc else np.zeros((0, len(clf.leaf_ids)))
    return [[l.node for l in labels] for labels in preds], proba


def cross_validate(taxonomy: Taxonomy, gold: pd.DataFrame, groups: list[str], k: int | None,
                   extra: pd.DataFrame | None = None, fractions=(1.0,), log=print, weights=None, jobs: int = 1,
                   **params) -> dict:
    """Out-of-fold predictions and probabilities for every coded passage at each training fraction.

    `extra` (the taxonomy's examples, other coded files) is in every training fold; with a fraction below 1,
    that share of the training folds' documents (chosen at random, seeded) is used. `weights`: per coded passage
    when it is in a training fold (`extra` weighs 1). `jobs`: folds trained at once, in processes of their own."""
    tokens = tokenize_frame(gold, taxonomy)
    extra_tokens = tokenize_frame(extra, taxonomy) if extra is not None and len(extra) else []
    n_groups = len(set(groups))
    k = min(k or n_groups, n_groups)
    if k < 2:
        raise ConfigError(f"cross-validation needs at least two groups; the coded data has {n_groups}")
    docs = np.array(doc_groups(gold["id"].tolist()))
    rng = np.random.default_rng(0)
    out = {f: {"labels": [[] for _ in range(len(gold))], "proba": np.zeros((len(gold), len(taxonomy.leaf_ids)))}
           for f in fractions}
    folds, tasks = [], []
    for fold, (tr, te) in enumerate(GroupKFold(n_splits=k).split(gold, groups=groups), start=1):
        held = sorted(set(np.asarray(groups)[te]))
        for frac in fractions:
            keep = tr
            if frac < 1.0:
                train_docs = sorted(set(docs[tr]))
                chosen = set(rng.choice(train_docs, size=max(1, round(frac * len(train_docs))), replace=False))
                keep = np.array([i for i in tr if docs[i] in chosen], dtype=int)
            train = gold.iloc[keep]
            train_tokens = [tokens[i] for i in keep]
            w = np.ones(len(keep)) if weights is None else np.asarray(weights, dtype=float)[keep]
            if extra is not None and len(extra):
                train = pd.concat([train, extra], ignore_index=True)
                train_tokens = train_tokens + list(extra_tokens)
                w = np.concatenate([w, np.ones(len(extra))])
            tasks.append((fold, frac, held, te, train.reset_index(drop=True), train_tokens, w))
        folds.append((fold, held, te))
    failed = set()
    # folds are independent: each trains in a process of its own (the same models, so the same figures, as
    # one after another)
    run = Parallel(n_jobs=min(jobs, len(tasks)), return_as="generator")(
        delayed(_fold_predictions)(taxonomy.path, train, train_tokens, w, gold.iloc[te].reset_index(drop=True),
                                   [tokens[i] for i in te], params)
        for fold, frac, held, te, train, train_tokens, w in tasks)
    for (fold, frac, held, te, train, _, _), result in zip(tasks, run):
        if isinstance(result, str):
            if frac == 1.0:
                raise ConfigError(f"cross-validation fold {fold}: cannot train on its {len(train)} passages "
                                  f"({result}); code more passages or use fewer folds")
            # a point of the learning curve that a small coded set cannot train (too few passages for the
            # features) is left out rather than reported from some folds only
            if frac not in failed:
                log(f"  learning curve: {round(frac * 100)}% of the training documents is too little to train on "
                    f"in fold {fold} ({len(train)} passages); that point is left out of the curve")
            failed.add(frac)
            continue
        labels, proba = result
        for i, ls, p in zip(te, labels, proba):
            out[frac]["labels"][i] = ls
            out[frac]["proba"][i] = p
        log(f"  fold {fold}/{k} ({', '.join(held)[:80]}), {round(frac * 100)}% of training documents: "
            f"trained on {len(train)}, tested on {len(te)}")
    for frac in failed:
        del out[frac]
    out["folds"] = folds
    return out


def _fold_predictions(taxonomy_path: str, train: pd.DataFrame, train_tokens, weights, test: pd.DataFrame,
                      test_tokens, params: dict):
    """One fold: the model trained on `train`, its labels and probabilities for `test`; the error's text when
    the training passages are too few to train on."""
    taxonomy = load_taxonomy(taxonomy_path)
    try:
        model = fit_model(taxonomy, train, tokens=train_tokens, weights=weights, **params)
    except ValueError as exc:
        return str(exc)
    return predict(PassageClassifier(taxonomy, model), test, test_tokens)


@dataclass
class _Predictions:
    """The gold passages' predictions and how they were made: `desc` heads the figures, `stem` names the files,
    `groups` are the groups the passages file reports; `per_fold` and `curve` only under cross-validation."""
    preds: list[list[str]]
    proba: np.ndarray
    desc: str
    stem: str
    groups: list[str]
    per_fold: pd.DataFrame | None = None
    curve: pd.DataFrame | None = None


def evaluate_cli(args) -> None:
    tax = load_taxonomy(args.taxonomy)
    one_framework(tax, "evaluate")
    _check_arguments(args)
    gold_paths = [Path(p) for p in args.gold.split(",") if p]
    gold = _gold(tax, gold_paths, args.gold)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    docs = doc_groups(gold["id"].tolist())
    model = path = None
    seen_note = ""
    if not args.cv:
        model, path = resolve_model(args.model, Path(args.taxonomy), tax)
        seen_note = _memory_check(args, gold, docs, model, path, log)
    if args.cv:
        run = _cross_validated(args, tax, gold, gold_paths, docs, out, log)
    else:
        preds, proba = predict(PassageClassifier(tax, model), gold, tokenize_frame(gold, tax))
        run = _Predictions(preds, proba, f"model {path} on {_names(gold_paths)}{seen_note}", "evaluation", docs)
    _report(run, gold, tax.leaf_ids, docs, out)


def _check_arguments(args) -> None:
    if not (args.gold or "").strip():
        raise ConfigError("evaluate needs the coded passages to score the model against: --gold coded.jsonl "
                          "(make evaluate GOLD=coded.jsonl[,more.jsonl], or GOLD=coded for the coded store)")
    if args.cv and args.cv not in ("region", "doc") and not (args.cv.isdigit() and int(args.cv) >= 2):
        # CV=abc stopped with int()'s traceback, and CV=0 quietly held out every document one at a time
        raise ConfigError(f"CV={args.cv}: give region, doc, or a number of folds of 2 or more")
    if args.manifest and not Path(args.manifest).parent.is_dir():
        # a misspelt CORPUS=: the codings would be held out by the folders of their paths instead, unsaid
        raise ConfigError(f"{Path(args.manifest).parent}: no such corpus folder (its {Path(args.manifest).name} "
                          f"gives the regions of the coded passages)")


def _gold(tax: Taxonomy, gold_paths: list[Path], given: str) -> pd.DataFrame:
    """The coded passages to score against, one coding per passage (the latest, where several people coded it)."""
    gold = read_coded(gold_paths)
    # a node ID that is no leaf (a typo, a group ID) would otherwise drop out of the scoring unsaid, as if the
    # coder had not given it; train refuses such data, and so does its measure
    check_labels(tax, gold)
    if not len(gold):
        # scikit-learn's scores stop with a traceback on no passages
        raise ConfigError(f"{given}: no coded passages to score the model against"
                          + (" (the coded store gets them from make review-import)"
                             if any(Path(p).is_dir() for p in gold_paths) else ""))
    several = gold["coder"].ne("") & gold["id"].duplicated(keep=False)
    if several.any():
        # passages two people coded (the review loop's double coding) are one passage to score, not two
        print(f"evaluate: {gold.loc[several, 'id'].nunique()} passage(s) coded by more than one coder are scored "
              f"against the latest coding of each (their agreement: make review-import, the report)", file=sys.stderr)
        # a coder's correction takes the place of their first coding in read_coded's rows, so the last row of a
        # passage is not its latest coding: the coder of its last line is the one whose coding counts
        latest = _latest_coders(gold_paths)
        gold = gold[~several | (gold["coder"] == gold["id"].map(latest))]
        gold = gold[~(gold["coder"].ne("") & gold["id"].duplicated(keep="last"))].reset_index(drop=True)
    return gold


def _names(gold_paths: list[Path]) -> str:
    return ",".join(p.name for p in gold_paths)


def _memory_check(args, gold: pd.DataFrame, docs: list[str], model, path, log) -> str:
    """Whether the current model was trained on the gold passages: on half of them or more, `args` is switched
    to cross-validation; on fewer, the returned note says how many (else "")."""
    seen = model.seen_in_training(gold["text"]) if model is not None else None
    n_seen = int(seen.sum()) if seen is not None else 0
    n_docs = len(set(docs))
    if n_seen * 2 >= len(gold) and n_docs >= 2:
        # a model scored on the passages it learned from reports how well it remembers them, which says
        # nothing of a new corpus: cross-validation answers what the user asked (the coded store after
        # `make train` is the usual case)
        log(f"evaluate: {n_seen} of {len(gold)} coded passages are in the training data of {path}; "
            f"scored on them it would measure memory, not accuracy. Cross-validating instead: "
            f"{min(5, n_docs)} folds grouped by document (CV={min(5, n_docs)}; the model is trained again "
            "without each fold's documents), with the learning curve.")
        args.cv, args.curve = str(min(5, n_docs)), True
        return ""
    if n_seen:
        # a few seen passages are most often boilerplate that recurs across documents (an effective-date
        # article); they are scored with the rest, and said
        note = (f" ({n_seen} of {len(gold)} passages have the text of a passage the model was trained on; "
                "for those this measures memory, not accuracy)")
        log(f"evaluate: warning: model {path}{note}")
        return note
    return ""


def _cross_validated(args, tax: Taxonomy, gold: pd.DataFrame, gold_paths: list[Path], docs: list[str], out: Path,
                     log) -> _Predictions:
    """Out-of-fold predictions of every gold passage, folds grouped as `args.cv` asks (with the learning curve's
    shares when `args.curve`); writes the per-fold figures and the curve."""
    nodes = tax.leaf_ids
    Y_true = label_matrix(gold["labels"], nodes)
    langs = gold["lang"].tolist()
    how = args.cv if args.cv in ("region", "doc") else "doc"
    k = None if args.cv in ("region", "doc") else int(args.cv)
    manifest = Path(args.manifest) if args.manifest else _manifest_beside(gold_paths)
    groups = fold_groups(gold, how, manifest)
    split = _say_how_the_folds_fall(args.cv, how, gold["id"].tolist(), docs, groups, log)
    extra_paths = ([] if args.no_examples else examples_paths(Path(args.taxonomy))) + \
        [Path(p) for p in (args.train or "").split(",") if p]
    extra = _not_scored(read_coded(extra_paths), gold, log) if extra_paths else None
    fractions = CURVE if args.curve else (1.0,)
    # the coded store's passages weigh in the training folds as `make train` weighs them, so that the figures
    # are those of the model the researcher trains
    store = {q.name for p in gold_paths for q in coded_store_paths(p)}
    from_store = gold["source"].isin(store).to_numpy()
    weights = np.where(from_store, CODED_WEIGHT, 1.0)
    res = cross_validate(tax, gold, groups, k, extra, fractions=fractions, log=log, weights=weights,
                         jobs=args.jobs)
    desc = _setting(how, k, len(res["folds"]), split, gold_paths, extra_paths, from_store.any())
    preds, proba = res[1.0]["labels"], res[1.0]["proba"]
    stem = "evaluation_cv"
    per_fold = _per_fold(res["folds"], Y_true, label_matrix(preds, nodes), nodes, langs)
    write_csv(per_fold, out / f"{stem}_folds.csv")
    curve = None
    if len(fractions) > 1:  # asked for, even if points were left out
        curve = learning_curve(Y_true, {f: label_matrix(res[f]["labels"], nodes) for f in fractions if f in res},
                               nodes, langs, docs)
        write_csv(curve, out / f"{stem}_curve.csv")
    return _Predictions(preds, proba, desc, stem, groups, per_fold, curve)


def _say_how_the_folds_fall(cv: str, how: str, ids: list[str], docs: list[str], groups: list[str], log) -> list[str]:
    """Warns where the folds are finer than CV=`cv` asks, and says which regions are held out document by
    document; returns those regions."""
    # ids that say nothing of where a passage came from make the folds quietly finer than asked: 100 such
    # passages were 100 folds, each trained again, and passages of one document were split between folds
    no_doc = sum("#" not in i for i in ids)
    no_region = len({d for d, g in zip(docs, groups) if "/" not in d and g in (d, f"{d}:{d}")}) \
        if how == "region" else 0
    if no_doc or no_region:
        log(f"evaluate: warning: CV={cv}: "
            + (f"{no_doc} of {len(ids)} ids have no '#<n>' after a document's path, so each of those "
               "passages is a document of its own; " if no_doc else "")
            + (f"{no_region} document(s) have no folder in their path and no row in a corpus manifest "
               "(--manifest), so each is held out as a region of its own; " if no_region else "")
            + f"{len(set(groups))} folds (gold ids are '<corpus path>#<n>')")
    # a small region is held out document by document (region_groups): a review loop's coded store, a few
    # documents a region, is then scored as by CV=doc, which the figures' heading must not hide
    split = sorted({g[:-len(d) - 1] for d, g in zip(docs, groups) if g.endswith(f":{d}") and g != f"{d}:{d}"}) \
        if how == "region" else []
    if split:
        log(f"evaluate: CV=region: {len(split)} region(s) have fewer than {SMALL_REGION_DOCS} coded documents "
            f"({', '.join(split[:10])}{', ...' if len(split) > 10 else ''}): each of their documents is held "
            f"out on its own; {len(set(groups))} folds")
    return split


def _not_scored(extra: pd.DataFrame, gold: pd.DataFrame, log) -> pd.DataFrame:
    """The passages of `extra` (always in training) that are not among the `gold` passages being scored, by id
    or by text: `--train` naming a gold file, or a file holding some of its passages, put each scored passage into
    the training folds too, and every fold was tested on what it had learned."""
    keys = {text_key(t) for t in gold["text"]}
    scored = extra["id"].isin(set(gold["id"])) | extra["text"].map(text_key).isin(keys)
    if scored.any():
        log(f"evaluate: {int(scored.sum())} passage(s) given to train on (--train) are among the passages scored "
            "(same id or text); they are left out of training, so that no fold is tested on what it learned")
    return extra[~scored].reset_index(drop=True)


def _setting(how: str, k: int | None, ran: int, split: list[str], gold_paths: list[Path], extra_paths: list[Path],
             weighted: bool) -> str:
    """The heading of cross-validated figures: folds grouped by `how` (`k` of them asked for, `ran` run; `split`:
    the regions held out by document), the coded files, what is always in training and how the coded store
    weighs."""
    # CV=5 on 3 documents runs 3 folds (cross_validate), which the heading must say
    scheme = "leave-one-region-out" if how == "region" else f"{ran}-fold" if k else "leave-one-document-out"
    return (f"{scheme} cross-validation grouped by {how}"
            + (f" (CV={k}: the coded data has {ran} documents)" if k and ran < k else "")
            + (f" (regions of fewer than {SMALL_REGION_DOCS} coded documents: by document)" if split else "")
            + f" on {_names(gold_paths)}"
            + (f"; always in training: {', '.join(p.name for p in extra_paths)}" if extra_paths else "")
            + (f"; the coded store's passages weighted {CODED_WEIGHT:g}x, as make train weighs them"
               if weighted else ""))


def _per_fold(folds: list, Y_true: np.ndarray, Y_pred: np.ndarray, nodes: list[str], langs: list[str]) -> pd.DataFrame:
    """Each held-out group's micro-F1, precision and recall (`folds`: cross_validate's (fold, held out, rows))."""
    rows = []
    for fold, held, te in folds:
        _, summ = scores(Y_true[te], Y_pred[te], nodes, [langs[i] for i in te])
        rows.append(summ[summ["lang"] == "all"].assign(fold=fold, held_out=" + ".join(held)))
    return pd.concat(rows, ignore_index=True)[["fold", "held_out", "passages", "labels", "micro_f1",
                                               "micro_precision", "micro_recall"]]


def _report(run: _Predictions, gold: pd.DataFrame, nodes: list[str], docs: list[str], out: Path) -> None:
    """The figures of `run`'s predictions against the gold labels: written as CSV in `out` and printed."""
    stem = run.stem
    Y_true, Y_pred = label_matrix(gold["labels"], nodes), label_matrix(run.preds, nodes)
    langs = gold["lang"].tolist()
    write_csv(passage_errors(gold, run.preds, run.proba, nodes, run.groups), out / f"{stem}_passages.csv")
    per_node, summary = scores(Y_true, Y_pred, nodes, langs, run.proba, docs=docs)
    intervals = node_f1_intervals(Y_true, Y_pred, docs)
    per_node.insert(per_node.columns.get_loc("predicted") + 1, "f1_low", [lo for lo, _ in intervals])
    per_node.insert(per_node.columns.get_loc("f1_low") + 1, "f1_high", [hi for _, hi in intervals])
    rel = reliability(Y_true, run.proba)
    cells = document_cells(gold["id"].tolist(), Y_true, Y_pred)
    write_csv(per_node, out / f"{stem}_nodes.csv")
    write_csv(summary.assign(setting=run.desc), out / f"{stem}_summary.csv")
    # one file's figure can flatter: terms written while reading a file make its passages easy, so with several
    # files each is scored on its own too
    by_file = None
    if gold["source"].nunique() > 1:
        per_file = []
        for src in sorted(gold["source"].unique()):
            m = (gold["source"] == src).to_numpy()
            _, summary_of_file = scores(Y_true[m], Y_pred[m], nodes, [langs[i] for i in np.flatnonzero(m)],
                                        docs=[docs[i] for i in np.flatnonzero(m)])
            per_file.append(summary_of_file.assign(file=src))
        by_file = pd.concat(per_file, ignore_index=True)
        by_file = by_file[["file", *[c for c in by_file.columns if c != "file"]]]
        write_csv(by_file, out / f"{stem}_by_file.csv")
    write_csv(pd.DataFrame([cells]), out / f"{stem}_documents.csv")
    write_csv(rel, out / f"{stem}_reliability.csv")
    pd.set_option("display.width", 200)
    print(f"# {run.desc}")
    print(per_node[per_node["support"] + per_node["predicted"] > 0].to_string(index=False, na_rep=""))
    print("\n## calibration (probability band -> share coded)")
    print(rel.to_string(index=False, na_rep=""))
    if run.per_fold is not None:
        print("\n## per held-out group")
        print(run.per_fold.to_string(index=False, na_rep=""))
    if run.curve is not None:
        print("\n## learning curve (share of the training folds' documents; gain: over the smallest share, "
              "with its 95% interval, documents resampled in pairs)")
        print(run.curve.to_string(index=False, na_rep=""))
    print(f"\n## document x node cells (documents coded article by article: >= {FULLY_CODED} coded passages, "
          "numbered from 1 with none left out)")
    print("  ".join(f"{k} {v}" for k, v in cells.items()))
    if by_file is not None:
        print("\n## each coded file on its own")
        print(by_file[["file", "lang", "passages", "labels", "micro_f1", "micro_f1_low", "micro_f1_high",
                       "micro_precision", "micro_recall"]]
              .to_string(index=False, na_rep=""))
    print()
    print(summary.to_string(index=False, na_rep=""))
    written = [f"{stem}_{x}.csv" for x in ("nodes", "summary", "reliability", "documents", "passages")] + \
        ([f"{stem}_by_file.csv"] if by_file is not None else []) + \
        ([f"{stem}_folds.csv"] if run.per_fold is not None else []) + \
        ([f"{stem}_curve.csv"] if run.curve is not None else [])
    print(f"\nwritten in {out}: {', '.join(written)}", file=sys.stderr)


def _latest_coders(gold_paths: list[Path]) -> dict[str, str]:
    """Each passage id's coder on its last line in these files, read in read_coded's order (the coded store is
    appended to as codings are imported: its last line is the latest)."""
    latest: dict[str, str] = {}
    for p in coded_files(gold_paths):
        for line in p.read_text(encoding="utf-8-sig").splitlines():
            r = json.loads(line) if line.strip() else None  # read_coded has read every line already
            if isinstance(r, dict) and "id" in r and isinstance(r.get("coder"), str):
                latest[str(r["id"])] = r["coder"]
    return latest


def _manifest_beside(gold_paths: list[Path]) -> Path | None:
    """The manifest of the corpus a coded file was drawn from, when it sits beside it (gold/ and corpus/ in
    one folder, ids relative to corpus/)."""
    for p in gold_paths:
        m = p.resolve().parent.parent / "corpus" / "manifest.csv"
        if m.is_file():
            return m
    return None
