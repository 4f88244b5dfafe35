"""safetensors files written by hand (any dtype, sparse data) and the library's view of a file."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from safetensors import safe_open

# Bits per element, written out from the safetensors spec (Dtype::bitsize in tensor.rs), independently
# of paramscope's dtype table so that the two can disagree.
SPEC_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "I64": 64, "I32": 32, "I16": 16, "I8": 8,
             "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8, "F8_E4M3": 8, "F8_E5M2": 8,
             "F8_E8M0": 8, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
         "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
         "U8": np.uint8, "BOOL": np.bool_}

TensorSpec = tuple[str, Sequence[int]]  # (dtype name, shape)


def spec_nbytes(dtype: str, shape: Sequence[int]) -> int:
    return math.prod(shape) * SPEC_BITS[dtype] // 8


def header_json(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> dict:
    """A header with the tensors laid out contiguously in the given order."""
    header: dict = {} if metadata is None else {"__metadata__": dict(metadata)}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = spec_nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    return header


def write_raw(path: Path, header: bytes | dict, data: bytes | int = b"", n: int | None = None) -> Path:
    """Exact bytes: u64 N (the real length unless ``n``), the header, then ``data`` (or that many
    zero bytes as a sparse tail)."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write((len(raw) if n is None else n).to_bytes(8, "little") + raw)
        if isinstance(data, int):
            f.truncate(8 + len(raw) + data)
        else:
            f.write(data)
    return path


def write_safetensors(path: Path, tensors: Mapping[str, TensorSpec],
                      metadata: Mapping[str, str] | None = None) -> Path:
    """A valid file written by hand (any dtype, numpy-expressible or not), data zero and sparse."""
    header = header_json(tensors, metadata)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return write_raw(path, raw, sum(spec_nbytes(d, s) for d, s in tensors.values()))


def write_sharded(folder: Path, shards: Sequence[Mapping[str, TensorSpec]],
                  total_size: object = "auto") -> Path:
    """Shards model-0000i-of-0000n.safetensors and their index; returns the index path."""
    weight_map = {}
    total = 0
    for i, tensors in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(folder / name, tensors)
        weight_map.update({t: name for t in tensors})
        total += sum(spec_nbytes(d, s) for d, s in tensors.values())
    meta = {} if total_size is None else {"total_size": total if total_size == "auto" else total_size}
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": meta, "weight_map": weight_map}))
    return index


def library_view(path: Path) -> tuple[dict[str, tuple[str, list[int]]], dict[str, str] | None, list]:
    """What the safetensors library sees: {name: (dtype, shape)}, __metadata__, names by offset."""
    with safe_open(path, framework="numpy") as f:
        keys = f.keys()
        view = {k: (f.get_slice(k).get_dtype(), list(f.get_slice(k).get_shape())) for k in keys}
        return view, f.metadata(), list(f.offset_keys())


def our_view(tensors) -> dict[str, tuple[str, list[int]]]:
    return {t.name: (t.dtype.value, list(t.shape)) for t in tensors}


# safetensors' own writer (safetensors/src/tensor.rs ``prepare`` and ``serialize``): tensors laid out by
# dtype, the latest-declared ``Dtype`` first (widest alignment), then by name; the header is compact JSON
# with ``__metadata__`` first, padded with spaces to a multiple of 8. Declaration order of ``Dtype``:
WRITER_DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16",
                      "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # serde_json's output


def writer_header(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> bytes:
    """The header bytes safetensors' writer (``save_file``) produces for these tensors, without their data."""
    order = sorted(tensors, key=lambda n: (-WRITER_DTYPE_ORDER.index(tensors[n][0]), n))
    entries = [] if metadata is None else [f'"__metadata__":{_compact(dict(metadata))}']
    offset = 0
    for name in order:
        dtype, shape = tensors[name]
        n = spec_nbytes(dtype, shape)
        info = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        entries.append(f"{_compact(name)}:{_compact(info)}")
        offset += n
    raw = ("{" + ",".join(entries) + "}").encode()
    return raw + b" " * (-len(raw) % 8)


def writer_file_size(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> int:
    """Bytes of the file safetensors' writer produces: u64 length, header, data."""
    return 8 + len(writer_header(tensors, metadata)) + sum(spec_nbytes(d, s) for d, s in tensors.values())


MINILM_PARAMS = 22_713_216  # 22,713,728 stored elements − the 512-element int64 position_ids buffer

