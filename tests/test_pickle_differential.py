"""CPython is the definition: every global CPython's unpicklers would resolve from a stream, the scan
reports.

Opcode streams over every opcode of protocols 0-5 are generated (hypothesis: well-formed pickles from
``pickle.dumps`` at every protocol, hand-built opcode sequences, FRAMEs that fit, fall short or run long,
nested and concatenated pickles, STACK_GLOBAL fed by every string opcode, EXT codes through copyreg's
registry). Each stream is read by CPython's C ``_pickle.Unpickler`` and pure-Python ``pickle._Unpickler``,
on a bare ``io.BytesIO`` (what torch.load does with a zip member) and on a buffered file (what
``pickle.load(open(f))`` reads), once and then again until the data ends, with one Unpickler and with a
new one for each load. ``find_class`` is replaced by a recorder that returns an inert class of its own
and never imports; ``persistent_load`` returns an inert object. Nothing of the stream's choosing runs.

The scan (``pickle_scan.scan_bytes``) must then either report every global CPython resolved (and every
one CPython called), or say it cannot verify the stream (verdict "could run code"); a stream it calls
"not a pickle" must be one CPython resolves nothing from.

CI runs ``DIFF_EXAMPLES`` (2,000) examples; ``PARAMSCOPE_DIFF_EXAMPLES=100000 HYPOTHESIS_PROFILE=dev``
is the one-off run quoted in docs/security.md.
"""

from __future__ import annotations

import _compat_pickle
import contextlib
import copyreg
import io
import os
import pickle
import random
import resource
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.formats import pickle_scan

DIFF_EXAMPLES = int(os.environ.get("PARAMSCOPE_DIFF_EXAMPLES", "2000"))
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
            key = _compat(module, name) if proto is not None and proto < 3 else (module, name)
            if key[0]:  # __import__("") raises before importing anything
                self.record.globals.add(key)
            return type("Inert", (Inert,), {"_qual": key, "_record": self.record})

        def persistent_load(self, pid: Any) -> Any:
            return object.__new__(Inert)

    return Recorder


def _compat(module: str, name: str) -> tuple[str, str]:
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


C_UNPICKLER, PY_UNPICKLER = recording(pickle.Unpickler), recording(pickle._Unpickler)  # type: ignore[attr-defined]


def _loads(make: Any, f: Any, data: bytes, record: Record, *, one_unpickler: bool) -> bool:
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
                clean |= _loads(make, f, data, record, one_unpickler=one)
    return record, clean


@pytest.fixture(scope="module", autouse=True)
def extension_registry() -> Iterator[None]:
    for code, (module, name) in EXTENSIONS.items():
        copyreg.add_extension(module, name, code)
    yield
    for code, (module, name) in EXTENSIONS.items():
        copyreg.remove_extension(module, name, code)


# ---------------------------------------------------------------------------------------------------
# the comparison

@dataclass
class Tally:
    cases: int = 0
    cpython_resolved: int = 0  # cases where CPython resolved at least one global
    unverified: int = 0  # the scan could not verify (verdict "could run code")
    unverified_but_clean: int = 0  # ... while a CPython reader loaded the whole stream without error
    unverified_and_unlisted: int = 0  # ... and CPython resolved a global the scan's list lacks
    divergences: list[bytes] = field(default_factory=list)


TALLY = Tally()


def ours_cover(scan: pickle_scan.PickleScan, wanted: set[tuple[str, str]], *, called: bool) -> set[
        tuple[str, str]]:
    """The globals of ``wanted`` the scan does not report (``called``: as called)."""
    have = {(u.module, u.name) for u in scan.references if u.calls or not called}
    for u in scan.references:
        if u.module == "copyreg" and u.name.startswith("_inverted_registry[") and (u.calls or not called):
            code = int(u.name[len("_inverted_registry["):-1])
            if code in EXTENSIONS:
                have.add(EXTENSIONS[code])
    return {g for g in wanted if g not in have and _compat(*g) not in have}


def check(data: bytes) -> None:
    record, clean = cpython(data)
    scan = pickle_scan.scan_bytes(data)
    TALLY.cases += 1
    _progress()
    TALLY.cpython_resolved += bool(record.globals)
    if scan.not_pickle:
        assert not record.globals, (data, record, scan)
        return
    if scan.unverified:
        TALLY.unverified += 1
        TALLY.unverified_but_clean += clean
        # the verdict is "could run code" anyway; how often that, not the list, is what covers CPython
        unlisted = ours_cover(scan, record.globals, called=False)
        TALLY.unverified_and_unlisted += bool(unlisted)
        log = os.environ.get("PARAMSCOPE_DIFF_LOG")
        if unlisted and log and TALLY.unverified_and_unlisted <= 20:
            with open(log, "a") as f:
                f.write(f"unlisted {sorted(unlisted)} in {data!r}: {scan.unverified[:2]}\n")
        return
    missing = ours_cover(scan, record.globals, called=False) | ours_cover(scan, record.called, called=True)
    if missing:
        TALLY.divergences.append(data)
    assert not missing, (data, missing, scan)


def _progress() -> None:
    """Long one-off runs write their running figures to $PARAMSCOPE_DIFF_LOG every 1,000 streams."""
    log = os.environ.get("PARAMSCOPE_DIFF_LOG")
    if log and TALLY.cases % 1000 == 0:
        with open(log, "a") as f:
            f.write(f"{TALLY.cases} streams, CPython resolved {TALLY.cpython_resolved}, unverified "
                    f"{TALLY.unverified} ({TALLY.unverified_but_clean} clean in CPython, "
                    f"{TALLY.unverified_and_unlisted} unlisted), divergences "
                    f"{len(TALLY.divergences)}\n")


# ---------------------------------------------------------------------------------------------------
# opcode streams

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
strings = st.builds(string_op, st.sampled_from(STRING_KINDS), st.sampled_from(MODULES + NAMES),
                    st.sampled_from(("utf-8", "latin-1")))
SIMPLE = [bytes([c]) for c in b"(.012N)]}ltdaesuRbo"] + [bytes([c]) for c in (
    0x81, 0x92, 0x93, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8F, 0x90, 0x91, 0x94, 0x98, 0x97)] + [b"Q"]
small = st.integers(0, 6)
argued = st.one_of(
    st.builds(lambda p: b"\x80" + bytes([p]), st.sampled_from((0, 1, 2, 3, 4, 5, 6))),
    st.builds(lambda n: b"I%d\n" % n, st.integers(-3, 300)),
    st.sampled_from((b"I00\n", b"I01\n", b"I0x10\n", b"I 7\n", b"L5L\n", b"L0x7\n", b"F1.5\n")),
    st.builds(lambda n: b"K" + bytes([n]), st.integers(0, 255)),
    st.builds(lambda n: b"M" + struct.pack("<H", n), st.integers(0, 65535)),
    st.builds(lambda n: b"J" + struct.pack("<i", n), st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda n: b"\x8a\x02" + struct.pack("<h", n), st.integers(-300, 300)),
    st.builds(lambda n: b"\x8b\x01\x00\x00\x00" + bytes([n]), st.integers(0, 255)),
    st.just(b"G" + struct.pack(">d", 1.5)),
    st.builds(lambda i: b"p%d\n" % i, small), st.builds(lambda i: b"q" + bytes([i]), small),
    st.builds(lambda i: b"r" + struct.pack("<I", i), small),
    st.builds(lambda i: b"g%d\n" % i, small), st.builds(lambda i: b"h" + bytes([i]), small),
    st.builds(lambda i: b"j" + struct.pack("<I", i), small),
    st.sampled_from((b"Pabc\n", b"P1\n")),
    st.builds(lambda m, n: b"c" + m.encode() + b"\n" + n.encode() + b"\n", st.sampled_from(MODULES),
              st.sampled_from(NAMES)),
    st.builds(lambda m, n: b"i" + m.encode() + b"\n" + n.encode() + b"\n", st.sampled_from(MODULES),
              st.sampled_from(NAMES)),
    st.builds(lambda c: b"\x82" + bytes([c & 0xFF]), st.sampled_from(EXT_CODES)),
    st.builds(lambda c: b"\x83" + struct.pack("<H", c & 0xFFFF), st.sampled_from(EXT_CODES)),
    st.builds(lambda c: b"\x84" + struct.pack("<i", c), st.sampled_from(EXT_CODES)),
    st.builds(lambda n: b"\x96" + struct.pack("<Q", n) + bytes(n), st.integers(0, 3)),
    st.builds(lambda n: b"\x8e" + struct.pack("<Q", n) + bytes(n), st.integers(0, 3)),
    st.builds(bytes, st.lists(st.integers(0, 255), min_size=1, max_size=3)),  # anything at all
)
# a call as pickles make them: a global, its arguments, REDUCE
payload = st.builds(lambda g, a, how: g + a + how, st.one_of(
    st.builds(lambda m, n: b"c" + m.encode() + b"\n" + n.encode() + b"\n", st.sampled_from(MODULES),
              st.sampled_from(NAMES)),
    st.builds(lambda m, n: m + n + b"\x93", strings, strings)),
    st.sampled_from((b")", b"N\x85", b"(S'x'\nt", b"]")), st.sampled_from((b"R", b"\x81", b"}\x92", b"R.")))
benign = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                                st.binary(max_size=5), st.floats(allow_nan=False)),
                      lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                                              st.dictionaries(st.text(max_size=3), inner, max_size=3),
                                              st.builds(OrderedDict, st.dictionaries(st.integers(), inner,
                                                                                     max_size=2)),
                                              st.builds(set, st.lists(st.integers(), max_size=3)),
                                              st.builds(bytearray, st.binary(max_size=3)),
                                              st.builds(Counter, st.text(max_size=3))),
                      max_leaves=8)
real = st.builds(lambda v, p: pickle.dumps(v, protocol=p), benign, st.integers(0, 5))


@dataclass(frozen=True)
class Frame:
    covers: int  # how many following pieces the FRAME's length spans
    delta: int  # added to that length: 0 fits, <0 falls short, >0 runs long


piece = st.one_of(st.sampled_from(SIMPLE), argued, strings, payload, real,
                  st.builds(Frame, st.integers(0, 6), st.sampled_from((0, 0, 0, -1, -2, 1, 5, -7))))


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


streams = st.builds(assemble, st.lists(piece, max_size=30))


@pytest.mark.slow  # runs long (several CPU-s): make test runs it, make test-fast does not
@settings(max_examples=DIFF_EXAMPLES)
@given(streams)
def test_scan_reports_every_global_cpython_resolves(data: bytes) -> None:
    check(data)


@pytest.mark.slow  # runs long: hypothesis against CPython's unpickler
@settings(max_examples=max(DIFF_EXAMPLES // 4, 50))
@given(st.lists(st.one_of(real, payload.map(lambda p: b"\x80\x02" + p + (b"" if p.endswith(b".") else b"."))),
                min_size=2, max_size=4).map(b"".join))
def test_concatenated_pickles(data: bytes) -> None:
    check(data)


# streams the generators found once: each broke an earlier version of the scan
REGRESSIONS = [
    b"N.ccollections\nCounter\np0\n((dp1\ntp2\nRp3\n.",  # a handler crashed on a dict argument
    b"i",  # INST at the end of the data: pickle.py calls find_class("", "")
    b"cantigravityX",  # GLOBAL at the end of the data: pickle.py imports "antigravit"
    b"\x80\x02cos\nsystem\nq\x01.h\x01(S'x'\ntR.",  # a global from the last pickle's memo, called
    b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N0cposix\nsystem\n(S'x'\ntR.",  # frame straddle
    b"\x80\x04U\x05posixU\x06system\x93.",  # STACK_GLOBAL on SHORT_BINSTRING
]


@pytest.mark.parametrize("data", REGRESSIONS)
def test_regressions(data: bytes) -> None:
    check(data)


def test_tally() -> None:
    """The figures (printed with -s): how often CPython resolved something, how often the scan could
    not verify a stream CPython read cleanly. Runs after the generators in file order."""
    print(f"\ndifferential: {TALLY.cases} streams, CPython resolved globals in {TALLY.cpython_resolved}, "
          f"scan unverified {TALLY.unverified} ({TALLY.unverified_but_clean} of them read cleanly by "
          f"CPython, {TALLY.unverified_and_unlisted} with a CPython global the list lacks), divergences "
          f"{len(TALLY.divergences)}")
    assert not TALLY.divergences


# ---------------------------------------------------------------------------------------------------
# the same grammar drawn with plain random numbers: hypothesis spends most of a case on drawing, so the
# one-off run of 100,000 streams uses this (PARAMSCOPE_DIFF_RANDOM=100000; CI runs DIFF_EXAMPLES)

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


RANDOM_CASES = int(os.environ.get("PARAMSCOPE_DIFF_RANDOM", str(DIFF_EXAMPLES)))


def test_random_streams() -> None:
    rng = random.Random(20261203)
    for _ in range(RANDOM_CASES):
        check(assemble([random_piece(rng) for _ in range(rng.randrange(31))]))


def test_tally_after_random() -> None:
    test_tally()
