"""Red team of `scan`'s verdict: files built to run code under an ordinary loader while a scanner calls
them safe. Every technique has two tests:

- control: the loader the technique aims at (``pickle.load`` with the C or the pure-Python unpickler,
  loads repeated until the file ends, ``torch.load(weights_only=False)``, ``numpy.load(allow_pickle=True)``,
  ``zipfile`` + ``pickle.loads`` on each member, ``gzip.open`` + ``pickle.load``) runs in a child process
  and the payload's marker file appears: the attack is live;
- verdict: ``scan`` does not exit 0 on the file, and never creates the marker itself.

Sources are named in each case's id and ``source``: picklescan's and modelscan's advisories and issues
(globals they missed: GHSA-… on pip.main, pydoc.locate, operator.attrgetter/methodcaller,
functools.partial/reduce, builtins.getattr, code, cProfile, timeit, bdb/pdb, ctypes, runpy,
numpy.testing, torch.utils / torch.jit gadgets, ``__builtin__`` names), JFrog's and Trail of Bits'
(fickling) write-ups of zip- and format-level confusion (a pickle under another format's magic or
name, polyglots, archives appended after other data, torch's legacy tar format, multi-member gzip), and
CPython's own opcode semantics (INST/OBJ, BUILD with ``__setstate__``, STACK_GLOBAL fed from the memo,
BINUNICODE8, UNICODE, dotted qualnames). Each payload only creates a marker file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builders.pickle_opcodes import call, cmd, code, glob, p4, sb, su, system_p0, zip_of
from paramscope.app.scan import scan
from paramscope.formats import pickle_scan

# --- opcode helpers -------------------------------------------------------------------------------


def write(data: Callable[[Path], bytes]) -> Callable[[Path, Path], None]:
    def build(path: Path, marker: Path) -> None:
        path.write_bytes(data(marker))
    return build


# --- the loaders (child processes; argv[1] is the file) -------------------------------------------

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
LOAD_BYTESIO = ("import io, pickle, sys; "  # as torch.load(io.BytesIO(downloaded)) reads a legacy file
                "pickle.load(io.BytesIO(open(sys.argv[1], 'rb').read()))")
LOAD_PY = "import pickle, sys; pickle._Unpickler(open(sys.argv[1], 'rb')).load()"
LOAD_LOOP = ("import pickle, sys\nf = open(sys.argv[1], 'rb')\n"
             "while True:\n    pickle.load(f)")  # until the file ends (EOFError) or breaks
LOAD_MEMBERS = ("import pickle, sys, zipfile; z = zipfile.ZipFile(sys.argv[1])\n"
                "for n in z.namelist():\n"
                "    try: pickle.loads(z.read(n))\n"
                "    except Exception: pass")
LOAD_GZIP_LOOP = ("import gzip, pickle, sys\nf = gzip.open(sys.argv[1])\n"
                  "while True:\n    pickle.load(f)")
LOAD_BZ2_LOOP = ("import bz2, pickle, sys\nf = bz2.open(sys.argv[1])\n"
                 "while True:\n    pickle.load(f)")
TORCH_LOAD = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
LOAD_STREAMING = ("import pickle, struct, sys; d = open(sys.argv[1], 'rb').read(); "
                  "f = struct.unpack_from('<4sHHHHHIIIHH', d); s = 30 + f[9] + f[10]; "
                  "pickle.loads(d[s:s + f[7]])")  # a streaming unzip: the first local header


@dataclass(frozen=True)
class Technique:
    id: str
    source: str  # where the technique is described
    build: Callable[[Path, Path], None]
    loader: str
    suffix: str = ".pkl"
    slow: bool = False  # the control imports torch


T: list[Technique] = []


def technique(id: str, source: str, loader: str = LOAD, suffix: str = ".pkl",
              slow: bool = False) -> Callable[[Callable[[Path, Path], None]], Callable[[Path, Path], None]]:
    def register(build: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
        T.append(Technique(id, source, build, loader, suffix, slow))
        return build
    return register


def bytes_technique(id: str, source: str, data: Callable[[Path], bytes], loader: str = LOAD,
                    suffix: str = ".pkl", slow: bool = False) -> None:
    T.append(Technique(id, source, write(data), loader, suffix, slow))


# --- globals a deny list missed (scan: an allow list, so each is "unknown" or "dangerous") --------

PICKLESCAN = "picklescan GHSA advisories 2024-2025"
bytes_technique("posix.system-stack-global", "fickling corpus",
                lambda m: p4(call(glob("posix", "system"), su(cmd(m)))))
bytes_technique("__builtin__.exec-protocol-2", f"{PICKLESCAN} (__builtin__ mapped by find_class)",
                lambda m: b"\x80\x02c__builtin__\nexec\n(" + su(code(m)) + b"tR.")
bytes_technique("builtins.eval-protocol-0-unicode", "fickling corpus",
                lambda m: b"cbuiltins\neval\n(V" + code(m).encode() + b"\ntR.")
bytes_technique("builtins.getattr-__import__-chain", f"{PICKLESCAN} (builtins.getattr chains)",
                lambda m: p4(call(call(glob("builtins", "getattr"), call(glob("builtins", "__import__"),
                                                                          su("os")), su("system")),
                                  su(cmd(m)))))
bytes_technique("operator.attrgetter-importlib", f"{PICKLESCAN} (operator.attrgetter)",
                lambda m: p4(call(call(call(glob("operator", "attrgetter"), su("system")),
                                       call(glob("importlib", "import_module"), su("os"))), su(cmd(m)))))
bytes_technique("operator.methodcaller", f"{PICKLESCAN} (operator.methodcaller)",
                lambda m: p4(call(call(glob("operator", "methodcaller"), su("system"), su(cmd(m))),
                                  call(glob("builtins", "__import__"), su("os")))))
bytes_technique("functools.partial", f"{PICKLESCAN} (functools.partial)",
                lambda m: p4(call(call(glob("functools", "partial"), glob("posix", "system"), su(cmd(m))))))
bytes_technique("functools.reduce-exec", f"{PICKLESCAN} (functools.reduce)",
                lambda m: p4(call(glob("functools", "reduce"), glob("builtins", "exec"),
                                  b"(" + su(code(m)) + b"}l")))
bytes_technique("pydoc.locate", f"{PICKLESCAN} (pydoc.locate)",
                lambda m: p4(call(call(glob("pydoc", "locate"), su("os.system")), su(cmd(m)))))
bytes_technique("code.InteractiveInterpreter", f"{PICKLESCAN} (code module)",
                lambda m: p4(call(call(glob("operator", "methodcaller"), su("runsource"), su(code(m))),
                                  call(glob("code", "InteractiveInterpreter")))))
bytes_technique("cProfile.run", f"{PICKLESCAN} (cProfile.run)",
                lambda m: p4(call(glob("cProfile", "run"), su(code(m)))))
bytes_technique("timeit.timeit", f"{PICKLESCAN} (timeit)",
                lambda m: p4(call(glob("timeit", "timeit"), su(code(m)), su("pass"),
                                  glob("time", "perf_counter"), b"K\x01")))
bytes_technique("bdb.Bdb.run", f"{PICKLESCAN} (pdb/bdb)",
                lambda m: p4(call(call(glob("operator", "methodcaller"), su("run"), su(code(m))),
                                  call(glob("bdb", "Bdb")))))
bytes_technique("ctypes.CDLL-system", f"{PICKLESCAN} (ctypes)",
                lambda m: p4(call(call(glob("operator", "methodcaller"), su("system"),
                                       sb(cmd(m).encode())), call(glob("ctypes", "CDLL"), b"N"))))
bytes_technique("runpy._run_code", f"{PICKLESCAN} (runpy)",
                lambda m: p4(call(glob("runpy", "_run_code"), su(code(m)), b"}")))
bytes_technique("subprocess.check_call", "modelscan unsafe globals",
                lambda m: p4(call(glob("subprocess", "check_call"),
                                  b"(" + su("touch") + su(str(m)) + b"l")))
bytes_technique("numpy.testing-runstring", f"{PICKLESCAN} (numpy.testing)",
                lambda m: p4(call(glob("numpy.testing._private.utils", "runstring"), su(code(m)), b"}")))
bytes_technique("numpy.f2py-myeval", f"{PICKLESCAN} (numpy.f2py)",
                lambda m: p4(call(glob("numpy.f2py.crackfortran", "myeval"), su(code(m)), b"}}")))
bytes_technique("dotted-qualname-pathlib.os.system", "CPython _getattribute (protocol 4 dotted names)",
                lambda m: p4(call(glob("pathlib", "os.system"), su(cmd(m)))))
bytes_technique("dotted-qualname-posixpath.os.system", "CPython _getattribute (protocol 4 dotted names)",
                lambda m: p4(call(glob("posixpath", "os.system"), su(cmd(m)))))
bytes_technique("torch.utils.collect_env.run", f"{PICKLESCAN} (torch.utils)",
                lambda m: p4(call(glob("torch.utils.collect_env", "run"), su(cmd(m)))), slow=True)
bytes_technique("torch.storage._load_from_bytes-nested", "picklescan issue: nested torch.load",
                lambda m: p4(call(glob("torch.storage", "_load_from_bytes"), sb(system_p0(m)))), slow=True)

# --- opcodes --------------------------------------------------------------------------------------

bytes_technique("INST", "CPython pickle.py load_inst",
                lambda m: b"(V" + cmd(m).encode() + b"\nios\nsystem\n.")
bytes_technique("OBJ", "CPython pickle.py load_obj",
                lambda m: b"(cposix\nsystem\nV" + cmd(m).encode() + b"\no.")
bytes_technique("BUILD-injects-__setstate__", "fickling: BUILD on an object without __setstate__",
                lambda m: p4(call(glob("argparse", "Namespace")) + b"}" + su("__setstate__")
                             + glob("posix", "system") + b"sb" + su(cmd(m)) + b"b"))
bytes_technique("STACK_GLOBAL-from-memo", "fickling corpus (memo)",
                lambda m: p4(su("posix") + b"\x94" + su("system") + b"\x94" + b"00" + b"h\x00h\x01\x93"
                             + su(cmd(m)) + b"\x85R"))
bytes_technique("STACK_GLOBAL-BINUNICODE8", "CPython opcode BINUNICODE8",
                lambda m: p4(b"".join(b"\x8d" + struct.pack("<Q", len(s)) + s for s in (b"posix", b"system"))
                             + b"\x93" + su(cmd(m)) + b"\x85R"))
bytes_technique("STACK_GLOBAL-UNICODE-lines", "CPython opcode UNICODE",
                lambda m: p4(b"Vposix\nVsystem\n\x93" + su(cmd(m)) + b"\x85R"))
bytes_technique("protocol-0-text", "fickling corpus", system_p0)


# --- a pickle under another format's name or magic -------------------------------------------------

bytes_technique("pickle-with-GGUF-magic", "format confusion: BINFLOAT swallows 'GUF' and 5 bytes",
                lambda m: b"GGUF\x03\x00\x00\x00\x00" + system_p0(m), suffix=".gguf")
bytes_technique("protocol-0-named-.safetensors", "format confusion by file name", system_p0,
                suffix=".safetensors")
bytes_technique("protocol-0-named-.onnx", "format confusion by file name", system_p0, suffix=".onnx")
bytes_technique("protocol-0-named-.safetensors.index.json", "format confusion by file name", system_p0,
                suffix=".safetensors.index.json")


def safetensors_polyglot(marker: Path) -> bytes:
    """A valid safetensors file (a u8 tensor) that is also a pickle: the header length's first byte is
    BINBYTES, whose length lands inside the JSON header's metadata string; SHORT_BINSTRINGs with
    printable lengths walk through that string and its closing quote; the header's closing braces are
    EMPTY_DICTs; the tensor data is the payload."""
    payload = b"0" + system_p0(marker)  # POP the dict, then the pickle (its STOP ends it)
    tensor = {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}
    prefix = ('{"t":' + json.dumps(tensor, separators=(",", ":")) + ',"__metadata__":{"p":"').encode()
    q = len(prefix) + 8
    while True:
        n = 0x42 + (q << 8)  # 'B': BINBYTES of length n >> 8 == q, from offset 5
        start = 5 + q  # where the pickle resumes: inside the metadata string
        filler = start - 8 - len(prefix)
        rest = n - len(prefix) - filler - 2  # up to and including the closing quote; then "}}"
        if filler >= 0 and rest >= 34:
            break
        q += 1
    chain = b""
    while rest > 0:
        k = min(126, rest - 2)
        if rest - (k + 2) != 0 and rest - (k + 2) < 34:
            k = rest - 2 - 34
        body = b"a" * (k - 1) + (b'"' if rest == k + 2 else b"a")
        chain += b"U" + bytes([k]) + body
        rest -= k + 2
    header = prefix + b"a" * filler + chain + b"}}"
    assert len(header) == n and header[0:1] == b"{"
    json.loads(header)
    return struct.pack("<Q", n) + header + payload


bytes_technique("safetensors-pickle-polyglot", "format confusion (JFrog: polyglot model files)",
                safetensors_polyglot, suffix=".safetensors")
bytes_technique("safetensors-pickle-polyglot-as-.bin", "format confusion (JFrog: polyglot model files)",
                safetensors_polyglot, suffix=".bin")


# --- containers -----------------------------------------------------------------------------------

def _benign(protocol: int = 2) -> bytes:
    return pickle.dumps({"w": [1.0, 2.0]}, protocol=protocol)


def _data_pkl_with_storage(key: str) -> bytes:
    """A torch data.pkl whose only object is the persistent id of storage KEY."""
    return (b"\x80\x02(" + su("storage") + b"ctorch\nFloatStorage\n" + su(key) + su("cpu") + b"K\x04tQ.")


@technique("zip-protocol-0-member-no-suffix", "JFrog: pickles hidden in archive members",
           LOAD_MEMBERS, ".pt")
def zip_protocol0_member(path: Path, marker: Path) -> None:
    path.write_bytes(zip_of({"archive/data.pkl": _benign(), "archive/extra/blob": system_p0(marker)}))


@technique("zip-storage-member-is-a-pickle", "JFrog: pickles hidden in archive members", LOAD_MEMBERS, ".pt",
           slow=True)  # the control imports torch (data.pkl names torch.FloatStorage)
def zip_storage_pickle(path: Path, marker: Path) -> None:
    evil = pickle.dumps(0, protocol=2)[:-1] + b"0" + system_p0(marker)
    path.write_bytes(zip_of({"archive/data.pkl": _data_pkl_with_storage("0"), "archive/data/0": evil}))


@technique("zip-DATA.PKL-upper-case", "miniz locates members case-insensitively (torch's reader)",
           TORCH_LOAD, ".pt", slow=True)
def zip_upper_case(path: Path, marker: Path) -> None:
    path.write_bytes(zip_of({"archive/DATA.PKL": b"\x80\x02" + system_p0(marker),
                           "archive/version": b"3\n", "archive/byteorder": b"little"}))


@technique("zip-after-numeric-npy", "polyglot: zipfile finds an archive at the end of any file",
           LOAD_MEMBERS, ".npy")
def zip_after_npy(path: Path, marker: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.arange(4.0))
    path.write_bytes(buf.getvalue() + zip_of({"evil.pkl": system_p0(marker)}))


@technique("zip-after-gguf", "polyglot: zipfile finds an archive at the end of any file", LOAD_MEMBERS,
           ".gguf")
def zip_after_gguf(path: Path, marker: Path) -> None:
    gguf_head = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)  # version 3, no tensors, no metadata
    path.write_bytes(gguf_head + zip_of({"evil.pkl": system_p0(marker)}))


def _zip_count_zero(data: bytes) -> bytes:
    """The end record's member counts set to 0: zipfile reads records while they fit in the
    directory's size, whatever the count says."""
    raw = bytearray(data)
    struct.pack_into("<HH", raw, raw.rindex(b"PK\x05\x06") + 8, 0, 0)
    return bytes(raw)


@technique("zip-after-gguf-count-zero", "zipfile ignores the end record's member count", LOAD_MEMBERS,
           ".gguf")
def zip_after_gguf_count_zero(path: Path, marker: Path) -> None:
    gguf_head = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    path.write_bytes(gguf_head + _zip_count_zero(zip_of({"evil.pkl": system_p0(marker)})))


def _with_zip64_records(data: bytes) -> bytes:
    """A zip64 end record and locator before the end record, as torch writes into every archive."""
    at = data.rindex(b"PK\x05\x06")
    _, _, _, _, n, cd_size, cd_offset, _ = struct.unpack_from("<4sHHHHIIH", data, at)
    z64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    return data[:at] + z64 + locator + data[at:]


@technique("zip64-records-after-gguf", "zipfile reckons an appended archive's shift past its zip64 records",
           LOAD_MEMBERS, ".gguf")
def zip64_after_gguf(path: Path, marker: Path) -> None:
    gguf_head = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    path.write_bytes(gguf_head + _with_zip64_records(zip_of({"evil.pkl": system_p0(marker)})))


@technique("zip-count-zero", "zipfile ignores the end record's member count", LOAD_MEMBERS, ".zip")
def zip_count_zero(path: Path, marker: Path) -> None:
    path.write_bytes(_zip_count_zero(zip_of({"a.pkl": _benign(), "b.pkl": b"\x80\x02" + system_p0(marker)})))


@technique("zip-after-junk-prefix", "JFrog: extra bytes before the archive", LOAD_MEMBERS, ".zip")
def zip_after_junk(path: Path, marker: Path) -> None:
    path.write_bytes(b"#!/bin/sh\nexit 0\n" + zip_of({"model.pkl": b"\x80\x02" + system_p0(marker)}))


@technique("zip-fake-end-record-in-comment", "JFrog: end-of-central-directory confusion", LOAD_STREAMING,
           ".zip")
def zip_fake_eocd(path: Path, marker: Path) -> None:
    evil = zip_of({"model.pkl": b"\x80\x02" + system_p0(marker)})
    benign = zip_of({"model.pkl": _benign()})
    # the benign archive's records appended as the comment of the evil one: readers find the last
    # end record (the benign one), whose central directory offset is wrong for this file
    data = bytearray(evil)
    at = data.rindex(b"PK\x05\x06")
    struct.pack_into("<H", data, at + 20, len(benign))
    path.write_bytes(bytes(data) + benign)


LOAD_STREAM_ALL = """import zlib, struct, pickle, sys
d = open(sys.argv[1], 'rb').read(); pos = 0
while d[pos:pos + 4] == b'PK\\x03\\x04':  # every local header, as stream-unzip walks them
    f = struct.unpack_from('<4sHHHHHIIIHH', d, pos); s = pos + 30 + f[9] + f[10]
    if f[2] & 8:  # sizes after the data: a deflate stream ends by itself, then the descriptor
        o = zlib.decompressobj(-15); data = o.decompress(d[s:]); end = len(d) - len(o.unused_data)
        pos = end + (16 if d[end:end + 4] == b'PK\\x07\\x08' else 12)
    else:
        raw = d[s:s + f[7]]; data = raw if f[3] == 0 else zlib.decompress(raw, -15); pos = s + f[7]
    try: pickle.loads(data)
    except Exception: pass
"""


@technique("zip-hidden-member-after-data-descriptor", "JFrog: local headers the central directory does not "
           "list, past a member whose sizes follow its data", LOAD_STREAM_ALL, ".pt")
def zip_after_descriptor(path: Path, marker: Path) -> None:
    import zlib

    def local(name: bytes, flags: int, method: int, crc: int, size: int, usize: int) -> bytes:
        return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, crc, size, usize,
                           len(name), 0) + name

    benign, evil = _benign(), b"\x80\x02" + system_p0(marker)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(benign) + packer.flush()
    name = b"archive/data.pkl"
    first = (local(name, 8, 8, 0, 0, 0) + packed
             + struct.pack("<4sIII", b"PK\x07\x08", zlib.crc32(benign), len(packed), len(benign)))
    hidden = local(b"archive/extra.pkl", 0, 0, zlib.crc32(evil), len(evil), len(evil)) + evil
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 8, 8, 0, 0, zlib.crc32(benign),
                          len(packed), len(benign), len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(first + hidden), 0)
    path.write_bytes(first + hidden + central + end)


def _legacy(obj_pickle: bytes, keys: list[str]) -> bytes:
    """torch.save(_use_new_zipfile_serialization=False): magic, protocol, sys_info, the object, keys."""
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 8}}
    return (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps(sys_info, protocol=2) + obj_pickle + pickle.dumps(keys, protocol=2))


@technique("legacy-torch-then-pickle", "repeated pickle.load on a legacy torch.save file", LOAD_LOOP, ".pt")
def legacy_then_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(_legacy(_benign(), []) + b"\x80\x02" + system_p0(marker))


@technique("legacy-torch-storage-bytes-are-a-pickle", "repeated pickle.load on a legacy torch.save file",
           LOAD_LOOP, ".pt")
def legacy_storage_pickle(path: Path, marker: Path) -> None:
    evil = b"0" + system_p0(marker)
    # storage 0's element count (8 bytes) reads as BINBYTES of 3 bytes; its data is the payload
    numel = 0x42 | (3 << 8)
    assert numel >= len(evil)
    storage = struct.pack("<Q", numel) + evil.ljust(numel, b"\x00")
    path.write_bytes(_legacy(_benign(), ["0"]) + storage)


@technique("tar-v7-pickle-polyglot", "torch.load's legacy tar format (tarfile checks no magic)", TORCH_LOAD,
           ".pt", slow=True)
def tar_polyglot(path: Path, marker: Path) -> None:
    """A tar without the ustar magic (tarfile reads it by its checksum) holding torch's legacy tar
    members, whose first header's name starts with BINBYTES swallowing the whole archive up to a final
    STOP: pickle.load reads one harmless bytes object, torch.load runs the "storages" member."""
    members = {"storages": b"\x80\x02" + system_p0(marker), "tensors": pickle.dumps(0),
               "pickle": pickle.dumps(0), "z": b"." * 512}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        first = tarfile.TarInfo("x" * 90)
        first.size = 0
        t.addfile(first)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    end = raw.rindex(b".") + 1  # the end of the "z" member (a whole block): drop the end blocks
    raw = raw[:end]
    for at in range(0, end - 511, 512):  # every header: drop the ustar magic, recompute the checksum
        if raw[at + 257:at + 262] == b"ustar":
            raw[at + 257:at + 265] = bytes(8)
            if at == 0:
                raw[0:5] = b"B" + struct.pack("<I", end - 6)
            raw[at + 148:at + 156] = b" " * 8
            raw[at + 148:at + 156] = b"%06o\x00 " % sum(raw[at:at + 512])
    path.write_bytes(bytes(raw))


@technique("gzip-two-members", "gzip.open reads every member; a scan inflating one sees one pickle",
           LOAD_GZIP_LOOP, ".pkl.gz")
def gzip_two_members(path: Path, marker: Path) -> None:
    path.write_bytes(gzip.compress(_benign()) + gzip.compress(b"\x80\x02" + system_p0(marker)))


@technique("bz2-two-streams", "bz2.open reads every stream", LOAD_BZ2_LOOP, ".pkl.bz2")
def bz2_two_streams(path: Path, marker: Path) -> None:
    import bz2

    path.write_bytes(bz2.compress(_benign()) + bz2.compress(b"\x80\x02" + system_p0(marker)))


@technique("joblib-pre-0.10-zfile", "joblib numpy_pickle_compat: the 'ZF' format joblib.load still reads",
           "import joblib, sys; joblib.load(sys.argv[1])", ".joblib")
def joblib_zfile(path: Path, marker: Path) -> None:
    import zlib

    data = b"\x80\x02" + system_p0(marker)
    path.write_bytes(b"ZF" + hex(len(data)).encode().ljust(19) + zlib.compress(data))


GGUF_HEAD = b"GGUF\x03\x00\x00\x00\x00"  # BINFLOAT: "GUF", the version, a byte of the tensor count


def _frame(body: bytes, declared: int | None = None) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body) if declared is None else declared) + body


bytes_technique("GGUF-magic-frame-too-long", "FRAME longer than the data: pickle.py reads on",
                lambda m: GGUF_HEAD + _frame(system_p0(m), 1 << 20), LOAD_PY, ".gguf")
bytes_technique("GGUF-magic-frame-straddle", "an opcode past its FRAME's end: _pickle reads on",
                lambda m: GGUF_HEAD + _frame(b"N0" + system_p0(m), 3), LOAD, ".gguf")
bytes_technique("GGUF-magic-frame-in-frame", "a FRAME inside a FRAME: _pickle reads on",
                lambda m: GGUF_HEAD + _frame(b"N0" + _frame(system_p0(m))), LOAD, ".gguf")


@technique("xz-two-streams", "lzma.open reads every stream",
           "import lzma, pickle, sys\nf = lzma.open(sys.argv[1])\nwhile True:\n    pickle.load(f)", ".pkl.xz")
def xz_two_streams(path: Path, marker: Path) -> None:
    import lzma

    path.write_bytes(lzma.compress(_benign()) + lzma.compress(b"\x80\x02" + system_p0(marker)))


@technique("torchscript-archive-allowed-globals", "torch.load dispatches a TorchScript zip to torch.jit.load "
           "(CVE-2025-32434's route)", TORCH_LOAD, ".pt", slow=True)
def torchscript_archive(path: Path, marker: Path) -> None:
    """torch.jit.save of a module whose TorchScript __setstate__ creates the marker (torch.from_file
    with shared=True creates its file), its class renamed collections.Counter: data.pkl then names only
    globals torch.load(weights_only=True) accepts."""
    torch = pytest.importorskip("torch")
    import importlib.util

    module_file = path.with_name("redteam_ts.py")
    module_file.write_text(TORCHSCRIPT_SOURCE.replace("MARKER", str(marker)))  # TorchScript reads source
    spec = importlib.util.spec_from_file_location("redteam_ts", module_file)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(mod.M()), buf)
    src = zipfile.ZipFile(buf)
    data_pkl = next(n for n in src.namelist() if n.endswith("/data.pkl"))
    module = src.read(data_pkl)[3:].split(b"\n")[0].decode()  # PROTO 2, GLOBAL "__torch__… M"
    code_file = f"{data_pkl[:-len('data.pkl')]}code/{module.replace('.', '/')}.py"
    out = {}
    for name in src.namelist():
        data = src.read(name)
        if name == data_pkl:
            data = data.replace(f"c{module}\nM\n".encode(), b"ccollections\nCounter\n")
        if name == code_file:
            data = data.replace(b"class M(", b"class Counter(").replace(f"{module}.M".encode(),
                                                                         b"collections.Counter")
            name = f"{data_pkl[:-len('data.pkl')]}code/collections.py"
        if not name.endswith(".debug_pkl"):
            out[name] = data
    path.write_bytes(zip_of(out))


TORCHSCRIPT_SOURCE = """
import torch
from typing import Tuple


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.zeros(1)

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, bool]:
        return (self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]) -> None:
        self.w = torch.from_file("MARKER", True, 4, dtype=torch.uint8)
        self.training = state[1]

    def forward(self, x):
        return x
"""


bytes_technique("GGUF-magic-INT-line-with-NUL", "_pickle parses number lines as C strings (stops at NUL)",
                lambda m: GGUF_HEAD + b"I12\x00not a number\n0" + system_p0(m), LOAD, ".gguf")
bytes_technique("GGUF-magic-PUT-octal-INT", "_pickle's INT is strtol(s, 0, 0): 017 is octal",
                lambda m: GGUF_HEAD + b"I017\n0" + system_p0(m), LOAD, ".gguf")


bytes_technique("GGUF-magic-GLOBAL-line-past-its-FRAME", "_pickle drops a line's bytes left in a FRAME and "
                "reads a new line from the frame's end",
                lambda m: GGUF_HEAD + _frame(b"cposix\n\xff") + b"system\n(V" + cmd(m).encode() + b"\ntR.",
                LOAD_BYTESIO, ".gguf")

@technique("gzip-nul-padding", "gzip.open skips NUL bytes between members (gzip.py _read_eof)",
           LOAD_GZIP_LOOP, ".pkl.gz")
def gzip_nul_padding(path: Path, marker: Path) -> None:
    path.write_bytes(gzip.compress(_benign()) + b"\x00" * 8 + gzip.compress(b"\x80\x02" + system_p0(marker)))


LOAD_GZIP = "import gzip, pickle, sys; pickle.load(gzip.open(sys.argv[1]))"


@technique("gzip-corrupt-after-pickle", "gzip.open hands over the pickle before the stream breaks",
           LOAD_GZIP, ".pkl.gz")
def gzip_corrupt_after_pickle(path: Path, marker: Path) -> None:
    raw = bytearray(gzip.compress(b"\x80\x02" + system_p0(marker) + os.urandom(3000), compresslevel=0))
    raw[-8] ^= 0xFF  # the CRC: the reader raises at the stream's end, after the pickle ran
    path.write_bytes(bytes(raw))


@technique("gzip-corrupt-far-after-pickle", "a stream broken past the first MiB: still after the pickle",
           LOAD_GZIP, ".pkl.gz")
def gzip_corrupt_far_after_pickle(path: Path, marker: Path) -> None:
    raw = bytearray(gzip.compress(b"\x80\x02" + system_p0(marker) + os.urandom(1 << 20), compresslevel=0))
    raw[len(raw) // 2] ^= 0xFF  # a stored block's header: the deflate stream breaks there
    raw[len(raw) // 2 + 1] ^= 0xFF
    path.write_bytes(bytes(raw))



# --- the tests ------------------------------------------------------------------------------------

CASES = [pytest.param(t, id=t.id, marks=[pytest.mark.slow] if t.slow else []) for t in T]


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
    path, marker = tmp_path / f"model{t.suffix}", tmp_path / "MARKER"
    t.build(path, marker)
    return path, marker


@pytest.mark.parametrize("t", CASES)
def test_scan_does_not_call_it_safe(t: Technique, tmp_path: Path) -> None:
    path, marker = build(t, tmp_path)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, (t.id, verdict.summary)  # exit 1 never hides a pickle either
    assert not marker.exists()


@pytest.mark.parametrize("t", CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if "torch" in t.loader or "torch" in t.id:
        pytest.importorskip("torch")
    path, marker = build(t, tmp_path)
    subprocess.run([sys.executable, "-c", t.loader, str(path)], cwd=tmp_path, timeout=300,
                   capture_output=True, stdin=subprocess.DEVNULL)
    assert marker.exists(), t.id


def test_torchscript_shaped_archive_is_not_safe(tmp_path: Path) -> None:
    """The archive's shape alone (constants.pkl beside data.pkl) makes torch.load run code/, whatever
    data.pkl names: here only collections.Counter, which weights_only=True accepts."""
    path = tmp_path / "model.pt"
    path.write_bytes(zip_of({"archive/data.pkl": b"\x80\x02ccollections\nCounter\n)\x81.",
                           "archive/code/collections.py": b"class Counter(Module):\n  pass\n",
                           "archive/constants.pkl": pickle.dumps((), protocol=2),
                           "archive/version": b"3\n"}))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any("TorchScript" in u for u in verdict.unverified), verdict


def test_the_corpus_is_large() -> None:
    assert len({t.id for t in T}) == len(T) >= 40


# --- the reverse: benign files of every shape stay safe -------------------------------------------

def _safetensors_with_header_length(path: Path, low_byte: int, rng: np.random.Generator) -> None:
    """A safetensors file (unpadded, as some writers leave it) whose header length's first byte, what
    pickle.load reads as its first opcode, is ``low_byte``; safetensors itself reads it back."""
    st = pytest.importorskip("safetensors.numpy")
    w = rng.standard_normal((7, 5)).astype(np.float32)
    b = np.zeros(300_000, dtype=np.float16)  # a zero run: no newline to end a GLOBAL's line
    entries = {"w": {"dtype": "F32", "shape": [7, 5], "data_offsets": [0, w.nbytes]},
               "b": {"dtype": "F16", "shape": [b.size], "data_offsets": [w.nbytes, w.nbytes + b.nbytes]}}
    for pad in range(256):
        header = json.dumps({"__metadata__": {"pad": "x" * pad}, **entries}).encode()
        if len(header) % 256 == low_byte:
            path.write_bytes(struct.pack("<Q", len(header)) + header + w.tobytes() + b.tobytes())
            assert set(st.load_file(path)) == {"w", "b"}
            return
    raise AssertionError(low_byte)


def test_safetensors_with_every_first_byte_stay_safe(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paths = []
    for low in range(256):
        path = tmp_path / f"m{low}.safetensors"
        _safetensors_with_header_length(path, low, rng)
        paths.append(str(path))
    verdicts = scan(paths).verdicts
    bad = [(v.source, v.summary) for v in verdicts if v.exit_code != 0]
    assert not bad


def test_gguf_files_stay_safe(tmp_path: Path) -> None:
    from builders.gguf_files import write_gguf

    rng = np.random.default_rng(1)
    paths = []
    for n in range(1, 40):
        path = tmp_path / f"m{n}.gguf"
        write_gguf(path, [(f"t{i}", rng.standard_normal((4, 8)).astype(np.float32), None) for i in range(n)])
        paths.append(str(path))
    assert [v.exit_code for v in scan(paths).verdicts] == [0] * len(paths)


def test_zip_storages_with_every_first_byte_stay_safe(tmp_path: Path) -> None:
    """A torch archive whose raw storages start with every byte value (0x80 0x02 … as float16 data)."""
    rng = np.random.default_rng(2)
    keys = [str(i) for i in range(256)]
    data_pkl = b"\x80\x02](" + b"".join(_data_pkl_with_storage(k)[2:-1] for k in keys) + b"e."
    members = {"archive/data.pkl": data_pkl}
    for i, k in enumerate(keys):
        members[f"archive/data/{k}"] = bytes([i]) + rng.bytes(4095)
    path = tmp_path / "model.pt"
    path.write_bytes(zip_of(members))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 0, verdict.summary


def test_legacy_storages_with_every_element_count_stay_safe(tmp_path: Path) -> None:
    """After a legacy checkpoint's five pickles, each storage's element count (8 bytes) comes first:
    pickle.load called again reads it as opcodes and breaks."""
    rng = np.random.default_rng(3)
    paths = []
    for numel in [*range(1, 300), 0x2E4E, 0x2E5D, 0x2E29, 0x4242, 1 << 20]:
        path = tmp_path / f"m{numel}.pt"
        storage = struct.pack("<Q", numel) + rng.bytes(min(numel, 4096) * 4)
        path.write_bytes(_legacy(_data_pkl_with_storage("0"), ["0"]) + storage)
        paths.append(str(path))
    bad = [(v.source, v.summary) for v in scan(paths).verdicts if v.exit_code != 0]
    assert not bad


def test_zip_text_members_stay_safe(tmp_path: Path) -> None:
    """Members no loader unpickles whose text reads as opcodes ("class …" is a GLOBAL, "i…" an INST)."""
    text = {"archive/code/__torch__/m.py": b"class Foo(Module):\n  __parameters__ = []\n",
            "archive/code/x.py": b"import torch\nimport os\n", "archive/version": b"3\n",
            "archive/byteorder": b"little", "archive/.data/serialization_id": b"1234567890\n",
            "archive/notes.txt": b"cat and dog\ndog\n", "archive/conf.yaml": b"c: 1\nd: 2\n"}
    path = tmp_path / "model.pt"
    path.write_bytes(zip_of({"archive/data.pkl": _benign(), **text}))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 0, verdict.summary


@pytest.mark.slow
def test_torch_save_checkpoints_stay_safe(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    nets = {"linear": torch.nn.Linear(16, 8), "conv": torch.nn.Conv2d(3, 4, 3),
            "lstm": torch.nn.LSTM(8, 16, 2), "norm": torch.nn.LayerNorm(32)}
    paths = []
    for name, net in nets.items():
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            state = {k: v.to(dtype) for k, v in net.state_dict().items()}
            for legacy in (False, True):
                path = tmp_path / f"{name}-{dtype}-{legacy}.pt"
                torch.save(state, path, _use_new_zipfile_serialization=not legacy)
                paths.append(str(path))
    sizes = {f"t{n}": torch.arange(n, dtype=torch.int8) for n in range(1, 130)}
    for legacy in (False, True):
        path = tmp_path / f"sizes-{legacy}.pt"
        torch.save(sizes, path, _use_new_zipfile_serialization=not legacy)
        paths.append(str(path))
    bad = [(v.source, v.summary) for v in scan(paths).verdicts if v.exit_code != 0]
    assert not bad


NUMBER_TEXTS = (b"", b"0", b"1", b"12", b"017", b"0x1f", b"0X", b"-3", b"+4", b" 4", b"4 ", b"1_0", b"1.5",
                b"-2e3", b"inf", b"nan", b"12L", b"L", b"00", b"01", b"08", b"\t7")
NUMBER_TAILS = (b"", b"\x00", b"\x00zz", b"\x00\x00", b" ", b"abc", b"\x00 \n")


def test_number_lines_read_on_wherever_cpython_does() -> None:
    """INT, LONG, FLOAT, PUT and GET lines: _pickle parses them as C strings (a NUL ends them, strtol
    reads 017 as octal and "" as 0), pickle.py with int()/float(): the machine must read on exactly
    where either of them does, or a lenient read would stop short of a payload."""
    from paramscope.formats import pickle_vm

    mismatches = []
    for op, prefix in ((b"I", b""), (b"L", b""), (b"F", b""), (b"p", b"N"), (b"g", b"N\x94")):
        for text in NUMBER_TEXTS:
            for tail in NUMBER_TAILS:
                data = prefix + op + text + tail + b"\n" + b"N."
                ok = []
                for load in (pickle.loads, pickle._loads):
                    try:
                        load(data)
                        ok.append(True)
                    except Exception:
                        ok.append(False)
                try:
                    pickle_vm.run(data, "x")
                    ours = True
                except pickle_vm.PickleError:
                    ours = False
                if ours != any(ok):
                    mismatches.append((data, ok, ours))
    assert not mismatches


LENIENT_CASES = int(os.environ.get("PARAMSCOPE_LENIENT_RANDOM", "1500"))


@pytest.mark.slow  # several CPU-s: CPython's two unpicklers, four ways, on every stream
def test_lenient_reads_miss_nothing_cpython_imports() -> None:
    """A lenient read (bytes another format claims, raw storages, unnamed members) calls a stream
    harmless when it breaks before naming a global: then CPython's unpicklers, loading until they
    raise, must import nothing either. CPython runs with find_class replaced by a recorder that
    refuses what no import could find (a top-level name that is not an identifier) and with an empty
    copyreg registry, as an ordinary process has."""
    import copyreg

    from builders import pickle_differential as td

    class Refuses(Exception):
        pass

    def recorder(base: type) -> type:
        class Recorder(base):  # type: ignore[misc, valid-type]
            def __init__(self, file: Any, record: td.Record):
                super().__init__(file)
                self.record = record

            def find_class(self, module: str, name: str) -> type:
                if not module.split(".")[0].isidentifier():
                    raise Refuses(module)
                self.record.globals.add((module, name))
                return type("Inert", (td.Inert,), {"_qual": (module, name), "_record": self.record})

        return Recorder

    readers = (recorder(pickle.Unpickler), recorder(pickle._Unpickler))  # type: ignore[attr-defined]
    registered = dict(copyreg._extension_registry)  # type: ignore[attr-defined]
    for (module, name), ext_code in registered.items():  # an ordinary process's registry: empty
        copyreg.remove_extension(module, name, ext_code)
    try:
        _compare_lenient(readers, td)
    finally:
        for (module, name), ext_code in registered.items():
            copyreg.add_extension(module, name, ext_code)


def _compare_lenient(readers: tuple[type, ...], td: Any) -> None:
    import random

    rng = random.Random(20261204)
    heads = (b"", b"GGUF\x03\x00\x00\x00\x00", b"\x42\x10\x00\x00\x00\x00\x00\x00", b"N", b"\x00")
    missed = []
    for _ in range(LENIENT_CASES):
        data = rng.choice(heads) + td.assemble([td.random_piece(rng) for _ in range(rng.randrange(31))])
        s = pickle_scan._Scan("x")
        pickle_scan._stream(s, data, "", lenient=True)
        if s.refs or s.unverified:
            continue  # the scan says it could run code
        record = td.Record()
        with td.memory_cap():
            for make in readers:
                for buffered in (False, True):
                    for one in (True, False):
                        f: Any = io.BufferedReader(io.BytesIO(data)) if buffered else io.BytesIO(data)  # type: ignore[arg-type]
                        td.load_until_end(make, f, data, record, one_unpickler=one)
        if record.globals:
            missed.append((data, record.globals))
    assert not missed


# --- work bounds ------------------------------------------------------------------------------------

def test_many_compressed_streams_are_read_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each stream is fed from an offset into the data: the compressed bytes handed to the
    decompressors stay within a few times the input, not the rest of the input once per stream."""
    import zlib

    fed = [0]
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args: Any) -> None:
            self.d = real(*args)

        def decompress(self, data: Any, max_length: int = 0) -> bytes:
            fed[0] += len(data)
            return self.d.decompress(data, max_length)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.d, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    raw = gzip.compress(b"N.") * 500 + gzip.compress(os.urandom(1 << 20), compresslevel=0)
    data, broke, ended = pickle_scan._decompress("gzip", raw)  # type: ignore[misc]
    assert broke is None and ended and len(data) == 2 * 500 + (1 << 20)
    assert fed[0] <= 3 * len(raw), (fed[0], len(raw))


def _legacy_ending_at(size: int) -> bytes:
    """A legacy torch.save file's five pickles, exactly ``size`` bytes long."""
    n = size
    while len(_legacy(pickle.dumps({"blob": b"\x00" * n}, protocol=2), [])) > size:
        n -= max(1, len(_legacy(pickle.dumps({"blob": b"\x00" * n}, protocol=2), [])) - size)
    body = _legacy(pickle.dumps({"blob": b"\x00" * n}, protocol=2), [])
    assert len(body) == size
    return body


@pytest.mark.parametrize("layout", ["evil-at-the-read-limit", "evil-right-after-a-pickle-at-the-limit"])
def test_a_pickle_past_the_bytes_read_is_a_doubt(layout: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy file whose lenient read (after the five pickles) reaches the scan's byte limit: a
    pickle starting where the bytes read end, or a read the wider pass reads less of than the window,
    leaves the rest unread, and loading could run it (pickle.load called until it raises). The
    limits are shrunk through the scanner's own constants, so the file stays small."""
    limit, window = 64 << 10, 4 << 10
    monkeypatch.setattr(pickle_scan, "MAX_BYTES", limit)
    monkeypatch.setattr(pickle_scan, "FIRST_WINDOW", window)
    marker, path = tmp_path / "MARKER", tmp_path / "model.pt"
    evil = system_p0(marker)
    long_str = b"X" + struct.pack("<I", 4 * window) + b"a" * (4 * window)  # past the first window
    if layout == "evil-at-the-read-limit":
        data = _legacy_ending_at(limit) + evil + long_str + b"."
    else:
        body = _legacy(_benign(), [])
        filler = limit - len(body) - 6  # BINUNICODE, its length, STOP
        data = body + b"X" + struct.pack("<I", filler) + b"a" * filler + b"." + evil
        assert len(data) == limit + len(evil)
    path.write_bytes(data)
    found = pickle_scan.scan_path(path)
    assert found.unverified, found
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, verdict.summary


def test_an_archive_is_read_within_one_inflation_budget(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Members inflated out of one archive add up to a bound (overlapping members make a small file
    inflate to the per-member limit many times over); past it the rest is left unread, a doubt. The
    budget is shrunk through the scanner's own constant; the work is counted at the member reader."""
    from paramscope.formats import zipfile_safe

    member = pickle.dumps({"w": b"\x00" * 4000}, protocol=2)
    path = tmp_path / "model.zip"
    path.write_bytes(zip_of({f"m{i}.pkl": member for i in range(8)}, zipfile.ZIP_DEFLATED))
    budget = 2 * len(member) + 10
    monkeypatch.setattr(pickle_scan, "ZIP_BUDGET", budget)
    read = [0]
    real = zipfile_safe.read_surveyed

    def counting(*args: Any, **kwargs: Any) -> bytes:
        data = real(*args, **kwargs)
        read[0] += len(data)
        return data

    monkeypatch.setattr(zipfile_safe, "read_surveyed", counting)
    found = pickle_scan.scan_path(path)
    assert read[0] <= budget + len(member), read
    assert any("not all members read" in u for u in found.unverified), found
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, verdict.summary
