"""Counting a model's character n-grams in passages: one Aho-Corasick pass per passage instead of one Python
string and one dictionary look-up per n-gram.

scikit-learn's `char_wb` analyzer cuts every word, padded with a space on each side, into all its n-grams and
looks each one up in the vocabulary; with a model's fixed vocabulary most of them are not in it, and building
and looking them up was half of the classify stage. `CharTfidfVectorizer` is a `TfidfVectorizer` that, when it
counts with a fixed vocabulary (transforming with a fitted or loaded model), finds the vocabulary's n-grams in
the padded words with an automaton instead. The count matrix is the same, entry for entry and in the same
types (tests/test_classify.py compares it with scikit-learn's), so the TF-IDF features are the same bytes.
Learning a vocabulary (fitting) is scikit-learn's own code.
"""
from __future__ import annotations

from collections import Counter
from operator import itemgetter

import ahocorasick
import numpy as np
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
        auto = self._vocabulary_automaton()
        preprocess = self.build_preprocessor()
        j_indices: list[int] = []
        values: list[int] = []
        indptr = [0]
        for doc in raw_documents:
            # the n-grams of each padded word are the occurrences of the vocabulary's entries in it; joined by
            # newlines (no word contains whitespace, no entry the automaton holds contains a newline) the padded
            # words hold no other occurrence
            text = "\n".join(" " + w + " " for w in preprocess(self.decode(doc)).split())
            counts = Counter(map(itemgetter(1), auto.iter(text))) if auto is not None and text else Counter()
            j_indices.extend(counts.keys())
            values.extend(counts.values())
            indptr.append(len(j_indices))
        # the matrix scikit-learn's _count_vocab builds: int32 indices unless they do not fit, C-int counts,
        # converted to the vectorizer's dtype, indices sorted within each row
        index_dtype = np.int64 if indptr[-1] > np.iinfo(np.int32).max else np.int32
        X = sp.csr_array((np.asarray(values, dtype=np.intc), np.asarray(j_indices, dtype=index_dtype),
                          np.asarray(indptr, dtype=index_dtype)),
                         shape=(len(indptr) - 1, len(self.vocabulary_)), dtype=self.dtype)
        X.sort_indices()
        return self.vocabulary_, _align_api_if_sparse(X)

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
