"""Malformed and valid-but-unusual safetensors files, byte by byte: the cases of
test_safetensors_malformed.py, which test_zoo.py also gathers into one hostile zoo.

Each malformed case names the rule it breaks, the error class paramscope raises and a fragment of the
message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from builders.safetensors_files import write_raw, write_safetensors
from paramscope.errors import (
    DTypeError,
    FormatError,
    HeaderError,
    OffsetError,
    ShapeError,
    TruncatedError,
)

U8x4 = {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}


def entry(dtype: str = "U8", shape: object = (4,), offsets: object = (0, 4)) -> dict:
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
            "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}


def two(a: tuple[int, int], b: tuple[int, int], data: int) -> Callable[[Path], Path]:
    """Two U8 tensors at the given offsets (each [begin, end] with a matching shape)."""
    def build(p: Path) -> Path:
        return write_raw(p, {"a": entry(shape=(a[1] - a[0],), offsets=a),
                             "b": entry(shape=(b[1] - b[0],), offsets=b)}, bytes(data))
    return build


def raw(header: bytes | dict, data: bytes | int = b"", n: int | None = None) -> Callable[[Path], Path]:
    return lambda p: write_raw(p, header, data, n)


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def exact(content: bytes) -> Callable[[Path], Path]:
    return lambda p: (p.write_bytes(content), p)[1]


def truncated(p: Path) -> Path:
    write_safetensors(p, {"w": ("F32", [16, 16])})
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size - 100)
    return p


# (id, builder, error class, message fragment)
SINGLE_FILE_CASES: list[tuple[str, Callable[[Path], Path], type[FormatError], str]] = [
    ("empty-file", exact(b""), TruncatedError, "shorter than the 8-byte header length (found 0 bytes"),
    ("five-bytes", exact(b"\x02\0\0\0\0"), TruncatedError, "shorter than"),
    ("header-length-past-file", raw(b"{}", n=1000), TruncatedError, "file ends inside the JSON header"),
    ("header-length-2**63", raw(b"{}", n=2**63), HeaderError, "header length is implausibly large"),
    ("header-length-over-cap", raw(b"{}", n=100_000_001), HeaderError, "implausibly large"),
    ("header-length-zero", raw(b"", n=0), HeaderError, "not valid JSON"),
    ("not-json", raw(b"{this is not json}"), HeaderError, "header is not valid JSON"),
    ("trailing-junk", raw(b"{} x"), HeaderError, "not valid JSON"),
    ("nan", raw(b'{"a": NaN}'), HeaderError, "not valid JSON"),
    ("json-array", raw(b"[1, 2]"), HeaderError, "header is not a JSON object (found list)"),
    ("json-string", raw(b'"{}"'), HeaderError, "header is not a JSON object (found str)"),
    ("invalid-utf8", raw(b'{"\xff\xfe": 1}'), HeaderError, "header is not valid UTF-8 (found byte 0xff"),
    ("lone-surrogate", raw(b'{"__metadata__": {"a": "\\ud800"}}'), HeaderError, "unpaired UTF-16"),
    ("deep-nesting", raw(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), HeaderError,
     "nested too deeply"),
    ("surrogate-in-ignored-field", raw(b'{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0], '
                                       b'"x": [["\\udc00"]]}}'), HeaderError, "unpaired UTF-16"),
    ("deep-ignored-field", raw({"a": {**entry(shape=(0,), offsets=(0, 0)), "x": nested(126)}}), HeaderError,
     "tensor 'a': field 'x' is nested too deeply (found more than 127 levels"),
    ("float-out-of-range", raw(b'{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0], "x": 1e400}}'),
     HeaderError, "number out of range"),
    ("int-out-of-f64-range", raw(b'{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0], "x": 2'
                                 + b"0" * 308 + b"}}"), HeaderError,
     "field 'x' holds a number out of range (found 309 digits"),
    ("duplicate-tensor", raw(b'{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, '
                             b'"a": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}', bytes(8)),
     HeaderError, "header repeats a JSON key (found 'a')"),
    ("duplicate-field", raw(b'{"a": {"dtype": "U8", "dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}',
                            bytes(4)), HeaderError, "repeats a JSON key (found 'dtype')"),
    ("entry-not-object", raw({"a": [1, 2]}), HeaderError, "tensor 'a' is not an object"),
    ("missing-field", raw({"a": {"dtype": "U8", "shape": [4]}}, bytes(4)), HeaderError,
     "tensor 'a' lacks data_offsets"),
    ("unknown-dtype", raw({"a": entry(dtype="F12")}, bytes(4)), DTypeError,
     "tensor 'a' has an unknown dtype (found 'F12'"),
    ("lowercase-dtype", raw({"a": entry(dtype="f32", shape=(1,))}, bytes(4)), DTypeError, "unknown dtype"),
    ("dtype-not-string", raw({"a": entry(dtype=4)}, bytes(4)), DTypeError, "unknown dtype (found 4"),
    ("negative-dim", raw({"a": entry(shape=(-4,))}, bytes(4)), ShapeError, "tensor 'a' has an invalid shape"),
    ("float-dim", raw({"a": entry(shape=(4.0,))}, bytes(4)), ShapeError, "invalid shape (found [4.0]"),
    ("str-dim", raw({"a": entry(shape=("4",))}, bytes(4)), ShapeError, "invalid shape"),
    ("bool-dim", raw({"a": entry(shape=(True,), offsets=(0, 1))}, bytes(1)), ShapeError, "invalid shape"),
    ("shape-not-list", raw({"a": entry(shape="4")}, bytes(4)), ShapeError, "invalid shape"),
    ("negative-zero-dim", raw(b'{"a": {"dtype": "U8", "shape": [-0], "data_offsets": [0, 0]}}'),
     ShapeError, "invalid shape"),
    ("dim-past-u64", raw({"a": entry(shape=(2**64,))}, bytes(4)), ShapeError, "invalid shape"),
    ("shape-product-overflow", raw({"a": entry(dtype="F32", shape=(2**62, 2**62))}, bytes(4)), ShapeError,
     "element count overflows 64 bits"),
    ("bits-overflow", raw({"a": entry(shape=(2**61,), offsets=(0, 2**61))}), ShapeError,
     "size in bits overflows 64 bits"),
    ("offsets-reversed", raw({"a": entry(shape=(0,), offsets=(4, 0))}, bytes(4)), OffsetError,
     "tensor 'a' ends before it begins (found [4, 0]"),
    ("offsets-three", raw({"a": entry(offsets=(0, 4, 8))}, bytes(4)), OffsetError, "invalid data_offsets"),
    ("offsets-float", raw({"a": entry(offsets=(0, 4.0))}, bytes(4)), OffsetError, "invalid data_offsets"),
    ("offsets-beyond-buffer", raw({"a": U8x4}, bytes(2)), TruncatedError,
     "file ends inside the data of tensor 'a' (found 2 data bytes, expected 4)"),
    ("offsets-way-beyond", raw({"a": entry(shape=(1,), offsets=(0, 2**64 - 1))}, bytes(1)), DTypeError,
     "disagrees"),
    ("overlap", two((0, 4), (2, 6), 6), OffsetError, "tensor 'b' overlaps the previous tensor"),
    ("same-range", two((0, 4), (0, 4), 4), OffsetError, "overlaps"),
    ("hole", two((0, 4), (5, 9), 9), OffsetError, "hole in the data buffer before tensor 'b' (found begins"),
    ("not-from-zero", raw({"a": entry(offsets=(2, 6))}, bytes(6)), OffsetError, "hole"),
    ("size-mismatch", raw({"a": entry(dtype="F32", shape=(2,), offsets=(0, 6))}, bytes(6)), DTypeError,
     "tensor 'a': data_offsets span disagrees with F32 × [2] (found 6 bytes, expected 8)"),
    ("f4-half-byte", raw({"a": entry(dtype="F4", shape=(3,), offsets=(0, 2))}, bytes(2)), ShapeError,
     "F4 data does not end on a byte boundary"),
    ("f6-fraction", raw({"a": entry(dtype="F6_E3M2", shape=(2,), offsets=(0, 2))}, bytes(2)), ShapeError,
     "byte boundary"),
    ("metadata-int-value", raw({"__metadata__": {"a": 1}}), HeaderError,
     "__metadata__ values must be strings (found 'a' of type int)"),
    ("metadata-nested", raw({"__metadata__": {"a": {"b": "c"}}}), HeaderError, "must be strings"),
    ("metadata-list", raw({"__metadata__": ["a"]}), HeaderError, "__metadata__ is not an object"),
    ("unclaimed-tail", raw({"a": U8x4}, bytes(5)), OffsetError,
     "data buffer has bytes no tensor claims (found 1 bytes after offset 4"),
    ("data-without-tensors", raw(b"{}      ", bytes(8)), OffsetError, "no tensor claims"),
    ("truncated-download", truncated, TruncatedError, "file ends inside the data of tensor 'w'"),
]

# Valid but unusual files: both readers accept them and agree on what is inside.
VALID_EDGE_CASES: list[tuple[str, Callable[[Path], Path]]] = [
    ("empty-object", raw(b"{}")),
    ("space-padding", raw(b"{}      ")),
    ("tab-newline-padding", raw(b"{}\t\n  \r ")),
    ("metadata-null", raw({"__metadata__": None})),
    ("metadata-only", raw({"__metadata__": {"k": "v"}})),
    ("extra-fields-ignored", raw({"a": {**U8x4, "note": [1, {"x": None}]}}, bytes(4))),
    ("extra-field-125-deep", raw({"a": {**U8x4, "x": nested(125)}}, bytes(4))),
    ("extra-field-odd-numbers", raw(b'{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4], '
                                    b'"x": [-0, 1e308, 1e-400, 18446744073709551616, -5]}}', bytes(4))),
    ("zero-size-shared-offset", raw({"a": entry(shape=(0,), offsets=(4, 4)), "b": U8x4,
                                     "c": entry(shape=(2, 0), offsets=(4, 4))}, bytes(4))),
    ("zero-dim-first-no-overflow", raw({"a": entry(shape=(0, 2**63, 2**63), offsets=(0, 0))})),
    ("unicode-name", raw({"emb.ü.λ": U8x4, "": entry(shape=(0,), offsets=(4, 4))}, bytes(4))),
    ("surrogate-pair", raw(b'{"\\ud83d\\ude00": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}',
                           bytes(4))),
    ("out-of-order-keys", two((4, 8), (0, 4), 8)),
    ("f6-four-elements", raw({"a": entry(dtype="F6_E2M3", shape=(4,), offsets=(0, 3))}, bytes(3))),
]
