"""paramscope ls [DIR…]: the models already on this machine."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramscope.analyses.contents.inventory import Inventory
    from paramscope.errors import ParamscopeError
    from paramscope.model import Model
    from paramscope.sources.local_models import Found

HELP = "the models on this machine: Hugging Face cache, Ollama, LM Studio and any folders given"
DESCRIPTION = """\
Finds the models on this machine and reads only their headers: the Hugging Face cache (HF_HOME,
HF_HUB_CACHE, ~/.cache/huggingface/hub: every snapshot), Ollama (OLLAMA_MODELS, ~/.ollama/models:
model:tag → its GGUF blob), LM Studio (~/.lmstudio/models, ~/.cache/lm-studio/models) and any folders
given. One row each: name, format, parameters, stored type or quantization, size on disk, path.

examples:
  paramscope ls
  paramscope ls ~/models /data/checkpoints --only --json"""
PROGRESS_ABOVE = 16  # models: a progress bar on a terminal when there are more than this


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", metavar="DIR", nargs="*", help="more folders to search")
    p.add_argument("--only", action="store_true", help="search only the folders given, not the usual places")
    p.add_argument("--workers", type=int, default=8, help="header reads in parallel (default 8)")


@dataclass(frozen=True, slots=True)
class ModelRow:
    found: Found
    format: str = ""
    params: int | None = None
    label: str = ""
    stored_as: str = ""  # quantization or dominant dtype
    error: str | None = None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from paramscope.errors import SourceError
    from paramscope.sources.local_models import discover

    if args.only and not args.dirs:
        raise SourceError("ls --only needs at least one folder")
    found = discover([Path(d).expanduser() for d in args.dirs], defaults=not args.only)
    results = _survey(found, args.workers, show_progress=not args.as_json)
    rows = [r if isinstance(r, ModelRow) else ModelRow(f, error=str(r))
            for f, r in zip(found, results, strict=True)]
    if args.as_json:
        from paramscope.render.jsonable import dump
        from paramscope.render.ls_view import ls_json

        dump(ls_json(rows))
        return 0
    from paramscope.cli.app import console
    from paramscope.render.ls_view import render_ls

    render_ls(rows, console())
    return 0


def _survey(found: list[Found], workers: int, *, show_progress: bool) -> list[ModelRow | ParamscopeError]:
    """Every model described in parallel, with a progress bar on a terminal for long lists."""
    import sys

    from paramscope.sources.local_models import survey

    if not show_progress or len(found) <= PROGRESS_ABOVE or not sys.stderr.isatty():
        return survey(found, describe, workers=workers)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading headers", total=len(found))
        return survey(found, describe, workers=workers, progress=lambda n: bar.advance(task, n))


def describe(found: Found) -> ModelRow:
    """Read one model's headers and count it, as `inspect` would."""
    from paramscope.analyses.contents.inventory import inventory
    from paramscope.formats import reader

    mod = reader(found.reader)
    models = [mod.read(p) for p in found.paths]
    model = models[0] if len(models) == 1 else _merged(models, found)
    inv = inventory(model)
    return ModelRow(found, model.format, inv.total_params, inv.label, stored_as(model, inv))


def _merged(models: list[Model], found: Found) -> Model:
    """Shards of one checkpoint (pytorch_model-00001-of-00002.bin …) as one model."""
    from dataclasses import replace

    return replace(models[0], source=str(found.path.parent),
                   tensors=tuple(t for m in models for t in m.tensors),
                   files=tuple(f for m in models for f in m.files))


def stored_as(model: Model, inv: Inventory) -> str:
    """The quantization a file declares (GGUF file type, quantization_config), else its main dtype."""
    from paramscope.knowledge.quant_schemes import FILE_TYPES

    ftype = model.metadata.get("general.file_type")
    if isinstance(ftype, int):
        named = {f.ftype: f.name for f in FILE_TYPES.values()} | {0: "F32", 1: "F16", 32: "BF16"}
        if ftype in named:
            return named[ftype]
    qc = (model.metadata.get("config") or {}).get("quantization_config")
    if isinstance(qc, dict) and qc.get("quant_method"):
        bits = qc.get("bits") or qc.get("w_bit")
        return f"{qc['quant_method']}" + (f" {bits}-bit" if bits else "")
    return next(iter(inv.by_dtype), "")
