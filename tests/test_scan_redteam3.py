"""Red team round 3 (tests/builders/scan_round3.py names each source): end records that name another
central directory than the one the scan read, zip members zipfile inflates and the scan did not, nested
pickles, structured .npy dtypes; and the verdicts round 2 left open (a truncated file another format
claims, zip members no reader here can inflate).

For each technique a control loads the file in a child process the way the technique aims at, and the
payload's marker file appears: the attack is live. ``scan`` must exit 2 and never create the marker.

Blind (main at 72bcbe7, before the fixes): 15 techniques, **7 exit 0** (the six end-record tricks:
"safe", "safe: a numpy (plain numbers) file", "safe: a gguf file"; a zip member named like a folder
that holds a pickle), **2 exit 1** (a protocol 0 pickle whose first line is longer than the scan
reads: "not a pickle"; a zip of a joblib-compressed pickle: "a zip archive with no pickle inside"),
6 exit 2 (three of them only as "cannot be verified", naming no global). After: all 15 exit 2, each
naming the payload's global.
"""

from __future__ import annotations

import contextlib
import io
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from builders.scan_round3 import BENIGN, T3, VERSION, Technique, numeric_npy, zip64_other_directory
from paramscope.analyses.safety.pickle_safety import HARMLESS, SAFE, UNREADABLE
from paramscope.app.scan import scan

CASES = [pytest.param(t, id=t.id, marks=[pytest.mark.slow] if t.slow else []) for t in T3]
PAYLOAD_GLOBALS = {"builtins.exec", "posix.system", "_pickle.loads"}


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
    path, marker = tmp_path / f"model{t.suffix}", tmp_path / "MARKER"
    t.build(path, marker)
    return path, marker


@pytest.mark.parametrize("t", CASES)
def test_scan_names_the_payload(t: Technique, tmp_path: Path) -> None:
    path, marker = build(t, tmp_path)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, (t.id, verdict.summary)
    assert PAYLOAD_GLOBALS & {g.qualname for g in verdict.flagged}, (t.id, verdict.summary)
    assert not marker.exists()


@pytest.mark.parametrize("t", CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if "torch" in t.loader:
        pytest.importorskip("torch")
    path, marker = build(t, tmp_path)
    subprocess.run([sys.executable, "-c", t.loader, str(path)], cwd=tmp_path, timeout=300,
                   capture_output=True, stdin=subprocess.DEVNULL)
    assert marker.exists(), t.id


def test_the_corpus_is_complete() -> None:
    assert len({t.id for t in T3}) == len(T3) >= 10
    assert all(t.source for t in T3)


# --- end records: every directory a reader takes is read ---------------------------------------------

def test_disagreeing_end_records_are_named(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(zip64_other_directory([("archive/data.pkl", BENIGN), VERSION],
                                           [("archive/data.pkl", BENIGN), VERSION]))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any("different central directories" in u for u in verdict.unverified)


@pytest.mark.slow
def test_torch_save_zip64_records_agree(tmp_path: Path) -> None:
    """torch.save writes a zip64 record and locator into every archive; they name the same directory
    as the 32-bit record, so a plain checkpoint stays safe."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, path)
    assert b"PK\x06\x07" in path.read_bytes()[-200:]
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE and not verdict.unverified, verdict.summary


# --- zip members: what zipfile inflates is read; what no reader here inflates stays a doubt ---------

@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_bzip2_and_lzma_members_are_read(method: int, tmp_path: Path) -> None:
    """numpy.load reads such members through zipfile: a numeric array stays safe, an object array is
    judged by its globals (before: "could run code", unread, whatever it held)."""
    plain, objects = tmp_path / "plain.npz", tmp_path / "objects.npz"
    with zipfile.ZipFile(plain, "w", method) as z:
        z.writestr("w.npy", numeric_npy())
    buf = io.BytesIO()
    np.save(buf, np.array([1, {"a": 2}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(objects, "w", method) as z:
        z.writestr("w.npy", buf.getvalue())
    first, second = scan([str(plain), str(objects)]).verdicts
    assert first.status == SAFE and first.not_pickle, first.summary
    assert second.status == HARMLESS and not second.unverified, second.summary


def _member_method(data: bytes, method: int, flags: int = 0) -> bytes:
    """Every local and central header of ``data`` rewritten to ``method`` (and ``flags``)."""
    out = bytearray(data)
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            struct.pack_into("<HH", out, pos + flag_at, flags, method)
            pos = out.find(sig, pos + 4)
    return bytes(out)


@pytest.mark.parametrize(("method", "flags", "why"), [
    (9, 0, "deflate64"),  # zipfile: NotImplementedError; miniz: unsupported
    (93, 0, "zstd"),  # zipfile reads it from Python 3.14 (numpy.load then unpickles an object array)
    (0, 1, "encrypted"),  # ZipFile.read(name, pwd=...) decrypts it
    (99, 1, "encrypted"),  # WinZip AES
])
def test_members_the_scan_cannot_inflate_are_never_safe(method: int, flags: int, why: str,
                                                         tmp_path: Path) -> None:
    """A member the scan cannot read is a doubt whatever it holds: some reader may read it."""
    path = tmp_path / "weights.npz"
    path.write_bytes(_member_method(zipfile_bytes({"w.npy": numeric_npy()}), method, flags))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any(why in u for u in verdict.unverified), verdict.unverified


def zipfile_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` with a fixed date: built while pytest collects, its bytes name the test, and
    each pytest-xdist worker collects on its own (a clock tick between two would differ the names)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


# --- a file another format claims is "safe" only when that format's reader reads it -----------------

@pytest.mark.parametrize(("name", "data", "says"), [
    ("cut.gguf", b"GGUF\x03\x00\x00\x00", "GGUF preamble"),  # before: "safe to load", exit 0
    ("cut.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}", "header"),  # before: "safe", exit 0
    ("cut.onnx", b"hello", "ONNX"),  # before: "safe", exit 0
    ("cut.npy", numeric_npy()[:-1], "cut short"),  # before: "safe: a numpy (plain numbers) file"
    ("cut.npz", zipfile_bytes({"w.npy": numeric_npy()[:-3]}), "cut short"),  # before: the same
], ids=["gguf", "safetensors", "onnx", "npy", "npz"])
def test_a_truncated_file_of_a_code_free_format_is_unreadable(name: str, data: bytes, says: str,
                                                               tmp_path: Path) -> None:
    """GGUF, safetensors, ONNX and numeric .npy/.npz carry no code, but "safe: a gguf file" is a claim
    about a file the scan could not read as one: the verdict names the file and what is wrong (exit 1).
    numpy.load reads shape x itemsize bytes after a .npy header and raises on fewer."""
    if name.endswith(".onnx"):
        pytest.importorskip("onnx")
    path = tmp_path / name
    path.write_bytes(data)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == UNREADABLE and verdict.exit_code == 1, verdict.summary
    assert verdict.error and str(path) in verdict.error and says in verdict.error, verdict.error


# --- folders: a file found by its first bytes that holds no pickle is skipped, not an error -----------

def test_folder_skips_a_zip_with_no_pickle(tmp_path: Path) -> None:
    """Before: an unrelated data.zip in a model folder made `scan FOLDER` exit 1 ("unreadable": a zip
    archive with no pickle inside). The search took it for its first bytes (torch.save's format), every
    member was read as pickle.loads would read it and none is a pickle: it is listed as skipped (exit
    0), as picklescan and modelscan skip such files. Given by name, it is still exit 1."""
    from builders.scan_corpus import exec_pickle

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "data.zip").write_bytes(zipfile_bytes({"readme.txt": b"hello\n", "rows.csv": b"a,b\n1,2\n"}))
    (folder / "model.pkl").write_bytes(BENIGN)
    result = scan([str(folder)])
    by_name = {Path(v.source).name: v for v in result.verdicts}
    assert by_name["data.zip"].status == "skipped" and result.exit_code == 0, by_name["data.zip"].summary
    assert scan([str(folder / "data.zip")]).exit_code == 1
    (folder / "other.zip").write_bytes(zipfile_bytes({"notes": exec_pickle(tmp_path / "MARKER")}))
    assert scan([str(folder)]).exit_code == 2  # a zip holding a pickle is judged as before


def test_folder_does_not_skip_a_file_named_like_a_pickle(tmp_path: Path) -> None:
    """A model.pt that holds no pickle is not what its name says: still exit 1."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "model.pt").write_bytes(zipfile_bytes({"readme.txt": b"hello\n"}))
    (verdict,) = scan([str(folder)]).verdicts
    assert verdict.status == UNREADABLE and verdict.exit_code == 1, verdict.summary


# --- zipfile as the oracle on mutated end records -----------------------------------------------------

class _Recorder:
    """pickle.Unpickler whose find_class records and returns an inert class: what zipfile +
    pickle.loads on each member would resolve, without importing anything."""

    @staticmethod
    def globals_of(data: bytes) -> set[tuple[str, str]]:
        import pickle

        seen: set[tuple[str, str]] = set()

        class Rec(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> type:
                seen.add((module, name))
                return dict

        try:
            z = zipfile.ZipFile(io.BytesIO(data))
            names = z.namelist()
        except Exception:
            return seen
        for n in names:
            with contextlib.suppress(Exception):
                Rec(io.BytesIO(z.read(n))).load()
        return seen


def _seeds(marker: Path) -> list[bytes]:
    from builders.scan_corpus import exec_pickle
    from builders.scan_round3 import zip64_two_records

    evil = exec_pickle(marker)
    gguf = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    return [zip64_other_directory([("a/data.pkl", BENIGN)], [("a/data.pkl", evil)]),
            zip64_two_records([("a/data.pkl", BENIGN)], [("a/data.pkl", evil)]),
            gguf + zip64_other_directory([("w.pkl", BENIGN)], [("w.pkl", evil)])]


def test_mutated_end_records_never_hide_what_zipfile_reads(tmp_path: Path) -> None:
    """Random byte changes near the end records (and anywhere) of archives that hide a payload from
    one reader: wherever zipfile + pickle.loads would resolve builtins.exec, the scan exits 2. Main
    called 377 of 824 such mutants (one run of 3,000) exit 0 or 1; a first version of the fix still 3,
    where spanned-archive fields (disk numbers, a count "on this disk"), which zipfile ignores, made the
    archive after a mutated first byte unread (exit 1, "not a pickle")."""
    import random

    rng = random.Random(20261204)
    seeds = _seeds(tmp_path / "MARKER")
    path = tmp_path / "m.pt"
    live = 0
    for _ in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data)) if rng.random() < 0.5 else len(data) - rng.randint(1, 200)
            data[at] = rng.randrange(256)
        if ("builtins", "exec") not in _Recorder.globals_of(bytes(data)):
            continue
        live += 1
        path.write_bytes(data)
        (verdict,) = scan([str(path)]).verdicts
        assert verdict.exit_code == 2, (bytes(data).hex(), verdict.summary)
    assert live > 50


def test_spanned_archive_fields_do_not_hide_an_appended_zip(tmp_path: Path) -> None:
    """zipfile reads an archive whose end record gives disk numbers or a count "on this disk" other
    than the total (it checks neither): the scan reads it and names what it holds (main: exit 2, but
    only as "central directory unreadable", naming nothing)."""
    from builders.scan_corpus import exec_pickle

    archive = bytearray(zipfile_bytes({"w.pkl": exec_pickle(tmp_path / "MARKER")}))
    struct.pack_into("<H", archive, len(archive) - 22 + 8, 7)  # members "on this disk"
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0) + bytes(archive))
    assert ("builtins", "exec") in _Recorder.globals_of(path.read_bytes())
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, verdict.summary
    assert "builtins.exec" in {g.qualname for g in verdict.flagged}, verdict.summary


# --- names as written: look-alikes import nothing and are never "safe" -------------------------------

@pytest.mark.parametrize(("module", "name"), [
    ("collections ", "OrderedDict"),  # a trailing space
    ("collections", "OrderedDict\r"),  # a text line ending \r\n
    ("collections", "OrderedD\u0456ct"),  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    ("builtins", " set"),  # a leading space in the name
])
def test_look_alike_names_are_unknown_and_import_nothing(module: str, name: str, tmp_path: Path) -> None:
    import pickle

    from builders.pickle_opcodes import glob

    data = b"\x80\x04" + glob(module, name) + b")R."
    path = tmp_path / "model.pkl"
    path.write_bytes(data)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and [g.status for g in verdict.globals] == ["unknown"], verdict.summary
    with pytest.raises((ImportError, AttributeError)):  # CPython's find_class takes the name as written
        pickle.loads(data)


def test_compressed_members_that_hold_plain_pickles_stay_safe(tmp_path: Path) -> None:
    import gzip
    import pickle
    import zlib

    path = tmp_path / "models.zip"
    data = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)
    path.write_bytes(zipfile_bytes({"a.pkl.gz": gzip.compress(data), "b.pkl.z": zlib.compress(data)}))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE and not verdict.unverified, verdict.summary


def test_zips_nested_through_compressed_members_are_bounded(tmp_path: Path) -> None:
    """A zip whose member is a gzip of a zip whose member is a gzip of a zip…: read 4 deep, then a
    doubt (the compressed members' path had no depth bound: enough levels overflow the stack)."""
    import gzip

    from builders.scan_corpus import exec_pickle

    data = zipfile_bytes({"w.pkl": exec_pickle(tmp_path / "MARKER")})
    for _ in range(50):
        data = zipfile_bytes({"inner.zip.gz": gzip.compress(data, compresslevel=1)})
    path = tmp_path / "nested.zip"
    path.write_bytes(data)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any("nested deeper" in u for u in verdict.unverified), verdict.summary


@pytest.mark.slow
def test_mutated_end_records_never_hide_what_torch_load_reads(tmp_path: Path) -> None:
    """The same with torch.load(weights_only=False) as the oracle, its pickle_module a recorder (torch
    reads archives with its own miniz, which follows the zip64 locator): main called 170 of 649 live
    mutants (2,000) exit 0 or 1; after, none of 1,571 over two seeds."""
    import pickle
    import random
    import types
    import warnings

    torch = pytest.importorskip("torch")
    from builders.scan_corpus import exec_pickle
    from builders.scan_round3 import zip64_two_records

    seen: set[tuple[str, str]] = set()

    class Rec(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            seen.add((module, name))
            return dict

    recorder = types.ModuleType("recorder")
    recorder.Unpickler = Rec  # type: ignore[attr-defined]
    evil = exec_pickle(tmp_path / "MARKER")
    benign, hostile = [("archive/data.pkl", BENIGN), VERSION], [("archive/data.pkl", evil), VERSION]
    seeds = [zip64_other_directory(benign, hostile), zip64_two_records(hostile, benign)]
    rng = random.Random(20261205)
    path = tmp_path / "m.pt"
    live = 0
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 5)):
            at = rng.randrange(len(data)) if rng.random() < 0.4 else len(data) - rng.randint(1, 200)
            data[at] = rng.randrange(256)
        path.write_bytes(data)
        seen.clear()
        with warnings.catch_warnings(), contextlib.suppress(Exception):
            warnings.simplefilter("ignore")
            torch.load(path, weights_only=False, pickle_module=recorder)
        if ("builtins", "exec") not in seen:
            continue
        live += 1
        (verdict,) = scan([str(path)]).verdicts
        assert verdict.exit_code == 2, (bytes(data).hex(), verdict.summary)
    assert live > 30


# --- decoder memory a compressed header claims ----------------------------------------------------------

def _payload() -> bytes:
    import pickle

    return pickle.dumps(__import__("os").system, protocol=2)  # names os.system: could run code


def test_lzma_headers_claiming_a_huge_dictionary_are_doubts_not_allocations(tmp_path) -> None:
    """An .lzma header's 4-byte dictionary size (and a zip member's lzma properties) make liblzma
    allocate up to 4 GiB before it decodes a byte. Found by the fuzz test: a mutant whose first 13 bytes
    read as such a header (1.25 GiB) made `scan` fail with MemoryError in a memory-capped child. Now
    the claim is checked first: the file is "could run code" (lzma.open would allocate it and run the
    pickle), in the same capped child, with nothing allocated."""
    import lzma
    import zipfile

    from builders.fuzz_run import problems, run

    alone = bytearray(lzma.compress(_payload(), format=lzma.FORMAT_ALONE))
    alone[1:5] = (0x50000000).to_bytes(4, "little")
    assert lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=2 << 30).decompress(bytes(alone)) == _payload()
    (tmp_path / "big-dict.pkl.lzma").write_bytes(bytes(alone))

    zpath = tmp_path / "big-dict.zip"
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_LZMA) as z:
        z.writestr("archive/data.pkl", _payload())
    data = bytearray(zpath.read_bytes())
    at = data.index(b"archive/data.pkl") + len("archive/data.pkl")  # the local header's name, then data
    assert data[at + 2:at + 4] == (5).to_bytes(2, "little")  # APPNOTE 5.8.8: version, props size 5
    data[at + 5:at + 9] = (0xF0000000).to_bytes(4, "little")  # the dictionary size of the properties
    zpath.write_bytes(bytes(data))

    for path in (tmp_path / "big-dict.pkl.lzma", zpath):
        o = run(["scan", str(path), "--json"])
        assert problems(o, (path.name,)) == [] and o.code == 2, (path.name, o.code, o.err, o.out[-500:])
