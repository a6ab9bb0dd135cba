"""jieba's internals, in one place: the per-block segmentation the clause cache calls
(`Tokenizer.__cut_DAG`, private) and the reading of jieba's dictionary cache (jieba's module-level `marshal`,
patched while initializing). Pinned in pyproject (jieba==0.42.1); `tests/test_classify.py` fails if either
stops giving exactly what `jieba.lcut` and `jieba.initialize()` give, and `make bench` checks the cache against
`jieba.lcut` over the whole corpus.
"""
from __future__ import annotations

import marshal
import types
# ~150 bytes an entry, so at most ~60 MB a worker: about what a worker fills on half of the 2,817 real laws
# (0.7 M distinct clauses in all). Past the limit new clauses are segmented without being remembered and the
# cached ones (the frequent ones come first) stay, so memory stops growing with the corpus: with a limit of
# 1 M, a 4x corpus took 1.22x the memory of 1x, with this one 1.16x.
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
        self._cache: dict[str, bytes | list[str]] = {}

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
                lengths = cache.get(blk)
                if lengths is None:
                    words = list(self._cut_block(blk))
                    out.extend(words)
                    if len(cache) < CLAUSE_CACHE_LIMIT:
                        # word lengths as bytes: a fraction of the memory of the word strings
                        cache[blk] = bytes(map(len, words)) if max(map(len, words)) < 256 else words
                elif type(lengths) is bytes:
                    pos = 0
                    for n in lengths:
                        out.append(blk[pos: pos + n])
                        pos += n
                else:
                    out.extend(lengths)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out

    def lcut(self, sentence: str) -> list[str]:
        return list(self.cut(sentence))


def initialize_jieba(jieba) -> None:
    """jieba.initialize(), with its dictionary cache read in one piece.

    jieba loads its cache with marshal.load on the open file, which reads the file object by object: 0.4 s
    here against 0.13 s for marshal.loads on the file's bytes, and on the critical path of every incremental
    run. Same file, same dictionary; only the reading differs (and only while initializing)."""
    jieba.marshal = types.SimpleNamespace(load=lambda f: marshal.loads(f.read()), dump=marshal.dump,
                                          loads=marshal.loads, dumps=marshal.dumps)
    try:
        jieba.initialize()
    finally:
        jieba.marshal = marshal
