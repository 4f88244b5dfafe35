"""Malformed and malicious GGUF files, built byte by byte (builders/gguf_malformed.py): each breaks
one rule of the spec (llama.cpp ggml/docs/gguf.md, ggml/src/gguf.cpp) and must fail with its own error
class, one line, naming the file. Then a fuzzer mutates a valid file and checks that nothing but a
ParamscopeError ever escapes."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.gguf_malformed import (
    ARR,
    BOOL,
    CASES,
    F32,
    I16,
    I32,
    Q4_0_TYPE,
    STR,
    U16,
    U64,
    VALID,
    array,
    build,
    kv,
    kv_str,
    kv_u32,
    s,
    tensor,
)
from paramscope.errors import (
    FormatError,
    HeaderError,
    ParamscopeError,
    SourceError,
)
from paramscope.formats import gguf
from paramscope.model import Model


def test_builder_makes_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.gguf"
    path.write_bytes(VALID)
    model = gguf.read(path)
    assert [(t.name, t.shape, t.nbytes) for t in model.tensors] == [("a.weight", (8,), 32)]


@pytest.mark.parametrize(("data", "error", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed(tmp_path: Path, data: bytes, error: type[FormatError], fragment: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(error) as caught:
        gguf.read(path)
    message = str(caught.value)
    assert type(caught.value) is error
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert fragment in message


def test_cases_are_distinct() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 18
    assert len({c[1] for c in CASES}) == len(CASES)


def test_huge_counts_fail_before_allocating(tmp_path: Path) -> None:
    """2**62 elements would be exabytes: the check against the file size must come first, so the
    refusal allocates next to nothing (measured by tracemalloc, not by a clock on a loaded machine)."""
    import tracemalloc

    path = tmp_path / "huge.gguf"
    huge_array = build([kv("k", ARR, struct.pack("<IQ", U64, 2**61))])
    for data in (build(n_tensors=2**62), build(n_kv=2**62), huge_array):
        path.write_bytes(data)
        tracemalloc.start()
        try:
            with pytest.raises(HeaderError):
                gguf.read(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 << 20, peak


def test_zero_sized_dimension_is_allowed(tmp_path: Path) -> None:
    """gguf.cpp accepts ne = 0 (an empty tensor); so do we."""
    path = tmp_path / "empty.gguf"
    path.write_bytes(build(tensors=[tensor("e", (0, 4)), tensor("a", (8,))]))
    model = gguf.read(path)
    assert [(t.shape, t.nbytes) for t in model.tensors] == [((4, 0), 0), ((8,), 32)]


def test_a_name_of_63_bytes_is_allowed(tmp_path: Path) -> None:
    """The longest name llama.cpp accepts: GGML_MAX_NAME - 1 bytes (one is left for the C string's zero)."""
    path = tmp_path / "long-name.gguf"
    path.write_bytes(build(tensors=[tensor("n" * 63, (8,))]))
    assert [t.name for t in gguf.read(path).tensors] == ["n" * 63]


def test_gaps_between_tensors_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "gap.gguf"
    tensors = [tensor("a", (8,)), tensor("b", (8,), offset=64)]
    path.write_bytes(build(tensors=tensors, data=b"\0" * 96))
    start = len(build(tensors=tensors, data=b""))
    assert [t.offset for t in gguf.read(path).tensors] == [start, start + 64]


def test_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        gguf.read(tmp_path / "missing.gguf")
    with pytest.raises(SourceError, match="directory"):
        gguf.read(tmp_path)


def test_split_count_disagrees_with_name(tmp_path: Path) -> None:
    path = tmp_path / "m-00001-of-00002.gguf"
    path.write_bytes(build([kv_str("general.architecture", "llama"), kv(b"split.count", U16, b"\3\0")]))
    with pytest.raises(HeaderError, match=r"split\.count disagrees with the file name \(found 3, expected 2"):
        gguf.read(path)


def test_split_shard_out_of_place(tmp_path: Path) -> None:
    for i in (1, 2):
        keys = [kv(b"split.count", U16, b"\2\0"), kv(b"split.no", U16, b"\0\0")]
        (tmp_path / f"m-{i:05d}-of-00002.gguf").write_bytes(build(keys, [tensor(f"t{i}", (8,))]))
    with pytest.raises(HeaderError, match=r"split\.no disagrees with the file name"):
        gguf.read(tmp_path / "m-00001-of-00002.gguf")


def test_split_count_of_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "m-00001-of-00002.gguf"
    path.write_bytes(build([kv(b"split.count", STR, s("2"))]))
    with pytest.raises(HeaderError, match=r"split\.count must be an integer \(found str"):
        gguf.read(path)


def test_split_tensor_count_disagrees(tmp_path: Path) -> None:
    for i in (1, 2):
        keys = [kv(b"split.count", U16, b"\2\0"), kv(b"split.no", U16, bytes([i - 1, 0])),
                kv(b"split.tensors.count", I32, struct.pack("<i", 5))]
        (tmp_path / f"m-{i:05d}-of-00002.gguf").write_bytes(build(keys, [tensor(f"t{i}", (8,))]))
    with pytest.raises(HeaderError, match=r"different number of tensors .* \(found 2, expected 5\)"):
        gguf.read(tmp_path / "m-00002-of-00002.gguf")


def test_split_duplicate_tensor_across_shards(tmp_path: Path) -> None:
    for i in (1, 2):
        keys = [kv(b"split.count", U16, b"\2\0"), kv(b"split.no", U16, bytes([i - 1, 0]))]
        (tmp_path / f"m-{i:05d}-of-00002.gguf").write_bytes(build(keys, [tensor("same", (8,))]))
    with pytest.raises(HeaderError, match="the same tensor name appears in two splits"):
        gguf.read(tmp_path / "m-00001-of-00002.gguf")


# ---------------------------------------------------------------------------------------------------
# fuzzing: any mutation of a valid file reads or fails with a ParamscopeError, never anything else


def _seed() -> bytes:
    """A small valid file with every kind of section: scalars, strings, numeric, string and nested
    arrays (the string array long enough for the vectorised scan), alignment, three tensors."""
    tokens = array(STR, [s(f"t{i}" * (i % 4)) for i in range(80)])
    kvs = [
        kv_str("general.architecture", "llama"), kv_u32("general.alignment", 32),
        kv_u32("llama.block_count", 2), kv_u32("llama.embedding_length", 8),
        kv_u32("llama.attention.head_count", 2), kv("llama.rope.freq_base", F32, struct.pack("<f", 1e4)),
        kv("tokenizer.ggml.tokens", ARR, tokens),
        kv("tokenizer.ggml.scores", ARR, array(F32, [struct.pack("<f", i) for i in range(80)])),
        kv("nested", ARR, struct.pack("<IQ", ARR, 2) + array(I16, [b"\1\0"]) + array(BOOL, [b"\1", b"\0"])),
        kv("flag", BOOL, b"\1"), kv("big", U64, struct.pack("<Q", 2**40)),
    ]
    tensors = [tensor("token_embd.weight", (8, 80), 1), tensor("q", (32, 2), Q4_0_TYPE, 1280),
               tensor("output_norm.weight", (8,), 0, 1344)]
    return build(kvs, tensors, data=b"\x11" * 1376)


SEED = _seed()
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(SEED) - 1), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, len(SEED)), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, len(SEED) - 1), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, len(SEED) - 1)),
    st.tuples(st.just("u64"), st.integers(0, len(SEED) - 8),
              st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**62, 2**63, 2**64 - 1])),
)


def _mutate(data: bytes, mutations: list[tuple]) -> bytes:
    out = bytearray(data)
    for m in mutations:
        at = min(m[1], len(out))
        if m[0] == "flip" and at < len(out):
            out[at] = m[2]
        elif m[0] == "insert":
            out[at:at] = m[2]
        elif m[0] == "delete":
            del out[at:at + m[2]]
        elif m[0] == "truncate":
            del out[at:]
        elif m[0] == "u64" and at + 8 <= len(out):
            out[at:at + 8] = struct.pack("<Q", m[2])
    return bytes(out)


def test_fuzz_seed_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "seed.gguf"
    path.write_bytes(SEED)
    model = gguf.read(path)
    assert len(model.tensors) == 3 and len(model.metadata["tokenizer.ggml.tokens"]) == 80
    assert model.config is not None and model.config.n_layers == 2


@pytest.mark.slow  # runs long: a fuzzer
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_fuzz_mutations_never_escape(mutations: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.gguf"
        path.write_bytes(_mutate(SEED, mutations))
        try:
            result = gguf.read(path)
        except ParamscopeError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e)
        else:
            assert isinstance(result, Model)
