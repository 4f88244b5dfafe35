"""The FastAPI app behind `paramscope serve`: a JSON API mirroring the CLI's ``--json`` and one page.

Every endpoint takes the CLI command's options as query parameters and answers exactly what the
command prints with ``--json``: both call the same application function (``paramscope.app``) and print
its result's ``to_json()``. Runtime options (``ubatch``, ``gpu_memory_utilization``…) are the query
parameters the runtime table declares (``/api/runtimes`` lists them). Every error is
``{"error": "one line"}``: 403 for a source outside the allowed roots or a cross-site request, 400 for
what the CLI would turn into an ``Error:`` line, 422 for a malformed parameter, 413/414/408 for a
request too large or too slow, 429/503 (with Retry-After) when the server is busy, 504 past the time
limit. The work itself runs in worker processes (``web.jobs``), never in the process answering HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from paramscope import __version__
from paramscope.errors import ParamscopeError
from paramscope.web import work
from paramscope.web.jobs import Jobs, LaneConfig, offload
from paramscope.web.limits import BODY_SECONDS, HostCheck, ResponseHeaders, SameOrigin, SizeLimit
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
SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"))
MAX_TEXT_CHARS = MAX_BODY_BYTES  # tokens: the same cap for GET and POST
QUICK_TEXT_CHARS = 4096  # tokens of a longer text go to the bulk lane: a page's typing stays quick

SourceQ = Annotated[str, Query(max_length=MAX_SOURCE_CHARS,
                               description="catalogue name, hf:ORG/NAME, ollama:NAME, or absolute path "
                                           "inside the allowed roots")]
ContextQ = Annotated[int | None, Query(ge=1, le=1 << 24, description="tokens per sequence (--context)")]
BatchQ = Annotated[int, Query(ge=1, le=4096, description="parallel sequences (--batch)")]
TypeQ = Annotated[str | None, Query(max_length=32)]
RuntimeQ = Annotated[str, Query(max_length=32, description="llama.cpp, vllm or transformers (/api/runtimes)")]


def create_app(roots: list[Path] | tuple[Path, ...] = (), *, defaults: bool = True,
               allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS,
               lanes: dict[str, LaneConfig] | None = None, body_seconds: float = BODY_SECONDS) -> FastAPI:
    """The app, serving sources inside ``roots`` (plus the `ls` folders when ``defaults``); ``lanes``
    sizes its worker pool (``web.jobs.default_lanes``); a request body stalled ``body_seconds`` gets
    408."""
    from paramscope.web.security import default_roots

    allowed = resolve_roots([*roots, *(default_roots() if defaults else [])])
    jobs = Jobs(lanes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs.start()  # the first request should not pay for starting the workers
        warm()
        try:
            yield
        finally:
            jobs.stop()

    # No /docs or /redoc: their pages load from a CDN, and nothing here may need the internet; the
    # schema itself is /openapi.json.
    app = FastAPI(title="paramscope", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="What is inside a model and what it takes to run it; each endpoint returns "
                              "the `--json` of the CLI command of the same name.")
    app.state.roots = allowed
    app.state.jobs = jobs

    @app.exception_handler(Refused)
    async def refused(_: Request, e: Refused) -> JSONResponse:
        headers = {"Retry-After": str(e.retry_after)} if e.retry_after else None
        return JSONResponse({"error": str(e)}, status_code=e.status, headers=headers)

    @app.exception_handler(ParamscopeError)
    async def failed(_: Request, e: ParamscopeError) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(e).splitlines())}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_message(e)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def crashed(_: Request, e: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error ({type(e).__name__})"}, status_code=500)

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
    async def api_roots() -> dict[str, Any]:
        return {"roots": [str(r) for r in allowed]}

    @app.get("/api/models", summary="models found in the allowed roots (`paramscope ls`), and the catalogue")
    async def api_models(request: Request) -> Response:
        return await offload(request, "quick", work.models_job, allowed)

    @app.get("/api/runtimes", summary="the runtimes and the options each takes")
    async def api_runtimes() -> dict[str, Any]:
        from paramscope.analyses.sizing.runtimes import RUNTIMES

        return {"runtimes": [{"name": r.name, "summary": r.summary, "options": [
            {"name": o.name, "type": o.kind.__name__, "default": o.default, "help": o.help,
             "minimum": o.minimum, "maximum": o.maximum, "choices": list(o.choices)}
            for o in r.options]} for r in RUNTIMES]}

    @app.get("/api/inspect", summary="`paramscope inspect SOURCE --json`")
    async def api_inspect(request: Request, source: SourceQ, tensors: bool = False,
                          layers: bool = False) -> Response:
        checked = confine(source, allowed)
        return await offload(request, "quick", work.inspect_job, checked.text, tensors, layers)

    @app.get("/api/size", summary="`paramscope size SOURCE --json` (plus the runtime's options)")
    async def api_size(request: Request, source: SourceQ, context: ContextQ = None, batch: BatchQ = 1,
                       weights: TypeQ = None, kv_type: TypeQ = None, runtime: RuntimeQ = "llama.cpp",
                       gpu: TypeQ = None, host_ram: TypeQ = None) -> Response:
        options = dict(context=context, batch=batch, weights=weights, kv_type=kv_type, runtime=runtime,
                       gpu=gpu, host_ram=host_ram, **runtime_options(request))
        return await offload(request, "quick", work.size_job, confine(source, allowed).text, options)

    @app.get("/api/fit", summary="`paramscope fit SOURCE --gpu NAME --json` (plus the runtime's options)")
    async def api_fit(request: Request, source: SourceQ, gpu: Annotated[str, Query(max_length=32)],
                      context: ContextQ = None, batch: BatchQ = 1, weights: TypeQ = None,
                      kv_type: TypeQ = None, runtime: RuntimeQ = "llama.cpp",
                      ram: Annotated[str | None, Query(max_length=32, description="64GiB, 64GB; a number is "
                                                                                  "GiB")] = None,
                      host_ram: TypeQ = None) -> Response:
        # the GPU is required here: the server's own GPU says nothing about the browser user's
        options = dict(gpu=gpu, context=context, batch=batch, weights=weights, kv_type=kv_type,
                       runtime=runtime, ram=ram, host_ram=host_ram, **runtime_options(request))
        return await offload(request, "quick", work.fit_job, confine(source, allowed).text, options)

    @app.get("/api/tokens", summary="`paramscope tokens SOURCE TEXT --json` (or `--ids`)")
    async def api_tokens(request: Request, source: SourceQ,
                         text: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS)] = None,
                         ids: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS)] = None,
                         no_special: bool = False, no_parse_special: bool = False) -> Response:
        return await _tokens(request, source, text, ids, no_special, no_parse_special)

    @app.post("/api/tokens", summary="the same, with the text in a JSON body (longer texts)")
    async def api_tokens_post(request: Request, source: SourceQ,
                              text: Annotated[str, Body(embed=True, max_length=MAX_TEXT_CHARS)],
                              no_special: bool = False, no_parse_special: bool = False) -> Response:
        return await _tokens(request, source, text, None, no_special, no_parse_special)

    async def _tokens(request: Request, source: str, text: str | None, ids: str | None,
                      no_special: bool, no_parse_special: bool) -> Response:
        checked = confine(source, allowed)
        if ids is None and text is None:
            raise Refused("give text or ids", 400)
        lane = "quick" if len(text or ids or "") <= QUICK_TEXT_CHARS else "bulk"
        return await offload(request, lane, work.tokens_job, checked.text, checked.is_path, text, ids,
                             no_special, not no_parse_special)

    @app.get("/api/stats", summary="`paramscope stats SOURCE --json` (reads every weight)")
    async def api_stats(request: Request, source: SourceQ,
                        tensor: Annotated[list[str], Query(max_length=256, description="--tensor GLOB")]
                        = []  # noqa: B006
                        ) -> Response:
        checked = confine(source, allowed)
        if not checked.is_path:
            raise Refused(f"{source}: not a file on this machine (a catalogue entry, or a remote model read "
                          "as headers only): no weights to read", 400)
        return await offload(request, "bulk", work.stats_job, checked.text, tuple(tensor))

    @app.get("/api/explain", summary="`paramscope explain SOURCE --json` (reads every weight of a file)")
    async def api_explain(request: Request, source: SourceQ, level: Annotated[
            str, Query(pattern="^(beginner|expert)$")] = "beginner") -> Response:
        return await offload(request, "bulk", work.explain_job, confine(source, allowed).text, level)

    @app.get("/api/diff", summary="`paramscope diff A B --json` (reads every weight of both)")
    async def api_diff(request: Request, a: SourceQ, b: SourceQ, structure_only: bool = False) -> Response:
        return await offload(request, "quick" if structure_only else "bulk", work.diff_job,
                             confine(a, allowed).text, confine(b, allowed).text, not structure_only)

    app.include_router(__import__("paramscope.web.views_api", fromlist=["router"]).router)
    app.add_middleware(SizeLimit, body_seconds=body_seconds)
    app.add_middleware(SameOrigin)
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)
    app.add_middleware(ResponseHeaders, headers=SECURITY_HEADERS)  # outermost: every answer has them
    return app


def warm() -> None:
    """Load the tables the event loop itself reads (confinement's catalogue lookup, the runtimes'
    options) before the first request, not during it: meanwhile nothing else would be answered."""
    from paramscope.analyses.sizing.runtimes import all_options
    from paramscope.knowledge import catalogue

    catalogue.has("")
    list(all_options())


def validation_message(e: RequestValidationError) -> str:
    """FastAPI's list of problems as one line: ``context: Input should be greater than or equal to 1``."""
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
