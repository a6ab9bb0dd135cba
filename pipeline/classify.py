"""Stage 4: tokenized passages in, labels with evidence out.

`PassageClassifier` is the one interface the stage uses. It combines the taxonomy lexicon (always on, the
source of evidence) with an optional supervised `PassageModel`. A node the model was trained on is decided
by the model's calibrated score together with the lexicon (see PassageModel for how the two combine); a node
it has not seen enough examples of is decided by the lexicon alone. Passages in which no node's own terms
occur skip the model: it keeps unrelated articles (most of a real corpus) from being labelled on vocabulary
alone, and it is most of the stage's speed.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .io import ConfigError
from .lexicon import RULE_TERM, TERM, LexiconMatcher
from .schemas import LABELS
from .taxonomy import Taxonomy, load_taxonomy

if TYPE_CHECKING:  # the model pulls in scikit-learn; only workers and training need it
    from .model import PassageModel

log = logging.getLogger(__name__)
GATE_ROLES = (TERM, RULE_TERM, "pattern", "rule_pattern")


@dataclass
class Label:
    node: str
    score: float
    source: str
    evidence: list[dict]


class PassageClassifier:
    """Lexicon + optional model behind one `predict` call."""

    def __init__(self, taxonomy: Taxonomy, model: PassageModel | None = None):
        self.taxonomy = taxonomy
        self.matcher = LexiconMatcher(taxonomy)
        self.model = model
        self.leaf_ids = taxonomy.leaf_ids
        self._group_children = [(g, frozenset(taxonomy.children(g.id))) for g in taxonomy.groups]
        if model is not None and list(model.nodes_) != self.leaf_ids:
            missing = sorted(set(self.leaf_ids) - set(model.nodes_))
            raise ValueError(f"model nodes differ from the taxonomy's leaves (missing: {missing[:5]})")

    def predict(self, texts: list[str], langs: list[str], tokens: list[list[str]],
                groups: list[str] | None = None, scores: list[dict] | None = None) -> list[list[Label]]:
        """Labels (leaves only) for each passage, each with its evidence.

        `groups` (document ids, passages of a document consecutive) only speeds up lexicon matching. If a
        list is passed as `scores`, it receives per passage every leaf's score: the model's probability for
        nodes it was trained on (0 where no lexicon entry occurs), else 1/0 for the lexicon's decision.
        """
        decisions, gated = [], []
        for i, hits in enumerate(self.matcher.match_many(texts, langs, groups)):
            decisions.append(self.matcher.decide(texts[i], langs[i], hits) if hits else {})
            # the model looks only at passages where some node's own vocabulary occurs (not mere context)
            if any(h.role in GATE_ROLES for h in hits):
                gated.append(i)
        out: list[list[Label]] = [[] for _ in texts]
        col = {n: j for j, n in enumerate(self.leaf_ids)}
        proba = None
        if self.model is not None and gated:
            lex = np.zeros((len(gated), len(self.leaf_ids)), dtype=np.float32)
            for r, i in enumerate(gated):
                for node in decisions[i]:
                    lex[r, col[node]] = 1.0
            X = {"text": [texts[i] for i in gated], "tokens": [tokens[i] for i in gated], "lexicon": lex}
            proba = self.model.predict_proba(X)
            model_only = []
        for r, i in enumerate(gated if proba is not None else []):
            for j, node in enumerate(self.leaf_ids):
                if not self.model.trained_[j]:
                    continue
                p = float(proba[r, j])
                lexical = node in decisions[i]
                if (lexical and p >= self.model.veto_threshold) or \
                        p >= max(self.model.thresholds_[j], self.model.add_threshold):
                    ev = _evidence(decisions[i].get(node, []))
                    src = "lexicon+model" if lexical else "model"
                    out[i].append(Label(node, round(p, 4), src, ev))
                    if not ev:
                        model_only.append((r, j, i, len(out[i]) - 1))
        if proba is not None and model_only:
            X = {"tokens": [tokens[i] for i in gated]}
            tops = self.model.top_features(X, [(r, j) for r, j, _, _ in model_only])
            for r, j, i, k in model_only:
                out[i][k].evidence = [_feature_evidence(texts[i], f) for f in tops[(r, j)]]
        for i, dec in enumerate(decisions):
            for node, hits in dec.items():
                j = col[node]
                if self.model is not None and self.model.trained_[j]:
                    continue
                out[i].append(Label(node, 1.0, "lexicon", _evidence(hits)))
        for labels in out:
            labels.sort(key=lambda lab: col[lab.node])
        if scores is not None:
            trained = self.model.trained_ if self.model is not None else np.zeros(len(self.leaf_ids), bool)
            row_of = {i: r for r, i in enumerate(gated)} if proba is not None else {}
            for i, dec in enumerate(decisions):
                r = row_of.get(i)
                scores.append({n: (round(float(proba[r, j]), 4) if r is not None else 0.0) if trained[j]
                               else (1.0 if n in dec else 0.0) for j, n in enumerate(self.leaf_ids)})
        return out

    def rollup(self, labels: list[Label]) -> list[Label]:
        """Group labels for measure groups whose leaves were labelled (score = best leaf)."""
        groups = []
        for g, children in self._group_children:
            kids = [lab for lab in labels if lab.node in children]
            if kids:
                groups.append(Label(g.id, max(k.score for k in kids), "rollup",
                                    [{"term": k.node, "start": -1, "end": -1, "rule": "leaf"} for k in kids]))
        return groups


def _evidence(hits) -> list[dict]:
    seen, out = set(), []
    for h in hits:
        k = (h.term, h.start, h.end)
        if k not in seen:
            seen.add(k)
            out.append({"term": h.term, "start": h.start, "end": h.end, "rule": h.role})
    return out


def _feature_evidence(text: str, feature: str) -> dict:
    probe = feature.split(" ")[0]
    start = text.lower().find(probe)
    return {"term": feature, "start": start, "end": start + len(probe) if start >= 0 else -1, "rule": "model"}


# ---------------------------------------------------------------------------------------- model files

def examples_paths(taxonomy_dir: Path) -> list[Path]:
    return sorted((Path(taxonomy_dir) / "examples").glob("*.jsonl"))


def read_coded(paths: list[Path]) -> pd.DataFrame:
    """Coded passages (gold format: id, text, lang optional, labels) from one or more JSON-lines files."""
    from .ingest import detect_lang

    rows = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise ConfigError(f"{p}: coded file not found")
        for n, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{p} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(r, dict) or "text" not in r:
                raise ConfigError(f"{p} line {n}: needs at least 'text'")
            rows.append({"id": str(r.get("id", f"{p.name}#{n}")), "text": r["text"],
                         "lang": r.get("lang") or detect_lang(r["text"]), "labels": list(r.get("labels") or []),
                         "source": p.name})
    return pd.DataFrame(rows, columns=["id", "text", "lang", "labels", "source"])


def doc_groups(ids: list[str]) -> list[str]:
    """The document part of gold ids '<doc>#<n>' (so cross-validation never splits a document)."""
    return [i.rsplit("#", 1)[0] for i in ids]


def fit_model(taxonomy: Taxonomy, coded: pd.DataFrame, *, tokens: list[list[str]] | None = None,
              groups: list[str] | None = None, **params) -> PassageModel:

    leaf = taxonomy.leaf_ids
    unknown = sorted({l for ls in coded["labels"] for l in ls} - set(taxonomy.by_id))
    if unknown:
        raise ConfigError(f"coded data uses node IDs not in the taxonomy: {', '.join(unknown[:8])}")
    if tokens is None:
        tokens = tokenize_frame(coded, taxonomy)
    matcher = LexiconMatcher(taxonomy)
    X = {"text": coded["text"].tolist(), "tokens": tokens,
         "lexicon": matcher.features(coded["text"].tolist(), coded["lang"].tolist())}
    Y = np.array([[1 if n in ls else 0 for n in leaf] for ls in coded["labels"]], dtype=np.int8)
    from .model import PassageModel

    return PassageModel(nodes=tuple(leaf), **params).fit(X, Y, groups=groups)


def tokenize_frame(df: pd.DataFrame, taxonomy: Taxonomy) -> list[list[str]]:
    from .tokenize import tokenize_by_lang

    return tokenize_by_lang(df["text"].tolist(), df["lang"].tolist(), tuple(sorted(taxonomy.all_terms("zh"))))


def default_model_dir(taxonomy_dir: Path) -> Path:
    """Where the default model (own examples + lexicons) is cached, keyed by what it is trained from."""
    tax = load_taxonomy(taxonomy_dir)
    h = hashlib.sha256(tax.sha256.encode())
    for p in examples_paths(taxonomy_dir):
        h.update(p.read_bytes())
    return Path(taxonomy_dir).resolve().parent / "models" / f"default-{h.hexdigest()[:12]}"


def default_model(taxonomy_dir: Path, taxonomy: Taxonomy) -> Path | None:
    """The folder of the default model, trained first if it is not there yet (None: no examples)."""
    paths = examples_paths(taxonomy_dir)
    if not paths:
        log.warning("no training examples under %s/examples; classifying with the lexicon alone", taxonomy_dir)
        return None
    d = default_model_dir(taxonomy_dir)
    if not (d / "model.json").exists():
        log.info("training the default model from %s", ", ".join(p.name for p in paths))
        fit_model(taxonomy, read_coded(paths)).save(d)
    return d


def model_path(model: str | None, taxonomy_dir: Path, taxonomy: Taxonomy) -> str:
    """Which model to classify with, as a path (or 'lexicon'), checked but not loaded."""
    if model == "lexicon":
        return "lexicon"
    if model:
        if not (Path(model) / "model.json").is_file():
            raise ConfigError(f"{model}: not a model folder (no model.json); train one with `make train`")
        return str(model)
    d = default_model(taxonomy_dir, taxonomy)
    return str(d) if d is not None else "lexicon"


def resolve_model(model: str | None, taxonomy_dir: Path, taxonomy: Taxonomy) -> tuple[PassageModel | None, str]:
    """The model to classify with (loaded) and its path for run.json."""
    path = model_path(model, taxonomy_dir, taxonomy)
    if path == "lexicon":
        return None, path
    from .model import PassageModel

    try:
        return PassageModel.load(path), path
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# ---------------------------------------------------------------------------------------- the stage

def classifier_key(taxonomy: Taxonomy, model_path: str) -> str:
    """Identifies what labels were made with: a change of taxonomy or model invalidates reused labels."""
    h = hashlib.sha256(taxonomy.sha256.encode())
    p = Path(model_path)
    for f in ("model.json", "arrays.npz"):
        if (p / f).exists():
            h.update((p / f).read_bytes())
    h.update(str(model_path).encode() if not p.exists() else b"")
    return h.hexdigest()[:16]


def labels_frame(clf: PassageClassifier, passages: pd.DataFrame, tokens: pd.DataFrame) -> pd.DataFrame:
    """The labels table (leaves and roll-ups) for the tokenized passages of one chunk, in passage order."""
    cols = list(LABELS.columns)
    if not len(tokens):
        return pd.DataFrame(columns=cols)
    merged = tokens.merge(passages[["passage_id", "text", "lang", "region"]], on="passage_id", how="left",
                          validate="one_to_one")
    preds = clf.predict(merged["text"].tolist(), merged["lang"].tolist(), [list(t) for t in merged["tokens"]],
                        merged["doc_id"].tolist())
    rows = []
    for (pid, did, reg, h), labels in zip(merged[["passage_id", "doc_id", "region", "content_hash"]]
                                          .itertuples(index=False), preds):
        for l in labels + clf.rollup(labels):
            rows.append((pid, did, reg, l.node, l.score, l.source, json.dumps(l.evidence, ensure_ascii=False), h))
    return pd.DataFrame(rows, columns=cols)


def classify_jsonl(in_path: Path, out_path: Path, taxonomy: Taxonomy, model: PassageModel | None) -> int:
    """Classify a JSON-lines file of {"id","text"[,"lang"]}; write predictions in the same order."""
    from .io import write_bytes_atomic

    coded = read_coded([in_path])
    toks = tokenize_frame(coded, taxonomy)
    clf = PassageClassifier(taxonomy, model)
    scores: list[dict] = []
    preds = clf.predict(coded["text"].tolist(), coded["lang"].tolist(), toks, scores=scores)
    lines = []
    for pid, labels, sc in zip(coded["id"], preds, scores):
        lines.append(json.dumps({
            "id": pid, "labels": [l.node for l in labels],
            "groups": [g.node for g in clf.rollup(labels)],
            "scores": sc,
            "evidence": {l.node: [e["term"] for e in l.evidence] for l in labels},
        }, ensure_ascii=False))
    write_bytes_atomic(Path(out_path), ("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)
