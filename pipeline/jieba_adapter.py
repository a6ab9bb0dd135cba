"""jieba's internals, in one place: the per-block segmentation the segmenter calls
(`Tokenizer.__cut_DAG`, private), the reading of jieba's dictionary cache (jieba's module-level `marshal`,
patched while initializing) and the compiled segmenter (rjieba, jieba-rs) used for the blocks where it gives
jieba's segmentation. Pinned in pyproject (jieba==0.42.1, rjieba==0.2.2); `tests/test_classify.py` and
`tests/test_jieba_adapter.py` fail if any of them stops giving exactly what `jieba.lcut` and `jieba.initialize()`
give, and `make bench` checks the segmenter against `jieba.lcut` (same user dictionary) over the whole corpus.

Where rjieba is used: on whole texts in which no block can be mixed (no ASCII letter, digit or symbol that jieba
takes into its Han blocks, no Han character outside U+4E00-U+9FD5), in one call; elsewhere on the blocks made of
Han characters alone. On blocks with Latin letters or digits in them rjieba's splitting differs from jieba's (it
keeps `dual-use`, `U.S.C`, `FedBizOpps.gov` and some digit runs whole, jieba splits them at `-` and `.`): 485 of
the shared corpus's distinct blocks, all of them mixed, none pure Han. Those blocks, and everything when rjieba
is missing, go to jieba. Whole texts: 82% of the shared corpus's Chinese passages (89% of their characters),
all 141,940 Chinese passages cut as `jieba.lcut` cuts them.
"""
from __future__ import annotations

import logging
import marshal
import re
import types
# the words added to jieba's dictionary through `add_user_words`, in order: (word, frequency before, after)
_ADDED: list[tuple[str, int, int]] = []
# rjieba replaces an existing word's frequency in the dictionary total where jieba adds it on top; this
# word (private-use characters, never inside a Han block) carries the difference so both totals, and so every
# probability on the DAG, are the same
_TOTAL_PAD = "\ue000\ue001"
_PURE_HAN = re.compile("[\u4E00-\u9FD5]+")
# what makes a block mixed (jieba's Han blocks take in these ASCII characters), the characters rjieba counts as
# Han and jieba does not (CJK extension A and later, compatibility ideographs, U+9FD6-U+9FFF), the one
# whitespace pair jieba keeps whole, and lone surrogates (no Rust string holds one): a text without any of them
# is cut by rjieba exactly as by jieba
_MIXED_OR_RARE = re.compile(
    "[a-zA-Z0-9+#&._%\\-\r\u3400-\u4DBF\u9FD6-\u9FFF\uF900-\uFAFF\U00020000-\U0003FFFF\ud800-\udfff]")
# the frequency total of jieba 0.42.1's dict.txt, which rjieba 0.2.2 bundles: jieba's total less what was
# added through add_user_words must be this, or its dictionary is not the one rjieba mirrors
_DEFAULT_TOTAL = 60_101_967


def _jieba():
    """jieba, imported when a segmenter is first made (0.1 s with the pkg_resources it loads), which the main
    process of a run, forking the workers that segment, never pays."""
    import jieba

    return jieba


def add_user_words(jieba, words) -> None:
    """`jieba.add_word` for each word (frequency suggested by jieba, as before), remembered so the compiled
    segmenter gets the same dictionary."""
    dt = jieba.dt
    for w in words:
        before = dt.FREQ.get(w, 0)
        jieba.add_word(w)
        _ADDED.append((w, before, dt.FREQ[w]))


def _compiled_segmenter(dt):
    """An rjieba segmenter with `dt`'s dictionary, or None (not installed, or a dictionary it cannot mirror)."""
    jieba = _jieba()
    # rjieba bundles jieba's default dict.txt; a replaced main dictionary or words added behind the adapter's
    # back would not be mirrored (jieba.del_word behind its back is not detected: it leaves the total as is)
    if dt is not jieba.dt or dt.dictionary is not jieba.DEFAULT_DICT:
        return None, None
    dt.check_initialized()
    if dt.total - sum(after for _, _, after in _ADDED) != _DEFAULT_TOTAL:
        return None, None
    try:
        import rjieba
    except ImportError:
        return None, None
    rj = rjieba.Jieba()
    pad = 0
    for w, before, after in _ADDED:
        rj.add_word(w, after, None)
        pad += before
    if pad:
        rj.add_word(_TOTAL_PAD, pad, None)
    return rj, dt.total


class JiebaSegmenter:
    """jieba's own `cut` (accurate mode, HMM on), with rjieba doing the work where it gives the same words.

    jieba cuts text into blocks at punctuation and segments every block independently. A text in which no
    block can be mixed goes to rjieba whole; otherwise each block made of Han characters alone goes to rjieba
    and every other block to jieba. `make bench` checks the output is identical to `jieba.lcut` on the whole
    corpus. Blocks are not memoised: with rjieba doing most of the work, a memo of each block's words saved no
    measurable time (tokenizing the shared corpus took 4.3 s of CPU either way), and the remembered blocks kept
    the memory of whole chunks from being freed, so each worker grew with the corpus.
    """

    def __init__(self, tokenizer=None):
        jieba = self._jieba = _jieba()
        self.dt = tokenizer or jieba.dt
        self._cut_block = self.dt._Tokenizer__cut_DAG
        self._rj, self._rj_total = _compiled_segmenter(self.dt)

    def _segment_block(self, blk: str):
        # jieba's total changes with every word added to its dictionary: a change not made through
        # add_user_words since this segmenter was built means rjieba no longer mirrors it
        if self._rj is not None and self.dt.total == self._rj_total and _PURE_HAN.fullmatch(blk):
            return self._rj.cut(blk, True)
        return list(self._cut_block(blk))

    def cut(self, sentence: str, cut_all: bool = False, HMM: bool = True):
        if cut_all or not HMM:
            return self.dt.cut(sentence, cut_all=cut_all, HMM=HMM)
        if self._rj is not None and self.dt.total == self._rj_total and not _MIXED_OR_RARE.search(sentence):
            # no block of this text can be a mixed one or hold a character only one of the two counts as Han:
            # rjieba splits it into the same blocks and segments each as jieba does, in one call
            return self._rj.cut(sentence, True)
        re_han, re_skip = self._jieba.re_han_default, self._jieba.re_skip_default
        out: list[str] = []
        for blk in re_han.split(sentence):
            if not blk:
                continue
            if re_han.match(blk):
                out.extend(self._segment_block(blk))
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out

    def lcut(self, sentence: str) -> list[str]:
        return list(self.cut(sentence))


def load_jieba(words) -> JiebaSegmenter:
    """jieba's dictionary loaded, with `words` (and no other user words) added to it, and the segmenter the
    tokenize stage uses. jieba's dictionary is one per process: a segmenter made before for other words no
    longer cuts as it did (tokenize keeps one)."""
    jieba = _jieba()
    jieba.setLogLevel(logging.WARNING)
    initialize_jieba(jieba)
    forget_user_words(jieba)
    add_user_words(jieba, words)
    return JiebaSegmenter()


def forget_user_words(jieba) -> None:
    """Take the words add_user_words added out of jieba's dictionary again, last first. A word's suggested
    frequency depends on the words already there, so a process that had added other words first (training
    each framework's default model, then a crossed run's segmenter for both) cut some text otherwise than a
    fresh process (关键|技术攻关 against 关键技术|攻关), and a run's tokens depended on whether it had trained.
    (The zero-frequency prefixes add_word leaves behind change no cut: every prefix of a real word is one.)"""
    dt = jieba.dt
    while _ADDED:
        w, before, after = _ADDED.pop()
        dt.FREQ[w] = before
        dt.total -= after


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
