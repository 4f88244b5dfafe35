"""What the API's workers run (``web.jobs``): one function per endpoint, each taking plain values (a
source already confined to the roots by the server) and returning the command's ``to_json()``.

Module-level functions, so a worker process receives them by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paramscope.web.security import Refused, confine


def _open(source: str) -> Any:
    from paramscope.app.common import open_source

    return open_source(source)


def inspect_job(source: str, tensors: bool, layers: bool) -> Any:
    from paramscope.app.inspect import inspect

    return inspect(_open(source), tensors=tensors, layers=layers).to_json()


def size_job(source: str, options: dict[str, Any]) -> Any:
    from paramscope.app.size import size

    return size(_open(source), **options).to_json()


def fit_job(source: str, options: dict[str, Any]) -> Any:
    from paramscope.app.fit import fit

    return fit(_open(source), **options).to_json()


def tokens_job(source: str, is_path: bool, text: str | None, ids: str | None, no_special: bool,
               parse_special: bool = True) -> Any:
    from paramscope.app.tokens import tokens

    # A path goes to the tokenizer as a path (its cache is keyed by file); a catalogue name has none
    # and fails there with the CLI's own message.
    target: Any = source if is_path else _open(source)
    return tokens(target, text=text, ids=ids, no_special=no_special, parse_special=parse_special).to_json()


def stats_job(source: str, tensor: tuple[str, ...]) -> Any:
    from paramscope.app.stats import stats

    return stats(_open(source), tensor=tensor).to_json()


def explain_job(source: str, level: str) -> Any:
    from paramscope.app.explain import explain

    # the source as text, as the CLI passes it: the tokens section finds a folder's tokenizer by path
    return explain(source, level=level).to_json()


def diff_job(a: str, b: str, values: bool) -> Any:
    from paramscope.app.diff import diff

    return diff(_open(a), _open(b), values=values).to_json()


def models_job(roots: tuple[Path, ...]) -> Any:
    """`ls` of the roots, less what confinement would refuse to open (a symlink out of the roots, a
    folder holding one): the list must not reveal files outside them, not even their size."""
    from paramscope.knowledge import catalogue

    local = [{"name": f.name, "path": str(f.path), "size": f.size} for f in _confined_models(roots)]
    return {"local": local, "catalogue": [e.name for e in catalogue.entries()]}


def _confined_models(roots: tuple[Path, ...]) -> list[Any]:
    """The models ``discover`` finds under the roots whose every file confinement would open."""
    from paramscope.formats.discover import discover

    found = []
    for f in discover(roots, defaults=False):
        try:
            for p in f.paths:
                confine(str(p), roots)
        except Refused:
            continue
        found.append(f)
    return found


def fit_matrix_job(source: str, gpu: str, contexts: tuple[int, ...], weight_types: tuple[str, ...],
                   runtimes: tuple[str, ...], batch: int, kv_type: str | None) -> Any:
    from paramscope.app.fit_matrix import fit_matrix

    return fit_matrix(_open(source), gpu=gpu, contexts=contexts, weight_types=weight_types,
                      runtimes=runtimes, batch=batch, kv_type=kv_type).to_json()


def picker_job(roots: tuple[Path, ...]) -> Any:
    """What the model picker lists: `ls` of the roots, less what confinement would refuse to open
    (as ``models_job``), the catalogue names with their published counts, and the GPU menu."""
    from paramscope.app.ls import ls
    from paramscope.app.shapes import device_json
    from paramscope.knowledge import catalogue
    from paramscope.knowledge.hardware import DEVICES

    rows = ls(found=_confined_models(roots)).to_json()
    local = [{"source": r["path"], "name": r["name"], "where": r["where"],
              "format": r["format"] or r["reader"], "label": r["label"], "params": r["params"],
              "stored_as": r["stored_as"], "size_bytes": r["size_bytes"], "error": r["error"]} for r in rows]
    named = [{"source": e.name, "name": e.name, "where": "catalogue", "format": "config",
              "label": None, "params": e.total_params, "stored_as": None, "size_bytes": None, "error": None}
             for e in catalogue.entries()]
    return {"roots": [str(r) for r in roots], "models": local + named, "remote_prefixes": ["hf:", "ollama:"],
            "gpus": [device_json(d) for d in DEVICES if d.kind != "cpu"]}
