"""Engine rules found by the round-7 logs (docs/runtimes.md 4.0g), each pinned on its own beside the
engine-log test that measures it: llama.cpp's op offload with the output layer in host memory and the
legacy CPU graph's inputs; vLLM V0's MLA padding, MLA's replicated down-projections, the SSM state's type
and 'align' mode, M-RoPE's cache and transformers 5's rope_parameters; SGLang's multimodal fraction and
Gemma 3 RoPE caches; a multimodal wrapper read through its text_config."""

from __future__ import annotations

from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.compute import ComputeBuffer, compute_buffer
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.llamacpp.offload import (
    OP_OFFLOAD_MIN_BATCH,
    Offload,
    gpu_compute_with_host_output,
    output_matrix_bytes,
)
from paramscope.analyses.sizing.runtimes.llamacpp.params import resolve_params
from paramscope.analyses.sizing.runtimes.sglang import (
    sglang_memory,
    sglang_rope_cache_bytes,
    vision_tower,
    vlm_fraction_factor,
)
from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params as vllm_params
from paramscope.analyses.sizing.runtimes.vllm.kv import MAMBA_BLOCKS_PER_REQUEST, hybrid_state_bytes
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.weights import (
    replicated_weight_bytes,
    rope_cache_bytes,
    rope_positions,
    v0_mla_aligned,
)
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"


def _open(name: str):
    return paramscope.open_model(str(CONFIGS / name))


# --- llama.cpp -------------------------------------------------------------------------------------

def _split(output_matrix: int) -> Offload:
    return Offload(10, 22, False, 0, 0, 0, output_matrix)


def test_the_gpu_runs_the_host_output_product_from_32_rows():
    compute = ComputeBuffer(logits_phase=108_267_520, attention_phase=169_869_312, explain=(),
                            ffn_phase=41_943_040)
    matrix = 105_638_400  # Pythia 2.8B's q6_K output matrix
    # op offload (CUDA, Vulkan, SYCL at 32 rows or more): the logits with the matrix copied in
    assert gpu_compute_with_host_output(compute, _split(matrix), 512)[0] == max(
        compute.total_bytes, compute.logits_phase + matrix)
    assert gpu_compute_with_host_output(compute, _split(matrix), OP_OFFLOAD_MIN_BATCH)[0] == 213_905_920
    # fewer rows, or a backend that offloads nothing (Metal, OpenCL): the graph stops before the logits
    layers = max(compute.attention_phase, compute.ffn_phase)
    assert gpu_compute_with_host_output(compute, _split(matrix), OP_OFFLOAD_MIN_BATCH - 1)[0] == layers
    assert gpu_compute_with_host_output(compute, _split(matrix), 512, offloads_ops=False)[0] == layers


def test_the_output_matrix_takes_its_own_type_at_a_scheme():
    # llama.cpp's quantize keeps output.weight at Q6_K in a Q4_0 file: 50304 x 2560 at 210 B per 256
    model = _open("pythia-2.8b.config.json")
    assert output_matrix_bytes(model, "Q4_0") == 105_638_400
    assert output_matrix_bytes(model, "bf16") > output_matrix_bytes(model, "Q4_0")


def test_builds_before_may_2025_hold_no_embeddings_input_on_the_cpu():
    cfg = _open("pythia-1.4b.config.json").config
    assert cfg is not None
    kw = dict(n_ctx=2048, n_seq=1, n_ubatch=512, n_batch=2048, swa_full=False, kv_unified=False,
              flash_attn=False)
    old, new = resolve_params(cfg, **kw, build="legacy-no-swa"), resolve_params(cfg, **kw, build="legacy")
    assert not old.embd_input and new.embd_input
    kv = llamacpp_memory(cfg, 0, n_ctx=2048).kv
    gap = compute_buffer(cfg, new, kv).logits_phase - compute_buffer(cfg, old, kv).logits_phase
    assert gap == 512 * cfg.hidden_size * 4
    # Pythia 1.4B on an arm64 CPU, build 4775: 102.25 MiB, the logits and the last hidden state
    assert compute_buffer(cfg, old, kv).logits_phase == 512 * 50304 * 4 + 512 * 2048 * 4 + 512 * 4


# --- vLLM ------------------------------------------------------------------------------------------

def test_v0_pads_an_mla_entry_to_256_bytes():
    cfg = paramscope.open_model("deepseek-v2-lite").config
    assert cfg is not None and cfg.kv_lora_rank + cfg.rope_head_dim == 576
    padded = v0_mla_aligned(cfg, DType.BF16)
    assert (padded.kv_lora_rank + padded.rope_head_dim) * 2 == 1280  # 1152 B up to 5 x 256
    fp8 = v0_mla_aligned(cfg, DType.F8_E4M3)
    assert fp8.kv_lora_rank + fp8.rope_head_dim == 768  # 576 B up to 3 x 256
    # PR #13109's log: 59.75 GiB / (116,023 blocks x 16) = 34,560 B a token = 27 layers x 1280 B
    m = vllm_memory(cfg, 10 * 2**30, context=8192, gpu_memory_bytes=round(79.22 * 2**30), engine="v0",
                    release=(0, 7, 3))
    assert m.layout.page_bytes == 64 * 1280
    # 0.8.0's cache_engine.py pads nothing (a DeepSeek-V2.5 log of 0.8.3: 552,960 B a CPU block of 30
    # layers = 30 × 16 × 576 × 2 B); neither did 0.7.1, before PR #12676; the v0 family's default is 0.10.2
    for release in ((0, 8, 0), (0, 7, 1), None):
        m = vllm_memory(cfg, 10 * 2**30, context=8192, gpu_memory_bytes=round(79.22 * 2**30), engine="v0",
                        release=release)
        assert m.layout.page_bytes == 64 * 1152, release


def test_mla_down_projections_are_whole_on_every_rank():
    cfg = _open("kimi-k2.5.config.json").config
    assert cfg is not None and cfg.is_mla
    routers = 60 * 7168 * 384
    mla = 61 * 7168 * (1536 + 512 + 64)
    assert replicated_weight_bytes(cfg, 8, DType.BF16) == (routers + mla) * 2
    assert replicated_weight_bytes(cfg, 1, DType.BF16) == 0


def test_the_ssm_state_takes_the_configs_type_and_align_mode_two_blocks():
    cfg = _open("qwen3.5-9b.config.json").config
    assert cfg is not None and cfg.extra.get("mamba_ssm_dtype") == "float32"
    p = vllm_params(cfg, context=65536, batch=1, kv_type=DType.F8_E4M3, dtype=DType.BF16,
                    gpu_memory_bytes=None, gpu_memory_utilization=None, block_size=None,
                    max_num_batched_tokens=None, max_num_seqs=None, cuda_graphs=True, tensor_parallel=1,
                    engine="v1-0.16")
    # Qwen3.5-9B: 32 value heads x 128 x 128 float32 + 8192 x 3 bf16 (0.18's "attention block 1056")
    assert hybrid_state_bytes(cfg, p) == 32 * 128 * 128 * 4 + 8192 * 3 * 2
    assert MAMBA_BLOCKS_PER_REQUEST["v1-0.16"] == MAMBA_BLOCKS_PER_REQUEST["v1"] == 2
    assert "v1-early" not in MAMBA_BLOCKS_PER_REQUEST  # 0.10.2's Qwen3-Next log: one
    kw = dict(context=65536, kv_type=DType.F8_E4M3, engine="v1-0.16", gpu_memory_bytes=round(44.42 * 2**30),
              gpu_memory_utilization=0.9)
    m = vllm_memory(cfg, 17 * 2**30, prefix_caching=True, **kw)
    assert m.params.block_size == 1056
    assert m.layout.blocks_per_request == 63 + 3 * 2
    # without prefix caching (a hybrid model's default), one state block a group: 0.19's 1258 / 500
    assert vllm_memory(cfg, 17 * 2**30, **kw).layout.blocks_per_request == 63 + 3


def test_mrope_caches_four_times_the_positions_and_rope_parameters_are_read():
    vl = _open("qwen2.5-vl-7b-instruct.config.json").config
    assert vl is not None
    assert rope_positions(vl, vl.extra["rope_scaling"]) == 4 * vl.context_length
    qwen35 = _open("qwen3.5-9b.config.json").config
    assert qwen35 is not None and "rope_parameters" in qwen35.extra
    # partial rotary 0.25 of 256 and M-RoPE's 4 x 262144 positions, bf16
    assert rope_cache_bytes(qwen35, DType.BF16) == 4 * 262144 * 64 * 2


# --- SGLang ----------------------------------------------------------------------------------------

def test_a_multimodal_fraction_by_build():
    # Kimi-K2.5's MoonViT, 27 blocks of 1152: SGLang 0.5.8 printed 0.8260405859375 = 0.908 x this
    assert vlm_fraction_factor((27, 1152), "current") * 0.908 == pytest.approx(0.8260405859375, abs=1e-12)
    assert vlm_fraction_factor((27, 1152), "early-2025") == 0.95
    assert vlm_fraction_factor((200, 4096), "current") == pytest.approx(0.95 * 0.8)  # clamped
    assert vlm_fraction_factor((1, 64), "current") == pytest.approx(0.95 * 1.05)
    gemma = _open("gemma-3-4b-text.config.json")
    assert vision_tower(gemma) == (27, 1152)
    assert vision_tower(paramscope.open_model("llama-3.1-8b")) is None
    # early 2025: the given 0.88 taken as 0.836; later builds leave a given fraction alone
    kw = dict(context=4096, gpu_memory_bytes=round(139.81 * 2**30), mem_fraction_static=0.88,
              vision=(27, 1152))
    cfg, weights = gemma.config, gemma.tensor_bytes
    assert cfg is not None
    assert sglang_memory(cfg, weights, build="early-2025", **kw).mem_fraction_static == pytest.approx(0.836)
    assert sglang_memory(cfg, weights, build="current", **kw).mem_fraction_static == 0.88


def test_sglang_keeps_gemma3_rope_caches_unscaled():
    cfg = _open("gemma-3-4b-text.config.json").config
    assert cfg is not None
    # two caches of 131072 x 256 (global and local bases), where vLLM scales the global one x 8; in the
    # early-2025 builds of PR #4826's log in bf16, float32 on CUDA since (round 12)
    assert sglang_rope_cache_bytes(cfg, DType.BF16, build="early-2025") == 2 * 131072 * 256 * 2
    assert sglang_rope_cache_bytes(cfg, DType.BF16) == 2 * 131072 * 256 * 4
    assert rope_cache_bytes(cfg, DType.BF16) == (8 + 1) * 131072 * 256 * 2


def test_a_wrapper_without_a_row_takes_its_text_models():
    cfg = _open("kimi-k2.5.config.json").config
    assert cfg is not None
    assert (cfg.family, cfg.architecture, cfg.is_mla, cfg.kv_lora_rank, cfg.n_experts) == (
        "deepseek_v3", "KimiK25ForConditionalGeneration", True, 512, 384)
