"""The JSON the page's views need beyond the CLI commands' own endpoints (web/app.py).

- ``/api/fit_matrix``: context × weight type (× runtime) → GPUs needed and max batch
  (``app.fit_matrix``), for the memory view's matrix and the runtimes side by side.
- ``/api/picker``: what the model picker lists: the models under the allowed roots (read to their
  headers, as `paramscope ls` does) and the catalogue names with their published counts; and the
  devices the GPU menu offers (`paramscope gpus`).

Sources go through the same ``confine`` as every other endpoint; the roots are the app's
(``request.app.state.roots``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from paramscope.web.security import MAX_SOURCE_CHARS, confine

router = APIRouter()

SourceQ = Annotated[str, Query(max_length=MAX_SOURCE_CHARS,
                               description="catalogue name, hf:ORG/NAME, ollama:NAME, or absolute path "
                                           "inside the allowed roots")]
NameQ = Annotated[str | None, Query(max_length=32)]
MAX_LIST = 24  # contexts, weight types or runtimes in one request (the cell cap is app.fit_matrix's)


@router.get("/api/fit_matrix", summary="context × weight type (× runtime): GPUs needed and max batch")
def api_fit_matrix(request: Request, source: SourceQ, gpu: Annotated[str, Query(max_length=32)] = "rtx-4090",
                   context: Annotated[list[int], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                   weights: Annotated[list[str], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                   runtime: Annotated[list[str], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                   batch: Annotated[int, Query(ge=1, le=4096)] = 1, kv_type: NameQ = None) -> dict[str, Any]:
    from paramscope.app.common import open_source
    from paramscope.app.fit_matrix import fit_matrix

    model = open_source(confine(source, request.app.state.roots).text)
    # "as stored" travels as the word, since an empty query value is dropped by some clients
    types = tuple("" if w in ("", "stored") else w for w in weights)
    return fit_matrix(model, gpu=gpu, contexts=tuple(c for c in context if c > 0), weight_types=types,
                      runtimes=tuple(runtime), batch=batch, kv_type=kv_type or None).to_json()


@router.get("/api/picker", summary="the models the page can open: files under the roots, catalogue names")
def api_picker(request: Request) -> dict[str, Any]:
    from paramscope.app.ls import ls
    from paramscope.app.shapes import device_json
    from paramscope.formats.discover import discover
    from paramscope.knowledge import catalogue
    from paramscope.knowledge.hardware import DEVICES

    roots = request.app.state.roots
    rows = ls(found=discover(roots, defaults=False)).to_json()
    local = [{"source": r["path"], "name": r["name"], "where": r["where"],
              "format": r["format"] or r["reader"], "label": r["label"], "params": r["params"],
              "stored_as": r["stored_as"],
              "size_bytes": r["size_bytes"], "error": r["error"]} for r in rows]
    named = [{"source": e.name, "name": e.name, "where": "catalogue", "format": "config",
              "label": None, "params": e.total_params, "stored_as": None, "size_bytes": None, "error": None}
             for e in catalogue.entries()]
    return {"roots": [str(r) for r in roots], "models": local + named, "remote_prefixes": ["hf:", "ollama:"],
            "gpus": [device_json(d) for d in DEVICES if d.kind != "cpu"]}
