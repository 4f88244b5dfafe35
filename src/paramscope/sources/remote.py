"""Files on a server, read as byte ranges: headers only, never the weights.

``RangeFile`` is the remote twin of ``local.LocalFile``: the same ``read(offset, n, what)``, served by
HTTP range requests (RFC 9110 §14). Every request is checked before its body is read: the answer must
be ``206 Partial Content`` with a ``Content-Range`` naming exactly the bytes asked for and the file's
known size; a server that ignores ``Range`` answers ``200`` with the whole file, and that is refused
rather than downloading gigabytes. At most the requested length is read from any body.

Bytes already fetched are kept (a header is read once even when a reader's window moves back over
it), and each read fetches at least ``readahead`` bytes, so a reader's many small reads become a few
requests. A ``Meter`` counts the bytes and requests of one source (``--json``'s ``bytes_fetched``).

Remote sources are named ``hf:ORG/NAME[@REVISION][/FILE]`` and ``ollama:NAME[:TAG]`` (``parse``).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from paramscope.errors import RemoteError, TruncatedError
from paramscope.records import record
from paramscope.sources import looks_remote  # noqa: F401  (re-exported: callers name it here)

READAHEAD = 100_000  # least bytes per request: huggingface_hub's first safetensors read (hf_api.py)
MAX_REQUEST_BYTES = 256 << 20  # one request never asks for more (a forged length cannot pull a file)
MAX_FILE_BYTES = 512 << 20  # all requests to one file together: far beyond any real header
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)

HF, OLLAMA = "hf", "ollama"
# Hugging Face repo ids (huggingface_hub validate_repo_id): ORG/NAME, letters, digits, "-", "_", ".";
# a revision is a branch, tag or commit (refs/pr/N for pull requests); a file is a path in the repo.
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_REPO = rf"{_PART}/{_PART}"
_HF = re.compile(rf"^hf:(?P<repo>{_REPO})(?:@(?P<rev>refs/pr/\d+|[A-Za-z0-9._-]{{1,255}}))?"
                 rf"(?:/(?P<file>[^\0\\]+))?$")
_BARE = re.compile(rf"^(?P<repo>{_REPO})$")
# Ollama names (ollama types/model/name.go): [NAMESPACE/]MODEL[:TAG], lower-case letters, digits, "._-".
_OLLAMA = re.compile(r"^ollama:(?:(?P<ns>[a-z0-9][a-z0-9._-]{0,79})/)?(?P<model>[a-z0-9][a-z0-9._-]{0,79})"
                     r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,79}))?$")


@record
class RemoteRef:
    """A remote source as named: ``hf:ORG/NAME@REV/FILE`` or ``ollama:NS/MODEL:TAG``."""

    scheme: str  # HF or OLLAMA
    repo: str  # ORG/NAME (hf), NAMESPACE/MODEL (ollama)
    revision: str | None = None  # hf: branch, tag or commit; ollama: tag
    file: str | None = None  # hf: one file in the repository
    text: str = ""  # as the user wrote it

    @property
    def name(self) -> str:
        """The repository or model, without the file: hf:ORG/NAME[@REV], ollama:NS/MODEL:TAG."""
        if self.scheme == OLLAMA:
            return f"ollama:{self.repo}:{self.revision}"
        return f"hf:{self.repo}" + (f"@{self.revision}" if self.revision else "")


def parse(text: str, *, bare: bool = False) -> RemoteRef | None:
    """The remote source ``text`` names, or None when it names none. With ``bare``, ``ORG/NAME`` alone
    is a Hugging Face repository too (the caller has checked that no such local path exists)."""
    m = _HF.match(text)
    if m:
        file = m["file"]
        if file is not None and any(p in ("", ".", "..") for p in file.split("/")):
            return None
        return RemoteRef(HF, m["repo"], m["rev"], file, text)
    m = _OLLAMA.match(text)
    if m:
        return RemoteRef(OLLAMA, f"{m['ns'] or 'library'}/{m['model']}", m["tag"] or "latest", None, text)
    if bare:
        m = _BARE.match(text)
        if m and ".." not in text:
            return RemoteRef(HF, m["repo"], None, None, text)
    return None


class Meter:
    """Bytes and requests of one remote source, shared by its files (and their threads)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n
            self.requests += 1


class Response(Protocol):
    status: int
    url: str  # where the answer came from, after redirects

    def header(self, name: str) -> str | None: ...

    def read(self, n: int) -> bytes:
        """At most ``n`` bytes of the body (fewer only at its end)."""
        ...


class Transport(Protocol):
    """How requests are sent: huggingface_hub's session for the Hub, the standard library elsewhere."""

    def get(self, url: str, headers: dict[str, str]) -> AbstractContextManager[Response]: ...

    def failure(self, name: str, status: int, response: Response) -> Exception:
        """The error for an answer that is neither 206 nor 200."""
        ...


class RangeFile:
    """One remote file of known ``size``, read by range requests and cached by ranges."""

    def __init__(self, name: str, url: str, size: int, transport: Transport, meter: Meter | None = None,
                 readahead: int = READAHEAD):
        self.name, self.url, self.size = name, url, size
        self.transport, self.meter = transport, meter or Meter()
        self.readahead = readahead
        self.refill = readahead  # what a header walk should ask for when it runs out (gguf_metadata)
        self.costly = True  # every byte read crosses the network: readers should not read far ahead
        self.fetched = 0
        self._starts: list[int] = []  # cached segments, sorted and disjoint: start → bytes
        self._data: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def read(self, offset: int, n: int, what: str = "data") -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise TruncatedError(self.name, f"file ends inside {what}", f"{self.size} bytes",
                                 f"at least {offset + n}")
        with self._lock:
            return b"".join(self._pieces(offset, offset + n))

    def head(self, n: int = 64) -> bytes:
        return self.read(0, min(n, self.size), "the first bytes")

    def close(self) -> None:
        with self._lock:
            self._starts.clear()
            self._data.clear()

    def __enter__(self) -> RangeFile:
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # the cache outlives a reader's with-block: the folder hands the same file out again

    def _pieces(self, pos: int, end: int) -> Iterator[bytes]:
        while pos < end:
            i = bisect.bisect_right(self._starts, pos) - 1
            if i >= 0:
                start = self._starts[i]
                seg = self._data[start]
                if pos < start + len(seg):
                    take = min(end, start + len(seg))
                    yield seg[pos - start:take - start]
                    pos = take
                    continue
            nxt = self._starts[i + 1] if i + 1 < len(self._starts) else self.size
            stop = min(max(end, pos + self.readahead), nxt, self.size)
            stop = min(stop, pos + MAX_REQUEST_BYTES)  # a longer read takes several requests
            self._store(pos, self._fetch(pos, stop))

    def _store(self, start: int, data: bytes) -> None:
        bisect.insort(self._starts, start)
        self._data[start] = data

    def _fetch(self, start: int, stop: int) -> bytes:
        """Bytes ``start .. stop`` in one request, checked before the body is read."""
        n = stop - start
        if self.fetched + n > MAX_FILE_BYTES:
            raise RemoteError(f"{self.name}: reading the header would fetch more than "
                              f"{MAX_FILE_BYTES >> 20} MiB; refused (a header that large is not plausible)")
        headers = {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
        with self.transport.get(self.url, headers) as r:
            if r.status == 200:
                raise RemoteError(f"{self.name}: the server ignored the byte-range request (answered "
                                  f"200 with the whole {self.size}-byte file); refused rather than "
                                  "downloading it")
            if r.status != 206:
                raise self.transport.failure(self.name, r.status, r)
            self._check_range(r.header("Content-Range"), start, stop)
            data = r.read(n)
            self.url = r.url or self.url  # the next range goes straight to where the redirects led
        if len(data) != n:
            raise RemoteError(f"{self.name}: the server sent {len(data)} bytes for a {n}-byte range")
        self.fetched += n
        self.meter.add(n)
        return data

    def _check_range(self, value: str | None, start: int, stop: int) -> None:
        m = _CONTENT_RANGE.match(value or "")
        if m is None:
            raise RemoteError(f"{self.name}: answer to a range request has no valid Content-Range "
                              f"(found {value!r})")
        first, last, total = int(m[1]), int(m[2]), m[3]
        if (first, last) != (start, stop - 1):
            raise RemoteError(f"{self.name}: the server answered bytes {first}-{last} when asked for "
                              f"{start}-{stop - 1}")
        if total != "*" and int(total) != self.size:
            raise RemoteError(f"{self.name}: the file changed on the server (size {total}, listed as "
                              f"{self.size})")


# --- the standard library's HTTP, for servers other than the Hub -----------------------------------

class _UrllibResponse:
    def __init__(self, raw) -> None:
        self._raw = raw
        self.status = raw.status if hasattr(raw, "status") else raw.code
        self.url = raw.geturl() if hasattr(raw, "geturl") else ""

    def header(self, name: str) -> str | None:
        return self._raw.headers.get(name)

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self._raw.read(n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)


class UrllibTransport:
    """Plain HTTP(S) through ``urllib`` (redirects followed, Range kept across them)."""

    def __init__(self, describe: Callable[[str, int], str] | None = None, timeout: float = 30):
        self.timeout = timeout
        self._describe = describe

    def get(self, url: str, headers: dict[str, str]) -> AbstractContextManager[Response]:
        import contextlib
        import urllib.error
        import urllib.request

        @contextlib.contextmanager
        def opened() -> Iterator[Response]:
            req = urllib.request.Request(url, headers={"User-Agent": "paramscope", **headers})
            try:
                raw = urllib.request.urlopen(req, timeout=self.timeout)  # http(s): ollama.registry()
            except urllib.error.HTTPError as e:
                raw = e
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise RemoteError(f"{url}: cannot reach the server ({reason}); check the network") from None
            with raw:
                yield _UrllibResponse(raw)

        return opened()

    def failure(self, name: str, status: int, response: Response) -> Exception:
        detail = self._describe(name, status) if self._describe else f"{name}: HTTP {status}"
        return RemoteError(detail)
