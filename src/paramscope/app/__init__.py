"""One function per command: a typed request in, a frozen typed result out, ``to_json()`` equal to the
CLI's ``--json``. The CLI, the web page, the report and Python callers all go through these.

    import paramscope
    paramscope.size("llama-3.1-8b", context=8192, gpu="h100").to_json()

Each function takes a source (path, directory, config.json, catalogue name, or an opened ``Model``) and
keyword options, or its request object. ``paramscope.<name>`` imports the module on first use, so
importing paramscope stays cheap; within the package, import the function from its module
(``from paramscope.app.size import size``).
"""

from __future__ import annotations

# public name → module in this package that defines the function of that name
COMMANDS: dict[str, str] = {
    "inspect": "inspect", "catalogue": "catalogue", "size": "size", "fit": "fit", "train": "train",
    "gpus": "gpus", "tokens": "tokens", "stats": "stats", "quantize_error": "quantize_error",
    "scan": "scan", "ls": "ls", "diff": "diff",
    "explain": "explain",
    "zoo": "zoo",
}
