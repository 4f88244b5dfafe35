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

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paramscope.web import work
from paramscope.web.jobs import offload
from paramscope.web.security import MAX_SOURCE_CHARS, confine

router = APIRouter()

SourceQ = Annotated[str, Query(max_length=MAX_SOURCE_CHARS,
                               description="catalogue name, hf:ORG/NAME, ollama:NAME, or absolute path "
                                           "inside the allowed roots")]
NameQ = Annotated[str | None, Query(max_length=32)]
MAX_LIST = 24  # contexts, weight types or runtimes in one request (the cell cap is app.fit_matrix's)


@router.get("/api/fit_matrix", summary="context × weight type (× runtime): GPUs needed and max batch")
async def api_fit_matrix(request: Request, source: SourceQ,
                         gpu: Annotated[str, Query(max_length=32)] = "rtx-4090",
                         context: Annotated[list[int], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                         weights: Annotated[list[str], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                         runtime: Annotated[list[str], Query(max_length=MAX_LIST)] = [],  # noqa: B006
                         batch: Annotated[int, Query(ge=1, le=4096)] = 1, kv_type: NameQ = None) -> Response:
    # "as stored" travels as the word, since an empty query value is dropped by some clients
    types = tuple("" if w in ("", "stored") else w for w in weights)
    # tens of estimates (DeepSeek-V3: ~20 s): the bulk lane, never the event loop
    return await offload(request, "bulk", work.fit_matrix_job, confine(source, request.app.state.roots).text,
                         gpu, tuple(c for c in context if c > 0), types, tuple(runtime), batch,
                         kv_type or None)


@router.get("/api/picker", summary="the models the page can open: files under the roots, catalogue names")
async def api_picker(request: Request) -> Response:
    # reads the header of every model under the roots: a worker's job, as /api/models
    return await offload(request, "quick", work.picker_job, tuple(request.app.state.roots))
