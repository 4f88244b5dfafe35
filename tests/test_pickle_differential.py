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

import copyreg
import os
import pickle
import random
import struct
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders.pickle_differential import (
    EXT_CODES,
    EXTENSIONS,
    MODULES,
    NAMES,
    SIMPLE,
    STRING_KINDS,
    Frame,
    assemble,
    compat,
    cpython,
    random_piece,
    string_op,
)
from paramscope.formats import pickle_scan

DIFF_EXAMPLES = int(os.environ.get("PARAMSCOPE_DIFF_EXAMPLES", "2000"))
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
    return {g for g in wanted if g not in have and compat(*g) not in have}


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

strings = st.builds(string_op, st.sampled_from(STRING_KINDS), st.sampled_from(MODULES + NAMES),
                    st.sampled_from(("utf-8", "latin-1")))
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



piece = st.one_of(st.sampled_from(SIMPLE), argued, strings, payload, real,
                  st.builds(Frame, st.integers(0, 6), st.sampled_from((0, 0, 0, -1, -2, 1, 5, -7))))


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


RANDOM_CASES = int(os.environ.get("PARAMSCOPE_DIFF_RANDOM", str(DIFF_EXAMPLES)))


def test_random_streams() -> None:
    rng = random.Random(20261203)
    for _ in range(RANDOM_CASES):
        check(assemble([random_piece(rng) for _ in range(rng.randrange(31))]))


def test_tally_after_random() -> None:
    test_tally()
