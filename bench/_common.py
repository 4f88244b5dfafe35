"""Helpers shared by the bench scripts: paths, timing, and the real model files from PyPI."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import fetch_models  # noqa: E402, F401  (re-exported for the bench scripts)

BIN = Path(sys.executable).parent


def median_seconds(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_process(args: list[str]) -> Callable[[], None]:
    def go() -> None:
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return go


def report(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
