"""Stage 4: tokenized passages in, labels with evidence out.

`PassageClassifier` is the one interface the stage uses. The lexicon matcher finds evidence (every term,
rule and pattern hit with its offsets); the estimator (`model.PolicyClassifier`) decides every node from
the passage's words, characters, context and those hits, with a calibrated score and a threshold per node
learned from coded passages. A label keeps as evidence the hits of its node's own terms; a label no term
carried shows the n-grams that raised its score most. With `model=None` (MODEL=lexicon) the lexicon's own
rules decide.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .io import ConfigError, write_bytes_atomic
from .lexicon import CONTEXT, EXCLUDE, shared_matcher
from .nodes import code_digest
from .schemas import LABELS
from .taxonomy import Taxonomy, load_taxonomy
from .text import detect_lang, first_few, han_share, to_simplified
from .tokenize import tokenize_by_lang

if TYPE_CHECKING:  # the model pulls in scikit-learn; only workers and training need it
    from .model import PolicyClassifier

log = logging.getLogger(__name__)


def load_estimator() -> type[PolicyClassifier]:
    """The model's class, importing scikit-learn (about a second): the one place it is loaded, so that the
    commands and processes that never fit or apply the model do not pay for it."""
    from .model import PolicyClassifier

    return PolicyClassifier


@dataclass
class Label:
    node: str
    score: float
    source: str
    evidence: list[dict]


class PassageClassifier:
    """Lexicon evidence + the estimator's decision behind one `predict` call."""

    def __init__(self, taxonomy: Taxonomy, model: PolicyClassifier | None = None):
        self.taxonomy = taxonomy
        self.matcher = shared_matcher(taxonomy)
        self.model = model
        self.leaf_ids = taxonomy.leaf_ids
        self._group_children = [(g, frozenset(taxonomy.child_ids(g.id))) for g in taxonomy.groups]
        if model is not None and list(model.nodes_) != self.leaf_ids:
            missing = sorted(set(self.leaf_ids) - set(model.nodes_))
            raise ValueError(f"model nodes differ from the taxonomy's leaves (missing: {missing[:5]})")

    def predict(self, texts: list[str], langs: list[str], tokens: list[list[str]],
                groups: list[str] | None = None, scores: list[dict] | None = None,
                contexts: list[str] | None = None, hits: list | None = None) -> list[list[Label]]:
        """Labels (leaves only) for each passage, each with its evidence.

        `groups` (document ids, passages of a document consecutive) only speeds up lexicon matching;
        `contexts` (chapter heading and document title) are features of the model. If a list is passed as
        `scores`, it receives per passage every leaf's calibrated probability. `hits`: the matcher's hits for
        these passages, when the caller has them already.
        """
        if hits is None:
            hits = self.matcher.match_many(texts, langs, groups, tokens=tokens)
        out: list[list[Label]] = [[] for _ in texts]
        if self.model is None:
            for i, hs in enumerate(hits):
                dec = self.matcher.decide(texts[i], langs[i], hs) if hs else {}
                out[i] = [Label(n, 1.0, "lexicon", _evidence(dec[n])) for n in self.leaf_ids if n in dec]
                if scores is not None:
                    scores.append({n: (1.0 if n in dec else 0.0) for n in self.leaf_ids})
            return out
        X = pd.DataFrame({"text": texts, "lang": langs, "tokens": tokens, "hits": hits,
                          "context": contexts if contexts is not None else [""] * len(texts)})
        proba = self.model.predict_proba(X)
        chosen = proba >= self.model.thresholds_for(langs)
        unexplained = []
        for i, j in zip(*np.nonzero(chosen)):
            node = self.leaf_ids[j]
            ev = _evidence([h for h in hits[i] if h.node == node and h.role not in (EXCLUDE, CONTEXT)])
            source = "model" if self.model.trained_[j] else "lexicon"
            if ev:
                source += "+lexicon" if source == "model" else ""
            else:
                unexplained.append((i, j, len(out[i])))
            out[i].append(Label(node, round(float(proba[i, j]), 4), source, ev))
        if unexplained:
            tops = self.model.contributions(X, [(i, j) for i, j, _ in unexplained])
            for i, j, k in unexplained:
                out[i][k].evidence = [_feature_evidence(texts[i], f) for f in tops[(i, j)]]
        if scores is not None:
            for row in proba:
                scores.append({n: round(float(p), 4) for n, p in zip(self.leaf_ids, row)})
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
    for h in sorted(hits, key=lambda h: (h.start, h.end, h.term)):
        k = (h.term, h.start, h.end)
        if k not in seen:
            seen.add(k)
            out.append({"term": h.term, "start": h.start, "end": h.end, "rule": h.role})
    return out


def _feature_evidence(text: str, feature: str) -> dict:
    """Where an n-gram feature occurs in the passage: the whole n-gram (its words with or without the space
    between them, as Chinese runs them together), else, where its words are apart, its first word."""
    words = feature.strip().split()
    if not words:
        return {"term": feature.strip(), "start": -1, "end": -1, "rule": "model"}
    low = text.lower()
    m = re.search(r"\s*".join(map(re.escape, words)), low)
    if m is not None:
        start, end = m.start(), m.end()
    else:
        start = low.find(words[0])
        end = start + len(words[0]) if start >= 0 else -1
    return {"term": feature.strip(), "start": start, "end": end, "rule": "model"}


def context_of(passage_id: str, heading: str = "", title: str = "") -> str:
    """A passage's context for the model: its chapter heading and its document's title. Without a title, the
    file name in a '<path>#<n>' id stands in for it (as ingest does when there is no manifest)."""
    if not title and "#" in passage_id:
        title = _title_of_file(passage_id.rsplit("#", 1)[0])
    return " | ".join(x for x in (title, heading) if x)


@lru_cache(maxsize=4096)  # every passage of a document asks again
def _title_of_file(path: str) -> str:
    return re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", Path(path).stem)


# ---------------------------------------------------------------------------------------- model files

def examples_paths(taxonomy_dir: Path) -> list[Path]:
    folder = Path(taxonomy_dir)
    if folder.is_file():  # TAXONOMY= may name the YAML file: its examples are beside it
        folder = folder.parent
    return sorted((folder / "examples").glob("*.jsonl"))


def coded_store_paths(store: Path) -> list[Path]:
    """The files of the coded store (passages researchers coded through the review loop)."""
    return sorted(Path(store).glob("*.jsonl")) if Path(store).is_dir() else []


def coded_files(paths: list[Path]) -> list[Path]:
    """The files of coded passages `paths` name, in the order they are read: a folder (the coded store) stands for
    its JSON-lines files."""
    return [q for p in paths for q in (sorted(Path(p).glob("*.jsonl")) if Path(p).is_dir() else [Path(p)])]


def read_coded(paths: list[Path]) -> pd.DataFrame:
    """Coded passages (gold format: id, text, lang optional, labels, context optional, region optional: a
    review pool's regions, for its gap checks) from JSON-lines files.

    Every line is checked: a line that is not an object with a string `text` and a list of string `labels`
    stops the reading with a one-line error naming the file and the line."""
    rows = [row for p in coded_files(paths) for row in _coded_file(p)]
    return pd.DataFrame(rows, columns=["id", "text", "lang", "labels", "context", "source", "region", "coder"])


def _coded_file(p: Path) -> list[dict]:
    """The coded passages of one JSON-lines file, one row per passage and coder (a coder's later line replaces
    their earlier one); what is wrong with a line is said naming the file and the line."""
    lines = _coded_lines(p)
    rows: list[dict] = []
    seen: dict[str, tuple[int, list[str]]] = {}  # id -> the line it is first on, with that line's labels
    at: dict[tuple[str, str], int] = {}  # (id, coder) -> its row: the coded store's later coding replaces it
    problems: list[str] = []
    errors: list[str] = []  # lines that cannot be read: all said at once, so one pass finds every one
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not JSON ({exc.msg})")
            continue
        if not isinstance(r, dict) or not isinstance(r.get("text"), str):
            errors.append(f"line {n}: needs a 'text' string")
            continue
        labels = r.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            errors.append(f"line {n}: 'labels' must be a list of node IDs")
            continue
        pid = str(r.get("id", f"{p.name}#{n}"))
        coder = r.get("coder") if isinstance(r.get("coder"), str) else None
        if "id" not in r:
            problems.append(f"line {n} has no id (named {pid})")
        elif pid in seen and coder is None:
            # two codings of one passage that disagree teach the model both answers: say which
            first, before = seen[pid]
            differ = (f"; their labels differ ({'; '.join(labels) or 'none'} against {'; '.join(before) or 'none'}) "
                      f"and both are used" if sorted(labels) != sorted(before) else "")
            problems.append(f"line {n} has the id of line {first} ({pid}): their rows cannot be told apart"
                            + differ)
        seen.setdefault(pid, (n, list(labels)))
        if not r["text"].strip():
            problems.append(f"line {n} has no text (it gets no label)")
        text, lang = _coded_text(r, n, problems)
        row = {"id": pid, "text": text, "lang": lang, "labels": list(labels),
               "context": context_of(pid, str(r.get("heading") or ""), str(r.get("title") or "")),
               "source": p.name, "region": str(r.get("region") or ""), "coder": coder or ""}
        if coder is not None and (pid, coder) in at:
            # the store is append-only: a coder's later coding of a passage is their correction of it
            rows[at[(pid, coder)]] = row
            continue
        if coder is not None:
            at[(pid, coder)] = len(rows)
        rows.append(row)
    if errors:
        more = f"; and {len(errors) - 10} more such lines" if len(errors) > 10 else ""
        raise ConfigError(f"{p} " + "; ".join(errors[:10]) + more)
    if not any(line.strip() for line in lines):
        # TRAIN=empty.jsonl trained and installed a model of the examples alone, said only as '0 passages'
        problems.append("holds no coded passages (an empty file: an export that failed, or the wrong file?)")
    for problem in problems[:5]:  # read all the same: a warning, naming the file and the line
        log.warning("%s: %s", p, problem)
    if len(problems) > 5:
        log.warning("%s: and %d more such lines", p, len(problems) - 5)
    return rows


def _coded_lines(p: Path) -> list[str]:
    """The lines of a file of coded passages, read as UTF-8 (a BOM allowed)."""
    if not p.is_file():
        raise ConfigError(f"{p}: file of coded passages not found")
    try:
        data = p.read_bytes()
        return data.decode("utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read as UTF-8 text ({exc.__class__.__name__})") from None
    except UnicodeDecodeError as exc:
        # a file saved in another encoding (GBK by a Chinese-locale editor): where, and what to do
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: cannot be read as UTF-8 text at line {line} (byte {exc.start}); save it as "
                          f"UTF-8") from None


def _coded_text(r: dict, n: int, problems: list[str]) -> tuple[str, str]:
    """(text, lang) of coded line `r` (line `n`) as the model reads it: in the language given, unless the text is
    plainly the other, else the one detected; Chinese in Simplified. What was corrected goes to `problems`."""
    lang = r.get("lang") if r.get("lang") in ("zh", "en") else detect_lang(r["text"])
    other = _plainly_other_language(r["text"], lang) if r.get("lang") in ("zh", "en") else None
    if other is not None:
        # a passage's lang decides its tokenizer and its lexicon: Chinese text read as English matches
        # no Chinese term and gets no label
        problems.append(f"line {n}: lang {lang!r}, but the text is plainly {other!r}; read as {other}")
        lang = other
    text = r["text"]
    if lang == "zh":
        # coded in Simplified, as ingest codes a corpus's Traditional documents: the lexicon's terms and
        # the model's n-grams are Simplified, so a Traditional passage got no label at all
        text, _ = to_simplified(text)
    if r.get("lang") not in (None, "", "zh", "en"):
        problems.append(f"line {n}: lang {r.get('lang')!r} is neither zh nor en; read as {lang}")
    return text, lang


def _plainly_other_language(text: str, lang: str) -> str | None:
    """The other language when `text` is plainly not `lang`: half its letters Han for 'en', hardly any for 'zh'
    (a mixed passage keeps the language it was given)."""
    share = han_share(text)
    if lang == "en" and share >= 0.5:
        return "zh"
    if lang == "zh" and share < 0.05 and sum(c.isalpha() for c in text[:5000]) >= 20:
        return "en"
    return None


def doc_groups(ids: list[str]) -> list[str]:
    """The document part of gold ids '<doc>#<n>' (so cross-validation never splits a document)."""
    return [i.rsplit("#", 1)[0] for i in ids]


def check_labels(taxonomy: Taxonomy, coded: pd.DataFrame) -> None:
    leaves = set(taxonomy.leaf_ids)
    unknown = sorted({l for ls in coded["labels"] for l in ls} - leaves)
    if unknown:
        groups = [u for u in unknown if u in taxonomy.by_id]
        hint = f" ({', '.join(groups)}: group IDs; code the leaves under them)" if groups else ""
        first = {}  # where each unknown ID is first used: the file and the passage
        for src, pid, ls in zip(coded["source"], coded["id"], coded["labels"]):
            for l in ls:
                if l in unknown and l not in first:
                    first[l] = f"{src}, passage {pid}"
        meant = {u: taxonomy.leaf_meant(u) for u in unknown}
        raise ConfigError("coded data uses node IDs that are not leaves of the taxonomy: "
                          + "; ".join(f"{u} ({first[u]}{'; did you mean ' + meant[u] + '?' if meant[u] else ''})"
                                      for u in unknown[:8]) + hint)


def fit_model(taxonomy: Taxonomy, coded: pd.DataFrame, *, tokens: list[list[str]] | None = None,
              groups: list[str] | None = None, weights=None, **params) -> PolicyClassifier:
    """The estimator trained on coded passages (folds for calibration grouped by `groups`, default document;
    `weights` per passage, default 1)."""
    PolicyClassifier = load_estimator()
    check_labels(taxonomy, coded)
    if tokens is None:
        tokens = tokenize_frame(coded, taxonomy)
    X = passage_table(coded, tokens)
    Y = label_matrix(coded["labels"], taxonomy.leaf_ids)
    return PolicyClassifier(taxonomy=taxonomy.path, **params).fit(
        X, Y, groups=groups if groups is not None else doc_groups(coded["id"].tolist()), sample_weight=weights)


def passage_table(coded: pd.DataFrame, tokens: list[list[str]]) -> pd.DataFrame:
    """The estimator's input for coded passages."""
    return pd.DataFrame({"text": coded["text"].tolist(), "lang": coded["lang"].tolist(), "tokens": tokens,
                         "context": (coded["context"] if "context" in coded else pd.Series([""] * len(coded))).tolist()})


def label_matrix(label_lists, nodes: list[str]) -> np.ndarray:
    col = {n: j for j, n in enumerate(nodes)}
    Y = np.zeros((len(label_lists), len(nodes)), dtype=np.int8)
    for i, ls in enumerate(label_lists):
        for l in ls:
            if l in col:
                Y[i, col[l]] = 1
    return Y


def leaf_examples(taxonomy: Taxonomy, label_lists) -> tuple[np.ndarray, int, int]:
    """(coded examples per leaf, the number a leaf needs for the model to learn it, the leaves that have it). A
    model is trained only when at least half of the leaves are learnable: validate's, train's and the default
    model's rule (on fewer, scikit-learn can fail on a traceback, and a model that learns few nodes misleads)."""
    counts = label_matrix(label_lists, taxonomy.leaf_ids).sum(axis=0)
    need = load_estimator()().min_positives
    return counts, need, int((counts >= need).sum())


def tokenize_frame(df: pd.DataFrame, taxonomy: Taxonomy) -> list[list[str]]:
    return tokenize_by_lang(df["text"].tolist(), df["lang"].tolist(), tuple(sorted(taxonomy.all_terms("zh"))))


def default_model_dir(taxonomy_dir: Path) -> Path:
    """Where the default model (the taxonomy's own examples) lives, keyed by everything it is trained from:
    the taxonomy, the examples and the code of the classifier."""
    tax = load_taxonomy(taxonomy_dir)
    h = hashlib.sha256(tax.sha256.encode())
    for p in examples_paths(taxonomy_dir):
        h.update(p.read_bytes())
    h.update(_classifier_code())
    return Path(taxonomy_dir).resolve().parent / "models" / f"default-{h.hexdigest()[:12]}"


# default models of the same examples kept (by when last used or trained), the current one among them
KEPT_DEFAULT_MODELS = 3


def build_default_model(taxonomy_dir: Path, taxonomy: Taxonomy) -> Path | None:
    """The default model's folder, trained now if it does not exist yet (a named step of `run`, `classify`
    and `evaluate`, which says so). None when the taxonomy has no examples: the lexicon alone decides."""
    paths = examples_paths(taxonomy_dir)
    if not paths:
        log.warning("no training examples under %s/examples; classifying with the lexicon alone", taxonomy_dir)
        return None
    d = default_model_dir(taxonomy_dir)
    if (d / "model.json").exists():
        # a model gone back to (a term added and removed again) is recent: _remove_superseded keeps it (a models
        # folder one may only read keeps its models anyway)
        try:
            os.utime(d)
        except OSError:
            pass
    else:
        t = time.perf_counter()
        coded = read_coded(paths)
        _, need, learnable = leaf_examples(taxonomy, coded["labels"])
        if learnable < len(taxonomy.leaf_ids) / 2:
            raise ConfigError(f"{taxonomy_dir}/examples: only {learnable} of {len(taxonomy.leaf_ids)} leaves have "
                              f">= {need} examples; the default model needs at least half of them (make validate "
                              f"lists them): write more examples, or run with MODEL=lexicon")
        print(f"default model: training on {len(coded)} example passages of {taxonomy_dir}/examples "
              f"(once per version of the taxonomy, examples and classifier) ...", file=sys.stderr)
        try:
            model = fit_model(taxonomy, coded)
        except ConfigError as exc:  # its labels (a node removed, a typo): say which folder's examples
            raise ConfigError(f"{taxonomy_dir}/examples: {exc}") from None
        model.save(d, info={"trained_on": [str(p) for p in paths], "passages": len(coded)})
        print(f"default model: {d} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        unlearned = [n for n, trained in zip(model.nodes_, model.trained_) if not trained]
        if unlearned:
            # validate says so too, but a researcher who goes straight to `make run` should hear it
            log.warning("default model: %d of %d leaves have fewer than %d examples in %s/examples, so the model "
                        "does not learn them and their lexicon alone decides: %s (make validate lists them)",
                        len(unlearned), len(model.nodes_), model.min_positives, taxonomy_dir, first_few(unlearned))
        _remove_superseded(d, [str(p) for p in paths])
    return d


def _remove_superseded(current: Path, trained_on: list[str]) -> None:
    """Remove the default models this one replaces (trained on the same examples by older code or older
    examples) but the most recently used or trained (KEPT_DEFAULT_MODELS with this one), so that going back to a
    taxonomy does not train again and upgrades do not pile up models; other taxonomies' default models are left
    alone."""
    older = []
    for other in current.parent.glob("default-*"):
        if other == current:
            continue
        try:
            info = json.loads((other / "model.json").read_text(encoding="utf-8")).get("info", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(info, dict) and info.get("trained_on") == trained_on:
            older.append((other.stat().st_mtime, other))
    for _, other in sorted(older, reverse=True)[KEPT_DEFAULT_MODELS - 1:]:
        shutil.rmtree(other, ignore_errors=True)


def model_path(model: str | None, taxonomy_dir: Path, taxonomy: Taxonomy) -> str:
    """Which model to classify with, as a path (or 'lexicon'), checked but not loaded. Without --model, the
    default model, built first if needed. With several frameworks, each framework's default model (or
    'lexicon' for all), their paths joined by commas in the frameworks' order."""
    if model == "lexicon":
        return "lexicon"
    if len(taxonomy.parts) > 1:
        if model:
            raise ConfigError(f"{model}: with several frameworks (TAXONOMY={taxonomy.path}) each is classified with "
                              "its own default model; MODEL= can only be 'lexicon' (or run one framework at a time)")
        return ",".join(model_path(None, _folder(t), t) for t in taxonomy.parts)
    if model:
        if not Path(model).exists():
            looked = "" if Path(model).is_absolute() else f" (looked for {Path(model).absolute()})"
            raise ConfigError(f"{model}: model folder not found{looked}; MODEL= names a folder `make train` made, "
                              f"or lexicon")
        if not (Path(model) / "model.json").is_file():
            raise ConfigError(f"{model}: not a model folder (no model.json); train one with `make train`")
        return str(model)
    # the framework's folder, also when TAXONOMY= names its YAML file (the same default model either way)
    d = build_default_model(_folder(taxonomy), taxonomy)
    return str(d) if d is not None else "lexicon"


def model_said(path: str, frameworks: list[str] | tuple[str, ...] = ()) -> str:
    """Which model made a run's labels (a run's `model_path`), in words for the report: its folder's name and what
    it was trained on, never an absolute path (a report reads the same wherever it was made). With one model per
    framework (`frameworks`: their names, in the run's order), each is said with the framework it labelled."""
    said = []
    models = path.split(",") if path else []
    for one in models:
        if one == "lexicon":
            said.append("the taxonomy's lexicon alone (MODEL=lexicon)")
            continue
        try:
            info = json.loads((Path(one) / "model.json").read_text(encoding="utf-8")).get("info") or {}
        except (OSError, ValueError, AttributeError):
            info = {}
        info = info if isinstance(info, dict) else {}
        name, trained_on = Path(one).name, info.get("trained_on")
        if name.startswith("default-"):
            said.append(f"the default model ({name}, trained on the framework's {info.get('passages', '?')} example "
                        f"passages)")
        elif isinstance(trained_on, list) and all(isinstance(t, str) for t in trained_on):
            # the folder's name quoted: "the model trained, trained on …" read as a slip of the pen
            said.append(f"the model '{name}', trained on {' + '.join(trained_on)}")
        else:
            said.append(f"the model '{name}'")
    if len(models) > 1 and len(frameworks) == len(models):
        said = [f"{one} for {fw}" for one, fw in zip(said, frameworks)]
    return "; ".join(said)


def _folder(t: Taxonomy) -> Path:
    """The folder of a framework's taxonomy file (where its examples are)."""
    return Path(t.path).parent


def make_classifier(taxonomy: Taxonomy, path: str) -> "PassageClassifier | CombinedClassifier":
    """The classifier for the model at `path` (see model_path): one framework's, or one per framework when
    several are classified together."""
    if len(taxonomy.parts) == 1:
        return PassageClassifier(taxonomy, load_model(path, taxonomy))
    paths = ["lexicon"] * len(taxonomy.parts) if path in ("", "lexicon") else path.split(",")
    if len(paths) != len(taxonomy.parts):
        raise ConfigError(f"{path}: expected one model per framework ({len(taxonomy.parts)})")
    return CombinedClassifier(taxonomy, [PassageClassifier(t, load_model(p, t))
                                         for t, p in zip(taxonomy.parts, paths)])


class CombinedClassifier:
    """Several frameworks' classifiers behind PassageClassifier's interface: each passage gets the labels of
    every framework (their nodes differ), each framework decided by its own lexicon and model."""

    def __init__(self, taxonomy: Taxonomy, parts: list[PassageClassifier]):
        self.taxonomy, self.parts = taxonomy, parts
        self.leaf_ids = taxonomy.leaf_ids

    def predict(self, texts, langs, tokens, groups=None, scores=None, contexts=None, hits=None):
        if hits is not None:
            raise ValueError("lexicon hits cannot be passed to several frameworks' classifiers")
        got = []
        for part in self.parts:
            sc: list[dict] | None = [] if scores is not None else None
            got.append(part.predict(texts, langs, tokens, groups, scores=sc, contexts=contexts))
            if scores is not None:
                got[-1] = (got[-1], sc)
        if scores is not None:
            for row in zip(*(sc for _, sc in got)):
                scores.append({k: v for d in row for k, v in d.items()})
            got = [p for p, _ in got]
        return [[lab for labels in per for lab in labels] for per in zip(*got)]

    def rollup(self, labels: list[Label]) -> list[Label]:
        return [g for part in self.parts for g in part.rollup(labels)]


def load_model(path: str, taxonomy: Taxonomy) -> PolicyClassifier | None:
    """The model saved at `path` (None for 'lexicon'); a damaged or foreign model folder is a ConfigError."""
    if path in ("", "lexicon"):
        return None
    try:
        return load_estimator().load(path, taxonomy=taxonomy.path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def resolve_model(model: str | None, taxonomy_dir: Path, taxonomy: Taxonomy) -> tuple[PolicyClassifier | None, str]:
    """The model to classify with (loaded) and its path for run.json."""
    path = model_path(model, taxonomy_dir, taxonomy)
    return load_model(path, taxonomy), path


# ---------------------------------------------------------------------------------------- the stage

def classifier_key(taxonomy: Taxonomy, model_path: str) -> str:
    """Identifies what labels were made with: the taxonomy, the model files and the classifier's code (so
    labels made by older code are never reused)."""
    h = hashlib.sha256(taxonomy.sha256.encode())
    for one in (model_path.split(",") if len(taxonomy.parts) > 1 else [model_path]):
        h.update(model_digest(one).encode() if Path(one).exists() else str(one).encode())
    h.update(_classifier_code())
    return h.hexdigest()[:16]


def model_digest(model_path: str) -> str:
    """sha256 of a model folder's files (several models' joined by commas), "" for the lexicon: which model made
    a run's labels, whatever folder it sits in now (`make train` writes models/trained again each time)."""
    digests = []
    for one in model_path.split(",") if model_path else []:
        h, p = hashlib.sha256(), Path(one)
        found = [p / f for f in ("model.json", "arrays.npz") if (p / f).is_file()]
        for f in found:
            h.update(f.read_bytes())
        digests.append(h.hexdigest() if found else "")
    return ",".join(digests)


def _classifier_code() -> bytes:
    """The code that turns passages into labels (this module and every package module it uses, with the
    libraries' versions): what models and labels were made by."""
    return code_digest(__name__.rpartition(".")[2]).encode()


def labels_frame(clf: PassageClassifier, passages: pd.DataFrame, tokens: pd.DataFrame,
                 titles: dict[str, str] | None = None) -> pd.DataFrame:
    """The labels table (leaves and roll-ups) for the tokenized passages of one chunk, in passage order.
    `titles` (document id -> title) gives the model each passage's document title as context."""
    cols = list(LABELS.columns)
    if not len(tokens):
        return pd.DataFrame(columns=cols)
    merged = tokens.merge(passages[["passage_id", "text", "lang", "region", "heading_path"]], on="passage_id",
                          how="left", validate="one_to_one")
    titles = titles or {}
    # columns read as lists once (iterating an Arrow-backed column goes value by value through pandas)
    ids, doc_ids = merged["passage_id"].tolist(), merged["doc_id"].tolist()
    contexts = [context_of(p, h, titles.get(d, "")) for p, d, h in
                zip(ids, doc_ids, merged["heading_path"].fillna("").tolist())]
    preds = clf.predict(merged["text"].tolist(), merged["lang"].tolist(),
                        [t if type(t) is list else list(t) for t in merged["tokens"].tolist()], doc_ids,
                        contexts=contexts)
    rows = []
    # most passages get no label (and so no roll-up): only the labelled ones are read back
    labelled = [k for k, labels in enumerate(preds) if labels]
    for (pid, did, reg, h), k in zip(merged[["passage_id", "doc_id", "region", "content_hash"]].iloc[labelled]
                                     .itertuples(index=False), labelled):
        labels = preds[k]
        for l in labels + clf.rollup(labels):
            rows.append((pid, did, reg, l.node, l.score, l.source, json.dumps(l.evidence, ensure_ascii=False), h))
    return pd.DataFrame(rows, columns=cols)


def classify_jsonl(in_path: Path, out_path: Path, taxonomy: Taxonomy, model: PolicyClassifier | None) -> int:
    """Classify a JSON-lines file of {"id","text"[,"lang"]}; write predictions in the same order."""
    coded = read_coded([in_path])
    toks = tokenize_frame(coded, taxonomy)
    clf = PassageClassifier(taxonomy, model)
    scores: list[dict] = []
    preds = clf.predict(coded["text"].tolist(), coded["lang"].tolist(), toks, scores=scores,
                        contexts=coded["context"].tolist())
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
