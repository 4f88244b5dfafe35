"""The FastAPI app behind `paramscope serve`: a JSON API mirroring the CLI's ``--json`` and one page.

Every endpoint takes the CLI command's options as query parameters and answers exactly what the
command prints with ``--json`` (the shapes come from ``render.jsonable`` through ``cli.json_api``). Errors
are ``{"error": "..."}``: 403 for a source outside the allowed roots, 400 for what the CLI would turn
into an ``Error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from paramscope import __version__
from paramscope.cli import json_api as data
from paramscope.errors import ParamscopeError
from paramscope.web.limits import HostCheck, SizeLimit
from paramscope.web.security import (
    LOOPBACK_HOSTS,
    MAX_BODY_BYTES,
    MAX_SOURCE_CHARS,
    Refused,
    confine,
    resolve_roots,
)

STATIC = Path(__file__).parent / "static"
# The page loads only its own files and talks only to this server; model names cannot run as script.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MAX_TEXT_CHARS = MAX_BODY_BYTES  # tokens: the same cap for GET and POST

SourceQ = Annotated[str, Query(max_length=MAX_SOURCE_CHARS,
                               description="catalogue name or absolute path inside the allowed roots")]
ContextQ = Annotated[int | None, Query(ge=1, le=1 << 24, description="tokens per sequence (--context)")]
BatchQ = Annotated[int, Query(ge=1, le=4096, description="parallel sequences (--batch)")]
TypeQ = Annotated[str | None, Query(max_length=32)]
RuntimeQ = Annotated[str, Query(pattern=r"^(llama\.cpp|vllm|transformers)$")]


def create_app(roots: list[Path] | tuple[Path, ...] = (), *, defaults: bool = True,
               allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS) -> FastAPI:
    """The app, serving sources inside ``roots`` (plus the `ls` folders when ``defaults``)."""
    from paramscope.web.security import default_roots

    allowed = resolve_roots([*roots, *(default_roots() if defaults else [])])
    app = FastAPI(title="paramscope", version=__version__,
                  description="What is inside a model and what it takes to run it; each endpoint returns "
                              "the `--json` of the CLI command of the same name.")
    app.state.roots = allowed

    @app.exception_handler(Refused)
    async def refused(_: Request, e: Refused) -> JSONResponse:
        return JSONResponse({"error": str(e)}, status_code=e.status)

    @app.exception_handler(ParamscopeError)
    async def failed(_: Request, e: ParamscopeError) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(e).splitlines())}, status_code=400)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def model(source: str):
        return data.open_source(confine(source, allowed).text)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/roots", summary="the folders paths must lie in")
    def api_roots() -> dict[str, Any]:
        return {"roots": [str(r) for r in allowed]}

    @app.get("/api/models", summary="models found in the allowed roots (`paramscope ls`), and the catalogue")
    def api_models() -> dict[str, Any]:
        from paramscope.knowledge import catalogue
        from paramscope.sources.local_models import discover

        found = discover(allowed, defaults=False)
        return {"local": [{"name": f.name, "path": str(f.path), "size": f.size} for f in found],
                "catalogue": [e.name for e in catalogue.entries()]}

    @app.get("/api/inspect", summary="`paramscope inspect SOURCE --json`")
    def api_inspect(source: SourceQ, tensors: bool = False, layers: bool = False) -> dict[str, Any]:
        return data.inspect_json(model(source), tensors=tensors, layers=layers)

    @app.get("/api/size", summary="`paramscope size SOURCE --json`")
    def api_size(source: SourceQ, context: ContextQ = None, batch: BatchQ = 1, weights: TypeQ = None,
                 kv_type: TypeQ = None, runtime: RuntimeQ = "llama.cpp",
                 ubatch: Annotated[int, Query(ge=1, le=1 << 16)] = 512, swa_full: bool = False,
                 gpu: TypeQ = None) -> dict[str, Any]:
        args = data.SizeArgs(context, batch, weights, kv_type, runtime, ubatch, swa_full)
        return data.size_json(model(source), args, gpu)

    @app.get("/api/fit", summary="`paramscope fit SOURCE --gpu NAME --json`")
    def api_fit(source: SourceQ, gpu: Annotated[str, Query(max_length=32)], context: ContextQ = None,
                batch: BatchQ = 1, weights: TypeQ = None, kv_type: TypeQ = None,
                runtime: RuntimeQ = "llama.cpp", ubatch: Annotated[int, Query(ge=1, le=1 << 16)] = 512,
                swa_full: bool = False,
                ram: Annotated[float | None, Query(gt=0, le=1 << 20, description="GB")] = None
                ) -> dict[str, Any]:
        args = data.SizeArgs(context, batch, weights, kv_type, runtime, ubatch, swa_full)
        return data.fit_json(model(source), args, gpu, ram)

    @app.get("/api/tokens", summary="`paramscope tokens SOURCE TEXT --json` (or `--ids`)")
    def api_tokens(source: SourceQ, text: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS)] = None,
                   ids: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS)] = None,
                   no_special: bool = False) -> dict[str, Any]:
        return _tokens(source, text, ids, no_special)

    @app.post("/api/tokens", summary="the same, with the text in a JSON body (longer texts)")
    def api_tokens_post(source: SourceQ, text: Annotated[str, Body(embed=True, max_length=MAX_TEXT_CHARS)],
                        no_special: bool = False) -> dict[str, Any]:
        return _tokens(source, text, None, no_special)

    def _tokens(source: str, text: str | None, ids: str | None, no_special: bool) -> dict[str, Any]:
        checked = confine(source, allowed)
        # A path goes to the tokenizer as a path (its cache is keyed by file); a catalogue name has none
        # and fails there with the CLI's own message.
        target: Any = checked.text if checked.is_path else data.open_source(checked.text)
        if ids is not None:
            return data.decoded_json(target, ids)
        if text is None:
            raise Refused("give text or ids", 400)
        return data.tokens_json(target, text, no_special=no_special)

    @app.get("/api/stats", summary="`paramscope stats SOURCE --json` (reads every weight)")
    def api_stats(source: SourceQ,
                  tensor: Annotated[list[str], Query(max_length=256, description="--tensor GLOB")] = []  # noqa: B006
                  ) -> dict[str, Any]:
        checked = confine(source, allowed)
        if not checked.is_path:
            raise Refused(f"{source}: a catalogue entry has no weights to read", 400)
        return data.stats_json(data.open_source(checked.text), tensor)

    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)
    app.add_middleware(SizeLimit)
    return app
