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
