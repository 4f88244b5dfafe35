"""The transformers profile against hand-computed cases (no torch, no transformers, no GPU needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.runtimes.transformers import (
    CUDA_CONTEXT_BYTES,
    routed_ffn_width,
    transformers_memory,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace


def config(**kw) -> ArchConfig:
    base = dict(family="llama", architecture="LlamaForCausalLM", n_layers=32, hidden_size=4096, n_heads=32,
                n_kv_heads=8, head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256,
                context_length=131072)
    return ArchConfig(**{**base, **kw})


LLAMA = config()
LLAMA_WEIGHTS = 8_030_261_248 * 2
GEMMA = config(family="gemma3", architecture="Gemma3ForCausalLM", n_layers=18, hidden_size=640, n_heads=4,
               n_kv_heads=1, head_dim_k=256, head_dim_v=256, ffn_size=2048, vocab_size=262144,
               context_length=32768, sliding_window=512,
               layer_types=tuple("full" if (il + 1) % 6 == 0 else "sliding" for il in range(18)))
DEEPSEEK = config(family="deepseek_v3", architecture="DeepseekV3ForCausalLM", n_layers=61, hidden_size=7168,
                  n_heads=128, n_kv_heads=128, head_dim_k=192, head_dim_v=128, ffn_size=18432,
                  vocab_size=129280, context_length=163840, n_experts=256, n_experts_per_token=8,
                  n_shared_experts=1, n_dense_layers=3, expert_ffn_size=2048, kv_lora_rank=512,
                  rope_head_dim=64)


def test_llama_sdpa_at_8192():
    m = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=8192)
    # KV: 32 layers × 8192 × (1024 + 1024) × 2 B
    assert m.kv_cache_bytes == 1_073_741_824
    # attention: 8192 × (2·4096 + 2·4096 + 3·1024 + 2·1024 + 4096) × 2 = 419,430,400 + logsumexp 32 × 8192 × 4
    assert m.attention_bytes == 419_430_400 + 1_048_576
    # MLP: 8192 × (2 × 4096 + 3 × 14336) × 2
    assert m.mlp_bytes == 838_860_800
    # logits of the last position only: 128256 × (2 + 4 + 4)
    assert m.logits_bytes == 1_282_560
    assert m.compute_bytes == 838_860_800 and m.peak_phase == "mlp"
    assert m.total_bytes == 16_060_522_496 + 1_073_741_824 + 838_860_800 + CUDA_CONTEXT_BYTES
    assert m.total_bytes == 18_509_996_032


def test_llama_eager_materialises_scores():
    m = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=8192, attn_implementation="eager")
    scores = 32 * 8192 * 8192 * (2 + 4)  # bf16 scores + the fp32 softmax: 12,884,901,888
    mask = 8192 * 8192 * 2  # (1, 1, 8192, 8192) additive mask in bf16
    repeat_kv = 8192 * 32 * (128 + 128) * 2  # K and V expanded from 8 to 32 heads
    assert m.attention_bytes == 419_430_400 + scores + mask + repeat_kv == 13_572_767_744
    assert m.peak_phase == "attention"


def test_flash_attention_is_like_sdpa():
    sdpa = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=4096)
    flash = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=4096, attn_implementation="flash_attention_2")
    assert flash.total_bytes == sdpa.total_bytes


def test_batch_scales_everything_but_weights():
    one = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=4096)
    four = transformers_memory(LLAMA, LLAMA_WEIGHTS, context=4096, batch=4)
    assert four.kv_cache_bytes == 4 * one.kv_cache_bytes
    assert four.mlp_bytes == 4 * one.mlp_bytes
    assert four.logits_bytes == 4 * one.logits_bytes
    assert four.weights_bytes == one.weights_bytes


def test_sliding_layers_hold_the_prompt_until_the_first_decode():
    # DynamicSlidingWindowLayer keeps a view of the concatenated prompt: at the end of prefill all 18
    # layers hold 8192 cells of (256 + 256) × 2 B
    m = transformers_memory(GEMMA, 536_223_744, context=8192)
    assert m.kv_cache_bytes == 18 * 8192 * 1024 == 150_994_944
    # after the first decoded token: 3 full layers × 8192 + 15 sliding layers × 512
    assert m.kv_decode.total_bytes == 3 * 8192 * 1024 + 15 * 512 * 1024 == 33_030_144


def test_mla_expanded_cache():
    # transformers caches per-head K (128 × 192) and V (128 × 128): 81,920 B per token per layer
    m = transformers_memory(DEEPSEEK, 1, context=4096)
    assert m.kv_cache_bytes == 61 * 4096 * 81_920 == 20_468_203_520


def test_mla_eager_has_no_repeat_kv():
    # one K head per query head: repeat_kv returns its input
    m = transformers_memory(DEEPSEEK, 1, context=1024, attn_implementation="eager")
    sdpa = transformers_memory(DEEPSEEK, 1, context=1024)
    scores = 128 * 1024 * 1024 * 6 + 1024 * 1024 * 2
    assert m.attention_bytes - (sdpa.attention_bytes - 128 * 1024 * 4) == scores


def test_moe_mlp_width():
    mixtral = config(n_experts=8, n_experts_per_token=2, expert_ffn_size=14336)
    assert routed_ffn_width(mixtral) == 28_672  # two experts of 14336 per token
    assert routed_ffn_width(DEEPSEEK) == 18_432  # the dense layers' FFN beats 8 × 2048


def test_f32_model():
    m = transformers_memory(LLAMA, 4 * 8_030_261_248, context=1024, dtype=DType.F32)
    assert m.kv_cache_bytes == 32 * 1024 * 2048 * 4
    assert m.mlp_bytes == 1024 * (2 * 4096 + 3 * 14336) * 4


@pytest.mark.parametrize("kw", [
    dict(attn_implementation="paged"), dict(kv_type=DType.F8_E4M3), dict(dtype=DType.Q4_0),
    dict(kv_type=DType.F16), dict(context=0), dict(batch=0),
])
def test_refusals(kw):
    with pytest.raises(UnsupportedError, match="transformers"):
        transformers_memory(LLAMA, LLAMA_WEIGHTS, **{"context": 1024, **kw})


def test_context_beyond_the_model_is_a_warning():
    m = transformers_memory(replace(LLAMA, context_length=8192), LLAMA_WEIGHTS, context=16384)
    assert m.explain[-1] == "warning: context 16384 exceeds the model's 8192"


def test_explain_substitutes_values():
    text = "\n".join(transformers_memory(LLAMA, LLAMA_WEIGHTS, context=8192).explain)
    assert "KV at end of prefill full: 32 layers × 8192 cells × (1024 + 1024) × 2 B = 1,073,741,824 B" in text
    assert "MLP (estimate): 8192 tokens × (2 × 4096 + 3 × 14336) × 2 B = 838,860,800 B" in text
    assert "total = 18,509,996,032 B" in text


contexts = st.integers(min_value=1, max_value=65_536)
batches = st.integers(min_value=1, max_value=16)
attns = st.sampled_from(["eager", "sdpa"])


@settings(max_examples=60, deadline=None)
@given(contexts, contexts, batches, attns)
def test_monotonic_in_context(a, b, batch, attn):
    lo, hi = sorted((a, b))
    for cfg in (LLAMA, GEMMA, DEEPSEEK):
        small = transformers_memory(cfg, 1, context=lo, batch=batch, attn_implementation=attn)
        large = transformers_memory(cfg, 1, context=hi, batch=batch, attn_implementation=attn)
        assert small.total_bytes <= large.total_bytes
        assert small.kv_cache_bytes <= large.kv_cache_bytes


@settings(max_examples=60, deadline=None)
@given(contexts, batches, batches, attns)
def test_monotonic_in_batch(context, a, b, attn):
    lo, hi = sorted((a, b))
    small = transformers_memory(LLAMA, 1, context=context, batch=lo, attn_implementation=attn)
    large = transformers_memory(LLAMA, 1, context=context, batch=hi, attn_implementation=attn)
    assert small.total_bytes <= large.total_bytes


@settings(max_examples=40, deadline=None)
@given(contexts)
def test_eager_never_below_sdpa(context):
    eager = transformers_memory(LLAMA, 1, context=context, attn_implementation="eager")
    sdpa = transformers_memory(LLAMA, 1, context=context)
    assert eager.total_bytes >= sdpa.total_bytes
