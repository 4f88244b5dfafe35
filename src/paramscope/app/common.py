"""What every application function shares: how a source becomes a ``Model``, and the result protocol.

A source is whatever a user names (a path, a directory, a config.json, a catalogue name,
``hf:ORG/NAME[@REV][/FILE]``, ``ollama:NAME[:TAG]``) or a ``Model`` already open, so a notebook can
open a file once and ask several questions of it.
"""

from __future__ import annotations

import math
import os
from typing import Any, Protocol, TypeAlias

from paramscope.model import Model

Source: TypeAlias = "str | os.PathLike[str] | Model"


class Result(Protocol):
    """A command's answer: frozen, typed, and ``to_json()`` is exactly the CLI's ``--json``."""

    def to_json(self) -> Any: ...

    @property
    def exit_code(self) -> int: ...


def open_source(source: Source) -> Model:
    if isinstance(source, Model):
        return source
    from paramscope.formats import open_model

    return open_model(source)


def remote_json(model: Model) -> dict[str, Any]:
    """``{"bytes_fetched": N}`` for a model read over the network (hf:, ollama:), else ``{}``: the
    top-level key every command's ``--json`` carries for a remote source."""
    remote = model.metadata.get("remote")
    if isinstance(remote, dict) and "bytes_fetched" in remote:
        return {"bytes_fetched": remote["bytes_fetched"]}
    return {}


def source_text(source: Source) -> str:
    return source.source if isinstance(source, Model) else os.fspath(source)


def finite(v: float | None) -> float | None:
    """JSON has no NaN or Infinity: those become null."""
    return None if v is None or not math.isfinite(v) else v
