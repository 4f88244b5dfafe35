"""Engine start-up logs kept as fixtures: load them, and check each record against its own log excerpt.

Each log lives in tests/fixtures/engine_logs/<engine>/<id>.log (the lines that matter, verbatim, from the
public report named in the record) beside <id>.json (the record: source, engine version, model, GPUs, the
settings in effect and every figure the engine printed). tests/fixtures/engine_logs/README.md gives the
schema. `python tools/engine_logs.py --check` validates every record:

- the record parses, with the keys its engine takes and values of the right types;
- every figure's text is in the .log, its value is in that text, followed by its unit where the unit
  is printed;
- the figures agree with each other where the engine's own arithmetic links them (K + V = KV size,
  GPU blocks × block size = tokens, the vLLM memory budget adding up).

Used by tests/test_engine_log_fixtures.py and bench/engine_logs_report.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "engine_logs"
ENGINES = ("vllm", "llamacpp", "sglang")

# The settings a record of each engine states (null where the log and thread do not show them), and the
# type of each. vLLM: EngineArgs names; llama.cpp: llama_context_params / common_params names; SGLang:
# ServerArgs names.
SETTINGS: dict[str, dict[str, type]] = {
    "vllm": {"max_model_len": int, "gpu_memory_utilization": float, "max_num_seqs": int,
             "max_num_batched_tokens": int, "tensor_parallel_size": int, "pipeline_parallel_size": int,
             "enforce_eager": bool, "kv_cache_dtype": str, "quantization": str, "dtype": str,
             "enable_chunked_prefill": bool, "block_size": int, "entrypoint": str},
    "llamacpp": {"n_ctx": int, "n_batch": int, "n_ubatch": int, "flash_attn": bool, "n_gpu_layers": int,
                 "type_k": str, "type_v": str, "n_seq_max": int, "swa_full": bool, "split_mode": str,
                 "kv_unified": bool, "use_mmap": bool, "embeddings": bool},
    "sglang": {"mem_fraction_static": float, "context_length": int, "tp_size": int,
               "max_running_requests": int, "chunked_prefill_size": int, "kv_cache_dtype": str,
               "quantization": str, "dtype": str},
}

# Settings a record may leave out (added to the schema after most records were written): absent = null
OPTIONAL_SETTINGS: dict[str, dict[str, type]] = {
    "vllm": {"cpu_offload_gb": float, "kv_cache_memory_bytes": int, "enable_prefix_caching": bool,
             "disable_hybrid_kv_cache_manager": bool, "max_cudagraph_capture_size": int,
             # --limit-mm-per-prompt as the command line gives it (JSON), and --language-model-only
             "limit_mm_per_prompt": str, "language_model_only": bool,
             # --speculative-config as the command line gives it (JSON) or METHOD:TOKENS
             "speculative_config": str},
    # the build family whose server_args.py and model_runner.py rules the log follows (runtimes/sglang.py
    # SGLANG_BUILDS): where a rule differs by build (a multimodal model's fraction), the record says which
    "sglang": {"build": str, "max_total_tokens": int},  # --max-total-tokens: a cap on the pool's tokens
    # -nkvo: every layer's cache (and attention) on the host; --tensor-split as the command gives it
    "llamacpp": {"no_kv_offload": bool, "tensor_split": str},
}

# Every figure name a record may use: (engines, what the engine printed).
FIGURES: dict[str, tuple[tuple[str, ...], str]] = {
    "weights": (("vllm", "sglang"), "weights on one GPU ('Loading model weights took', 'Model loading')"),
    "total_gpu_memory": (("vllm",), "the GPU's total memory as torch saw it"),
    "initial_memory_usage": (("vllm",), "GPU memory in use before profiling (v0.6.4 summary)"),
    "peak_torch_memory": (("vllm",), "torch's peak during the profile run, weights included (v0.6.4)"),
    "memory_usage_post_profile": (("vllm",), "GPU memory in use after profiling (v0.6.4)"),
    "non_torch_memory": (("vllm",), "memory allocated outside torch (NCCL, cuBLAS, CUDA context growth)"),
    "activation_peak": (("vllm",), "PyTorch activation peak of the profile run, weights excluded"),
    "torch_peak_increase": (("vllm",), "torch peak memory increase of the profile run (V1)"),
    "cuda_graph_memory": (("vllm",), "CUDA graph pool: the estimate where the budget takes it (0.21 on), "
                                     "else the capture after the cache is sized"),
    "cuda_graph_captured": (("vllm",), "CUDA graph pool as captured, on a release whose budget takes the "
                                       "estimate instead"),
    "memory_budget": (("vllm",), "total_gpu_memory x gpu_memory_utilization"),
    "kv_cache_memory": (("vllm",), "memory left for the KV cache ('Available KV cache memory')"),
    "gpu_blocks": (("vllm",), "KV blocks on each GPU ('# GPU blocks')"),
    "cpu_blocks": (("vllm",), "swap blocks on the host ('# CPU blocks', V0)"),
    "kv_tokens": (("vllm", "sglang"), "tokens the KV cache holds ('GPU KV cache size', '#tokens')"),
    "max_concurrency": (("vllm",), "'Maximum concurrency for N tokens per request'"),
    "model_buffer": (("llamacpp",), "weights buffer on one device"),
    "kv_buffer": (("llamacpp",), "KV buffer on one device (full-attention cache)"),
    "kv_size": (("llamacpp",), "KV cache total (full-attention cache where a SWA cache is separate)"),
    "k_size": (("llamacpp", "sglang"), "K part of the KV cache"),
    "v_size": (("llamacpp", "sglang"), "V part of the KV cache"),
    "kv_cells": (("llamacpp",), "cells of the full-attention cache (n_ctx after padding)"),
    "n_ctx_seq": (("llamacpp",), "cells per sequence"),
    "swa_cells": (("llamacpp",), "cells of the sliding-window cache"),
    "swa_kv_buffer": (("llamacpp",), "sliding-window KV buffer on one device"),
    "compute_buffer": (("llamacpp",), "compute (graph) buffer on one device"),
    "output_buffer": (("llamacpp",), "output (logits) buffer"),
    "layers_offloaded": (("llamacpp",), "'offloaded A/B layers to GPU'"),
    "breakdown_model": (("llamacpp",), "common_memory_breakdown_print: the 'model' column of one device"),
    "breakdown_context": (("llamacpp",), "common_memory_breakdown_print: the 'context' column (KV + output)"),
    "breakdown_compute": (("llamacpp",), "common_memory_breakdown_print: the 'compute' column"),
}

# Bytes per printed unit. vLLM's "GB" is GiB: model_runner.py logs
# `self.model_memory_usage / float(2**30)` as "Loading model weights took %.4f GB"; SGLang's "GB" is GiB
# too (the 'K size' of sglang/21348-qwen3-235b-a22b-fp8-4xh100 is 367404 tokens x 94 layers x 128 x 2 B
# = 8.23 x 2**30 B).
# figures the engine prints rounded down, not to the nearest: llama.cpp's memory breakdown divides by MiB
# in integers (common/fit.cpp common_memory_breakdown_print: std::to_string(mb.context / MiB))
FLOORED_FIGURES = frozenset({"breakdown_model", "breakdown_context", "breakdown_compute"})
UNIT_BYTES = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "GB": 1 << 30}
COUNT_UNITS = ("blocks", "tokens", "cells", "layers")
RATIO_UNITS = ("x",)


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: str  # exactly as printed
    unit: str
    text: str  # the piece of the log it comes from
    device: str | None = None
    unit_printed: bool = True

    @property
    def number(self) -> float:
        """The printed value as a number ('178,880' → 178880; '78/81' → 78)."""
        return float(self.value.replace(",", "").split("/")[0])

    @property
    def bytes(self) -> int | None:
        scale = UNIT_BYTES.get(self.unit)
        return None if scale is None else round(self.number * scale)

    @property
    def precision(self) -> float:
        """Half the last printed digit: how far the printed value may be from the engine's own."""
        digits = self.value.split(".")[1] if "." in self.value else ""
        return 0.5 * 10 ** -len(digits)


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    engine: str
    engine_version: str
    version_note: str
    source: str
    source_note: str
    model: dict[str, Any]
    gpus: dict[str, Any]
    settings: dict[str, Any]
    defaults: dict[str, dict[str, Any]]
    figures: tuple[Figure, ...]
    notes: str
    log: str = field(repr=False)
    path: Path = field(repr=False)

    def all(self, name: str) -> list[Figure]:
        return [f for f in self.figures if f.name == name]

    def first(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)

    def setting(self, key: str) -> Any:
        """The setting in effect: as stated, else the engine default the record cites, else None."""
        value = self.settings.get(key)
        if value is None and key in self.defaults:
            value = self.defaults[key]["value"]
        return value


class RecordError(ValueError):
    pass


def load(path: Path) -> Record:
    """One record and its log excerpt; RecordError naming the file when the shape is wrong."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RecordError(f"{path.name}: not valid JSON ({e})") from None
    log_path = path.with_suffix(".log")
    if not log_path.is_file():
        raise RecordError(f"{path.name}: no log excerpt {log_path.name} beside it")
    required = ("id", "engine", "engine_version", "version_note", "source", "source_note", "model", "gpus",
                "settings", "defaults", "figures", "notes")
    missing = [k for k in required if k not in raw]
    if missing:
        raise RecordError(f"{path.name}: missing keys {', '.join(missing)}")
    try:
        figures = tuple(Figure(**f) for f in raw["figures"])
    except TypeError as e:
        raise RecordError(f"{path.name}: a figure has wrong keys ({e})") from None
    return Record(raw["id"], raw["engine"], raw["engine_version"], raw["version_note"], raw["source"],
                  raw["source_note"], raw["model"], raw["gpus"], raw["settings"], raw["defaults"], figures,
                  raw["notes"], log_path.read_text(encoding="utf-8"), path)


def record_paths(root: Path = FIXTURES) -> list[Path]:
    return sorted(p for engine in ENGINES for p in (root / engine).glob("*.json"))


def load_all(root: Path = FIXTURES) -> list[Record]:
    return [load(p) for p in record_paths(root)]


# --- checks -----------------------------------------------------------------------------------------
def check(r: Record) -> list[str]:
    """Every problem with one record, as 'id: what is wrong'."""
    problems = [*_check_shape(r), *_check_figures(r)]
    if not problems:  # consistency needs well-formed figures
        problems += _check_consistency(r)
    return [f"{r.id}: {p}" for p in problems]


def _check_shape(r: Record) -> list[str]:
    out = []
    if r.engine not in ENGINES:
        return [f"engine {r.engine!r} is not one of {', '.join(ENGINES)}"]
    if r.path.parent.name != r.engine:
        out.append(f"filed under {r.path.parent.name}/ but engine is {r.engine}")
    if r.id != r.path.stem:
        out.append(f"id {r.id!r} differs from the file name {r.path.stem!r}")
    if not r.source.startswith("https://"):
        out.append(f"source {r.source!r} is not an https URL")
    if not r.engine_version or not r.version_note:
        out.append("engine_version and version_note must be given ('unknown' and why)")
    if not r.log.strip():
        out.append("the log excerpt is empty")
    for key in ("id", "quant", "catalogue", "config"):
        if key not in r.model:
            out.append(f"model has no {key!r} key")
    config = r.model.get("config")
    if config and not (FIXTURES / "configs" / config).is_file():
        out.append(f"model config {config} is not in tests/fixtures/engine_logs/configs/")
    if set(r.gpus) != {"name", "count"}:
        out.append("gpus must have exactly 'name' and 'count'")
    optional = OPTIONAL_SETTINGS.get(r.engine, {})
    types = SETTINGS[r.engine] | optional
    if not set(SETTINGS[r.engine]) <= set(r.settings) <= set(types):
        extra, absent = set(r.settings) - set(types), set(SETTINGS[r.engine]) - set(r.settings)
        out.append(f"settings keys differ from {r.engine}'s "
                   f"(extra {sorted(extra)}, missing {sorted(absent)})")
    for key, value in r.settings.items():
        want = types.get(key)
        if value is not None and want is not None and not _is(value, want):
            out.append(f"setting {key} = {value!r} is not {want.__name__}")
    for key, default in r.defaults.items():
        if key not in types:
            out.append(f"default for unknown setting {key!r}")
        elif r.settings.get(key) is not None:
            out.append(f"default given for {key}, which the record states")
        elif set(default) != {"value", "source"} or not default["source"]:
            out.append(f"default for {key} needs a value and its source")
    return out


def _is(value: Any, want: type) -> bool:
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def _check_figures(r: Record) -> list[str]:
    out = []
    if not r.figures:
        out.append("no figures")
    for f in r.figures:
        where = f"figure {f.name} {f.value!r}"
        engines = FIGURES.get(f.name, ((), ""))[0]
        if r.engine not in engines:
            out.append(f"{where}: not a {r.engine} figure name (see FIGURES)")
        if f.unit not in (*UNIT_BYTES, *COUNT_UNITS, *RATIO_UNITS):
            out.append(f"{where}: unknown unit {f.unit!r}")
        if f.text not in r.log:
            out.append(f"{where}: text {f.text!r} is not in {r.path.with_suffix('.log').name}")
        elif f.value not in f.text:
            out.append(f"{where}: value is not in its text {f.text!r}")
        elif (f.unit_printed and (f.unit in UNIT_BYTES or f.unit in RATIO_UNITS)
              and not re.search(re.escape(f.value) + r"\s*" + re.escape(f.unit), f.text)):
            out.append(f"{where}: the text does not print the unit {f.unit} after the value")
        try:
            f.number  # noqa: B018 - parse check
        except ValueError:
            out.append(f"{where}: not a number")
    return out


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol + 1e-9


def _check_consistency(r: Record) -> list[str]:
    return [*_llamacpp_sums(r), *_vllm_blocks(r), *_vllm_budget(r), *_offload(r)]


def _llamacpp_sums(r: Record) -> list[str]:
    """K + V = the size line; the per-device KV buffers add up to it (llama_kv_cache prints both)."""
    out = []
    size, k, v = r.first("kv_size"), r.first("k_size"), r.first("v_size")
    if (r.engine == "llamacpp" and size and k and v
            and not _close(k.number + v.number, size.number, k.precision + v.precision + size.precision)):
        out.append(f"K {k.value} + V {v.value} != KV size {size.value}")
    buffers = r.all("kv_buffer")
    if r.engine == "llamacpp" and size and buffers:
        total = sum(b.number for b in buffers)
        if not _close(total, size.number, sum(b.precision for b in buffers) + size.precision):
            out.append(f"KV buffers add up to {total:.2f}, the size line says {size.value}")
    return out


def _vllm_blocks(r: Record) -> list[str]:
    """blocks × block_size = tokens; V0 and early V1: concurrency = blocks × block_size / max_model_len."""
    out = []
    if r.engine != "vllm":
        return out
    blocks, tokens, conc = r.first("gpu_blocks"), r.first("kv_tokens"), r.first("max_concurrency")
    block_size, max_len = r.setting("block_size"), r.setting("max_model_len")
    if blocks and tokens and block_size and blocks.number * block_size != tokens.number:
        out.append(f"{blocks.value} blocks x {block_size} != {tokens.value} tokens")
    if blocks and conc and block_size and max_len:
        want = blocks.number * block_size / max_len
        if not _close(want, conc.number, conc.precision):
            out.append(f"concurrency {conc.value} != {blocks.value} x {block_size} / {max_len} = {want:.3f}")
    bound = max_len + (block_size or 0) if max_len else None
    if tokens and conc and bound and tokens.number / bound > conc.number + conc.precision:
        # the cache never serves fewer requests than tokens / (max_model_len + one block): a full-attention
        # group needs max_model_len / block_size blocks a request, a sliding-window group at most one more
        # (kv_cache_interface.py SlidingWindowSpec: cdiv(window − 1, block_size) + 1); hybrids serve more
        out.append(f"concurrency {conc.value} is below {tokens.value} tokens / ({max_len} + {block_size})")
    return out


def _vllm_budget(r: Record) -> list[str]:
    """vllm/worker/worker.py (v0.6.4–0.8) and vllm/v1/worker/gpu_worker.py: the KV cache gets the budget
    total × utilization minus weights, activation peak and non-torch memory (v0.6.4: minus torch's peak,
    weights included, and non-torch)."""
    out = []
    if r.engine != "vllm":
        return out
    total, budget, kv = r.first("total_gpu_memory"), r.first("memory_budget"), r.first("kv_cache_memory")
    util = r.setting("gpu_memory_utilization")
    if total and budget and util and not _close(total.number * util, budget.number,
                                                  total.precision * util + budget.precision):
        out.append(f"budget {budget.value} != {total.value} x {util}")
    parts = [r.first(n) for n in ("weights", "non_torch_memory", "activation_peak")]
    if budget and kv and all(parts):
        rest = budget.number - sum(p.number for p in parts if p)
        tol = budget.precision + kv.precision + sum(p.precision for p in parts if p)
        if not _close(rest, kv.number, tol):
            out.append(f"budget {budget.value} - weights - non-torch - activation = {rest:.2f} != {kv.value}")
    peak, non_torch = r.first("peak_torch_memory"), r.first("non_torch_memory")
    if total and util and peak and non_torch and kv and not budget:
        rest = total.number * util - peak.number - non_torch.number
        tol = total.precision * util + peak.precision + non_torch.precision + kv.precision
        if not _close(rest, kv.number, tol):
            out.append(f"{total.value} x {util} - peak {peak.value} - non-torch {non_torch.value} = "
                       f"{rest:.2f} != {kv.value}")
    return out


def _offload(r: Record) -> list[str]:
    out = []
    for f in r.all("layers_offloaded"):
        done, _, of = f.value.partition("/")
        if not of or int(done) > int(of):
            out.append(f"layers offloaded {f.value} is not A/B with A <= B")
    return out


def check_all(root: Path = FIXTURES) -> tuple[list[Record], list[str]]:
    records, problems = [], []
    for path in record_paths(root):
        try:
            r = load(path)
        except RecordError as e:
            problems.append(str(e))
            continue
        records.append(r)
        problems += check(r)
    ids = [r.id for r in records]
    problems += [f"{i}: id used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    logs = {p.with_suffix(".json") for e in ENGINES for p in (root / e).glob("*.log")}
    problems += [f"{p.with_suffix('.log').name}: log without a record"
                 for p in sorted(logs) if not p.exists()]
    return records, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="validate every record (exit 1 on a problem)")
    parser.add_argument("--root", type=Path, default=FIXTURES, help="fixtures folder")
    args = parser.parse_args(argv)
    records, problems = check_all(args.root)
    for p in problems:
        print(p)
    counts = ", ".join(f"{sum(r.engine == e for r in records)} {e}" for e in ENGINES)
    print(f"{len(records)} records ({counts}); {sum(len(r.figures) for r in records)} figures; "
          f"{len(problems)} problems")
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
