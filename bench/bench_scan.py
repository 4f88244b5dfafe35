"""paramscope scan vs picklescan, on the same files in the same run (issue 10).

    python bench/bench_scan.py [--repeat N]

Correctness: every attack file the tests build (tests/builders/pickle_attacks.py PAYLOADS and
tests/builders/scan_attacks.py ATTACKS: each would run a payload under a real loader) and a few benign
files are scanned by both tools in this process (``paramscope.scan`` and ``picklescan.scanner.
scan_file_path``). A tool *catches* a file when its verdict is "could run code" (paramscope exit 2,
picklescan issues > 0); picklescan's scan errors (its exit 2) are counted apart, since a script that
checks only exit 0 would stop there too, but the tool did not say why. A benign file flagged is a
false alarm.

Speed: a 91 MB ``pytorch_model.bin`` written by ``torch.save`` from the all-MiniLM-L6-v2 weights (the
builders' emitter when torch is absent), scanned by each tool's command line in a fresh process, the
median of ``--repeat`` runs, wall and CPU time; the ratio is picklescan's time over paramscope's
(> 1: paramscope faster). Run it with ``PYTHONPATH=src`` from a worktree.
No floor is asserted here; the figures go in docs/security.md.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

from _common import BIN, ROOT, fetch_models, report

sys.path.insert(0, str(ROOT / "tests"))


def attack_files(folder: Path) -> list[tuple[str, Path]]:
    from builders import pickle_attacks as attacks
    from builders.scan_attacks import ATTACKS

    out = []
    for case in attacks.PAYLOADS:
        path = folder / f"{case.id}{case.suffix}"
        case.build(path, folder / "MARKER")
        out.append((case.id, path))
    for attack in ATTACKS:
        path = folder / f"{attack.id}{attack.suffix}"
        try:
            attack.build(path, folder / "MARKER")
        except BaseException:
            continue
        out.append((attack.id, path))
    return out


def benign_files(folder: Path) -> list[tuple[str, Path]]:
    import numpy as np

    from builders.pickle_files import SPECS, state_dict_checkpoint

    out = []
    for protocol in (2, 4, 5):
        path = folder / f"benign-p{protocol}.pkl"
        path.write_bytes(pickle.dumps(OrderedDict(a=[1, 2.5, "x"], b={"c": (1, 2)}), protocol=protocol))
        out.append((f"plain pickle, protocol {protocol}", path))
    out.append(("torch.save state dict", state_dict_checkpoint(folder / "benign.pt", SPECS)))
    np.save(folder / "benign.npy", np.arange(12.0))
    np.savez(folder / "benign.npz", a=np.arange(3), b=np.ones(4, dtype=np.float16))
    out += [("numeric .npy", folder / "benign.npy"), ("numeric .npz", folder / "benign.npz")]
    return out


def paramscope_says(path: Path) -> str:
    from paramscope.app.scan import scan

    code = scan([str(path)]).exit_code
    return {2: "caught", 1: "not a pickle", 0: "clean"}[code]


def picklescan_says(path: Path) -> str:
    import logging

    from picklescan.scanner import scan_file_path

    logging.disable(logging.CRITICAL)
    try:
        result = scan_file_path(str(path))
    except Exception:
        return "error"
    if result.issues_count:
        return "caught"
    return "error" if result.scan_err else "clean"


def big_checkpoint(folder: Path) -> Path:
    """pytorch_model.bin (91 MB) with the all-MiniLM-L6-v2 tensors."""
    src = fetch_models.minilm_dir()
    path = folder / "pytorch_model.bin"
    try:
        import torch
        from safetensors.torch import load_file

        torch.save(load_file(src / "model.safetensors"), path)
    except ImportError:
        from builders.pickle_files import Spec, state_dict_checkpoint
        from paramscope.formats import safetensors as st_reader

        model = st_reader.read(src / "model.safetensors")
        state_dict_checkpoint(path, [Spec(t.name, t.dtype, t.shape) for t in model.tensors])
    return path


def many_files(folder: Path, count: int) -> Path:
    """A folder of ``count`` small text files in sub-folders of 1,000 (a dataset or a cache beside the
    weights): what a folder search walks, lists and sniffs without finding anything."""
    root = folder / "many"
    for i in range(0, count, 1000):
        sub = root / f"d{i // 1000}"
        sub.mkdir(parents=True)
        for j in range(min(1000, count - i)):
            (sub / f"f{j}.txt").write_bytes(b"x\n")
    return root


def process_seconds(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system, of the child) of a fresh process; CPU time
    is the fairer figure on a loaded machine."""
    walls, cpus = [], []
    for _ in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--folder-files", type=int, default=100_000, help="files in the folder-search test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        folder = Path(tmp)
        attacks, benign = attack_files(folder), benign_files(folder)
        rows = [(name, paramscope_says(p), picklescan_says(p)) for name, p in attacks]
        print(f"attacks ({len(rows)} files):  file | paramscope | picklescan")
        for name, ours, theirs in rows:
            print(f"  {name:<34} {ours:<13} {theirs}")
        fp = [(name, paramscope_says(p), picklescan_says(p)) for name, p in benign]
        print("benign files:  file | paramscope | picklescan")
        for name, ours, theirs in fp:
            print(f"  {name:<34} {ours:<13} {theirs}")

        def count(col: int, what: str, table: list[tuple[str, str, str]]) -> int:
            return sum(r[col] == what for r in table)

        big = big_checkpoint(folder)
        # both tools from bytecode, as an install leaves them (pip compiles picklescan's; paramscope's
        # may be an editable checkout run with PYTHONDONTWRITEBYTECODE, which would compile each run)
        import compileall

        import paramscope

        compileall.compile_dir(str(Path(paramscope.__file__).parent), quiet=1)
        t0 = time.perf_counter()
        ours = [str(BIN / "python"), "-m", "paramscope", "scan"]
        timings = {name: process_seconds(cmd, args.repeat) for name, cmd in (
            ("paramscope scan", [*ours, str(big)]), ("paramscope scan --json", [*ours, "--json", str(big)]),
            ("picklescan -p", [str(BIN / "picklescan"), "-p", str(big)]))}
        theirs_wall, theirs_cpu = timings["picklescan -p"]
        many = many_files(folder, args.folder_files)
        folder_runs = max(1, args.repeat // 3)
        folder_timings = {name: process_seconds(cmd, folder_runs) for name, cmd in (
            ("paramscope scan", [*ours, str(many)]),
            ("picklescan -p", [str(BIN / "picklescan"), "-p", str(many)]))}
        folder_wall, folder_cpu = folder_timings["picklescan -p"]
        report([
            ("attacks caught, paramscope", f"{count(1, 'caught', rows)} of {len(rows)}"),
            ("attacks caught, picklescan", f"{count(2, 'caught', rows)} of {len(rows)} "
                                           f"(+{count(2, 'error', rows)} scan errors, "
                                           f"{count(2, 'clean', rows)} called clean)"),
            ("false alarms, paramscope", f"{sum(r[1] != 'clean' for r in fp)} of {len(fp)}"),
            ("false alarms, picklescan", f"{sum(r[2] != 'clean' for r in fp)} of {len(fp)}"),
            (f"whole process on a {big.stat().st_size / 1e6:.0f} MB pytorch_model.bin", "wall s, CPU s "
             "(median), picklescan's over this one"),
            *((f"  {name}", f"{wall:.3f} s, {cpu:.3f} s CPU, ratio {theirs_wall / wall:.2f}x wall, "
                            f"{theirs_cpu / cpu:.2f}x CPU") for name, (wall, cpu) in timings.items()),
            (f"whole process on a folder of {args.folder_files:,} text files", "wall s, CPU s (median of "
             f"{folder_runs}), picklescan's over this one (picklescan opens only files named like pickles; "
             "paramscope also reads every file's first bytes and lists every folder for code)"),
            *((f"  {name}", f"{wall:.3f} s, {cpu:.3f} s CPU, ratio {folder_wall / wall:.2f}x wall, "
                            f"{folder_cpu / cpu:.2f}x CPU") for name, (wall, cpu) in folder_timings.items()),
            ("bench wall time", f"{time.perf_counter() - t0:.1f} s"),
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
