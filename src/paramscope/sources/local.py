"""Local files: regular files only, every read bounded by the file's real size."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from paramscope.errors import SourceError, TruncatedError


class LocalFile:
    """A regular file opened for bounded reads (``pread``), so headers never pull in tensor data."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.name = str(path)
        try:
            st = os.stat(self.path)  # follows symlinks: what matters is what they point at
        except FileNotFoundError:
            raise SourceError(f"{self.name}: no such file") from None
        except OSError as e:
            raise SourceError(f"{self.name}: cannot open ({e.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise SourceError(f"{self.name}: {kind} (only regular files are read)")
        self.size = st.st_size
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as e:
            raise SourceError(f"{self.name}: cannot open ({e.strerror})") from None

    def read(self, offset: int, n: int, what: str = "data") -> bytes:
        """Exactly ``n`` bytes at ``offset``; a short file is a format error naming ``what``."""
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(self.name, f"file ends inside {what}",
                                 f"{self.size} bytes", f"at least {offset + n}")
        data = os.pread(self._fd, n, offset)
        if len(data) != n:  # the file shrank under us
            raise TruncatedError(self.name, f"file ends inside {what}", f"{len(data)} bytes", n)
        return data

    def read_into(self, offset: int, buf: memoryview, what: str = "data") -> None:
        """Fill ``buf`` from ``offset`` (a caller's reused buffer: no new allocation per read)."""
        n = len(buf)
        if offset < 0 or offset + n > self.size:
            raise TruncatedError(self.name, f"file ends inside {what}", f"{self.size} bytes",
                                 f"at least {offset + n}")
        got = os.preadv(self._fd, [buf], offset)
        if got != n:  # the file shrank under us
            raise TruncatedError(self.name, f"file ends inside {what}", f"{got} bytes", n)

    def head(self, n: int = 64) -> bytes:
        return os.pread(self._fd, min(n, self.size), 0)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_small_file(path: str | os.PathLike[str], max_bytes: int, what: str) -> bytes:
    """A whole small file (config.json, an index), refused when larger than any real one could be."""
    from paramscope.errors import HeaderError

    with LocalFile(path) as f:
        if f.size > max_bytes:
            raise HeaderError(f.name, f"{what} is implausibly large", f"{f.size} bytes",
                              f"at most {max_bytes}")
        return f.read(0, f.size, what)
