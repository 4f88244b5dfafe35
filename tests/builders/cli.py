"""The CLI run in this process, as the tests compare with it: ``paramscope ARGS --json``'s answer, or a
whole run's exit status and output."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from typing import Any


def cli_json(*argv: str) -> Any:
    """What ``paramscope *argv --json`` prints, parsed (run in-process through the real parser)."""
    from paramscope.cli.app import build_parser

    args = build_parser().parse_args([*argv, "--json"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        args.run(args)
    return json.loads(buf.getvalue())


def cli_run(*argv: str, columns: int | None = None) -> subprocess.CompletedProcess:
    """``paramscope *argv`` through ``cli.app.main`` in this process, as a pipe gets it: stdout and stderr
    captured (not terminals), COLUMNS set when given, the exit status its SystemExit carries. No
    interpreter to start and import into: seconds less than a subprocess where the process itself is not
    what a test is about (test_width.py checks a sample against the real CLI, byte for byte)."""
    from paramscope.cli.app import main

    saved = os.environ.get("COLUMNS")
    if columns is not None:
        os.environ["COLUMNS"] = str(columns)
    out, err, code = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(argv))
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    return subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue())
