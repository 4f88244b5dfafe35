"""Roofline speed bounds, checked against arithmetic done by hand."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.speed import active_weight_bytes, attention_flops, speed, unread_by_text
from paramscope.formats import open_model
from paramscope.knowledge.roles import place
from paramscope.model import ArchConfig


def cfg(**kw):
    base = dict(family="llama", architecture="x", n_layers=2, hidden_size=8, n_heads=2, n_kv_heads=1,
                head_dim_k=4, head_dim_v=4, ffn_size=16, vocab_size=32, context_length=64)
    return ArchConfig(**(base | kw))


def test_decode_bound_is_bandwidth_over_bytes():
    s = speed(cfg(), active_params=1000, active_bytes=8_000_000_000, kv_bytes=2_000_000_000, batch=4,
              prefill_tokens=10, bandwidth=1e12, peak_flops=None)
    assert s.decode_tokens_per_s == pytest.approx(100.0)
    assert s.decode_tokens_per_s_total == pytest.approx(400.0)
    assert s.prefill_seconds is None


def test_tensor_parallel_adds_bandwidth():
    one = speed(cfg(), active_params=1, active_bytes=10, kv_bytes=0, batch=1, prefill_tokens=1,
                bandwidth=100.0, peak_flops=10.0)
    two = speed(cfg(), active_params=1, active_bytes=10, kv_bytes=0, batch=1, prefill_tokens=1,
                bandwidth=100.0, peak_flops=10.0, n_devices=2)
    assert two.decode_tokens_per_s == 2 * one.decode_tokens_per_s
    assert two.prefill_seconds == one.prefill_seconds / 2


def test_attention_flops_full_and_sliding():
    # full layer, 4 tokens: queries see 1+2+3+4 = 10 keys; width = 2 heads × (4 + 4) = 16; ×2 FLOPs
    assert attention_flops(cfg(n_layers=1, layer_types=("full",)), 4) == 2 * 10 * 16
    # sliding window 2: queries see 1+2+2+2 = 7 keys
    c = cfg(n_layers=1, layer_types=("sliding",), sliding_window=2)
    assert attention_flops(c, 4) == 2 * 7 * 16
    assert attention_flops(cfg(n_layers=1, layer_types=("linear",)), 4) == 0


def test_prefill_flops_and_seconds():
    c = cfg(n_layers=1, layer_types=("full",))
    s = speed(c, active_params=1000, active_bytes=1, kv_bytes=0, batch=1, prefill_tokens=4,
              bandwidth=None, peak_flops=1e3)
    assert s.prefill_flops == 2 * 1000 * 4 + 320
    assert s.prefill_seconds == pytest.approx(8.32)
    assert s.decode_tokens_per_s is None


def test_moe_active_bytes():
    moe = cfg(n_experts=8, n_experts_per_token=2)
    assert active_weight_bytes(1000, 800, moe) == 200 + 200
    assert active_weight_bytes(1000, 800, cfg()) == 1000
    assert active_weight_bytes(1000, 0, moe) == 1000


@given(st.integers(1, 100_000), st.integers(1, 100_000))
def test_attention_monotonic_in_tokens(a, b):
    c = cfg(layer_types=("full", "sliding"), sliding_window=128)
    lo, hi = sorted((a, b))
    assert attention_flops(c, lo) <= attention_flops(c, hi)


GEMMA4_E2B = str(Path(__file__).parent / "fixtures" / "configs" / "google__gemma-4-E2B.json")


def test_a_text_token_reads_neither_the_towers_nor_the_per_layer_tables():
    """Gemma 4 E2B: its per-layer embedding table (262,144 × 35 × 256) is looked up a row per layer per
    token, its vision and audio towers run once per image or clip; a decode step reads the rest (the tied
    embedding as the head) and a text prefill multiplies by the rest but the embedding."""
    model = open_model(GEMMA4_E2B)
    table = next(t for t in model.tensors if t.name.endswith("embed_tokens_per_layer.weight"))
    assert table.shape == (262144, 35 * 256)
    towers = [t for t in model.tensors if place(t.name).component in ("vision", "audio", "projector")]
    unread = table.nbytes + sum(t.nbytes for t in towers)
    assert unread_by_text(model) == (unread, table.params + sum(t.params for t in towers))
    r = paramscope.size(GEMMA4_E2B, context=1024, runtime="vllm", gpu="h100-sxm")
    assert r.estimate.unread_bytes == unread  # as stored: the held weights are the stored ones
    assert r.speed.active_weight_bytes == r.estimate.weights_bytes - unread
    # the towers left out by the engine are not taken off twice: only the table is left to take off
    text = paramscope.size(GEMMA4_E2B, context=1024, runtime="vllm", gpu="h100-sxm", language_model_only=True)
    assert text.estimate.unread_bytes == table.nbytes
    assert text.speed.active_weight_bytes == r.speed.active_weight_bytes
    # a text-only model is untouched
    plain = paramscope.size("llama-3.1-8b", context=1024, gpu="h100-sxm")
    assert plain.estimate.unread_bytes == 0
