"""The small JSON files of a Hugging Face model folder: config.json and the quantization config.

Shared by the folder reader and by the safetensors and PyTorch readers, which consult a weights file's
neighbours for its quantization config (the packing conventions of knowledge/packing.py). A folder is
a directory or a remote repository (``sources.folder``); a path stands for its directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paramscope.errors import HeaderError, SourceError
from paramscope.sources.folder import Folder, as_folder

CONFIG = "config.json"
MAX_CONFIG_BYTES = 10_000_000
# Quantizers that predate quantization_config in config.json wrote their own file:
# AutoGPTQ quantize_config.json {"bits": 4, …}, AutoAWQ quant_config.json {"w_bit": 4, …}.
LEGACY_QUANT_FILES = (("quantize_config.json", "gptq"), ("quant_config.json", "awq"))


def read_config(folder: Folder | str | os.PathLike[str]) -> dict[str, Any] | None:
    """config.json as a dict; a config that is there but unreadable is an error, not a shrug."""
    folder = as_folder(folder)
    if not folder.has(CONFIG):
        return None
    value = load_json_in(folder, CONFIG)
    if not isinstance(value, dict):
        raise HeaderError(folder.label(CONFIG), "config is not a JSON object", type(value).__name__)
    return value


def load_json(path: Path) -> Any:
    path = Path(path)
    return load_json_in(as_folder(path.parent), path.name)


def load_json_in(folder: Folder, rel: str) -> Any:
    raw = folder.read_whole(rel, MAX_CONFIG_BYTES, "the file")
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise HeaderError(folder.label(rel), "not valid JSON", " ".join(str(e).split())[:200]) from None


def quantization_config_of(folder: Folder | str | os.PathLike[str],
                           config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """config.json's quantization_config, else a legacy quantizer file's; {} when there is none.

    Lenient on purpose: a safetensors file read on its own consults its neighbours only for this, and
    a broken neighbour must not stop it.
    """
    folder = as_folder(folder)
    if config is None:
        try:
            config = read_config(folder)
        except (HeaderError, SourceError):
            config = None
    qc = (config or {}).get("quantization_config")
    if isinstance(qc, dict):
        return qc
    mlx = (config or {}).get("quantization")  # mlx_lm: {"group_size": 64, "bits": 4} at the top level
    if isinstance(mlx, dict) and "bits" in mlx:
        return {"quant_method": "mlx", **mlx}
    for name, method in LEGACY_QUANT_FILES:
        if folder.has(name):
            try:
                legacy = load_json_in(folder, name)
            except (HeaderError, SourceError):
                continue
            if isinstance(legacy, dict):
                return {"quant_method": method, **legacy}
    return {}
