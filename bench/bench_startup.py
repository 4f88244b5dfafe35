"""Start-up: whole processes of the light commands against `python -c pass` in the same run.

Issue 11's floor: `paramscope size llama-3.1-8b --json`, `paramscope fit llama-3.1-8b --gpu h100 --json`
and `paramscope inspect model.safetensors --json` (MiniLM's, 90 MB) each take at most 5 × a bare
interpreter's start. The runs are interleaved (one of each per round, several rounds) so that a machine
busy with something else slows both sides alike; the figure is the median.

    .venv/bin/python bench/bench_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _common import BIN, fetch_models, report

FLOOR_RATIO = 5.0


# As a user's shell runs them: with bytecode caches written and read. An environment that sets
# PYTHONDONTWRITEBYTECODE (some sandboxes do) would otherwise compile every module on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    minilm = fetch_models.minilm_dir() / "model.safetensors"
    exe = str(BIN / "paramscope")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "size llama-3.1-8b --json": [exe, "size", "llama-3.1-8b", "--json"],
        "fit llama-3.1-8b --gpu h100 --json": [exe, "fit", "llama-3.1-8b", "--gpu", "h100", "--json"],
        "inspect model.safetensors --json": [exe, "inspect", str(minilm), "--json"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for args in commands.values():  # warm the page cache and the bytecode once
        once(args)
    for _ in range(rounds):
        for name, args in commands.items():
            times[name].append(once(args))
    base = statistics.median(times["python -c pass"])
    rows, ok = [], True
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = med / base
        if name != "python -c pass":
            ok &= ratio <= FLOOR_RATIO
        rows.append((name, f"{med * 1000:6.1f} ms  ({ratio:4.1f} × python -c pass)"))
    rows.append(("floor", f"each ≤ {FLOOR_RATIO:g} × python -c pass: " + ("met" if ok else "NOT MET")))
    report(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
