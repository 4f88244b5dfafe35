"""Families whose layers differ from one another: each layer's shape comes from a per-layer list.

A row of ``table.FAMILY_ROWS`` gives every layer the same width, heads and FFN; these configs do not.
Each family here is a function from the config to one ``Layer`` per decoder layer (what its attention
and FFN slots hold), and the tensors and the ArchConfig both come from that list, so a layer that holds
no attention holds no KV cache either.

nemotron-nas (NVIDIA's Puzzle / DeciLM: Llama-3.3-Nemotron-Super-49B, Llama-3.1-Nemotron-Ultra-253B,
Llama-3.1-Nemotron-51B): ``block_configs[i]`` has an ``attention`` and an ``ffn`` block. The checkpoints'
modeling_decilm.py (``DeciLMDecoderLayer``; mirrored by vLLM's nemotron_nas.py, NeMo AutoModel's DeciLM
``Block`` and llama.cpp's ``DeciModel`` converter) builds, per layer:

- attention ``no_op``: nothing, not even ``input_layernorm``;
- attention ``replace_with_linear``: ``input_layernorm`` and ``self_attn.linear_attn`` (hidden, hidden),
  no bias — no keys or values, so no KV cache;
- otherwise ``input_layernorm`` and Llama's q/k/v/o with ``num_attention_heads // n_heads_in_group``
  KV heads (bias: ``attention_bias``);
- ffn ``no_op``: nothing, not even ``post_attention_layernorm``;
- ffn ``replace_with_linear``: ``post_attention_layernorm`` and ``mlp.linear_mlp`` (hidden, hidden);
- otherwise ``post_attention_layernorm`` and Llama's gate/up/down of width
  ``_ffn_mult_to_intermediate_size``: ``int(2 · ffn_mult · hidden / 3)`` rounded up to a multiple of
  256 (or the block's own ``intermediate_size`` where a newer block config gives it), bias ``mlp_bias``.

Then ``model.embed_tokens``, ``model.norm`` and ``lm_head`` unless ``tie_word_embeddings``. Block
features whose parameters the spec above does not cover (a ``parallel_blocks`` / Mamba layer, attention
sinks, a per-layer window) are refused by name rather than guessed.

deci (Deci/DeciLM-7B, its configuration_decilm.py: a LlamaConfig plus ``num_key_value_heads_per_layer``):
Llama's layer with that many KV heads in layer i; every layer attends and has its FFN.

openelm (apple/OpenELM-270M … 3B, their modeling_openelm.py / configuration_openelm.py; llama.cpp's
OpenELMModel converter reads the same fields): config.json lists ``num_query_heads``, ``num_kv_heads`` and
``ffn_multipliers`` per layer. Layer i is ``transformer.layers.i.`` with ``attn_norm``, ``attn.qkv_proj``
((q + 2·kv)·head_dim, model_dim), ``attn.q_norm`` / ``attn.k_norm`` (head_dim, when
``normalize_qk_projections``), ``attn.out_proj`` (model_dim, q·head_dim), ``ffn_norm``, ``ffn.proj_1``
(2·ffn with ``ffn_with_glu``, else ffn) and ``ffn.proj_2`` (model_dim, ffn), where ffn =
``make_divisible(ffn_multipliers[i] · model_dim, ffn_dim_divisor)``; then ``transformer.token_embeddings``,
``transformer.norm`` and ``lm_head`` unless ``share_input_output_layers``. No biases anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paramscope.errors import FormatError, UnsupportedError
from paramscope.knowledge.families.hfconfig import config_dtype
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model import ArchConfig, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import record

# ArchConfig.extra keys, as the GGUF reader (knowledge/gguf_arch.py PER_LAYER) already spells them
KV_HEADS_PER_LAYER = "n_kv_heads_per_layer"
FFN_PER_LAYER = "ffn_size_per_layer"
HEADS_PER_LAYER = "n_heads_per_layer"  # query heads, where they differ by layer (OpenELM)


@record
class Layer:
    """What one decoder layer holds: ``attention`` is "full", "linear" (one hidden × hidden matrix in
    its place) or "none"; ``ffn`` is the gated FFN's width, or ``LINEAR`` / ``NONE``."""

    attention: str
    kv_heads: int  # 0 unless attention == "full"
    ffn: int
    q_heads: int = 0  # query heads where they differ by layer (OpenELM); 0 = Shape.heads


LINEAR, NONE = -1, 0  # Layer.ffn of a linear-replaced and of a no-op FFN


@record
class Shape:
    """The numbers shared by every layer, and the layers themselves."""

    hidden: int
    heads: int
    head_dim: int
    vocab: int
    context: int
    tied: bool
    attention_bias: bool
    mlp_bias: bool
    dtype: DType
    layers: tuple[Layer, ...]
    qk_norm: bool = False  # per-head q/k RMSNorms (OpenELM's normalize_qk_projections)
    glu: bool = True  # the FFN's first projection holds gate and up (OpenELM's ffn_with_glu)


def _find_multiple(n: int, k: int) -> int:
    """modeling_decilm.py ``_find_multiple``: the smallest multiple of k not below n."""
    return n if n % k == 0 else n + k - n % k


def ffn_mult_to_intermediate_size(ffn_mult: float, hidden: int) -> int:
    """modeling_decilm.py ``_ffn_mult_to_intermediate_size`` (same in vLLM's nemotron_nas.py and
    llama.cpp's DeciModel): ``int(2 * ffn_mult * n_embd / 3)`` rounded up to a multiple of 256."""
    return _find_multiple(int(2 * ffn_mult * hidden / 3), 256)


def _int(cfg: Mapping[str, Any], key: str, source: str, default: int | None = None) -> int:
    value = cfg.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise FormatError(source, f"{key} must be a positive integer", found=repr(value))
    return value


def _common(cfg: Mapping[str, Any], source: str, defaults: Mapping[str, int]) -> dict[str, Any]:
    hidden = _int(cfg, "hidden_size", source, defaults.get("hidden_size"))
    heads = _int(cfg, "num_attention_heads", source, defaults.get("num_attention_heads"))
    head_dim = _int(cfg, "head_dim", source, hidden // heads) if cfg.get("head_dim") else hidden // heads
    return {"hidden": hidden, "heads": heads, "head_dim": head_dim,
            "vocab": _int(cfg, "vocab_size", source, defaults.get("vocab_size")),
            "context": _int(cfg, "max_position_embeddings", source, defaults.get("max_position_embeddings")),
            "tied": cfg.get("tie_word_embeddings") is True,
            "attention_bias": cfg.get("attention_bias") is True, "mlp_bias": cfg.get("mlp_bias") is True,
            "dtype": config_dtype(cfg, default=DType.BF16)}


# -- nemotron-nas ------------------------------------------------------------------------------------
# block fields that change the parameters or the cache in ways the spec above does not describe (Puzzle's
# block_config.py: attention sinks and windows, Mamba or Llama-4 attention, an MoE FFN): refused, not
# guessed. ``sparsify`` (which weights were pruned to zeros) changes no shape and is ignored.
_UNSUPPORTED_ATTENTION = ("num_sink_tokens", "window_length", "mamba", "llama4")
_UNSUPPORTED_FFN = ("moe",)


def _nas_layer(i: int, block: Any, heads: int, hidden: int, source: str) -> Layer:
    where = f"block_configs[{i}]"
    if not isinstance(block, Mapping):
        raise FormatError(source, f"{where} must be a JSON object", found=type(block).__name__)
    if block.get("parallel_blocks"):
        raise UnsupportedError(f"{source}: {where} has parallel_blocks (an attention and a Mamba "
                               "branch side by side), whose parameters paramscope does not list")
    attn, ffn = block.get("attention") or {}, block.get("ffn") or {}
    if not isinstance(attn, Mapping) or not isinstance(ffn, Mapping):
        raise FormatError(source, f"{where}: attention and ffn must be JSON objects")
    odd = [f"attention.{k}" for k in _UNSUPPORTED_ATTENTION if attn.get(k) not in (None, False)]
    odd += [f"ffn.{k}" for k in _UNSUPPORTED_FFN if ffn.get(k) not in (None, False)]
    if odd:
        raise UnsupportedError(f"{source}: {where}.{odd[0]} is set, which paramscope cannot size "
                               "(modeling_decilm.py's plain block has none)")
    if attn.get("no_op") is True:
        kind, kv = "none", 0
    elif attn.get("replace_with_linear") is True:
        kind, kv = "linear", 0
    else:
        group = attn.get("n_heads_in_group")
        if not isinstance(group, int) or isinstance(group, bool) or group <= 0 or heads % group:
            raise FormatError(source, f"{where}.attention.n_heads_in_group must divide "
                              f"num_attention_heads ({heads})", found=repr(group))
        kind, kv = "full", heads // group
    if ffn.get("no_op") is True:
        width = NONE
    elif ffn.get("replace_with_linear") is True:
        width = LINEAR
    elif isinstance(ffn.get("intermediate_size"), int) and ffn["intermediate_size"] > 0:
        width = ffn["intermediate_size"]
    else:
        mult = ffn.get("ffn_mult")
        if not isinstance(mult, int | float) or isinstance(mult, bool) or mult <= 0:
            raise FormatError(source, f"{where}.ffn.ffn_mult must be a positive number", found=repr(mult))
        width = ffn_mult_to_intermediate_size(mult, hidden)
    return Layer(kind, kv, width)


def nemotron_nas(cfg: Mapping[str, Any], source: str) -> Shape:
    # DeciLMConfig is a LlamaConfig: its max_position_embeddings defaults to 2048; widths, heads and
    # vocabulary are required (every released config gives them)
    common = _common(cfg, source, {"max_position_embeddings": 2048})
    blocks = cfg.get("block_configs")
    if not isinstance(blocks, list) or not blocks:
        raise FormatError(source, "block_configs must be a non-empty list (one entry per layer)")
    n = cfg.get("num_hidden_layers")
    if n is not None and n != len(blocks):
        raise FormatError(source, f"num_hidden_layers is {n} but block_configs lists {len(blocks)} layers")
    layers = tuple(_nas_layer(i, b, common["heads"], common["hidden"], source) for i, b in enumerate(blocks))
    return Shape(layers=layers, **common)


# -- deci (DeciLM-7B) ----------------------------------------------------------------------------------
# LlamaConfig's defaults (transformers 4.35.2, which DeciLM-7B's configuration_decilm.py subclasses)
_LLAMA_DEFAULTS = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                   "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048}


def deci(cfg: Mapping[str, Any], source: str) -> Shape:
    common = _common(cfg, source, _LLAMA_DEFAULTS)
    per_layer = cfg.get("num_key_value_heads_per_layer")
    n = _int(cfg, "num_hidden_layers", source, _LLAMA_DEFAULTS["num_hidden_layers"])
    if not isinstance(per_layer, list) or len(per_layer) != n:
        raise FormatError(source, f"num_key_value_heads_per_layer must list one count per layer ({n})")
    ffn = _int(cfg, "intermediate_size", source, _LLAMA_DEFAULTS["intermediate_size"])
    layers = []
    for i, kv in enumerate(per_layer):
        if not isinstance(kv, int) or isinstance(kv, bool) or kv <= 0 or common["heads"] % kv:
            raise FormatError(source, f"num_key_value_heads_per_layer[{i}] must divide "
                              f"num_attention_heads ({common['heads']})", found=repr(kv))
        layers.append(Layer("full", kv, ffn))
    return Shape(layers=tuple(layers), **common)


# -- openelm --------------------------------------------------------------------------------------------
def make_divisible(v: float, divisor: int) -> int:
    """configuration_openelm.py ``make_divisible`` (min_value = divisor): the nearest multiple of divisor,
    one more where rounding lost over 10 %."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def openelm(cfg: Mapping[str, Any], source: str) -> Shape:
    hidden = _int(cfg, "model_dim", source)
    head_dim = _int(cfg, "head_dim", source)
    n = _int(cfg, "num_transformer_layers", source)
    lists: dict[str, list[Any]] = {}
    for key in ("num_query_heads", "num_kv_heads", "ffn_multipliers"):
        value = cfg.get(key)
        if not isinstance(value, list) or len(value) != n:
            found = f"{len(value)} values" if isinstance(value, list) else type(value).__name__
            raise FormatError(source, f"{key} must list one value per layer ({n})", found=found)
        lists[key] = value
    divisor = _int(cfg, "ffn_dim_divisor", source, 256)
    glu = cfg.get("ffn_with_glu", True) is not False
    layers = []
    for i, (q, kv, mult) in enumerate(zip(lists["num_query_heads"], lists["num_kv_heads"],
                                          lists["ffn_multipliers"], strict=True)):
        if (not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in (q, kv)) or q % kv
                or not isinstance(mult, int | float) or isinstance(mult, bool) or mult <= 0):
            raise FormatError(source, f"layer {i}: num_kv_heads must divide num_query_heads and "
                              "ffn_multipliers be positive", found=f"{q}, {kv}, {mult!r}")
        ffn = make_divisible(mult * hidden, divisor)
        layers.append(Layer("full", kv, ffn, q))
    return Shape(hidden=hidden, heads=max(layer.q_heads for layer in layers), head_dim=head_dim,
                 vocab=_int(cfg, "vocab_size", source),
                 context=_int(cfg, "max_context_length", source, 2048),
                 tied=cfg.get("share_input_output_layers") is True, attention_bias=False, mlp_bias=False,
                 dtype=config_dtype(cfg, default=DType.F32), layers=tuple(layers),
                 qk_norm=cfg.get("normalize_qk_projections") is True, glu=glu)


def _llama_body(s: Shape, t: TensorList) -> None:
    t.embedding("model.embed_tokens", s.vocab, s.hidden)
    for i in range(len(s.layers)):
        layer_tensors(s, i, t)
    t.norm("model.norm", s.hidden)
    if not s.tied:
        t.linear("lm_head", s.vocab, s.hidden)


def _openelm_body(s: Shape, t: TensorList) -> None:
    """OpenELMForCausalLM: proj_1 holds gate and up (2·ffn rows) with GLU, proj_2 takes ffn."""
    h, hd = s.hidden, s.head_dim
    t.embedding("transformer.token_embeddings", s.vocab, h)
    for i, layer in enumerate(s.layers):
        p = f"transformer.layers.{i}."
        t.norm(p + "attn_norm", h)
        t.linear(p + "attn.qkv_proj", (layer.q_heads + 2 * layer.kv_heads) * hd, h)
        if s.qk_norm:
            t.norm(p + "attn.q_norm", hd)
            t.norm(p + "attn.k_norm", hd)
        t.linear(p + "attn.out_proj", h, layer.q_heads * hd)
        t.norm(p + "ffn_norm", h)
        t.linear(p + "ffn.proj_1", (2 if s.glu else 1) * layer.ffn, h)
        t.linear(p + "ffn.proj_2", h, layer.ffn)
    t.norm("transformer.norm", h)
    if not s.tied:
        t.linear("lm_head", s.vocab, h)


@record
class Heterogeneous:
    """One family here: its layers from the config, its tensors from the layers, the spec they follow."""

    shape: Callable[[Mapping[str, Any], str], Shape]
    body: Callable[[Shape, TensorList], None]
    source: str


# model_type → the family; the table the rest of the package consults
FAMILIES: dict[str, Heterogeneous] = {
    "nemotron-nas": Heterogeneous(
        nemotron_nas, _llama_body,
        "modeling_decilm.py of nvidia/Llama-3_3-Nemotron-Super-49B-v1 (DeciLMForCausalLM)"),
    "deci": Heterogeneous(deci, _llama_body, "modeling_decilm.py of Deci/DeciLM-7B (DeciLMForCausalLM)"),
    "openelm": Heterogeneous(openelm, _openelm_body,
                             "modeling_openelm.py of apple/OpenELM (OpenELMForCausalLM)"),
}


def handles(cfg: Mapping[str, Any]) -> bool:
    return isinstance(cfg, Mapping) and cfg.get("model_type") in FAMILIES


def shape(cfg: Mapping[str, Any], source: str = "config.json") -> Shape:
    return FAMILIES[str(cfg["model_type"])].shape(cfg, source)


def layer_tensors(s: Shape, i: int, t: TensorList) -> None:
    """The tensors of decoder layer ``i``, in modeling_decilm.py's order."""
    layer, h, p = s.layers[i], s.hidden, f"model.layers.{i}."
    if layer.attention != "none":
        t.norm(p + "input_layernorm", h)
    if layer.attention == "linear":
        t.linear(p + "self_attn.linear_attn", h, h)
    elif layer.attention == "full":
        q, kv = s.heads * s.head_dim, layer.kv_heads * s.head_dim
        t.linear(p + "self_attn.q_proj", q, h, s.attention_bias)
        t.linear(p + "self_attn.k_proj", kv, h, s.attention_bias)
        t.linear(p + "self_attn.v_proj", kv, h, s.attention_bias)
        t.linear(p + "self_attn.o_proj", h, q, s.attention_bias)
    if layer.ffn != NONE:
        t.norm(p + "post_attention_layernorm", h)
    if layer.ffn == LINEAR:
        t.linear(p + "mlp.linear_mlp", h, h)
    elif layer.ffn > 0:
        t.linear(p + "mlp.gate_proj", layer.ffn, h, s.mlp_bias)
        t.linear(p + "mlp.up_proj", layer.ffn, h, s.mlp_bias)
        t.linear(p + "mlp.down_proj", h, layer.ffn, s.mlp_bias)


def expected_tensors(cfg: Mapping[str, Any], source: str = "config.json") -> tuple[Tensor, ...]:
    s = shape(cfg, source)
    t = TensorList(s.dtype)
    FAMILIES[str(cfg["model_type"])].body(s, t)
    return tuple(t.items)


def kv_bytes_per_token(s: Shape, dtype: DType = DType.F16) -> int:
    """Σ over attending layers of 2 (K and V) × kv_heads × head_dim × bytes: what one cached token
    costs when every layer holds the whole context."""
    return sum(2 * dtype.nbytes(layer.kv_heads * s.head_dim)
               for layer in s.layers if layer.attention == "full")


def arch_config(cfg: Mapping[str, Any], source: str = "config.json") -> ArchConfig:
    """The ArchConfig: layers that do not attend are "none" (no KV cache); the per-layer KV heads and FFN
    widths go to ``extra`` under the GGUF reader's keys, and the scalar fields hold the largest."""
    s = shape(cfg, source)
    model_type = str(cfg["model_type"])
    kv = tuple(layer.kv_heads for layer in s.layers)
    widths = tuple(max(layer.ffn, 0) if layer.ffn != LINEAR else s.hidden for layer in s.layers)
    archs = cfg.get("architectures")
    name = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else model_type
    extra: dict[str, Any] = {k: cfg[k] for k in ("rope_theta", "rope_scaling", "rms_norm_eps", "hidden_act",
                                                 "transformers_version") if k in cfg}
    counts = {kind: sum(layer.attention == kind for layer in s.layers)
              for kind in ("full", "linear", "none")}
    extra.update(max_position_embeddings=s.context, dtype=s.dtype.value,
                 names_follow=FAMILIES[model_type].source,
                 heterogeneous={"attention_layers": counts["full"],
                                "linear_attention_layers": counts["linear"],
                                "no_attention_layers": counts["none"],
                                "linear_ffn_layers": sum(layer.ffn == LINEAR for layer in s.layers),
                                "no_ffn_layers": sum(layer.ffn == NONE for layer in s.layers)})
    attending = {k for k in kv if k}
    if len(attending) > 1:
        extra[KV_HEADS_PER_LAYER] = kv
    if len(set(widths)) > 1:
        extra[FFN_PER_LAYER] = widths
    q_heads = tuple(layer.q_heads for layer in s.layers if layer.q_heads)
    if len(q_heads) == len(s.layers) and len(set(q_heads)) > 1:
        extra[HEADS_PER_LAYER] = q_heads  # tensor parallelism splits each layer's own (runtimes/common.py)
    return ArchConfig(
        family=model_type,
        architecture=name,
        n_layers=len(s.layers), hidden_size=s.hidden, n_heads=s.heads, n_kv_heads=max(kv, default=0),
        head_dim_k=s.head_dim, head_dim_v=s.head_dim, ffn_size=max(widths, default=0), vocab_size=s.vocab,
        context_length=s.context, tied_embeddings=s.tied,
        layer_types=tuple("full" if layer.attention == "full" else "none" for layer in s.layers),
        extra=extra)

