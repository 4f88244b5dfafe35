"""The zoo's files as tasks on Dask distributed; their rows to Parquet as they arrive.

A ``LocalCluster`` by default, or any running scheduler (``tcp://host:8786``). One task per file
(``task.describe``), submitted a window at a time (``IN_FLIGHT_PER_THREAD`` × the cluster's threads) so
the scheduler never holds more than it can work on and a stopped run has little in flight. Rows come
back in completion order and are written ``partition_rows`` at a time (``store.Store``); only the table
is gathered here, never tensor data.

Faults: Dask reruns the task of a worker that died on another worker (a row is written once, when its
task completes, so nothing is counted twice); a file whose task keeps killing workers
(``distributed.scheduler.allowed-failures``, 3 by default) or fails in any other way becomes a row with
the error, and the run goes on. Files already in ``OUT`` (a resumed run) are not read again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from paramscope.zoo.store import Store
from paramscope.zoo.task import describe
from paramscope.zoo.walk import Item

IN_FLIGHT_PER_THREAD = 4
PARTITION_ROWS = 256


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run is, for a progress bar: files done of all, bytes hashed, seconds since the start."""

    files_done: int
    files_total: int
    bytes_hashed: int
    seconds: float
    row: dict[str, Any] | None = None  # the row just finished


@dataclass(frozen=True, slots=True)
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
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker, processes=processes,
                           dashboard_address=None, silence_logs=logging.ERROR)
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
    threads = sum(client.nthreads().values()) or 1
    window = max(2, IN_FLIGHT_PER_THREAD * threads)
    pending: list[dict[str, Any]] = []
    parts = hashed = finished = 0

    def flush() -> None:
        nonlocal parts
        if pending:
            store.write(pending)
            parts += 1
            pending.clear()

    queue = iter(enumerate(todo))
    futures: dict[Any, Item] = {}

    def submit(ac: Any) -> None:
        for i, item in queue:
            fut = client.submit(describe, item, key=f"paramscope-zoo-{i}-{_token(item.url)}", pure=False,
                                retries=0)
            futures[fut] = item
            ac.add(fut)
            if len(futures) >= window:
                return

    ac = as_completed()
    submit(ac)
    try:
        for fut in ac:
            item = futures.pop(fut)
            row = _result(fut, item)
            fut.release()
            pending.append(row)
            finished += 1
            hashed += row["bytes_hashed"]
            if len(pending) >= partition_rows:
                flush()
            if progress is not None:
                progress(Progress(resumed + finished, len(items), hashed, time.perf_counter() - start, row))
            submit(ac)
    finally:
        # a stopped run (Ctrl-C, an error) keeps what it has finished: the rows are written, the rest
        # cancelled, and the next run over the same OUT starts from there
        flush()
        for fut in futures:
            fut.cancel()
    info = client.scheduler_info()
    return RunStats(finished, resumed, hashed, time.perf_counter() - start, len(info.get("workers", {})),
                    threads, str(client.scheduler.address), parts)


def _result(fut: Any, item: Item) -> dict[str, Any]:
    """The task's row, or a row with the error that stopped the task (a worker that kept dying)."""
    try:
        row = fut.result()
    except Exception as e:
        from distributed import KilledWorker

        if isinstance(e, KilledWorker):
            reason = "the worker reading it died each time it was tried (killed, out of memory, crashed)"
        else:
            reason = f"the task failed: {type(e).__name__}: {e}"
        row = describe(Item(item.url, item.name, item.model, item.size, f"{item.url}: {reason}"))
    return dict(row)


def _token(text: str) -> str:
    import hashlib

    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
