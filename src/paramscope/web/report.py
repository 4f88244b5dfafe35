"""`paramscope report`: the page's views in one HTML file that needs no server and no network.

The page (static/index.html, style.css, app.js) is inlined as it is; the API answers it would have
fetched are computed now and embedded as one JSON block, which app.js reads instead of calling the API.
The memory slider moves over sizes computed for each power-of-two context up to the model's maximum.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramscope.errors import ParamscopeError

STATIC = Path(__file__).parent / "static"
MIN_CONTEXT = 256
FALLBACK_MAX_CONTEXT = 131072  # when the model does not say (the page's slider uses the same)
# No network: nothing may be fetched, so everything the page uses is inline.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")


def report_data(source: str, memory: dict[str, Any], *, text: str, stats: bool = False) -> dict[str, Any]:
    """What the page would fetch: inspect (with tensors and layers), sizes by context, a tokenization.

    ``memory`` holds the options of `paramscope size` (weights, kv_type, runtime and its options, batch)."""
    from paramscope.app.common import open_source
    from paramscope.app.inspect import inspect
    from paramscope.app.size import size
    from paramscope.app.stats import stats as weight_stats
    from paramscope.app.tokens import tokens

    model = open_source(source)
    inspected = inspect(model, tensors=True, layers=True).to_json()
    max_ctx = inspected["hyperparameters"].get("context_length") or FALLBACK_MAX_CONTEXT
    contexts = [c for c in (MIN_CONTEXT << i for i in range(32)) if c < max_ctx] + [max_ctx]
    out: dict[str, Any] = {"inspect": inspected, "sizes": {}, "size_error": None, "default_context": None,
                           "tokens_text": text, "tokens": None, "tokens_error": None, "stats": None}
    options = {k: v for k, v in memory.items() if k != "context"}
    try:
        out["sizes"] = {str(c): size(model, context=c, **options).to_json() for c in contexts}
        out["default_context"] = size(model, **options).estimate.context
    except ParamscopeError as e:  # weights without an architecture: no KV cache to size
        out["size_error"] = str(e)
    try:
        out["tokens"] = tokens(model, text=text).to_json()
    except ParamscopeError as e:  # catalogue entries carry no tokenizer; the report says so
        out["tokens_error"] = str(e)
    if stats:
        out["stats"] = weight_stats(model).to_json()
    return out


def embed_json(value: Any) -> str:
    """JSON safe inside <script>: "<" escaped, so a name like "</script><script>…" cannot end the block;
    ensure_ascii escapes U+2028/U+2029 as well."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(source: str, memory: dict[str, Any], *, text: str, stats: bool = False) -> str:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8").replace("</", "<\\/")  # cannot end the block
    payload = embed_json(report_data(source, memory, text=text, stats=stats))
    page = page.replace('<link rel="stylesheet" href="/static/style.css">\n', "")
    page = page.replace('<script src="/static/app.js" defer></script>\n', "")
    page = page.replace("<title>paramscope</title>", "<title>paramscope report</title>")
    head = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n<style>\n{css}</style>\n</head>'
    # Inline scripts cannot be deferred, so app.js goes last, after the elements it looks up.
    tail = (f'<script type="application/json" id="paramscope-data">{payload}</script>\n'
            f"<script>\n{js}</script>\n</body>")
    return page.replace("</head>", head, 1).replace("</body>", tail, 1)
