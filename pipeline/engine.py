"""Where per-document work runs: in this process, in a local process pool, or as Dask tasks.

Work is handed over as a pure function and a stream of chunks; results come back in chunk order, so every
engine produces the same tables. Worker functions initialise heavy state (spaCy pipelines, models) lazily
in the worker and cache it, which works for both process pools and Dask workers.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import Pipe, get_context
from typing import Callable, Iterable

from .io import ConfigError

ENGINES = ("local", "dask")


class WorkerLost(Exception):
    """A worker process ended before it gave its result: killed (kill -9, the system's out-of-memory killer)."""

    def __init__(self, message: str = "a worker process was killed before it finished its work (by kill, or by the "
                                      "system when memory ran out)"):
        super().__init__(message)


def _quit_on_ctrl_c() -> None:
    """In a worker: Ctrl-C ends it at once and silently. The terminal sends SIGINT to every process of the run;
    the run's own process says in one line what was interrupted, which a worker's traceback (of whatever
    library it was importing) would bury. A run that ignores SIGINT (started in the background by a shell) keeps
    its workers ignoring it too: they must not die of an interrupt the run does not hear."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    # the run's SIGTERM handler, inherited with the fork, is for the run's own process: a worker stopped by
    # terminate() ends at once, not with a traceback of the interrupt it would raise
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# how often a worker looks whether the run's process is still there
PARENT_CHECK_SECONDS = 1.0


def _end_with_parent(parent: int) -> None:
    """In a worker: end once the run's process `parent` is gone (kill -9, the out-of-memory killer). Nothing else
    would end it: a pool's workers wait on a queue their siblings hold open too, and each held its memory and,
    inherited with the fork, the output folder's lock, so the next run there was refused as "in use by another
    run" until the lock file was deleted by hand."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _start_worker(parent: int, warm: Callable | None, warm_args: tuple) -> None:
    _end_with_parent(parent)
    _quit_on_ctrl_c()
    if warm is not None:
        try:
            warm(*warm_args)
        except Exception:
            # warming only loads ahead of time what the tasks load anyway: the first task that needs it meets the
            # error again and hands it back to the run (a damaged model folder, said in one line). Raised here, it
            # broke the pool: a traceback, and the run said a worker had been killed
            pass


def imap_ordered(fn: Callable, items: Iterable, *, key: Callable = lambda x: x, engine: str = "local",
                 jobs: int = 2, warm: Callable | None = None, warm_args: tuple = (),
                 trivial: Callable | None = None, workers: int | None = None, prestart: bool = False):
    """Yield (item, fn(key(item))) in input order while up to twice `jobs` items (two at least) are being
    worked on.

    `items` is consumed lazily, so producing the next item (reading files) overlaps with the workers, and
    memory holds only the items in flight. `warm(*warm_args)` runs once in each local worker as it starts
    (loading dictionaries and models while the first items are still being produced). Items for which
    `trivial(item)` is true (nothing to compute) are done in this process; workers start only when an item
    needs them, so a run where nothing changed starts none; `prestart` starts (and warms) them at once,
    before the first item is taken, when the caller knows work is coming. `workers` caps the local pool below
    `jobs` when the caller knows there is little work (each worker warms up at a cost).
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    most_in_flight = max(2, 2 * jobs)  # each worker has its next item waiting when it finishes one
    if engine == "local" and jobs <= 1:
        for it in items:
            yield it, fn(key(it))
        return
    executor: dict = {}

    def start():
        if engine == "dask":
            client, cluster = _dask_client(jobs)
            executor.update(client=client, cluster=cluster, submit=lambda x: client.submit(fn, key(x), pure=False))
        else:
            pool = ProcessPoolExecutor(max_workers=min(jobs, workers or jobs), mp_context=get_context("fork"),
                                       initializer=_start_worker, initargs=(os.getpid(), warm, warm_args))
            pool.submit(int)  # the pool forks its workers on the first submit; they warm up meanwhile
            executor.update(pool=pool, submit=lambda x: pool.submit(fn, key(x)))

    def submit(it):
        if trivial is not None and trivial(it):
            return _Done(fn(key(it)))
        if not executor:
            start()
        return executor["submit"](it)

    pending: deque = deque()
    try:
        if prestart:
            start()
        in_flight = 0
        for it in items:
            fut = submit(it)
            pending.append((it, fut))
            in_flight += not isinstance(fut, _Done)
            # items done here queue behind one still in a worker (up to a bound, for memory: such items carry
            # no text), so producing the next items, and what follows the last one, goes on while the workers
            # are busy
            while in_flight >= most_in_flight or len(pending) >= 16 * most_in_flight or (
                    pending and isinstance(pending[0][1], _Done)):
                it0, fut = pending.popleft()
                in_flight -= not isinstance(fut, _Done)
                yield it0, _result(fut)
        while pending:
            it0, fut = pending.popleft()
            yield it0, _result(fut)
    finally:
        for _, fut in pending:
            fut.cancel()
        if "client" in executor:
            executor["client"].close()
            if executor["cluster"] is not None:
                executor["cluster"].close()
        if "pool" in executor:
            executor["pool"].shutdown(wait=True, cancel_futures=True)


# Ctrl-C reaches every process of the run at once, and a worker it ends can be seen dead before this process
# hears it: on a lost worker, this long for the interrupt to arrive (it raises KeyboardInterrupt out of the
# wait), so that a Ctrl-C is said as one and not as a killed worker
INTERRUPT_GRACE = 0.5


def _lost() -> WorkerLost:
    time.sleep(INTERRUPT_GRACE)
    return WorkerLost()


def _result(fut):
    try:
        return fut.result()
    except BrokenProcessPool:
        raise _lost() from None


class _Done:
    """A result computed in this process, with the future's interface."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self):
        return False


def _dask_client(jobs: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("ENGINE=dask needs Dask: pip install -e '.[dask]' (make setup installs it)") from None

    # Dask logs every start, connection and close of its scheduler and workers at INFO, to this process's handler
    # (the terminal's, at INFO: cli.main), some thirty lines around the run's own; LocalCluster's silence_logs
    # quiets only handlers of Dask's own, and it has none
    logging.getLogger("distributed").setLevel(logging.ERROR)
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return Client(address), None
    # Ctrl-C reaches every process of the run, and each of Dask's worker processes printed the traceback of its
    # event loop around the run's one line. Started while this process ignores SIGINT, they keep ignoring it (a
    # spawned process inherits an ignored signal), and this process, which hears the interrupt, closes them.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # dashboard_address=None still serves on Dask's fixed port, and a second run on the machine warned
        # that it was taken: a free port, whichever
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
    finally:
        signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


class Helper:
    """A forked process serving this one over a pipe: `serve(conn, *args)` runs in the child and reads
    requests with conn.recv() (EOFError once this process closes its end) and may answer with conn.send().

    Fork it before this process starts any thread (a fork copies the state of held locks, not the threads
    that would release them)."""

    def __init__(self, serve: Callable, *args):
        mine, theirs = Pipe()
        self._proc = get_context("fork").Process(target=_serve, args=(serve, theirs, mine, os.getpid(), args),
                                                 daemon=True)
        self._proc.start()
        theirs.close()
        self.conn = mine

    def send(self, message) -> None:
        self.conn.send(message)

    def recv(self):
        try:
            return self.conn.recv()
        except EOFError:  # it ended without answering (serve_classifier answers every request, its errors too)
            raise _lost() from None

    def finish(self, timeout: float | None = None) -> int | None:
        """Close this end and wait for the child to end (at most `timeout` seconds, then stop it); its exit
        code."""
        self.conn.close()
        self._proc.join(timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()
        return self._proc.exitcode


def _serve(serve: Callable, conn, parents_end, parent: int, args: tuple) -> None:
    # the child inherits this process's end of the pipe too: closed, so the child sees the pipe end when the
    # parent closes it (but processes forked after it hold copies: when the parent is killed, it ends by itself)
    parents_end.close()
    _end_with_parent(parent)
    _quit_on_ctrl_c()
    gc.freeze()  # what the parent made is never garbage here, and not to be walked by the collector
    try:
        serve(conn, *args)
    except EOFError:  # the parent went away before the work was complete
        sys.exit(1)
