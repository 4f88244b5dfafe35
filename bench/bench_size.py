"""Whole-process `paramscope size llama-3.1-8b --json`: the floor is 0.3 s (issue 3).

Baseline in the same run: a bare `python -c pass`, so the interpreter's own start is visible.
"""

from __future__ import annotations

import sys

from _common import BIN, median_seconds, report, run_process

FLOOR_S = 0.3


def main() -> int:
    ours = median_seconds(run_process([str(BIN / "paramscope"), "size", "llama-3.1-8b", "--json"]), repeat=9)
    bare = median_seconds(run_process([sys.executable, "-c", "pass"]), repeat=9)
    report([
        ("paramscope size llama-3.1-8b --json (process)", f"{ours * 1000:.0f} ms (median of 9)"),
        ("python -c pass (process)", f"{bare * 1000:.0f} ms"),
        ("floor", f"≤ {FLOOR_S * 1000:.0f} ms: " + ("met" if ours <= FLOOR_S else "NOT MET")),
    ])
    return 0 if ours <= FLOOR_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
