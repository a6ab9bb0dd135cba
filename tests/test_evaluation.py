"""The out-of-box classifier against the hand-coded dev passages (the issue's acceptance target)."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, shared_or_skip

OUT_OF_BOX_TARGET = 0.70


def test_out_of_box_model_meets_target_on_dev_gold(tmp_path):
    gold = shared_or_skip("gold", "dev.jsonl")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = pd.read_csv(tmp_path / "evaluation_summary.csv", encoding="utf-8-sig").set_index("lang")
    assert summary.loc["all", "micro_f1"] >= OUT_OF_BOX_TARGET, summary.to_string()
    nodes = pd.read_csv(tmp_path / "evaluation_nodes.csv", encoding="utf-8-sig")
    assert set(nodes.columns) >= {"node", "precision", "recall", "f1", "support"}
    assert "krippendorff_alpha" in summary.columns and summary.loc["all", "krippendorff_alpha"] > 0.5
    assert "micro_f1" in res.stdout


def test_classify_jsonl_keeps_order_and_format(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "b", "text": "第一条 国家支持科技企业孵化器发展。"}\n'
                   '{"id": "a", "text": "The term \\"agency\\" means an executive agency.", "lang": "en"}\n',
                   encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    res = subprocess.run([sys.executable, "-m", "pipeline", "classify", "--in", str(inp), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    import json
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["b", "a"]
    assert "model.incubator" in rows[0]["labels"] and rows[0]["evidence"]["model.incubator"]
    assert len(rows[0]["scores"]) == 35 and all(0.0 <= p <= 1.0 for p in rows[0]["scores"].values())
    assert rows[0]["scores"]["model.incubator"] >= 0.5 and rows[1]["scores"]["model.incubator"] < 0.05
    assert rows[1]["labels"] == []


def test_region_groups_hold_out_regions_and_split_small_ones(tmp_path):
    from pipeline.evaluate import region_groups

    manifest = tmp_path / "manifest.csv"
    rows = (["path,region,lang"] + [f"zh/p/{i}.md,CN-SD,zh" for i in range(12)]
            + [f"en/us/ch{i}.md,US,en" for i in range(3)])
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ids = ["zh/p/0.md#1", "zh/p/1.md#4", "en/us/ch0.md#2", "en/us/ch1.md#1", "zh/provincial/Hebei/x.md#3"]
    ids += [f"zh/p/{i}.md#1" for i in range(2, 12)]
    g = region_groups(ids, manifest)
    assert g[0] == g[1] == "CN-SD"                         # one province, one group
    assert g[2] != g[3] and g[2].startswith("US:")          # each US Code chapter its own group
    assert g[4] == "zh/provincial/Hebei:zh/provincial/Hebei/x.md"  # no manifest row: folders, then split


def test_region_groups_read_the_manifest_as_a_run_reads_it(tmp_path):
    """A manifest saved by Excel in many locales is ;-separated, its column names capitalised: the run took the
    regions from it, and make evaluate CV=region ignored it and held out the documents' folder (laws) instead."""
    from pipeline.evaluate import region_groups

    manifest = tmp_path / "manifest.csv"
    rows = ["Path;Region;Lang"] + [f"laws/{r}{i}.txt;{r};zh" for r in ("GD", "ZJ") for i in range(10)]
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    g = region_groups([f"laws/{r}{i}.txt#2" for r in ("GD", "ZJ") for i in range(10)], manifest)
    assert g == ["GD"] * 10 + ["ZJ"] * 10


def test_region_groups_take_the_region_folder_of_a_corpus_laid_out_region_by_region():
    """The coded store of a corpus laid out as the tool reads one without a manifest (GD/a.md: the region's
    folder, then the file) was held out document by document under CV=region: the 'region' taken was the
    folder and the file name, i.e. the document."""
    from pipeline.evaluate import region_groups

    ids = [f"GD/doc{i}.md#1" for i in range(10)] + [f"ZJ/doc{i}.md#2" for i in range(10)] + ["UK/act.md#3"]
    g = region_groups(ids, None)
    assert set(g[:10]) == {"GD"} and set(g[10:20]) == {"ZJ"}
    assert g[20] == "UK:UK/act.md"                          # a region of few documents: split, named by its folder
    assert region_groups(["loose.md#1"], None) == ["loose.md:loose.md"]  # no folder: the document alone


def test_cross_validation_by_region_reports_folds_curve_and_calibration(tmp_path):
    """`evaluate --cv region --curve` on coded passages from three invented regions."""
    import json

    lines = []
    for region in ("A", "B", "C"):
        for d in range(10):
            doc = f"zh/provincial/{region}/doc{d}.md"
            lines.append({"id": f"{doc}#1", "lang": "zh", "text": f"第一条 {region}省支持建设科技企业孵化器和众创空间，为在孵企业提供服务。",
                          "labels": ["model.incubator"]})
            lines.append({"id": f"{doc}#2", "lang": "zh", "text": "第二条 本条例自公布之日起施行。", "labels": []})
    # two coded files: each is also scored on its own
    first, second = tmp_path / "coded_a.jsonl", tmp_path / "coded_bc.jsonl"
    first.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines if "/A/" in l["id"]),
                     encoding="utf-8")
    second.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines if "/A/" not in l["id"]),
                      encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", f"{first},{second}", "--cv", "region",
                          "--curve", "--out", str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    folds = pd.read_csv(tmp_path / "ev" / "evaluation_cv_folds.csv", encoding="utf-8-sig")
    assert sorted(folds["held_out"]) == ["zh/provincial/A", "zh/provincial/B", "zh/provincial/C"]
    curve = pd.read_csv(tmp_path / "ev" / "evaluation_cv_curve.csv", encoding="utf-8-sig")
    assert sorted(curve["training_share"].unique()) == [0.25, 0.5, 1.0]
    assert {"micro_f1_low", "micro_f1_high", "gain", "gain_low", "gain_high"} <= set(curve.columns)
    rel = pd.read_csv(tmp_path / "ev" / "evaluation_cv_reliability.csv", encoding="utf-8-sig")
    assert rel["pairs"].sum() > 0
    summary = pd.read_csv(tmp_path / "ev" / "evaluation_cv_summary.csv", encoding="utf-8-sig").set_index("lang")
    assert summary.loc["all", "micro_f1"] > 0.9 and "brier" in summary.columns
    assert summary.loc["all", "micro_f1_low"] <= summary.loc["all", "micro_f1"] <= summary.loc["all", "micro_f1_high"]
    per_node = pd.read_csv(tmp_path / "ev" / "evaluation_cv_nodes.csv", encoding="utf-8-sig").set_index("node")
    incubator = per_node.loc["model.incubator"]
    assert incubator["f1_low"] <= incubator["f1"] <= incubator["f1_high"]
    assert per_node.loc[per_node["support"] + per_node["predicted"] == 0, "f1_low"].isna().all()
    # every coded passage once, with its held-out group; a miss or false label is spelled out where it occurs
    passages = pd.read_csv(tmp_path / "ev" / "evaluation_cv_passages.csv", encoding="utf-8-sig",
                           keep_default_na=False)
    assert sorted(passages["id"]) == sorted(l["id"] for l in lines)
    assert set(passages["group"]) == {"zh/provincial/A", "zh/provincial/B", "zh/provincial/C"}
    by_file = pd.read_csv(tmp_path / "ev" / "evaluation_cv_by_file.csv", encoding="utf-8-sig").set_index(["file", "lang"])
    assert by_file.loc[("coded_a.jsonl", "all"), "passages"] == 20
    assert by_file.loc[("coded_bc.jsonl", "all"), "passages"] == 40
    wrong = passages[passages["errors"] > 0]
    assert ((wrong["missed"] != "") | (wrong["false_labels"] != "")).all()
    assert list(passages["errors"]) == sorted(passages["errors"], reverse=True)


def test_intervals_resample_documents_not_passages():
    """One document coded perfectly, one wrong throughout: with documents resampled, a resample can hold either
    one twice, so the interval runs from 0 to 1. Resampling the 40 passages would give a narrow interval around
    the point estimate; the same data give the same interval."""
    import numpy as np

    from pipeline.evaluate import document_cells, micro_f1_interval

    Y = np.zeros((40, 3), dtype=np.int8)
    Y[:, 0] = 1
    P = Y.copy()
    P[20:] = [0, 1, 0]  # the second document's passages all get the wrong node
    docs = ["good"] * 20 + ["bad"] * 20
    low, high = micro_f1_interval(Y, P, docs)
    assert (low, high) == (0.0, 1.0)
    assert micro_f1_interval(Y, P, docs) == (low, high)
    # many documents alike: every resample gives the same figure
    docs_alike = [f"d{i // 2}" for i in range(40)]
    P_alike = Y.copy()
    P_alike[1::2] = [0, 1, 0]  # one passage of each document right, one wrong
    assert micro_f1_interval(Y, P_alike, docs_alike) == (0.5, 0.5)
    # the coverage tables' cells get their interval the same way
    ids = [f"{d}#{i % 20 + 1}" for i, d in enumerate(docs)]  # each document coded article by article
    cells = document_cells(ids, Y, P)
    assert cells["recall_addressed"] == 0.5 and (cells["recall_addressed_low"], cells["recall_addressed_high"]) == (0.0, 1.0)
    assert cells["accuracy_low"] <= cells["accuracy"] <= cells["accuracy_high"]
    # a resample of documents none of which has an addressed cell has no recall: it is left out, and the
    # interval stays defined (two documents with addressed cells, two without)
    from pipeline.evaluate import document_interval

    share = lambda a, b: np.where(b > 0, a / np.maximum(b, 1), np.nan)  # noqa: E731
    low, high = document_interval((np.array([1, 2, 0, 0]), np.array([2, 2, 0, 0])), share)
    assert 0.5 <= low <= high <= 1.0


def test_a_node_coded_in_few_documents_gets_the_interval_of_its_resamples_that_hold_it():
    """Resamples that hold none of the node's documents have no F1 for it: left out, not counted as 0. And a
    macro average over no node is undefined, not 0."""
    import numpy as np

    from pipeline.evaluate import node_f1_intervals, scores

    docs = [f"d{i // 5}" for i in range(40)]  # 8 documents of 5 passages
    Y = np.zeros((40, 2), dtype=np.int8)
    Y[[0, 5], 0] = 1  # node 0 coded in two documents, and predicted exactly there
    P = Y.copy()
    assert node_f1_intervals(Y, P, docs)[0] == (1.0, 1.0)
    assert all(np.isnan(node_f1_intervals(Y, P, docs)[1]))  # neither coded nor predicted
    _, summary = scores(Y, P, ["a", "b"], ["zh"] * 40, docs=docs)
    row = summary.set_index("lang").loc["zh"]
    assert row["micro_f1"] == 1.0 and row["macro_f1"] == 1.0 and np.isnan(row["macro_f1_support5"])
    P[10, 1] = 1  # a node predicted but never coded counts in the macro average, with F1 0
    _, summary = scores(Y, P, ["a", "b"], ["zh"] * 40, docs=docs)
    assert summary.set_index("lang").loc["zh", "macro_f1"] == 0.5


def test_learning_curve_gains_come_with_a_paired_interval():
    """With every document scored better at the larger share, the gain's interval lies above 0; the same
    predictions at both shares gain exactly 0."""
    import numpy as np

    from pipeline.evaluate import learning_curve, micro_f1_gain_interval

    rng = np.random.default_rng(1)
    docs = [f"d{i // 4}" for i in range(80)]  # 20 documents of 4 passages
    Y = np.zeros((80, 2), dtype=np.int8)
    Y[:, 0] = 1
    more = Y.copy()
    more[::4] = [0, 1]  # one passage in four wrong: F1 0.75
    less = more.copy()
    less[1::4] = [0, 1]  # and a second one: F1 0.5
    less[rng.choice(np.arange(2, 80, 4), 5, replace=False)] = [0, 1]  # and in five documents a third
    low, high = micro_f1_gain_interval(Y, more, less, docs)
    assert 0 < low <= high
    curve = learning_curve(Y, {0.25: less, 1.0: more}, ["a", "b"], ["zh"] * 80, docs).set_index(["training_share", "lang"])
    top = curve.loc[(1.0, "all")]
    assert top["gain"] > 0 and (top["gain_low"], top["gain_high"]) == (low, high)
    assert (curve.loc[(0.25, "all"), ["gain", "gain_low", "gain_high"]] == 0).all()
    assert micro_f1_gain_interval(Y, more, more, docs) == (0.0, 0.0)


def test_passage_errors_name_misses_and_false_labels_with_their_probability():
    import numpy as np
    from pipeline.evaluate import passage_errors

    gold = pd.DataFrame({"id": ["d#1", "d#2"], "lang": ["zh", "zh"], "text": ["甲", "乙"],
                         "labels": [["model.incubator"], ["model.spin_off"]]})
    nodes = ["model.incubator", "model.spin_off", "model.science_park"]
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.7]])
    df = passage_errors(gold, [["model.incubator"], ["model.science_park"]], proba, nodes, ["d", "d"])
    assert df.loc[0, "id"] == "d#2" and df.loc[0, "errors"] == 2
    assert df.loc[0, "missed"] == "model.spin_off (0.30)" and df.loc[0, "false_labels"] == "model.science_park (0.70)"
    assert df.loc[1, "errors"] == 0 and df.loc[1, "predicted"] == "model.incubator (0.90)"


def test_evaluate_without_gold_says_what_it_needs(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "GOLD=" in res.stderr and "Traceback" not in res.stderr


def test_train_refuses_to_install_a_model_that_learned_too_little(tmp_path):
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text('{"id": "d#1", "text": "第一条 支持建设孵化器。", "labels": ["model.incubator"]}\n'
                    '{"id": "d#2", "text": "第二条 本条例自公布之日起施行。", "labels": []}\n', encoding="utf-8")
    target = tmp_path / "model"
    res = subprocess.run([sys.executable, "-m", "pipeline", "train", "--train", str(tiny), "--no-examples",
                          "--model", str(target)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "no model was installed" in res.stderr and "Traceback" not in res.stderr
    assert not target.exists()
    res = subprocess.run([sys.executable, "-m", "pipeline", "train", "--train", str(tiny), "--model", str(target)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (target / "model.json").exists() and "nodes learned" in res.stderr


def test_evaluating_a_model_on_its_own_training_passages_cross_validates_instead(tmp_path):
    """`make evaluate GOLD=coded` after `make train` would score the model on what it learned from; it
    cross-validates by document (with the learning curve) instead, and says so. A file the model never saw is
    scored as it is."""
    from pipeline.classify import fit_model, read_coded
    from pipeline.model import PolicyClassifier
    from pipeline.taxonomy import load_taxonomy

    write = _write_jsonl
    coded = _incubator_documents(20)
    (tmp_path / "store").mkdir()
    write(tmp_path / "store" / "coded.jsonl", coded)
    # a new file that shares one boilerplate article with the training data
    write(tmp_path / "new.jsonl", [{"id": "zh/other/x.md#1", "lang": "zh", "labels": ["model.incubator"],
                                    "text": "第三条 鼓励高等学校建设大学科技园和孵化器。"},
                                   {"id": "zh/other/x.md#2", "lang": "zh", "labels": [],
                                    "text": "第四条 有关部门应当做好统计工作。"}, {**coded[1], "id": "zh/other/x.md#9"}])
    tax = load_taxonomy(ROOT / "taxonomy")
    fit_model(tax, read_coded([tmp_path / "store"])).save(tmp_path / "model")
    seen = PolicyClassifier.load(tmp_path / "model", str(ROOT / "taxonomy")).seen_in_training(
        [coded[0]["text"] + "  ", "第三条 鼓励高等学校建设大学科技园和孵化器。"])
    assert list(seen) == [True, False]  # the same text up to white space counts as seen

    def evaluate(gold, out):
        return subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--model",
                               str(tmp_path / "model"), "--no-examples", "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=900)

    res = evaluate(tmp_path / "store", tmp_path / "own")  # GOLD=coded: the coded store's folder
    assert res.returncode == 0, res.stderr[-2000:]
    assert "the coded store's passages weighted 6x" in res.stdout
    assert "40 of 40 coded passages are in the training data" in res.stderr and "Cross-validating" in res.stderr
    curve = pd.read_csv(tmp_path / "own" / "evaluation_cv_curve.csv", encoding="utf-8-sig")
    assert sorted(curve["training_share"].unique()) == [0.25, 0.5, 1.0]
    assert len(pd.read_csv(tmp_path / "own" / "evaluation_cv_folds.csv", encoding="utf-8-sig")) == 5
    assert not (tmp_path / "own" / "evaluation_summary.csv").exists()

    res = evaluate(tmp_path / "new.jsonl", tmp_path / "new")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Cross-validating" not in res.stderr
    assert "1 of 3 passages have the text of a passage the model was trained on" in res.stderr
    summary = pd.read_csv(tmp_path / "new" / "evaluation_summary.csv", encoding="utf-8-sig")
    assert summary["setting"].str.contains("memory").all()


def _incubator_documents(n: int) -> list[dict]:
    """Coded passages of `n` invented documents: an incubator article and an effective-date article each."""
    lines = []
    for d in range(n):
        doc = f"zh/provincial/A/doc{d}.md"
        lines.append({"id": f"{doc}#1", "lang": "zh", "labels": ["model.incubator"],
                      "text": f"第{d + 1}条 支持建设科技企业孵化器和众创空间，为在孵企业提供第{d}类服务。"})
        lines.append({"id": f"{doc}#2", "lang": "zh", "text": f"第{d + 2}条 本条例自公布之日起施行。", "labels": []})
    return lines


def _write_jsonl(path, lines) -> None:
    import json

    path.write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines), encoding="utf-8")


def test_a_learning_curve_point_too_small_to_train_is_left_out_and_said(tmp_path):
    gold = tmp_path / "small.jsonl"
    _write_jsonl(gold, _incubator_documents(6))
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--cv", "3", "--curve",
                          "--no-examples", "--out", str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "25% of the training documents is too little to train on" in res.stderr
    curve = pd.read_csv(tmp_path / "ev" / "evaluation_cv_curve.csv", encoding="utf-8-sig")
    assert 0.25 not in set(curve["training_share"]) and 1.0 in set(curve["training_share"])


def test_cross_validation_weighs_each_coded_passage_as_given_and_the_examples_as_one(monkeypatch):
    import numpy as np

    import pipeline.evaluate as ev
    from pipeline.taxonomy import load_taxonomy

    seen = []

    def fake_fit(taxonomy, coded, *, tokens=None, weights=None, **params):
        seen.append((coded["id"].tolist(), list(weights)))
        raise ValueError("stop here")

    monkeypatch.setattr(ev, "fit_model", fake_fit)
    gold = pd.DataFrame({"id": [f"d{i}.md#1" for i in range(4)], "lang": "zh", "text": ["第一条 孵化器。"] * 4,
                         "labels": [[]] * 4, "context": "", "source": "coded.jsonl"})
    extra = gold.assign(id=["x#1", "x#2", "x#3", "x#4"])
    try:
        ev.cross_validate(load_taxonomy(ROOT / "taxonomy"), gold, ["a", "a", "b", "b"], 2, extra, log=lambda m: None,
                          weights=np.array([6.0, 5.0, 4.0, 3.0]))
    except Exception:
        pass
    ids, w = seen[0]
    given = {"d0.md#1": 6.0, "d1.md#1": 5.0, "d2.md#1": 4.0, "d3.md#1": 3.0}
    assert len(ids) == 6 and ids[2:] == ["x#1", "x#2", "x#3", "x#4"]
    assert w == [given[i] for i in ids[:2]] + [1.0] * 4


def test_folds_trained_side_by_side_give_the_figures_of_folds_trained_one_after_another():
    import numpy as np

    from pipeline.evaluate import cross_validate
    from pipeline.taxonomy import load_taxonomy

    gold = pd.DataFrame(_incubator_documents(12))
    gold = gold.assign(context="", source="coded.jsonl")
    tax = load_taxonomy(ROOT / "taxonomy")
    groups = [i.split("#")[0] for i in gold["id"]]
    one, two = (cross_validate(tax, gold, groups, 3, None, fractions=(0.5, 1.0), log=lambda m: None, jobs=j)
                for j in (1, 2))
    for frac in (0.5, 1.0):
        assert one[frac]["labels"] == two[frac]["labels"]
        assert np.array_equal(one[frac]["proba"], two[frac]["proba"])
    assert any("model.incubator" in ls for ls in one[1.0]["labels"])


def test_macro_f1_of_a_single_node_is_that_nodes_f1():
    """scikit-learn reads one column as a binary problem and averaged in the F1 of 'not this node': a batch whose
    only coded node scored 0.7273 was reported with a macro-F1 of 0.8119."""
    from pipeline.evaluate import scores

    yt, yp = np.zeros((40, 3), int), np.zeros((40, 3), int)
    yt[:8, 0] = 1
    yp[:6, 0] = 1
    yp[10:13, 0] = 1  # 6 true, 3 false positives, 2 missed: F1 = 12 / 17
    _, summary = scores(yt, yp, ["a", "b", "c"], ["zh"] * 40)
    assert summary["macro_f1"].tolist() == [round(12 / 17, 4)] * 2
    assert summary["macro_f1_support5"].tolist() == [round(12 / 17, 4)] * 2


def test_a_framework_of_one_leaf_gets_a_per_node_table_of_one_row():
    """A researcher's framework with a single leaf: scikit-learn's per-label scores took its one column for a
    binary problem and scored two classes, and `make evaluate` stopped on a table one row too long."""
    from pipeline.evaluate import scores

    yt, yp = np.zeros((10, 1), int), np.zeros((10, 1), int)
    yt[:4, 0] = 1
    yp[2:5, 0] = 1  # 2 true, 1 false positive, 2 missed
    per_node, _ = scores(yt, yp, ["only"], ["en"] * 10, proba=yp.astype(float))
    assert per_node[["node", "precision", "recall", "f1", "support", "predicted"]].values.tolist() == \
        [["only", round(2 / 3, 4), 0.5, round(4 / 7, 4), 4, 3]]


def test_evaluate_refuses_gold_with_a_node_id_that_is_no_leaf(tmp_path):
    """A typo or a group ID in the coded file was dropped from the scoring unsaid (support and `labels` one
    short, the passage scored as coded with nothing); make train refuses such a file, and so does evaluate."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "d#1", "text": "第一条 支持建设孵化器。", "labels": ["model.incubater"]}\n'
                    '{"id": "d#2", "text": "第二条 本条例自公布之日起施行。", "labels": ["measure.ip"]}\n',
                    encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--out",
                          str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "model.incubater" in res.stderr and "gold.jsonl" in res.stderr and "group IDs" in res.stderr
    assert not (tmp_path / "ev" / "evaluation_summary.csv").exists()


def test_evaluate_on_an_empty_coded_file_or_store_says_so(tmp_path):
    """GOLD=empty.jsonl, or GOLD=coded with a store folder holding no file yet, stopped with scikit-learn's
    'Found empty input array' traceback."""
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    (tmp_path / "coded").mkdir()
    for gold in (tmp_path / "empty.jsonl", tmp_path / "coded"):
        res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--out",
                              str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert f"{gold}: no coded passages" in res.stderr


def test_evaluate_refuses_a_cv_that_is_no_region_doc_or_number_of_folds(tmp_path):
    """CV=abc stopped with int()'s traceback; CV=0 ran leave-one-document-out unsaid; CV=1 blamed the data
    ('needs at least two groups; the coded data has 4')."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "d#1", "text": "第一条 支持建设孵化器。", "labels": ["model.incubator"]}\n', encoding="utf-8")
    for cv in ("abc", "0", "1", "-3"):
        res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--cv", cv,
                              "--out", str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert f"CV={cv}: give region, doc, or a number of folds of 2 or more" in res.stderr


def test_cross_validation_says_when_ids_name_no_document_or_region(tmp_path):
    """CV=region on ids such as 'p1' (no '<path>#<n>') held out every passage as a region of its own, unsaid:
    100 passages were 100 folds, each trained again."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "p1", "text": "第一条 支持建设孵化器。", "labels": ["model.incubator"]}\n'
                    '{"id": "p2", "text": "第二条 本条例自公布之日起施行。", "labels": []}\n', encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--cv", "region",
                          "--no-examples", "--jobs", "1", "--out", str(tmp_path / "ev")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert "2 of 2 ids have no '#<n>'" in res.stderr and "2 document(s) have no folder" in res.stderr, res.stderr
    assert "2 folds" in res.stderr and "Traceback" not in res.stderr


def test_cross_validation_by_region_says_which_regions_it_holds_out_document_by_document(tmp_path):
    """CV=region on a review loop's coded store (a few documents per region) held out one document at a time,
    as it does a region of fewer than 10 coded documents, while it said 'leave-one-region-out': the figures
    were leave-one-document-out's, unsaid."""
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"{region}/{doc}.md#1", "text": "第一条 支持建设孵化器。", "labels": ["model.incubator"]}
            for region, doc in (("GD", "a"), ("GD", "b"), ("ZJ", "c"))]
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--cv", "region",
                          "--no-examples", "--jobs", "1", "--out", str(tmp_path / "ev")], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert ("CV=region: 2 region(s) have fewer than 10 coded documents (GD, ZJ): each of their documents is "
            "held out on its own; 3 folds") in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_f1_with_nothing_coded_or_predicted_is_left_empty_not_0():
    """evaluation_nodes.csv gave precision, recall and F1 0.0 to every node no one coded and the model never
    predicted (24 of 35 on a small coded set), beside an empty interval; a batch of 'none' codings the model
    agreed with printed micro-F1 0.0. There is nothing to count: the cells are empty."""
    from pipeline.evaluate import scores

    nodes = ["a", "b", "c"]
    Y_true = np.array([[1, 0, 0], [0, 0, 0]])
    Y_pred = np.array([[1, 1, 0], [0, 0, 0]])
    per_node, summary = scores(Y_true, Y_pred, nodes, ["zh", "en"])
    per_node = per_node.set_index("node")
    assert per_node.loc["a", "f1"] == 1.0 and per_node.loc["b", "f1"] == 0.0   # predicted, never coded: 0
    assert per_node.loc["c", ["precision", "recall", "f1"]].isna().all()
    summary = summary.set_index("lang")
    assert summary.loc["zh", "micro_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert pd.isna(summary.loc["en", "micro_f1"])                               # a 'none' both agree on


def test_micro_precision_and_recall_with_nothing_coded_or_predicted_are_left_empty_not_0():
    """make evaluate CV=region printed a held-out document whose passages both the coder and the model left
    without a node as micro-F1 empty beside precision 0.0 and recall 0.0, which read as a model that found
    nothing right. Its precision and recall have nothing to count either."""
    from pipeline.evaluate import scores

    _, summary = scores(np.array([[1, 0], [0, 0]]), np.array([[1, 0], [0, 0]]), ["a", "b"], ["zh", "en"])
    summary = summary.set_index("lang")
    assert summary.loc["en", ["micro_f1", "micro_precision", "micro_recall"]].isna().all()
    assert summary.loc["zh", "micro_precision"] == 1.0 and summary.loc["zh", "micro_recall"] == 1.0


def test_cv_with_more_folds_than_documents_says_how_many_folds_ran(tmp_path):
    """CV=5 on coded passages of 3 documents ran 3 folds and headed the figures (and the summary's `setting`)
    '5-fold cross-validation'."""
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"GD/{doc}.md#1", "text": f"第一条 {doc}省支持建设科技企业孵化器和众创空间。", "labels": ["model.incubator"]}
            for doc in ("a", "b", "c")]
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(gold), "--cv", "5",
                          "--jobs", "1", "--out", str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "# 3-fold cross-validation grouped by doc (CV=5: the coded data has 3 documents)" in res.stdout, res.stdout[:300]
    assert "NaN" not in res.stdout  # a figure with nothing to count is empty on the terminal, as in the CSV files
    setting = pd.read_csv(tmp_path / "ev" / "evaluation_cv_summary.csv", encoding="utf-8-sig")["setting"][0]
    assert setting.startswith("3-fold cross-validation")


def test_cv_region_on_the_coded_store_holds_out_the_regions_the_run_gave():
    """The coded store of a corpus whose regions its manifest gives (files in one folder, or folders that are
    not regions) was held out by folders or document by document under CV=region: the region each review row
    showed was not kept. Now review-import keeps it and the folds follow it."""
    from pipeline.evaluate import fold_groups

    gold = pd.DataFrame({"id": [f"laws/{r}-{i}.md#1" for r in ("GD", "ZJ") for i in range(10)] + ["laws/x.md#2"],
                         "region": ["GD"] * 10 + ["ZJ"] * 10 + [""]})
    groups = fold_groups(gold, "region", None)
    assert set(groups[:10]) == {"GD"} and set(groups[10:20]) == {"ZJ"}
    assert groups[20] == "laws:laws/x.md"                  # no region given: its folder, as before


def test_a_passage_two_coders_coded_is_scored_against_its_latest_coding(tmp_path):
    """ann coded a passage, bob coded it, then ann corrected hers: evaluate said it scored 'against the latest
    coding of each' and took bob's, as ann's correction took the place of her first coding in the file."""
    store = tmp_path / "coded"
    store.mkdir()
    text = "§ 3. A university may grant an exclusive licence on a patent it holds to a company."
    lines = [("ann", "model.joint_research"), ("bob", "model.spin_off"), ("ann", "model.tech_transfer")]
    (store / "coded.jsonl").write_text("".join(
        json.dumps({"id": "UK/act.md#4", "text": text, "lang": "en", "labels": [node], "coder": who}) + "\n"
        for who, node in lines), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "evaluate", "--gold", str(store), "--model", "lexicon",
                          "--out", str(tmp_path / "ev")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    scored = pd.read_csv(tmp_path / "ev" / "evaluation_passages.csv", encoding="utf-8-sig")
    assert scored["coded"].tolist() == ["model.tech_transfer"]


def test_train_with_no_coded_passage_of_yours_says_so(tmp_path, monkeypatch, capsys):
    """`make train CODED=codde` (a mistyped store) trained on the taxonomy's examples alone, a copy of the default
    model, and said only "886 taxonomy examples": later runs named it "the model trained" as if it had learned
    the researcher's coding."""
    import argparse

    from pipeline import learning

    class Fitted(Exception):
        pass

    def fit(*args, **kwargs):
        raise Fitted  # what is said before fitting is what is tested

    monkeypatch.setattr(learning, "fit_model", fit)
    args = argparse.Namespace(taxonomy=str(ROOT / "taxonomy"), train="", coded=str(tmp_path / "codde"),
                              coded_weight=6.0, no_examples=False, model=str(tmp_path / "m"), quiet=True)
    with pytest.raises(Fitted):
        learning.cmd_train(args)
    err = capsys.readouterr().err
    assert "no coded passage of yours" in err and f"{tmp_path / 'codde'}: no such folder" in err, err
    (tmp_path / "codde").mkdir()
    (tmp_path / "codde" / "coded.jsonl").write_text(json.dumps({"id": "a#1", "text": "第一条 支持孵化器。",
                                                                "labels": ["model.incubator"]}) + "\n",
                                                    encoding="utf-8")
    with pytest.raises(Fitted):
        learning.cmd_train(args)
    assert "no coded passage of yours" not in capsys.readouterr().err


def test_document_cells_count_only_documents_coded_article_by_article():
    """A sample of a document's paragraphs (a US Code chapter coded as 70 keyword-enriched paragraphs of 858) has
    as many coded passages as a regulation coded article by article, and was scored as one: its cells compared
    what the sample holds, not what the document addresses, in the figures said to be of documents coded
    article by article."""
    from pipeline.evaluate import document_cells

    whole = [f"zh/provincial/A/reg.md#{n}" for n in range(1, 13)]                # articles 1 to 12, every one
    sample = [f"en/us/usc-15-ch63.md#{n}" for n in range(29, 858, 60)][:12]      # 12 paragraphs of hundreds
    ids = whole + sample
    Y = np.zeros((len(ids), 2), dtype=np.int8)
    Y[0, 0] = Y[12, 1] = 1
    P = np.zeros_like(Y)  # the model misses both: one false gap in each document
    cells = document_cells(ids, Y, P)
    assert cells["documents"] == 1 and cells["cells"] == 2 and cells["false_gaps"] == 1


def test_train_files_holding_the_scored_passages_are_left_out_of_training(tmp_path):
    """`evaluate --cv … --train X` with X the gold file (or holding some of its passages) put every scored passage
    into every training fold: each fold was tested on what it had learned."""
    from pipeline.evaluate import _not_scored

    gold = pd.DataFrame({"id": ["a.md#1", "b.md#1"], "text": ["第一条 支持孵化器。", "第二条 施行。"]})
    extra = pd.DataFrame({"id": ["a.md#1", "x#1", "x#2", "y#1"],
                          "text": ["第一条 支持孵化器。", "第二条  施行。", "第三条 其他。", "第一条 支持孵化器。"]})
    said = []
    kept = _not_scored(extra, gold, said.append)
    assert kept["id"].tolist() == ["x#2"]
    assert said == ["evaluate: 3 passage(s) given to train on (--train) are among the passages scored (same id or "
                    "text); they are left out of training, so that no fold is tested on what it learned"]
    assert _not_scored(extra.iloc[[2]], gold, said.append)["id"].tolist() == ["x#2"] and len(said) == 1
