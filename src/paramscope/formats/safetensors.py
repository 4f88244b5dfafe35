"""safetensors: one file, or a sharded set named by ``model.safetensors.index.json``.

Layout (https://github.com/huggingface/safetensors#format): 8 bytes little-endian u64 N; N bytes of
UTF-8 JSON starting with ``{`` (space-padded to a multiple of 8 by the writer); the data buffer.
Validation follows the reference reader (safetensors/src/tensor.rs ``read_metadata`` and
``Metadata::validate``) rule by rule, checking every number against the file size before anything is
allocated. Where we are stricter than the library, the spec is on our side: duplicate JSON keys are
rejected (the library keeps the last one) and the header must start with ``{`` (the spec says MUST;
the library skips leading whitespace).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from paramscope.errors import (
    DTypeError,
    HeaderError,
    OffsetError,
    ShapeError,
    SourceError,
    TruncatedError,
    and_more,
)
from paramscope.formats.limits import check_tensor_count
from paramscope.knowledge.packing import apply_packing
from paramscope.knowledge.quant_configs import from_weights
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import BY_SAFETENSORS_NAME, DType
from paramscope.records import record
from paramscope.sources import ByteSource
from paramscope.sources.folder import Folder, LocalFolder, map_files
from paramscope.sources.local import LocalFile

NAME = "safetensors"
PREFIX = 8  # u64 header length
MAX_HEADER_BYTES = 100_000_000  # tensor.rs MAX_HEADER_SIZE: larger headers are refused outright
U64_MAX = 2**64 - 1  # the library parses sizes as usize; anything larger is not a size
MAX_INDEX_BYTES = 100_000_000
INDEX_SUFFIX = ".safetensors.index.json"
METADATA_KEY = "__metadata__"
FIELDS = ("dtype", "shape", "data_offsets")
_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])")
MAX_JSON_DEPTH = 127  # deepest nesting serde_json (recursion limit 128) lets through, measured


@record
class Header:
    """One file's validated header: tensors in data order, with absolute offsets."""

    tensors: tuple[Tensor, ...]
    metadata: dict[str, str]
    header_bytes: int  # N
    data_bytes: int  # the buffer after the header


def sniff(head: bytes, path: Path) -> bool:
    """Ours by name (``*.safetensors``, ``*.safetensors.index.json``) or by a plausible N then ``{``."""
    name = path.name.lower()
    if name.endswith((".safetensors", INDEX_SUFFIX)):
        return True
    if len(head) < PREFIX + 1:
        return False
    n = int.from_bytes(head[:PREFIX], "little")
    return 2 <= n <= MAX_HEADER_BYTES and head[PREFIX] == ord("{")


def read(path: Path, quantization_config: Mapping[str, Any] | None = None) -> Model:
    """A ``.safetensors`` file or a ``.safetensors.index.json`` with its shards, as a ``Model``.

    Packed and quantized weights are counted with ``quantization_config``; when not given, a file
    inside a Hugging Face directory takes it from the config.json beside it, since a GPTQ file alone
    does not say how many bits each int32 packs.
    """
    path = Path(path)
    return read_from(LocalFolder(path.parent), path.name, quantization_config)


def read_from(folder: Folder, name: str, quantization_config: Mapping[str, Any] | None = None) -> Model:
    """File ``name`` of ``folder`` (a directory, a Hub repository): one file, or an index and its shards."""
    if quantization_config is None:
        from paramscope.formats.hf_json import quantization_config_of

        quantization_config = quantization_config_of(folder)
    if name.lower().endswith(INDEX_SUFFIX):
        return read_index_from(folder, name, quantization_config)
    label = folder.label(name)
    header = read_header(folder.open(name))
    tensors = apply_packing(header.tensors, quantization_config, label)
    return Model(format=NAME, source=label, tensors=tensors, metadata=header.metadata,
                 files=(label,),
                 quantization=from_weights(quantization_config, [t.name for t in tensors]))


# --- one file ---------------------------------------------------------------------------------------

def read_header(source: Path | ByteSource) -> Header:
    """Read and validate one file's header (a path, or a byte source); tensor data is never read."""
    f = LocalFile(source) if isinstance(source, str | os.PathLike) else source
    try:
        name = f.name
        n = _header_length(f)
        raw = f.read(PREFIX, n, "the JSON header")
        data_bytes = f.size - PREFIX - n
    finally:
        f.close()
    # every tensor entry has a "data_offsets" key: counted before the JSON becomes Python objects
    check_tensor_count(name, raw.count(b'"data_offsets"'), "the header has")
    entries = _parse_header(name, raw)
    metadata = _metadata(name, entries.pop(METADATA_KEY, None))
    fields = [_tensor_fields(name, key, entry) for key, entry in entries.items()]
    return Header(_validate_layout(name, fields, PREFIX + n, data_bytes), metadata, n, data_bytes)


def _header_length(f: ByteSource) -> int:
    """N, refused before anything is allocated when it is implausible or past the end of the file."""
    if f.size < PREFIX:
        raise TruncatedError(f.name, "file is shorter than the 8-byte header length",
                             f"{f.size} bytes", f"at least {PREFIX}")
    n = int.from_bytes(f.read(0, PREFIX, "the header length"), "little")
    if n > MAX_HEADER_BYTES:
        raise HeaderError(f.name, "header length is implausibly large", f"{n} bytes",
                          f"at most {MAX_HEADER_BYTES}")
    if PREFIX + n > f.size:
        raise TruncatedError(f.name, "file ends inside the JSON header", f"{f.size} bytes",
                             f"at least {PREFIX + n} for an {n}-byte header")
    return n


def _parse_header(name: str, raw: bytes) -> dict[str, Any]:
    """The header as a dict: UTF-8, JSON without duplicate keys, an object, starting with '{'."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HeaderError(name, "header is not valid UTF-8",
                          f"byte 0x{raw[e.start]:02x} at header offset {e.start}") from None
    try:
        # the parse_int hook costs a call per integer: only pay it when a "-0" may be there
        parse_int = _negative_zero_as_float if _NEGATIVE_ZERO.search(raw) else None
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                           parse_int=parse_int, parse_float=_serde_float)
    except _DuplicateKey as e:
        raise HeaderError(name, "header repeats a JSON key", repr(e.args[0])) from None
    except RecursionError:
        raise HeaderError(name, "header JSON is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, NaN, numbers out of range
        raise HeaderError(name, "header is not valid JSON", _one_line(e)) from None
    if not isinstance(value, dict):
        raise HeaderError(name, "header is not a JSON object", type(value).__name__)
    if not text.startswith("{"):  # spec: MUST begin with '{'; the library lets whitespace through
        raise HeaderError(name, "header does not start with '{'", repr(text[:8]),
                          "'{' (0x7B) as the spec requires")
    if _LONE_SURROGATE_ESCAPE.search(raw):
        _check_surrogates(name, value)
    return value


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")  # Python accepts NaN/Infinity; JSON (and serde) do not


def _negative_zero_as_float(token: str) -> int | float:
    # serde_json reads "-0" as a float, which the library rejects as a size; so must we.
    return -0.0 if token == "-0" else int(token)


def _serde_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):  # Python reads 1e400 as inf; serde_json: "number out of range"
        raise ValueError(f"number out of range: {token[:20]}")
    return value


def _check_surrogates(name: str, value: dict[str, Any]) -> None:
    """A lone UTF-16 surrogate escape is not a string serde_json accepts (nor is it UTF-8)."""
    for s in _nodes(value):
        if isinstance(s, str):
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise HeaderError(name, "header has an unpaired UTF-16 surrogate escape",
                                  repr(s[:40])) from None


def _nodes(value: Any) -> Iterator[Any]:
    """Every key and value at any depth, iteratively (a deep header must not exhaust the stack)."""
    stack = [value]
    while stack:
        v = stack.pop()
        yield v
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


def _metadata(name: str, value: Any) -> dict[str, str]:
    """``__metadata__``: absent, null, or an object of strings (tensor.rs HashMap<String, String>)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HeaderError(name, "__metadata__ is not an object of strings", type(value).__name__)
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise HeaderError(name, "__metadata__ values must be strings",
                          f"{and_more([repr(k) for k in bad])} of type {type(value[bad[0]]).__name__}")
    return value


def _tensor_fields(name: str, key: str, entry: Any) -> tuple[str, DType, tuple[int, ...], int, int]:
    """(name, dtype, shape, begin, end) of one entry, each field checked for type and range."""
    if not isinstance(entry, dict):
        raise HeaderError(name, f"tensor {key!r} is not an object", type(entry).__name__)
    missing = [f for f in FIELDS if f not in entry]
    if missing:
        raise HeaderError(name, f"tensor {key!r} lacks {', '.join(missing)}",
                          f"keys {sorted(entry)}", "dtype, shape, data_offsets")
    if len(entry) > len(FIELDS):
        _check_extra_fields(name, key, entry)
    dtype = BY_SAFETENSORS_NAME.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    if dtype is None:
        raise DTypeError(name, f"tensor {key!r} has an unknown dtype", repr(entry["dtype"]),
                         "one of " + ", ".join(BY_SAFETENSORS_NAME))
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(type(d) is int and 0 <= d <= U64_MAX for d in shape):
        raise ShapeError(name, f"tensor {key!r} has an invalid shape", _short(shape),
                         "a list of non-negative integers")
    offsets = entry["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int and 0 <= o <= U64_MAX for o in offsets)):
        raise OffsetError(name, f"tensor {key!r} has invalid data_offsets", _short(offsets),
                          "[begin, end] as non-negative integers")
    return key, dtype, tuple(shape), offsets[0], offsets[1]


def _check_extra_fields(name: str, key: str, entry: dict[str, Any]) -> None:
    """Unknown fields are ignored, as the library ignores them, but serde_json still parses them: its
    nesting limit counts (the header object and the entry hold two levels), and so does f64 range,
    into which it reads integers past u64."""
    for field, value in entry.items():
        if field in FIELDS:
            continue
        if _deeper_than(value, MAX_JSON_DEPTH - 2):
            raise HeaderError(name, f"tensor {key!r}: field {field!r} is nested too deeply",
                              f"more than {MAX_JSON_DEPTH} levels", f"at most {MAX_JSON_DEPTH}")
        big = next((v for v in _nodes(value) if type(v) is int and abs(v) > U64_MAX and _past_f64(v)), None)
        if big is not None:
            raise HeaderError(name, f"tensor {key!r}: field {field!r} holds a number out of range",
                              f"{len(str(abs(big)))} digits", "a value within f64 range")


def _past_f64(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validate_layout(name: str, fields: list[tuple[str, DType, tuple[int, ...], int, int]],
                     data_start: int, data_bytes: int) -> tuple[Tensor, ...]:
    """Metadata::validate: sorted by offsets, tensors tile the buffer from 0 to its end exactly."""
    fields.sort(key=lambda f: (f[3], f[4]))
    tensors = []
    end_so_far = 0
    for key, dtype, shape, begin, end in fields:
        _check_offsets(name, key, begin, end, end_so_far)
        nbytes = _byte_size(name, key, dtype, shape)
        if nbytes != end - begin:
            raise DTypeError(name, f"tensor {key!r}: data_offsets span disagrees with "
                             f"{dtype.value} × {list(shape)}", f"{end - begin} bytes", f"{nbytes}")
        end_so_far = end
        tensors.append(Tensor(key, shape, dtype, nbytes, data_start + begin, name))
    _check_buffer_end(name, fields, end_so_far, data_bytes)
    return tuple(tensors)


def _check_offsets(name: str, key: str, begin: int, end: int, expected: int) -> None:
    if end < begin:
        raise OffsetError(name, f"tensor {key!r} ends before it begins", f"[{begin}, {end}]",
                          "begin <= end")
    if begin < expected:
        raise OffsetError(name, f"tensor {key!r} overlaps the previous tensor",
                          f"begins at {begin}", f"{expected}")
    if begin > expected:
        raise OffsetError(name, f"hole in the data buffer before tensor {key!r}",
                          f"begins at {begin}", f"{expected}")


def _byte_size(name: str, key: str, dtype: DType, shape: tuple[int, ...]) -> int:
    """elements × bits / 8 with the library's u64 overflow checks, folded left to right as it does."""
    n = 1
    for d in shape:
        n *= d
        if n > U64_MAX:
            raise ShapeError(name, f"tensor {key!r}: element count overflows 64 bits", str(list(shape)))
    bits = dtype.type_size * 8 // dtype.block_size  # F4: 4, F6_*: 6, BF16: 16
    if n * bits > U64_MAX:
        raise ShapeError(name, f"tensor {key!r}: size in bits overflows 64 bits",
                         f"{n} × {bits} bits")
    if not dtype.fits_blocks(n):
        raise ShapeError(name, f"tensor {key!r}: {dtype.value} data does not end on a byte boundary",
                         f"{n} elements × {bits} bits", f"a multiple of {dtype.block_size} elements")
    return dtype.nbytes(n)


def _check_buffer_end(name: str, fields: list[tuple[str, DType, tuple[int, ...], int, int]],
                      end: int, data_bytes: int) -> None:
    """The last tensor must end exactly where the file ends (tensor.rs MetadataIncompleteBuffer)."""
    if end > data_bytes:
        last = fields[-1][0]
        raise TruncatedError(name, f"file ends inside the data of tensor {last!r}",
                             f"{data_bytes} data bytes", f"{end}")
    if end < data_bytes:
        raise OffsetError(name, "data buffer has bytes no tensor claims",
                          f"{data_bytes - end} bytes after offset {end}", "none")


# --- sharded sets -------------------------------------------------------------------------------------

def read_index(path: Path, quantization_config: Mapping[str, Any] | None = None) -> Model:
    """An index and every shard it names; the weight_map must agree with the shards exactly."""
    path = Path(path)
    return read_index_from(LocalFolder(path.parent), path.name, quantization_config)


def read_index_from(folder: Folder, name: str, quantization_config: Mapping[str, Any] | None = None) -> Model:
    """The index ``name`` of ``folder`` and every shard it names (read in parallel where the folder is
    remote: each shard costs a round trip)."""
    index_name = folder.label(name)
    weight_map, index_meta = _read_index_json(folder, name)
    check_tensor_count(index_name, len(weight_map), "the weight_map names")
    by_shard: dict[str, set[str]] = {}
    for tensor, shard in weight_map.items():
        by_shard.setdefault(shard, set()).add(tensor)
    prefix = name.rpartition("/")[0]
    shards = sorted(by_shard)
    read_one = lambda shard: _read_shard(index_name, folder, prefix, shard)  # noqa: E731
    headers = dict(zip(shards, map_files(folder, read_one, shards), strict=True))
    _check_weight_map(index_name, by_shard, headers)
    tensors = tuple(t for h in headers.values() for t in h.tensors)
    warnings = _total_size_warnings(index_name, index_meta, tensors)
    first = next(iter(headers.values()))
    metadata: dict[str, Any] = {**first.metadata, "index": index_meta}
    if warnings:
        metadata["warnings"] = warnings
    return Model(format=NAME, source=index_name,
                 tensors=apply_packing(tensors, quantization_config, index_name),
                 metadata=metadata, files=tuple(folder.label(_join(prefix, s)) for s in headers),
                 quantization=from_weights(quantization_config, [t.name for t in tensors]))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _read_index_json(folder: Folder, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    label = folder.label(name)
    raw = folder.read_whole(name, MAX_INDEX_BYTES, "the index")
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys,
                           parse_constant=_no_constant)
    except _DuplicateKey as e:
        raise HeaderError(label, "index repeats a JSON key", repr(e.args[0])) from None
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise HeaderError(label, "index is not valid JSON", _one_line(e)) from None
    weight_map = value.get("weight_map") if isinstance(value, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise HeaderError(label, "index has no weight_map object", _short(value)[:60],
                          '{"weight_map": {tensor: shard file}}')
    bad = [k for k, v in weight_map.items() if not isinstance(v, str)]
    if bad:
        raise HeaderError(label, "weight_map values must be shard file names",
                          and_more([repr(k) for k in bad]))
    meta = value.get("metadata")
    return weight_map, meta if isinstance(meta, dict) else {}


def _read_shard(index_name: str, folder: Folder, prefix: str, shard: str) -> Header:
    """A shard named by the index: a plain file name in the index's own directory, never a path."""
    if (not shard or shard in (".", "..") or "/" in shard or "\\" in shard or "\0" in shard
            or Path(shard).is_absolute() or ":" in shard):
        raise HeaderError(index_name, "weight_map names a shard outside the index's directory",
                          repr(shard), "a plain file name such as model-00001-of-00002.safetensors")
    rel = _join(prefix, shard)
    if not folder.has(rel):
        raise SourceError(f"{index_name}: shard {shard!r} named in weight_map does not exist "
                          f"(looked in {folder.label(prefix) if prefix else folder.name})")
    return read_header(folder.open(rel))


def _check_weight_map(index_name: str, by_shard: dict[str, set[str]], headers: dict[str, Header]) -> None:
    """Every mapped tensor is in its shard, and every shard tensor is mapped to that shard."""
    missing: list[str] = []
    extra: list[str] = []
    for shard, header in headers.items():
        stored = {t.name for t in header.tensors}
        missing += [f"{n!r} ({shard})" for n in sorted(by_shard[shard] - stored)]
        extra += [f"{n!r} ({shard})" for n in sorted(stored - by_shard[shard])]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} mapped but not in their shard: {and_more(missing)}")
        if extra:
            parts.append(f"{len(extra)} in a shard but not mapped to it: {and_more(extra)}")
        raise HeaderError(index_name, "weight_map disagrees with the shards", "; ".join(parts),
                          "the same tensors in both")


def _total_size_warnings(index_name: str, meta: Mapping[str, Any],
                         tensors: tuple[Tensor, ...]) -> tuple[str, ...]:
    """metadata.total_size should be the sum of tensor bytes; loaders ignore it, so a wrong one is
    reported, not fatal (some published indexes carry a stale figure)."""
    if "total_size" not in meta:
        return ()
    total = sum(t.nbytes for t in tensors)
    stated = meta["total_size"]
    if type(stated) is int and stated == total:
        return ()
    return (f"{index_name}: metadata.total_size disagrees with the shards "
            f"(found {stated!r}, expected {total} = sum of tensor bytes)",)
