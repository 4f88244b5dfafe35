"""A model in the Ollama registry: its manifest, and the GGUF blob's header by range requests.

The registry speaks the OCI distribution API (ollama ``server/images.go`` ``pullModelManifest``,
``server/download.go``): ``GET {registry}/v2/{namespace}/{model}/manifests/{tag}`` answers a JSON
manifest whose layer of media type ``application/vnd.ollama.image.model`` is the GGUF file, fetched as
``GET {registry}/v2/{namespace}/{model}/blobs/{digest}`` (a redirect to a CDN, which honours ``Range``).
The registry is ``https://registry.ollama.ai`` unless ``OLLAMA_REGISTRY`` names another (a mirror, or
the tests' local server). Only the standard library is used: no extra is needed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from paramscope.errors import RemoteError
from paramscope.sources.remote import Meter, RangeFile, RemoteRef, UrllibTransport

DEFAULT_REGISTRY = "https://registry.ollama.ai"
MODEL_LAYER = "application/vnd.ollama.image.model"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MAX_MANIFEST_BYTES = 1 << 20
GGUF_NAME = "model.gguf"  # the blob's name inside the folder (not split: Ollama stores one file)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def registry() -> str:
    url = os.environ.get("OLLAMA_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise RemoteError(f"OLLAMA_REGISTRY={url!r}: not an http(s) URL")
    return url


def open_model(ref: RemoteRef) -> OllamaFolder:
    base = f"{registry()}/v2/{ref.repo}"
    meter = Meter()
    transport = UrllibTransport(lambda what, status: _status_text(ref, what, status))
    manifest = _manifest(ref, f"{base}/manifests/{ref.revision}", transport, meter)
    layer = next((x for x in manifest.get("layers", []) if isinstance(x, dict)
                  and x.get("mediaType") == MODEL_LAYER), None)
    if layer is None:
        raise RemoteError(f"{ref.name}: the manifest has no model layer ({MODEL_LAYER}): no weights")
    digest, size = layer.get("digest"), layer.get("size")
    if not isinstance(digest, str) or not _DIGEST.match(digest) or type(size) is not int or size < 0:
        raise RemoteError(f"{ref.name}: the manifest's model layer has no valid digest and size")
    return OllamaFolder(ref, f"{base}/blobs/{digest}", digest, size, transport, meter)


def _manifest(ref: RemoteRef, url: str, transport: UrllibTransport, meter: Meter) -> dict[str, Any]:
    with transport.get(url, {"Accept": MANIFEST_ACCEPT}) as r:
        if r.status != 200:
            raise _status_error(ref, ref.name, r.status)
        raw = r.read(MAX_MANIFEST_BYTES + 1)
    meter.add(len(raw))
    if len(raw) > MAX_MANIFEST_BYTES:
        raise RemoteError(f"{ref.name}: the manifest is implausibly large (over {MAX_MANIFEST_BYTES} bytes)")
    try:
        value = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{ref.name}: the registry's manifest is not JSON") from None
    if not isinstance(value, dict):
        raise RemoteError(f"{ref.name}: the registry's manifest is not a JSON object")
    return value


def _status_error(ref: RemoteRef, what: str, status: int) -> RemoteError:
    return RemoteError(_status_text(ref, what, status))


def _status_text(ref: RemoteRef, what: str, status: int) -> str:
    if status == 404:
        return f"{ref.name}: no such model or tag in the Ollama registry ({registry()})"
    if status in (401, 403):
        return f"{what}: access denied by the Ollama registry (HTTP {status})"
    return f"{what}: the Ollama registry answered HTTP {status}"


class OllamaFolder:
    """One model of the registry, seen as a folder holding one GGUF file."""

    workers = 1
    pick_hint = ""

    def __init__(self, ref: RemoteRef, url: str, digest: str, size: int, transport: UrllibTransport,
                 meter: Meter):
        self.ref, self.digest, self.meter = ref, digest, meter
        self.name = ref.name
        self.file = RangeFile(f"{ref.name} ({digest[:19]}…)", url, size, transport, meter)

    def has(self, rel: str) -> bool:
        return rel == GGUF_NAME

    def has_dir(self, rel: str) -> bool:
        return False

    def names(self, pattern: str) -> list[str]:
        import fnmatch

        return [GGUF_NAME] if fnmatch.fnmatchcase(GGUF_NAME, pattern) else []

    def open(self, rel: str) -> RangeFile:
        if rel != GGUF_NAME:
            raise RemoteError(f"{self.name}: no file {rel!r}")
        return self.file

    def read_whole(self, rel: str, max_bytes: int, what: str) -> bytes:
        raise RemoteError(f"{self.name}: no file {rel!r}")

    def label(self, rel: str) -> str:
        return self.file.name

    def sub(self, rel: str) -> OllamaFolder:
        raise RemoteError(f"{self.name}: no folder {rel!r}")

    def describe(self) -> dict[str, Any]:
        return {"registry": registry(), "model": self.ref.repo, "tag": self.ref.revision,
                "digest": self.digest, "bytes_fetched": self.meter.bytes, "requests": self.meter.requests}
