"""A family row + a config mapping → every number the tensor builders and ``ArchConfig`` need.

Which layers are mixture-of-experts and which attend through a sliding window are rules of each
family's HF code, kept here as small tables keyed by the row's ``moe`` and ``sliding`` fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from paramscope.errors import FormatError, UnsupportedError
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig, config_dtype
from paramscope.knowledge.families.table import Family
from paramscope.model.dtypes import DType
from paramscope.records import field, record

if TYPE_CHECKING:
    from paramscope.knowledge.families.ssm import Mixer

# Per-expert tensors are listed one by one (Mixtral, Qwen, DeepSeek checkpoints name each expert), so
# layers × experts is bounded: DeepSeek-V3 has 58 × 256 = 14,848.
MAX_EXPERT_SLOTS = 1_000_000
MAX_EXPERTS = 1 << 16


@record
class Dims:
    """A config's dimensions read through its family row: the numbers the tensor list is built from."""

    family: Family
    hf: HfConfig
    hidden: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    context: int
    tied: bool
    dtype: DType
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    norm_bias: bool
    head_bias: bool
    qk_norm: str  # the row's qk_norm kind, "" when the config turns it off
    norms: tuple[str, ...]  # per-layer norms, by name
    layer_types: tuple[str, ...]
    sliding_window: int
    moe_layers: tuple[bool, ...] = ()  # per layer: routed experts (True) or a dense FFN
    n_experts: int = 0
    n_experts_per_token: int = 0
    expert_ffn: int = 0
    n_shared_experts: int = 0
    shared_ffn: int = 0  # width of the shared expert FFN (all shared experts fused, as DeepSeek does)
    router_bias: bool = False  # DeepSeek-V3 e_score_correction_bias
    q_lora_rank: int = 0  # MLA (DeepSeek V2/V3); 0 = plain q_proj
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    bare: bool = False  # the checkpoint is the bare model (…Model): no body prefix, no LM head
    # a decoder saved with a task head instead of the LM head (…ForSequenceClassification: reward
    # models; …ForTokenClassification): (name, outputs, bias) of its Linear, else None
    score: tuple[str, int, bool] | None = None
    blocks: tuple[str, ...] = ()  # per layer: key of decoder.LAYER_BLOCKS; () = all "attention"
    # the layer kinds before the KV-sharing layers were blanked to "none" (() where none share): what an
    # engine that gives every layer a cache slot of its own sizes (SGLang's pool for Gemma 4)
    unshared_layer_types: tuple[str, ...] = ()
    mixer: Mixer | None = None  # the recurrent mixer of hybrid / state-space families
    heads_per_layer: tuple[int, ...] = ()  # query heads of each layer where they differ (Laguna)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def is_moe_layer(self, i: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[i]

    def block(self, i: int) -> str:
        return self.blocks[i] if self.blocks else "attention"


# -- which layers route to experts ------------------------------------------------------------------
def _nemotron_h_block(hf: HfConfig, i: int) -> str:
    from paramscope.knowledge.families.ssm import nemotron_h_blocks

    return nemotron_h_blocks(hf)[i]


def _every_layer(hf: HfConfig, i: int, n_experts: int) -> bool:
    return n_experts > 0


def _qwen_sparse(hf: HfConfig, i: int, n_experts: int) -> bool:
    # Qwen2MoeDecoderLayer: sparse if i not in mlp_only_layers, num_experts > 0 and
    # (i + 1) % decoder_sparse_step == 0
    step = hf.int("decoder_sparse_step", 1, minimum=1)
    return i not in hf.int_list("mlp_only_layers") and n_experts > 0 and (i + 1) % step == 0


def _deepseek_sparse(hf: HfConfig, i: int, n_experts: int) -> bool:
    # DeepseekV3DecoderLayer: n_routed_experts and i >= first_k_dense_replace and i % moe_layer_freq == 0
    first_dense = hf.int("first_k_dense_replace", 0)
    return n_experts > 0 and i >= first_dense and i % hf.int("moe_layer_freq", 1, minimum=1) == 0


def _v32_sparse(hf: HfConfig, i: int, n_experts: int) -> bool:
    # DeepseekV32Config.mlp_layer_types ("dense"/"sparse"), else first_k_dense_replace dense layers first
    kinds = hf.str_list("mlp_layer_types")
    if kinds is not None and i < len(kinds):
        return n_experts > 0 and kinds[i] == "sparse"
    return n_experts > 0 and i >= hf.int("first_k_dense_replace", 0)


def _mlp_kind(hf: HfConfig, i: int, default: str) -> str:
    """Layer i's entry of the config's mlp_layer_types ("dense"/"sparse"), else ``default``."""
    kinds = hf.str_list("mlp_layer_types")
    if kinds is None:
        return default
    n = hf.int("num_hidden_layers", minimum=1)
    if len(kinds) != n:
        raise FormatError(hf.source, "mlp_layer_types has one entry per layer", found=len(kinds), expected=n)
    return kinds[i]


def _sparse_after_first(hf: HfConfig, i: int) -> bool:
    # HYV3Config / LagunaConfig: mlp_layer_types, by default ["dense"] + ["sparse"] * (layers − 1)
    return _mlp_kind(hf, i, "dense" if i == 0 else "sparse") == "sparse"


def _ernie_sparse(hf: HfConfig, i: int, n_experts: int) -> bool:
    # Ernie4_5_MoeDecoderLayer: (i + 1) % moe_layer_interval == 0 and start <= i <= end
    return (n_experts > 0 and (i + 1) % hf.int("moe_layer_interval", 1, minimum=1) == 0
            and hf.int("moe_layer_start_index", 0) <= i <= hf.int("moe_layer_end_index", MAX_LAYERS))


def _ernie_shared(hf: HfConfig, expert_ffn: int) -> tuple[int, int]:
    # Ernie4_5_MoeSparseMoeBlock: one MLP of moe_intermediate_size × moe_num_shared_experts
    n = hf.int("moe_num_shared_experts", 0)
    return n, n * expert_ffn


def _granite_shared(hf: HfConfig, expert_ffn: int) -> tuple[int, int]:
    # GraniteMoeSharedDecoderLayer: a shared_mlp of shared_intermediate_size when it is not 0
    width = hf.int("shared_intermediate_size", 0)
    return (1 if width else 0), width


def _qwen_shared(hf: HfConfig, expert_ffn: int) -> tuple[int, int]:
    width = hf.int("shared_expert_intermediate_size", 0)  # Qwen2-MoE has one; Qwen3-MoE has none
    return (1 if width else 0), width


def _deepseek_shared(hf: HfConfig, expert_ffn: int) -> tuple[int, int]:
    # DeepseekV3MoE: one MLP of width moe_intermediate_size × n_shared_experts
    n = hf.int("n_shared_experts", 0)
    return n, n * expert_ffn


def _no_shared(hf: HfConfig, expert_ffn: int) -> tuple[int, int]:
    return 0, 0


@record
class MoeRule:
    """How a mixture-of-experts family places its experts: which layers, shared experts, router bias."""

    is_moe_layer: Callable[[HfConfig, int, int], bool]
    shared: Callable[[HfConfig, int], tuple[int, int]]  # → (shared experts, their fused FFN width)
    router_bias: Callable[[HfConfig], bool] = lambda hf: False


MOE_RULES: dict[str, MoeRule] = {
    "mixtral": MoeRule(_every_layer, _no_shared),
    "qwen": MoeRule(_qwen_sparse, _qwen_shared),
    # DeepSeek-V3's noaux_tc routing learns a per-expert score bias (mlp.gate.e_score_correction_bias)
    "deepseek": MoeRule(_deepseek_sparse, _deepseek_shared,
                        lambda hf: hf.value("topk_method") == "noaux_tc"),
    "gpt_oss": MoeRule(_every_layer, _no_shared, lambda hf: True),
    # Glm4MoeTopkRouter always learns e_score_correction_bias
    "glm4_moe": MoeRule(_deepseek_sparse, _deepseek_shared, lambda hf: True),
    "ernie": MoeRule(_ernie_sparse, _ernie_shared, lambda hf: True),
    "granite": MoeRule(_every_layer, _granite_shared),
    "minimax_m2": MoeRule(_every_layer, _no_shared),
    "granite_fused": MoeRule(_every_layer, _no_shared),
    "dbrx": MoeRule(_every_layer, _no_shared),
    # DeepseekV32Config.mlp_layer_types ("dense"/"sparse"), else first_k_dense_replace dense layers; the
    # router always learns e_score_correction_bias
    "deepseek_v32": MoeRule(_v32_sparse, _deepseek_shared, lambda hf: True),
    "glm_moe_dsa": MoeRule(_v32_sparse, _deepseek_shared, lambda hf: True),
    # Llama4TextConfig.moe_layers, else every interleave_moe_layer_step-th layer from step − 1; one
    # shared expert of intermediate_size beside the routed ones
    "llama4": MoeRule(lambda hf, i, n: n > 0 and (
        i in hf.int_list("moe_layers") if hf.value("moe_layers") is not None
        else (i + 1) % hf.int("interleave_moe_layer_step", 1, minimum=1) == 0), lambda hf, f: (1, f)),
    # HunYuanMoEV1Moe: one shared_mlp of intermediate_size beside the experts (also intermediate_size)
    "hunyuan": MoeRule(_every_layer, lambda hf, f: (1, f)),
    # ExaoneMoe: dense before first_k_dense_replace; num_shared_experts × moe_intermediate_size shared
    "exaone": MoeRule(_deepseek_sparse, lambda hf, f: (hf.int("num_shared_experts", 0),
                                                      hf.int("num_shared_experts", 0) * f)),
    "fused_qwen": MoeRule(_qwen_sparse, _no_shared),
    # NemotronHMoE: the "moe" layers of the layer list; one shared MLP of moe_shared_expert_intermediate_size;
    # a DeepSeek-style router with e_score_correction_bias
    "nemotron_h": MoeRule(lambda hf, i, n: n > 0 and _nemotron_h_block(hf, i) == "moe",
                          lambda hf, f: (1, hf.int("moe_shared_expert_intermediate_size", 7688)),
                          lambda hf: True),
    # AfmoeDecoderLayer: MoE from layer num_dense_layers on; one shared MLP num_shared_experts wide
    "afmoe": MoeRule(lambda hf, i, n: n > 0 and i >= hf.int("num_dense_layers", 1),
                     lambda hf, f: (hf.int("num_shared_experts", 2), f * hf.int("num_shared_experts", 2))),
    "fused_glm": MoeRule(_deepseek_sparse, _deepseek_shared, lambda hf: True),
    # Lfm2MoeDecoderLayer: the sparse block from layer num_dense_layers on; Lfm2MoeSparseMoeBlock keeps a
    # float32 expert_bias buffer (saved with the checkpoint) when use_expert_bias
    "lfm2_moe": MoeRule(lambda hf, i, n: n > 0 and i >= hf.int("num_dense_layers", 2), _no_shared,
                        lambda hf: hf.flag("use_expert_bias", True)),
    # AriaTextMoELayer in every layer; AriaSharedExpertsMLP: intermediate_size × moe_num_shared_experts
    "aria": MoeRule(_every_layer, lambda hf, f: (hf.int("moe_num_shared_experts", 2),
                                                 f * hf.int("moe_num_shared_experts", 2))),
    # Gemma4TextDecoderLayer: a routed block beside the dense MLP in every layer with enable_moe_block
    "gemma4": MoeRule(lambda hf, i, n: n > 0 and hf.flag("enable_moe_block"), _no_shared),
    # HYV3Config.mlp_layer_types ("dense"/"sparse"; default: layer 0 dense, the rest sparse); HYV3MoE
    # always builds one shared MLP of moe_intermediate_size × num_shared_experts and a float32 score bias
    "hy_v3": MoeRule(lambda hf, i, n: n > 0 and _sparse_after_first(hf, i),
                     lambda hf, f: (hf.int("num_shared_experts", 1), f * hf.int("num_shared_experts", 1)),
                     lambda hf: True),
    # LagunaConfig.mlp_layer_types (default: layer 0 dense, the rest sparse); LagunaSparseMoeBlock always
    # builds a shared expert of shared_expert_intermediate_size and a learned e_score_correction_bias
    "laguna": MoeRule(lambda hf, i, n: n > 0 and _sparse_after_first(hf, i),
                      lambda hf, f: (1, hf.int("shared_expert_intermediate_size", 0)), lambda hf: True),
    # MiMoV2FlashConfig.mlp_layer_types (default: layer 0 dense, the rest sparse); MiMoV2FlashMoE has no
    # shared experts and its router always keeps e_score_correction_bias (families/mimo_v2.py)
    "mimo_v2": MoeRule(lambda hf, i, n: _sparse_after_first(hf, i), _no_shared, lambda hf: True),
    # JambaConfig.layers_num_experts: experts where i % expert_layer_period == expert_layer_offset,
    # and JambaDecoderLayer uses the sparse block only when that number is above 1
    "jamba": MoeRule(lambda hf, i, n: n > 1 and i % hf.int("expert_layer_period", 2, minimum=1)
                     == hf.int("expert_layer_offset", 1), _no_shared),
}


# -- which layers attend through a sliding window (when the config has no layer_types) ---------------
def _none(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    return [False] * n


def _all_if_window(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Mistral, Mixtral, Phi-3: every layer uses config.sliding_window when it is set
    return [window is not None] * n


def _qwen_window(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Qwen2Config: sliding_window only if use_sliding_window, and only for layers >= max_window_layers
    on = window is not None and hf.flag("use_sliding_window")
    first = hf.int("max_window_layers", 0)
    return [on and i >= first for i in range(n)]


def _alternate(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Gemma2Config / GptOssConfig: "sliding_attention" if (i + 1) % 2 else "full_attention"
    return [bool((i + 1) % 2) for i in range(n)]


def _gemma3_pattern(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Gemma3TextConfig: every sliding_window_pattern-th layer is global (pattern 6: layers 5, 11, …)
    pattern = hf.int("sliding_window_pattern", 6, minimum=1)  # "_sliding_window_pattern" since 4.53
    return [bool((i + 1) % pattern) for i in range(n)]


def _every4(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Cohere2Config, Olmo3Config, Exaone4Config: every 4th layer global, "sliding_attention" if (i + 1) % 4
    pattern = hf.int("sliding_window_pattern", 4, minimum=1)
    return [bool((i + 1) % pattern) for i in range(n)]


def _every5(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Gemma3nTextConfig: "full_attention" if (i + 1) % 5 == 0 else "sliding_attention"
    return [bool((i + 1) % 5) for i in range(n)]


def _gemma4_pattern(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Gemma4TextConfig: every sixth layer full ((i + 1) % 6 == 0), and the last layer always full
    return [bool((i + 1) % 6) and i < n - 1 for i in range(n)]


def _every4_from0(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # CwmConfig: layer 0 and every 4th after it global ("full_attention" if i % 4 == 0)
    return [bool(i % 4) for i in range(n)]


def _mimo_v2_pattern(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # MiMoV2FlashConfig: layer 0 and every sixth layer full ("full_attention" if i == 0 or not (i + 1) % 6)
    return [not (i == 0 or (i + 1) % 6 == 0) for i in range(n)]


def _llama4_chunks(hf: HfConfig, n: int, window: int | None) -> list[bool]:
    # Llama4TextConfig: "chunked_attention" on RoPE layers (no_rope_layers[i] == 1; default: all but
    # every no_rope_layer_interval-th) when attention_chunk_size is set
    interval = hf.int("no_rope_layer_interval", 4, minimum=1)
    rope = hf.int_list("no_rope_layers") or tuple(int((i + 1) % interval != 0) for i in range(n))
    return [window is not None and i < len(rope) and bool(rope[i]) for i in range(n)]


SLIDING_RULES: dict[str, Callable[[HfConfig, int, int | None], list[bool]]] = {
    "none": _none, "all_if_window": _all_if_window, "qwen": _qwen_window, "alternate": _alternate,
    "gemma3": _gemma3_pattern, "every4": _every4, "every5": _every5, "every4_from0": _every4_from0,
    "llama4": _llama4_chunks, "gemma4": _gemma4_pattern, "mimo_v2": _mimo_v2_pattern,
}
LAYER_KINDS = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "sliding",
               "indexed_attention": "full",  # DeepSeek-V3.2: its MLA cache holds every token
               "linear_attention": "linear"}


def _layer_types(fam: Family, hf: HfConfig, n: int) -> tuple[tuple[str, ...], int]:
    window = hf.opt_int("sliding_window")
    given = None if fam.mixer else hf.str_list("layer_types")  # hybrids: from the mixer rule
    if given is not None:
        if len(given) != n:
            raise FormatError(hf.source, "layer_types has one entry per layer", found=len(given), expected=n)
        kinds = tuple(LAYER_KINDS.get(t, t.removesuffix("_attention")) for t in given)
    else:
        sliding = SLIDING_RULES[fam.sliding](hf, n, window)
        kinds = tuple("sliding" if s else "full" for s in sliding)
    return kinds, (window or 0) if "sliding" in kinds else 0


def _switch(hf: HfConfig, setting: bool | str) -> bool:
    """A fixed answer, a config flag, or "!flag" for its negation (MPT's no_bias)."""
    if isinstance(setting, bool):
        return setting
    return not hf.flag(setting[1:]) if setting.startswith("!") else hf.flag(setting)


# -- how many KV heads ------------------------------------------------------------------------------
def _plain_kv(hf: HfConfig, heads: int) -> int:
    return hf.int("num_key_value_heads", heads, minimum=1)


def _falcon_kv(hf: HfConfig, heads: int) -> int:
    # FalconAttention: new_decoder_architecture → num_kv_heads; elif multi_query → 1; else heads
    if hf.flag("new_decoder_architecture"):
        return hf.int("num_kv_heads", heads, minimum=1)
    return 1 if hf.flag("multi_query", True) else heads


KV_RULES: dict[str, Callable[[HfConfig, int], int]] = {
    "plain": _plain_kv, "falcon": _falcon_kv,
    # ChatGLM SelfAttention: multi_query_attention → multi_query_group_num KV groups
    "chatglm": lambda hf, heads: (hf.int("multi_query_group_num", 1, minimum=1)
                                  if hf.flag("multi_query_attention") else heads),
    # GPTBigCodeAttention: multi_query → one KV head (c_attn is hidden + 2 · head_dim wide)
    "bigcode": lambda hf, heads: 1 if hf.flag("multi_query", True) else heads,
}


# -- which norms a layer has, when the config decides -----------------------------------------------
def _falcon_norms(hf: HfConfig) -> tuple[str, ...]:
    # FalconDecoderLayer: sequential attention → input_layernorm + post_attention_layernorm; parallel
    # with num_ln_in_parallel_attn == 2 (the default under new_decoder_architecture) → ln_attn + ln_mlp;
    # else input_layernorm only
    n_ln = hf.opt_int("num_ln_in_parallel_attn") or (2 if hf.flag("new_decoder_architecture") else None)
    if not hf.flag("parallel_attn", True):
        return ("input_layernorm", "post_attention_layernorm")
    return ("ln_attn", "ln_mlp") if n_ln == 2 else ("input_layernorm",)


def _lfm3_norms(hf: HfConfig) -> tuple[str, ...]:
    # Lfm3DecoderLayer: Lfm2's operator_norm and ffn_norm, and with use_sandwich_norm a norm after each
    # block too (nn.Identity otherwise)
    if hf.flag("use_sandwich_norm", True):
        return ("operator_norm", "post_operator_norm", "ffn_norm", "post_ffn_norm")
    return ("operator_norm", "ffn_norm")


def _stablelm_norms(hf: HfConfig) -> tuple[str, ...]:
    # StableLmDecoderLayer: no post_attention_layernorm when use_parallel_residual
    if hf.flag("use_parallel_residual"):
        return ("input_layernorm",)
    return ("input_layernorm", "post_attention_layernorm")


NORM_RULES: dict[str, Callable[[HfConfig], tuple[str, ...]]] = {
    "falcon": _falcon_norms, "stablelm": _stablelm_norms, "lfm3": _lfm3_norms,
}


# -- the width of a self_attn.g_proj output gate, from (config, query heads, head_dim); 0 = none -------
GATE_RULES: dict[str, Callable[[HfConfig, int, int], int]] = {
    # Lfm3Attention: a sigmoid gate per head when use_attention_gate
    "lfm3": lambda hf, heads, hd: heads if hf.flag("use_attention_gate", True) else 0,
    # LagunaAttention: gating true or "per-head" → one value per head, anything else → per channel
    "laguna": lambda hf, heads, hd: heads if hf.value("gating", True) in (True, "per-head") else heads * hd,
}


# -- the dense FFN width, when a family does not give it as intermediate_size ------------------------
FFN_RULES: dict[str, Callable[[HfConfig, int], int]] = {
    "": lambda hf, hidden: hf.int("intermediate_size", 4 * hidden),
    # MptMLP: up_proj is (expansion_ratio · d_model, d_model)
    "expansion_ratio": lambda hf, hidden: hf.int("expansion_ratio", 4) * hidden,
    # GPT-2, GPT-J, CodeGen, GPTBigCode: n_inner, None meaning 4 · hidden (not aliased to
    # intermediate_size by their configs' attribute_map, so a stray "intermediate_size" is ignored)
    "n_inner": lambda hf, hidden: hf.int("n_inner", 4 * hidden),
    "ffn_hidden_size": lambda hf, hidden: hf.int("ffn_hidden_size", 4 * hidden),  # FalconConfig
    "ffn_dim": lambda hf, hidden: hf.int("ffn_dim", 4 * hidden),  # OPTConfig, XGLMConfig
    # Qwen (1): QWenMLP's w1 and w2 are each intermediate_size // 2 wide (22016 → 11008 for 7B)
    "half_intermediate": lambda hf, hidden: hf.int("intermediate_size", minimum=2) // 2,
    "intermediate_size_mlp": lambda hf, hidden: hf.int("intermediate_size_mlp"),  # Llama 4's dense layers
    "lfm2": lambda hf, hidden: _lfm2_ffn(hf),
    # Gemma3nTextConfig: one width or a list of one per layer (MatFormer); the widest stands for the model
    "per_layer": lambda hf, hidden: (max(hf.int_list("intermediate_size") or (0,))
                                     if isinstance(hf.value("intermediate_size"), list | tuple)
                                     else hf.int("intermediate_size", minimum=1)),
}


def _shared_index_layers(hf: HfConfig, n: int) -> list[bool]:
    # GlmMoeDsaConfig: indexer_types ("full"/"shared"), else index_topk_pattern ("F"/"S"), else "full" when
    # max(i − index_skip_topk_offset + 1, 0) % index_topk_freq == 0
    kinds = hf.str_list("indexer_types")
    if kinds is None:
        pattern = hf.value("index_topk_pattern")
        if isinstance(pattern, str):
            kinds = tuple("shared" if c == "S" else "full" for c in pattern)
        elif isinstance(pattern, list) and all(isinstance(c, str) for c in pattern):
            kinds = tuple(pattern)
    if kinds is not None:
        return [i < len(kinds) and kinds[i] == "shared" for i in range(n)]
    freq, offset = max(hf.int("index_topk_freq", 1), 1), hf.int("index_skip_topk_offset", 2)
    return [max(i - offset + 1, 0) % freq != 0 for i in range(n)]


def _lfm2_ffn(hf: HfConfig) -> int:
    # Lfm2MLP: with block_auto_adjust_ff_dim, 2/3 of intermediate_size, times block_ffn_dim_multiplier,
    # rounded up to a multiple of block_multiple_of
    width = hf.int("intermediate_size", minimum=1)
    if not hf.flag("block_auto_adjust_ff_dim", True):
        return width
    width = int(2 * width / 3)
    factor = hf.value("block_ffn_dim_multiplier", 1.0)
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            raise FormatError(hf.source, "field 'block_ffn_dim_multiplier' must be a number",
                              found=repr(factor))
        width = int(factor * width)
        step = hf.int("block_multiple_of", 256, minimum=1)
        width = step * ((width + step - 1) // step)
    return width


def resolve(fam: Family, raw: Mapping[str, Any], source: str,
            outer: Mapping[str, Any] | None = None) -> Dims:
    """The numbers of one (text) model; ``outer`` is the multimodal wrapper, for dtype and tying."""
    if fam.flatten:  # DbrxConfig: attn_config / ffn_config sub-configs. The top level wins: those
        # sections also carry PretrainedConfig noise ("tie_word_embeddings": true in dbrx-instruct's)
        nested = [raw.get(k) for k in fam.flatten]
        raw = {**{k: v for n in nested if isinstance(n, Mapping) for k, v in n.items()}, **raw}
    extra_parts = [k for k in fam.refuse_with if raw.get(k)]
    if extra_parts:
        raise UnsupportedError(f"{source}: a {fam.model_type} config with {extra_parts[0]!r} (a part the "
                               f"{fam.model_type} row does not describe) is not supported")
    archs = raw.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    if fam.architectures_only and arch is not None and arch not in fam.architectures:
        raise UnsupportedError(f"{source}: architectures {arch}: the {fam.model_type} row lists "
                               f"{', '.join(fam.architectures)} of that repository code, not this class")
    hf = HfConfig(raw, fam.defaults, fam.attribute_map, source)
    hidden = hf.int("hidden_size", minimum=1)
    heads = hf.int("num_attention_heads", minimum=1)
    n_layers = _layer_count(fam, hf)
    layer_types, window = _layer_types(fam, hf, n_layers)
    tied = hf.flag("tie_word_embeddings") and not fam.never_tied
    if outer is not None and isinstance(outer.get("tie_word_embeddings"), bool):
        tied = outer["tie_word_embeddings"]
    dims: dict[str, Any] = dict(
        family=fam, hf=hf, hidden=hidden, n_layers=n_layers, n_heads=heads,
        n_kv_heads=KV_RULES[fam.kv_rule](hf, heads),
        head_dim=hf.int("head_dim", hidden // heads, minimum=1),
        ffn=FFN_RULES[fam.ffn_rule](hf, hidden), vocab=hf.int("vocab_size", minimum=1),
        context=hf.int("max_position_embeddings", 0), tied=tied,
        dtype=config_dtype(*(c for c in (outer, raw) if c is not None), default=fam.dtype),
        qkv_bias=_switch(hf, fam.qkv_bias), o_bias=_switch(hf, fam.o_bias),
        mlp_bias=_switch(hf, fam.mlp_bias), norm_bias=_switch(hf, fam.norm_bias),
        head_bias=_switch(hf, fam.head_bias),
        qk_norm=fam.qk_norm if _switch(hf, fam.qk_norm_switch) else "",
        norms=NORM_RULES[fam.norm_rule](hf) if fam.norm_rule else fam.norms,
        layer_types=layer_types, sliding_window=window, bare=outer is None and _bare(fam, raw),
        score=_score(fam, hf) if outer is None else None)
    if fam.mixer:  # the state-space tables load only for a family that has a recurrent mixer
        from paramscope.knowledge.families.ssm import MIXERS

        rule = MIXERS[fam.mixer]
        blocks = rule.layers(hf, n_layers)
        attention = [k for k in layer_types if k in ("full", "sliding")] or ["full"]
        # a layer that is only an MLP or MoE (NemotronH's "-" and "E") holds no cache or state: "none"
        if rule.kinds is not None:  # LFM3: each attention layer's own kind ("full" / "sliding")
            attention = list(rule.kinds(hf, n_layers))
        kinds = tuple(attention[min(i, len(attention) - 1)] if "attention" in b
                      else "none" if b in ("mlp", "moe") else "linear" for i, b in enumerate(blocks))
        dims.update(mixer=rule.mixer(hf, hidden), blocks=blocks, layer_types=kinds,
                    sliding_window=(hf.opt_int("sliding_window") or 0) if "sliding" in kinds else 0)
    if fam.cross_layers:  # MllamaTextConfig.cross_attention_layers: those layers attend to the image
        # only; their keys and values are the image's, fixed, not a per-token cache ("none")
        cross = set(hf.int_list(fam.cross_layers))
        dims.update(blocks=tuple("cross" if i in cross else "attention" for i in range(n_layers)),
                    layer_types=tuple("none" if i in cross else k for i, k in enumerate(layer_types)))
    if fam.kv_shared:  # Gemma3nTextAttention: the last num_kv_shared_layers reuse an earlier layer's
        # keys and values and hold no cache of their own ("none")
        shared = hf.int(fam.kv_shared, 0, maximum=n_layers)
        kinds = tuple("none" if i >= n_layers - shared else k for i, k in enumerate(dims["layer_types"]))
        if shared:
            dims.update(unshared_layer_types=tuple(dims["layer_types"]))
        dims.update(layer_types=kinds, sliding_window=window if "sliding" in kinds else 0)
    if fam.heads_per_layer and hf.value(fam.heads_per_layer) is not None:
        per_layer = hf.int_list(fam.heads_per_layer)
        if len(per_layer) != n_layers or min(per_layer, default=1) < 1:
            raise FormatError(hf.source, f"{fam.heads_per_layer} has one positive entry per layer",
                              found=len(per_layer), expected=n_layers)
        dims.update(heads_per_layer=per_layer)
    if fam.indexer == "indexer_types":  # GlmMoeDsaConfig.indexer_types, else its freq/offset schedule
        shared_index = _shared_index_layers(hf, n_layers)
        dims.update(blocks=tuple("attention_shared_index" if s else "attention" for s in shared_index))
    if fam.moe:
        dims.update(_moe(fam, hf, n_layers))
    if fam.attention == "mla":
        dims.update(q_lora_rank=hf.opt_int("q_lora_rank", minimum=1) or 0,
                    kv_lora_rank=hf.int("kv_lora_rank", minimum=1),
                    qk_nope_head_dim=hf.int("qk_nope_head_dim"), qk_rope_head_dim=hf.int("qk_rope_head_dim"),
                    v_head_dim=hf.int("v_head_dim", minimum=1))
    return Dims(**dims)


def _bare(fam: Family, raw: Mapping[str, Any]) -> bool:
    """A checkpoint of the bare decoder (LlamaModel, Qwen2VLTextModel…): architectures[0], else the
    class the row describes, names a …Model rather than a …ForCausalLM."""
    if fam.bare is not None:
        return fam.bare
    archs = raw.get("architectures")
    names = [a for a in archs if isinstance(a, str)] if isinstance(archs, list) else []
    arch = (names or [*fam.describes, *fam.architectures, ""])[0]
    return fam.layout in BARE_LAYOUTS and arch.endswith("Model")


# layouts whose …Model class is the body alone, without its prefix and head (their tensor builders read
# Dims.bare): LlamaModel's layers.N…, Gemma3nTextModel's, Gemma4TextModel's, BltModel's local_encoder.…
BARE_LAYOUTS = frozenset({"decoder", "gemma3n_text", "gemma4_text", "blt", "mimo_v2_flash"})


# transformers' GenericForSequenceClassification / GenericForTokenClassification (modeling_layers.py):
# the bare model under ``model.`` and a ``score`` Linear(hidden, num_labels) in place of the LM head,
# without bias for sequence classification, with ``token_classification_bias`` (default true) for token
# classification. The older classes whose body is not ``model.`` (GPT-2, BLOOM, Falcon, GPT-NeoX, MPT,
# BioGPT, GPTBigCode: ``transformer.`` / ``gpt_neox.`` / ``biogpt.``) keep the same ``score`` for
# sequence classification and name the token head ``classifier`` (with bias): CLASSIFIER_TOKEN_HEADS.
# Every decoder row's
# …ForSequenceClassification / …ForTokenClassification class that transformers defines is checked
# against transformers (tests/test_real_configs_batch_g.py).
CLASSIFIER_TOKEN_HEADS = frozenset({"biogpt", "bloom", "falcon", "RefinedWeb", "RefinedWebModel", "gpt2",
                                    "gpt_bigcode", "gpt_neo", "gpt_neox", "mpt"})
SCORE_HEADS: dict[str, str] = {"ForSequenceClassification": "", "ForTokenClassification": "token"}
# The decoder heads no row lists: a config naming one is refused rather than counted as the LM model
# (QuestionAnswering: its base prefix is ``model.`` or ``transformer.`` depending on the class; a reward
# model of repository code, InternLM2ForRewardModel, has a one-output ``v_head``).
UNLISTED_HEADS = ("ForQuestionAnswering", "ForRewardModel", "ForMultipleChoice")


def _score(fam: Family, hf: HfConfig) -> tuple[str, int, bool] | None:
    archs = hf.raw.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""
    if fam.layout != "decoder" or not arch:
        return None
    if arch.endswith(UNLISTED_HEADS):
        raise UnsupportedError(f"{hf.source}: architectures {arch}: paramscope's table lists the "
                               f"{fam.model_type} language model, not this head")
    kind = next((v for k, v in SCORE_HEADS.items() if arch.endswith(k)), None)
    if kind is None:
        return None
    if kind != "token":
        return "score", num_labels(hf), False
    if fam.model_type in CLASSIFIER_TOKEN_HEADS:
        return "classifier", num_labels(hf), True
    return "score", num_labels(hf), hf.flag("token_classification_bias", True)


def num_labels(hf: HfConfig) -> int:
    """PretrainedConfig.num_labels: the length of ``id2label`` when the config has one (fine-tuned
    classifiers do), else ``num_labels``, else 2."""
    id2label = hf.raw.get("id2label")
    if isinstance(id2label, Mapping) and id2label:
        return len(id2label)
    return hf.int("num_labels", 2, minimum=1)


def _layer_count(fam: Family, hf: HfConfig) -> int:
    """num_hidden_layers, or the length of the layer list a config derives it from (NemotronH)."""
    if fam.mixer:
        from paramscope.knowledge.families.ssm import MIXERS

        count = MIXERS[fam.mixer].count
        if count is not None:
            n = count(hf)
            if n > MAX_LAYERS:
                raise FormatError(hf.source, f"more than {MAX_LAYERS} layers", found=n)
            return n
    return hf.int("num_hidden_layers", maximum=MAX_LAYERS)


def _moe(fam: Family, hf: HfConfig, n_layers: int) -> dict[str, Any]:
    rule = MOE_RULES[fam.moe]
    n_experts = hf.int("num_experts", 0, maximum=MAX_EXPERTS)
    if n_layers * n_experts > MAX_EXPERT_SLOTS:
        raise UnsupportedError(f"{hf.source}: {n_layers} layers × {n_experts} experts is more than "
                               f"{MAX_EXPERT_SLOTS:,} expert slots; not a real model")
    expert_ffn = hf.int("moe_intermediate_size", 0)
    n_shared, shared_ffn = rule.shared(hf, expert_ffn)
    return dict(moe_layers=tuple(rule.is_moe_layer(hf, i, n_experts) for i in range(n_layers)),
                n_experts=n_experts, n_experts_per_token=hf.int_or_most("num_experts_per_tok", 0),
                expert_ffn=expert_ffn, n_shared_experts=n_shared, shared_ffn=shared_ffn,
                router_bias=rule.router_bias(hf))
