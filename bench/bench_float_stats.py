"""Time the numba ``float_stats`` kernel (ns per value) and ``paramscope stats`` on the real Gemma GGUF.

    python bench/bench_float_stats.py [--against /work/main] [--runs 5] [--no-cli]

``float_stats`` is the statistics kernel of every decoded type (F32, GGUF quants, …): most of the time
of ``paramscope stats`` on a GGUF. This script times it on two inputs, on 1 and 2 numba threads:

- ``normal``: 16 Mi float32 N(0, 1) values, not cut into rows (``cols`` 0);
- ``gemma``: the first 16 Mi decoded values of Gemma 3 270M's 640-wide matrices (Q8_0 embedding, Q5_0),
  cut into rows of 640 (so the row and column abs-max run too);

then the wall time of ``paramscope stats GEMMA --json`` (a fresh process each, median of ``--runs``).

With ``--against DIR`` (another checkout, e.g. main before a change) every measurement is taken for
both source trees, alternating A, B, A, B… so that load from other processes on a shared machine hits
both alike; each kernel figure is the median over runs. Each tree is loaded in its own worker process
with PYTHONPATH=DIR/src, and numba's compiled code goes to a temporary NUMBA_CACHE_DIR (never into the
other checkout). Compilation and the page cache are warmed before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _common import fetch_models  # noqa: E402

N = 16 * 2**20
COLS = 640


def inputs(gemma: str):
    """name → (float32 values, cols)."""
    import numpy as np

    from paramscope.analyses.values.decode import dequantize
    from paramscope.formats import open_model
    from paramscope.sources.mapped import MappedFiles

    out = {"normal": (np.random.default_rng(0).standard_normal(N, dtype=np.float32), 0)}
    parts, have = [], 0
    with MappedFiles() as source:
        for t in sorted(open_model(gemma).tensors, key=lambda t: (-t.n_elements, t.name)):
            if len(t.shape) == 2 and t.shape[-1] == COLS and have < N:
                parts.append(dequantize(source.view(t), t.dtype, t.n_elements).copy())
                have += parts[-1].size
    out["gemma"] = (np.concatenate(parts)[:N // COLS * COLS], COLS)
    return out


def worker(gemma: str, runs: int) -> None:
    """In the tree on PYTHONPATH: for each input and thread count, ``runs`` timings of float_stats
    (ns per value), one JSON line per round so the parent can interleave trees round by round."""
    import numba
    import numpy as np

    from paramscope.analyses.values import stats_kernels as K
    from paramscope.analyses.values.stats_numba import float_stats

    data = inputs(gemma)

    def once(x, cols: int, threads: int) -> float:
        numba.set_num_threads(threads)
        grid, out = np.zeros((threads, K.GRID), np.int64), np.zeros((threads, K.N_FIELDS))
        rowmax = np.zeros(x.size // cols if cols else 0, np.float32)
        colmax = np.zeros((threads, max(cols, 1)), np.float32)
        start = time.perf_counter()
        float_stats(x, cols, 0.0, grid, out, rowmax, colmax)
        return (time.perf_counter() - start) / x.size * 1e9

    for (x, cols) in data.values():
        once(x, cols, 1)  # compile or load, fault the pages in
    print("ready", flush=True)
    for _ in range(runs):
        sys.stdin.readline()  # the parent's go: one round at a time
        row = {f"{name} {t}t": once(x, cols, t) for name, (x, cols) in data.items() for t in (1, 2)}
        print(json.dumps(row), flush=True)


def start_worker(tree: Path, gemma: str, runs: int, cache: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), NUMBA_CACHE_DIR=cache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen([sys.executable, __file__, "--worker", gemma, "--runs", str(runs)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def kernel_rounds(trees: dict[str, Path], gemma: str, runs: int, caches: dict[str, str]
                  ) -> dict[str, dict[str, float]]:
    procs = {label: start_worker(tree, gemma, runs, caches[label]) for label, tree in trees.items()}
    times: dict[str, dict[str, list[float]]] = {label: {} for label in trees}
    for _ in range(runs):
        for label, proc in procs.items():  # alternate the trees, one round each
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
            for key, ns in json.loads(proc.stdout.readline()).items():
                times[label].setdefault(key, []).append(ns)
    for proc in procs.values():
        proc.wait()
    return {label: {key: statistics.median(v) for key, v in t.items()} for label, t in times.items()}


def cli_rounds(trees: dict[str, Path], gemma: str, runs: int, caches: dict[str, str]) -> dict[str, float]:
    def run(label: str) -> float:
        env = dict(os.environ, PYTHONPATH=str(trees[label] / "src"), NUMBA_CACHE_DIR=caches[label])
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "paramscope", "stats", gemma, "--json"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    for label in trees:
        run(label)  # compiled-code cache and page cache warm
    times: dict[str, list[float]] = {label: [] for label in trees}
    for _ in range(runs):
        for label in trees:
            times[label].append(run(label))
    return {label: statistics.median(t) for label, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another checkout to time alongside this one")
    parser.add_argument("--runs", type=int, default=5, help="rounds of each measurement (median)")
    parser.add_argument("--no-cli", action="store_true", help="only the kernel, not `paramscope stats`")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.runs)
        return 0
    gemma = str(fetch_models.gemma_gguf())
    trees = {"this": ROOT}
    if args.against:
        trees["against"] = args.against.resolve()
    with tempfile.TemporaryDirectory(prefix="paramscope-numba-") as tmp:
        caches = {label: str(Path(tmp) / label) for label in trees}
        kernel = kernel_rounds(trees, gemma, args.runs, caches)
        cli = {} if args.no_cli else cli_rounds(trees, gemma, args.runs, caches)
    print(f"float_stats, ns per value (median of {args.runs}; {os.cpu_count()} cores)")
    labels = list(trees)
    print(f"  {'input, threads':<16}" + "".join(f"{label:>10}" for label in labels)
          + ("     ratio" if len(labels) == 2 else ""))
    for key in kernel["this"]:
        values = [kernel[label][key] for label in labels]
        ratio = f"{values[1] / values[0]:9.2f}x" if len(values) == 2 else ""
        print(f"  {key:<16}" + "".join(f"{v:10.2f}" for v in values) + ratio)
    if cli:
        print(f"paramscope stats gemma --json, wall seconds (median of {args.runs})")
        print("  " + "   ".join(f"{label}: {cli[label]:.2f} s" for label in labels))
    for label, tree in trees.items():
        print(f"  {label} = {tree}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
