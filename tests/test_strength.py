"""Strength of commitment read from a passage's own wording (taxonomy/strength.yaml), on hand-written sentences,
with the traps: prohibitions (不得, may not) are binding, negated money (不得给予补助) is no resource, and wording
whose modal commits to nothing (shall not be construed, may be cited as) is declaratory."""
from __future__ import annotations

import pytest
import yaml

from pipeline.strength import load_strength
from pipeline.taxonomy import TaxonomyError

from conftest import ROOT

SENTENCES = [
    # Chinese
    ("zh", "第十条 县级以上人民政府应当加强对产学研合作的组织协调。", "binding"),
    ("zh", "第十一条 合作各方必须遵守国家保密规定。", "binding"),
    ("zh", "第十二条 任何单位和个人不得侵占科技成果转化收益。", "binding"),
    ("zh", "第十三条 禁止以技术合同名义骗取财政补助资金。", "binding"),  # fraud with subsidies: a prohibition
    ("zh", "第十四条 对未按期完成项目的单位，不得给予后续补助。", "binding"),  # negated money is no resource
    ("zh", "第三十条 违反本办法规定的，由主管部门处一万元以上五万元以下的罚款。", "binding"),  # a sanction, no modal
    ("zh", "第三十一条 弄虚作假骗取奖励的，撤销奖励，对直接责任人员依法给予处分。", "binding"),
    ("zh", "第十五条 省人民政府应当安排专项资金，支持共性技术平台建设。", "resources"),  # precedence over 应当
    ("zh", "第十六条 对认定的科技企业孵化器，给予一次性五十万元奖励。", "resources"),
    ("zh", "第十七条 县级以上人民政府应当将科技投入纳入财政预算。", "resources"),
    ("zh", "第十八条 国家鼓励企业与高等学校共建研发机构。", "encouraging"),
    ("zh", "第十九条 支持科研人员到企业兼职从事成果转化。", "encouraging"),
    ("zh", "第二十条 科研人员可以依法离岗创业。", "encouraging"),
    ("zh", "第二十一条 引导社会资本投向初创期科技企业。", "encouraging"),
    ("zh", "第二十二条 科技创新是引领发展的第一动力。", "declaratory"),
    ("zh", "第二十三条 本省产学研合作取得显著成效。", "declaratory"),
    ("zh", "第二十四条 对此类项目不再支持。", "declaratory"),  # negated encouragement, no other cue
    # English
    ("en", "(a) The Secretary shall establish a program of cooperative research.", "binding"),
    ("en", "(b) Each recipient must report annually on the use of the award.", "binding"),
    ("en", "(c) Funds made available under this section may not be used for construction.", "binding"),
    ("en", "(d) No funds appropriated under this Act may be used to lobby Congress.", "binding"),
    ("en", "(e) The use of human subjects without consent is prohibited.", "binding"),
    ("en", "(f) There are authorized to be appropriated $10,000,000 for fiscal year 2024.", "resources"),
    ("en", "(g) The Director shall make grants to institutions of higher education.", "resources"),  # precedence
    ("en", "(h) The Administrator may provide financial assistance to small firms.", "resources"),
    ("en", "(i) The Secretary may enter into cooperative agreements with industry.", "encouraging"),
    ("en", "(j) Agencies are encouraged to share facilities with universities.", "encouraging"),
    ("en", "(k) Each laboratory should seek partners among local firms.", "encouraging"),
    ("en", "(l) Nothing in this section shall be construed to limit the authority of the Secretary.", "declaratory"),
    ("en", "(m) This section shall not be construed as creating any right.", "declaratory"),
    ("en", "(n) This Act may be cited as the Research Partnerships Act.", "declaratory"),
    ("en", "(o) Technology transfer is a responsibility of each laboratory science and engineering professional.",
     "declaratory"),
]


@pytest.mark.parametrize("lang,text,expected", SENTENCES, ids=[f"{l}-{i}" for i, (l, _, _) in enumerate(SENTENCES)])
def test_strength_of_hand_written_sentences(lang, text, expected):
    level, cue = load_strength().read(text, lang)
    assert level == expected, (text, cue)
    if expected != "declaratory":
        assert cue and cue in text  # the cue is the passage's own wording


def test_every_level_is_reached_in_both_languages():
    got = {(l, load_strength().read(t, l)[0]) for l, t, _ in SENTENCES}
    levels = load_strength().ids
    assert {(l, lv) for l in ("zh", "en") for lv in levels} <= got


def test_cues_are_data(tmp_path):
    """A cue added to the YAML changes the reading: no Python involved."""
    raw = yaml.safe_load((ROOT / "taxonomy" / "strength.yaml").read_text(encoding="utf-8"))
    text = "第二十二条 科技创新是引领发展的第一动力。"
    assert load_strength().read(text, "zh")[0] == "declaratory"
    for level in raw["levels"]:
        if level["id"] == "encouraging":
            level["zh"]["cues"].append("第一动力")
    path = tmp_path / "strength.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_strength(path).read(text, "zh") == ("encouraging", "第一动力")


@pytest.mark.parametrize("edit,message", [
    (lambda r: r["levels"].append({"id": "other", "name": {"en": "o", "zh": "o"}, "default": True}),
     "exactly one level must be the default"),
    (lambda r: r["levels"][0]["zh"]["cues"].append("(unclosed"), "does not compile"),
    (lambda r: r["levels"][1].pop("en"), "needs cues in both languages"),
    (lambda r: r["levels"][1].update(colour="red"), "unknown key"),
])
def test_a_broken_cue_file_names_the_file_and_the_problem(tmp_path, edit, message):
    raw = yaml.safe_load((ROOT / "taxonomy" / "strength.yaml").read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "strength.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TaxonomyError) as err:
        load_strength(path)
    assert str(path) in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("cues,text,ignore_case", [
    # a cue listed later that occurs earlier wins; at one start, the cue listed first wins with its own span
    (("应当", "可以", "可以依法"), "企业可以依法申请，主管部门应当受理", False),
    (("可以", "可以依法"), "企业可以依法申请", False),
    (("可以依法", "可以"), "企业可以依法申请", False),
    ((r"\bshall\b", r"\bmay\b", r"\bmay not\b"), "The Secretary may not, and the agency shall, report.", True),
    ((r"(?P<v>must)", r"(?P<v>shall)"), "it shall and it must", True),  # one group name twice: not joined
    ((r"\bshall\b",), "no cue here", True),
])
def test_joined_cues_find_what_each_cue_finds(cues, text, ignore_case):
    from pipeline.strength import _cue_searchers
    from pipeline.taxonomy import compile_pattern

    def first(searchers):
        found = None
        for rx in searchers:
            m = rx.search(text)
            if m is not None and (found is None or m.start() < found[0]):
                found = (m.start(), m.end())
        return found

    joined = _cue_searchers(cues, ignore_case)
    assert first(joined) == first([compile_pattern(c, ignore_case) for c in cues])
    assert len(joined) == (len(cues) if "?P<" in "".join(cues) else 1)
