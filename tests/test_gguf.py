"""GGUF reader: the real Gemma 3 270M file and files written by gguf-py's GGUFWriter, each compared with
gguf-py's GGUFReader on the same bytes; MoE layouts, split models and ArchConfig from metadata."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFReader
from gguf.constants import GGUFEndian
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.gguf_files import T, V, moe_kv, moe_tensors, raw_tensor, write_gguf
from paramscope.errors import HeaderError, SourceError
from paramscope.formats import gguf, gguf_metadata, open_file
from paramscope.formats.gguf_metadata import StringArray
from paramscope.knowledge.gguf_arch import arch_config
from paramscope.model import Model
from paramscope.model.dtypes import BY_GGML_ID, DType


def flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in flatten(item)]
    return list(value.tolist())


def assert_metadata_matches(model: Model, reader: GGUFReader) -> None:
    fields = {k: f for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert list(model.metadata) == list(fields)
    for key, field in fields.items():
        ours = model.metadata[key]
        if field.types[0] != V.ARRAY:
            assert ours == field.contents(), key
            assert type(ours) is type(field.contents()), key
        elif field.types[-1] == V.STRING:
            assert flatten(ours) == field.contents(), key
        else:
            assert np.array_equal(np.array(flatten(ours)), np.array(field.contents()), equal_nan=True), key


def assert_tensors_match(model: Model, reader: GGUFReader) -> None:
    assert [t.name for t in model.tensors] == [t.name for t in reader.tensors]
    for ours, ref in zip(model.tensors, reader.tensors, strict=True):
        assert ours.shape == tuple(reversed(ref.shape.tolist())), ours.name
        assert ours.dtype.value == ref.tensor_type.name, ours.name
        assert ours.offset == ref.data_offset, ours.name
        assert ours.nbytes == ref.n_bytes, ours.name
        assert ours.n_elements == ref.n_elements, ours.name


# ---------------------------------------------------------------------------------------------------
# the real file: Gemma 3 270M Q4_K_M


@pytest.fixture(scope="module")
def gemma(gemma_gguf: Path) -> Model:
    return gguf.read(gemma_gguf)


@pytest.fixture(scope="module")
def gemma_reference(gemma_gguf_reference: GGUFReader) -> GGUFReader:
    return gemma_gguf_reference


def test_gemma_counts(gemma: Model, gemma_gguf: Path) -> None:
    assert gemma.format == "gguf" and gemma.source == str(gemma_gguf)
    assert gemma.files == (str(gemma_gguf),)
    assert len(gemma.tensors) == 236
    assert sum(t.n_elements for t in gemma.tensors) == 268_098_176
    embd = next(t for t in gemma.tensors if t.name == "token_embd.weight")
    assert embd.shape == (262_144, 640) and embd.n_elements == 167_772_160
    assert all(t.file == str(gemma_gguf) for t in gemma.tensors)


def test_gemma_tensors_match_gguf_py(gemma: Model, gemma_reference: GGUFReader) -> None:
    assert_tensors_match(gemma, gemma_reference)


def test_gemma_bytes_by_type_match_gguf_py(gemma: Model, gemma_reference: GGUFReader) -> None:
    ours: dict[str, int] = {}
    theirs: dict[str, int] = {}
    for t in gemma.tensors:
        ours[t.dtype.value] = ours.get(t.dtype.value, 0) + t.nbytes
    for r in gemma_reference.tensors:
        theirs[r.tensor_type.name] = theirs.get(r.tensor_type.name, 0) + int(r.n_bytes)
    assert ours == theirs


def test_gemma_metadata_matches_gguf_py(gemma: Model, gemma_reference: GGUFReader) -> None:
    assert len(gemma.metadata) == 33
    assert_metadata_matches(gemma, gemma_reference)
    tokens = gemma.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, StringArray) and len(tokens) == 262_144
    assert tokens[:3] == ["<pad>", "<eos>", "<bos>"]
    assert tokens.nbytes == sum(len(t.encode()) for t in tokens)
    assert tokens[-1] == gemma_reference.fields["tokenizer.ggml.tokens"].contents(-1)
    assert gemma.metadata["tokenizer.ggml.scores"].dtype == np.float32
    assert gemma.metadata["tokenizer.ggml.token_type"].dtype == np.int32


def test_gemma_config(gemma: Model) -> None:
    cfg = gemma.config
    assert cfg is not None
    assert (cfg.family, cfg.architecture) == ("gemma3_text", "gemma3")
    assert (cfg.n_layers, cfg.hidden_size, cfg.n_heads, cfg.n_kv_heads) == (18, 640, 4, 1)
    assert (cfg.head_dim_k, cfg.head_dim_v, cfg.ffn_size, cfg.vocab_size) == (256, 256, 2048, 262_144)
    assert cfg.context_length == 32_768 and cfg.sliding_window == 512 and cfg.tied_embeddings
    assert cfg.layer_types.count("full") == 3 and cfg.layer_types.count("sliding") == 15
    assert [i for i, k in enumerate(cfg.layer_types) if k == "full"] == [5, 11, 17]
    assert cfg.extra["rope_theta"] == 1_000_000.0 and cfg.extra["file_type"] == 15


def test_gemma_through_the_registry(gemma_gguf: Path) -> None:
    with gemma_gguf.open("rb") as f:
        assert gguf.sniff(f.read(64), gemma_gguf)
    assert len(open_file(gemma_gguf).tensors) == 236


# ---------------------------------------------------------------------------------------------------
# differential: every ggml type, every value type, v2 and v3, alignments

ALL_TYPES = sorted({BY_GGML_ID[t.value] for t in T}, key=lambda d: d.info.ggml_id or 0)


def every_type_tensors() -> list[tuple[str, np.ndarray, T | None]]:
    tensors: list[tuple[str, np.ndarray, T | None]] = []
    for dtype in ALL_TYPES:
        qtype = T(dtype.info.ggml_id)
        array, raw = raw_tensor(qtype, rows=3, blocks_per_row=2)
        tensors.append((f"t.{dtype.value.lower()}.weight", array, raw))
    tensors.append(("plain.f32", np.ones((2, 3, 4), np.float32), None))
    tensors.append(("plain.f16", np.ones((5, 2, 3, 4), np.float16), None))
    tensors.append(("plain.i64", np.arange(7, dtype=np.int64), None))
    return tensors


EVERY_VALUE = {
    "v.u8": (200, V.UINT8, None), "v.i8": (-5, V.INT8, None), "v.u16": (60000, V.UINT16, None),
    "v.i16": (-300, V.INT16, None), "v.u32": (4_000_000_000, V.UINT32, None), "v.i32": (-7, V.INT32, None),
    "v.f32": (1.5, V.FLOAT32, None), "v.bool": (True, V.BOOL, None), "v.false": (False, V.BOOL, None),
    "v.str": ("héllo\nworld", V.STRING, None), "v.empty_str": ("", V.STRING, None),
    "v.u64": (2**63 + 5, V.UINT64, None), "v.i64": (-(2**40), V.INT64, None), "v.f64": (0.1, V.FLOAT64, None),
    "a.u8": ([1, 2, 255], V.ARRAY, V.UINT8), "a.i8": ([-1, 2], V.ARRAY, V.INT8),
    "a.u16": ([1, 65535], V.ARRAY, V.UINT16), "a.i16": ([-1, 2], V.ARRAY, V.INT16),
    "a.u32": ([1, 2**32 - 1], V.ARRAY, V.UINT32), "a.i32": ([-1, 2], V.ARRAY, V.INT32),
    "a.f32": ([0.5, -1.25], V.ARRAY, V.FLOAT32), "a.bool": ([True, False, True], V.ARRAY, V.BOOL),
    "a.u64": ([2**64 - 1], V.ARRAY, V.UINT64), "a.i64": ([-(2**63)], V.ARRAY, V.INT64),
    "a.f64": ([1e300, -0.0], V.ARRAY, V.FLOAT64), "a.str": (["a", "", "ünï"], V.ARRAY, V.STRING),
    "a.many_str": ([f"tok{i}" * (i % 5) for i in range(300)], V.ARRAY, V.STRING),
    "a.nested": ([[1, 2], [3, 4, 5]], V.ARRAY, None),
    "a.nested_str": ([["x", "y"], ["z"]], V.ARRAY, None),
    "a.nested3": ([[[1.5], [2.5, 3.5]], [[4.5]]], V.ARRAY, None),
}


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("alignment", [None, 1, 8, 64, 4096])
def test_every_type_and_value_matches_gguf_py(tmp_path: Path, version: int, alignment: int | None) -> None:
    path = write_gguf(tmp_path / "all.gguf", every_type_tensors(), EVERY_VALUE, alignment=alignment,
                      version=version)
    model = gguf.read(path)
    reader = GGUFReader(path)
    assert_tensors_match(model, reader)
    assert_metadata_matches(model, reader)
    assert {t.dtype for t in model.tensors} >= set(ALL_TYPES)
    if alignment:
        assert all((t.offset or 0) % alignment == 0 for t in model.tensors)


def test_big_endian_file_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "be.gguf", [("a", np.ones(4, np.float32), None)], endianess=GGUFEndian.BIG)
    with pytest.raises(HeaderError, match="big-endian GGUF"):
        gguf.read(path)


def test_value_types_are_python_and_numpy(tmp_path: Path) -> None:
    m = gguf.read(write_gguf(tmp_path / "v.gguf", [], EVERY_VALUE)).metadata
    assert m["v.u64"] == 2**63 + 5 and isinstance(m["v.u64"], int)
    assert m["v.bool"] is True and m["v.false"] is False
    assert m["v.str"] == "héllo\nworld"
    assert m["a.u64"].dtype == np.uint64 and m["a.u64"][0] == 2**64 - 1
    assert m["a.bool"].dtype == np.bool_ and m["a.bool"].tolist() == [True, False, True]
    assert not m["a.f32"].flags.writeable
    assert m["a.str"].tolist() == ["a", "", "ünï"]
    assert [x.tolist() for x in m["a.nested"]] == [[1, 2], [3, 4, 5]]
    assert [x.tolist() for x in m["a.nested_str"]] == [["x", "y"], ["z"]]


def test_tensor_fields(tmp_path: Path) -> None:
    q, raw = raw_tensor(T.Q4_K, rows=4, blocks_per_row=3)
    path = write_gguf(tmp_path / "t.gguf", [("blk.0.attn_q.weight", q, raw),
                                              ("rope_freqs.weight", np.ones(16, np.float32), None),
                                              ("empty.weight", np.zeros((0, 8), np.float32), None)])
    model = gguf.read(path)
    attn, rope, empty = model.tensors
    assert attn.shape == (4, 768) and attn.dtype is DType.Q4_K and attn.nbytes == 4 * 3 * 144
    assert attn.file == str(path) and attn.is_parameter
    assert not rope.is_parameter and rope.params == 0  # llama 3 RoPE factors: a buffer, not weights
    assert empty.shape == (0, 8) and empty.nbytes == 0 and empty.n_elements == 0
    assert model.params == 4 * 768


# ---------------------------------------------------------------------------------------------------
# string arrays: the vectorised scan and the loop must agree on anything

TRICKY = ["", "\x00", "\x00\x00abc", "a" * 70_000, "", "é" * 300, "\x00" * 9, "x\x00\x00\x00\x00\x00\x00"]


@pytest.mark.parametrize("pattern", ["plain", "tricky", "long", "empty"])
def test_string_array_scan_agrees_with_loop(tmp_path: Path, pattern: str, monkeypatch) -> None:
    strings = {
        "plain": [f"▁tok{i}" for i in range(5000)],
        "tricky": [TRICKY[i % len(TRICKY)] + str(i) * (i % 3) for i in range(3000)],
        "long": ["y" * (i * 37 % 5000) for i in range(400)],
        "empty": [""] * 1000,
    }[pattern]
    path = write_gguf(tmp_path / "s.gguf", [], {"tokenizer.ggml.tokens": (strings, V.ARRAY, V.STRING)})
    scanned = gguf.read(path).metadata["tokenizer.ggml.tokens"]
    monkeypatch.setattr(gguf_metadata, "_VECTOR_MIN", 10**9)
    looped = gguf.read(path).metadata["tokenizer.ggml.tokens"]
    assert scanned.tolist() == looped.tolist() == strings
    assert np.array_equal(scanned._offsets - scanned._offsets[0], looped._offsets - looped._offsets[0])


def test_string_array_small_windows(tmp_path: Path, monkeypatch) -> None:
    """Windows far smaller than the array: the scan resumes across refills and the data is re-read."""
    strings = [f"w{i}" * (i % 7) for i in range(20_000)]
    path = write_gguf(tmp_path / "w.gguf", [], {"tokenizer.ggml.tokens": (strings, V.ARRAY, V.STRING)})
    monkeypatch.setattr(gguf_metadata, "REFILL", 4096)
    monkeypatch.setattr(gguf_metadata, "FIRST_READ", 64)
    monkeypatch.setattr(gguf_metadata, "_GUESS_BYTES", 2)
    tokens = gguf.read(path).metadata["tokenizer.ggml.tokens"]
    assert tokens.tolist() == strings and tokens.nbytes == sum(len(t) for t in strings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=40), min_size=60, max_size=400))
def test_string_array_property(tmp_path: Path, strings: list[str]) -> None:
    path = write_gguf(tmp_path / "p.gguf", [], {"a": (strings, V.ARRAY, V.STRING)})
    assert gguf.read(path).metadata["a"].tolist() == strings


def test_string_array_api() -> None:
    data = b"".join(struct.pack("<Q", len(s)) + s for s in (b"ab", b"", b"\xff"))
    arr = StringArray(data, np.array([0, 10, 18, 27]))
    assert len(arr) == 3 and arr[0] == "ab" and arr[1] == "" and arr[-1] == "\ufffd"
    assert arr[1:] == ["", "\ufffd"] and list(arr) == arr.tolist() and "ab" in arr
    assert arr.nbytes == 3 and "3 strings" in repr(arr)
    with pytest.raises(IndexError):
        arr[3]


# pieces of strings: ASCII, whole multi-byte characters, and bytes that are not UTF-8 on their own (a lone
# lead or continuation byte, 0xFF, an encoded surrogate, a character cut in two)
_PIECES = st.sampled_from([b"a", b"<0x0A>", "é".encode(), "中".encode(), "🙂".encode(), b"\xff", b"\xc3",
                           b"\xa9", b"\xed\xa0\x80", "🙂".encode()[:2], b"\x00", b" "])


@settings(max_examples=300)
@given(strings=st.lists(st.lists(_PIECES, max_size=4).map(b"".join), max_size=12),
       lead=st.integers(0, 3))
def test_string_array_tolist_decodes_each_string_alone(strings: list[bytes], lead: int) -> None:
    """tolist decodes all the strings at once when it can: the same as decoding each (U+FFFD for what
    is not UTF-8), whatever the bytes, the array starting anywhere in its buffer."""
    data = b"?" * lead + b"".join(struct.pack("<Q", len(x)) + x for x in strings)
    offsets = np.cumsum([lead, *(8 + len(x) for x in strings)])
    arr = StringArray(data, offsets)
    decoded = [x.decode("utf-8", "replace") for x in strings]
    assert arr.tolist() == decoded == [arr[i] for i in range(len(arr))]


# ---------------------------------------------------------------------------------------------------
def test_moe_layout(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "moe.gguf", moe_tensors(), moe_kv())
    model = gguf.read(path)
    assert_tensors_match(model, GGUFReader(path))
    gate = next(t for t in model.tensors if t.name == "blk.0.ffn_gate_exps.weight")
    assert gate.shape == (4, 64, 32) and gate.nbytes == 4 * 64 * 32 * 2
    cfg = model.config
    assert cfg is not None and cfg.family == "mixtral" and cfg.is_moe
    assert (cfg.n_experts, cfg.n_experts_per_token, cfg.head_dim_k) == (4, 2, 8)
    assert not cfg.tied_embeddings and cfg.vocab_size == 100  # no tokenizer: embedding rows


@pytest.fixture
def split_model(tmp_path: Path) -> list[Path]:
    write_gguf(tmp_path / "moe.gguf", moe_tensors(), moe_kv(), split_max_tensors=2)
    return [tmp_path / f"moe-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_split_merges_all_shards(split_model: list[Path], which: int) -> None:
    model = gguf.read(split_model[which])
    assert model.source == str(split_model[which])
    assert model.files == tuple(str(p) for p in split_model)
    assert [t.name for t in model.tensors] == [name for name, _, _ in moe_tensors()]
    assert [t.file for t in model.tensors] == [str(p) for p in split_model for _ in range(2)]
    for shard in split_model:
        ref = GGUFReader(shard)
        ours = {t.name: t for t in model.tensors if t.file == str(shard)}
        assert {r.name: r.data_offset for r in ref.tensors} == {n: t.offset for n, t in ours.items()}
    assert model.metadata["split.count"] == 3 and model.metadata["split.no"] == 0
    assert model.metadata["llama.expert_count"] == 4
    assert model.config is not None and model.config.n_experts == 4


def test_split_missing_shard(split_model: list[Path]) -> None:
    split_model[1].unlink()
    with pytest.raises(SourceError, match=r"missing 1 of its 3 files: moe-00002-of-00003\.gguf") as e:
        gguf.read(split_model[0])
    assert str(e.value).startswith(str(split_model[0]))


def test_split_renamed(split_model: list[Path]) -> None:
    renamed = split_model[0].with_name("model.gguf")
    split_model[0].rename(renamed)
    with pytest.raises(SourceError, match="cannot be found"):
        gguf.read(renamed)


def test_single_file_with_split_like_name(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "solo-00001-of-00002.gguf", moe_tensors(), moe_kv())
    assert len(gguf.read(path).tensors) == 6  # no split.count key: a file on its own


# ---------------------------------------------------------------------------------------------------
# ArchConfig from metadata alone


def config(arch: str, names: set[str] | None = None, rows: int = 0, **keys: Any):
    metadata: dict[str, Any] = {"general.architecture": arch}
    for k, v in keys.items():
        metadata[k if "." in k else f"{arch}.{k}".replace("__", ".")] = v
    return arch_config(metadata, names or set(), rows, "f.gguf")


BASE = dict(block_count=6, embedding_length=64, attention__head_count=4, feed_forward_length=128)


def test_gemma2_alternates_even_layers_sliding() -> None:
    cfg = config("gemma2", **BASE)
    assert cfg.family == "gemma2" and cfg.sliding_window == 4096  # llama.cpp's default for gemma2
    assert cfg.layer_types == ("sliding", "full") * 3


def test_gemma3_without_window_is_all_full() -> None:
    assert set(config("gemma3", **BASE).layer_types) == {"full"}


def test_pattern_key_overrides_arch_default() -> None:
    cfg = config("gemma3", attention__sliding_window=1024, attention__sliding_window_pattern=3, **BASE)
    assert cfg.layer_types == ("sliding", "sliding", "full") * 2
    flags = np.array([1, 0, 0, 1, 1, 0], np.uint32)
    cfg = config("gemma3", attention__sliding_window=1024, attention__sliding_window_pattern=flags, **BASE)
    assert cfg.layer_types == ("sliding", "full", "full", "sliding", "sliding", "full")
    with pytest.raises(HeaderError, match="one entry per layer"):
        config("gemma3", attention__sliding_window=8, attention__sliding_window_pattern=flags[:3], **BASE)


def test_window_on_arch_without_swa_is_only_declared() -> None:
    cfg = config("phi3", attention__sliding_window=2047, **BASE)
    assert cfg.sliding_window == 0 and set(cfg.layer_types) == {"full"}
    assert cfg.extra["declared_sliding_window"] == 2047


def test_gpt_oss_and_llama4_patterns() -> None:
    cfg = config("gpt-oss", attention__sliding_window=128, expert_count=32, **BASE)
    assert cfg.family == "gpt_oss" and cfg.layer_types[:2] == ("sliding", "full")
    cfg = config("llama4", expert_count=16, **{**BASE, "block_count": 8})
    assert cfg.sliding_window == 8192 and cfg.extra["attention_chunked"]
    assert cfg.layer_types == ("sliding", "sliding", "sliding", "full") * 2


def test_deepseek_families_and_mla() -> None:
    mla = dict(attention__kv_lora_rank=512, attention__q_lora_rank=1536, rope__dimension_count=64,
               attention__key_length=576, attention__value_length=512, attention__key_length_mla=192,
               attention__value_length_mla=128, expert_count=256, expert_shared_count=1,
               leading_dense_block_count=3, expert_feed_forward_length=2048)
    v3 = config("deepseek2", expert_gating_func=2, **mla, **BASE)
    assert v3.family == "deepseek_v3" and v3.is_mla
    assert (v3.kv_lora_rank, v3.q_lora_rank, v3.rope_head_dim) == (512, 1536, 64)
    assert (v3.head_dim_k, v3.head_dim_v) == (192, 128)
    assert (v3.n_shared_experts, v3.n_dense_layers, v3.expert_ffn_size) == (1, 3, 2048)
    assert config("deepseek2", expert_gating_func=1, **mla, **BASE).family == "deepseek_v2"
    assert config("deepseek2", **mla, **BASE).family == "deepseek_v2"


def test_per_layer_arrays_and_hybrid_layers() -> None:
    kv = np.array([0, 0, 2, 0, 0, 2], np.int32)
    cfg = config("jamba", attention__head_count_kv=kv,
                 **{**BASE, "feed_forward_length": np.array([128, 256] * 3, np.uint32)})
    assert cfg.n_kv_heads == 2 and cfg.ffn_size == 256
    assert cfg.extra["ffn_size_per_layer"] == (128, 256) * 3
    assert cfg.layer_types == ("linear", "linear", "full", "linear", "linear", "full")
    cfg = config("qwen3next", full_attention_interval=3, **BASE)
    assert cfg.layer_types == ("linear", "linear", "full") * 2
    assert set(config("mamba", **BASE).layer_types) == {"linear"}


def test_defaults_and_vocab_sources() -> None:
    cfg = config("llama", **BASE)
    assert (cfg.n_kv_heads, cfg.head_dim_k, cfg.head_dim_v) == (4, 16, 16)  # n_head, n_embd / n_head
    assert cfg.vocab_size == 0 and cfg.tied_embeddings and cfg.family == "llama"
    assert config("llama", rows=32000, **BASE).vocab_size == 32000
    tokens = StringArray(struct.pack("<Q", 1) + b"a", np.array([0, 9]))
    assert config("llama", rows=5, **{"tokenizer.ggml.tokens": tokens}, **BASE).vocab_size == 1
    assert config("llama", rows=5, vocab_size=7, **BASE).vocab_size == 7
    assert not config("llama", names={"output.weight"}, **BASE).tied_embeddings
    assert config("some-new-arch", **BASE).family == "some-new-arch"


def test_not_a_layered_model() -> None:
    assert arch_config({"general.architecture": "clip"}, set(), 0, "f") is None
    assert arch_config({}, set(), 0, "f") is None
    with pytest.raises(HeaderError, match="block_count is implausible"):
        config("llama", block_count=10**9)


def test_sniff() -> None:
    assert gguf.sniff(b"GGUF\x03\x00\x00\x00", Path("x.bin"))
    assert not gguf.sniff(b"\x08\x00\x00\x00{", Path("x.gguf"))


def _string_array(strings: list[bytes], lead: int = 0) -> StringArray:
    data = b"?" * lead + b"".join(struct.pack("<Q", len(x)) + x for x in strings)
    return StringArray(data, np.cumsum([lead, *(8 + len(x) for x in strings)]))


@settings(max_examples=200)
@given(a=st.lists(st.sampled_from([b"a", b"\xff", b"\xfe", b"", "é".encode()]), max_size=4),
       b=st.lists(st.sampled_from([b"a", b"\xff", b"\xfe", b"", "é".encode()]), max_size=4),
       lead=st.integers(0, 2))
def test_same_strings_is_equality_of_the_decoded_strings(a: list[bytes], b: list[bytes], lead: int) -> None:
    """Same bytes or not (0xFF and 0xFE both decode to U+FFFD), same_strings is tolist() == tolist()."""
    x, y = _string_array(a, lead), _string_array(b)
    assert x.same_strings(y) == (x.tolist() == y.tolist()) == y.same_strings(x)
    assert x.same_strings(_string_array(a, 1))


@pytest.mark.parametrize("arch", ["bert", "nomic-bert", "jina-bert-v2", "modern-bert", "gemma-embedding",
                                  "llada"])
def test_archs_llama_cpp_runs_without_memory_cache_nothing(arch: str) -> None:
    """llama_model::create_memory returns nullptr for the encoders and diffusion models: no layer holds
    a KV cache (found by the docs check: a MiniLM GGUF was priced 4.5 MiB of cache its safetensors
    twin is not)."""
    from paramscope.analyses.sizing.memory import MemoryRequest, estimate
    from paramscope.model import Model

    cfg = config(arch, **BASE)
    assert cfg is not None and set(cfg.layer_types) == {"none"}
    assert estimate(Model("gguf", "f.gguf", (), cfg), MemoryRequest()).kv_cache_bytes == 0
    decoder = config("llama", **BASE)
    assert decoder is not None and set(decoder.layer_types) == {"full"}
