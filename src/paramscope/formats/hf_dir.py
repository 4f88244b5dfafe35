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
from dataclasses import replace
from pathlib import Path
from typing import Any

from paramscope.errors import FormatError, HeaderError, SourceError, UnsupportedError, and_more
from paramscope.formats.hf_json import CONFIG, load_json, quantization_config_of, read_config
from paramscope.model import ArchConfig, Model

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
    config = read_config(folder)
    weights = _read_weights(folder, config)
    if weights is None:
        if config is None:
            raise SourceError(f"{folder}: no model weights and no {CONFIG} found (looked for {LOOKED_FOR})")
        return _config_only(folder)
    return _assemble(folder, weights, config)


def arch_config(config: Mapping[str, Any], config_path: Path) -> tuple[ArchConfig | None, str | None]:
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

def _read_weights(folder: Path, config: Mapping[str, Any] | None) -> Model | None:
    """The first kind of weights the directory holds, or None when it holds none we read."""
    qc = quantization_config_of(folder, config)
    found = _find_safetensors(folder) or _sentence_transformers_weights(folder)
    if found is not None:
        from paramscope.formats import safetensors

        return safetensors.read(found, qc)
    gguf = _find_gguf(folder)
    if gguf is not None:
        from paramscope.formats import gguf as gguf_reader

        return gguf_reader.read(gguf)
    return _read_pickle_weights(folder)


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


def _find_safetensors(folder: Path) -> Path | None:
    """model.safetensors, model.safetensors.index.json, else the one index or the one file there is."""
    for name in (SAFETENSORS_SINGLE, SAFETENSORS_INDEX):
        if (folder / name).is_file():
            return folder / name
    for pattern in ("*.safetensors.index.json", "*.safetensors"):
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = [p.name for p in found]
            raise SourceError(f"{folder}: several {pattern} files and no {SAFETENSORS_INDEX} "
                              f"({and_more(names)}); name the file to read")
    return None


def _sentence_transformers_weights(folder: Path) -> Path | None:
    """sentence-transformers: modules.json names the Transformer module's folder ("" is the root)."""
    for entry, sub in _modules(folder):
        if str(entry.get("type", "")).endswith(".Transformer"):
            return _find_safetensors(sub)
    return None


def _modules(folder: Path) -> list[tuple[dict[str, Any], Path]]:
    """(entry, folder) for each modules.json entry with a folder of its own directly inside ``folder``;
    a path that climbs out (``..``) or nests deeper is ignored."""
    path = folder / "modules.json"
    if not path.is_file():
        return []
    try:
        entries = load_json(path)
    except HeaderError:
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("path") if isinstance(entry, dict) else None
        if (isinstance(name, str) and name not in ("", ".", "..")
                and "/" not in name and "\\" not in name):
            sub = folder / name
            if sub.is_dir():
                found.append((entry, sub))
    return found


def _find_gguf(folder: Path) -> Path | None:
    """One GGUF file, or the first part of one split set; vision projectors (mmproj) are skipped."""
    files = sorted(p for p in folder.glob("*.gguf") if p.is_file())
    main = [p for p in files if not p.name.lower().startswith("mmproj")] or files
    if len(main) <= 1:
        return main[0] if main else None
    from paramscope.formats.gguf import SPLIT_NAME

    splits = {(m["prefix"], m["count"]) for p in main if (m := SPLIT_NAME.match(p.name))}
    if len(splits) == 1 and all(SPLIT_NAME.match(p.name) for p in main):
        return main[0]  # sorted: part 00001
    raise SourceError(f"{folder}: several GGUF models ({and_more([p.name for p in main])}); "
                      "name the file to read")


# --- assembly -------------------------------------------------------------------------------------

def _assemble(folder: Path, weights: Model, config: Mapping[str, Any] | None) -> Model:
    metadata: dict[str, Any] = dict(weights.metadata)
    arch = weights.config  # a GGUF's own keys describe the file it came with
    if config is not None:
        metadata["config"] = dict(config)
        if arch is None:
            arch, warning = arch_config(config, folder / CONFIG)
            if warning:
                metadata["warnings"] = (*metadata.get("warnings", ()), warning)
    weights_folder = Path(weights.files[0]).parent if weights.files else folder
    extra = _module_weights(folder)
    tensors = weights.tensors + tuple(t for m in extra for t in m.tensors)
    return replace(weights, source=str(folder), tensors=tensors, config=arch, metadata=metadata,
                   files=weights.files + tuple(f for m in extra for f in m.files),
                   tokenizer_files=_tokenizer_files(folder, weights_folder))


def _module_weights(folder: Path) -> list[Model]:
    """sentence-transformers modules after the Transformer that carry weights of their own (Dense
    layers in ``2_Dense/model.safetensors``); their tensors are named ``2_Dense.linear.weight``."""
    from paramscope.formats import safetensors

    found = []
    for entry, sub in _modules(folder):
        weights = sub / SAFETENSORS_SINGLE
        if not str(entry.get("type", "")).endswith(".Transformer") and weights.is_file():
            m = safetensors.read(weights, {})
            found.append(replace(m, tensors=tuple(replace(t, name=f"{sub.name}.{t.name}")
                                                  for t in m.tensors)))
    return found


def _tokenizer_files(*folders: Path) -> tuple[str, ...]:
    """Tokenizer files present, each name once: the first folder that has it wins."""
    found: dict[str, str] = {}
    for folder in folders:
        for n in TOKENIZER_FILES:
            if n not in found and (folder / n).is_file():
                found[n] = str(folder / n)
    return tuple(found[n] for n in TOKENIZER_FILES if n in found)


def _config_only(folder: Path) -> Model:
    """No weights we read: the config reader builds the tensor list from config.json alone."""
    from paramscope.formats import config_json

    model = config_json.read(folder / CONFIG)
    metadata = dict(model.metadata)
    return replace(model, source=str(folder), metadata=metadata,
                   tokenizer_files=model.tokenizer_files or _tokenizer_files(folder))
