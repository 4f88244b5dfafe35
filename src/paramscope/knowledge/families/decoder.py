"""Decoder-only language models in the Hugging Face layout (``model.layers.N.…``), built from pieces.

Each piece is one table entry: attention kinds, dense FFN kinds and mixture-of-experts blocks, keyed
by the family row's ``attention``, ``ffn`` and ``moe`` fields. Names and shapes follow the modeling
files the rows cite; per-expert names are those of the published checkpoints (transformers ≥ 5 may
fuse experts in memory, but converts from these names on load).
"""

from __future__ import annotations

from collections.abc import Callable

from paramscope.knowledge.families.dims import Dims
from paramscope.knowledge.families.tensors import TensorList


# -- attention ---------------------------------------------------------------------------------------
def _separate_qkv(d: Dims, t: TensorList, p: str) -> None:
    """Llama-style q/k/v/o (LlamaAttention); optional per-head q/k RMSNorm (Qwen3Attention, Gemma3)."""
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    t.linear(p + "q_proj", q, d.hidden, d.qkv_bias)
    t.linear(p + "k_proj", kv, d.hidden, d.qkv_bias)
    t.linear(p + "v_proj", kv, d.hidden, d.qkv_bias)
    t.linear(p + "o_proj", d.hidden, q, d.o_bias)
    if d.family.qk_norm:
        t.norm(p + "q_norm", d.head_dim)
        t.norm(p + "k_norm", d.head_dim)


def _fused_qkv(d: Dims, t: TensorList, p: str) -> None:
    """Phi3Attention: one qkv_proj of width heads·hd + 2·kv_heads·hd."""
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    t.linear(p + "qkv_proj", q + 2 * kv, d.hidden, d.qkv_bias)
    t.linear(p + "o_proj", d.hidden, q, d.o_bias)


def _mla(d: Dims, t: TensorList, p: str) -> None:
    """DeepseekV3Attention (multi-head latent attention).

    Queries go through a low-rank bottleneck (q_a_proj → q_a_layernorm → q_b_proj) unless q_lora_rank
    is null (DeepSeek-V2-Lite: one q_proj). Keys and values share a compressed latent of width
    kv_lora_rank plus one decoupled RoPE key of width qk_rope_head_dim (kv_a_proj_with_mqa), expanded
    per head by kv_b_proj into nope keys and values. attention_bias adds biases to q_a, kv_a and o only.
    """
    qk_head = d.qk_nope_head_dim + d.qk_rope_head_dim
    if d.q_lora_rank:
        t.linear(p + "q_a_proj", d.q_lora_rank, d.hidden, d.qkv_bias)
        t.norm(p + "q_a_layernorm", d.q_lora_rank)
        t.linear(p + "q_b_proj", d.n_heads * qk_head, d.q_lora_rank)
    else:
        t.linear(p + "q_proj", d.n_heads * qk_head, d.hidden)
    t.linear(p + "kv_a_proj_with_mqa", d.kv_lora_rank + d.qk_rope_head_dim, d.hidden, d.qkv_bias)
    t.norm(p + "kv_a_layernorm", d.kv_lora_rank)
    t.linear(p + "kv_b_proj", d.n_heads * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank)
    t.linear(p + "o_proj", d.hidden, d.n_heads * d.v_head_dim, d.o_bias)


ATTENTION: dict[str, Callable[[Dims, TensorList, str], None]] = {
    "separate": _separate_qkv, "fused_qkv": _fused_qkv, "mla": _mla,
}


# -- dense feed-forward ------------------------------------------------------------------------------
def gated_ffn(t: TensorList, p: str, hidden: int, width: int, bias: bool = False) -> None:
    """LlamaMLP: down(act(gate(x)) · up(x))."""
    t.linear(p + "gate_proj", width, hidden, bias)
    t.linear(p + "up_proj", width, hidden, bias)
    t.linear(p + "down_proj", hidden, width, bias)


def _gated(d: Dims, t: TensorList, p: str) -> None:
    gated_ffn(t, p + "mlp.", d.hidden, d.ffn, d.mlp_bias)


def _fused_gated(d: Dims, t: TensorList, p: str) -> None:
    """Phi3MLP: gate and up stacked in one gate_up_proj of 2·ffn rows."""
    t.linear(p + "mlp.gate_up_proj", 2 * d.ffn, d.hidden, d.mlp_bias)
    t.linear(p + "mlp.down_proj", d.hidden, d.ffn, d.mlp_bias)


DENSE_FFN: dict[str, Callable[[Dims, TensorList, str], None]] = {
    "gated": _gated, "fused_gated": _fused_gated,
}


# -- mixture of experts ------------------------------------------------------------------------------
def _mixtral(d: Dims, t: TensorList, p: str) -> None:
    """MixtralSparseMoeBlock as checkpointed: block_sparse_moe.gate, experts.N.w1 (gate), w2 (down),
    w3 (up)."""
    p += "block_sparse_moe."
    t.linear(p + "gate", d.n_experts, d.hidden)
    for e in range(d.n_experts):
        t.linear(f"{p}experts.{e}.w1", d.expert_ffn, d.hidden)
        t.linear(f"{p}experts.{e}.w2", d.hidden, d.expert_ffn)
        t.linear(f"{p}experts.{e}.w3", d.expert_ffn, d.hidden)


def _qwen(d: Dims, t: TensorList, p: str) -> None:
    """Qwen2MoeSparseMoeBlock: gate, experts.N.*, and (Qwen2-MoE only) shared_expert + its sigmoid gate."""
    p += "mlp."
    t.linear(p + "gate", d.n_experts, d.hidden)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_expert.", d.hidden, d.shared_ffn)
        t.linear(p + "shared_expert_gate", 1, d.hidden)


def _deepseek(d: Dims, t: TensorList, p: str) -> None:
    """DeepseekV3MoE: gate (router, + e_score_correction_bias for noaux_tc), experts.N.*, shared_experts."""
    p += "mlp."
    t.linear(p + "gate", d.n_experts, d.hidden)
    if d.router_bias:
        t.add(p + "gate.e_score_correction_bias", d.n_experts)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_experts.", d.hidden, d.shared_ffn)


def _gpt_oss(d: Dims, t: TensorList, p: str) -> None:
    """GptOssMLP: router (weight + bias) and all experts fused in 3-D tensors with biases.

    These are the logical bf16 parameters of GptOssExperts. The published checkpoints store the two
    expert weights as MXFP4 (``gate_up_proj_blocks`` U8 (E, 2·ffn, hidden/32, 16) + ``_scales``); the
    parameter count is the same, the bytes are not — a safetensors reader sees the packed form.
    """
    p += "mlp."
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "router", e, h, bias=d.router_bias)
    t.add(p + "experts.gate_up_proj", e, h, 2 * f)
    t.add(p + "experts.gate_up_proj_bias", e, 2 * f)
    t.add(p + "experts.down_proj", e, f, h)
    t.add(p + "experts.down_proj_bias", e, h)


MOE_BLOCKS: dict[str, Callable[[Dims, TensorList, str], None]] = {
    "mixtral": _mixtral, "qwen": _qwen, "deepseek": _deepseek, "gpt_oss": _gpt_oss,
}


def decoder_tensors(d: Dims, t: TensorList, prefix: str = "model.", head_prefix: str = "") -> None:
    """Embedding, layers, final norm, and the LM head when it is not tied to the embedding."""
    fam = d.family
    t.embedding(prefix + "embed_tokens", d.vocab, d.hidden)
    for i in range(d.n_layers):
        p = f"{prefix}layers.{i}."
        ATTENTION[fam.attention](d, t, p + "self_attn.")
        if fam.sinks:
            t.add(p + "self_attn.sinks", d.n_heads)
        for norm in fam.norms:
            t.norm(p + norm, d.hidden)
        if d.is_moe_layer(i):
            MOE_BLOCKS[fam.moe](d, t, p)
        else:
            DENSE_FFN[fam.ffn](d, t, p)
    t.norm(prefix + "norm", d.hidden)
    if not d.tied:
        t.linear(head_prefix + "lm_head", d.vocab, d.hidden)
