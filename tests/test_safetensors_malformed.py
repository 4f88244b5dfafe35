"""Malformed and malicious safetensors files, built byte by byte in builders/safetensors_malformed.py.

Each case names the rule it breaks, the error class we raise and a fragment of the message; every
message is one line starting with the offending file. On single files the safetensors library is the
referee: it must reject every file we reject, and accept the valid edge cases we accept. The two places
we are stricter than the library (by the spec) are pinned in their own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from safetensors import safe_open

from builders.safetensors_files import header_json, library_view, our_view, write_raw, write_safetensors
from builders.safetensors_malformed import SINGLE_FILE_CASES, VALID_EDGE_CASES, entry
from paramscope.errors import (
    DTypeError,
    HeaderError,
    ParamscopeError,
    SourceError,
)
from paramscope.formats import safetensors as st


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
