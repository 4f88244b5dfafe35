"""Readers, one per format, each a row of ``registry.FORMATS``.

Each reader module exposes ``NAME``, ``sniff(head, path) -> bool`` (is this file mine? decided from the
first bytes and the name only) and ``read(path) -> Model``; those that read remote files too have
``read_from(folder, name)`` (``sources.folder``). ``open_model`` resolves a source string: ``hf:`` and
``ollama:`` go to ``formats.remote``, a directory to the Hugging Face directory reader, a file to the
first reader that sniffs it (in the table's order), anything else to the catalogue of well-known
configs, and a bare ``ORG/NAME`` left over to the Hugging Face Hub.
"""

from __future__ import annotations

import errno
import os
from types import ModuleType
from typing import TYPE_CHECKING

from paramscope.errors import SourceError, UnknownFormatError

if TYPE_CHECKING:  # annotations only: the scan path never builds a Model (and skips its import)
    from pathlib import Path

    from paramscope.model import Model

SNIFF_BYTES = 64


def reader(name: str) -> ModuleType:
    """The reader module of a format, by the format's name (``registry.FORMATS``); imported on first use,
    so that a command pays only for the reader it needs."""
    from paramscope.formats.registry import reader as _reader

    return _reader(name)


def open_model(source: str | os.PathLike[str]) -> Model:
    """Open a file, a model directory, a config.json, a catalogue name, ``hf:ORG/NAME[@REV][/FILE]``
    or ``ollama:NAME[:TAG]`` as a neutral ``Model``. A bare ``ORG/NAME`` that is neither a local path
    nor a catalogue name is a Hugging Face repository."""
    from paramscope.sources import looks_remote

    text = os.fspath(source)
    if looks_remote(text):
        from paramscope.sources.remote import parse

        ref = parse(text)
        if ref is None:
            raise SourceError(f"{text}: not a remote source paramscope reads; write "
                              "hf:ORG/NAME[@REVISION][/FILE] or ollama:[NAMESPACE/]NAME[:TAG]")
        return _open_remote(ref)
    if not _absent_name(text):
        from pathlib import Path  # here, not at the top: a catalogue name never needs it (see _absent_name)

        path = Path(text).expanduser()
        if path.is_dir():
            return reader("hf-dir").read(path)
        if path.exists() or path.is_symlink():
            return open_file(path)
    from paramscope.knowledge import catalogue

    if catalogue.has(text):
        return catalogue.open_entry(text)
    from paramscope.sources.remote import parse

    ref = parse(text, bare=True)
    if ref is not None:
        return _open_remote(ref)
    raise SourceError(f"{text}: no such file or directory, and not a catalogue name "
                      "(see `paramscope catalogue`)")


# what pathlib's is_dir, exists and is_symlink read as "not there" rather than raise (pathlib._IGNORED_ERRNOS)
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def _absent_name(text: str) -> bool:
    """Whether ``text`` is a bare name (no separator, no ``~``: a Path of it is the text itself) that names
    nothing in this directory, as the Path checks of ``open_model`` would find. Catalogue names are such
    names; answering with os.lstat spares `size` and `fit` importing pathlib, which imports urllib.parse
    and ipaddress (~4 ms of a ~100 ms start)."""
    if text in ("", ".", "..") or text.startswith("~") or os.sep in text or (os.altsep or os.sep) in text:
        return False
    try:
        os.lstat(text)
    except OSError as e:
        return e.errno in _NOT_THERE  # any other error: the Path checks raise it, as they always have
    except ValueError:  # a NUL in the name: left to the Path checks too
        return False
    return False


def _open_remote(ref) -> Model:
    from paramscope.formats.remote import open_remote

    return open_remote(ref)


def open_file(path: Path) -> Model:
    from paramscope.sources.local import LocalFile

    with LocalFile(path) as f:
        head = f.head(SNIFF_BYTES)
    from paramscope.formats.registry import FILE_FORMATS

    for fmt in FILE_FORMATS:
        if not fmt.may_be(head):
            continue
        mod = fmt.reader()
        if mod.sniff(head, path):
            return mod.read(path)
    raise UnknownFormatError(f"{path}: not a format paramscope reads (first bytes {head[:8]!r}; "
                             f"expected {', '.join(f.description.split(' (')[0] for f in FILE_FORMATS)})")
