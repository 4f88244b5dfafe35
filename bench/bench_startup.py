"""Start-up: whole processes of the light commands against `python -c pass` in the same run.

Issue 11's floor: `paramscope size llama-3.1-8b --json`, `paramscope fit llama-3.1-8b --gpu h100 --json`
and `paramscope inspect model.safetensors --json` (MiniLM's, 90 MB) each take at most 5 × a bare
interpreter's start. The runs are interleaved (one of each per round, several rounds) so that a machine
busy with something else slows both sides alike; the figure is the median (the minimum beside it).

Times on a shared machine are noisy, so each command's import-time work is also counted, which does not
vary from run to run: modules imported (paramscope's own in brackets) and record classes created, and
with --instructions the instructions valgrind counts for the whole process (the same from run to run
within ~0.1 %). On Python 3.11 a frozen dataclass cost ~0.5–1 ms to create (six generated methods, each
compiled with exec) and `import dataclasses` ~45 M instructions: records (src/paramscope/records.py)
cost neither, and the census says if a command imported dataclasses at all.

The commands run this checkout's code (its src/ first on PYTHONPATH), as a user's shell runs them.
Issue 11's passes, on the 2-core machine (wall time, median of 30; instructions: valgrind, python -c
pass 40 M); the third pass made every frozen dataclass a paramscope.records record and ends a process
with os._exit after its atexit functions (no interpreter teardown), alone on the machine:

    size llama-3.1-8b --json            8.6 → 7.3 → 4.0 ×   515 → 431 → 220 M   28 records
    fit llama-3.1-8b --gpu h100 --json 10.4 → 9.1 → 4.7 ×   629 → 564 → 267 M   50 records
    inspect model.safetensors --json    6.4 → 5.9 → 3.7 ×   335 → 311 → 181 M   15 records

    .venv/bin/python bench/bench_startup.py [--rounds 15] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from _common import BIN, ROOT, fetch_models, report

FLOOR_RATIO = 5.0


# As a user's shell runs them: with bytecode caches written and read. An environment that sets
# PYTHONDONTWRITEBYTECODE (some sandboxes do) would otherwise compile every module on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# The console script imports whichever paramscope is installed (an editable install may point at another
# checkout): this checkout's src/ goes first, so that the bench measures the code beside it.
ENV["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])


def once(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


# Run in a child interpreter: the command itself, with record classes counted (paramscope.records: each
# costs a class creation, and an __init__ compiled on its first instance), and whether the standard
# library's dataclasses (with inspect, ast, dis) was imported at all; the counts go to stderr. Modules are
# counted beyond the interpreter's own and those this prelude needs (json, paramscope.records).
CENSUS = """
import atexit, json, sys
import paramscope.records as records
made = []
record = records.record
records.record = lambda cls: made.append(cls) or record(cls)
atexit.register(lambda: sys.stderr.write(json.dumps({"modules": len(sys.modules) - base,
    "ours": sum(m.startswith("paramscope") for m in sys.modules), "records": len(made),
    "dataclasses": "dataclasses" in sys.modules}) + "\\n"))
base = len(sys.modules)
sys.argv = sys.argv[1:]
from paramscope.cli.app import main
main()
"""


def census(args: list[str]) -> dict[str, int]:
    """Modules imported (ours among them) and records created by one run of ``args``."""
    run = subprocess.run([sys.executable, "-c", CENSUS, *args], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True)
    return json.loads(run.stderr.strip().splitlines()[-1])


def instructions(args: list[str]) -> int | None:
    """Instructions the whole process executes, as valgrind counts them (None without valgrind)."""
    if shutil.which("valgrind") is None:
        return None
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    run = subprocess.run([*valgrind, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, check=True)
    line = next(ln for ln in run.stderr.splitlines() if "I" in ln and "refs:" in ln)
    return int(line.split(":")[1].replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--instructions", action="store_true", help="count instructions with valgrind too")
    opts = parser.parse_args()
    rounds = opts.rounds
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
    base_min = min(times["python -c pass"])
    rows, ok = [], True
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = med / base
        line = (f"{med * 1000:6.1f} ms  ({ratio:4.1f} × python -c pass; "
                f"min {min(ts) * 1000:5.1f} ms, {min(ts) / base_min:4.1f} ×)")
        if name != "python -c pass":
            ok &= ratio <= FLOOR_RATIO
            c = census(commands[name])
            line += (f"  {c['modules']:3d} modules [{c['ours']:2d}], {c['records']:2d} records"
                     + (", dataclasses imported" if c["dataclasses"] else ""))
        if opts.instructions and (n := instructions(commands[name])) is not None:
            line += f", {n / 1e6:.0f} M instructions"
        rows.append((name, line))
    rows.append(("floor", f"each ≤ {FLOOR_RATIO:g} × python -c pass: " + ("met" if ok else "NOT MET")))
    report(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
