"""The out-of-box classifier against the hand-coded dev passages (the issue's acceptance target)."""
import subprocess
import sys

import pandas as pd

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
    assert rows[0]["scores"]["model.incubator"] >= 0.05 and rows[1]["scores"]["model.incubator"] == 0.0
    assert rows[1]["labels"] == []
