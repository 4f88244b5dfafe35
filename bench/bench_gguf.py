"""Time paramscope's GGUF reader against gguf-py's GGUFReader on the real Gemma 3 270M file.

    python bench/bench_gguf.py [--runs N]

Prints the median of N in-process reads (ours), one GGUFReader read (about 10 s: it builds a Python
object per vocabulary entry), their ratio, and whole-process times: a bare interpreter, importing the
reader, and importing plus reading, each the median of a few runs, so the reader's own cost is the
difference. All numbers come from the same run on the same machine.

Exits 1 unless both readers list the same tensors (name, shape, ggml type, absolute data offset, bytes)
and ours reads at least FLOOR times faster than GGUFReader in-process (issue 2's ratio, ≥ 30×).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "src"))

import fetch_models  # noqa: E402

FLOOR = 30.0


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def process_seconds(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def same_tensors(ours, reference) -> list[str]:
    """Names of tensors the two readers describe differently (or that only one lists)."""
    mine = {t.name: (tuple(t.shape), t.dtype.value, t.offset, t.nbytes) for t in ours.tensors}
    theirs = {t.name: (tuple(int(d) for d in reversed(t.shape)), t.tensor_type.name, int(t.data_offset),
                       int(t.n_bytes)) for t in reference.tensors}
    return sorted(n for n in mine.keys() | theirs.keys() if mine.get(n) != theirs.get(n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="in-process reads of ours (median)")
    parser.add_argument("--process-runs", type=int, default=5, help="runs per whole-process timing")
    args = parser.parse_args()
    path = fetch_models.gemma_gguf()

    from paramscope.formats import gguf as ours

    first = timed(lambda: ours.read(path))
    warm = statistics.median(timed(lambda: ours.read(path)) for _ in range(args.runs))
    from gguf import GGUFReader

    reference = timed(lambda: GGUFReader(path))
    differ = same_tensors(ours.read(path), GGUFReader(path))
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"paramscope read(), first call:      {first * 1e3:8.1f} ms")
    print(f"{f'paramscope read(), median of {args.runs}:':36s}{warm * 1e3:8.1f} ms")
    print(f"gguf.GGUFReader, one run:           {reference * 1e3:8.1f} ms")
    print(f"ratio GGUFReader / paramscope:      {reference / warm:8.0f}x")

    src = f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r}); "
    bare = process_seconds("pass", args.process_runs)
    imported = process_seconds(src + "import paramscope.formats.gguf", args.process_runs)
    full = process_seconds(src + f"import paramscope.formats.gguf as g; g.read({str(path)!r})",
                           args.process_runs)
    print(f"process: bare python                {bare * 1e3:8.1f} ms")
    print(f"process: import reader              {imported * 1e3:8.1f} ms  (+{(imported - bare) * 1e3:.1f})")
    print(f"process: import + read              {full * 1e3:8.1f} ms  (+{(full - imported) * 1e3:.1f})")
    failed = []
    if differ:
        failed.append(f"{len(differ)} tensor(s) differ from GGUFReader: {', '.join(differ[:5])}")
    if reference / warm < FLOOR:
        failed.append(f"ratio {reference / warm:.0f}x < {FLOOR:.0f}x")
    met = f"floor met (≥ {FLOOR:.0f}x), same tensors as GGUFReader"
    print("FAILED: " + "; ".join(failed) if failed else met)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
