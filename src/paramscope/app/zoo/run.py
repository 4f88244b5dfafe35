"""The zoo's files as tasks on Dask distributed; their rows to Parquet as they arrive.

A ``LocalCluster`` by default, or any running scheduler (``tcp://host:8786``). A task reads a *batch*
of files (``task.describe`` on each): up to ``BATCH_FILES`` files or ``BATCH_BYTES`` bytes, so that a
zoo of many small files does not pay Dask's per-task cost (a few milliseconds of scheduler, worker and
client time, against under one millisecond to describe a small file; bench/bench_zoo.py) once per file,
while a big file is a task of its own. Tasks are submitted a window at a time (``IN_FLIGHT_PER_THREAD``
× the cluster's threads) so the scheduler never holds more than it can work on and a stopped run has
little in flight. Rows come back in completion order and are written ``partition_rows`` at a time
(``store.Store``); only the table is gathered here, never tensor data.

Faults: Dask reruns the task of a worker that died on another worker (a row is written once, when its
task completes, so nothing is counted twice). A batch whose task keeps killing workers
(``distributed.scheduler.allowed-failures``, 3 by default) or fails in any other way is split into
tasks of one file each, so that only the file to blame becomes a row with the error; the run goes on.
Files already in ``OUT`` (a resumed run) are not read again.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from paramscope.app.zoo.store import Store
from paramscope.app.zoo.task import describe
from paramscope.app.zoo.walk import Item
from paramscope.records import record

IN_FLIGHT_PER_THREAD = 4
PARTITION_ROWS = 256
BATCH_FILES = 64
BATCH_BYTES = 256 << 20


@record
class Progress:
    """Where a run is, for a progress bar: files done of all, bytes hashed, seconds since the start."""

    files_done: int
    files_total: int
    bytes_hashed: int
    seconds: float
    row: dict[str, Any] | None = None  # the row just finished


@record
class RunStats:
    files_read: int  # tasks run in this run
    files_resumed: int  # rows found in OUT from an earlier run, not read again
    bytes_hashed: int
    seconds: float
    workers: int
    threads: int
    scheduler: str  # the scheduler's address
    partitions_written: int


@contextmanager
def client_for(scheduler: str | None, workers: int | None, processes: bool = True,
               threads_per_worker: int = 1) -> Iterator[Any]:
    """A client of ``scheduler``, or of a LocalCluster started (and stopped) here."""
    from paramscope.errors import MissingExtraError

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MissingExtraError("zoo", "zoo", "dask[distributed]") from None
    if scheduler:
        from paramscope.errors import SourceError

        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise SourceError(f"{scheduler}: no Dask scheduler answers there ({e})") from None
        with client:
            yield client
        return
    import dask

    # no dashboard, so no use for the workers' statistical profiler, which samples every thread's stack
    # every 10 ms: on a busy machine it cost a fifth of the hashing speed (bench/bench_zoo.py)
    # Even without a dashboard the scheduler serves its health routes on 8787 and warns (on stderr, where
    # `--json` users read errors) when another cluster holds that port, then takes another: not ours to say.
    with dask.config.set({"distributed.worker.profile.enabled": False}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Port \d+ is already in use", category=UserWarning)
        # workers' log lines only reach stderr, beside our output: a task's error reaches us as its
        # exception (a row), and at shutdown a worker whose heartbeat races the scheduler's close logs an
        # ERROR with a traceback (seen on a loaded machine), so only CRITICAL lines are let through
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster, Client(cluster) as client:
        yield client


def run(items: Sequence[Item], store: Store, client: Any, *, partition_rows: int = PARTITION_ROWS,
        progress: Callable[[Progress], None] | None = None) -> RunStats:
    """Every item not already in ``store`` read on the cluster of ``client``; rows written as they come."""
    from distributed import as_completed

    start = time.perf_counter()
    done = store.done()
    todo = [it for it in items if done.get(it.url) != it.size]  # a file changed since is read again
    resumed = len(items) - len(todo)
    nthreads = client.nthreads()  # worker address → threads
    threads = sum(nthreads.values()) or 1
    window = max(2, IN_FLIGHT_PER_THREAD * threads)
    pending: list[dict[str, Any]] = []
    parts = hashed = finished = 0

    def flush() -> None:
        nonlocal parts
        if pending:
            store.write(pending)
            parts += 1
            pending.clear()

    queue: list[tuple[Item, ...]] = list(reversed(batches(todo)))
    futures: dict[Any, tuple[Item, ...]] = {}
    ac = as_completed()

    def submit() -> None:
        while queue and len(futures) < window:
            batch = queue.pop()
            fut = client.submit(describe_batch, batch, key=f"paramscope-zoo-{_token(batch)}", pure=False,
                                retries=0)
            futures[fut] = batch
            ac.add(fut)

    submit()
    try:
        for fut in ac:
            batch = futures.pop(fut)
            rows = _result(fut, batch)
            fut.release()
            if rows is None:  # a batch that failed: its files again, one task each
                queue.extend((item,) for item in reversed(batch))
                submit()
                continue
            for row in rows:
                pending.append(row)
                finished += 1
                hashed += row["bytes_hashed"]
                if len(pending) >= partition_rows:
                    flush()
                if progress is not None:
                    progress(Progress(resumed + finished, len(items), hashed, time.perf_counter() - start,
                                      row))
            submit()
    finally:
        # a stopped run (Ctrl-C, an error) keeps what it has finished: the rows are written, the rest
        # cancelled, and the next run over the same OUT starts from there
        flush()
        for fut in futures:
            fut.cancel()
    return RunStats(finished, resumed, hashed, time.perf_counter() - start, len(nthreads), threads,
                    str(client.scheduler.address), parts)


def batches(items: Sequence[Item]) -> list[tuple[Item, ...]]:
    """Consecutive items in tasks of at most ``BATCH_FILES`` files and, past one file, ``BATCH_BYTES``."""
    out: list[tuple[Item, ...]] = []
    batch: list[Item] = []
    size = 0
    for item in items:
        if batch and (len(batch) >= BATCH_FILES or size + item.size > BATCH_BYTES):
            out.append(tuple(batch))
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        out.append(tuple(batch))
    return out


def describe_batch(batch: Sequence[Item]) -> list[dict[str, Any]]:
    """One task: the rows of a batch of files, in order."""
    return [describe(item) for item in batch]


def _result(fut: Any, batch: tuple[Item, ...]) -> list[dict[str, Any]] | None:
    """The task's rows; None for a failed batch of several files (to be split); for a failed single
    file, a row with the error that stopped its task (a worker that kept dying, say)."""
    try:
        return [dict(row) for row in fut.result()]
    except Exception as e:
        from distributed import KilledWorker

        if len(batch) > 1:
            return None
        if isinstance(e, KilledWorker):
            reason = "the worker reading it died each time it was tried (killed, out of memory, crashed)"
        else:
            reason = f"the task failed: {type(e).__name__}: {e}"
        item = batch[0]
        return [describe(Item(item.url, item.name, item.model, item.size, f"{item.url}: {reason}"))]


def _token(batch: Sequence[Item]) -> str:
    import hashlib
    import uuid

    h = hashlib.blake2b("\0".join(i.url for i in batch).encode(), digest_size=8)
    return f"{h.hexdigest()}-{uuid.uuid4().hex[:8]}"  # a split batch's files are new tasks
