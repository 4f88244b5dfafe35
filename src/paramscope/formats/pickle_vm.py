"""A restricted pickle interpreter: it reads every opcode of protocols 0-5 and never imports or calls.

The opcodes and their arguments are those documented in CPython's ``Lib/pickletools.py`` (and executed
by ``Lib/pickle.py``'s ``_Unpickler``); this module walks the same stack machine, but:

- ``GLOBAL`` / ``STACK_GLOBAL`` / ``INST`` push an inert ``Global(module, name)`` record and note the
  reference; nothing is imported (``find_class`` is never reached);
- ``REDUCE`` / ``NEWOBJ`` / ``NEWOBJ_EX`` / ``INST`` / ``OBJ`` on a global look it up in a table of
  handlers the caller supplies (``calls``) that build data (a tensor record, an ordered dict); any
  other call becomes an inert ``Call`` record that says what *would* have been called;
- ``BUILD`` records the state instead of calling ``__setstate__``; ``PERSID`` / ``BINPERSID`` hand
  the id to the caller's ``persistent_load``, a pure function of the data;
- ``EXT1/2/4`` name a global through the loading process's ``copyreg`` registry, which a file cannot
  see: the reference is recorded as ``copyreg._inverted_registry[CODE]``.

Where CPython's two unpicklers (``pickle._Unpickler`` and ``_pickle.Unpickler``) read the same bytes
differently, the machine reads them the way that reaches further and notes an *anomaly*: an opcode
that straddles the end of a FRAME (the C unpickler reads on, the Python one stops), a FRAME longer than
the data (the Python one reads on), a new FRAME before the last one ends. No pickler writes these; the
caller decides what they mean (the safety scan: "could run code").

Protocol-0/1 strings (``STRING``, ``BINSTRING``, ``SHORT_BINSTRING``) become ``PyStr``: bytes that the
caller's ``encoding`` turns into ``str`` (ASCII for ``pickle.load``, UTF-8 for ``torch.load``, latin-1
for numpy's Python 2 mode); ``STACK_GLOBAL`` resolves them under every such decoding, as CPython would.
Python 2 names are mapped to Python 3's (``_compat_pickle``) only under protocols 0-2, as CPython does.

Every resource is bounded (``Limits``): opcodes executed, CPU time, MARK depth, stack and memo size,
the length of text lines and integers; a string or bytes length is checked against the bytes left
before anything is allocated. Dict keys are never hashed unless they are plain scalars, so a key made
of a million nested tuples costs nothing.
"""

from __future__ import annotations

import codecs
import gc
import re
import struct
import time
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from paramscope.errors import FormatError
from paramscope.records import record

HIGHEST_PROTOCOL = 5


class PyStr(bytes):
    """A Python 2 ``str`` (STRING / BINSTRING / SHORT_BINSTRING): bytes until an encoding is chosen."""

    __slots__ = ()

    def decodings(self) -> tuple[str, ...]:
        """The ``str`` CPython's unpickler makes of it under the encodings loaders pass (ASCII, UTF-8,
        latin-1); ``encoding="bytes"`` keeps bytes, which no string-taking opcode accepts."""
        out = []
        for encoding in ("ascii", "utf-8", "latin-1"):
            try:
                text = self.decode(encoding)
            except UnicodeDecodeError:
                continue
            if text not in out:
                out.append(text)
        return tuple(out)


HASHABLE_KEYS = (str, int, float, bytes, bool, type(None), PyStr)


@record
class Limits:
    max_ops: int = 8_000_000  # a 1,000-tensor data.pkl runs ~40,000; this machine runs ~5M a second
    # the thread's CPU time, not the clock's: on a loaded machine a wall-clock limit turned a sound
    # million-opcode pickle into "could run code" (the machine reads memory only: its CPU time is its cost)
    max_seconds: float = 5.0
    max_depth: int = 1_000  # nested MARKs
    max_stack: int = 1_000_000
    max_memo: int = 1_000_000
    max_line: int = 1 << 20  # protocol-0 text arguments
    max_long_bytes: int = 1_024  # LONG1/LONG4/LONG: torch's largest is the 10-byte legacy magic


# --- inert records --------------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Global:
    """A reference to ``module.name``, as a GLOBAL opcode names it; never resolved."""

    module: str
    name: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False, slots=True)
class Call:
    """What loading would have called: ``func(*args)`` (``kind`` names the opcode), never run."""

    func: Any
    args: Any
    kind: str
    state: Any = None  # BUILD's argument
    items: list[Any] = field(default_factory=list)  # APPEND(S) / SETITEM(S) onto the result


@dataclass(eq=False, slots=True)
class PDict:
    """A pickled dict: scalar keys in ``entries`` (last one wins, as in Python), any others in ``other``."""

    kind: str = "dict"
    entries: dict[Any, Any] = field(default_factory=dict)
    other: list[tuple[Any, Any]] = field(default_factory=list)
    state: Any = None

    def set(self, key: Any, value: Any) -> None:
        if type(key) in HASHABLE_KEYS:
            self.entries[key] = value
        else:
            self.other.append((key, value))


@dataclass(eq=False, slots=True)
class PSet:
    items: list[Any] = field(default_factory=list)
    frozen: bool = False


@dataclass(eq=False, slots=True)
class PersistentRef:
    """A persistent id the caller did not recognise."""

    pid: Any


@dataclass(slots=True)
class GlobalUse:
    """One referenced global: how often it was named and called, and where it first appears."""

    module: str
    name: str
    offset: int
    count: int = 0
    calls: int = 0

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


class NotHandled(Exception):
    """Raised by a call handler whose arguments are not the data it builds from: the call stays a record."""


CallHandler = Callable[[Any], Any]


class PickleError(FormatError):
    """The pickle breaks a rule of the opcode stream or a limit; ``references`` lists the globals seen
    before the problem, since a real unpickler would already have imported (and maybe called) them.
    ``ops`` is how many opcodes were started (1: the very first byte is not a pickle opcode)."""

    references: tuple[GlobalUse, ...] = ()
    anomalies: tuple[str, ...] = ()
    ops: int = 0


class PickleLimit(PickleError):
    """The scan's own bound stopped the read (opcodes, time, stack, memo, MARK depth, line or integer
    length): CPython's unpicklers, which have none of these, would read on."""


class PickleTruncated(PickleError):
    """The data ends before the pickle does (the caller may retry with more of the file)."""


@record
class Result:
    value: Any
    end: int  # offset just past STOP
    protocol: int
    ops: int
    references: tuple[GlobalUse, ...]
    anomalies: tuple[str, ...] = ()  # where CPython's two unpicklers would read these bytes differently
    frame_end: int | None = None  # STOP came inside a FRAME that ends here (the Python unpickler's
    # file position afterwards, where a second pickle.load would start)


# --- the machine ----------------------------------------------------------------------------------

class Machine:
    def __init__(self, data: bytes, file: str, start: int = 0, *, limits: Limits = Limits(),
                 calls: Mapping[tuple[str, str], CallHandler] | None = None,
                 persistent_load: Callable[[Any], Any] | None = None, memo: dict[int, Any] | None = None,
                 after_build: Callable[[Machine, Any], None] | None = None):
        self.data, self.file, self.pos, self.limits = data, file, start, limits
        # a loader that reads data of its own from the stream after BUILD (joblib's arrays)
        self.after_build = after_build
        self.calls = {**BUILTIN_CALLS, **(calls or {})}
        self.persistent_load = persistent_load or PersistentRef
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        # one Unpickler's load() called again keeps its memo (CPython resets only stack and protocol)
        self.memo: dict[int, Any] = {} if memo is None else memo
        self.refs: dict[tuple[str, str], GlobalUse] = {}
        self.protocol = 0
        self.op_at = start
        self.frame_end: int | None = None  # the current FRAME's end, while inside one
        self.anomalies: list[str] = []

    # -- driver --
    def run(self) -> Result:
        # The machine builds up to millions of small containers and no cycles a caller keeps; CPython's
        # cyclic collector would traverse all live objects over and over meanwhile (seconds, measured
        # on a million nested tuples), so it pauses for the run.
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if paused:
                gc.enable()

    def _run(self) -> Result:
        # A hostile stream is a million opcodes of one kind (a stack, memo or tuple flood) run up to a
        # limit: the loop reads what it needs once into locals, each opcode costs one call, and what
        # happens rarely (the end, a FRAME's end) is in methods of its own. The loop also stays near the
        # function's start because tracemalloc (the tests' memory bound) finds the line of every
        # allocation by walking the line table from there: the floods ran ~1.3x slower under it with
        # those branches inline.
        limits, data, ops = self.limits, self.data, 0
        size, max_stack, handlers = len(data), limits.max_stack, OPCODES
        deadline = time.thread_time() + limits.max_seconds
        next_check = 0x10000  # the budget is checked every 65,536 opcodes
        try:
            while True:
                pos = self.pos
                if pos >= size:
                    raise PickleTruncated(self.file, "pickle ends before its STOP opcode", f"{size} bytes")
                self.op_at = pos
                self.pos = pos + 1
                ops += 1
                if ops == next_check:  # a comparison, where ``ops & 0xFFFF`` would make an int each time
                    self._check_budget(ops, deadline)
                    next_check += 0x10000
                handler = handlers.get(data[pos])
                if handler is None:
                    self._fail(f"unknown pickle opcode 0x{data[pos]:02x} at offset {pos}")
                if handler is _stop:
                    return self._finish(ops)
                handler(self)
                if self.frame_end is not None and self.pos >= self.frame_end:
                    self._frame_ended()
                if len(self.stack) > max_stack:
                    self._limit("pickle stack exceeds the limit", len(self.stack), f"at most {max_stack}")
        except PickleError as e:
            e.references = self.references()
            e.anomalies = tuple(self.anomalies)
            e.ops = ops
            raise

    def _finish(self, ops: int) -> Result:
        """STOP: the value on top is the pickle's."""
        value = self._pop()
        frame_end = self.frame_end if self.frame_end and self.frame_end > self.pos else None
        return Result(value, self.pos, self.protocol, ops, self.references(), tuple(self.anomalies),
                      frame_end)

    def _frame_ended(self) -> None:
        """The opcode just read reached the current FRAME's end (or ran past it: an anomaly)."""
        end = self.frame_end
        if end is not None and self.pos > end and self.op_at < end:
            self.anomalies.append(f"opcode at offset {self.op_at} runs past the end of its FRAME at {end}")
        self.frame_end = None

    def references(self) -> tuple[GlobalUse, ...]:
        return tuple(self.refs.values())

    def _check_budget(self, ops: int, deadline: float) -> None:
        if ops > self.limits.max_ops:
            self._limit("pickle runs more opcodes than the limit", ops, self.limits.max_ops)
        if time.thread_time() > deadline:
            self._limit("pickle takes longer than the time limit", f"{ops} opcodes",
                       f"at most {self.limits.max_seconds:g} s")

    def _fail(self, what: str, found: object = None, expected: object = None) -> NoReturn:
        raise PickleError(self.file, what, found, expected)

    def _limit(self, what: str, found: object = None, expected: object = None) -> NoReturn:
        raise PickleLimit(self.file, what, found, expected)

    # -- reading arguments --
    def take(self, n: int, what: str) -> bytes:
        if n < 0:
            self._fail(f"{what} at offset {self.op_at} has a negative length", n)
        if n > len(self.data) - self.pos:
            raise PickleTruncated(self.file, f"{what} at offset {self.op_at} runs past the end of the "
                                  "pickle", f"{n} bytes", f"at most {len(self.data) - self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: struct.Struct, what: str) -> Any:
        pos = self.pos
        end = pos + fmt.size
        if end > len(self.data):
            self.take(fmt.size, what)  # raises: the argument runs past the end
        self.pos = end
        return fmt.unpack_from(self.data, pos)[0]

    def byte(self, what: str) -> int:
        """A one-byte argument (``take(1, what)[0]`` without the slice)."""
        pos = self.pos
        if pos >= len(self.data):
            self.take(1, what)  # raises
        self.pos = pos + 1
        return self.data[pos]

    def line(self, what: str, limit: int | None = None, charset: bytes | None = None,
             empty_ok: bool = False) -> bytes:
        """The argument line. ``charset``: the bytes a number's line may hold, so that a line past the
        limit fails where CPython's parse of it would fail too (not at a limit): _pickle reads number
        lines as C strings, which end at a NUL, so only the bytes before one count, and a line that
        starts with a NUL is a number only where ``empty_ok`` (INT: strtol of "" is 0), and then it is
        read to its end whatever its length."""
        limit = limit or self.limits.max_line
        frame_end = self.frame_end
        if frame_end is not None and frame_end > self.pos and self.data.find(b"\n", self.pos, frame_end) < 0:
            # the line does not end inside its FRAME: pickle.py raises, _pickle drops what the frame
            # held and reads a new line from the frame's end (what the machine reads is neither)
            self.anomalies.append(f"line at offset {self.op_at} runs past the end of its FRAME at "
                                  f"{frame_end} (_pickle reads a new line from there)")
        end = self.data.find(b"\n", self.pos, self.pos + limit + 1)
        if end < 0 and charset is not None:
            window = self.data[self.pos:self.pos + limit]
            text, nul, _ = window.partition(b"\x00")
            if text.translate(None, charset) or (nul and not text and not empty_ok):
                self._fail(f"{what} at offset {self.op_at} is not a number")
            if nul and not text:
                limit = self.limits.max_line
                end = self.data.find(b"\n", self.pos, self.pos + limit + 1)
        if end < 0:
            error = PickleTruncated if len(self.data) - self.pos <= limit else PickleLimit
            raise error(self.file, f"{what} at offset {self.op_at} has no end of line within {limit} bytes")
        chunk = self.data[self.pos:end]
        self.pos = end + 1
        return chunk

    def text(self, what: str, limit: int | None = None) -> str:
        raw = self.line(what, limit)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(f"{what} at offset {self.op_at} is not UTF-8", repr(raw[:40]))

    def decode(self, raw: bytes, what: str) -> str:
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            self._fail(f"{what} at offset {self.op_at} is not UTF-8")

    def long(self, raw: bytes) -> int:
        if len(raw) > self.limits.max_long_bytes:
            self._limit(f"integer at offset {self.op_at} is implausibly long", f"{len(raw)} bytes",
                       f"at most {self.limits.max_long_bytes}")
        return int.from_bytes(raw, "little", signed=True)

    # -- the stack --
    def push(self, value: Any) -> None:
        self.stack.append(value)

    def _pop(self) -> Any:
        if not self.stack:
            self._fail(f"opcode at offset {self.op_at} pops an empty stack")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            self._fail(f"opcode at offset {self.op_at} reads an empty stack")
        return self.stack[-1]

    def mark(self) -> None:
        if len(self.metastack) >= self.limits.max_depth:
            self._limit("pickle nests MARKs deeper than the limit", len(self.metastack) + 1,
                       f"at most {self.limits.max_depth}")
        self.metastack.append(self.stack)
        self.stack = []

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            self._fail(f"opcode at offset {self.op_at} needs a MARK and there is none")
        items, self.stack = self.stack, self.metastack.pop()
        return items

    def memo_put(self, index: int) -> None:
        if index < 0:
            self._fail(f"negative memo index at offset {self.op_at}", index)
        memo, stack = self.memo, self.stack
        if index not in memo and len(memo) >= self.limits.max_memo:
            self._limit("pickle memo exceeds the limit", len(memo) + 1, f"at most {self.limits.max_memo}")
        if not stack:
            self._fail(f"opcode at offset {self.op_at} reads an empty stack")
        memo[index] = stack[-1]

    def memo_get(self, index: int) -> None:
        memo = self.memo
        if index not in memo:
            self._fail(f"memo index {index} at offset {self.op_at} was never stored")
        self.stack.append(memo[index])

    # -- globals and calls --
    def global_ref(self, module: str, name: str) -> Global:
        if self.protocol < 3:  # pickle.py find_class: fix_imports applies below protocol 3 only
            module, name = _compat(module, name)
        use = self.refs.get((module, name))
        if use is None:
            use = self.refs[(module, name)] = GlobalUse(module, name, self.op_at)
        use.count += 1
        return Global(module, name)

    def use_of(self, g: Global) -> GlobalUse:
        """The record of a global; one taken from an earlier pickle's memo is listed here too."""
        use = self.refs.get((g.module, g.name))
        if use is None:
            use = self.refs[(g.module, g.name)] = GlobalUse(g.module, g.name, self.op_at, 1)
        return use

    def call(self, func: Any, args: Any, kind: str) -> Any:
        """What ``func(*args)`` stands for: a handler's data, else an inert record."""
        if isinstance(func, Global):
            self.use_of(func).calls += 1
            handler = self.calls.get((func.module, func.name))
            if handler is not None:
                try:
                    return handler(args)
                except NotHandled:
                    pass
                except (TypeError, ValueError, AttributeError, IndexError, KeyError):
                    pass  # arguments of a shape the handler does not build from: the call stays a record
        return Call(func, args, kind)


def _compat(module: str, name: str) -> tuple[str, str]:
    """Python 2 names as Python 3's unpickler maps them (``_compat_pickle``, fix_imports=True)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


# --- opcode implementations, in pickletools' order ------------------------------------------------
_I32, _U32, _U16, _U64 = struct.Struct("<i"), struct.Struct("<I"), struct.Struct("<H"), struct.Struct("<Q")
# what int(line, 0) and float(line) accept in INT, LONG, FLOAT, GET and PUT lines
NUMBER_CHARS = b"0123456789abcdefABCDEFxXoObBlLiInNtTyY+-_. \t\r\x0b\x0c"
_F64 = struct.Struct(">d")  # BINFLOAT is big-endian (pickletools.float8)


def _int(m: Machine) -> None:
    raw = m.line("INT argument", 64, NUMBER_CHARS, empty_ok=True)
    if raw in (b"00", b"01"):  # pickletools: protocol 0 writes bools as INT 00 / 01
        m.push(raw == b"01")
        return
    value = _python_int(raw, 0)  # pickle.py load_int: int(data, 0)
    # _pickle load_int: strtol(s, &end, 0) ending at "\n" or NUL, else PyLong_FromString
    if value is None and raw:
        value = _strtol(_c_string(raw))
    if value is None:
        value = _python_int(_c_string(raw), 0)
    if value is None:
        m._fail(f"INT argument at offset {m.op_at} is not an integer", repr(raw[:40]))
    m.push(value)


def _long(m: Machine) -> None:
    raw = m.line("LONG argument", m.limits.max_long_bytes * 3, NUMBER_CHARS)
    digits = raw[:-1] if raw.endswith(b"L") else raw
    value = _python_int(digits, 0)  # pickle.py load_long
    if value is None:  # _pickle load_long: PyLong_FromString on the C string
        value = _python_int(_c_string(digits), 0)
    if value is None:
        m._fail(f"LONG argument at offset {m.op_at} is not an integer", repr(raw[:40]))
    m.push(value)


# _pickle reads INT, LONG, FLOAT, GET and PUT lines with C string functions, which stop at a NUL byte:
# "12\x00anything" is 12 to the C unpickler (an error to pickle.py). The machine accepts what either
# accepts, so that it reads on wherever one of them does.
_STRTOL = re.compile(rb"[ \t\n\x0b\x0c\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def _c_string(raw: bytes) -> bytes:
    return raw.split(b"\x00", 1)[0]


def _python_int(raw: bytes, base: int) -> int | None:
    try:
        return int(raw, base)
    except ValueError:
        return None


def _strtol(text: bytes) -> int | None:
    """C's strtol(text, &end, 0), when it consumes all of ``text`` (all of nothing: 0)."""
    if not text:
        return 0
    match = _STRTOL.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    base = 16 if digits[:2] in (b"0x", b"0X") else 8 if digits.startswith(b"0") and len(digits) > 1 else 10
    value = int(digits[2:] if base == 16 else digits, base)
    return -value if sign == b"-" else value


def _string(m: Machine) -> None:
    if m.data[m.pos:m.pos + 1] not in (b"'", b'"'):  # CPython refuses the line whatever its length
        m._fail(f"STRING argument at offset {m.op_at} is not quoted")
    raw = m.line("STRING argument")
    if len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
        m._fail(f"STRING argument at offset {m.op_at} is not quoted", repr(raw[:40]))
    try:
        m.push(PyStr(codecs.escape_decode(raw[1:-1])[0]))
    except ValueError:
        m._fail(f"STRING argument at offset {m.op_at} has a bad escape")


def _unicode(m: Machine) -> None:
    raw = m.line("UNICODE argument")
    try:
        m.push(raw.decode("raw-unicode-escape"))
    except UnicodeDecodeError:
        m._fail(f"UNICODE argument at offset {m.op_at} has a bad escape")


def _float(m: Machine) -> None:
    raw = m.line("FLOAT argument", 64, NUMBER_CHARS)
    c_text = _c_string(raw)
    # pickle.py: float(line); _pickle: PyOS_string_to_double on the C string (no spaces, no "_")
    c_ok = c_text == c_text.strip() and b"_" not in c_text
    for text in (raw, c_text) if c_ok else (raw,):
        try:
            m.push(float(text))
            return
        except ValueError:
            continue
    m._fail(f"FLOAT argument at offset {m.op_at} is not a number", repr(raw[:40]))


def _sized(width: struct.Struct | None, what: str, convert: Callable[[Machine, bytes], Any]):
    """An opcode whose argument is a length (1 byte when ``width`` is None) followed by that many bytes."""
    def op(m: Machine) -> None:
        n = m.byte(what) if width is None else m.unpack(width, what)
        m.stack.append(convert(m, m.take(n, what)))
    return op


def _as_bytes(m: Machine, raw: bytes) -> bytes:
    return raw


def _as_pystr(m: Machine, raw: bytes) -> PyStr:
    return PyStr(raw)


def _binstring(m: Machine) -> None:
    n = m.unpack(_I32, "BINSTRING length")  # pickle.py load_binstring: a signed length
    if n < 0:
        m._fail(f"BINSTRING at offset {m.op_at} has a negative length", n)
    m.push(PyStr(m.take(n, "BINSTRING")))


def _as_str(m: Machine, raw: bytes) -> str:
    return m.decode(raw, "string")


def _persid(m: Machine) -> None:
    m.push(m.persistent_load(m.text("PERSID argument")))


def _binpersid(m: Machine) -> None:
    m.push(m.persistent_load(m._pop()))


def _reduce(m: Machine) -> None:
    args = m._pop()
    func = m._pop()
    m.push(m.call(func, args, "reduce"))


def _build(m: Machine) -> None:
    state = m._pop()
    obj = m.top()
    if isinstance(obj, Call | PDict):
        obj.state = state
    elif isinstance(obj, Global):
        m.use_of(obj).calls += 1  # BUILD on a class sets attributes on it
    if m.after_build is not None:
        # the hook reads raw bytes after the opcode (joblib's array data, which joblib reads from the file
        # once the frame holding BUILD has ended): the frame is closed by the opcode's own bytes first
        if m.frame_end is not None and m.pos >= m.frame_end:
            m._frame_ended()
        m.after_build(m, obj)


def _append(m: Machine) -> None:
    value = m._pop()
    _extend(m, m.top(), [value])


def _appends(m: Machine) -> None:
    items = m.pop_mark()
    _extend(m, m.top(), items)


def _extend(m: Machine, target: Any, items: list[Any]) -> None:
    if not items:  # _pickle: "nothing to do", whatever the target (pickle.py looks for .append first)
        return
    if isinstance(target, list):
        target.extend(items)
    elif isinstance(target, Call):
        target.items.extend(items)  # pickle.py calls target.extend / target.append: a call we record
    else:
        m._fail(f"APPEND at offset {m.op_at} onto a {_kind(target)}")


def _setitem(m: Machine) -> None:
    value = m._pop()
    key = m._pop()
    _set_items(m, m.top(), [key, value])


def _setitems(m: Machine) -> None:
    items = m.pop_mark()
    if len(items) % 2:
        m._fail(f"SETITEMS at offset {m.op_at} has an odd number of items", len(items))
    _set_items(m, m.top(), items)


def _set_items(m: Machine, target: Any, items: list[Any]) -> None:
    if not items:  # _pickle and pickle.py: nothing to set, whatever the target
        return
    if isinstance(target, PDict):
        for i in range(0, len(items), 2):
            target.set(items[i], items[i + 1])
    elif isinstance(target, Call):
        target.items.extend(zip(items[::2], items[1::2], strict=True))
    else:
        m._fail(f"SETITEM at offset {m.op_at} onto a {_kind(target)}")


def _dict(m: Machine) -> None:
    items = m.pop_mark()
    if len(items) % 2:
        m._fail(f"DICT at offset {m.op_at} has an odd number of items", len(items))
    d = PDict()
    for i in range(0, len(items), 2):
        d.set(items[i], items[i + 1])
    m.push(d)


def _global(m: Machine) -> None:
    module, name = _two_lines(m, "GLOBAL")
    m.push(m.global_ref(module, name))


_MODULE_STOP = re.compile(rb"[\n.\x00]")


def _two_lines(m: Machine, what: str) -> tuple[str, str]:
    """GLOBAL's and INST's module and name lines. At the end of a file, pickle.py's readline returns the
    rest without a newline and ``[:-1]`` cuts its last byte: the pure-Python unpickler then imports
    that module (name ``""``) before failing, so the reference is recorded before the error is."""
    # a NUL in the module's first component: the import fails whatever follows (no file or module
    # has such a name), so both unpicklers stop here having imported nothing (a safetensors header
    # length whose first byte is "c" reads as a GLOBAL whose module starts with zero bytes)
    stop = _MODULE_STOP.search(m.data, m.pos, m.pos + 4097)
    if stop is not None and stop.group() == b"\x00":
        # recorded (a reader that only records names, as the differential tests' does, sees one), but
        # as a module no import finds: a lenient read stops at it (pickle_scan._reachable)
        m.global_ref(m.data[m.pos:stop.start()].decode("utf-8", "replace") + "\x00", "")
        m._fail(f"{what} at offset {m.op_at} names a module with a NUL byte, which no import finds")
    module = None
    try:
        module = m.text(f"{what} module", 4096)
        return module, m.text(f"{what} name", 4096)
    except PickleTruncated:
        rest = m.data[m.pos:-1]
        try:
            text = rest.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if module is None and text:
            m.global_ref(text, "")
        elif module:
            m.global_ref(module, text)
        raise


def _stack_global(m: Machine) -> None:
    name = m._pop()
    module = m._pop()
    modules, names = _as_text(module), _as_text(name)
    if not modules or not names:
        m._fail(f"STACK_GLOBAL at offset {m.op_at} needs two strings",
                f"{_kind(module)} and {_kind(name)}")
    # every decoding a loader's encoding could give is a global that loader would import
    found = [m.global_ref(mod, n) for mod in modules for n in names]
    m.push(found[0])


def _as_text(value: Any) -> tuple[str, ...]:
    if type(value) is str:
        return (value,)
    if isinstance(value, PyStr):
        return value.decodings()
    return ()


def _inst(m: Machine) -> None:
    module, name = _two_lines(m, "INST")
    cls = m.global_ref(module, name)
    m.push(m.call(cls, tuple(m.pop_mark()), "inst"))


def _obj(m: Machine) -> None:
    items = m.pop_mark()
    if not items:
        m._fail(f"OBJ at offset {m.op_at} has no class")
    m.push(m.call(items[0], tuple(items[1:]), "obj"))


def _newobj(m: Machine) -> None:
    args = m._pop()
    cls = m._pop()
    m.push(m.call(cls, args, "newobj"))


def _newobj_ex(m: Machine) -> None:
    kwargs = m._pop()
    args = m._pop()
    cls = m._pop()
    m.push(m.call(cls, (args, kwargs), "newobj_ex"))


def _get(m: Machine) -> None:
    m.memo_get(_decimal(m, "GET argument"))


def _put(m: Machine) -> None:
    m.memo_put(_decimal(m, "PUT argument"))


def _decimal(m: Machine, what: str) -> int:
    raw = m.line(what, m.limits.max_long_bytes * 3, NUMBER_CHARS)
    # pickle.py load_get / load_put: int(line[:-1]); _pickle: PyLong_FromString(s, NULL, 10) (C string)
    value = _python_int(raw, 10)
    if value is None:
        value = _python_int(_c_string(raw), 10)
    if value is None:
        m._fail(f"{what} at offset {m.op_at} is not an integer", repr(raw[:40]))
    return value


def _proto(m: Machine) -> None:
    m.protocol = m.take(1, "PROTO argument")[0]
    if m.protocol > HIGHEST_PROTOCOL:
        m._fail("unsupported pickle protocol", m.protocol, f"at most {HIGHEST_PROTOCOL}")


def _ext(width: int):
    def op(m: Machine) -> None:
        code = int.from_bytes(m.take(width, "EXT argument"), "little", signed=width == 4)
        if code <= 0:  # pickle.py get_extension
            m._fail(f"extension code {code} at offset {m.op_at} is not positive")
        # the global is whatever the loading process registered under this code (copyreg.add_extension):
        # unknown to the file, so it is a reference of its own that no allow list holds
        m.push(m.global_ref("copyreg", f"{EXTENSION_NAME}{code}]"))
    return op


EXTENSION_NAME = "_inverted_registry["  # copyreg.EXTENSION_NAME…CODE]: an EXT opcode's global


def is_extension(use: GlobalUse) -> bool:
    return use.module == "copyreg" and use.name.startswith(EXTENSION_NAME)


# the one FRAME disagreement that hides no reading: _pickle stops at such a FRAME, pickle.py reads the
# rest of the file as the frame (the machine reads on as it does), and no load starts after it
FRAME_TOO_LONG = "is longer than the rest of the data"


def _frame(m: Machine) -> None:
    n = m.unpack(_U64, "FRAME argument")
    if m.frame_end is not None and m.frame_end > m.op_at:
        m.anomalies.append(f"FRAME at offset {m.op_at} starts before the FRAME ending at {m.frame_end} "
                           "ends")
    if n > len(m.data) - m.pos:
        # _pickle refuses it; pickle.py's _Unframer reads on from the short frame
        m.anomalies.append(f"FRAME at offset {m.op_at} {FRAME_TOO_LONG} ({n} bytes, "
                           f"{len(m.data) - m.pos} left)")
    m.frame_end = m.pos + n if n else None


def _next_buffer(m: Machine) -> None:
    m._fail(f"NEXT_BUFFER at offset {m.op_at} needs out-of-band buffers, which a file cannot carry")


def _pop_op(m: Machine) -> None:
    if m.stack:
        m.stack.pop()
    else:  # pickle.py load_pop: an empty stack pops the mark
        m.pop_mark()


def _pop_mark_op(m: Machine) -> None:
    m.pop_mark()


def _stop(m: Machine) -> None:
    raise AssertionError("STOP is handled by the driver")


def _kind(value: Any) -> str:
    return type(value).__name__


def _tuple_n(n: int):
    def op(m: Machine) -> None:
        stack = m.stack
        if len(stack) < n:
            m._fail(f"TUPLE{n} at offset {m.op_at} needs {n} items", len(stack))
        items = tuple(stack[-n:])
        del stack[-n:]
        stack.append(items)
    return op


def _tuple1(m: Machine) -> None:
    stack = m.stack
    if not stack:
        m._fail(f"TUPLE1 at offset {m.op_at} needs 1 items", 0)
    stack[-1] = (stack[-1],)


def _additems(m: Machine) -> None:
    items = m.pop_mark()
    target = m.top()
    if not items:  # _pickle: "nothing to do", whatever the target
        return
    if isinstance(target, Call):
        target.items.extend(items)  # pickle.py calls target.add: a call we record
        return
    if not isinstance(target, PSet):
        m._fail(f"ADDITEMS at offset {m.op_at} onto a {_kind(target)}")
    target.items.extend(items)


OPCODES: dict[int, Callable[[Machine], None]] = {
    ord("("): Machine.mark,
    ord("."): _stop,
    ord("0"): _pop_op,
    ord("1"): _pop_mark_op,
    ord("2"): lambda m: m.stack.append(m.top()),
    ord("F"): _float,
    ord("I"): _int,
    ord("J"): lambda m: m.stack.append(m.unpack(_I32, "BININT argument")),
    ord("K"): lambda m: m.stack.append(m.byte("BININT1 argument")),
    ord("L"): _long,
    ord("M"): lambda m: m.stack.append(m.unpack(_U16, "BININT2 argument")),
    ord("N"): lambda m: m.stack.append(None),
    ord("P"): _persid,
    ord("Q"): _binpersid,
    ord("R"): _reduce,
    ord("S"): _string,
    ord("T"): _binstring,
    ord("U"): _sized(None, "SHORT_BINSTRING", _as_pystr),
    ord("V"): _unicode,
    ord("X"): _sized(_U32, "BINUNICODE", _as_str),
    ord("a"): _append,
    ord("b"): _build,
    ord("c"): _global,
    ord("d"): _dict,
    ord("}"): lambda m: m.stack.append(PDict()),
    ord("e"): _appends,
    ord("g"): _get,
    ord("h"): lambda m: m.memo_get(m.byte("BINGET argument")),
    ord("i"): _inst,
    ord("j"): lambda m: m.memo_get(m.unpack(_U32, "LONG_BINGET argument")),
    ord("l"): lambda m: m.push(m.pop_mark()),  # push after pop_mark, which swaps the stack
    ord("]"): lambda m: m.stack.append([]),
    ord("o"): _obj,
    ord("p"): _put,
    ord("q"): lambda m: m.memo_put(m.byte("BINPUT argument")),
    ord("r"): lambda m: m.memo_put(m.unpack(_U32, "LONG_BINPUT argument")),
    ord("s"): _setitem,
    ord("t"): lambda m: m.push(tuple(m.pop_mark())),
    ord(")"): lambda m: m.stack.append(()),
    ord("u"): _setitems,
    ord("G"): lambda m: m.stack.append(m.unpack(_F64, "BINFLOAT argument")),
    # protocol 2
    0x80: _proto,
    0x81: _newobj,
    0x82: _ext(1),
    0x83: _ext(2),
    0x84: _ext(4),
    0x85: _tuple1,
    0x86: _tuple_n(2),
    0x87: _tuple_n(3),
    0x88: lambda m: m.stack.append(True),
    0x89: lambda m: m.stack.append(False),
    0x8A: lambda m: m.stack.append(m.long(m.take(m.byte("LONG1 length"), "LONG1 argument"))),
    0x8B: lambda m: m.stack.append(m.long(m.take(m.unpack(_I32, "LONG4 length"), "LONG4 argument"))),
    # protocol 3
    ord("B"): _sized(_U32, "BINBYTES", _as_bytes),
    ord("C"): _sized(None, "SHORT_BINBYTES", _as_bytes),
    # protocol 4
    0x8C: _sized(None, "SHORT_BINUNICODE", _as_str),
    0x8D: _sized(_U64, "BINUNICODE8", _as_str),
    0x8E: _sized(_U64, "BINBYTES8", _as_bytes),
    0x8F: lambda m: m.stack.append(PSet()),
    0x90: _additems,
    0x91: lambda m: m.push(PSet(m.pop_mark(), frozen=True)),
    0x92: _newobj_ex,
    0x93: _stack_global,
    0x94: lambda m: m.memo_put(len(m.memo)),
    0x95: _frame,
    # protocol 5
    0x96: _sized(_U64, "BYTEARRAY8", _as_bytes),
    0x97: _next_buffer,
    0x98: lambda m: None,  # READONLY_BUFFER: the top item stays what it is
}


# --- calls every pickle may make that only build plain data --------------------------------------

def _ordered_dict(kind: str) -> CallHandler:
    """``OrderedDict()`` / ``OrderedDict([(k, v), …])`` as pickled by ``OrderedDict.__reduce__``."""
    def build(args: Any) -> PDict:
        if not isinstance(args, tuple) or len(args) > 1:
            raise NotHandled
        d = PDict(kind)
        if args and not isinstance(args[0], list | tuple):
            raise NotHandled
        for pair in (args[0] if args else ()):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise NotHandled
            d.set(pair[0], pair[1])
        return d
    return build


def _codecs_encode(args: Any) -> bytes:
    """Protocol 2 writes bytes as ``_codecs.encode(text, "latin1")`` (pickle.py save_bytes)."""
    if (not isinstance(args, tuple) or len(args) != 2 or not isinstance(args[0], str)
            or args[1] not in ("latin1", "latin-1")):
        raise NotHandled
    try:
        return args[0].encode("latin-1")
    except UnicodeEncodeError:
        raise NotHandled from None


def _set(frozen: bool) -> CallHandler:
    def build(args: Any) -> PSet:
        if not isinstance(args, tuple) or len(args) > 1 or (args and not isinstance(args[0], list)):
            raise NotHandled
        return PSet(list(args[0]) if args else [], frozen)
    return build


def _bytes(args: Any) -> bytes:
    """Protocols 0-2 write ``b""`` as ``bytes()`` (pickle.py save_bytes)."""
    if args == ():
        return b""
    raise NotHandled


def _bytearray(args: Any) -> bytes:
    if isinstance(args, tuple) and len(args) <= 1 and all(isinstance(a, bytes) for a in args):
        return args[0] if args else b""
    raise NotHandled


BUILTIN_CALLS: dict[tuple[str, str], CallHandler] = {
    ("collections", "OrderedDict"): _ordered_dict("OrderedDict"),
    ("collections", "Counter"): _ordered_dict("Counter"),
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "set"): _set(False),
    ("builtins", "frozenset"): _set(True),
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "bytes"): _bytes,
}


def run(data: bytes, file: str, start: int = 0, *, limits: Limits = Limits(),
        calls: Mapping[tuple[str, str], CallHandler] | None = None,
        persistent_load: Callable[[Any], Any] | None = None, memo: dict[int, Any] | None = None,
        after_build: Callable[[Machine, Any], None] | None = None) -> Result:
    """Interpret one pickle starting at ``start`` in ``data``; see the module docstring. ``memo`` carries
    the memo of an earlier pickle of the same stream (one Unpickler's ``load()`` called again)."""
    return Machine(data, file, start, limits=limits, calls=calls, persistent_load=persistent_load,
                   memo=memo, after_build=after_build).run()
