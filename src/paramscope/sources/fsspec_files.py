"""Files on any fsspec file system (``s3://``, ``gs://``, ``memory://``, ``file://``), read by ranges.

``FsspecFile`` is a byte source and ``FsspecFolder`` a folder (``sources.folder``) over one directory of
such a file system, so the GGUF and safetensors readers read a bucket's files by range requests the way
they read a directory: headers only, never the tensor data. fsspec is an optional dependency (the
``zoo`` extra); nothing here imports it at module level.
"""

from __future__ import annotations

import fnmatch
import posixpath
from typing import Any

from paramscope.errors import SourceError, TruncatedError
from paramscope.sources.folder import plain_name


class FsspecFile:
    """One file of an fsspec file system, opened for bounded reads."""

    def __init__(self, fs: Any, path: str, url: str | None = None):
        self.fs, self.path = fs, path
        self.name = url or fs.unstrip_protocol(path)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise SourceError(f"{self.name}: no such file") from None
        except OSError as e:
            raise SourceError(f"{self.name}: cannot open ({e})") from None
        if info.get("type") != "file":
            raise SourceError(f"{self.name}: not a regular file (only regular files are read)")
        self.size = int(info.get("size") or 0)
        try:
            # no read-ahead cache: a tensor hashed in bounded chunks must not pull in more than asked
            self._f = fs.open(path, "rb", block_size=0, cache_type="none")
        except TypeError:  # file systems whose open takes no cache options (memory://)
            self._f = fs.open(path, "rb")
        except OSError as e:
            raise SourceError(f"{self.name}: cannot open ({e})") from None

    def read(self, offset: int, n: int, what: str = "data") -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(self.name, f"file ends inside {what}",
                                 f"{self.size} bytes", f"at least {offset + n}")
        self._f.seek(offset)
        data = self._f.read(n)
        if len(data) != n:
            raise TruncatedError(self.name, f"file ends inside {what}", f"{len(data)} bytes", n)
        return bytes(data)

    def head(self, n: int = 64) -> bytes:
        self._f.seek(0)
        return bytes(self._f.read(min(n, self.size)))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> FsspecFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FsspecFolder:
    """A directory of an fsspec file system, as a ``sources.folder.Folder``."""

    workers = 4  # a network file system: a few files are worth reading at once
    pick_hint = ""

    def __init__(self, fs: Any, path: str):
        self.fs, self.path = fs, path.rstrip("/")
        self.name = fs.unstrip_protocol(self.path)

    def _at(self, rel: str) -> str:
        return posixpath.join(self.path, rel) if rel else self.path

    def _is(self, rel: str, kind: str) -> bool:
        if not plain_name(rel):
            return False
        try:
            return bool(self.fs.info(self._at(rel)).get("type") == kind)
        except OSError:
            return False

    def has(self, rel: str) -> bool:
        return self._is(rel, "file")

    def has_dir(self, rel: str) -> bool:
        return self._is(rel, "directory")

    def names(self, pattern: str) -> list[str]:
        try:
            entries = self.fs.ls(self.path, detail=True)
        except OSError:
            return []
        out = (posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "file")
        return sorted(n for n in out if fnmatch.fnmatchcase(n, pattern))

    def open(self, rel: str) -> FsspecFile:
        return FsspecFile(self.fs, self._at(rel))

    def read_whole(self, rel: str, max_bytes: int, what: str) -> bytes:
        from paramscope.errors import HeaderError

        with self.open(rel) as f:
            if f.size > max_bytes:
                raise HeaderError(f.name, f"{what} is larger than any real one", f"{f.size} bytes",
                                  f"at most {max_bytes}")
            return f.read(0, f.size, what)

    def label(self, rel: str) -> str:
        return str(self.fs.unstrip_protocol(self._at(rel)))

    def sub(self, rel: str) -> FsspecFolder:
        return FsspecFolder(self.fs, self._at(rel))
