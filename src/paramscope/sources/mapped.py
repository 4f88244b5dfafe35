"""Tensor bytes straight from a read-only memory map, in chunks of whole blocks, with bounded RSS.

A scan over a 100 GB model touches every page once. The pages belong to the page cache, but while they
stay mapped they count in our RSS; so each chunk's pages are handed back with ``madvise(MADV_DONTNEED)``
once it has been read (the page cache keeps them: a second scan is still warm). Nothing is copied:
a chunk is a ``uint8`` numpy view of the mapping.

Every range is checked against the file's real length before it is mapped (a header may lie), with
Python integers, so no offset arithmetic can overflow.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from paramscope.errors import OffsetError, SourceError

PAGE = mmap.PAGESIZE
CHUNK_BYTES = 16 * 2**20  # big enough to amortise per-chunk overhead, small enough to stay in L3-ish sizes
# Linux ≥ 5.14: fill the page tables of a range in one call instead of one fault per 64 KB; older
# kernels answer EINVAL and the pages fault in as they are read.
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)


class Blocked(Protocol):
    @property
    def type_size(self) -> int: ...  # bytes per block of the stored type


class Tensor(Protocol):
    """Where a tensor's bytes lie (``model.Tensor`` is one): sources know bytes, not models."""

    @property
    def name(self) -> str: ...
    @property
    def file(self) -> str | None: ...
    @property
    def offset(self) -> int | None: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def dtype(self) -> Blocked: ...


class MappedFile:
    """One regular file mapped read-only."""

    def __init__(self, path: str | os.PathLike[str]):
        self.name = str(path)
        try:
            fd = os.open(Path(path), os.O_RDONLY)
        except OSError as e:
            raise SourceError(f"{self.name}: cannot open ({e.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SourceError(f"{self.name}: not a regular file (only regular files are read)")
            self.size = st.st_size
            # an empty file cannot be mapped; it holds no tensor bytes either
            self._map = mmap.mmap(fd, self.size, access=mmap.ACCESS_READ) if self.size else None
        finally:
            os.close(fd)
        self._populate = True

    def check(self, offset: int, nbytes: int, what: str) -> None:
        if offset < 0 or nbytes < 0 or offset + nbytes > self.size:
            raise OffsetError(self.name, f"{what} lies outside the file",
                              f"bytes {offset}..{offset + nbytes}", f"within {self.size}")

    def view(self, offset: int, nbytes: int, what: str = "tensor data") -> np.ndarray:
        """``nbytes`` at ``offset`` as a read-only uint8 view of the mapping (no copy)."""
        self.check(offset, nbytes, what)
        if nbytes == 0 or self._map is None:
            return np.zeros(0, np.uint8)
        self._advise(MADV_POPULATE_READ, offset, nbytes, whole_pages=False)
        return np.frombuffer(self._map, np.uint8, nbytes, offset)

    def release(self, offset: int, nbytes: int) -> None:
        """Drop the pages wholly inside the range from our mapping (the page cache keeps them)."""
        self._advise(mmap.MADV_DONTNEED, offset, nbytes, whole_pages=True)

    def _advise(self, advice: int, offset: int, nbytes: int, *, whole_pages: bool) -> None:
        if self._map is None or nbytes <= 0:
            return
        if whole_pages:
            # pages shared with a neighbouring chunk (that another thread may be reading) stay mapped
            start, end = -(-offset // PAGE) * PAGE, (offset + nbytes) // PAGE * PAGE
        else:
            start, end = offset // PAGE * PAGE, offset + nbytes
        if end <= start:
            return
        if advice == MADV_POPULATE_READ and not self._populate:
            return
        try:
            self._map.madvise(advice, start, min(end, self.size) - start)
        except OSError:
            if advice == MADV_POPULATE_READ:  # kernel too old: fall back to ordinary faults
                self._populate = False

    def close(self) -> None:
        if self._map is None:
            return
        # a caller may still hold a view (BufferError): the mapping then goes away with the last one
        with contextlib.suppress(BufferError):
            self._map.close()
        self._map = None


class MappedFiles:
    """The files of a model, each mapped once on first use; safe to share between threads."""

    def __init__(self) -> None:
        self._files: dict[str, MappedFile] = {}
        self._lock = threading.Lock()

    def file(self, path: str) -> MappedFile:
        from paramscope.sources import looks_remote

        if looks_remote(path):  # hf:… and ollama:… models are read as headers only
            raise SourceError(f"{path}: tensor values are not downloaded (a remote model is read as headers "
                              "only); download the model and give its path to read its values")
        with self._lock:
            f = self._files.get(path)
            if f is None:
                f = self._files[path] = MappedFile(path)
            return f

    def view(self, tensor: Tensor, start: int = 0, nbytes: int | None = None) -> np.ndarray:
        """Bytes ``start .. start + nbytes`` of a tensor's data (all of it by default)."""
        f, offset = self._locate(tensor)
        n = tensor.nbytes - start if nbytes is None else nbytes
        if start < 0 or n < 0 or start + n > tensor.nbytes:
            raise OffsetError(f.name, f"{tensor.name}: range outside the tensor",
                              f"bytes {start}..{start + n}", f"within {tensor.nbytes}")
        return f.view(offset + start, n, f"data of {tensor.name}")

    def release(self, tensor: Tensor, start: int = 0, nbytes: int | None = None) -> None:
        f, offset = self._locate(tensor)
        f.release(offset + start, tensor.nbytes - start if nbytes is None else nbytes)

    def chunks(self, tensor: Tensor, chunk_bytes: int = CHUNK_BYTES,
               align: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(byte offset in the tensor, view) for each chunk; pages are released once passed.

        Chunks hold whole units of ``align`` bytes (by default one block of the tensor's type), so every
        chunk decodes on its own. Drop each view before asking for the next.
        """
        for start, n in chunk_ranges(tensor.nbytes, align or tensor.dtype.type_size, chunk_bytes):
            yield start, self.view(tensor, start, n)
            self.release(tensor, start, n)

    def _locate(self, tensor: Tensor) -> tuple[MappedFile, int]:
        if tensor.file is None or tensor.offset is None:
            raise SourceError(f"{tensor.name}: no data (the model was described without its weights)")
        f = self.file(tensor.file)
        f.check(tensor.offset, tensor.nbytes, f"data of {tensor.name}")
        return f, tensor.offset

    def close(self) -> None:
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()

    def __enter__(self) -> MappedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunk_ranges(nbytes: int, align: int, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """Split ``nbytes`` into (start, length) pieces of about ``chunk_bytes``, each a multiple of ``align``
    (a block, or a row of blocks); at least one unit per piece, the last one taking the remainder."""
    if nbytes <= 0:
        return []
    align = max(1, align)
    step = max(align, chunk_bytes // align * align)
    return [(s, min(step, nbytes - s)) for s in range(0, nbytes, step)]
