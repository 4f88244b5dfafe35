"""Remote sources as models: ``hf:ORG/NAME[@REVISION][/FILE]`` and ``ollama:NAME[:TAG]``.

The folder comes from ``sources`` (a Hub repository listed at a commit, or an Ollama model's GGUF
blob); the readers are the same that read a directory, reading headers through range requests. The
model records where it came from and what it cost in ``metadata["remote"]`` (``bytes_fetched``).
"""

from __future__ import annotations

from typing import Any

from paramscope.errors import RemoteError, UnknownFormatError, UnsupportedError
from paramscope.model import Model
from paramscope.records import replace
from paramscope.sources.folder import Folder, LocalFolder
from paramscope.sources.remote import OLLAMA, RemoteRef

READ_REMOTELY = ("gguf", "safetensors", "config")  # formats whose headers are all we need


def open_remote(ref: RemoteRef) -> Model:
    """The model ``ref`` names, its headers read over the network."""
    if ref.scheme == OLLAMA:
        from paramscope.formats import gguf
        from paramscope.sources import ollama

        folder: Any = ollama.open_model(ref)
        model = gguf.read_from(folder, ollama.GGUF_NAME)
    else:
        from paramscope.sources import hub

        folder = hub.open_repo(ref)
        model = read_in(folder, ref.file) if ref.file else _read_repo(folder, ref)
    source = ref.name + (f"/{ref.file}" if ref.file else "")
    remote = folder.describe() if hasattr(folder, "describe") else {"cache": folder.name}
    return replace(model, source=source, metadata={**model.metadata, "remote": remote})


def _read_repo(folder: Folder, ref: RemoteRef) -> Model:
    from paramscope.formats import hf_dir

    model = hf_dir.read_folder(folder)
    if not model.has_weights and not isinstance(folder, LocalFolder):
        raise RemoteError(f"{ref.name}: no safetensors or GGUF weights in the repository (paramscope reads "
                          f"remote weights as headers); hf:{ref.repo}/config.json describes it from its "
                          "config alone")
    return model


def read_in(folder: Folder, rel: str) -> Model:
    """One file of a remote folder, by its name's format (or its first bytes)."""
    from paramscope.formats import registry

    if not folder.has(rel):
        raise RemoteError(f"{folder.name}: no file {rel!r} in the repository")
    fmt = registry.by_suffix(rel)
    if fmt is None:
        head = folder.open(rel).head(64)
        fmt = next((f for f in registry.FILE_FORMATS if f.name in READ_REMOTELY
                    and f.may_be(head) and f.reader().sniff(head, _name_only(rel))), None)
        if fmt is None:
            raise UnknownFormatError(f"{folder.label(rel)}: not a format paramscope reads remotely (first "
                                     f"bytes {head[:8]!r}; expected GGUF, safetensors or config.json)")
    if fmt.name not in READ_REMOTELY:
        raise UnsupportedError(f"{folder.label(rel)}: {fmt.description.split(' (')[0]} files are not read "
                               "remotely; download the file and give its path")
    return fmt.reader().read_from(folder, rel)


def _name_only(rel: str):
    from pathlib import PurePosixPath

    return PurePosixPath(rel)
