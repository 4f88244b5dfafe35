"""`paramscope inspect` on a model of 91,991 tensors: CPU time of each listing vs baselines, same run.

    python bench/bench_inspect_tensors.py [--layers 61] [--repeat 3] [--columns 160]

Builds DeepSeek-V3's sharded safetensors checkpoint as headers only (tests/builders/big_checkpoints.py:
163 shards, their index and config.json; the tensor data is a sparse hole), then runs each command as
a whole process with its output going to a file (not a terminal), and reports the CPU time it took
(user + system, of the process and its children: robust to a busy machine, unlike wall time), the
median of ``--repeat`` runs, with ratios to
- ``python -c pass``: the interpreter alone;
- the safetensors library listing the same tensors: the index, ``safe_open`` of every shard, each
  tensor's shape and dtype (what `--tensors` lists; the library's fastest route to them);
- ``paramscope inspect`` without flags: reading, counting and the summary tables.
Checks that `inspect --tensors --json` lists exactly the library's tensors (exit status 1 if not).
No floors: the figures are for docs/inspect.md and for comparing two checkouts on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from builders.big_checkpoints import LAYERS, write_deepseek_v3  # noqa: E402

LIBRARY = """
import json, sys
from pathlib import Path
from safetensors import safe_open
index = Path(sys.argv[1])
n = 0
for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
    with safe_open(index.parent / shard, framework="numpy") as f:
        for key in f.keys():
            s = f.get_slice(key)
            s.get_shape(), s.get_dtype()
            n += 1
print(n)
"""


def cpu_seconds(args: list[str], out: Path, env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one process whose stdout goes to ``out``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(out, "w") as f:
        subprocess.run(args, check=True, stdout=f, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def median_cpu(args: list[str], out: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    runs = [cpu_seconds(args, out, env) for _ in range(repeat)]
    return statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=LAYERS, help="hidden layers (61: DeepSeek-V3's 91,991)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--columns", type=int, default=160, help="COLUMNS for the tables (160: a pipe's)")
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="the paramscope source tree to time (another checkout's, to compare)")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(args.src), os.environ.get("PYTHONPATH", "")]),
               COLUMNS=str(args.columns))
    py = sys.executable
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "deepseek-v3"
        folder.mkdir()
        index = write_deepseek_v3(folder, layers=args.layers)
        shards = len(set(json.loads(index.read_text())["weight_map"].values()))
        config = json.loads((ROOT / "src/paramscope/knowledge/catalogue/DeepSeek-V3.json").read_text())
        config["num_hidden_layers"] = args.layers
        (folder / "config.json").write_text(json.dumps(config))
        out = Path(tmp) / "out.txt"
        rows: list[tuple[str, float, float]] = []

        def run(label: str, argv: list[str]) -> float:
            cpu, wall = median_cpu(argv, out, env, args.repeat)
            rows.append((label, cpu, wall))
            return cpu

        base = run("python -c pass", [py, "-c", "pass"])
        lib = run("safetensors safe_open (every tensor)", [py, "-c", LIBRARY, str(index)])
        n_lib = int(out.read_text())
        plain = 0.0
        for flags in ([], ["--layers"], ["--tensors"]):
            for as_json in ([], ["--json"]):
                cpu = run(" ".join(["paramscope inspect", *flags, *as_json]),
                          [py, "-m", "paramscope", "inspect", str(folder), *flags, *as_json])
                plain = plain or cpu
                if flags == ["--tensors"] and as_json:
                    listed = json.loads(out.read_text())["tensors"]
                    if len(listed) != n_lib:
                        print(f"FAILED: inspect lists {len(listed)} tensors, safetensors {n_lib}")
                        failed = True
        shutil.rmtree(folder)
    print(f"{args.src}: {n_lib:,} tensors in {shards} shards, output to a file, "
          f"COLUMNS={args.columns}, median of {args.repeat}")
    width = max(len(label) for label, _, _ in rows)
    print(f"  {'command':<{width}}  {'CPU s':>7}  {'wall s':>7}  {'÷ safetensors':>13}  {'÷ inspect':>9}")
    for label, cpu, wall in rows:
        print(f"  {label:<{width}}  {cpu:7.2f}  {wall:7.2f}  {cpu / lib:12.1f}x  {cpu / plain:8.1f}x")
    print(f"  (python -c pass: {base:.2f} s CPU)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
