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
# AutoGPTQ quantize_config.json {"bits": 4, …}, AutoAWQ quant_config.json {"w_bit": 4, …}, NVIDIA Model
# Optimizer hf_quant_config.json {"producer": …, "quantization": {"quant_algo": "NVFP4", …}} (ModelOpt
# 0.29 and before; vLLM's transformers_utils/config.py reads it where config.json declares nothing). Its
# nested "quantization" is lifted to the top, where config.json's quantization_config holds the same fields.
LEGACY_QUANT_FILES = (("quantize_config.json", "gptq"), ("quant_config.json", "awq"),
                      ("hf_quant_config.json", "modelopt"))


def read_config(folder: Folder | str | os.PathLike[str]) -> dict[str, Any] | None:
    """config.json as a dict; a config that is there but unreadable is an error, not a shrug."""
    folder = as_folder(folder)
    if not folder.has(CONFIG):
        return None
    value = load_json_in(folder, CONFIG)
    if not isinstance(value, dict):
        raise HeaderError(folder.label(CONFIG), "config is not a JSON object", type(value).__name__)
    return check_config(value, folder.label(CONFIG))


# The fields every config has whose type transformers fixes (configuration_utils.py, PretrainedConfig:
# model_type a str that keys AutoConfig's CONFIG_MAPPING, architectures Optional[list[str]]), checked
# once here for the config and each nested sub-config (text_config, vision_config, …, as
# PretrainedConfig.sub_configs nests them), so no family code meets a list where a name belongs.
CONFIG_FIELD_TYPES: dict[str, tuple[type, ...]] = {"model_type": (str,), "architectures": (list,)}


def check_config(cfg: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    """``cfg``, once its typed fields and those of its sub-configs are of their types (None allowed)."""
    for key, types in CONFIG_FIELD_TYPES.items():
        value = cfg.get(key)
        if value is not None and not isinstance(value, types):
            raise HeaderError(name, f"field {where}{key!r} must be a {_type_words(key)}", repr(value)[:60])
    archs = cfg.get("architectures")
    if archs is not None and not all(isinstance(a, str) for a in archs):
        raise HeaderError(name, f"field {where}'architectures' must be a list of class names",
                          repr(archs)[:60])
    for key, value in cfg.items():
        if key.endswith("_config") and isinstance(value, dict) and key != "quantization_config":
            check_config(value, name, f"{where}{key}.")
    return cfg


def _type_words(key: str) -> str:
    return "list of class names" if key == "architectures" else "string"


def load_json(path: Path) -> Any:
    path = Path(path)
    return load_json_in(as_folder(path.parent), path.name)


def load_json_in(folder: Folder, rel: str) -> Any:
    return parse_json(folder.read_whole(rel, MAX_CONFIG_BYTES, "the file"), folder.label(rel))


def parse_json(raw: bytes, name: str, encoding: str = "utf-8") -> Any:
    """The one checked parse of a model's small JSON files: every failure a ``HeaderError`` naming the
    file. Besides text that is not JSON, json.loads fails three more ways that are not JSONDecodeError:
    bytes that do not decode (UnicodeDecodeError), nesting deeper than the interpreter's recursion limit
    (RecursionError), and an integer of more than 4,300 digits (ValueError: CPython's
    ``sys.get_int_max_str_digits()``, the guard against quadratic int parsing, CVE-2020-10735)."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise HeaderError(name, f"not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise HeaderError(name, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise HeaderError(name, "not valid JSON: nested too deeply") from None
    except ValueError as e:
        raise HeaderError(name, "not valid JSON", " ".join(str(e).split())[:120]) from None


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
    found = legacy_quantization_config(folder)
    return found[1] if found else {}


def legacy_quantization_config(folder: Folder) -> tuple[str, dict[str, Any]] | None:
    """The first readable quantizer file of LEGACY_QUANT_FILES in the folder and its declaration, with
    ``quant_method`` set (ModelOpt's nested "quantization" lifted to the top); None when there is none."""
    for name, method in LEGACY_QUANT_FILES:
        if folder.has(name):
            try:
                legacy = load_json_in(folder, name)
            except (HeaderError, SourceError):
                continue
            if isinstance(legacy, dict):
                nested = legacy.get("quantization")
                lifted = nested if isinstance(nested, dict) else {}
                return name, {"quant_method": method, **legacy, **lifted}
    return None
