"""``paramscope ls``: one row per model found on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from paramscope.render.table import Cell, Column, table
from paramscope.render.text import plain
from paramscope.units import bytes_label

if TYPE_CHECKING:
    from paramscope.app.ls import ModelRow


def render_ls(rows: list[ModelRow], console: Console) -> None:
    if not rows:
        console.print("no models found (looked in the Hugging Face cache, Ollama, LM Studio and the "
                      "folders given)")
        return
    columns = (Column("name"), Column("where", drop=2), Column("format", drop=1),
               Column("parameters", numeric=True), Column("stored as", drop=1),
               Column("on disk", numeric=True), Column("path", drop=3))
    cells: list[list[Cell]] = []
    for r in rows:
        f = r.found
        name = plain(f.name + (f" @{f.revision}" if f.revision and f.place == "hf-cache" else ""))
        params = Text(r.label, style="bold cyan") if r.error is None else Text("error", style="red")
        cells.append([name, f.place, r.format or f.format, params, plain(r.stored_as), bytes_label(f.size),
                      plain(f.path)])
    console.print(table(console, columns, cells))
    for r in rows:
        if r.error:
            console.print(Text("error: ", style="red") + plain(r.error))
    total = sum(r.found.size for r in rows)
    console.print(Text(f"{len(rows)} models, {bytes_label(total)} on disk", style="dim"))
