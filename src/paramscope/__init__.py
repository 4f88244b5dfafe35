"""paramscope: what is inside a model file, and what it takes to run or train it."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["__version__", "open_model"]

if TYPE_CHECKING:
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
