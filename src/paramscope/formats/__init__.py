"""Readers, one per format, registered in one table.

Each reader module exposes ``NAME``, ``sniff(head, path) -> bool`` (is this file mine? decided from the
first bytes and the name only) and ``read(path) -> Model``. ``open_model`` resolves a source string:
a directory goes to the Hugging Face directory reader, a file to the first reader that sniffs it, and
anything else is looked up in the catalogue of well-known configs.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from paramscope.errors import SourceError, UnknownFormatError
from paramscope.model import Model

# Module names, imported on first use so that a command pays only for the reader it needs.
# PyTorch and ONNX recognise files by suffix, so the readers that check magic bytes come first.
FILE_READERS: tuple[str, ...] = ("gguf", "safetensors", "config_json", "pytorch", "onnx_reader")
SNIFF_BYTES = 64


def reader(name: str) -> ModuleType:
    return importlib.import_module(f"paramscope.formats.{name}")


def open_model(source: str | os.PathLike[str]) -> Model:
    """Open a file, a model directory, a config.json or a catalogue name as a neutral ``Model``."""
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return reader("hf_dir").read(path)
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
    for name in FILE_READERS:
        mod = reader(name)
        if mod.sniff(head, path):
            return mod.read(path)
    raise UnknownFormatError(f"{path}: not a format paramscope reads (first bytes {head[:8]!r}; "
                             "expected GGUF, safetensors, PyTorch, ONNX or config.json)")
