"""``json.dumps(value, indent=2, ensure_ascii=False)``, the same text, ten times faster.

CPython's C encoder does no indentation (json/encoder.py takes it only when ``indent is None``), so
``--json`` ran the pure-Python generator ``_iterencode`` and wrote each of its pieces: 13 s of the 18
that `inspect --tensors --json` took on DeepSeek-V3's 91,991 tensors (5 M pieces). Here each container
is one ``join`` and each scalar one call of the encoder's own C helpers: ``encode_basestring`` for
strings, ``int.__repr__`` and ``float.__repr__`` for numbers, as json.encoder does (NaN and ±Infinity
as it spells them). Keys and values are checked in json.encoder's order, so what it refuses (a key
that is a tuple, an object it cannot encode, a container that holds itself) is refused here too, with
its error. tests/test_json_text.py compares the two on generated values.
"""

from __future__ import annotations

import json.encoder
from collections.abc import Callable
from typing import Any

INDENT = "  "
_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # the C version where built
_int = int.__repr__
_INF = float("inf")


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _encode_str, int: _int, float: _float, bool: lambda o: "true" if o else "false",
    type(None): lambda o: "null",
}


def dumps(value: Any) -> str:
    """The text ``json.dumps(value, indent=2, ensure_ascii=False)`` returns, or its exception."""
    return _Encoder().encode(value, "\n")


class _Encoder:
    def __init__(self) -> None:
        self.active: set[int] = set()  # ids of the containers being encoded: a cycle is an error
        self.keys: dict[str, str] = {}  # str key → its JSON and ": " (92k tensors share 12 keys)

    def _key(self, k: str) -> str:
        out = self.keys[k] = _encode_str(k) + ": "
        return out

    def encode(self, o: Any, newline: str) -> str:
        """``o`` whose line starts at ``newline`` (a newline and the indent of its level)."""
        kind = type(o)
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            return scalar(o)
        if kind is dict:
            return self._dict(o, newline)
        if kind is list:
            return self._list(o, newline)
        if isinstance(o, str):
            return _encode_str(o)
        if o is None:
            return "null"
        if o is True:
            return "true"
        if o is False:
            return "false"
        if isinstance(o, int):
            return _int(o)
        if isinstance(o, float):
            return _float(o)
        if isinstance(o, list | tuple):
            return self._list(o, newline)
        if isinstance(o, dict):
            return self._dict(o, newline)
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")

    def _enter(self, o: Any) -> None:
        if id(o) in self.active:
            raise ValueError("Circular reference detected")
        self.active.add(id(o))

    def _list(self, o: list | tuple, newline: str) -> str:
        if not o:
            return "[]"
        self._enter(o)
        inner = newline + INDENT
        encode, scalars = self.encode, _SCALARS
        parts = [scalar(v) if (scalar := scalars.get(type(v))) is not None else encode(v, inner) for v in o]
        self.active.discard(id(o))
        return "[" + inner + ("," + inner).join(parts) + newline + "]"

    def _dict(self, o: dict, newline: str) -> str:
        if not o:
            return "{}"
        self._enter(o)
        inner = newline + INDENT
        encode, scalars, keys = self.encode, _SCALARS, self.keys
        parts = [(keys.get(k) or self._key(k) if type(k) is str else _encode_str(_key(k)) + ": ")
                 + (scalar(v) if (scalar := scalars.get(type(v))) is not None else encode(v, inner))
                 for k, v in o.items()]
        self.active.discard(id(o))
        return "{" + inner + ("," + inner).join(parts) + newline + "}"


def _key(k: Any) -> str:
    """A dict key as json.encoder makes it a string (its order: str, float, bool, None, int)."""
    if isinstance(k, str):
        return k
    if isinstance(k, float):
        return _float(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return _int(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")
