"""PyTorch checkpoints (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) read without running their pickle.

``torch.save`` (torch/serialization.py ``_save``) writes a zip archive: ``ARCHIVE/data.pkl`` (the object,
pickle protocol 2), one member ``ARCHIVE/data/KEY`` per storage (raw bytes, 64-byte aligned, stored),
``ARCHIVE/byteorder``, ``ARCHIVE/version``. In the pickle a tensor is
``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks)`` and
a storage is a persistent id ``("storage", torch.FloatStorage, KEY, LOCATION, NUMEL)``.
Before torch 1.6 (``_use_new_zipfile_serialization=False``, ``_legacy_save``) the file is five pickles in
a row (magic number, protocol version, sys info, the object, the list of storage keys) and then each
storage as an 8-byte little-endian element count followed by its bytes, in key order.

The pickle runs on ``pickle_vm``: nothing is imported or called, tensors become records, and every
global the file names is kept in ``metadata["pickle_globals"]`` for the safety verdict
(analyses/safety/pickle_safety.py). Nested state dicts (``{"state_dict": …}``) are unwrapped; a tensor that
lies inside another's bytes of the same storage (a view, a tied weight) is counted once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from paramscope.errors import (
    DTypeError,
    HeaderError,
    OffsetError,
    ShapeError,
    TruncatedError,
    UnsupportedError,
    and_more,
)
from paramscope.formats import pickle_vm as vm
from paramscope.formats import zipfile_safe
from paramscope.knowledge.packing import apply_packing
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import record
from paramscope.sources.local import LocalFile

NAME = "pytorch"
SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
MAX_PICKLE_BYTES = 256 << 20  # the largest real data.pkl files are a few MB
FIRST_WINDOW = 1 << 20  # legacy files: the pickles are read in a growing window, never the storages
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # PROTOCOL_VERSION
TAR_MAGIC_AT = 257  # POSIX tar "ustar" (the pre-0.4 torch.save format is a tar archive)
MAX_WALK_DEPTH = 256
LIMITS = vm.Limits()
# Keys under which training scripts nest the model's weights (Lightning "state_dict", DeepSpeed and
# timm "module"/"model", fairseq "model", torchvision references "model"), tried in this order.
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights")
# Attribute dicts of a pickled nn.Module (torch.save(model)): dropped from tensor names.
MODULE_ATTRS = ("_parameters", "_buffers", "_modules")

# torch storage classes (torch/storage.py _dtype_to_storage_type_map) and dtypes (str(torch.float32)).
STORAGE_DTYPES: dict[str, DType] = {
    "DoubleStorage": DType.F64, "FloatStorage": DType.F32, "HalfStorage": DType.F16,
    "BFloat16Storage": DType.BF16, "LongStorage": DType.I64, "IntStorage": DType.I32,
    "ShortStorage": DType.I16, "CharStorage": DType.I8, "ByteStorage": DType.U8,
    "BoolStorage": DType.BOOL, "ComplexFloatStorage": DType.C64,
}
STORAGE_MODULES = ("torch", "torch.cuda")
UNTYPED_STORAGE = ("torch.storage", "UntypedStorage")  # bytes; the tensor's dtype comes with it (v3)
TORCH_DTYPES: dict[str, DType] = {
    "float64": DType.F64, "double": DType.F64, "float32": DType.F32, "float": DType.F32,
    "float16": DType.F16, "half": DType.F16, "bfloat16": DType.BF16,
    "int64": DType.I64, "long": DType.I64, "int32": DType.I32, "int": DType.I32,
    "int16": DType.I16, "short": DType.I16, "int8": DType.I8, "uint8": DType.U8, "bool": DType.BOOL,
    "uint16": DType.U16, "uint32": DType.U32, "uint64": DType.U64, "complex64": DType.C64,
    "cfloat": DType.C64, "float8_e4m3fn": DType.F8_E4M3, "float8_e5m2": DType.F8_E5M2,
    "float8_e4m3fnuz": DType.F8_E4M3FNUZ, "float8_e5m2fnuz": DType.F8_E5M2FNUZ,
    "float8_e8m0fnu": DType.F8_E8M0,
}


# --- records the pickle turns into ----------------------------------------------------------------

@record
class StorageRef:
    key: str
    dtype: DType | None  # None: a typed storage of a dtype we do not know (named in ``type_name``)
    numel: int  # elements of ``dtype`` (bytes for an untyped storage)
    location: str
    type_name: str


@dataclass(eq=False, slots=True)
class TensorRecord:
    storage: StorageRef
    offset: int  # in elements of ``dtype``
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: DType | None
    parameter: bool = False  # rebuilt through _rebuild_parameter


def sniff(head: bytes, path: Path) -> bool:
    """A zip whose first member is ``…/data.pkl``, a pickle (PROTO opcode), or a checkpoint by name."""
    if zipfile_safe.is_zip(head):
        return (zipfile_safe.first_member_name(head).endswith("data.pkl")
                or Path(path).suffix.lower() in SUFFIXES)
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= vm.HIGHEST_PROTOCOL:
        return True
    return Path(path).suffix.lower() in SUFFIXES  # protocol-0 pickles start with any opcode


def read(path: Path) -> Model:
    """The checkpoint's tensors (headers only) with every global its pickle names in the metadata."""
    path = Path(path)
    with LocalFile(path) as f:
        tensors, metadata = _read_zip(f) if _is_zip(f) else _read_legacy(f)
    from paramscope.formats.hf_json import quantization_config_of
    from paramscope.knowledge.quant_configs import from_weights

    qc = quantization_config_of(path.parent)
    tensors = apply_packing(tensors, qc, str(path))
    return Model(format=NAME, source=str(path), tensors=tensors, metadata=metadata, files=(str(path),),
                 quantization=from_weights(qc, [t.name for t in tensors]))


def read_globals(path: Path) -> tuple[vm.GlobalUse, ...]:
    """Every global the pickle names, for the safety scan: no storage is looked at.

    A pickle that breaks off raises ``pickle_vm.PickleError`` carrying the globals named before the
    break, which a real unpickler would already have imported.
    """
    with LocalFile(Path(path)) as f:
        if _is_zip(f):
            archive = zipfile_safe.open_archive(f)
            data = archive.read(f, _data_pkl(f.name, archive)[0], MAX_PICKLE_BYTES)
            return _run_pickle(f.name, data, {}).references
        return legacy_pickles(f).references


def _is_zip(f: LocalFile) -> bool:
    head = f.head(TAR_MAGIC_AT + 8)
    if head[TAR_MAGIC_AT:TAR_MAGIC_AT + 5] == b"ustar":
        raise UnsupportedError(f"{f.name}: a tar-format checkpoint (torch.save before 0.4) is not read; "
                               "re-save it with a current torch")
    return zipfile_safe.is_zip(head)


# --- zip format -----------------------------------------------------------------------------------

def _read_zip(f: LocalFile) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
    archive = zipfile_safe.open_archive(f)
    pkl_name, prefix = _data_pkl(f.name, archive)
    pickled = _run_pickle(f.name, archive.read(f, pkl_name, MAX_PICKLE_BYTES), {})
    metadata = _metadata(pickled)
    byteorder = prefix + "byteorder"
    if byteorder in archive.members:
        metadata["byteorder"] = archive.read(f, byteorder, 16).decode("ascii", "replace")
    found = _find_tensors(f.name, pickled.value, metadata)

    def locate(storage: StorageRef) -> tuple[int | None, int]:
        member = archive.members.get(f"{prefix}data/{storage.key}")
        if member is None:
            raise HeaderError(f.name, f"storage {storage.key} is missing",
                              f"no member {prefix}data/{storage.key}")
        stored = member.method == zipfile_safe.STORED
        return (member.data_offset if stored else None), member.size

    return _tensors(f.name, found, locate, metadata), metadata


def _data_pkl(file: str, archive: zipfile_safe.Archive) -> tuple[str, str]:
    """The one ``ARCHIVE/data.pkl`` (torch's reader takes the archive name from it) and its prefix."""
    names = [n for n in archive.members if n == "data.pkl" or n.endswith("/data.pkl")]
    top = [n for n in names if n.count("/") <= 1]
    if not top:
        raise HeaderError(file, "zip archive has no data.pkl, so it is not a torch.save checkpoint",
                          and_more(list(archive.members)), "ARCHIVE/data.pkl")
    if len(top) > 1:
        raise HeaderError(file, "zip archive has more than one data.pkl", and_more(top), "exactly one")
    return top[0], top[0][: -len("data.pkl")]


def _run_pickle(file: str, data: bytes, storages: dict[str, StorageRef], start: int = 0) -> vm.Result:
    """One pickle on the restricted machine; every storage it names is collected in ``storages``."""
    def persistent_load(pid: Any) -> Any:
        ref = _storage(file, pid)
        if isinstance(ref, StorageRef):
            storages.setdefault(ref.key, ref)
        return ref

    return vm.run(data, file, start, limits=LIMITS, calls=TORCH_CALLS, persistent_load=persistent_load)


def _storage(file: str, pid: Any) -> Any:
    """``("storage", TYPE, KEY, LOCATION, NUMEL)`` (zip) or the legacy form with a 6th view field."""
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
            and isinstance(pid[1], vm.Global) and isinstance(pid[2], str) and type(pid[4]) is int):
        return vm.PersistentRef(pid)
    if len(pid) == 6 and pid[5] is not None:
        raise UnsupportedError(f"{file}: storage {pid[2]} is a legacy storage view (torch < 0.4)")
    kind: vm.Global = pid[1]
    if pid[4] < 0:
        raise ShapeError(file, f"storage {pid[2]} has a negative size", pid[4])
    if (kind.module, kind.name) == UNTYPED_STORAGE:
        dtype: DType | None = DType.U8
    elif kind.module in STORAGE_MODULES and kind.name.endswith("Storage"):
        dtype = STORAGE_DTYPES.get(kind.name)
    else:
        return vm.PersistentRef(pid)
    return StorageRef(pid[2], dtype, pid[4], str(pid[3]), kind.qualname)


# --- legacy format --------------------------------------------------------------------------------

def _read_legacy(f: LocalFile) -> tuple[tuple[Tensor, ...], dict[str, Any]]:
    legacy = legacy_pickles(f)
    metadata = _metadata(legacy.pickled)
    if legacy.keys is None:
        metadata["warnings"] = ["a plain pickle, not written by torch.save: no tensors read from it"]
        return (), metadata
    found = _find_tensors(f.name, legacy.pickled.value, metadata)
    offsets = legacy_storages(f, legacy)
    return _tensors(f.name, found, lambda s: offsets[s.key], metadata), metadata


@record
class Legacy:
    pickled: vm.Result  # the object
    keys: list[str] | None  # storage keys in file order; None for a plain (non-torch) pickle
    data_start: int  # where the first storage starts
    storages: dict[str, StorageRef]
    references: tuple[vm.GlobalUse, ...]  # of all five pickles


def legacy_pickles(f: LocalFile) -> Legacy:
    window = min(f.size, FIRST_WINDOW)
    while True:
        data = f.read(0, window, "the pickle")
        try:
            return _legacy_sequence(f.name, data)
        except vm.PickleTruncated:
            if window >= min(f.size, MAX_PICKLE_BYTES):
                raise
            window = min(f.size, MAX_PICKLE_BYTES, window * 4)


def _legacy_sequence(file: str, data: bytes) -> Legacy:
    """torch/serialization.py _legacy_save: magic, protocol version, sys info, object, storage keys."""
    first = vm.run(data, file, limits=LIMITS)
    if first.value != LEGACY_MAGIC:
        storages: dict[str, StorageRef] = {}
        plain = _run_pickle(file, data, storages)
        return Legacy(plain, None, plain.end, storages, plain.references)
    version = vm.run(data, file, first.end, limits=LIMITS)
    if version.value != LEGACY_PROTOCOL:
        raise UnsupportedError(f"{file}: legacy torch.save protocol version {_describe(version.value)} "
                               f"(expected {LEGACY_PROTOCOL})")
    sys_info = vm.run(data, file, version.end, limits=LIMITS)
    storages = {}
    obj = _run_pickle(file, data, storages, sys_info.end)
    keys = vm.run(data, file, obj.end, limits=LIMITS)
    refs = {(u.module, u.name): u for r in (first, version, sys_info, obj, keys) for u in r.references}
    if not isinstance(keys.value, list) or not all(isinstance(k, str) for k in keys.value):
        error = vm.PickleError(file, "legacy checkpoint's storage key list is not a list of strings",
                               _describe(keys.value))
        error.references = tuple(refs.values())  # the scan still judges what the pickles named
        raise error
    return Legacy(obj, keys.value, keys.end, storages, tuple(refs.values()))


def legacy_storages(f: LocalFile, legacy: Legacy) -> dict[str, tuple[int, int]]:
    """Each storage's (data offset, bytes): an int64 element count, then the elements, in key order."""
    out: dict[str, tuple[int, int]] = {}
    pos = legacy.data_start
    for key in legacy.keys or ():
        storage = legacy.storages.get(key)
        if storage is None:
            raise HeaderError(f.name, f"storage {key} is listed but the pickle never names it")
        numel = int.from_bytes(f.read(pos, 8, f"size of storage {key}"), "little", signed=True)
        if numel < 0:
            raise ShapeError(f.name, f"storage {key} has a negative size", numel)
        nbytes = numel * _element_size(storage)
        if pos + 8 + nbytes > f.size:
            raise TruncatedError(f.name, f"file ends inside storage {key}", f"{f.size} bytes",
                                 f"at least {pos + 8 + nbytes}")
        out[key] = (pos + 8, nbytes)
        pos += 8 + nbytes
    missing = [k for k in legacy.storages if k not in out]
    if missing:
        raise HeaderError(f.name, "storage is missing", f"no data for {and_more(missing)}")
    return out


# --- from records to tensors ----------------------------------------------------------------------

def _metadata(p: vm.Result | Legacy) -> dict[str, Any]:
    protocol = p.pickled.protocol if isinstance(p, Legacy) else p.protocol
    return {"pickle_protocol": protocol,
            "pickle_globals": [{"module": u.module, "name": u.name, "count": u.count, "calls": u.calls}
                               for u in p.references]}


def _find_tensors(file: str, root: Any, metadata: dict[str, Any]) -> list[tuple[str, TensorRecord]]:
    """Tensors under the model's state dict, named by their dotted paths, each record once."""
    root, path = _unwrap(root)
    if path:
        metadata["state_dict_path"] = path
    found: list[tuple[str, TensorRecord]] = []
    seen: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, value in _walk(file, root):
        if isinstance(value, TensorRecord):
            if id(value) in seen:
                aliases[name] = seen[id(value)]
            else:
                seen[id(value)] = name
                found.append((name, value))
        elif isinstance(value, vm.Call) and _is_tensor_call(value):
            raise HeaderError(file, f"tensor {name or '(root)'} is rebuilt from arguments that are not a "
                              "storage, offset, shape and stride", _describe(value.args))
    unknown = [f"{n} ({t.storage.type_name})" for n, t in found if t.dtype is None]
    if unknown:
        raise DTypeError(file, "tensor stored in a type paramscope does not read", and_more(unknown))
    if aliases:
        metadata["aliases"] = aliases
    return found


def _unwrap(root: Any) -> tuple[Any, str]:
    """The state dict inside ``{"state_dict": {...}}`` and the like; the path taken, dotted."""
    path: list[str] = []
    while isinstance(root, vm.PDict) and len(path) < 8:
        key = next((k for k in WRAPPER_KEYS if isinstance(root.entries.get(k), vm.PDict | vm.Call)
                    and _holds_tensor(root.entries[k])), None)
        if key is None:
            break
        path.append(key)
        root = root.entries[key]
    return root, ".".join(path)


def _holds_tensor(value: Any) -> bool:
    return any(isinstance(v, TensorRecord) for _, v in _walk("", value))


def _walk(file: str, root: Any) -> Iterator[tuple[str, Any]]:
    """(dotted name, leaf) for every leaf under ``root``, each container visited once, iteratively."""
    todo: list[tuple[str, Any, int]] = [("", root, 0)]
    visited: set[int] = set()
    while todo:
        name, value, depth = todo.pop()
        children = _children(value)
        if children is None:
            yield name, value
            continue
        if id(value) in visited:
            continue
        visited.add(id(value))
        if depth >= MAX_WALK_DEPTH:
            raise HeaderError(file, "pickled object nests deeper than the limit",
                              f"more than {MAX_WALK_DEPTH} levels", f"at most {MAX_WALK_DEPTH}")
        todo.extend((_join(name, key), child, depth + 1) for key, child in reversed(children))


def _children(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, vm.PDict):
        return [(str(k), v) for k, v in value.entries.items()]
    if isinstance(value, list | tuple):
        return [(str(i), v) for i, v in enumerate(value)]
    if isinstance(value, vm.Call) and not _is_tensor_call(value):
        state = value.state
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = state[0]
        return [("", state)] if isinstance(state, vm.PDict) else []
    return None


def _join(prefix: str, key: str) -> str:
    if key in MODULE_ATTRS or key == "":
        return prefix
    return f"{prefix}.{key}" if prefix else key


def _is_tensor_call(call: vm.Call) -> bool:
    f = call.func
    return isinstance(f, vm.Global) and (f.module, f.name) in TENSOR_CALLS


def _storages_by_key(found: list[tuple[str, TensorRecord]]) -> dict[str, StorageRef]:
    return {t.storage.key: t.storage for _, t in found}


def _element_size(storage: StorageRef) -> int:
    return storage.dtype.type_size if storage.dtype else 1


def _tensors(file: str, found: list[tuple[str, TensorRecord]],
             locate: Callable[[StorageRef], tuple[int | None, int]],
             metadata: dict[str, Any]) -> tuple[Tensor, ...]:
    """Checked ``Tensor`` records, in file order; a tensor inside another's bytes is left out."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    kept: dict[int, Tensor] = {}
    views: dict[str, str] = {}
    for i in sorted(range(len(found)), key=lambda i: -_span_bytes(found[i][1])):  # largest first
        name, t = found[i]
        data_offset, storage_bytes = locate(t.storage)
        start, end = _check_tensor(file, name, t, storage_bytes)
        owner = next((n for s, e, n in spans.get(t.storage.key, ()) if s <= start < end <= e), None)
        if owner is not None:
            views[name] = owner
            continue
        spans.setdefault(t.storage.key, []).append((start, end, name))
        dtype = t.dtype or DType.U8
        kept[i] = Tensor(name, t.shape, dtype, dtype.nbytes(math.prod(t.shape)),
                         None if data_offset is None else data_offset + start, file)
    if views:
        metadata["views"] = views
        metadata.setdefault("warnings", []).append(
            "tensors inside another tensor's bytes (views, tied weights) are counted once: "
            + and_more([f"{a} (in {b})" for a, b in views.items()]))
    return tuple(kept[i] for i in range(len(found)) if i in kept)


def _span_bytes(t: TensorRecord) -> int:
    size = t.dtype.type_size if t.dtype else 1
    return _extent(t) * size


def _extent(t: TensorRecord) -> int:
    """Elements of storage a strided tensor reaches: 1 + Σ (size_i − 1) × stride_i, 0 when empty."""
    if any(s == 0 for s in t.shape):
        return 0
    return 1 + sum((s - 1) * st for s, st in zip(t.shape, t.stride, strict=True))


def _check_tensor(file: str, name: str, t: TensorRecord, storage_bytes: int) -> tuple[int, int]:
    """The tensor's byte range in its storage, after checking shape, stride and offset."""
    if len(t.shape) != len(t.stride):
        raise ShapeError(file, f"tensor {name} has a shape and stride of different lengths",
                         f"{len(t.shape)} and {len(t.stride)}")
    if any(s < 0 for s in t.shape) or any(s < 0 for s in t.stride) or t.offset < 0:
        raise ShapeError(file, f"tensor {name} has a negative size, stride or offset",
                         f"shape {t.shape}, stride {t.stride}, offset {t.offset}", "non-negative values")
    declared = t.storage.numel * _element_size(t.storage)
    if storage_bytes < declared:
        raise TruncatedError(file, f"storage {t.storage.key} of tensor {name} is shorter than declared",
                             f"{storage_bytes} bytes", f"{declared}")
    size = t.dtype.type_size if t.dtype else 1
    start, end = t.offset * size, (t.offset + _extent(t)) * size
    if _extent(t) and end > declared:
        raise OffsetError(file, f"tensor {name} reaches past the end of its storage {t.storage.key}",
                          f"ends at byte {end}", f"at most {declared}")
    return start, end


def _describe(value: Any) -> str:
    """A short, safe description of a pickled value for an error message (never its full repr)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_describe(v) for v in value[:4]) + (", …" if len(value) > 4 else "") + ")"
    if isinstance(value, vm.Call):
        return f"call of {_describe(value.func)}"
    if isinstance(value, vm.Global):
        return value.qualname
    if isinstance(value, int | float | bool) or value is None:
        return repr(value)[:20]
    return type(value).__name__


# --- torch's rebuild functions, as data ------------------------------------------------------------

def _ints(value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(v) is int for v in value):
        raise vm.NotHandled
    return value


def _tensor(args: Any, dtype: DType | None = None) -> TensorRecord:
    """_rebuild_tensor(storage, storage_offset, size, stride, …) and its v2/v3 forms."""
    if not isinstance(args, tuple) or len(args) < 4 or not isinstance(args[0], StorageRef):
        raise vm.NotHandled
    storage, offset = args[0], args[1]
    if type(offset) is not int:
        raise vm.NotHandled
    return TensorRecord(storage, offset, _ints(args[2]), _ints(args[3]), dtype or storage.dtype)


def _tensor_v3(args: Any) -> TensorRecord:
    """v3 adds the dtype (7th argument) for storages torch saves untyped (float8, uint16, …)."""
    if not isinstance(args, tuple) or len(args) < 7 or not isinstance(args[6], vm.Global):
        raise vm.NotHandled
    g: vm.Global = args[6]
    dtype = TORCH_DTYPES.get(g.name) if g.module == "torch" else None
    if dtype is None:
        raise vm.NotHandled
    return _tensor(args, dtype)


def _parameter(args: Any) -> TensorRecord:
    """_rebuild_parameter(data, requires_grad, hooks[, state]) and Parameter(data[, requires_grad])."""
    if not isinstance(args, tuple) or not args or not isinstance(args[0], TensorRecord):
        raise vm.NotHandled
    return replace(args[0], parameter=True)


def _from_type(args: Any) -> Any:
    """torch._tensor._rebuild_from_type_v2(func, new_type, args, state): a tensor subclass."""
    if not isinstance(args, tuple) or len(args) != 4 or not isinstance(args[0], vm.Global):
        raise vm.NotHandled
    handler = TORCH_CALLS.get((args[0].module, args[0].name))
    if handler is None or handler is _from_type:
        raise vm.NotHandled
    return handler(args[2])


def _size(args: Any) -> tuple[int, ...]:
    if isinstance(args, tuple) and len(args) == 1:
        return _ints(args[0])
    raise vm.NotHandled


def _text_arg(args: Any) -> str:
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    raise vm.NotHandled


TENSOR_CALLS: dict[tuple[str, str], vm.CallHandler] = {
    ("torch._utils", "_rebuild_tensor"): _tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _from_type,
    ("torch.nn.parameter", "Parameter"): _parameter,
}
TORCH_CALLS: dict[tuple[str, str], vm.CallHandler] = {
    **TENSOR_CALLS,
    ("torch", "Size"): _size,
    ("torch", "device"): _text_arg,
    ("torch.serialization", "_get_layout"): _text_arg,
}

