"""Time ``paramscope diff`` against the straightforward numpy approach on two generated bf16 files.

    python bench/bench_diff.py [--gib 1.5] [--runs 3] [--keep] [--no-variants]

Writes two Llama-shaped bf16 safetensors files of about ``--gib`` GiB each under /tmp (never the
repository): A, and B = A with a third of its tensors left alone and the rest changed (one element in
ten moved by one bfloat16 step, as a short fine-tune would), reads both once so the page cache is warm,
then in the same run times:

- numpy: for each tensor, load A's and B's bytes, widen to float32, subtract, then ‖B−A‖/‖A‖, cosine,
  max |B−A|, share of elements changed and SNR (single-threaded, as a script would do it);
- paramscope: ``paramscope.diff(A, B)`` with everything on: content hashes of every tensor, the
  spectrum of every changed matrix, the per-layer tree and the verdict.

Throughput is bytes of the pairs read (A's bytes + B's bytes) per second, median of ``--runs``.
Peak private memory (RssAnon, sampled every 5 ms) is reported next to peak file-backed RSS.

Exits non-zero when paramscope reads bf16 pairs slower than ``FLOOR_GBPS``, takes more than
``MAX_PRIVATE_MIB`` of private memory, or disagrees with numpy on any tensor's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_stats import PeakMemory, _status, layout  # noqa: E402

FLOOR_GBPS = 1.5  # bytes of A + B per second
MAX_PRIVATE_MIB = 300


def write_pair(a_path: Path, b_path: Path, tensors: list[tuple[str, tuple[int, ...]]]) -> int:
    """A and B (valid safetensors files, bf16 N(0, 0.02)); B changes tensors 1, 2, 4, 5, … of A."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(2**24, dtype=np.float32)
    flip = rng.random(2**24) < 0.1  # one element in ten moves by one bfloat16 step
    with open(a_path, "wb") as fa, open(b_path, "wb") as fb:
        for f in (fa, fb):
            f.write(struct.pack("<Q", len(blob)) + blob)
        for i, (_, shape) in enumerate(tensors):
            n = int(np.prod(shape))
            codes = ((base * np.float32(0.02 * (1 + i / 1000))).view(np.uint32) >> 16).astype(np.uint16)
            changed = codes ^ flip.astype(np.uint16) if i % 3 else codes
            reps = -(-n // codes.size)
            np.tile(codes, reps)[:n].tofile(fa)
            np.tile(changed, reps)[:n].tofile(fb)
        for f in (fa, fb):
            f.flush()
            os.fsync(f.fileno())  # written back before timing: dirty pages slow every reader
    return a_path.stat().st_size + b_path.stat().st_size


def numpy_baseline(a_path: Path, b_path: Path, exact: bool = False
                   ) -> dict[str, tuple[float, float, float, float, int]]:
    """name → (relative change, cosine, max |B−A|, SNR dB, elements changed), the plain way (float32
    sums, as a script does it); ``exact`` takes the sums in float64, for checking paramscope's figures."""
    out = {}
    wide = np.float64 if exact else np.float32
    with open(a_path, "rb") as fa, open(b_path, "rb") as fb:
        (header_len,) = struct.unpack("<Q", fa.read(8))
        header = json.loads(fa.read(header_len))
        for name, entry in header.items():
            start, end = entry["data_offsets"]
            fa.seek(8 + header_len + start)
            fb.seek(8 + header_len + start)
            a_all = (np.frombuffer(fa.read(end - start), np.uint16).astype(np.uint32) << 16).view(np.float32)
            b_all = (np.frombuffer(fb.read(end - start), np.uint16).astype(np.uint32) << 16).view(np.float32)
            step = 2**24 if exact else a_all.size  # float64 copies of a slice at a time
            aa = bb = ab = dd = mx = 0.0
            changed = 0
            for i in range(0, a_all.size, step):
                a, b = a_all[i:i + step], b_all[i:i + step]
                d = b - a
                mx, changed = max(mx, float(np.abs(d).max())), changed + int(np.count_nonzero(d))
                a, b, d = a.astype(wide, copy=False), b.astype(wide, copy=False), d.astype(wide, copy=False)
                aa, bb = aa + float(np.dot(a, a)), bb + float(np.dot(b, b))
                ab, dd = ab + float(np.dot(a, b)), dd + float(np.dot(d, d))
            out[name] = (math_sqrt(dd / aa), ab / math_sqrt(aa * bb), mx,
                         10 * np.log10(aa / dd) if dd else float("inf"), changed)
    return out


def math_sqrt(x: float) -> float:
    return float(np.sqrt(x))


def paramscope_diff(a_path: Path, b_path: Path):
    import paramscope

    return paramscope.diff(str(a_path), str(b_path)).report


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def agree(report, base: dict[str, tuple[float, float, float, float, int]]) -> list[str]:
    """Tensors whose figures differ from numpy's float64 ones."""
    bad = []
    for d in report.values.tensors:
        rel, cos, mx, snr, changed = base[d.name]
        ok = (d.changed == changed and d.max_abs == mx and np.isclose(d.rel_change, rel, rtol=1e-9)
              and np.isclose(d.cosine, cos, rtol=0, atol=1e-12)
              and (snr == d.snr_db or np.isclose(d.snr_db, snr, rtol=0, atol=1e-9)))
        if not ok:
            bad.append(d.name)
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.5, help="size of each generated file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--keep", action="store_true", help="leave the generated files in /tmp")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the no-hash and numpy-backend runs of paramscope")
    args = parser.parse_args()
    tensors = layout(args.gib)
    paths = []
    for suffix in ("-a.safetensors", "-b.safetensors"):
        fd, name = tempfile.mkstemp(prefix="paramscope-bench-diff", suffix=suffix, dir="/tmp")
        os.close(fd)
        paths.append(Path(name))
    a_path, b_path = paths
    try:
        size = write_pair(a_path, b_path, tensors)
        base = numpy_baseline(a_path, b_path, exact=True)  # warms the page cache
        report = paramscope_diff(a_path, b_path)  # warms numba's compiled-code cache too
        base_s = median_time(lambda: numpy_baseline(a_path, b_path), args.runs)
        before = _status().get("RssAnon", 0)
        with PeakMemory() as peak:
            ours_s = median_time(lambda: paramscope_diff(a_path, b_path), args.runs)
        rate = size / ours_s / 1e9
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"files: 2 × {size / 2 / 2**30:.2f} GiB bf16 safetensors, {len(tensors)} tensors each, "
              f"page cache warm, {os.cpu_count()} cores, load average {load}")
        print(f"verdict: {report.verdict.line}")
        print(f"numpy (load both, subtract, 5 figures):      {base_s:7.2f} s  "
              f"{size / base_s / 1e9:6.2f} GB/s")
        print(f"paramscope diff ({report.values.backend}, {report.values.hash_name}): "
              f"{ours_s:7.2f} s  {rate:6.2f} GB/s of pairs ({rate / 2:.2f} GB/s per model)")
        print(f"ratio paramscope / numpy:                    {base_s / ours_s:7.1f}x")
        private = peak.anon / 2**20
        print(f"peak private memory (RssAnon) during diff:   {private:7.1f} MiB "
              f"(before: {before / 2**20:.1f} MiB)")
        print(f"peak file-backed RSS (RssFile) during diff:  {peak.file / 2**20:7.1f} MiB")
        if not args.no_variants:
            variants(a_path, b_path, size)
        failures = []
        bad = agree(report, base)
        if bad:
            failures.append(f"figures differ from numpy for {len(bad)} tensors: {', '.join(bad[:3])}")
        if rate < FLOOR_GBPS:
            failures.append(f"{rate:.2f} GB/s of bf16 pairs is below the floor of {FLOOR_GBPS} GB/s")
        if private > MAX_PRIVATE_MIB:
            failures.append(f"{private:.0f} MiB of private memory is above {MAX_PRIVATE_MIB} MiB")
        for f in failures:
            print(f"FAIL: {f}")
        return 1 if failures else 0
    finally:
        if not args.keep:
            for p in paths:
                p.unlink(missing_ok=True)


def variants(a_path: Path, b_path: Path, size: int) -> None:
    """What the hashes cost, and the numpy fallback (what runs without the [fast] extra)."""
    import paramscope
    from paramscope.analyses.diff import kernels

    no_hash = median_time(lambda: paramscope.diff(str(a_path), str(b_path), hashes=False), 1)
    os.environ["PARAMSCOPE_DIFF_BACKEND"] = "numpy"
    kernels.backend.cache_clear()
    fallback = median_time(lambda: paramscope_diff(a_path, b_path), 1)
    del os.environ["PARAMSCOPE_DIFF_BACKEND"]
    kernels.backend.cache_clear()
    for label, seconds in (("--no-hashes", no_hash), ("(numpy fallback)", fallback)):
        print(f"paramscope diff {label:<29}{seconds:7.2f} s  {size / seconds / 1e9:6.2f} GB/s")


if __name__ == "__main__":
    sys.exit(main())
