"""A fuzzing campaign over every reader, through every command that reads a file.

    PYTHONPATH=src python tools/fuzz_readers.py [--kinds gguf,st,...] [--n 200] [--seed 1] [--out DIR]

Each input is a structure-aware mutation (tests/builders/fuzz_inputs.py) of a real file (Gemma 3 270M
GGUF, all-MiniLM-L6-v2 safetensors, the real configs in tests/fixtures/configs) or of one the gguf,
safetensors, torch and onnx libraries write; each command runs in a forked, memory-capped child
(tests/builders/fuzz_run.py) and its outcome is judged against docs/cli.md. Findings are printed one per
line, deduplicated by (command, problem, error text shape), with the input kept under --out.
tests/test_fuzz_readers.py keeps the minimized findings as regression tests and runs the same mutators
under hypothesis.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tools")]

import fetch_models  # noqa: E402

from builders import fuzz_inputs as fi  # noqa: E402
from builders.fuzz_run import problems, run  # noqa: E402

ACCEPTED_COMMANDS = [
    ["inspect", "{f}"], ["inspect", "{f}", "--tensors"], ["inspect", "{f}", "--layers"],
    ["size", "{f}"], ["size", "{f}", "--json"], ["fit", "{f}", "--gpu", "h100"], ["train", "{f}"],
    ["explain", "{f}"], ["stats", "{f}", "--json"], ["quantize-error", "{f}", "--sample", "0.05"],
    ["diff", "{f}", "{seed}"], ["tokens", "{f}", "Hello world"], ["scan", "{f}"], ["ls", "{d}", "--json"],
]
REJECTED_COMMANDS = [["inspect", "{f}"], ["size", "{f}", "--json"], ["stats", "{f}"],
                     ["scan", "{f}", "--json"], ["ls", "{d}"], ["tokens", "{f}", "hi", "--json"],
                     ["diff", "{seed}", "{f}"]]
HEAVY = {"stats", "quantize-error", "diff", "explain"}  # left out on the 250 MB Gemma mutants


def signature(argv: tuple[str, ...], found: list[str], err: str) -> str:
    shape = re.sub(r"\d+", "N", re.sub(r"/\S+", "PATH", err.strip().splitlines()[-1] if err.strip() else ""))
    return f"{argv[0]} | {'; '.join(found)} | {shape[:160]}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kinds", default="gguf,gemma,gguf_sem,st,minilm,config,hfdir,index,torch,onnx")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="/tmp/fuzz-findings")
    p.add_argument("--no-json-errors", action="store_true", help="do not require a JSON error object")
    p.add_argument("--all-commands", action="store_true", help="run every command on rejected inputs too")
    a = p.parse_args()
    out = Path(a.out)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seeds = _seeds(work / "seeds")
    findings: dict[str, tuple[str, Path]] = {}
    counts = {"inputs": 0, "runs": 0, "accepted": 0}
    for kind in a.kinds.split(","):
        rnd = random.Random(f"{a.seed}-{kind}")
        t0 = time.monotonic()
        for i in range(a.n):
            case = work / f"{kind}-{i}"
            case.mkdir()
            target, seed_path, heavy_ok = _make(kind, rnd, seeds, case)
            counts["inputs"] += 1
            first = run(["inspect", str(target), "--json"])
            counts["runs"] += 1
            names = (target.name, str(target), case.name, seed_path.name)  # diff names either
            cmds = ACCEPTED_COMMANDS if first.code == 0 or a.all_commands else REJECTED_COMMANDS
            counts["accepted"] += first.code == 0
            outcomes = [first]
            for cmd in cmds:
                if not heavy_ok and cmd[0] in HEAVY:
                    continue
                argv = [c.format(f=target, d=case, seed=seed_path) for c in cmd]
                outcomes.append(run(argv))
                counts["runs"] += 1
            for o in outcomes:
                found = problems(o, names, json_errors=not a.no_json_errors)
                if found:
                    sig = f"{kind} | " + signature(o.argv, found, o.err)
                    if sig not in findings:
                        keep = out / f"finding-{len(findings):03d}"
                        shutil.copytree(case, keep, symlinks=True)
                        findings[sig] = (" ".join(o.argv), keep)
                        print(f"FINDING {sig}\n   {' '.join(o.argv)}\n   kept {keep}\n   "
                              f"{(o.err.strip().splitlines() or [''])[-1][:300]}", flush=True)
            shutil.rmtree(case)
        print(f"{kind}: {a.n} inputs in {time.monotonic() - t0:.0f} s", flush=True)
    print(json.dumps({**counts, "findings": len(findings)}))


def _seeds(folder: Path) -> dict[str, Path]:
    """The seed inputs: real files and files the reference libraries write."""
    import numpy as np
    import torch
    from safetensors.numpy import save_file

    from builders.gguf_files import write_gguf

    folder.mkdir(parents=True)
    T = __import__("gguf").GGMLQuantizationType
    small = write_gguf(folder / "small.gguf", [
        ("token_embd.weight", np.ones((16, 32), np.float16), None),
        ("blk.0.attn_q.weight", np.zeros((32, 18), np.uint8), T.Q4_0),
        ("blk.0.ffn_up.weight", np.ones((8, 32), np.float32), None),
        ("output_norm.weight", np.ones(32, np.float32), None)],
        kv={"llama.block_count": (1, *_u32()), "llama.embedding_length": (32, *_u32()),
            "llama.attention.head_count": (4, *_u32()), "llama.context_length": (128, *_u32())})
    st = folder / "small.safetensors"
    save_file({"model.embed_tokens.weight": np.ones((16, 8), np.float16),
               "model.layers.0.self_attn.q_proj.weight": np.ones((8, 8), np.float32),
               "model.layers.0.self_attn.q_proj.bias": np.ones(8, np.float32)}, str(st), {"format": "pt"})
    pt = folder / "small.pt"
    torch.save({"w": torch.ones(4, 3), "b": torch.zeros(3, dtype=torch.float16)}, pt)
    return {"small_gguf": small, "small_st": st, "small_pt": pt, "gemma": fetch_models.gemma_gguf(),
            "minilm": fetch_models.minilm_dir()}


def _u32() -> tuple:
    from gguf.constants import GGUFValueType as V

    return V.UINT32, None


_CACHE: dict[str, object] = {}


def _make(kind: str, rnd: random.Random, seeds: dict[str, Path], case: Path) -> tuple[Path, Path, bool]:
    """(the input to read, a valid file of its kind for diff, whether heavy commands are affordable)"""
    if kind == "gguf":
        data = seeds["small_gguf"].read_bytes()
        fields, end = fi.gguf_fields(data)
        path = fi.write_gguf_mutant(rnd, data, fields, end, len(data) - end, case / "m.gguf")
        return path, seeds["small_gguf"], True
    if kind == "gemma":
        if "gemma" not in _CACHE:
            with open(seeds["gemma"], "rb") as f:
                head = f.read(8 << 20)
            fields, end = fi.gguf_fields(head)
            _CACHE["gemma"] = (head[:end], fields, end)
        head, fields, end = _CACHE["gemma"]  # type: ignore[misc]
        size = seeds["gemma"].stat().st_size
        path = fi.write_gguf_mutant(rnd, head, fields, end, size - end, case / "gemma.gguf")
        return path, seeds["gemma"], False
    if kind == "gguf_sem":
        return fi.write_gguf_semantic(rnd, case / "sem.gguf"), seeds["small_gguf"], True
    if kind == "st":
        path = fi.write_safetensors_mutant(rnd, seeds["small_st"], case / "m.safetensors")
        return path, seeds["small_st"], True
    if kind == "st_sem":
        path = fi.write_safetensors_semantic(rnd, seeds["small_st"], case / "m.safetensors")
        return path, seeds["small_st"], True
    if kind == "minilm_sem":
        real = seeds["minilm"] / "model.safetensors"
        return fi.write_safetensors_semantic(rnd, real, case / "model.safetensors"), real, False
    if kind == "minilm":
        real = seeds["minilm"] / "model.safetensors"
        return fi.write_safetensors_mutant(rnd, real, case / "model.safetensors"), real, False
    if kind == "config":
        configs = sorted((ROOT / "tests" / "fixtures" / "configs").glob("*.json"))
        seed = rnd.choice(configs)
        return fi.write_config_mutant(rnd, json.loads(seed.read_text()), case / "config.json"), seed, True
    if kind == "hfdir":
        d = case / "minilm"
        d.mkdir()
        for f in seeds["minilm"].iterdir():
            if f.name != "config.json":
                (d / f.name).symlink_to(f)
        seed = json.loads((seeds["minilm"] / "config.json").read_text())
        fi.write_config_mutant(rnd, seed, d / "config.json")
        return d, seeds["minilm"], False
    if kind == "index":
        index = fi.write_index_mutant(rnd, case / "sharded")
        return (index if rnd.random() < 0.5 else index.parent), index, True
    if kind == "torch":
        return fi.write_zip_mutant(rnd, seeds["small_pt"], case / "m.pt"), seeds["small_pt"], True
    if kind == "onnx":
        return fi.write_onnx_mutant(rnd, case / "onnx"), seeds["small_st"], True
    raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
