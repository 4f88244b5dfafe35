"""Well-known models by name: real ``config.json`` files kept in this folder, with published counts.

A name is the lowercase file stem (``Llama-3.1-8B.json`` → ``llama-3.1-8b``) or an alias from
``ALIASES``; lookups ignore case and an ``org/`` prefix (``meta-llama/Llama-3.1-8B``). Published
totals come from ``published.csv`` (the shared reference set) and ``extra_published.csv`` (configs
added here), one row per config file: total, active, how exact, and where the figure comes from.
Famous closed models (``closed.py``) are names too: opening one raises ``ClosedModelError`` with a plain
statement of what is publicly known instead of a file error.
"""

from __future__ import annotations

import csv
import io
import json
import os
from functools import cache, lru_cache
from typing import Any

from paramscope.errors import SourceError
from paramscope.model import Model
from paramscope.records import record

PUBLISHED_FILES = ("published.csv", "extra_published.csv")
# Short names people type → catalogue name.
ALIASES: dict[str, str] = {
    "mixtral-8x7b": "mixtral-8x7b-v0.1",
    "mistral-7b": "mistral-7b-v0.1",
    "llama-2-7b": "llama-2-7b-hf",
    "phi-3-mini": "phi-3-mini-4k-instruct",
    "phi-3-mini-4k": "phi-3-mini-4k-instruct",
    "qwen1.5-moe": "qwen1.5-moe-a2.7b",
    "gpt-2": "gpt2",
    "minilm": "all-minilm-l6-v2",
}


@record
class Entry:
    """A catalogue config: its file, aliases and published parameter counts."""

    name: str
    file: str
    aliases: tuple[str, ...] = ()
    total_params: int | None = None  # published total, when one is published
    active_params: int | None = None
    exactness: str = ""  # "exact", "rounded", "exact total / rounded active"…
    source: str = ""  # where the published figure comes from
    repo: str = ""  # the Hugging Face repository the config is from (hub_repos.csv): what engines load

    @property
    def exact_total(self) -> bool:
        return self.exactness.startswith("exact")


def _folder() -> str:
    # the files beside this module, read with os and open(): importlib.resources would cost start-up
    # ~3 ms (zipfile, tempfile), and pathlib ~4 ms (it imports urllib.parse, which imports ipaddress)
    return os.path.dirname(__file__)


def _read(name: str) -> str:
    with open(os.path.join(_folder(), name), encoding="utf-8") as f:
        return f.read()


@cache
def _published() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for name in PUBLISHED_FILES:
        if os.path.isfile(os.path.join(_folder(), name)):
            for row in csv.DictReader(io.StringIO(_read(name))):
                rows[row["config"]] = row
    return rows


@cache
def _repos() -> dict[str, str]:
    return {row["config"]: row["repo"] for row in csv.DictReader(io.StringIO(_read("hub_repos.csv")))}


def _int(text: str | None) -> int | None:
    return int(text) if text and text.strip() else None


@cache
def _entries() -> dict[str, Entry]:
    published = _published()
    out: dict[str, Entry] = {}
    files = sorted((name for name in os.listdir(_folder()) if name.endswith(".json")), key=str.lower)
    for file in files:
        name = file.removesuffix(".json").lower()
        row = published.get(file, {})
        out[name] = Entry(
            name=name, file=file, aliases=tuple(sorted(a for a, n in ALIASES.items() if n == name)),
            total_params=_int(row.get("total_params")), active_params=_int(row.get("active_params")),
            exactness=row.get("exactness", ""), source=row.get("source", ""), repo=_repos().get(file, ""))
    return out


def entries() -> list[Entry]:
    return list(_entries().values())


def _key(name: str) -> str:
    key = _strip_org(name.strip().lower()).removesuffix(".json")
    return ALIASES.get(key, key)


def _strip_org(name: str) -> str:
    """``org/name`` (a Hugging Face repo id) → ``name``; anything else with a slash stays unmatched."""
    org, slash, rest = name.partition("/")
    if slash and org.strip(".") and rest and "/" not in rest:
        return rest
    return name


def has(name: str) -> bool:
    """Is this a name the catalogue answers: a config it ships, or a closed model it knows of?"""
    if _key(name) in _entries():
        return True
    from paramscope.knowledge.catalogue import closed

    return closed.find(name) is not None


def suggest(name: str, n: int = 3) -> list[str]:
    """Close catalogue names and aliases, best first."""
    known = [*_entries(), *(a for a, n in ALIASES.items() if n in _entries())]
    import difflib  # only when a name is not found

    return difflib.get_close_matches(_strip_org(name.strip().lower()), known, n=n, cutoff=0.5)


def lookup(name: str) -> Entry:
    entry = _entries().get(_key(name))
    if entry is None:
        from paramscope.knowledge.catalogue import closed

        if (gone := closed.find(name)) is not None:
            raise closed.ClosedModelError(gone.statement)
        close = suggest(name)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise SourceError(f"{name}: not a catalogue name{hint} (known: {', '.join(_entries())})")
    return entry


def load_config(name: str) -> dict[str, Any]:
    """The entry's config.json, parsed."""
    entry = lookup(name)
    cfg = json.loads(_read(entry.file))
    if not isinstance(cfg, dict):
        raise SourceError(f"{name}: catalogue file {entry.file} is not a JSON object")
    return cfg


def open_entry(name: str) -> Model:
    """The entry as a ``Model`` built from its config (format "config", no weights)."""
    return _open_entry(lookup(name).name)


# The entries are files of the package, read once (_entries); a Model is frozen, so the one built from an
# entry stays true while the process lives. The last few are kept: DeepSeek-V3's 90k tensors take a
# second to list (and their inventory, memoized per Model, as long again), and a server, a search or
# `catalogue` beside `size` asks for the same names again and again.
@lru_cache(maxsize=32)
def _open_entry(name: str) -> Model:
    from paramscope.knowledge.config_tensors import config_tensors
    from paramscope.knowledge.families import arch_config_from_hf, expected_tensors

    entry = lookup(name)
    cfg = load_config(entry.name)
    published = {"total_params": entry.total_params, "active_params": entry.active_params,
                 "exactness": entry.exactness, "source": entry.source}
    quantization = None
    if "quantization_config" in cfg or "quantization" in cfg:  # the readers' tables load only then
        from paramscope.knowledge.quant_configs import from_config

        quantization = from_config(cfg)  # gpt-oss (MXFP4), DeepSeek-V3/R1 (FP8): listed as stored
    tensors, notes = config_tensors(expected_tensors(cfg, entry.name), quantization, cfg)
    return Model(format="config", source=entry.name, tensors=tensors,
                 config=arch_config_from_hf(cfg, entry.name),
                 metadata={"config": cfg, "catalogue": entry.file, "published": published,
                           **({"hub_repo": entry.repo} if entry.repo else {}),
                           **({"warnings": notes} if notes else {})},
                 has_weights=False, quantization=quantization)
