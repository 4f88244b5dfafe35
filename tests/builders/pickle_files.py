"""Pickle streams and PyTorch checkpoints built byte by byte in torch's own layout.

torch/serialization.py ``_save``: a zip of ``ARCHIVE/data.pkl`` in pickle protocol 2 and one stored member
per storage; ``_legacy_save``: five pickles and raw storages. The emitter writes the opcodes of CPython's
Lib/pickletools.py the way torch's Pickler(protocol=2) lays them out.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paramscope.formats import pytorch
from paramscope.model.dtypes import DType

# ---------------------------------------------------------------------------------------------------
# a pickle emitter: the opcodes of CPython's Lib/pickletools.py, laid out as torch's Pickler(protocol=2)
# lays them out, for any value built from the records below


@dataclass(frozen=True)
class G:
    """GLOBAL module name."""

    module: str
    name: str


@dataclass(frozen=True)
class R:
    """func(*args) through REDUCE."""

    func: Any
    args: tuple


@dataclass(frozen=True)
class Pid:
    """A persistent id (BINPERSID)."""

    value: Any


@dataclass(frozen=True)
class OD:
    """collections.OrderedDict() then SETITEMS, as OrderedDict.__reduce__ pickles."""

    items: tuple[tuple[Any, Any], ...] = ()


@dataclass(frozen=True)
class Put:
    """The value, then BINPUT into memo slot ``index`` (``Raw(b"h" + index)`` gets it back)."""

    value: Any
    index: int


@dataclass(frozen=True)
class Raw:
    """Opcodes written as they are."""

    data: bytes


def dumps(value: Any, protocol: int = 2) -> bytes:
    out = bytearray(b"\x80" + bytes([protocol]))
    _emit(value, out)
    return bytes(out + b".")


def _emit(v: Any, out: bytearray) -> None:
    if isinstance(v, Raw):
        out += v.data
    elif v is None:
        out += b"N"
    elif v is True or v is False:
        out += b"\x88" if v else b"\x89"
    elif isinstance(v, int):
        _emit_int(v, out)
    elif isinstance(v, float):
        out += b"G" + struct.pack(">d", v)
    elif isinstance(v, str):
        raw = v.encode("utf-8", "surrogatepass")
        out += b"X" + struct.pack("<I", len(raw)) + raw
    elif isinstance(v, bytes):
        out += b"C" + bytes([len(v)]) + v if len(v) < 256 else b"B" + struct.pack("<I", len(v)) + v
    elif isinstance(v, tuple):
        _emit_tuple(v, out)
    elif isinstance(v, list):
        out += b"]("
        for x in v:
            _emit(x, out)
        out += b"e"
    elif isinstance(v, dict | OD):
        out += b"}(" if isinstance(v, dict) else b"ccollections\nOrderedDict\n)R("
        for k, x in (v.items() if isinstance(v, dict) else v.items):
            _emit(k, out)
            _emit(x, out)
        out += b"u"
    elif isinstance(v, G):
        out += f"c{v.module}\n{v.name}\n".encode()
    elif isinstance(v, R):
        _emit(v.func, out)
        _emit(v.args, out)
        out += b"R"
    elif isinstance(v, Pid):
        _emit(v.value, out)
        out += b"Q"
    elif isinstance(v, Put):
        _emit(v.value, out)
        out += b"q" + bytes([v.index])
    else:
        raise TypeError(type(v))


def _emit_int(v: int, out: bytearray) -> None:
    if 0 <= v < 256:
        out += b"K" + bytes([v])
    elif 0 <= v < 65536:
        out += b"M" + struct.pack("<H", v)
    elif -(2**31) <= v < 2**31:
        out += b"J" + struct.pack("<i", v)
    else:
        raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
        out += b"\x8a" + bytes([len(raw)]) + raw


def _emit_tuple(v: tuple, out: bytearray) -> None:
    if not v:
        out += b")"
        return
    if len(v) > 3:
        out += b"("
    for x in v:
        _emit(x, out)
    out += b"t" if len(v) > 3 else bytes([0x84 + len(v)])


# ---------------------------------------------------------------------------------------------------
# torch's layout

STORAGE_OF = {DType.F32: "FloatStorage", DType.F16: "HalfStorage", DType.BF16: "BFloat16Storage",
              DType.F64: "DoubleStorage", DType.I64: "LongStorage", DType.I32: "IntStorage",
              DType.I16: "ShortStorage", DType.I8: "CharStorage", DType.U8: "ByteStorage",
              DType.BOOL: "BoolStorage"}
REBUILD_V2 = G("torch._utils", "_rebuild_tensor_v2")


def storage(key: str, dtype: DType, numel: int, location: str = "cpu") -> Pid:
    return Pid(("storage", G("torch", STORAGE_OF[dtype]), key, location, numel))


def legacy_storage(key: str, dtype: DType, numel: int) -> Pid:
    """_legacy_save's persistent id adds a sixth field, the (pre-0.4) storage view: None."""
    return Pid(("storage", G("torch", STORAGE_OF[dtype]), key, "cpu", numel, None))


def contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def tensor(st_: Pid, shape: tuple[int, ...], stride: tuple[int, ...] | None = None, offset: int = 0,
           rebuild: G = REBUILD_V2, requires_grad: Any = False, hooks: Any = OD()) -> R:
    return R(rebuild, (st_, offset, shape, contiguous(shape) if stride is None else stride, requires_grad,
                       hooks))


def write_zip(path: Path, pickle_bytes: bytes, storages: dict[str, bytes], archive: str = "archive",
              pkl_method: int = zipfile.ZIP_STORED) -> Path:
    """torch.save's members in its order; data stored (torch aligns them to 64 bytes; readers need not)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(f"{archive}/data.pkl"), pickle_bytes, compress_type=pkl_method)
        z.writestr(f"{archive}/byteorder", "little")
        for key, data in storages.items():
            z.writestr(f"{archive}/data/{key}", data)
        z.writestr(f"{archive}/version", "3\n")
    return path


def write_legacy(path: Path, obj: Any, storages: dict[str, tuple[int, bytes]]) -> Path:
    """torch/serialization.py _legacy_save: magic, protocol, sys info, object, keys, then storages."""
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    keys = sorted(storages)
    data = (dumps(pytorch.LEGACY_MAGIC) + dumps(1001) + dumps(sys_info) + dumps(obj) + dumps(keys))
    for key in keys:
        numel, raw = storages[key]
        data += struct.pack("<q", numel) + raw
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class Spec:
    name: str
    dtype: DType
    shape: tuple[int, ...]


def state_dict_checkpoint(path: Path, specs: list[Spec], wrap: str | None = None) -> Path:
    """One storage per tensor, contents 0, 1, 2 … as bytes, the way a fresh state dict is saved."""
    items, storages = [], {}
    for i, s in enumerate(specs):
        n = 1
        for d in s.shape:
            n *= d
        storages[str(i)] = bytes(x % 251 for x in range(n * s.dtype.type_size))
        items.append((s.name, tensor(storage(str(i), s.dtype, n), s.shape)))
    obj: Any = OD(tuple(items))
    if wrap:
        obj = {"epoch": 1, wrap: obj, "optimizer": {"lr": 0.1}}
    return write_zip(path, dumps(obj), storages)


# checkpoints built here

SPECS = [Spec("embeddings.word_embeddings.weight", DType.F32, (30, 8)), Spec("encoder.bias", DType.F16, (8,)),
         Spec("encoder.norm.weight", DType.BF16, (8,)), Spec("position_ids", DType.I64, (1, 16)),
         Spec("mask", DType.BOOL, (2, 2)), Spec("codes", DType.U8, (5,)), Spec("counts", DType.I32, (3,)),
         Spec("wide", DType.F64, (2,)), Spec("tiny", DType.I8, (1,)), Spec("short", DType.I16, (2, 1)),
         Spec("empty", DType.F32, (0, 4)), Spec("scalar", DType.F32, ())]



def one_tensor_checkpoint(path: Path, extra_after_stop: bytes = b"") -> Path:
    """One F32 (2, 2) tensor "w"; ``extra_after_stop`` is appended to data.pkl after its STOP."""
    obj = OD((("w", tensor(storage("0", DType.F32, 4), (2, 2))),))
    return write_zip(path, dumps(obj) + extra_after_stop, {"0": bytes(16)})
