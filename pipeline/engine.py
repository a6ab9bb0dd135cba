"""Where per-document work runs: in this process, in a local process pool, or as Dask tasks.

Work is handed over as a pure function and a list of batches; results come back in batch order, so every
engine produces the same table. Worker functions initialise heavy state (spaCy pipelines, models) lazily
in the worker and cache it, which works for both process pools and Dask workers.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Iterable, Sequence

from .io import ConfigError

ENGINES = ("local", "dask")


def batched(items: Sequence, size: int) -> list[Sequence]:
    return [items[i: i + size] for i in range(0, len(items), size)]


def map_batches(fn: Callable, batches: list, *, engine: str = "local", jobs: int = 2,
                progress: Callable[[int], None] | None = None) -> list:
    """Apply `fn` to every batch; return the results in batch order."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (choose from {', '.join(ENGINES)})")
    if not batches:
        return []
    if engine == "dask":
        return _dask_map(fn, batches, jobs, progress)
    if jobs <= 1 or len(batches) == 1:
        out = []
        for b in batches:
            out.append(fn(b))
            if progress:
                progress(len(b))
        return out
    # fork keeps start-up cheap (modules already imported); results are ordered by submission
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(fn, b) for b in batches]
        out = []
        for b, f in zip(batches, futures):
            out.append(f.result())
            if progress:
                progress(len(b))
        return out


def _dask_map(fn, batches, jobs, progress) -> list:
    from distributed import Client, LocalCluster

    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        client, cluster = Client(address), None
    else:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        futures = client.map(fn, batches, pure=False)
        out = []
        for b, f in zip(batches, futures):
            out.append(f.result())
            if progress:
                progress(len(b))
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def iter_progress(total: int, desc: str, enabled: bool):
    """A tqdm bar (or a no-op) whose `update` the engines call per finished batch."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="passage", mininterval=1.0)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def flatten(parts: Iterable[list]) -> list:
    return [x for p in parts for x in p]
