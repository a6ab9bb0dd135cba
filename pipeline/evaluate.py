"""Agreement between the classifier and careful human coding.

Per-node precision/recall/F1 and support, micro- and macro-F1 per language and overall, and
Krippendorff's alpha over every (passage, node) decision. With `cv`, the model is cross-validated on
the coded file with folds grouped by document, so no document's passages are on both sides.
"""
from __future__ import annotations

import sys
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from .classify import PassageClassifier, doc_groups, fit_model, read_coded, resolve_model, tokenize_frame
from .io import write_csv
from .taxonomy import Taxonomy, load_taxonomy

MIN_SUPPORT_FOR_MACRO = 5


def label_matrix(label_lists, nodes: list[str]) -> np.ndarray:
    col = {n: j for j, n in enumerate(nodes)}
    Y = np.zeros((len(label_lists), len(nodes)), dtype=np.int8)
    for i, ls in enumerate(label_lists):
        for l in ls:
            if l in col:
                Y[i, col[l]] = 1
    return Y


def alpha(Y_true: np.ndarray, Y_pred: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) treating gold and predictions as two coders of each passage x node."""
    data = np.vstack([Y_true.ravel(), Y_pred.ravel()]).astype(float)
    if len(np.unique(data)) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def scores(Y_true: np.ndarray, Y_pred: np.ndarray, nodes: list[str], langs: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-node table, summary table) for one set of predictions."""
    p, r, f, s = precision_recall_fscore_support(Y_true, Y_pred, average=None, zero_division=0)
    per_node = pd.DataFrame({"node": nodes, "precision": p.round(4), "recall": r.round(4), "f1": f.round(4),
                             "support": s.astype(int), "predicted": Y_pred.sum(axis=0).astype(int)})
    rows = []
    langs = np.asarray(langs)
    for lang in ["all", *sorted(set(langs))]:
        m = np.ones(len(langs), bool) if lang == "all" else langs == lang
        yt, yp = Y_true[m], Y_pred[m]
        sup = yt.sum(axis=0)
        frequent = sup >= MIN_SUPPORT_FOR_MACRO
        rows.append({
            "lang": lang, "passages": int(m.sum()), "labels": int(yt.sum()),
            "micro_f1": round(f1_score(yt, yp, average="micro", zero_division=0), 4),
            "micro_precision": round(_micro(yt, yp, "p"), 4), "micro_recall": round(_micro(yt, yp, "r"), 4),
            "macro_f1": round(float(np.mean(f1_score(yt[:, sup > 0], yp[:, sup > 0], average=None, zero_division=0)))
                              if (sup > 0).any() else 0.0, 4),
            f"macro_f1_support{MIN_SUPPORT_FOR_MACRO}": round(float(np.mean(
                f1_score(yt[:, frequent], yp[:, frequent], average=None, zero_division=0))) if frequent.any() else 0.0, 4),
            "krippendorff_alpha": round(alpha(yt, yp), 4),
        })
    return per_node, pd.DataFrame(rows)


def _micro(yt, yp, which):
    tp = int((yt & yp).sum())
    d = int(yp.sum()) if which == "p" else int(yt.sum())
    return tp / d if d else 0.0


def predict_labels(clf: PassageClassifier, coded: pd.DataFrame, tokens) -> list[list[str]]:
    preds = clf.predict(coded["text"].tolist(), coded["lang"].tolist(), tokens)
    return [[l.node for l in labels] for labels in preds]


def cross_validate(taxonomy: Taxonomy, coded: pd.DataFrame, k: int, extra: pd.DataFrame | None = None,
                   **params) -> list[list[str]]:
    """Out-of-fold predictions for every coded passage (folds grouped by document)."""
    tokens = tokenize_frame(coded, taxonomy)
    extra_tokens = tokenize_frame(extra, taxonomy) if extra is not None and len(extra) else []
    groups = doc_groups(coded["id"].tolist())
    preds: list[list[str]] = [[] for _ in range(len(coded))]
    for fold, (tr, te) in enumerate(GroupKFold(n_splits=k).split(coded, groups=groups), start=1):
        train = coded.iloc[tr]
        train_tokens = [tokens[i] for i in tr]
        train_groups = [groups[i] for i in tr]
        if extra is not None and len(extra):
            train = pd.concat([train, extra], ignore_index=True)
            train_tokens = train_tokens + extra_tokens
            train_groups = train_groups + doc_groups(extra["id"].tolist())
        model = fit_model(taxonomy, train.reset_index(drop=True), tokens=train_tokens, groups=train_groups, **params)
        clf = PassageClassifier(taxonomy, model)
        test = coded.iloc[te].reset_index(drop=True)
        for i, labels in zip(te, predict_labels(clf, test, [tokens[i] for i in te])):
            preds[i] = labels
        print(f"  fold {fold}/{k}: trained on {len(train)}, tested on {len(te)}", file=sys.stderr)
    return preds


def evaluate_cli(args) -> None:
    tax = load_taxonomy(args.taxonomy)
    gold = read_coded([Path(args.gold)])
    nodes = [n for n in tax.leaf_ids]
    if args.cv:
        extra = read_coded([Path(p) for p in args.train.split(",")]) if args.train else None
        preds = cross_validate(tax, gold, args.cv, extra)
        desc = f"{args.cv}-fold cross-validation grouped by document on {args.gold}"
    else:
        model, desc = resolve_model(args.model, Path(args.taxonomy), tax)
        clf = PassageClassifier(tax, model)
        preds = predict_labels(clf, gold, tokenize_frame(gold, tax))
        desc = f"model {desc} on {args.gold}"
    Y_true = label_matrix(gold["labels"], nodes)
    Y_pred = label_matrix(preds, nodes)
    per_node, summary = scores(Y_true, Y_pred, nodes, gold["lang"].tolist())
    out = Path(args.out)
    stem = "evaluation_cv" if args.cv else "evaluation"
    write_csv(per_node, out / f"{stem}_nodes.csv")
    write_csv(summary.assign(setting=desc), out / f"{stem}_summary.csv")
    pd.set_option("display.width", 200)
    print(f"# {desc}")
    print(per_node[per_node["support"] + per_node["predicted"] > 0].to_string(index=False))
    print()
    print(summary.to_string(index=False))
    print(f"\nwritten: {out / (stem + '_nodes.csv')}, {out / (stem + '_summary.csv')}", file=sys.stderr)
