"""The command line: thin wiring from arguments to one analysis and one renderer.

Built on argparse, not a framework: a command pays only for the modules it imports, and `paramscope
inspect --json` starts in a few tens of milliseconds (typer ≥ 0.2x imports pydantic, ~65 ms, at
start). Each command is a module in this package registered in ``COMMANDS``, the way a plugin would
be; it parses its arguments into a call of its function in ``paramscope.app`` and renders the result.
Errors from the library (``ParamscopeError``) become one ``Error: …`` line on stderr and exit
status 1, here and only here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from paramscope import __version__
from paramscope.errors import ParamscopeError

# command name → module in paramscope.cli; each module has HELP, DESCRIPTION, configure(), run()
COMMANDS: dict[str, str] = {
    "inspect": "inspect_cmd",
    "catalogue": "catalogue_cmd",
    "tokens": "tokens_cmd",
    "stats": "stats_cmd",
    "quantize-error": "quant_error_cmd",
    "size": "size_cmd",
    "fit": "fit_cmd",
    "train": "train_cmd",
    "gpus": "gpus_cmd",
    "scan": "scan_cmd",
    "diff": "diff_cmd",
    "ls": "ls_cmd",
    "serve": "serve_cmd",
    "report": "report_cmd",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the parser of one command: running a command imports and
    configures that command's module alone, which keeps start-up to a few tens of milliseconds."""
    parser = argparse.ArgumentParser(
        prog="paramscope",
        description="What is inside an AI model file, and what it takes to run or train it.",
        epilog="SOURCE is a model file (GGUF, safetensors, PyTorch, ONNX), a directory, a config.json or a "
               "catalogue name (see `paramscope catalogue`). Every command takes --json.",
    )
    parser.add_argument("--version", action="version", version=f"paramscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"paramscope.cli.{module}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(p)
        p.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of tables")
        p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        sys.exit(2)
    try:
        code = args.run(args)
        sys.stdout.flush()
    except ParamscopeError as e:
        _fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:  # `paramscope inspect … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as e:  # anything unforeseen: still one line, never a traceback
        if os.environ.get("PARAMSCOPE_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (set PARAMSCOPE_DEBUG=1 for a traceback; "
              "please report it)", 70)
    sys.exit(code or 0)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"Error: {' '.join(message.splitlines())}\n")
    sys.exit(code)
