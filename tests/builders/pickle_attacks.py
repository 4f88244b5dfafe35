"""Hostile PyTorch checkpoints and pickles: payloads that would create a marker file if an ordinary
unpickler ran them, malformed archives and bombs. The cases of test_pickle_attacks.py, which
test_zoo.py also gathers into one hostile zoo.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from builders.pickle_files import OD, G, Pid, R, Raw, dumps, legacy_storage, storage, tensor, write_legacy
from paramscope.formats import pytorch
from paramscope.model.dtypes import DType

# ---------------------------------------------------------------------------------------------------
# a zip writer with every field under the test's control (PKWARE APPNOTE.TXT §4.3.7, §4.3.12, §4.3.16)

@dataclass
class Member:
    name: str
    data: bytes
    method: int = 0
    flags: int = 0
    crc: int | None = None
    size: int | None = None  # declared uncompressed size
    local_name: str | None = None
    local: bool = True  # False: no local header written; ``offset`` points somewhere else
    offset: int | None = None


def local_header(name: str, data: bytes, method: int = 0, flags: int = 0, size: int | None = None) -> bytes:
    raw = name.encode()
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, zlib.crc32(data),
                       len(data), len(data) if size is None else size, len(raw), 0) + raw


def zip_bytes(members: list[Member], zip64: bool = False) -> bytes:
    """Members, central directory, end record; ``zip64`` moves every size and offset into zip64 fields
    (§4.5.3 extra block 0x0001, §4.3.14 record, §4.3.15 locator) as writers do past 4 GiB."""
    out, offsets = bytearray(), []
    for m in members:
        stored = zlib.compress(m.data, 9)[2:-4] if m.method == 8 else m.data
        if m.local:
            offsets.append(len(out))
            out += local_header(m.local_name or m.name, stored, m.method, m.flags, len(m.data))
            out += stored
        else:
            offsets.append(m.offset or 0)
    cd_start = len(out)
    for m, at in zip(members, offsets, strict=True):
        stored = zlib.compress(m.data, 9)[2:-4] if m.method == 8 else m.data
        raw = m.name.encode()
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        size = len(m.data) if m.size is None else m.size
        offset = m.offset if m.offset is not None else at
        extra = struct.pack("<HHQQQ", 1, 24, size, len(stored), offset) if zip64 else b""
        fields = (0xFFFFFFFF,) * 3 if zip64 else (len(stored), size, offset)
        out += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, m.flags, m.method, 0, 0, crc,
                           fields[0], fields[1], len(raw), len(extra), 0, 0, 0, 0, fields[2]) + raw + extra
    cd_size = len(out) - cd_start
    if zip64:
        record_at = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, len(members), len(members),
                           cd_size, cd_start)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, record_at, 1)
        return bytes(out + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                                       0xFFFFFFFF, 0))
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), cd_size, cd_start, 0)
    return bytes(out)


def checkpoint(pkl: bytes, storages: dict[str, bytes] | None = None, **data_pkl: Any) -> bytes:
    members = [Member("archive/data.pkl", pkl, **data_pkl), Member("archive/byteorder", b"little")]
    members += [Member(f"archive/data/{k}", v) for k, v in (storages or {}).items()]
    return zip_bytes(members)


def one_tensor(extra: tuple = (), **overrides: Any) -> bytes:
    """A state dict with one F32 (2, 2) tensor in storage 0 of 4 elements, plus ``extra`` items."""
    args = {"st_": storage("0", DType.F32, 4), "shape": (2, 2)} | overrides
    return dumps(OD((("w", tensor(**args)), *extra)))


# ---------------------------------------------------------------------------------------------------
# payloads: each writes the marker file when an ordinary unpickler runs it

class Reduce:
    def __init__(self, func: Callable, *args: Any):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def touch(marker: Path) -> str:
    return f"touch {marker}"


def py_touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def real_pickle(protocol: int, make: Callable[[Path], Any]) -> Callable[[Path], bytes]:
    """The payload as CPython's own Pickler writes it."""
    return lambda marker: pickle.dumps({"weights": [1, 2], "x": make(marker)}, protocol=protocol)


def os_system(marker: Path) -> Reduce:
    return Reduce(os.system, touch(marker))


def system_call(marker: Path) -> R:
    return R(G("os", "system"), (touch(marker),))


def subclass_payload(marker: Path) -> R:
    """torch._tensor._rebuild_from_type_v2(func, new_type, args, state) with os.system as ``func``."""
    return R(G("torch._tensor", "_rebuild_from_type_v2"),
             (G("os", "system"), G("evil_pkg", "T"), (touch(marker),), {}))


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path, Path], None]  # (file, marker)
    names: str | None = None  # the global the verdict must name (payloads)
    read_ok: bool = False  # read() may succeed (the payload sits beside valid tensors)
    suffix: str = ".bin"
    pickle_ok: bool = False  # the pickle is sound and safe; only the tensors it describes are not
    slow: bool = False  # a million opcodes (read in a process of its own): make test-fast leaves it out


def file_of(make: Callable[[Path], bytes]) -> Callable[[Path, Path], None]:
    return lambda path, marker: path.write_bytes(make(marker))


def zip_of(make: Callable[[Path], bytes], storages: dict[str, bytes] | None = None,
           **data_pkl: Any) -> Callable[[Path, Path], None]:
    return lambda path, marker: path.write_bytes(checkpoint(make(marker), storages or {"0": bytes(16)},
                                                            **data_pkl))


PAYLOADS: list[Case] = [
    *(Case(f"reduce-os.system-protocol-{p}", file_of(real_pickle(p, os_system)), "posix.system", True, ".pkl")
      for p in range(6)),
    Case("reduce-os.system", file_of(lambda m: dumps(system_call(m))), "os.system", True),
    Case("builtins.exec", file_of(real_pickle(2, lambda m: Reduce(exec, py_touch(m)))), "builtins.exec",
         True),
    Case("builtins.eval", file_of(real_pickle(2, lambda m: Reduce(eval, f"__import__('os').system("
                                                                          f"{touch(m)!r})"))),
         "builtins.eval", True),
    Case("subprocess.call", file_of(real_pickle(2, lambda m: Reduce(subprocess.call, ["touch", str(m)]))),
         "subprocess.call", True),
    Case("subprocess.Popen", file_of(real_pickle(4, lambda m: Reduce(subprocess.Popen, ["touch", str(m)]))),
         "subprocess.Popen", True),
    Case("runpy", file_of(lambda m: dumps(R(G("runpy", "run_path"), (str(m) + ".py",)))), "runpy.run_path",
         True),
    Case("INST-opcode", file_of(lambda m: f"(S'{touch(m)}'\nios\nsystem\n.".encode()), "os.system", True),
    Case("OBJ-opcode", file_of(lambda m: f"(cos\nsystem\nS'{touch(m)}'\no.".encode()), "os.system", True),
    Case("NEWOBJ-unknown-class", file_of(lambda m: dumps(Raw(b"cevil_pkg\nPayload\n)\x81"))),
         "evil_pkg.Payload", True),
    Case("NEWOBJ_EX", file_of(lambda m: b"\x80\x04\x8c\x08evil_pkg\x8c\x07Payload\x93)}\x92."),
         "evil_pkg.Payload", True),
    Case("BUILD-setstate", file_of(lambda m: dumps(Raw(
        b"ccopyreg\n_reconstructor\n(cevil_pkg\nState\ncbuiltins\nobject\nNtR}b"))), "evil_pkg.State", True),
    Case("STACK_GLOBAL", file_of(lambda m: b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93"
                                 + dumps(touch(m))[2:-1] + b"\x85R."), "os.system", True),
    Case("getattr-gadget", file_of(lambda m: dumps(R(R(G("builtins", "getattr"),
                                                      (R(G("builtins", "__import__"), ("os",)), "system")),
                                                    (touch(m),)))), "builtins.getattr", True),
    Case("python2-names", file_of(lambda m: f"c__builtin__\neval\n(S'{touch(m)}'\ntR.".encode()),
         "builtins.eval", True),
    Case("protocol-0-no-PROTO", file_of(lambda m: f"cos\nsystem\n(S'{touch(m)}'\ntR.".encode()),
         "os.system", True),
    Case("unknown-module", file_of(lambda m: dumps(R(G("innocent_helpers", "load"), ("x",)))),
         "innocent_helpers.load", True),
    Case("webbrowser", file_of(lambda m: dumps(R(G("webbrowser", "open"), ("http://example.invalid",)))),
         "webbrowser.open", True),
    Case("numpy-runstring", file_of(lambda m: dumps(R(G("numpy.testing._private.utils", "runstring"),
                                                      (py_touch(m), {})))),
         "numpy.testing._private.utils.runstring", True),
    Case("operator.attrgetter", file_of(lambda m: dumps(R(G("operator", "attrgetter"), ("system",)))),
         "operator.attrgetter", True),
    Case("functools.partial", file_of(lambda m: dumps(R(G("functools", "partial"),
                                                        (G("builtins", "exec"), py_touch(m))))),
         "builtins.exec", True),
    Case("nested-torch-load", file_of(lambda m: dumps(R(G("torch.storage", "_load_from_bytes"),
                                                        (dumps(system_call(m)),)))),
         "torch.storage._load_from_bytes", True),
    # inside torch.save archives
    Case("zip-entry-beside-tensor", zip_of(lambda m: one_tensor((("x", system_call(m)),))), "os.system",
         True),
    Case("zip-requires-grad-payload", zip_of(lambda m: one_tensor(requires_grad=system_call(m))),
         "os.system", True),
    Case("zip-hooks-payload", zip_of(lambda m: one_tensor(hooks=OD((("h", G("os", "system")),)))),
         "os.system", True),
    Case("zip-storage-is-payload", zip_of(lambda m: one_tensor(st_=system_call(m))), "os.system"),
    Case("zip-subclass-payload", zip_of(lambda m: dumps(OD((("w", subclass_payload(m)),)))), "os.system",
         True),
    Case("zip-deflated-payload", zip_of(lambda m: one_tensor((("x", system_call(m)),)), method=8),
         "os.system", True),
    Case("zip-payload-then-truncated", zip_of(lambda m: dumps(system_call(m))[:-1] + b"(K\x01"),
         "os.system"),
    Case("legacy-sys-info-payload", lambda p, m: p.write_bytes(
        dumps(pytorch.LEGACY_MAGIC) + dumps(1001) + dumps(system_call(m)) + dumps({}) + dumps([])),
         "os.system", True),
    Case("EXT1-opcode", zip_of(lambda m: b"\x80\x02\x82\x01(S'x'\ntR."), "copyreg._inverted_registry[1]",
         True),
    Case("legacy-keys-payload", lambda p, m: p.write_bytes(
        dumps(pytorch.LEGACY_MAGIC) + dumps(1001) + dumps({}) + dumps({}) + dumps(system_call(m))),
         "os.system"),
]


# ---------------------------------------------------------------------------------------------------
# malformed files and bombs: each refused with one line

def tensor_zip(pkl: bytes, storages: dict[str, bytes] | None = None) -> Callable[[Path, Path], None]:
    return lambda path, marker: path.write_bytes(checkpoint(pkl, {"0": bytes(16)} if storages is None
                                                            else storages))


def raw_file(data: bytes) -> Callable[[Path, Path], None]:
    return lambda path, marker: path.write_bytes(data)


def zip_members(*members: Member) -> Callable[[Path, Path], None]:
    return lambda path, marker: path.write_bytes(zip_bytes(list(members)))


def lazily(make: Callable[[], Callable[[Path, Path], None]]) -> Callable[[Path, Path], None]:
    """A builder made when its test runs: the big files (tens of MiB, a million opcodes) cost seconds to
    make, which collection would otherwise spend in every pytest-xdist worker."""
    return lambda path, marker: make()(path, marker)


GOOD = one_tensor()


def big() -> bytes:
    return dumps(Raw(b"\x8e" + struct.pack("<Q", 40 << 20) + bytes(40 << 20)))  # 40 MiB of zero bytes


def overlapping(path: Path, marker: Path) -> None:
    """Member data/0's bytes hold a whole local header for data/1, which the directory points at."""
    inner = local_header("archive/data/1", bytes(16)) + bytes(16)
    first = zip_bytes([Member("archive/data.pkl", GOOD)])
    cd = first.index(b"PK\x01\x02")
    at = cd + 30 + len("archive/data/0")
    path.write_bytes(zip_bytes([Member("archive/data.pkl", GOOD), Member("archive/data/0", inner),
                                Member("archive/data/1", bytes(16), local=False, offset=at)]))


def legacy_with(keys_size: int, data: bytes) -> Callable[[Path, Path], None]:
    obj = OD((("w", tensor(legacy_storage("0", DType.F32, 4), (2, 2))),))
    return lambda path, marker: write_legacy(path, obj, {"0": (keys_size, data)})


def fifo(path: Path, marker: Path) -> None:
    os.mkfifo(path)


def dev_zero(path: Path, marker: Path) -> None:
    path.symlink_to("/dev/zero")


def tar_file(path: Path, marker: Path) -> None:
    data = bytearray(1024)
    data[:8] = b"data.pkl"
    data[257:262] = b"ustar"
    path.write_bytes(bytes(data))


def deep_tuples(n: int) -> bytes:
    return b"\x80\x02N" + b"\x85" * n + b"."


def memo_flood(n: int) -> bytes:
    """None, then LONG_BINPUT 0, 1, … n - 1: n memo entries (numpy writes the 5-byte records at once;
    a join of n packed records took a second)."""
    records = np.zeros(n, dtype=[("opcode", "u1"), ("index", "<u4")])  # packed: 5 bytes a record
    records["opcode"] = ord("r")
    records["index"] = np.arange(n)
    return b"\x80\x02N" + records.tobytes() + b"."


def billion_laughs(levels: int = 40) -> bytes:
    out = b"\x80\x02]q\x00"
    for i in range(1, levels):
        out += b"(" + b"h" + bytes([i - 1]) * 1 + (b"h" + bytes([i - 1])) * 9 + b"lq" + bytes([i])
    return out + b"."


ERRORS: list[Case] = [
    Case("duplicate-data.pkl", zip_members(Member("archive/data.pkl", GOOD), Member("archive/data.pkl", GOOD),
                                           Member("archive/data/0", bytes(16)))),
    Case("two-archives", zip_members(Member("a/data.pkl", GOOD), Member("b/data.pkl", GOOD),
                                     Member("a/data/0", bytes(16))), pickle_ok=True),
    Case("encrypted-member", raw_file(checkpoint(GOOD, {"0": bytes(16)}, flags=1))),
    Case("unsupported-compression", raw_file(checkpoint(GOOD, {"0": bytes(16)}, method=12))),
    Case("zip-bomb-lies-about-size", lazily(lambda: raw_file(checkpoint(big(), method=8, size=1000)))),
    Case("zip-bomb-declares-huge-size", lazily(lambda: raw_file(checkpoint(big(), method=8,
                                                                           size=0xFFFFFFF0)))),
    Case("zip-slip-dotdot", zip_members(Member("archive/data.pkl", GOOD), Member("../../etc/evil", b"x"))),
    Case("zip-slip-absolute", zip_members(Member("archive/data.pkl", GOOD), Member("/tmp/evil", b"x"))),
    Case("zip-slip-backslash", zip_members(Member("archive/data.pkl", GOOD), Member("..\\..\\evil", b"x"))),
    Case("local-name-mismatch", zip_members(Member("archive/data.pkl", GOOD, local_name="archive/data.pkX"),
                                            Member("archive/data/0", bytes(16)))),
    Case("overlapping-members", overlapping),
    Case("crc-mismatch", raw_file(checkpoint(GOOD, {"0": bytes(16)}, crc=0x12345678))),
    Case("no-end-record", raw_file(b"PK\x03\x04" + bytes(100))),
    Case("central-directory-past-end", raw_file(checkpoint(GOOD)[:-22] + struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, 2, 2, 1000, 10**6, 0))),
    Case("no-data.pkl", zip_members(Member("archive/other.pkl", GOOD)), pickle_ok=True),
    Case("missing-storage", tensor_zip(GOOD, {}), pickle_ok=True),
    Case("short-storage", tensor_zip(GOOD, {"0": bytes(15)}), pickle_ok=True),
    Case("negative-size", tensor_zip(one_tensor(shape=(-2, 2))), pickle_ok=True),
    Case("negative-stride", tensor_zip(one_tensor(stride=(2, -1))), pickle_ok=True),
    Case("negative-offset", tensor_zip(one_tensor(offset=-1)), pickle_ok=True),
    Case("past-its-storage", tensor_zip(one_tensor(shape=(2, 4))), pickle_ok=True),
    Case("negative-storage-size", tensor_zip(one_tensor(st_=storage("0", DType.F32, -4))), pickle_ok=True),
    Case("quantized-storage", tensor_zip(one_tensor(st_=Pid(("storage", G("torch", "QInt8Storage"), "0",
                                                             "cpu", 4)))), pickle_ok=True),
    Case("deep-MARK-nesting", tensor_zip(b"\x80\x02" + b"(" * 100_000 + b".")),
    Case("deep-tuple-nesting", lazily(lambda: tensor_zip(deep_tuples(1_000_000))), pickle_ok=True, slow=True),
    Case("memo-flood", lazily(lambda: tensor_zip(memo_flood(1_100_000))), slow=True),
    Case("stack-flood", lazily(lambda: tensor_zip(b"\x80\x02" + b"N" * 1_100_000 + b".")), slow=True),
    Case("huge-unicode-length", tensor_zip(b"\x80\x04\x8d" + struct.pack("<Q", 1 << 60) + b"abc.")),
    Case("huge-integer", tensor_zip(b"\x80\x02\x8b" + struct.pack("<i", 100_000) + bytes(100_000) + b".")),
    Case("unknown-opcode", tensor_zip(b"\x80\x02\xff.")),
    Case("no-STOP", tensor_zip(b"\x80\x02}(X\x01\x00\x00\x00a")),
    Case("bad-STRING-quote", tensor_zip(b"S'abc\n.")),
    Case("NEXT_BUFFER", tensor_zip(b"\x80\x05\x97.")),
    Case("stack-underflow", tensor_zip(b"\x80\x02R.")),
    Case("APPENDS-without-MARK", tensor_zip(b"\x80\x02]K\x01e.")),
    Case("GET-never-PUT", tensor_zip(b"\x80\x02h\x05.")),
    Case("protocol-6", tensor_zip(b"\x80\x06N.")),
    Case("legacy-truncated-storage", legacy_with(4, bytes(10)), pickle_ok=True),
    Case("legacy-negative-storage-size", legacy_with(-4, b""), pickle_ok=True),
    Case("fifo", fifo),
    Case("dev-zero-symlink", dev_zero, suffix=".pt"),
    Case("tar-checkpoint", tar_file, suffix=".tar"),
]

# Harmless by construction, however they look: each must finish in time and memory, counting nothing.
BOUNDED: list[Case] = [
    Case("billion-laughs", tensor_zip(billion_laughs())),
]

