"""GGUF reader (llama.cpp): the header, walked in spec order, and nothing of the tensor data.

Spec: llama.cpp ``ggml/docs/gguf.md``; validation rules follow ``ggml/src/gguf.cpp``
(``gguf_init_from_file_impl``). A file is

    magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
    kv_count × (string key, u32 value type, value)
    tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset)
    padding to general.alignment (default 32) | tensor data, each tensor at data start + offset

Each section is one function that takes an offset and returns the new one. ``ne`` is ggml's order
(fastest-varying first), so a tensor's row-major shape is ``ne`` reversed: Gemma 3's token_embd has
ne = (640, 262144) and shape (262144, 640). Split models (``NAME-00001-of-00003.gguf``, written by
gguf-split) are read as one: every split, tensors merged, metadata from the first.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import struct
from pathlib import Path
from typing import Any, NamedTuple

from paramscope.errors import DTypeError, HeaderError, OffsetError, ShapeError, SourceError, and_more
from paramscope.formats.gguf_metadata import (
    TYPE_NAMES,
    HeaderBuffer,
    check_count,
    check_key_kinds,
    read_key,
    read_value,
)
from paramscope.formats.limits import check_kv_count, check_tensor_count
from paramscope.knowledge.gguf_arch import arch_config
from paramscope.knowledge.quant_configs import from_gguf
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import BY_GGML_ID, RETIRED_GGML_IDS, DType
from paramscope.sources import ByteSource
from paramscope.sources.folder import Folder, LocalFolder, map_files
from paramscope.sources.local import LocalFile

NAME = "gguf"
MAGIC = b"GGUF"
VERSIONS = (2, 3)  # v1 (u32 counts and lengths) is gone from llama.cpp too; v3 added big-endian files
DEFAULT_ALIGNMENT = 32  # gguf.md GGUF_DEFAULT_ALIGNMENT
GGML_MAX_DIMS = 4
# gguf.cpp refuses a tensor name of GGML_MAX_NAME bytes or more (ggml.h: 64): it must fit, with its
# terminating zero, in ggml_tensor's char name[64]. A file llama.cpp refuses is not read as if it were fine.
GGML_MAX_NAME = 64
INT64_MAX = 2**63 - 1  # ggml stores ne as int64_t
_PREAMBLE = struct.Struct("<4sIQQ")
_U32 = struct.Struct("<I")
_TENSOR_TAIL = struct.Struct("<IQ")  # ggml type, offset
# The smallest KV pair: 8-byte key length + a 1-byte key + 4-byte type + a 1-byte value; the smallest
# tensor info: empty name (8) + n_dims (4) + type (4) + offset (8). Counts are checked against these.
MIN_KV_BYTES, MIN_TENSOR_INFO_BYTES = 14, 24
# Stored tensors that are not learned parameters: RoPE frequency factors computed from the config at
# conversion (llama 3 "rope_freqs"; Phi-3 LongRoPE "rope_factors_long/short").
NON_PARAMETERS = re.compile(r"^(blk\.\d+\.)?(rope_freqs|rope_factors_long|rope_factors_short)\.weight$")
SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")  # llama.cpp split path


class TensorInfo(NamedTuple):
    """One tensor-info record as stored: ggml dims (``ne``), type id, offset from the data start."""

    name: str
    ne: tuple[int, ...]
    ggml_type: int
    offset: int


class GGUFFile(NamedTuple):
    """One file's header, read and checked."""

    path: str
    version: int
    metadata: dict[str, Any]
    value_types: dict[str, int]
    alignment: int
    data_start: int
    tensors: tuple[Tensor, ...]


def sniff(head: bytes, path: Path) -> bool:
    """Every GGUF file, of any version or byte order, starts with the bytes "GGUF"."""
    return head[:4] == MAGIC


def read(path: Path) -> Model:
    """The model in ``path``; for a split model, in all of its splits."""
    path = Path(path)
    return read_from(LocalFolder(path.parent), path.name)


def read_from(folder: Folder, name: str) -> Model:
    """The model in file ``name`` of ``folder`` (a directory, a Hub repository); splits beside it."""
    label = folder.label(name)
    first = read_file(folder.open(name))
    files = [first]
    siblings = _split_names(name, label, first)
    if siblings:
        _check_present(folder, label, siblings)
        files = map_files(folder, lambda n: first if n == name else read_file(folder.open(n)), siblings)
        check_tensor_count(label, sum(len(f.tensors) for f in files), "the splits hold")
        _check_splits(label, [folder.label(n) for n in siblings], files)
    head = files[0]
    tensors = tuple(t for f in files for t in f.tensors)
    names = {t.name for t in tensors}
    if len(names) != len(tensors):
        raise HeaderError(label, "the same tensor name appears in two splits", _first_duplicate(tensors))
    embd = next((t for t in tensors if t.name == "token_embd.weight"), None)
    config = arch_config(head.metadata, names, embd.shape[0] if embd and embd.shape else 0, head.path)
    return Model(format=NAME, source=label, tensors=tensors, config=config,
                 metadata=head.metadata, files=tuple(f.path for f in files),
                 quantization=from_gguf(head.metadata))


def read_file(source: Path | ByteSource) -> GGUFFile:
    """One GGUF file (a path, or a byte source): preamble, key-value pairs, tensor infos, data start,
    tensors."""
    f = LocalFile(source) if isinstance(source, str | os.PathLike) else source
    try:
        hb = HeaderBuffer(f)
        version, n_tensors, n_kv, pos = _read_preamble(hb)
        metadata, value_types, pos = _read_kv_pairs(hb, pos, n_kv)
        check_key_kinds(hb.name, metadata, value_types)
        alignment = _alignment(hb.name, metadata, value_types)
        infos, pos = _read_tensor_infos(hb, pos, n_tensors)
        data_start = _data_start(pos, alignment)
        tensors = _tensors(hb.name, infos, data_start, alignment, f.size)
    finally:
        f.close()
    return GGUFFile(hb.name, version, metadata, value_types, alignment, data_start, tensors)


def _read_preamble(hb: HeaderBuffer) -> tuple[int, int, int, int]:
    """Magic, version and the two counts; counts are checked against the file size before any use."""
    magic, version, n_tensors, n_kv = hb.unpack(_PREAMBLE, 0, "the GGUF preamble (magic, version, counts)")
    if magic != MAGIC:
        raise HeaderError(hb.name, "not a GGUF file: bad magic", repr(magic), repr(MAGIC))
    if version not in VERSIONS:
        raise HeaderError(hb.name, _version_problem(version), version, "2 or 3")
    check_count(hb, _PREAMBLE.size, n_kv, MIN_KV_BYTES, "the key-value section", "key-value pairs")
    check_count(hb, _PREAMBLE.size + n_kv * MIN_KV_BYTES, n_tensors, MIN_TENSOR_INFO_BYTES,
                "the tensor-info section", "tensors")
    check_kv_count(hb.name, n_kv)  # a file that does hold this many is still refused (formats/limits.py)
    check_tensor_count(hb.name, n_tensors)
    return version, n_tensors, n_kv, _PREAMBLE.size


def _version_problem(version: int) -> str:
    # gguf.cpp: a version whose low 16 bits are zero is a byte-swapped (big-endian) file
    if version & 0xFFFF == 0 and version:
        return f"big-endian GGUF (version field reads 0x{version:08x}) is not supported"
    if version == 1:
        return "GGUF version 1 is obsolete and not supported"
    return "unsupported GGUF version"


def _read_kv_pairs(hb: HeaderBuffer, pos: int, n_kv: int) -> tuple[dict[str, Any], dict[str, int], int]:
    """The key-value section: unique non-empty keys, each with a type tag and a value."""
    metadata: dict[str, Any] = {}
    value_types: dict[str, int] = {}
    for i in range(n_kv):
        key, pos = read_key(hb, pos, f"key {i}")
        if not key:
            raise HeaderError(hb.name, f"key {i} is empty")
        if key in metadata:
            raise HeaderError(hb.name, f"duplicate key {key!r}", f"key {i}", "each key once")
        (vtype,) = hb.unpack(_U32, pos, f"value type of {key!r}")
        metadata[key], pos = read_value(hb, pos + 4, vtype, key)
        value_types[key] = vtype
    return metadata, value_types, pos


def _alignment(file: str, metadata: dict[str, Any], value_types: dict[str, int]) -> int:
    """general.alignment: a u32 power of two (gguf.cpp rejects any other type or value)."""
    if "general.alignment" not in metadata:
        return DEFAULT_ALIGNMENT
    vtype = value_types["general.alignment"]
    if vtype != 4:
        raise HeaderError(file, "general.alignment must be a u32", TYPE_NAMES.get(vtype, vtype), "u32")
    value = metadata["general.alignment"]
    if value == 0 or value & (value - 1):
        raise HeaderError(file, "general.alignment must be a power of two", value, "1, 2, 4, … 2**31")
    return value


def _read_tensor_infos(hb: HeaderBuffer, pos: int, n_tensors: int) -> tuple[list[TensorInfo], int]:
    """The tensor-info section: name, dims, ggml type, offset per tensor; names unique."""
    infos: list[TensorInfo] = []
    seen: set[str] = set()
    for i in range(n_tensors):
        name, pos = read_key(hb, pos, f"name of tensor {i}")
        if name in seen:
            raise HeaderError(hb.name, f"duplicate tensor name {name!r}", f"tensor {i}", "each name once")
        seen.add(name)
        if len(name.encode("utf-8")) >= GGML_MAX_NAME:
            raise HeaderError(hb.name, f"tensor {i}'s name is too long for llama.cpp",
                              f"{len(name.encode('utf-8'))} bytes", f"under {GGML_MAX_NAME} (GGML_MAX_NAME)")
        (n_dims,) = hb.unpack(_U32, pos, f"tensor info of {name!r}")
        if n_dims > GGML_MAX_DIMS:
            raise ShapeError(hb.name, f"tensor {name!r} has too many dimensions", n_dims,
                             f"at most {GGML_MAX_DIMS}")
        pos += 4
        o = hb.at(pos, 8 * n_dims + _TENSOR_TAIL.size, f"tensor info of {name!r}")
        ne = struct.unpack_from(f"<{n_dims}Q", hb.buf, o)
        ggml_type, offset = _TENSOR_TAIL.unpack_from(hb.buf, o + 8 * n_dims)
        pos += 8 * n_dims + _TENSOR_TAIL.size
        infos.append(TensorInfo(name, ne, ggml_type, offset))
    return infos, pos


def _data_start(pos: int, alignment: int) -> int:
    """Tensor data begins at the first multiple of the alignment after the tensor infos."""
    return -(-pos // alignment) * alignment


def _tensors(file: str, infos: list[TensorInfo], data_start: int, alignment: int,
             file_size: int) -> tuple[Tensor, ...]:
    tensors = tuple(_tensor(file, info, data_start, alignment, file_size) for info in infos)
    _check_overlaps(file, tensors)
    return tensors


def _tensor(file: str, info: TensorInfo, data_start: int, alignment: int, file_size: int) -> Tensor:
    """Type, element count, exact byte size and absolute offset of one tensor, each checked."""
    dtype = _dtype(file, info)
    n_elements = _n_elements(file, info)
    # gguf.cpp: each row (ne[0]) holds whole blocks; with no dims, ne[0] is 1
    row = info.ne[0] if info.ne else 1
    if row % dtype.block_size:
        raise ShapeError(file, f"tensor {info.name!r} rows are not whole {dtype.value} blocks",
                         f"ne[0] = {row}", f"a multiple of {dtype.block_size}")
    nbytes = dtype.nbytes(n_elements)
    if info.offset % alignment:
        raise OffsetError(file, f"tensor {info.name!r} data is not aligned", f"offset {info.offset}",
                          f"a multiple of {alignment}")
    start = data_start + info.offset
    if start + nbytes > file_size:
        raise OffsetError(file, f"tensor {info.name!r} data runs past the end of the file",
                          f"ends at {start + nbytes}", f"at most {file_size}")
    return Tensor(name=info.name, shape=tuple(reversed(info.ne)), dtype=dtype, nbytes=nbytes,
                  offset=start, file=file, is_parameter=NON_PARAMETERS.match(info.name) is None)


def _dtype(file: str, info: TensorInfo) -> DType:
    dtype = BY_GGML_ID.get(info.ggml_type)
    if dtype is not None:
        return dtype
    retired = RETIRED_GGML_IDS.get(info.ggml_type)
    if retired:
        raise DTypeError(file, f"tensor {info.name!r} uses ggml type {info.ggml_type} ({retired}), "
                         "which llama.cpp has removed", info.ggml_type, "a current ggml type")
    raise DTypeError(file, f"tensor {info.name!r} has an unknown ggml type", info.ggml_type,
                     f"one of {min(BY_GGML_ID)}..{max(BY_GGML_ID)}")


def _n_elements(file: str, info: TensorInfo) -> int:
    """ne values are int64 in ggml: each must be ≥ 0 (0 is an empty tensor, as gguf.cpp allows) and
    their product must fit in int64."""
    for axis, n in enumerate(info.ne):
        if n > INT64_MAX:
            raise ShapeError(file, f"tensor {info.name!r} dimension {axis} is negative as int64",
                             n, f"0..{INT64_MAX}")
    n_elements = math.prod(info.ne)
    if n_elements > INT64_MAX:
        raise ShapeError(file, f"tensor {info.name!r} element count overflows int64",
                         f"{' x '.join(map(str, info.ne))} = {n_elements}", f"at most {INT64_MAX}")
    return n_elements


def _check_overlaps(file: str, tensors: tuple[Tensor, ...]) -> None:
    """Data regions must not overlap (gguf.cpp goes further and wants them packed in header order;
    gaps are harmless for counting, so they are allowed here)."""
    ordered = sorted((t for t in tensors if t.nbytes), key=lambda t: t.offset or 0)
    for before, after in itertools.pairwise(ordered):
        end = (before.offset or 0) + before.nbytes
        if (after.offset or 0) < end:
            raise OffsetError(file, f"tensors {before.name!r} and {after.name!r} overlap",
                              f"{after.name!r} starts at {after.offset}", f"at or after {end}")


def _split_names(name: str, label: str, first: GGUFFile) -> list[str]:
    """All split names when ``name`` is one split of several, else []. The name pattern finds the
    siblings; split.count (gguf-split, 1-based total) must agree with it."""
    declared = _split_key(first, "split.count")
    folder, _, base = name.rpartition("/")
    match = SPLIT_NAME.match(base)
    if match is None:
        if declared is not None and declared > 1:
            raise SourceError(f"{label}: split {_split_no(first)} of {declared} (split.count), but its "
                              "name is not NAME-0000N-of-0000M.gguf, so the other splits cannot be found")
        return []
    count = int(match["count"])
    if declared is None or count <= 1:
        return []
    if declared != count:
        raise HeaderError(label, "split.count disagrees with the file name", declared, count)
    prefix = f"{folder}/" if folder else ""
    return [f"{prefix}{match['prefix']}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


def _split_key(f: GGUFFile, key: str) -> int | None:
    """A split.* key: an integer when present (gguf-split writes u16/i32)."""
    value = f.metadata.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise HeaderError(f.path, f"{key} must be an integer", TYPE_NAMES.get(f.value_types[key]), "u16")
    return value


def _check_present(folder: Folder, label: str, names: list[str]) -> None:
    missing = [n.rpartition("/")[2] for n in names if not folder.has(n)]
    if missing:
        raise SourceError(f"{label}: split model is missing {len(missing)} of its {len(names)} files: "
                          f"{and_more(missing)}")


def _split_no(f: GGUFFile) -> int | str:
    no = _split_key(f, "split.no")
    return "?" if no is None else no + 1


def _check_splits(label: str, labels: list[str], files: list[GGUFFile]) -> None:
    """Each split knows its place (split.no, 0-based) and the first knows the total tensor count."""
    for i, (p, f) in enumerate(zip(labels, files, strict=True)):
        no = _split_key(f, "split.no")
        if no is not None and no != i:
            raise HeaderError(p, "split.no disagrees with the file name", no, i)
    expected = _split_key(files[0], "split.tensors.count")
    found = sum(len(f.tensors) for f in files)
    if expected is not None and expected != found:
        raise HeaderError(label, "the splits hold a different number of tensors than split.tensors.count",
                          found, expected)


def _first_duplicate(tensors: tuple[Tensor, ...]) -> str:
    seen: set[str] = set()
    for t in tensors:
        if t.name in seen:
            return repr(t.name)
        seen.add(t.name)
    return "?"
