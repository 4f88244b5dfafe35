"""Malformed and malicious safetensors files, built here byte by byte.

Each case names the rule it breaks, the error class we raise and a fragment of the message; every
message is one line starting with the offending file. On single files the safetensors library is the
referee: it must reject every file we reject, and accept the valid edge cases we accept. The two places
we are stricter than the library (by the spec) are pinned in their own tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from safetensors import safe_open

from builders.safetensors_files import header_json, library_view, our_view, write_raw, write_safetensors
from paramscope.errors import (
    DTypeError,
    FormatError,
    HeaderError,
    OffsetError,
    ParamscopeError,
    ShapeError,
    SourceError,
    TruncatedError,
)
from paramscope.formats import safetensors as st

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


def assert_one_line_about(error: Exception, path: Path, fragment: str) -> None:
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message, message
    assert fragment in message, message


def library_accepts(path: Path) -> bool:
    try:
        with safe_open(path, framework="numpy") as f:
            f.keys()
    except Exception:
        return False
    return True


@pytest.mark.parametrize(("case", "build", "error", "fragment"), SINGLE_FILE_CASES,
                         ids=[c[0] for c in SINGLE_FILE_CASES])
def test_malformed_file_is_rejected_like_the_library(tmp_path: Path, case: str, build, error, fragment):
    path = build(tmp_path / f"{case}.safetensors")
    with pytest.raises(error) as caught:
        st.read(path)
    assert_one_line_about(caught.value, path, fragment)
    assert not library_accepts(path), f"the safetensors library accepts {case}"


@pytest.mark.parametrize(("case", "build"), VALID_EDGE_CASES, ids=[c[0] for c in VALID_EDGE_CASES])
def test_valid_edge_file_is_accepted_like_the_library(tmp_path: Path, case: str, build) -> None:
    path = build(tmp_path / f"{case}.safetensors")
    model = st.read(path)
    view, metadata, _ = library_view(path)
    assert our_view(model.tensors) == view
    assert model.metadata == (metadata or {})


def test_stricter_than_library_on_identical_duplicate_keys(tmp_path: Path) -> None:
    """The library keeps the last of two identical entries; JSON readers disagree on duplicates (RFC
    8259 §4), so a header that means different things to different readers is refused."""
    dup = b'{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, '
    path = write_raw(tmp_path / "dup.safetensors", dup + dup[1:-2] + b"}", bytes(4))
    assert library_accepts(path)
    with pytest.raises(HeaderError) as caught:
        st.read(path)
    assert_one_line_about(caught.value, path, "repeats a JSON key (found 'a')")


def test_stricter_than_library_on_leading_whitespace(tmp_path: Path) -> None:
    """Spec: 'The header data MUST begin with a { character'; the library skips whitespace."""
    path = write_raw(tmp_path / "ws.safetensors", b"  {}")
    assert library_accepts(path)
    with pytest.raises(HeaderError) as caught:
        st.read(path)
    assert_one_line_about(caught.value, path, "header does not start with '{' (found '  {}'")


def test_no_allocation_before_the_length_check(tmp_path: Path) -> None:
    """A 2**63 header length fails on arithmetic alone: the file is 10 bytes, nothing is read."""
    path = write_raw(tmp_path / "bomb.safetensors", b"{}", n=2**63)
    with pytest.raises(HeaderError):
        st.read(path)


# --- sharded sets ----------------------------------------------------------------------------------

def write_index(folder: Path, weight_map: dict, metadata: dict | None = None) -> Path:
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": metadata or {}, "weight_map": weight_map}))
    return index


def test_index_names_missing_shard(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "a.safetensors", {"x": ("F32", [2])})
    index = write_index(tmp_path, {"x": "a.safetensors", "y": "b.safetensors"})
    with pytest.raises(SourceError) as caught:
        st.read(index)
    assert_one_line_about(caught.value, index, "shard 'b.safetensors' named in weight_map does not exist")


@pytest.mark.parametrize("shard", ["../evil.safetensors", "/etc/evil.safetensors", "sub/x.safetensors",
                                   "..", "", "sub\\x.safetensors"])
def test_index_names_shard_outside_its_directory(tmp_path: Path, shard: str) -> None:
    (tmp_path / "inner").mkdir()
    write_safetensors(tmp_path / "evil.safetensors", {"x": ("F32", [2])})
    index = write_index(tmp_path / "inner", {"x": shard})
    with pytest.raises(HeaderError) as caught:
        st.read(index)
    assert_one_line_about(caught.value, index, "weight_map names a shard outside the index's directory")


def test_weight_map_disagrees_with_shards(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "s1.safetensors", {f"t{i}": ("F32", [2]) for i in range(6)})
    write_safetensors(tmp_path / "s2.safetensors", {"u": ("F32", [2]), "stray": ("F32", [1])})
    weight_map = {f"t{i}": "s1.safetensors" for i in range(6)} | {"u": "s2.safetensors"}
    weight_map |= {f"gone{i}": "s2.safetensors" for i in range(5)} | {"t0": "s2.safetensors"}
    index = write_index(tmp_path, weight_map)
    with pytest.raises(HeaderError) as caught:
        st.read(index)
    message = str(caught.value)
    assert_one_line_about(caught.value, index, "weight_map disagrees with the shards (found 6 mapped but "
                          "not in their shard: 'gone0' (s2.safetensors), 'gone1' (s2.safetensors), "
                          "'gone2' (s2.safetensors) (and 3 more); 2 in a shard but not mapped to it: "
                          "'t0' (s1.safetensors), 'stray' (s2.safetensors)")
    assert message.endswith("expected the same tensors in both)")


def test_index_not_json_or_without_weight_map(tmp_path: Path) -> None:
    index = tmp_path / "model.safetensors.index.json"
    index.write_text("{oops")
    with pytest.raises(HeaderError) as caught:
        st.read(index)
    assert_one_line_about(caught.value, index, "index is not valid JSON")
    index.write_text(json.dumps({"metadata": {}}))
    with pytest.raises(HeaderError) as caught:
        st.read(index)
    assert_one_line_about(caught.value, index, "index has no weight_map object")


def test_bad_shard_is_named_in_the_error(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "s1.safetensors", {"a": ("F32", [2])})
    write_raw(tmp_path / "s2.safetensors", {"b": entry(dtype="Q9")}, bytes(4))
    index = write_index(tmp_path, {"a": "s1.safetensors", "b": "s2.safetensors"})
    with pytest.raises(DTypeError) as caught:
        st.read(index)
    assert_one_line_about(caught.value, tmp_path / "s2.safetensors", "unknown dtype")


# --- fuzzing ---------------------------------------------------------------------------------------

BASE_TENSORS = {"emb": ("BF16", [4, 3]), "w": ("F4", [2, 4]), "s": ("F32", []), "z": ("U8", [0])}
BASE_HEADER = header_json(BASE_TENSORS, {"format": "pt"})
BASE_RAW = json.dumps(BASE_HEADER).encode()
BASE_DATA = 24 + 4 + 4


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_never_crashes(folder: Path, raw_header: bytes, data: int, n: int | None = None) -> None:
    """read() returns a Model or raises ParamscopeError; a Model means the library agrees."""
    path = write_raw(folder / "fuzz.safetensors", raw_header, data, n)
    try:
        model = st.read(path)
    except ParamscopeError as e:
        assert "\n" not in str(e)
        if library_accepts(path):  # only where the spec makes us stricter (see the tests above)
            assert "repeats a JSON key" in str(e) or "does not start with '{'" in str(e), str(e)
        return
    view, metadata, _ = library_view(path)  # raises if the library rejects what we accepted
    assert our_view(model.tensors) == view and model.metadata == (metadata or {})


mutation = hs.tuples(hs.sampled_from(["set", "insert", "delete"]), hs.integers(0, len(BASE_RAW) - 1),
                     hs.integers(0, 255))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.lists(mutation, min_size=1, max_size=4), hs.booleans(), hs.integers(-8, 8))
def test_fuzz_header_bytes(fuzz_dir: Path, mutations, keep_length: bool, data_delta: int) -> None:
    raw_header = bytearray(BASE_RAW)
    for op, pos, byte in mutations:
        pos = min(pos, len(raw_header) - 1)
        if op == "set":
            raw_header[pos] = byte
        elif op == "insert":
            raw_header.insert(pos, byte)
        elif len(raw_header) > 1:
            del raw_header[pos]
    check_never_crashes(fuzz_dir, bytes(raw_header), max(0, BASE_DATA + data_delta),
                        len(BASE_RAW) if keep_length else None)


json_values = hs.recursive(
    hs.none() | hs.booleans() | hs.integers(-2, 2**65) | hs.floats(allow_nan=False) | hs.text(max_size=6)
    | hs.sampled_from(["F32", "BF16", "F4", "F6_E2M3", "U8", "I64"]),
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=4), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.sampled_from(["emb", "w", "s", "z", "__metadata__", "new"]),
       hs.sampled_from(["dtype", "shape", "data_offsets", None]), json_values, hs.integers(-4, 4))
def test_fuzz_header_values(fuzz_dir: Path, tensor: str, field: str | None, value, data_delta: int) -> None:
    header = json.loads(BASE_RAW)
    if field is None or not isinstance(header.get(tensor), dict):
        header[tensor] = value
    else:
        header[tensor][field] = value
    check_never_crashes(fuzz_dir, json.dumps(header).encode(), max(0, BASE_DATA + data_delta))
