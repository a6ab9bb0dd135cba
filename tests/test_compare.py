import subprocess
import sys

import pandas as pd

from conftest import ROOT


def test_compare_regions_and_runs(tmp_path):
    out = tmp_path / "out"
    run = lambda *a: subprocess.run([sys.executable, "-m", "pipeline", *a], cwd=ROOT, capture_output=True,  # noqa
                                    text=True, timeout=600)
    res = run("run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--model", "lexicon", "--quiet")
    assert res.returncode == 0, res.stderr[-2000:]
    res = run("compare", "--a", "CN-SD", "--b", "UK", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    table = pd.read_csv(out / "compare_CN-SD_vs_UK.csv", encoding="utf-8-sig")
    long = pd.read_csv(out / "coverage_region_long.csv", encoding="utf-8-sig").set_index(["region", "node"])
    for r in table.itertuples(index=False):
        a, b = long.loc[("CN-SD", r.node), "documents"], long.loc[("UK", r.node), "documents"]
        assert r.status == ("both" if a and b else "only_CN-SD" if a else "only_UK" if b else "neither")
    assert (table["status"] == "only_CN-SD").any()
    # every node of the taxonomy is compared, the constraints too
    from pipeline.taxonomy import load_taxonomy

    assert table["node"].tolist() == [n.id for n in load_taxonomy(ROOT / "taxonomy").nodes]
    assert table["node"].str.startswith("constraint.").any()
    assert "only CN-SD" in res.stdout
    bad = run("compare", "--a", "XX", "--b", "UK", "--out", str(out))
    assert bad.returncode == 2 and "'XX' is neither a region" in bad.stderr


def test_compare_names_nodes_in_both_languages(tmp_path):
    from pipeline.compare import compare
    from pipeline.aggregate import with_names
    from pipeline.taxonomy import load_taxonomy

    tax = load_taxonomy(ROOT / "taxonomy")
    nodes = ["measure.ip.legal", "model.incubator"]
    df = with_names(compare(pd.Series({"measure.ip.legal": 2}), pd.Series({"model.incubator": 1}), nodes,
                            ("X", "Y")), tax)
    assert list(df.columns[:3]) == ["node", "node_name", "node_name_zh"]
    assert df["node_name"].tolist() == [tax.by_id[n].name["en"] for n in nodes]
    assert df["node_name_zh"].tolist() == [tax.by_id[n].name["zh"] for n in nodes]


def _coded_folder(path, nodes: dict[str, int], sha: str):
    """An output folder as far as compare reads it: region R's documents per node, and run.json's taxonomy."""
    import json

    from pipeline.catalog import Catalog

    long = pd.DataFrame({"region": "R", "node": list(nodes), "node_name": [f"{n} (en)" for n in nodes],
                         "node_name_zh": [f"{n} (zh)" for n in nodes], "passages": list(nodes.values()),
                         "documents": list(nodes.values())})
    Catalog(path).save("coverage_region_long", long)
    (path / "run.json").write_text(json.dumps({"stages": {"classify": {"taxonomy_sha256": sha,
                                                                        "taxonomy_version": "1.1"}}}))
    return path


def test_compare_across_taxonomies_says_what_a_side_was_never_coded_for(tmp_path, capsys):
    """B was coded with a taxonomy with one more node, which B addresses: it is 'not coded in' A, with A's count
    empty, whichever taxonomy compare is given, and never a difference ('only B'); the note names the two
    taxonomies."""
    from types import SimpleNamespace

    from pipeline.compare import compare_cli
    from pipeline.taxonomy import load_taxonomy

    nodes = [n.id for n in load_taxonomy(ROOT / "taxonomy").nodes]
    a = _coded_folder(tmp_path / "A", {n: int(n == "model.incubator") for n in nodes}, "a" * 64)
    b = _coded_folder(tmp_path / "B", {**{n: 0 for n in nodes}, "measure.platform.extra": 2}, "b" * 64)
    compare_cli(SimpleNamespace(a=str(a), b=str(b), out=str(tmp_path / "out"), taxonomy=str(ROOT / "taxonomy")))
    said = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "out" / "compare_A_vs_B.csv", encoding="utf-8-sig").set_index("node")
    extra = table.loc["measure.platform.extra"]
    assert extra["status"] == "not_coded_in_A" and pd.isna(extra["A_documents"]) and extra["B_documents"] == 2
    assert extra["node_name"] == "measure.platform.extra (en)"  # named as B names it
    assert table.loc["model.incubator", "status"] == "only_A"
    assert "only B (0)" in said and "not coded in A (1)" in said and "measure.platform.extra" in said
    assert "coded with different taxonomies" in said and "aaaaaaaaaaaa" in said and "bbbbbbbbbbbb" in said

    # the same nodes under another taxonomy: compared as usual, with the note that the codebooks differ
    c = _coded_folder(tmp_path / "C", {n: 0 for n in nodes}, "c" * 64)
    compare_cli(SimpleNamespace(a=str(a), b=str(c), out=str(tmp_path / "out"), taxonomy=str(ROOT / "taxonomy")))
    said = capsys.readouterr().out
    assert "different taxonomies" in said and "not coded" not in said
    table = pd.read_csv(tmp_path / "out" / "compare_A_vs_C.csv", encoding="utf-8-sig")
    assert table["status"].isin(["only_A", "neither"]).all() and table["C_documents"].notna().all()


def test_compare_says_it_counts_documents_no_longer_in_force(tmp_path, capsys):
    """`make compare` listed a node as "only A" where only a repealed regulation (or a superseded version) of A
    addresses it, and nothing said that its counts take in documents no longer in force: a reader took the lists
    for what the two regions' policies in force address. It now says so, in one sentence, when a compared count
    holds such a document; the counts are unchanged."""
    from types import SimpleNamespace

    from pipeline.catalog import Catalog
    from pipeline.compare import compare_cli
    from pipeline.taxonomy import load_taxonomy

    nodes = [n.id for n in load_taxonomy(ROOT / "taxonomy").nodes]
    out = tmp_path / "out"
    long = pd.DataFrame({"region": ["A"] * len(nodes) + ["B"] * len(nodes), "node": nodes * 2, "passages": 0,
                         "documents": [int(n == "model.incubator") for n in nodes] + [0] * len(nodes),
                         "documents_in_force_addressing": 0})
    Catalog(out).save("coverage_region_long", long)
    args = SimpleNamespace(a="A", b="B", out=str(out), taxonomy=str(ROOT / "taxonomy"))
    compare_cli(args)
    said = capsys.readouterr().out
    assert "only A (1):\n  model.incubator" in said
    assert ("counted over every document, superseded versions and repealed documents too; gaps.csv's "
            "addressed_in_force says whether the documents in force now address a node") in said
    table = pd.read_csv(out / "compare_A_vs_B.csv", encoding="utf-8-sig").set_index("node")
    assert table.loc["model.incubator", "A_documents"] == 1
    long["documents_in_force_addressing"] = long["documents"]  # every document in force: nothing to say
    Catalog(out).save("coverage_region_long", long)
    compare_cli(args)
    assert "superseded" not in capsys.readouterr().out


def test_a_run_removes_the_comparisons_of_the_tables_it_replaces(tmp_path):
    """A comparison written before a re-run stayed beside the new coverage tables and contradicted them (a region's
    documents for a node, 1 in compare_*.csv, 2 in coverage_region_long.csv)."""
    import shutil

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    shutil.copytree(ROOT / "corpus", corpus)
    run = lambda *a: subprocess.run([sys.executable, "-m", "pipeline", *a], cwd=ROOT, capture_output=True,  # noqa
                                    text=True, timeout=600)
    args = ("--corpus", str(corpus), "--out", str(out), "--model", "lexicon", "--quiet")
    assert run("run", *args).returncode == 0
    assert run("compare", "--a", "CN-SD", "--b", "UK", "--out", str(out)).returncode == 0
    assert (out / "compare_CN-SD_vs_UK.csv").is_file()
    again = run("run", *args)  # nothing changed: the tables and the comparison stand
    assert again.returncode == 0 and (out / "compare_CN-SD_vs_UK.csv").is_file()
    # a comparison of two other output folders, written into out, was removed too, "made from the coverage tables
    # before these", which it was not: the new tables do not contradict it
    a = _coded_folder(tmp_path / "A", {"model.incubator": 1}, "a" * 64)
    b = _coded_folder(tmp_path / "B", {"model.incubator": 0}, "a" * 64)
    assert run("compare", "--a", str(a), "--b", str(b), "--out", str(out)).returncode == 0
    assert run("compare", "--a", str(out), "--b", str(b), "--out", str(out)).returncode == 0  # out's own tables
    assert (out / "compare_out_vs_B.csv").is_file()
    doc = corpus / "en" / "UK" / "knowledge_exchange_partnerships_framework.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\nUniversities may license patents to firms.\n", encoding="utf-8")
    changed = run("run", *args)
    assert changed.returncode == 0, changed.stderr[-2000:]
    assert not (out / "compare_CN-SD_vs_UK.csv").exists() and not (out / "compare_out_vs_B.csv").exists()
    assert "removed 2 comparison(s)" in changed.stderr and "compare_CN-SD_vs_UK.csv" in changed.stderr
    assert (out / "compare_A_vs_B.csv").is_file() and "compare_A_vs_B.csv" not in changed.stderr
