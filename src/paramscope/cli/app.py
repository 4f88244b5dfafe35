"""The command line: thin wiring from arguments to one analysis and one renderer.

Built on argparse, not a framework: a command pays only for the modules it imports, and `paramscope
inspect --json` starts in a few tens of milliseconds (typer ≥ 0.2x imports pydantic, ~65 ms, at
start). Each command is a module in this package registered in ``COMMANDS``, the way a plugin would
be; it parses its arguments into a call of its function in ``paramscope.app`` and renders the result.

Errors become one ``Error: …`` line on stderr, here and only here, with the exit status of
``errors.EXIT_CODES``: the library's ``ParamscopeError``, a bad command line (argparse's own messages,
rewritten with "did you mean"; argparse would exit 2, which is the safety verdict's status here), and
an operating-system error on a path the user gave.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from paramscope import __version__
from paramscope.errors import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ParamscopeError,
    UsageError,
)

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
    "explain": "explain_cmd",
    "zoo": "zoo_cmd",
    "serve": "serve_cmd",
    "report": "report_cmd",
}

EPILOG = f"""\
SOURCE is a model file (GGUF, safetensors, PyTorch, ONNX), a directory, a config.json,
a catalogue name (see `paramscope catalogue`), a Hugging Face repository
(hf:ORG/NAME[@REVISION][/FILE]: headers only, never the weights) or an Ollama model
(ollama:NAME[:TAG]). Every command takes --json.

Sizes take a unit: GB and MB are decimal (10^9, 10^6 bytes), GiB and MiB binary (2^30,
2^20 bytes, as nvidia-smi and free count); printed sizes always carry theirs. Counts
take K, M, B, T (--tokens 10M). docs/cli.md has the details.

exit status:
{chr(10).join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())}"""

# a command's own --help ends with this, or with its module's EXIT_STATUS where it has more to say
EXIT_STATUS = "exit status: 0 done, 1 bad input or usage (one line on stderr; see `paramscope --help`)"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs filled to the terminal's width paragraph by paragraph; indented lines
    (examples, the exit status table) and the lines of a paragraph introduced by "name:" kept as written."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        # argparse asks shutil.get_terminal_size for the width, and argparse makes a formatter for every
        # add_argument; importing shutil (which loads zlib, bz2 and lzma) cost more than building the parser
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out = []
        for para in text.split("\n\n"):
            lines = para.splitlines()
            verbatim = lines and (lines[0].rstrip().endswith(":") or any(ln.startswith(" ") for ln in lines))
            if verbatim:
                out.append("\n".join(indent + ln for ln in lines))
            else:
                out.append(textwrap.fill(" ".join(ln.strip() for ln in lines), width,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS if a positive number, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: a bad command line raises ``UsageError`` (exit 1) instead of
    printing a usage block and exiting 2."""

    def error(self, message: str) -> NoReturn:
        from paramscope.cli.usage import explain

        raise UsageError(explain(self, message))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) the parser of one command: running a command imports and
    configures that command's module alone, which keeps start-up to a few tens of milliseconds."""
    parser = Parser(
        prog="paramscope",
        description="What is inside an AI model file, and what it takes to run or train it.",
        epilog=EPILOG, formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"paramscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"paramscope.cli.{module}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION,
                           epilog=getattr(mod, "EXIT_STATUS", EXIT_STATUS),
                           formatter_class=HelpFormatter)
        mod.configure(p)
        p.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of tables")
        p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    whole_process = argv is None  # the console script or python -m paramscope, not a call from Python
    argv = sys.argv[1:] if argv is None else argv
    global _json_errors
    # with --json an error is also a JSON object on stdout, {"error": "one line"}, the web API's shape
    _json_errors = "--json" in argv[:argv.index("--")] if "--" in argv else "--json" in argv
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(command if command in COMMANDS else None)
        args, extra = parser.parse_known_args(argv)
        if extra:
            from paramscope.cli.usage import unrecognized

            raise UsageError(unrecognized(parser, args.command, extra))
        if args.command is None:
            parser.print_help()
            sys.exit(EXIT_ERROR)
        code = args.run(args)
        sys.stdout.flush()
    except ParamscopeError as e:
        _fail(str(e), e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:  # `paramscope inspect … | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    except OSError as e:  # a path the user gave: missing folder, no permission, disk full
        if os.environ.get("PARAMSCOPE_DEBUG"):
            raise
        where = f"{e.filename}: " if e.filename else ""
        _fail(f"{where}{e.strerror or e}", EXIT_ERROR)
    except Exception as e:  # anything unforeseen: still one line, never a traceback
        if os.environ.get("PARAMSCOPE_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (set PARAMSCOPE_DEBUG=1 for a traceback; "
              "please report it)", EXIT_INTERNAL)
    if whole_process:
        _end_process(code or EXIT_OK)
    sys.exit(code or EXIT_OK)


def _end_process(code: int) -> NoReturn:
    """End a paramscope process without the interpreter's teardown, once its work is done.

    Tearing the interpreter down (freeing every module, table and cache one object at a time) was 8 % of
    what `paramscope fit llama-3.1-8b --gpu h100 --json` executes (23 M instructions of 290 M). The
    atexit functions still run and the streams are flushed; a process with threads still running ends
    the usual way, so that the interpreter waits for them. main(argv) called from Python code returns
    through SystemExit as before.
    """
    # Arrow's C++ runtime can abort the interpreter's teardown, and its exit handlers ("terminate called
    # without an active exception", SIGABRT, exit status 134) after a zoo run on a loaded machine, its
    # output already written (about 1 run in 30 with 12 busy processes on 2 cores): none of them run then.
    if "pyarrow" not in sys.modules:
        threading = sys.modules.get("threading")  # never imported: no thread was started
        if threading is not None and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                                         if t is not threading.main_thread()):
            sys.exit(code)
        import atexit

        atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_json_errors = False  # set by main() for a command line with --json


def _fail(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())
    if _json_errors:
        from paramscope.cli.output import dump_error

        dump_error(line)
    sys.stdout.flush()
    sys.stderr.write(f"Error: {line}\n")
    sys.exit(code)
