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

from collections import Counter
from operator import itemgetter

import ahocorasick
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._sparse import _align_api_if_sparse


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
        # the matrix scikit-learn's _count_vocab builds: int32 indices unless they do not fit, C-int counts,
        # converted to the vectorizer's dtype, indices sorted within each row
        index_dtype = np.int64 if indptr[-1] > np.iinfo(np.int32).max else np.int32
        X = sp.csr_array((np.asarray(values, dtype=np.intc), np.asarray(j_indices, dtype=index_dtype),
                          np.asarray(indptr, dtype=index_dtype)),
                         shape=(len(indptr) - 1, len(self.vocabulary_)), dtype=self.dtype)
        X.sort_indices()
        return self.vocabulary_, _align_api_if_sparse(X)

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
        if not rows:
            return np.zeros(0, np.intc), np.zeros(0, np.int64), np.zeros(len(texts) + 1, np.int64)
        counts = sp.coo_array((np.ones(sum(map(len, rows)), dtype=np.intc), (np.concatenate(rows),
                               np.concatenate(cols))), shape=(len(texts), len(self.vocabulary_))).tocsr()
        counts.sum_duplicates()
        return counts.data, counts.indices, counts.indptr

    def _vocabulary_codes(self) -> dict:
        """n -> (integer keys of the vocabulary's n-grams, their columns), for the current vocabulary_
        (fitting replaces that dictionary, and these with it)."""
        if getattr(self, "_codes_for", None) is not self.vocabulary_:
            min_n, max_n = self.ngram_range
            by_n: dict[int, list] = {n: [] for n in range(min_n, max_n + 1)}
            for gram, column in self.vocabulary_.items():
                if min_n <= len(gram) <= max_n and "\n" not in gram:
                    key = 0
                    for c in _codes(gram):
                        key = (key << 21) | int(c)
                    by_n[len(gram)].append((key, int(column)))
            tables = {}
            for n, entries in by_n.items():
                    # a hash index: one look-up per position, where a sorted array's binary search costs three times as much
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
        """The automaton of the vocabulary's entries that char_wb can produce (lengths within ngram_range, no
        newline), each giving its column; None if there is none. Built for the current vocabulary_ (fitting
        replaces that dictionary, and the automaton with it)."""
        if getattr(self, "_automaton_for", None) is not self.vocabulary_:
            min_n, max_n = self.ngram_range
            auto = ahocorasick.Automaton()
            for gram, column in self.vocabulary_.items():
                if min_n <= len(gram) <= max_n and "\n" not in gram:
                    auto.add_word(gram, int(column))
            if len(auto):
                auto.make_automaton()
            self._automaton, self._automaton_for = (auto if len(auto) else None), self.vocabulary_
        return self._automaton


# n-grams up to this length fit in one int64 key (three code points of 21 bits)
_MAX_CODED = 3


def _codes(text: str) -> np.ndarray:
    """The code points of `text` (lone surrogates included) as int64."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
