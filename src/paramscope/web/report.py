"""`paramscope report`: the page's views in one HTML file that needs no server and no network.

The page (static/index.html, style.css, core.js, views/*.js, main.js) is inlined as it is: each
``<script src>`` of index.html is replaced by the file's text, in the same order. The API answers it
would have fetched are computed now and embedded as one JSON block, which core.js reads instead of
calling the API. The memory slider moves over sizes computed for each power-of-two context up to the
model's maximum; the fit matrix and the runtimes side by side are computed for one GPU (``gpu``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from paramscope.errors import ParamscopeError, UsageError

STATIC = Path(__file__).parent / "static"
MIN_CONTEXT = 256
FALLBACK_MAX_CONTEXT = 131072  # when the model does not say (the page's slider uses the same)
DEFAULT_GPU = "rtx-4090"  # the page's default GPU too
RUNTIMES = ("llama.cpp", "vllm", "transformers")  # the runtimes side by side, in the page's order
# No network: nothing may be fetched, so everything the page uses is inline.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
SCRIPT_TAG = re.compile(r'<script src="/static/([\w/.-]+\.js)" defer></script>\n')


def report_data(source: str, memory: dict[str, Any], *, text: str, stats: bool = False,
                gpu: str = DEFAULT_GPU) -> dict[str, Any]:
    """What the page would fetch: inspect (with tensors and layers), sizes by context (for each runtime
    too), the fit matrices on ``gpu``, a tokenization, the GPU list, the tour (`paramscope explain`).

    ``memory`` holds the options of `paramscope size` (weights, kv_type, runtime and its options, batch)."""
    from paramscope.app.common import open_source
    from paramscope.app.explain import explain
    from paramscope.app.fit_matrix import fit_matrix
    from paramscope.app.inspect import inspect
    from paramscope.app.shapes import device_json
    from paramscope.app.size import size
    from paramscope.app.stats import stats as weight_stats
    from paramscope.app.tokens import tokens
    from paramscope.knowledge.hardware import DEVICES, parse_gpu_spec

    device, count = parse_gpu_spec(gpu)  # a wrong name fails before the model is read
    if count != 1:
        raise UsageError(f"the report's fit matrix takes one device type and finds how many are "
                         f"needed (got {gpu!r})")
    gpu = device.key  # the page's GPU list is keyed by the table's names, not by aliases
    model = open_source(source)
    inspected = inspect(model, tensors=True, layers=True).to_json()
    max_ctx = inspected["hyperparameters"].get("context_length") or FALLBACK_MAX_CONTEXT
    contexts = [c for c in (MIN_CONTEXT << i for i in range(32)) if c < max_ctx] + [max_ctx]
    options = {k: v for k, v in memory.items() if k != "context" and v is not None}
    out: dict[str, Any] = {"inspect": inspected, "sizes": {}, "size_error": None, "default_context": None,
                           "memory": options, "gpu": gpu,
                           "gpus": [device_json(d) for d in DEVICES if d.kind != "cpu"],
                           "fit_matrix": None, "runtime_matrix": None, "runtime_sizes": {},
                           "tokens_text": text, "tokens": None, "tokens_error": None, "stats": None,
                           "explain": None, "explain_error": None}
    try:
        out["sizes"] = {str(c): size(model, context=c, **options).to_json() for c in contexts}
        out["default_context"] = size(model, **options).estimate.context
    except ParamscopeError as e:  # weights without an architecture: no KV cache to size
        out["size_error"] = str(e)
    if out["sizes"]:
        shared = {k: v for k, v in options.items() if k in ("batch", "kv_type", "weights")}
        out["runtime_sizes"] = {str(c): [_size_or_error(model, r, context=c, **shared) for r in RUNTIMES]
                                for c in contexts}
        matrix = {k: v for k, v in options.items() if k != "weights"}
        out["fit_matrix"] = fit_matrix(model, gpu=gpu, **matrix).to_json()
        out["runtime_matrix"] = fit_matrix(
            model, gpu=gpu, runtimes=RUNTIMES, contexts=(out["default_context"],),
            **{k: v for k, v in matrix.items() if k in ("batch", "kv_type")}).to_json()
    try:
        out["tokens"] = tokens(model, text=text).to_json()
    except ParamscopeError as e:  # catalogue entries carry no tokenizer; the report says so
        out["tokens_error"] = str(e)
    if stats:
        out["stats"] = weight_stats(model).to_json()
    try:
        # the tour of `paramscope explain`; its values section reads every weight, so only with --stats
        out["explain"] = explain(source, values=stats).to_json()
    except ParamscopeError as e:
        out["explain_error"] = str(e)
    return out


def _size_or_error(model: Any, runtime: str, **options: Any) -> dict[str, Any]:
    from paramscope.app.size import size

    try:
        return size(model, runtime=runtime, **options).to_json()
    except ParamscopeError as e:  # e.g. a GGUF-only weight type under vLLM: the page shows the reason
        return {"runtime": runtime, "error": " ".join(str(e).splitlines())}


def embed_json(value: Any) -> str:
    """JSON safe inside <script>: "<" escaped, so a name like "</script><script>…" cannot end the block;
    ensure_ascii escapes U+2028/U+2029 as well."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(source: str, memory: dict[str, Any], *, text: str, stats: bool = False,
                 gpu: str = DEFAULT_GPU) -> str:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    scripts = SCRIPT_TAG.findall(page)
    # "</" cannot end the block once escaped
    js = "\n".join((STATIC / name).read_text(encoding="utf-8").replace("</", "<\\/") for name in scripts)
    payload = embed_json(report_data(source, memory, text=text, stats=stats, gpu=gpu))
    page = page.replace('<link rel="stylesheet" href="/static/style.css">\n', "")
    page = page.replace('<link rel="icon" href="data:,">\n', "")  # the server's answer to /favicon.ico
    page = SCRIPT_TAG.sub("", page)
    page = page.replace("<title>paramscope</title>", "<title>paramscope report</title>")
    head = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>\n{css}</style>\n</head>'
    # Inline scripts cannot be deferred, so the scripts go last, after the elements they look up.
    tail = (f'<script type="application/json" id="paramscope-data">{payload}</script>\n'
            f"<script>\n{js}</script>\n</body>")
    return page.replace("</head>", head, 1).replace("</body>", tail, 1)
