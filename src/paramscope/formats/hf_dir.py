"""A Hugging Face model directory: config.json beside safetensors weights (one file or shards), a
sentence-transformers layout, GGUF files, or a config alone.

Weights are looked for in the order transformers' ``from_pretrained`` uses (modeling_utils.py: the
single ``model.safetensors``, then ``model.safetensors.index.json``), then any one safetensors file or
index, a sentence-transformers module folder, and GGUF files; pickles are never opened. The
``Model`` keeps the weights' format ("safetensors", "gguf"); config.json supplies the ``ArchConfig``,
its ``quantization_config`` the packing conventions (knowledge/packing.py), and the tokenizer files
are listed for ``paramscope tokens``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paramscope.errors import FormatError, HeaderError, SourceError, UnsupportedError, and_more
from paramscope.formats.hf_json import CONFIG, load_json, load_json_in, quantization_config_of, read_config
from paramscope.model import ArchConfig, Model
from paramscope.records import replace
from paramscope.sources.folder import Folder, LocalFolder

NAME = "hf-dir"
SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_SINGLE = "model.safetensors"
# Tokenizer files, in the order a reader would prefer them (tokenizers' tokenizer.json first).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.txt",
                   "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json",
                   "spiece.model", "sentencepiece.bpe.model", "tokenizer.tiktoken")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.ckpt")
LOOKED_FOR = (f"{SAFETENSORS_SINGLE}, {SAFETENSORS_INDEX}, *.safetensors, *.gguf, "
              f"{', '.join(PICKLE_WEIGHTS)}, {CONFIG}")


def sniff(head: bytes, path: Path) -> bool:
    return Path(path).is_dir()


def read(path: Path) -> Model:
    """The directory's weights with config, quantization and tokenizer attached; or its config alone."""
    folder = Path(path)
    if not folder.is_dir():
        raise SourceError(f"{folder}: not a directory")
    return read_folder(LocalFolder(folder))


def read_folder(folder: Folder) -> Model:
    """A folder's model (a directory, or a Hub repository listed at a commit)."""
    config = read_config(folder)
    weights, weights_prefix = _read_weights(folder, config)
    if weights is None:
        if config is None:
            raise SourceError(f"{folder.name}: no model weights and no {CONFIG} found "
                              f"(looked for {LOOKED_FOR})")
        return _config_only(folder)
    return _assemble(folder, weights, weights_prefix, config)


def arch_config(config: Mapping[str, Any], config_path: Path | str) -> tuple[ArchConfig | None, str | None]:
    """ArchConfig from config.json, and a warning when the config could not give one.

    An unknown family (UnsupportedError, KeyError) leaves it None quietly; a config the family table
    finds malformed leaves it None with a warning, since the weights beside it are still readable.
    """
    try:
        families = importlib.import_module("paramscope.knowledge.families")
    except ModuleNotFoundError:
        return None, None
    from_hf = getattr(families, "arch_config_from_hf", None)
    if from_hf is None:
        return None, None
    try:
        return from_hf(config), None
    except (UnsupportedError, KeyError):
        return None, None
    except FormatError as e:
        return None, f"{config_path}: architecture left unknown ({e.what})"


# --- weights --------------------------------------------------------------------------------------

def _read_weights(folder: Folder, config: Mapping[str, Any] | None) -> tuple[Model | None, str]:
    """The first kind of weights the folder holds, or None when it holds none we read; and the
    subfolder they were found in ("" for the folder itself)."""
    qc = quantization_config_of(folder, config)
    found = _find_safetensors(folder)
    prefix = ""
    if found is None:
        found, prefix = _sentence_transformers_weights(folder)
    if found is not None:
        from paramscope.formats import safetensors

        return safetensors.read_from(folder, prefix + found, qc), prefix
    gguf = _find_gguf(folder)
    if gguf is not None:
        from paramscope.formats import gguf as gguf_reader

        return gguf_reader.read_from(folder, gguf), ""
    if not isinstance(folder, LocalFolder):
        return None, ""  # pickles are read from disk only (the pickle reader needs the whole file)
    return _read_pickle_weights(folder.path), ""


def _read_pickle_weights(folder: Path) -> Model | None:
    """pytorch_model.bin (or its sharded index), read by the restricted pickle interpreter: never run.

    The globals every shard names are kept together in ``pickle_globals`` so that the safety verdict
    covers the whole checkpoint.
    """
    from paramscope.formats import pytorch

    index = folder / "pytorch_model.bin.index.json"
    if index.is_file():
        shards = _index_shards(index)
    else:
        files = (folder / n for n in PICKLE_WEIGHTS if n != index.name)
        single = next((f for f in files if f.is_file()), None)
        if single is None:
            return None
        shards = [single]
    parts = [pytorch.read(p) for p in shards]
    metadata: dict[str, Any] = dict(parts[0].metadata)
    metadata["pickle_globals"] = [g for m in parts for g in m.metadata.get("pickle_globals", ())]
    return replace(parts[0], tensors=tuple(t for m in parts for t in m.tensors), metadata=metadata,
                   files=tuple(f for m in parts for f in m.files))


def _index_shards(index: Path) -> list[Path]:
    """The shard files a ``*.bin.index.json`` names: plain names inside the same folder only."""
    value = load_json(index)
    weight_map = value.get("weight_map") if isinstance(value, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise HeaderError(str(index), "no weight_map in the index")
    names = sorted({str(v) for v in weight_map.values()})
    for name in names:
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise HeaderError(str(index), f"shard name {name!r} is not a plain file name in this folder")
    return [index.parent / n for n in names]


def _find_safetensors(folder: Folder, prefix: str = "") -> str | None:
    """model.safetensors, model.safetensors.index.json, else the one index or the one file there is
    (names relative to ``folder``, inside ``prefix``)."""
    for name in (SAFETENSORS_SINGLE, SAFETENSORS_INDEX):
        if folder.has(prefix + name):
            return name
    sub = folder.sub(prefix.rstrip("/")) if prefix else folder
    for pattern in ("*.safetensors.index.json", "*.safetensors"):
        found = sub.names(pattern)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise SourceError(f"{sub.name}: several {pattern} files and no {SAFETENSORS_INDEX} "
                              f"({and_more(found)}); name the file to read{folder.pick_hint}")
    return None


def _sentence_transformers_weights(folder: Folder) -> tuple[str | None, str]:
    """sentence-transformers: modules.json names the Transformer module's folder ("" is the root).
    Returns the weights' name inside that folder and the folder as a prefix ("1_Transformer/")."""
    for entry, sub in _modules(folder):
        if str(entry.get("type", "")).endswith(".Transformer"):
            found = _find_safetensors(folder, sub + "/")
            return (found, sub + "/") if found else (None, "")
    return None, ""


def _modules(folder: Folder) -> list[tuple[dict[str, Any], str]]:
    """(entry, folder name) for each modules.json entry with a folder of its own directly inside
    ``folder``; a path that climbs out (``..``) or nests deeper is ignored."""
    if not folder.has("modules.json"):
        return []
    try:
        entries = load_json_in(folder, "modules.json")
    except (HeaderError, SourceError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("path") if isinstance(entry, dict) else None
        if (isinstance(name, str) and name not in ("", ".", "..")
                and "/" not in name and "\\" not in name and folder.has_dir(name)):
            found.append((entry, name))
    return found


def _find_gguf(folder: Folder) -> str | None:
    """One GGUF file, or the first part of one split set; vision projectors (mmproj) are skipped."""
    files = folder.names("*.gguf")
    main = [n for n in files if not n.lower().startswith("mmproj")] or files
    if len(main) <= 1:
        return main[0] if main else None
    from paramscope.formats.gguf import SPLIT_NAME

    splits = {(m["prefix"], m["count"]) for n in main if (m := SPLIT_NAME.match(n))}
    if len(splits) == 1 and all(SPLIT_NAME.match(n) for n in main):
        return main[0]  # sorted: part 00001
    raise SourceError(f"{folder.name}: several GGUF models ({and_more(main)}); "
                      f"name the file to read{folder.pick_hint}")


# --- assembly -------------------------------------------------------------------------------------

def _assemble(folder: Folder, weights: Model, weights_prefix: str, config: Mapping[str, Any] | None) -> Model:
    metadata: dict[str, Any] = dict(weights.metadata)
    arch = weights.config  # a GGUF's own keys describe the file it came with
    if config is not None:
        metadata["config"] = dict(config)
        if arch is None:
            arch, warning = arch_config(config, folder.label(CONFIG))
            if warning:
                metadata["warnings"] = (*metadata.get("warnings", ()), warning)
    extra = _module_weights(folder)
    tensors = weights.tensors + tuple(t for m in extra for t in m.tensors)
    return replace(weights, source=folder.name, tensors=tensors, config=arch, metadata=metadata,
                   files=weights.files + tuple(f for m in extra for f in m.files),
                   tokenizer_files=_tokenizer_files(folder, "", weights_prefix))


def _module_weights(folder: Folder) -> list[Model]:
    """sentence-transformers modules after the Transformer that carry weights of their own (Dense
    layers in ``2_Dense/model.safetensors``); their tensors are named ``2_Dense.linear.weight``."""
    from paramscope.formats import safetensors

    found = []
    for entry, sub in _modules(folder):
        weights = f"{sub}/{SAFETENSORS_SINGLE}"
        if not str(entry.get("type", "")).endswith(".Transformer") and folder.has(weights):
            m = safetensors.read_from(folder, weights, {})
            found.append(replace(m, tensors=tuple(replace(t, name=f"{sub}.{t.name}") for t in m.tensors)))
    return found


def _tokenizer_files(folder: Folder, *prefixes: str) -> tuple[str, ...]:
    """Tokenizer files present, each name once: the first prefix (subfolder) that has it wins."""
    found: dict[str, str] = {}
    for prefix in prefixes:
        for n in TOKENIZER_FILES:
            if n not in found and folder.has(prefix + n):
                found[n] = folder.label(prefix + n)
    return tuple(found[n] for n in TOKENIZER_FILES if n in found)


def _config_only(folder: Folder) -> Model:
    """No weights we read: the config reader builds the tensor list from config.json alone."""
    from paramscope.formats import config_json

    model = config_json.read_from(folder, CONFIG)
    metadata = dict(model.metadata)
    return replace(model, source=folder.name, metadata=metadata,
                   tokenizer_files=model.tokenizer_files or _tokenizer_files(folder, ""))
