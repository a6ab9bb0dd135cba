"""Stage 3: passages in, tokens out.

English uses spaCy's blank English tokenizer; Chinese uses spaCy's blank Chinese pipeline with the jieba
segmenter. Every taxonomy term is added to jieba's user dictionary first, so multi-character terms such as
科技成果转化 come out as one token and the classifier sees the same units the lexicon names.
Tokens are computed once here; the classifier reuses them.
"""
from __future__ import annotations

import hashlib
import logging

import pandas as pd

from .jieba_adapter import load_jieba
from .schemas import TOKENS
from .segment import CONTENT_KINDS

log = logging.getLogger(__name__)

_NLP: dict = {}


def terms_key(terms: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(terms)).encode()).hexdigest()[:16]


def get_nlp(lang: str, zh_terms: tuple[str, ...] = ()):
    """A cached spaCy tokenizer pipeline for `lang` (for Chinese, spaCy's jieba tokenizer with the segmenter
    of `zh_segmenter`)."""
    key = (lang, terms_key(list(zh_terms)) if lang == "zh" else "")
    if key not in _NLP:
        spacy = _spacy()
        if lang == "zh":
            nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
            nlp.tokenizer.jieba_seg = zh_segmenter(zh_terms)
        else:
            nlp = spacy.blank("en")
        _NLP[key] = nlp
    return _NLP[key]


def zh_segmenter(zh_terms: tuple[str, ...] = ()):
    """The jieba segmenter (taxonomy terms in its user dictionary) that spaCy's Chinese tokenizer runs: what
    Chinese tokens are read from, without importing spaCy (half a second a worker that meets no English text,
    say after a Chinese document changed, need not pay)."""
    key = ("zh-segmenter", terms_key(list(zh_terms)))
    if key not in _NLP:
        # one user dictionary at a time (jieba's is the process's): the segmenters and pipelines made for other
        # terms would cut with this one's words
        for k in [k for k in _NLP if k[0] in ("zh", "zh-segmenter")]:
            del _NLP[k]
        _NLP[key] = load_jieba(sorted(zh_terms))
    return _NLP[key]


def tokenize_texts(texts: list[str], lang: str, zh_terms: tuple[str, ...] = ()) -> list[list[str]]:
    """Token strings (whitespace tokens dropped) of each text, as the spaCy pipeline for `lang` makes them."""
    if lang == "zh":
        # spaCy's Chinese tokenizer is its jieba segmenter plus a Doc built around the words; the words of
        # that Doc without its whitespace tokens are exactly the segmenter's non-blank words (checked by
        # tests and `make bench`), so the Doc, which nothing downstream uses, is not built
        seg = zh_segmenter(zh_terms)
        return [[w for w in seg.cut(t) if w and not w.isspace()] for t in texts]
    nlp = get_nlp(lang)
    return [_doc_tokens(text, doc) for text, doc in zip(texts, nlp.tokenizer.pipe(texts, batch_size=256))]


def spacy_doc_tokens(texts: list[str], lang: str, zh_terms: tuple[str, ...] = ()) -> list[list[str]]:
    """The same tokens read from full spaCy Docs (the reference `tokenize_texts` must equal)."""
    nlp = get_nlp(lang, zh_terms)
    return [_doc_tokens(text, doc) for text, doc in zip(texts, nlp.tokenizer.pipe(texts, batch_size=256))]


def _spacy():
    """spaCy, imported when a pipeline is first built (half a second that runs which only segment never pay)."""
    import spacy
    import spacy.attrs

    return spacy


def _doc_tokens(text: str, doc) -> list[str]:
    attrs = _spacy().attrs
    IDX, IS_SPACE, LENGTH = attrs.IDX, attrs.IS_SPACE, attrs.LENGTH
    # one vectorised read of offsets instead of a Python Token object per token (the costliest part)
    return [text[i: i + n] for i, n, space in doc.to_array([IDX, LENGTH, IS_SPACE]).tolist() if not space]


def tokenize_by_lang(texts: list[str], langs: list[str], zh_terms: tuple[str, ...]) -> list[list[str]]:
    """Tokens of each text in its own language (anything but zh is tokenized as English), in input order."""
    tokens: list = [None] * len(texts)
    for lang in ("zh", "en"):
        idx = [i for i, l in enumerate(langs) if (l == "zh") == (lang == "zh")]
        if not idx:  # building a language's pipeline is not free
            continue
        for i, toks in zip(idx, tokenize_texts([texts[i] for i in idx], lang, zh_terms if lang == "zh" else ())):
            tokens[i] = toks
    return tokens


def tokenize_frame_passages(passages: pd.DataFrame, zh_terms: tuple[str, ...]) -> pd.DataFrame:
    """The tokens table for the content passages of `passages` (one chunk, in passage order)."""
    content = passages[passages["kind"].isin(CONTENT_KINDS)]
    tokens = tokenize_by_lang(content["text"].tolist(), content["lang"].tolist(), zh_terms)
    return pd.DataFrame({"passage_id": content["passage_id"].tolist(), "doc_id": content["doc_id"].tolist(),
                         "content_hash": content["content_hash"].tolist(),
                         "tokens": pd.Series(tokens, dtype=object)}, columns=list(TOKENS.columns))
