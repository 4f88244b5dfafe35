"""Decoder-only language models, built from pieces.

Each piece is one table entry: attention kinds, dense FFN kinds and mixture-of-experts blocks, keyed
by the family row's ``attention``, ``ffn`` and ``moe`` fields. Names and shapes follow the modeling
files the rows cite; per-expert names are those of the published checkpoints (transformers ≥ 5 may
fuse experts in memory, but converts from these names on load). What each piece is called in a
family's checkpoints is ``NAMES`` (the Llama spelling) overridden by the row's ``names``: GPT-NeoX's
``gpt_neox.layers.N.attention.query_key_value`` is the same fused projection as Phi-3's
``model.layers.N.self_attn.qkv_proj``.
"""

from __future__ import annotations

from collections.abc import Callable

from paramscope.knowledge.families.dims import GATE_RULES, Dims
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model.dtypes import DType
from paramscope.records import replace

# The Llama spelling of every piece; a row's ``names`` overrides some. "base" prefixes the body (a
# multimodal wrapper replaces it), "head" is the LM head outside it; "" = the family has no such piece.
NAMES: dict[str, str] = {
    "base": "model.", "embed": "embed_tokens", "pos_embed": "", "embed_norm": "", "layers": "layers",
    "final_norm": "norm",
    "head": "lm_head",
    "attn": "self_attn.", "q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj", "qkv": "qkv_proj",
    "q_norm": "q_norm", "k_norm": "k_norm",
    "mlp": "mlp.", "gate": "gate_proj", "up": "up_proj", "down": "down_proj", "gate_up": "gate_up_proj",
    "mixer": "mixer.", "rotary_buffer": "", "g": "g_proj",
    "router_bias": "gate.e_score_correction_bias",
}


def name(d: Dims, piece: str) -> str:
    return d.family.names.get(piece, NAMES[piece])


# -- attention ---------------------------------------------------------------------------------------
def _qk_norms(d: Dims, t: TensorList, p: str) -> None:
    """Per-head (Qwen3, Gemma 3: head_dim), whole-width (OLMo 2: heads·hd and kv_heads·hd) or 2-D
    (Cohere: (heads, hd)) normalisation of queries and keys."""
    shapes = {"head": ((d.head_dim,), (d.head_dim,)),
              "full": ((d.n_heads * d.head_dim,), (d.n_kv_heads * d.head_dim,)),
              "head2d": ((d.n_heads, d.head_dim), (d.n_kv_heads, d.head_dim))}
    if d.qk_norm:
        (q, k) = shapes[d.qk_norm]
        for piece, shape in (("q_norm", q), ("k_norm", k)):
            t.add(f"{p}{name(d, piece)}.weight", *shape)
            if d.norm_bias:
                t.add(f"{p}{name(d, piece)}.bias", *shape)


def _separate_qkv(d: Dims, t: TensorList, p: str) -> None:
    """Llama-style q/k/v/o (LlamaAttention); optional q/k norms (Qwen3Attention, Gemma3, OLMo 2).
    Qwen3-Next's gated attention projects a per-head output gate with the queries (q_proj ×2)."""
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    t.linear(p + name(d, "q"), q * (2 if d.family.q_gate else 1), d.hidden, d.qkv_bias)
    t.linear(p + name(d, "k"), kv, d.hidden, d.qkv_bias)
    t.linear(p + name(d, "v"), kv, d.hidden, d.qkv_bias)
    t.linear(p + name(d, "o"), d.hidden, q, d.o_bias)
    _qk_norms(d, t, p)
    if d.family.sub_norms:  # BitNetAttention: RMSNorm before o_proj
        t.norm(p + "attn_sub_norm", q)


def _fused_qkv(d: Dims, t: TensorList, p: str) -> None:
    """Phi3Attention, GPT-NeoX, Falcon, MPT: one projection of width heads·hd + 2·kv_heads·hd."""
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    t.linear(p + name(d, "qkv"), q + 2 * kv, d.hidden, d.qkv_bias)
    t.linear(p + name(d, "o"), d.hidden, q, d.o_bias)
    _qk_norms(d, t, p)


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


def _indexer(d: Dims, t: TensorList, p: str) -> None:
    """DeepseekV32Indexer: its own queries from the q latent, one key (LayerNorm'd), per-head weights."""
    heads, dim = d.hf.int("index_n_heads", minimum=1), d.hf.int("index_head_dim", minimum=1)
    p += "indexer."
    t.linear(p + "wq_b", heads * dim, d.q_lora_rank)
    t.linear(p + "wk", dim, d.hidden)
    t.norm(p + "k_norm", dim, bias=True)
    t.linear(p + "weights_proj", heads, d.hidden)


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
    p += name(d, "mlp")
    t.linear(p + name(d, "gate"), d.ffn, d.hidden, d.mlp_bias)
    t.linear(p + name(d, "up"), d.ffn, d.hidden, d.mlp_bias)
    t.linear(p + name(d, "down"), d.hidden, d.ffn, d.mlp_bias)
    if d.family.sub_norms:  # BitNetMLP: RMSNorm before down_proj
        t.norm(p + "ffn_sub_norm", d.ffn)


def _fused_gated(d: Dims, t: TensorList, p: str) -> None:
    """Phi3MLP, GLM: gate and up stacked in one gate_up_proj of 2·ffn rows."""
    p += name(d, "mlp")
    t.linear(p + name(d, "gate_up"), 2 * d.ffn, d.hidden, d.mlp_bias)
    t.linear(p + name(d, "down"), d.hidden, d.ffn, d.mlp_bias)


def _plain(d: Dims, t: TensorList, p: str) -> None:
    """Two-matrix MLP, down(act(up(x))): GPT-NeoX dense_h_to_4h/dense_4h_to_h, Phi fc1/fc2, StarCoder2.
    Apertus' xIELU activation learns alpha_p and alpha_n and stores beta and eps as buffers."""
    p += name(d, "mlp")
    t.linear(p + name(d, "up"), d.ffn, d.hidden, d.mlp_bias)
    t.linear(p + name(d, "down"), d.hidden, d.ffn, d.mlp_bias)
    if d.family.act_params:
        t.add(p + "act_fn.alpha_p", 1)
        t.add(p + "act_fn.alpha_n", 1)
        t.add(p + "act_fn.beta", parameter=False)
        t.add(p + "act_fn.eps", parameter=False)


def _granite_shared(d: Dims, t: TensorList, p: str) -> None:
    """GraniteMoeHybrid without experts: the shared_mlp alone (input_linear is gate and up stacked)."""
    t.linear(p + "shared_mlp.input_linear", 2 * d.shared_ffn, d.hidden)
    t.linear(p + "shared_mlp.output_linear", d.hidden, d.shared_ffn)


DENSE_FFN: dict[str, Callable[[Dims, TensorList, str], None]] = {
    "gated": _gated, "fused_gated": _fused_gated, "plain": _plain, "granite_shared": _granite_shared,
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
        # kept in float32 whatever the model dtype (transformers' _keep_in_fp32_modules_strict; DeepSeek's
        # inference/model.py Gate.bias): float32 in the files of GLM-5.1 (bf16), GLM-4.5-FP8, DeepSeek-V3/V3.2
        # (tests/fixtures/weight_tables)
        t.add(p + name(d, "router_bias"), d.n_experts, dtype=DType.F32)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_experts.", d.hidden, d.shared_ffn)


def _ernie(d: Dims, t: TensorList, p: str) -> None:
    """Ernie4_5_MoeSparseMoeBlock: gate, moe_statics.e_score_correction_bias (1, E), experts.N.*,
    shared_experts."""
    p += "mlp."
    t.linear(p + "gate", d.n_experts, d.hidden)
    t.add(p + "moe_statics.e_score_correction_bias", 1, d.n_experts)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn, d.mlp_bias)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_experts.", d.hidden, d.shared_ffn, d.mlp_bias)


def _granite(d: Dims, t: TensorList, p: str) -> None:
    """GraniteMoeMoE as checkpointed: experts fused in input_linear (E, 2·ffn, hidden) and output_linear
    (E, hidden, ffn), router.layer (E, hidden); GraniteMoeShared adds a shared_mlp."""
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.add(p + "block_sparse_moe.input_linear.weight", e, 2 * f, h)
    t.add(p + "block_sparse_moe.output_linear.weight", e, h, f)
    t.linear(p + "block_sparse_moe.router.layer", e, h)
    if d.shared_ffn:
        t.linear(p + "shared_mlp.input_linear", 2 * d.shared_ffn, h)
        t.linear(p + "shared_mlp.output_linear", h, d.shared_ffn)


def _jamba(d: Dims, t: TensorList, p: str) -> None:
    """JambaSparseMoeBlock: feed_forward.router and experts.N.gate/up/down_proj."""
    p += name(d, "mlp")
    t.linear(p + "router", d.n_experts, d.hidden)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)


def _minimax_m2(d: Dims, t: TensorList, p: str) -> None:
    """MiniMaxM2SparseMoeBlock: Mixtral's block_sparse_moe plus a learned e_score_correction_bias."""
    _mixtral(d, t, p)
    t.add(p + "block_sparse_moe.e_score_correction_bias", d.n_experts)


def _exaone(d: Dims, t: TensorList, p: str) -> None:
    """ExaoneMoeSparseMoEBlock: gate, a score bias beside it (mlp.e_score_correction_bias), experts.N.*,
    shared_experts."""
    p += "mlp."
    t.linear(p + "gate", d.n_experts, d.hidden)
    t.add(p + "e_score_correction_bias", d.n_experts)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_experts.", d.hidden, d.shared_ffn)


def _granite_fused(d: Dims, t: TensorList, p: str) -> None:
    """GraniteMoeSWA: router.weight and experts fused gate_up_proj (E, 2·ffn, hidden), down_proj
    (E, hidden, ffn)."""
    p += "block_sparse_moe."
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "router", e, h)
    t.add(p + "experts.gate_up_proj", e, 2 * f, h)
    t.add(p + "experts.down_proj", e, h, f)


def _fused_experts(d: Dims, t: TensorList, p: str) -> None:
    """Experts stored fused, as Qwen3-VL-MoE and GLM-4.5V checkpoints keep them: gate_up_proj
    (E, 2·ffn, hidden) and down_proj (E, hidden, ffn); a router gate; GLM adds the score bias and
    shared experts."""
    p += "mlp."
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "gate", e, h)
    if d.router_bias:
        t.add(p + "gate.e_score_correction_bias", e)
    t.add(p + "experts.gate_up_proj", e, 2 * f, h)
    t.add(p + "experts.down_proj", e, h, f)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_experts.", h, d.shared_ffn)


def _afmoe(d: Dims, t: TensorList, p: str) -> None:
    """AfmoeSparseMoeBlock as checkpointed (transformers' qwen2_moe conversion stores the fused experts
    one by one): router.gate, expert_bias (a float32 Parameter, requires_grad off), experts.N.*, and the
    shared experts as one MLP of moe_intermediate_size × num_shared_experts, built even when that is 0."""
    p += "mlp."
    t.linear(p + "router.gate", d.n_experts, d.hidden)
    t.add(p + "expert_bias", d.n_experts, dtype=DType.F32)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    gated_ffn(t, p + "shared_experts.", d.hidden, d.shared_ffn)


def _hy_v3(d: Dims, t: TensorList, p: str) -> None:
    """HYV3MoE as checkpointed (transformers' conversion mapping renames these on load): router.gate
    (float32, _keep_in_fp32_modules_strict), the float32 expert_bias buffer (persistent), experts.N.*,
    and the shared MLP (shared_mlp, moe_intermediate_size × num_shared_experts wide)."""
    p += "mlp."
    t.add(p + "router.gate.weight", d.n_experts, d.hidden, dtype=DType.F32)
    t.add(p + "expert_bias", d.n_experts, dtype=DType.F32)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    gated_ffn(t, p + "shared_mlp.", d.hidden, d.shared_ffn, d.mlp_bias)


def _laguna(d: Dims, t: TensorList, p: str) -> None:
    """LagunaSparseMoeBlock as checkpointed (transformers' conversion mapping renames on load): gate,
    experts.N.*, the router's e_score_correction_bias stored beside the experts, and shared_expert (built
    even when shared_expert_intermediate_size is 0)."""
    p += "mlp."
    t.linear(p + "gate", d.n_experts, d.hidden)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    t.add(p + "experts.e_score_correction_bias", d.n_experts)
    gated_ffn(t, p + "shared_expert.", d.hidden, d.shared_ffn)


def _lfm2_moe(d: Dims, t: TensorList, p: str) -> None:
    """Lfm2MoeSparseMoeBlock as checkpointed (experts one by one, Mixtral's w1 gate, w3 up, w2 down):
    feed_forward.gate, the float32 expert_bias buffer (persistent, so stored), experts.N.w1/w3/w2."""
    p += name(d, "mlp")
    t.linear(p + "gate", d.n_experts, d.hidden)
    if d.router_bias:
        t.add(p + "expert_bias", d.n_experts, dtype=DType.F32)
    for e in range(d.n_experts):
        t.linear(f"{p}experts.{e}.w1", d.expert_ffn, d.hidden)
        t.linear(f"{p}experts.{e}.w3", d.expert_ffn, d.hidden)
        t.linear(f"{p}experts.{e}.w2", d.hidden, d.expert_ffn)


def _nemotron_h(d: Dims, t: TensorList, p: str) -> None:
    """NemotronHMoE as checkpointed (the experts one by one): gate.weight and its e_score_correction_bias,
    both float32 (NemotronHTopkRouter builds them so), experts.N.up_proj / down_proj (relu², no gate, no
    bias) over moe_latent_size when set (with fc1/fc2_latent_proj around them), shared_experts."""
    p += name(d, "mlp")
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    latent = d.hf.opt_int("moe_latent_size", minimum=1)
    t.add(p + "gate.weight", e, h, dtype=DType.F32)
    t.add(p + "gate.e_score_correction_bias", e, dtype=DType.F32)
    for i in range(e):
        t.linear(f"{p}experts.{i}.up_proj", f, latent or h)
        t.linear(f"{p}experts.{i}.down_proj", latent or h, f)
    t.linear(p + "shared_experts.up_proj", d.shared_ffn, h, d.mlp_bias)
    t.linear(p + "shared_experts.down_proj", h, d.shared_ffn, d.mlp_bias)
    if latent:
        t.linear(p + "fc1_latent_proj", latent, h, d.mlp_bias)
        t.linear(p + "fc2_latent_proj", h, latent, d.mlp_bias)


def _dbrx(d: Dims, t: TensorList, p: str) -> None:
    """DbrxFFN as checkpointed: router.layer (E, hidden) and every expert's w1, v1 (gate, up) and w2
    (down, transposed) stacked along the rows: (E · ffn_hidden_size, d_model) each."""
    p += "ffn."
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "router.layer", e, h)
    for w in ("w1", "v1", "w2"):
        t.add(f"{p}experts.mlp.{w}", e * f, h)


def _hunyuan(d: Dims, t: TensorList, p: str) -> None:
    """HunYuanMoEV1Moe: gate.wg (E, hidden), kept in float32 whatever the model dtype (its nn.Linear is
    built with dtype=torch.float32), experts.N.*, and shared_mlp."""
    p += "mlp."
    t.add(p + "gate.wg.weight", d.n_experts, d.hidden, dtype=DType.F32)
    for e in range(d.n_experts):
        gated_ffn(t, f"{p}experts.{e}.", d.hidden, d.expert_ffn)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_mlp.", d.hidden, d.shared_ffn, d.mlp_bias)


def _llama4(d: Dims, t: TensorList, p: str) -> None:
    """Llama4TextMoe as checkpointed: router (E, hidden), experts fused as gate_up_proj
    (E, hidden, 2·ffn) and down_proj (E, ffn, hidden) — input-major, unlike nn.Linear — and one
    shared_expert MLP."""
    p += name(d, "mlp")
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "router", e, h)
    t.add(p + "experts.gate_up_proj", e, h, 2 * f)
    t.add(p + "experts.down_proj", e, f, h)
    if d.shared_ffn:
        gated_ffn(t, p + "shared_expert.", h, d.shared_ffn)


def _aria(d: Dims, t: TensorList, p: str) -> None:
    """AriaTextMoELayer as checkpointed: router.weight (E, hidden), the experts fused input-major as
    Aria's checkpoints store them (conversion_mapping.py renames experts.fc1.weight ↔ gate_up_proj,
    (E, hidden, 2·ffn), and fc2.weight ↔ down_proj, (E, ffn, hidden)), and one shared-experts MLP
    moe_num_shared_experts × intermediate_size wide."""
    p += "mlp."
    e, h, f = d.n_experts, d.hidden, d.expert_ffn
    t.linear(p + "router", e, h)
    t.add(p + "experts.fc1.weight", e, h, 2 * f)
    t.add(p + "experts.fc2.weight", e, f, h)
    gated_ffn(t, p + "shared_experts.", h, d.shared_ffn, d.mlp_bias)


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
    "glm4_moe": _deepseek, "deepseek_v32": _deepseek, "glm_moe_dsa": _deepseek,
    "ernie": _ernie, "granite": _granite, "jamba": _jamba,
    "minimax_m2": _minimax_m2, "fused_qwen": _fused_experts, "fused_glm": _fused_experts,
    "exaone": _exaone, "granite_fused": _granite_fused, "dbrx": _dbrx, "hunyuan": _hunyuan,
    "llama4": _llama4, "afmoe": _afmoe, "aria": _aria, "nemotron_h": _nemotron_h, "lfm2_moe": _lfm2_moe,
    "hy_v3": _hy_v3, "laguna": _laguna,
}


def decoder_tensors(d: Dims, t: TensorList, base: str | None = None, head_prefix: str = "") -> None:
    """Embedding, layers, final norm, and the LM head when it is not tied to the embedding.

    ``base`` replaces the family's body prefix (``model.``) inside a multimodal wrapper.
    """
    fam = d.family
    if base is None:
        base = "" if d.bare else name(d, "base")
    t.embedding(base + name(d, "embed"), d.vocab + fam.embed_extra, d.hidden)
    if name(d, "pos_embed"):  # learned absolute positions; OPT and BioGPT keep 2 extra rows
        t.embedding(base + name(d, "pos_embed"), d.context + fam.pos_offset, d.hidden)
    if name(d, "embed_norm"):
        t.norm(base + name(d, "embed_norm"), d.hidden, d.norm_bias)
    if name(d, "rotary_buffer"):  # ChatGLM stores its rotary inv_freq: head_dim / 4 values
        t.add(base + name(d, "rotary_buffer"), d.head_dim // 4, parameter=False)
    for i in range(d.n_layers):
        p = f"{base}{name(d, 'layers')}.{i}."
        # Laguna: this layer's own query heads
        LAYER_BLOCKS[d.block(i)](replace(d, n_heads=d.heads_per_layer[i]) if d.heads_per_layer else d, t, p)
        for norm in d.norms:
            t.norm(p + norm, d.hidden, d.norm_bias)
        if d.is_moe_layer(i):
            MOE_BLOCKS[fam.moe](d, t, p)
        elif fam.ffn:
            DENSE_FFN[fam.ffn](d, t, p)
    if name(d, "final_norm"):
        t.norm(base + name(d, "final_norm"), d.hidden, d.norm_bias)
    if d.bare:
        return
    if d.score is not None:  # GenericForSequenceClassification / …ForTokenClassification: no LM head
        t.linear(head_prefix + d.score[0], d.score[1], d.hidden, d.score[2])
        return
    if not d.tied or fam.embed_extra:  # an embedding with extra rows cannot be the head (Mllama)
        t.linear(head_prefix + name(d, "head"), d.vocab, d.hidden, d.head_bias)
    elif d.head_bias:  # a tied head's weight is the embedding, its bias is its own (Phi, GPT-J)
        t.add(head_prefix + name(d, "head") + ".bias", d.vocab)


def _attention_block(d: Dims, t: TensorList, p: str, indexer: bool = True) -> None:
    p += name(d, "attn")
    ATTENTION[d.family.attention](d, t, p)
    if d.family.attn_gate:  # AfmoeAttention: sigmoid(gate_proj(x)) scales the attention output per head
        t.linear(p + "gate_proj", d.n_heads * d.head_dim, d.hidden)
    if d.family.gate_rule:  # Lfm3Attention / LagunaAttention: g_proj, per head or per channel
        width = GATE_RULES[d.family.gate_rule](d.hf, d.n_heads, d.head_dim)
        if width:
            t.linear(p + name(d, "g"), width, d.hidden)
    if d.family.sinks:
        t.add(p + "sinks", d.n_heads)
    if d.family.indexer and indexer:
        _indexer(d, t, p)


def _shared_index_block(d: Dims, t: TensorList, p: str) -> None:
    """GLM-MoE-DSA's "shared" layers: attention without an indexer of their own."""
    _attention_block(d, t, p, indexer=False)


def _mixer_block(d: Dims, t: TensorList, p: str) -> None:
    assert d.mixer is not None  # resolve() sets it for every family with recurrent blocks
    from paramscope.knowledge.families.ssm import MIXER_TENSORS

    MIXER_TENSORS[d.mixer.kind](d.mixer, d.hidden, t, p + name(d, "mixer"))


def _cross_block(d: Dims, t: TensorList, p: str) -> None:
    """MllamaCrossAttentionDecoderLayer: cross_attn (q/k/v/o and per-head q/k RMSNorms) and the two
    tanh gates on its attention and MLP outputs, one value each."""
    q, kv = d.n_heads * d.head_dim, d.n_kv_heads * d.head_dim
    c = p + "cross_attn."
    t.linear(c + "q_proj", q, d.hidden)
    t.linear(c + "k_proj", kv, d.hidden)
    t.linear(c + "v_proj", kv, d.hidden)
    t.linear(c + "o_proj", d.hidden, q)
    t.norm(c + "q_norm", d.head_dim)
    t.norm(c + "k_norm", d.head_dim)
    t.add(p + "cross_attn_attn_gate", 1)
    t.add(p + "cross_attn_mlp_gate", 1)


def _lightning_block(d: Dims, t: TensorList, p: str) -> None:
    """MiniMax's linear-attention layers sit in the attention slot (self_attn.)."""
    assert d.mixer is not None
    from paramscope.knowledge.families.ssm import MIXER_TENSORS

    MIXER_TENSORS[d.mixer.kind](d.mixer, d.hidden, t, p + name(d, "attn"))


def _mlp_block(d: Dims, t: TensorList, p: str) -> None:
    """NemotronH's "-" layers: the layer is its (plain, relu²) MLP, in the mixer slot."""
    _plain(d, t, p)


def _no_block(d: Dims, t: TensorList, p: str) -> None:
    """NemotronH's "E" layers: the layer is its MoE, which MOE_BLOCKS writes."""


def _parallel_block(d: Dims, t: TensorList, p: str) -> None:
    """FalconH1: attention and a Mamba-2 mixer side by side."""
    _attention_block(d, t, p)
    _mixer_block(d, t, p)


# What sits in a layer's token-mixing slot: attention, a recurrent mixer (ssm.py), or both.
LAYER_BLOCKS: dict[str, Callable[[Dims, TensorList, str], None]] = {
    "attention": _attention_block, "mamba": _mixer_block, "mamba2": _mixer_block,
    "deltanet": _mixer_block, "deltanet_split": _mixer_block, "attention+mamba2": _parallel_block,
    "lightning": _lightning_block, "cross": _cross_block, "shortconv": _mixer_block,
    "attention_shared_index": _shared_index_block, "mlp": _mlp_block, "moe": _no_block,
}
