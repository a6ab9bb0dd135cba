"""Any codebook: a framework written by a user in the taxonomy's YAML form runs through the whole pipeline;
several frameworks in one run are crossed (crosstab.csv), consistently with the coverage tables; `validate`
names the file and the problem."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.taxonomy import TaxonomyError, load_taxonomy

from conftest import CN_REGULATION, ROOT, US_CODE, write

PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(PY) if PY.exists() else sys.executable

# An innovation value chain, as a researcher might write it: two facets, its own words for the report
TOY = textwrap.dedent("""\
    version: "0.1"
    framework:
      id: chain
      name: {en: Innovation value chain, zh: 创新价值链}
      title: "Innovation value chain: which stages the policies reach"
    facets:
      stage:
        name: {en: Stages of the chain, zh: 创新链环节}
        item: chain stage
      actor:
        name: {en: Actors, zh: 主体}
        item: actor
    audit:
      facets: [stage]
      also: [actor]
      column: stage
      item: chain stage
      owner: the chain's
      guidance: Chain
    nodes:
      - id: chain.research
        facet: stage
        name: {en: Research stage, zh: 研发环节}
        definition: Research and development of new knowledge.
        lexicon:
          zh: {terms: [联合实验室, 研究开发]}
          en: {terms: [cooperative research]}
      - id: chain.transfer
        facet: stage
        name: {en: Transfer stage, zh: 转化环节}
        definition: Moving results from research into use.
        lexicon:
          zh: {terms: [技术转移, 中试熟化]}
          en: {terms: [royalt*]}
      - id: chain.market
        facet: stage
        name: {en: Market stage, zh: 产业化环节}
        definition: Products made and sold.
        lexicon:
          zh: {terms: [产业化, 市场推广]}
          en: {terms: [commercialization]}
      - id: actor.university
        facet: actor
        name: {en: Universities, zh: 高等学校}
        definition: Universities as actors.
        lexicon:
          zh: {terms: [高等学校]}
          en: {terms: [universit*, laborator*]}
    """)

TOY_EXAMPLES = [
    ("zh", "第三条 鼓励企业与高等学校共建联合实验室，开展研究开发。", ["chain.research", "actor.university"]),
    ("zh", "第五条 支持企业联合科研机构开展研究开发活动。", ["chain.research"]),
    ("zh", "第八条 设立联合实验室，共同开展前沿技术研究开发。", ["chain.research"]),
    ("zh", "第九条 高等学校应当开放联合实验室。", ["chain.research", "actor.university"]),
    ("zh", "第四条 对技术转移和中试熟化活动予以支持。", ["chain.transfer"]),
    ("zh", "第六条 建设中试熟化基地，促进技术转移。", ["chain.transfer"]),
    ("zh", "第七条 高等学校应当设立技术转移机构。", ["chain.transfer", "actor.university"]),
    ("zh", "第十条 技术转移机构提供中试熟化服务。", ["chain.transfer"]),
    ("zh", "第十一条 推动成果产业化和市场推广。", ["chain.market"]),
    ("zh", "第十二条 户外广告设施应当符合城市容貌标准。", []),
    ("en", "(1) Each laboratory may enter into cooperative research agreements.", ["chain.research", "actor.university"]),
    ("en", "(2) The agency shall support cooperative research with industry.", ["chain.research"]),
    ("en", "(3) Inventors shall receive a share of royalties.", ["chain.transfer"]),
    ("en", "(4) Royalties shall be paid to the laboratory.", ["chain.transfer", "actor.university"]),
    ("en", "(5) The Secretary shall report on commercialization of results.", ["chain.market"]),
    ("en", "(6) Members of the Board shall serve without pay.", []),
]


def _toy(folder: Path) -> Path:
    write(folder / "taxonomy.yaml", TOY)
    write(folder / "examples" / "toy.jsonl", "".join(
        json.dumps({"id": f"toy-{i}", "lang": l, "text": t, "labels": ls}, ensure_ascii=False) + "\n"
        for i, (l, t, ls) in enumerate(TOY_EXAMPLES)))
    return folder


def _corpus(root: Path) -> Path:
    write(root / "CN-XX" / "条例.md", CN_REGULATION)
    write(root / "US" / "code.md", US_CODE)
    return root


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    return subprocess.run([PYTHON, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=600)


def test_a_user_framework_runs_end_to_end(tmp_path):
    tax = _toy(tmp_path / "chain")
    out = tmp_path / "out"
    got = _run("run", "--corpus", str(_corpus(tmp_path / "corpus")), "--out", str(out), "--taxonomy", str(tax),
               "--quiet", "--jobs", "1")
    assert got.returncode == 0, got.stderr[-3000:]
    assert "default model: training on 16 example passages" in got.stderr
    # chain.market has 2 examples: the run says that its lexicon alone decides it, as validate does
    assert "leaves have fewer than 4 examples" in got.stderr and "lexicon alone decides: chain.market" in got.stderr
    # coverage tables over the toy's nodes
    wide = pd.read_csv(out / "coverage_region.csv", encoding="utf-8-sig")
    assert {"chain.research", "chain.transfer", "chain.market", "actor.university"} <= set(wide.columns)
    long = pd.read_csv(out / "coverage_region_long.csv", encoding="utf-8-sig").set_index(["region", "node"])
    assert long.loc[("CN-XX", "chain.transfer"), "passages"] >= 1
    assert long.loc[("US", "chain.transfer"), "passages"] >= 1  # royalties
    # the gap audit is about the toy's audited facet, with columns named from its data
    gaps = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    assert set(gaps["facet"]) == {"stage", "actor"}
    assert {"region_stages_addressed", "region_stage_coverage", "strength", "committed"} <= set(gaps.columns)
    assert not [c for c in gaps.columns if "measure" in c]
    rk = pd.read_csv(out / "region_ranking.csv", encoding="utf-8-sig")
    assert {"stages_addressed", "actors_addressed", "stage_coverage"} <= set(rk.columns)
    assert set(rk["stages_addressed"]) <= {0, 1, 2, 3}
    coded = pd.read_csv(out / "coded_passages.csv", encoding="utf-8-sig", keep_default_na=False)
    assert set(coded["strength"]) <= {"resources", "binding", "encouraging", "declaratory"} and len(coded)
    # the reports speak the toy's language, not the paper's
    html = (out / "report.html").read_text(encoding="utf-8")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "Innovation value chain: which stages the policies reach" in html
    assert "Region × chain stage" in html and "Region × actor" in html
    assert "Regions ranked by the chain's chain stages they address" in summary
    for text in (html, summary, (out / "report.md").read_text(encoding="utf-8")):
        for word in ("recommendation", "cooperation model", "Liu et al"):
            assert word not in text
    assert not (out / "crosstab.csv").exists()
    with zipfile.ZipFile(out / "coverage.xlsx") as z:
        assert "crosstab" not in z.read("xl/workbook.xml").decode()


def test_validate_names_file_and_problem(tmp_path):
    tax = _toy(tmp_path / "chain")
    ok = _run("validate", "--taxonomy", str(tax))
    assert ok.returncode == 0, ok.stderr
    assert "framework 'chain' OK" in ok.stderr
    assert "more than once" not in ok.stderr
    # a term written twice in one node (English without case, as it is matched) is a warning, not an error
    write(tax / "taxonomy.yaml", TOY.replace("en: {terms: [royalt*]}", "en: {terms: [royalt*, Royalt*]}"))
    twice = _run("validate", "--taxonomy", str(tax))
    assert twice.returncode == 0, twice.stderr
    assert "warning:" in twice.stderr and "lexicon.en.terms lists 'Royalt*' more than once" in twice.stderr
    # an undeclared facet
    write(tax / "taxonomy.yaml", TOY.replace("facet: actor\n", "facet: actors\n"))
    bad = _run("validate", "--taxonomy", str(tax))
    assert bad.returncode == 2
    assert str(tax / "taxonomy.yaml") in bad.stderr and "actor.university" in bad.stderr and "actors" in bad.stderr
    # examples whose labels are not leaves of the framework
    write(tax / "taxonomy.yaml", TOY)
    write(tax / "examples" / "more.jsonl", json.dumps({"id": "x", "text": "研究开发", "labels": ["chain.nope"]}) + "\n")
    bad = _run("validate", "--taxonomy", str(tax))
    assert bad.returncode == 2 and "more.jsonl" in bad.stderr and "chain.nope" in bad.stderr
    # too few examples to train a model: fewer than half of the leaves have enough
    (tax / "examples" / "more.jsonl").unlink()
    write(tax / "examples" / "toy.jsonl", json.dumps({"id": "x", "text": "研究开发", "labels": ["chain.research"]}) + "\n")
    bad = _run("validate", "--taxonomy", str(tax))
    assert bad.returncode == 2 and "only 0 of 4 leaves" in bad.stderr


@pytest.mark.parametrize("edit,message", [
    (lambda y: y.replace("audit:\n  facets: [stage]", "audit:\n  facets: [stages]"), "not declared under facets"),
    (lambda y: y.replace("facets:\n  stage:", "facets: [stage]\nfacets_:\n  stage:"), "'facets' must map"),
    (lambda y: y.replace("  column: stage", "  column: two words"), "column"),
    # the audited leaves' count column would be the also-facet's (actors_addressed): a KeyError traceback
    (lambda y: y.replace("  column: stage", "  column: actor"), "audit.column 'actor' is also a facet in audit.also"),
    (lambda y: y.replace("framework:\n  id: chain", "framework:\n  id: chain\n  colour: red"), "unknown key"),
])
def test_broken_framework_sections(tmp_path, edit, message):
    path = write(tmp_path / "t" / "taxonomy.yaml", edit(TOY))
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_frameworks_of_one_run_must_not_share_node_ids(tmp_path):
    a = write(tmp_path / "a" / "taxonomy.yaml", TOY)
    b = write(tmp_path / "b" / "taxonomy.yaml", TOY.replace("id: chain\n", "id: chain2\n"))
    with pytest.raises(TaxonomyError, match="node 'chain.research' is also a node of"):
        load_taxonomy(f"{a.parent},{b.parent}")


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    """The demo corpus coded under the project's framework and the policy tools in one run."""
    out = tmp_path_factory.mktemp("crossed")
    got = _run("run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--taxonomy",
               "taxonomy,taxonomy/policy_tools", "--model", "lexicon", "--quiet", "--jobs", "1")
    assert got.returncode == 0, got.stderr[-3000:]
    return out


def _csv(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv", encoding="utf-8-sig", keep_default_na=False)


def test_several_frameworks_code_every_passage_under_each(crossed):
    coded = _csv(crossed, "coded_passages")
    labels = coded["labels"].str.split("; ")
    assert labels.map(lambda ls: any(l.startswith("tool.") for l in ls)).any()
    assert labels.map(lambda ls: any(l.startswith(("model.", "measure.")) for l in ls)).any()
    gaps = _csv(crossed, "gaps")
    assert set(gaps["framework"]) == {"uirc", "policy_tools"}
    rk = _csv(crossed, "region_ranking")
    assert {"measures_addressed", "models_addressed", "tools_addressed", "tool_coverage"} <= set(rk.columns)
    html = (crossed / "report.html").read_text(encoding="utf-8")
    assert 'id="crosstab"' in html and "Policy tools (Rothwell &amp; Zegveld)" in html
    with zipfile.ZipFile(crossed / "coverage.xlsx") as z:
        assert 'name="crosstab"' in z.read("xl/workbook.xml").decode()


def test_a_run_of_one_framework_after_a_crossed_one_leaves_no_crosstab(tmp_path):
    """crosstab.csv of the frameworks crossed before would stand beside coverage tables of one framework, which a
    fresh run into an empty folder does not write."""
    corpus, out = _corpus(tmp_path / "corpus"), tmp_path / "out"
    for taxonomy in ("taxonomy,taxonomy/policy_tools", "taxonomy"):
        got = _run("run", "--corpus", str(corpus), "--out", str(out), "--taxonomy", taxonomy, "--model", "lexicon",
                   "--quiet", "--jobs", "1")
        assert got.returncode == 0, got.stderr[-3000:]
    assert not (out / "crosstab.csv").exists() and not (out / "crosstab.parquet").exists()


def test_crosstab_cells_agree_with_the_coverage_tables(crossed):
    ct = _csv(crossed, "crosstab")
    coded = _csv(crossed, "coded_passages")
    long = _csv(crossed, "coverage_region_long").set_index(["region", "node"])
    assert len(ct) and (ct["passages"] > 0).any()
    # every cell recomputed from the coded passages: passages (and documents) coded under both nodes
    both: dict = {}
    for r in coded.itertuples(index=False):
        ls = r.labels.split("; ")
        for a in (l for l in ls if not l.startswith("tool.")):
            for b in (l for l in ls if l.startswith("tool.")):
                both.setdefault((r.region, a, b), []).append((r.passage_id, r.doc_id, r.strength))
    nonzero = ct[ct["passages"] > 0]
    assert {(r.region, r.node_a, r.node_b) for r in nonzero.itertuples(index=False)} == set(both)
    for r in ct.itertuples(index=False):
        got = both.get((r.region, r.node_a, r.node_b), [])
        assert r.passages == len({p for p, _, _ in got})
        assert r.documents == len({d for _, d, _ in got})
        ids = [p for p in r.evidence_passage_ids.split("; ") if p]
        assert sorted(ids) == sorted({p for p, _, _ in got})  # the evidence names every passage of the cell
        # the strength split adds up to the cell
        assert sum(getattr(r, f"passages_{lv}") for lv in ("resources", "binding", "encouraging", "declaratory")) \
            == r.passages
        # margins are the coverage tables' counts, and no cell exceeds them
        assert r.node_a_passages == long.loc[(r.region, r.node_a), "passages"]
        assert r.node_b_passages == long.loc[(r.region, r.node_b), "passages"]
        assert r.passages <= min(r.node_a_passages, r.node_b_passages)
        assert r.documents <= min(long.loc[(r.region, r.node_a), "documents"],
                                  long.loc[(r.region, r.node_b), "documents"])
    # a passage coded under node a and any policy tool is counted once per tool: the union is within a's count
    for (region, a), grp in nonzero.groupby(["region", "node_a"]):
        union = {p for b in grp["node_b"] for p, _, _ in both[(region, a, b)]}
        assert len(union) <= long.loc[(region, a), "passages"]


def test_strength_splits_every_coverage_cell(crossed):
    long = _csv(crossed, "coverage_region_long")
    levels = [f"passages_{lv}" for lv in ("resources", "binding", "encouraging", "declaratory")]
    assert (long[levels].sum(axis=1) == long["passages"]).all()
    gaps = _csv(crossed, "gaps")
    hit = gaps[gaps["passages"] > 0]
    assert hit["strength"].str.len().gt(0).all()
    committed = (hit["passages_resources"] + hit["passages_binding"]) > 0
    assert (hit["committed"].astype(str) == committed.astype(str)).all()


def test_compare_in_a_crossed_run_compares_the_frameworks_asked_for(crossed):
    """compare with TAXONOMY= one framework of a run that crossed two listed the other's nodes too. Its table is
    named after that framework: it overwrote the comparison on every framework, written under the same name."""
    whole = _run("compare", "--a", "CN-SD", "--b", "CN-ZJ", "--out", str(crossed), "--taxonomy",
                 "taxonomy,taxonomy/policy_tools")
    assert whole.returncode == 0, whole.stderr[-2000:]
    got = _run("compare", "--a", "CN-SD", "--b", "CN-ZJ", "--out", str(crossed), "--taxonomy", "taxonomy/policy_tools")
    assert got.returncode == 0, got.stderr[-2000:]
    tools = load_taxonomy(ROOT / "taxonomy" / "policy_tools")
    table = pd.read_csv(crossed / f"compare_CN-SD_vs_CN-ZJ_{tools.id}.csv", encoding="utf-8-sig")
    assert set(table["node"]) == {n.id for n in tools.nodes}
    assert "are not in --taxonomy taxonomy/policy_tools and are not compared" in got.stdout
    assert f"compare_CN-SD_vs_CN-ZJ_{tools.id}.csv" in got.stderr
    every = pd.read_csv(crossed / "compare_CN-SD_vs_CN-ZJ.csv", encoding="utf-8-sig")
    assert set(every["node"]) > set(table["node"])


def test_each_frameworks_gap_list_is_named_in_a_crossed_report(crossed):
    """Two gap lists under one heading could not be told apart, and a framework of governance instruments read
    'with the codebook's governance instrument'."""
    from html import escape

    html = (crossed / "report.html").read_text(encoding="utf-8")
    for fw in load_taxonomy("taxonomy,taxonomy/policy_tools").parts:
        assert f"Gap list by region: {escape(fw.name['en'])}</h2>" in html
    assert "with the codebook's" not in html


def test_the_crosstab_panel_quotes_traditional_chinese_as_written(tmp_path):
    """The framework × framework panel quoted a Traditional document's passage in the Simplified text it was
    coded in, beside the rest of the report showing it as written."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    original = ("科學技術基本法\n第一條 政府應設置科技成果轉化引導基金，並推動技術轉移。\n"
                "第二條 對完成、轉化職務科技成果作出重要貢獻的人員，應當給予獎勵和報酬。\n")
    write(corpus / "TW" / "tw.txt", original)
    got = _run("run", "--corpus", str(corpus), "--out", str(out), "--taxonomy", "taxonomy,taxonomy/policy_tools",
               "--model", "lexicon", "--quiet", "--jobs", "1")
    assert got.returncode == 0, got.stderr[-3000:]
    ct = _csv(out, "crosstab")
    assert (ct["passages"] > 0).any()
    quoted = ct.loc[ct["passages"] > 0, "evidence_passage"].astype(str)
    assert all(q.replace("【", "").replace("】", "") in original for q in quoted)  # crosstab.csv too
    assert set(ct.loc[ct["passages"] > 0, "evidence_article"]) <= {"第一條", "第二條"}
    html = (out / "report.html").read_text(encoding="utf-8")
    panel = "".join(re.findall(r'<section class="evcell" id="[^"]+"><h3>[^<]*</h3><p class="note">[^<]*strongest per '
                               r'region shown</p>.*?</section>', html))
    texts = re.findall(r'<div class="txt"( lang="zh-Hant")?>(.*?)</div>', panel)
    assert texts and all(lang for lang, _ in texts)
    for _, t in texts:
        assert t.replace("【", "").replace("】", "") in original
    assert "第一條" in panel and "第一条" not in panel


def test_a_run_on_too_few_examples_says_so_as_validate_does(tmp_path):
    """With three example passages, the default model's training stopped the run on scikit-learn's traceback
    (max_df corresponds to < documents than min_df), where validate names the examples folder."""
    tax = _toy(tmp_path / "chain")
    write(tax / "examples" / "toy.jsonl", "".join(
        json.dumps({"id": f"toy-{i}", "lang": l, "text": t, "labels": ls}, ensure_ascii=False) + "\n"
        for i, (l, t, ls) in enumerate(TOY_EXAMPLES[:3])))
    got = _run("run", "--corpus", str(_corpus(tmp_path / "corpus")), "--out", str(tmp_path / "out"),
               "--taxonomy", str(tax), "--quiet", "--jobs", "1")
    assert got.returncode == 2, got.stderr[-3000:]
    assert "Traceback" not in got.stderr
    assert f"{tax}/examples: only" in got.stderr and "MODEL=lexicon" in got.stderr


def test_two_frameworks_with_the_same_count_columns_are_refused(tmp_path):
    """Two frameworks without `audit: column` both count into nodes_addressed: the crossed run stopped in the
    aggregate stage on a KeyError traceback, after ingest and classify had run."""
    def framework(name: str) -> Path:
        write(tmp_path / name / "taxonomy.yaml", f"""
            facets:
              {name}: {{name: {{en: {name}, zh: {name}}}}}
            nodes:
              - id: {name}.one
                facet: {name}
                name: {{en: One, zh: 一}}
                lexicon:
                  zh: {{terms: [研究开发]}}
                  en: {{terms: [research]}}
            """.replace("\n            ", "\n"))
        return tmp_path / name

    a, b = framework("stage"), framework("phase")
    with pytest.raises(TaxonomyError, match=r"phase/taxonomy.yaml: audit column 'node' .* also that of .*stage/"
                                            r"taxonomy.yaml.*audit: column:"):
        load_taxonomy(f"{a},{b}")


def test_validate_warns_of_an_example_without_labels(tmp_path):
    """An example line without "labels" (forgotten, or misspelt "label") passed validate without a word and
    taught the default model that its passage uses no node."""
    tax = _toy(tmp_path / "chain")
    write(tax / "examples" / "more.jsonl", json.dumps({"id": "m1", "text": "联合实验室", "labels": []}) + "\n"
          + json.dumps({"id": "m2", "text": "联合实验室开展研究开发", "label": ["chain.research"]}) + "\n")
    got = _run("validate", "--taxonomy", str(tax))
    assert got.returncode == 0, got.stderr
    assert f"warning: {tax / 'examples' / 'more.jsonl'} line 2: no 'labels'" in got.stderr
    assert "line 1" not in got.stderr


def test_an_examples_file_saved_as_gbk_is_named_with_its_line(tmp_path):
    """An examples file saved as GBK gave "cannot be read as UTF-8 text (UnicodeDecodeError)": no line, no way out."""
    from pipeline.classify import read_coded
    from pipeline.io import ConfigError

    p = write(tmp_path / "zh.jsonl", json.dumps({"id": "a", "text": "研究开发", "labels": []}) + "\n")
    p.write_bytes(p.read_bytes() + (json.dumps({"id": "b", "text": "研究开发", "labels": []}, ensure_ascii=False)
                                    + "\n").encode("gbk"))
    with pytest.raises(ConfigError, match=r"zh.jsonl: cannot be read as UTF-8 text at line 2 \(byte \d+\); save it as "
                                          r"UTF-8"):
        read_coded([p])


@pytest.mark.parametrize("command", ["train", "review", "evaluate"])
def test_commands_of_one_framework_say_so_when_given_two(tmp_path, command):
    """train, review and evaluate take one framework at a time (README): given two, review failed on
    "<model a>,<model b>/model.json: not a readable model (FileNotFoundError ...)" and train said to keep the
    taxonomy's examples."""
    two = f"{_toy(tmp_path / 'chain')},{ROOT / 'taxonomy'}"
    coded = write(tmp_path / "coded.jsonl", json.dumps({"id": "x", "text": "研究开发", "labels": []}) + "\n")
    got = _run(command, "--taxonomy", two, "--out", str(tmp_path / "out"),
               *({"train": ["--train", str(coded)], "evaluate": ["--gold", str(coded)]}.get(command, [])))
    assert got.returncode == 2, got.stderr[-2000:]
    assert f"{command} takes one framework at a time" in got.stderr and "Traceback" not in got.stderr


def test_a_framework_named_by_its_yaml_file_is_trained_on_its_examples(tmp_path):
    """TAXONOMY= may name the YAML file (make help): the run then looked for <file>/examples, said it would
    classify with the lexicon alone, and labelled otherwise than with TAXONOMY= the folder; validate had
    found the examples beside the file."""
    tax = _toy(tmp_path / "chain")
    corpus = _corpus(tmp_path / "corpus")
    by_file = _run("run", "--corpus", str(corpus), "--out", str(tmp_path / "a"), "--taxonomy",
                   str(tax / "taxonomy.yaml"), "--quiet", "--jobs", "1")
    assert by_file.returncode == 0, by_file.stderr[-2000:]
    assert "default model: training on 16 example passages" in by_file.stderr or "lexicon alone" not in by_file.stderr
    by_folder = _run("run", "--corpus", str(corpus), "--out", str(tmp_path / "b"), "--taxonomy", str(tax), "--quiet",
                     "--jobs", "1")
    assert by_folder.returncode == 0, by_folder.stderr[-2000:]
    assert pd.read_parquet(tmp_path / "a" / "labels.parquet").equals(pd.read_parquet(tmp_path / "b" / "labels.parquet"))


def test_a_run_names_the_examples_folder_of_a_label_that_is_no_leaf(tmp_path):
    """After a node was removed, the run said "coded data uses node IDs that are not leaves of the taxonomy:
    chain.nope (more.jsonl, passage x)": which coded data, in which folder, it did not say."""
    tax = _toy(tmp_path / "chain")
    write(tax / "examples" / "more.jsonl", json.dumps({"id": "x", "text": "研究开发", "labels": ["chain.nope"]}) + "\n")
    got = _run("run", "--corpus", str(_corpus(tmp_path / "corpus")), "--out", str(tmp_path / "out"),
               "--taxonomy", str(tax), "--quiet", "--jobs", "1")
    assert got.returncode == 2, got.stderr[-2000:]
    assert f"error: {tax}/examples: " in got.stderr and "chain.nope (more.jsonl, passage x)" in got.stderr


def test_validate_warns_of_a_chinese_term_holding_a_space(tmp_path):
    """A Chinese term typed with a space between its words ("技术 转移") passed validate without a word and matched
    no document's 技术转移."""
    tax = _toy(tmp_path / "chain")
    write(tax / "taxonomy.yaml", TOY.replace("terms: [技术转移, 中试熟化]", 'terms: ["技术 转移", 中试熟化]'))
    got = _run("validate", "--taxonomy", str(tax))
    assert got.returncode == 0, got.stderr
    assert "node 'chain.transfer': lexicon.zh.terms term '技术 转移' holds a space" in got.stderr
    assert "中试熟化' holds" not in got.stderr


def test_validate_warns_of_a_group_with_no_leaves(tmp_path):
    """A group node no leaf names as its parent passed validate without a word; it can never be labelled, so
    gaps.csv listed it as unaddressed in every region."""
    tax = _toy(tmp_path / "chain")
    write(tax / "taxonomy.yaml", TOY.replace(
        "  - id: chain.research\n",
        "  - id: chain.upstream\n    facet: stage\n    group: true\n    name: {en: Upstream, zh: 上游}\n"
        "  - id: chain.downstream\n    facet: stage\n    group: true\n    name: {en: Downstream, zh: 下游}\n"
        "  - id: chain.research\n    parent: chain.upstream\n"))
    got = _run("validate", "--taxonomy", str(tax))
    assert got.returncode == 0, got.stderr
    assert (f"warning: {tax / 'taxonomy.yaml'}: node 'chain.downstream': a group with no leaves under it"
            in got.stderr)
    assert "'chain.upstream': a group" not in got.stderr


def test_an_audited_facet_without_leaves_stops_validate_and_the_run_alike(tmp_path):
    """A facet of audit: with no leaf node failed make validate, but make run ran on it without a word."""
    tax = _toy(tmp_path / "chain")
    write(tax / "taxonomy.yaml", TOY.replace("    item: actor\naudit:", "    item: actor\n  phase:\n"
                                             "    name: {en: Phases, zh: 阶段}\naudit:").replace(
        "also: [actor]", "also: [actor, phase]"))
    message = f"{tax / 'taxonomy.yaml'}: audit: facet 'phase' has no leaf node"
    validated = _run("validate", "--taxonomy", str(tax))
    assert validated.returncode == 2 and message in validated.stderr, validated.stderr
    out = tmp_path / "out"
    ran = _run("run", "--corpus", str(_corpus(tmp_path / "corpus")), "--out", str(out), "--taxonomy", str(tax),
               "--jobs", "1")
    assert ran.returncode == 2 and ran.stderr.strip().splitlines() == [f"error: {message}"], ran.stderr[-2000:]
    assert not out.exists()
