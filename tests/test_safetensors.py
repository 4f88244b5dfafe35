"""safetensors reader: the real MiniLM file and generated files, each checked against the safetensors
library reading the same bytes (files built by ``builders.safetensors_files``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from builders.safetensors_files import (
    MINILM_PARAMS,
    NUMPY,
    SPEC_BITS,
    TensorSpec,
    library_view,
    our_view,
    write_safetensors,
    write_sharded,
)
from paramscope.formats import safetensors as st
from paramscope.model.dtypes import DType

ROOT = Path(__file__).resolve().parents[1]


def assert_same_as_library(path: Path) -> st.Model:
    model = st.read(path)
    view, metadata, by_offset = library_view(path)
    assert our_view(model.tensors) == view
    assert model.metadata == (metadata or {})
    # ours are in data order too; zero-byte tensors may share an offset, which orders them arbitrarily
    offsets = {t.name: (t.offset, t.nbytes) for t in model.tensors}
    assert [offsets[t.name] for t in model.tensors] == [offsets[k] for k in by_offset]
    return model


# --- the real file ------------------------------------------------------------------------------------

def test_minilm_count_and_buffer(minilm_dir: Path) -> None:
    model = st.read(minilm_dir / "model.safetensors")
    assert model.format == "safetensors"
    assert model.params == MINILM_PARAMS
    (pos,) = [t for t in model.tensors if t.name == "embeddings.position_ids"]
    assert (pos.dtype, pos.shape, pos.is_parameter, pos.params) == (DType.I64, (1, 512), False, 0)
    assert sum(t.n_elements for t in model.tensors) == MINILM_PARAMS + 512


def test_minilm_matches_library(minilm_dir: Path) -> None:
    path = minilm_dir / "model.safetensors"
    model = assert_same_as_library(path)
    assert model.metadata == {"format": "pt"}
    assert model.files == (str(path),)


def test_minilm_offsets_hold_the_library_tensors(minilm_dir: Path) -> None:
    """Our absolute offsets point at exactly the bytes the library returns for each tensor."""
    path = minilm_dir / "model.safetensors"
    model = st.read(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        with safe_open(path, framework="numpy") as f:
            for t in model.tensors:
                ours = np.frombuffer(os.pread(fd, t.nbytes, t.offset), NUMPY[t.dtype.value])
                assert np.array_equal(ours.reshape(t.shape), f.get_tensor(t.name)), t.name
    finally:
        os.close(fd)
    assert model.tensors[-1].offset + model.tensors[-1].nbytes == path.stat().st_size


def test_minilm_through_the_registry(minilm_dir: Path) -> None:
    from paramscope.formats import open_model

    model = open_model(minilm_dir / "model.safetensors")
    assert (model.format, model.params) == ("safetensors", MINILM_PARAMS)


# --- every dtype, against the library ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", sorted(SPEC_BITS))
def test_every_dtype_matches_library(tmp_path: Path, dtype: str) -> None:
    # 24 elements: whole bytes for every sub-byte type (F4: 2 per byte, F6: 4 per 3 bytes)
    path = write_safetensors(tmp_path / "x.safetensors", {"a": (dtype, [4, 6]), "b": ("F32", [3])})
    model = assert_same_as_library(path)
    a = model.tensors[0] if model.tensors[0].name == "a" else model.tensors[1]
    assert a.nbytes == 24 * SPEC_BITS[dtype] // 8
    assert a.params == 24


def test_our_dtype_table_covers_the_spec() -> None:
    assert {d: DType(d).bits_per_element for d in SPEC_BITS} == SPEC_BITS


def test_library_written_file_all_numpy_dtypes(tmp_path: Path) -> None:
    arrays = {f"t_{name}": np.zeros((2, 3), dtype) for name, dtype in NUMPY.items()}
    save_file(arrays, tmp_path / "np.safetensors", metadata={"format": "np", "note": "ünïcode"})
    model = assert_same_as_library(tmp_path / "np.safetensors")
    assert model.metadata == {"format": "np", "note": "ünïcode"}
    assert model.params == 6 * len(NUMPY)


def test_scalars_and_empty_tensors(tmp_path: Path) -> None:
    arrays = {"scalar": np.array(3.5, np.float32), "empty": np.zeros((0, 5), np.float16),
              "empty_last": np.zeros((3, 0), np.int8), "x": np.ones((2, 2), np.float64)}
    save_file(arrays, tmp_path / "edge.safetensors")
    model = assert_same_as_library(tmp_path / "edge.safetensors")
    by = {t.name: t for t in model.tensors}
    assert (by["scalar"].shape, by["scalar"].n_elements, by["scalar"].nbytes) == ((), 1, 4)
    assert (by["empty"].params, by["empty"].nbytes, by["empty_last"].nbytes) == (0, 0, 0)
    assert model.params == 1 + 4


def test_empty_file_header_only(tmp_path: Path) -> None:
    save_file({}, tmp_path / "none.safetensors")
    model = assert_same_as_library(tmp_path / "none.safetensors")
    assert model.tensors == () and model.params == 0


def test_mixtral_style_experts(tmp_path: Path) -> None:
    """Per-expert tensors experts.N.w1/w2/w3 as Mixtral stores them; the count is 2 layers ×
    (8 experts × 3 × 16 × 8 + router 8 × 16 + attention 4 × 16 × 16 + 2 norms × 16) + embed + head."""
    h, f, e, v = 16, 8, 8, 32
    tensors: dict[str, TensorSpec] = {"model.embed_tokens.weight": ("BF16", [v, h])}
    for layer in range(2):
        p = f"model.layers.{layer}."
        tensors[p + "block_sparse_moe.gate.weight"] = ("BF16", [e, h])
        for i in range(e):
            for w, shape in (("w1", [f, h]), ("w2", [h, f]), ("w3", [f, h])):
                tensors[p + f"block_sparse_moe.experts.{i}.{w}.weight"] = ("BF16", shape)
        for x in "qkvo":
            tensors[p + f"self_attn.{x}_proj.weight"] = ("BF16", [h, h])
        tensors[p + "input_layernorm.weight"] = ("BF16", [h])
        tensors[p + "post_attention_layernorm.weight"] = ("BF16", [h])
    tensors["lm_head.weight"] = ("BF16", [v, h])
    model = assert_same_as_library(write_safetensors(tmp_path / "moe.safetensors", tensors))
    assert model.params == 2 * (e * 3 * h * f + e * h + 4 * h * h + 2 * h) + 2 * v * h
    assert len(model.tensors) == 2 + 2 * (1 + 3 * e + 4 + 2)


# --- sharded sets ----------------------------------------------------------------------------------

SHARDS = [{"model.embed_tokens.weight": ("BF16", [32, 8]),
           "model.layers.0.mlp.up_proj.weight": ("F16", [4, 8])},
          {"model.layers.0.self_attn.q_proj.weight": ("BF16", [8, 8]),
           "model.layers.0.rotary_emb.inv_freq": ("F32", [4])},
          {"lm_head.weight": ("F8_E4M3", [32, 8]), "model.norm.weight": ("F32", [8])}]


def test_sharded_matches_library_per_shard(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, SHARDS)
    model = st.read(index)
    assert model.format == "safetensors"
    assert model.files == tuple(str(tmp_path / f"model-0000{i}-of-00003.safetensors") for i in (1, 2, 3))
    expected: dict = {}
    for shard in model.files:
        expected.update(library_view(Path(shard))[0])
    assert our_view(model.tensors) == expected
    assert {t.file for t in model.tensors} == set(model.files)
    assert model.params == 32 * 8 + 4 * 8 + 64 + 32 * 8 + 8  # inv_freq is a buffer
    assert model.metadata["index"] == {"total_size": sum(t.nbytes for t in model.tensors)}
    assert "warnings" not in model.metadata


def test_sharded_total_size_mismatch_is_reported(tmp_path: Path) -> None:
    index = write_sharded(tmp_path, SHARDS, total_size=12345)
    (warning,) = st.read(index).metadata["warnings"]
    assert warning.startswith(f"{index}: metadata.total_size disagrees with the shards (found 12345, ")
    assert "expected 1008 " in warning  # 512 + 64 + 128 + 16 + 256 + 32 bytes


def test_sharded_without_total_size(tmp_path: Path) -> None:
    assert "warnings" not in st.read(write_sharded(tmp_path, SHARDS, total_size=None)).metadata


def test_sharded_header_bench_reads_what_the_library_reads(tmp_path: Path) -> None:
    """bench/bench_sharded_header.py's files (≥ 1,000 tensors in 4 sparse shards): we and the safetensors
    library count the same tensors. Its time (≤ 50 ms) is the bench's to measure, as a ratio against the
    library in the same run: no clock in a test, the machine may be loaded."""
    spec = importlib.util.spec_from_file_location("bench_sharded_header",
                                                  ROOT / "bench" / "bench_sharded_header.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    index = bench.build_sharded(tmp_path, n_layers=112, n_shards=4)
    assert bench.read_ours(index) == bench.read_library(index) >= 1000


# --- sniffing --------------------------------------------------------------------------------------

def test_sniff(tmp_path: Path, minilm_dir: Path) -> None:
    with open(minilm_dir / "model.safetensors", "rb") as f:
        head = f.read(64)
    assert st.sniff(head, Path("weights.bin"))  # by content
    assert st.sniff(b"", Path("x.safetensors"))  # by name: a broken .safetensors gets our errors
    assert st.sniff(b"{", Path("model.safetensors.index.json"))
    assert not st.sniff(b"GGUF\x03\x00\x00\x00" + bytes(56), Path("m.gguf"))
    assert not st.sniff(b'{"architectures": ["X"]}', Path("config.json"))
    assert not st.sniff((2**40).to_bytes(8, "little") + b"{", Path("blob"))  # N past the cap
