"""Which sources the web API may open: catalogue names, remote ids (``hf:ORG/NAME[@REV][/FILE]``,
``ollama:NAME[:TAG]``: read from the Hub or the registry, never from this machine's files), and paths
confined to the allowed roots.

A browser on this machine can be steered by any web page it visits (a cross-site request, a DNS-rebound
host name), so the server trusts nothing it is sent: a path must be absolute, free of ``..``, and
resolve (symlinks followed) to a regular file or a directory inside one of the roots; a directory's own
entries may not link out of the roots either, since the readers open them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from paramscope.records import record

MAX_SOURCE_CHARS = 4096  # PATH_MAX on Linux
MAX_URL_BYTES = 16 * 1024  # path + query string
MAX_BODY_BYTES = 1 << 20  # a POSTed text to tokenize
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class Refused(Exception):
    """A request the server will not serve; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 403, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after  # seconds, for a 503 / 429


@record
class Source:
    """What a request may open: a catalogue name or remote id as given, or a resolved path inside the
    roots."""

    text: str
    is_path: bool


def default_roots() -> list[Path]:
    """The folders `paramscope ls` looks in by default (HF cache, Ollama, LM Studio), and where
    `make demo` (tools/fetch_models.py) keeps the models it fetches."""
    from paramscope.formats.discover import default_places

    fetched = Path(os.environ.get("PARAMSCOPE_MODELS") or Path.home() / ".cache" / "paramscope" / "models")
    return [*(folder for _, folder in default_places(os.environ, Path.home())), fetched]


def resolve_roots(roots: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    """Each existing root as its real path, once; missing ones are dropped (nothing to serve there)."""
    out: list[Path] = []
    for r in roots:
        real = Path(os.path.realpath(Path(r).expanduser()))
        if real.is_dir() and real not in out:
            out.append(real)
    return tuple(out)


def confine(text: str, roots: tuple[Path, ...]) -> Source:
    """The source a request names, checked: a catalogue name, or a path inside ``roots``."""
    if not text or len(text) > MAX_SOURCE_CHARS or "\x00" in text:
        raise Refused("source: empty, too long or containing NUL", 400)
    from paramscope.sources.remote import looks_remote, parse

    if looks_remote(text):  # not a path: the readers fetch it from the Hub or the Ollama registry
        if parse(text) is None:
            raise Refused(f"{text}: not a valid hf:ORG/NAME[@REVISION][/FILE] or ollama:NAME[:TAG]", 400)
        return Source(text, is_path=False)
    path = Path(text)
    if ".." in path.parts:
        raise Refused(f"{text}: '..' is not allowed in paths")
    if not path.is_absolute():
        from paramscope.knowledge import catalogue

        if catalogue.has(text):
            return Source(text, is_path=False)
        raise Refused(f"{text}: neither a catalogue name nor an absolute path inside the allowed roots")
    real = Path(os.path.realpath(path))
    if not _inside(real, roots):
        raise Refused(f"{text}: outside the allowed roots")
    try:
        st = os.stat(real)
    except OSError:
        raise Refused(f"{text}: no such file or directory", 404) from None
    if stat.S_ISDIR(st.st_mode):
        _check_entries(real, roots, text)
    elif not stat.S_ISREG(st.st_mode):
        raise Refused(f"{text}: not a regular file")
    return Source(str(real), is_path=True)


def _inside(real: Path, roots: tuple[Path, ...]) -> bool:
    return any(real == r or real.is_relative_to(r) for r in roots)


def _check_entries(folder: Path, roots: tuple[Path, ...], text: str) -> None:
    """A model directory's files are opened by name; each must stay inside the roots."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        raise Refused(f"{text}: cannot list the directory") from None
    for e in entries:
        if e.is_symlink() and not _inside(Path(os.path.realpath(e.path)), roots):
            raise Refused(f"{text}: {e.name} links outside the allowed roots")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS
