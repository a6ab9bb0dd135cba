"""The command line's paths as a researcher types them: an output that would land on the input, empty values, and
counts that name no number of processes. Each failure is one line naming the path and the problem, exit status 2,
and leaves what the researcher gave as it was."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


POOL = "".join(f'{{"id": "p{i}", "text": "第{i}条 鼓励高等学校与企业共建研发平台，开展联合攻关。", "region": "bj"}}\n'
               for i in range(1, 5))


def test_an_out_naming_the_in_file_is_refused_and_the_file_kept(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(POOL, encoding="utf-8")
    for command, extra in (("classify", ["--model", "lexicon"]), ("review", ["--n", "2", "--coded", str(tmp_path)])):
        for out in (pool, tmp_path / "." / "pool.jsonl"):
            res = run(command, "--in", str(pool), "--out", str(out), "--jobs", "1", *extra)
            assert res.returncode == 2 and "Traceback" not in res.stderr
            assert res.stderr.strip().splitlines() == [
                f"error: {out}: is the --in file; writing the {'predictions' if command == 'classify' else 'picks'} "
                f"there would replace the passages given: choose another --out"]
            assert pool.read_text(encoding="utf-8") == POOL


def test_jobs_below_one_is_refused_before_any_work(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(POOL, encoding="utf-8")
    for value in ("0", "-1"):
        for args in (["run", "--corpus", str(ROOT / "corpus"), "--out", str(tmp_path / "o")],
                     ["evaluate", "--gold", str(gold), "--cv", "2", "--out", str(tmp_path / "e")]):
            res = run(*args, "--jobs", value)
            assert res.returncode == 2 and "Traceback" not in res.stderr
            assert res.stderr.strip().splitlines() == [
                f"error: --jobs {value}: must be 1 or more (the worker processes; JOBS= for make)"]
            assert not (tmp_path / "o").exists() and not (tmp_path / "e").exists()


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(tmp_path):
    """`make run CORPUS=` passed --corpus "", which read the current folder (the project's own files) as the
    corpus; --out "" wrote the outputs there."""
    out = tmp_path / "o"
    for option, args in (("--corpus", ["run", "--out", str(out), "--corpus", ""]),
                         ("--out", ["run", "--corpus", str(ROOT / "corpus"), "--out", " "]),
                         ("--coded", ["run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--coded", ""])):
        res = run(*args, "--jobs", "1")
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert res.stderr.startswith(f"error: {option} is empty"), res.stderr
        assert not out.exists()
    res = subprocess.run(["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", "run", "CORPUS=", f"OUT={out}",
                          "JOBS=1"], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "error: --corpus is empty (CORPUS=)" in res.stderr
    assert not (out / "documents.parquet").exists()


def test_classify_in_to_a_folder_names_the_folder_not_a_temporary_file(tmp_path):
    pool, folder = tmp_path / "pool.jsonl", tmp_path / "predictions"
    pool.write_text(POOL, encoding="utf-8")
    folder.mkdir()
    res = run("classify", "--in", str(pool), "--out", str(folder), "--model", "lexicon")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: {folder}: is a folder; with --in, --out names the predictions file (JSON lines)"]
    assert list(folder.iterdir()) == []


def test_top_level_help_speaks_to_the_user_in_whole_sentences():
    """It showed the module's first docstring line, for developers, cut mid-sentence ("calls one function of")."""
    res = run("--help")
    assert res.returncode == 0
    head = res.stdout.split("positional arguments:")[0]
    assert "argument parser" not in head and "function of" not in head
    assert "python -m pipeline run --corpus" in head and "--help" in head
    assert head.strip().endswith(".")


def test_a_run_whose_messages_nobody_reads_any_more_still_finishes(tmp_path):
    """`python -m pipeline run ... 2>&1 | head -1`: head exits after the first line, and the next message the run
    printed ended it with the aggregate and report stages not run (exit status 1, and no word of why, as the
    pipe was gone)."""
    corpus, out = tmp_path / "corpus", tmp_path / "o"
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台，开展联合攻关。\n",
                                         encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                             "--jobs", "1", "--model", "lexicon"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr.readline().startswith(b"ingest:")
    proc.stderr.close()  # as head does once it has its line
    assert proc.wait(timeout=600) == 0
    assert (out / "report.html").exists() and (out / "summary.md").exists()


def test_a_run_with_its_standard_streams_closed_finishes(tmp_path):
    """`... 2>&- >&- <&-` (as a job started without a terminal can be): the first message failed the run."""
    corpus, out = tmp_path / "corpus", tmp_path / "o"
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")

    def close_streams():
        for fd in (0, 1, 2):
            os.close(fd)

    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                          "--jobs", "1", "--model", "lexicon"], cwd=ROOT, preexec_fn=close_streams, timeout=600)
    assert res.returncode == 0
    assert (out / "report.html").exists() and (out / "summary.md").exists()


def test_a_corpus_folder_whose_name_is_not_utf8_is_run_and_recorded_escaped(tmp_path):
    """A folder unzipped from a Chinese Windows archive keeps its GBK name (北京 as b"\\xb1\\xb1\\xbe\\xa9"): the run
    did all its work, then failed with a traceback writing run.json, whose UTF-8 cannot hold the name's bytes."""
    corpus, out = tmp_path / os.fsdecode(b"\xb1\xb1\xbe\xa9"), tmp_path / "o"
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")
    res = run("run", "--corpus", str(corpus), "--out", str(out), "--jobs", "1", "--model", "lexicon", "--quiet")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    ingest = json.loads((out / "run.json").read_text(encoding="utf-8"))["stages"]["ingest"]
    assert ingest["corpus"] == f"{tmp_path}/\\xb1\\xb1\\xbe\\xa9"


def test_an_out_folder_whose_name_is_not_utf8_is_refused_in_one_line(tmp_path):
    """The Parquet writer cannot name files under it: the run failed with a traceback from inside pyarrow."""
    corpus, out = tmp_path / "corpus", tmp_path / os.fsdecode(b"out\xb1\xb1")
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                          "--jobs", "1", "--model", "lexicon"], cwd=ROOT, capture_output=True, timeout=600)
    err = res.stderr.decode("utf-8", "backslashreplace")
    assert res.returncode == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: {tmp_path}/out\\xb1\\xb1: the folder's name is not UTF-8 (odd bytes shown as \\xNN), and the "
        "tables' writer cannot name files in it: choose another --out"]
    assert not os.path.lexists(out)


def test_a_locale_that_is_not_utf8_reads_names_and_arguments_as_utf8(tmp_path):
    """In an ASCII locale (LC_ALL=C with Python's UTF-8 mode off) a Chinese corpus path failed with a traceback
    writing run.json; in a Latin-1 or GBK one the regions' names would have been read wrong."""
    corpus, out = tmp_path / "中文 语料", tmp_path / "o"
    (corpus / "北京").mkdir(parents=True)
    (corpus / "北京" / "条例.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIOENCODING"))}
    res = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                          "--jobs", "1", "--model", "lexicon", "--quiet"], cwd=ROOT, capture_output=True, timeout=600,
                         env={**env, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"})
    assert res.returncode == 0, res.stderr.decode("utf-8", "backslashreplace")[-2000:]
    assert "北京/条例.txt" in (out / "ingest_report.csv").read_text(encoding="utf-8-sig")
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["stages"]["ingest"]["corpus"] == str(corpus)


def test_clean_of_a_folder_without_outputs_says_it_removed_nothing(tmp_path):
    """It said "removed 1 output file(s)" of any folder, even one it had cleaned already: the lock it took itself."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "memo.md").write_text("mine", encoding="utf-8")
    for _ in range(2):
        res = run("clean", "--out", str(folder))
        assert res.returncode == 0 and res.stderr.strip() == f"clean: no outputs in {folder}"
        assert sorted(p.name for p in folder.iterdir()) == ["memo.md"]


def test_review_import_of_a_folder_says_it_is_a_folder(tmp_path):
    """FILE=my_out/review (the sheets' folder, not a sheet) was said to be "file not found"."""
    (tmp_path / "review").mkdir()
    res = run("review-import", "--file", str(tmp_path / "review"), "--coded", str(tmp_path / "coded"))
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'review'}: is a folder; FILE= names one coded review sheet (.xlsx, .csv or .jsonl)"]
    res = run("review-import", "--file", str(tmp_path / "review-001.xlsx"), "--coded", str(tmp_path / "coded"))
    assert res.returncode == 2 and res.stderr.strip() == f"error: {tmp_path / 'review-001.xlsx'}: file not found"


def test_a_window_below_one_passage_is_refused(tmp_path):
    """WINDOW=0 ran with the default of 20,000 passages and WINDOW=-5 with 500, neither said."""
    for value in ("0", "-5"):
        res = run("run", "--corpus", str(ROOT / "corpus"), "--out", str(tmp_path / "o"), "--jobs", "1",
                  "--window-passages", value)
        assert res.returncode == 2 and res.stderr.strip().splitlines() == [
            f"error: --window-passages {value}: must be 1 or more passages (rounded up to a multiple of 500; "
            "WINDOW= for make)"]
        assert not (tmp_path / "o").exists()


def test_make_refuses_a_variable_it_does_not_take(tmp_path):
    """`make run CORPSU=my_corpus OUT=my_out` ran the demo corpus into my_out without a word of the misspelling."""
    out = tmp_path / "o"
    res = subprocess.run(["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", "run", "CORPSU=/somewhere", "jobs=1",
                          f"OUT={out}"], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "CORPSU jobs: not variables of this Makefile" in res.stderr, res.stderr
    assert not out.exists()


def test_an_out_that_is_a_broken_link_is_named_as_such(tmp_path):
    """It said "File exists" of a link whose folder was gone (an external disk not mounted, a moved folder)."""
    out = tmp_path / "results"
    out.symlink_to(tmp_path / "gone")
    res = run("run", "--corpus", str(ROOT / "corpus"), "--out", str(out), "--jobs", "1", "--model", "lexicon")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        f"error: {out}: is a symbolic link to {tmp_path / 'gone'}, which does not exist; create that folder or "
        "choose another --out"]
    assert not (tmp_path / "gone").exists() and out.is_symlink()


def test_a_folder_without_write_permission_is_named_by_the_file_not_its_temporary(tmp_path, monkeypatch):
    """A read-only report_files/ gave "report_files/.doc-abffa014677abe49.html.ce_78u2r.tmp: Permission denied",
    a name the researcher never sees (root is not refused, so the refusal is simulated)."""
    import errno
    import tempfile

    import pytest

    import pipeline.io as pio

    def refused(*args, dir=None, prefix="", suffix="", **kw):
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}ce_78u2r{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(OSError) as info:
        pio.write_bytes_atomic(tmp_path / "report_files" / "doc-1.html", b"x")
    assert info.value.filename == str(tmp_path / "report_files" / "doc-1.html")
    assert info.value.errno == errno.EACCES and info.value.strerror == "Permission denied"


def test_a_command_refused_in_a_folder_of_the_researchers_leaves_no_lock_there(tmp_path):
    """`segment --out corpus/BJ` (a stage aimed at the wrong folder) failed, as it should, but left its lock file
    in BJ, which made BJ look like an output folder: every later run skipped the region's documents."""
    corpus = tmp_path / "corpus"
    for region, text in (("BJ", "北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n"),
                         ("SH", "上海市促进条例\n第一条 支持建设科技企业孵化器。\n")):
        (corpus / region).mkdir(parents=True)
        (corpus / region / "a.txt").write_text(text, encoding="utf-8")
    for command in ("segment", "aggregate", "report"):
        res = run(command, "--out", str(corpus / "BJ"), "--jobs", "1")
        assert res.returncode == 2 and ": missing; run the stage that writes" in res.stderr
        assert sorted(p.name for p in (corpus / "BJ").iterdir()) == ["a.txt"]
    res = run("ingest", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--quiet")
    assert res.returncode == 0 and "2 ingested" in res.stderr, res.stderr


def test_make_passes_a_corpus_named_with_quotes_and_backquotes_as_it_is(tmp_path):
    """make put CORPUS= between double quotes in its shell command: a folder named `a"b` broke the command
    ("Unterminated quoted string") and one named with backquotes ran what they held."""
    marker = tmp_path / "ran"
    corpus = tmp_path / f'my "best" `touch {marker}` corpus'
    (corpus / "BJ").mkdir(parents=True)
    (corpus / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")
    out = tmp_path / "o"
    res = subprocess.run(["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", "run", f"CORPUS={corpus}", f"OUT={out}",
                          "JOBS=1", "MODEL=lexicon"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not marker.exists() and (out / "report.html").exists()
    assert "BJ/a.txt,ingested" in (out / "ingest_report.csv").read_text(encoding="utf-8-sig")


def test_compare_piped_into_head_finishes_without_an_error(tmp_path):
    """`python -m pipeline compare ... | head -1` wrote its table, then said "error: Broken pipe" (exit 1)."""
    corpus, out = tmp_path / "corpus", tmp_path / "o"
    for region, text in (("BJ", "北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台，开展联合攻关。\n"),
                         ("SH", "上海市促进条例\n第一条 支持建设科技企业孵化器和大学科技园。\n")):
        (corpus / region).mkdir(parents=True)
        (corpus / region / "a.txt").write_text(text, encoding="utf-8")
    assert run("run", "--corpus", str(corpus), "--out", str(out), "--jobs", "1", "--model", "lexicon",
               "--quiet").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "compare", "--a", "BJ", "--b", "SH", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # each line written as printed
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0 and "error" not in err, err
    assert (out / "compare_BJ_vs_SH.csv").exists()


def test_a_region_skipped_for_a_lock_file_alone_says_so(tmp_path):
    """A region folder holding only documents and a stray .pipeline.lock was skipped as "holds a previous run's
    outputs (run.json, documents.parquet)", files it did not hold."""
    from pipeline.ingest import ingest

    (tmp_path / "BJ").mkdir()
    (tmp_path / "BJ" / "a.txt").write_text("北京市促进条例\n第一条 鼓励高等学校与企业共建研发平台。\n", encoding="utf-8")
    (tmp_path / "BJ" / ".pipeline.lock").write_text("", encoding="utf-8")
    (tmp_path / "SH").mkdir()
    (tmp_path / "SH" / "a.txt").write_text("上海市促进条例\n第一条 支持建设科技企业孵化器。\n", encoding="utf-8")
    docs, rep = ingest(tmp_path)
    reason = rep.set_index("path").loc["BJ", "reason"]
    assert "run.json" not in reason and ".pipeline.lock" in reason and "delete" in reason, reason
    assert list(docs["doc_id"]) == ["SH/a.txt"]


def test_a_table_that_cannot_be_written_is_named_not_its_staging_folder(tmp_path, monkeypatch):
    """A read-only OUT gave "OUT/.documents.parquet.66tn1nx7.tmp: Permission denied" (root is not refused, so
    the refusal is simulated)."""
    import errno
    import tempfile

    import pandas as pd
    import pytest

    import pipeline.io as pio
    from pipeline.schemas import DOCUMENTS

    def refused(*args, dir=None, prefix="", suffix="", **kw):
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}66tn1nx7{suffix}")

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    writer = pio.TableWriter(DOCUMENTS, tmp_path)
    with pytest.raises(OSError) as info:
        writer.write(pd.DataFrame({c: pd.Series(dtype="object") for c in DOCUMENTS.columns}), "k")
    assert info.value.filename == str(tmp_path / "documents.parquet") and info.value.errno == errno.EACCES


def test_no_corpus_named_never_replaces_another_corpus_run_with_the_demo_corpus(tmp_path):
    """`make report OUT=my_results` ran ingest with make's default CORPUS, the demo corpus, and replaced the
    researcher's results with the demo corpus's. With no corpus named, a run or ingest refuses an OUT that holds
    another corpus's run, saying which; make passes --corpus only when CORPUS= is given."""
    corpus, out = tmp_path / "mine", tmp_path / "results"
    (corpus / "A").mkdir(parents=True)
    (corpus / "A" / "reg.txt").write_text("第一条 国家鼓励高等学校与企业开展产学研合作。\n", encoding="utf-8")
    ran = run("ingest", "--corpus", str(corpus), "--out", str(out), "--quiet")
    assert ran.returncode == 0, ran.stderr
    before = (out / "ingest_report.csv").read_bytes()
    again = run("ingest", "--out", str(out), "--quiet")
    assert again.returncode == 2 and f"holds the results of the corpus {corpus}" in again.stderr
    assert "Traceback" not in again.stderr and (out / "ingest_report.csv").read_bytes() == before
    assert run("ingest", "--corpus", str(corpus), "--out", str(out), "--quiet").returncode == 0
    if shutil.which("make") is not None:
        dry = [subprocess.run(["make", "-n", "-C", str(ROOT), "ingest", f"OUT={out}", *more], capture_output=True,
                              text=True).stdout for more in ((), (f"CORPUS={corpus}",))]
        assert "--corpus" not in dry[0] and f"--corpus '{corpus}'" in dry[1]


def test_a_stage_says_its_missing_input_before_training_the_default_model(tmp_path, monkeypatch):
    """classify on an OUT with no run trained the default model (a quarter of a minute on a fresh clone) before
    saying documents.parquet was missing."""
    import argparse

    import pytest

    from pipeline import stages
    from pipeline.io import ConfigError

    def no_settings(*a, **k):
        raise AssertionError("the model was prepared before the inputs were checked")

    monkeypatch.setattr(stages, "stage_settings", no_settings)
    args = argparse.Namespace(out=str(tmp_path / "empty"), taxonomy=str(ROOT / "taxonomy"), model=None, input=None,
                              engine="local", jobs=1, window_passages=None, quiet=True)
    with pytest.raises(ConfigError, match="documents"):
        stages.cmd_classify(args)


def test_make_passes_an_out_named_with_backquotes_as_it_is(tmp_path):
    """make quoted CORPUS= and the other paths it passes, but put OUT (and TAXONOMY, MODEL, MODELS) between double
    quotes or none: an output folder named with backquotes ran what they held."""
    marker = tmp_path / "ran"
    out = tmp_path / f"o`date>{marker}`x"
    res = subprocess.run(["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", "clean", f"OUT={out}"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not marker.exists()


def test_a_refused_run_leaves_no_folder_of_its_making(tmp_path):
    """`make run CORPUS= OUT=new/folder` refused, but left new/folder behind, empty: make made OUT for its note of
    the model before the run was refused (and a run refused later removed OUT but not the folders above it)."""
    make = ["make", "-C", str(ROOT), f"VENV={ROOT / '.venv'}", "run", "JOBS=1"]
    res = subprocess.run([*make, "CORPUS=", f"OUT={tmp_path / 'new' / 'o'}"], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode != 0 and "error: --corpus is empty (CORPUS=)" in res.stderr
    res = subprocess.run([*make, f"CORPUS={tmp_path / 'nowhere'}", f"OUT={tmp_path / 'new' / 'o'}"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and "corpus folder does not exist" in res.stderr
    res = run("run", "--corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "new" / "o"), "--jobs", "1")
    assert res.returncode == 2 and "corpus folder does not exist" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # a folder the researcher made stays, empty or not
    mine = tmp_path / "mine"
    mine.mkdir()
    res = subprocess.run([*make, "CORPUS=", f"OUT={mine}"], capture_output=True, text=True, timeout=600)
    assert res.returncode != 0 and list(mine.iterdir()) == []
    # make still notes the model of a run that succeeds in a folder it did not make
    corpus = tmp_path / "corpus"
    (corpus / "CN-XX").mkdir(parents=True)
    (corpus / "CN-XX" / "a.txt").write_text("某市科技条例\n第一条 鼓励高等学校与企业共建联合实验室。\n", encoding="utf-8")
    res = subprocess.run([*make, f"CORPUS={corpus}", f"OUT={tmp_path / 'new' / 'o'}", "MODEL=lexicon"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "new" / "o" / ".classify-model").read_text() == "lexicon\n"


def test_a_run_that_fails_once_begun_leaves_no_folder_of_its_making(tmp_path):
    """A run that failed on loading its model (a damaged model folder) left OUT behind with its lock file: the
    documents table's temporary folder was still there when the run looked whether its folder held anything."""
    corpus, model = tmp_path / "corpus", tmp_path / "model"
    (corpus / "CN-XX").mkdir(parents=True)
    (corpus / "CN-XX" / "a.txt").write_text("某市科技条例\n第一条 鼓励高等学校与企业共建联合实验室。\n", encoding="utf-8")
    model.mkdir()
    (model / "model.json").write_text("{}")
    res = run("run", "--corpus", str(corpus), "--out", str(tmp_path / "new" / "o"), "--model", str(model),
              "--jobs", "1")
    assert res.returncode == 2 and "not a readable model" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "new").exists()


def test_a_damaged_model_is_named_in_one_line_with_workers_too(tmp_path):
    """With two workers (the default JOBS=2) a damaged model folder printed a worker's traceback and "a worker
    process was killed ... (by the system when memory ran out)", exit status 1; with one it was one line."""
    corpus, model = tmp_path / "corpus", tmp_path / "model"
    (corpus / "CN-XX").mkdir(parents=True)
    (corpus / "CN-XX" / "a.txt").write_text("某市科技条例\n第一条 鼓励高等学校与企业共建联合实验室。\n", encoding="utf-8")
    model.mkdir()
    (model / "model.json").write_text("{}")
    res = run("run", "--corpus", str(corpus), "--out", str(tmp_path / "o"), "--model", str(model), "--jobs", "2")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {model / 'arrays.npz'}: not a readable model")


def test_make_evaluate_takes_the_regions_of_the_corpus_named_by_corpus(tmp_path):
    """make evaluate GOLD=coded CV=region CORPUS=my_corpus left CORPUS unused: the codings without a region were
    held out by the folders of their paths (one folder of laws: one group, and no cross-validation), or by the
    demo corpus's manifest beside coded/. The corpus's manifest gives their regions, as it gave the run's."""
    corpus = tmp_path / "my corpus"
    if shutil.which("make") is not None:
        dry = [subprocess.run(["make", "-n", "-C", str(ROOT), "evaluate", "GOLD=coded", "CV=region", *more],
                              capture_output=True, text=True).stdout for more in ((), (f"CORPUS={corpus}",))]
        assert "--manifest" not in dry[0] and f"--manifest '{corpus}/manifest.csv'" in dry[1]
    gold = tmp_path / "coded.jsonl"
    gold.write_text(POOL, encoding="utf-8")
    res = run("evaluate", "--gold", str(gold), "--cv", "region", "--manifest",
              str(tmp_path / "nowhere" / "manifest.csv"))
    assert res.returncode == 2 and f"{tmp_path / 'nowhere'}: no such corpus folder" in res.stderr


def test_a_coded_store_named_as_a_file_is_refused(tmp_path, capsys):
    """CODED= naming a file of coded passages (the store is a folder of them) was read as an empty store: the run's
    tables and report said no passage had been coded, without a word."""
    from pipeline import cli

    coded = tmp_path / "coded.jsonl"
    coded.write_text('{"id": "x", "text": "t", "labels": ["n"], "coder": "ann"}\n')
    for command in ("run", "aggregate", "report", "train", "review", "review-import"):
        assert cli.main([command, "--out", str(tmp_path / "out"), "--coded", str(coded)]) == 2, command
        assert capsys.readouterr().err.splitlines() == [
            f"error: {coded}: is a file; --coded (CODED=) names the coded store, the folder of JSON-lines files "
            "review-import writes (make train takes files of coded passages as TRAIN=)"], command
    assert not (tmp_path / "out").exists()
