"""The tensors a Hugging Face ``config.json`` implies, and its ``ArchConfig``, for many families.

    expected_tensors(cfg)      → every tensor a checkpoint of this config holds (names, shapes, dtype)
    arch_config_from_hf(cfg)   → the neutral ArchConfig

A family is a row of ``table.FAMILY_ROWS`` (multimodal wrappers: ``multimodal.COMPOSITES``); nothing
here branches on a family name. Conventions: the multi-token-prediction layer of DeepSeek-V3
(``num_nextn_predict_layers``: ``mtp_tensors`` lists it apart) and FP8 block scales are not listed, so
DeepSeek-V3 gives its published 671,026,419,200; quantized checkpoints are described by their logical
(torch_dtype) tensors, with the quantization config kept in ``ArchConfig.extra["quantization"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paramscope.errors import FormatError, UnsupportedError
from paramscope.gcpause import gc_paused
from paramscope.knowledge.families import heterogeneous
from paramscope.knowledge.families.blt import blt_tensors
from paramscope.knowledge.families.decoder import decoder_tensors
from paramscope.knowledge.families.dims import Dims, resolve
from paramscope.knowledge.families.encoders import (
    bart_tensors,
    bert_tensors,
    distilbert_tensors,
    gpt2_tensors,
    is_encoder_class,
    modernbert_tensors,
    mpnet_tensors,
    t5_tensors,
    t5gemma_tensors,
    umt5_tensors,
    whisper_tensors,
)
from paramscope.knowledge.families.gemma3n import gemma3n_text_tensors
from paramscope.knowledge.families.gemma4 import default_extra as gemma4_default_extra
from paramscope.knowledge.families.gemma4 import gemma4_text_tensors, kv_per_layer
from paramscope.knowledge.families.hfconfig import HfConfig, saved_by_v4
from paramscope.knowledge.families.mimo_v2 import arch_fields as mimo_v2_arch_fields
from paramscope.knowledge.families.mimo_v2 import default_extra as mimo_v2_default_extra
from paramscope.knowledge.families.mimo_v2 import kv_per_layer as mimo_v2_kv_per_layer
from paramscope.knowledge.families.mimo_v2 import mimo_v2_flash_tensors
from paramscope.knowledge.families.mtp import mtp_tensors
from paramscope.knowledge.families.table import (
    ALIASES,
    BY_ARCHITECTURE,
    FAMILIES,
    KEEP_IN_FP32,
    KEEP_IN_FP32_SINCE,
    Family,
)
from paramscope.knowledge.families.tensors import TensorList
from paramscope.model import UNSHARED_LAYER_TYPES, ArchConfig, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import fields, record, replace

if TYPE_CHECKING:
    from paramscope.knowledge.families.multimodal import Composite

__all__ = ["FAMILIES", "Family", "NoFamilyRow", "arch_config_from_hf", "describes", "expected_tensors",
           "mtp_tensors", "supported_model_types"]


class NoFamilyRow(UnsupportedError):
    """The model_type has no row here; transformers (the ``oracle`` extra) may still count it."""

LAYOUTS = {"gpt2": gpt2_tensors, "bert": bert_tensors, "t5": t5_tensors, "umt5": umt5_tensors,
           "distilbert": distilbert_tensors, "mpnet": mpnet_tensors, "modernbert": modernbert_tensors,
           "bart": bart_tensors, "whisper": whisper_tensors, "t5gemma": t5gemma_tensors,
           "gemma3n_text": gemma3n_text_tensors, "gemma4_text": gemma4_text_tensors, "blt": blt_tensors,
           "mimo_v2_flash": mimo_v2_flash_tensors}
# layouts that can also be the text model of a multimodal wrapper: (dims, tensors, body prefix, head prefix)
TEXT_LAYOUTS = {"decoder": decoder_tensors, "gemma3n_text": gemma3n_text_tensors,
                "gemma4_text": gemma4_text_tensors}
# layouts whose layers cache KV rows of different widths: ArchConfig.extra's per-layer KV heads and
# head widths (analyses/sizing/kv_cache.py)
PER_LAYER_KV = {"gemma4_text": kv_per_layer, "mimo_v2_flash": mimo_v2_kv_per_layer}
# layouts whose config class fills in ArchConfig.extra entries config.json may leave out
DEFAULT_EXTRA = {"gemma4_text": gemma4_default_extra, "mimo_v2_flash": mimo_v2_default_extra}
# layouts whose ArchConfig fields differ from what the generic reading gives: MiMo-V2-Flash's values
# narrower than its keys (v_head_dim) and its window (sliding_window_size + 1)
ARCH_FIELDS = {"mimo_v2_flash": mimo_v2_arch_fields}
# encoder-only layouts: no KV cache, and their tied MLM decoders are not an LM head
ENCODERS = frozenset({"bert", "distilbert", "mpnet", "modernbert"})
# layouts whose ArchConfig numbers describe a stack that keeps no KV cache while others not priced here
# do: what the ArchConfig says instead (extra["kv_cache"]); their layers are "none"
UNCACHED = {"blt": "BltModel caches its local encoder and decoder layers over bytes (an EncoderDecoderCache),"
                   " which are not priced here; the global transformer these numbers describe keeps no cache"
                   " (BltModel.forward runs it with cache=None)"}

# Config fields worth carrying into ArchConfig.extra when present (rope, norms, routing, softcaps…).
EXTRA_KEYS = (
    "rope_theta", "rope_scaling", "rope_local_base_freq", "partial_rotary_factor", "hidden_act",
    "hidden_activation", "activation_function", "rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon",
    "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping", "topk_method",
    "scoring_func", "n_group", "topk_group", "routed_scaling_factor", "norm_topk_prob",
    "num_nextn_predict_layers", "swiglu_limit", "max_window_layers", "use_sliding_window",
    "type_vocab_size", "position_embedding_type", "transformers_version", "num_kv_shared_layers",
    "hidden_size_per_layer_input", "vocab_size_per_layer_input", "altup_num_inputs", "laurel_rank",
    "mamba_ssm_dtype", "rope_parameters", "index_head_dim", "indexer_types", "index_topk_pattern",
    "original_max_position_embeddings", "use_double_wide_mlp",
)


def supported_model_types() -> list[str]:
    from paramscope.knowledge.families.multimodal import COMPOSITES

    return sorted([*FAMILIES, *COMPOSITES])


def _composite(model_type: str) -> Composite | None:
    """The multimodal wrapper called ``model_type``, None for a family row. A model_type is one or the
    other, never both (tests/test_families.py), so a text model never loads the multimodal tables."""
    if model_type in FAMILIES:
        return None
    from paramscope.knowledge.families.multimodal import COMPOSITES

    return COMPOSITES.get(model_type)


@record
class _Plan:
    """What a config is built from: the text model's dimensions and any vision or audio tower."""

    dims: Dims
    outer: Mapping[str, Any]  # the whole config (the wrapper, for a multimodal one)
    composite: Composite | None = None
    vision: HfConfig | None = None
    vision_type: str = ""
    audio: HfConfig | None = None


@gc_paused
def expected_tensors(cfg: Mapping[str, Any], source: str = "config.json", *,
                     fallback: bool = True) -> tuple[Tensor, ...]:
    """Every tensor a Hugging Face checkpoint of this config holds, in model order.

    A model_type without a row is counted by transformers on the meta device when the ``oracle``
    extra is installed (``fallback``), never by running repository code.
    """
    if heterogeneous.handles(cfg):  # layers that differ from one another: heterogeneous.py
        return heterogeneous.expected_tensors(cfg, source)
    try:
        plan = _plan(cfg, source)
    except NoFamilyRow as e:
        if not fallback:
            raise
        return _oracle().saved_tensors(cfg, source, e)
    return tuple(_build(plan).items)


def describes(cfg: Mapping[str, Any], source: str = "config.json") -> tuple[str, ...]:
    """The transformers class(es) whose checkpoint our row lists for a config without
    ``architectures``: the row's ``describes``, else its first ``architectures`` entry."""
    model_type = _model_type(cfg, source)
    composite = _composite(model_type)
    if composite is not None:
        return composite.describes
    fam = FAMILIES[model_type]
    return fam.describes or fam.architectures[:1]


def arch_config_from_hf(cfg: Mapping[str, Any], source: str = "config.json", *,
                        fallback: bool = True) -> ArchConfig:
    """The neutral ArchConfig; a multimodal config gives its text model's family, and its
    ``architectures[0]`` (else its own model_type) as ``architecture``."""
    if heterogeneous.handles(cfg):
        return heterogeneous.arch_config(cfg, source)
    try:
        plan = _plan(cfg, source)
    except NoFamilyRow as e:
        wrapped = _wrapped_text_plan(cfg, source)
        if wrapped is not None:
            plan = wrapped
        elif not fallback:
            raise
        else:
            return _oracle().arch_config(cfg, source, e)
    d, fam = plan.dims, plan.dims.family
    mla = fam.attention == "mla"
    archs = cfg.get("architectures")
    architecture = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None
    arch = ArchConfig(
        family=fam.model_type,
        architecture=architecture or str(cfg.get("model_type") or fam.model_type),
        n_layers=d.n_layers, hidden_size=d.hidden, n_heads=d.n_heads, n_kv_heads=d.n_kv_heads,
        head_dim_k=d.qk_nope_head_dim + d.qk_rope_head_dim if mla else d.head_dim,
        head_dim_v=d.v_head_dim if mla else d.head_dim,
        ffn_size=d.ffn, vocab_size=d.vocab, context_length=d.context,
        tied_embeddings=d.tied and fam.layout not in ENCODERS,
        n_experts=d.n_experts, n_experts_per_token=d.n_experts_per_token,
        n_shared_experts=d.n_shared_experts,
        n_dense_layers=sum(not m for m in d.moe_layers) if d.n_experts else 0,
        expert_ffn_size=d.expert_ffn, kv_lora_rank=d.kv_lora_rank, q_lora_rank=d.q_lora_rank,
        rope_head_dim=d.qk_rope_head_dim, sliding_window=d.sliding_window,
        layer_types=("none",) * d.n_layers if fam.layout in ENCODERS | UNCACHED.keys() or is_encoder_class(d)
        else d.layer_types,
        extra=_extra(plan), **_recurrent(d), **_encoder_decoder(d),
    )
    return replace(arch, **ARCH_FIELDS[fam.layout](d)) if fam.layout in ARCH_FIELDS else arch


def _wrapped_text_plan(cfg: Mapping[str, Any], source: str) -> _Plan | None:
    """A multimodal wrapper we have no row for (Kimi-K2.5's kimi_k25 around a deepseek_v3 text model)
    whose ``text_config`` names a model type we have: that text model, which is what the caches and the
    engines' language-model arithmetic follow (its MLA, its experts); None otherwise. The tensor listing
    stays the wrapper's own (transformers' on the meta device, or refused)."""
    text = cfg.get("text_config")
    if not isinstance(text, Mapping) or not isinstance(text.get("model_type"), str):
        return None
    try:
        return _plan(text, source)
    except NoFamilyRow:
        return None


def _encoder_decoder(d: Dims) -> dict[str, int]:
    """ArchConfig's encoder-decoder fields: decoder layers (T5Config: num_decoder_layers, else
    num_layers) and the encoder's fixed length, where the row names them."""
    fam = d.family
    if not fam.decoder_layers or is_encoder_class(d):  # T5EncoderModel: no decoder
        return {}
    fixed = d.hf.int(fam.encoder_length, minimum=1) if fam.encoder_length else 0
    out = {"decoder_layers": d.hf.int(fam.decoder_layers, d.n_layers, minimum=1), "encoder_length": fixed}
    if fam.encoder_hidden:  # the encoder's own section (T5Gemma: encoder.hidden_size), else the decoder's
        section, key = fam.encoder_hidden.split(".")
        encoder = d.hf.value(section)
        width = encoder.get(key) if isinstance(encoder, Mapping) else None
        if isinstance(width, int) and not isinstance(width, bool) and width > 0:
            out["encoder_hidden_size"] = width
    return out


def _recurrent(d: Dims) -> dict[str, int]:
    """ArchConfig's recurrent-state fields (ssm.py gives the formulas and their sources)."""
    if d.mixer is None:
        return {}
    # every layer but attention and the MLP / MoE-only layers of NemotronH holds a recurrent state
    layers = sum(b not in ("attention", "mlp", "moe") for b in d.blocks)
    groups = {"mamba2": d.mixer.n_groups, "deltanet": d.mixer.n_k_heads}.get(d.mixer.kind, 0)
    return {"recurrent_layers": layers, "conv_state_size": d.mixer.conv_state,
            "ssm_state_size": d.mixer.ssm_state, "state_groups": groups}


def _plan(cfg: Mapping[str, Any], source: str) -> _Plan:
    if not isinstance(cfg, Mapping):
        raise FormatError(source, "a config must be a JSON object", found=type(cfg).__name__)
    model_type = _model_type(cfg, source)
    composite = _composite(model_type)
    if composite is None:
        return _Plan(resolve(_family(model_type, source), cfg, source), cfg)
    from paramscope.knowledge.families.multimodal import VISION_ALIASES, VISION_TOWERS

    text = _section(cfg, "text_config", source)
    archs = cfg.get("architectures")
    if (not text and not composite.text_inline and "hidden_size" in cfg and "vision_config" not in cfg
            and isinstance(archs, list) and archs and str(archs[0]).endswith("ForCausalLM")):
        # a text-only export under the wrapper's model_type (a converter that flattened the config, the
        # text keys at the top, a *ForCausalLM class): the text model alone, not the wrapper's default
        # text model and tower (a Qwen3.5-2B MLX export: x4.5 priced so, 206,848 B off read as its text)
        return _plan({**cfg, "model_type": composite.text_family}, source)
    if not text and composite.text_inline and "hidden_size" in cfg:
        text = {k: v for k, v in cfg.items() if k not in ("model_type", "vision_config")}
    fam = _family(str(text.get("model_type") or composite.text_family), source)
    if not text and composite.text_defaults:  # the wrapper's own default text model (PaliGemma's)
        fam = replace(fam, defaults={**fam.defaults, **composite.text_defaults})
    vision = _section(cfg, "vision_config", source)
    vision_type = str(vision.get("model_type") or composite.vision_tower)
    if composite.optional_towers and cfg.get("vision_config") is None:
        vision_type = ""
    vision_type = VISION_ALIASES.get(vision_type, vision_type)
    if vision_type and vision_type not in VISION_TOWERS:
        raise UnsupportedError(f"{source}: vision tower {vision_type!r} of {model_type} is not supported "
                               f"(supported: {', '.join(sorted(VISION_TOWERS))})")
    vision_hf = None
    if vision_type:  # an audio-only wrapper (Granite Speech) has none
        tower = VISION_TOWERS[vision_type]
        defaults = tower.defaults
        if not vision:  # LlavaConfig / PaliGemmaConfig build their own vision config when none is given
            defaults = {**defaults, **composite.vision_defaults}
        vision_hf = HfConfig(vision, defaults, tower.attribute_map, source)
    outer = cfg
    if composite.tie_either and text.get("tie_word_embeddings") is True:
        outer = {**cfg, "tie_word_embeddings": True}
    elif (composite.tie_default is not None and not isinstance(cfg.get("tie_word_embeddings"), bool)
          and not saved_by_v4(cfg)):
        outer = {**cfg, "tie_word_embeddings": composite.tie_default}
    audio = None
    if composite.audio is not None and not (composite.optional_towers
                                            and cfg.get(composite.audio_section) is None):
        audio = HfConfig(_section(cfg, composite.audio_section, source), composite.audio.defaults,
                         composite.audio.attribute_map, source)
    return _Plan(resolve(fam, text, source, outer=outer), cfg, composite, vision_hf, vision_type, audio)


def _build(plan: _Plan) -> TensorList:
    d, c = plan.dims, plan.composite
    t = TensorList(d.dtype)
    layout = LAYOUTS.get(d.family.layout)
    if c is not None:
        text = TEXT_LAYOUTS.get(d.family.layout)
        if text is None:
            raise UnsupportedError(f"{d.hf.source}: a {d.family.model_type} text model inside "
                                   f"{c.model_type} is not supported")
        text(d, t, c.text_prefix, c.head_prefix)
    elif layout is not None:
        layout(d, t)
        _keep_in_fp32(d, t)
    else:
        decoder_tensors(d, t)
        _keep_in_fp32(d, t)
    if c is not None and plan.vision is not None:
        from paramscope.knowledge.families.multimodal import VISION_TOWERS

        tower = VISION_TOWERS[plan.vision_type]
        tower.build(plan.vision, t, tower.prefix(c.vision_prefix))
        c.projector(plan.vision, d.hidden, t, c.projector_prefix, plan.outer)
    if c is not None and c.audio is not None and plan.audio is not None:
        c.audio.build(plan.audio, t, c.audio_prefix)
        if c.audio_projector is not None:  # the audio tower's own embedder (Gemma 4)
            c.audio_projector(plan.audio, d.hidden, t, c.projector_prefix, plan.outer)
        elif plan.vision is None:  # an audio-only wrapper: its projector reads the audio side
            c.projector(plan.audio, d.hidden, t, c.projector_prefix, plan.outer)
    return t


def _keep_in_fp32(d: Dims, t: TensorList) -> None:
    """A float16 model of a row in table.KEEP_IN_FP32: those tensors in float32, as transformers loads and
    saves them (since KEEP_IN_FP32_SINCE; a config that names no version counts as new)."""
    keep = KEEP_IN_FP32.get(d.family.model_type)
    if not keep or d.dtype is not DType.F16 or _saved_by(d.hf.raw) < KEEP_IN_FP32_SINCE:
        return
    t.items = [replace(x, dtype=DType.F32, nbytes=DType.F32.nbytes(x.n_elements))
               if x.dtype is DType.F16 and any(m in x.name for m in keep) else x for x in t.items]


def _saved_by(cfg: Mapping[str, Any]) -> tuple[int, int]:
    """(major, minor) of the config's ``transformers_version``; (99, 0) when it names none readable."""
    parts = str(cfg.get("transformers_version") or "").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return (99, 0)


def _model_type(cfg: Mapping[str, Any], source: str) -> str:
    model_type = cfg.get("model_type")
    if not (isinstance(model_type, str) and model_type):
        archs = cfg.get("architectures")
        known = [BY_ARCHITECTURE[a] for a in archs or () if isinstance(a, str) and a in BY_ARCHITECTURE]
        if not known:
            raise UnsupportedError(f"{source}: no model_type (not a Hugging Face model config?); "
                                   f"supported model types: {', '.join(supported_model_types())}")
        model_type = known[0]
    model_type = ALIASES.get(model_type, model_type)
    row = _row_of_architecture(cfg, model_type)
    if row is not None:
        return row
    if model_type not in FAMILIES and _composite(model_type) is None:
        raise NoFamilyRow(f"{source}: model_type {model_type!r} has no row in paramscope's family table")
    return model_type


def _row_of_architecture(cfg: Mapping[str, Any], model_type: str) -> str | None:
    """The row of the class ``architectures[0]`` names when another row lists it: the checkpoint was
    saved from that class whatever ``model_type`` says (QuantTrio/MiniMax-M2-AWQ: ``"model_type":
    "mixtral"`` beside MiniMaxM2ForCausalLM, whose q/k norms and score bias its files store). transformers
    builds architectures[0] when it defines it (oracle.model_classes), as vLLM and SGLang pick their model
    by it. Not for repository code (``auto_map``) nor a model_type without a row of its own."""
    archs = cfg.get("architectures")
    if (model_type not in FAMILIES or cfg.get("auto_map") or not isinstance(archs, list) or not archs
            or not isinstance(archs[0], str)):
        return None
    row = BY_ARCHITECTURE.get(archs[0])
    return row if row is not None and row != model_type and row in FAMILIES else None


def _family(model_type: str, source: str) -> Family:
    if model_type not in FAMILIES:
        raise NoFamilyRow(f"{source}: model_type {model_type!r} has no row in paramscope's family table")
    return FAMILIES[model_type]


def _oracle() -> Any:
    from paramscope.knowledge.families import fallback

    return fallback


def _section(cfg: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = cfg.get(key) or {}
    if not isinstance(value, Mapping):
        raise FormatError(source, f"{key} must be a JSON object", found=type(value).__name__)
    return value


def _extra(plan: _Plan) -> dict[str, Any]:
    d, raw = plan.dims, plan.dims.hf.raw
    extra: dict[str, Any] = {k: raw[k] for k in EXTRA_KEYS if k in raw}
    extra.update(max_position_embeddings=d.context, dtype=d.dtype.value, names_follow=d.family.source)
    said = plan.outer.get("model_type")
    if isinstance(said, str) and ALIASES.get(said, said) not in (d.family.model_type, None) \
            and _row_of_architecture(plan.outer, ALIASES.get(said, said)) == d.family.model_type:
        extra["counted_as"] = (f"{d.family.model_type}, the row of architectures[0]; the config's "
                               f"model_type says {said}")
    quant = plan.outer.get("quantization_config")
    if isinstance(quant, Mapping):
        extra["quantization"] = dict(quant)
    if d.n_experts:
        extra.update(moe_layers=sum(d.moe_layers), shared_expert_ffn_size=d.shared_ffn)
    if d.family.layout in UNCACHED:
        extra["kv_cache"] = UNCACHED[d.family.layout]
    per_layer_kv = PER_LAYER_KV.get(d.family.layout)
    if per_layer_kv is not None:
        extra.update(per_layer_kv(d))
    if d.heads_per_layer:  # query heads that differ by layer (Laguna): the compute graph and speed read them
        extra[heterogeneous.HEADS_PER_LAYER] = tuple(d.heads_per_layer)
    defaults = DEFAULT_EXTRA.get(d.family.layout)
    if defaults is not None:
        extra.update({k: v for k, v in defaults(d).items() if extra.get(k) is None})
    if d.mixer is not None:
        extra["ssm"] = {f.name: getattr(d.mixer, f.name) for f in fields(d.mixer)}
    if d.family.attention == "mla":
        extra.update(qk_nope_head_dim=d.qk_nope_head_dim, v_head_dim=d.v_head_dim)
    if d.hf.int("num_nextn_predict_layers", 0):
        extra["not_listed"] = "multi-token-prediction layer(s) (num_nextn_predict_layers)"
    elif d.family.unlisted:
        extra["not_listed"] = d.family.unlisted
    shared = d.hf.int(d.family.kv_shared, 0) if d.family.kv_shared else 0
    if d.unshared_layer_types:
        extra[UNSHARED_LAYER_TYPES] = d.unshared_layer_types
    if shared:  # Gemma 3n: transformers builds no k/v for these layers and skips them on load
        kv = d.n_kv_heads * d.head_dim
        unused = shared * (2 * kv * (d.hidden + d.qkv_bias) + d.head_dim)
        extra["not_listed"] = (f"k_proj, v_proj and k_norm of the {shared} KV-sharing layers, which the "
                               f"published checkpoints also store ({unused:,} parameters; transformers "
                               f"ignores them on load)")
    c, v = plan.composite, plan.vision
    if c is not None and v is not None:
        extra["multimodal"] = c.model_type
        extra.update({k: plan.outer[k] for k in c.extra_keys if k in plan.outer})
        extra.update(_tower_summary(plan, c, v))
    return extra


def _tower_summary(plan: _Plan, c: Composite, v: HfConfig) -> dict[str, Any]:
    """Shape and parameter count of the vision tower and projector, for the summary."""
    from paramscope.knowledge.families.multimodal import VISION_TOWERS

    tensors = _build(plan).items
    vision_prefix = VISION_TOWERS[plan.vision_type].prefix(c.vision_prefix)
    vision = sum(t.params for t in tensors if t.name.startswith(vision_prefix))
    projector = sum(t.params for t in tensors if t.name.startswith(c.projector_prefix))
    summary = {k: v.value(k) for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                        "num_attention_heads", "image_size", "patch_size")}
    out: dict[str, Any] = {"vision": {"model_type": plan.vision_type, **summary, "params": vision},
                           "projector": {"params": projector}}
    if c.audio is not None:
        out["audio"] = {"params": sum(t.params for t in tensors if t.name.startswith(c.audio_prefix))}
    return out
