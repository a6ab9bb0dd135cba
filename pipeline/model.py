"""The passage classifier: one scikit-learn estimator that decides every node of the taxonomy.

`PolicyClassifier` keeps scikit-learn's contract: `__init__` stores parameters, `fit` learns (features, one
logistic regression per node, per-node calibration and thresholds), and `predict_proba` / `predict` never
learn. Features come from a `ColumnTransformer` over a passage table (columns `text`, `lang`, `tokens`,
`context`, and optionally `hits`, the lexicon matcher's hits):

- word unigrams and bigrams of the tokenize stage's tokens (TF-IDF);
- character n-grams of the text (TF-IDF): they carry Chinese compounds jieba splits differently;
- the lexicon, as evidence rather than verdict: per node, whether its terms, rule terms in context, or
  exclusion terms occur, and which coding convention (passage rule) the passage falls under;
- the passage's context (chapter heading and document title), as character n-grams, weighted down.

Scores are calibrated: out-of-fold decision values (folds grouped by document, so no document is on both
sides) are mapped to probabilities by Platt scaling per node, and each node's threshold is the one that
maximises F-beta on those out-of-fold probabilities. A node with fewer than `min_positives` coded examples
is decided by the lexicon alone (probability `lexicon_prior` where the lexicon decides it, else 0).

Saved as JSON (parameters, vocabularies, thresholds) plus an .npz of plain arrays loaded with
`allow_pickle=False`, so loading a model file never executes anything.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import fbeta_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import OneHotEncoder

from .lexicon import LexiconMatcher, shared_matcher
from .ngrams import CharTfidfVectorizer, WordTfidfVectorizer, word_features
from .taxonomy import LANGS, load_taxonomy

FORMAT = "uir-policy-classifier/3"


def _no_digits(text: str) -> str:
    """Article numbers and dates say nothing about a node; folding digits keeps them out of the n-grams."""
    return _NONZERO_DIGIT.sub("0", text)


# ASCII digits only; a regex substitution, since str.translate walks a non-ASCII string character by character
# through a dictionary (seven times slower here)
_NONZERO_DIGIT = re.compile("[1-9]")


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """The taxonomy lexicon as features: per node, four columns (term hit, rule hit in context, exclusion
    term present, the node's lexicon decision), then one column per passage rule (coding convention).

    Reads the `hits` column when the caller has matched already (the classifier keeps them as evidence),
    else matches `text` itself (with `tokens`, for Chinese word boundaries)."""

    def __init__(self, taxonomy: str = "taxonomy"):
        self.taxonomy = taxonomy

    def fit(self, X, y=None):
        tax = load_taxonomy(self.taxonomy)
        self.nodes_ = tax.leaf_ids
        self.rules_ = sorted({r.id for r in tax.passage_rules})
        return self

    def matcher(self) -> LexiconMatcher:
        return shared_matcher(load_taxonomy(self.taxonomy))

    def decision_columns(self) -> np.ndarray:
        """Each node's lexicon-decision column, in node order."""
        return len(_NODE_COLUMNS) * np.arange(len(self.nodes_)) + _NODE_COLUMNS.index("decision")

    @property
    def conventions_start(self) -> int:
        """The first convention column: the nodes' columns come before them."""
        return len(_NODE_COLUMNS) * len(self.nodes_)

    def transform(self, X):
        m = self.matcher()
        texts, langs = X["text"].tolist(), X["lang"].tolist()
        hits = X["hits"].tolist() if "hits" in X else m.match_many(texts, langs, tokens=X["tokens"].tolist())
        width = len(_NODE_COLUMNS)
        col = {n: j for j, n in enumerate(self.nodes_)}
        rule_col = {r: self.conventions_start + k for k, r in enumerate(self.rules_)}
        decision = _NODE_COLUMNS.index("decision")
        rows, cols = [], []
        for i, (text, lang, hs) in enumerate(zip(texts, langs, hits)):
            seen = set()
            for h in hs:
                if h.node not in col:
                    continue
                k = _ROLE_COLUMN.get(h.role)
                if k is not None:
                    seen.add(width * col[h.node] + k)
            # the passage rule is found once for the decision and the convention column (its regexes are the
            # costly part of both)
            rule = m.passage_rule(text, lang)
            decided = m.decide(text, lang, hs, rule=rule) if hs else {}
            seen.update(width * col[n] + decision for n in decided)
            if rule is not None:
                seen.add(rule_col[rule.id])
            rows += [i] * len(seen)
            cols += sorted(seen)
        shape = (len(texts), self.conventions_start + len(self.rules_))
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)

    def get_feature_names_out(self, input_features=None):
        return np.array([f"lexicon:{n}:{k}" for n in self.nodes_ for k in _NODE_COLUMNS]
                        + [f"convention:{r}" for r in self.rules_],
                        dtype=object)


# each node's lexicon columns, in this order
_NODE_COLUMNS = ("term", "rule", "exclude", "decision")
# a hit's role -> its column among its node's
_ROLE_COLUMN = {role: _NODE_COLUMNS.index(kind) for role, kind in (("term", "term"), ("pattern", "term"), ("rule", "rule"),
                                                                  ("rule_pattern", "rule"), ("exclude", "exclude"))}


def _progress(total: int, shown: bool):
    """A progress bar over `total` fits (tqdm, on stderr), or one that shows nothing."""
    from tqdm import tqdm

    return tqdm(total=total, desc="train: fits (folds, then all)", unit="fit", disable=not shown)


def _lexicon_columns(X) -> list[str]:
    return [c for c in ("text", "lang", "tokens", "hits") if c in X]


def feature_union(taxonomy: str, lexicon_weight: float, context_weight: float, char_ngrams=(1, 3),
                  vocabularies: dict | None = None) -> ColumnTransformer:
    """Word, character, lexicon and context features side by side (fixed vocabularies when loading a model)."""
    v = vocabularies or {}
    fixed = vocabularies is not None
    return ColumnTransformer([
        # word unigrams and bigrams, counted faster with a fixed vocabulary (see ngrams.py)
        ("words", WordTfidfVectorizer(analyzer=word_features, lowercase=False, sublinear_tf=True,
                                      min_df=1 if fixed else 2, vocabulary=v.get("words")), "tokens"),
        # character n-grams: scikit-learn's char_wb, counted faster with a fixed vocabulary (see ngrams.py)
        ("chars", CharTfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngrams),
                                      preprocessor=_lower_digits, sublinear_tf=True, min_df=1 if fixed else 2,
                                      max_features=None if fixed else 80000, vocabulary=v.get("chars")), "text"),
        ("lexicon", LexiconFeatures(taxonomy), _lexicon_columns),
        ("context", CharTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), preprocessor=_context_text,
                                        sublinear_tf=True, min_df=1 if fixed else 3,
                                        max_features=None if fixed else 5000, vocabulary=v.get("context")),
         "context"),
        # a per-node intercept for each language (through the per-node weights of these two columns)
        ("lang", OneHotEncoder(categories=[list(LANG_ORDER)], handle_unknown="ignore"), ["lang"]),
    ], transformer_weights={"words": 1.0, "chars": 1.0, "lexicon": lexicon_weight, "context": context_weight,
                            "lang": 1.0},
        sparse_threshold=1.0)


# the feature blocks a saved model holds as a vocabulary and idf weights
_TFIDF_BLOCKS = ("words", "chars", "context")


def _lower_digits(text: str) -> str:
    return _no_digits(text.lower())


def _context_text(text: str) -> str:
    # a constant word keeps the vocabulary from being empty when no passage has a context (own examples)
    return "ctx " + _no_digits(text.lower())


class PolicyClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label passage classifier over the taxonomy's leaves.

    X: a DataFrame with columns text, lang, tokens (list of str), context (str; may be empty) and optionally
    hits (the lexicon matcher's hits per passage). Y: a binary array (passages x leaves) in the order of the
    taxonomy's leaves. `groups` (document ids) keep a document's passages in one fold.
    """

    def __init__(self, taxonomy: str = "taxonomy", C: float = 1.0, lexicon_weight: float = 1.0,
                 context_weight: float = 0.3, char_ngrams=(1, 3), cv: int = 5, beta: float = 1.0,
                 min_positives: int = 4, lexicon_prior: float = 0.6, conventions: bool = True, gate: bool = True,
                 class_weight="balanced", random_state: int = 0, verbose: bool = False):
        self.taxonomy = taxonomy
        self.C = C
        self.lexicon_weight = lexicon_weight
        self.context_weight = context_weight
        self.char_ngrams = char_ngrams
        self.cv = cv
        self.beta = beta
        self.min_positives = min_positives
        self.lexicon_prior = lexicon_prior
        self.conventions = conventions
        self.gate = gate
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ learning
    def _node_regression(self) -> LogisticRegression:
        """The logistic regression that each node learns (unfitted)."""
        return LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear", max_iter=2000,
                                  random_state=self.random_state)

    def fit(self, X: pd.DataFrame, Y, groups=None, sample_weight=None):
        Y = np.asarray(Y, dtype=np.int8)
        self.nodes_ = load_taxonomy(self.taxonomy).leaf_ids
        if Y.shape[1] != len(self.nodes_):
            raise ValueError(f"Y has {Y.shape[1]} columns but the taxonomy has {len(self.nodes_)} leaves")
        X = self._frame(X)  # lexicon hits found once here, not again in every fold
        groups = np.asarray(groups if groups is not None else np.arange(len(X)))
        self.positives_ = Y.sum(axis=0).astype(int)
        self.training_texts_ = sorted({text_key(t) for t in X["text"]})
        self.trained_ = (self.positives_ >= self.min_positives) & (self.positives_ < len(Y))
        # out-of-fold decision values: calibration and thresholds must not see the passage they score
        oof = np.zeros(Y.shape)
        n_splits = min(self.cv, len(set(groups.tolist())))
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        folds = list(GroupKFold(n_splits=n_splits).split(X, groups=groups)) if n_splits >= 2 else []
        # with `verbose`, a bar over the fits (one per fold, then the whole): thousands of coded passages take
        # minutes, with nothing else said between the start and the end
        bar = _progress(len(folds) + 1, self.verbose)
        for tr, te in folds:
            oof[te] = self._fit_nodes(X.iloc[tr], Y[tr], w[tr]).decision(X.iloc[te])
            bar.update()
        lang_idx = _lang_index(X["lang"])
        self._fit_calibration(oof, Y, w, lang_idx, calibrated=bool(folds))
        self.oof_proba_ = self._calibrate(oof, lang_idx)
        fitted = self._fit_nodes(X, Y, w)
        self.features_, self.coef_, self.intercept_ = fitted.features, fitted.W, fitted.b
        bar.update()
        bar.close()
        return self

    def _fit_calibration(self, oof: np.ndarray, Y: np.ndarray, w: np.ndarray, lang_idx: np.ndarray,
                         calibrated: bool) -> None:
        """Each trained node's calibration and threshold per language, from its out-of-fold decision values
        (`calibrated` False: there were no folds, so no calibration, only thresholds)."""
        # per language: Chinese regulations and US statutes differ in how often a node's words come with the
        # node itself; a language with too few coded positives of a node takes the node's pooled figures. Both
        # are weighted as the passages are: passages of the researcher's own corpus (the coded store, weighted up
        # by `train`) then move where a node fires on that corpus, not only its coefficients (review simulation,
        # 100 reviewed passages: 0.567 -> 0.602 on one split of the test half, 0.669 -> 0.667 on the other; the
        # gain over random picks grew on both)
        self.calibration_ = np.zeros((len(self.nodes_), len(LANG_ORDER), 2))  # (slope, intercept)
        self.thresholds_ = np.full((len(self.nodes_), len(LANG_ORDER)), 0.5)
        for j in np.flatnonzero(self.trained_):
            pooled = _node_calibration(oof[:, j], Y[:, j], w, self.beta, calibrated)
            for k in range(len(LANG_ORDER)):
                m = lang_idx == k
                y = Y[m, j]
                own = calibrated and y.sum() >= self.min_positives and (y == 0).any()
                self.calibration_[j, k], self.thresholds_[j, k] = (
                    _node_calibration(oof[m, j], y, w[m], self.beta, calibrated=True) if own else pooled)

    def _fit_nodes(self, X, Y, w) -> "_Fitted":
        """Fit features and one logistic regression per node; nodes without both classes get coefficients
        that never fire."""
        features = feature_union(self.taxonomy, self.lexicon_weight, self.context_weight, self.char_ngrams)
        F = features.fit_transform(X)
        W = np.zeros((Y.shape[1], F.shape[1]))
        b = np.full(Y.shape[1], -30.0)
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if 0 < y.sum() < len(y):
                clf = self._node_regression().fit(F, y, sample_weight=w)
                W[j], b[j] = clf.coef_[0], clf.intercept_[0]
        return _Fitted(features, W, b)

    # ------------------------------------------------------------------ prediction
    def _frame(self, X) -> pd.DataFrame:
        """The passage table with a context column and the lexicon's hits (matched here if not given)."""
        X = _as_passage_table(X)
        if "hits" not in X:
            X = X.assign(hits=LexiconFeatures(self.taxonomy).matcher().match_many(
                X["text"].tolist(), X["lang"].tolist(), tokens=X["tokens"].tolist()))
        return X

    def decision_function(self, X) -> np.ndarray:
        return _Fitted(self.features_, self.coef_, self.intercept_).decision(self._frame(X))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probability of every leaf for every passage (passages x leaves).

        With `gate`, a passage in which no lexicon entry occurs (no node's terms, context words or the
        taxonomy's domain words) is not scored (probability 0): most articles of a real corpus are about other
        things, and skipping them is most of the classifier's speed."""
        X = self._frame(X)
        proba = np.zeros((len(X), len(self.nodes_)))
        rows = np.flatnonzero(X["hits"].map(bool).to_numpy()) if self.gate else np.arange(len(X))
        if not len(rows):
            return proba
        sub = X.iloc[rows]
        F = self.features_.transform(sub)
        z = np.asarray(F @ self.coef_.T) + self.intercept_
        part = self._calibrate(z, _lang_index(sub["lang"]))
        untrained = ~self.trained_
        if untrained.any():
            lex = self._lexicon_decisions(F, sub)
            part[:, untrained] = lex[:, untrained] * self.lexicon_prior
        if self.conventions:
            self._apply_conventions(sub, part, F)
        proba[rows] = part
        return proba

    def _apply_conventions(self, X: pd.DataFrame, proba: np.ndarray, F=None) -> None:
        """The codebook's conventions over whole passages (definitions, purpose, scope, effective dates get no
        label; penalty clauses only measure.ip.legal) are rules, not tendencies: the taxonomy's passage rules
        cap the probability of every node they do not allow."""
        col = {n: j for j, n in enumerate(self.nodes_)}
        for i, rule in self._passage_rules(X, F).items():
            allowed = [col[n] for n in rule.allow if n in col]
            keep = proba[i, allowed].copy()
            proba[i] = np.minimum(proba[i], 0.01)
            proba[i, allowed] = keep

    def _passage_rules(self, X: pd.DataFrame, F=None) -> dict:
        """Row -> the passage rule the passage falls under, for the rows that fall under one.

        `F`: the passages' features, whose convention columns say which rule fired (the lexicon features found
        it); without them, or where the rule's id does not name one rule, the rule is found again."""
        m = LexiconFeatures(self.taxonomy).matcher()
        texts, langs = X["text"].tolist(), X["lang"].tolist()
        # lexicon_weight 0 scales the lexicon's columns, the conventions' among them, to zero: they say nothing
        if F is None or not self.lexicon_weight:
            found = {i: m.passage_rule(text, lang) for i, (text, lang) in enumerate(zip(texts, langs))}
        else:
            by_id, found = _rules_by_id(self.taxonomy), {}
            for i, rule_id in self._fired_conventions(F).items():
                lang = langs[i] if langs[i] in LANGS else "en"
                found[i] = by_id.get((rule_id, lang)) or m.passage_rule(texts[i], langs[i])
        return {i: rule for i, rule in found.items() if rule is not None}

    def predict(self, X) -> np.ndarray:
        X = self._frame(X)
        return (self.predict_proba(X) >= self.thresholds_for(X["lang"])).astype(np.int8)

    def thresholds_for(self, langs) -> np.ndarray:
        """Each passage's threshold for each node (passages x leaves), by the passage's language."""
        return self.thresholds_[:, _lang_index(langs)].T

    def _calibrate(self, z: np.ndarray, lang_idx: np.ndarray) -> np.ndarray:
        cal = self.calibration_[:, lang_idx, :]  # nodes x passages x 2
        return _sigmoid(z * cal[:, :, 0].T + cal[:, :, 1].T)

    def _fired_conventions(self, F) -> dict[int, str]:
        """Row -> the id of the passage rule whose convention column is set in the features `F`."""
        lexicon = self.features_.named_transformers_["lexicon"]
        start = self._block("lexicon") + lexicon.conventions_start
        C = sp.csr_matrix(F)[:, start:start + len(lexicon.rules_)]
        C.eliminate_zeros()
        rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
        return {int(r): lexicon.rules_[int(k)] for r, k in zip(rows, C.indices)}

    def _lexicon_decisions(self, F, X) -> np.ndarray:
        """The lexicon's own decision columns: read back out of the passages' features `F`, or, where
        lexicon_weight 0 scaled them to nothing (an untrained node then never fired), made again from `X`."""
        lexicon = self.features_.named_transformers_["lexicon"]
        cols = lexicon.decision_columns()
        if not self.lexicon_weight:
            return (lexicon.transform(X)[:, cols].toarray() > 0.5).astype(float)
        return (F[:, self._block("lexicon") + cols].toarray() / self.lexicon_weight > 0.5).astype(float)

    def _block(self, name: str) -> int:
        """The first column of the feature block `name` (KeyError for a block the features do not have)."""
        return self.features_.output_indices_[name].start

    def contributions(self, X, pairs: list[tuple[int, int]], k: int = 3) -> dict:
        """For (row, node) pairs, the k text features (word or character n-grams) that raised the node's
        score most in that passage: the evidence of a label no lexicon term carried."""
        X = self._frame(X)
        rows = sorted({r for r, _ in pairs})
        at = {r: k for k, r in enumerate(rows)}
        F = self.features_.transform(X.iloc[rows]).tocsr()
        names = self.features_.get_feature_names_out()
        out = {}
        for r, j in pairs:
            row = F.getrow(at[r])
            contrib = row.data * self.coef_[j, row.indices]
            keep = [(c, i) for c, i in zip(contrib, row.indices)
                    if c > 0 and str(names[i]).startswith(("words__", "chars__"))]
            keep.sort(key=lambda t: -t[0])
            out[(r, j)] = [str(names[i]).split("__", 1)[1] for _, i in keep[:k]]
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, info: dict | None = None) -> None:
        """Write the model folder atomically: concurrent runs never see a half-written model."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        blocks = self.features_.named_transformers_
        meta = {
            "format": FORMAT,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()
                       if k not in ("taxonomy", "verbose")},
            "taxonomy_sha256": load_taxonomy(self.taxonomy).sha256,
            "nodes": self.nodes_, "thresholds": self.thresholds_.tolist(), "trained": self.trained_.tolist(),
            "positives": self.positives_.tolist(), "calibration": self.calibration_.tolist(),
            "vocabularies": {n: {k: int(v) for k, v in blocks[n].vocabulary_.items()} for n in _TFIDF_BLOCKS},
            "training_texts": self.training_texts_,
            "info": info or {},
        }
        (tmp / "model.json").write_text(json.dumps(meta, ensure_ascii=False, sort_keys=True))
        np.savez_compressed(tmp / "arrays.npz", coef=self.coef_, intercept=self.intercept_,
                            **{f"idf_{n}": blocks[n].idf_ for n in _TFIDF_BLOCKS})
        if path.exists():
            shutil.rmtree(path)
        try:
            os.rename(tmp, path)
        except OSError:  # another process saved the same model first
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, path: str | Path, taxonomy: str = "taxonomy") -> "PolicyClassifier":
        """A saved model, for the taxonomy it was trained with. Raises ValueError naming the file and the
        problem for anything that is not such a model."""
        path = Path(path)
        meta, arrays = _read_saved(path)
        tax = load_taxonomy(taxonomy)
        try:
            nodes = list(meta["nodes"])
            if nodes != tax.leaf_ids:
                raise ValueError(f"{path}: trained for other taxonomy nodes than {tax.path}'s (train it again)")
            m = cls(taxonomy=taxonomy, **{k: (tuple(v) if isinstance(v, list) else v)
                                          for k, v in meta["params"].items()})
            m.nodes_ = nodes
            n = len(nodes)
            m.thresholds_ = _array(meta["thresholds"], (n, len(LANG_ORDER)), "thresholds", path)
            m.trained_ = _array(meta["trained"], (n,), "trained", path).astype(bool)
            m.positives_ = _array(meta["positives"], (n,), "positives", path).astype(int)
            m.calibration_ = _array(meta["calibration"], (n, len(LANG_ORDER), 2), "calibration", path)
            m.features_ = m._saved_features(meta["vocabularies"], arrays, path)
            width = sum(len(t.get_feature_names_out()) for nm, t, _ in m.features_.transformers_ if nm != "remainder")
            m.coef_, m.intercept_ = arrays["coef"], arrays["intercept"]
            if m.coef_.shape != (n, width) or m.intercept_.shape != (n,):
                raise ValueError(f"{path}/arrays.npz: coef has shape {m.coef_.shape}, expected {(n, width)}")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}/model.json: missing or malformed field ({exc})") from None
        m.info_ = meta.get("info", {})
        # models saved before it was recorded do not say what they were trained on
        texts = meta.get("training_texts")
        m.training_texts_ = [str(t) for t in texts] if isinstance(texts, list) else None
        return m

    def _saved_features(self, vocabularies: dict, arrays: dict, path: Path) -> ColumnTransformer:
        """The feature union as fitted when the model was saved: its vocabularies and idf weights."""
        features = feature_union(self.taxonomy, self.lexicon_weight, self.context_weight, self.char_ngrams,
                                 vocabularies={k: dict(vocabularies[k]) for k in _TFIDF_BLOCKS})
        # fitting sets the transformers' state; with the vocabularies fixed and the idf replaced below, the
        # one passage it sees leaves no trace
        probe = pd.DataFrame({"text": ["a"], "lang": ["en"], "tokens": [["a"]], "context": [""], "hits": [[]]})
        features.fit(probe)
        for name in _TFIDF_BLOCKS:
            vec = features.named_transformers_[name]
            idf = arrays[f"idf_{name}"]
            if idf.shape != (len(vec.vocabulary_),):
                raise ValueError(f"{path}/arrays.npz: idf_{name} has shape {idf.shape}, expected "
                                 f"({len(vec.vocabulary_)},)")
            vec.idf_ = idf
        return features

    def seen_in_training(self, texts) -> np.ndarray | None:
        """Which of `texts` the model was trained on (a passage with the same text), or None when the model
        does not record it."""
        if self.training_texts_ is None:
            return None
        seen = set(self.training_texts_)
        return np.array([text_key(t) in seen for t in texts], dtype=bool)


def text_key(text: str) -> str:
    """A passage's text as recorded in a model: a short digest, so a model says what it was trained on
    without holding the researcher's coded text."""
    return hashlib.sha256(" ".join(str(text).split()).encode("utf-8")).hexdigest()[:16]


def _read_saved(path: Path) -> tuple[dict, dict]:
    """A model folder's model.json and arrays.npz (no pickles), or ValueError naming the file and the problem."""
    try:
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path / 'model.json'}: not a readable model ({exc.__class__.__name__}: {exc})") from None
    try:
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path / 'arrays.npz'}: not a readable model ({exc.__class__.__name__}: {exc})") from None
    except Exception as exc:  # a damaged zip raises zipfile.BadZipFile and others
        raise ValueError(f"{path}/arrays.npz: damaged ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path}: model format {found!r}, expected {FORMAT!r} (train it again with make train)")
    return meta, arrays


class _Fitted:
    """Fitted features and per-node weights: a fold's, for its out-of-fold decision values, or the model's."""

    def __init__(self, features, W, b):
        self.features, self.W, self.b = features, W, b

    def decision(self, X) -> np.ndarray:
        return np.asarray(self.features.transform(X) @ self.W.T) + self.b


def _rules_by_id(taxonomy: str) -> dict[tuple[str, str], object]:
    """(rule id, language) -> the taxonomy's passage rule, for the ids that name one rule in a language."""
    rules: dict[tuple[str, str], list] = {}
    for r in load_taxonomy(taxonomy).passage_rules:
        rules.setdefault((r.id, r.lang), []).append(r)
    return {k: v[0] for k, v in rules.items() if len(v) == 1}


def _as_passage_table(X) -> pd.DataFrame:
    """`X` as a passage table: a DataFrame numbered from 0, with a context column (empty where not given);
    ValueError naming the columns it lacks."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X)
    missing = [c for c in ("text", "lang", "tokens") if c not in X]
    if missing:
        raise ValueError(f"passage table lacks column(s) {missing}")
    if "context" not in X:
        X = X.assign(context="")
    return X.reset_index(drop=True)


LANG_ORDER = ("zh", "en")  # anything not zh is read as English, as the tokenizer does


def _lang_index(langs) -> np.ndarray:
    return np.array([0 if l == "zh" else 1 for l in langs], dtype=int)


def _array(values, shape: tuple, name: str, path) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{path}/model.json: '{name}' is not a table of numbers") from None
    if a.size != int(np.prod(shape)):
        raise ValueError(f"{path}/model.json: '{name}' has {a.size} values, expected {int(np.prod(shape))}")
    return a.reshape(shape)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _platt(scores: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Platt scaling: a one-feature logistic regression from decision value to probability."""
    if y.min() == y.max():
        return 1.0, 0.0
    lr = LogisticRegression(C=100.0, solver="lbfgs").fit(scores.reshape(-1, 1), y, sample_weight=w)
    a = float(lr.coef_[0, 0])
    return (a, float(lr.intercept_[0])) if a > 0 else (1.0, 0.0)


def _best_threshold(proba: np.ndarray, y: np.ndarray, beta: float, w: np.ndarray) -> float:
    """The probability threshold with the best out-of-fold F-beta; on ties, the middle of the tied thresholds.

    Examples written for a node are often separated perfectly out of fold, so every threshold ties; taking the
    highest then (0.9) made the node all but silent on real text, whose probabilities run lower than the
    examples'. The middle of the tie keeps the margin on both sides. The grid starts at 0.2: lower thresholds
    came from nodes whose examples' F1 peaked at the floor, and on real text they labelled nearly every passage
    with the node's words (English measure.platform.information: no true label of 12)."""
    grid = np.round(np.arange(0.2, 0.91, 0.025), 3)
    scores = [round(fbeta_score(y, proba >= t, beta=beta, zero_division=0, sample_weight=w), 4) for t in grid]
    top = max(scores)
    tied = [t for t, s in zip(grid, scores) if s == top]
    return float(tied[len(tied) // 2])


def _node_calibration(scores: np.ndarray, y: np.ndarray, w: np.ndarray, beta: float,
                      calibrated: bool) -> tuple[tuple[float, float], float]:
    """A node's (slope, intercept) from its decision values to probabilities (Platt scaling, or none when not
    `calibrated`), and the threshold with the best F-beta on those probabilities."""
    a, b = _platt(scores, y, w) if calibrated else (1.0, 0.0)
    return (a, b), _best_threshold(_sigmoid(a * scores + b), y, beta, w)
