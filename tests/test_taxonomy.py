
import copy

import pytest
import yaml

from pipeline.taxonomy import TaxonomyError, load_taxonomy

from conftest import ROOT, shared_or_skip


def test_project_taxonomy_has_exactly_the_codebook_ids():
    codebook = yaml.safe_load(shared_or_skip("codebook.yaml").read_text(encoding="utf-8"))
    expected = [n["id"] for n in codebook["nodes"]]
    tax = load_taxonomy(ROOT / "taxonomy")
    assert [n.id for n in tax.nodes] == expected
    assert len(tax.leaves) == 35
    assert {f: len(tax.facet_ids(f)) for f in ("model", "constraint", "measure")} == \
        {"model": 15, "constraint": 5, "measure": 15}
    assert len(tax.groups) == 5
    for n in tax.leaves:
        assert n.definition and n.name["zh"] and n.name["en"]
    for n in tax.nodes:
        if n.facet == "measure":
            assert n.recommendation, n.id


def _broken(tmp_path, edit):
    raw = yaml.safe_load((ROOT / "taxonomy" / "taxonomy.yaml").read_text(encoding="utf-8"))
    edit(raw)
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def _node(raw, nid):
    return next(n for n in raw["nodes"] if n["id"] == nid)


@pytest.mark.parametrize("edit,message", [
    # a deep copy: a shallow one shares the lexicon, which yaml would write as an alias (refused on its own)
    (lambda r: r["nodes"].append(copy.deepcopy(r["nodes"][0])), r"node 'model.science_park': duplicate id"),
    (lambda r: _node(r, "measure.ip.legal").update(parent="measure.nope"),
     r"node 'measure.ip.legal': parent 'measure.nope' does not exist"),
    (lambda r: _node(r, "model.incubator")["lexicon"]["zh"].update(patterns=["(unclosed"]),
     r"node 'model.incubator': lexicon.zh: pattern '\(unclosed' does not compile"),
    (lambda r: _node(r, "model.incubator")["lexicon"].pop("zh"), r"node 'model.incubator': leaf has no zh terms"),
    (lambda r: _node(r, "model.incubator").update(name={"en": "x", "zh": "y", "alliances": None}),
     r"node 'model.incubator': name needs exactly en and zh"),
    (lambda r: r["passage_rules"][0].update(allow=["model.nope"]), r"allow names unknown node 'model.nope'"),
    # a lexicon written as a text or a list, and a parent written as a list, stopped on a Python traceback
    (lambda r: _node(r, "model.incubator").update(lexicon="孵化器"),
     r"node 'model.incubator': lexicon: expected a mapping of zh and en"),
    (lambda r: _node(r, "model.incubator").update(lexicon=[{"zh": {"terms": ["孵化器"]}}]),
     r"node 'model.incubator': lexicon: expected a mapping of zh and en"),
    (lambda r: _node(r, "measure.ip.legal").update(parent=["measure.ip"]),
     r"node 'measure.ip.legal': parent: expected one node ID"),
    (lambda r: _node(r, "model.incubator").update(pairs_with=["model.science_park"]),
     r"node 'model.incubator': pairs_with: expected one node ID"),
    # a misspelt key was ignored without a word: the recommendation (or the rules) it held were lost
    (lambda r: _node(r, "measure.ip.legal").update(recommendaton=_node(r, "measure.ip.legal").pop("recommendation")),
     r"node 'measure.ip.legal': unknown key\(s\) \['recommendaton'\] \(allowed: .*recommendation"),
    # an unquoted number (973, the programme) in a list of 20 terms: the message said only "a list of strings"
    (lambda r: _node(r, "model.incubator")["lexicon"]["zh"]["terms"].insert(3, 973),
     r'node \'model.incubator\': lexicon.zh.terms: entry 4, 973, is a number, not a text: quote it \("973"\)'),
    (lambda r: _node(r, "model.incubator")["lexicon"]["zh"]["terms"].append(""),
     r"node 'model.incubator': lexicon.zh.terms: entry 13 is empty"),
    # a group under a group (or under itself): leaves roll up one level, so the upper group got nothing
    (lambda r: _node(r, "measure.ip").update(parent="measure.benefit"),
     r"node 'measure.ip': a group has no parent \(groups do not nest"),
    # "; " joins a passage's labels in coded_passages.csv, "|" keys the report's evidence: such an ID passed
    # validate and gave a labels cell that splits into a label too many
    (lambda r: _node(r, "model.incubator").update(id="model.incubator; x"),
     r"node 'model.incubator; x': a node ID is letters, digits"),
    # a definition written in both languages, as names are, was shown as "{'en': ..., 'zh': ...}" in gap lists
    (lambda r: _node(r, "model.incubator").update(definition={"en": "Incubators.", "zh": "孵化器。"}),
     r"node 'model.incubator': definition: expected a text"),
    # group: "false" (quoted) was read as true: the leaf became a group and its examples "not leaves"
    (lambda r: _node(r, "model.incubator").update(group="false"),
     r"node 'model.incubator': group: expected true or false \(unquoted\), got 'false'"),
    (lambda r: r.update(passage_rule=r.pop("passage_rules")), r"unknown key\(s\) \['passage_rule'\] \(allowed: .*passage_rules"),
    # a leaf under another facet's group: the incubator articles made a region address the IP measures
    (lambda r: _node(r, "model.incubator").update(parent="measure.ip"),
     r"node 'model.incubator': parent 'measure.ip' is a group of facet 'measure', not of 'model'"),
])
def test_invalid_taxonomy_names_the_offending_node(tmp_path, edit, message):
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(_broken(tmp_path, edit))


def test_yaml_tags_are_not_executed(tmp_path):
    p = tmp_path / "taxonomy.yaml"
    p.write_text("nodes: !!python/object/apply:os.system ['echo pwned > %s']\n" % (tmp_path / "pwned"))
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(p)
    assert not (tmp_path / "pwned").exists()


def test_broken_yaml_is_reported_with_its_line_and_column(tmp_path):
    p = tmp_path / "taxonomy.yaml"
    p.write_text("version: 1\nnodes:\n  - id: a\n    terms: [unclosed\n  - id: b\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"taxonomy.yaml: not valid YAML at line 5, column \d+: "):
        load_taxonomy(p)


def test_repeated_keys_tabs_and_other_encodings_are_named(tmp_path):
    """A second `terms:` in one lexicon silently replaced the first (validate said OK); a tab-indented file and
    a GBK file gave the parser's words alone."""
    p = tmp_path / "taxonomy.yaml"
    p.write_text("version: 1\nnodes:\n  - id: a\n    lexicon:\n      zh:\n        terms: [科技伦理]\n"
                 "        terms: [人工智能伦理]\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"taxonomy.yaml line 7: 'terms' is given twice in one mapping"):
        load_taxonomy(p)
    p.write_text("version: 1\nnodes:\n\t- id: a\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"line 3, column 1: .* indented with a tab"):
        load_taxonomy(p)
    p.write_bytes("version: 1\nnodes: [科技]\n".encode("gbk"))
    with pytest.raises(TaxonomyError, match=r"not valid YAML at line 2, byte 19: .*octet; save it as UTF-8"):
        load_taxonomy(p)



@pytest.mark.parametrize("term", ["*", " * ", "\u200b"])
def test_a_term_with_no_text_is_refused(tmp_path, term):
    """A term of '*' alone (or of invisible characters alone) passed validate and matched nothing."""
    p = _broken(tmp_path, lambda r: _node(r, "model.incubator")["lexicon"]["zh"]["terms"].append(term))
    with pytest.raises(TaxonomyError, match=r"node 'model.incubator': lexicon.zh.terms: .* has no text"):
        load_taxonomy(p)


def test_terms_are_read_as_the_text_they_match_is(tmp_path):
    """Documents are coded in NFKC (full-width letters become ASCII, zero-width characters dropped) and in
    Simplified Chinese; a term typed with full-width letters, a zero-width space or in Traditional characters,
    or quoted with a space around it, passed validate and never matched."""
    from pipeline.lexicon import LexiconMatcher

    raw = {"version": "t", "facets": {"model": {}}, "nodes": [
        {"id": "model.incubator", "facet": "model", "name": {"en": "Incubators", "zh": "孵化器"},
         "lexicon": {"zh": {"terms": ["ＡＩ创新券", "產學研聯盟", "众创\u200b空间", " 星创天地 "],
                            "rules": [{"terms": ["孵化基地"], "context": ["科學技術"]}]},
                     "en": {"terms": ["ｍａｋｅｒｓｐａｃｅ*", " business accelerator "]}}}]}
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    m = LexiconMatcher(load_taxonomy(p))
    text = "鼓励发放AI创新券，支持产学研联盟和众创空间、星创天地建设孵化基地，促进科学技术进步。"
    hits = {(h.term, h.role) for h in m.match(text, "zh")}
    assert {("AI创新券", "term"), ("产学研联盟", "term"), ("众创空间", "term"), ("星创天地", "term"),
            ("孵化基地", "rule"), ("科学技术", "context")} <= hits
    # a document left in Traditional where it is mixed with Simplified (not converted) still matches as written
    assert ("產學研聯盟", "term") in {(h.term, h.role) for h in m.match("支持產學研聯盟。", "zh")}
    en = {h.term for h in m.match("Makerspaces and a business accelerator.", "en")}
    assert en == {"Makerspaces", "business accelerator"}


def test_a_node_problem_names_the_line_the_node_starts_on(tmp_path):
    """Messages about a node named the file and the node but no line: in a file of 1,400 lines the reader
    searched for the ID (and for a node without one, counted items of the list from 0)."""
    text = (ROOT / "taxonomy" / "taxonomy.yaml").read_text(encoding="utf-8")
    line = text[:text.index("  - id: model.incubator")].count("\n") + 1
    p = tmp_path / "taxonomy.yaml"
    p.write_text(text.replace("    facet: model\n    name: {en: Business incubators",
                              "    facet: models\n    name: {en: Business incubators", 1), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=rf"taxonomy.yaml line {line}: node 'model.incubator': facet must be"):
        load_taxonomy(p)
    p.write_text(text.replace("  - id: model.incubator\n", "  - id: model.incubator\n    parent: model.nope\n", 1),
                 encoding="utf-8")
    with pytest.raises(TaxonomyError, match=rf"taxonomy.yaml line {line}: node 'model.incubator': parent 'model.nope'"):
        load_taxonomy(p)
    p.write_text(text.replace("  - id: model.incubator\n", "  - ids: model.incubator\n", 1), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=rf"taxonomy.yaml line {line}: nodes\[2\] has no string 'id'"):
        load_taxonomy(p)


def test_a_pattern_in_traditional_characters_matches_the_simplified_text(tmp_path):
    """Traditional documents are coded in Simplified: a pattern written in Traditional characters passed validate
    and never matched them."""
    from pipeline.lexicon import LexiconMatcher

    raw = {"version": "t", "facets": {"model": {}}, "nodes": [
        {"id": "model.alliance", "facet": "model", "name": {"en": "Alliances", "zh": "联盟"},
         "lexicon": {"zh": {"patterns": ["產學研.{0,4}聯盟"],
                            "rules": [{"patterns": ["創新.{0,2}基地"], "context": ["高等學校"]}]},
                     "en": {"terms": ["alliance*"]}}}]}
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    m = LexiconMatcher(load_taxonomy(p))
    hits = {(h.term, h.role) for h in m.match("支持产学研技术创新联盟与高等学校共建创新创业基地。", "zh")}
    assert {("产学研技术创新联盟", "pattern"), ("创新创业基地", "rule_pattern"), ("高等学校", "context")} <= hits
    assert ("產學研聯盟", "pattern") in {(h.term, h.role) for h in m.match("支持產學研聯盟。", "zh")}


@pytest.mark.parametrize("written,version", [("1.10", "1.10"), ("'1.10'", "1.10"), ("2", "2"), ("1.0", "1.0"),
                                             ("2024-03-01", "2024-03-01")])
def test_an_unquoted_version_is_the_text_the_file_gives(tmp_path, written, version):
    """YAML reads an unquoted `version: 1.10` as the number 1.1: validate said nothing and the summary, the report
    and run.json showed version 1.1 (a tester's report)."""
    text = (ROOT / "taxonomy" / "taxonomy.yaml").read_text(encoding="utf-8")
    p = tmp_path / "taxonomy.yaml"
    p.write_text(text.replace('\nversion: "1.1"\n', f"\nversion: {written}\n", 1), encoding="utf-8")
    assert load_taxonomy(p).version == version


def test_an_unquoted_numbered_node_id_is_the_text_the_file_gives(tmp_path):
    """A numbered codebook (1, 1.1, 1.2 ... 1.10) written unquoted: YAML reads `id: 1.10` as the number 1.1, and
    loading refused every node as having 'no string id' without saying why. As the version is, an ID is the text
    the file gives, and so are the parent and pairs_with that name one."""
    leaf = ("  - id: {id}\n    facet: tools\n    parent: {parent}\n    pairs_with: {pair}\n    name: {{en: Tool, zh: 工具}}\n"
            "    lexicon: {{zh: {{terms: [资金{n}]}}, en: {{terms: [funding{n}]}}}}\n")
    p = tmp_path / "taxonomy.yaml"
    p.write_text("version: 1.10\nfacets:\n  tools:\n    name: {en: Tools, zh: 工具}\nnodes:\n"
                 "  - {id: 1, facet: tools, group: true, name: {en: Tools, zh: 工具}}\n"
                 + leaf.format(id="1.1", parent=1, pair="1.10", n=1) + leaf.format(id="1.10", parent=1, pair="1.1", n=2)
                 + leaf.format(id="'1.2'", parent="'1'", pair="0x10", n=3)
                 + leaf.format(id="0x10", parent=1, pair="1.2", n=4), encoding="utf-8")
    tax = load_taxonomy(p)
    assert [n.id for n in tax.nodes] == ["1", "1.1", "1.10", "1.2", "0x10"]
    assert [(n.parent, n.pairs_with) for n in tax.nodes] == [
        (None, None), ("1", "1.10"), ("1", "1.1"), ("1", "0x10"), ("1", "1.2")]
    # and a passage rule's allow that names one
    p.write_text(p.read_text(encoding="utf-8").replace(
        "nodes:\n", "passage_rules:\n  - {id: scope, lang: zh, patterns: ['本办法适用于'], allow: [1.10, 0x10]}\nnodes:\n"),
        encoding="utf-8")
    assert load_taxonomy(p).passage_rules[0].allow == {"1.10", "0x10"}
