"""The runtime-neutral KV cache formula, against hand-computed cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramscope.analyses.sizing.kv_cache import (
    LINEAR_STATE_KEY,
    cache_widths,
    element_cost,
    kv_cache,
    kv_cache_for_context,
    layer_kinds,
    plain_cells,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

MIB = 1024 * 1024


def config(**kw) -> ArchConfig:
    base = dict(family="test", architecture="test", n_layers=1, hidden_size=4096, n_heads=32, n_kv_heads=8,
                head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256, context_length=131072)
    return ArchConfig(**{**base, **kw})


# Llama 3.1 8B: 32 layers, GQA with 8 KV heads of 128
LLAMA_8B = config(n_layers=32)
# Gemma 3 270M: hidden 640 but 4 heads of 256 and one KV head; 5 sliding layers then 1 full, ×3
GEMMA_270M = config(n_layers=18, hidden_size=640, n_heads=4, n_kv_heads=1, head_dim_k=256, head_dim_v=256,
                    ffn_size=2048, vocab_size=262144, context_length=32768, sliding_window=512,
                    layer_types=tuple("full" if (il + 1) % 6 == 0 else "sliding" for il in range(18)))
# DeepSeek-V3: 61 layers, 128 heads, qk_nope 128 + qk_rope 64 = 192, v 128, kv_lora_rank 512
DEEPSEEK_V3 = config(n_layers=61, hidden_size=7168, n_heads=128, n_kv_heads=128, head_dim_k=192,
                     head_dim_v=128, vocab_size=129280, kv_lora_rank=512, q_lora_rank=1536, rope_head_dim=64)


def test_dense_gqa_llama_8b():
    # per token per layer (8 × 128 + 8 × 128) × 2 B = 4096 B; × 32 layers × 8192 tokens = 1 GiB
    kv = kv_cache_for_context(LLAMA_8B, 8192)
    assert kv.total_bytes == 32 * 8192 * 4096 == 1_073_741_824
    assert kv.k_bytes == kv.v_bytes == kv.total_bytes // 2


def test_widths_never_hidden_over_heads():
    assert cache_widths(GEMMA_270M) == (256, 256)  # not 640 / 4 = 160
    assert cache_widths(config(n_kv_heads=2, head_dim_k=192, head_dim_v=128)) == (384, 256)


def test_key_and_value_dims_differ():
    cfg = config(n_kv_heads=2, head_dim_k=192, head_dim_v=128)
    kv = kv_cache(cfg, {"full": 10})
    assert (kv.k_bytes, kv.v_bytes) == (10 * 384 * 2, 10 * 256 * 2)


def test_gemma_sliding_layers_hold_the_window():
    kv = kv_cache_for_context(GEMMA_270M, 8192)
    full, sliding = kv.part("full"), kv.part("sliding")
    assert (full.layers, full.cells, full.total_bytes) == (3, 8192, 3 * 8192 * 512 * 2)
    assert (sliding.layers, sliding.cells, sliding.total_bytes) == (15, 512, 15 * 512 * 512 * 2)
    assert kv.total_bytes == 25_165_824 + 7_864_320


def test_context_shorter_than_window():
    assert plain_cells(GEMMA_270M, 100) == {"full": 100, "sliding": 100}


def test_mla_compressed_holds_lora_rank_plus_rope_in_k_only():
    # llama.cpp / vLLM: 512 + 64 = 576 values per token per layer, no V tensor
    kv = kv_cache_for_context(DEEPSEEK_V3, 4096)
    assert cache_widths(DEEPSEEK_V3) == (576, 0)
    assert kv.total_bytes == kv.k_bytes == 61 * 4096 * 576 * 2 == 287_834_112
    assert kv.v_bytes == 0


def test_mla_expanded_holds_every_head():
    # transformers: K 128 × 192, V 128 × 128 per token per layer
    kv = kv_cache_for_context(DEEPSEEK_V3, 4096, mla="expanded")
    assert cache_widths(DEEPSEEK_V3, "expanded") == (24576, 16384)
    assert kv.total_bytes == 61 * 4096 * (24576 + 16384) * 2 == 20_468_203_520


@pytest.mark.parametrize(("dtype", "row_bytes"), [
    (DType.F32, 1024), (DType.F16, 512), (DType.BF16, 512),
    (DType.Q8_0, 8 * 34), (DType.Q5_1, 8 * 24), (DType.Q5_0, 8 * 22), (DType.Q4_1, 8 * 20),
    (DType.Q4_0, 8 * 18), (DType.IQ4_NL, 8 * 18), (DType.F8_E4M3, 256),
])
def test_quantized_cache_types_use_their_blocks(dtype, row_bytes):
    kv = kv_cache(GEMMA_270M, {"full": 8192, "sliding": 1024}, type_k=dtype, type_v=dtype)
    assert kv.parts[0].k_row_bytes == row_bytes
    assert kv.part("full").total_bytes == 3 * 8192 * 2 * row_bytes
    assert kv.part("sliding").total_bytes == 15 * 1024 * 2 * row_bytes


def test_q8_0_gemma_figure():
    # 3 layers × 8192 cells × 2 rows × 272 B = 12.75 MiB, as llama.cpp prints it
    kv = kv_cache(GEMMA_270M, {"full": 8192, "sliding": 8192}, type_k=DType.Q8_0, type_v=DType.Q8_0)
    assert kv.part("full").total_bytes == 13_369_344 == int(12.75 * MIB)


def test_row_not_filling_blocks_is_refused():
    cfg = config(n_kv_heads=1, head_dim_k=80, head_dim_v=80)
    with pytest.raises(UnsupportedError, match=r"K row of 80 values cannot be stored as q4_k: .* "
                                               r"blocks of 256 values"):
        kv_cache(cfg, {"full": 16}, type_k=DType.Q4_K, type_v=DType.Q4_K)
    with pytest.raises(UnsupportedError, match="V row of 80 values"):
        kv_cache(cfg, {"full": 16}, type_k=DType.F16, type_v=DType.Q8_0)
    # two heads of 80 fill five q8_0 blocks: the row is storable (llama.cpp refuses it per head)
    ok = kv_cache(config(n_kv_heads=2, head_dim_k=80, head_dim_v=80), {"full": 16}, type_k=DType.Q8_0)
    assert ok.parts[0].k_row_bytes == 5 * 34


def test_linear_layers_hold_a_fixed_state():
    cfg = config(n_layers=4, layer_types=("linear", "linear", "linear", "full"),
                 extra={LINEAR_STATE_KEY: 1_000_000})
    small = kv_cache_for_context(cfg, 1024, n_seq=2)
    large = kv_cache_for_context(cfg, 65536, n_seq=2)
    assert small.part("linear").total_bytes == large.part("linear").total_bytes == 3 * 2 * 1_000_000
    assert small.part("full").total_bytes == 2 * 1024 * 2048 * 2
    assert small.part("linear").k_bytes == small.part("linear").v_bytes == 0


def test_linear_layers_need_their_state_size():
    cfg = config(n_layers=2, layer_types=("linear", "full"))
    with pytest.raises(UnsupportedError, match=r"1 layer keeps a recurrent or compressed state, whose size"):
        kv_cache_for_context(cfg, 128)


def test_layers_without_cache():
    cfg = config(n_layers=3, layer_types=("full", "none", "none"))
    assert layer_kinds(cfg) == {"full": 1}
    assert kv_cache_for_context(cfg, 10).total_bytes == 10 * 2048 * 2


def test_layer_types_must_match_the_layers():
    with pytest.raises(UnsupportedError, match="layer_types lists 2 layers, the model has 3"):
        layer_kinds(config(n_layers=3, layer_types=("full", "full")))
    with pytest.raises(UnsupportedError, match="unknown layer kind 'chunked'"):
        layer_kinds(config(n_layers=1, layer_types=("chunked",)))


def test_no_layer_types_means_all_full():
    assert layer_kinds(LLAMA_8B) == {"full": 32}


def test_explain_substitutes_the_values():
    kv = kv_cache_for_context(GEMMA_270M, 8192)
    assert kv.explain == (
        "full: 3 layers × 8192 cells × (256 + 256) × 2 B = 25,165,824 B",
        "sliding: 15 layers × 512 cells × (256 + 256) × 2 B = 7,864,320 B",
    )
    mixed = kv_cache(GEMMA_270M, {"full": 8192, "sliding": 1024}, streams=4, type_k=DType.Q8_0)
    assert mixed.explain[0] == ("full: 3 layers × 4 seqs × 8192 cells × (256 × 34 B / 32 + 256 × 2 B) "
                                f"= {4 * 3 * 8192 * (272 + 512):,} B")
    ssm = config(n_layers=1, layer_types=("linear",), extra={LINEAR_STATE_KEY: 10})
    linear = kv_cache_for_context(ssm, 5)
    assert linear.explain == ("linear: 1 layers × 10 B state = 10 B",)


def test_element_cost():
    assert [element_cost(d) for d in (DType.F16, DType.Q8_0, DType.F4)] == ["2 B", "34 B / 32", "1 B / 2"]


configs = st.builds(
    lambda layers, kv_heads, hd_k, hd_v, window, pattern: config(
        n_layers=layers, n_kv_heads=kv_heads, head_dim_k=hd_k, head_dim_v=hd_v, sliding_window=window,
        layer_types=tuple("full" if pattern and (il + 1) % pattern == 0 else "sliding" if pattern else "full"
                          for il in range(layers))),
    st.integers(1, 64), st.integers(1, 16), st.sampled_from([64, 96, 128, 256]),
    st.sampled_from([64, 128, 256, 512]), st.integers(1, 8192), st.sampled_from([0, 2, 4, 6]))
cache_types = st.sampled_from([DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q5_1])


@given(configs, st.integers(1, 1 << 20), st.integers(1, 1 << 20), st.integers(1, 64), cache_types)
def test_monotonic_in_context(cfg, a, b, n_seq, dtype):
    small, large = sorted((a, b))
    kw = dict(n_seq=n_seq, type_k=dtype, type_v=dtype)
    before = kv_cache_for_context(cfg, small, **kw).total_bytes
    assert before <= kv_cache_for_context(cfg, large, **kw).total_bytes


@given(configs, st.integers(1, 1 << 18), st.integers(1, 64), st.integers(1, 64), cache_types)
def test_monotonic_and_linear_in_sequences(cfg, context, a, b, dtype):
    small, large = sorted((a, b))

    def total(n_seq: int) -> int:
        return kv_cache_for_context(cfg, context, n_seq=n_seq, type_k=dtype, type_v=dtype).total_bytes

    assert total(small) == small * total(1)
    assert total(small) <= total(large)


@given(configs)
def test_sliding_never_exceeds_full(cfg):
    kv = kv_cache_for_context(replace(cfg, layer_types=("sliding",) * cfg.n_layers), 4096)
    assert kv.total_bytes <= kv_cache_for_context(replace(cfg, layer_types=()), 4096).total_bytes
