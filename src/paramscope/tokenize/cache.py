"""GGUF vocabularies kept between runs, so that `paramscope tokens model.gguf "Hello"` neither parses the
GGUF metadata nor builds 514,847 merges again (``restricted`` builds only what the text can reach).

Where: ``$XDG_CACHE_HOME/paramscope/tokenizers`` (``~/.cache/paramscope/tokenizers`` without it), one
folder per file identity: the SHA-256 of the resolved path, size, modification time and inode, so a
changed or replaced file is a new entry. A folder holds

- ``meta.json``: the vocabulary's settings, ``core.Tokenizer``'s fields, the user-defined, byte and
  special token IDs, and the SHA-256 of the data files (checked on every load: a truncated or altered
  entry is rebuilt);
- ``keys.bin``: the distinct token strings, sorted, as UTF-8 one after the other, ``key_offsets.i64``
  where each starts (and the end), and ``key_ids.i32`` the ID of each;
- ``rank.i32`` (each ID's index in the keys) and ``scores.f32``: little-endian, one number per token.

Plain text and numbers only, read back with ``json``, ``str.split`` and ``array``: never a pickle. The
keys are looked up by bisection, so a run builds no dictionary of the whole vocabulary. Writing
is best effort (a read-only home leaves the cache empty, never fails the command) and atomic (a temporary
folder renamed into place). Only SPM ("llama") vocabularies are kept: the other GGUF types are built
as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from array import array
from pathlib import Path
from typing import Any

from paramscope.tokenize.restricted import SortedKeys, SpmVocab

VERSION = 4  # bump when the layout or the meaning of a field changes
FILES = ("keys.bin", "key_offsets.i64", "key_ids.i32", "rank.i32", "scores.f32")
BYTE_TYPE, USER_TYPE = 6, 4  # llama_token_type


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "paramscope" / "tokenizers"


def identity(path: str | os.PathLike[str]) -> str | None:
    """The cache key of a file (None when it cannot be stat'ed)."""
    try:
        real = os.path.realpath(os.path.expanduser(os.fspath(path)))
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    key = f"{VERSION}\0{real}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
    return hashlib.sha256(key.encode()).hexdigest()


def load(path: str | os.PathLike[str]) -> SpmVocab | None:
    """The kept vocabulary of ``path``, or None (not kept yet, or the entry does not check out)."""
    key = identity(path)
    if key is None:
        return None
    folder = cache_root() / key
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        blobs = [(folder / f).read_bytes() for f in FILES]
    except (OSError, ValueError):
        return None
    if meta.get("version") != VERSION or meta.get("sha256") != _digest(blobs):
        return None
    return _vocab(blobs, meta)


def store(path: str | os.PathLike[str], vocab: Any, wrapper: dict[str, Any]) -> SpmVocab:
    """Keep a ``gguf_vocab.Vocab`` (SPM) for ``path``; returns it as an ``SpmVocab`` either way."""
    import numpy as np  # loaded already: the vocabulary was just read from the GGUF file

    ids, tokens, n = vocab.ids, vocab.tokens, len(vocab.tokens)  # ids: string → later ID (token_to_id)
    canonical = np.fromiter(map(ids.__getitem__, tokens), np.int64, n)
    encoded = [t.encode("utf-8") for t in tokens]
    lengths = np.fromiter(map(len, encoded), np.int64, n)
    # the distinct strings sorted as fixed-width bytes (NUL-padded; no token holds a NUL), in C
    fixed = np.array(encoded, dtype=f"S{max(int(lengths.max(initial=1)), 1)}")
    distinct = np.flatnonzero(canonical == np.arange(n))
    key_ids = distinct[np.argsort(fixed[distinct], kind="stable")]
    rank = np.empty(n, np.int64)
    rank[key_ids] = np.arange(len(key_ids))
    rank = rank[canonical]  # an earlier duplicate's string is its later twin's
    width = fixed.dtype.itemsize
    padded = fixed[key_ids].view(np.uint8).reshape(len(key_ids), width)
    key_blob = padded[np.arange(width) < lengths[key_ids][:, None]].tobytes()
    offsets = np.zeros(len(key_ids) + 1, "<i8")
    np.cumsum(lengths[key_ids], out=offsets[1:])
    types = vocab.types
    meta = {"version": VERSION, "source": os.fspath(path), "unk": vocab.special["unk"],
            "add_space_prefix": bool(vocab.flags["add_space_prefix"]),
            "longest": int(lengths.max(initial=1)),  # in bytes, ≥ in characters: a safe bound
            "user": list(vocab.user),
            "always": sorted({*np.flatnonzero(types == BYTE_TYPE).tolist(),
                              *(i for i in vocab.special.values() if i is not None),
                              *wrapper["prefix"], *wrapper["suffix"]}),
            "wrapper": {**wrapper, "kinds": {str(k): v for k, v in wrapper["kinds"].items()}}}
    blobs = [key_blob, offsets.tobytes(), key_ids.astype("<i4").tobytes(),
             rank.astype("<i4").tobytes(), np.asarray(vocab.scores, "<f4").tobytes()]
    meta["sha256"] = _digest(blobs)
    key = identity(path)
    if key is not None:
        _write(cache_root() / key, meta, blobs)
    return _vocab(blobs, meta)


def _vocab(blobs: list[bytes], meta: dict[str, Any]) -> SpmVocab:
    keys = SortedKeys(blobs[0], _array("q", blobs[1]))
    key_ids, rank, scores = _array("i", blobs[2]), _array("i", blobs[3]), _array("f", blobs[4])
    return SpmVocab(keys, key_ids, rank, scores, tuple(meta["user"]), tuple(meta["always"]), meta["unk"],
                    meta["add_space_prefix"], meta["longest"], meta["wrapper"])


def _write(folder: Path, meta: dict[str, Any], blobs: list[bytes]) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        for name, blob in zip(FILES, blobs, strict=True):
            (tmp / name).write_bytes(blob)
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, folder)
    except OSError:  # read-only or full: the cache is an optimisation, never a failure
        import shutil

        if "tmp" in locals():
            shutil.rmtree(tmp, ignore_errors=True)


def _digest(blobs: list[bytes]) -> str:
    h = hashlib.sha256()
    for b in blobs:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _array(code: str, blob: bytes) -> array:
    a = array(code)
    a.frombytes(blob[:len(blob) - len(blob) % a.itemsize])
    if sys.byteorder == "big":
        a.byteswap()
    return a
