"""Counting a model's character n-grams in passages: array operations over a whole batch instead of one Python
string and one dictionary look-up per n-gram.

scikit-learn's `char_wb` analyzer cuts every word, padded with a space on each side, into all its n-grams and
looks each one up in the vocabulary; with a model's fixed vocabulary most of them are not in it, and building
and looking them up was half of the classify stage. `CharTfidfVectorizer` is a `TfidfVectorizer` that, when it
counts with a fixed vocabulary (transforming with a fitted or loaded model), finds the vocabulary's n-grams in
the padded words another way: n-grams of up to three characters as integer keys over the batch's code points,
looked up in a hash index of the vocabulary (longer ones with an Aho-Corasick automaton). The count matrix is
the same, entry for entry and in the same types (tests/test_classify.py compares it with scikit-learn's), so
the TF-IDF features are the same bytes. Learning a vocabulary (fitting) is scikit-learn's own code.
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import chain
from operator import itemgetter

import ahocorasick
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._sparse import _align_api_if_sparse

from .text import code_points


class CharTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer (analyzer="char_wb") whose counting with a fixed vocabulary uses an automaton."""

    def _count_vocab(self, raw_documents, fixed_vocab):
        # char_wb's padded words are at least 3 characters long, so with min_n <= 3 it makes no n-gram shorter
        # than min_n (it does for shorter words); anything else is left to scikit-learn
        if not fixed_vocab or self.analyzer != "char_wb" or self.ngram_range[0] > 3:
            return super()._count_vocab(raw_documents, fixed_vocab)
        self._validate_ngram_range()
        preprocess = self.build_preprocessor()
        # the n-grams of each padded word are the occurrences of the vocabulary's entries in it; joined by
        # newlines (no word contains whitespace, no entry counted contains a newline) the padded words hold no
        # other occurrence
        texts = ["\n".join(" " + w + " " for w in preprocess(self.decode(doc)).split()) for doc in raw_documents]
        if self.ngram_range[1] <= _MAX_CODED:
            values, j_indices, indptr = self._count_by_codes(texts)
        else:
            values, j_indices, indptr = self._count_by_automaton(texts)
        return self.vocabulary_, _count_matrix(values, j_indices, indptr, len(self.vocabulary_), self.dtype)

    def _count_by_codes(self, texts: list[str]):
        """Counts for n-grams of at most three characters: every position's n-gram as one integer (21 bits per
        code point), looked up in the vocabulary's keys; numpy over the whole batch, no Python per
        n-gram."""
        starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(t) + 1 for t in texts], out=starts[1:])
        codes = _codes("\n".join(texts))
        newline = codes == 10
        rows, cols = [], []
        for n, (keys, columns) in self._vocabulary_codes().items():
            m = len(codes) - n + 1
            if m <= 0 or not len(keys):
                continue
            key, inside = codes[:m].copy(), ~newline[:m]
            for k in range(1, n):
                key = (key << 21) | codes[k:k + m]
                inside &= ~newline[k:k + m]
            pos = np.flatnonzero(inside)
            at = keys.get_indexer(key[pos])
            found = at >= 0
            rows.append(np.searchsorted(starts, pos[found], side="right") - 1)
            cols.append(columns[at[found]])
        return _occurrence_counts(rows, cols, len(texts), len(self.vocabulary_))

    def _vocabulary_codes(self) -> dict:
        """n -> (integer keys of the vocabulary's n-grams, their columns), for the current vocabulary_
        (fitting replaces that dictionary, and these with it)."""
        if getattr(self, "_codes_for", None) is not self.vocabulary_:
            min_n, max_n = self.ngram_range
            by_n: dict[int, list] = {n: [] for n in range(min_n, max_n + 1)}
            for gram, column in self._countable_vocabulary():
                key = 0
                for c in _codes(gram):
                    key = (key << 21) | int(c)
                by_n[len(gram)].append((key, int(column)))
            tables = {}
            # a hash index: one look-up per position, where a sorted array's binary search costs three times as much
            for n, entries in by_n.items():
                tables[n] = (pd.Index(np.array([k for k, _ in entries], dtype=np.int64)),
                             np.array([c for _, c in entries], dtype=np.int64))
            self._codes_table, self._codes_for = tables, self.vocabulary_
        return self._codes_table

    def _count_by_automaton(self, texts: list[str]):
        auto = self._vocabulary_automaton()
        j_indices: list[int] = []
        values: list[int] = []
        indptr = [0]
        for text in texts:
            counts = Counter(map(itemgetter(1), auto.iter(text))) if auto is not None and text else Counter()
            j_indices.extend(counts.keys())
            values.extend(counts.values())
            indptr.append(len(j_indices))
        return values, j_indices, indptr

    def _vocabulary_automaton(self):
        """The automaton of the vocabulary's entries that char_wb can produce, each giving its column; None if
        there is none. Built for the current vocabulary_ (fitting replaces that dictionary, and the automaton
        with it)."""
        if getattr(self, "_automaton_for", None) is not self.vocabulary_:
            auto = ahocorasick.Automaton()
            for gram, column in self._countable_vocabulary():
                auto.add_word(gram, int(column))
            if len(auto):
                auto.make_automaton()
            self._automaton, self._automaton_for = (auto if len(auto) else None), self.vocabulary_
        return self._automaton

    def _countable_vocabulary(self):
        """(n-gram, column) of the vocabulary's entries that char_wb can produce: lengths within ngram_range, no
        newline (the padded words are joined by newlines, so an entry with one would count across two words)."""
        min_n, max_n = self.ngram_range
        return ((gram, column) for gram, column in self.vocabulary_.items()
                if min_n <= len(gram) <= max_n and "\n" not in gram)


# n-grams up to this length fit in one int64 key (three code points of 21 bits)
_MAX_CODED = 3


def _codes(text: str) -> np.ndarray:
    """The code points of `text` as int64 (room to shift three of them into one key)."""
    return code_points(text).astype(np.int64)


def _occurrence_counts(rows: list, cols: list, n_rows: int, n_cols: int):
    """(values, indices, indptr) of the rows x columns count matrix of the occurrences (rows[i][k], cols[i][k])."""
    if not rows:
        return np.zeros(0, np.intc), np.zeros(0, np.int64), np.zeros(n_rows + 1, np.int64)
    counts = sp.coo_array((np.ones(sum(map(len, rows)), dtype=np.intc), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, n_cols)).tocsr()
    counts.sum_duplicates()
    return counts.data, counts.indices, counts.indptr


def _count_matrix(values, j_indices, indptr, n_features: int, dtype):
    """The matrix scikit-learn's _count_vocab builds: int32 indices unless they do not fit, C-int counts,
    converted to the vectorizer's dtype, indices sorted within each row."""
    index_dtype = np.int64 if indptr[-1] > np.iinfo(np.int32).max else np.int32
    X = sp.csr_array((np.asarray(values, dtype=np.intc), np.asarray(j_indices, dtype=index_dtype),
                      np.asarray(indptr, dtype=index_dtype)), shape=(len(indptr) - 1, n_features), dtype=dtype)
    X.sort_indices()
    return _align_api_if_sparse(X)


def word_features(tokens) -> list[str]:
    """Unigrams and bigrams of lower-cased tokens without punctuation (tokens with a letter or digit)."""
    toks = [t.lower() for t in tokens if _ALNUM.search(t)]
    return toks + [a + " " + b for a, b in zip(toks, toks[1:])]


# a character str.isalnum() accepts (\w is exactly those and the underscore): one regex search per token
# rather than a Python generator over its characters
_ALNUM = re.compile(r"[^\W_]")


class WordTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer over token lists with `word_features` as analyzer, whose counting with a fixed vocabulary
    works on the batch's distinct tokens and on arrays.

    scikit-learn runs the analyzer on every passage and looks up each unigram and bigram string; here each
    distinct token is lower-cased and looked up once, and the bigrams are pairs of word numbers found in a hash
    index of the vocabulary's bigrams. The count matrix is the same, entry for entry and in the same types
    (tests/test_classify.py compares it with scikit-learn's)."""

    def _count_vocab(self, raw_documents, fixed_vocab):
        if not fixed_vocab or self.analyzer is not word_features:
            return super()._count_vocab(raw_documents, fixed_vocab)
        docs = [self.decode(doc) for doc in raw_documents]
        counted = self._count_words(docs)
        if counted is None:  # tokens this counting cannot take as they are: scikit-learn's own loop
            return super()._count_vocab(docs, fixed_vocab)
        return self.vocabulary_, _count_matrix(*counted, len(self.vocabulary_), self.dtype)

    def _count_words(self, docs: list):
        codes, uniques = pd.factorize(np.array(list(chain.from_iterable(docs)), dtype=object))
        if (codes < 0).any() or not all(type(t) is str for t in uniques):
            return None
        # each distinct token: the number of its lower-cased form among the kept words, -1 if dropped
        words: dict[str, int] = {}
        word_of = np.array([words.setdefault(t.lower(), len(words)) if _ALNUM.search(t) else -1 for t in uniques],
                           dtype=np.int64)
        if any(" " in w for w in words):  # a bigram of words with spaces in them has more than one reading
            return None
        unigram, first, second, bigrams, bigram_cols = self._vocabulary_words()
        uni_col = np.array([unigram.get(w, -1) for w in words], dtype=np.int64)
        first_of = np.array([first.get(w, -1) for w in words], dtype=np.int64)
        second_of = np.array([second.get(w, -1) for w in words], dtype=np.int64)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        token_word = word_of[codes] if len(codes) else np.zeros(0, np.int64)
        kept = token_word >= 0
        doc_of = np.repeat(np.arange(len(docs)), lengths)[kept]
        word = token_word[kept]
        rows, cols = [], []
        col = uni_col[word]
        rows.append(doc_of[col >= 0])
        cols.append(col[col >= 0])
        if len(word) > 1 and len(bigrams):
            a, b = first_of[word[:-1]], second_of[word[1:]]
            pair = (doc_of[:-1] == doc_of[1:]) & (a >= 0) & (b >= 0)
            at = bigrams.get_indexer(a[pair] * len(second) + b[pair])
            rows.append(doc_of[:-1][pair][at >= 0])
            cols.append(bigram_cols[at[at >= 0]])
        return _occurrence_counts(rows, cols, len(docs), len(self.vocabulary_))

    def _vocabulary_words(self):
        """The vocabulary as unigrams (word -> column) and bigrams (numbered first and second words, a hash index
        of first * len(second) + second, and the columns in that index's order), for the current vocabulary_."""
        if getattr(self, "_words_for", None) is not self.vocabulary_:
            unigram, first, second, pairs = {}, {}, {}, []
            for feature, column in self.vocabulary_.items():
                parts = feature.split(" ")
                if len(parts) == 1:
                    unigram[feature] = int(column)
                elif len(parts) == 2 and all(parts):  # anything else no token list without spaces makes
                    pairs.append((first.setdefault(parts[0], len(first)), second.setdefault(parts[1], len(second)),
                                  int(column)))
            keys = np.array([f * len(second) + g for f, g, _ in pairs], dtype=np.int64)
            self._words = (unigram, first, second, pd.Index(keys),
                           np.array([c for _, _, c in pairs], dtype=np.int64))
            self._words_for = self.vocabulary_
        return self._words
