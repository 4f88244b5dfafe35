"""``paramscope ls``: one row per model found on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.inspect_view import plain
from paramscope.units import bytes_label

if TYPE_CHECKING:
    from paramscope.app.ls import ModelRow


NUMERIC = ("parameters", "on disk")


def render_ls(rows: list[ModelRow], console: Console) -> None:
    if not rows:
        console.print("no models found (looked in the Hugging Face cache, Ollama, LM Studio and the "
                      "folders given)")
        return
    table = Table()
    for column in ("name", "where", "format", "parameters", "stored as", "on disk", "path"):
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    for r in rows:
        f = r.found
        name = plain(f.name + (f" @{f.revision}" if f.revision and f.place == "hf-cache" else ""))
        params = Text(r.label, style="bold cyan") if r.error is None else Text("error", style="red")
        table.add_row(name, f.place, r.format or f.format, params, plain(r.stored_as),
                      bytes_label(f.size), plain(f.path))
    console.print(table)
    for r in rows:
        if r.error:
            console.print(Text("error: ", style="red") + plain(r.error))
    total = sum(r.found.size for r in rows)
    console.print(Text(f"{len(rows)} models, {bytes_label(total)} on disk", style="dim"))
