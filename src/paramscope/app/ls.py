"""``paramscope ls``: the models on this machine (Hugging Face cache, Ollama, LM Studio, folders given),
each read to its headers and counted as `inspect` would; or, for ``hf:ORG/NAME``, the models in a Hub
repository: each GGUF file (a split set once) with its size and the quantization its name gives,
without reading it, and the safetensors model read to its headers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramscope.errors import ParamscopeError, UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.contents.inventory import Inventory
    from paramscope.formats.discover import Found
    from paramscope.model import Model


@record
class LsRequest:
    dirs: tuple[str, ...] = ()  # more folders to search
    only: bool = False  # search only the folders given, not the usual places
    workers: int = 8  # header reads in parallel


@record
class ModelRow:
    found: Found
    format: str = ""
    params: int | None = None
    label: str = ""
    stored_as: str = ""  # quantization or dominant dtype
    error: str | None = None


@record
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
    remote = tuple(row for d in req.dirs if looks_remote(d) for row in remote_rows(d))
    if found is None:
        found = models(req)
    results = survey(found, describe, workers=req.workers, progress=progress)
    rows = tuple(r if isinstance(r, ModelRow) else ModelRow(f, error=str(r))
                 for f, r in zip(found, results, strict=True))
    return LsResult(req, remote + rows)


def models(req: LsRequest) -> list[Found]:
    """The models the request's places hold, found by name only (nothing read yet)."""
    from paramscope.formats.discover import discover

    if req.only and not req.dirs:
        raise UsageError("ls --only needs at least one folder")
    local = [d for d in req.dirs if not looks_remote(d)]
    if len(local) < len(req.dirs) and not local:
        return []  # only repositories named: their listings, not this machine's models
    return discover([Path(d).expanduser() for d in local], defaults=not req.only)


def looks_remote(text: str) -> bool:
    from paramscope.sources.remote import looks_remote as remote

    return remote(text)


def remote_rows(text: str) -> list[ModelRow]:
    """The models of a Hub repository, from its listing: GGUF files by name (a split set once, its
    size summed), and the safetensors model read to its headers."""
    from paramscope.formats.discover import Found
    from paramscope.sources.remote import HF, parse

    ref = parse(text)
    if ref is None or ref.scheme != HF or ref.file:
        raise UsageError(f"{text}: ls lists a Hugging Face repository, written hf:ORG/NAME[@REVISION]")
    from paramscope.sources.hub import HubFolder, open_repo

    folder = open_repo(ref)
    if not isinstance(folder, HubFolder):  # offline: the cached snapshot, as a folder on disk
        return [describe(f) for f in models(LsRequest((str(folder.path),), only=True))]
    rows = []
    for first, names in _gguf_sets(folder.all_names()):
        size = sum(folder.size(n) for n in names)
        found = Found(first, "hf", "gguf", tuple(Path(f"{ref.name}/{n}") for n in names), size, folder.commit,
                      (f"{len(names)} splits",) if len(names) > 1 else ())
        rows.append(ModelRow(found, "gguf", stored_as=quant_from_name(first)))
    weights = [n for n in folder.all_names() if n.endswith(".safetensors")]
    if weights:
        found = Found(ref.repo, "hf", "hf-dir", (Path(ref.name),), sum(folder.size(n) for n in weights),
                      folder.commit)
        try:
            from paramscope.analyses.contents.inventory import inventory
            from paramscope.formats.remote import open_remote

            model = open_remote(ref)
            inv = inventory(model)
            rows.append(ModelRow(found, model.format, inv.total_params, inv.label, stored_as(model, inv)))
        except ParamscopeError as e:
            rows.append(ModelRow(found, error=str(e)))
    return rows


def _gguf_sets(names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(first file, all its files) for each GGUF model among ``names``: split parts grouped."""
    from paramscope.formats.gguf import SPLIT_NAME

    sets: dict[str, list[str]] = {}
    for n in sorted(names):
        if not n.lower().endswith(".gguf"):
            continue
        folder, _, base = n.rpartition("/")
        m = SPLIT_NAME.match(base)
        key = f"{folder}/{m['prefix']}-of-{m['count']}" if m else n
        sets.setdefault(key, []).append(n)
    return [(files[0], files) for files in sets.values()]


def quant_from_name(name: str) -> str:
    """The llama.cpp file type a GGUF file's name states (``…-Q4_K_M.gguf``, ``….IQ2_XXS.gguf``), as
    llama-quantize names them; "" when the name states none."""
    import re

    from paramscope.knowledge.quant_schemes import FILE_TYPES

    known = sorted({*FILE_TYPES, "F32", "F16", "BF16"}, key=len, reverse=True)
    base = name.rpartition("/")[2]
    for q in known:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(q)}(?![A-Za-z0-9])", base, re.IGNORECASE):
            return q
    return ""


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
