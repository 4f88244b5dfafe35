"""The tensor list of a model read from its config alone (config.json, a catalogue name): what both config
readers (``formats/config_json.py``, ``knowledge/catalogue``) list, with the note they carry.

A config that declares a quantization lists its tensors as the quantized checkpoint stores them
(``quant_layouts.as_stored``); one that does not lists its logical tensors, without loading the layout
tables (``paramscope size llama-3.1-8b`` starts without them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramscope.model import Tensor
    from paramscope.model.quantization import Quantization

# Said of every tensor list built from a config alone (inventory notes), since real files may differ so.
CONFIG_ONLY_NOTE = ("listed from config.json: a checkpoint file of it may also hold tensors that are not "
                    "parameters (float32 rotary_emb.inv_freq buffers in files saved by older transformers) "
                    "and, with tied embeddings, a second copy of the output head; read the file itself to "
                    "see them listed as buffers and the head counted once")


def config_tensors(logical: Sequence[Tensor], q: Quantization | None,
                   config: Mapping[str, Any]) -> tuple[tuple[Tensor, ...], tuple[str, ...]]:
    """A config reader's tensor list (as stored, when the config declares a quantization) and its notes."""
    if q is None:
        return tuple(logical), (CONFIG_ONLY_NOTE,)
    from paramscope.knowledge.quant_layouts import as_stored

    stored = as_stored(logical, q, str(config.get("model_type") or ""))
    return stored.tensors, (*stored.notes, CONFIG_ONLY_NOTE)
