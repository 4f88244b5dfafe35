"""One architecture family as data: the ``Family`` row every table module fills in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.model.dtypes import DType
from paramscope.records import field, record


@record
class Family:
    """One architecture family: where its config fields are and how its tensors are named."""

    model_type: str
    source: str  # the transformers modeling file whose parameter names and shapes the row follows
    layout: str = "decoder"  # "decoder" (model.layers.N…), "gpt2" (h.N…), "bert" (encoder.layer.N…)
    architectures: tuple[str, ...] = ()  # class names that identify the family without a model_type
    defaults: Mapping[str, Any] = field(default_factory=dict)
    attribute_map: Mapping[str, str] = field(default_factory=dict)  # our key → the config's spelling
    dtype: DType = DType.BF16  # type of checkpoints whose config names none
    names: Mapping[str, str] = field(default_factory=dict)  # overrides of decoder.NAMES
    attention: str = "separate"  # "separate" q/k/v/o, "fused_qkv" (Phi-3, GPT-NeoX), "mla" (DeepSeek)
    qkv_bias: bool | str = False  # a fixed answer, or the config flag that decides it
    o_bias: bool | str = False
    qk_norm: str = ""  # q/k norms: "head" (Qwen3, Gemma 3), "full" (OLMo 2), "head2d" (Cohere)
    qk_norm_switch: bool | str = True  # the config flag that turns qk_norm on (Cohere: use_qk_norm)
    sinks: bool = False  # learned attention sink logit per head (gpt-oss)
    act_params: bool = False  # the activation has parameters (Apertus' xIELU)
    sub_norms: bool = False  # BitNet: RMSNorm before o_proj and before down_proj
    pos_offset: int = 0  # learned positions (names["pos_embed"]): rows beyond max_position_embeddings
    q_gate: bool = False  # q_proj also projects a per-head output gate (Qwen3-Next): twice as wide
    never_tied: bool = False  # the class ties nothing (NemotronH's empty _tied_weights_keys): own lm_head
    attn_gate: bool = False  # a separate self_attn.gate_proj (heads·head_dim, hidden): output gate (AFMoE)
    gate_rule: str = ""  # key of dims.GATE_RULES: a self_attn.g_proj output gate whose width the config
    # decides (LFM3: one value per head when use_attention_gate; Laguna: per head or per channel)
    heads_per_layer: str = ""  # config list of each layer's query heads (Laguna's
    # num_attention_heads_per_layer): q_proj, o_proj and the gate of layer i use that many heads
    norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    norm_rule: str = ""  # key of dims.NORM_RULES when the norms depend on the config (Falcon)
    norm_bias: bool | str = False  # LayerNorm with a bias (GPT-NeoX, Phi, StableLM)
    ffn: str = "gated"  # "gated" gate/up/down, "fused_gated" gate_up/down (Phi-3), "plain" up/down
    mlp_bias: bool | str = False
    ffn_rule: str = ""  # key of dims.FFN_RULES: the dense FFN width ("" = intermediate_size)
    head_bias: bool | str = False  # lm_head.bias (GPT-J, Phi)
    kv_rule: str = "plain"  # key of dims.KV_RULES: how many KV heads (Falcon's multi_query)
    moe: str = ""  # key of dims.MOE_RULES / decoder.MOE_BLOCKS; "" for a dense model
    sliding: str = "none"  # key of dims.SLIDING_RULES, used when the config has no layer_types
    mixer: str = ""  # key of dims.MIXER_RULES for hybrid / state-space models ("" = attention only)
    bare: bool | None = None  # the checkpoint holds the bare model; None = as the class name says
    indexer: str = ""  # sparse-attention indexer beside MLA: "all" layers (DeepSeek-V3.2), "indexer_types"
    # (GLM-MoE-DSA: only the "full" layers of that list, the "shared" ones reuse the previous top-k)
    embed_extra: int = 0  # embedding rows beyond vocab_size (Mllama: vocab_size + 8)
    cross_layers: str = ""  # config list of layers that cross-attend instead (Mllama); "" = none
    kv_shared: str = ""  # config count of trailing layers that reuse an earlier layer's KV (Gemma 3n)
    # encoder-decoders: the config key counting decoder layers (T5: num_decoder_layers, which defaults to
    # num_layers; BART/Whisper: decoder_layers) and the key fixing the encoder's length (Whisper:
    # max_source_positions); "" = a decoder-only or encoder-only family / the prompt's length
    decoder_layers: str = ""
    encoder_length: str = ""
    encoder_hidden: str = ""  # "section.key" of the encoder's width when the row describes the decoder
    flatten: tuple[str, ...] = ()  # nested config sections read as top-level fields (DBRX's attn_config)
    describes: tuple[str, ...] = ()  # the transformers class whose checkpoint a config without
    # ``architectures`` describes (default: the first of ``architectures``)
    # config keys that say the checkpoint holds more than the row describes (Qwen-VL's "visual" beside
    # the Qwen (1) text model): refused in one line rather than priced short
    refuse_with: tuple[str, ...] = ()
    # repository code whose other classes are its own (InternLMForSequenceClassification's five
    # ``classifiers``, widths the config does not give): a config whose architectures[0] is none of
    # ``architectures`` is refused in one line rather than priced with transformers' generic heads
    architectures_only: bool = False
    unlisted: str = ""  # tensors the family's published checkpoints also store that transformers does
    # not build, so neither do we (Qwen3-Next's mtp.* layer): said in ArchConfig.extra["not_listed"]
