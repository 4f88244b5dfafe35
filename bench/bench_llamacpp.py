"""llama.cpp's own figures for Gemma 3 270M against paramscope's llama.cpp profile.

Runs llama-cpp-python (0.3.36 when the figures in docs/kv-cache.md were taken) on the Gemma 3 270M GGUF
for every configuration of issue 3, one subprocess each so that llama.cpp's log (written from C on
stderr) can be captured, parses its buffer lines and prints predicted vs measured. A last run decodes
one full ubatch with logits for every token and compares the process's peak RSS with the predicted
total. llama-cpp-python lives in its own environment: pass its interpreter with --llama-python (default
$LLAMA_PYTHON or /tmp/llamavenv/bin/python).

    .venv/bin/python bench/bench_llamacpp.py [--model PATH] [--llama-python PATH]

The child half of this file (``--child``) imports only the standard library and llama_cpp.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

MIB = 1024 * 1024

# (name, Llama() keyword arguments); llama-cpp-python's defaults: n_batch 512, flash_attn off,
# swa_full left at the C library's default (true). Cache types are ggml type names.
CONFIGS: list[tuple[str, dict]] = [
    ("ctx 2048 swa_full", {"n_ctx": 2048, "swa_full": True}),
    ("ctx 32768 swa_full", {"n_ctx": 32768, "swa_full": True}),
    ("ctx 8192", {"n_ctx": 8192, "swa_full": False}),
    ("ctx 8192 ubatch 128", {"n_ctx": 8192, "swa_full": False, "n_ubatch": 128}),
    ("ctx 8192 q8_0 fa", {"n_ctx": 8192, "swa_full": True, "type_k": "Q8_0", "type_v": "Q8_0",
                          "flash_attn": True}),
    ("ctx 8192 q4_0 fa", {"n_ctx": 8192, "swa_full": False, "type_k": "Q4_0", "type_v": "Q4_0",
                          "flash_attn": True}),
]
# More points for the compute buffer and for several sequences (n_seq_max and kv_unified are not
# Llama() arguments: the child sets them on the context's default parameters).
SWEEP: list[tuple[str, dict]] = [
    ("ctx 256 (ubatch 256)", {"n_ctx": 256}),
    ("ctx 8192 ubatch 2048", {"n_ctx": 8192, "n_batch": 2048, "n_ubatch": 2048}),
    ("ctx 65536 swa_full", {"n_ctx": 65536, "swa_full": True}),
    ("ctx 65536 ubatch 64", {"n_ctx": 65536, "swa_full": True, "n_ubatch": 64}),
    ("ctx 131072", {"n_ctx": 131072, "swa_full": False}),
    ("ctx 1048576 q4_0 fa ub 64", {"n_ctx": 1048576, "swa_full": False, "n_ubatch": 64, "type_k": "Q4_0",
                                   "type_v": "Q4_0", "flash_attn": True}),
    ("ctx 8192 4 seqs", {"n_ctx": 8192, "swa_full": False, "n_seq_max": 4}),
    ("ctx 8192 4 seqs unified", {"n_ctx": 8192, "swa_full": False, "n_seq_max": 4, "kv_unified": True}),
    ("ctx 8192 3 seqs", {"n_ctx": 8192, "swa_full": True, "n_seq_max": 3}),
    ("ctx 512", {"n_ctx": 512}),
    ("ctx 65536 q8_0 K, no fa", {"n_ctx": 65536, "swa_full": True, "type_k": "Q8_0"}),
]
CONTEXT_ONLY = ("n_seq_max", "kv_unified")
RSS_CONFIG = ("rss: ctx 8192, decode 512 tokens, all logits", {"n_ctx": 8192, "swa_full": False})

KV_LINE = re.compile(r"llama_kv_cache: size = +([\d.]+) MiB \( *(\d+) cells, +(\d+) layers")
COMPUTE_LINE = re.compile(r"~llama_context: +(\S+) compute buffer size is +([\d.]+) MiB")
OUTPUT_LINE = re.compile(r"llama_context: +(\S+) +output buffer size = +([\d.]+) MiB")
MODEL_LINE = re.compile(r"load_tensors: +(\S+) model buffer size = +([\d.]+) MiB")


# ---------------------------------------------------------------- child: runs under llama-cpp-python

def _status() -> dict[str, int]:
    """VmRSS / VmHWM / RssAnon / RssFile of this process in bytes (/proc/self/status)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out


def child(model: str, kwargs: dict, decode: bool, extra_bufts: bool) -> None:
    stages = {"start": _status()}
    import llama_cpp
    import llama_cpp.llama_cpp as low

    stages["import"] = _status()
    overrides = {k: kwargs.pop(k) for k in CONTEXT_ONLY if k in kwargs}
    if overrides:
        default_context = low.llama_context_default_params

        def with_overrides():
            params = default_context()
            for name, value in overrides.items():
                setattr(params, name, value)
            return params

        low.llama_context_default_params = with_overrides
    if not extra_bufts:  # no CPU_REPACK / AMX copies: the weights stay in the mapped file only
        default_params = low.llama_model_default_params

        def no_extra_bufts():
            params = default_params()
            params.use_extra_bufts = False
            return params

        low.llama_model_default_params = no_extra_bufts
    for key in ("type_k", "type_v"):
        if key in kwargs:
            kwargs[key] = getattr(low, "GGML_TYPE_" + kwargs[key])
    llm = llama_cpp.Llama(model_path=model, verbose=True, **kwargs)
    stages["context"] = _status()
    if decode:
        n = llm.context_params.n_ubatch
        batch = low.llama_batch_init(n, 0, 1)
        for i in range(n):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = 1000 + i, i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, 1
        batch.n_tokens = n
        if low.llama_decode(llm.ctx, batch) != 0:
            raise SystemExit("llama_decode failed")
        stages["decode"] = _status()
        low.llama_batch_free(batch)
    print(json.dumps({"version": llama_cpp.__version__, "stages": stages}), flush=True)
    del llm  # ~llama_context prints the compute buffer to 4 decimals


# ---------------------------------------------------------------- parent: runs under paramscope

def run_child(python: str, model: str, kwargs: dict, decode: bool = False,
              extra_bufts: bool = True) -> dict:
    args = [python, __file__, "--child", json.dumps(kwargs), "--model", model]
    args += ["--decode"] * decode + ["--no-extra-bufts"] * (not extra_bufts)
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"llama-cpp-python run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    log = proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["kv"] = [(float(m[0]), int(m[1]), int(m[2])) for m in KV_LINE.findall(log)]
    result["compute"] = [float(m[1]) for m in COMPUTE_LINE.findall(log)]
    result["output"] = [float(m[1]) for m in OUTPUT_LINE.findall(log)]
    result["model"] = [(m[0], float(m[1])) for m in MODEL_LINE.findall(log)]
    result["lines"] = [ln for ln in log.splitlines() if any(r.search(ln) for r in
                       (KV_LINE, COMPUTE_LINE, OUTPUT_LINE, MODEL_LINE))]
    return result


def gemma3_from_gguf(path: str):
    """ArchConfig and tensors of a Gemma 3 GGUF, read with gguf-py (the bench needs no reader of ours).

    Gemma 3's layer pattern is not in the file: llama.cpp sets it (models/gemma3.cpp,
    hparams.set_swa_pattern(6)): layer il slides unless (il + 1) % 6 == 0.
    """
    import gguf

    from paramscope.model import ArchConfig, Tensor
    from paramscope.model.dtypes import DType

    r = gguf.GGUFReader(path)

    def key(name: str) -> int:
        return int(r.fields[f"gemma3.{name}"].parts[-1][0])

    n_layers = key("block_count")
    cfg = ArchConfig(
        family="gemma3", architecture="gemma3", n_layers=n_layers, hidden_size=key("embedding_length"),
        n_heads=key("attention.head_count"), n_kv_heads=key("attention.head_count_kv"),
        head_dim_k=key("attention.key_length"), head_dim_v=key("attention.value_length"),
        ffn_size=key("feed_forward_length"), vocab_size=len(r.fields["tokenizer.ggml.tokens"].data),
        context_length=key("context_length"), tied_embeddings=True,
        sliding_window=key("attention.sliding_window"),
        layer_types=tuple("full" if (il + 1) % 6 == 0 else "sliding" for il in range(n_layers)))
    tensors = tuple(Tensor(t.name, tuple(int(d) for d in reversed(t.shape)), DType[t.tensor_type.name],
                           int(t.n_bytes)) for t in r.tensors)
    return cfg, tensors


def cpu_isa() -> str:
    """Which CPU_REPACK rule this machine follows; AMX machines use their own buffer instead."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if "amx_int8" in flags:
        return "amx"
    return "x86-avx512" if "avx512f" in flags else "x86-avx2" if "avx2" in flags else "none"


def predict(cfg, tensor_bytes: int, kwargs: dict, repacked: int, n_outputs: int | None = None):
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
    from paramscope.model.dtypes import DType

    return llamacpp_memory(
        cfg, tensor_bytes, n_ctx=kwargs["n_ctx"], n_batch=kwargs.get("n_batch", 512),
        n_seq=kwargs.get("n_seq_max", 1), kv_unified=kwargs.get("kv_unified", False),
        n_ubatch=kwargs.get("n_ubatch", 512), swa_full=kwargs.get("swa_full", True),
        type_k=DType[kwargs.get("type_k", "F16")], type_v=DType[kwargs.get("type_v", "F16")],
        flash_attn=kwargs.get("flash_attn", False), repacked_bytes=repacked, n_outputs=n_outputs,
        build=LLAMA_CPP_PYTHON_FAMILY)


# llama-cpp-python 0.3.36 (October 2026) vendors a llama.cpp of b11311 to b11349: the "mid-2026" family
# (runtimes/llamacpp/params.py BUILDS); a release vendoring b11401 or later follows "current"
LLAMA_CPP_PYTHON_FAMILY = "mid-2026"


def mib(n: int, digits: int = 2) -> str:
    return f"{n / MIB:.{digits}f}"


def row(label: str, predicted: str, measured: str) -> str:
    mark = "ok" if predicted == measured else "DIFF"
    return f"  {label:<28} {predicted:>14} {measured:>14}  {mark}"


def compare(name: str, cfg, tensor_bytes: int, repacked: int, kwargs: dict, got: dict,
            show_log: bool = False) -> int:
    m = predict(cfg, tensor_bytes, kwargs, repacked)
    full, swa = m.kv.part("full"), m.kv.part("sliding")
    lines = [
        row("KV full MiB (cells)", f"{mib(full.total_bytes)} ({full.cells})",
            f"{got['kv'][0][0]:.2f} ({got['kv'][0][1]})"),
        row("KV sliding MiB (cells)", f"{mib(swa.total_bytes)} ({swa.cells})",
            f"{got['kv'][1][0]:.2f} ({got['kv'][1][1]})"),
        row("compute MiB", mib(m.compute_bytes, 4), f"{got['compute'][0]:.4f}"),
        row("output MiB", mib(m.output_bytes), f"{got['output'][0]:.2f}"),
    ]
    print(f"{name}")
    print("\n".join(lines))
    if show_log:
        print("\n".join(f"    | {ln.strip()}" for ln in got["lines"]))
    return sum("DIFF" in ln for ln in lines)


def model_buffers(cfg, tensors, got: dict, isa: str) -> None:
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import cpu_repack_bytes

    total = sum(t.nbytes for t in tensors)
    repack = cpu_repack_bytes(tensors, "x86-avx2")
    print(f"model buffers (this CPU: {isa}; prediction for x86 AVX2 without AMX)")
    print(f"  predicted: CPU_Mapped {mib(total)} MiB (mmap span), CPU_REPACK {mib(repack)} MiB; "
          f"without mmap: CPU {mib(total - repack)} MiB")
    print("  measured:  " + ", ".join(f"{name} {size:.2f} MiB" for name, size in got["model"]))


def rss_check(python: str, model: str, cfg, tensor_bytes: int) -> None:
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import LLAMA_CPP_PYTHON_BASE_BYTES

    name, kwargs = RSS_CONFIG
    got = run_child(python, model, dict(kwargs), decode=True, extra_bufts=False)
    n_ubatch = kwargs.get("n_ubatch", 512)
    m = predict(cfg, tensor_bytes, kwargs, 0, n_outputs=n_ubatch)
    stages = got["stages"]
    peak = stages["decode"]["VmHWM"]
    print(f"{name} (no extra buffers; llama-cpp-python {got['version']})")
    print(f"  RSS after import llama_cpp     {mib(stages['import']['VmRSS'])} MiB "
          f"(predicted runtime base {mib(LLAMA_CPP_PYTHON_BASE_BYTES)} MiB)")
    parts = (f"weights {mib(m.weights_bytes)} + KV {mib(m.kv_cache_bytes)} + compute "
             f"{mib(m.compute_bytes)} + output {mib(m.output_bytes)} + overhead {mib(m.overhead_bytes)}")
    print(f"  predicted total                {mib(m.total_bytes)} MiB = {parts}")
    print(f"  measured peak RSS (VmHWM)      {mib(peak)} MiB  ({(m.total_bytes / peak - 1) * 100:+.2f} %)")
    print(f"  RSS after Llama() (no decode)  {mib(stages['context']['VmRSS'])} MiB: the compute buffer "
          f"and the grown output rows are not touched yet")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--llama-python", default=os.environ.get("LLAMA_PYTHON", "/tmp/llamavenv/bin/python"))
    ap.add_argument("--child")
    ap.add_argument("--decode", action="store_true")
    ap.add_argument("--no-extra-bufts", action="store_true")
    ap.add_argument("--show-log", action="store_true", help="print llama.cpp's buffer lines too")
    args = ap.parse_args()
    if args.child:
        child(args.model, json.loads(args.child), args.decode, not args.no_extra_bufts)
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import fetch_models

    model = args.model or str(fetch_models.gemma_gguf())
    cfg, tensors = gemma3_from_gguf(model)
    tensor_bytes = sum(t.nbytes for t in tensors)
    isa = cpu_isa()
    diffs, first = 0, None
    print(f"{'':<30} {'predicted':>14} {'measured':>14}")
    for name, kwargs in CONFIGS:
        got = run_child(args.llama_python, model, dict(kwargs))
        first = first or got
        diffs += compare(name, cfg, tensor_bytes, 0, kwargs, got, args.show_log)
    model_buffers(cfg, tensors, first, isa)
    rss_check(args.llama_python, model, cfg, tensor_bytes)
    print("sweep")
    for name, kwargs in SWEEP:
        got = run_child(args.llama_python, model, dict(kwargs))
        diffs += compare(name, cfg, tensor_bytes, 0, kwargs, got, args.show_log)
    print(f"{diffs} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
