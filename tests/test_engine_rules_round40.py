"""Engine rules found by the round-40 logs (docs/runtimes.md 4.0za), each pinned on its own beside the
engine-log test that measures it: vLLM V0's MLA padding only in 0.7.2 and 0.7.3, a pipeline stage's share
of MLA's replicated down-projections, 0.6.5's non-torch increase; Gemma 4's per-layer inputs and
double-wide MLP in llama.cpp's compute estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.compute import per_layer_input_width, widest_ffn
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    FAMILY_LAST,
    family_for_release,
    family_range,
)
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.profile import V0_INCREASE_BYTES, V0_NON_TORCH_BYTES
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"


def test_v0_measures_the_increase_from_0_6_5() -> None:
    """0.6.5's worker.py: non_kv = the non-torch increase + torch's peak increase + the weights."""
    assert family_for_release((0, 6, 5)) == family_for_release((0, 6, 6)) == "v0"
    assert family_for_release((0, 6, 4)) == "v0-0.6" and FAMILY_LAST["v0-0.6"] == (0, 6, 4)
    assert family_range("v0") == ((0, 6, 5), (0, 11, 0))
    cfg = paramscope.open_model("qwen2.5-7b").config
    assert cfg is not None
    kw = dict(context=32768, gpu_memory_bytes=round(39.39 * 2**30), cuda_graphs=False, dtype=DType.F16)
    new = vllm_memory(cfg, 15 * 10**9, engine="v0", release=(0, 6, 6), **kw)  # type: ignore[arg-type]
    old = vllm_memory(cfg, 15 * 10**9, engine="v0-0.6", **kw)  # type: ignore[arg-type]
    assert new.non_torch_bytes == V0_INCREASE_BYTES and old.non_torch_bytes >= V0_NON_TORCH_BYTES
    # 0.6.5-0.6.6 subtract torch's allocated bytes, so the allocator's holes count; 0.7 its reserved ones
    holes = 55 * 2**20
    for release, counted in (((0, 6, 6), holes), ((0, 7, 3), 0)):
        m = vllm_memory(cfg, 15 * 10**9, engine="v0", release=release, device_hole_bytes=holes,
                        **kw)  # type: ignore[arg-type]
        assert m.non_torch_bytes == V0_INCREASE_BYTES + counted, release


def test_a_pipeline_stage_holds_its_layers_share_of_the_mla_down_projections() -> None:
    """DeepSeek-V2.5 at TP 8 × PP 2 on 0.8.3 (r40v-*): each rank of a 30-layer stage holds 30 layers'
    q_a_proj and kv_a_proj_with_mqa whole, not the model's 60 (+0.53 GiB a rank before)."""
    model = paramscope.open_model(str(CONFIGS / "deepseek-v2.5.config.json"))
    cfg = model.config
    assert cfg is not None and cfg.is_mla and cfg.n_layers == 60
    per_layer = cfg.hidden_size * (cfg.q_lora_rank + cfg.kv_lora_rank + cfg.rope_head_dim) * 2
    kw = dict(context=8192, gpu_memory_bytes=round(39.39 * 2**30), tensor_parallel=8, engine="v0",
              release=(0, 8, 3), pipeline_parallel=2, cuda_graphs=False)
    whole = vllm_memory(cfg, 471 * 2**30, mla_stored_bytes=60 * per_layer, **kw)  # type: ignore[arg-type]
    priced = vllm_memory(cfg, 471 * 2**30, **kw)  # type: ignore[arg-type]
    assert len(whole.stages) == 2
    assert [s.model_bytes for s in whole.stages] == [s.model_bytes for s in priced.stages]
    # the stored bytes are the whole model's: a stage given them all would hold 30 layers' more
    doubled = vllm_memory(cfg, 471 * 2**30, mla_stored_bytes=120 * per_layer, **kw)  # type: ignore[arg-type]
    # (the rank holds them whole where the rest is an eighth: (stage − shared) / 8 + shared)
    assert doubled.stages[0].model_bytes - whole.stages[0].model_bytes == 30 * per_layer * 7 // 8


def test_gemma4_per_layer_inputs_and_double_wide_mlp() -> None:
    """Gemma 4 E2B: the 20 KV-sharing layers' MLP is 12,288 wide; the 35 layers' 256-wide per-layer
    inputs are held from before the first layer to the last (gemma4.cpp project_per_layer_inputs)."""
    e2b = paramscope.open_model(str(CONFIGS / "gemma-4-e2b.config.json")).config
    e4b = paramscope.open_model(str(CONFIGS / "gemma-4-e4b.config.json")).config
    assert e2b is not None and e4b is not None
    assert widest_ffn(e2b) == 2 * 6144 and widest_ffn(e4b) == 10240
    assert per_layer_input_width(e2b) == 256
    m = llamacpp_memory(e2b, 0, n_ctx=8192, n_seq=4, n_ubatch=2048, n_batch=2048, kv_unified=True,
                        n_outputs_max=4, backend="gpu", build="mid-2026")
    held = 2048 * 35 * 256 * 4
    assert m.compute.ffn_phase == 2048 * 2 * 12288 * 4 + held
    assert any("per-layer inputs" in line for line in m.compute.explain)


def test_a_gemma4_gguf_carries_its_per_layer_input_width() -> None:
    """gemma4.embedding_length_per_layer_input (llama-arch.cpp LLM_KV_EMBEDDING_LENGTH_PER_LAYER) and the
    feed_forward_length array give a GGUF's Gemma 4 the same compute terms as its config.json."""
    import numpy as np

    from paramscope.knowledge.gguf_arch import arch_config

    meta = {"general.architecture": "gemma4", "gemma4.block_count": 4, "gemma4.embedding_length": 1536,
            "gemma4.attention.head_count": 8, "gemma4.attention.head_count_kv": 1,
            "gemma4.feed_forward_length": np.array([6144, 6144, 12288, 12288], np.uint32),
            "gemma4.context_length": 8192,
            "gemma4.embedding_length_per_layer_input": 256}
    cfg = arch_config(meta, {"token_embd.weight"}, 262144, "e2b.gguf")
    assert cfg is not None
    assert per_layer_input_width(cfg) == 256 and widest_ffn(cfg) == 12288


def test_mla_by_release_and_quantization() -> None:
    """0.7.1 brought the latent cache; 0.7.1-0.7.2 turned it off for a quantized checkpoint other than FP8
    (config.py use_mla, read in their wheels); 0.7.0 cached every head at the query's 192 values, 0.6.x
    at 256."""
    from paramscope.analyses.sizing.runtimes.vllm.engine import mla_cached

    assert not mla_cached((0, 7, 0), None) and mla_cached((0, 7, 1), None)
    assert not mla_cached((0, 7, 2), "awq") and mla_cached((0, 7, 2), "fp8") and mla_cached((0, 7, 3), "awq")
    cfg = paramscope.open_model("deepseek-v2-lite").config
    assert cfg is not None
    kw = dict(context=8192, gpu_memory_bytes=round(79.10 * 2**30), engine="v0", cuda_graphs=False,
              dtype=DType.BF16, mla=False)
    old = vllm_memory(cfg, 31 * 10**9, release=(0, 6, 4), **kw)  # type: ignore[arg-type]
    new = vllm_memory(cfg, 31 * 10**9, release=(0, 7, 0), **kw)  # type: ignore[arg-type]
    # one layer's block of 16 tokens, K and V of 16 heads
    assert old.layout.page_bytes == 16 * 2 * 16 * 256 * 2 and new.layout.page_bytes == 16 * 2 * 16 * 192 * 2


def test_v0_pads_the_mla_entry_on_cuda_only() -> None:
    """CacheEngine._align_cache: ``model_config.use_mla and current_platform.is_cuda()``."""
    cfg = paramscope.open_model("deepseek-v2-lite").config
    assert cfg is not None
    kw = dict(context=8192, gpu_memory_bytes=round(191.5 * 2**30), engine="v0", release=(0, 7, 3))
    cuda = vllm_memory(cfg, 31 * 10**9, platform="cuda", **kw)  # type: ignore[arg-type]
    rocm = vllm_memory(cfg, 31 * 10**9, platform="rocm", **kw)  # type: ignore[arg-type]
    assert cuda.layout.page_bytes // cuda.params.block_size == 640 * 2  # one layer's token
    assert rocm.layout.page_bytes // rocm.params.block_size == 576 * 2


def test_the_cli_prices_the_release_s_mla() -> None:
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("deepseek-v2-lite")
    kv = {}
    for rel in ("0.6.4", "0.7.0", "0.7.3"):
        req = MemoryRequest(context=8192, device=find_device("H100"), runtime="vllm",
                            options={"vllm_release": rel})
        kv[rel] = estimate(model, req).kv_cache_bytes
    # per token: 27 layers × 2 × 16 heads × 256 or 192 values × 2 B, or the padded latent (640 × 2 B)
    assert kv["0.6.4"] == 8192 * 27 * 2 * 16 * 256 * 2 and kv["0.7.0"] == 8192 * 27 * 2 * 16 * 192 * 2
    assert kv["0.7.3"] == 8192 * 27 * 640 * 2


def test_v0_from_0_8_shares_the_fused_moe_cache() -> None:
    """PR #13625 (0.8): intermediate_cache1 and cache3 share one buffer of topk × max(N, K); V0 of 0.8 to
    0.10 runs the same fused_experts_impl."""
    from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params as vllm_params
    from paramscope.analyses.sizing.runtimes.vllm.profile import fused_moe_width

    cfg = paramscope.open_model("qwen3-30b-a3b").config
    assert cfg is not None and cfg.is_moe
    n, k, topk = 2 * cfg.expert_ffn_size // 4, cfg.hidden_size, cfg.n_experts_per_token
    widths = {}
    for release in ((0, 7, 3), (0, 8, 3)):
        p = vllm_params(cfg, context=8192, batch=1, kv_type=None, dtype=DType.BF16, gpu_memory_bytes=None,
                        gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=None,
                        max_num_seqs=None, cuda_graphs=False, tensor_parallel=4, engine="v0",
                        release=release)
        widths[release] = fused_moe_width(cfg, p)
    assert widths[(0, 7, 3)] == topk * (n + n // 2 + k)
    assert widths[(0, 8, 3)] == topk * (max(n, k) + n // 2)


def test_v0_chunked_prefill_by_default() -> None:
    """arg_utils.py: on above 32K tokens on CUDA, not for multimodal or sliding-window models, ROCm from
    0.6.5, MLA from 0.8."""
    from paramscope.analyses.sizing.runtimes.vllm.engine import v0_chunks_by_default

    llama = paramscope.open_model("qwen2.5-7b").config
    mla = paramscope.open_model("deepseek-v2-lite").config
    assert llama is not None and mla is not None and not llama.sliding_window
    assert v0_chunks_by_default(llama, 65536, (0, 7, 3), "cuda", False)
    assert not v0_chunks_by_default(llama, 32768, (0, 7, 3), "cuda", False)
    assert not v0_chunks_by_default(llama, 65536, (0, 7, 3), "cuda", True)
    assert v0_chunks_by_default(llama, 65536, (0, 6, 4), "rocm", False)
    assert not v0_chunks_by_default(llama, 65536, (0, 6, 5), "rocm", False)
    assert v0_chunks_by_default(mla, 65536, (0, 7, 3), "cuda", False)
    assert not v0_chunks_by_default(mla, 65536, (0, 8, 3), "cuda", False)


def test_the_cli_says_when_a_release_caches_heads_not_the_latent() -> None:
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.analyses.sizing.request import MemoryRequest
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("deepseek-v2-lite")
    for rel, said in (("0.6.4", True), ("0.7.3", False)):
        req = MemoryRequest(context=8192, device=find_device("H100"), runtime="vllm",
                            options={"vllm_release": rel})
        assert ("caches every head's K and V" in " ".join(estimate(model, req).notes)) is said, rel


def test_an_moe_layer_s_down_projection_phase() -> None:
    """build_moe_ffn's down projection: n_embd for each of the k routed experts beside their GLU output,
    with the residual and the experts' normed input live; the gate and up outputs' hole, which the larger
    down output cannot reuse, counted as held (Gemma 4's dense MLP runs after the experts: build_moe_ffn
    expands them first). Gemma 4 26B-A4B at -ub 2048 on Vulkan (r18l-*): 294 → 396 MiB of 428 printed."""
    cfg = paramscope.open_model(str(CONFIGS / "gemma-4-26b-a4b.config.json")).config
    assert cfg is not None and cfg.is_moe
    m = llamacpp_memory(cfg, 0, n_ctx=8192, n_ubatch=2048, n_batch=2048, n_outputs_max=1, backend="gpu",
                        build="mid-2026")
    k, n_ff, n_embd, t = cfg.n_experts_per_token, cfg.expert_ffn_size, cfg.hidden_size, 2048
    masks = sum(part.cells for part in m.kv.parts if part.kind in ("full", "sliding")) * t * 2
    assert m.compute.ffn_phase == t * (k * (3 * n_ff + n_embd) + 2 * n_embd) * 4 + masks


@pytest.mark.parametrize("name", ["qwen3-30b-a3b", "gpt-oss-20b", "mixtral-8x7b", "qwen3-8b"])
@pytest.mark.parametrize(("ubatch", "n_ctx", "quantized"), [(512, 16384, False), (2048, 16384, False),
                                                           (4096, 16384, False), (2048, 262144, True)])
def test_the_estimate_against_the_replayed_graph(name: str, ubatch: int, n_ctx: int, quantized: bool) -> None:
    """Where paramscope replays a graph, the per-phase estimate (what a non-replayed architecture such as
    DeepSeek, GLM or Gemma 4 gets) comes within 10 % of it with llama-server's one output row, where the
    experts or the attention set the peak: Qwen3-30B-A3B 0.92, gpt-oss-20b 0.99, Mixtral 0.96 (before the
    MoE phases: 0.76 and 0.84); with CUDA's f16 copies of a q8_0 cache at 262,144 cells 0.98-0.99 (a
    moment of their own: stacked on the fitted attention phase, up to 1.57)."""
    from paramscope.analyses.sizing.runtimes.llamacpp.compute import compute_buffer
    from paramscope.analyses.sizing.runtimes.llamacpp.kv import llamacpp_kv_cache
    from paramscope.analyses.sizing.runtimes.llamacpp.params import resolve_params

    cfg = paramscope.open_model(name).config
    assert cfg is not None
    p = resolve_params(cfg, n_ctx=n_ctx, n_seq=1, n_ubatch=ubatch, n_batch=ubatch, swa_full=False,
                       kv_unified=False, flash_attn=True, n_outputs_max=1)
    t = DType.Q8_0 if quantized else DType.F16
    kv = llamacpp_kv_cache(cfg, p, t, t)
    replayed = compute_buffer(cfg, p, kv, t, t, backend="gpu", f16_kv_copies=quantized).graph_bytes
    estimated = compute_buffer(cfg, p, kv, t, t, backend="gpu", replay=False,
                               f16_kv_copies=quantized).total_bytes
    assert replayed is not None and 0.9 <= estimated / replayed <= 1.05


def test_the_f16_copies_of_the_largest_layer() -> None:
    """Gemma 4 31B: the full-attention layers have the cells and the sliding ones the widest K/V rows; the
    copies are the largest single layer's (its cells × its own widths), not the one times the other."""
    from paramscope.analyses.sizing.kv_cache import layer_caches

    cfg = paramscope.open_model(str(CONFIGS / "gemma-4-31b.config.json")).config
    assert cfg is not None
    m = llamacpp_memory(cfg, 0, n_ctx=262144, n_ubatch=512, type_k=DType.Q8_0, type_v=DType.Q8_0,
                        flash_attn=True, backend="gpu", fa_backend="cuda", build="current")
    cells = {"full": m.params.n_ctx_seq, "sliding": m.params.swa_cells}
    largest = max(cells[layer.kind] * (layer.k_width + layer.v_width) * 2
                  for layer in layer_caches(cfg) if layer is not None)
    assert any(f"f16 copies of the quantized K/V {largest:,} B" in line for line in m.compute.explain)


def test_a_shared_expert_runs_after_the_routed_ones() -> None:
    """Qwen2-57B-A14B's shared expert (20,480 wide) runs after the routed experts, whose summed output
    waits beside its gate, up and product (llama-graph.cpp build_moe_ffn, then the shared build_ffn)."""
    from paramscope.model import ArchConfig

    cfg = ArchConfig(family="qwen2_moe", architecture="Qwen2MoeForCausalLM", n_layers=4, hidden_size=3584,
                     n_heads=28, n_kv_heads=4, head_dim_k=128, head_dim_v=128, ffn_size=18944,
                     vocab_size=151936, context_length=32768, n_experts=64, n_experts_per_token=8,
                     expert_ffn_size=2560, n_shared_experts=1, extra={"shared_expert_ffn_size": 20480})
    m = llamacpp_memory(cfg, 0, n_ctx=8192, n_ubatch=2048, n_batch=2048, n_outputs_max=1, backend="gpu",
                        build="current")
    t, masks = 2048, 8192 * 2048 * 2
    assert m.compute.ffn_phase == t * (3 * 20480 + 3 * 3584) * 4 + masks
