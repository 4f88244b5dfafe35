"""Where bytes come from. Readers ask a source for byte ranges and never open paths themselves.

Two shapes serve every reader:

- a **byte source** (``ByteSource``): one file, read by bounded ranges. ``local.LocalFile`` reads a
  file on disk with ``pread``; ``remote.RangeFile`` reads a file on a server with HTTP range requests.
- a **folder** (``folder.Folder``): the files of a model, by name relative to it (``config.json``,
  ``model-00001-of-00004.safetensors``), each opened as a byte source or read whole.
  ``folder.LocalFolder`` is a directory; ``hub.HubFolder`` a Hugging Face repository's listing at one
  commit; ``ollama.OllamaFolder`` a model in the Ollama registry.

Sources know bytes and names only: never a format, never a model (tests/test_architecture.py).
"""

from __future__ import annotations

from typing import Protocol


class ByteSource(Protocol):
    """One file, read by ranges. Every read is bounded by ``size``; a short file is an error that
    names ``what`` was being read."""

    name: str  # how messages name the file: a path, or hf:ORG/NAME@COMMIT/FILE
    size: int

    def read(self, offset: int, n: int, what: str = "data") -> bytes: ...

    def head(self, n: int = 64) -> bytes: ...

    def close(self) -> None: ...


# How a remote source is written; here rather than in remote.py so that telling a path from a remote
# source costs no import (start-up: remote.py brings threading, bisect and its dataclasses).
REMOTE_PREFIXES = ("hf:", "ollama:")


def looks_remote(text: str) -> bool:
    """Whether ``text`` is written as a remote source (hf:…, ollama:…), valid or not."""
    return text.startswith(REMOTE_PREFIXES)
