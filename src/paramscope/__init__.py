"""paramscope: what is inside a model file, and what it takes to run or train it.

The public API is one function per command (docs/python-api.md)::

    import paramscope
    paramscope.inspect("gemma-3-270m-q4_k_m.gguf").inventory.total_params    # 268098176
    paramscope.size("llama-3.1-8b", context=8192, gpu="h100").estimate.total_bytes
    paramscope.fit("mixtral-8x7b", gpu="rtx-4090", ram="64GiB").report.devices_needed

Each returns a frozen result whose ``to_json()`` is the CLI's ``--json``. ``open_model`` gives the
neutral ``Model`` a reader makes of a source; ``tokenizer`` the model's own tokenizer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "catalogue", "diff", "fit", "gpus", "inspect", "ls", "open_model",
           "quantize_error", "scan", "size", "stats", "tokenizer", "tokens", "train", "zoo"]

if TYPE_CHECKING:
    from paramscope.app.catalogue import catalogue
    from paramscope.app.diff import diff
    from paramscope.app.fit import fit
    from paramscope.app.gpus import gpus
    from paramscope.app.inspect import inspect
    from paramscope.app.ls import ls
    from paramscope.app.quantize_error import quantize_error
    from paramscope.app.scan import scan
    from paramscope.app.size import size
    from paramscope.app.stats import stats
    from paramscope.app.tokens import tokens
    from paramscope.app.train import train
    from paramscope.app.zoo import zoo
    from paramscope.model import Model
    from paramscope.tokenize import Tokenizer


def open_model(source: str) -> Model:
    """Read a file, directory, config.json or catalogue name into the neutral ``Model``."""
    from paramscope.formats import open_model as _open

    return _open(source)


def tokenizer(source: str) -> Tokenizer:
    """The tokenizer a model carries (GGUF vocabulary or tokenizer.json), with ``encode`` / ``decode``."""
    from paramscope.tokenize import tokenizer as _tokenizer

    return _tokenizer(source)


def __getattr__(name: str) -> Any:
    """The command functions, imported on first use (``import paramscope`` stays a few milliseconds)."""
    import importlib

    from paramscope.app import COMMANDS

    if name in COMMANDS:
        function = getattr(importlib.import_module(f"paramscope.app.{COMMANDS[name]}"), name)
        globals()[name] = function  # found once; later lookups do not come here
        return function
    raise AttributeError(f"module 'paramscope' has no attribute {name!r}")
