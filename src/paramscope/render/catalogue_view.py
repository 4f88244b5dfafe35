"""``paramscope catalogue`` for people: the names one types, whole, at any width."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from paramscope.analyses.contents.catalogue_counts import CatalogueRow
from paramscope.render.table import Cell, Column, table
from paramscope.render.text import plain

_MATCH = {True: Text("exact match", style="green"), False: Text("differs", style="red"), None: Text("")}


def render_catalogue(rows: list[CatalogueRow], console: Console, closed=()) -> None:
    columns: tuple[Column, ...] = (
        Column("name", no_wrap=True), Column("also", drop=2), Column("architecture", drop=3),
        Column("params", numeric=True), Column("label", numeric=True),
        Column("active", numeric=True, drop=2), Column("published", numeric=True, drop=1),
        Column("vs published", no_wrap=True))
    cells: list[list[Cell]] = []
    for r in rows:
        active = f"{r.active_params:,}" if r.active_params != r.total_params else ""
        published = f"{r.published_total:,}" if r.published_total else ""
        cells.append([r.name, ", ".join(r.aliases), r.architecture, f"{r.total_params:,}", r.label, active,
                      published, _MATCH[r.total_matches]])
    console.print(table(console, columns, cells, title="Open any of these by name, e.g. "
                                                        "`paramscope inspect llama-3.1-8b`"))
    if closed:
        columns = (Column("name", no_wrap=True), Column("vendor", drop=1),
                   Column("what is known of the size"))
        cells = [[c.name, c.vendor, plain(c.estimate)] for c in closed]
        console.print(table(console, columns, cells, title="Closed models: no weights or config are "
                                                            "published (sources: --json)"))
