"""A model's files by name: a directory on disk, or a remote repository's listing.

The readers of multi-file models (a Hugging Face folder, sharded safetensors, split GGUF) ask a folder
which files exist and open them by a name relative to it, so one reader serves a directory and a
Hugging Face repository alike. Names use ``/`` whatever the platform; a name that climbs out of the
folder (``..``, an absolute path) is never opened.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, TypeVar

from paramscope.sources import ByteSource
from paramscope.sources.local import LocalFile, read_small_file

T = TypeVar("T")
R = TypeVar("R")


class Folder(Protocol):
    """The files of one model, by names relative to the folder."""

    name: str  # how messages name the folder: a path, or hf:ORG/NAME
    workers: int  # how many files are worth reading at once (1 on disk; many over a network)
    pick_hint: str  # appended to "several models here; name one" errors

    def has(self, rel: str) -> bool:
        """Whether ``rel`` is a file in the folder."""
        ...

    def has_dir(self, rel: str) -> bool: ...

    def names(self, pattern: str) -> list[str]:
        """Sorted names of the files directly in the folder matching a glob ``pattern`` (``*.gguf``)."""
        ...

    def open(self, rel: str) -> ByteSource: ...

    def read_whole(self, rel: str, max_bytes: int, what: str) -> bytes:
        """A whole small file (config.json, an index), refused beyond ``max_bytes``."""
        ...

    def label(self, rel: str) -> str:
        """How ``Model.files`` and messages name the file."""
        ...

    def sub(self, rel: str) -> Folder:
        """The folder ``rel`` inside this one (a sentence-transformers module)."""
        ...


def plain_name(rel: str) -> bool:
    """A name that stays inside its folder: no empty, ``.`` or ``..`` part, not absolute, no NUL."""
    if not rel or "\0" in rel or "\\" in rel or rel.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def map_files(folder: Folder, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``fn`` over ``items`` in order: one at a time on disk, in parallel threads over a network (each
    item waits on a round trip, so the wall time is about the slowest one, not the sum)."""
    items = list(items)
    if folder.workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(folder.workers, len(items))) as pool:
        return list(pool.map(fn, items))


class LocalFolder:
    """A directory on disk."""

    workers = 1
    pick_hint = ""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.name = str(self.path)

    def _at(self, rel: str) -> Path:
        return self.path / rel if rel else self.path

    def has(self, rel: str) -> bool:
        return plain_name(rel) and self._at(rel).is_file()

    def has_dir(self, rel: str) -> bool:
        return plain_name(rel) and self._at(rel).is_dir()

    def names(self, pattern: str) -> list[str]:
        try:
            entries = list(os.scandir(self.path))
        except OSError:
            return []
        return sorted(e.name for e in entries if fnmatch.fnmatchcase(e.name, pattern) and _is_file(e))

    def open(self, rel: str) -> LocalFile:
        return LocalFile(self._at(rel))

    def read_whole(self, rel: str, max_bytes: int, what: str) -> bytes:
        return read_small_file(self._at(rel), max_bytes, what)

    def label(self, rel: str) -> str:
        return str(self._at(rel))

    def sub(self, rel: str) -> LocalFolder:
        return LocalFolder(self._at(rel))


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()  # follows symlinks, as Path.is_file does
    except OSError:
        return False


def as_folder(folder: Folder | str | os.PathLike[str]) -> Folder:
    """A folder as it is, or a path as a ``LocalFolder`` (the readers' path API)."""
    return LocalFolder(folder) if isinstance(folder, str | os.PathLike) else folder
