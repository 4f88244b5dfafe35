"""The FastAPI app behind `paramscope serve`: a JSON API mirroring the CLI's ``--json`` and one page.

Every endpoint takes the CLI command's options as query parameters and answers exactly what the
command prints with ``--json``: both call the same application function (``paramscope.app``) and print
its result's ``to_json()``. Runtime options (``ubatch``, ``gpu_memory_utilization``…) are the query
parameters the runtime table declares (``/api/runtimes`` lists them). Errors are ``{"error": "..."}``:
403 for a source outside the allowed roots, 400 for what the CLI would turn into an ``Error:`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from paramscope import __version__
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
                               description="catalogue name, hf:ORG/NAME, ollama:NAME, or absolute path "
                                           "inside the allowed roots")]
ContextQ = Annotated[int | None, Query(ge=1, le=1 << 24, description="tokens per sequence (--context)")]
BatchQ = Annotated[int, Query(ge=1, le=4096, description="parallel sequences (--batch)")]
TypeQ = Annotated[str | None, Query(max_length=32)]
RuntimeQ = Annotated[str, Query(max_length=32, description="llama.cpp, vllm or transformers (/api/runtimes)")]


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
        from paramscope.app.common import open_source

        return open_source(confine(source, allowed).text)

    def runtime_options(request: Request) -> dict[str, Any]:
        """Query parameters named by the runtime table (checked against the chosen runtime later)."""
        from paramscope.analyses.sizing.runtimes import all_options

        names = {o.name for _, o in all_options()}
        return {k: v for k, v in request.query_params.items() if k in names}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/roots", summary="the folders paths must lie in")
    def api_roots() -> dict[str, Any]:
        return {"roots": [str(r) for r in allowed]}

    @app.get("/api/models", summary="models found in the allowed roots (`paramscope ls`), and the catalogue")
    def api_models() -> dict[str, Any]:
        from paramscope.formats.discover import discover
        from paramscope.knowledge import catalogue

        found = discover(allowed, defaults=False)
        return {"local": [{"name": f.name, "path": str(f.path), "size": f.size} for f in found],
                "catalogue": [e.name for e in catalogue.entries()]}

    @app.get("/api/runtimes", summary="the runtimes and the options each takes")
    def api_runtimes() -> dict[str, Any]:
        from paramscope.analyses.sizing.runtimes import RUNTIMES

        return {"runtimes": [{"name": r.name, "summary": r.summary, "options": [
            {"name": o.name, "type": o.kind.__name__, "default": o.default, "help": o.help,
             "minimum": o.minimum, "maximum": o.maximum} for o in r.options]} for r in RUNTIMES]}

    @app.get("/api/inspect", summary="`paramscope inspect SOURCE --json`")
    def api_inspect(source: SourceQ, tensors: bool = False, layers: bool = False) -> dict[str, Any]:
        from paramscope.app.inspect import inspect

        return inspect(model(source), tensors=tensors, layers=layers).to_json()

    @app.get("/api/size", summary="`paramscope size SOURCE --json` (plus the runtime's options)")
    def api_size(request: Request, source: SourceQ, context: ContextQ = None, batch: BatchQ = 1,
                 weights: TypeQ = None, kv_type: TypeQ = None, runtime: RuntimeQ = "llama.cpp",
                 gpu: TypeQ = None) -> dict[str, Any]:
        from paramscope.app.size import size

        return size(model(source), context=context, batch=batch, weights=weights, kv_type=kv_type,
                    runtime=runtime, gpu=gpu, **runtime_options(request)).to_json()

    @app.get("/api/fit", summary="`paramscope fit SOURCE --gpu NAME --json` (plus the runtime's options)")
    def api_fit(request: Request, source: SourceQ, gpu: Annotated[str, Query(max_length=32)],
                context: ContextQ = None, batch: BatchQ = 1, weights: TypeQ = None, kv_type: TypeQ = None,
                runtime: RuntimeQ = "llama.cpp",
                ram: Annotated[str | None, Query(max_length=32, description="64GiB, 64GB; a number is GiB")]
                = None) -> dict[str, Any]:
        # the GPU is required here: the server's own GPU says nothing about the browser user's
        from paramscope.app.fit import fit

        return fit(model(source), gpu=gpu, context=context, batch=batch, weights=weights, kv_type=kv_type,
                   runtime=runtime, ram=ram, **runtime_options(request)).to_json()

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
        from paramscope.app.tokens import tokens

        checked = confine(source, allowed)
        # A path goes to the tokenizer as a path (its cache is keyed by file); a catalogue name has none
        # and fails there with the CLI's own message.
        target: Any = checked.text if checked.is_path else model(source)
        if ids is None and text is None:
            raise Refused("give text or ids", 400)
        return tokens(target, text=text, ids=ids, no_special=no_special).to_json()

    @app.get("/api/stats", summary="`paramscope stats SOURCE --json` (reads every weight)")
    def api_stats(source: SourceQ,
                  tensor: Annotated[list[str], Query(max_length=256, description="--tensor GLOB")] = []  # noqa: B006
                  ) -> dict[str, Any]:
        checked = confine(source, allowed)
        if not checked.is_path:
            raise Refused(f"{source}: not a file on this machine (a catalogue entry, or a remote model read "
                          "as headers only): no weights to read", 400)
        from paramscope.app.stats import stats

        return stats(model(source), tensor=tuple(tensor)).to_json()

    @app.get("/api/diff", summary="`paramscope diff A B --json` (reads every weight of both)")
    def api_diff(a: SourceQ, b: SourceQ, structure_only: bool = False) -> dict[str, Any]:
        from paramscope.app.diff import diff

        return diff(model(a), model(b), values=not structure_only).to_json()

    app.include_router(__import__("paramscope.web.views_api", fromlist=["router"]).router)
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)
    app.add_middleware(SizeLimit)
    return app
