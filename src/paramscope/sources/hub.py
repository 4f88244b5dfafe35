"""A Hugging Face Hub repository as a folder: its listing at one commit, headers read by range requests.

Everything goes through ``huggingface_hub`` (the optional ``hub`` extra), so its endpoint
(``HF_ENDPOINT``), token (``HF_TOKEN`` or ``hf auth login``), offline switch (``HF_HUB_OFFLINE``) and
cache (``HF_HOME``, ``HF_HUB_CACHE``) apply as they do to every Hugging Face tool; the installed
version reads them when it is first imported (``huggingface_hub/constants.py``).

- the listing: ``HfApi.model_info(repo, revision=…, files_metadata=True)`` (one request: every file
  with its size, and the commit the revision points at; everything after reads that commit);
- small files (config.json, an index, tokenizer.json) whole, through ``hf_hub_download`` and its cache;
- weights by ranges: ``hf_hub_url`` and huggingface_hub's own HTTP session with a ``Range`` header
  (``remote.RangeFile`` checks each answer). ``HfApi.get_safetensors_metadata`` does the same for
  safetensors (100 kB first read, a second one when the header is longer); we read through our own
  readers instead, so GGUF files and the checks of ``formats/safetensors.py`` come for free, and we
  refuse a server that ignores ``Range`` where ``get_safetensors_metadata`` would download the file.

Offline (``HF_HUB_OFFLINE=1``), a repository is read from the cache when a snapshot of it with
weights is there, and is an error otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from paramscope.errors import HeaderError, MissingExtraError, RemoteError
from paramscope.sources.folder import LocalFolder, plain_name
from paramscope.sources.remote import HF, Meter, RangeFile, RemoteRef, Response, parse

WORKERS = 16  # shards read at once (DeepSeek-V3: 163 shards, so about 11 rounds of requests)
TIMEOUT = 30.0  # seconds without an answer before a request fails
WEIGHT_SUFFIXES = (".safetensors", ".gguf")
GATED_HELP = "request access on its page ({url}) and set HF_TOKEN to a token of that account"


def _hub() -> Any:
    try:
        import huggingface_hub
        import huggingface_hub.constants
        import huggingface_hub.utils  # lazy submodules: imported for their attributes
    except ImportError:
        raise MissingExtraError("reading hf: sources", "hub", "huggingface_hub") from None
    return huggingface_hub


def endpoint() -> str:
    """The Hub this process talks to (HF_ENDPOINT, as huggingface_hub read it)."""
    return _hub().constants.ENDPOINT


def open_repo(ref: RemoteRef) -> HubFolder | LocalFolder:
    """The repository ``ref`` names, listed at its revision (a commit, from now on)."""
    hub = _hub()
    if hub.constants.HF_HUB_OFFLINE:
        return _offline_snapshot(ref)
    api = hub.HfApi(endpoint=endpoint())
    try:
        info = api.model_info(ref.repo, revision=ref.revision, files_metadata=True, timeout=TIMEOUT)
    except Exception as e:
        raise hub_error(e, ref.name) from None
    files = {s.rfilename: s.size for s in (info.siblings or []) if s.size is not None}
    return HubFolder(ref.repo, ref.revision, info.sha or ref.revision or "main", files,
                     gated=bool(getattr(info, "gated", False)))


class HubFolder:
    """A repository's files at one commit; ``prefix`` views a subfolder of it."""

    workers = WORKERS

    def __init__(self, repo: str, revision: str | None, commit: str, files: dict[str, int],
                 prefix: str = "", *, gated: bool = False, shared: _Shared | None = None):
        self.repo, self.revision, self.commit, self.files, self.prefix = repo, revision, commit, files, prefix
        self.gated = gated
        self.endpoint = endpoint()
        self.shared = shared or _Shared(self)
        base = f"hf:{repo}" + (f"@{revision}" if revision else "")
        self.name = f"{base}/{prefix.rstrip('/')}" if prefix else base
        self.pick_hint = f"; `paramscope ls {base}` lists them"

    @property
    def meter(self) -> Meter:
        return self.shared.meter

    def _full(self, rel: str) -> str:
        return self.prefix + rel

    def has(self, rel: str) -> bool:
        return plain_name(rel) and self._full(rel) in self.files

    def has_dir(self, rel: str) -> bool:
        start = self._full(rel).rstrip("/") + "/"
        return plain_name(rel) and any(f.startswith(start) for f in self.files)

    def names(self, pattern: str) -> list[str]:
        import fnmatch

        n = len(self.prefix)
        inside = (f[n:] for f in self.files if f.startswith(self.prefix))
        return sorted(f for f in inside if "/" not in f and fnmatch.fnmatchcase(f, pattern))

    def all_names(self) -> list[str]:
        """Every file of the repository (this view's prefix included), sorted."""
        return sorted(self.files)

    def size(self, rel: str) -> int:
        return self.files[self._full(rel)]

    def label(self, rel: str) -> str:
        """hf:ORG/NAME@COMMIT/FILE: pinned to the commit read, and itself a source paramscope opens."""
        return f"hf:{self.repo}@{self.commit}/{self._full(rel)}"

    def open(self, rel: str) -> RangeFile:
        full = self._full(rel)
        if not plain_name(rel) or full not in self.files:
            raise RemoteError(f"{self.name}: no file {rel!r} in the repository at {self.commit[:12]}")
        return self.shared.file(full)

    def read_whole(self, rel: str, max_bytes: int, what: str) -> bytes:
        full = self._full(rel)
        size = self.files.get(full)
        if size is not None and size > max_bytes:
            raise HeaderError(self.label(rel), f"{what} is implausibly large", f"{size} bytes",
                              f"at most {max_bytes}")
        data = Path(self.local_copy(rel)).read_bytes()
        if len(data) > max_bytes:  # a file the listing did not size
            raise HeaderError(self.label(rel), f"{what} is implausibly large", f"{len(data)} bytes",
                              f"at most {max_bytes}")
        return data

    def local_copy(self, rel: str) -> str:
        """The file whole, in huggingface_hub's cache (downloaded unless it is there already)."""
        full = self._full(rel)
        hub = _hub()
        cached = hub.try_to_load_from_cache(self.repo, full, revision=self.commit)
        if isinstance(cached, str):
            return cached
        quiet = hub.utils.are_progress_bars_disabled()
        hub.utils.disable_progress_bars()  # a bar per small file would bury the command's own output
        try:
            path = hub.hf_hub_download(self.repo, full, revision=self.commit, endpoint=self.endpoint,
                                       etag_timeout=TIMEOUT)
        except Exception as e:
            raise hub_error(e, self.name, gated=self.gated, file=full) from None
        finally:
            if not quiet:
                hub.utils.enable_progress_bars()
        self.meter.add(self.files.get(full) or Path(path).stat().st_size)
        return path

    def sub(self, rel: str) -> HubFolder:
        return HubFolder(self.repo, self.revision, self.commit, self.files, self._full(rel).rstrip("/") + "/",
                         gated=self.gated, shared=self.shared)

    def describe(self) -> dict[str, Any]:
        """What ``Model.metadata["remote"]`` records: where, which commit, and what it cost."""
        return {"hub": self.endpoint, "repo": self.repo, "revision": self.revision or "main",
                "commit": self.commit, "bytes_fetched": self.meter.bytes, "requests": self.meter.requests}


class _Shared:
    """What the views of one repository share: the HTTP session, the byte meter, the opened files."""

    def __init__(self, folder: HubFolder):
        self.folder = folder
        self.meter = Meter()
        self.transport = HubTransport(folder)
        self._files: dict[str, RangeFile] = {}
        self._lock = threading.Lock()

    def file(self, full: str) -> RangeFile:
        with self._lock:
            f = self._files.get(full)
            if f is None:
                hub = _hub()
                f = self._files[full] = RangeFile(
                    f"hf:{self.folder.repo}@{self.folder.commit}/{full}",
                    hub.hf_hub_url(self.folder.repo, full, revision=self.folder.commit,
                                   endpoint=self.folder.endpoint),
                    self.folder.files[full], self.transport, self.meter)
            return f


class _HttpxResponse:
    def __init__(self, r: Any):
        self._r = r
        self.status = r.status_code
        self.url = str(r.url)

    def header(self, name: str) -> str | None:
        return self._r.headers.get(name)

    def read(self, n: int) -> bytes:
        out = bytearray()
        for chunk in self._r.iter_bytes():
            out += chunk
            if len(out) >= n:
                break  # leaving the stream closes it: nothing past the range is read
        return bytes(out[:n])


class HubTransport:
    """huggingface_hub's configured HTTP session, with its headers (token, user agent)."""

    def __init__(self, folder: HubFolder):
        self.folder = folder
        self.headers = _hub().utils.build_hf_headers()

    def get(self, url: str, headers: dict[str, str]) -> AbstractContextManager[Response]:
        @contextlib.contextmanager
        def opened() -> Iterator[Response]:
            session = _hub().get_session()
            try:
                stream = session.stream("GET", url, headers={**self.headers, **headers}, timeout=TIMEOUT,
                                        follow_redirects=True)
                r = stream.__enter__()
            except Exception as e:
                raise hub_error(e, self.folder.name) from None
            try:
                yield _HttpxResponse(r)
            finally:
                stream.__exit__(None, None, None)

        return opened()

    def failure(self, name: str, status: int, response: Response) -> Exception:
        code = response.header("X-Error-Code")
        return status_error(name, status, code, self.folder.name, gated=self.folder.gated)


# --- errors ----------------------------------------------------------------------------------------

def status_error(what: str, status: int, code: str | None, repo_name: str, *,
                 gated: bool = False) -> RemoteError:
    url = f"{endpoint()}/{repo_name.removeprefix('hf:').split('@')[0]}"
    if code == "GatedRepo" or (gated and status in (401, 403)):
        return RemoteError(f"{repo_name}: gated repository (HTTP {status}); " + GATED_HELP.format(url=url))
    if status in (401, 403):
        return RemoteError(f"{what}: access denied (HTTP {status}); a private or gated repository needs "
                           "HF_TOKEN set to a token that can read it")
    if status == 404 or code == "EntryNotFound":
        return RemoteError(f"{what}: not found on the server (HTTP 404)")
    return RemoteError(f"{what}: the server answered HTTP {status}")


def hub_error(e: Exception, name: str, *, gated: bool = False, file: str | None = None) -> RemoteError:
    """A huggingface_hub or network exception as one line naming the source and what to do."""
    from huggingface_hub import errors as he

    where = endpoint()
    if isinstance(e, he.GatedRepoError):
        return status_error(name, _status(e) or 403, "GatedRepo", name)
    if isinstance(e, he.RevisionNotFoundError):
        return RemoteError(f"{name}: no such revision (a branch, tag or commit of the repository)")
    if isinstance(e, he.RepositoryNotFoundError):
        return RemoteError(f"{name}: no such model repository on {where} (a private one needs HF_TOKEN "
                           "set to a token that can read it)")
    if isinstance(e, he.OfflineModeIsEnabled):
        return RemoteError(f"{name}: HF_HUB_OFFLINE is set, and this needs the network")
    if isinstance(e, he.LocalEntryNotFoundError | he.RemoteEntryNotFoundError | he.EntryNotFoundError):
        cause = e.__cause__ or e.__context__
        if cause is not None and _is_network(cause):
            return _unreachable(name, where, cause)
        return RemoteError(f"{name}: no file {file!r} in the repository" if file else f"{name}: not found")
    if isinstance(e, he.HfHubHTTPError):
        status = _status(e)
        return status_error(name, status or 0, None, name, gated=gated)
    if _is_network(e):
        return _unreachable(name, where, e)
    return RemoteError(f"{name}: {type(e).__name__}: {' '.join(str(e).split())[:200]}")


def _status(e: Exception) -> int | None:
    response = getattr(e, "response", None)
    return getattr(response, "status_code", None)


def _is_network(e: BaseException) -> bool:
    module = type(e).__module__ or ""
    return isinstance(e, ConnectionError | TimeoutError) or module.split(".")[0] in ("httpx", "httpx2",
                                                                                      "httpcore", "ssl")


def _unreachable(name: str, where: str, e: BaseException) -> RemoteError:
    return RemoteError(f"{name}: cannot reach {where} ({type(e).__name__}); check the network, or set "
                       "HF_HUB_OFFLINE=1 to read a copy in the Hugging Face cache")


# --- offline ---------------------------------------------------------------------------------------

def _offline_snapshot(ref: RemoteRef) -> LocalFolder:
    """The cached snapshot of the repository, when it holds weights (HF_HUB_OFFLINE)."""
    hub = _hub()
    try:
        path = Path(hub.snapshot_download(ref.repo, revision=ref.revision, local_files_only=True))
    except Exception:
        path = None
    if path is None or not any(p.name.endswith(WEIGHT_SUFFIXES) for p in path.rglob("*")):
        raise RemoteError(f"{ref.name}: HF_HUB_OFFLINE is set and the Hugging Face cache holds no weights of "
                          "this repository; unset HF_HUB_OFFLINE to read its headers from the Hub")
    return LocalFolder(path)


def local_copy(label: str) -> str:
    """A file named ``hf:ORG/NAME@COMMIT/FILE`` (``HubFolder.label``), whole, in the cache."""
    ref = parse(label)
    if ref is None or ref.scheme != HF or not ref.file:
        raise RemoteError(f"{label}: not a file of a Hugging Face repository")
    folder = HubFolder(ref.repo, ref.revision, ref.revision or "main", {ref.file: 0})
    return folder.local_copy(ref.file)
