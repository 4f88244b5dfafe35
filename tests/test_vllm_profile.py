"""The vLLM profile against hand-computed cases.

Every expected number below is worked out in the comment beside it from vLLM's formulas
(vllm/v1/kv_cache_interface.py, vllm/v1/core/kv_cache_utils.py, vllm/v1/worker/gpu_worker.py), never by
calling the code under test. No GPU and no vLLM are needed.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from builders.real_configs import FIXTURES
from paramscope.analyses.sizing.runtimes.common import CUDA_CONTEXT_BYTES, NCCL_BYTES, NCCL_PCIE_BYTES
from paramscope.analyses.sizing.runtimes.vllm.engine import default_max_model_len
from paramscope.analyses.sizing.runtimes.vllm.kv import group_size
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    DEVICE_LEVEL_NON_TORCH_BYTES,
    GRAPH_BYTES_PER_LAYER_SIZE,
    GRAPH_ESTIMATE,
    NCCL_PROFILE_BYTES,
    NON_TORCH_BYTES,
    V0_INCREASE_BYTES,
    V0_NON_TORCH_BYTES,
    forward_peak,
    fused_moe_width,
    graph_estimate_bytes,
)
from paramscope.analyses.sizing.runtimes.vllm.weights import (
    expert_fraction,
    kv_heads_per_rank,
    rope_cache_bytes,
)
from paramscope.errors import UnsupportedError, UsageError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

GIB = 1 << 30
MIB = 1 << 20


def config(**kw) -> ArchConfig:
    base = dict(family="llama", architecture="LlamaForCausalLM", n_layers=32, hidden_size=4096, n_heads=32,
                n_kv_heads=8, head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256,
                context_length=131072)
    return ArchConfig(**{**base, **kw})


# Llama 3.1 8B: 32 layers, 8 KV heads × 128, 8,030,261,248 parameters in bf16
LLAMA = config()
LLAMA_WEIGHTS = 8_030_261_248 * 2  # 16,060,522,496 B
# Gemma 3 270M: 15 sliding layers (window 512), 3 full; one KV head of 256
GEMMA = config(family="gemma3", architecture="Gemma3ForCausalLM", n_layers=18, hidden_size=640, n_heads=4,
               n_kv_heads=1, head_dim_k=256, head_dim_v=256, ffn_size=2048, vocab_size=262144,
               context_length=32768, sliding_window=512,
               layer_types=tuple("full" if (il + 1) % 6 == 0 else "sliding" for il in range(18)))
# DeepSeek-V3: 61 layers, MLA with kv_lora_rank 512 + rope 64; qk 128 + 64 = 192, v 128
DEEPSEEK = config(family="deepseek_v3", architecture="DeepseekV3ForCausalLM", n_layers=61, hidden_size=7168,
                  n_heads=128, n_kv_heads=128, head_dim_k=192, head_dim_v=128, ffn_size=18432,
                  vocab_size=129280, context_length=163840, n_experts=256, n_experts_per_token=8,
                  n_shared_experts=1, n_dense_layers=3, expert_ffn_size=2048, kv_lora_rank=512,
                  rope_head_dim=64)


# --- KV: pages, blocks, rounding ----------------------------------------------------------------

def test_llama_kv_needed_at_8192():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192)
    # page = 16 tokens × (1024 + 1024) values × 2 B; 8192 / 16 = 512 blocks; 32 × 8192 × 4096 B = 1 GiB
    assert m.layout.page_bytes == 65_536
    assert m.layout.group_size == 32 and m.layout.groups == {"full": 1}
    assert m.layout.blocks_per_request == 512
    assert m.kv_needed_bytes == 1_073_741_824
    assert m.kv_padding_bytes == 0


def test_blocks_round_up_per_sequence():
    # 8193 tokens need 513 blocks of 16 = 8208 cells per layer, for each sequence separately
    one = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8193)
    assert one.layout.blocks_per_request == 513
    assert one.kv_needed_bytes == 32 * 8208 * 4096 == 1_075_838_976
    four = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8193, batch=4)
    assert four.kv_needed_bytes == 4 * 1_075_838_976


def test_block_size_changes_rounding():
    # block 32: 8193 tokens → 257 blocks = 8224 cells
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8193, block_size=32)
    assert m.kv_needed_bytes == 32 * 8224 * 4096
    assert m.layout.page_bytes == 32 * 2048 * 2


def test_fp8_cache_halves_the_page():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, kv_type=DType.F8_E4M3)
    assert m.layout.page_bytes == 16 * 2048 * 1
    assert m.kv_needed_bytes == 536_870_912


def test_sliding_window_blocks():
    # SlidingWindowSpec with one chunk in flight (async scheduling off, or a release before 0.26):
    # cdiv(min(512 − 1 + 8192, 32768), 16) + 1 = cdiv(8703, 16) + 1 = 545 blocks; full layers: 32768 / 16
    # = 2048 blocks. With async scheduling (0.26's default) two chunks: cdiv(16895, 16) + 1 = 1057
    assert vllm_memory(GEMMA, 536_223_744, context=32768).layout.blocks == {"sliding": 1057, "full": 2048}
    m = vllm_memory(GEMMA, 536_223_744, context=32768, async_scheduling=False)
    assert m.layout.blocks == {"sliding": 545, "full": 2048}
    # groups of 3 layers (the 3 full ones): 1 full group, 5 sliding groups, no padding
    assert m.layout.group_size == 3
    assert m.layout.groups == {"sliding": 5, "full": 1}
    assert m.layout.blocks_per_request == 2048 + 5 * 545 == 4773
    # 3 × 32768 × 1024 B + 15 × 545·16 × 1024 B
    assert m.kv_needed_bytes == 100_663_296 + 15 * 8720 * 1024 == 234_602_496


def test_sliding_window_capped_by_context():
    # context 4096 < window − 1 + max_num_batched_tokens: min(8703, 4096) = 4096 → 256 + 1 blocks
    m = vllm_memory(GEMMA, 536_223_744, context=4096)
    assert m.layout.blocks["sliding"] == 257


def test_sliding_window_follows_max_num_batched_tokens():
    # a chunk of 512 new tokens behind a 511-token window: cdiv(1023, 16) + 1 = 65 blocks; two in flight
    # (async scheduling): cdiv(1535, 16) + 1 = 97
    kw = dict(context=32768, max_num_batched_tokens=512, max_num_seqs=256)
    assert vllm_memory(GEMMA, 536_223_744, async_scheduling=False, **kw).layout.blocks["sliding"] == 65
    assert vllm_memory(GEMMA, 536_223_744, **kw).layout.blocks["sliding"] == 97


def test_group_size_rules():
    assert group_size({"full": 32}) == 32  # one kind: one group of every layer
    assert group_size({"sliding": 15, "full": 3}) == 3  # 5:1 → the smaller count
    assert group_size({"sliding": 12, "full": 13}) == 13  # within 1.5×: the larger (gpt-oss-20b + eagle)
    assert group_size({"sliding": 10, "full": 4}) == 4


def test_hybrid_padding_layers():
    # 4 full + 10 sliding: groups of 4 → 3 sliding groups = 12 slots, 2 of them padding
    cfg = replace(GEMMA, n_layers=14, layer_types=("full",) * 4 + ("sliding",) * 10)
    m = vllm_memory(cfg, 1, context=32768, batch=2, async_scheduling=False)
    assert m.layout.groups == {"full": 1, "sliding": 3}
    # padding: 2 layers × 2 seqs × 545·16 cells × 1024 B
    assert m.kv_padding_bytes == 2 * 2 * 8720 * 1024
    assert m.kv_needed_bytes == 2 * (4 * 32768 + 10 * 8720) * 1024 + m.kv_padding_bytes


def test_mla_one_latent_per_token():
    # MLA: one entry of 512 + 64 per token per layer, no V; FlashMLA's block size 64 by default
    m = vllm_memory(DEEPSEEK, 1, context=4096)
    assert m.params.block_size == 64
    assert m.layout.page_bytes == 64 * 576 * 2 == 73_728
    assert m.kv_needed_bytes == 61 * 4096 * 1152 == 287_834_112


def test_mla_is_not_split_by_tensor_parallel():
    one = vllm_memory(DEEPSEEK, 8 * GIB, context=4096)
    eight = vllm_memory(DEEPSEEK, 8 * GIB, context=4096, tensor_parallel=8)
    assert eight.kv_needed_bytes == one.kv_needed_bytes
    # the 58 MoE layers' routers (7168 × 256, bf16) and the 61 layers' MLA down-projections (here only
    # kv_a_proj_with_mqa, to 512 + 64: this config has no q_lora_rank) stay whole on every rank
    # (ReplicatedLinear)
    routers = 58 * 7168 * 256 * 2 + 61 * 7168 * (DEEPSEEK.q_lora_rank + 512 + 64) * 2
    assert eight.weights_bytes == (8 * GIB - routers) // 8 + routers + rope_cache_bytes(DEEPSEEK, DType.BF16)
    assert one.weights_bytes == 8 * GIB + rope_cache_bytes(DEEPSEEK, DType.BF16)


def test_gpt_oss_rope_cache_is_float32():
    """gpt_oss.py builds its rotary embedding with dtype=torch.float32: 131072 × 64 × 4 B."""
    gpt_oss = replace(DEEPSEEK, architecture="GptOssForCausalLM", kv_lora_rank=0, rope_head_dim=0,
                      head_dim_k=64, head_dim_v=64, context_length=131072)
    assert rope_cache_bytes(gpt_oss, DType.BF16) == 131072 * 64 * 4


@pytest.mark.parametrize(("name", "rotary"), [("zai-org__GLM-4-32B-0414.json", 64),
                                              ("microsoft__phi-2.json", 32),
                                              ("mlc-llm-preset__stablelm-2-zephyr-1_6b.json", 16)])
def test_rope_cache_holds_only_the_rotated_part_of_a_head(name, rotary):
    """get_rope narrows rotary_dim to int(head_size × partial_rotary_factor): GLM-4-0414 rotates half of
    its 128-wide heads (64), Phi-2 0.4 of 80 (32), StableLM 2 a quarter of 64 (16)."""
    import json
    from pathlib import Path

    from paramscope.knowledge.families import arch_config_from_hf

    path = Path(__file__).parent / "fixtures/configs" / name
    cfg = arch_config_from_hf(json.loads(path.read_text()))
    assert rope_cache_bytes(cfg, DType.BF16) == cfg.context_length * rotary * 2


@pytest.mark.parametrize(("config", "expected"), [
    # Gemma 3 1B: the global layers' cache (θ 1e6, no scaling) and the sliding layers' own (θ 10000):
    # 2 × 32768 × 256 × 2 B (vllm/eole-gemma3-1b-*: 1.9148 GiB printed, 16 MiB more than one cache gives)
    ("gemma-3-1b", 2 * 32768 * 256 * 2),
    # Gemma 3 4B: global linear-scaled × 8 (LinearScalingRotaryEmbedding: 131072 × 8 positions), local not
    ("gemma-3-4b-text", (131072 * 8 + 131072) * 256 * 2),
    # deepseek-coder-6.7b: linear × 4 over 16384 positions
    ("deepseek-coder-6.7b-instruct", 16384 * 4 * 128 * 2),
])
def test_rope_caches_one_per_distinct_config_at_their_scaled_length(config, expected):
    from pathlib import Path

    path = Path(__file__).parent / "fixtures/engine_logs/configs" / f"{config}.config.json"
    cfg = paramscope.open_model(str(path)).config
    assert rope_cache_bytes(cfg, DType.BF16) == expected


def test_rope_positions_by_scaling_type():
    from paramscope.analyses.sizing.runtimes.vllm.weights import rope_positions

    cfg = replace(LLAMA, context_length=40960)
    assert rope_positions(cfg, None) == 40960
    assert rope_positions(cfg, {"rope_type": "llama3", "factor": 8.0}) == 40960
    assert rope_positions(cfg, {"type": "dynamic", "factor": 2.0}) == 81920
    # YaRN caches original_max_position × factor (Qwen3's recipe: 32768 × 4)
    assert rope_positions(cfg, {"rope_type": "yarn", "factor": 4.0,
                                "original_max_position_embeddings": 32768}) == 131072
    # LongRoPE: the short cache (original) and the long one, concatenated
    assert rope_positions(cfg, {"type": "longrope", "original_max_position_embeddings": 4096}) == 45056


def test_default_utilization_by_family():
    # current releases reserve 0.92 of the GPU when none is given, the earlier families 0.9
    for engine, util in (("v1", 0.92), ("v1-0.16", 0.9), ("v1-early", 0.9), ("v0", 0.9)):
        m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, engine=engine)
        assert m.params.gpu_memory_utilization == util
        assert m.pool is not None and m.pool.reserved_bytes == int(80 * GIB * util)


def test_v0_non_torch_by_release():
    # 0.7 to 0.10 measure the increase over a baseline snapshot (0.05-0.09 GiB at TP 1 on six logs; with
    # TP, V1's 0.16); 0.6.4 to 0.6.x the device's whole non-torch memory (10517-*: 0.35 GiB)
    seven = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0")
    seven_tp = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0", tensor_parallel=2)
    six = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0-0.6")
    assert seven.non_torch_bytes == V0_INCREASE_BYTES and seven_tp.non_torch_bytes == NON_TORCH_BYTES
    assert six.non_torch_bytes == V0_NON_TORCH_BYTES


# --- tensor parallelism ----------------------------------------------------------------------------

@pytest.mark.parametrize(("tp", "heads"), [(1, 8), (2, 4), (4, 2), (8, 1), (16, 1), (32, 1)])
def test_kv_heads_per_rank(tp, heads):
    # split while 8 KV heads divide; replicated (one per rank) once there are more ranks than heads
    assert kv_heads_per_rank(LLAMA, tp) == heads


@pytest.mark.parametrize("tp", [3, 5, 64])
def test_tensor_parallel_refusals(tp):
    # 32 heads % 3, % 5 ≠ 0; 64 ranks do not divide 32 attention heads
    with pytest.raises(UnsupportedError, match="tensor_parallel"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, tensor_parallel=tp)


def test_tensor_parallel_divides_weights_and_kv():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, tensor_parallel=2)
    # 16,060,522,496 / 2 + the RoPE cache, which every rank keeps whole
    assert m.weights_bytes == 8_030_261_248 + 33_554_432
    assert m.kv_needed_bytes == 1_073_741_824 // 2
    # 16 ranks: 8 KV heads replicated, one per rank → 1/8 of the cache each
    assert vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, tensor_parallel=16).kv_needed_bytes == 134_217_728


# --- weights, activations, constants ---------------------------------------------------------------

def test_weights_include_rope_cache():
    # cos_sin_cache 131072 positions × 128 × 2 B = 32 MiB; vLLM logs "Loading model weights took
    # 14.9888 GB" for Llama 3.1 8B: (16,060,522,496 + 33,554,432) / 2^30 = 14.9888
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192)
    assert rope_cache_bytes(LLAMA, DType.BF16) == 33_554_432
    assert m.weights_bytes == 16_094_076_928
    assert f"{m.weights_bytes / GIB:.4f}" == "14.9888"


def test_activation_sampler_dominates_with_1024_seqs():
    # forward: 8192 × (3 × 4096 + 3 × 14336) × 2 = 905,969,664
    # sampler: 8192 × 4096 × 2 + 1024 × 128256 × (2 + 4 + 4 + 8 + 4) = 67,108,864 + 2,889,351,168
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192)
    assert m.activation_bytes == 2_956_460_032
    # before 0.21 the sort-based sampler: 67,108,864 + 1024 × 128256 × (2 + 36) = 5,057,806,336
    early = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v1-early")
    assert early.activation_bytes == 5_057_806_336


def test_v1_09_counts_nccl_inside_the_budget():
    # V1 of 0.9.2–0.10 took its memory snapshot before NCCL (PR #25359 moved it after): at TP 2 the NCCL
    # buffers leave the outside share and join the non-torch memory the budget pays for
    gpu = 80 * 2**30
    early = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v1-early", tensor_parallel=2,
                        gpu_memory_bytes=gpu)
    old = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v1-0.9", tensor_parallel=2,
                      gpu_memory_bytes=gpu)
    # (from 0.11 the profile run still allocates NCCL_PROFILE_BYTES of NCCL inside the budget)
    assert old.non_torch_bytes - early.non_torch_bytes == NCCL_BYTES - NCCL_PROFILE_BYTES
    # (the graphs outside the budget differ too: 0.11 and later add FULL graphs, captured_graphs)
    assert (early.cuda_context_bytes - early.captured_graph_bytes
            - (old.cuda_context_bytes - old.captured_graph_bytes)) == NCCL_BYTES - NCCL_PROFILE_BYTES
    assert early.pool is not None and old.pool is not None
    assert early.pool.available_bytes - old.pool.available_bytes == NCCL_BYTES - NCCL_PROFILE_BYTES
    # one GPU: no NCCL, the two families agree
    one = [vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine=e, gpu_memory_bytes=gpu)
           for e in ("v1-early", "v1-0.9")]
    assert one[0].pool == one[1].pool


def test_v1_08_counts_the_cuda_context_inside_the_budget():
    # V1 before 0.9.2 (PR #19312) counted the whole device's non-torch memory: the CUDA context too
    gpu = 80 * 2**30
    for tp in (1, 2):
        kw = dict(context=8192, tensor_parallel=tp, gpu_memory_bytes=gpu)
        newer = vllm_memory(LLAMA, LLAMA_WEIGHTS, engine="v1-0.9", **kw)
        old = vllm_memory(LLAMA, LLAMA_WEIGHTS, engine="v1-0.8", **kw)
        assert old.non_torch_bytes - newer.non_torch_bytes == CUDA_CONTEXT_BYTES
        assert newer.cuda_context_bytes - old.cuda_context_bytes == CUDA_CONTEXT_BYTES
        assert old.overhead_bytes == newer.overhead_bytes
        assert newer.pool is not None and old.pool is not None
        assert newer.pool.available_bytes - old.pool.available_bytes == CUDA_CONTEXT_BYTES


def test_pcie_only_gpus_take_the_smaller_nccl_estimate():
    # NCCL over PCIe only (no NVLink channels, LL128 or NVLS; no custom all-reduce beyond two GPUs)
    gpu = 24 * 2**30
    kw = dict(context=8192, engine="v1-0.8", tensor_parallel=2, gpu_memory_bytes=gpu)
    nvlink = vllm_memory(LLAMA, LLAMA_WEIGHTS, nvlink=True, **kw)
    pcie = vllm_memory(LLAMA, LLAMA_WEIGHTS, nvlink=False, **kw)
    assert nvlink.non_torch_bytes - pcie.non_torch_bytes == NCCL_BYTES - NCCL_PCIE_BYTES
    assert nvlink.pool is not None and pcie.pool is not None
    assert pcie.pool.available_bytes - nvlink.pool.available_bytes == NCCL_BYTES - NCCL_PCIE_BYTES
    # one GPU: no NCCL at all, the interconnect does not matter
    one = [vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=gpu, nvlink=n)
           for n in (True, False)]
    assert one[0].pool == one[1].pool


def test_flashinfer_sampler_holds_8_bytes_per_logit():
    # V1 with FlashInfer's top-k/top-p kernel: the fp32 logits and the softmax probabilities only
    # sampler: 8192 × 4096 × 2 + 1024 × 128256 × (2 + 4 + 4) = 67,108,864 + 1,313,341,440
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v1-0.8", flashinfer_sampler=True)
    assert m.activation_bytes == 1_380_450_304
    # V0 never samples with it: the flag changes nothing there
    v0 = [vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0", flashinfer_sampler=f)
          for f in (True, False)]
    assert v0[0].activation_bytes == v0[1].activation_bytes


def test_activation_forward_dominates_with_256_seqs():
    # sampler: 67,108,864 + 256 × 128256 × 22 = 789,446,656 < forward 905,969,664
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, max_num_seqs=256)
    assert m.activation_bytes == 905_969_664


# Qwen3-235B-A22B: 94 MoE layers, 128 experts (8 per token) of ffn 1536, hidden 4096, no dense layer
QWEN3_MOE = config(family="qwen3_moe", architecture="Qwen3MoeForCausalLM", n_layers=94, hidden_size=4096,
                   n_heads=64, n_kv_heads=4, head_dim_k=128, head_dim_v=128, ffn_size=12288,
                   vocab_size=151936, context_length=262144, n_experts=128, n_experts_per_token=8,
                   expert_ffn_size=1536)


def test_moe_forward_holds_the_fused_kernels_caches():
    # TP 4: N = 2 × 1536 / 4 = 768 rows of w1 per rank, K = 4096; V1 (cache1 and cache3 share a buffer):
    # 8 × (max(768, 4096) + 384) = 35,840 values a token beside 3 × 4096: 8192 × 48,128 × 2 B
    m = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                    max_num_batched_tokens=8192)
    assert m.activation_bytes == 788_529_152
    # V0 before PR #13625 held the three caches apart: 8 × (768 + 384 + 4096) = 41,984 values a token
    v0 = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                     max_num_batched_tokens=8192, engine="v0", chunked_prefill=True, release=(0, 7, 3))
    assert v0.activation_bytes == 8192 * (3 * 4096 + 41_984) * 2
    # V0 of 0.8 to 0.10 runs the same fused_experts_impl as V1: the shared buffer
    v08 = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                      max_num_batched_tokens=8192, engine="v0", chunked_prefill=True, release=(0, 8, 5))
    assert v08.activation_bytes == 788_529_152


def test_moe_caches_are_sized_for_one_chunk():
    # 65536 batched tokens: the fused MoE kernel works in chunks of VLLM_FUSED_MOE_CHUNK_SIZE (16384 from
    # 0.11, 32768 before) and sizes its caches for one. TP 4: 3 × 4096 hidden values for every token, and
    # the caches of 16384 tokens × 35,840 (V1) or 32768 × 41,984 (V0), larger than attention's 4,352 a token
    v1 = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                     max_num_batched_tokens=65536)
    assert forward_peak(QWEN3_MOE, v1.params) == (65536 * 3 * 4096 + 16384 * 35_840) * 2
    v0 = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                     max_num_batched_tokens=65536, engine="v0", chunked_prefill=True, release=(0, 7, 3))
    assert forward_peak(QWEN3_MOE, v0.params) == (65536 * 3 * 4096 + 32768 * 41_984) * 2


def test_moe_without_an_expert_width_takes_the_ffn_width():
    # a Mixtral-style GGUF names experts but no expert width: the FFN width stands for it
    plain = replace(QWEN3_MOE, expert_ffn_size=0, ffn_size=1536)
    params = vllm_memory(QWEN3_MOE, 10 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32).params
    assert fused_moe_width(plain, params) == fused_moe_width(QWEN3_MOE, params) == 8 * (4096 + 384)


def test_expert_parallel_holds_whole_experts():
    # --enable-expert-parallel at TP 4: 32 whole experts of Qwen3-235B's 128 per GPU, so the weights per
    # GPU are the same; the fused kernel's caches span whole experts (N = 2 × 1536) for every token's
    # top-8 slots: 8 × (max(3072, 4096) + 1536) = 45,056 values a token
    split = vllm_memory(QWEN3_MOE, 100 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32)
    ep = vllm_memory(QWEN3_MOE, 100 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32,
                     expert_parallel=True)
    assert ep.model_bytes == split.model_bytes
    assert ep.activation_bytes == 8192 * (3 * 4096 + 45_056) * 2
    assert "expert parallel" in ep.explain[0]
    # a dense model has no experts to place: the flag changes nothing
    dense = [vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, tensor_parallel=2, expert_parallel=e)
             for e in (False, True)]
    assert dense[0].activation_bytes == dense[1].activation_bytes and not dense[1].params.expert_parallel


def test_experts_that_do_not_divide_put_one_more_on_the_first_ranks():
    # 10 experts over 4 ranks: 3, 3, 2, 2 (determine_expert_map); the first rank holds half an expert more
    # than an even split
    ten = replace(QWEN3_MOE, n_experts=10)
    m = vllm_memory(ten, 100 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32, expert_parallel=True)
    even = vllm_memory(ten, 100 * GIB, context=32768, tensor_parallel=4, max_num_seqs=32)
    extra = m.model_bytes - even.model_bytes
    shared = 94 * 4096 * 10 * 2  # the routers, whole on every rank
    assert extra == int((100 * GIB - shared) * expert_fraction(ten) / 10 * (3 - 2.5))
    assert 0 < extra < (100 * GIB) / 10


def test_moe_with_dense_layers_takes_the_wider_mlp():
    # DeepSeek-V3 at TP 8: the dense layers' 3 × 18432 / 8 = 6,912 values a token against the experts'
    # 8 × (max(512, 7168) + 256) = 59,392: the experts' caches are the peak's MLP part
    params = vllm_memory(DEEPSEEK, 100 * GIB, context=8192, tensor_parallel=8).params
    assert fused_moe_width(DEEPSEEK, params) == 59_392


def test_cuda_graphs_off():
    on = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192)
    off = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, cuda_graphs=False)
    # the estimate: a base and a rate per layer per captured graph; 1024 sequences capture 51 PIECEWISE
    # sizes (1, 2, 4, 8..248 by 8, 256..512 by 16) and as many FULL ones, over Llama 3.1 8B's 32 layers
    base, rate = GRAPH_ESTIMATE["cuda"]
    graphs = base + rate * 32 * 102
    assert graph_estimate_bytes(LLAMA, on.params) == graphs == 623_710_748
    assert on.compute_bytes - off.compute_bytes == graphs
    assert off.needed_bytes == on.needed_bytes - graphs
    # ROCm's graphs cost about seven times as much a kernel
    rocm = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, platform="rocm")
    assert rocm.cuda_graph_bytes == GRAPH_ESTIMATE["rocm"][0] + GRAPH_ESTIMATE["rocm"][1] * 32 * 102


@pytest.mark.parametrize(("gpu", "tokens", "seqs"), [
    (None, 8192, 1024), (80 * GIB, 8192, 1024), (70 * GIB, 8192, 1024), (48 * GIB, 2048, 256),
])
def test_serve_defaults_by_gpu_size(gpu, tokens, seqs):
    # EngineArgs.get_batch_defaults: ≥ 70 GiB → 8192 / 1024 for `vllm serve`, else 2048 / 256
    p = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=gpu).params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (tokens, seqs)


@pytest.mark.parametrize(("gpu", "tokens", "seqs"), [
    (None, 16384, 1024), (80 * GIB, 16384, 1024), (48 * GIB, 8192, 256),
])
def test_offline_llm_class_defaults_by_gpu_size(gpu, tokens, seqs):
    # UsageContext.LLM_CLASS: 16384 / 1024 on ≥ 70 GiB, else 8192 / 256 (an LLM() script on an H100 logs
    # "Chunked prefill is enabled with max_num_batched_tokens=16384")
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=gpu, entrypoint="llm")
    assert (m.params.max_num_batched_tokens, m.params.max_num_seqs) == (tokens, seqs)
    assert m.explain[0].startswith("LLM() (offline)")
    # the profile's forward holds twice the tokens: 16384 × (3 × 4096 + 3 × 14336) × 2 B on the large GPUs
    if gpu != 48 * GIB:
        assert forward_peak(LLAMA, m.params) == 16384 * (3 * 4096 + 3 * 14336) * 2
    # the V0 engine's defaults do not depend on the entrypoint
    v0 = [vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=gpu, engine="v0", entrypoint=e)
          .params.max_num_batched_tokens for e in ("serve", "llm")]
    assert v0[0] == v0[1]


def test_unknown_entrypoint_is_refused():
    with pytest.raises(UnsupportedError, match="entrypoint"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, entrypoint="grpc")


# the worked example of docs/runtimes.md 1.5 follows the v1 family before the device-level measure (0.21 to
# 0.26: non-torch NON_TORCH_BYTES) on model runner V1 (0.26 runs Llama on V2 by default, which takes no graph
# estimate: test_vllm_model_runner.py); test_device_level_measure_from_0_27 checks what 0.27 changed
V026 = (0, 26, 0)


def test_total_without_gpu_is_the_sum():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, release=V026, model_runner="v1")
    assert m.pool is None and m.fits
    # 16,094,076,928 + 1,073,741,824 + 2,956,460,032 + CUDA graphs (102 captured: 623,710,748) + non-torch
    # + CUDA context
    expected = (16_094_076_928 + 1_073_741_824 + 2_956_460_032 + 623_710_748 + NON_TORCH_BYTES
                + CUDA_CONTEXT_BYTES)
    assert m.cuda_graph_bytes == 623_710_748
    assert m.total_bytes == m.needed_bytes == expected == 21_452_632_604
    assert m.kv_cache_bytes == m.kv_needed_bytes


# --- the pool on a given GPU -----------------------------------------------------------------------

def test_reservation_and_pool_on_80_gib():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                    release=V026, model_runner="v1")
    pool = m.pool
    # 85,899,345,920 × 0.9 = 77,309,411,328 reserved
    assert pool.reserved_bytes == 77_309_411_328
    # − weights 16,094,076,928 − activation 2,956,460,032 − non-torch − CUDA graphs (623,710,748) =
    # 57,467,391,460
    assert pool.available_bytes == 77_309_411_328 - 19_842_019_868 == 57_467_391_460
    # 57,467,391,460 // 65,536 // 32 layers = 27,402 blocks → 438,432 tokens
    assert pool.num_blocks == 27_402
    assert pool.tokens == 438_432
    assert pool.pool_bytes == 27_402 * 65_536 * 32
    # 27,402 blocks / 512 per request
    assert pool.max_concurrency == pytest.approx(53.5195, abs=1e-4)
    assert "Maximum concurrency for 8,192 tokens per request: 53.52x" in m.explain
    # budget: the whole reservation plus the CUDA context outside it
    assert m.total_bytes == 77_309_411_328 + CUDA_CONTEXT_BYTES
    assert m.kv_cache_bytes == pool.pool_bytes
    assert m.fits


def test_utilization_scales_the_reservation():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB,
                    gpu_memory_utilization=0.5, release=V026, model_runner="v1")
    assert m.pool.reserved_bytes == 40 * GIB
    assert m.pool.available_bytes == 40 * GIB - 19_842_019_868


def test_small_gpu_uses_small_defaults_and_limits_concurrency():
    # 24 GiB: max_num_batched_tokens 2048, max_num_seqs 256; activation = sampler
    # 2048 × 4096 × 2 + 256 × 128256 × 22 = 739,115,008 (forward: 226,492,416)
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=32768, gpu_memory_bytes=24 * GIB,
                    gpu_memory_utilization=0.9, release=V026, model_runner="v1")
    assert m.activation_bytes == 739_115_008
    # int(25,769,803,776 × 0.9) = 23,192,823,398; − 17,541,996,572 (the graphs: 86 captured, 541,032,476)
    # = 5,650,826,826 → 2694 blocks
    assert m.pool.available_bytes == 5_650_826_826
    assert m.pool.num_blocks == 2694
    # 32768 tokens = 2048 blocks per request: 1.32 at once
    assert m.pool.max_concurrency == pytest.approx(2694 / 2048)
    assert m.fits
    two = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=32768, batch=2, gpu_memory_bytes=24 * GIB)
    assert not two.fits
    assert any("2 requests at once" in line for line in two.explain)


def test_gpu_too_small():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=16 * GIB)
    assert m.pool.available_bytes < 0 and m.pool.num_blocks == 0
    assert not m.fits
    assert any("no available memory" in line for line in m.explain)
    # short by the negative memory left plus the 512 blocks × 2 MiB one request of 8192 tokens needs
    assert m.shortfall_bytes == -m.pool.available_bytes + 512 * 65_536 * 32
    assert any(line.startswith(f"does not fit: the reservation is {m.shortfall_bytes:,} B")
               for line in m.explain)


def test_shortfall_is_the_missing_blocks():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=131072, gpu_memory_bytes=24 * GIB)
    missing = m.layout.blocks_per_request - m.pool.num_blocks
    assert m.shortfall_bytes == missing * m.layout.block_bytes > 0
    assert vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB).shortfall_bytes == 0


# --- engine families, options ------------------------------------------------------------------------

@pytest.mark.parametrize(("context", "chunked", "tokens"), [
    (20000, None, 20000), (1000, None, 2048), (40000, None, 2048), (40000, False, 40000), (8192, True, 2048),
])
def test_v0_profiles_a_whole_prompt_unless_chunked(context, chunked, tokens):
    # V0: max_num_batched_tokens = max(max_model_len, 2048) without chunked prefill, which turns itself
    # on above 32768 tokens with 2048-token chunks; max_num_seqs 256
    p = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=context, engine="v0", chunked_prefill=chunked).params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (tokens, 256)


def test_v1_early_keeps_the_graphs_outside_the_budget():
    # before 0.21 vLLM captured CUDA graphs after sizing the cache: they are not taken from the budget
    # (one sequence: the forward is the activation peak of both, whatever their samplers take)
    now = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, max_num_seqs=1,
                      gpu_memory_utilization=0.9)
    early = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, max_num_seqs=1,
                        engine="v1-early")
    # the estimate of 3 graphs (below) of 32 layers
    assert now.cuda_graph_bytes == graph_estimate_bytes(LLAMA, now.params) == (
        GRAPH_ESTIMATE["cuda"][0] + GRAPH_ESTIMATE["cuda"][1] * 32 * 3)
    assert early.pool.available_bytes - now.pool.available_bytes == now.cuda_graph_bytes + (
        DEVICE_LEVEL_NON_TORCH_BYTES - NON_TORCH_BYTES)  # and 0.27's device-level measure
    # captured afterwards, outside the reservation: one sequence captures batch sizes 1 and 2 piecewise and
    # 1 whole (FULL), 3 graphs of 32 layers (captured_graph_bytes)
    assert early.captured_graph_bytes == 3 * 32 * GRAPH_BYTES_PER_LAYER_SIZE[False]
    assert early.cuda_context_bytes - now.cuda_context_bytes == early.captured_graph_bytes
    assert early.total_bytes - now.total_bytes == early.captured_graph_bytes


def test_v0_sampler_only_on_rank_0():
    # V0 gathers the logits to rank 0, which alone samples: 256 × 128256 × (2 + 40) B in 0.6, no hidden
    # states, the same at every tensor-parallel size (10511-*: 1.26 GiB at TP 1 and TP 2); 0.7 to 0.10 take
    # 37 B a logit beyond the logits (cs336-*, pr13109-*, hfcookbook-*, davidshare-phi4-*)
    one = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0-0.6")
    two = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0-0.6", tensor_parallel=2)
    assert one.activation_bytes == two.activation_bytes == 256 * 128256 * 42 == 1_379_008_512
    assert vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0").activation_bytes == 256 * 128256 * 39


def test_v0_forward_of_a_whole_prompt():
    # 20000 × (3 × 4096 + 3 × 14336) × 2 B = 2,211,840,000 B = 2.06 GiB (vLLM printed a peak of 17.06 GiB
    # over 14.99 GiB of weights: 2.07 GiB)
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=20000, engine="v0-0.6")
    assert m.activation_bytes == 2_211_840_000
    # V0 captures CUDA graphs after sizing the cache: outside the budget, with the CUDA context
    # (35 whole-model graphs, batch sizes 1 to 256, for the default 256 sequences)
    assert m.cuda_graph_bytes == 0 and m.captured_graph_bytes == 35 * 32 * GRAPH_BYTES_PER_LAYER_SIZE[False]
    assert m.cuda_context_bytes == CUDA_CONTEXT_BYTES + m.captured_graph_bytes
    assert m.non_torch_bytes == V0_NON_TORCH_BYTES


def test_v1_refuses_chunked_prefill_off_and_v0_a_short_batch():
    with pytest.raises(UnsupportedError, match="V1 engine always chunks"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, chunked_prefill=False)
    with pytest.raises(UnsupportedError, match="must be ≥ max_model_len"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v0", chunked_prefill=False,
                    max_num_batched_tokens=4096)
    with pytest.raises(UnsupportedError, match="unknown vLLM engine family"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, engine="v2")


def test_a100_keeps_the_small_defaults():
    # get_batch_defaults: ≥ 70 GiB but an A100 → 2048 tokens / 256 sequences
    p = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB,
                    gpu_name="NVIDIA A100-SXM4-80GB").params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (2048, 256)


def test_nccl_outside_the_budget_with_tensor_parallelism():
    one = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, release=V026)
    two = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, tensor_parallel=2,
                      release=V026)
    # NCCL's set-up precedes the memory snapshot (outside the reservation); the buffers the profile run's
    # first collectives allocate (NCCL connects lazily) are non-torch memory inside it
    assert two.non_torch_bytes - one.non_torch_bytes == NCCL_PROFILE_BYTES
    assert two.cuda_context_bytes - one.cuda_context_bytes == NCCL_BYTES - NCCL_PROFILE_BYTES
    assert two.total_bytes - one.total_bytes == NCCL_BYTES - NCCL_PROFILE_BYTES  # the same reservation
    # vLLM 0.11.0 on H100s (tests/fixtures/engine_logs/vllm/llmd-*): 0.14 GiB at TP 1, 0.54-0.55 at TP 2
    assert 0.53 * GIB < two.non_torch_bytes < 0.57 * GIB


def test_one_request_does_not_fit():
    # a context so long that one request needs more blocks than the pool: vLLM refuses to start
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=131072, gpu_memory_bytes=24 * GIB)
    assert m.pool.num_blocks < m.layout.blocks_per_request
    assert any("vLLM would stop" in line for line in m.explain)


# --- warnings and refusals -------------------------------------------------------------------------

def test_context_beyond_the_model_is_a_warning():
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=200_000)
    assert any(line.startswith("warning: context 200000 exceeds the model's 131072") for line in m.explain)


@pytest.mark.parametrize("kw", [
    dict(gpu_memory_utilization=0), dict(gpu_memory_utilization=1.5), dict(batch=0), dict(context=0),
    dict(block_size=0), dict(kv_type=DType.Q8_0), dict(max_num_batched_tokens=512),
    dict(gpu_memory_bytes=0), dict(max_num_seqs=0),
])
def test_refusals(kw):
    # max_num_batched_tokens 512 < max_num_seqs 1024 is refused by vLLM's SchedulerConfig
    with pytest.raises(UnsupportedError):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, **{"context": 8192, **kw})


def test_linear_layers_are_refused():
    cfg = replace(LLAMA, n_layers=2, layer_types=("full", "linear"),
                  extra={"linear_state_bytes_per_layer": 1000})
    with pytest.raises(UnsupportedError, match="linear"):
        vllm_memory(cfg, 1, context=4096)


# Qwen3-Next-80B-A3B's shapes (tests/fixtures/engine_logs/configs/qwen3-next-80b-a3b-instruct.config.json):
# 48 layers, every 4th full attention (2 KV heads × 256), 36 gated DeltaNet layers whose state is a
# convolution of (16 × 128 × 2 + 32 × 128) = 8192 channels × (4 − 1) and 32 heads × 128 × 128
QWEN3_NEXT = config(family="qwen3_next", architecture="Qwen3NextForCausalLM", n_layers=48, hidden_size=2048,
                    n_heads=16, n_kv_heads=2, head_dim_k=256, head_dim_v=256, ffn_size=5120,
                    vocab_size=151936, context_length=262144,
                    layer_types=("linear", "linear", "linear", "full") * 12, recurrent_layers=36,
                    conv_state_size=8192 * 3, ssm_state_size=32 * 128 * 128)


def test_hybrid_pages_follow_vllm_0102():
    # TP 2, bf16: a state of (24576 + 524288) / 2 × 2 B = 548,864 B per layer per rank; an attention token
    # of 1 head × 256 × (K + V) × 2 B = 1024 B; block 16 × cdiv(548864, 16 × 1024) = 16 × 34 = 544 tokens
    # (the log: "Setting attention block size to 544 tokens"), page 544 × 1024 = 557,056 B, the state padded
    # by 8192 B (1.49 %); groups of 12 layers: 1 of attention, 3 of DeltaNet, each request one block per
    # DeltaNet group and cdiv(262144, 544) = 482 per attention group
    m = vllm_memory(QWEN3_NEXT, 159_348_782_592, context=262144, tensor_parallel=2, engine="v1-0.9",
                    gpu_memory_bytes=round(139.81 * GIB))
    assert m.params.block_size == 544
    assert (m.layout.page_bytes, m.layout.group_size) == (557_056, 12)
    assert m.layout.groups == {"full": 1, "linear": 3}
    assert m.layout.blocks_per_request == 482 + 3
    # 44.59 GiB (what the engine found) // 557,056 // 12 = 7162 blocks = 7162 // 4 × 544 = 973,760 tokens
    # and 7162 / 485 = 14.77x, as printed
    assert 44.59 * GIB // m.layout.page_bytes // m.layout.group_size == 7162


def test_hybrid_block_size_keeps_a_larger_one_asked_for():
    m = vllm_memory(QWEN3_NEXT, 1, context=4096, tensor_parallel=2, block_size=1024)
    assert m.params.block_size == 1024
    assert m.layout.page_bytes == 1024 * 1024


def test_explain_lists_every_part():
    text = "\n".join(vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB,
                                  gpu_memory_utilization=0.9, release=V026, model_runner="v1").explain)
    for word in ("weights:", "RoPE cache", "activation (estimate)",
                 "CUDA graphs in the budget (estimate, 102 graphs × 32 layers)",
                 "KV needed full: 32 layers × 8192 cells", "reservation:", "GPU KV cache size: 438,432"):
        assert word in text


# --- properties ------------------------------------------------------------------------------------

contexts = st.integers(min_value=1, max_value=200_000)
batches = st.integers(min_value=1, max_value=64)


@settings(max_examples=60, deadline=None)
@given(contexts, contexts, batches)
def test_monotonic_in_context(a, b, batch):
    lo, hi = sorted((a, b))
    for cfg in (LLAMA, GEMMA, DEEPSEEK):
        small = vllm_memory(cfg, 10**9, context=lo, batch=batch)
        large = vllm_memory(cfg, 10**9, context=hi, batch=batch)
        assert small.kv_needed_bytes <= large.kv_needed_bytes
        assert small.needed_bytes <= large.needed_bytes


@settings(max_examples=60, deadline=None)
@given(contexts, batches, batches)
def test_monotonic_in_batch(context, a, b):
    lo, hi = sorted((a, b))
    for cfg in (LLAMA, GEMMA, DEEPSEEK):
        small = vllm_memory(cfg, 10**9, context=context, batch=lo)
        large = vllm_memory(cfg, 10**9, context=context, batch=hi)
        assert small.kv_needed_bytes <= large.kv_needed_bytes
        assert large.kv_needed_bytes == hi * (small.kv_needed_bytes // lo)


@settings(max_examples=40, deadline=None)
@given(contexts, contexts)
def test_concurrency_falls_with_context(a, b):
    lo, hi = sorted((a, b))
    small = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=lo, gpu_memory_bytes=80 * GIB).pool
    large = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=hi, gpu_memory_bytes=80 * GIB).pool
    assert small.num_blocks == large.num_blocks  # the pool does not depend on the context
    assert small.max_concurrency >= large.max_concurrency


# --- the V0 engine before 0.6.4: the device's whole used memory as the peak --------------------------

def test_v0_early_counts_nccl_and_v0_2023_the_held_allreduce_inputs():
    """worker.py before 0.6.4: peak = init_gpu_memory − free after the profile, with NCCL created after
    that snapshot; before PR #2151 also two all-reduce inputs per layer, tokens × hidden each, held."""
    def available(engine: str, tp: int) -> int:
        m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=4096, tensor_parallel=tp, engine=engine,
                        gpu_memory_bytes=80 * GIB)
        assert m.pool is not None
        return m.pool.available_bytes

    assert available("v0-0.6", 1) == available("v0-early", 1) == available("v0-2023", 1)
    assert available("v0-0.6", 2) - available("v0-early", 2) == NCCL_BYTES
    # max_num_batched_tokens = max(max_model_len, 2048) = 4096 without chunked prefill
    assert available("v0-early", 2) - available("v0-2023", 2) == 2 * 32 * 4096 * 4096 * 2


# --- max_model_len vLLM derives when none is given ---------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("llama-3.1-8b", 131072),  # rope_type llama3: already the extended length
    ("gpt-oss-120b", 131072),  # yarn: original 4096 × 32
    ("deepseek-v2-lite", 163840),  # yarn: original 4096 × 40
    ("gemma-3-27b", 131072),  # linear × 8, but Gemma 3's 128K is already scaled
    ("qwen3-8b", 40960),  # no RoPE scaling
])
def test_default_max_model_len_of_catalogue_models(name, expected):
    import paramscope

    cfg = paramscope.open_model(name).config
    assert cfg is not None
    assert default_max_model_len(cfg) == expected


def test_default_max_model_len_multiplies_linear_scaling():
    # deepseek-coder-6.7b: 16384 positions with linear RoPE scaling × 4 (vllm/config.py
    # _get_and_verify_max_len): vLLM serves 65536 tokens unless told otherwise
    cfg = config(context_length=16384, extra={"rope_scaling": {"type": "linear", "factor": 4.0}})
    assert default_max_model_len(cfg) == 65536
    assert default_max_model_len(config(context_length=16384)) == 16384


def test_v0_2023_main_counts_only_torch_peak():
    # before PR #2031 the peak was torch.cuda.max_memory_allocated(): no non-torch memory, no NCCL
    gpu = 80 * 2**30
    main = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=4096, engine="v0-2023-main", tensor_parallel=4,
                       gpu_memory_bytes=gpu)
    fixed = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=4096, engine="v0-2023", tensor_parallel=4,
                        gpu_memory_bytes=gpu)
    assert main.non_torch_bytes == 0
    assert fixed.non_torch_bytes > V0_NON_TORCH_BYTES + NCCL_BYTES  # + the held all-reduce inputs
    assert main.pool is not None and fixed.pool is not None
    assert main.pool.available_bytes - fixed.pool.available_bytes == fixed.non_torch_bytes


def test_v1_016_samples_without_the_full_sort():
    # from 0.16 (Triton top-k/top-p kernels, PR #33538) the profile's sampler filters the logits in place:
    # the fp32 copy, the probabilities and the noise, 13 B a logit beside the bf16 logits (four 0.19 logs of
    # 1024 rows on H100s, r13q-*), not the sort's 36 of 0.11–0.15; everything else as "v1-early" (graphs
    # outside the budget)
    gpu = 80 * 2**30
    kw = dict(context=8192, gpu_memory_bytes=gpu, max_num_seqs=1024, max_num_batched_tokens=8192)
    new, old, v1 = (vllm_memory(LLAMA, LLAMA_WEIGHTS, engine=e, **kw) for e in ("v1-0.16", "v1-early", "v1"))
    hidden = 8192 * LLAMA.hidden_size * 2
    assert new.activation_bytes == hidden + 1024 * LLAMA.vocab_size * (2 + 13)
    assert new.activation_bytes < v1.activation_bytes < old.activation_bytes
    assert new.cuda_graph_bytes == old.cuda_graph_bytes == 0 < v1.cuda_graph_bytes


@pytest.mark.parametrize(("name", "vgpu"), [("NVIDIA A40-48Q", True), ("GRID A100D-40C", True),
                                            ("NVIDIA A40", False), ("NVIDIA H100 80GB HBM3", False)])
def test_a_vgpu_profile_says_its_hidden_memory_is_not_predicted(name, vgpu):
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=48 * 2**30, gpu_name=name)
    assert any("vGPU" in line and "not predicted" in line for line in m.explain) == vgpu


def test_awq_before_030_holds_eight_split_k_partials():
    # ops.awq_gemm before PR #2566: 8 partial outputs and their sum at the widest AWQ matmul, gate_up (one
    # sequence, so that the sampler stays below the forward)
    # 2048 × (3 × 4096 + 9 × 2 × 14336) × 2 = 1,107,296,256 > the plain forward's 226,492,416
    kw = dict(context=2048, engine="v0-early", max_num_batched_tokens=2048, max_num_seqs=1)
    plain = vllm_memory(LLAMA, LLAMA_WEIGHTS, **kw)
    awq = vllm_memory(LLAMA, LLAMA_WEIGHTS, awq_split_k=True, **kw)
    assert plain.activation_bytes == 2048 * (3 * 4096 + 3 * 14336) * 2
    assert awq.activation_bytes == 2048 * (3 * 4096 + 9 * 2 * 14336) * 2
    # MoE (mixtral_quant.py): whole experts per rank over every token, so the same at any TP size
    moe = config(n_experts=8, n_experts_per_token=2, expert_ffn_size=14336)
    per_tp = {tp: vllm_memory(moe, LLAMA_WEIGHTS, awq_split_k=True, tensor_parallel=tp, **kw).activation_bytes
              for tp in (1, 2)}
    assert per_tp[1] == per_tp[2] == 2048 * (3 * 4096 + 10 * 14336) * 2


# --- recurrent models the profile sizes, and those it refuses in one line ----------------------------------
def _vllm(name: str, tp: int = 1):
    from paramscope.analyses.sizing.memory import MemoryRequest, estimate
    from paramscope.formats import open_model
    from paramscope.knowledge.hardware import find_device

    model = open_model(str(FIXTURES / name))
    return estimate(model, MemoryRequest(device=find_device("h100"), runtime="vllm", n_devices=tp))


@pytest.mark.parametrize("name", ["mistralai__Mamba-Codestral-7B-v0.1.json",
                                  "state-spaces__mamba-2.8b-hf.json"])
def test_a_pure_ssm_is_refused_not_divided_by_zero(name):
    """No attention layer: no page to hold a state in (it was a ZeroDivisionError in hybrid_block_size)."""
    with pytest.raises(UnsupportedError, match="has no attention layer, so no KV cache"):
        _vllm(name)


@pytest.mark.parametrize("runtime", ["vllm", "sglang"])
def test_an_encoder_is_named_as_one_not_as_attention_free(runtime):
    """BERT-style embedding models attend (both ways) and cache nothing: the engines serve them in their
    pooling runner, which is not modelled; the refusal says so and names the runtimes that size them."""
    from paramscope.app.size import size

    with pytest.raises(UnsupportedError, match=r"is an encoder .* --runtime transformers or llama.cpp"):
        size(str(FIXTURES / "mlc-llm-preset__snowflake-arctic-embed-m.json"), runtime=runtime)
    assert size(str(FIXTURES / "mlc-llm-preset__snowflake-arctic-embed-m.json"), runtime="llama.cpp")


def test_a_parallel_hybrid_is_refused():
    """Falcon-H1: attention and a Mamba-2 state in every layer; vLLM's page layout for it is not modelled
    (it was sized as attention only, its state left out of the page and the blocks)."""
    with pytest.raises(UnsupportedError, match="one kind per layer"):
        _vllm("tiiuae__Falcon-H1-0.5B-Instruct.json")


def test_state_groups_that_do_not_split_over_the_ranks_are_refused():
    """Nemotron-H-47B: 8 Mamba-2 groups split over 2 ranks; Bamba-9B-v2's 1 group does not (vLLM
    replicates it on each rank: more state per rank than the share)."""
    nemotron = _vllm("nvidia__Nemotron-H-47B-Reasoning-128K.json", tp=2)
    assert nemotron.kv_cache_bytes > 0
    with pytest.raises(UnsupportedError, match="state groups do not split"):
        _vllm("ibm-ai-platform__Bamba-9B-v2.json", tp=2)
    assert _vllm("ibm-ai-platform__Bamba-9B-v2.json").kv_cache_bytes > 0


def test_before_mla_the_cache_holds_every_head_padded_to_256():
    # vLLM before 0.7.1 ran DeepSeek-V2 attention as multi-head attention, K and V padded to 256 values per
    # head (pre_mla_attention): PR #10927's "Before" run, DeepSeek-V2-Lite on an H100, 35.42 GiB for 5373
    # blocks of 16 = 442,368 B a token (tests/fixtures/engine_logs/vllm/pr10927-*)
    import paramscope

    cfg = paramscope.open_model("deepseek-v2-lite").config
    assert cfg is not None and cfg.is_mla
    kw = dict(context=8192, gpu_memory_bytes=round(79.10 * 2**30), engine="v0", cuda_graphs=False,
              dtype=DType.F16, release=(0, 7, 3))
    before = vllm_memory(cfg, 31_461_709_185, mla=False, **{**kw, "release": (0, 6, 4)})
    after = vllm_memory(cfg, 31_461_709_185, **kw)
    assert before.params.block_size == 16 and after.params.block_size == 64
    assert before.layout.page_bytes == 16 * 2 * 16 * 256 * 2  # one layer's block: 16 tokens, K and V
    assert before.layout.page_bytes * before.layout.group_size // 16 == 442_368
    # MLA: the latent and the RoPE key, which V0 pads to 256 bytes a token (576 → 640 values: PR #12676)
    assert after.layout.page_bytes == 64 * 640 * 2
    assert vllm_memory(cfg, 31_461_709_185, **{**kw, "engine": "v1"}).layout.page_bytes == 64 * 576 * 2
    assert before.model_bytes == after.model_bytes  # the weights and RoPE cache do not change


def test_named_gptq_keeps_the_zero_points():
    # --quantization gptq named: vLLM's plain GPTQ kernel keeps qzeros (and g_idx); left to itself it picks
    # Marlin, which drops them for a symmetric checkpoint (tests/fixtures/engine_logs/vllm/armlp-*)
    import paramscope
    from paramscope.analyses.sizing.loaded import loaded_weights

    model = paramscope.open_model(str(FIXTURES.parent / "engine_logs" / "configs"
                                      / "mistral-7b-instruct-v0.2-gptq.config.json"))
    from paramscope.analyses.sizing.loaded import EngineBuild

    plain = loaded_weights(model, "vllm", backend="gptq", build=EngineBuild("v1-0.16", (0, 19, 0)))
    # from 0.22 "gptq" names AutoGPTQConfig, whose kernels are chosen as if unnamed
    assert loaded_weights(model, "vllm", backend="gptq").bytes < plain.bytes
    # act-order (desc_act): Marlin keeps g_idx, sorted, and adds its sort indices (an int32 per input row,
    # as g_idx) in the releases that take such checkpoints (before 0.30)
    marlin = loaded_weights(model, "vllm", build=EngineBuild("v1", (0, 29, 0)))
    zeros = sum(t.nbytes for t in model.tensors if t.name.endswith(".qzeros"))
    sort_indices = sum(t.nbytes for t in model.tensors if t.name.endswith(".g_idx"))
    assert plain.bytes == plain.stored_bytes == marlin.bytes + zeros - sort_indices and zeros > 0


def test_device_level_measure_from_0_27():
    """From 0.27.0 the non-KV memory is the device's free memory before minus after (memory_profiling's
    total_consumed) plus the transient: DEVICE_LEVEL_NON_TORCH_BYTES outside torch, and what the allocator
    keeps beyond the weights (device_hole_bytes). Consumed − weights printed at TP 1: 0.26 GiB for Llama
    3.1 8B on an A100 (0.31.0), 0.30 for Qwen2.5-0.5B on an RTX 4090 (0.27.1, 0.05 GiB of holes)."""
    import engine_log_compare
    import engine_logs

    from paramscope.analyses.sizing.runtimes.vllm.weights import device_holes

    kw = dict(context=8192, gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9)
    before = vllm_memory(LLAMA, LLAMA_WEIGHTS, release=(0, 26, 0), **kw)
    after = vllm_memory(LLAMA, LLAMA_WEIGHTS, release=(0, 27, 0), device_hole_bytes=5 * MIB, **kw)
    extra = DEVICE_LEVEL_NON_TORCH_BYTES - NON_TORCH_BYTES + 5 * MIB
    assert after.non_torch_bytes - before.non_torch_bytes == extra
    records = {r.id: r for r in engine_logs.load_all()}
    for rid, printed in (("a100-llama31-8b-default-v0310", 0.26),
                         ("wsl4090-qwen25-05b-llm-class-v0271", 0.30)):
        r = records[rid]
        holes = device_holes(engine_log_compare.open_record_model(r), 1)
        assert abs((DEVICE_LEVEL_NON_TORCH_BYTES + holes) / GIB - printed) < 0.015


def test_explain_says_what_vllm_prints_as_peak_activation_from_0_27():
    """From 0.27 vLLM prints the profile's transient part as 'peak activation' (memory_profiling's
    transient_peak_headroom) and counts what the run leaves allocated as consumed: the explain says so,
    and the KV cache is the same either way."""
    import paramscope

    def lines(release):
        return paramscope.size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release=release).estimate.explain

    said = "transient_peak_headroom"
    assert any(said in line for line in lines("0.27"))
    assert any(said in line for line in lines("0.33"))
    assert not any(said in line for line in lines("0.26"))
    # where vLLM prints no such line: a KV cache given outright (the message needs it unset)
    given = paramscope.size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release="0.30",
                            kv_cache_memory_bytes="20g").estimate.explain
    assert not any(said in line for line in given)


@pytest.mark.parametrize(("platform", "release", "taken"), [
    ("cuda", (0, 21, 0), True), ("rocm", (0, 25, 0), False), ("rocm", (0, 26, 0), True),
    ("xpu", (0, 30, 0), False), ("xpu", (0, 31, 0), True),
])
def test_the_estimate_where_the_profile_runs_it(platform, release, taken):
    # gpu_worker.py: is_cuda() in 0.21-0.25, is_cuda_alike() from 0.26, or is_xpu() from 0.31; elsewhere the
    # graphs are captured after the cache, outside the reservation (asked for model runner V1 here)
    m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=80 * GIB, platform=platform,
                    release=release, model_runner="v1")
    assert (m.cuda_graph_bytes > 0) is taken and (m.captured_graph_bytes > 0) is not taken
    if platform == "rocm" and not taken:  # HIP's captures follow the estimate's rule (vllm/orbit-*: 3.74 GiB)
        assert m.captured_graph_bytes == graph_estimate_bytes(LLAMA, m.params) == (
            GRAPH_ESTIMATE["rocm"][0] + GRAPH_ESTIMATE["rocm"][1] * 32 * 102)


def test_datacentre_blackwell_captures_up_to_1024_from_0_28():
    # config/vllm.py 0.28: 1024 if is_device_capability_family(100) else 512; 1024 sequences: 83 PIECEWISE
    # sizes (1, 2, 4, 8..248 by 8, 256..1024 by 16) and as many FULL ones
    from paramscope.analyses.sizing.runtimes.vllm.profile import captured_graphs

    cases = (("NVIDIA B200", (0, 28, 0), 166), ("NVIDIA B300 SXM6 AC", (0, 30, 0), 166),
             ("NVIDIA B200", (0, 27, 0), 102), ("NVIDIA H100 80GB HBM3", (0, 30, 0), 102))
    for name, release, graphs in cases:
        m = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=180 * GIB, gpu_name=name,
                        release=release, model_runner="v1")
        assert captured_graphs(LLAMA, m.params) == graphs, (name, release)


@pytest.mark.parametrize("gpu", [None, 24 * GIB, 80 * GIB, 180 * GIB])
def test_an_engine_built_in_a_script_takes_the_schedulers_defaults(gpu):
    # AsyncLLMEngine.from_engine_args (UsageContext.ENGINE_CONTEXT): get_batch_defaults has no row for it,
    # so SchedulerConfig's 2048 tokens and 128 sequences, whatever the GPU (vllm/abortdemo-*: FULL graphs up
    # to 128 sequences)
    p = vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, gpu_memory_bytes=gpu, entrypoint="engine",
                    release=(0, 30, 0)).params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (2048, 128)


def test_performance_mode():
    # interactivity: every size from 1 to 32, then the usual steps (r49v-lfm25-*: "PIECEWISE=76
    # (largest=512), FULL=60 (largest=256)" at 256 sequences); throughput: both batch defaults doubled
    from paramscope.analyses.sizing.runtimes.vllm.profile import captured_graphs

    kw = dict(context=8192, gpu_memory_bytes=24 * GIB, release=(0, 26, 0), model_runner="v1")
    interactive = vllm_memory(LLAMA, LLAMA_WEIGHTS, performance_mode="interactivity", **kw).params
    assert captured_graphs(LLAMA, interactive) == 76 + 60
    balanced = vllm_memory(LLAMA, LLAMA_WEIGHTS, **kw).params
    assert captured_graphs(LLAMA, balanced) == 51 + 35
    throughput = vllm_memory(LLAMA, LLAMA_WEIGHTS, performance_mode="throughput", **kw).params
    assert (throughput.max_num_batched_tokens, throughput.max_num_seqs) == (4096, 512)
    given = vllm_memory(LLAMA, LLAMA_WEIGHTS, performance_mode="throughput", max_num_seqs=64, **kw).params
    assert (given.max_num_batched_tokens, given.max_num_seqs) == (4096, 64)  # what is given stays
    with pytest.raises(UsageError, match=r"came with 0\.17"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, performance_mode="throughput", release=(0, 16, 0))
    with pytest.raises(UsageError, match="performance-mode 'fast'"):
        vllm_memory(LLAMA, LLAMA_WEIGHTS, context=8192, performance_mode="fast")
