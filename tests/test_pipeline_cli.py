"""The whole pipeline through its CLI and make, on the project's own demo corpus."""
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT

STAGES = ["ingest", "segment", "tokenize", "classify", "aggregate", "report"]


def run(*args, check=True):
    res = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_stages_one_by_one_on_demo_corpus(tmp_path):
    out = tmp_path / "out"
    for stage in STAGES:
        extra = ["--corpus", str(ROOT / "corpus")] if stage == "ingest" else []
        run(stage, "--out", str(out), "--quiet", *extra)
    manifest = pd.read_csv(ROOT / "corpus" / "manifest.csv")
    report = pd.read_csv(out / "ingest_report.csv", encoding="utf-8-sig", keep_default_na=False)
    assert set(manifest["path"]) <= set(report[report.status == "ingested"]["path"])
    wide = pd.read_csv(out / "coverage_region.csv", encoding="utf-8-sig")
    assert sorted(wide["region"]) == sorted(manifest["region"].unique())
    assert (out / "coverage_region.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    gaps = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig", keep_default_na=False)
    measures = gaps[gaps.node.str.count(r"\.") == 2]
    measures = measures[measures.node.str.startswith("measure.")]
    assert measures["addressed"].any() and (~measures["addressed"]).any()  # both addressed and missing cells
    labels = pd.read_parquet(out / "labels.parquet")
    passages = pd.read_parquet(out / "passages.parquet").set_index("passage_id")
    leaf = labels[labels.source != "rollup"]
    for r in leaf.head(50).itertuples():
        text = passages.loc[r.passage_id, "text"]
        for e in json.loads(r.evidence):
            if e["start"] >= 0 and e["rule"] != "model":
                assert text[e["start"]:e["end"]] == e["term"]
    runinfo = json.loads((out / "run.json").read_text())
    assert set(runinfo["stages"]) >= set(STAGES)
    assert runinfo["stages"]["ingest"]["corpus_sha256"] and runinfo["packages"]["jieba"] == "0.42.1"
    assert runinfo["stages"]["classify"]["taxonomy_version"]
    for f in ("coverage.xlsx", "summary.md", "report.md", "report.html", "coverage_document.csv", "gaps.parquet"):
        assert (out / f).stat().st_size > 0
    # the reports say which model made the labels (as run.json records it), without an absolute path
    made_by = "Labels by the default model (" + Path(runinfo["stages"]["classify"]["model"]).name
    for f in ("summary.md", "report.md", "report.html"):
        assert made_by in (out / f).read_text(encoding="utf-8") and str(ROOT) not in (out / f).read_text(encoding="utf-8")
    # every labelled passage as a row of coded_passages.csv and of its sheet in the workbook
    coded = pd.read_csv(out / "coded_passages.csv", encoding="utf-8-sig", keep_default_na=False)
    assert sorted(coded["passage_id"]) == sorted(leaf["passage_id"].unique())
    for r in coded.head(30).itertuples():
        assert set(r.labels.split("; ")) == set(leaf[leaf.passage_id == r.passage_id]["node"])
        assert r.text == passages.loc[r.passage_id, "text"] and r.citation == passages.loc[r.passage_id, "label"]
    import openpyxl

    wb = openpyxl.load_workbook(out / "coverage.xlsx", read_only=True)
    assert sum(1 for _ in wb["coded_passages"].iter_rows()) >= len(coded) + 1


def test_bad_configuration_exits_2_with_one_line(tmp_path):
    res = run("ingest", "--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), check=False)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'nowhere'}: corpus folder does not exist")
    assert not (tmp_path / "o").exists()  # a command that failed leaves no folder of its own making behind
    res = run("ingest", "--corpus", "no_such_corpus", "--out", str(tmp_path / "o"), check=False)
    assert res.returncode == 2 and f"(looked for {ROOT / 'no_such_corpus'})" in res.stderr
    res = run("segment", "--out", str(tmp_path / "empty"), check=False)
    assert res.returncode == 2 and "documents.parquet: missing" in res.stderr
    (tmp_path / "afile").write_text("x")
    res = run("run", "--corpus", str(ROOT / "corpus"), "--out", str(tmp_path / "afile"), check=False)
    assert res.returncode == 2 and res.stderr.strip() == f"error: {tmp_path / 'afile'}: is a file; OUT must be a folder " \
                                                         "(the outputs are written into it)"
    # a folder no run wrote, holding files of the names a run writes: a researcher's own; nothing is touched
    mine = tmp_path / "mine"
    (mine / "report_files").mkdir(parents=True)
    (mine / "report_files" / "notes.html").write_text("mine")
    (mine / "summary.md").write_text("my summary")
    res = run("run", "--corpus", str(ROOT / "corpus"), "--out", str(mine), "--model", "lexicon", check=False)
    assert res.returncode == 2 and res.stderr.strip().startswith(f"error: {mine}: holds report_files, summary.md, "
                                                                 "which no run of this tool wrote there")
    assert sorted(p.name for p in mine.rglob("*")) == ["notes.html", "report_files", "summary.md"]
    assert (mine / "summary.md").read_text() == "my summary"
    # clean refuses too, in its own words: it said "a run would overwrite or delete them: choose another --out"
    res = run("clean", "--out", str(mine), check=False)
    assert res.returncode == 2 and "so they are yours: nothing removed" in res.stderr and "--out" not in res.stderr
    assert sorted(p.name for p in mine.rglob("*")) == ["notes.html", "report_files", "summary.md"]


def make(*args, timeout=900):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    return subprocess.run(["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_make_reruns_only_what_changed(tmp_path):
    """The per-stage targets (`make report` chains them) re-run only the stages whose inputs changed."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    out = tmp_path / "out"
    venv = {"VENV": str(ROOT / ".venv")}
    args = ["make", "-C", str(ROOT), f"CORPUS={corpus}", f"OUT={out}", "report"] + [f"{k}={v}" for k, v in venv.items()]
    first = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    mtime = (out / "labels.parquet").stat().st_mtime_ns
    second = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert "pipeline segment" not in second.stdout and "pipeline classify" not in second.stdout
    assert (out / "labels.parquet").stat().st_mtime_ns == mtime
    time.sleep(0.01)
    victim = corpus / "en" / "UK" / "knowledge_exchange_partnerships_framework.txt"
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nThe council funds business incubators.\n",
                      encoding="utf-8")
    third = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert third.returncode == 0 and "pipeline classify" in third.stdout
    labels = pd.read_parquet(out / "labels.parquet")
    uk = labels[labels.doc_id == "en/UK/knowledge_exchange_partnerships_framework.txt"]
    assert "model.incubator" in set(uk.node)


def test_make_report_shows_new_codings_and_skipped_files(tmp_path):
    """`make report` after make review-import (or a file that is skipped) said '10 passages of this corpus were
    coded' while human_coding.csv, rewritten by aggregate, said 13: the report was made again only when
    coverage_region.csv changed, and codings and skipped files leave it as it was."""
    corpus, out, coded = tmp_path / "corpus", tmp_path / "out", tmp_path / "coded"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.md").write_text("广东省孵化器办法\n\n第一条 支持建设科技企业孵化器和众创空间。\n\n"
                                        "第二条 本办法自2020年1月1日起施行。\n", encoding="utf-8")
    args = [f"CORPUS={corpus}", f"OUT={out}", f"CODED={coded}", f"MODELS={tmp_path / 'models'}", "JOBS=1", "report"]
    first = make(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "No passage of this corpus has been coded" in (out / "summary.md").read_text(encoding="utf-8")
    passages = pd.read_parquet(out / "passages.parquet")
    p = passages[passages.text.str.startswith("第一条")].iloc[0]
    coded.mkdir()
    (coded / "coded.jsonl").write_text(json.dumps({"id": p.passage_id, "text": p.text, "lang": "zh",
                                                   "labels": ["model.incubator"], "coder": "ann"},
                                                  ensure_ascii=False) + "\n", encoding="utf-8")
    (corpus / "GD" / "old.doc").write_bytes(b"not read")
    second = make(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "1 passages of this corpus (1 region) were coded by 1 person" in summary, summary[:1500]
    assert "skipped: 1" in summary, summary[:600]
    assert "1 passages of this corpus" in (out / "report.html").read_text(encoding="utf-8")


def test_make_report_shows_a_title_and_date_changed_in_the_manifest(tmp_path):
    """A title or date corrected in manifest.csv changes documents.parquet alone (the passages and labels stay):
    `make report` re-ran ingest and segment and kept the coverage tables and reports with the old title and
    date, which `make run` and a fresh run show new."""
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.md").write_text("广东省孵化器办法\n\n第一条 支持建设科技企业孵化器和众创空间。\n", encoding="utf-8")
    manifest = "path,region,lang,title,date\nGD/a.md,GD,zh,{},{}\n"
    (corpus / "manifest.csv").write_text(manifest.format("广东省孵化器办法", "2019-01-01"), encoding="utf-8")
    args = [f"CORPUS={corpus}", f"OUT={out}", f"CODED={tmp_path / 'coded'}", f"MODELS={tmp_path / 'models'}",
            "JOBS=1", "report"]
    assert make(*args).returncode == 0
    (corpus / "manifest.csv").write_text(manifest.format("广东省科技企业孵化器管理办法", "2021-05-06"), encoding="utf-8")
    second = make(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    doc = pd.read_csv(out / "coverage_document.csv", encoding="utf-8-sig")
    assert doc[["title", "date"]].values.tolist() == [["广东省科技企业孵化器管理办法", "2021-05-06"]]
    assert "广东省科技企业孵化器管理办法" in (out / "report.html").read_text(encoding="utf-8")


def test_make_report_relabels_after_an_edit_of_a_framework_named_by_its_yaml_file(tmp_path):
    """TAXONOMY= takes a framework's YAML file as well as its folder; a term added to that file left `make report`
    with the labels of the file before (make knew only a folder's *.yaml)."""
    corpus, out, framework = tmp_path / "corpus", tmp_path / "out", tmp_path / "tools"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.md").write_text("广东省办法\n\n第一条 省政府设立产学研合作联席会议。\n", encoding="utf-8")
    shutil.copytree(ROOT / "taxonomy" / "policy_tools", framework)
    yaml = framework / "taxonomy.yaml"
    args = [f"CORPUS={corpus}", f"OUT={out}", f"TAXONOMY={yaml}", "MODEL=lexicon", f"CODED={tmp_path / 'coded'}",
            f"MODELS={tmp_path / 'models'}", "JOBS=1", "report"]
    assert make(*args).returncode == 0
    assert "tool.supply.public_enterprise" not in set(pd.read_parquet(out / "labels.parquet").node)
    text = yaml.read_text(encoding="utf-8")
    yaml.write_text(text.replace("事业单位改制]", "事业单位改制, 产学研合作联席会议]", 1), encoding="utf-8")
    assert make(*args).returncode == 0
    assert "tool.supply.public_enterprise" in set(pd.read_parquet(out / "labels.parquet").node)


def test_make_report_names_the_model_folder_named_now(tmp_path):
    """The same model files under another folder name make the same labels, so no table changes; `make report`
    kept a report naming the folder before."""
    from pipeline.classify import build_default_model
    from pipeline.taxonomy import load_taxonomy

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    (corpus / "GD").mkdir(parents=True)
    (corpus / "GD" / "a.md").write_text("广东省办法\n\n第一条 鼓励企业与高等学校共建联合实验室。\n", encoding="utf-8")
    default = build_default_model(ROOT / "taxonomy", load_taxonomy(ROOT / "taxonomy"))
    for name in ("spring", "autumn"):
        shutil.copytree(default, tmp_path / name)
        got = make(f"CORPUS={corpus}", f"OUT={out}", f"MODEL={tmp_path / name}", f"CODED={tmp_path / 'coded'}",
                   f"MODELS={tmp_path / 'models'}", "JOBS=1", "report")
        assert got.returncode == 0, got.stderr[-2000:]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "'autumn'" in summary and "spring" not in summary


def test_labels_come_from_the_model_the_run_names(tmp_path):
    """The sequence of issue 16: train, run, back to the default model, run again. The last run must relabel
    with the default model (it used to re-ingest only, keeping the trained model's labels and naming it in
    run.json); the per-stage classify target must also re-run when the model named changes."""
    from pipeline.classify import default_model_dir

    models, out, fresh = tmp_path / "models", tmp_path / "out", tmp_path / "fresh"
    coded = tmp_path / "coded.jsonl"
    # a smaller training set than the default model's, so its labels can differ
    lines = [ln for f in ("en.jsonl", "zh.jsonl")
             for ln in (ROOT / "taxonomy" / "examples" / f).read_text(encoding="utf-8").splitlines()[:60]]
    coded.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = [f"MODELS={models}", f"OUT={out}"]

    def model_in_run_json():
        return json.loads((out / "run.json").read_text())["stages"]["classify"]["model"]

    res = make("train", f"TRAIN={coded}", *common)
    assert res.returncode == 0, res.stderr[-2000:]
    trained = (models / "CURRENT").read_text().strip()
    assert make("run", *common).returncode == 0
    assert model_in_run_json() == trained
    res = make("default-model", *common)
    assert res.returncode == 0 and not (models / "CURRENT").exists()
    res = make("run", *common)
    assert res.returncode == 0, res.stderr[-2000:]
    default = str(default_model_dir(ROOT / "taxonomy"))
    assert model_in_run_json() == default
    run("run", "--out", str(fresh), "--quiet")  # a fresh run with the default model
    assert pd.read_parquet(out / "labels.parquet").equals(pd.read_parquet(fresh / "labels.parquet"))

    # per-stage: classify again only when the model named changes
    res = make("classify", *common)
    assert res.returncode == 0 and "pipeline classify" not in res.stdout, res.stdout
    res = make("classify", f"MODEL={trained}", *common)
    assert res.returncode == 0 and "pipeline classify" in res.stdout, res.stdout
    assert model_in_run_json() == trained
    res = make("classify", *common)
    assert res.returncode == 0 and "pipeline classify" in res.stdout, res.stdout
    assert model_in_run_json() == default


def test_default_model_says_what_it_did_and_what_it_kept(tmp_path):
    """`make default-model` printed only `rm -f 'models/CURRENT'`: a researcher could read it as the trained model
    deleted, and was not told what later runs use."""
    models = tmp_path / "models"
    (models / "trained").mkdir(parents=True)
    (models / "CURRENT").write_text(str(models / "trained"))
    res = make("default-model", f"MODELS={models}")
    assert res.returncode == 0 and not (models / "CURRENT").exists() and (models / "trained").is_dir()
    assert "use the default model" in res.stdout and f"{models / 'trained'} stays" in res.stdout, res.stdout


def test_run_in_a_terminal(tmp_path):
    """`python -m pipeline run` with stderr on a pseudo-terminal, as a user types it: progress bars are drawn
    (tests that capture output never exercise them)."""
    import os
    import pty

    out = tmp_path / "out"
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout and stderr are the terminal, 30 rows by 100 columns
        import fcntl
        import struct
        import termios

        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "pipeline", "run", "--out", str(out)])
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    log = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, log[-3000:]
    assert "Traceback" not in log
    assert "doc/s" in log or "doc]" in log  # a progress bar was drawn on the terminal
    assert (out / "report.html").exists()


def test_errors_name_what_is_missing(tmp_path):
    """Errors a new user meets: each is one line saying what is missing, in the user's terms."""
    res = run("evaluate", "--gold", "", "--out", str(tmp_path), check=False)
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: evaluate needs the coded passages to score the model against: --gold coded.jsonl "
        "(make evaluate GOLD=coded.jsonl[,more.jsonl], or GOLD=coded for the coded store)"]
    res = run("evaluate", "--gold", str(tmp_path / "gold.jsonl"), "--out", str(tmp_path), check=False)
    assert res.returncode == 2 and f"{tmp_path / 'gold.jsonl'}: file of coded passages not found" in res.stderr
    res = run("classify", "--in", str(tmp_path / "missing"), "--out", str(tmp_path / "p.jsonl"), check=False)
    assert res.returncode == 2 and "coded file" not in res.stderr
    assert f"{tmp_path / 'missing'}: input file not found (--in / IN=" in res.stderr
    res = run("compare", "--a", "XX", "--b", "", "--out", str(tmp_path), check=False)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "A ('XX'):" in res.stderr and "B: not given" in res.stderr

    def make_error(*args):
        res = make(*args, f"OUT={tmp_path}")
        assert res.returncode != 0
        return res.stderr

    assert "make evaluate needs GOLD=coded.jsonl" in make_error("evaluate")
    assert "coded file" not in make_error("evaluate")
    assert "B is missing" in make_error("compare", "A=CN")
    assert "A is missing" in make_error("compare", "B=CN")


def test_make_help_lists_every_target_and_variable():
    res = make("help")
    assert res.returncode == 0, res.stderr
    makefile = (ROOT / "Makefile").read_text()
    import re

    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    listed = re.findall(r"^  ([a-z-]+) {2,}\S", res.stdout, re.M)
    assert set(phony) <= set(listed), set(phony) - set(listed)
    variables = re.findall(r"^([A-Z]+) +\?=", makefile, re.M)
    shown = re.findall(r"^  ([A-Z]+) +.*\[.*\]$", res.stdout, re.M)
    assert set(variables) <= set(shown), set(variables) - set(shown)
    assert re.search(r"^  OUT +.*\[outputs\]$", res.stdout, re.M)  # with its current value


def test_run_output_explains_itself(tmp_path):
    """No warning on the demo corpus; fewer tokenized passages than passages is explained; make says what the
    minute-long set-up is doing."""
    res = run("run", "--out", str(tmp_path / "out"), "--model", "lexicon", "--quiet")
    assert "WARNING" not in res.stderr, res.stderr
    line = next(ln for ln in res.stderr.splitlines() if ln.startswith("segment+tokenize+classify:"))
    assert "headings and file headers, which are not coded" in line
    res = make("-n", "setup", f"VENV={tmp_path / 'venv'}")
    assert "installing the pinned dependencies" in res.stdout


def test_a_run_leaves_scikit_learn_to_its_workers(tmp_path):
    """The run's own process reads, aggregates and reports; scikit-learn (a second to import, on every re-run)
    is loaded only where passages are classified."""
    run("run", "--corpus", str(ROOT / "corpus"), "--out", str(tmp_path / "first"), "--quiet")  # the default model exists now
    code = ("import sys; from pipeline.cli import main; rc = main(sys.argv[1:]); "
            "print('scikit-learn loaded:', 'sklearn' in sys.modules); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, "run", "--corpus", str(ROOT / "corpus"), "--out",
                          str(tmp_path / "second"), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "second" / "labels.parquet").exists()
    assert res.stdout.strip().splitlines()[-1] == "scikit-learn loaded: False"


def test_file_names_reach_the_terminal_escaped(tmp_path):
    """A file name is the corpus's: ESC in it must not clear or recolour the terminal, a line break in it must
    not pass for a second message."""
    corpus = tmp_path / "corpus"
    (corpus / "CN").mkdir(parents=True)
    binary = b"\0" * 50 + b"x" * 50
    (corpus / "CN" / "fake\x1b[2J\x1b[31mRED.txt").write_bytes(binary)
    (corpus / "CN" / "two\nWARNING: ok.txt").write_bytes(binary)
    (corpus / "root\x1b[31m.txt").write_text("第一条 国家鼓励技术转移。", encoding="utf-8")
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet")
    assert "\x1b" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 4 and [line.split(":")[0] for line in lines] == ["WARNING", "WARNING", "ingest", "ingest"]
    assert "CN/fake\\x1b[2J\\x1b[31mRED.txt: binary content" in lines[0]
    assert "CN/two\\nWARNING: ok.txt: binary content" in lines[1]
    assert "root\\x1b[31m.txt" in lines[3]


def test_max_mb_must_be_a_size_and_a_lower_one_applies_to_unchanged_files(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "o"
    (corpus / "CN").mkdir(parents=True)
    (corpus / "CN" / "big.txt").write_text("第一条 国家鼓励技术转移。\n" * 100_000, encoding="utf-8")
    (corpus / "CN" / "small.txt").write_text("第一条 国家鼓励科技成果转化。", encoding="utf-8")
    for value in ("nan", "inf", "-5", "0"):
        res = run("ingest", "--corpus", str(corpus), "--out", str(out), "--max-mb", value, "--quiet", check=False)
        assert res.returncode == 2 and res.stderr.splitlines() == [
            f"error: --max-mb {value}: must be a finite number of MB above 0 (files larger than it are skipped)"]
    run("ingest", "--corpus", str(corpus), "--out", str(out), "--quiet")
    status = lambda: pd.read_csv(out / "ingest_report.csv", encoding="utf-8-sig").set_index("path")["status"]
    assert status().to_dict() == {"CN/big.txt": "ingested", "CN/small.txt": "ingested"}
    # the files are unchanged, but the big one was read under a higher limit than this run's
    res = run("ingest", "--corpus", str(corpus), "--out", str(out), "--max-mb", "1", "--quiet")
    assert status().to_dict() == {"CN/big.txt": "skipped", "CN/small.txt": "ingested"}
    assert "CN/big.txt: 3.6 MB is over the 1 MB limit" in res.stderr
    res = run("ingest", "--corpus", str(corpus), "--out", str(out), "--quiet")
    assert status().to_dict() == {"CN/big.txt": "ingested", "CN/small.txt": "ingested"}


def test_a_corpus_with_no_file_to_read_is_an_error(tmp_path):
    """An empty --corpus (a mistyped path, say) warned and exited 0 with an empty report: a script could not
    tell it from success. A corpus whose files are there but all fail still runs (test_hostile)."""
    corpus = tmp_path / "corpus"
    (corpus / ".git").mkdir(parents=True)
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet", check=False)
    assert res.returncode == 2 and res.stderr.splitlines() == [
        f"error: {corpus}: corpus folder has no document to read: it holds no file but links and folders not "
        "entered (hidden ones, earlier outputs) (--corpus)"]
    (corpus / "README.md").write_text("# notes\n")
    (corpus / "CN").mkdir()
    (corpus / "CN" / "a.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet", check=False)
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1
    assert "it holds 2 file(s) that are notes (a README and the like) or of a type not read (the types read are .txt" \
        in res.stderr
    # a hidden file is read only where the manifest lists it: the message said it was a note or of a type not read
    (corpus / "CN" / ".draft.txt").write_text("第一条 鼓励企业。\n", encoding="utf-8")
    (corpus / "CN" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden, and of no type read
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet", check=False)
    assert res.returncode == 2 and "it holds 1 hidden file(s) (names starting with '.'), read only where a " \
        "manifest.csv lists them and 3 file(s) that are notes" in res.stderr
    (corpus / "manifest.csv").write_text("path,region,lang\nCN/a.doc,CN,zh\nCN/gone.txt,CN,zh\n")
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet", check=False)
    assert res.returncode == 2 and res.stderr.splitlines() == [
        f"error: {corpus}: corpus folder has no document to read: manifest.csv lists no file of a type read (.txt, "
        ".md, .markdown, .html, .htm, .docx, .pdf) that is there (--corpus)"]


def test_clean_removes_what_runs_wrote_and_keeps_the_researchers_files(tmp_path, monkeypatch, capsys):
    """`make clean` removed every *.md, *.csv, *.json of OUT (a researcher's memo too) and, with OUT empty or
    holding a space, files outside it; the review sheets it removed made the next run refuse the folder."""
    from pipeline import cli

    out = tmp_path / "out"
    assert cli.main(["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--model", "lexicon",
                     "--quiet", "--jobs", "1"]) == 0
    (out / "review").mkdir()
    (out / "review" / "review-001.xlsx").write_text("coded by hand")
    (out / "memo.md").write_text("my notes")
    (out / "my_sheet.csv").write_text("a,b\n")
    (out / "evaluation_cv_summary.csv").write_text("lang,micro_f1\n")  # make evaluate writes into OUT too
    (out / "compare_CN-SD_vs_CN-ZJ.csv").write_text("node,side\n")  # and make compare (stale after a run)
    assert cli.main(["clean", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["memo.md", "my_sheet.csv", "review"]
    assert cli.main(["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--model", "lexicon",
                     "--quiet", "--jobs", "1"]) == 0
    # interrupted (Ctrl-C): one line and the shell's status for it, not a library's traceback
    def interrupted(args):
        raise KeyboardInterrupt
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_fn(parser(), "aggregate", interrupted))
    capsys.readouterr()
    assert cli.main(["aggregate", "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("interrupted: the stages that finished wrote their tables")


def test_ctrl_c_before_a_run_wrote_anything_says_the_folder_it_made_is_gone(tmp_path, monkeypatch, capsys):
    """Interrupted before its first table, a run removes the folder it made; it said that the stages that finished
    had written their tables there, and that the others were still the previous run's, of a folder no longer there;
    in a folder that held no run, it spoke of a previous run's tables too."""
    from pipeline import cli

    def interrupted(args):
        raise KeyboardInterrupt
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_fn(parser(), "run", interrupted))
    out = tmp_path / "new" / "out"
    assert cli.main(["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--quiet", "--jobs", "1"]) == 130
    assert not (tmp_path / "new").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"interrupted: no stage had finished; {out}, which the run had made, is removed"]
    # a folder of the researcher's that held no run's outputs has no previous run's tables to speak of
    mine = tmp_path / "mine"
    mine.mkdir()
    assert cli.main(["run", "--corpus", str(ROOT / "corpus"), "--out", str(mine), "--quiet", "--jobs", "1"]) == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        f"interrupted: the stages that finished wrote their tables to {mine}, each whole; run again to make the others"]


def _with_fn(parser, command, fn):
    parser._subparsers._group_actions[0].choices[command].set_defaults(fn=fn)
    return parser


def test_make_refuses_an_out_it_cannot_name(tmp_path):
    for bad in ("", f"{tmp_path}/my out"):
        res = make("clean", f"OUT={bad}")
        assert res.returncode != 0 and "must be one folder path without spaces" in res.stderr
    assert tmp_path.exists()


@pytest.mark.parametrize("garbled", ["{half written", "[]", '{"stages": []}'])
def test_a_run_replaces_a_garbled_run_json(tmp_path, garbled):
    """run.json, the run's log, edited by hand into something that is not a log: the next run failed with a
    traceback from reading it. It is a log of the last run: the run writes it anew."""
    from pipeline import cli

    out = tmp_path / "out"
    args = ["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--model", "lexicon", "--quiet", "--jobs", "1"]
    assert cli.main(args) == 0
    (out / "run.json").write_text(garbled)
    assert cli.main(args) == 0
    assert set(json.loads((out / "run.json").read_text())["stages"]) >= {"ingest", "classify", "report", "run"}


def test_a_run_over_one_region_says_region_once(tmp_path, capsys):
    """A corpus of one region was reported as "aggregate: 1 regions x 40 nodes"."""
    from pipeline import cli

    (tmp_path / "corpus" / "CN").mkdir(parents=True)
    (tmp_path / "corpus" / "CN" / "a.txt").write_text("江东省科技条例\n第一条 鼓励企业与高等学校共建研究开发平台。\n",
                                                      encoding="utf-8")
    assert cli.main(["run", "--corpus", str(tmp_path / "corpus"), "--out", str(tmp_path / "out"), "--model", "lexicon",
                     "--quiet", "--jobs", "1"]) == 0
    assert re.search(r"^aggregate: 1 region x \d+ nodes -> ", capsys.readouterr().err, re.M)
