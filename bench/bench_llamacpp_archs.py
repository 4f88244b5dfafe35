"""llama.cpp's buffers for several architectures against paramscope's llama.cpp profile, recorded for CI.

Writes the GGUFs of bench/llamacpp_ggufs.py (llama, qwen2, gemma3, qwen3, a Mixtral-style llama with
experts, qwen3moe, phi3, gpt-oss; random weights), creates a context for every (architecture × settings)
case below with llama-cpp-python's low-level API in its own environment (--llama-python, default
$LLAMA_PYTHON or /tmp/llamavenv/bin/python), one subprocess each so that llama.cpp's log can be
captured, and parses the KV, output and compute buffer lines (the compute buffer to 4 decimals:
~llama_context's "compute buffer size is … MiB, matches expectation"). With --record it writes
tests/fixtures/llamacpp_archs.json: the recipes, the settings and the printed lines, which
tests/test_llamacpp_archs.py compares with the prediction (no GGUF, no llama.cpp needed); --arch
re-records only those architectures. Without --record it compares here and exits 1 on any difference.

    .venv/bin/python bench/bench_llamacpp_archs.py [--record] [--arch NAME] [--llama-python PATH]

The child half (``--child``) imports only the standard library and llama_cpp.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "fixtures" / "llamacpp_archs.json"
MIB = 1024 * 1024

# Context settings (llama_context_params names; cache types are ggml type names). The C library's
# defaults otherwise: n_batch 2048, n_ubatch 512, one sequence. swa_full is always stated (the C default
# is true); "flash_attn" is on/off, never auto.
COMMON_CASES: list[dict] = [
    {"n_ctx": 256},
    {"n_ctx": 512},
    {"n_ctx": 4096},
    {"n_ctx": 32768},
    {"n_ctx": 512, "n_ubatch": 64},
    {"n_ctx": 4096, "n_ubatch": 64},
    {"n_ctx": 4096, "n_ubatch": 2048},
    {"n_ctx": 32768, "n_ubatch": 2048},
    {"n_ctx": 4096, "flash_attn": True},
    {"n_ctx": 32768, "flash_attn": True},
    {"n_ctx": 4096, "flash_attn": True, "type_k": "Q8_0", "type_v": "Q8_0"},
    {"n_ctx": 4096, "flash_attn": True, "type_k": "Q4_0", "type_v": "Q4_0"},
    {"n_ctx": 32768, "flash_attn": True, "type_k": "Q4_0", "type_v": "F16", "n_ubatch": 64},
    {"n_ctx": 32768, "type_k": "Q8_0"},
    {"n_ctx": 4096, "type_k": "Q4_0", "n_ubatch": 2048},
    {"n_ctx": 4096, "n_seq_max": 3},
    {"n_ctx": 4096, "n_seq_max": 4},
    {"n_ctx": 4096, "n_seq_max": 4, "kv_unified": True},
    {"n_ctx": 32768, "n_seq_max": 4, "flash_attn": True},
    {"n_ctx": 4096, "n_seq_max": 3, "flash_attn": True, "type_k": "Q8_0", "type_v": "Q8_0"},
]
SWA_CASES: list[dict] = [
    {"n_ctx": 512, "swa_full": True},
    {"n_ctx": 4096, "swa_full": True},
    {"n_ctx": 32768, "swa_full": True, "flash_attn": True},
    {"n_ctx": 4096, "swa_full": True, "n_seq_max": 3},
    {"n_ctx": 4096, "n_ubatch": 64, "swa_full": True, "type_k": "Q8_0"},
]

KV_LINE = re.compile(r"llama_kv_cache: size = +([\d.]+) MiB \( *(\d+) cells, +(\d+) layers, +(\d+)/(\d+) "
                     r"seqs\)")
COMPUTE_LINE = re.compile(r"~llama_context: +(\S+) compute buffer size (?:is|of) +([\d.]+) MiB")
OUTPUT_LINE = re.compile(r"llama_context: +(\S+) +output buffer size = +([\d.]+) MiB")


# the ArchConfig fields the fixture stores (the test rebuilds the ArchConfig from them)
ARCH_FIELDS = ("family", "architecture", "n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim_k",
               "head_dim_v", "ffn_size", "vocab_size", "context_length", "tied_embeddings", "n_experts",
               "n_experts_per_token", "expert_ffn_size", "sliding_window", "layer_types")


def cases_for(recipe: dict) -> list[dict]:
    if "cases" in recipe:  # a random recipe carries its own settings
        return recipe["cases"]
    return COMMON_CASES + (SWA_CASES if recipe.get("sliding_window") else [])


def random_recipe(rng, seed: int, i: int) -> dict:
    """Random dimensions of a random covered architecture, with three random settings of its own: the
    cases nobody picked, to catch a rule the fixed grid happens to miss."""
    arch = rng.choice(["llama", "qwen2", "gemma3", "qwen3", "mixtral", "qwen3moe", "phi3", "gpt-oss"])
    head_dim = rng.choice([32, 64, 128, 256])
    n_head_kv = rng.choice([1, 2, 4])
    r: dict = dict(arch="llama" if arch == "mixtral" else arch,
                   n_layer=rng.randint(6, 9) if arch == "gemma3" else rng.randint(1, 4),
                   n_embd=64 * rng.randint(2, 8), n_head=n_head_kv * rng.choice([1, 2, 4]),
                   n_head_kv=n_head_kv, head_dim=head_dim, n_ff=32 * rng.randint(4, 48),
                   n_vocab=rng.randint(1000, 70000), n_ctx_train=32768, tied=rng.random() < 0.5,
                   qkv_bias=arch == "qwen2")
    if arch in ("qwen2", "phi3"):  # llama.cpp's loaders want attn_q (attn_output) n_embd × n_embd
        r.update(head_dim=rng.choice([32, 64]), n_head=n_head_kv * 2)
        r["n_embd"] = r["n_head"] * r["head_dim"]
    if arch == "gemma3":
        r.update(sliding_window=rng.choice([128, 512, 1024]), swa_pattern=6)
    if arch == "gpt-oss":
        r.update(qkv_bias=True, tied=False, sliding_window=rng.choice([128, 512]), swa_pattern=2)
    if arch in ("mixtral", "qwen3moe", "gpt-oss"):
        r.update(n_expert=rng.choice([4, 8]), n_expert_used=rng.choice([1, 2, 3]),
                 n_ff_exp=32 * rng.randint(2, 16))
        if arch == "mixtral":
            r["n_ff_exp"] = r["n_ff"]  # llama.cpp's llama experts are feed_forward_length wide
    cases = []
    for _ in range(3):
        fa = rng.random() < 0.5
        quant = ["F16", "Q8_0", "Q4_0"]
        c: dict = {"n_ctx": rng.choice([256, 512, 1000, 3000, 4096, 10000]),
                   "n_ubatch": rng.choice([1, 7, 64, 100, 512, 1000, 2048]), "flash_attn": fa,
                   "type_k": rng.choice(quant), "type_v": rng.choice(quant) if fa else "F16",
                   "n_seq_max": rng.choice([1, 1, 2, 3, 5]), "kv_unified": rng.random() < 0.3}
        if arch in ("gemma3", "gpt-oss"):
            c["swa_full"] = rng.random() < 0.3
        cases.append(c)
    r["cases"] = cases
    r["name"] = f"random-s{seed}-{i}-{arch}"
    return r


# ---------------------------------------------------------------- child: runs under llama-cpp-python

def child(model: str, settings: dict) -> None:
    import llama_cpp
    import llama_cpp.llama_cpp as low

    low.llama_backend_init()
    mparams = low.llama_model_default_params()
    mparams.use_extra_bufts = False  # no CPU_REPACK copies (F16 weights are not repacked anyway)
    mdl = low.llama_model_load_from_file(model.encode(), mparams)
    if not mdl:
        raise SystemExit("model load failed")
    cparams = low.llama_context_default_params()
    cparams.n_ctx = settings["n_ctx"]
    cparams.n_batch = max(2048, settings.get("n_ubatch", 512))
    cparams.n_ubatch = settings.get("n_ubatch", 512)
    cparams.n_seq_max = settings.get("n_seq_max", 1)
    cparams.kv_unified = settings.get("kv_unified", False)
    cparams.swa_full = settings.get("swa_full", False)
    # LLAMA_FLASH_ATTN_TYPE_ENABLED / _DISABLED
    cparams.flash_attn_type = 1 if settings.get("flash_attn") else 0
    cparams.type_k = getattr(low, "GGML_TYPE_" + settings.get("type_k", "F16"))
    cparams.type_v = getattr(low, "GGML_TYPE_" + settings.get("type_v", "F16"))
    ctx = low.llama_init_from_model(mdl, cparams)
    if not ctx:
        raise SystemExit("context creation failed")
    low.llama_free(ctx)  # ~llama_context prints the compute buffer to 4 decimals
    low.llama_model_free(mdl)
    print(json.dumps({"version": llama_cpp.__version__}), flush=True)


# ---------------------------------------------------------------- parent: runs under paramscope

def run_child(python: str, model: Path, settings: dict) -> dict:
    args = [python, __file__, "--child", json.dumps(settings), "--model", str(model)]
    env = {**os.environ, "LLAMA_LOG_VERBOSITY": "10"}
    proc = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    log = proc.stderr + proc.stdout
    if proc.returncode != 0:
        raise SystemExit(f"llama-cpp-python run failed ({proc.returncode}): {log[-3000:]}")
    version = json.loads(proc.stdout.strip().splitlines()[-1])["version"]
    kv = [{"mib": m[0], "cells": int(m[1]), "layers": int(m[2]), "seqs": int(m[4])}
          for m in KV_LINE.findall(log)]
    compute = [m[1] for m in COMPUTE_LINE.findall(log)]
    output = [m[1] for m in OUTPUT_LINE.findall(log)]
    if not compute or not kv or not output:
        raise SystemExit(f"buffer lines missing from llama.cpp's log:\n{log[-3000:]}")
    return {"version": version, "kv": kv, "compute_mib": compute[0], "output_mib": output[0],
            "lines": [ln.strip() for ln in log.splitlines()
                      if any(r.search(ln) for r in (KV_LINE, COMPUTE_LINE, OUTPUT_LINE))]}


def predict(recipe: dict, settings: dict) -> dict:
    """What paramscope predicts for the recipe's model with these settings, as llama.cpp prints it."""
    sys.path.insert(0, str(HERE))
    import llamacpp_ggufs
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
    from paramscope.model.dtypes import DType

    cfg = llamacpp_ggufs.arch_config(recipe)
    n_ubatch = settings.get("n_ubatch", 512)
    m = llamacpp_memory(
        cfg, 0, n_ctx=settings["n_ctx"], n_seq=settings.get("n_seq_max", 1), n_ubatch=n_ubatch,
        n_batch=max(2048, n_ubatch), swa_full=settings.get("swa_full", False),
        kv_unified=settings.get("kv_unified", False), type_k=DType[settings.get("type_k", "F16")],
        type_v=DType[settings.get("type_v", "F16")], flash_attn=bool(settings.get("flash_attn")),
        build="mid-2026")  # llama-cpp-python 0.3.36's llama.cpp (bench_llamacpp.py LLAMA_CPP_PYTHON_FAMILY)
    kv = [{"mib": f"{part.total_bytes / MIB:.2f}", "cells": part.cells, "layers": part.layers,
           "seqs": part.streams} for part in m.kv.parts]
    return {"kv": kv, "compute_mib": f"{m.compute_bytes / MIB:.4f}",
            "output_mib": f"{m.output_bytes / MIB:.2f}"}


def differences(recipe: dict, case: dict) -> list[str]:
    """The figures where the prediction differs from what llama.cpp printed."""
    got, want = predict(recipe, case["settings"]), case["printed"]
    out = []
    if got["compute_mib"] != want["compute_mib"]:
        out.append(f"compute {got['compute_mib']} MiB, printed {want['compute_mib']}")
    if got["output_mib"] != want["output_mib"]:
        out.append(f"output {got['output_mib']} MiB, printed {want['output_mib']}")
    # llama.cpp prints the sliding-window cache first for iswa models; compare as sets of lines
    key = sorted((k["mib"], k["cells"], k["layers"], k["seqs"]) for k in got["kv"])
    printed = sorted((k["mib"], k["cells"], k["layers"], k["seqs"]) for k in want["kv"])
    if key != printed:
        out.append(f"KV {key}, printed {printed}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama-python", default=os.environ.get("LLAMA_PYTHON", "/tmp/llamavenv/bin/python"))
    ap.add_argument("--child")
    ap.add_argument("--model")
    ap.add_argument("--arch", action="append", help="only these architectures (default: all)")
    ap.add_argument("--record", action="store_true", help=f"write {FIXTURE.relative_to(HERE.parent)}")
    ap.add_argument("--workdir", help="where the GGUFs are written (default: a temporary directory)")
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="instead: N random recipes, three random settings each")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.child:
        child(args.model, json.loads(args.child))
        return 0
    sys.path.insert(0, str(HERE))
    import llamacpp_ggufs

    recipes = dict(llamacpp_ggufs.ARCHS)
    names = args.arch or list(recipes)
    if args.random:
        rng = random.Random(args.seed)
        randoms = [random_recipe(rng, args.seed, i) for i in range(args.random)]
        recipes = {r["name"]: r for r in randoms}
        names = list(recipes)
    record: dict = {"archs": {}}
    if (args.arch or args.random) and FIXTURE.exists():  # record some architectures, keep the others
        record = json.loads(FIXTURE.read_text())
    failures = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        for name in names:
            recipe = recipes[name]
            path = workdir / f"{name}.gguf"
            if not path.exists():
                llamacpp_ggufs.write_gguf(recipe, path)
            cases = []
            for settings in cases_for(recipe):
                printed = run_child(args.llama_python, path, settings)
                record["llama_cpp_python"] = printed.pop("version")
                case = {"settings": settings, "printed": printed}
                cases.append(case)
                diff = differences(recipe, case)
                total += 1
                failures += bool(diff)
                mark = "ok  " if not diff else "DIFF"
                print(f"{mark} {name:<9} {json.dumps(settings):<100} compute {printed['compute_mib']} MiB"
                      + ("" if not diff else "  ← " + "; ".join(diff)), flush=True)
            cfg = llamacpp_ggufs.arch_config(recipe)
            fields = {f: getattr(cfg, f) for f in ARCH_FIELDS}
            record["archs"][name] = {"recipe": recipe, "arch_config": fields, "cases": cases}
    print(f"{total - failures}/{total} cases exact")
    if args.record:
        FIXTURE.write_text(json.dumps(record, indent=1) + "\n")
        print(f"recorded {FIXTURE}")
        return 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
