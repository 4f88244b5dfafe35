"""What a zoo run reads: every model file under the paths given, found by name, grouped into models.

A path is a local file or folder or an fsspec URL (``file://``, ``s3://``, ``memory://`` … whatever the
user has installed). Files are kept when the format table (``formats.registry``) knows their name
ending as one that holds weights, or ``scan`` would read them as a possible pickle
(``formats.discover.SCAN_SUFFIXES``); indexes and configs are not rows. Each file is one task and one
row; the files of a sharded checkpoint share a *model* key: llama.cpp's ``NAME-0000N-of-0000M.gguf``
splits and transformers' ``PREFIX-0000N-of-0000M.safetensors|bin`` shards become ``FOLDER/NAME``, every
other file ``FOLDER/FILE``. Only names and sizes are read here; a path that cannot be listed becomes an
item carrying its error, so the run records it and goes on.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence

from paramscope.formats import registry
from paramscope.formats.discover import MAX_WALK_DEPTH, SCAN_SUFFIXES, WEIGHT_SUFFIXES
from paramscope.formats.gguf import SPLIT_NAME
from paramscope.records import record

# transformers' shard names (modeling_utils / huggingface_hub split_state_dict_into_shards):
# "{prefix}-{i:05d}-of-{n:05d}.{ext}"
HF_SHARD = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.(?:safetensors|bin)$")
# ONNX external data and the like are named .data / .dat: scan's guesses, not model files here
SUFFIXES = tuple(sorted({*WEIGHT_SUFFIXES, *(s for s in SCAN_SUFFIXES if s not in (".dat", ".data"))}))


@record
class Item:
    """One file to read: where it is, how rows name it, the model it belongs to, its size by listing."""

    url: str  # what fsspec opens (a local absolute path for local files)
    name: str  # the path below the root given, led by the root's own name
    model: str  # the group key: files of one sharded checkpoint share it
    size: int
    error: str | None = None  # the path could not be listed: this item is a row with this error


def walk(paths: Sequence[str]) -> list[Item]:
    """Every model file under ``paths``, each once, in a stable order."""
    seen: set[str] = set()
    out: list[Item] = []
    for path in paths:
        for item in _walk_one(path):
            if item.url not in seen:
                seen.add(item.url)
                out.append(item)
    return out


def is_model_file(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".json"):
        return False
    fmt = registry.by_suffix(lower)
    return (fmt is not None and fmt.holds_weights) or lower.endswith(SUFFIXES)


def model_key(folder: str, name: str) -> str:
    """The model a file belongs to: its shard set, else the file itself."""
    m = SPLIT_NAME.match(name) or HF_SHARD.match(name)
    return posixpath.join(folder, m["prefix"] if m else name)


def _walk_one(path: str) -> Iterator[Item]:
    import os

    import fsspec

    if "://" not in path and "::" not in path:
        path = os.path.expanduser(path)
    try:
        fs, root = fsspec.core.url_to_fs(path)
        info = fs.info(root)
    except (OSError, ValueError, ImportError) as e:  # no such path, no permission, unknown protocol
        yield Item(path, path, path, 0, error=f"{path}: cannot be read ({_reason(e)})")
        return
    local = is_local(fs)
    def url(p: str) -> str:
        return p if local else str(fs.unstrip_protocol(p))

    if info.get("type") != "directory":
        folder, base = posixpath.split(root.rstrip("/"))
        yield Item(url(root), base, model_key(url(folder), base), int(info.get("size") or 0))
        return
    top = root.rstrip("/")
    label = posixpath.basename(top) or top
    try:
        found = fs.find(top, maxdepth=MAX_WALK_DEPTH + 1, detail=True, withdirs=False)
    except OSError as e:
        yield Item(url(top), label, url(top), 0, error=f"{url(top)}: cannot be listed ({_reason(e)})")
        return
    for p in sorted(found):
        entry = found[p]
        base = posixpath.basename(p)
        # special files named like models (a FIFO called model.bin) are rows too, as in `scan`: the task
        # refuses them without opening them
        if entry.get("type") == "directory" or not is_model_file(base):
            continue
        rel = posixpath.relpath(p, top)
        yield Item(url(p), posixpath.join(label, rel), model_key(url(posixpath.dirname(p)), base),
                   int(entry.get("size") or 0))


def is_local(fs: object) -> bool:
    """Whether an fsspec file system is this machine's disk (its paths are plain local paths)."""
    protocol = getattr(fs, "protocol", "")
    names = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in names or "local" in names


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
