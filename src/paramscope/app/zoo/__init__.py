"""``paramscope zoo``: many model files at once, on Dask distributed: what each is (format, family,
parameters, bytes by stored type), whether loading it could run code, and which tensors the files share.
One row per file in a Parquet dataset (``OUT``), written as results arrive, so a stopped run resumes;
a summary of the whole table (docs/zoo.md). This module is the application function; its parts:

    walk.py     paths and fsspec URLs → one item per model file, shards grouped into models
    task.py     one file → one row: format, family, parameters, bytes by type, safety, tensor hashes
    run.py      the items as tasks on a Dask cluster; rows to Parquet as they arrive; resume
    store.py    the Parquet dataset: schema, parts written whole, what is already done
    summary.py  the table → totals, unsafe files, duplicate tensors, same-model and same-base groups

Dask, pyarrow and fsspec are the ``zoo`` extra, imported only when a zoo runs or is read back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from paramscope.records import asdict, record

if TYPE_CHECKING:
    from paramscope.app.zoo.run import Progress, RunStats
    from paramscope.app.zoo.summary import Summary


@record
class ZooRequest:
    paths: tuple[str, ...]  # folders, files or fsspec URLs (s3://bucket/models, file:///data)
    out: str  # the Parquet dataset folder: written part by part, read back to resume
    scheduler: str | None = None  # a running Dask scheduler (tcp://host:8786); None: a LocalCluster
    workers: int | None = None  # LocalCluster worker processes (None: Dask's choice, one per core)
    processes: bool = True  # LocalCluster workers as processes (False: threads of this process)
    restart: bool = False  # drop what OUT holds and read everything again
    partition_rows: int = 256  # rows per Parquet part


@record
class ZooResult:
    request: ZooRequest
    summary: Summary
    stats: RunStats | None  # None: a dataset read back (``zoo_report``), not a run

    @property
    def exit_code(self) -> int:
        """2 when a file could run code (as `scan`), 0 otherwise: unreadable files are rows, not failures."""
        return 2 if self.summary.unsafe else 0

    def to_json(self) -> dict[str, Any]:
        s, st = self.summary, self.stats
        return {
            "out": self.request.out,
            "run": None if st is None else {
                "files_read": st.files_read, "files_resumed": st.files_resumed,
                "bytes_hashed": st.bytes_hashed, "seconds": st.seconds,
                "bytes_per_second": st.bytes_hashed / st.seconds if st.seconds > 0 else None,
                "workers": st.workers, "threads": st.threads, "partitions_written": st.partitions_written},
            "totals": {"files": s.files, "models": s.models, "bytes": s.bytes, "params": s.params,
                       "tensors": s.tensors, "bytes_hashed": s.bytes_hashed},
            "by_family": [asdict(f) for f in s.by_family],
            "by_type": [asdict(t) for t in s.by_type],
            "unsafe": [asdict(n) for n in s.unsafe],
            "errors": [asdict(n) for n in s.errors],
            "duplicates": {
                "distinct_tensors": s.distinct_tensors, "shared_tensors": s.shared_tensors,
                "duplicate_copies": s.duplicate_copies, "dedup_saved_bytes": s.dedup_saved_bytes,
                "top": [{**asdict(t), "names": list(t.names), "saved_bytes": t.saved_bytes}
                        for t in s.top_shared]},
            "same_model": [{"models": list(g.models), "names": list(g.names)} for g in s.same_model],
            "same_base": [{"models": list(g.models), "names": list(g.names), "share": g.share}
                          for g in s.same_base],
            "exit_status": self.exit_code,
        }


def zoo(paths: str | Sequence[str] | ZooRequest, out: str | None = None, *,
        progress: Callable[[Progress], None] | None = None, **options: Any) -> ZooResult:
    """``paramscope.zoo(["/data/models"], out="zoo.parquet").summary``; ``progress`` is called with
    each file done (files done of all, bytes hashed, seconds)."""
    from paramscope.errors import UsageError

    if isinstance(paths, ZooRequest):
        req = paths
    else:
        if out is None:
            raise UsageError("zoo needs out=…: the Parquet folder its rows are written to")
        req = ZooRequest((paths,) if isinstance(paths, str) else tuple(str(p) for p in paths), str(out),
                         **options)
    if not req.paths:
        raise UsageError("zoo needs at least one PATH")
    if req.partition_rows < 1:
        raise UsageError(f"partition_rows must be at least 1, not {req.partition_rows}")
    try:
        import distributed  # noqa: F401
        import fsspec  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError("zoo", "zoo", e.name) from None
    from paramscope.app.zoo.run import client_for, run
    from paramscope.app.zoo.store import Store
    from paramscope.app.zoo.summary import summarize
    from paramscope.app.zoo.walk import walk

    store = Store(req.out)
    if req.restart:
        store.clear()
    items = walk(req.paths)
    with client_for(req.scheduler, req.workers, req.processes) as client:
        stats = run(items, store, client, partition_rows=req.partition_rows, progress=progress)
    return ZooResult(req, summarize(store.read(it.url for it in items)), stats)


def zoo_report(out: str) -> ZooResult:
    """The summary of a dataset an earlier ``zoo`` run wrote to ``out`` (every row of every part),
    without reading any model file again: what `paramscope report zoo.parquet` shows."""
    from paramscope.errors import SourceError

    try:
        import pyarrow  # noqa: F401
    except ImportError as e:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError("zoo", "zoo", e.name) from None
    from paramscope.app.zoo.store import Store
    from paramscope.app.zoo.summary import summarize

    store = Store(out)
    if not store.parts():
        raise SourceError(f"{out}: no Parquet parts of a `paramscope zoo` run in it")
    return ZooResult(ZooRequest((), out), summarize(store.read()), None)
