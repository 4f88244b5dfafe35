"""ONNX models (``.onnx``): the initializers (the weights), their shapes and types, the opset.

An ONNX file is one protobuf ``ModelProto`` (onnx/onnx.proto); weights are the graph's ``initializer``
``TensorProto`` records (and those of subgraphs in If/Loop/Scan attributes). A tensor's bytes are in
``raw_data``, in a typed field (``float_data``…), or, when ``data_location`` is EXTERNAL, in another file
named by its ``external_data`` entries ``location``, ``offset``, ``length`` (onnx/external_data_helper.py).
The file is parsed with the ``onnx`` package (an optional extra) from bytes we read ourselves, with
``load_external_data`` off: external locations are resolved here and must name a regular file inside the
model's directory: relative, no ``..``, no NUL, no symlink out, never a device or FIFO, and the range must
lie inside it. Nothing external is read beyond its size.

Inline weights get their place in the file too, so that `stats` reads them like any other format's:
protobuf has no offsets, so ``inline_offsets`` walks the wire format (protobuf encoding spec: a varint
key ``field << 3 | wire type`` before every field; length-delimited fields carry a varint length) down
ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto.raw_data (9), and into the subgraphs of
GraphProto.node (1) → NodeProto.attribute (5) → AttributeProto.g (6) / graphs (11). A packed
``float_data`` (4) or ``double_data`` (10) is little-endian float32 / float64, the very bytes ``raw_data``
would hold, and is located the same way. Every location is checked byte for byte against what onnx
parsed. Values in varint-coded fields (``int32_data`` holding float16, ``int64_data``) have no such
bytes: those tensors are listed, and left unread by `stats`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from paramscope.errors import (
    DTypeError,
    FormatError,
    HeaderError,
    OffsetError,
    ShapeError,
    SourceError,
)
from paramscope.knowledge.packing import apply_packing
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.sources.local import LocalFile

NAME = "onnx"
SUFFIXES = (".onnx",)
MAX_MODEL_BYTES = 2**31 - 1  # protobuf's 2 GiB message limit: larger models use external data
MAX_SUBGRAPH_DEPTH = 64
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# TensorProto.DataType → DType (onnx.proto); the 4-bit integer and 2-bit types have no DType row yet.
ONNX_DTYPES: dict[int, DType] = {
    1: DType.F32, 2: DType.U8, 3: DType.I8, 4: DType.U16, 5: DType.I16, 6: DType.I32, 7: DType.I64,
    9: DType.BOOL, 10: DType.F16, 11: DType.F64, 12: DType.U32, 13: DType.U64, 14: DType.C64,
    16: DType.BF16, 17: DType.F8_E4M3, 18: DType.F8_E4M3FNUZ, 19: DType.F8_E5M2, 20: DType.F8_E5M2FNUZ,
    23: DType.F4, 24: DType.F8_E8M0, 27: DType.F6_E2M3, 28: DType.F6_E3M2,
}
# Inputs that carry shapes, indices or quantization side data rather than weights: (op, input index).
# Integer initializers feeding only these are not parameters (a Reshape target [1, -1, 64]).
SHAPE_INPUTS: frozenset[tuple[str, int]] = frozenset({
    ("Reshape", 1), ("Expand", 1), ("Tile", 1), ("Unsqueeze", 1), ("Squeeze", 1), ("Pad", 1), ("Pad", 3),
    ("Slice", 1), ("Slice", 2), ("Slice", 3), ("Slice", 4), ("Split", 1), ("ConstantOfShape", 0),
    ("Range", 0), ("Range", 1), ("Range", 2), ("Resize", 1), ("Resize", 2), ("Resize", 3), ("TopK", 1),
    ("OneHot", 1), ("Gather", 1), ("GatherElements", 1), ("ReduceSum", 1), ("ReduceMean", 1),
    ("ReduceMax", 1), ("ReduceMin", 1), ("CumSum", 1), ("Trilu", 1),
})
# Quantization scales and zero points (onnx operators; com.microsoft MatMulNBits): side data.
SIDE_INPUTS: frozenset[tuple[str, int]] = frozenset({
    ("DequantizeLinear", 1), ("DequantizeLinear", 2), ("QuantizeLinear", 1), ("QuantizeLinear", 2),
    ("MatMulNBits", 2), ("MatMulNBits", 3), ("MatMulNBits", 4),
    *(("QLinearMatMul", i) for i in (1, 2, 4, 5, 6, 7)), *(("QLinearConv", i) for i in (1, 2, 4, 5, 6, 7)),
    ("MatMulInteger", 2), ("MatMulInteger", 3), ("ConvInteger", 2), ("ConvInteger", 3),
})
PACKED_INPUTS = {("MatMulNBits", 1): "bits"}  # uint8 blobs of `bits`-bit weights (default 4)
TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")


def sniff(head: bytes, path: Path) -> bool:
    """Protobuf has no magic number: ONNX files are known by name."""
    return Path(path).suffix.lower() in SUFFIXES


def read(path: Path) -> Model:
    path = Path(path)
    data = _read(path)
    proto = _load(path, data)
    named = list(_graphs(str(path), proto.graph))
    graphs = [g for _, g in named]
    uses = _uses(graphs)
    resolver = ExternalData(path)
    inline = InlineData(path, data)
    tensors = [_tensor(str(path), t, resolver, uses, prefix, inline) for prefix, g in named
               for t in g.initializer]
    _check_unique(str(path), tensors)
    warnings = [f"{len(g.sparse_initializer)} sparse initializers in graph {g.name!r} are not counted"
                for g in graphs if len(g.sparse_initializer)]
    if inline.unmapped:
        from paramscope.errors import and_more

        warnings.append(f"{len(inline.unmapped)} initializers keep their values in varint-coded fields, "
                        f"which `stats` cannot map: {and_more(inline.unmapped)} "
                        "(onnx.numpy_helper.from_array writes raw_data, which it can)")
    metadata = _metadata(proto, graphs, tensors, uses)
    if warnings:
        metadata["warnings"] = warnings
    files = (str(path), *sorted(resolver.files))
    return Model(format=NAME, source=str(path), tensors=apply_packing(tensors, None, str(path)),
                 metadata=metadata, files=files)


def _load(path: Path, data: bytes) -> Any:
    try:
        import onnx
    except ModuleNotFoundError:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError(f"{path}: reading ONNX", "onnx", "onnx") from None
    try:
        return onnx.load_model_from_string(data)
    except Exception as e:  # protobuf's DecodeError and friends: the file is not an ONNX model
        raise HeaderError(str(path), "not a valid ONNX protobuf", " ".join(str(e).split())[:120]) from None


def _read(path: Path) -> bytes:
    with LocalFile(path) as f:
        if f.size > MAX_MODEL_BYTES:
            raise HeaderError(f.name, "ONNX file is larger than a protobuf message can be", f"{f.size} bytes",
                              f"at most {MAX_MODEL_BYTES}")
        return f.read(0, f.size, "the ONNX model")


def _graphs(file: str, root: Any) -> Iterator[tuple[str, Any]]:
    """(name prefix, graph) for the main graph ("") and every subgraph held in node attributes (If
    branches, Loop and Scan bodies): ``If_3.then_branch/`` names a branch's initializers apart."""
    todo = [("", root, 0)]
    while todo:
        prefix, graph, depth = todo.pop()
        if depth > MAX_SUBGRAPH_DEPTH:
            raise HeaderError(file, "ONNX subgraphs nest deeper than the limit", depth,
                              f"at most {MAX_SUBGRAPH_DEPTH}")
        yield prefix, graph
        for i, node in enumerate(graph.node):
            where = f"{prefix}{node.name or f'{node.op_type}_{i}'}"
            for attr in node.attribute:
                if attr.HasField("g"):
                    todo.append((f"{where}.{attr.name}/", attr.g, depth + 1))
                todo.extend((f"{where}.{attr.name}.{j}/", g, depth + 1) for j, g in enumerate(attr.graphs))


def _uses(graphs: list[Any]) -> dict[str, list[tuple[str, int, Any]]]:
    """Initializer name → every (op type, input index, node) that reads it."""
    uses: dict[str, list[tuple[str, int, Any]]] = {}
    for g in graphs:
        for node in g.node:
            for i, name in enumerate(node.input):
                uses.setdefault(name, []).append((node.op_type, i, node))
    return uses


# --- one initializer ------------------------------------------------------------------------------

def _tensor(file: str, t: Any, resolver: ExternalData, uses: dict[str, list[tuple[str, int, Any]]],
            prefix: str = "", inline: InlineData | None = None) -> Tensor:
    dtype = ONNX_DTYPES.get(t.data_type)
    if dtype is None:
        raise DTypeError(file, f"initializer {t.name} has a type paramscope does not read",
                         _type_name(t.data_type))
    shape = tuple(t.dims)
    if any(d < 0 for d in shape):
        raise ShapeError(file, f"initializer {t.name} has a negative dimension", shape)
    n = math.prod(shape)
    nbytes = math.ceil(n / dtype.block_size) * dtype.type_size
    offset, where = None, file
    if t.data_location == EXTERNAL:
        where, offset = resolver.locate(t, nbytes)
    elif t.raw_data and len(t.raw_data) != nbytes:
        raise DTypeError(file, f"initializer {t.name} holds the wrong number of bytes for its shape and type",
                         len(t.raw_data), nbytes)
    else:
        if not t.raw_data:
            _check_typed(file, t, n)
        offset = inline.locate(t, dtype, nbytes) if inline is not None and nbytes else None
    weight_bits, is_parameter = _role(dtype, uses.get(t.name, []))
    return Tensor(prefix + t.name, shape, dtype, nbytes, offset, where, weight_bits, is_parameter)


def _check_typed(file: str, t: Any, n: int) -> None:
    stored = max(len(getattr(t, f)) for f in TYPED_FIELDS)
    # float16/bfloat16/int8… travel in int32_data one per element; complex64 as two floats
    expected = n * (2 if t.data_type == 14 else 1)
    if n and stored != expected:
        raise DTypeError(file, f"initializer {t.name} holds the wrong number of values for its shape",
                         stored, expected)


def _role(dtype: DType, uses: list[tuple[str, int, Any]]) -> tuple[int, bool]:
    """(the width of each packed weight, 0 when not packed; is it a parameter) from how the graph reads the
    initializer. MatMulNBits packs ``bits``-wide weights (2 to 8) into uint8 blobs of block_size × bits / 8
    bytes (onnxruntime contrib_defs, MatMulNBits), so any width makes whole weights."""
    for op, i, node in uses:
        attr = PACKED_INPUTS.get((op, i))
        if attr:
            bits = next((a.i for a in node.attribute if a.name == attr), 4)
            return (bits if 1 <= bits <= 8 else 0), True
    if uses and all((op, i) in SIDE_INPUTS for op, i, _ in uses):
        return 0, False
    if not dtype.info.is_float and uses and all((op, i) in SHAPE_INPUTS for op, i, _ in uses):
        return 0, False
    return 0, True


def _type_name(code: int) -> str:
    try:
        from onnx import TensorProto

        return TensorProto.DataType.Name(code)
    except ValueError:
        return f"data type {code}"


def _check_unique(file: str, tensors: list[Tensor]) -> None:
    seen: set[str] = set()
    for t in tensors:
        if t.name in seen:
            raise HeaderError(file, "two initializers have the same name", repr(t.name))
        seen.add(t.name)


# --- inline data: where raw_data (or packed float_data / double_data) lies in the file --------------

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5
MODEL_GRAPH, GRAPH_NODE, GRAPH_INITIALIZER = 7, 1, 5  # ModelProto.graph, GraphProto.node / .initializer
NODE_ATTRIBUTE, ATTRIBUTE_G, ATTRIBUTE_GRAPHS = 5, 6, 11
TENSOR_NAME, TENSOR_RAW_DATA, TENSOR_FLOAT_DATA, TENSOR_DOUBLE_DATA = 8, 9, 4, 10
PACKED_AS_RAW = {TENSOR_FLOAT_DATA: DType.F32, TENSOR_DOUBLE_DATA: DType.F64}


class InlineData:
    """Byte ranges of the initializers' values inside the .onnx file, found by walking its wire format."""

    def __init__(self, path: Path, data: bytes):
        self.path, self._data = path, data
        self.unmapped: list[str] = []
        self._found: dict[str, list[tuple[int, int]]] | None = None

    def locate(self, t: Any, dtype: DType, nbytes: int) -> int | None:
        """The offset of ``t``'s values, or None (varint-coded values, listed in ``unmapped``)."""
        if self._found is None:
            self._found = {}
            for name, start, end in _initializer_payloads(str(self.path), self._data):
                self._found.setdefault(name, []).append((start, end))
        expected = t.raw_data or _packed(t, dtype)
        if expected is None or len(expected) != nbytes:
            self.unmapped.append(t.name)
            return None
        for i, (start, end) in enumerate(self._found.get(t.name, ())):
            if end - start == nbytes and self._data[start:end] == expected:
                self._found[t.name].pop(i)
                return start
        raise HeaderError(str(self.path), f"initializer {t.name}'s values were not found where its protobuf "
                          "record holds them")


def _packed(t: Any, dtype: DType) -> bytes | None:
    """The little-endian bytes of a float_data / double_data tensor (what its packed field holds)."""
    import numpy as np

    if dtype is DType.F32 and len(t.float_data):
        return np.asarray(t.float_data, "<f4").tobytes()
    if dtype is DType.F64 and len(t.double_data):
        return np.asarray(t.double_data, "<f8").tobytes()
    return None


def _initializer_payloads(file: str, data: bytes) -> Iterator[tuple[str, int, int]]:
    """(initializer name, start, end) of every raw_data or packed float/double payload, in every graph."""
    graphs = [(s, e) for f, w, s, e in _fields(file, data, 0, len(data))
              if f == MODEL_GRAPH and w == WIRE_LEN]
    depth = 0
    while graphs:
        depth += 1
        if depth > 1 << 16:
            raise HeaderError(file, "ONNX subgraphs nest deeper than the limit", depth)
        start, end = graphs.pop()
        for f, w, s, e in _fields(file, data, start, end):
            if w != WIRE_LEN:
                continue
            if f == GRAPH_INITIALIZER:
                yield from _tensor_payload(file, data, s, e)
            elif f == GRAPH_NODE:
                for fa, wa, sa, ea in _fields(file, data, s, e):
                    if fa == NODE_ATTRIBUTE and wa == WIRE_LEN:
                        graphs += [(sg, eg) for fg, wg, sg, eg in _fields(file, data, sa, ea)
                                   if fg in (ATTRIBUTE_G, ATTRIBUTE_GRAPHS) and wg == WIRE_LEN]


def _tensor_payload(file: str, data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    name, payload = "", None
    for f, w, s, e in _fields(file, data, start, end):
        if w != WIRE_LEN:
            continue
        if f == TENSOR_NAME:
            name = data[s:e].decode("utf-8", "replace")
        elif f == TENSOR_RAW_DATA or f in PACKED_AS_RAW:
            payload = (s, e)
    if payload is not None:
        yield name, *payload


def _fields(file: str, data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of the message in ``data[pos:end]``; for
    non-length-delimited fields start == end (their values are not needed here)."""
    while pos < end:
        key, pos = _varint(file, data, pos, end)
        field, wire = key >> 3, key & 7
        if wire == WIRE_VARINT:
            _, pos = _varint(file, data, pos, end)
            yield field, wire, pos, pos
            continue
        if wire == WIRE_LEN:
            length, pos = _varint(file, data, pos, end)
            start, pos = pos, pos + length
        elif wire in (WIRE_I64, WIRE_I32):
            start, pos = pos, pos + (8 if wire == WIRE_I64 else 4)
        else:
            raise HeaderError(file, "protobuf field of an unknown wire type", wire, "0, 1, 2 or 5")
        if pos > end:
            raise HeaderError(file, "protobuf field runs past its message", f"ends at {pos}",
                              f"at most {end}")
        yield field, wire, start, pos


def _varint(file: str, data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise HeaderError(file, "truncated or overlong protobuf varint", f"at byte {pos}")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


# --- external data --------------------------------------------------------------------------------

class ExternalData:
    """Locations of external tensor data, confined to the model's directory and checked against sizes."""

    def __init__(self, model_path: Path):
        self.model = str(model_path)
        self.folder = Path(model_path).parent
        self.real_folder = os.path.realpath(self.folder)
        self.sizes: dict[str, int] = {}  # location → file size
        self.files: set[str] = set()

    def locate(self, t: Any, nbytes: int) -> tuple[str, int]:
        """(file, offset) of the tensor's bytes, after every confinement and range check."""
        entries = {e.key: e.value for e in t.external_data}
        location = entries.get("location")
        if location is None:
            raise HeaderError(self.model, f"initializer {t.name} has external data without a location")
        path, size = self._file(t.name, location)
        offset = _number(self.model, t.name, "offset", entries.get("offset", "0"))
        length = _number(self.model, t.name, "length", entries.get("length", str(size - offset)))
        if offset + length > size:
            raise OffsetError(self.model, f"initializer {t.name} reaches past the end of {location}",
                              f"ends at {offset + length}", f"at most {size}")
        if length != nbytes:
            raise DTypeError(self.model, f"initializer {t.name}'s external length disagrees with its "
                             "shape and type", length, nbytes)
        return path, offset

    def _file(self, name: str, location: str) -> tuple[str, int]:
        if location in self.sizes:
            return str(self.folder / location), self.sizes[location]
        problem = _location_problem(location)
        if problem:
            raise SourceError(f"{self.model}: initializer {name}'s external data location {location!r} "
                              f"{problem} (expected a file inside {self.folder})")
        path = self.folder / location
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.real_folder]) != self.real_folder:
            raise SourceError(f"{self.model}: initializer {name}'s external data {location!r} resolves to "
                              f"{real}, outside the model's directory {self.real_folder}")
        try:
            with LocalFile(real) as f:
                size = f.size
        except SourceError as e:
            raise SourceError(f"{self.model}: initializer {name}'s external data: {e}") from None
        self.sizes[location] = size
        self.files.add(str(path))
        return str(path), size


def _location_problem(location: str) -> str | None:
    """Why a location may not be followed, or None (onnx's own checker applies the same rules)."""
    if not location:
        return "is empty"
    if "\x00" in location:
        return "contains a NUL byte"
    if location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
        return "is absolute"
    if "\\" in location:
        return "contains a backslash"
    if ".." in PurePosixPath(location).parts:
        return "climbs out with '..'"
    return None


def _number(file: str, name: str, key: str, text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise FormatError(file, f"initializer {name}'s external {key} is not a non-negative integer",
                          repr(text[:40]))
    return int(text)


# --- metadata -------------------------------------------------------------------------------------

def _metadata(proto: Any, graphs: list[Any], tensors: list[Tensor],
              uses: dict[str, list[tuple[str, int, Any]]]) -> dict[str, Any]:
    by_op: dict[str, int] = {}
    for t in tensors:
        name = t.name.rsplit("/", 1)[-1]
        if t.is_parameter:
            op = uses[name][0][0] if name in uses else "(unused)"
            by_op[op] = by_op.get(op, 0) + t.params
    return {
        "ir_version": proto.ir_version,
        "opset": {o.domain or "ai.onnx": o.version for o in proto.opset_import},
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
        "graph": proto.graph.name,
        "nodes": sum(len(g.node) for g in graphs),
        "params_by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
    }
