"""A checkpoint's multi-token-prediction (MTP) layers as the engines load them (knowledge/families/mtp.py
says where each family stores them): not at all as the model (transformers, SGLang and vLLM skip them on
load), or, with vLLM's MTP speculative decoding, as a drafter beside the model that shares its embedding
and output head.
"""

from __future__ import annotations

from paramscope.errors import UnsupportedError
from paramscope.model import Model, Tensor
from paramscope.model.memo import ModelMemo
from paramscope.records import record, replace

_STORED: ModelMemo[tuple[Tensor, ...]] = ModelMemo(8)


def stored_mtp_tensors(model: Model) -> tuple[Tensor, ...]:
    """The tensors of ``model`` (a checkpoint read from its files) that belong to its MTP layers."""
    return _STORED.get(model, None, lambda: _stored_mtp_tensors(model))


def _stored_mtp_tensors(model: Model) -> tuple[Tensor, ...]:
    from paramscope.knowledge.families.mtp import model_mtp_tensors

    return model_mtp_tensors(model)


_STRIPPED: ModelMemo[tuple[Model, tuple[str, ...]]] = ModelMemo(8)


def without_mtp(model: Model, engine: str = "the engine") -> tuple[Model, tuple[str, ...]]:
    """The model without the MTP layers its checkpoint stores, which ``engine`` does not load as part of the
    model, with a note; the model itself when it holds none."""
    return _STRIPPED.get(model, engine, lambda: _without_mtp(model, engine))


def _without_mtp(model: Model, engine: str) -> tuple[Model, tuple[str, ...]]:
    mtp = stored_mtp_tensors(model)
    if not mtp:
        return model, ()
    gone = {id(t) for t in mtp}
    note = (f"the checkpoint's multi-token-prediction layer(s): {len(mtp):,} tensors, "
            f"{-sum(t.nbytes for t in mtp):+,} B, which {engine} does not load with the model (vLLM loads "
            f"them as a drafter with --speculative-config method mtp)")
    return replace(model, tensors=tuple(t for t in model.tensors if id(t) not in gone)), (note,)


@record
class Drafter:
    """vLLM's MTP drafter as loaded: its tensors beside the model's and the attention layers it adds."""

    layers: int  # MTP layers: each attends with a KV cache of its own, as a full-attention layer
    tensors: tuple[Tensor, ...]  # what it loads, the copies of the embedding and head left out
    shared: tuple[Tensor, ...]  # the stored copies it replaces by the model's own
    from_config: bool  # listed from the config (not read from the checkpoint's files)
    head_shared: bool = True  # a DeepSeek-style layer's shared_head.head replaced by the model's (0.16 on)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


# vLLM replaces an MTP drafter's embedding by the model's (every V1 release read, 0.10 on: the EAGLE
# proposer's load_model) and, from 0.16, the shared_head.head a DeepSeek-style MTP layer stores by the
# model's lm_head ("Shared target model lm_head with MTP shared_head.head"); before, it kept that copy
HEAD_SHARED_RELEASE = (0, 16, 0)


def mtp_drafter(model: Model, release: tuple[int, int, int]) -> Drafter:
    """The MTP layers vLLM ``release`` loads as a drafter for ``model``: the checkpoint's own, or for a
    model read from its config the layers its family stores, priced as the quantization config says."""
    from paramscope.knowledge.families.mtp import mtp_layer_count, shared_copy

    raw = model.config_json
    layers = mtp_layer_count(raw) if raw is not None else 0
    if not layers:
        arch = model.config.architecture if model.config else model.source
        raise UnsupportedError(f"speculative method mtp: {arch} has no multi-token-prediction layers "
                               f"paramscope knows of (DeepSeek-V3, GLM-4.5 and GLM-5, Qwen3-Next and "
                               f"Qwen3.5 families: knowledge/families/mtp.py)")
    assert raw is not None
    stored = stored_mtp_tensors(model)
    from_config = not model.has_weights and not stored
    if from_config:
        from paramscope.knowledge.config_tensors import stored_mtp
        from paramscope.knowledge.families import expected_tensors

        stored = stored_mtp(expected_tensors(raw), model.quantization, raw)
    if not stored:
        raise UnsupportedError(f"{model.source}: the checkpoint stores no multi-token-prediction layer "
                               f"(its config gives {layers}), which vLLM's MTP drafter loads")
    shared_kinds = {"embedding"} | ({"head"} if release >= HEAD_SHARED_RELEASE else set())
    shared = tuple(t for t in stored if shared_copy(t.name, raw) in shared_kinds)
    gone = {id(t) for t in shared}
    kept = tuple(t for t in stored if id(t) not in gone)
    if release < HEAD_SHARED_RELEASE:
        kept = _heads_unquantized(model, kept, raw)
    return Drafter(layers, kept, shared, from_config, head_shared=release >= HEAD_SHARED_RELEASE)


def _heads_unquantized(model: Model, tensors: tuple[Tensor, ...], raw: dict) -> tuple[Tensor, ...]:
    """Before 0.16 vLLM builds a DeepSeek-style MTP layer's shared_head.head as a ParallelLMHead without
    the quantization config: the model's vocabulary × hidden in the model's type, whatever the checkpoint
    stores (GLM-4.5-FP8's FP8 copy and its scales are held as bf16)."""
    from paramscope.knowledge.families.mtp import shared_copy

    heads = [t for t in tensors if shared_copy(t.name, raw) == "head"]
    embed = next((t for t in model.tensors if t.name.endswith("embed_tokens.weight")
                  and len(t.shape) == 2 and not shared_copy(t.name, raw)), None)
    if not heads or embed is None:
        return tensors
    gone = {id(t) for t in heads}
    prefixes = sorted({t.name.split("shared_head.head.")[0] for t in heads})
    held = tuple(Tensor(f"{prefix}shared_head.head.weight", embed.shape, embed.dtype, embed.nbytes)
                 for prefix in prefixes)
    return (*(t for t in tensors if id(t) not in gone), *held)


def drafter_note(drafter: Drafter, tokens: int) -> str:
    """The explain line for the drafter's weights."""
    where = "listed from the config" if drafter.from_config else "read from the checkpoint"
    copied = sum(t.nbytes for t in drafter.shared)
    copies = (f"; {len(drafter.shared)} stored tensors copying them ({copied:,} B) are replaced by the "
              "model's own") if drafter.shared else ""
    shares = "embedding and output head" if drafter.head_shared else (
        "embedding (its shared_head.head held in the model's type: before 0.16)")
    return (f"vLLM's MTP drafter ({drafter.layers} layer{'s' if drafter.layers > 1 else ''}, {tokens} "
            f"speculative token{'s' if tokens > 1 else ''}): {len(drafter.tensors):,} tensors {where}, "
            f"{drafter.nbytes:+,} B, sharing the model's {shares}{copies}")
