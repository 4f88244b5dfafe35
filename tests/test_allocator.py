"""PyTorch's caching allocator tails on an engine's loaded weights (analyses/sizing/runtimes/allocator.py).

The rules are c10/cuda/CUDACachingAllocator.cpp's (round_size, get_allocation_size, should_split); every
expected number is worked out beside it. The engine logs that check them end to end are in
tests/test_engine_log_predictions.py (13061-*, dennislee-*, llmsinclouds-*).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.allocator import (
    loaded_as_stored,
    rank_weight_sizes,
    tail_bytes,
    weight_tails,
)

MiB = 1 << 20
CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"


@pytest.mark.parametrize(("size", "allocated", "device"), [
    (1 * MiB, 0, 0),  # a small request shares a 2 MiB segment
    (9 * MiB + 1, 0, 0),  # under 10 MiB: a shared 20 MiB segment, split between requests
    (10 * MiB, 0, 0),  # a multiple of 2 MiB: no tail
    (18_350_080, MiB // 2, MiB // 2),  # 17.5 MiB → an 18 MiB segment: 0.5 MiB kept with the block
    (13_107_200, 0, 3 * MiB // 2),  # 12.5 MiB → 14 MiB: a 1.5 MiB tail is split off, still reserved
    (37_748_736 - MiB, MiB, MiB),  # a tail of exactly 1 MiB is not split (remaining > kSmallSize only)
    (20 * MiB + 1, 0, 2 * MiB - 512),  # rounded to 512 B first: 20 MiB + 512 B → 22 MiB, tail split
])
def test_tail_of_one_request(size, allocated, device):
    assert tail_bytes(size, device_level=False) == allocated
    assert tail_bytes(size, device_level=True) == device


def test_qwen25_14b_at_tp2_leaves_the_tails_vllm_printed():
    # per rank: qkv (20 + 2 × 4) × 128 × 5120 × 2 B = 35 MiB, o 5120 × 2560 × 2 = 25 MiB, gate_up
    # 2 × 6912 × 5120 × 2 = 135 MiB: 1 MiB tails each, kept; down 5120 × 6912 × 2 = 67.5 MiB: 0.5 MiB;
    # embedding and LM head 76032 × 5120 × 2 = 742.5 MiB: a 1.5 MiB tail, split off. 48 layers × 3.5 MiB
    # = 168 MiB = 0.164 GiB, where vLLM printed 13.948 GiB against 13.787 of tensors (13061-*)
    m = paramscope.open_model(str(CONFIGS / "qwen2.5-14b.config.json"))
    assert weight_tails(m, 2, device_level=False) == 168 * MiB
    # SGLang measures free memory: the split tails count too (+ 2 × 1.5 MiB)
    assert weight_tails(m, 2, device_level=True) == 171 * MiB
    sizes = rank_weight_sizes(m, 2)
    assert sizes.count(35 * MiB) == sizes.count(135 * MiB) == sizes.count(67 * MiB + MiB // 2) == 48


def test_aligned_shapes_leave_nothing():
    # Llama 3.1 8B: every projection a multiple of 2 MiB at TP 1 and 2 (its weights print exact); at TP 2
    # the embedding and LM head, 64128 × 4096 × 2 B = 501 MiB each, keep a 1 MiB tail
    m = paramscope.open_model("llama-3.1-8b")
    assert weight_tails(m, 1, device_level=True) == 0
    assert weight_tails(m, 2, device_level=False) == 2 * MiB


def test_kv_heads_are_replicated_beyond_their_count():
    # Qwen2.5-14B: 40 query heads, 8 KV heads. At TP 8 a rank's fused qkv holds 5 query heads and one K and
    # one V head: (5 + 1 + 1) × 128 × 5120 × 2 B; 40 heads do not split over 3 ranks (vLLM refuses)
    m = paramscope.open_model(str(CONFIGS / "qwen2.5-14b.config.json"))
    assert (5 + 1 + 1) * 128 * 5120 * 2 in rank_weight_sizes(m, 8)
    assert rank_weight_sizes(m, 3) == []  # 40 heads do not split over 3 ranks


def test_other_layouts_and_packed_formats_are_not_modelled():
    deepseek = paramscope.open_model("deepseek-v3")  # MLA: its projections are laid out otherwise
    assert rank_weight_sizes(deepseek, 8) == []
    gptq = paramscope.open_model(str(CONFIGS / "qwen2.5-72b-instruct-gptq-int4.config.json"))
    assert not loaded_as_stored(gptq) and weight_tails(gptq, 1, device_level=True) == 0


def test_checkpoints_the_engines_hold_as_stored():
    assert loaded_as_stored(paramscope.open_model("llama-3.1-8b"))
    assert loaded_as_stored(paramscope.open_model(str(CONFIGS / "qwen3-8b-fp8.config.json")))
    dynamic = CONFIGS / "llama-3.3-70b-instruct-fp8-dynamic.config.json"
    assert loaded_as_stored(paramscope.open_model(str(dynamic)))


def test_a_tensor_the_engine_does_not_build_leaves_no_tail():
    m = paramscope.open_model(str(CONFIGS / "qwen2.5-14b.config.json"))
    downs = frozenset(t.name for t in m.tensors if t.name.endswith("down_proj.weight"))
    assert weight_tails(m, 2, device_level=False, skip=downs) == 168 * MiB - 48 * MiB // 2


def test_fewer_kv_heads_than_ranks_keep_a_whole_head_each():
    # Qwen2.5-14B's 8 KV heads over 16 ranks would not split its 40 query heads; Llama 3.1 8B's 8 KV heads
    # over 16 ranks are replicated: each rank holds 2 query heads and one whole K and V head
    m = paramscope.open_model("llama-3.1-8b")
    assert (2 + 1 + 1) * 128 * 4096 * 2 in rank_weight_sizes(m, 16)


def test_a_plain_mlp_is_priced_as_stored():
    # Falcon-7B's MLP is not gated: dense_h_to_4h is one 18176 × 4544 matrix (157.5 MiB in bf16), not two
    m = paramscope.open_model(str(Path(__file__).parent / "fixtures" / "configs" / "tiiuae__falcon-7b.json"))
    assert 18176 * 4544 * 2 in rank_weight_sizes(m, 1)
