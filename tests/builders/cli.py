"""The CLI run in this process, as the tests compare with it: ``paramscope ARGS --json``'s answer."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any


def cli_json(*argv: str) -> Any:
    """What ``paramscope *argv --json`` prints, parsed (run in-process through the real parser)."""
    from paramscope.cli.app import build_parser

    args = build_parser().parse_args([*argv, "--json"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        args.run(args)
    return json.loads(buf.getvalue())
