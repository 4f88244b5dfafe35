"""paramscope catalogue: the well-known models that open by name."""

from __future__ import annotations

import argparse

HELP = "well-known models that open by name, with their published parameter counts"
DESCRIPTION = """\
Well-known models whose config.json ships with paramscope: open any of them by name. Each row shows
our count from the config next to the figure its vendor published. Then the famous closed models,
whose weights and config are not published, with what is publicly known of their size and who said
so (their sources are in --json).

example:
  paramscope inspect deepseek-v3"""


def configure(p: argparse.ArgumentParser) -> None:
    del p  # no options beyond --json


def run(args: argparse.Namespace) -> int:
    from paramscope.app.catalogue import catalogue

    result = catalogue()
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.catalogue_view import render_catalogue

    render_catalogue(list(result.rows), console(), result.closed)
    return 0
