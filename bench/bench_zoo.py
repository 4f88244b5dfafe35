"""Throughput of ``paramscope zoo`` on Dask against a plain sequential loop over the same files.

    python bench/bench_zoo.py [--small-repeat 44] [--big-files 8] [--big-mib 64] [--runs 3] [--json FILE]

Two zoos are written under /tmp (never the repository):

- *small*: ``tests/builders/zoo_files.build_zoo`` with ``--small-repeat`` folders of 23 files (every
  format, copies, fine-tunes, shards, unsafe and broken files): the per-file cost (open, sniff, header,
  verdict, a few KiB hashed);
- *big*: ``--big-files`` safetensors files of ``--big-mib`` MiB of random float32 each: the per-byte
  cost (SHA-256 of the stored bytes, read in 8 MiB chunks).

Each is read, in the same run, by:

- ``sequential``: ``zoo.task.describe`` on every file in a plain loop in this process (no Dask, no
  Parquet): the baseline;
- ``dask 1 worker`` / ``dask 2 workers``: ``paramscope.zoo`` on a LocalCluster of that many worker
  processes (one thread each), started beforehand (its start-up is reported on its own); the time
  covers the walk, the tasks, the Parquet parts and the summary.

Each figure is the best of ``--runs`` (the machine is shared: the fastest run is the one least
disturbed), and the load average is printed beside them. Reported: files per second, bytes hashed
per second, and each run's ratio to the sequential loop; the per-file and per-byte costs fitted from
the two zoos (sequential, and on one Dask worker, whose costs include Dask's), the projection of a
10,000-file, 100 TB zoo on N workers (``docs/scale.md``), and the peak Python allocation of describing
one big file (tracemalloc), which the bounded chunked reads keep near one chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import paramscope  # noqa: E402
from paramscope.app.zoo.run import client_for  # noqa: E402
from paramscope.app.zoo.task import describe  # noqa: E402
from paramscope.app.zoo.walk import walk  # noqa: E402

TB = 10**12


def write_big(folder: Path, files: int, mib: int) -> list[Path]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    out = []
    for i in range(files):
        n = mib * 2**20 // 4 // 4
        path = folder / f"big{i}.safetensors"
        save_file({f"w{j}": rng.standard_normal(n, dtype=np.float32) for j in range(4)}, str(path))
        out.append(path)
    return out


def sequential(root: Path, runs: int) -> tuple[float, int, int]:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        items = walk([str(root)])
        hashed = sum(describe(it)["bytes_hashed"] for it in items)
        best = min(best, time.perf_counter() - t0)
    return best, len(items), hashed


def on_dask(root: Path, out: Path, address: str, runs: int) -> tuple[float, int, int]:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        r = paramscope.zoo([str(root)], out=str(out), scheduler=address, restart=True)
        best = min(best, time.perf_counter() - t0)
    return best, r.summary.files, r.stats.bytes_hashed


def fit(small: dict[str, float], big: dict[str, float]) -> tuple[float, float]:
    """(seconds per file, seconds per byte) from seconds = files × per_file + bytes × per_byte."""
    det = small["files"] * big["bytes"] - big["files"] * small["bytes"]
    per_file = (small["seconds"] * big["bytes"] - big["seconds"] * small["bytes"]) / det
    per_byte = (small["files"] * big["seconds"] - big["files"] * small["seconds"]) / det
    return per_file, per_byte


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small-repeat", type=int, default=44)
    ap.add_argument("--big-files", type=int, default=8)
    ap.add_argument("--big-mib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    from builders.zoo_files import build_zoo

    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        build_zoo(small, repeat=args.small_repeat)
        big.mkdir()
        big_files = write_big(big, args.big_files, args.big_mib)
        for zoo in (small, big):  # the page cache warm for every contestant
            for f in zoo.rglob("*"):
                if f.is_file():
                    f.read_bytes()
        tracemalloc.start()
        describe(walk([str(big_files[0])])[0])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        for name, zoo in (("small", small), ("big", big)):
            secs, files, hashed = sequential(zoo, args.runs)
            figures[f"{name} sequential"] = {"seconds": secs, "files": files, "bytes": hashed}
        for workers in (1, 2):
            t0 = time.perf_counter()
            with client_for(None, workers) as client:  # the LocalCluster the CLI starts
                start = time.perf_counter() - t0
                for name, zoo in (("small", small), ("big", big)):
                    secs, files, hashed = on_dask(zoo, Path(tmp) / f"{name}{workers}.parquet",
                                                  client.scheduler.address, args.runs)
                    figures[f"{name} dask {workers} worker{'s' * (workers > 1)}"] = {
                        "seconds": secs, "files": files, "bytes": hashed, "cluster_start_seconds": start}
    rows = []
    for key, f in figures.items():
        base = figures[f"{key.split()[0]} sequential"]["seconds"]
        rate = f"{f['files'] / f['seconds']:8.1f} files/s  {f['bytes'] / f['seconds'] / 1e6:8.1f} MB/s"
        rows.append((key, f"{rate}  {base / f['seconds']:5.2f}× sequential  ({f['seconds']:.2f} s)"))
    costs = {}
    for how in ("sequential", "dask 1 worker"):
        per_file, per_byte = fit(figures[f"small {how}"], figures[f"big {how}"])
        costs[how] = per_file, per_byte
        rows += [(f"cost per file, {how}", f"{per_file * 1e3:.2f} ms"),
                 (f"cost per byte, {how}", f"{1 / per_byte / 1e6:.0f} MB/s per worker")]
    per_file, per_byte = costs["dask 1 worker"]
    one = 10_000 * per_file + 100 * TB * per_byte
    rows.append(("10,000 files, 100 TB", "  ".join(f"{n}: {one / n / 3600:,.1f} h" for n in (1, 16, 128))))
    starts = [figures[f"small dask {w} worker{'s' * (w > 1)}"]["cluster_start_seconds"] for w in (1, 2)]
    rows.append(("cluster start, 1 and 2 workers", "  ".join(f"{t:.1f} s" for t in starts)))
    rows.append(("peak Python allocation, one big file",
                 f"{peak / 2**20:.1f} MiB (file {args.big_mib} MiB, chunk 8 MiB)"))
    rows.append(("load average (1, 5, 15 min)", " ".join(f"{x:.1f}" for x in os.getloadavg())
                 + f" on {os.cpu_count()} cores"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps({"runs": figures, "costs": costs, "peak_bytes": peak}, indent=2))


if __name__ == "__main__":
    main()
