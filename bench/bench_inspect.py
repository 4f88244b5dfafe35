"""Whole-process `paramscope inspect --json` on the Gemma 3 270M GGUF vs gguf.GGUFReader, same run.

Floors (issue 2): inspect ≤ 0.3 s as a whole process, and ≥ 30× faster than GGUFReader opening the
same file. GGUFReader is timed as a whole process too (`python -c "GGUFReader(path)"`), so both pay
the interpreter start; the page cache is warm for both (each runs once before timing).
"""

from __future__ import annotations

import sys

from _common import BIN, fetch_models, median_seconds, report, run_process


def main() -> int:
    path = str(fetch_models.gemma_gguf())
    ours = median_seconds(run_process([str(BIN / "paramscope"), "inspect", "--json", path]), repeat=9)
    theirs = median_seconds(run_process([sys.executable, "-c",
                                         f"import gguf; gguf.GGUFReader({path!r})"]),
                            repeat=1, warmup=0)
    ratio = theirs / ours
    report([
        ("file", path),
        ("paramscope inspect --json (process)", f"{ours * 1000:.0f} ms (median of 9)"),
        ("gguf.GGUFReader (process)", f"{theirs * 1000:.0f} ms"),
        ("ratio", f"{ratio:.1f}x"),
        ("floors", "≤ 300 ms and ≥ 30x: " + ("met" if ours <= 0.3 and ratio >= 30 else "NOT MET")),
    ])
    return 0 if ours <= 0.3 and ratio >= 30 else 1


if __name__ == "__main__":
    raise SystemExit(main())
