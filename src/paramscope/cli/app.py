"""The command line: thin wiring from arguments to one analysis and one renderer.

Errors from the library (``ParamscopeError``) become one ``Error: …`` line on stderr and exit status 1,
in one place (``main``). Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from paramscope.errors import ParamscopeError

app = typer.Typer(
    name="paramscope",
    help="What is inside an AI model file, and what it takes to run or train it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Source = Annotated[str, typer.Argument(help="A model file, directory, config.json or catalogue name.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.command()
def inspect(
    source: Source,
    tensors: Annotated[bool, typer.Option("--tensors", help="List every tensor.")] = False,
    layers: Annotated[bool, typer.Option("--layers", help="Show parameters per layer.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """What is inside: exact parameter counts, where they live, stored types and bytes.

    Examples:

      paramscope inspect gemma-3-270m-q4_k_m.gguf

      paramscope inspect llama-3.1-8b --layers

      paramscope inspect ./all-MiniLM-L6-v2 --tensors --json
    """
    from paramscope.analyses.inventory import inventory
    from paramscope.formats import open_model

    inv = inventory(open_model(source))
    if as_json:
        from paramscope.render.jsonable import dump, inventory_json

        dump(inventory_json(inv, tensors=tensors, layers=layers))
        return
    from paramscope.render.inspect_view import render_inspect

    render_inspect(inv, _console(), tensors=tensors, layers=layers)


@app.command()
def catalogue(as_json: JsonFlag = False) -> None:
    """Well-known models that open by name, with their published parameter counts.

    Example:

      paramscope inspect deepseek-v3
    """
    from paramscope.analyses.catalogue_counts import catalogue_rows
    from paramscope.knowledge import catalogue as cat

    rows = catalogue_rows((e, cat.open_entry(e.name)) for e in cat.entries())
    if as_json:
        from paramscope.render.jsonable import dump

        dump([r.as_dict() for r in rows])
        return
    from paramscope.render.catalogue_view import render_catalogue

    render_catalogue(rows, _console())


@app.command()
def version() -> None:
    """Print the version."""
    from paramscope import __version__

    typer.echo(__version__)


def _console():
    from rich.console import Console

    # piped output (a file, `less`, a test) gets room for the tables instead of rich's 80 columns
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(highlight=False, width=width)


def main() -> None:
    # typer (standalone mode) prints usage errors itself, exit status 2; everything else lands here
    try:
        app()
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


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"Error: {' '.join(message.splitlines())}\n")
    sys.exit(code)
