"""The zoo's table on disk: a Parquet dataset, one file per partition, written as results arrive.

``OUT`` is a folder (``zoo.parquet/``) of ``part-00000.parquet``, ``part-00001.parquet`` …; each part is
written to a temporary name and renamed, so a part on disk is always whole, and a run that stops loses
at most the rows not yet written. A new run over the same ``OUT`` reads the paths already there and
reads only the others (resume). pandas, DuckDB, Spark and ``pyarrow.dataset`` read the folder as one
table. One row per file (``SCHEMA``); its tensors, with their hashes, are a nested list column.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

PART = re.compile(r"^part-(\d{5,})\.parquet$")


def schema() -> pa.Schema:
    import pyarrow as pa

    tensor = pa.struct([("name", pa.string()), ("dtype", pa.string()), ("shape", pa.list_(pa.int64())),
                        ("nbytes", pa.int64()), ("params", pa.int64()), ("hash", pa.string())])
    glob = pa.struct([("global", pa.string()), ("status", pa.string()), ("count", pa.int64())])
    return pa.schema([
        ("path", pa.string()),  # what was read: a local path or an fsspec URL
        ("name", pa.string()),  # the path below the root given
        ("model", pa.string()),  # files of one sharded checkpoint share it
        ("size", pa.int64()),  # bytes of the file
        ("format", pa.string()),  # formats.registry name; null when unreadable
        ("family", pa.string()),  # GGUF general.architecture or config.json model_type
        ("params", pa.int64()),  # logical parameters stored in this file
        ("n_tensors", pa.int64()),
        ("bytes_by_type", pa.map_(pa.string(), pa.int64())),  # stored type → bytes
        ("safety", pa.string()),  # scan's verdict: safe, harmless, could run code, unreadable
        ("could_run_code", pa.bool_()),
        ("globals", pa.list_(glob)),  # every global a pickle names, with its status
        ("tensors", pa.list_(tensor)),  # name, type, shape, bytes, parameters, SHA-256 of the bytes
        ("bytes_hashed", pa.int64()),
        ("error", pa.string()),  # why the file (or path) could not be read; null when it was
        ("seconds", pa.float64()),  # the task's time on its worker
    ])


class Store:
    """The dataset folder ``out`` (a local path or an fsspec URL)."""

    def __init__(self, out: str):
        import fsspec

        from paramscope.errors import UsageError

        self.out = out
        self.fs, self.root = fsspec.core.url_to_fs(out)
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise UsageError(f"{out}: exists and is not a folder; --out names a folder of Parquet parts "
                             "(a dataset), such as zoo.parquet")

    def parts(self) -> list[str]:
        if not self.fs.isdir(self.root):
            return []
        names = (posixpath.basename(p) for p in self.fs.ls(self.root, detail=False))
        return sorted(n for n in names if PART.match(n))

    def done(self) -> dict[str, int]:
        """path → size of every row already written (what a resumed run skips)."""
        import pyarrow.parquet as pq

        out: dict[str, int] = {}
        for part in self.parts():
            with self.fs.open(posixpath.join(self.root, part), "rb") as f:
                t = pq.read_table(f, columns=["path", "size"])
            out.update(zip(t.column("path").to_pylist(), t.column("size").to_pylist(), strict=True))
        return out

    def clear(self) -> None:
        for part in self.parts():
            self.fs.rm(posixpath.join(self.root, part))

    def write(self, rows: Sequence[Mapping[str, Any]]) -> str:
        """One new part holding ``rows``, written whole then renamed into place; its name."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.fs.makedirs(self.root, exist_ok=True)
        existing = [int(PART.match(p)[1]) for p in self.parts()]  # type: ignore[index]
        name = f"part-{max(existing, default=-1) + 1:05d}.parquet"
        table = pa.Table.from_pylist(list(rows), schema=schema())
        tmp = posixpath.join(self.root, f".{name}.{uuid.uuid4().hex}.tmp")
        with self.fs.open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
        self.fs.mv(tmp, posixpath.join(self.root, name))
        return name

    def read(self, paths: Iterable[str] | None = None) -> pa.Table:
        """The whole table (every part), or only the rows of ``paths``; a path written twice (by two
        runs racing on one folder) is kept once, the latest."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = []
        for part in self.parts():
            with self.fs.open(posixpath.join(self.root, part), "rb") as f:
                tables.append(pq.read_table(f, schema=schema()))
        table = pa.concat_tables(tables) if tables else schema().empty_table()
        keep: dict[str, int] = {}
        wanted = None if paths is None else set(paths)
        for i, p in enumerate(table.column("path").to_pylist()):
            if wanted is None or p in wanted:
                keep[p] = i
        return table.take(sorted(keep.values())) if len(keep) != table.num_rows else table
