"""ONNX reader: models built with onnx.helper, internal and external data, and hostile locations.

External data must resolve to a regular file inside the model's folder; every escape (``..``, an absolute
path, a symlink out, a device, a FIFO, a NUL byte) and every range past the end of the file is refused in
one line naming the model, without reading the target.
"""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from builders.onnx_files import linear_model, save, weights
from paramscope.analyses.contents.inventory import inventory
from paramscope.errors import DTypeError, FormatError, HeaderError, OffsetError, ParamscopeError, SourceError
from paramscope.formats import onnx_reader
from paramscope.model.dtypes import DType


def test_internal_initializers(tmp_path: Path) -> None:
    path = save(linear_model(weights()), tmp_path / "model.onnx")
    model = onnx_reader.read(path)
    assert [(t.name, t.shape, t.dtype, t.nbytes) for t in model.tensors] == [
        ("W", (4, 3), DType.F32, 48), ("B", (3,), DType.F16, 6), ("shape", (1,), DType.I64, 8)]
    assert model.params == 15  # the Reshape target is not a parameter
    assert model.metadata["opset"] == {"ai.onnx": 17}
    assert model.metadata["params_by_op"] == {"MatMul": 12, "Add": 3}
    assert model.metadata["producer"] == "tests"
    assert inventory(model).total_params == 15


def test_typed_fields_and_every_dtype(tmp_path: Path) -> None:
    cases = [(TensorProto.FLOAT, DType.F32), (TensorProto.DOUBLE, DType.F64), (TensorProto.INT32, DType.I32),
             (TensorProto.INT8, DType.I8), (TensorProto.UINT8, DType.U8), (TensorProto.BOOL, DType.BOOL),
             (TensorProto.FLOAT16, DType.F16), (TensorProto.BFLOAT16, DType.BF16),
             (TensorProto.FLOAT8E4M3FN, DType.F8_E4M3), (TensorProto.UINT16, DType.U16)]
    inits = [helper.make_tensor(f"t{code}", code, [2, 2], [1, 0, 1, 0]) for code, _ in cases]
    nodes = [helper.make_node("Identity", [t.name], [f"o{i}"]) for i, t in enumerate(inits)]
    model = onnx_reader.read(save(linear_model(inits, nodes), tmp_path / "types.onnx"))
    assert [(t.dtype, t.nbytes) for t in model.tensors] == [(d, 4 * d.type_size) for _, d in cases]


def test_external_data(tmp_path: Path) -> None:
    path = save(linear_model(weights()), tmp_path / "m" / "model.onnx", save_as_external_data=True,
                all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    model = onnx_reader.read(path)
    data = (tmp_path / "m" / "weights.bin").read_bytes()
    w = model.tensors[0]
    assert w.file == str(tmp_path / "m" / "weights.bin") and w.offset is not None
    assert np.frombuffer(data[w.offset:w.offset + w.nbytes], np.float32).tolist() == list(range(12))
    assert model.files == (str(path), str(tmp_path / "m" / "weights.bin"))
    assert model.params == 15


def test_subgraph_initializers(tmp_path: Path) -> None:
    inner = helper.make_graph([helper.make_node("Identity", ["V"], ["r"])], "then", [],
                              [helper.make_tensor_value_info("r", TensorProto.FLOAT, [5])],
                              [numpy_helper.from_array(np.zeros(5, np.float32), "V")])
    nodes = [helper.make_node("If", ["c"], ["r"], then_branch=inner, else_branch=inner)]
    model = onnx_reader.read(save(linear_model([], nodes), tmp_path / "if.onnx"))
    assert sorted((t.name, t.shape) for t in model.tensors) == [("If_0.else_branch/V", (5,)),
                                                                ("If_0.then_branch/V", (5,))]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["<f4", "<f2", "<f8", "i1", "<i4"]),
                          st.lists(st.integers(1, 5), min_size=0, max_size=3), st.booleans()),
                min_size=1, max_size=6),
       st.booleans())
def test_inline_values_are_located_in_the_file(tmp_path: Path, specs, in_subgraph: bool) -> None:
    """Every inline initializer (raw_data, or packed float_data / double_data) gets the offset of exactly
    the bytes onnx's own numpy_helper.to_array decodes; the subgraph's too."""
    rng = np.random.default_rng(len(specs))
    inits = []
    for i, (dt, shape, typed) in enumerate(specs):
        values = (rng.standard_normal(shape) * 100).astype(dt)
        if typed and dt in ("<f4", "<f8"):  # float_data / double_data, packed
            code = TensorProto.FLOAT if dt == "<f4" else TensorProto.DOUBLE
            inits.append(helper.make_tensor(f"t{i}", code, shape, values.ravel().tolist()))
        else:
            inits.append(numpy_helper.from_array(values, f"t{i}"))
    nodes = [helper.make_node("Identity", [t.name], [f"o{i}"]) for i, t in enumerate(inits)]
    if in_subgraph:
        out = [helper.make_tensor_value_info("o0", TensorProto.FLOAT, None)]
        inner = helper.make_graph(nodes, "then", [], out, inits)
        path = save(linear_model([], [helper.make_node("If", ["c"], ["r"], then_branch=inner)]),
                    tmp_path / "sub.onnx")
    else:
        path = save(linear_model(inits, nodes), tmp_path / "flat.onnx")
    model = onnx_reader.read(path)
    data = path.read_bytes()
    by_name = {t.name.rsplit("/", 1)[-1]: t for t in model.tensors}
    for init in inits:
        t, expected = by_name[init.name], numpy_helper.to_array(init)
        if not expected.size:
            continue
        assert t.file == str(path) and t.offset is not None, t
        stored = np.frombuffer(data[t.offset:t.offset + t.nbytes], expected.dtype.newbyteorder("<"))
        assert np.array_equal(stored, expected.ravel(), equal_nan=True)


def test_stats_reads_inline_onnx_values(tmp_path: Path) -> None:
    """`stats` of a plain ONNX file reads every initializer, as it does every other format."""
    import paramscope

    path = save(linear_model(weights()), tmp_path / "tiny.onnx")
    stats = paramscope.stats(str(path)).stats
    means = {t.name: t.summary.mean for t in stats.tensors}
    assert means["W"] == pytest.approx(5.5) and means["B"] == pytest.approx(1.0)
    assert len(stats.tensors) == 3


def test_matmulnbits_counts_packed_weights(tmp_path: Path) -> None:
    """com.microsoft MatMulNBits: B holds two 4-bit weights per byte; scales are side data."""
    packed = numpy_helper.from_array(np.zeros((3, 1, 16), np.uint8), "Bq")  # N=3, K=32, block 32
    scales = numpy_helper.from_array(np.ones(3, np.float32), "scales")
    node = helper.make_node("MatMulNBits", ["x", "Bq", "scales"], ["y"], domain="com.microsoft", K=32, N=3,
                            bits=4, block_size=32)
    model = onnx_reader.read(save(linear_model([packed, scales], [node]), tmp_path / "q4.onnx"))
    assert model.params == 3 * 32


def test_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(HeaderError, match="not a valid ONNX protobuf"):
        onnx_reader.read(path)


# ---------------------------------------------------------------------------------------------------
# hostile external data


def with_location(location: str, offset: int | str | None = None, length: int | str | None = None,
                  prepare: Callable[[Path], None] | None = None) -> Callable[[Path], Path]:
    """A model whose W lives in external ``location`` (48 bytes expected); ``prepare`` lays out files."""
    def build(folder: Path) -> Path:
        w = numpy_helper.from_array(np.zeros((4, 3), np.float32), "W")
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        entries = {"location": location, "offset": offset, "length": length}
        for key, value in entries.items():
            if value is not None:
                w.external_data.append(onnx.StringStringEntryProto(key=key, value=str(value)))
        model_dir = folder / "model"
        model_dir.mkdir()
        (model_dir / "weights.bin").write_bytes(bytes(48))
        if prepare:
            prepare(folder)
        path = model_dir / "model.onnx"
        path.write_bytes(linear_model([w], [helper.make_node("MatMul", ["x", "W"], ["y"])])
                         .SerializeToString())
        return path
    return build


def outside_file(folder: Path) -> None:
    (folder / "secret.bin").write_bytes(bytes(48))


def symlink(name: str, target: str | Callable[[Path], str]) -> Callable[[Path], None]:
    def prepare(folder: Path) -> None:
        outside_file(folder)
        (folder / "model").mkdir(exist_ok=True)
        os.symlink(target(folder) if callable(target) else target, folder / "model" / name)
    return prepare


def fifo(folder: Path) -> None:
    (folder / "model").mkdir(exist_ok=True)
    os.mkfifo(folder / "model" / "pipe.bin")


ATTACKS: dict[str, tuple[Callable[[Path], Path], type[ParamscopeError], str]] = {
    "dotdot": (with_location("../secret.bin", prepare=outside_file), SourceError, "climbs out"),
    "dotdot-deep": (with_location("sub/../../secret.bin", prepare=outside_file), SourceError, "climbs out"),
    "absolute": (with_location("/etc/passwd"), SourceError, "is absolute"),
    "windows-absolute": (with_location("C:\\weights.bin"), SourceError, "is absolute"),
    "backslash": (with_location("..\\secret.bin"), SourceError, "backslash"),
    "nul-byte": (with_location("weights.bin\x00.txt"), SourceError, "NUL"),
    "empty": (with_location(""), SourceError, "is empty"),
    "symlink-out": (with_location("link.bin", prepare=symlink("link.bin", lambda f: str(f / "secret.bin"))),
                    SourceError, "outside the model's directory"),
    "symlink-dev-zero": (with_location("zero.bin", prepare=symlink("zero.bin", "/dev/zero")), SourceError,
                         "outside the model's directory"),
    "fifo": (with_location("pipe.bin", prepare=fifo), SourceError, "not a regular file"),
    "missing": (with_location("nothing.bin"), SourceError, "no such file"),
    "directory": (with_location(".", length=48), SourceError, "a directory"),
    "offset-past-end": (with_location("weights.bin", offset=40, length=48), OffsetError, "past the end"),
    "length-past-end": (with_location("weights.bin", offset=0, length=10**15), OffsetError, "past the end"),
    "length-disagrees": (with_location("weights.bin", offset=0, length=16), DTypeError, "disagrees"),
    "negative-offset": (with_location("weights.bin", offset=-8), FormatError, "non-negative integer"),
    "non-numeric-length": (with_location("weights.bin", length="4e1"), FormatError, "non-negative integer"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_hostile_external_data(name: str, tmp_path: Path) -> None:
    build, error, fragment = ATTACKS[name]
    path = build(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(error) as info:
            onnx_reader.read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak  # refused before reading what the header claims
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and fragment in message, message


def test_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    prepare = symlink("alias.bin", lambda f: str(f / "model" / "weights.bin"))
    model = onnx_reader.read(with_location("alias.bin", prepare=prepare)(tmp_path))
    assert model.tensors[0].offset == 0 and model.params == 12


def test_raw_data_length_must_match(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.zeros((4, 3), np.float32), "W")
    w.raw_data = bytes(40)
    path = tmp_path / "short.onnx"
    path.write_bytes(linear_model([w], [helper.make_node("MatMul", ["x", "W"], ["y"])]).SerializeToString())
    with pytest.raises(DTypeError, match="wrong number of bytes"):
        onnx_reader.read(path)


def test_negative_dimension(tmp_path: Path) -> None:
    w = helper.make_tensor("W", TensorProto.FLOAT, [2], [1.0, 2.0])
    w.dims[0] = -2
    path = tmp_path / "neg.onnx"
    path.write_bytes(linear_model([w], []).SerializeToString())
    with pytest.raises(ParamscopeError, match="negative dimension"):
        onnx_reader.read(path)


def test_only_regular_model_files(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.onnx")
    with pytest.raises(SourceError, match="not a regular file"):
        onnx_reader.read(tmp_path / "pipe.onnx")


def test_sniff() -> None:
    assert onnx_reader.sniff(b"\x08\x07", Path("model.onnx"))
    assert not onnx_reader.sniff(b"\x08\x07", Path("model.bin"))
