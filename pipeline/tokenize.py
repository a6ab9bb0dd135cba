"""Stage 3: passages in, tokens out.

English uses spaCy's blank English tokenizer; Chinese uses spaCy's blank Chinese pipeline with the jieba
segmenter. Every taxonomy term is added to jieba's user dictionary first, so multi-character terms such as
科技成果转化 come out as one token and the classifier sees the same units the lexicon names.
Tokens are computed once here; the classifier reuses them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

from .engine import batched, flatten, iter_progress, map_batches
from .schemas import TOKENS, check
from .segment import CONTENT_KINDS
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)
BATCH_CHARS = 400_000

_NLP: dict = {}
CLAUSE_CACHE_LIMIT = 400_000


class ClauseCachedJieba:
    """jieba's own `cut` (accurate mode, HMM on) with each Han block's segmentation memoised.

    jieba cuts text into blocks at punctuation and segments every block independently, so caching per
    block changes nothing in the output; legal corpora repeat clauses (penalties, effective dates, stock
    phrases) so often that this removes a large share of the work. `make bench` checks the output is
    identical to `jieba.lcut` on the whole corpus.
    """

    def __init__(self, tokenizer=None):
        import jieba

        self._jieba = jieba
        self.dt = tokenizer or jieba.dt
        self._cut_block = self.dt._Tokenizer__cut_DAG
        self._cache: dict[str, list[str]] = {}

    def cut(self, sentence: str, cut_all: bool = False, HMM: bool = True):
        if cut_all or not HMM:
            return self.dt.cut(sentence, cut_all=cut_all, HMM=HMM)
        from jieba import re_han_default as re_han, re_skip_default as re_skip

        out: list[str] = []
        cache = self._cache
        for blk in re_han.split(sentence):
            if not blk:
                continue
            if re_han.match(blk):
                words = cache.get(blk)
                if words is None:
                    words = list(self._cut_block(blk))
                    if len(cache) >= CLAUSE_CACHE_LIMIT:
                        cache.clear()
                    cache[blk] = words
                out.extend(words)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out

    def lcut(self, sentence: str) -> list[str]:
        return list(self.cut(sentence))


def terms_key(terms: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(terms)).encode()).hexdigest()[:16]


def get_nlp(lang: str, zh_terms: tuple[str, ...] = ()):
    """A cached spaCy tokenizer pipeline for `lang` (jieba user dictionary loaded for Chinese)."""
    key = (lang, terms_key(list(zh_terms)) if lang == "zh" else "")
    if key not in _NLP:
        import spacy

        if lang == "zh":
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            for t in sorted(zh_terms):
                jieba.add_word(t)
            nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
            nlp.tokenizer.jieba_seg = ClauseCachedJieba()
        else:
            nlp = spacy.blank("en")
        _NLP[key] = nlp
    return _NLP[key]


def tokenize_texts(texts: list[str], lang: str, zh_terms: tuple[str, ...] = ()) -> list[list[str]]:
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    nlp = get_nlp(lang, zh_terms)
    out = []
    for text, doc in zip(texts, nlp.tokenizer.pipe(texts, batch_size=256)):
        # one vectorised read of offsets instead of a Python Token object per token (the costliest part)
        arr = doc.to_array([IDX, LENGTH, IS_SPACE]).tolist()
        out.append([text[i: i + n] for i, n, space in arr if not space])
    return out


def _work(batch: tuple) -> list[list[str]]:
    lang, zh_terms, texts = batch
    return tokenize_texts(list(texts), lang, zh_terms)


def tokenize(passages: pd.DataFrame, taxonomy: Taxonomy, *, jobs: int = 2, engine: str = "local",
             previous: pd.DataFrame | None = None, previous_key: str | None = None,
             progress: bool = False) -> tuple[pd.DataFrame, str]:
    """Tokens for every content passage. Returns the table and the dictionary key it was made with.

    Passages whose document hash is unchanged and whose tokens were made with the same term dictionary
    are taken from `previous` instead of being tokenized again.
    """
    zh_terms = tuple(sorted(taxonomy.all_terms("zh")))
    key = terms_key(list(zh_terms))
    content = passages[passages["kind"].isin(CONTENT_KINDS)]
    reused = previous.iloc[0:0] if previous is not None else None
    todo = content
    if previous is not None and previous_key == key and len(previous):
        current = set(zip(content["passage_id"], content["content_hash"]))
        mask = [(p, h) in current for p, h in zip(previous["passage_id"], previous["content_hash"])]
        reused = previous[mask]
        todo = content[~content["passage_id"].isin(set(reused["passage_id"]))]
    batches, index = [], []
    for lang, grp in todo.groupby("lang", sort=True):
        texts = grp["text"].tolist()
        ids = grp.index.tolist()
        # batches by size so both workers stay busy on corpora of a few huge documents
        start, size = 0, 0
        for i, t in enumerate(texts):
            size += len(t)
            if size >= BATCH_CHARS or i == len(texts) - 1:
                batches.append((lang, zh_terms if lang == "zh" else (), tuple(texts[start: i + 1])))
                index.extend(ids[start: i + 1])
                start, size = i + 1, 0
    bar = iter_progress(len(todo), "tokenize", progress)
    results = flatten(map_batches(_work, batches, engine=engine, jobs=jobs, progress=bar.update))
    bar.close()
    new = pd.DataFrame({
        "passage_id": todo.loc[index, "passage_id"].tolist(),
        "doc_id": todo.loc[index, "doc_id"].tolist(),
        "content_hash": todo.loc[index, "content_hash"].tolist(),
        "tokens": pd.Series(results, dtype=object),
    })
    parts = [p for p in (reused, new) if p is not None and len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else new
    order = {p: i for i, p in enumerate(content["passage_id"])}
    out = out.assign(_o=out["passage_id"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
    return check(out, TOKENS), key


def read_key(out_dir: Path) -> str | None:
    p = Path(out_dir) / "tokens.meta.json"
    return json.loads(p.read_text())["terms_key"] if p.exists() else None
