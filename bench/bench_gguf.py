"""Time paramscope's GGUF reader against gguf-py's GGUFReader on the real Gemma 3 270M file.

    python bench/bench_gguf.py [--runs N]

Prints the median of N in-process reads (ours), one GGUFReader read (about 10 s: it builds a Python
object per vocabulary entry), their ratio, and whole-process times: a bare interpreter, importing the
reader, and importing plus reading, each the median of a few runs, so the reader's own cost is the
difference. All numbers come from the same run on the same machine.
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


def main() -> None:
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


if __name__ == "__main__":
    main()
