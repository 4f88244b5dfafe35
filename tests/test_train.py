"""Training memory and compute against hand-computed cases and bytes measured in PyTorch.

The tiny models below have the tensor names and shapes transformers 4.57.6 gives LlamaForCausalLM and
Qwen3MoeForCausalLM (hidden 256, 8 heads and 2 KV heads of 32, FFN 688, vocabulary 1000). Their
activation figures were measured by summing the storages that torch 2.13's
``torch.autograd.graph.saved_tensors_hooks`` packed during a bf16 forward pass of 128 tokens (LoRA
through PEFT 0.21 under bf16 autocast); docs/train.md shows the script's output.
"""

from __future__ import annotations

import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.training.estimate import train_estimate
from paramscope.analyses.training.memory import nf4_bytes
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import replace

LLAMA_8B_PARAMS = 8_030_261_248
S = 128  # tokens of the measured forward passes


@cache
def llama_8b() -> Model:
    return paramscope.open_model("llama-3.1-8b")


def _t(name: str, *shape: int) -> Tensor:
    return Tensor(name, shape, DType.BF16, 2 * math.prod(shape))


def tiny(n_layers: int, *, moe: bool = False) -> Model:
    """A tiny Llama (or Qwen3-MoE) with transformers' tensor names."""
    h, f, kv, vocab, experts, f_e = 256, 688, 64, 1000, 8, 128
    tensors = [_t("model.embed_tokens.weight", vocab, h)]
    for i in range(n_layers):
        p = f"model.layers.{i}."
        tensors += [_t(p + "self_attn.q_proj.weight", h, h), _t(p + "self_attn.k_proj.weight", kv, h),
                    _t(p + "self_attn.v_proj.weight", kv, h), _t(p + "self_attn.o_proj.weight", h, h),
                    _t(p + "input_layernorm.weight", h), _t(p + "post_attention_layernorm.weight", h)]
        if moe:
            tensors += [_t(p + "self_attn.q_norm.weight", 32), _t(p + "self_attn.k_norm.weight", 32),
                        _t(p + "mlp.gate.weight", experts, h)]
            for j in range(experts):
                tensors += [_t(p + f"mlp.experts.{j}.gate_proj.weight", f_e, h),
                            _t(p + f"mlp.experts.{j}.up_proj.weight", f_e, h),
                            _t(p + f"mlp.experts.{j}.down_proj.weight", h, f_e)]
        else:
            tensors += [_t(p + "mlp.gate_proj.weight", f, h), _t(p + "mlp.up_proj.weight", f, h),
                        _t(p + "mlp.down_proj.weight", h, f)]
    tensors += [_t("model.norm.weight", h), _t("lm_head.weight", vocab, h)]
    cfg = ArchConfig(family="qwen3_moe" if moe else "llama", architecture="test", n_layers=n_layers,
                     hidden_size=h, n_heads=8, n_kv_heads=2, head_dim_k=32, head_dim_v=32, ffn_size=f,
                     vocab_size=vocab, context_length=4096, n_experts=experts * moe,
                     n_experts_per_token=2 * moe, expert_ffn_size=f_e * moe, extra={"rope_theta": 1e4})
    return Model("test", "tiny", tuple(tensors), cfg)


def per_layer(moe: bool = False, **kw) -> float:
    """Activation bytes per token one more layer adds, nothing recomputed (as measured: L=2 minus L=1)."""
    one, two = (train_estimate(tiny(n, moe=moe), seq_len=S, checkpointing=False, **kw) for n in (1, 2))
    return (two.activations_bytes - one.activations_bytes) / S


# --- states ----------------------------------------------------------------------------------------


def test_full_fine_tuning_of_llama_8b_holds_16_bytes_per_parameter():
    est = train_estimate(llama_8b())
    assert est.params == est.trainable_params == LLAMA_8B_PARAMS
    # ZeRO §3.1: 2Ψ bf16 weights + 2Ψ bf16 gradients + 12Ψ fp32 master, momentum, variance
    assert (est.weights_bytes, est.gradients_bytes, est.optimizer_bytes) == (
        2 * LLAMA_8B_PARAMS, 2 * LLAMA_8B_PARAMS, 12 * LLAMA_8B_PARAMS)
    assert est.weights_bytes + est.gradients_bytes + est.optimizer_bytes == 16 * LLAMA_8B_PARAMS
    assert 16 * LLAMA_8B_PARAMS == 128_484_179_968
    assert est.total_bytes == sum(est.by_part.values())


def test_pure_bf16_adamw_keeps_bf16_moments():
    est = train_estimate(llama_8b(), precision="bf16")
    assert est.optimizer_bytes == 4 * LLAMA_8B_PARAMS


def test_lora_on_qkvo_of_llama_8b_counts_the_real_shapes():
    est = train_estimate(llama_8b(), method="lora", lora_rank=16)
    # per layer r × (in + out) for q (4096→4096), k (4096→1024), v (4096→1024), o (4096→4096)
    expected = 32 * 16 * ((4096 + 4096) + (4096 + 1024) + (4096 + 1024) + (4096 + 4096))
    assert expected == 13_631_488
    assert est.trainable_params == expected
    assert est.trainable_by_component == {"attention/k": 32 * 16 * 5120, "attention/o": 32 * 16 * 8192,
                                          "attention/q": 32 * 16 * 8192, "attention/v": 32 * 16 * 5120}
    # frozen bf16 base + fp32 adapters (PEFT), fp32 gradients, two fp32 moments
    assert est.weights_bytes == 2 * LLAMA_8B_PARAMS + 4 * expected
    assert (est.gradients_bytes, est.optimizer_bytes) == (4 * expected, 8 * expected)


def test_lora_all_linear_adds_the_ffn():
    est = train_estimate(llama_8b(), method="lora", lora_targets=("all-linear",))
    assert est.trainable_params == 32 * 16 * (26_624 + 3 * (4096 + 14336)) == 41_943_040


def test_lora_targets_reach_fused_and_low_rank_matrices():
    phi3 = train_estimate(paramscope.open_model("phi-3-mini-4k-instruct"), method="lora")
    # qkv_proj (3072 → 9216) holds q, k and v; o_proj 3072 → 3072
    assert phi3.trainable_by_component == {"attention/o": 32 * 16 * 6144, "attention/qkv": 32 * 16 * 12288}
    tiny_est = train_estimate(tiny(2), method="lora", lora_targets=("ffn",), lora_rank=4)
    assert tiny_est.trainable_params == 2 * 4 * 3 * (256 + 688)


def test_a_lora_target_the_model_lacks_is_refused():
    with pytest.raises(UnsupportedError, match=r"experts .*this model has"):
        train_estimate(llama_8b(), method="lora", lora_targets=("experts",))


def test_nf4_block_arithmetic():
    # 4 bits + one 8-bit absmax per 64 weights + one fp32 per 256 absmax values (QLoRA §3)
    assert nf4_bytes(4096 * 4096) == 8_388_608 + 262_144 + 4 * 1024
    assert nf4_bytes(64) == 32 + 1 + 4  # partial second-level block
    assert 8 * nf4_bytes(1 << 24) / (1 << 24) == pytest.approx(4 + 8 / 64 + 32 / (64 * 256))


def test_qlora_quantizes_the_linear_layers_and_keeps_embeddings_head_and_norms():
    est = train_estimate(llama_8b(), method="qlora")
    linear = 32 * (2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096)
    assert linear == 6_979_321_856
    nf4 = linear // 2 + linear // 64 + 4 * linear // (64 * 256)
    assert nf4 == 3_600_416_768
    kept = LLAMA_8B_PARAMS - linear  # embeddings, lm_head, norms
    assert est.weights_bytes == nf4 + 2 * kept + 4 * 13_631_488 == 5_756_821_504


@pytest.mark.parametrize("stage, sharded", [(0, ()), (1, ("optimizer",)), (2, ("optimizer", "gradients")),
                                            (3, ("optimizer", "gradients", "weights"))])
def test_zero_stages_shard_states_not_activations(stage, sharded):
    one = train_estimate(llama_8b())
    eight = train_estimate(llama_8b(), gpus=8, zero_stage=stage)
    for part in ("weights", "gradients", "optimizer"):
        whole = one.by_part[part]
        assert eight.by_part[part] == (whole // 8 if part in sharded else whole)
    assert (eight.activations_bytes, eight.logits_bytes) == (one.activations_bytes, one.logits_bytes)


def test_zero3_on_8_gpus_divides_the_states_by_8():
    est = train_estimate(llama_8b(), gpus=8, zero_stage=3)
    assert est.weights_bytes + est.gradients_bytes + est.optimizer_bytes == 16 * LLAMA_8B_PARAMS // 8


# --- activations, against PyTorch ------------------------------------------------------------------


def test_activations_per_layer_match_pytorch():
    # norms 2 × (4h fp32 + 4 rsqrt + 2h normalised) + attention input 2h + Q,K,V 2·(256+64+64) + logsumexp
    # 4·8 + output 2·256 + FFN input 2h + gate, up, act, product 4 × 2·688 = 10,920
    assert per_layer() == 10_920
    assert per_layer(flash_attention=False) == 17_800  # + fp32 softmax and copy 6·a·s, K/V repeated
    assert per_layer(moe=True) == 12_592  # Qwen3-MoE: q/k norms, router, 2 of 8 experts


def test_lora_activations_per_layer_match_peft():
    # frozen matrices keep no input; each adapter keeps its own cast copy and r values; plus autocast's
    # bf16 copy of the adapter weights (26,624 B per layer = 208 B per token at 128 tokens)
    assert per_layer(method="lora", lora_rank=8) == 9_816
    assert per_layer(method="lora", lora_rank=8, flash_attention=False) == 16_184
    assert per_layer(moe=True, method="lora", lora_rank=8) == 10_688


def test_whole_model_activations_match_pytorch():
    assert train_estimate(tiny(2), seq_len=S, checkpointing=False).activations_bytes == 3_075_584
    assert train_estimate(tiny(2), seq_len=S, checkpointing=False,
                          flash_attention=False).activations_bytes == 4_836_864
    assert train_estimate(tiny(2, moe=True), seq_len=S, checkpointing=False).activations_bytes == 3_503_616


def test_checkpointing_keeps_each_layer_input_and_one_layer():
    one, two = (train_estimate(tiny(n), seq_len=S) for n in (1, 2))
    assert (two.activations_bytes - one.activations_bytes) / S == 2 * 256  # e·h per layer, as measured
    est = train_estimate(tiny(2), seq_len=S)
    # final norm 4h + 4 + 2h, head input 2h, token ids 8: measured 2,060 B per token outside the layers
    assert est.activations_bytes == S * (2 * 512 + 10_920 + 2_060)


def test_llama_8b_activations_at_2048():
    est = train_estimate(llama_8b())
    layer = 2 * (4 * 4096 + 4 + 2 * 4096) + 2 * 4096 + 2 * (4096 + 1024 + 1024) + 4 * 32 + 2 * 4096 \
        + 2 * 4096 + 4 * 2 * 14336
    assert est.layer_bytes_per_token == layer == 200_840
    head = 4 * 4096 + 4 + 2 * 4096 + 2 * 4096 + 8
    assert est.activations_bytes == 2048 * (32 * 2 * 4096 + layer + head) == 1_015_324_672
    assert est.logits_bytes == 4 * 2048 * 128_256


# --- compute -----------------------------------------------------------------------------------------


def test_compute_is_6ND_and_chinchilla_is_20N():
    est = train_estimate(llama_8b(), tokens=10**12, device_flops=989e12, gpus=8)
    assert est.flops == 6 * LLAMA_8B_PARAMS * 10**12
    assert est.optimal_tokens == 20 * LLAMA_8B_PARAMS
    assert est.gpu_hours == pytest.approx(est.flops / (989e12 * 0.4) / 3600)
    assert est.days == pytest.approx(est.gpu_hours / 8 / 24)
    assert not train_estimate(llama_8b()).tokens_given


def test_fine_tuning_defaults_to_a_dataset_not_chinchilla():
    """20 × params sizes pre-training; LoRA and QLoRA default to a stated 10^8-token fine-tuning set."""
    from paramscope.analyses.training.compute import COMPUTE_OPTIMAL, FINETUNE_DEFAULT, GIVEN

    full = train_estimate(llama_8b())
    assert (full.tokens, full.tokens_basis) == (20 * LLAMA_8B_PARAMS, COMPUTE_OPTIMAL)
    for method in ("lora", "qlora"):
        est = train_estimate(llama_8b(), method=method)
        assert (est.tokens, est.tokens_basis) == (100_000_000, FINETUNE_DEFAULT)
        assert est.optimal_tokens == 20 * LLAMA_8B_PARAMS  # still reported, not used
    assert train_estimate(llama_8b(), method="lora", tokens=10**7).tokens_basis == GIVEN
    assert paramscope.train("llama-3.1-8b", method="lora", tokens="10M").estimate.tokens == 10**7


def test_moe_compute_uses_active_parameters():
    est = train_estimate(paramscope.open_model("mixtral-8x7b"), tokens=1000)
    assert est.active_params == 12_879_925_248
    assert est.flops == 6 * 12_879_925_248 * 1000


def test_lora_compute_skips_the_frozen_weight_gradients():
    est = train_estimate(llama_8b(), method="lora", tokens=1000)
    a = 13_631_488
    assert est.flops == 4 * (LLAMA_8B_PARAMS + a) * 1000 + 2 * a * 1000


# --- errors and properties ---------------------------------------------------------------------------


def test_refusals():
    with pytest.raises(UnsupportedError, match="no config"):
        train_estimate(replace(tiny(1), config=None))
    with pytest.raises(UnsupportedError, match="unknown training method"):
        train_estimate(tiny(1), method="dpo")
    with pytest.raises(UnsupportedError, match="ZeRO stage"):
        train_estimate(tiny(1), zero_stage=4)
    with pytest.raises(UnsupportedError, match="GPU count"):
        train_estimate(tiny(1), gpus=0)


@settings(max_examples=30, deadline=None)
@given(seq=st.integers(1, 32768), batch=st.integers(1, 16), method=st.sampled_from(["full", "lora", "qlora"]),
       ckpt=st.booleans())
def test_memory_grows_with_sequence_and_batch(seq, batch, method, ckpt):
    base = train_estimate(llama_8b(), method=method, seq_len=seq, micro_batch=batch, checkpointing=ckpt)
    longer = train_estimate(llama_8b(), method=method, seq_len=seq + 1, micro_batch=batch, checkpointing=ckpt)
    wider = train_estimate(llama_8b(), method=method, seq_len=seq, micro_batch=batch + 1, checkpointing=ckpt)
    assert longer.total_bytes > base.total_bytes
    assert wider.total_bytes > base.total_bytes


@settings(max_examples=20, deadline=None)
@given(seq=st.integers(1, 16384), batch=st.integers(1, 8), flash=st.booleans())
def test_qlora_below_lora_below_full_and_checkpointing_saves(seq, batch, flash):
    kw = dict(seq_len=seq, micro_batch=batch, flash_attention=flash)
    full, lora, qlora = (train_estimate(llama_8b(), method=m, **kw) for m in ("full", "lora", "qlora"))
    assert qlora.total_bytes < lora.total_bytes < full.total_bytes
    for method in ("full", "lora"):
        kept = train_estimate(llama_8b(), method=method, checkpointing=False, **kw)
        ckpt = train_estimate(llama_8b(), method=method, checkpointing=True, **kw)
        assert ckpt.activations_bytes <= kept.activations_bytes


@settings(max_examples=20, deadline=None)
@given(gpus=st.integers(1, 64), method=st.sampled_from(["full", "lora", "qlora"]))
def test_higher_zero_stages_never_hold_more(gpus, method):
    totals = [train_estimate(llama_8b(), method=method, gpus=gpus, zero_stage=z).total_bytes
              for z in range(4)]
    assert totals == sorted(totals, reverse=True)
