"""``paramscope explain`` for people: each section's title and paragraphs, filled to at most 80 columns,
and for the values section a histogram drawn as one line of block characters."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from paramscope.render.text import plain

if TYPE_CHECKING:
    from paramscope.app.explain import ExplainResult

MAX_WIDTH = 80
HISTOGRAM_WIDTH = 64


def render_explain(result: ExplainResult, console: Console) -> None:
    width = min(console.width, MAX_WIDTH)
    console.print(Text(f"{result.model.source}", style="bold"))
    for section in result.sections:
        console.print()
        console.print(Text(section.title, style="bold underline"))
        for paragraph in section.paragraphs:
            # continuation lines indented, so paragraphs stand apart without blank lines between them
            for line in textwrap.wrap(paragraph, width, subsequent_indent="  ", break_on_hyphens=False):
                console.print(plain(line), soft_wrap=True)
        if section.key == "values":
            _histogram(section, console, width)


def _histogram(section, console: Console, width: int) -> None:
    from paramscope.render.stats_view import sparkline_counts

    counts = section.figures["histogram_counts"].value
    edges = section.figures["histogram_edges"].value
    if len(edges) < 2 or not any(counts):  # stats draws no histogram of a tensor without a finite value
        console.print(plain("  (no finite values to draw)"), soft_wrap=True)
        return
    line = sparkline_counts(counts, min(HISTOGRAM_WIDTH, width - 2))
    console.print(plain("  " + line), soft_wrap=True)
    lo, hi = f"{edges[0]:.4g}", f"{edges[-1]:.4g}"
    console.print(plain("  " + lo + " " * max(1, len(line) - len(lo) - len(hi)) + hi), soft_wrap=True)
