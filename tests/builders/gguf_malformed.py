"""Malformed GGUF files, byte by byte: a builder with every field explicit, so that any one of them can
be made wrong, and the cases of test_gguf_malformed.py (which test_zoo.py also gathers into one hostile
zoo), each breaking one rule of the spec (llama.cpp ggml/docs/gguf.md, ggml/src/gguf.cpp)."""

from __future__ import annotations

import struct

from paramscope.errors import (
    DTypeError,
    FormatError,
    HeaderError,
    OffsetError,
    ShapeError,
    TruncatedError,
)

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
F32_TYPE, Q4_0_TYPE = 0, 2


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return s(key) + struct.pack("<I", vtype) + payload


def kv_u32(key: str, value: int) -> bytes:
    return kv(key, U32, struct.pack("<I", value))


def kv_str(key: str, value: str) -> bytes:
    return kv(key, STR, s(value))


def array(etype: int, items: list[bytes]) -> bytes:
    return struct.pack("<IQ", etype, len(items)) + b"".join(items)


def tensor(name: str | bytes, ne: tuple[int, ...], ggml_type: int = F32_TYPE, offset: int = 0) -> bytes:
    return s(name) + struct.pack(f"<I{len(ne)}QIQ", len(ne), *ne, ggml_type, offset)


def build(kvs: list[bytes] | None = None, tensors: list[bytes] | None = None, data: bytes = b"\0" * 32,
          *, magic: bytes = b"GGUF", version: bytes = struct.pack("<I", 3), n_tensors: int | None = None,
          n_kv: int | None = None, alignment: int = 32) -> bytes:
    kvs = [kv_str("general.architecture", "llama")] if kvs is None else kvs
    tensors = [tensor("a.weight", (8,))] if tensors is None else tensors
    head = magic + version + struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors,
                                        len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(tensors)
    return body + b"\0" * (-len(body) % alignment) + data


VALID = build()


def _nested(depth: int) -> bytes:
    value = array(U8, [b"\1"])
    for _ in range(depth):
        value = struct.pack("<IQ", ARR, 1) + value
    return kv("deep", ARR, value)


PREAMBLE = 24
KV_END = PREAMBLE + len(kv_str("general.architecture", "llama"))

# (id, file bytes, error class, fragment of the message)
CASES: list[tuple[str, bytes, type[FormatError], str]] = [
    ("bad-magic", build(magic=b"GGML"), HeaderError, "bad magic"),
    ("version-1", build(version=struct.pack("<I", 1)), HeaderError, "version 1 is obsolete"),
    ("version-4", build(version=struct.pack("<I", 4)), HeaderError, "unsupported GGUF version (found 4"),
    ("version-0", build(version=struct.pack("<I", 0)), HeaderError, "unsupported GGUF version (found 0"),
    ("big-endian", build(version=struct.pack(">I", 3)), HeaderError, "big-endian GGUF"),
    ("truncated-preamble", VALID[:20], TruncatedError, "file ends inside the GGUF preamble"),
    ("truncated-key", build(tensors=[], data=b"")[:PREAMBLE + 18], TruncatedError,
     "key 0 runs past the end of the file (found length 20, expected at most 10)"),
    ("truncated-counts", VALID[:PREAMBLE + 18], TruncatedError, "file ends inside the tensor-info section"),
    ("truncated-value", VALID[:KV_END - 2], TruncatedError, "string value of 'general.architecture'"),
    ("truncated-tensor-info", VALID[:KV_END + 20], TruncatedError, "tensor info of 'a.weight'"),
    ("truncated-data", VALID[:-4], OffsetError, "'a.weight' data runs past the end of the file"),
    ("tensor-count-huge", build(n_tensors=2**62), HeaderError,
     "the tensor-info section declares more tensors than the file can hold (found 4611686018427387904"),
    ("kv-count-huge", build(n_kv=2**62), HeaderError,
     "the key-value section declares more key-value pairs than the file can hold"),
    ("tensor-count-short", build(n_tensors=10), TruncatedError,
     "file ends inside the tensor-info section (found 122 bytes left, expected at least 240 for 10 tensors)"),
    ("key-length-huge", build([struct.pack("<Q", 2**62) + b"abc"]), TruncatedError,
     "key 0 runs past the end of the file (found length 4611686018427387904"),
    ("string-value-huge", build([kv("k", STR, struct.pack("<Q", 2**63))]), TruncatedError,
     "string value of 'k' runs past the end"),
    ("bad-value-type", build([kv("k", 13, b"\0" * 8)]), HeaderError,
     "'k' has an invalid value type (found 13"),
    ("bad-element-type", build([kv("k", ARR, struct.pack("<IQ", 77, 1))]), HeaderError,
     "'k' has an invalid element type (found 77"),
    ("array-count-huge", build([kv("k", ARR, struct.pack("<IQ", U32, 2**29))]), HeaderError,
     "array 'k' declares more elements than the file can hold (found 536870912"),
    ("string-array-count-huge", build([kv("k", ARR, struct.pack("<IQ", STR, 2**60))]), HeaderError,
     "array 'k' has too many elements"),
    ("array-short", build([kv("k", ARR, struct.pack("<IQ", U64, 4) + b"\1" * 8)], [], b"", alignment=1),
     TruncatedError, "file ends inside array 'k' (found 8 bytes left, expected at least 32 for 4 elements)"),
    ("nested-array-bomb", build([_nested(100)]), HeaderError, "array 'deep' is nested too deeply"),
    ("string-array-truncated", build([kv("k", ARR, array(STR, [s("ab")] * 100)[:-30])], [], b""),
     TruncatedError, "string array 'k'"),
    ("duplicate-key", build([kv_u32("k", 1), kv_u32("k", 2)]), HeaderError, "duplicate key 'k'"),
    ("empty-key", build([kv_u32("", 1)]), HeaderError, "key 0 is empty"),
    ("key-not-utf8", build([kv(b"\xff\xfe", U32, b"\0" * 4)]), HeaderError, "key 0 is not valid UTF-8"),
    ("duplicate-tensor", build(tensors=[tensor("a", (8,)), tensor("a", (8,), offset=32)], data=b"\0" * 64),
     HeaderError, "duplicate tensor name 'a'"),
    # gguf.cpp: name.length() >= GGML_MAX_NAME (64) is refused; the length is in bytes, not characters
    ("name-64-bytes", build(tensors=[tensor("n" * 64, (8,))]), HeaderError,
     "tensor 0's name is too long for llama.cpp (found 64 bytes, expected under 64"),
    ("name-64-utf8-bytes", build(tensors=[tensor("é" * 32, (8,))]), HeaderError,
     "tensor 0's name is too long for llama.cpp (found 64 bytes"),
    ("too-many-dims", build(tensors=[tensor("a", (1, 1, 1, 1, 8))]), ShapeError,
     "'a' has too many dimensions (found 5, expected at most 4)"),
    ("dim-negative-as-int64", build(tensors=[tensor("a", (2**63,))]), ShapeError, "negative as int64"),
    ("elements-overflow", build(tensors=[tensor("a", (2**32, 2**32))]), ShapeError,
     "'a' element count overflows int64"),
    ("unknown-ggml-type", build(tensors=[tensor("a", (8,), 99)]), DTypeError,
     "'a' has an unknown ggml type (found 99"),
    ("retired-ggml-type", build(tensors=[tensor("a", (32,), 4)]), DTypeError,
     "uses ggml type 4 (Q4_2), which llama.cpp has removed"),
    ("partial-block", build(tensors=[tensor("a", (16, 2), Q4_0_TYPE)]), ShapeError,
     "'a' rows are not whole Q4_0 blocks (found ne[0] = 16, expected a multiple of 32)"),
    ("offset-unaligned", build(tensors=[tensor("a", (2,), offset=8)]), OffsetError,
     "'a' data is not aligned (found offset 8, expected a multiple of 32)"),
    ("data-past-eof", build(tensors=[tensor("a", (8,), offset=64)]), OffsetError,
     "'a' data runs past the end of the file"),
    ("overlap", build(tensors=[tensor("a", (16,)), tensor("b", (8,), offset=32)], data=b"\0" * 96),
     OffsetError, "tensors 'a' and 'b' overlap"),
    ("alignment-zero", build([kv_u32("general.alignment", 0)]), HeaderError, "must be a power of two"),
    ("alignment-48", build([kv_u32("general.alignment", 48)]), HeaderError,
     "general.alignment must be a power of two (found 48"),
    ("alignment-wrong-type", build([kv("general.alignment", I32, struct.pack("<i", 32))]), HeaderError,
     "general.alignment must be a u32 (found i32, expected u32)"),
    ("block-count-huge", build([kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 2**31)]),
     HeaderError, "llama.block_count is implausible"),
    ("tensor-name-in-error-stays-one-line", build(tensors=[tensor("a\nb", (8,), 99)]), DTypeError,
     "'a\\nb' has an unknown ggml type"),
]

