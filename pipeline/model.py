"""The supervised passage model: a scikit-learn estimator over tokens, characters and lexicon decisions.

`PassageModel` keeps scikit-learn's contract: `__init__` stores parameters, `fit` learns (state ends in
`_`), `predict_proba`/`predict` never learn. Features are word n-gram TF-IDF over the tokenize stage's
tokens, character n-gram TF-IDF over the text, and the lexicon's per-node decisions; one logistic
regression per node, with a per-node threshold chosen on out-of-fold predictions.

Saved as JSON (parameters, vocabularies, thresholds) plus an .npz of plain arrays loaded with
`allow_pickle=False`, so loading a model file never executes anything.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, KFold

FORMAT = "uir-passage-model/1"


def _identity(x):
    return x


def _word_vectorizer(vocabulary=None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_identity, lowercase=False, sublinear_tf=True, vocabulary=vocabulary,
                           min_df=1 if vocabulary else 2)


def _char_vectorizer(vocabulary=None) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(2, 3), lowercase=True, sublinear_tf=True,
                           vocabulary=vocabulary, min_df=1 if vocabulary else 2, max_features=None if vocabulary else 60000)


def word_features(tokens: list[str]) -> list[str]:
    """Unigrams and bigrams of lower-cased tokens without punctuation."""
    toks = [t.lower() for t in tokens if any(c.isalnum() for c in t)]
    return toks + [a + " " + b for a, b in zip(toks, toks[1:])]


class PassageModel(BaseEstimator, ClassifierMixin):
    """Multi-label passage classifier (one logistic regression per node).

    X is a dict of parallel lists: {"text": [...], "tokens": [[...], ...], "lexicon": array (n x nodes)}.
    Y is a binary array (n x nodes) in the order of `nodes`.

    `predict` is the model alone. Combined with the lexicon (PassageClassifier), a lexicon label stands
    unless the model's score is below `veto_threshold`, and the model adds a label on its own only when its
    score reaches both the node threshold and `add_threshold`: lexicon evidence is what a researcher can
    check, so the model mostly prunes it and adds only what it is very sure of.
    """

    def __init__(self, nodes=(), C=8.0, lexicon_weight=3.0, min_positives=3, cv=4, class_weight="balanced",
                 add_threshold=0.9, veto_threshold=0.05, random_state=0):
        self.nodes = nodes
        self.add_threshold = add_threshold
        self.veto_threshold = veto_threshold
        self.C = C
        self.lexicon_weight = lexicon_weight
        self.min_positives = min_positives
        self.cv = cv
        self.class_weight = class_weight
        self.random_state = random_state

    # ------------------------------------------------------------------ features
    def _features(self, X, fit: bool = False):
        words = [word_features(t) for t in X["tokens"]]
        if fit:
            self.word_vec_ = _word_vectorizer().fit(words)
            self.char_vec_ = _char_vectorizer().fit(X["text"])
        lex = sp.csr_matrix(np.asarray(X["lexicon"], dtype=np.float64) * self.lexicon_weight)
        return sp.hstack([self.word_vec_.transform(words), self.char_vec_.transform(X["text"]), lex]).tocsr()

    def _fit_arrays(self, F, Y):
        n_feat = F.shape[1]
        W = np.zeros((Y.shape[1], n_feat))
        b = np.full(Y.shape[1], -30.0)  # a node never seen positive is never predicted by the model
        trained = np.zeros(Y.shape[1], dtype=bool)
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if y.sum() < self.min_positives or y.sum() == len(y):
                continue
            clf = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, solver="liblinear",
                                     random_state=self.random_state)
            clf.fit(F, y)
            W[j], b[j], trained[j] = clf.coef_[0], clf.intercept_[0], True
        return W, b, trained

    @staticmethod
    def _proba(F, W, b):
        z = F @ W.T + b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    # ------------------------------------------------------------------ contract
    def fit(self, X, Y, groups=None):
        Y = np.asarray(Y, dtype=np.int8)
        self.nodes_ = list(self.nodes)
        if Y.shape[1] != len(self.nodes_):
            raise ValueError(f"Y has {Y.shape[1]} columns but {len(self.nodes_)} nodes were given")
        # thresholds from out-of-fold probabilities: the in-sample ones are over-confident
        oof = np.zeros(Y.shape, dtype=np.float64)
        n = len(Y)
        splitter = (GroupKFold(n_splits=min(self.cv, len(set(groups)))) if groups is not None and len(set(groups)) > 1
                    else KFold(n_splits=min(self.cv, n), shuffle=True, random_state=self.random_state))
        for tr, te in splitter.split(np.zeros(n), Y, groups):
            sub = {k: _take(v, tr) for k, v in X.items()}
            F_tr = self._features(sub, fit=True)
            W, b, _ = self._fit_arrays(F_tr, Y[tr])
            oof[te] = self._proba(self._features({k: _take(v, te) for k, v in X.items()}), W, b)
        self.thresholds_ = np.full(len(self.nodes_), 0.5)
        grid = np.arange(0.2, 0.91, 0.05)
        for j in range(Y.shape[1]):
            if Y[:, j].sum() >= self.min_positives:
                scores = [f1_score(Y[:, j], oof[:, j] >= t, zero_division=0) for t in grid]
                # prefer the higher threshold on ties: false positives on unrelated articles are costly
                best = max(range(len(grid)), key=lambda i: (round(scores[i], 4), grid[i]))
                self.thresholds_[j] = float(grid[best])
        F = self._features(X, fit=True)
        self.coef_, self.intercept_, self.trained_ = self._fit_arrays(F, Y)
        self.positives_ = Y.sum(axis=0).astype(int)
        return self

    def predict_proba(self, X):
        return self._proba(self._features(X), self.coef_, self.intercept_)

    def predict(self, X):
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)

    def top_features(self, X, row_proba_nodes: list[tuple[int, int]], k: int = 3) -> dict:
        """For (row, node) pairs, the k word features that pushed the score up most (model evidence)."""
        words = [word_features(t) for t in X["tokens"]]
        Fw = self.word_vec_.transform(words).tocsr()
        names = self.word_vec_.get_feature_names_out()
        out = {}
        nw = Fw.shape[1]
        for r, j in row_proba_nodes:
            row = Fw.getrow(r)
            contrib = row.data * self.coef_[j, :nw][row.indices]
            order = np.argsort(-contrib)[:k]
            out[(r, j)] = [str(names[row.indices[i]]) for i in order if contrib[i] > 0]
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write the model folder atomically: concurrent runs never see a half-written model."""
        import os
        import shutil

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        meta = {
            "format": FORMAT, "params": {k: v for k, v in self.get_params().items() if k != "nodes"},
            "nodes": self.nodes_, "thresholds": self.thresholds_.tolist(), "trained": self.trained_.tolist(),
            "positives": self.positives_.tolist(),
            "word_vocabulary": {k: int(v) for k, v in self.word_vec_.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self.char_vec_.vocabulary_.items()},
        }
        (tmp / "model.json").write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True))
        np.savez_compressed(tmp / "arrays.npz", coef=self.coef_, intercept=self.intercept_,
                            word_idf=self.word_vec_.idf_, char_idf=self.char_vec_.idf_)
        if path.exists():
            shutil.rmtree(path)
        try:
            os.rename(tmp, path)
        except OSError:  # another process saved the same model first
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, path: str | Path) -> "PassageModel":
        path = Path(path)
        try:
            meta = json.loads((path / "model.json").read_text())
            arrays = np.load(path / "arrays.npz", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable model ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {meta.get('format')!r}, expected {FORMAT!r}")
        m = cls(nodes=tuple(meta["nodes"]), **meta["params"])
        m.nodes_ = list(meta["nodes"])
        m.thresholds_ = np.array(meta["thresholds"])
        m.trained_ = np.array(meta["trained"], dtype=bool)
        m.positives_ = np.array(meta["positives"], dtype=int)
        m.word_vec_ = _word_vectorizer(meta["word_vocabulary"])
        m.word_vec_.idf_ = arrays["word_idf"]
        m.char_vec_ = _char_vectorizer(meta["char_vocabulary"])
        m.char_vec_.idf_ = arrays["char_idf"]
        m.coef_, m.intercept_ = arrays["coef"], arrays["intercept"]
        return m


def _take(v, idx):
    if isinstance(v, np.ndarray):
        return v[idx]
    return [v[i] for i in idx]
