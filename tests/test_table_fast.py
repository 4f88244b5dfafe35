"""FastTable draws what rich's own Table draws: the same text, and with colours the same escape codes.

rich itself is the reference: every generated table is printed twice, once as a rich Table with the
rows added and once as a FastTable, on the same kind of console, and the two outputs must be equal.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from paramscope.render.table import Column, table
from paramscope.render.table_fast import FastTable, _copy

# characters that take each path: ASCII, one-cell non-ASCII (×, │, █), one rich measures char by
# char (—), two-cell (中), combining (é as e + U+0301), markup and emoji openers, blanks
ALPHABET = "ab Z09.-_×█—中e\u0301[]:/"
words = st.text(alphabet=ALPHABET, min_size=0, max_size=30)


@st.composite
def cells(draw: st.DrawFn) -> str | Text:
    s = draw(words)
    kind = draw(st.sampled_from(["str", "text", "styled", "spans"]))
    if kind == "str":  # rich reads a str as markup ("[/]" alone is an error there): valid markup only
        return draw(st.sampled_from(["", "[bold]"])) + s.replace("[", "(")
    if kind == "text":
        return Text(s)
    if kind == "styled":
        return Text(s, style=draw(st.sampled_from(["dim", "bold", "cyan"])))
    t = Text(s)
    if s:
        t.stylize("red", 0, draw(st.integers(0, len(s))))
    return t


@st.composite
def tables(draw: st.DrawFn) -> tuple[Table, list[list[str | Text]]]:
    n = draw(st.integers(1, 5))
    kw = {} if draw(st.booleans()) else {"box": None}
    t = Table(padding=draw(st.sampled_from([(0, 1), (0, 2), (0, 0), (0, 1, 0, 3), (1, 1)])),
              show_edge=draw(st.booleans()), **kw)
    for _ in range(n):
        t.add_column(draw(st.text(alphabet="abc xyz", max_size=12)),
                     justify=draw(st.sampled_from(["left", "right"])), no_wrap=draw(st.booleans()),
                     overflow=draw(st.sampled_from(["fold", "crop", "ellipsis"])),
                     style=draw(st.sampled_from([None, "cyan", "bold dim"])),
                     min_width=draw(st.sampled_from([None, None, 3, 12])))
    rows = draw(st.lists(st.lists(cells(), min_size=n, max_size=n), max_size=12))
    return t, rows


def printed(renderable: object, width: int, colour: bool) -> str:
    """The text a console writes, with colours or without; and what a recording console exports as
    HTML (zoo_view's page), where segments and their styles become spans."""
    texts = []
    for record in (False, True):
        out = io.StringIO()
        console = Console(file=out, width=width, highlight=False, force_terminal=colour, record=record,
                          color_system="truecolor" if colour else None)
        console.print(renderable)
        texts.append(out.getvalue() + (console.export_html(inline_styles=True) if record else ""))
    return "".join(texts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(8, 140), st.booleans())
def test_fast_table_draws_what_rich_draws(spec: tuple[Table, list[list[str | Text]]], width: int,
                                         colour: bool) -> None:
    template, rows = spec
    reference = _copy(template)
    for row in rows:
        reference.add_row(*row)
    assert printed(FastTable(template, rows), width, colour) == printed(reference, width, colour)


def test_long_table_matches_rich_at_80_and_160_columns() -> None:
    """Thousands of rows of the shapes `inspect --tensors` prints: long names folded at 80 columns."""
    columns = (Column("name"), Column("shape", no_wrap=True), Column("type", no_wrap=True),
               Column("params", numeric=True, drop=1), Column("component", drop=3))
    rows: list[list[str | Text]] = [
        [Text(f"model.layers.{i}.mlp.experts.{e}.gate_proj.weight" + ("_scale_inv" if e % 2 else "")),
         f"{2048 + e}×7168", "F8_E4M3" if e % 2 == 0 else "F32", "—" if e % 2 else f"{2048 * 7168:,}",
         "experts/gate (weight)"]
        for i in range(8) for e in range(300)]
    for width in (80, 160):
        for colour in (False, True):
            out = io.StringIO()
            console = Console(file=out, width=width, highlight=False,
                              color_system="truecolor" if colour else None, force_terminal=colour)
            fast = table(console, columns, rows, title="Tensors")
            reference = _copy(fast.renderables[1].template)  # type: ignore[attr-defined]
            for row in fast.renderables[1].rows:  # type: ignore[attr-defined]
                reference.add_row(*row)
            assert printed(fast.renderables[1], width, colour) == printed(reference, width, colour)


# --- render.table.table against the straightforward version: rich measures every cell ------------

def reference_table(console: Console, columns: list[Column], rows: list[list[str | Text]]) -> Table:
    """render.table.table as it was before FastTable (columns left out a drop level at a time until
    a probe of every cell's longest unbreakable piece fits), drawn by rich's own Table."""
    def unbreakable(cell: str | Text, whole: bool) -> str:
        text = cell.plain if isinstance(cell, Text) else str(cell)
        lines = text.splitlines() or [""]
        if whole:
            return max(lines, key=len)
        return max((w for ln in lines for w in ln.split()), key=len, default="")

    def narrowest(shown: list[int]) -> int:
        probe = Table(padding=(0, 1))
        for i in shown:
            probe.add_column(columns[i].header, min_width=columns[i].min_width)
        for row in [[Text(c.header) for c in columns], *rows]:
            probe.add_row(*(Text(unbreakable(row[i], columns[i].numeric or columns[i].no_wrap))
                            for i in shown))
        return Measurement.get(console, console.options.update(width=1 << 16), probe).maximum

    shown = list(range(len(columns)))
    for level in [None, *sorted({c.drop for c in columns if c.drop}, reverse=True)]:
        if level is not None:
            shown = [i for i in shown if columns[i].drop < level]
        if narrowest(shown) <= console.width:
            break
    t = Table(padding=(0, 1))
    for i in shown:
        c = columns[i]
        t.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=c.numeric or c.no_wrap,
                     overflow="fold", style=c.style, min_width=c.min_width)
    for row in rows:
        t.add_row(*(row[i] for i in shown))
    return t


@st.composite
def column_specs(draw: st.DrawFn) -> tuple[list[Column], list[list[str | Text]]]:
    n = draw(st.integers(1, 6))
    columns = [Column(draw(st.text(alphabet="abc xyz", max_size=10)), numeric=draw(st.booleans()),
                      drop=draw(st.integers(0, 3)), no_wrap=draw(st.booleans()),
                      style=draw(st.sampled_from([None, "cyan"])), min_width=draw(st.sampled_from([None, 4])))
               for _ in range(n)]
    rows = draw(st.lists(st.lists(cells(), min_size=n, max_size=n), max_size=10))
    return columns, rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column_specs(), st.integers(20, 160), st.booleans())
def test_table_shows_the_columns_and_draws_what_the_straightforward_table_does(
        spec: tuple[list[Column], list[list[str | Text]]], width: int, colour: bool) -> None:
    columns, rows = spec
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system="truecolor" if colour else None,
                      force_terminal=colour)
    ours = table(console, columns, rows).renderables[0]  # type: ignore[attr-defined]
    assert printed(ours, width, colour) == printed(reference_table(console, columns, rows), width, colour)
