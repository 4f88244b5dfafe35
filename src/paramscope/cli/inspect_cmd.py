"""paramscope inspect SOURCE: what is inside."""

from __future__ import annotations

import argparse

HELP = "what is inside: exact parameter counts, where they live, stored types and bytes"
DESCRIPTION = """\
What is inside a model: exact parameter counts, where they live (component tree with shares),
stored types with exact bytes, per-layer and per-tensor tables.

examples:
  paramscope inspect gemma-3-270m-q4_k_m.gguf
  paramscope inspect llama-3.1-8b --layers
  paramscope inspect ./all-MiniLM-L6-v2 --tensors --json"""
EXIT_STATUS = ("exit status: 0 done, 1 bad input or usage (one line on stderr), 2 a pickle-based file "
               "whose loading could run code (see `paramscope scan`)")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="model file, directory, config.json or catalogue name")
    p.add_argument("--tensors", action="store_true", help="list every tensor")
    p.add_argument("--layers", action="store_true", help="show parameters per layer")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.inspect import inspect

    result = inspect(args.source, tensors=args.tensors, layers=args.layers)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
    else:
        from paramscope.cli.output import console
        from paramscope.render.inspect_view import render_inspect

        out = console()
        render_inspect(result.inventory, out, tensors=args.tensors, layers=args.layers)
        if result.safety:
            from paramscope.render.scan_view import render_verdict

            render_verdict(result.safety, out)
    return result.exit_code
