"""A local HTTP server that answers as the Hugging Face Hub and the Ollama registry do, for the calls
paramscope makes through huggingface_hub and urllib. No network: it listens on 127.0.0.1.

Hub endpoints (huggingface_hub 1.x/2.x, ``hf_api.py`` / ``file_download.py``):
- ``GET /api/models/{repo}[/revision/{rev}]`` (``model_info``; ``?blobs=true`` adds sizes): id, sha,
  siblings; 401 + ``X-Error-Code: RepoNotFound`` for an unknown repository (as the Hub answers an
  anonymous caller), 404 + ``RevisionNotFound`` for an unknown revision;
- ``GET /api/models/{repo}/tree/{rev}``: the file listing;
- ``HEAD|GET /{repo}/resolve/{rev}/{file}``: ``X-Repo-Commit``, ``ETag``, ``Accept-Ranges``; big
  ("LFS") files answer 302 to ``/lfs/…`` with ``X-Linked-Size`` / ``X-Linked-Etag``, as the Hub
  redirects to its CDN; ``Range: bytes=a-b`` answers 206 with ``Content-Range``; a gated repository
  answers 401 + ``GatedRepo`` without the right ``Authorization: Bearer`` token; 404 + ``EntryNotFound``.
Ollama (OCI distribution API): ``GET /v2/{ns}/{model}/manifests/{tag}`` and ``/v2/{ns}/{model}/blobs/
{digest}`` (307 to ``/ollama-cdn/{digest}``, which serves ranges).

A file's body is bytes, a path on disk, or ``Sparse(head, size)``: the header bytes followed by zeros
up to ``size``, so a 688 GB checkpoint costs only its headers. Every request is recorded (method, path,
Range, status, body bytes sent) for the tests to assert on.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from builders.safetensors_files import TensorSpec, header_json, spec_nbytes

LFS_ABOVE = 10 << 20  # files larger than this are "LFS": resolve redirects to the CDN path
CHUNK = 1 << 20


@dataclass(frozen=True)
class Sparse:
    """``head`` then zeros up to ``size`` bytes."""

    head: bytes
    size: int


Body = bytes | Path | Sparse


def body_size(body: Body) -> int:
    if isinstance(body, bytes):
        return len(body)
    if isinstance(body, Path):
        return body.stat().st_size
    return body.size


def body_range(body: Body, start: int, stop: int) -> Iterator[bytes]:
    """Bytes ``start .. stop`` of a body, in chunks."""
    if isinstance(body, bytes):
        yield body[start:stop]
        return
    if isinstance(body, Path):
        with open(body, "rb") as f:
            f.seek(start)
            left = stop - start
            while left > 0:
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
        return
    pos = start
    if pos < len(body.head):
        yield body.head[pos:min(stop, len(body.head))]
        pos = min(stop, len(body.head))
    while pos < stop:
        n = min(CHUNK, stop - pos)
        yield bytes(n)
        pos += n


def sparse_safetensors(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> Sparse:
    """A safetensors file's exact header and its real size, the data left as zeros."""
    raw = json.dumps(header_json(tensors, metadata)).encode()
    raw += b" " * (-len(raw) % 8)
    head = len(raw).to_bytes(8, "little") + raw
    return Sparse(head, len(head) + sum(spec_nbytes(d, s) for d, s in tensors.values()))


def sharded_files(weight_map: Mapping[str, str], specs: Mapping[str, TensorSpec],
                  metadata: Mapping[str, str] | None = None) -> dict[str, Body]:
    """The shards a weight_map names, each a sparse safetensors file of its tensors (in map order),
    plus ``model.safetensors.index.json`` with the map and the true total size."""
    shards: dict[str, dict[str, TensorSpec]] = {}
    for name, shard in weight_map.items():
        shards.setdefault(shard, {})[name] = specs[name]
    files: dict[str, Body] = {s: sparse_safetensors(t, metadata) for s, t in shards.items()}
    total = sum(spec_nbytes(d, s) for d, s in specs.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    files["model.safetensors.index.json"] = json.dumps(index, indent=2).encode()
    return files


@dataclass
class Repo:
    files: dict[str, Body]
    sha: str = ""
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag → commit
    gated: bool = False
    token: str | None = None  # the token that may read a gated repository

    def __post_init__(self) -> None:
        if not self.sha:
            self.sha = hashlib.sha1(json.dumps(sorted(self.files)).encode()).hexdigest()
        self.refs.setdefault("main", self.sha)

    def commit(self, rev: str | None) -> str | None:
        if rev is None:
            return self.sha
        if rev == self.sha or rev in self.refs.values():
            return rev
        return self.refs.get(rev)


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    range: str | None
    status: int
    sent: int  # body bytes written


@dataclass
class OllamaModel:
    gguf: Body
    extra_layers: Sequence[dict] = ()

    @property
    def digest(self) -> str:
        seed = self.gguf.head if isinstance(self.gguf, Sparse) else str(body_size(self.gguf)).encode()
        return "sha256:" + hashlib.sha256(seed[:4096] + str(body_size(self.gguf)).encode()).hexdigest()


class HubServer:
    """The emulator: ``start()``, then ``url``; ``repos`` and ``ollama`` may be filled at any time."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.ollama: dict[str, OllamaModel] = {}  # "ns/model:tag"
        self.log: list[Logged] = []
        self.ignore_range = False  # answer 200 with the whole file (a server that ignores Range)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
        self.ignore_range = False

    def record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def sent(self) -> int:
        """Body bytes sent since the last reset, all requests together."""
        return sum(e.sent for e in self.log)


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_LFS = re.compile(r"^/lfs/(?P<repo>[^/]+/[^/]+)/(?P<rev>[^/]+)/(?P<file>.+)$")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>.+))?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")
_MANIFEST = re.compile(r"^/v2/(?P<name>[^/]+/[^/]+)/manifests/(?P<tag>[^/]+)$")
_BLOB = re.compile(r"^/v2/(?P<name>[^/]+/[^/]+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_CDN = re.compile(r"^/ollama-cdn/(?P<digest>sha256:[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._route(head=True)

        def do_GET(self) -> None:
            self._route(head=False)

        # --- routing -------------------------------------------------------------------------------

        def _route(self, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            for pattern, fn in ((_TREE, self._tree), (_INFO, self._info), (_RESOLVE, self._resolve),
                                (_LFS, self._lfs), (_MANIFEST, self._manifest), (_BLOB, self._blob),
                                (_CDN, self._cdn)):
                m = pattern.match(path)
                if m:
                    fn(m, head)
                    return
            self._error(404, "NotFound")

        def _repo(self, name: str, rev: str | None) -> tuple[Repo, str] | None:
            repo = hub.repos.get(name)
            if repo is None:
                self._error(401, "RepoNotFound", "Repository not found")
                return None
            commit = repo.commit(rev)
            if commit is None:
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo, commit

        def _info(self, m: re.Match, head: bool) -> None:
            found = self._repo(m["repo"], m["rev"])
            if found is None:
                return
            repo, commit = found
            siblings = [{"rfilename": n, "size": body_size(b), "blobId": _blob_id(n, b),
                         **({"lfs": {"size": body_size(b), "sha256": _blob_id(n, b) * 2,
                                     "pointerSize": 134}} if body_size(b) > LFS_ABOVE else {})}
                        for n, b in sorted(repo.files.items())]
            self._json({"_id": "0" * 24, "id": m["repo"], "modelId": m["repo"], "sha": commit,
                        "private": False, "gated": "manual" if repo.gated else False, "disabled": False,
                        "tags": [], "siblings": siblings}, head)

        def _tree(self, m: re.Match, head: bool) -> None:
            found = self._repo(m["repo"], m["rev"])
            if found is None:
                return
            repo, _ = found
            self._json([{"type": "file", "oid": _blob_id(n, b), "size": body_size(b), "path": n}
                        for n, b in sorted(repo.files.items())], head)

        def _resolve(self, m: re.Match, head: bool) -> None:
            found = self._repo(m["repo"], m["rev"])
            if found is None:
                return
            repo, commit = found
            if repo.gated and self.headers.get("Authorization") != f"Bearer {repo.token}":
                self._error(401, "GatedRepo", "Access to model is restricted. You must have access to it "
                            "and be authenticated to access it. Please log in.")
                return
            body = repo.files.get(m["file"])
            if body is None:
                self._error(404, "EntryNotFound", "Entry not found")
                return
            common = {"X-Repo-Commit": commit, "ETag": f'"{_blob_id(m["file"], body)}"',
                      "Accept-Ranges": "bytes"}
            if body_size(body) > LFS_ABOVE:  # the Hub sends LFS files to its CDN
                self._answer(302, {**common, "Location": f"/lfs/{m['repo']}/{commit}/{m['file']}",
                                   "X-Linked-Size": str(body_size(body)),
                                   "X-Linked-Etag": f'"{_blob_id(m["file"], body) * 2}"',
                                   "Content-Length": "0"}, head)
                return
            self._serve(body, common, head)

        def _lfs(self, m: re.Match, head: bool) -> None:
            repo = hub.repos.get(m["repo"])
            body = repo.files.get(m["file"]) if repo else None
            if body is None:
                self._error(404, "NotFound")
                return
            self._serve(body, {"ETag": f'"{_blob_id(m["file"], body) * 2}"', "Accept-Ranges": "bytes"}, head)

        def _manifest(self, m: re.Match, head: bool) -> None:
            model = hub.ollama.get(f"{m['name']}:{m['tag']}")
            if model is None:
                self._json({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}, head,
                           status=404)
                return
            layers = [{"mediaType": "application/vnd.ollama.image.model", "digest": model.digest,
                       "size": body_size(model.gguf)}, *model.extra_layers]
            self._json({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                   "digest": "sha256:" + "0" * 64, "size": 2},
                        "layers": layers}, head)

        def _blob(self, m: re.Match, head: bool) -> None:
            self._answer(307, {"Location": f"/ollama-cdn/{m['digest']}", "Content-Length": "0"}, head)

        def _cdn(self, m: re.Match, head: bool) -> None:
            body = next((x.gguf for x in hub.ollama.values() if x.digest == m["digest"]), None)
            if body is None:
                self._error(404, "BLOB_UNKNOWN")
                return
            self._serve(body, {"Accept-Ranges": "bytes"}, head)

        # --- answers -------------------------------------------------------------------------------

        def _serve(self, body: Body, headers: dict[str, str], head: bool) -> None:
            size = body_size(body)
            asked = self.headers.get("Range")
            m = _RANGE.match(asked or "")
            if asked and m and not hub.ignore_range:
                start, last = int(m[1]), int(m[2]) if m[2] else size - 1
                if start >= size or last < start:
                    self._answer(416, {"Content-Range": f"bytes */{size}", "Content-Length": "0"}, head)
                    return
                stop = min(last + 1, size)
                self._answer(206, {**headers, "Content-Range": f"bytes {start}-{stop - 1}/{size}",
                                   "Content-Length": str(stop - start)}, head, body_range(body, start, stop))
                return
            self._answer(200, {**headers, "Content-Length": str(size)}, head, body_range(body, 0, size))

        def _json(self, value: object, head: bool, status: int = 200) -> None:
            raw = json.dumps(value).encode()
            self._answer(status, {"Content-Type": "application/json", "Content-Length": str(len(raw))}, head,
                         iter([raw]))

        def _error(self, status: int, code: str, message: str = "") -> None:
            raw = json.dumps({"error": message or code}).encode()
            self._answer(status, {"X-Error-Code": code, "X-Error-Message": message or code,
                                  "Content-Type": "application/json", "Content-Length": str(len(raw))},
                         self.command == "HEAD", iter([raw]))

        def _answer(self, status: int, headers: dict[str, str], head: bool,
                    chunks: Iterator[bytes] = iter(())) -> None:
            sent = 0
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client hung up (as it should on a 200 to a Range)
            finally:
                hub.record(Logged(self.command, urlsplit(self.path).path, self.headers.get("Range"),
                                  status, sent))

    return Handler


def _blob_id(name: str, body: Body) -> str:
    return hashlib.sha1(f"{name}:{body_size(body)}".encode()).hexdigest()
