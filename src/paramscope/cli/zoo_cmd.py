"""paramscope zoo PATH… --out FILE.parquet: inventory, safety and shared tensors of many files, on Dask."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "many model files on Dask: inventory, safety, duplicate tensors, to Parquet"
DESCRIPTION = """\
Reads every model file under the PATHs (folders, files, or fsspec URLs such as s3://bucket/models)
as tasks on Dask distributed: a local cluster, or a running scheduler with --scheduler. One row per
file goes to the Parquet dataset OUT (a folder of parts, written as files finish, so a stopped run
resumes where it was): format, family, parameters, bytes by stored type, the safety verdict of `scan`
with the globals a pickle names, and a SHA-256 of every tensor's stored bytes. Then a summary of the
whole table: totals per family and type, unsafe and unreadable files, tensors shared across files,
bytes deduplication would save, and groups of files that are the same model or share a base.
Needs the zoo extra (pip install 'paramscope[zoo]'). docs/zoo.md has the details.

examples:
  paramscope zoo ~/models --out zoo.parquet
  paramscope zoo s3://bucket/models --out z.parquet --scheduler tcp://host:8786
  paramscope zoo /data/a /data/b --out zoo.parquet --workers 8 --json
  paramscope zoo ~/models --out zoo.parquet --html zoo.html"""
EXIT_STATUS = ("exit status: 2 if any file could run code on loading, 1 on bad usage, 0 otherwise "
               "(unreadable files are rows of the table, not failures)")


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import output_file, positive_int

    p.add_argument("paths", metavar="PATH", nargs="+",
                   help="folders, files or fsspec URLs (one that cannot be read is a row with its error)")
    p.add_argument("--out", required=True, metavar="OUT",
                   help="Parquet dataset folder to write (and resume from), e.g. zoo.parquet")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786 "
                   "(default: a local cluster)")
    p.add_argument("--workers", type=positive_int,
                   help="local cluster worker processes (default: one per core)")
    p.add_argument("--restart", action="store_true", help="drop the rows OUT holds and read every file again")
    p.add_argument("--partition-rows", type=positive_int, default=256, metavar="N",
                   help="rows per Parquet part (default 256)")
    p.add_argument("--html", type=output_file, metavar="FILE",
                   help="also write the summary as one self-contained HTML page (no scripts, no network)")


def run(args: argparse.Namespace) -> int:
    import sys

    from paramscope.app.zoo import ZooRequest, zoo

    req = ZooRequest(tuple(args.paths), args.out, args.scheduler, args.workers, restart=args.restart,
                     partition_rows=args.partition_rows)
    if args.as_json or not sys.stderr.isatty():
        result = zoo(req)
    else:
        with _bar() as progress:
            result = zoo(req, progress=progress)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
    else:
        from paramscope.cli.output import console
        from paramscope.render.zoo_view import render_zoo

        render_zoo(result, console())
    if args.html:
        _write_html(result, args.html)
    return result.exit_code


def _write_html(result: Any, path: str) -> None:
    from pathlib import Path

    from paramscope.render.zoo_view import zoo_html

    Path(path).write_text(zoo_html(result), encoding="utf-8")


class _bar:
    """A progress bar on stderr: files done of all, and bytes hashed per second across the cluster."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from paramscope.cli.output import stderr_console

        self.bar = Progress(TextColumn("files"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                            console=stderr_console(), transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("zoo", total=None, rate="")
        return self.update

    def update(self, p: Any) -> None:
        from paramscope.units import bytes_label

        rate = (f"{p.files_done / p.seconds:,.0f} files/s, {bytes_label(int(p.bytes_hashed / p.seconds))}/s "
                "hashed" if p.seconds > 0 else "")
        self.bar.update(self.task, completed=p.files_done, total=p.files_total, rate=rate)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)
