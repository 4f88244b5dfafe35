"""GGUF key-value values: the header buffer they are read from, and the 13 value types.

Spec: llama.cpp ``ggml/docs/gguf.md`` ("gguf_metadata_value_type") and ``ggml/src/gguf.cpp``. Every
value is little-endian; a string is ``u64 length`` + UTF-8 bytes; an array is ``u32 element type`` +
``u64 count`` + the elements, and its elements may themselves be arrays.

Big arrays stay out of Python objects: a numeric array becomes one numpy array, a string array (a
262,144-token vocabulary) becomes a ``StringArray`` holding the raw bytes and a numpy array of offsets,
decoded one string at a time on demand. Finding those offsets means walking the length fields; a
vectorised scan (``_scan_window``) does that about three times faster than a Python loop, and the loop
(``_walk``) remains for whatever the scan cannot vouch for.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np

from paramscope.errors import HeaderError, TruncatedError
from paramscope.sources import ByteSource

# gguf.md gguf_metadata_value_type: tag → (name, bytes, struct format, numpy dtype) for fixed-size types.
SCALAR_TYPES: dict[int, tuple[str, int, str, str]] = {
    0: ("u8", 1, "<B", "<u1"),
    1: ("i8", 1, "<b", "<i1"),
    2: ("u16", 2, "<H", "<u2"),
    3: ("i16", 2, "<h", "<i2"),
    4: ("u32", 4, "<I", "<u4"),
    5: ("i32", 4, "<i", "<i4"),
    6: ("f32", 4, "<f", "<f4"),
    7: ("bool", 1, "<B", "<u1"),  # one byte, 0 or 1; like gguf.cpp, any non-zero byte reads as true
    10: ("u64", 8, "<Q", "<u8"),
    11: ("i64", 8, "<q", "<i8"),
    12: ("f64", 8, "<d", "<f8"),
}
STRING, ARRAY, BOOL = 8, 9, 7
TYPE_NAMES: dict[int, str] = {t: info[0] for t, info in SCALAR_TYPES.items()} | {STRING: "str", ARRAY: "arr"}
_SCALAR_STRUCTS = {t: struct.Struct(info[2]) for t, info in SCALAR_TYPES.items()}
_U64 = struct.Struct("<Q")
_ARRAY_HEAD = struct.Struct("<IQ")

FIRST_READ = 256 << 10  # first header read: the preamble, the small keys and usually the vocabulary's start
REFILL = 1 << 20  # least bytes read when the walk leaves the window (Gemma 3 270M's header: 6.5 MB)
MAX_ARRAY_DEPTH = 8  # gguf.cpp rejects nested arrays outright; the spec allows them, so bound the depth
MAX_ELEMENTS = 1 << 30  # gguf.cpp GGUF_MAX_ARRAY_ELEMENTS
_VECTOR_MIN = 64  # fewer strings than this: the plain loop is quicker than setting up a scan
_SCAN_BYTES = 128 << 10  # bytes per scan: its temporaries stay in cache (measured: 64-256 KiB best)
_SCAN_FAILURES = 3  # scans that stop early before the loop takes over (bounds the work on odd input)
_GUESS_BYTES = 20  # guess of bytes per string (8-byte length + text) for reading a string array at once
# …where bytes read past the array cost network traffic (``costly`` sources), a guess on the short side:
# the walk refills what is missing. Llama 3's 280,147 merges average about 19 bytes each.
_GUESS_BYTES_COSTLY = 16
_MAX_GUESS = 256 << 20  # …but never more than this on a guess (a count can be forged; bytes are checked)


class HeaderBuffer:
    """A window on the file that moves forward with the walk: ``buf`` holds the bytes from file offset
    ``base``. Each refill is one bounded ``pread`` (never past EOF) starting where the walk is, so a
    6.5 MB header is read about once instead of being re-copied as one growing buffer. A source may ask
    for smaller refills (``refill``): a remote file fetches what it is asked for, so reading far past the
    header's end costs bytes on the network."""

    def __init__(self, f: ByteSource):
        self.f, self.name, self.size = f, f.name, f.size
        self.refill = getattr(f, "refill", REFILL)
        self.guess = _GUESS_BYTES_COSTLY if getattr(f, "costly", False) else _GUESS_BYTES
        self.base, self.buf = 0, f.read(0, min(FIRST_READ, f.size), "header")

    def at(self, pos: int, n: int, what: str) -> int:
        """Make bytes ``pos .. pos + n`` readable; returns where ``pos`` is in ``buf``. A file shorter
        than that is truncated."""
        o = pos - self.base
        if o >= 0 and o + n <= len(self.buf):
            return o
        if pos + n > self.size:
            raise TruncatedError(self.name, f"file ends inside {what}", f"{self.size} bytes",
                                 f"at least {pos + n}")
        self.base = pos
        self.buf = self.f.read(pos, min(self.size - pos, max(n, self.refill)), "header")
        return 0

    def unpack(self, fields: struct.Struct, pos: int, what: str) -> tuple[Any, ...]:
        """``fields`` read at file offset ``pos`` (the window moves first, then ``buf`` is read)."""
        o = self.at(pos, fields.size, what)
        return fields.unpack_from(self.buf, o)

    def left(self, pos: int) -> int:
        return max(self.size - pos, 0)


# a byte that is not UTF-8 (but 0xFF), as the surrogateescape error handler decodes it
_ESCAPED = re.compile("[\udc80-\udcfe]")


class StringArray(Sequence[str]):
    """A GGUF string array kept as raw bytes: string ``i`` is ``data[offsets[i] + 8 : offsets[i + 1]]``.

    ``offsets`` has one entry per string (where its 8-byte length field starts) plus the end of the last
    string. Strings are decoded when asked for, with U+FFFD for invalid UTF-8 (values are shown to
    people; keys and tensor names, which must match exactly, are decoded strictly elsewhere).
    """

    __slots__ = ("_data", "_offsets")

    def __init__(self, data: bytes, offsets: np.ndarray):
        self._data, self._offsets = data, offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError(f"string index {i} out of range for {n} strings")
        start, end = int(self._offsets[j]) + 8, int(self._offsets[j + 1])
        return self._data[start:end].decode("utf-8", "replace")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        offsets = self._offsets
        n = len(offsets) - 1
        if n <= 0:
            return []
        # One decode of all the strings, not one each (Gemma's 262k tokens: ~45 ms, not ~220 ms): each
        # 8-byte length field is cut to a 0xFF byte, which UTF-8 text never holds, so that the strings
        # are the pieces between those bytes' U+DCFF (surrogateescape). Only while every string is valid
        # UTF-8 on its own: any other escaped byte, or a 0xFF inside a string, and they are decoded one by
        # one, with U+FFFD as asked.
        base = int(offsets[0])
        raw = np.frombuffer(self._data, np.uint8, int(offsets[-1]) - base, base)
        starts = offsets[:-1] - base
        keep = np.ones(raw.size, bool)
        keep[(starts[:, None] + np.arange(1, 8)).ravel()] = False
        packed = raw[keep]
        packed[starts - 7 * np.arange(n)] = 0xFF
        text = packed.tobytes().decode("utf-8", "surrogateescape")
        pieces = text.split("\udcff")
        if len(pieces) == n + 1 and _ESCAPED.search(text) is None:
            return pieces[1:]
        data = self._data
        firsts, ends = (offsets[:-1] + 8).tolist(), offsets[1:].tolist()
        return [data[s:e].decode("utf-8", "replace") for s, e in zip(firsts, ends, strict=True)]

    def same_strings(self, other: StringArray) -> bool:
        """Whether both hold the same strings as decoded: at once when their bytes are the same (a
        vocabulary compared with its copy), decoded and compared otherwise (different bytes may decode
        alike, each invalid sequence to U+FFFD)."""
        if len(self) != len(other):
            return False
        mine, theirs = self._span(), other._span()
        return mine == theirs or self.tolist() == other.tolist()

    def _span(self) -> memoryview:
        """The array's bytes, length fields included (which fix where each string ends)."""
        return memoryview(self._data)[int(self._offsets[0]):int(self._offsets[-1])]

    @property
    def nbytes(self) -> int:
        """Bytes of text, without the length fields."""
        return int(self._offsets[-1] - self._offsets[0]) - 8 * len(self)

    def __repr__(self) -> str:
        head = ", ".join(repr(s) for s in self[:3])
        return f"StringArray({len(self)} strings: {head}{', …' if len(self) > 3 else ''})"


def check_count(hb: HeaderBuffer, pos: int, n: int, min_size: int, what: str, items: str) -> None:
    """A count read from the file, checked against the bytes left before anything is sized by it. A
    count beyond even one byte per item is corrupt (HeaderError); a smaller one that still does not
    fit means the file was cut short (TruncatedError)."""
    left = hb.left(pos)
    if n * min_size <= left:
        return
    if n > left:
        raise HeaderError(hb.name, f"{what} declares more {items} than the file can hold", n,
                          f"at most {left // min_size}")
    raise TruncatedError(hb.name, f"file ends inside {what}", f"{left} bytes left",
                         f"at least {n * min_size} for {n} {items}")


def read_key(hb: HeaderBuffer, pos: int, what: str) -> tuple[str, int]:
    """A key or tensor name: a GGUF string that must be valid UTF-8, since it is matched exactly."""
    raw, pos = _read_bytes(hb, pos, what)
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError as e:
        raise HeaderError(hb.name, f"{what} is not valid UTF-8", f"byte {e.start} of {raw[:40]!r}") from None


def read_value(hb: HeaderBuffer, pos: int, vtype: int, key: str, depth: int = 0) -> tuple[Any, int]:
    """One value of type ``vtype`` at ``pos``: a Python scalar or str, a numpy array, a StringArray,
    or (for arrays of arrays) a list of those. Returns the value and the offset after it."""
    scalar = SCALAR_TYPES.get(vtype)
    if scalar is not None:
        (value,) = hb.unpack(_SCALAR_STRUCTS[vtype], pos, f"value of {key!r}")
        return (value != 0 if vtype == BOOL else value), pos + scalar[1]
    if vtype == STRING:
        raw, pos = _read_bytes(hb, pos, f"string value of {key!r}")
        return raw.decode("utf-8", "replace"), pos
    if vtype == ARRAY:
        return _read_array(hb, pos, key, depth + 1)
    raise HeaderError(hb.name, f"key {key!r} has an invalid value type", vtype, "a type tag 0..12")


def _read_bytes(hb: HeaderBuffer, pos: int, what: str) -> tuple[bytes, int]:
    (n,) = hb.unpack(_U64, pos, what)
    start = pos + 8
    if n > hb.left(start):  # checked before reading: a 2**63 length must not reach the allocator
        raise TruncatedError(hb.name, f"{what} runs past the end of the file",
                             f"length {n}", f"at most {hb.left(start)}")
    o = hb.at(start, n, what)
    return hb.buf[o:o + n], start + n


def _read_array(hb: HeaderBuffer, pos: int, key: str, depth: int) -> tuple[Any, int]:
    if depth > MAX_ARRAY_DEPTH:
        raise HeaderError(hb.name, f"array {key!r} is nested too deeply", f"depth {depth}",
                          f"at most {MAX_ARRAY_DEPTH}")
    etype, n = hb.unpack(_ARRAY_HEAD, pos, f"array header of {key!r}")
    pos += _ARRAY_HEAD.size
    scalar = SCALAR_TYPES.get(etype)
    # Smallest possible element: its fixed size, an empty string (8-byte length), an empty array (12).
    min_size = scalar[1] if scalar else {STRING: 8, ARRAY: 12}.get(etype)
    if min_size is None:
        raise HeaderError(hb.name, f"array {key!r} has an invalid element type", etype, "a type tag 0..12")
    if n > MAX_ELEMENTS:
        raise HeaderError(hb.name, f"array {key!r} has too many elements", n, f"at most {MAX_ELEMENTS}")
    check_count(hb, pos, n, min_size, f"array {key!r}", "elements")
    if scalar is not None:
        return _numeric_array(hb, pos, n, etype, key)
    if etype == STRING:
        return _string_array(hb, pos, n, key)
    items = []
    for _ in range(n):
        item, pos = _read_array(hb, pos, key, depth + 1)
        items.append(item)
    return items, pos


def _numeric_array(hb: HeaderBuffer, pos: int, n: int, etype: int, key: str) -> tuple[np.ndarray, int]:
    _, size, _, dtype = SCALAR_TYPES[etype]
    o = hb.at(pos, n * size, f"array {key!r}")
    # A copy, so that the metadata does not pin the header window; read-only like the file.
    arr = np.frombuffer(hb.buf, dtype, n, o).copy() if n else np.empty(0, dtype)
    if etype == BOOL:
        arr = arr != 0
    arr.flags.writeable = False
    return arr, pos + n * size


def _string_array(hb: HeaderBuffer, pos: int, n: int, key: str) -> tuple[StringArray, int]:
    """Read the array's likely extent at once, find the offsets, and keep the bytes they index."""
    what = f"string array {key!r}"
    hb.at(pos, min(hb.left(pos), hb.guess * n + 16, _MAX_GUESS), what)
    buf, base = hb.buf, hb.base
    offsets = string_offsets(hb, pos, n, what)
    end = int(offsets[-1])
    if end - base <= len(buf):  # the whole array is in the window read for it: keep that, no copy
        offsets -= base
    else:  # the array outgrew the guess and the window moved on: read it whole
        buf = hb.f.read(pos, end - pos, what)
        offsets -= pos
    return StringArray(buf, offsets), end


def string_offsets(hb: HeaderBuffer, pos: int, n: int, what: str) -> np.ndarray:
    """Offsets of the ``n`` length fields of a string array at ``pos``, plus the end of the last string.

    Alternates vectorised scans of ``_SCAN_BYTES`` (each verifies a prefix of the strings and stops
    where it cannot vouch for one) with a single step of the plain loop over whatever stopped it. A
    scan that gets less than half way through its window counts as a failure; after
    ``_SCAN_FAILURES`` the loop finishes alone. So every byte is scanned at most about twice, and
    odd input (long strings, strings starting with NUL) costs a few scans more than the loop.
    """
    out = np.empty(n + 1, np.int64)
    i, failures = 0, 0
    while i < n:
        if n - i < _VECTOR_MIN or failures >= _SCAN_FAILURES:
            i, pos = _walk(hb, out, i, pos, n, what)
            break
        o = hb.at(pos, min(hb.left(pos), _SCAN_BYTES), what)  # a full scan window, or the rest
        end = min(len(hb.buf), o + _SCAN_BYTES)
        found, after = _scan_window(hb.buf, o, end, n - i)
        if len(found):
            out[i:i + len(found)] = found
            out[i:i + len(found)] += hb.base
            i += len(found)
        if i < n and (after - o) * 2 < end - o:
            failures += 1
        pos = after + hb.base
        if i < n:
            i, pos = _walk(hb, out, i, pos, i + 1, what)
    if pos > hb.size:  # the last string ends past the end of the file
        raise TruncatedError(hb.name, f"file ends inside {what}", f"{hb.size} bytes", f"at least {pos}")
    out[n] = pos
    return out


def _walk(hb: HeaderBuffer, out: np.ndarray, i: int, pos: int, stop: int, what: str) -> tuple[int, int]:
    """The plain loop: follow length fields from string ``i`` at ``pos`` up to string ``stop``."""
    unpack = _U64.unpack_from
    while i < stop:
        o = hb.at(pos, 8, what)  # moves the window, or says the file ends inside the array
        buf, base, last, first = hb.buf, hb.base, len(hb.buf) - 8, i
        found: list[int] = []
        append = found.append
        while i < stop and o <= last:
            append(o)
            o += 8 + unpack(buf, o)[0]
            i += 1
        out[first:i] = found
        out[first:i] += base
        pos = o + base
    return i, pos


def _scan_window(buf: bytes, pos: int, end: int, limit: int) -> tuple[np.ndarray, int]:
    """Length-field offsets from ``pos`` found in ``buf[pos:end]`` without a Python loop.

    A length field below 65,536 has zero bytes 2..7, which text rarely has: such positions are the
    candidates. The byte before a short length field qualifies too (its bytes 2..7 are the field's
    zero high bytes), so of two adjacent candidates only the later is kept. Then the chain is checked
    exactly: the first candidate must be ``pos`` and each next candidate must equal this one + 8 +
    its length. The prefix that passes is what the loop would have found; the rest is left to it.
    Returns the verified offsets (at most ``limit``) and the offset after the last of them, both
    relative to ``buf``.
    """
    size = end - pos
    if size < 16:
        return np.empty(0, np.int64), pos
    b = np.frombuffer(buf, np.uint8, size, pos)
    zero = b == 0
    ok = zero[2:size - 5] & zero[3:size - 4]
    for k in range(4, 8):
        ok &= zero[k:size - 7 + k]
    cand = np.flatnonzero(ok)
    if len(cand) > 1:
        keep = np.empty(len(cand), bool)
        np.not_equal(np.diff(cand), 1, out=keep[:-1])
        keep[-1] = True
        cand = cand[keep]
    if not len(cand) or cand[0] != 0:
        return np.empty(0, np.int64), pos
    low16 = np.ndarray((size - 1,), "<u2", buf, pos, (1,))  # the length's two low bytes, any offset
    after = cand + 8 + low16[cand]
    broken = np.flatnonzero(cand[1:] != after[:-1])
    k = min(int(broken[0]) + 1 if len(broken) else len(cand), limit)
    return cand[:k] + pos, int(after[k - 1]) + pos


# --- the standard keys' kinds ----------------------------------------------------------------------------
# What llama.cpp reads each standard key as: llama-model.cpp and llama-vocab.cpp read them through
# llama_model_loader::get_key / get_arr / get_key_or_arr, which throw "key ... has wrong type" for any
# other GGUF type (llama-model-loader.cpp, GGUFMeta::GKV::get_kv). A file whose block_count is a bool or
# whose vocabulary is a number is refused here in one line, as llama.cpp refuses it, instead of reaching
# the analyses. Looser than llama.cpp on purpose: any integer width where it wants u32 (gguf-split's u16
# split keys are the precedent), any float width where it wants f32.
UINT, FLOAT, STR, STRS, INTS, FLOATS, UINTS = "uint", "float", "str", "strs", "ints", "floats", "uints"
KIND_WORDS = {UINT: "a whole number ≥ 0", FLOAT: "a number", STR: "a string", STRS: "an array of strings",
              INTS: "an array of integers", FLOATS: "an array of numbers",
              UINTS: "a whole number ≥ 0 or an array of them (one per layer)"}
KEY_KINDS: dict[str, str] = {
    "general.architecture": STR, "general.file_type": UINT, "general.quantization_version": UINT,
    "tokenizer.ggml.model": STR, "tokenizer.ggml.pre": STR, "tokenizer.ggml.tokens": STRS,
    "tokenizer.ggml.merges": STRS, "tokenizer.ggml.token_type": INTS, "tokenizer.ggml.scores": FLOATS,
    **{f"tokenizer.ggml.{k}_token_id": UINT
       for k in ("bos", "eos", "unknown", "padding", "seperator", "mask")},
    **{"{arch}." + k: UINT for k in (
        "block_count", "context_length", "embedding_length", "vocab_size", "expert_count",
        "expert_used_count", "expert_shared_count", "leading_dense_block_count", "expert_feed_forward_length",
        "expert_shared_feed_forward_length", "attention.key_length", "attention.value_length",
        "attention.kv_lora_rank", "attention.q_lora_rank", "rope.dimension_count", "attention.sliding_window",
        "ssm.state_size", "ssm.inner_size", "ssm.conv_kernel", "ssm.group_count", "ssm.time_step_rank")},
    # OpenELM and others give these per layer (get_key_or_arr)
    **{"{arch}." + k: UINTS for k in ("feed_forward_length", "attention.head_count",
                                      "attention.head_count_kv")},
    **{"{arch}." + k: FLOAT for k in ("rope.freq_base", "rope.scaling.factor", "attention.layer_norm_epsilon",
                                      "attention.layer_norm_rms_epsilon")},
}
_INTEGER_TYPES = {0, 1, 2, 3, 4, 5, 10, 11}
_FLOAT_TYPES = {6, 12}


def check_key_kinds(file: str, metadata: dict[str, Any], value_types: dict[str, int]) -> None:
    """Each standard key present holds the kind of value llama.cpp reads it as (``KEY_KINDS``)."""
    arch = metadata.get("general.architecture")
    for pattern, kind in KEY_KINDS.items():
        if "{arch}" in pattern:
            if not isinstance(arch, str):
                continue
            key = pattern.replace("{arch}", arch)
        else:
            key = pattern
        if key in metadata and not _is_kind(metadata[key], value_types[key], kind):
            found = TYPE_NAMES.get(value_types[key], str(value_types[key]))
            if value_types[key] != ARRAY and not isinstance(metadata[key], str):
                found = f"{found} {metadata[key]!r}"
            raise HeaderError(file, f"key {key!r} must be {KIND_WORDS[kind]}", found)


def _is_kind(value: Any, vtype: int, kind: str) -> bool:
    if kind in (UINT, UINTS) and vtype in _INTEGER_TYPES:
        return value >= 0
    if kind == FLOAT:
        return vtype in _FLOAT_TYPES or vtype in _INTEGER_TYPES
    if kind == STR:
        return vtype == STRING
    if vtype != ARRAY:
        return False
    if kind == STRS:
        return isinstance(value, StringArray)
    if not isinstance(value, np.ndarray):
        return False
    if kind == INTS:
        return value.dtype.kind in "iu"
    if kind == UINTS:
        return value.dtype.kind in "iu" and not (value < 0).any()
    return value.dtype.kind in "iuf"  # FLOATS
