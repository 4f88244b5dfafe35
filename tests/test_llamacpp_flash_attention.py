"""llama.cpp's flash attention "auto" (runtimes/llamacpp/flash_attention.py): the backends' kernel tables,
the cache made for flash attention and the graph that runs without it, and the rule checked against every
engine log that prints what "auto" resolved to."""

from __future__ import annotations

import re

import engine_log_compare
import engine_logs
import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.compute import compute_buffer
from paramscope.analyses.sizing.runtimes.llamacpp.flash_attention import (
    BACKENDS,
    KERNELS,
    attention_shapes,
    resolve_auto,
)
from paramscope.analyses.sizing.runtimes.llamacpp.kv import as_llamacpp_loads, llamacpp_kv_cache
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.llamacpp.params import resolve_params
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType

F16 = DType.F16


def _cfg(head: int = 128, heads: int = 32, kv_heads: int = 8, head_v: int | None = None,
         **kw: object) -> ArchConfig:
    base: dict[str, object] = dict(
        family="llama", architecture="LlamaForCausalLM", n_layers=4, hidden_size=heads * head,
        n_heads=heads, n_kv_heads=kv_heads, head_dim_k=head, head_dim_v=head_v or head, ffn_size=1024,
        vocab_size=1000, context_length=4096)
    base.update(kw)
    return ArchConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["cpu", "cuda", "rocm", "metal", "vulkan", "sycl"])
def test_common_heads_keep_flash_attention_on_everywhere(backend: str) -> None:
    for head in (64, 128, 256):
        assert resolve_auto(_cfg(head), backend, F16, F16).on, (backend, head)


@pytest.mark.parametrize(("head", "head_v", "heads", "kv_heads", "backend", "on"), [
    (32, None, 12, 12, "cuda", False),  # MiniLM and bge-small: no 32-wide CUDA kernel
    (32, None, 12, 12, "metal", True),
    (32, None, 12, 12, "vulkan", True),  # any multiple of 8
    (192, 128, 16, 16, "cuda", False),  # DeepSeek-V2-Lite without MLA: one query head per KV head
    (192, 128, 16, 16, "metal", True),
    (192, 128, 64, 8, "cuda", True),  # 192/128 at a GQA ratio that is a multiple of 8
    (192, 128, 48, 8, "cuda", False),  # 6
    (512, None, 8, 4, "cuda", True),  # Gemma 4's full layers: GQA ≥ 2
    (512, None, 8, 8, "cuda", False),
    (88, None, 16, 16, "cuda", False),  # Llama 4's vision head (an open PR in 2026)
    (88, None, 16, 16, "vulkan", True),
    (84, None, 16, 16, "vulkan", False),  # not a multiple of 8
    (192, 128, 16, 16, "sycl", False),
])
def test_kernel_tables(head: int, head_v: int | None, heads: int, kv_heads: int, backend: str,
                       on: bool) -> None:
    cfg = _cfg(head, heads, kv_heads, head_v)
    choice = resolve_auto(cfg, backend, F16, F16)
    assert choice.on is on, choice.why


def test_cache_types_each_backend_reads() -> None:
    cfg = _cfg()
    assert resolve_auto(cfg, "cuda", DType.Q8_0, F16).on  # the CUDA kernels take mixed types
    assert not resolve_auto(cfg, "metal", DType.Q8_0, F16).on  # Metal: one type for K and V
    assert not resolve_auto(cfg, "sycl", DType.Q5_0, DType.Q5_0).on  # without GGML_SYCL_FA_ALL_QUANTS
    assert not resolve_auto(cfg, "cuda", DType.Q4_K, DType.Q4_K).on
    assert resolve_auto(cfg, "vulkan", DType.IQ4_NL, DType.IQ4_NL).on
    assert not resolve_auto(cfg, "vulkan", DType.BF16, F16).on


def test_build_families() -> None:
    """SYCL had no flash attention before PR 20190 (March 2026, in the early-2026 family); CUDA no
    512-wide kernel before PR 20998 (b8609); the family the change came in is taken to have it and says
    so."""
    cfg = _cfg()
    assert not resolve_auto(cfg, "sycl", F16, F16, "late-2025").on
    early = resolve_auto(cfg, "sycl", F16, F16, "early-2026")
    assert early.on and early.since is not None and "20190" in early.since.what
    assert resolve_auto(cfg, "sycl", F16, F16, "current").since is None
    gemma = _cfg(512, 8, 4)
    assert not resolve_auto(gemma, "cuda", F16, F16, "late-2025").on
    assert resolve_auto(gemma, "cuda", F16, F16, "early-2026").since is not None
    with pytest.raises(UnsupportedError, match="unknown backend"):
        resolve_auto(cfg, "opencl", F16, F16)


def test_shapes_of_mla_and_per_layer_heads() -> None:
    mla = _cfg(192, 16, 16, 128, kv_lora_rank=512, q_lora_rank=0, rope_head_dim=64)
    assert attention_shapes(mla) == ((576, 512, 16),)
    assert BACKENDS[0] == "cpu" and set(BACKENDS[1:]) == set(KERNELS)


def test_auto_resolved_off_keeps_the_cache_untransposed() -> None:
    """The cache is made before the check, with flash attention on: V untransposed and unpadded; the graph
    without flash attention then copies each layer's V transposed beside the scores."""
    cfg = _cfg(192, 16, 16, 128)
    kw = dict(n_ctx=4096, n_seq=1, n_ubatch=512, n_batch=512, swa_full=False, kv_unified=False)
    off = resolve_params(cfg, flash_attn=False, **kw)  # type: ignore[arg-type]
    auto_off = resolve_params(cfg, flash_attn=None, auto_resolved_off=True, **kw)  # type: ignore[arg-type]
    on = resolve_params(cfg, flash_attn=True, **kw)  # type: ignore[arg-type]
    assert not auto_off.flash_attn and not auto_off.v_transposed and off.v_transposed
    kv = llamacpp_kv_cache(cfg, auto_off, F16, F16)
    assert kv.total_bytes == llamacpp_kv_cache(cfg, on, F16, F16).total_bytes
    plain = compute_buffer(cfg, off, kv, backend="gpu")
    copied = compute_buffer(cfg, auto_off, kv, backend="gpu")
    v_copy = 4096 * 16 * 128 * 2  # one layer's V, f16, as wide as the cache
    # the copy joins the scores; the transposed cache's per-value v_idxs input goes (one i64 a token)
    assert copied.attention_phase - plain.attention_phase == v_copy - 512 * (16 * 128 - 1) * 8
    assert any("V copied transposed" in line for line in copied.explain)


def test_replayed_graph_copies_v() -> None:
    """A graph paramscope replays (llama): the copy is in ggml-alloc's replay too."""
    cfg = _cfg(32, 32, 32)
    off = llamacpp_memory(cfg, 0, n_ctx=8192, flash_attn=False, backend="gpu")
    auto = llamacpp_memory(cfg, 0, n_ctx=8192, flash_attn=None, backend="gpu", fa_backend="cuda")
    assert auto.flash_attn_choice is not None and not auto.flash_attn_choice.on
    assert auto.compute.graph_bytes is not None and off.compute.graph_bytes is not None
    assert auto.compute.graph_bytes > off.compute.graph_bytes
    assert auto.kv_cache_bytes == off.kv_cache_bytes
    cpu = llamacpp_memory(cfg, 0, n_ctx=8192, flash_attn=None, backend="cpu")
    assert cpu.params.flash_attn and cpu.flash_attn_choice is not None and cpu.flash_attn_choice.on


def test_quantized_v_turns_it_on_before_any_check() -> None:
    """llama_init_from_model: "enabling flash_attn since it is required for quantized V cache"."""
    cfg = _cfg(32, 12, 12)
    m = llamacpp_memory(cfg, 0, n_ctx=4096, type_k=DType.Q8_0, type_v=DType.Q8_0, flash_attn=None,
                        backend="gpu", fa_backend="cuda")
    assert m.params.flash_attn and m.flash_attn_choice is None


# --- the rule against the engine's own verdicts --------------------------------------------------------
VERDICT = re.compile(r"Flash Attention (?:was auto, set to (enabled|disabled)|(enabled)|not supported, "
                     r"set to (disabled))")


def _verdict_records() -> list[engine_logs.Record]:
    return [r for r in engine_logs.load_all() if r.engine == "llamacpp"
            and engine_log_compare.FLASH_ATTN_AUTO.search(r.log) and VERDICT.search(r.log)]


RECORDS = _verdict_records()


def test_the_set_holds_both_verdicts() -> None:
    verdicts = {next(g for g in VERDICT.search(r.log).groups() if g) for r in RECORDS}  # type: ignore[union-attr]
    assert verdicts == {"enabled", "disabled"} and len(RECORDS) >= 30


@pytest.mark.parametrize("r", RECORDS, ids=lambda r: r.id)
def test_rule_agrees_with_the_log(r: engine_logs.Record) -> None:
    found = VERDICT.search(r.log)
    assert found is not None
    printed_on = next(g for g in found.groups() if g) == "enabled"
    backend = engine_log_compare.attention_backend(r)
    if backend is None:
        pytest.skip("a GPU backend without a kernel table here (OpenCL)")
    model = engine_log_compare.open_record_model(r)
    if model is None:
        pytest.skip("model config not available offline")
    build = engine_log_compare.llamacpp_build(r)
    cfg = as_llamacpp_loads(engine_log_compare.llamacpp_config(model, r), build)
    type_k = engine_log_compare.DTYPES.get(r.setting("type_k") or "f16", F16)
    type_v = engine_log_compare.DTYPES.get(r.setting("type_v") or "f16", F16)
    choice = resolve_auto(cfg, backend, type_k, type_v, build)
    assert choice.on is printed_on, f"{backend}: {choice.why}"


def test_the_v_copy_spans_every_stream() -> None:
    """Four sequences, each its own stream: llama.cpp copies every stream's V (the view spans them)."""
    cfg = _cfg(192, 16, 16, 128)
    kw = dict(n_ctx=4 * 4096, n_seq=4, n_ubatch=512, n_batch=512, swa_full=False, kv_unified=False)
    auto_off = resolve_params(cfg, flash_attn=None, auto_resolved_off=True, **kw)  # type: ignore[arg-type]
    off = resolve_params(cfg, flash_attn=False, **kw)  # type: ignore[arg-type]
    assert auto_off.n_streams == 4
    kv = llamacpp_kv_cache(cfg, auto_off, F16, F16)
    copied = compute_buffer(cfg, auto_off, kv, backend="gpu")
    plain = compute_buffer(cfg, off, llamacpp_kv_cache(cfg, off, F16, F16), backend="gpu")
    v_copy = 4 * 4096 * 16 * 128 * 2
    assert copied.attention_phase - plain.attention_phase == v_copy - 512 * (16 * 128 - 1) * 8


def test_an_mla_latent_v_is_copied_whenever_flash_attention_is_off() -> None:
    """MLA's V is a view of the latent K rows, never transposed (build_attn_mha's v_cont)."""
    mla = _cfg(192, 16, 16, 128, kv_lora_rank=512, q_lora_rank=0, rope_head_dim=64)
    off = llamacpp_memory(mla, 0, n_ctx=8192, flash_attn=False, backend="gpu")
    on = llamacpp_memory(mla, 0, n_ctx=8192, flash_attn=True, backend="gpu")
    assert any("V copied transposed 8,388,608 B" in line for line in off.compute.explain)  # 8192 × 512 × 2
    assert not any("V copied" in line for line in on.compute.explain)


def test_grok_is_forced_off() -> None:
    """llama_init_from_model: "flash_attn is not compatible with Grok - forcing off"."""
    grok = _cfg(128, 48, 8, architecture="grok", family="grok")
    m = llamacpp_memory(grok, 0, n_ctx=8192, flash_attn=True, backend="gpu", fa_backend="cuda")
    assert not m.params.flash_attn and m.params.v_transposed
    with pytest.raises(UnsupportedError, match="quantized V cache"):
        llamacpp_memory(grok, 0, n_ctx=8192, type_k=DType.Q8_0, type_v=DType.Q8_0, flash_attn=None)


def test_the_cli_picks_the_backend_and_says_why() -> None:
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("sentence-transformers/all-MiniLM-L6-v2")
    for gpu, options, on in (("RTX 4090", {}, False), ("RTX 4090", {"llamacpp_backend": "vulkan"}, True),
                             ("M2 Max", {}, True), ("RTX 4090", {"n_gpu_layers": 1}, True),
                             ("RTX 4090", {"n_gpu_layers": 0}, True),
                             # unified memory: the GPU's backend too (Metal on Apple, CUDA on a GB10)
                             ("DGX Spark", {}, False), ("M2 Max", {"llamacpp_backend": "cuda"}, False)):
        req = MemoryRequest(context=512, device=find_device(gpu), runtime="llama.cpp", options=options)
        notes = " ".join(estimate(model, req).notes)
        assert ("flash attention auto resolves to off" in notes) is not on, (gpu, options)
    req = MemoryRequest(context=512, device=find_device("RTX 4090"), runtime="llama.cpp",
                        options={"flash_attn": "on"})
    assert "runs those layers' attention on the CPU" in " ".join(estimate(model, req).notes)


def test_cuda_keeps_f16_copies_of_a_quantized_cache_with_the_result() -> None:
    """llama.cpp PR 23907 (mid-2026 on): ggml-cuda's get_alloc_size for FLASH_ATTN_EXT adds f16 copies of a
    quantized K and V (the whole cache the view spans) to the result's allocation; Vulkan, f16 caches and
    older builds have none. A Qwen3.6-35B-A3B log at 262,144 cells of q4_0 (r28l-*) needs the 512 MiB."""
    cfg = _cfg(128, 32, 8, hidden_size=4096, ffn_size=14336, vocab_size=32000)
    kw = dict(n_ctx=32768, flash_attn=True, backend="gpu")
    q8 = dict(type_k=DType.Q8_0, type_v=DType.Q8_0)
    cuda = llamacpp_memory(cfg, 0, fa_backend="cuda", **q8, **kw).compute.graph_bytes  # type: ignore[arg-type]
    vulkan = llamacpp_memory(cfg, 0, fa_backend="vulkan", **q8, **kw).compute.graph_bytes  # type: ignore[arg-type]
    older = llamacpp_memory(cfg, 0, fa_backend="cuda", build="early-2026", **q8,  # type: ignore[arg-type]
                            **kw).compute.graph_bytes
    f16 = llamacpp_memory(cfg, 0, fa_backend="cuda", **kw).compute.graph_bytes  # type: ignore[arg-type]
    f16_vk = llamacpp_memory(cfg, 0, fa_backend="vulkan", **kw).compute.graph_bytes  # type: ignore[arg-type]
    copies = 32768 * 1024 * 2 * 2  # K and V: 32,768 cells × 8 heads × 128 values × 2 B each
    assert cuda is not None and vulkan is not None and older is not None
    assert cuda >= copies + 512 * 4096 * 4 > vulkan  # the result and its copies alone exceed Vulkan's peak
    assert f16 == f16_vk
    est = llamacpp_memory(cfg, 0, fa_backend="cuda", **q8, **kw).compute
    assert any("f16 copies of the quantized K/V 134,217,728 B" in line for line in est.explain)
    assert older < cuda
    # a build number known (the compare tool): b9410-b9488 of the mid-2026 family predate the copies
    early_mid = llamacpp_memory(cfg, 0, fa_backend="cuda", build="mid-2026", f16_kv_copies=False,
                                **q8, **kw).compute.graph_bytes  # type: ignore[arg-type]
    assert early_mid == llamacpp_memory(cfg, 0, fa_backend="vulkan", build="mid-2026", **q8,
                                        **kw).compute.graph_bytes  # type: ignore[arg-type]


def test_json_carries_the_resolved_flash_attention() -> None:
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.app.shapes import size_json
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("sentence-transformers/all-MiniLM-L6-v2")
    req = MemoryRequest(context=512, device=find_device("RTX 4090"), runtime="llama.cpp")
    settings = size_json(estimate(model, req))["runtime_settings"]
    assert settings["attention_backend"] == "cuda" and settings["flash_attn"] is False
    assert "32" in settings["flash_attn_why"]
    cpu = size_json(estimate(model, MemoryRequest(context=512, runtime="llama.cpp")))["runtime_settings"]
    assert cpu == {"attention_backend": "cpu", "flash_attn": True,
                   "flash_attn_why": "the CPU backend runs flash attention for every head size"}
