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
import itertools
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


def sparse_safetensors(tensors: Mapping[str, TensorSpec],
                       metadata: Mapping[str, str] | None = None) -> Sparse:
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
            self._json({"schemaVersion": 2,
                        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
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
                    chunks: Iterator[bytes] | None = None) -> None:
            sent = 0
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    for chunk in chunks or ():
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


# --- model repositories the tests serve -----------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hub"
CATALOGUE = Path(__file__).resolve().parents[2] / "src" / "paramscope" / "knowledge" / "catalogue"


def _specs(config: dict) -> dict[str, TensorSpec]:
    """{name: (dtype, shape)} of the checkpoint a config describes (paramscope's own table)."""
    from paramscope.knowledge.families import expected_tensors

    return {t.name: (t.dtype.value, list(t.shape)) for t in expected_tensors(config, "config.json")}


def llama_31_8b_files() -> dict[str, Body]:
    """meta-llama/Llama-3.1-8B as published: its config (the catalogue's copy), its real index
    (tests/fixtures/hub), and four sparse BF16 shards whose headers hold exactly the tensors the index
    maps to them, shaped as the config says."""
    config = (CATALOGUE / "Llama-3.1-8B.json").read_bytes()
    index = json.loads((FIXTURES / "Llama-3.1-8B.model.safetensors.index.json").read_text())
    files = sharded_files(index["weight_map"], _specs(json.loads(config)))
    files["config.json"] = config
    return files


FP8_BLOCK = 128  # DeepSeek-V3 quantization_config.weight_block_size


def deepseek_v3_files(n_shards: int = 163) -> dict[str, Body]:
    """deepseek-ai/DeepSeek-V3 as published (FP8, 163 shards), derived rather than copied: the real
    model.safetensors.index.json (8.9 MB) could not be found in the searchable corpora, so the names
    and shapes come from paramscope's expected_tensors of the catalogue config, every projection
    weight stored as F8_E4M3 with its F32 block scale ``weight_scale_inv`` (ceil(rows/128) ×
    ceil(cols/128), README_WEIGHTS.md), plus the multi-token-prediction layer 61, filled in order into
    ``n_shards`` shards of equal bytes: 91,929 tensors. Only the header
    sizes matter for the fetch floor, and those follow from the tensor count and name lengths."""
    config = json.loads((CATALOGUE / "DeepSeek-V3.json").read_text())
    base = _specs(config)
    last = config["num_hidden_layers"] - 1
    mtp = f"model.layers.{last + 1}."
    base.update({mtp + k.removeprefix(f"model.layers.{last}."): v for k, v in list(base.items())
                 if k.startswith(f"model.layers.{last}.")})
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    base.update({mtp + "embed_tokens.weight": ("BF16", [vocab, hidden]),
                 mtp + "enorm.weight": ("BF16", [hidden]), mtp + "hnorm.weight": ("BF16", [hidden]),
                 mtp + "eh_proj.weight": ("BF16", [hidden, 2 * hidden]),
                 mtp + "shared_head.norm.weight": ("BF16", [hidden]),
                 mtp + "shared_head.head.weight": ("BF16", [vocab, hidden])})
    specs: dict[str, TensorSpec] = {}
    for name, (dtype, shape) in base.items():
        if name.endswith("_proj.weight") and len(shape) == 2 and not name.endswith("eh_proj.weight"):
            specs[name] = ("F8_E4M3", shape)
            specs[name + "_scale_inv"] = ("F32", [-(-shape[0] // FP8_BLOCK), -(-shape[1] // FP8_BLOCK)])
        else:
            specs[name] = (dtype, shape)
    total = sum(spec_nbytes(d, s) for d, s in specs.values())
    weight_map, done = {}, 0
    for name, (dtype, shape) in specs.items():
        shard = min(n_shards, 1 + done * n_shards // total)
        weight_map[name] = f"model-{shard:05d}-of-{n_shards:06d}.safetensors"
        done += spec_nbytes(dtype, shape)
    files = sharded_files(weight_map, specs)
    files["config.json"] = json.dumps(config, indent=2).encode()
    return files


def llama3_gguf(n_vocab: int = 128256, n_merges: int = 280147, seed: int = 0) -> Sparse:
    """A Llama 3.1 8B Q4_K_M-shaped GGUF (about 5 GB, 292 tensors) with a 128,256-token BPE vocabulary
    and 280,147 merges whose lengths follow Llama 3's (tokens about 6.6 bytes, merges about 11: the
    tokenizer.json is 9 MB), so its header is about 7.7 MB as the real file's is. Written by gguf-py's
    GGUFWriter (header only; the data are zeros)."""
    import random
    import tempfile

    import numpy as np
    from gguf import GGUFWriter
    from gguf.constants import GGML_QUANT_SIZES
    from gguf.constants import GGMLQuantizationType as Q

    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzĠ"

    def words(n: int, mean: float) -> list[str]:
        # the letters of all n words drawn at once (random.choices: a tenth of a choice() per letter)
        lengths = [max(1, int(rng.expovariate(1 / mean)) + 1) for _ in range(n)]
        text = "".join(rng.choices(letters, k=sum(lengths)))
        ends = list(itertools.accumulate(lengths))
        return [text[end - size:end] for end, size in zip(ends, lengths, strict=True)]

    tokens = words(n_vocab, 4.8)
    merges = [f"{a} {b}" for a, b in zip(words(n_merges, 4.4), words(n_merges, 4.4), strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "llama3.gguf"
        w = GGUFWriter(path, "llama")
        for key, value in (("llama.block_count", 32), ("llama.context_length", 131072),
                           ("llama.embedding_length", 4096), ("llama.feed_forward_length", 14336),
                           ("llama.attention.head_count", 32), ("llama.attention.head_count_kv", 8),
                           ("general.file_type", 15), ("llama.vocab_size", n_vocab)):
            w.add_uint32(key, value)
        w.add_float32("llama.rope.freq_base", 500000.0)
        w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("llama-bpe")
        w.add_token_list(tokens)
        w.add_token_types([1] * n_vocab)
        w.add_token_merges(merges)
        w.add_bos_token_id(128000)
        w.add_eos_token_id(128001)
        infos = [("token_embd.weight", (n_vocab, 4096), Q.Q4_K), ("output_norm.weight", (4096,), Q.F32),
                 ("output.weight", (n_vocab, 4096), Q.Q6_K), ("rope_freqs.weight", (64,), Q.F32)]
        for i in range(32):
            b = f"blk.{i}."
            infos += [(b + "attn_norm.weight", (4096,), Q.F32), (b + "ffn_norm.weight", (4096,), Q.F32),
                      (b + "attn_q.weight", (4096, 4096), Q.Q4_K),
                      (b + "attn_k.weight", (1024, 4096), Q.Q4_K),
                      (b + "attn_v.weight", (1024, 4096), Q.Q6_K),
                      (b + "attn_output.weight", (4096, 4096), Q.Q4_K),
                      (b + "ffn_gate.weight", (14336, 4096), Q.Q4_K),
                      (b + "ffn_up.weight", (14336, 4096), Q.Q4_K),
                      (b + "ffn_down.weight", (4096, 14336), Q.Q6_K)]
        data = 0
        for name, shape, q in infos:
            block, size = GGML_QUANT_SIZES[q]
            nbytes = int(np.prod(shape)) // block * size
            w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=q)
            data += -(-nbytes // 32) * 32
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        head = path.read_bytes()
    head += bytes(-len(head) % 32)
    return Sparse(head, len(head) + data)
