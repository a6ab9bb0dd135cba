"""Ctrl-C and a killed worker: the run says so in one line, whatever its worker processes were doing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

# The terminal sends Ctrl-C's SIGINT to every process of the run: the run's own and its workers, here still
# warming up (a worker importing scikit-learn takes seconds) or busy.
_CTRL_C_DRIVER = r"""
import os, signal, sys, time
from pathlib import Path
from pipeline.engine import Helper, imap_ordered

# as a run typed in a terminal has it (a shell's background job, as `make test &` runs this, starts with SIGINT
# ignored, and Python then installs no handler of its own)
signal.signal(signal.SIGINT, signal.default_int_handler)
marks = Path(sys.argv[1])

def warm():
    (marks / f"warm-{os.getpid()}").touch()
    time.sleep(60)

def work(x):
    time.sleep(60)
    return x

def serve(conn):
    (marks / f"helper-{os.getpid()}").touch()
    time.sleep(60)

helper = Helper(serve)
try:
    for _ in imap_ordered(work, range(4), jobs=2, warm=warm, prestart=True):
        pass
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    helper.finish(timeout=10)
"""


def test_ctrl_c_while_workers_warm_up_prints_no_worker_traceback(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(_CTRL_C_DRIVER)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, str(driver), str(marks)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 3 and time.monotonic() < deadline:  # two workers and the helper
            time.sleep(0.1)
        assert len(list(marks.iterdir())) == 3
        os.killpg(proc.pid, signal.SIGINT)  # as the terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert err.strip().splitlines() == ["interrupted"], err


def _sigint_ignored() -> bool:
    import signal
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_dask_workers_leave_ctrl_c_to_the_run_and_a_second_cluster_says_nothing_of_ports(tmp_path):
    """ENGINE=dask: on Ctrl-C each Dask worker process printed its event loop's traceback around the run's one
    line (seen on ../shared/corpus: two or three per interrupt), where the run, which hears the interrupt, closes
    the cluster; and a second Dask run on the machine (here: another server on Dask's dashboard port) warned that
    the port was in use."""
    pytest.importorskip("distributed")
    import socket
    import warnings

    from pipeline.engine import _dask_client

    other = socket.socket()
    try:
        other.bind(("", 8787))
        other.listen()
    except OSError:
        pass  # something holds the port already
    before = signal.getsignal(signal.SIGINT)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            client, cluster = _dask_client(2)
        try:
            ignored = client.run(_sigint_ignored)
        finally:
            client.close()
            cluster.close()
    finally:
        other.close()
    assert len(ignored) == 2 and all(ignored.values()), ignored
    assert signal.getsignal(signal.SIGINT) is before  # this process's own handler is given back
    assert not [w for w in said if "already in use" in str(w.message)], [str(w.message) for w in said]


def _killed(x):
    os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does


def _killed_serve(conn):
    conn.recv()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_pool_worker_is_reported_as_such():
    from pipeline.engine import WorkerLost, imap_ordered

    with pytest.raises(WorkerLost, match="killed"):
        list(imap_ordered(_killed, [1, 2], jobs=2))


def test_a_killed_helper_process_is_reported_as_such():
    from pipeline.engine import Helper, WorkerLost

    helper = Helper(_killed_serve)
    helper.send("work")
    with pytest.raises(WorkerLost, match="killed"):
        helper.recv()
    helper.finish(timeout=10)


def test_cli_says_a_worker_was_killed_in_one_line(tmp_path, monkeypatch, capsys):
    from pipeline import cli
    from pipeline.engine import WorkerLost

    def killed(args):
        raise WorkerLost()

    parser = cli.build_parser

    def with_killed():
        p = parser()
        for action in p._subparsers._group_actions:
            action.choices["aggregate"].set_defaults(fn=killed)
        return p

    monkeypatch.setattr(cli, "build_parser", with_killed)
    (tmp_path / "out").mkdir()
    assert cli.main(["aggregate", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: a worker process was killed"), err


def test_a_killed_workbook_writer_is_reported_as_killed(tmp_path):
    # it printed "(the writing process exited with -9; its error is above)", and nothing was above
    import pandas as pd
    from pipeline.reporting import Workbook

    wb = Workbook(tmp_path / "coverage.xlsx", sheets=("region_ranking",))
    os.kill(wb._helper._proc.pid, signal.SIGKILL)
    wb._helper._proc.join()
    with pytest.raises(OSError, match=r"the writing process was killed \(signal 9\)") as caught:
        wb.send({"region_ranking": pd.DataFrame({"region": ["CN"]})})
        wb.wait()
    assert "its error is above" not in str(caught.value)
    assert not (tmp_path / "coverage.xlsx").exists()


def test_a_worker_lost_to_ctrl_c_is_said_as_the_interrupt(monkeypatch):
    """Ctrl-C ends the workers and this process at once; when the dead worker was seen first, the run said a
    worker had been killed (a traceback of WorkerLost under a test's driver) instead of 'interrupted'."""
    import threading
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from pipeline import engine

    class Interrupted(Exception):
        pass

    def on_sigint(signum, frame):
        raise Interrupted

    fut = Future()
    fut.set_exception(BrokenProcessPool("a worker died"))
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()  # the interrupt, a moment late
        with pytest.raises(Interrupted):
            engine._result(fut)
        monkeypatch.setattr(engine, "INTERRUPT_GRACE", 0.0)
        with pytest.raises(engine.WorkerLost):  # no interrupt: a worker lost
            engine._result(fut)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_workers_of_a_run_that_ignores_ctrl_c_ignore_it_too():
    """A run started in the background by a shell ignores SIGINT; its workers, which Ctrl-C otherwise ends at
    once, must not die of an interrupt the run does not hear (the run would then say a worker was killed)."""
    from pipeline import engine

    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        engine._quit_on_ctrl_c()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        engine._quit_on_ctrl_c()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)


# A run with its workers busy and a helper process waiting for it, holding its output folder's lock, as `make run`
# does; the test kills this process alone, as `kill -9 <pid of the run>` (or the out-of-memory killer) does
_KILLED_RUN_DRIVER = r"""
import os, sys, time
from pathlib import Path
from pipeline.engine import Helper, imap_ordered
from pipeline.outdir import OutLock

marks = Path(sys.argv[1])
OutLock(Path(sys.argv[2])).acquire()

def warm():
    (marks / f"worker-{os.getpid()}").touch()

def work(x):
    time.sleep(120)
    return x

def serve(conn):
    (marks / f"helper-{os.getpid()}").touch()
    conn.recv()

helper = Helper(serve)
for _ in imap_ordered(work, range(4), jobs=2, warm=warm, prestart=True):
    pass
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads processes' states from /proc")
def test_the_workers_of_a_killed_run_end_and_free_its_output_folder(tmp_path):
    """After `kill -9` of a run's process, its pool workers waited forever on a queue their siblings held open,
    each with its memory and a copy of the output folder's lock: the next run and make clean were refused, "in use
    by another run (process <the dead one>)", until the lock file was deleted by hand."""
    from pipeline.outdir import OutLock

    driver, marks, out = tmp_path / "driver.py", tmp_path / "marks", tmp_path / "out"
    driver.write_text(_KILLED_RUN_DRIVER)
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, str(driver), str(marks), str(out)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True)
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 3 and time.monotonic() < deadline:  # two workers and the helper
            time.sleep(0.1)
        pids = [int(p.name.split("-")[1]) for p in marks.iterdir()]
        assert len(pids) == 3
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        while any(map(_running, pids)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if _running(p)]
        OutLock(out).acquire().release()
    finally:
        for pid in pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


# `kill <pid of the run>` (SIGTERM), as a job scheduler or `timeout` sends it, once the run has begun writing
_SIGTERM_DRIVER = r"""
import os, signal, sys
from pipeline import cli, stages

chunks = stages.chunk_documents

def chunks_then_kill(records):
    for chunk in chunks(records):
        yield chunk
        os.kill(os.getpid(), signal.SIGTERM)

stages.chunk_documents = chunks_then_kill
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_killed_run_leaves_its_output_folder_as_ctrl_c_does(tmp_path):
    """SIGTERM ended the run's process on the spot: its tables' temporary files (46 MB over ../shared/corpus), its
    lock and the folder it had made stayed in OUT, and nothing was said. It ends the run as Ctrl-C does, with
    SIGTERM's status."""
    driver, out = tmp_path / "driver.py", tmp_path / "new" / "out"
    driver.write_text(_SIGTERM_DRIVER)
    proc = subprocess.run([sys.executable, str(driver), "run", "--corpus", str(ROOT / "corpus"), "--out", str(out),
                           "--model", "lexicon", "--jobs", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert proc.returncode == 143, proc.stderr  # as a process SIGTERM ends, so a scheduler reads why it stopped
    assert proc.stderr.startswith("terminated: "), proc.stderr
    assert not (tmp_path / "new").exists()
