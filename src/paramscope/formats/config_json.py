"""A Hugging Face ``config.json`` alone: the tensors a checkpoint of it would hold, without weights.

The file is read whole but bounded (configs are a few KiB; 16 MiB is far beyond any real one), parsed
as JSON, and handed to ``knowledge.families``, which knows the layout of each ``model_type``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramscope.errors import HeaderError
from paramscope.formats.hf_json import CONFIG, check_config, legacy_quantization_config, parse_json
from paramscope.knowledge.config_tensors import config_tensors
from paramscope.knowledge.families import arch_config_from_hf, expected_tensors
from paramscope.knowledge.quant_configs import from_config, from_hf_config
from paramscope.model import Model, Quantization
from paramscope.sources.folder import Folder, LocalFolder
from paramscope.sources.local import read_small_file

NAME = "config"
MAX_CONFIG_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"


def sniff(head: bytes, path: Path) -> bool:
    """A ``.json`` file that opens a JSON object and is not a sharded-safetensors index."""
    name = path.name.lower()
    if not name.endswith(".json") or name.endswith(".index.json"):
        return False
    return head.removeprefix(_BOM).lstrip().startswith(b"{") and b'"weight_map"' not in head


def read(path: Path) -> Model:
    path = Path(path)
    return read_from(LocalFolder(path.parent), path.name)


def read_from(folder: Folder, name: str) -> Model:
    """File ``name`` of ``folder`` (a directory, a Hub repository), read whole and bounded."""
    source = folder.label(name)
    cfg = parse(folder.read_whole(name, MAX_CONFIG_BYTES, "config"), source)
    # quantized checkpoints are listed as stored (knowledge/quant_layouts.py): as config.json declares, else
    # as a quantizer's own file beside it does (hf_json.LEGACY_QUANT_FILES: ModelOpt's hf_quant_config.json)
    quantization = from_config(cfg) or _legacy_quantization(folder, name, cfg)
    tensors, notes = config_tensors(expected_tensors(cfg, source), quantization, cfg)
    metadata: dict[str, Any] = {"config": cfg, **({"warnings": notes} if notes else {})}
    return Model(format=NAME, source=source, tensors=tensors, config=arch_config_from_hf(cfg, source),
                 metadata=metadata, files=(source,), has_weights=False, quantization=quantization)


def _legacy_quantization(folder: Folder, name: str, cfg: dict[str, Any]) -> Quantization | None:
    """The quantization a legacy quantizer file beside ``name`` declares, for a file named config.json
    only (another JSON file opened as a config has no checkpoint folder to speak for)."""
    if name.rsplit("/", 1)[-1] != CONFIG or isinstance(cfg.get("quantization_config"), dict):
        return None  # a declaration in config.json, even one not read, is the one engines take
    found = legacy_quantization_config(folder)
    return from_hf_config(found[1], found[0]) if found else None


def load(path: Path) -> dict[str, Any]:
    """The parsed JSON object; every failure is a ``HeaderError`` naming the file and the place."""
    data = read_small_file(path, MAX_CONFIG_BYTES, "config")
    return parse(data, str(path))


def parse(data: bytes, name: str) -> dict[str, Any]:
    """config.json parsed by the one checked JSON parse (hf_json.parse_json); a BOM is let through."""
    cfg = parse_json(data, name, "utf-8-sig")
    if not isinstance(cfg, dict):
        raise HeaderError(name, "config must be a JSON object", found=type(cfg).__name__)
    return check_config(cfg, name)
