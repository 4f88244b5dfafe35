"""Reading a Hugging Face ``config.json`` the way ``transformers`` reads it: the file's value when it is
there, otherwise the family's ``configuration_*.py`` default, with the family's ``attribute_map``
(GPT-2 says ``n_embd`` where everyone else says ``hidden_size``).

Every number is checked before it becomes a shape: a whole number in range, so a hostile or broken
config gives one ``FormatError`` line, never a traceback or a billion-tensor list.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from paramscope.errors import FormatError
from paramscope.model.dtypes import DType, parse_dtype

MAX_DIM = 1 << 31  # no real width, vocabulary or context comes near 2^31
MAX_LAYERS = 10_000
_MISSING = object()


class HfConfig:
    """One config mapping read with one family's defaults and attribute map."""

    def __init__(self, raw: Mapping[str, Any], defaults: Mapping[str, Any],
                 attribute_map: Mapping[str, str], source: str):
        self.raw, self.defaults, self.attribute_map, self.source = raw, defaults, attribute_map, source

    def value(self, key: str, fallback: Any = None) -> Any:
        """The file's value (``null`` included), else the family default, else ``fallback``."""
        keys = (self.attribute_map.get(key, key), key)
        for source in (self.raw, self.defaults):
            for k in keys:
                if k in source:
                    return source[k]
        return fallback

    def int(self, key: str, fallback: int | None = None, *, minimum: int = 0,
            maximum: int = MAX_DIM) -> int:
        """A whole number; ``null`` or absent falls back to the default (HF: ``x or default``)."""
        v = self.value(key)
        if v is None:
            v = fallback
        if v is None:
            raise FormatError(self.source, f"field {key!r} is missing and has no default")
        return self._whole(key, v, minimum, maximum)

    def int_or_most(self, key: str, fallback: builtins.int | None = None, *, minimum: builtins.int = 0,
                    maximum: builtins.int = MAX_DIM) -> builtins.int:
        """A whole number, or the largest of a per-layer list of them: transformers types some
        fields ``int | list[int]`` (HunYuan's ``moe_topk``, which Hunyuan-A13B writes one per layer),
        and one number stands for them all here, the largest so nothing per token is undercounted."""
        v = self.value(key)
        if isinstance(v, list | tuple) and v:
            return max(self._whole(key, x, minimum, maximum) for x in v)
        return self.int(key, fallback, minimum=minimum, maximum=maximum)

    def opt_int(self, key: str, *, minimum: builtins.int = 0,
                maximum: builtins.int = MAX_DIM) -> builtins.int | None:
        """A whole number or None: for fields where ``null`` means "absent" (DeepSeek's q_lora_rank)."""
        v = self.value(key)
        return None if v is None else self._whole(key, v, minimum, maximum)

    def flag(self, key: str, fallback: bool = False) -> bool:
        v = self.value(key, fallback)
        if v is None:
            return fallback
        if not isinstance(v, bool):
            raise FormatError(self.source, f"field {key!r} must be true or false", found=repr(v))
        return v

    def int_list(self, key: str) -> tuple[builtins.int, ...]:
        v = self.value(key) or ()
        if not isinstance(v, list | tuple):
            raise FormatError(self.source, f"field {key!r} must be a list of numbers", found=repr(v))
        return tuple(self._whole(key, x, 0, MAX_DIM) for x in v)

    def int_pairs(self, key: str, count: builtins.int) -> tuple[tuple[builtins.int, builtins.int], ...]:
        """``count`` [a, b] pairs of positive numbers (Gemma 3n's per-convolution kernel sizes)."""
        v = self.value(key)
        if not (isinstance(v, list | tuple) and len(v) == count
                and all(isinstance(x, list | tuple) and len(x) == 2 for x in v)):
            raise FormatError(self.source, f"field {key!r} must be {count} pairs of numbers",
                              found=repr(v)[:80])
        return tuple((self._whole(key, a, 1, MAX_DIM), self._whole(key, b, 1, MAX_DIM)) for a, b in v)

    def str_list(self, key: str) -> tuple[str, ...] | None:
        v = self.value(key)
        if v is None:
            return None
        if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
            raise FormatError(self.source, f"field {key!r} must be a list of strings", found=repr(v)[:80])
        return tuple(v)

    def _whole(self, key: str, v: Any, minimum: builtins.int, maximum: builtins.int) -> builtins.int:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise FormatError(self.source, f"field {key!r} must be a whole number", found=repr(v)[:80])
        if not minimum <= v <= maximum:
            raise FormatError(self.source, f"field {key!r} out of range", found=v,
                              expected=f"{minimum}..{maximum}")
        return v


def config_dtype(*configs: Mapping[str, Any], default: DType) -> DType:
    """``torch_dtype`` (``dtype`` since transformers 4.56) of the first config that names one.

    Configs without one ("auto" is not a type either) were saved in the family's default type:
    float32 for GPT-2 and BERT era checkpoints, bfloat16 for current decoders.
    """
    for cfg in configs:
        for key in ("torch_dtype", "dtype"):
            name = cfg.get(key)
            if isinstance(name, str):
                try:
                    return parse_dtype(name.removeprefix("torch."))
                except KeyError:
                    continue
    return default


def saved_by_v4(cfg: Mapping[str, Any]) -> bool:
    """Whether transformers 4.x wrote the config, and so the checkpoint beside it: 4.x tied a wrapper's head
    by its text config (``PreTrainedModel.tie_weights``: ``self.config.get_text_config(decoder=True)
    .tie_word_embeddings``), 5.x by the wrapper's own field, whose default (``tie_default``) differs for
    some (Mistral3Config: True, its MistralConfig False). Mistral-Small-3.1-24B's config, saved by 4.57.1
    with neither field, holds an untied lm_head as vLLM 0.19 loads it (tests/fixtures/engine_logs/vllm/
    r13q-llmdplanner-mistral-small-31-*: 24.07 GiB, the head's 1.25 GiB included)."""
    major = str(cfg.get("transformers_version") or "").strip().lstrip("vV").split(".")[0]
    return major.isdigit() and int(major) < 5
