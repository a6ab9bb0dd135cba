"""Simulates the review loop on the coded passages in ../shared/gold (not shipped) and reports the curve.

A set of regions plays "a researcher's new corpus": its documents are split into a pool and a test half. The
model is trained on the other coded passages plus the taxonomy's examples; `review` picks N passages of the
pool, their coded labels stand in for the researcher, and the model is trained again with them. The same is
done with N random picks (several seeds). Micro-F1 on the test half is reported for each, at several N.

    .venv/bin/python bench/review_sim.py [--n 25,50,100] [--seeds 3] [--swap] [--coded-weight 6]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.classify import (PassageClassifier, examples_paths, fit_model, label_matrix, read_coded,  # noqa: E402
                               tokenize_frame)
from pipeline.evaluate import micro_f1_gain_interval, predict, region_groups, scores  # noqa: E402
from pipeline.review import pick, score_pool  # noqa: E402
from pipeline.coded import CODED_WEIGHT  # noqa: E402
from pipeline.taxonomy import load_taxonomy  # noqa: E402

SHARED = ROOT.parent / "shared"
NEW_CORPUS = ("CN-BJ", "US:en/us/usc-15-ch14A.md", "US:en/us/usc-7-ch64.md", "US:en/us/usc-15-ch101.md")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="25,50,100")
    ap.add_argument("--seeds", type=int, default=3)
    # the weight `make train` gives the coded store: the loop as a researcher runs it
    ap.add_argument("--coded-weight", type=float, default=CODED_WEIGHT)
    # the other half of each new region's documents as the pool (and the first as the test half): a second,
    # independent measurement on a test half this small
    ap.add_argument("--swap", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "review_sim.json"))
    args = ap.parse_args()
    tax = load_taxonomy(ROOT / "taxonomy")
    gold = read_coded([SHARED / "gold" / "dev.jsonl", SHARED / "gold" / "train.jsonl"])
    groups = region_groups(gold["id"].tolist(), SHARED / "corpus" / "manifest.csv")
    tokens = tokenize_frame(gold, tax)
    examples = read_coded(examples_paths(ROOT / "taxonomy"))
    ex_tokens = tokenize_frame(examples, tax)
    new = np.array([g in NEW_CORPUS for g in groups])
    docs = np.array([i.rsplit("#", 1)[0] for i in gold["id"]])
    # split each new region's documents by size, alternately, so pool and test both hold every region
    pool_docs = set()
    for g in NEW_CORPUS:
        sizes = pd.Series(docs[np.array(groups) == g]).value_counts()
        ordered = sorted(sizes.index, key=lambda d: (-sizes[d], d))
        pool_docs.update(ordered[0::2] if len(ordered) > 1 else [])
        if len(ordered) == 1:  # one statute: its paragraphs alternate instead
            pass
    single = [g for g in NEW_CORPUS if len(set(docs[np.array(groups) == g])) == 1]
    in_pool = np.isin(docs, list(pool_docs))
    for g in single:  # a US Code chapter is one document: its first and second halves
        idx = np.flatnonzero(np.array(groups) == g)
        in_pool[idx[: len(idx) // 2]] = True
    if args.swap:
        in_pool = ~in_pool
    pool_idx = np.flatnonzero(new & in_pool)
    test_idx = np.flatnonzero(new & ~in_pool)
    base_idx = np.flatnonzero(~new)
    test = gold.iloc[test_idx].reset_index(drop=True)
    test_tokens = [tokens[i] for i in test_idx]
    Y_test = label_matrix(test["labels"], tax.leaf_ids)
    test_docs = docs[test_idx]
    # the test half is small: each gain comes with its 95% interval, the test documents resampled in pairs
    gain = lambda a, b: micro_f1_gain_interval(Y_test, a, b, test_docs)  # noqa: E731

    def train_and_score(extra_idx) -> dict:
        idx = np.concatenate([base_idx, np.asarray(extra_idx, dtype=int)])
        data = pd.concat([gold.iloc[idx], examples], ignore_index=True)
        # the researcher's own coded passages weigh more (as `train` weighs the coded store)
        w = np.r_[np.ones(len(base_idx)), np.full(len(extra_idx), args.coded_weight), np.ones(len(examples))]
        model = fit_model(tax, data, tokens=[tokens[i] for i in idx] + list(ex_tokens), weights=w)
        labels, _ = predict(PassageClassifier(tax, model), test, test_tokens)
        P = label_matrix(labels, tax.leaf_ids)
        _, summ = scores(Y_test, P, tax.leaf_ids, test["lang"].tolist())
        return {r["lang"]: r["micro_f1"] for r in summ.to_dict("records")}, model, P

    t0 = time.time()
    base, model, P_base = train_and_score([])
    print(f"pool {len(pool_idx)} passages, test {len(test_idx)}, base training {len(base_idx)} + "
          f"{len(examples)} examples; base micro-F1 on test: {base}", file=sys.stderr)
    pool = gold.iloc[pool_idx].reset_index(drop=True)
    scored = score_pool(PassageClassifier(tax, model), pool, [tokens[i] for i in pool_idx])
    result = {"pool": int(len(pool_idx)), "test": int(len(test_idx)), "base": base, "new_corpus": NEW_CORPUS,
              "swapped": args.swap, "coded_weight": args.coded_weight,
              "runs": []}
    for n in [int(x) for x in args.n.split(",")]:
        picked = pick(pool, scored["proba"], scored["lexicon"], model, n, set(), scored["vectors"])
        chosen = pool_idx[picked["index"].to_numpy()]
        rev, _, P_rev = train_and_score(chosen)
        rand, over_random = [], []
        for seed in range(args.seeds):
            r = np.random.default_rng(100 + seed).choice(pool_idx, size=min(n, len(pool_idx)), replace=False)
            f1, _, P_rand = train_and_score(r)
            rand.append(f1)
            over_random.append(gain(P_rev, P_rand))
        rand_mean = {k: round(float(np.mean([x[k] for x in rand])), 4) for k in rand[0]}
        row = {"n": n, "review": rev, "random_mean": rand_mean, "random_runs": rand,
               "picked_with_labels": int(sum(1 for i in chosen if gold["labels"].iloc[i])),
               "gain_over_base_interval": gain(P_rev, P_base), "gain_over_each_random_interval": over_random}
        result["runs"].append(row)
        print(f"N={n}: review {rev} | random (mean of {args.seeds}) {rand_mean} | review gain over base "
              f"{rev['all'] - base['all']:+.3f} (95% interval {row['gain_over_base_interval']}), over random "
              f"{rev['all'] - rand_mean['all']:+.3f} (against each random run: {over_random})", file=sys.stderr)
    result["seconds"] = round(time.time() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
