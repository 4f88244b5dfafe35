"""FastTable draws what rich's own Table draws: the same text, and with colours the same escape codes.

rich itself is the reference: every generated table is printed twice, once as a rich Table with the
rows added and once as a FastTable, on the same kind of console, and the two outputs must be equal.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
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
    t = Table(padding=draw(st.sampled_from([(0, 1), (0, 2), (0, 0), (0, 1, 0, 3)])),
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
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system="truecolor" if colour else None,
                      force_terminal=colour)
    console.print(renderable)
    return out.getvalue()


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
