"""Every format paramscope reads, one row each: the one place a format is named.

A row says how a file of the format is recognised (name endings, first bytes), whether loading it with
its usual library could run code (pickle-based formats: what `scan` looks into), whether it holds
weights, and which module in this package reads it (``sniff(head, path)``, ``read(path)``). Opening a
file (``formats.open_file``), finding models on disk (``formats.discover``: `ls`, `serve`), choosing
what `scan` reads and what the web page lists all read this table; a new format is a module and a row.
Nothing here imports a reader, so asking the table costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from paramscope.records import record


@record
class Format:
    """A format paramscope reads: its reader module and how its files are recognized."""

    name: str  # the reader's NAME and Model.format: "gguf", "safetensors", "pytorch" …
    module: str  # module in paramscope.formats that reads it
    description: str
    suffixes: tuple[str, ...] = ()  # lower-case name endings of its files
    magic: tuple[bytes, ...] = ()  # first bytes of its files, where the format has any
    can_carry_code: bool = False  # loading it with its usual library could run code (pickles)
    holds_weights: bool = True  # False: a description only (config.json)
    discoverable: bool = True  # `ls` lists loose files of this format (config.json alone is not a model)
    # the first bytes alone decide (a file without ``magic`` is not of this format), so telling a file
    # is *not* of it needs no import of its reader (GGUF's brings numpy: ~80 ms of start-up)
    magic_decides: bool = False

    def may_be(self, head: bytes) -> bool:
        """False only when the first bytes rule this format out without asking its reader."""
        return not self.magic_decides or head.startswith(self.magic)

    def reader(self) -> ModuleType:
        return importlib.import_module(f"{__package__}.{self.module}")


# In sniffing order: formats with magic bytes first, then those known by name only.
FILE_FORMATS: tuple[Format, ...] = (
    Format("gguf", "gguf", "GGUF (llama.cpp, Ollama, LM Studio)", (".gguf",), (b"GGUF",),
           magic_decides=True),
    Format("safetensors", "safetensors", "safetensors (one file, or shards with their index)",
           (".safetensors", ".safetensors.index.json")),
    Format("config", "config_json", "Hugging Face config.json (the architecture, no weights)", (".json",),
           holds_weights=False, discoverable=False),
    Format("pytorch", "pytorch", "PyTorch checkpoint (torch.save zip or legacy pickle)",
           (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"), (b"PK\x03\x04", b"\x80"),
           can_carry_code=True),
    Format("onnx", "onnx_reader", "ONNX model (with external data files)", (".onnx",)),
)
DIRECTORY = Format("hf-dir", "hf_dir", "Hugging Face model folder (config.json beside its weights)")
FORMATS: tuple[Format, ...] = (*FILE_FORMATS, DIRECTORY)
_BY_NAME = {f.name: f for f in FORMATS}


def by_name(name: str) -> Format:
    return _BY_NAME[name]


def reader(name: str) -> ModuleType:
    """The reader module of the format called ``name``."""
    return _BY_NAME[name].reader()


def by_suffix(filename: str) -> Format | None:
    """The format a file name says it is (the longest matching ending), or None."""
    lower = filename.lower()
    matches = [(len(s), f) for f in FILE_FORMATS for s in f.suffixes if lower.endswith(s)]
    return max(matches, key=lambda m: m[0])[1] if matches else None


def weight_suffixes() -> tuple[str, ...]:
    """Name endings of files that hold weights (what `ls` looks for in a folder)."""
    return tuple(s for f in FILE_FORMATS if f.holds_weights and f.discoverable for s in f.suffixes
                 if not s.endswith(".json"))


def code_formats() -> tuple[Format, ...]:
    """Formats whose loading could run code: the ones `scan` reads."""
    return tuple(f for f in FILE_FORMATS if f.can_carry_code)


def names() -> tuple[str, ...]:
    return tuple(f.name for f in FORMATS)
