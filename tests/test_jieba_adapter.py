"""The compiled segmenter behind the adapter gives jieba's segmentation exactly (user dictionary included)."""
from __future__ import annotations

import builtins
from pathlib import Path

from pipeline import jieba_adapter
from pipeline.jieba_adapter import JiebaSegmenter
from pipeline.tokenize import get_nlp

ROOT = Path(__file__).resolve().parent.parent
TERMS = ("产学研合作", "技术转移机构", "科技成果转化", "知识产权", "新型研发机构", "研究开发平台")
TEXT = ("第一条　为了促进科技成果转化和产学研合作，建设技术转移机构与新型研发机构，制定本条例。\n"
        "第二条 2024年R&D投入增长3.5%，AI技术、5G网络和dual-use技术依照U.S.C.第35章办理；"
        "企业与高等学校联合建立研究开发平台，知识产权归属由合同约定。\t（一）abc  def\u3000科技 "
        "他说的确实在理，结婚的和尚未结婚的都来了。")


def _blocks_by_segmenter(seg: JiebaSegmenter, text: str) -> tuple[int, int]:
    from jieba import re_han_default as re_han

    han = [b for b in re_han.split(text) if b and re_han.match(b)]
    pure = sum(1 for b in han if jieba_adapter._PURE_HAN.fullmatch(b))
    return pure, len(han) - pure


def test_fast_segmenter_equals_jieba_with_user_dictionary():
    import jieba

    get_nlp("zh", TERMS)
    seg = JiebaSegmenter()
    assert seg._rj is not None, "rjieba is pinned in pyproject and should be used"
    law = (ROOT / "corpus" / "zh" / "CN" / "产学研合作促进条例.md").read_text(encoding="utf-8")
    for text in (TEXT, law, TEXT * 2):
        assert seg.lcut(text) == jieba.lcut(text)
    toks = seg.lcut(TEXT)
    # words jieba's own dictionary lacks, so the compiled route must have been given the user dictionary
    # (not 研究开发平台: when the full taxonomy was loaded earlier in the process, its longer term
    # 联合建立研究开发平台 rightly takes that span, in jieba and in the adapter alike)
    assert {"产学研合作", "技术转移机构", "科技成果转化"} <= set(toks)
    pure, mixed = _blocks_by_segmenter(seg, TEXT)
    assert pure > 5 and mixed > 3  # both routes exercised


def test_mixed_blocks_go_to_jieba_where_rjieba_differs():
    import jieba

    get_nlp("zh", TERMS)
    seg = JiebaSegmenter()
    # rjieba keeps these whole; jieba splits them, and the adapter must give jieba's answer
    for blk in ("dual-use", "U.S.C.", "FedBizOpps.gov", "off-the-shelf"):
        assert seg._rj.cut(blk, True) != jieba.lcut(blk)
        assert seg.lcut(blk) == jieba.lcut(blk)


def test_falls_back_to_jieba_without_rjieba(monkeypatch):
    import jieba

    get_nlp("zh", TERMS)
    real_import = builtins.__import__

    def no_rjieba(name, *a, **k):
        if name == "rjieba":
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_rjieba)
    seg = JiebaSegmenter()
    assert seg._rj is None
    assert seg.lcut(TEXT) == jieba.lcut(TEXT)


def test_words_added_behind_the_adapter_turn_rjieba_off(monkeypatch):
    import jieba

    get_nlp("zh", TERMS)
    seg = JiebaSegmenter()
    assert seg._rj is not None

    class Unmirrored:
        def cut(self, *a):
            raise AssertionError("rjieba used on a dictionary it does not mirror")

    seg._rj = Unmirrored()
    # what jieba.add_word does to the total (without leaving the word in jieba for the other tests)
    monkeypatch.setattr(jieba.dt, "total", jieba.dt.total + 7)
    text = "知识产权归属由合同约定。"
    assert seg.lcut(text) == jieba.lcut(text)
    assert JiebaSegmenter()._rj is None  # nor is a new one built on that dictionary


def test_texts_without_mixed_or_rare_characters_go_to_rjieba_whole_and_give_jiebas_words(monkeypatch):
    """A text with no ASCII letter, digit or symbol jieba puts in its Han blocks, and no Han character outside
    U+4E00-U+9FD5, is cut by rjieba in one call; the words are jieba's, whatever punctuation and whitespace it
    holds (random texts over those characters). Any other text is cut block by block."""
    import random

    import jieba

    get_nlp("zh", TERMS)
    seg = JiebaSegmenter()
    law = (ROOT / "corpus" / "zh" / "CN" / "产学研合作促进条例.md").read_text(encoding="utf-8")
    han = sorted({c for c in law if "\u4e00" <= c <= "\u9fd5"})
    other = [chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x180), *range(0x2000, 0x2030), *range(0x3000, 0x3020),
                              *range(0xE000, 0xE003), *range(0xFE30, 0xFE50), *range(0xFF00, 0xFF20), 0x1F600]]
    other += ["\n", "\t", "\u2028", "\x0b", "\x0c", "\x85", "\u00a0", "科技成果转化", "产学研合作"]
    rng = random.Random(7)
    # the law and the sample text with their digits, Latin letters and symbols taken out
    texts = [jieba_adapter._MIXED_OR_RARE.sub("", t) for t in (law, TEXT)]
    texts += ["".join(rng.choice(han) if rng.random() < 0.6 else rng.choice(other) for _ in range(rng.randint(1, 40)))
              for _ in range(3000)]
    whole = [t for t in texts if not jieba_adapter._MIXED_OR_RARE.search(t)]
    assert len(whole) > 500 and len(whole[0]) > 1000 and len(whole[1]) > 100

    def no_blocks(blk):
        raise AssertionError(f"block {blk!r} segmented alone")

    monkeypatch.setattr(seg, "_segment_block", no_blocks)
    for t in whole:
        assert seg.lcut(t) == jieba.lcut(t), t
    # a text with a digit, a Latin letter or a rarer Han character goes block by block
    for t in ("第35条", "AI技术", "鼓励㐀企业", "合作\r\n推进", "中国\ud800人民"):
        assert jieba_adapter._MIXED_OR_RARE.search(t)
        try:
            seg.lcut(t)
        except AssertionError:
            continue
        raise AssertionError(f"{t!r} was cut whole")
    monkeypatch.undo()
    assert seg.lcut("中国\ud800人民") == jieba.lcut("中国\ud800人民")  # a lone surrogate (JSON input may hold one)


def test_chinese_tokens_come_without_importing_spacy():
    """A worker that meets only Chinese text (a re-run after a Chinese document changed) does not pay for
    importing spaCy; the tokens are still those of spaCy's Chinese pipeline (test_classify checks that)."""
    import subprocess
    import sys

    code = ("import sys; from pipeline.tokenize import tokenize_texts; "
            "t = tokenize_texts(['促进科技成果转化。'], 'zh', ('科技成果转化',)); "
            "assert t == [['促进', '科技成果转化', '。']], t; "
            "assert 'spacy' not in sys.modules, 'spacy imported'; "
            "tokenize_texts(['Technology transfer.'], 'en'); assert 'spacy' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_segmenter_cuts_as_a_fresh_processs_whatever_words_the_process_added_before():
    """jieba's dictionary is the process's: a crossed run's segmenter for both frameworks' terms, made after each
    framework's default model had been trained with its own terms, cut 关键技术攻关 as 关键|技术攻关 where a fresh
    process cuts 关键技术|攻关, so a run's labels depended on whether it had trained a model first."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    code = """
import glob, json, sys
from pipeline.taxonomy import load_taxonomy
from pipeline.tokenize import zh_segmenter
one, other = (tuple(sorted(load_taxonomy(t).all_terms("zh"))) for t in ("taxonomy", "taxonomy/policy_tools"))
both = tuple(sorted(set(one) | set(other)))
texts = [open(f, encoding="utf-8").read() for f in sorted(glob.glob("corpus/zh/**/*.md", recursive=True))]
first = [zh_segmenter(one).lcut(t) for t in texts] if sys.argv[1] == "after" else None
if first is not None:
    zh_segmenter(other).lcut("预热")
cuts = [zh_segmenter(both).lcut(t) for t in texts]
again = [zh_segmenter(one).lcut(t) for t in texts]
print(json.dumps([cuts, again == first if first is not None else None], ensure_ascii=False))
"""
    got = {}
    for how in ("fresh", "after"):
        res = subprocess.run([sys.executable, "-c", code, how], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        got[how] = json.loads(res.stdout)
    assert got["after"][0] == got["fresh"][0]
    assert got["after"][1] is True  # and the first terms' segmenter, made again, cuts as it did
