"""Readers, one per format, each a row of ``registry.FORMATS``.

Each reader module exposes ``NAME``, ``sniff(head, path) -> bool`` (is this file mine? decided from the
first bytes and the name only) and ``read(path) -> Model``. ``open_model`` resolves a source string:
a directory goes to the Hugging Face directory reader, a file to the first reader that sniffs it (in
the table's order), and anything else is looked up in the catalogue of well-known configs.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from paramscope.errors import SourceError, UnknownFormatError
from paramscope.model import Model

SNIFF_BYTES = 64


def reader(name: str) -> ModuleType:
    """The reader module of a format, by the format's name (``registry.FORMATS``); imported on first use,
    so that a command pays only for the reader it needs."""
    from paramscope.formats.registry import reader as _reader

    return _reader(name)


def open_model(source: str | os.PathLike[str]) -> Model:
    """Open a file, a model directory, a config.json or a catalogue name as a neutral ``Model``."""
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return reader("hf-dir").read(path)
    if path.exists() or path.is_symlink():
        return open_file(path)
    if text.startswith("hf:"):
        raise SourceError(f"{text}: reading from the Hugging Face Hub is not available in this version; "
                          "download the files and give their directory")
    from paramscope.knowledge import catalogue

    if catalogue.has(text):
        return catalogue.open_entry(text)
    raise SourceError(f"{text}: no such file or directory, and not a catalogue name "
                      "(see `paramscope catalogue`)")


def open_file(path: Path) -> Model:
    from paramscope.sources.local import LocalFile

    with LocalFile(path) as f:
        head = f.head(SNIFF_BYTES)
    from paramscope.formats.registry import FILE_FORMATS

    for fmt in FILE_FORMATS:
        mod = fmt.reader()
        if mod.sniff(head, path):
            return mod.read(path)
    raise UnknownFormatError(f"{path}: not a format paramscope reads (first bytes {head[:8]!r}; "
                             f"expected {', '.join(f.description.split(' (')[0] for f in FILE_FORMATS)})")
