"""``paramscope catalogue`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from paramscope.analyses.contents.catalogue_counts import CatalogueRow

_MATCH = {True: "[green]exact match[/]", False: "[red]differs[/]", None: ""}


def render_catalogue(rows: list[CatalogueRow], console: Console) -> None:
    t = Table(title="Catalogue: open any of these by name, e.g. `paramscope inspect llama-3.1-8b`",
              title_justify="left")
    for col in ("name", "architecture", "params", "label", "active", "published", ""):
        t.add_column(col, justify="right" if col in ("params", "active", "published") else "left")
    for r in rows:
        name = r.name + (f" ({', '.join(r.aliases)})" if r.aliases else "")
        active = f"{r.active_params:,}" if r.active_params != r.total_params else ""
        published = f"{r.published_total:,}" if r.published_total else ""
        t.add_row(name, r.architecture, f"{r.total_params:,}", r.label, active, published,
                  _MATCH[r.total_matches])
    console.print(t)
