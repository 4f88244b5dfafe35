"""Pickle opcodes written by hand, for the red-team techniques (tests/test_scan_redteam.py and
builders/scan_corpus.py): each payload is spelled out opcode by opcode, so a technique states exactly
what the loader executes, and a marker file proves it ran."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path


def su(text: str) -> bytes:
    """BINUNICODE."""
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def sb(raw: bytes) -> bytes:
    """BINBYTES."""
    return b"B" + struct.pack("<I", len(raw)) + raw


def glob(module: str, name: str) -> bytes:
    """STACK_GLOBAL (protocol 4)."""
    return su(module) + su(name) + b"\x93"


def call(func: bytes, *args: bytes) -> bytes:
    """func(*args): MARK args TUPLE REDUCE."""
    return func + b"(" + b"".join(args) + b"tR"


def p4(body: bytes) -> bytes:
    return b"\x80\x04" + body + b"."


def cmd(marker: Path) -> str:
    return f"touch {marker}"


def code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def system_p0(marker: Path) -> bytes:
    """Protocol 0 (no PROTO opcode, text only): ``posix.system("touch MARKER")``."""
    return b"cposix\nsystem\n(V" + cmd(marker).encode() + b"\ntR."


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of ``members`` as zipfile writes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()
