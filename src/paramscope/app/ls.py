"""``paramscope ls``: the models on this machine (Hugging Face cache, Ollama, LM Studio, folders given),
each read to its headers and counted as `inspect` would."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramscope.errors import UsageError

if TYPE_CHECKING:
    from paramscope.analyses.contents.inventory import Inventory
    from paramscope.formats.discover import Found
    from paramscope.model import Model


@dataclass(frozen=True, slots=True)
class LsRequest:
    dirs: tuple[str, ...] = ()  # more folders to search
    only: bool = False  # search only the folders given, not the usual places
    workers: int = 8  # header reads in parallel


@dataclass(frozen=True, slots=True)
class ModelRow:
    found: Found
    format: str = ""
    params: int | None = None
    label: str = ""
    stored_as: str = ""  # quantization or dominant dtype
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LsResult:
    request: LsRequest
    rows: tuple[ModelRow, ...]
    exit_code: int = 0

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": r.found.name, "where": r.found.place, "format": r.format or None,
                 "reader": r.found.format, "params": r.params, "label": r.label or None,
                 "stored_as": r.stored_as or None, "size_bytes": r.found.size,
                 "revision": r.found.revision or None,
                 "path": str(r.found.path), "files": [str(p) for p in r.found.paths], "error": r.error}
                for r in self.rows]


def ls(request: LsRequest | None = None, *, progress: Callable[[int], None] | None = None,
       found: Sequence[Found] | None = None, **options: Any) -> LsResult:
    """``paramscope.ls(dirs=["~/models"]).rows``; ``progress`` is called with each model read."""
    from paramscope.formats.discover import survey

    if request is None:
        if "dirs" in options:
            options["dirs"] = tuple(options["dirs"])
        request = LsRequest(**options)
    req = request
    if found is None:
        found = models(req)
    results = survey(found, describe, workers=req.workers, progress=progress)
    rows = tuple(r if isinstance(r, ModelRow) else ModelRow(f, error=str(r))
                 for f, r in zip(found, results, strict=True))
    return LsResult(req, rows)


def models(req: LsRequest) -> list[Found]:
    """The models the request's places hold, found by name only (nothing read yet)."""
    from paramscope.formats.discover import discover

    if req.only and not req.dirs:
        raise UsageError("ls --only needs at least one folder")
    return discover([Path(d).expanduser() for d in req.dirs], defaults=not req.only)


def describe(found: Found) -> ModelRow:
    """Read one model's headers and count it, as `inspect` would."""
    from paramscope.analyses.contents.inventory import inventory
    from paramscope.formats.registry import reader

    model = reader(found.format).read(found.path)
    inv = inventory(model)
    return ModelRow(found, model.format, inv.total_params, inv.label, stored_as(model, inv))


def stored_as(model: Model, inv: Inventory) -> str:
    """The quantization a file declares (GGUF file type, quantization_config), else its main dtype."""
    q = model.quantization
    if q is not None and (q.method != "gguf" or q.file_type):
        return q.label
    return next(iter(inv.by_dtype), "")
