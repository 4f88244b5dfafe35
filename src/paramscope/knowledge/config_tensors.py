"""The tensor list of a model read from its config alone (config.json, a catalogue name): what both config
readers (``formats/config_json.py``, ``knowledge/catalogue``) list, with the note they carry.

A config that declares a quantization lists its tensors as the quantized checkpoint stores them
(``quant_layouts.as_stored``); one that does not lists its logical tensors, without loading the layout
tables (``paramscope size llama-3.1-8b`` starts without them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramscope.model import Tensor
    from paramscope.model.dtypes import DType
    from paramscope.model.quantization import Quantization

# Said of every tensor list built from a config alone (inventory notes), since real files may differ so.
CONFIG_ONLY_NOTE = ("listed from config.json: a checkpoint file of it may also hold tensors that are not "
                    "parameters (rotary_emb.inv_freq buffers, float32 or in the model's dtype, in files "
                    "saved by older transformers or a model's own code: Kimi-K2's FP8 release) "
                    "and, with tied embeddings, a second copy of the output head; read the file itself to "
                    "see them listed as buffers and the head counted once")
CONFIG_ONLY_NOTE_BUFFERS_LISTED = (
    "listed from config.json, with the per-layer buffers its writer saved: a checkpoint file of "
    "it may also hold, with tied embeddings, a second copy of the output head; read the file itself to see "
    "the head counted once")


def config_tensors(logical: Sequence[Tensor], q: Quantization | None,
                   config: Mapping[str, Any]) -> tuple[tuple[Tensor, ...], tuple[str, ...]]:
    """A config reader's tensor list (as stored, when the config declares a quantization) and its notes."""
    from paramscope.knowledge.families.mtp import mtp_layer_count

    mtp = _mtp_note(stored_mtp(logical, q, config)) if mtp_layer_count(config) else ()
    notes: tuple[str, ...]
    if q is None:
        tensors, notes = tuple(logical), ()
    else:
        from paramscope.knowledge.quant_layouts import as_stored

        stored = as_stored(logical, q, str(config.get("model_type") or ""), _text_model_type(config))
        tensors, notes = stored.tensors, stored.notes
    with_buffers, buffer_notes = _saved_buffers(tensors, config)
    buffers = len(with_buffers) - len(tensors)
    tensors = _saved_names(with_buffers, config)
    # the general note's buffers clause is moot once they are listed (the rotary note says so)
    general = CONFIG_ONLY_NOTE if not buffers else CONFIG_ONLY_NOTE_BUFFERS_LISTED
    return tensors, (*notes, *_unknown_quantization_note(q, config),
                     *(_no_dtype_note(tensors, config) if q is None else ()), *mtp,
                     *_default_tower_note(tensors, config), *_tied_head_note(tensors),
                     *_fp32_state_note(tensors, q), *buffer_notes, general)


def _no_dtype_note(tensors: Sequence[Tensor], config: Mapping[str, Any]) -> tuple[str, ...]:
    """A config that names no dtype (``torch_dtype``/``dtype``, at the top or in a sub-config): its
    tensors are priced in the family's default type (families/hfconfig.py config_dtype), which the
    checkpoint need not use (BLT's hash embeddings are float32 beside bfloat16 layers). Not for a quantized
    checkpoint: its quantization config says how it is stored (gpt-oss's MXFP4 experts beside bf16)."""
    sections = [config, *(v for v in config.values() if isinstance(v, Mapping))]
    named = (c.get(k) for c in sections for k in ("torch_dtype", "dtype"))
    if any(isinstance(v, str) and v != "auto" for v in named):
        return ()
    from paramscope.model.dtypes import DType

    floats = [t for t in tensors if t.is_parameter and t.dtype.info.is_float]
    types = sorted({t.dtype.value for t in floats})
    if not types or types == ["F32"]:
        return (f"{NO_DTYPE}: its tensors are listed in the family's default type (F32); the checkpoint "
                "may store another",) if types else ()
    # transformers builds and saves a model in float32 when no dtype is given: a Llama-3-8B file whose
    # config names none is float32 (out_of_sample_r6.json), while TeleChat's and MiniMax's are 2-byte
    f32 = sum(DType.F32.nbytes(t.n_elements) for t in floats) + sum(
        t.nbytes for t in tensors if not (t.is_parameter and t.dtype.info.is_float))
    return (f"{NO_DTYPE}: its tensors are listed in the family's default type ({', '.join(types)}); the "
            f"checkpoint may store another: float32, which transformers builds and saves without a dtype, "
            f"would be {f32:,} bytes",)


# The start of the note above: `size` and `fit` repeat it (their weights are these bytes)
NO_DTYPE = "config.json names no dtype (torch_dtype)"


def _unknown_quantization_note(q: Quantization | None, config: Mapping[str, Any]) -> tuple[str, ...]:
    """A quantization_config that names no method paramscope reads (no quant_method, none of the keys a
    known writer leaves: PaddlePaddle's ERNIE-4.5 FP8 releases write {"quantization": "mix_quant",
    "dense_quant_type": "block_wise_fp8", ...}, tests/fixtures/quantized_totals/quantized_oos.json): the
    tensors are listed unquantized, which the file is not, and the output says so rather than pass a
    16-bit total for the file's."""
    qc = config.get("quantization_config")
    if q is not None or not isinstance(qc, Mapping) or not qc:
        return ()
    keys = ", ".join(sorted(str(k) for k in qc)[:6])
    return (f"{UNREAD_QUANTIZATION} (keys: {keys}): tensors listed and priced unquantized; the checkpoint's "
            "own bytes are not",)


# The start of the note above: `size` and `fit` repeat it, since their weights as stored are not the file's
UNREAD_QUANTIZATION = "config.json's quantization_config names no quantization method paramscope knows"


def _text_model_type(config: Mapping[str, Any]) -> str:
    """A multimodal config's text model type (text_config.model_type), "" without one."""
    text = config.get("text_config")
    return str(text.get("model_type") or "") if isinstance(text, Mapping) else ""


# A buffer an old writer saved in each layer: (name after the layer's prefix, shape, dtype; None: the
# layer's own floating type)
Buffer = tuple[str, tuple[int, ...], "DType | None"]


def _saved_buffers(tensors: tuple[Tensor, ...],
                   config: Mapping[str, Any]) -> tuple[tuple[Tensor, ...], tuple[str, ...]]:
    """The listing with the per-layer buffers the config's writer saved (``SAVED_BUFFERS``), and the notes
    that say so; the listing as it was for any other config."""
    rule = SAVED_BUFFERS.get(str(config.get("model_type")))
    buffers, why = rule(config) if rule is not None else ((), "")
    if not buffers:
        return tensors, ()
    out = _after_each_layer(tensors, buffers)
    suffixes = tuple("." + b[0] for b in buffers)
    added = [t for t in out if not t.is_parameter and t.name.endswith(suffixes)]
    return out, _buffer_notes(added, why, config)


def _after_each_layer(tensors: tuple[Tensor, ...], buffers: tuple[Buffer, ...]) -> tuple[Tensor, ...]:
    """``buffers`` after each decoder layer's last tensor (``….layers.N.…``, the first ``layers`` then a
    number in a name), in the layer's floating type where a buffer names none."""
    from paramscope.model import Tensor

    def layer(name: str) -> str:
        parts = name.split(".")
        at = next((i for i in range(len(parts) - 1) if parts[i] == "layers" and parts[i + 1].isdigit()), -1)
        return ".".join(parts[:at + 2]) if at >= 0 else ""

    out: list[Tensor] = []
    for i, t in enumerate(tensors):
        out.append(t)
        prefix = layer(t.name)
        if prefix and (i + 1 == len(tensors) or layer(tensors[i + 1].name) != prefix):
            own = next((u.dtype for u in reversed(out) if u.dtype.info.is_float), t.dtype)
            for suffix, shape, dtype in buffers:
                dt = dtype or own
                out.append(Tensor(f"{prefix}.{suffix}", shape, dt, dt.nbytes(math.prod(shape)),
                                  is_parameter=False))
    return tuple(out)


def _buffer_notes(added: Sequence[Tensor], why: str, config: Mapping[str, Any]) -> tuple[str, ...]:
    """What the listed buffers are and what a file may hold instead."""
    from paramscope.model.dtypes import DType

    version = config.get("transformers_version")
    rotary = [t for t in added if t.name.endswith("rotary_emb.inv_freq")]
    half = sum(t.nbytes for t in rotary) // 2
    notes = [f"{len(rotary)} rotary_emb.inv_freq buffers listed in float32, {why} (config.json: "
             f"{version}); a model cast to 16-bit before saving holds them so, {half:,} bytes fewer"]
    masks = [t for t in added if t.name.endswith("attention.bias")]
    if masks:
        kind = masks[0].dtype.value
        note = (f"{len(masks)} attention.bias causal masks ({kind} {list(masks[0].shape)}, 1 byte an "
                f"element) and masked_bias scalars listed, as transformers before 4.31 saved them "
                f"(config.json: {version})")
        if masks[0].dtype is DType.BOOL:  # modeling_utils.dtype_byte_size: torch.bool is 1/8 byte
            over = sum(t.nbytes - t.n_elements // 8 for t in masks)
            note += (f"; the index transformers wrote beside such a file counts a bool element as 1/8 byte,"
                     f" so its total_size is {over:,} bytes below the listing's")
        notes.append(note)
    return tuple(notes) if rotary else tuple(notes[1:])


def _rotary(module: str, dim: int) -> Buffer:
    """``{module}rotary_emb.inv_freq``: ``1 / base ** (arange(0, dim, 2).float() / dim)``, float32 as
    built."""
    from paramscope.model.dtypes import DType

    return (f"{module}rotary_emb.inv_freq", ((dim + 1) // 2,), DType.F32)


def _head_dim(config: Mapping[str, Any]) -> int:
    heads = config.get("num_attention_heads")
    dim = config.get("head_dim") or (config.get("hidden_size", 0) // heads if isinstance(heads, int) and heads
                                     else 0)
    return dim if isinstance(dim, int) and dim >= 2 else 0


def _llama_buffers(config: Mapping[str, Any]) -> tuple[tuple[Buffer, ...], str]:
    """Llama files saved by transformers before 4.32 hold each layer's ``self_attn.rotary_emb.inv_freq``
    (a persistent buffer until transformers PR #24998, commit 95f96b45 of 2023-07-21, made it
    ``persistent=False``, three days after 4.31.0 was released: RUTERGPT-13B, saved by 4.31.0, holds its 40
    layers' 10,240 bytes of them, tests/fixtures/quantized_totals/out_of_sample_r4.json): head_dim / 2
    float32 values, not parameters. TheBloke's 2023 GPTQ files (tests/fixtures/quantized_totals/
    single_files.json) and a Pygmalion-7B merge written by 4.28.0.dev0 (out_of_sample.json: 8,192 bytes)
    hold them so. config.json's ``transformers_version`` is the version that saved the weights beside it."""
    dim = _head_dim(config)
    if _version(config.get("transformers_version")) >= (4, 32) or not dim:
        return (), ""
    return (_rotary("self_attn.", dim),), "as transformers before 4.32 saved them"


def _internlm_buffers(config: Mapping[str, Any]) -> tuple[tuple[Buffer, ...], str]:
    """InternLM (1)'s first repository code (internlm-7b modeling_internlm.py, July 2023) registers
    ``rotary_emb.inv_freq`` as a persistent buffer, whatever transformers runs it; its later code
    (internlm-20b's, and internlm-7b's own from the ``rotary`` config on) registers it
    ``persistent=False``. The configs tell the two apart: the first InternLMConfig writes none of
    ``rotary``, ``rope_theta``, ``rope_scaling``. An InternLM-Chat-7B fine-tune (transformers 4.34.0) holds
    32 of them in float32, InternLM-20B none (tests/fixtures/quantized_totals/out_of_sample_r6.json)."""
    dim = _head_dim(config)
    if any(k in config for k in ("rotary", "rope_theta", "rope_scaling")) or not dim:
        return (), ""
    return (_rotary("self_attn.", dim),), "as InternLM's first repository code saved them"


def _gpt_neox_buffers(config: Mapping[str, Any]) -> tuple[tuple[Buffer, ...], str]:
    """GPT-NeoX files saved by older transformers (models/gpt_neox/modeling_gpt_neox.py of each release)
    hold per layer, under ``attention.``: ``bias``, the causal mask [1, 1, max_positions, max_positions]
    (uint8 up to 4.26, bool from 4.27, non-persistent from 4.31), ``masked_bias`` (a scalar built in the
    default dtype, so in the model's type when from_pretrained loads it in 16 bits; non-persistent from 4.31)
    and ``rotary_emb.inv_freq`` ([rotary_ndims / 2] float32, rotary_ndims = head_size × rotary_pct;
    non-persistent from 4.35). OpenAssistant's Pythia-12B SFT (4.26.1) holds exactly these
    (tests/fixtures/quantized_totals/out_of_sample_r6.json)."""
    from paramscope.model.dtypes import DType

    version = _version(config.get("transformers_version"))
    dim = int(_head_dim(config) * float(config.get("rotary_pct", 0.25)))
    if version >= (4, 35) or not dim:
        return (), ""
    rotary = _rotary("attention.", dim)
    if version >= (4, 31):
        return (rotary,), "as transformers before 4.35 saved them"
    positions = config.get("max_position_embeddings", 2048)
    if not isinstance(positions, int) or positions < 1:
        return (), ""
    mask: Buffer = ("attention.bias", (1, 1, positions, positions),
                    DType.U8 if version < (4, 27) else DType.BOOL)
    return (mask, ("attention.masked_bias", (), None), rotary), "as transformers before 4.35 saved them"


# model_type → the per-layer buffers the writer of a config of it saved (none for a newer writer), and why
SAVED_BUFFERS = {"llama": _llama_buffers, "internlm": _internlm_buffers, "gpt_neox": _gpt_neox_buffers}

# The buffers above are in the file but in no engine's memory: llama.cpp's convert_hf_to_gguf skips names
# ending so ("we don't need these", ModelBase.prepare_tensors), vLLM's load_weights skips them (models/
# gpt_neox.py, llama.py) and current transformers builds none of them persistent (unexpected keys on load).
# Sizing leaves them out of the weights (analyses/sizing/loaded.py, weights.py); the listing keeps them.
UNLOADED_BUFFERS = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")


def unloaded_buffers(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The non-parameter tensors of ``tensors`` that no engine loads (``UNLOADED_BUFFERS``)."""
    return [t for t in tensors if not t.is_parameter and t.name.endswith(UNLOADED_BUFFERS)]


# transformers 5's conversion_mapping.py: these text-only model types load checkpoints written in their
# multimodal parent's spelling, ``PrefixChange(prefix_to_remove="language_model", model_prefix="model")``, and
# save_pretrained applies the reverse, so their files name ``model.language_model.*`` what the module calls
# ``model.*`` (a Qwen3.5 REAP prune saved by 5.2.0 and a Qwen3.5-2B fine-tune saved by 5.17.0 do:
# tests/fixtures/quantized_totals/out_of_sample.json)
SAVED_UNDER_LANGUAGE_MODEL = frozenset({"qwen3_5_text", "qwen3_5_moe_text"})


def _saved_names(tensors: tuple[Tensor, ...], config: Mapping[str, Any]) -> tuple[Tensor, ...]:
    if config.get("model_type") not in SAVED_UNDER_LANGUAGE_MODEL or _version(
            config.get("transformers_version"))[0] < 5:
        return tensors
    from paramscope.records import replace

    return tuple(replace(t, name="model.language_model." + t.name.removeprefix("model."))
                 if t.name.startswith("model.") and not t.name.startswith("model.language_model.") else t
                 for t in tensors)


def _version(text: Any) -> tuple[int, int]:
    """(major, minor) of a version string such as ``4.28.0.dev0``; a missing or unreadable one counts as
    new (no note)."""
    parts = str(text or "").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return (99, 0)


def _default_tower_note(tensors: Sequence[Tensor], config: Mapping[str, Any]) -> tuple[str, ...]:
    """A multimodal config without its ``vision_config`` gets transformers' default vision tower, which is
    what is listed; but a released multimodal config always carries one, so its absence usually means a
    converter stripped the tower with it (mlx-lm's Qwen3.5 sanitize drops vision_tower and model.visual:
    a Qwen3.5-2B MLX conversion's file holds none, tests/fixtures/quantized_totals/out_of_sample.json)."""
    from paramscope.knowledge.roles import place

    if "vision_config" in config:
        return ()
    tower = [t for t in tensors if place(t.name).component == "vision"]
    if not tower:
        return ()
    # the projector into the text model goes with the tower: mlx-lm's Mistral-3 text conversion drops both
    # multi_modal_projector and vision_tower (a Mistral-4 MLX 4-bit index holds neither,
    # tests/fixtures/quantized_totals/quantized_oos.json)
    projector = [t for t in tensors if place(t.name).component == "projector"]
    what = "the vision tower and its projector are" if projector else "the vision tower is"
    dropped = tower + projector
    return (f"config.json has no vision_config: {what} listed from transformers' defaults "
            f"({len(dropped)} tensors, {sum(t.nbytes for t in dropped):,} bytes); a text-only conversion "
            "(mlx-lm) stores none of it",)


def _tied_head_note(tensors: Sequence[Tensor]) -> tuple[str, ...]:
    """The bytes a second copy of a tied output head adds: transformers' save_pretrained writes a tied
    weight once (``_tied_weights_keys``), but merge and fine-tuning tools that save a plain state dict keep
    ``lm_head.weight`` beside the embedding (a Gemma-2B fine-tune's index holds it: 1,048,576,000 bytes,
    tests/fixtures/quantized_totals/out_of_sample.json), and a config cannot tell which wrote the file."""
    from paramscope.knowledge.roles import place

    if any(place(t.name).component == "output" for t in tensors):
        return ()
    embeds = [t for t in tensors if t.name.endswith("embed_tokens.weight") and len(t.shape) == 2]
    if len(embeds) != 1:  # none (BERT's word_embeddings, T5's shared) or one per stack (encoder-decoders)
        return ()
    module = embeds[0].name.removesuffix(".weight")
    copy = sum(t.nbytes for t in tensors if t.name.rsplit(".", 1)[0] == module)
    return (f"tied output head: a file saved outside transformers' save_pretrained (a merge, some "
            f"fine-tuning tools) may also hold its copy, lm_head.weight: {copy:,} bytes more than listed",)


def _fp32_state_note(tensors: Sequence[Tensor], q: Quantization | None) -> tuple[str, ...]:
    """Gated-DeltaNet layers' A_log, listed in the model's dtype as transformers saves it (a Qwen3.5 REAP
    prune in float16 and a Qwen3.5-2B fine-tune in bf16 match the listing), may be float32 in a file whose
    writer keeps it out of its dtype cast: mlx-lm's ``cast_predicate`` does, and its Qwen3.5 conversions hold
    it so (tests/fixtures/quantized_totals/out_of_sample.json). An unquantized config cannot say which tool
    wrote the file, so the difference is stated (an MLX-quantized one is listed float32, quant_layouts)."""
    from paramscope.model.dtypes import DType

    logs = [t for t in tensors if t.name.endswith("linear_attn.A_log") and t.dtype != DType.F32]
    if not logs:
        return ()
    extra = sum(DType.F32.nbytes(t.n_elements) - t.nbytes for t in logs)
    return (f"{len(logs)} linear-attention A_log tensors listed in the model's dtype: a file written by a "
            f"tool that keeps them float32 (mlx-lm) holds {extra:,} bytes more",)


def stored_mtp(logical: Sequence[Tensor], q: Quantization | None,
               config: Mapping[str, Any]) -> tuple[Tensor, ...]:
    """The multi-token-prediction layers a checkpoint of this config also stores (DeepSeek-V3/R1, GLM-4.5,
    GLM-5.1: ``families.mtp_tensors``), as stored: the decoder part quantized as the other layers are;
    eh_proj, the norms and the embedding/head copies in the model's dtype (DeepSeek-V3's FP8 files: the Hub's
    per-dtype parameter counts of deepseek-ai/DeepSeek-V3 equal the listing plus these, tests/
    test_quant_layouts.py)."""
    from paramscope.knowledge.families import mtp_tensors

    decoder, pieces = mtp_tensors(config, tuple(logical))
    if decoder and q is not None:
        from paramscope.knowledge.quant_layouts import as_stored

        model_type = str(config.get("model_type") or "")
        decoder = as_stored(decoder, q, model_type, _text_model_type(config)).tensors
        if q.method == "compressed-tensors":
            # compressed-tensors quantizes every module its targets match and ``ignore`` does not name,
            # the MTP layer's linears too: GLM-4.5-FP8 stores shared_head.head in FP8 and eh_proj, which its
            # ignore list names, in bf16 (tests/fixtures/weight_tables/glm_4.5_fp8.json). DeepSeek's FP8
            # converter leaves both unquantized.
            pieces = as_stored(pieces, q, model_type, _text_model_type(config)).tensors
    return (*decoder, *pieces)


def _mtp_note(mtp: Sequence[Tensor]) -> tuple[str, ...]:
    if not mtp:
        return ()
    from paramscope.knowledge.families.mtp import mtp_layer_name

    found = [f for t in mtp if (f := mtp_layer_name(t.name))]
    layers = sorted({index for _, index in found})
    params = sum(t.params for t in mtp if t.is_parameter)
    trunk = found[0][0]
    where = f"{trunk}{layers[0]}" + (f"–{layers[-1]}" if len(layers) > 1 else "")
    stored = {t.name.split(".", 3)[-1] for t in mtp if t.name.startswith(trunk)}
    stored |= {t.name.removeprefix("mtp.") for t in mtp if t.name.startswith("mtp.")}
    # the pieces beside the decoder layer (GLM-5's MTP layers share the model's embedding and head)
    head = "shared_head" if "shared_head.head.weight" in stored else "shared_head.norm"
    pieces = [label for key, label in (("eh_proj.weight", "eh_proj"), ("enorm.weight", "enorm"),
                                       ("hnorm.weight", "hnorm"), ("shared_head.norm.weight", head),
                                       ("embed_tokens.weight", "its own embed_tokens"),
                                       ("fc.weight", "fc"), ("pre_fc_norm_embedding.weight", "three norms"))
              if key in stored]
    parts = ", ".join(["a decoder layer", *pieces[:-1]]) + (f" and {pieces[-1]}" if pieces else "")
    return (f"not listed: the checkpoint also stores {len(layers)} multi-token-prediction layer"
            f"{'s' if len(layers) > 1 else ''} ({where}: {parts}), "
            f"{params:,} parameters, {sum(t.nbytes for t in mtp):,} bytes as "
            "stored, which vLLM, SGLang, transformers and llama.cpp leave out of the model (vLLM loads them "
            "as a drafter with --speculative-config method mtp)",)
