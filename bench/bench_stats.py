"""Time ``paramscope stats`` against the straightforward numpy approach on a generated bf16 file.

    python bench/bench_stats.py [--gib 4] [--runs 3] [--keep]

Writes a Llama-shaped bf16 safetensors file of about ``--gib`` GiB under /tmp (never the repository),
reads it once so the page cache is warm, then in the same run times:

- numpy: for each tensor, load it, convert to float32, then np.min / max / mean / std / histogram(64)
  (single-threaded, as a script would do it);
- paramscope: ``weight_stats`` over a memory map (every statistic, per-component tree, anomalies).

Prints the throughput of each in GB/s (10⁹ bytes of file per second, median of ``--runs``), their
ratio, and paramscope's peak private memory (RssAnon, sampled every 5 ms from /proc/self/status) next
to its peak file-backed RSS. The file is deleted at the end unless ``--keep``.

Exits 1 when paramscope is less than FLOOR_RATIO times faster than the numpy approach in the same run
(docs/stats.md: 24× on a quiet 2-core machine; a ratio, so that load from other processes hits both), or
when its per-tensor count, min and max differ from numpy's on the same values, or its mean and std by
more than float64 summation order explains (relative 1e-9).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

HIDDEN = 4096
VOCAB = 32000
FLOOR_RATIO = 8.0
MATRICES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def layout(gib: float) -> list[tuple[str, tuple[int, ...]]]:
    """Embedding, head, norms and as many 4096 × 4096 layer matrices as fill ``gib``."""
    tensors = [("model.embed_tokens.weight", (VOCAB, HIDDEN)), ("lm_head.weight", (VOCAB, HIDDEN)),
               ("model.norm.weight", (HIDDEN,))]
    budget = int(gib * 2**30) - 2 * 2 * VOCAB * HIDDEN
    i = 0
    while budget > 0:
        layer, name = divmod(i, len(MATRICES))
        tensors.append((f"model.layers.{layer}.{MATRICES[name]}.weight", (HIDDEN, HIDDEN)))
        if name == 0:
            tensors.append((f"model.layers.{layer}.input_layernorm.weight", (HIDDEN,)))
        budget -= 2 * HIDDEN * HIDDEN
        i += 1
    return tensors


def write_file(path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> int:
    """A valid safetensors file; values are N(0, 0.02) in bf16, varied per tensor so none repeats."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    base = np.random.default_rng(0).standard_normal(2**24, dtype=np.float32)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for i, (_, shape) in enumerate(tensors):
            n = int(np.prod(shape))
            # a std of its own per tensor: no two tensors are alike (as in a real model), so the
            # identical-tensor check has nothing to hash
            values = _bf16(base * np.float32(0.02 * (1 + i / 1000)))
            np.tile(values, -(-n // base.size))[:n].tofile(f)
        f.flush()
        # written back before timing: dirty pages under writeback slow every reader down
        os.fsync(f.fileno())
    return path.stat().st_size


def _bf16(x: np.ndarray) -> np.ndarray:
    return (x.view(np.uint32) >> 16).astype(np.uint16)


def numpy_baseline(path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> None:
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        for name, _ in tensors:
            start, end = header[name]["data_offsets"]
            f.seek(8 + header_len + start)
            raw = np.frombuffer(f.read(end - start), np.uint16)
            x = (raw.astype(np.uint32) << 16).view(np.float32)
            np.min(x), np.max(x), np.mean(x), np.std(x), np.histogram(x, bins=64)


def numpy_facts(path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> dict[str, tuple]:
    """name → (count, min, max, mean, std), the mean and std in float64."""
    out = {}
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        for name, _ in tensors:
            start, end = header[name]["data_offsets"]
            f.seek(8 + header_len + start)
            x = (np.frombuffer(f.read(end - start), np.uint16).astype(np.uint32) << 16).view(np.float32)
            out[name] = (x.size, float(x.min()), float(x.max()), float(np.mean(x, dtype=np.float64)),
                         float(np.std(x, dtype=np.float64)))
    return out


def disagreements(result, expected: dict[str, tuple]) -> list[str]:
    bad = []
    for t in result.tensors:
        s = t.summary
        count, lo, hi, mean, std = expected[t.name]
        if (s.count, s.min, s.max) != (count, lo, hi) or not (
                math.isclose(s.mean, mean, rel_tol=1e-9, abs_tol=1e-12)
                and math.isclose(s.std, std, rel_tol=1e-9)):
            bad.append(t.name)
    return bad + sorted(set(expected) - {t.name for t in result.tensors})


def paramscope_stats(path: Path) -> object:
    from paramscope.analyses.values.stats import weight_stats
    from paramscope.formats import open_model
    from paramscope.sources.mapped import MappedFiles

    with MappedFiles() as source:
        return weight_stats(open_model(path), source)


class PeakMemory:
    """Peak RssAnon and RssFile of this process, sampled from /proc/self/status in a thread."""

    def __init__(self, every: float = 0.005):
        self.every, self.anon, self.file = every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            fields = _status()
            self.anon = max(self.anon, fields.get("RssAnon", 0))
            self.file = max(self.file, fields.get("RssFile", 0))
            time.sleep(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            out[key] = int(value.split()[0]) * 1024
    return out


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="size of the generated file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--keep", action="store_true", help="leave the generated file in /tmp")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the one-thread and numpy-backend runs of paramscope")
    args = parser.parse_args()
    tensors = layout(args.gib)
    fd, name = tempfile.mkstemp(prefix="paramscope-bench-", suffix=".safetensors", dir="/tmp")
    os.close(fd)
    path = Path(name)
    try:
        size = write_file(path, tensors)
        numpy_baseline(path, tensors)  # warms the page cache
        result = paramscope_stats(path)  # warms numba's compiled-code cache too
        base_s = median_time(lambda: numpy_baseline(path, tensors), args.runs)
        before = _status().get("RssAnon", 0)
        with PeakMemory() as peak:
            ours_s = median_time(lambda: paramscope_stats(path), args.runs)
        report(size, len(tensors), base_s, ours_s, before, peak, result)
        bad = disagreements(result, numpy_facts(path, tensors))
        if not args.no_variants:
            variants(path, size)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    failed = []
    if base_s / ours_s < FLOOR_RATIO:
        failed.append(f"{base_s / ours_s:.1f}x numpy < the {FLOOR_RATIO:g}x floor")
    if bad:
        failed.append(f"{len(bad)} tensor(s) disagree with numpy: {', '.join(bad[:3])}")
    print("FAILED: " + "; ".join(failed) if failed else f"floor met (≥ {FLOOR_RATIO:g}x numpy), numpy agrees")
    return 1 if failed else 0


def report(size: int, n_tensors: int, base_s: float, ours_s: float, before: int, peak: PeakMemory,
           result) -> None:
    print(f"file: {size / 2**30:.2f} GiB bf16 safetensors, {n_tensors} tensors, page cache warm")
    print(f"numpy (load, float32, min/max/mean/std/histogram): {base_s:7.2f} s  "
          f"{size / base_s / 1e9:6.2f} GB/s")
    print(f"paramscope stats ({result.backend}, {os.cpu_count()} cores):          "
          f"{ours_s:7.2f} s  {size / ours_s / 1e9:6.2f} GB/s")
    print(f"ratio paramscope / numpy:                          {base_s / ours_s:7.1f}x")
    print(f"peak private memory (RssAnon) during paramscope:   {peak.anon / 2**20:7.1f} MiB "
          f"(before: {before / 2**20:.1f} MiB)")
    print(f"peak file-backed RSS (RssFile) during paramscope:  {peak.file / 2**20:7.1f} MiB")


def variants(path: Path, size: int) -> None:
    """How much the second core and the compiled kernels bring: one run each of paramscope with numba
    on one thread, and with the numpy fallback (what runs without numba installed)."""
    import numba

    from paramscope.analyses.values import stats_kernels

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one = median_time(lambda: paramscope_stats(path), 1)
    numba.set_num_threads(threads)
    os.environ["PARAMSCOPE_STATS_BACKEND"] = "numpy"
    stats_kernels.backend.cache_clear()
    fallback = median_time(lambda: paramscope_stats(path), 1)
    del os.environ["PARAMSCOPE_STATS_BACKEND"]
    stats_kernels.backend.cache_clear()
    print(f"paramscope stats (numba, 1 thread):               {one:7.2f} s  {size / one / 1e9:6.2f} GB/s")
    print(f"paramscope stats (numpy fallback, no numba):      {fallback:7.2f} s  "
          f"{size / fallback / 1e9:6.2f} GB/s")


if __name__ == "__main__":
    raise SystemExit(main())
