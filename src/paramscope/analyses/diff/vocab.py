"""Two vocabularies side by side: size, tokens added, removed or spelled differently, special tokens.

A ``Vocabulary`` is the spelling of every token ID and the IDs of the special ones. A GGUF file carries
it in its metadata (``tokenizer.ggml.tokens`` and ``tokenizer.ggml.token_type``, where llama.cpp's
``llama_token_type`` numbers UNKNOWN = 2 and CONTROL = 3: the tokens no text ever spells); a Hugging
Face directory in ``tokenizer.json``, which the application layer reads through ``paramscope.tokenize``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from paramscope.model import Model
from paramscope.records import record

EXAMPLES = 5  # of each kind of difference, kept for the report
GGUF_SPECIAL_TYPES = (2, 3)  # llama_token_type: UNKNOWN, CONTROL


@record
class Vocabulary:
    tokens: tuple[str, ...]  # spelling of each ID ("" for an ID without a token)
    special: frozenset[int]  # IDs of special (control) tokens
    source: str  # where it was read: "GGUF tokenizer.ggml.tokens", "tokenizer.json"


@record
class TokenizerDiff:
    source_a: str
    source_b: str
    size_a: int
    size_b: int
    changed: int  # IDs on both sides spelled differently
    added: int  # IDs only B has
    removed: int  # IDs only A has
    examples_changed: tuple[tuple[int, str, str], ...]
    examples_added: tuple[tuple[int, str], ...]
    examples_removed: tuple[tuple[int, str], ...]
    special_added: int  # IDs special in B and not in A
    special_removed: int
    examples_special_added: tuple[tuple[int, str], ...]
    examples_special_removed: tuple[tuple[int, str], ...]

    @property
    def same(self) -> bool:
        return not (self.changed or self.added or self.removed or self.special_added or self.special_removed)


def gguf_vocabulary(model: Model) -> Vocabulary | None:
    """The vocabulary in a GGUF file's metadata, or None when it carries none."""
    tokens = model.metadata.get("tokenizer.ggml.tokens")
    if tokens is None:
        return None
    spelled = tokens.tolist() if hasattr(tokens, "tolist") else list(tokens)
    types = model.metadata.get("tokenizer.ggml.token_type")
    special: frozenset[int] = frozenset()
    if types is not None:
        kinds = np.asarray(types).astype(np.int64, copy=False)
        special = frozenset(np.flatnonzero(np.isin(kinds, GGUF_SPECIAL_TYPES)).tolist())
    return Vocabulary(tuple(str(s) for s in spelled), special, "GGUF tokenizer.ggml.tokens")


def vocabulary(by_token: Mapping[str, int], special: Sequence[int], source: str) -> Vocabulary:
    """A vocabulary from a token → ID map (``tokenizers``' ``get_vocab``) and the special IDs."""
    size = max(by_token.values(), default=-1) + 1
    spelled = [""] * size
    for token, i in by_token.items():
        spelled[i] = token
    return Vocabulary(tuple(spelled), frozenset(special), source)


def tokenizer_diff(a: Vocabulary, b: Vocabulary) -> TokenizerDiff:
    common = min(len(a.tokens), len(b.tokens))
    changed = [i for i in range(common) if a.tokens[i] != b.tokens[i]]
    added = range(common, len(b.tokens))
    removed = range(common, len(a.tokens))
    return TokenizerDiff(
        a.source, b.source, len(a.tokens), len(b.tokens), len(changed), len(added), len(removed),
        tuple((i, a.tokens[i], b.tokens[i]) for i in changed[:EXAMPLES]),
        tuple((i, b.tokens[i]) for i in added[:EXAMPLES]),
        tuple((i, a.tokens[i]) for i in removed[:EXAMPLES]),
        len(b.special - a.special), len(a.special - b.special),
        tuple((i, _spelling(b, i)) for i in sorted(b.special - a.special)[:EXAMPLES]),
        tuple((i, _spelling(a, i)) for i in sorted(a.special - b.special)[:EXAMPLES]))


def _spelling(v: Vocabulary, i: int) -> str:
    return v.tokens[i] if 0 <= i < len(v.tokens) else ""
