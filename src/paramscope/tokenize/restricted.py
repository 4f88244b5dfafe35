"""An SPM ("llama") GGUF tokenizer built over only the part of its vocabulary one text can reach.

Gemma 3's engine holds 262,144 tokens and 514,847 merges; building them (or loading them back from
JSON) takes about a second, while tokenizing a sentence takes microseconds. But BPE only ever joins
adjacent symbols of the text it is given, so every symbol it forms is a substring of that text as the
normalizer leaves it: a merge ``(a, b)`` whose ``a + b`` appears nowhere in the text can never apply,
and leaving it out changes nothing. The engine built here keeps

- every token that is a substring of the text (spaces as "▁", with a "▁" in front of any position where
  ``add_space_prefix`` may put one), at most the vocabulary's longest token long;
- the 256 byte-fallback tokens, the unknown and special tokens, the user-defined tokens (cut out of
  the raw text before anything else) and any IDs to decode;
- every merge between the kept tokens, in the full order (``spm.spm_merges``: the score of the token a
  merge makes, highest first, then its ID, then the cut point).

IDs are the vocabulary's own. ``tests/test_tokens_cache.py`` checks token for token against the full
engine on many texts, and the merge order against ``spm_merges``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from paramscope.records import record
from paramscope.tokenize.engines import SPACE

LONGEST_TEXT = 1 << 14  # characters: longer texts use the full engine (candidates grow as n × longest)


class SortedKeys(Sequence[bytes]):
    """The distinct token strings as sorted UTF-8 in one buffer with their start offsets (``n + 1`` of
    them), indexed without splitting 262,144 strings out of it. UTF-8 sorts bytewise as the code points
    do, so the order of the bytes is the order of the strings."""

    def __init__(self, blob: bytes, offsets: Sequence[int]):
        self.blob, self.offsets = blob, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        return self.blob[self.offsets[i]:self.offsets[i + 1]]


@record
class SpmVocab:
    """What a restricted SPM engine needs of a vocabulary, in the form ``tokenize.cache`` keeps it: the
    distinct token strings sorted (looked up by bisection: no 262,144-entry dict to build per run)."""

    keys: SortedKeys  # distinct token strings, sorted
    key_ids: Sequence[int]  # the ID of each key: the later one where a string occurs twice (token_to_id)
    rank: Sequence[int]  # for each ID, the index of its string in ``keys``
    scores: Sequence[float]  # for each ID, float32
    user: tuple[int, ...]  # user-defined token IDs
    always: tuple[int, ...]  # byte-fallback, unknown and special (BOS, EOS…) token IDs
    unk: int | None
    add_space_prefix: bool
    longest: int  # characters in the longest token
    wrapper: Mapping[str, Any]  # core.Tokenizer's other fields (gguf_models.wrapper_fields)

    @property
    def size(self) -> int:
        return len(self.rank)

    def id_of(self, text: str) -> int | None:
        key = text.encode("utf-8")
        i = bisect_left(self.keys, key)
        return self.key_ids[i] if i < len(self.keys) and self.keys[i] == key else None

    def token(self, token_id: int) -> str:
        return self.keys[self.rank[token_id]].decode("utf-8")


def candidates(text: str, longest: int, add_space_prefix: bool) -> set[str]:
    """Every string BPE could form from ``text`` (module docstring), and more: a superset is harmless."""
    t = text.replace(" ", SPACE)
    n, out = len(t), set()
    for i in range(n):
        for j in range(i + 1, min(n, i + longest) + 1):
            out.add(t[i:j])
    if add_space_prefix:  # a "▁" put before a piece of text, wherever a piece may start
        out.add(SPACE)
        for i in range(n):
            for j in range(i + 1, min(n, i + longest - 1) + 1):
                out.add(SPACE + t[i:j])
    return out


def merges(ids: Mapping[str, int], v: SpmVocab) -> list[tuple[str, str]]:
    """The merges among the tokens of ``ids`` in ``spm_merges`` order: the score of the token made
    (highest first), then its ID, then the cut point."""
    found = []
    for whole, token_id in ids.items():
        for k in range(1, len(whole)):
            if whole[:k] in ids and whole[k:] in ids:
                found.append((-float(v.scores[token_id]), token_id, k, whole))
    found.sort()
    return [(w[:k], w[k:]) for _, _, k, w in found]


def build(v: SpmVocab, text: str, ids: Iterable[int] = ()) -> Any:
    """A core.Tokenizer exact for ``text`` (and for decoding ``ids``), over that part of the vocabulary."""
    from paramscope.tokenize.core import Tokenizer
    from paramscope.tokenize.engines import spm_engine

    sub: dict[str, int] = {}
    for s in candidates(text, v.longest, v.add_space_prefix):
        token_id = v.id_of(s)
        if token_id is not None:
            sub[s] = token_id
    reachable = dict(sub)  # merges only among these: a wanted ID's string need not be in the text
    for i in sorted({*v.always, *v.user, *(i for i in ids if 0 <= i < v.size)}):
        s = v.token(i)
        sub.setdefault(s, i if (found := v.id_of(s)) is None else found)
    unk = None if v.unk is None else v.token(v.unk)
    engine = spm_engine(sub, merges(reachable, v), unk, [v.token(i) for i in v.user], v.add_space_prefix)
    w = v.wrapper
    return Tokenizer(engine, name=w["name"], type=w["type"], source=w["source"],
                     kinds={int(k): kind for k, kind in w["kinds"].items()}, chunkable=w["chunkable"],
                     prefix=w["prefix"], suffix=w["suffix"], details=w["details"], vocab_size=v.size,
                     specials=w["specials"])
