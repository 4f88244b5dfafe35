"""Every pickle a file holds, read on ``pickle_vm`` for the safety scan: what loading it could import.

The scan reads each pickle the way *any* of CPython's unpicklers could be made to read it by the
programs that load such files, and keeps every global they would resolve:

- a stream of pickles (``pickle.load`` called again on the same file): after each STOP the next pickle
  starts right after it and, when STOP came inside a FRAME, at the frame's end too (where the pure-Python
  unpickler leaves the file); the memo carries over (one Unpickler's ``load()`` called again);
- containers: every zip member that is a pickle by name or by content (the storages a torch data.pkl
  names are raw bytes torch never unpickles), both the central directory's and the local headers'
  view of the archive, ``.npy`` arrays of object dtype and ``.npz`` members, joblib-style compressed
  pickles, the five pickles of a legacy ``torch.save`` file.

What cannot be read to the end, or could be read two ways, is *unverified*: the scan names why, and the
verdict is "could run code" (docs/security.md). A file whose first byte is not a pickle opcode and
that is no container is *not a pickle*.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paramscope.errors import FormatError, ParamscopeError, UnsupportedError
from paramscope.formats import code_loaders, zipfile_safe
from paramscope.formats import pickle_vm as vm
from paramscope.records import record
from paramscope.sources.local import LocalFile

MAX_BYTES = 256 << 20  # one pickle stream read into memory: the largest real data.pkl files are a few MB
MAX_PICKLES = 64  # pickles in one stream (legacy torch.save writes 5)
MAX_DEPTH = 4  # containers inside containers
# bytes read out of one archive's members, nested archives included: overlapping members can make a
# small file inflate to MAX_BYTES per member; past this, members are left unread (a doubt)
ZIP_BUDGET = 4 * MAX_BYTES
MAX_NPY_HEADER = 1 << 20  # numpy.load(allow_pickle=True) takes any header size
# a protocol 0 line is read whole, as pickle.py and _pickle read it (a 2 MiB UNICODE line, then the
# payload, was "not a pickle"): the bytes are in memory already and the search for its end is linear
LIMITS = vm.Limits(max_line=MAX_BYTES)
# bytes read leniently (another format's file, raw storages) may hold one long line before breaking,
# as a zero run after an opcode that reads a line does: CPython reads it whole, so the scan does too
LENIENT_LIMITS = vm.Limits(max_line=MAX_BYTES)
NPY_MAGIC = b"\x93NUMPY"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
FIRST_WINDOW = 1 << 20
# a torch storage's first bytes: real tensor data breaks a pickle read within a few opcodes; a read
# the window cannot settle is done again on the whole member
STORAGE_WINDOW = 4096
# Names a loader unpickles by (pickle, joblib, torch, numpy's object arrays).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pck", ".pcl", ".p", ".joblib", ".sav", ".dill", ".pt", ".pth",
                   ".ckpt", ".data.pkl")
# joblib.numpy_pickle_utils._COMPRESSORS prefixes; lz4 needs a package the scan does not use
# .lzma ("alone") files have no magic: ``_lzma_alone`` tells them by their header, as liblzma does
COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"),
              (b"\x04\x22\x4d\x18", "lz4"), (b"\x78\x01", "zlib"), (b"\x78\x5e", "zlib"),
              (b"\x78\x9c", "zlib"), (b"\x78\xda", "zlib"),
              (b"ZF", "joblib-zfile"),  # joblib < 0.10: "ZF", the length in hex (19 bytes), zlib data
              # zstd frames and skippable frames (RFC 8878 3.1): pandas.read_pickle infers .zst
              (b"\x28\xb5\x2f\xfd", "zstd"),
              *((bytes([0x50 + n]) + b"\x2a\x4d\x18", "zstd") for n in range(16)))
# compressions whose first byte is also a pickle opcode (an .lzma properties byte such as "]" or "c",
# bz2's "B", zstd's "(" and "P"-"_"): pickle.load on the file itself reads on from it, so the file is
# read that way too
OPCODE_FIRST = ("lzma", "bz2", "zstd")
# numpy dtype strings that hold no Python objects ("<f4", "|b1", "<M8[ns]", "|S10", "<U5", "|V8")
PLAIN_DESCR = re.compile(r"[<>|=]?[biufcmMSUVa?][0-9]*(\[[0-9a-zA-Z]+\])?")


@record
class PickleScan:
    references: tuple[vm.GlobalUse, ...]
    unverified: tuple[str, ...]  # why loading could resolve more than ``references``
    pickles: int  # pickles read to their STOP
    not_pickle: str | None = None  # nothing here is a pickle: why (no pickle, no container)
    notes: tuple[str, ...] = ()
    code_free: str | None = None  # a container of plain data only (numeric .npy / .npz): what it is


@dataclass
class _Scan:
    file: str
    refs: dict[tuple[str, str], vm.GlobalUse] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pickles: int = 0
    not_pickle: str | None = None
    code_free: str | None = None
    cut: list[str] = field(default_factory=list)  # plain arrays shorter than their header says

    def add(self, refs: tuple[vm.GlobalUse, ...]) -> None:
        _merge(self.refs, refs)

    def doubt(self, where: str, why: str) -> None:
        self.unverified.append(f"{where}: {why}" if where else why)

    def result(self) -> PickleScan:
        unverified = tuple(dict.fromkeys(self.unverified))
        empty = not (self.refs or unverified or self.pickles)
        # an array cut short is no whole numpy file: not "safe: plain numbers", but what is wrong (exit 1)
        code_free = None if self.cut else self.code_free
        # nothing read and no reason why: never "safe" by default (a verdict of safe names what was read)
        not_pickle = self.cut[0] if self.cut else self.not_pickle or "nothing in it reads as a pickle"
        return PickleScan(tuple(self.refs.values()), unverified, self.pickles,
                          not_pickle if empty and not code_free else None,
                          tuple(dict.fromkeys(self.notes)), code_free if empty else None)


# --- streams of pickles ---------------------------------------------------------------------------

def scan_bytes(data: bytes, file: str = "<bytes>", *, torch_data_pkl: bool = False) -> PickleScan:
    """The pickles in ``data`` read as one stream (see the module docstring)."""
    s = _Scan(file)
    _stream(s, data, "", single=torch_data_pkl)
    return s.result()


def _stream(s: _Scan, data: bytes, where: str, *, single: bool = False, storages: set[str] | None = None,
            start: int = 0, lenient: bool = False, whole: bool = True) -> int:
    """Every pickle from ``start`` on until the data ends; returns how many were read to their STOP.

    ``lenient``: bytes no loader is known to unpickle as a whole (a file another format claims, a zip
    member neither named nor shaped like a pickle, a torch storage, what follows a legacy checkpoint's
    five pickles), read as ``pickle.load`` called until it raises would read them. A read that breaks
    where CPython breaks too (not at a limit of the scan's, not at the end of ``data`` when it is not
    ``whole``), having named no global and with no FRAME disagreement, imported nothing: no doubt.
    """
    def persistent_load(pid: Any) -> Any:
        # torch's ("storage", TYPE, KEY, LOCATION, NUMEL): the key names a raw member, never unpickled
        if storages is not None and isinstance(pid, tuple) and len(pid) >= 3 and isinstance(pid[2], str):
            storages.add(pid[2])
        return vm.PersistentRef(pid)

    label = f"{where} " if where else ""
    todo: list[tuple[int, dict[int, Any]]] = [(start, {})]
    seen: set[int] = set()
    read = 0
    while todo:
        at, memo = todo.pop(0)
        if at >= len(data) and not whole and at not in seen:
            # the bytes read end where the next pickle.load would start: the rest is not read
            s.doubt(where, f"a pickle may start at offset {at}, past the {len(data)} bytes the scan read")
        if at >= len(data) or at in seen:
            continue
        seen.add(at)
        if len(seen) > MAX_PICKLES:
            s.doubt(where, f"more than {MAX_PICKLES} pickles in a row (not all read)")
            break
        if at > start and single and not lenient:
            s.doubt(where, f"data after the pickle's STOP at offset {at} (torch never writes it; a second "
                    "load of the stream would read it)")
        memo = dict(memo)
        try:
            r = vm.run(data, s.file, at, limits=LENIENT_LIMITS if lenient else LIMITS,
                       persistent_load=persistent_load, memo=memo, after_build=_joblib_array)
        except vm.PickleError as e:
            if lenient:
                refs = _reachable(e.references)
                s.add(refs)
                if not refs and not _serious(e.anomalies) and (len(refs) < len(e.references)
                                                              or _stops_cpython(e, whole)):
                    if at == start:
                        s.not_pickle = f"{label}not a pickle ({_short(e, s.file)})".strip()
                    continue
                for a in e.anomalies:
                    s.doubt(where, a)
                s.doubt(where, f"a pickle read at offset {at} breaks off ({_short(e, s.file)})")
                continue
            s.add(e.references)
            for a in e.anomalies:
                s.doubt(where, a)
            # a first pickle that breaks having named nothing is "not a pickle" only where CPython breaks
            # too, at a byte no unpickler reads on from (a PNG's "\x89PNG\r\n" runs four opcodes, then
            # 0x1a is none: red team round 6): never at a limit of the scan's own (a protocol 0 line
            # longer than it reads, which pickle.load reads whole before running what follows), never
            # where a FRAME disagreement was met, never at the end of the data (a pickle cut short)
            if at == start and not e.references and _not_a_pickle(e, whole):
                s.not_pickle = f"{label}not a pickle ({_short(e, s.file)})".strip()
            elif at == start:
                s.doubt(where, f"the pickle cannot be read to its end ({_short(e, s.file)})")
            else:
                s.doubt(where, f"data after a pickle at offset {at} is not a whole pickle "
                        f"({_short(e, s.file)})")
            continue
        except Exception as e:
            s.doubt(where, f"the scan failed inside the pickle at offset {at} ({type(e).__name__}: {e})")
            continue
        read += 1
        s.pickles += 1
        refs = _reachable(r.references) if lenient else r.references
        s.add(refs)
        for a in r.anomalies if refs or not lenient else _serious(r.anomalies):
            s.doubt(where, a)
        if lenient and len(refs) < len(r.references):
            continue  # the load raised at an EXT opcode: nothing after it is read
        todo.append((r.end, memo))
        if r.frame_end is not None:
            todo.append((min(r.frame_end, len(data)), memo))
    return read


def _reachable(refs: tuple[vm.GlobalUse, ...]) -> tuple[vm.GlobalUse, ...]:
    """The globals a lenient read reaches: CPython raises at the first global it cannot import, having
    imported only what came before it. An ordinary process registers no copyreg extension codes (EXT
    opcodes), and no installed module's top-level name is other than an identifier (the first line of
    a text member, "class Foo(Module):", read as GLOBAL)."""
    cut = min((u.offset for u in refs if vm.is_extension(u) or not u.module.split(".")[0].isidentifier()),
              default=None)
    return refs if cut is None else tuple(u for u in refs if u.offset < cut)


def _serious(anomalies: tuple[str, ...]) -> tuple[str, ...]:
    """FRAME disagreements after which a lenient read cannot tell where CPython's loads go on (a frame
    inside a frame, an opcode past its frame's end: one unpickler reads on where the other stops, and
    a new Unpickler starts at a frame's end): all but a frame longer than the data."""
    return tuple(a for a in anomalies if vm.FRAME_TOO_LONG not in a)


def _not_a_pickle(e: vm.PickleError, whole: bool) -> bool:
    """A strict read's first pickle broke where CPython's unpicklers break too, at a byte that is no
    pickle (the read named no global; the caller checks): no limit of the scan's, no FRAME anomaly at
    all, not the end of the data (a pickle cut short is still one: what followed is not known)."""
    if e.ops <= 1:
        return not isinstance(e, vm.PickleLimit)
    return not e.anomalies and not isinstance(e, vm.PickleTruncated) and _stops_cpython(e, whole)


def _stops_cpython(e: vm.PickleError, whole: bool) -> bool:
    """Whether CPython's unpicklers break where the scan's read broke (the read named no global and
    met no serious FRAME disagreement): not at a limit of the scan's own, not at the end of bytes that
    are only a window."""
    if isinstance(e, vm.PickleLimit):
        return False
    return whole or not isinstance(e, vm.PickleTruncated)


# joblib.numpy_pickle: after BUILD of a NumpyArrayWrapper, joblib's Unpickler reads the array from the
# file itself: an object array as a nested pickle (a fresh Unpickler), other arrays as a padding-length
# byte, that padding, then count * itemsize raw bytes; then unpickling goes on.
JOBLIB_WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper"),
                   ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper")}  # scikit-learn < 0.23
_DTYPE_CODE = re.compile(r"[<>|=]?([biufcmMSUVaO?])([0-9]*)")


def _joblib_array(m: vm.Machine, obj: Any) -> None:
    if not (isinstance(obj, vm.Call) and isinstance(obj.func, vm.Global)
            and (obj.func.module, obj.func.name) in JOBLIB_WRAPPERS and isinstance(obj.state, vm.PDict)):
        return
    if m.frame_end is not None and m.frame_end > m.pos:
        m._fail(f"joblib array at offset {m.pos} lies inside a FRAME (joblib ends frames before arrays)")
    state = obj.state.entries
    shape, dtype = state.get("shape"), state.get("dtype")
    if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
        m._fail(f"joblib array at offset {m.pos} has no shape the scan reads")
    itemsize, objects = _joblib_dtype(dtype)
    if itemsize is None:
        m._fail(f"joblib array at offset {m.pos} has a dtype the scan does not read")
    if objects:  # a nested pickle, read by a fresh Unpickler on the same file
        inner = vm.Machine(m.data, m.file, m.pos, limits=m.limits, persistent_load=m.persistent_load,
                           after_build=_joblib_array)
        try:
            r = inner.run()
        except vm.PickleError as e:
            _merge(m.refs, e.references)
            raise
        _merge(m.refs, r.references)
        m.anomalies.extend(r.anomalies)
        m.pos = r.end
        return
    # joblib's read_array reads the padding byte only when the key's value is not None
    # (numpy_pickle.py: ``if self.numpy_array_alignment_bytes is not None``)
    if state.get("numpy_array_alignment_bytes") is not None:
        m.take(m.take(1, "joblib padding length")[0], "joblib padding")
    count = 1
    for n in shape:
        count *= n
    m.take(count * itemsize, "joblib array data")


def _joblib_dtype(dtype: Any) -> tuple[int | None, bool]:
    """(item size, holds objects) of numpy.dtype(CODE, False, True) as pickled, with its BUILD state
    (version, byte order, subarray, names, fields, elsize, alignment, flags)."""
    if not (isinstance(dtype, vm.Call) and isinstance(dtype.args, tuple) and dtype.args
            and isinstance(dtype.args[0], str)):
        return None, False
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    if len(state) >= 8 and type(state[7]) is int and state[7] & 1:  # NPY_ITEM_REFCOUNT: objects inside
        return 0, True
    match = _DTYPE_CODE.fullmatch(dtype.args[0])
    if match is None:
        return None, False
    kind, digits = match.groups()
    # numpy's arraydescr_setstate takes the pickled elsize only for the flexible kinds (strings, unicode,
    # void / structured): a float keeps its own size whatever the state says
    if kind in "SUVa" and len(state) >= 8 and type(state[5]) is int and state[5] > 0:
        return state[5], False
    if kind == "O":
        return 0, True
    size = int(digits) if digits else {"b": 1, "?": 1}.get(kind)
    if size is None:
        return None, False
    return size * (4 if kind == "U" else 1), False


def _merge(table: dict[tuple[str, str], vm.GlobalUse], refs: tuple[vm.GlobalUse, ...]) -> None:
    """Add ``refs`` to ``table`` (a scan's or a machine's globals): counts and calls summed per global."""
    for u in refs:
        have = table.get((u.module, u.name))
        if have is None:
            table[(u.module, u.name)] = vm.GlobalUse(u.module, u.name, u.offset, u.count, u.calls)
        else:
            have.count += u.count
            have.calls += u.calls


def _short(e: Exception, file: str) -> str:
    text = str(e)
    return text[len(file) + 2:] if text.startswith(file + ": ") else text


# --- files and containers -------------------------------------------------------------------------

def scan_path(path: Path, *, lenient: bool = False) -> PickleScan:
    """Every pickle in the file at ``path`` (raises ``ParamscopeError`` only when it cannot be opened).

    ``lenient``: another format claims the file (GGUF, safetensors, ONNX): its bytes are read as
    ``pickle.load`` would read them all the same, and what breaks before naming a global is no doubt
    (``_stream``). Any archive in the file is read as usual.
    """
    with LocalFile(Path(path)) as f:
        s = _Scan(f.name)
        head = f.head(512)
        tail_read = False  # the zip zipfile would find at the file's end is one the scan read already
        hdf5 = code_loaders.hdf5_offset(f) if head else None
        if hdf5 is not None:
            _hdf5(s, f, hdf5)
        if not head:
            s.not_pickle = "an empty file"
        elif hdf5 == 0:
            pass  # "\x89HDF" reads as NEWFALSE, then "H", no opcode: every unpickler stops at byte 1
        elif zipfile_safe.is_zip(head):
            _zip_file(s, f, "", 0)
            return s.result()
        elif head.startswith(NPY_MAGIC):
            _npy(s, f.read(0, min(f.size, MAX_NPY_HEADER + 16), "the .npy header"), "", f)
        elif _is_tar(head):
            # the file is also what pickle.load reads from its first byte (a tar header can be a pickle:
            # tests/test_scan_redteam.py tar-v7-pickle-polyglot)
            _plain(s, f, lenient=True)
            tail_read = _tar_file(s, f)
        elif _other_archive(head):
            s.doubt("", f"{_other_archive(head)}: its members are not read")
        elif _compression(head):
            _compressed(s, f, head, lenient)
        else:
            _plain(s, f, lenient)
        if head and not tail_read and zipfile_safe.zip_at_end(f):
            # zipfile opens an archive appended to any file (it looks for the end record from the end)
            _zip_file(s, f, "zip archive after other data", 0)
        return s.result()


def _hdf5(s: _Scan, f: LocalFile, offset: int) -> None:
    """An HDF5 file: h5py reads arrays from it and runs no code, but Keras (a legacy .h5 model) and
    pandas / PyTables run code or unpickle what it holds (formats/code_loaders.py): a bounded byte search
    for the attribute names they read. Past the bytes searched, no such name is known to be absent."""
    where = f"an HDF5 file (superblock at offset {offset})" if offset else ""
    lines, whole = code_loaders.hdf5_loaders(f)
    for line in lines:
        s.doubt(where, line)
    if not whole and not lines:
        s.doubt(where, f"an HDF5 file of {f.size} bytes, more than the {code_loaders.HDF5_BUDGET} bytes the "
                "scan searches for the attributes Keras, pandas and PyTables load code by")
    if not s.unverified:
        s.not_pickle = ("an HDF5 file with none of the attributes Keras, pandas or PyTables load code by "
                        "(h5py reads its arrays and runs no code)")


def _plain(s: _Scan, f: LocalFile, lenient: bool = False) -> None:
    """A pickle file, a legacy torch.save file (five pickles, then raw storages), or neither."""
    if lenient:
        _lenient(s, f, "")
        return
    window = f.read(0, min(f.size, FIRST_WINDOW), "the pickle")
    try:
        first = vm.run(window, f.name, limits=LIMITS)
        legacy = type(first.value) is int and first.value == LEGACY_MAGIC
    except vm.PickleError:
        legacy = False
    if legacy:
        _legacy(s, f)
        return
    if f.size > MAX_BYTES:
        s.doubt("", f"a pickle stream of {f.size} bytes, larger than the scan reads ({MAX_BYTES})")
        _stream(s, window, "")
        return
    _stream(s, window if f.size <= FIRST_WINDOW else f.read(0, f.size, "the pickle"), "")


def _lenient(s: _Scan, f: LocalFile, where: str, start: int = 0) -> None:
    """The file from ``start`` read leniently (``_stream``): its first MiB, and all of it (up to
    ``MAX_BYTES``, never less than the window) when that window cannot settle it. Bytes left unread
    where a read stopped are a doubt (``whole``)."""
    end = min(f.size, start + FIRST_WINDOW)
    inner = _Scan(s.file)
    _stream(inner, f.read(0, end, "the data"), where, start=start, lenient=True, whole=end == f.size)
    wider = min(f.size, max(MAX_BYTES, end))  # never fewer bytes than the first read
    if inner.unverified and wider > end:
        first, inner = inner, _Scan(s.file)
        _stream(inner, f.read(0, wider, "the data"), where, start=start, lenient=True,
                whole=wider == f.size)
        # what either read found counts (the wider read's doubts settle the window's)
        inner.add(tuple(u for key, u in first.refs.items() if key not in inner.refs))
        inner.pickles = max(inner.pickles, first.pickles)
    s.add(tuple(inner.refs.values()))
    s.unverified += inner.unverified
    s.pickles += inner.pickles
    if not start:
        s.not_pickle = s.not_pickle or inner.not_pickle


def _legacy(s: _Scan, f: LocalFile) -> None:
    from paramscope.formats import pytorch

    try:
        layout = pytorch.legacy_pickles(f)
    except vm.PickleError as e:
        s.add(e.references)
        s.doubt("", f"legacy torch.save pickles cannot be read to their end ({_short(e, f.name)})")
        return
    except ParamscopeError as e:
        s.doubt("", f"legacy torch.save layout is broken ({_short(e, f.name)})")
        layout = None
    end = layout.data_start if layout else min(f.size, MAX_BYTES)
    # the five pickles again, as a stream: anomalies, and every global of each
    read = _stream(s, f.read(0, end, "the pickles"), "")
    if end < f.size:
        # pickle.load called until it raises reads on into the storages (raw bytes, whose element
        # counts come first): only what that reading could import counts
        _lenient(s, f, "after the five legacy pickles", end)
    if layout is None or layout.keys is None:
        return
    if read < 5:
        s.doubt("", "legacy torch.save file holds fewer than its five pickles")
    # torch.load reads the storages as raw bytes after the five pickles and unpickles nothing more:
    # a storage that does not add up stops the load (after the pickles ran), so it is a note, not doubt
    try:
        storages = pytorch.legacy_storages(f, layout)
    except ParamscopeError as e:
        s.notes.append(f"legacy storages do not add up ({_short(e, f.name)})")
        return
    last = max((at + n for at, n in storages.values()), default=layout.data_start)
    if last != f.size:
        s.notes.append(f"{f.size - last} bytes after the last storage (torch never reads them)")


def certainly_scanned(head: bytes) -> bool:
    """A head no code-free format starts with: a zip, a protocol-2+ pickle, a .npy array."""
    return (zipfile_safe.is_zip(head) or head.startswith(NPY_MAGIC)
            or (len(head) >= 2 and head[0] == 0x80 and head[1] <= vm.HIGHEST_PROTOCOL))


# what a module read by GLOBAL / INST is when an installed module answers it: a dotted identifier (a text
# file whose first line is prose names none; a file beside it may still answer a name that is not one)
_IDENTIFIER_PATH = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")


def may_hold_pickle(head: bytes, beside: Callable[[str], bool] = lambda module: False) -> bool:
    """Whether a file whose first bytes are ``head`` (512 of them) is one pickle.load, torch.load or
    joblib.load could take code from, whatever its name: a head ``certainly_scanned`` reads, an archive
    the scan does not open (torch.save's legacy tar), a compressed stream by its magic (the loose .lzma
    header test only after joblib's "]" properties byte: a SentencePiece model passes the loose one), or a
    protocol 0/1 pickle: the head read as a pickle reaches its STOP, runs to the head's end or past a limit,
    or names a global before it breaks; and where it names globals, the first one's module is importable:
    a dotted identifier, or a name a file beside it answers to (``beside``: import finds ``x-y.py`` for
    "x-y"). GLOBAL, INST and STACK_GLOBAL import the module at once, so a first module of prose (a YAML
    line) fails the load before anything runs; the name looked up after it does not matter."""
    if not head:
        return False
    if certainly_scanned(head) or _other_archive(head) or _compression(head, strict_lzma=True) \
            or head.startswith(code_loaders.HDF5_MAGIC):  # Keras, pandas, PyTables (code_loaders)
        return True
    try:
        refs = vm.run(head, "", limits=vm.Limits(max_ops=10_000, max_seconds=0.1)).references
    except (vm.PickleTruncated, vm.PickleLimit) as e:  # read to the head's end, or past a limit: a pickle
        refs = e.references
    except vm.PickleError as e:
        if not e.references:
            return False
        refs = e.references
    if not refs:
        return True
    module = min(refs, key=lambda u: u.offset).module
    return bool(_IDENTIFIER_PATH.fullmatch(module)) or beside(module.split(".")[0])


def _other_archive(head: bytes) -> str | None:
    """Archives that may hold pickles but that the scan does not open."""
    if _is_tar(head):
        return "a tar archive (torch.save before 0.4 wrote one)"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "a 7z archive"
    if head.startswith(b"Rar!\x1a\x07"):
        return "a RAR archive"
    return None


def _is_tar(head: bytes) -> bool:
    return head[257:262] == b"ustar" or _tar_header(head)


def _tar_header(head: bytes) -> bool:
    """A first block ``tarfile`` accepts: it checks the checksum, not the ustar magic (a V7 header has
    none), so torch.load's legacy tar reader opens such a file."""
    import tarfile

    try:
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except (tarfile.TarError, ValueError, UnicodeError, OverflowError):
        return False
    return True


def _compression(head: bytes, strict_lzma: bool = False) -> str | None:
    """The compression ``head`` starts with, by its magic; a .lzma stream has none, only a header liblzma
    takes (``_lzma_alone``), which a SentencePiece model also passes: ``strict_lzma`` asks for joblib's
    "]" properties byte as well, for files taken by their first bytes alone."""
    named = next((name for magic, name in COMPRESSED if head.startswith(magic)), None)
    lzma = _lzma_alone(head) and (head[0] == 0x5D or not strict_lzma)
    return named or ("lzma" if lzma else None)


def _lzma_alone(head: bytes) -> bool:
    """A header liblzma's .lzma decoder takes (xz-utils src/liblzma/common/alone_decoder.c and
    lzma_decoder.c ``lzma_lzma_lclppb_decode``): a properties byte of at most (4 * 5 + 4) * 9 + 8 with
    lc + lp <= 4, a 4-byte dictionary size, an 8-byte uncompressed size; then the range coder's first
    byte, 0. ``lzma.open`` (FORMAT_AUTO) and joblib (any file starting "]\\x00") add the "picky" test
    on the dictionary size; ``lzma.open(format=FORMAT_ALONE)`` does not, so neither does the scan."""
    if len(head) < 14 or head[0] > 224 or head[0] % 9 + head[0] % 45 // 9 > 4:
        return False
    return head[13] == 0


def _compressed(s: _Scan, f: LocalFile, head: bytes, lenient: bool = False) -> None:
    """joblib.dump(compress=…) and pickles saved through gzip/bz2/lzma: inflated with a bound."""
    kind = _compression(head)
    inflated = _decompress(kind, f.read(0, min(f.size, MAX_BYTES), "the compressed data"))
    if inflated is None:
        _plain(s, f, lenient)  # not that compression after all: perhaps a pickle starting with those bytes
        return
    if kind in OPCODE_FIRST:
        _lenient(s, f, "")  # the same bytes as pickle.load reads them, uncompressed
    if isinstance(inflated, str):
        s.doubt("", inflated)
        return
    if f.size > MAX_BYTES:
        s.doubt(f"({kind}-compressed)", f"compressed data of {f.size} bytes, more than the scan reads "
                f"({MAX_BYTES})")
    _inflated(s, kind, inflated, f"({kind}-compressed)", 0)


def _inflated(s: _Scan, kind: str | None, inflated: tuple[bytes, str | None, bool], where: str, depth: int,
              budget: _Budget | None = None) -> None:
    """What compressed bytes inflate to, read as what they are: an archive, a .npy array, pickles."""
    data, broke, ended = inflated
    s.notes.append(f"{kind}-compressed")
    if broke:
        s.doubt(where, broke)
    if not ended:  # what the readers hand over before they raise EOFError is all any loader gets
        s.notes.append(f"{where}: the compressed data stops before its end marker, after {len(data)} "
                       f"inflated bytes")
    if not data:
        # pickle.load and tarfile both raise on nothing at once: no code, but no "safe" either
        s.not_pickle = s.not_pickle or (
            f"{where}: compressed data that inflates to no bytes" if ended else
            f"{where}: compressed data that stops before its first inflated byte")
        return
    if _is_tar(data[:512]):
        _stream(s, data, where, lenient=True)  # what pickle.load on the inflated stream reads
        _tar(s, data, where, depth + 1, budget or _Budget(ZIP_BUDGET))
    elif _other_archive(data[:512]):
        s.doubt(where, f"{_other_archive(data[:512])}: its members are not read")
    elif zipfile_safe.is_zip(data[:4]) and depth < MAX_DEPTH:
        _nested_zip(s, data, where, depth, budget)
    elif zipfile_safe.is_zip(data[:4]):
        s.doubt(where, f"zip archives nested deeper than {MAX_DEPTH} are not read")
    elif data.startswith(NPY_MAGIC):
        _npy(s, data, where)
    else:
        _stream(s, data, where)


MAX_STREAMS = 4096  # compressed streams one after another in one file
# liblzma allocates the dictionary an .lzma/.xz header asks for before it decodes a byte (up to 4 GiB in
# a 13-byte .lzma header): decoders run under this limit, and a header asking more is a doubt, not a
# MemoryError (lzma.open and joblib would allocate it and read on, so the stream is not "not lzma")
LZMA_MEMLIMIT = MAX_BYTES + (64 << 20)


class _DecoderMemory(Exception):
    """An lzma/xz header asks for more decoder memory than LZMA_MEMLIMIT."""


CHUNK = 1 << 16  # compressed bytes handed to a decompressor at most at a time: no copy of the rest per stream
FINE_CHUNK = 512  # a stream that breaks is inflated again this finely, to keep what came before it
_NONZERO = re.compile(rb"[^\x00]")


def _decompress(kind: str | None, raw: bytes) -> tuple[bytes, str | None, bool] | str | None:
    """(the inflated bytes, why reading stopped early or None, whether the last stream reached its end
    marker), a reason they cannot be verified (str), or None: not that compression.

    Every stream, one after another: ``gzip.open``, ``bz2.open``, ``lzma.open`` and joblib's readers
    go on into the next member when one ends, so a second ``pickle.load`` reads what the second
    member holds; ``gzip.open`` skips NUL bytes between members (gzip.py ``_read_eof``). Bytes after
    the last stream that start no other are left: those readers raise there. A stream that breaks
    part way has handed its first bytes over already (``pickle.load`` ran them): they are kept, with
    the reason; only a first stream that yields nothing at all means "not that compression".
    """
    if kind == "joblib-zfile":  # numpy_pickle_compat.read_zfile: one more space after Python 2's length
        body = raw[22:] if raw[21:22] == b" " else raw[21:]
        return _decompress("zlib", body) if body[:1] == b"\x78" else None
    if kind not in ("gzip", "zlib", "bz2", "xz", "lzma"):
        return f"{kind}-compressed data: the scan does not decompress {kind}, so it is not verified"
    view = memoryview(raw)
    out = bytearray()
    pos = 0
    ended = True  # a stream cut short: the readers raise EOFError once they have handed its bytes over
    for n in range(MAX_STREAMS):
        if kind == "gzip" and n:
            nonzero = _NONZERO.search(raw, pos)
            pos = nonzero.start() if nonzero else len(raw)
        if pos >= len(raw):
            break
        try:
            piece, used, eof, broke = _inflate_stream(kind, view, pos, CHUNK, MAX_BYTES + 1 - len(out))
        except _DecoderMemory:
            return (f"{kind}-compressed data whose header asks for more than {LZMA_MEMLIMIT} bytes of "
                    f"decoder memory (its dictionary): not decompressed, so not verified")
        if broke:  # again finely: what the readers hand over before they raise
            piece = _inflate_stream(kind, view, pos, FINE_CHUNK, MAX_BYTES + 1 - len(out))[0]
        if broke and not piece and n == 0:
            return None
        out += piece
        if len(out) > MAX_BYTES:
            return f"{kind}-compressed data inflates past {MAX_BYTES} bytes (not all read)"
        if broke:
            if not piece:
                break  # no stream starts here: the readers raise, having handed over what came before
            return bytes(out), f"{kind}-compressed data corrupt after {len(out)} bytes", False
        pos += used
        ended = eof
        if not eof or _NONZERO.search(raw, pos) is None:
            break
    else:
        return f"more than {MAX_STREAMS} {kind} streams one after another (not all read)"
    return bytes(out), None, ended


def _inflate_stream(kind: str | None, view: memoryview, pos: int, chunk: int,
                    budget: int) -> tuple[bytes, int, bool, bool]:
    """One stream from ``pos``, fed at most ``chunk`` bytes at a time: (its bytes, at most ``budget``; input
    bytes it used; whether it ended; whether it broke)."""
    import bz2
    import lzma

    if kind == "gzip":
        return _gzip_member(view, pos, chunk, budget)
    d: Any
    if kind == "zlib":
        d = zlib.decompressobj(15)
    elif kind == "deflate":
        d = zlib.decompressobj(-15)
    elif kind == "bz2":
        d = bz2.BZ2Decompressor()
    else:
        d = lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE,
                                  memlimit=LZMA_MEMLIMIT)
    out = bytearray()
    at = pos
    size = min(chunk, FINE_CHUNK)  # doubling up to ``chunk``: a short stream is handed little past its end
    while at < len(view) and len(out) < budget:
        part = view[at:at + size]
        size = min(chunk, 2 * size)
        try:
            out += d.decompress(part, budget - len(out))
        except lzma.LZMAError as e:
            if "memory usage limit" in str(e).lower():
                raise _DecoderMemory from None
            return bytes(out), at - pos, False, True
        except (zlib.error, OSError, EOFError, ValueError):
            return bytes(out), at - pos, False, True
        if d.eof:
            return bytes(out), at + len(part) - len(d.unused_data) - pos, True, False
        at += len(part)
    return bytes(out), at - pos, False, False


def _gzip_member(view: memoryview, pos: int, chunk: int, budget: int) -> tuple[bytes, int, bool, bool]:
    """One gzip member as ``gzip.open`` reads it (CPython Lib/gzip.py): the header parsed by hand
    (``_read_gzip_header`` skips the header CRC unchecked and ignores reserved flag bits, where zlib's
    own gzip reader refuses both), raw deflate, then the CRC-32 and size trailer, checked only after the
    data was handed over (``_read_eof``): a bad trailer keeps the data and breaks the stream."""
    h = _gzip_header(view, pos)
    if h is None:
        return b"", 0, False, True
    out, used, eof, broke = _inflate_stream("deflate", view, pos + h, chunk, budget)
    if not eof:
        return out, h + used, False, broke
    trailer = bytes(view[pos + h + used:pos + h + used + 8])
    if len(trailer) < 8 or struct.unpack("<II", trailer) != (zlib.crc32(out), len(out) & 0xFFFFFFFF):
        return out, h + used, False, True
    return out, h + used + 8, True, False


def _gzip_header(view: memoryview, pos: int) -> int | None:
    """The length of the gzip member header at ``pos`` as gzip.py reads it, or None (not one, or cut)."""
    head = bytes(view[pos:pos + 10])
    if len(head) < 10 or head[:2] != b"\x1f\x8b" or head[2] != 8:
        return None
    flag, at = head[3], pos + 10
    if flag & 4:  # FEXTRA: a 2-byte length, then that many bytes
        if at + 2 > len(view):
            return None
        at += 2 + int.from_bytes(view[at:at + 2], "little")
    raw = view.obj
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flag & bit:
            end = raw.find(b"\x00", at) if isinstance(raw, bytes) else -1
            if end < 0:
                return None
            at = end + 1
    if flag & 2:  # FHCRC: two bytes gzip.py reads and never checks
        at += 2
    return at - pos if at <= len(view) else None


# --- numpy ----------------------------------------------------------------------------------------

def _npy(s: _Scan, data: bytes, where: str, f: LocalFile | None = None) -> None:
    """numpy.lib.format: magic, version, header length, a dict literal; object arrays are a pickle."""
    label = where or "the .npy array"
    if len(data) < 10 or not data.startswith(NPY_MAGIC):
        s.doubt(where, f"{label} has no .npy header")
        return
    major = data[6]
    if major == 1:
        n, at, encoding = int.from_bytes(data[8:10], "little"), 10, "latin-1"
    elif major in (2, 3) and len(data) >= 12:
        n, at, encoding = int.from_bytes(data[8:12], "little"), 12, "latin-1" if major == 2 else "utf-8"
    else:
        s.doubt(where, f"{label} has .npy version {major}, which the scan does not read")
        return
    if n > MAX_NPY_HEADER or at + n > len(data):
        s.doubt(where, f"{label} has a header of {n} bytes the scan does not read")
        return
    import ast

    try:
        header = ast.literal_eval(data[at:at + n].decode(encoding))  # what numpy's safe_eval accepts
        descr = header["descr"]
    except (ValueError, SyntaxError, TypeError, KeyError, UnicodeDecodeError, MemoryError,
            RecursionError):
        s.doubt(where, f"{label}'s header is not the dict numpy writes")
        return
    if not _has_objects(descr):
        # "safe: plain numbers" is a claim about a whole array: numpy.load reads shape x itemsize bytes
        # after the header and raises on fewer (numpy/lib/format.py read_array), so the scan counts them
        size = f.size if f is not None else len(data)
        need = _plain_bytes(descr, header.get("shape"))
        if need is None or size - (at + n) < need:
            found = size - (at + n)
            s.cut.append(f"{label}: the array data is cut short (found {found} bytes, expected "
                         f"{need if need is not None else 'a shape and dtype numpy reads'})")
            return
        s.code_free = s.code_free or "numpy (plain numbers)"
        s.notes.append(f"{label}: plain numbers")
        return
    s.notes.append(f"{label}: object array (a pickle, what numpy.load(allow_pickle=True) unpickles)")
    if f is not None:
        if f.size > MAX_BYTES:
            s.doubt(where, f"{label}: object array larger than the scan reads")
            return
        data = f.read(0, f.size, "the array")
    _stream(s, data, where, start=at + n)


def _plain_bytes(descr: Any, shape: Any) -> int | None:
    """The bytes numpy.load reads for a plain array (its dtype's itemsize times the element count), or
    None when numpy would refuse the shape or dtype."""
    import numpy as np
    from numpy.lib import format as npy_format

    if not (isinstance(shape, tuple) and all(type(k) is int and k >= 0 for k in shape)):
        return None
    try:
        itemsize = npy_format.descr_to_dtype(descr).itemsize  # plain numbers only: _has_objects said so
    except (TypeError, ValueError, KeyError, IndexError, RecursionError):
        return None
    return int(np.prod(shape, dtype=object)) * itemsize


def _has_objects(descr: Any, depth: int = 0) -> bool:
    """Whether a ``descr`` (a dtype string, or a list of (name, descr[, shape]) fields) holds objects;
    anything not recognised counts as objects."""
    if depth > 32:
        return True
    if isinstance(descr, str):
        return PLAIN_DESCR.fullmatch(descr) is None
    if isinstance(descr, list):
        return any(not isinstance(field_, tuple) or len(field_) < 2 or _has_objects(field_[1], depth + 1)
                   for field_ in descr)
    return True


# --- tar archives ---------------------------------------------------------------------------------
# torch.save before 0.4 wrote a tar whose "storages" and "tensors" members interleave small pickles with
# raw bytes (torch/serialization.py _legacy_load): a member read as one stream stops at the first raw
# bytes, so the pickles after them are not read
LEGACY_TAR_MEMBERS = ("storages", "tensors")


def _tar_file(s: _Scan, f: LocalFile) -> bool:
    """A tar file, read whole up to MAX_BYTES; True when the zip ``zipfile`` finds at the file's end is
    one of its members, read already (``_member_zip_at_end``)."""
    if f.size > MAX_BYTES:
        s.doubt("", f"a tar archive of {f.size} bytes, larger than the scan reads ({MAX_BYTES}): its "
                "members are not read")
        return False
    return _tar(s, f.read(0, f.size, "the tar archive"), "", 1, _Budget(ZIP_BUDGET))


def _member_zip_at_end(data: bytes, files: list[Any]) -> bool:
    """The end record ``zipfile`` finds on the whole tar (the last signature in its final 64 KiB + 22
    bytes: zipfile.py ``_EndRecData``) ends a member's bytes, with no comment: zipfile then reads that
    member's archive, shifted to where it starts, which the scan read as the member."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - (0xFFFF + 22)))
    return at >= 0 and data[at + 20:at + 22] == b"\x00\x00" and any(
        m.offset_data + m.size == at + 22 for m in files)


def _tar(s: _Scan, data: bytes, where: str, depth: int, budget: _Budget) -> bool:
    """Every regular member of a tar (NeMo's .nemo, torch.save before 0.4), as ``tarfile`` lists it
    (NeMo and torch read tars with it), judged as a zip member is. What extracting it could do beyond
    its bytes is a doubt: a link or special member, a name that leaves the folder (``extractall``
    without a filter writes there), a sparse member; so are bytes after the archive's end (a reader
    that ignores zero blocks reads on) and a legacy torch tar's interleaved members."""
    import io
    import tarfile

    at = f"{where}: " if where else ""
    if depth > MAX_DEPTH:
        s.doubt(where, f"archives nested deeper than {MAX_DEPTH} are not read")
        return False
    odd = _odd_pax_header(data)
    if odd is not None:
        s.doubt(where, f"a tar archive with a PAX header at offset {odd} the scan does not parse (tarfile "
                "before Python 3.11.10 takes time quadratic in its size to read it: CVE-2024-6232)")
        return False
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            end = tar.offset
    except (tarfile.TarError, ValueError, OverflowError, UnicodeError, EOFError) as e:
        s.doubt(where, f"a tar archive tarfile cannot list ({type(e).__name__}: {e})")
        return False
    names = [_tar_name(m.name) for m in members]
    if any(n in LEGACY_TAR_MEMBERS for n in names):
        s.doubt(where, "a torch.save tar (before 0.4): its storages and tensors members interleave pickles "
                "with raw bytes, which the scan does not read")
    if any(data[end:]):
        s.doubt(where, f"{len(data) - end} bytes after the tar archive's end hold data (a reader that "
                "ignores zero blocks reads on)")
    def read(name: str) -> bytes | None:  # the last such member: extractall leaves that one
        found = [m for m, n in zip(members, names, strict=True) if n == name and m.isfile()]
        return data[found[-1].offset_data:found[-1].offset_data + found[-1].size] if found else None

    _loader_manifest(s, names, where, budget, read)
    for m, name in zip(members, names, strict=True):
        mwhere = f"{at}tar member {m.name}"
        if m.isdir():
            continue
        if not m.isfile() or m.issparse():
            s.doubt(mwhere, "a link, special or sparse member: extracting it writes what the scan did "
                    "not read")
            continue
        if m.name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", m.name):
            s.doubt(mwhere, "extracts outside the folder (tarfile.extractall without a filter writes "
                    "it there)")
        if m.offset_data + m.size > len(data):
            s.doubt(mwhere, "the archive ends inside it")
            continue
        if m.size == 0:
            continue
        if budget.left <= 0:
            s.doubt(where, f"tar archive: not all members read (more than {ZIP_BUDGET} bytes together)")
            return False
        budget.left -= m.size
        inner = data[m.offset_data:m.offset_data + m.size]
        _contents(s, inner, name, mwhere, depth, budget, named=name.lower().endswith(PICKLE_SUFFIXES))
    if not (s.refs or s.pickles or s.unverified or s.code_free):
        s.not_pickle = "a tar archive with no pickle inside"
    return _member_zip_at_end(data, [m for m in members if m.isfile()])


_PAX_RECORD = re.compile(rb"([0-9]{1,20}) ")


def _odd_pax_header(data: bytes) -> int | None:
    """The offset of a PAX extended header (any 512-aligned block with a valid header checksum and type
    x, g or X, a superset of those tarfile reads) whose records are not all ``LEN key=value\n`` with LEN
    their exact length: tarfile's regular expressions backtrack on such data (CVE-2024-6232), so the scan
    parses them first, in linear time, and leaves the archive unread where they are odd."""
    for at in range(0, len(data) - 511, 512):
        if data[at + 156:at + 157] not in (b"x", b"g", b"X") or not _header_checksum_ok(data[at:at + 512]):
            continue
        try:
            size = int(data[at + 124:at + 136].rstrip(b"\x00 ").strip() or b"0", 8)
        except ValueError:
            return at
        body, pos = data[at + 512:at + 512 + size], 0
        while pos < len(body) and body[pos:pos + 1] != b"\x00":
            m = _PAX_RECORD.match(body, pos)
            n = int(m.group(1)) if m else 0
            record = body[pos:pos + n]
            if not m or n <= m.end() - pos or not record.endswith(b"\n") or b"=" not in record:
                return at
            pos += n
    return None


def _header_checksum_ok(block: bytes) -> bool:
    try:
        want = int(block[148:156].rstrip(b"\x00 ").strip() or b"-1", 8)
    except ValueError:
        return False
    total = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    return want == total


def _tar_name(name: str) -> str:
    """A member's name as the folder it extracts to holds it ("./model_config.yaml": model_config.yaml)."""
    while name.startswith("./"):
        name = name[2:]
    return name


# --- zip archives ---------------------------------------------------------------------------------
PACKAGE_MARKER = ".data/extern_modules"  # torch.package's record of the modules left to the environment

@dataclass
class _Budget:
    left: int


def _zip_file(s: _Scan, f: LocalFile, where: str, depth: int, budget: _Budget | None = None) -> None:
    budget = budget or _Budget(ZIP_BUDGET)
    archive = zipfile_safe.survey(f)
    for problem in archive.problems:
        s.doubt(where, f"zip archive: {problem}")
    members = archive.members
    for m in members:
        if m.name == "constants.pkl" or m.name.endswith("/constants.pkl"):
            # torch.load's own test (serialization._is_torchscript_zip): it hands such an archive to
            # torch.jit.load, which compiles code/ and runs it (a __setstate__ runs on loading), whatever
            # globals data.pkl names: the pickles say nothing about that code
            s.doubt(where, f"member {m.name}: a TorchScript archive; torch.load runs its code/ through "
                    "torch.jit.load, which the scan does not judge")
            break
    packaged = next((m for m in members if m.name.endswith(PACKAGE_MARKER)), None)
    if packaged is not None:
        # torch.package (package/package_importer.py): PackageImporter imports every module a pickle of
        # the archive names from the archive's own sources first (only those .data/extern_modules lists
        # and a few implicit ones come from the environment), so an allowed global runs packaged code.
        # (torch.load reads a plain torch.save zip's data.pkl only: Python files beside it run nowhere)
        s.doubt(where, f"member {packaged.name}: a torch.package archive; PackageImporter imports the "
                "modules its pickles name from the archive's own code, which the scan does not judge")
    # torch's reader (miniz) finds ARCHIVE/data.pkl whatever the case of its letters
    data_pkls = [m for m in members if m.name.lower() == "data.pkl" or m.name.lower().endswith("/data.pkl")]
    storages: set[str] = set()
    torch_prefixes = {m.name[: -len("data.pkl")] for m in data_pkls}
    for m in data_pkls:  # first, to learn which members are storages
        if _spent(s, budget, where):
            return
        _member(s, f, m, depth, budget, storages=storages, torch_data_pkl=True)
    raw_storages = {f"{p}data/{k}" for p in torch_prefixes for k in storages}
    for m in members:
        if m in data_pkls:
            continue
        # an empty member holds nothing; a name ending "/" is no reason to skip one with data: zipfile
        # reads a "directory" member's bytes like any other's (ZipFile.read, numpy's NpzFile)
        if m.compressed_size == 0 and m.size == 0:
            continue
        if _spent(s, budget, where):
            return
        _member(s, f, m, depth, budget, storage=m.name in raw_storages)
    _loader_archive(s, f, members, where, budget)
    if not (s.refs or s.pickles or s.unverified or s.code_free):
        s.not_pickle = "a zip archive with no pickle inside"


def _loader_archive(s: _Scan, f: LocalFile, members: Sequence[zipfile_safe.SurveyMember], where: str,
                    budget: _Budget) -> None:
    """A zip that a loader other than pickle's takes code from (formats/code_loaders.py: Keras v3,
    skops, TorchServe): "no pickle inside" says nothing about what that loader imports and calls."""
    def read(name: str) -> bytes | None:
        m = next(m for m in members if m.name == name)
        return _read_member(s, f, m, f"member {m.name}", budget)

    _loader_manifest(s, [m.name for m in members], where, budget, read)


def _loader_manifest(s: _Scan, names: Sequence[str], where: str, budget: _Budget,
                     read: Callable[[str], bytes | None]) -> None:
    """The doubt for an archive (zip or tar) a code-running loader reads (formats/code_loaders.py), naming
    what its manifest names; nothing where the loader would refuse the manifest."""
    loader = code_loaders.archive_loader(set(names), s.file)
    if loader is None:
        return
    data = read(loader.manifest)
    if data is None:
        return
    line = code_loaders.manifest_line(loader, data)
    if line is not None:
        s.doubt(where, line)


def _spent(s: _Scan, budget: _Budget, where: str) -> bool:
    if budget.left > 0:
        return False
    s.doubt(where, f"zip archive: not all members read (they inflate to more than {ZIP_BUDGET} bytes "
            "together, more than the scan reads)")
    return True


def _member(s: _Scan, f: LocalFile, m: zipfile_safe.SurveyMember, depth: int, budget: _Budget, *,
            storages: set[str] | None = None, torch_data_pkl: bool = False, storage: bool = False) -> None:
    where = f"member {m.name}" + (f" ({m.view})" if m.view != "central directory" else "")
    named = m.name.lower().endswith(PICKLE_SUFFIXES) or torch_data_pkl
    if storage:
        # raw tensor bytes torch never unpickles; zipfile + pickle.loads on every member would: what
        # that could import counts (real storages break at their first opcodes, having named nothing)
        _storage(s, f, m, where, budget)
        return
    data = _read_member(s, f, m, where, budget)
    if data is None:
        return
    if zlib.crc32(data) != m.crc:
        s.doubt(where, "fails its CRC check (readers differ in whether they check it)")
    if m.method != zipfile_safe.STORED and torch_data_pkl:
        s.notes.append(f"{where}: compressed (torch.save never compresses)")
    _contents(s, data, m.name, where, depth, budget, named=named, storages=storages,
              torch_data_pkl=torch_data_pkl)


def _contents(s: _Scan, data: bytes, name: str, where: str, depth: int, budget: _Budget, *, named: bool,
              storages: set[str] | None = None, torch_data_pkl: bool = False) -> None:
    """An archive member's bytes (zip or tar), read as what they are: an array, an archive, compressed
    data, pickles (``named``: a pickle by its name, read strictly; otherwise as ``pickle.loads`` on
    every member would read it)."""
    if name.lower().endswith(".npy") or data.startswith(NPY_MAGIC):
        _npy(s, data, where)
        return
    if zipfile_safe.is_zip(data[:4]) and depth < MAX_DEPTH:
        s.notes.append(f"{where}: a zip archive inside")
        _nested_zip(s, data, where, depth, budget)
        return
    if zipfile_safe.is_zip(data[:4]):
        s.doubt(where, f"zip archives nested deeper than {MAX_DEPTH} are not read")
        return
    if data.startswith(code_loaders.HDF5_MAGIC):  # extracted, then read with keras or pandas
        for line in code_loaders.hdf5_loaders_in(data):
            s.doubt(where, line)
    if _is_tar(data[:512]):
        _tar(s, data, where, depth + 1, budget)  # then read as pickle.loads reads it, below
    kind = _compression(data[:512])
    if kind is not None:
        # a compressed pickle in the archive (a zip of joblib.dump(compress=...) files): joblib.load on
        # the member, or gzip.open on it extracted, reads what it inflates to; the member is also read
        # as it is below (where its first byte is an opcode, as lzma's and bz2's are)
        inflated = _decompress(kind, data)
        if isinstance(inflated, str):
            s.doubt(where, inflated)
        elif inflated is not None:
            budget.left -= len(inflated[0])
            _inflated(s, kind, inflated, f"{where} ({kind}-compressed)", depth + 1, budget)
    looks = len(data) >= 2 and data[0] == 0x80 and data[1] <= vm.HIGHEST_PROTOCOL
    inner = _Scan(s.file)
    # a member neither named nor shaped like a pickle (a protocol 0 or 1 pickle is plain text):
    # read as zipfile + pickle.loads on every member would, counting only what that could import
    _stream(inner, data, where, single=torch_data_pkl, storages=storages, lenient=not (named or looks))
    s.add(tuple(inner.refs.values()))
    s.unverified += inner.unverified
    s.pickles += inner.pickles
    if inner.not_pickle and named and not inner.refs:
        s.notes.append(f"{where}: named like a pickle but is not one")


def _read_member(s: _Scan, f: LocalFile, m: zipfile_safe.SurveyMember, where: str, budget: _Budget,
                 prefix: int | None = None) -> bytes | None:
    """A member's bytes (``prefix``: of a stored one, its first bytes), charged to the archive's budget;
    None, with the doubt said, when they cannot be had."""
    try:
        data = zipfile_safe.read_surveyed(f, m, MAX_BYTES, prefix=prefix)
    except (FormatError, UnsupportedError) as e:
        s.doubt(where, f"cannot be read, so it is not verified ({_short(e, f.name)})")
        return None
    budget.left -= len(data)
    return data


def _storage(s: _Scan, f: LocalFile, m: zipfile_safe.SurveyMember, where: str, budget: _Budget) -> None:
    window = STORAGE_WINDOW if m.method == zipfile_safe.STORED else MAX_BYTES
    data = _read_member(s, f, m, where, budget, prefix=window)
    if data is None:
        return
    inner = _Scan(s.file)
    _stream(inner, data, where, lenient=True, whole=len(data) >= m.size)
    if inner.unverified and len(data) < m.size:  # the window cannot settle it: all of the member
        first, inner = inner, _Scan(s.file)
        data = _read_member(s, f, m, where, budget)
        if data is None:
            return
        _stream(inner, data, where, lenient=True)
        inner.add(tuple(u for key, u in first.refs.items() if key not in inner.refs))
    s.add(tuple(inner.refs.values()))
    s.unverified += inner.unverified


def _nested_zip(s: _Scan, data: bytes, where: str, depth: int, budget: _Budget | None = None) -> None:
    import os
    import tempfile

    # the survey reads through LocalFile (bounded preads): a nested archive goes through a private file
    with tempfile.TemporaryDirectory(prefix="paramscope-scan-") as tmp:
        inner = Path(tmp) / "member.zip"
        fd = os.open(inner, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        with LocalFile(inner) as g:
            sub = _Scan(s.file)
            _zip_file(sub, g, where, depth + 1, budget)
    s.add(tuple(sub.refs.values()))
    s.unverified += [u if u.startswith(where) else f"{where}: {u}" for u in sub.unverified]
    s.pickles += sub.pickles
    s.code_free = s.code_free or sub.code_free
    s.cut += sub.cut
