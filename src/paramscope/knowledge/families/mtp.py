"""Multi-token-prediction (MTP) layers: the extra decoder layers some checkpoints store after the trunk,
which transformers and llama.cpp's converter leave out and vLLM loads only as a speculative drafter
(``--speculative-config '{"method": "mtp", ...}'``).

One row per layout (``MTP_LAYOUTS``), keyed by the text model's ``model_type``:

- DeepSeek-V3's (its README_WEIGHTS.md): layer ``num_hidden_layers + i`` under the trunk's own prefix, a
  decoder layer like the trunk's MoE layers plus embed_tokens, enorm, hnorm, eh_proj, shared_head.norm and
  shared_head.head; DeepSeek-V3.2, GLM-4.5 and GLM-4.7-Flash use the same names, and GLM-5/5.1
  (glm_moe_dsa) share the model's embedding and head instead of storing copies (the files of
  zai-org/GLM-5.1 and GLM-5.1-FP8 hold
  model.layers.78.eh_proj / enorm / hnorm / shared_head.norm and no embed_tokens or shared_head.head:
  tests/fixtures/weight_tables/glm_5.1_fp8.json).
- Qwen3-Next's and Qwen3.5's: ``mtp.layers.{i}`` (a full-attention decoder layer, MoE where the trunk's
  are), ``mtp.fc`` (2 × hidden → hidden) and three norms, ``mtp.pre_fc_norm_embedding``,
  ``mtp.pre_fc_norm_hidden`` and ``mtp.norm`` (vLLM's qwen3_next_mtp.py and qwen3_5_mtp.py; a Qwen3.5-9B
  GPTQ export lists mtp.fc and mtp.layers.0.self_attn.q_proj … mlp.down_proj among its modules_to_not_convert:
  tests/fixtures/quantized_totals/out_of_sample_r4.json). The layer count is ``mtp_num_hidden_layers``
  (Qwen3.5's text_config) or ``num_nextn_predict_layers``; vLLM builds one where the key is absent.

A GGUF says where its MTP layers are itself: ``{arch}.nextn_predict_layers`` blocks after the trunk
(knowledge/gguf_arch.py keeps the trunk as n_layers and the rest as extra["nextn_layers"];
``gguf_nextn_tensors``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from paramscope.knowledge.families.tensors import TensorList
from paramscope.model import Model, Tensor
from paramscope.records import record, replace


@record
class MtpLayout:
    """Where a family's checkpoints store their MTP layers and what sits beside each."""

    count_key: str  # the config key giving the number of MTP layers
    default_count: int  # what vLLM builds where the key is absent (0: none)
    # "trunk": layer num_hidden_layers + i under the trunk's prefix, its pieces inside it; "mtp": the
    # module ``mtp.``, layers ``mtp.layers.{i}.``, its pieces at ``mtp.``
    place: str
    pieces: tuple[tuple[str, str], ...]  # (name, dims over "hidden", "2hidden", "vocab")
    # the pieces that copy the model's embedding and its output head, which vLLM's drafter replaces by the
    # model's own (v1/spec_decode: "Detected MTP model. Sharing target model embedding weights", and from
    # 0.16 "Shared target model lm_head with MTP shared_head.head")
    embedding_copy: str = ""
    head_copy: str = ""


_DEEPSEEK_PIECES: tuple[tuple[str, str], ...] = (
    ("embed_tokens.weight", "vocab hidden"), ("enorm.weight", "hidden"), ("hnorm.weight", "hidden"),
    ("eh_proj.weight", "hidden 2hidden"), ("shared_head.norm.weight", "hidden"),
    ("shared_head.head.weight", "vocab hidden"))
_DEEPSEEK_COPIES = ("embed_tokens.weight", "shared_head.head.weight")
_DEEPSEEK = MtpLayout("num_nextn_predict_layers", 0, "trunk", _DEEPSEEK_PIECES, *_DEEPSEEK_COPIES)
_QWEN_PIECES: tuple[tuple[str, str], ...] = (
    ("fc.weight", "hidden 2hidden"), ("pre_fc_norm_embedding.weight", "hidden"),
    ("pre_fc_norm_hidden.weight", "hidden"), ("norm.weight", "hidden"))

MTP_LAYOUTS: dict[str, MtpLayout] = {
    # GLM-4.7-Flash (glm4_moe_lite) stores the same six pieces at model.layers.47 (a public tensor table
    # of its checkpoint: shared_head.head [154880, 2048] bf16, embed_tokens, eh_proj, enorm, hnorm,
    # shared_head.norm; code index file id 62624914535)
    "deepseek_v3": _DEEPSEEK, "deepseek_v32": _DEEPSEEK, "glm4_moe": _DEEPSEEK, "glm4_moe_lite": _DEEPSEEK,
    "glm_moe_dsa": replace(_DEEPSEEK, pieces=tuple(p for p in _DEEPSEEK_PIECES
                                                 if p[0] not in _DEEPSEEK_COPIES),
                           embedding_copy="", head_copy=""),
    "qwen3_next": MtpLayout("num_nextn_predict_layers", 1, "mtp", _QWEN_PIECES),
    "qwen3_5_text": MtpLayout("mtp_num_hidden_layers", 1, "mtp", _QWEN_PIECES),
    "qwen3_5_moe_text": MtpLayout("mtp_num_hidden_layers", 1, "mtp", _QWEN_PIECES),
}


def _text(cfg: Mapping[str, Any]) -> tuple[Mapping[str, Any], MtpLayout | None]:
    """The text model's config and its MTP layout (a multimodal wrapper's text_config)."""
    layout = MTP_LAYOUTS.get(str(cfg.get("model_type")))
    if layout is not None:
        return cfg, layout
    text = cfg.get("text_config")
    if isinstance(text, Mapping):
        return text, MTP_LAYOUTS.get(str(text.get("model_type")))
    return cfg, None


def mtp_layer_count(cfg: Mapping[str, Any]) -> int:
    """The MTP layers a checkpoint of ``cfg`` stores and vLLM's MTP drafter builds (0: none, or a family
    without a row in MTP_LAYOUTS)."""
    text, layout = _text(cfg)
    if layout is None:
        return 0
    n = text.get(layout.count_key, layout.default_count)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


def has_mtp_layout(cfg: Mapping[str, Any]) -> bool:
    return _text(cfg)[1] is not None


def mtp_tensors(cfg: Mapping[str, Any],
                logical: tuple[Tensor, ...]) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """The MTP layers a checkpoint of ``cfg`` stores (``mtp_layer_count``), which transformers, vLLM
    without speculative decoding and llama.cpp do not load, so ``expected_tensors`` (``logical``) leaves
    them out: (the decoder-layer part, a copy of the trunk's last full-attention layer under the MTP
    layer's name; the pieces beside it, in the model's dtype). Empty for other model types, or when
    ``logical`` does not have the expected layout."""
    text, layout = _text(cfg)
    n = mtp_layer_count(cfg)
    embed = next((t for t in logical if t.name.endswith("embed_tokens.weight") and len(t.shape) == 2
                  and ".layers." not in t.name), None)
    if layout is None or not n or embed is None:
        return (), ()
    trunk = embed.name.removesuffix("embed_tokens.weight")  # "model." or "model.language_model."
    layers = text.get("num_hidden_layers")
    if not isinstance(layers, int) or isinstance(layers, bool) or layers <= 0:  # the family's default
        found = [LAYER_PREFIX.match(t.name) for t in logical if t.name.startswith(trunk + "layers.")]
        layers = max((int(m.group(2)) for m in found if m), default=-1) + 1
        if layers <= 0:
            return (), ()
    last = _last_attention_layer(logical, trunk, layers)
    if last is None:
        return (), ()
    template = [t for t in logical if t.name.startswith(last)]
    vocab, hidden = embed.shape
    sizes = {"hidden": hidden, "2hidden": 2 * hidden, "vocab": vocab}
    decoder, pieces = [], TensorList(embed.dtype)
    for i in range(n):
        prefix = f"{trunk}layers.{layers + i}." if layout.place == "trunk" else f"mtp.layers.{i}."
        decoder += [replace(t, name=prefix + t.name.removeprefix(last)) for t in template]
        if layout.place == "trunk":
            for name, dims in layout.pieces:
                pieces.add(prefix + name, *(sizes[k] for k in dims.split()))
    if layout.place == "mtp":
        for name, dims in layout.pieces:
            pieces.add("mtp." + name, *(sizes[k] for k in dims.split()))
    return tuple(decoder), tuple(pieces.items)


def _last_attention_layer(logical: tuple[Tensor, ...], trunk: str, layers: int) -> str | None:
    """The prefix of the trunk's last layer with softmax attention (an MTP layer is one: Qwen3.5's
    linear-attention layers are not its template)."""
    for i in range(layers - 1, -1, -1):
        prefix = f"{trunk}layers.{i}."
        if any(t.name.startswith(prefix + "self_attn.") for t in logical):
            return prefix
    return None


# a decoder layer's prefix and index, in the trunk's spellings, the mtp module's or a GGUF's blocks
LAYER_PREFIX = re.compile(
    r"^((?:model\.(?:language_model\.)?|language_model\.model\.|mtp\.)?layers\.|blk\.)(\d+)\.")
GGUF_BLOCK = re.compile(r"^blk\.(\d+)\.")


def gguf_nextn_tensors(tensors: Sequence[Tensor], trunk_layers: int) -> tuple[Tensor, ...]:
    """The tensors of a GGUF's MTP blocks, those numbered from ``trunk_layers`` on (a file whose
    ``{arch}.nextn_predict_layers`` counts them), which llama.cpp skips unless asked to speculate with
    them: every architecture that has such blocks builds them with TENSOR_SKIP while ``load_mtp`` is false,
    its default (b11549 llama-model.cpp ``nextn_flags``; GLM-4.5's loader did the same from its first build,
    b6168 printing "model has unused tensor blk.46.attn_norm.weight ... -- ignoring" and leaving the
    block out of its model buffers: llama-model-loader.cpp, ``size_data -= nbytes``)."""
    out = []
    for t in tensors:
        found = GGUF_BLOCK.match(t.name)
        if found is not None and int(found.group(1)) >= trunk_layers:
            out.append(t)
    return tuple(out)


def mtp_layer_name(name: str) -> tuple[str, int] | None:
    """(the layers' prefix, the index) of a tensor in a decoder layer, None outside the layers."""
    found = LAYER_PREFIX.match(name)
    return (found.group(1), int(found.group(2))) if found else None


def mtp_matcher(cfg: Mapping[str, Any]) -> Callable[[str], bool]:
    """A test of checkpoint tensor names for ``cfg``'s MTP layers, its layout resolved once: under
    ``mtp.``, or a trunk layer numbered past ``num_hidden_layers`` (never true without a layout)."""
    text, layout = _text(cfg)
    if layout is None:
        return lambda name: False
    if layout.place == "mtp":
        return lambda name: name.startswith("mtp.")
    layers = text.get("num_hidden_layers")
    if not isinstance(layers, int) or isinstance(layers, bool):
        layers = _default_layers(text)
    if not isinstance(layers, int):
        return lambda name: False
    first = layers

    def matches(name: str) -> bool:
        found = LAYER_PREFIX.match(name)
        return found is not None and not name.startswith("mtp.") and int(found.group(2)) >= first

    return matches


def stored_mtp_tensors(tensors: Sequence[Tensor], cfg: Mapping[str, Any]) -> tuple[Tensor, ...]:
    """The tensors of a checkpoint of ``cfg`` that belong to its MTP layers (``mtp_matcher``)."""
    if not has_mtp_layout(cfg):
        return ()
    matches = mtp_matcher(cfg)
    return tuple(t for t in tensors if matches(t.name))


def model_mtp_tensors(model: Model) -> tuple[Tensor, ...]:
    """The tensors of ``model`` (read from its files) that belong to its MTP layers: where its config.json's
    family stores them (``stored_mtp_tensors``), or a GGUF's blocks after the trunk (``gguf_nextn_tensors``).
    """
    cfg = model.config
    # a GGUF's own keys first: a GGUF in a folder beside its config.json keeps GGUF names (blk.N)
    if cfg is not None and cfg.extra.get("nextn_layers"):  # set by knowledge/gguf_arch.py alone
        return gguf_nextn_tensors(model.tensors, cfg.n_layers)
    raw = model.config_json
    return stored_mtp_tensors(model.tensors, raw) if raw is not None else ()


def is_mtp_tensor(name: str, cfg: Mapping[str, Any]) -> bool:
    """Whether a checkpoint tensor called ``name`` belongs to an MTP layer of ``cfg``'s layout
    (``mtp_matcher``; for many names, take the matcher once)."""
    return mtp_matcher(cfg)(name)


def _default_layers(text: Mapping[str, Any]) -> Any:
    """num_hidden_layers where the config leaves it out: its family's default (what transformers builds)."""
    from paramscope.knowledge.families.table import FAMILIES

    row = FAMILIES.get(str(text.get("model_type")))
    return row.defaults.get("num_hidden_layers") if row is not None else None


def shared_copy(name: str, cfg: Mapping[str, Any]) -> str:
    """What an MTP tensor copies: "embedding" or "head" where it is a copy of the model's embedding or
    output head (``MtpLayout.embedding_copy`` / ``head_copy``), else ""."""
    layout = _text(cfg)[1]
    if layout is None or not is_mtp_tensor(name, cfg):  # the model's own embedding and head are not copies
        return ""
    # the module's every tensor: a quantized copy's scales (weight_scale, qweight …) go with it
    if layout.embedding_copy and f".{layout.embedding_copy.removesuffix('weight')}" in name:
        return "embedding"
    if layout.head_copy and f".{layout.head_copy.removesuffix('weight')}" in name:
        return "head"
    return ""


def mtp_family(cfg: Mapping[str, Any]) -> str:
    """The model_type whose MTP layout ``cfg`` follows (its text model's), "" for none."""
    text, layout = _text(cfg)
    return str(text.get("model_type")) if layout is not None else ""
