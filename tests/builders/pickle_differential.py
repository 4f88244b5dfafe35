"""CPython's unpicklers, restricted to recording what they would import and call, and a grammar of
opcode streams: what tests/test_pickle_differential.py holds the scan to, shared with
tests/test_scan_redteam.py (its lenient-read check). ``find_class`` is replaced by a recorder that returns
an inert class of its own and never imports; nothing of a stream's choosing runs."""

from __future__ import annotations

import _compat_pickle
import contextlib
import copyreg
import io
import pickle
import random
import resource
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_LOADS = 70
# copyreg extension codes this test registers (to names the recorder never imports) and two it does not
EXTENSIONS = {1: ("os", "system"), 2: ("builtins", "eval"), 0x1234: ("collections", "OrderedDict"),
              0x12345678: ("evil_ext", "payload")}
EXT_CODES = (*EXTENSIONS, 7, 0)


# ---------------------------------------------------------------------------------------------------
# CPython, restricted: what it resolves and calls


@dataclass
class Record:
    globals: set[tuple[str, str]] = field(default_factory=set)
    called: set[tuple[str, str]] = field(default_factory=set)


class Inert:
    """What a recorded global stands for: a class that accepts whatever the opcodes do to it."""

    _qual: tuple[str, str] = ("", "")
    _record: Record | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Inert:
        if cls._record is not None:
            cls._record.called.add(cls._qual)
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, *state: Any) -> None:
        pass

    def append(self, *items: Any) -> None:
        pass

    def extend(self, *items: Any) -> None:
        pass

    def add(self, *items: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def recording(base: type) -> type:
    class Recorder(base):  # type: ignore[misc, valid-type]
        def __init__(self, file: Any, record: Record):
            super().__init__(file)
            self.record = record

        def find_class(self, module: str, name: str) -> type:
            # the names as CPython's own find_class would import them (fix_imports below protocol 3).
            # The C unpickler does not show its protocol: its raw names are kept, and the scan covers
            # one when it lists it or its Python 3 spelling (see ours_cover)
            proto = getattr(self, "proto", None)
            key = compat(module, name) if proto is not None and proto < 3 else (module, name)
            if key[0]:  # __import__("") raises before importing anything
                self.record.globals.add(key)
            return type("Inert", (Inert,), {"_qual": key, "_record": self.record})

        def persistent_load(self, pid: Any) -> Any:
            return object.__new__(Inert)

    return Recorder


def compat(module: str, name: str) -> tuple[str, str]:
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


C_UNPICKLER, PY_UNPICKLER = recording(pickle.Unpickler), recording(pickle._Unpickler)  # type: ignore[attr-defined]


def load_until_end(make: Any, f: Any, data: bytes, record: Record, *, one_unpickler: bool) -> bool:
    """Load until the data ends or loading fails; True when every load succeeded to the end."""
    u = make(f, record)
    for _ in range(MAX_LOADS):
        try:
            (u if one_unpickler else make(f, record)).load()
        except Exception:
            return False
        if f.tell() >= len(data):
            return True
    return True


def cpython(data: bytes) -> tuple[Record, bool]:
    """What CPython resolves over all readers; whether at least one read the whole stream cleanly."""
    with memory_cap():
        return _cpython(data)


@contextlib.contextmanager
def memory_cap(extra: int = 256 << 20) -> Iterator[None]:
    """CPython allocates what a length field asks for (BYTEARRAY8 of 4 GB in a 20-byte stream) before
    finding the data short: the address space is capped meanwhile, so such a load fails with
    MemoryError (as it fails with a short read when memory is plentiful) instead of taking the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + extra if hard == resource.RLIM_INFINITY else min(hard, used + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _cpython(data: bytes) -> tuple[Record, bool]:
    record, clean = Record(), False
    for make in (C_UNPICKLER, PY_UNPICKLER):
        for buffered in (False, True):
            for one in (True, False):
                copyreg._extension_cache.clear()  # type: ignore[attr-defined]
                f: Any = io.BufferedReader(io.BytesIO(data)) if buffered else io.BytesIO(data)  # type: ignore[arg-type]
                clean |= load_until_end(make, f, data, record, one_unpickler=one)
    return record, clean




MODULES = ("os", "posix", "builtins", "__builtin__", "copy_reg", "collections", "torch._utils", "évil",
           "a.b", "")
NAMES = ("system", "eval", "OrderedDict", "_rebuild_tensor_v2", "x", "Ünï", "getattr", "a.b")


def _escaped(raw: bytes) -> bytes:
    return "".join(chr(b) if 32 <= b < 127 and b not in (39, 92) else f"\\x{b:02x}" for b in raw).encode()


def string_op(kind: str, text: str, encoding: str) -> bytes:
    raw = text.encode(encoding, "replace")
    return {
        "STRING": b"S'" + _escaped(raw) + b"'\n",
        "BINSTRING": b"T" + struct.pack("<i", len(raw)) + raw,
        "SHORT_BINSTRING": b"U" + bytes([len(raw)]) + raw,
        "BINUNICODE": b"X" + struct.pack("<I", len(raw)) + raw,
        "SHORT_BINUNICODE": b"\x8c" + bytes([len(raw)]) + raw,
        "BINUNICODE8": b"\x8d" + struct.pack("<Q", len(raw)) + raw,
        "UNICODE": text.encode("raw-unicode-escape") + b"\n" if False else b"V" + text.encode(
            "raw-unicode-escape") + b"\n",
        "BINBYTES": b"B" + struct.pack("<I", len(raw)) + raw,
        "SHORT_BINBYTES": b"C" + bytes([len(raw)]) + raw,
    }[kind]


STRING_KINDS = ("STRING", "BINSTRING", "SHORT_BINSTRING", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
                "UNICODE", "BINBYTES", "SHORT_BINBYTES")


SIMPLE = [bytes([c]) for c in b"(.012N)]}ltdaesuRbo"] + [bytes([c]) for c in (
    0x81, 0x92, 0x93, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8F, 0x90, 0x91, 0x94, 0x98, 0x97)] + [b"Q"]


@dataclass(frozen=True)
class Frame:
    covers: int  # how many following pieces the FRAME's length spans
    delta: int  # added to that length: 0 fits, <0 falls short, >0 runs long



def assemble(pieces: list[bytes | Frame]) -> bytes:
    """Back to front, so that a FRAME knows the bytes it covers."""
    out: list[bytes] = []
    for p in reversed(pieces):
        if isinstance(p, Frame):
            n = max(0, sum(len(x) for x in out[len(out) - p.covers:]) + p.delta) if p.covers else max(
                0, p.delta)
            out.append(b"\x95" + struct.pack("<Q", n))
        else:
            out.append(p)
    return b"".join(reversed(out))




def random_piece(rng: random.Random) -> bytes | Frame:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(SIMPLE)
    if kind == 1:
        return string_op(rng.choice(STRING_KINDS), rng.choice(MODULES + NAMES), rng.choice(("utf-8",
                                                                                           "latin-1")))
    if kind == 2:
        return Frame(rng.randrange(7), rng.choice((0, 0, 0, -1, -2, 1, 5, -7)))
    if kind == 3:
        g = (b"c" + rng.choice(MODULES).encode() + b"\n" + rng.choice(NAMES).encode() + b"\n"
             if rng.random() < 0.5 else random_piece_string(rng) + random_piece_string(rng) + b"\x93")
        return g + rng.choice((b")", b"N\x85", b"(S'x'\nt", b"]")) + rng.choice((b"R", b"\x81", b"}\x92",
                                                                                 b"R."))
    if kind == 4:
        value = rng.choice((None, 1, -5, 2**70, "ü", b"\x00", [1, (2, 3)], {"a": {1, 2}},
                            OrderedDict(a=1), bytearray(b"x"), Counter("aab"), frozenset({1}), 1.5))
        return pickle.dumps(value, protocol=rng.randrange(6))
    if kind == 5:
        code = rng.choice(EXT_CODES)
        return rng.choice((b"\x82" + bytes([code & 0xFF]), b"\x83" + struct.pack("<H", code & 0xFFFF),
                           b"\x84" + struct.pack("<i", code)))
    if kind == 6:
        i = rng.randrange(7)
        return rng.choice((b"p%d\n" % i, b"q" + bytes([i]), b"r" + struct.pack("<I", i), b"g%d\n" % i,
                           b"h" + bytes([i]), b"j" + struct.pack("<I", i), b"\x94"))
    if kind == 7:
        return rng.choice((b"\x80" + bytes([rng.randrange(7)]), b"I%d\n" % rng.randrange(-3, 300),
                           b"I00\n", b"I0x10\n", b"L5L\n", b"F1.5\n", b"K\x07", b"M\x01\x02",
                           b"J\xff\xff\xff\xff", b"\x8a\x01\x05", b"Pabc\n",
                           b"i" + rng.choice(MODULES).encode() + b"\n" + rng.choice(NAMES).encode() + b"\n",
                           b"\x96" + struct.pack("<Q", 2) + b"ab", b"\x8e" + struct.pack("<Q", 1) + b"z"))
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))


def random_piece_string(rng: random.Random) -> bytes:
    return string_op(rng.choice(STRING_KINDS), rng.choice(MODULES + NAMES), rng.choice(("utf-8",
                                                                                        "latin-1")))
