"""Tables that stay readable at any terminal width: names and numbers are never cut.

Every column says what it holds: a number (right-aligned, never wrapped), text that may wrap at spaces
(names fold only when a single word is wider than the whole terminal), and how secondary it is. When
the table's narrowest layout is wider than the console, the most secondary columns are left out, a
level at a time, and the caption says which (``--json`` always has everything). rich would otherwise
shrink every column and end names and numbers with "…".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from paramscope.records import record
from paramscope.render.table_fast import Cells, FastTable, width

Cell = str | Text
# Sub-components in the order model code and papers name them (q, k, v, o; gate, up, down); others
# keep the analysis's order after these.
COMPONENT_ORDER = ("q", "q_a", "q_b", "k", "v", "kv", "kv_a", "kv_b", "qkv", "o", "gate", "up", "gate_up",
                   "down")


@record
class Column:
    header: str
    numeric: bool = False  # right-aligned and never wrapped: "268,098,176", "235.16 MiB"
    drop: int = 0  # 0: always shown; narrow consoles leave out the highest levels first
    no_wrap: bool = False  # text shown whole (bars, sparklines, short codes)
    style: str | None = None
    min_width: int | None = None


def table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *,
          title: str | None = None, caption: str | Text | None = None, box: bool = True,
          padding: tuple[int, int] = (0, 1)) -> RenderableType:
    """A rich Table of ``rows`` with as many of ``columns`` as fit ``console.width``. The title and the
    caption are lines of their own, as wide as the console (a table's own would wrap at its width)."""
    shown = list(range(len(columns)))
    levels = sorted({c.drop for c in columns if c.drop}, reverse=True)
    cells = Cells(rows)
    widest = _widest(columns, rows, shown, cells)
    for level in [None, *levels]:
        if level is not None:
            shown = [i for i in shown if columns[i].drop < level]
        if _narrowest(console, columns, shown, rows, box, padding, widest) <= console.width:
            break
    left_out = [columns[i].header for i in range(len(columns)) if i not in shown and columns[i].header]
    if left_out:
        note = Text(f"(not shown at {console.width} columns: {', '.join(left_out)}; --json has them)",
                    style="dim")
        caption = note if caption is None else Text.assemble(caption, "\n", note)
    t = FastTable(_template(columns, shown, box=box, padding=padding), rows, cells, shown)
    parts: list[RenderableType] = [Text(title, style="italic")] if title else []
    parts.append(t)
    if caption is not None:
        parts.append(caption if isinstance(caption, Text) else Text(caption))
    return Group(*parts)


def groups(console: Console, fixed: Sequence[Column], per: Sequence[Column],
           rows: Sequence[tuple[Sequence[Cell], Sequence[Cell]]]) -> list[list[int]]:
    """The ``per`` columns (one per target, say) split into consecutive groups that each fit the console
    beside the ``fixed`` ones, so that several narrower tables replace one that would not fit."""
    out: list[list[int]] = []
    start = 0
    while start < len(per):
        k = len(per) - start
        while k > 1:
            cols = [*fixed, *per[start:start + k]]
            cells = [[*f, *p[start:start + k]] for f, p in rows]
            if _narrowest(console, cols, range(len(cols)), cells, True, (0, 1)) <= console.width:
                break
            k -= 1
        out.append(list(range(start, start + k)))
        start += k
    return out


def grid(rows: Sequence[tuple[str, RenderableType]], padding: int = 2) -> Table:
    """Label / value lines: labels whole, values wrapped at spaces to the console width."""
    t = Table.grid(padding=(0, padding))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for label, value in rows:
        t.add_row(label, value)
    return t


def _template(columns: Sequence[Column], shown: Sequence[int], *, box: bool,
              padding: tuple[int, int]) -> Table:
    kw: dict = {} if box else {"box": None}
    t = Table(padding=padding, **kw)
    for i in shown:
        c = columns[i]
        t.add_column(c.header, justify="right" if c.numeric else "left", no_wrap=c.numeric or c.no_wrap,
                     overflow="fold", style=c.style, min_width=c.min_width)
    return t


def _narrowest(console: Console, columns: Sequence[Column], shown: Sequence[int],
               rows: Sequence[Sequence[Cell]], box: bool, padding: tuple[int, int],
               widest: dict[int, str] | None = None) -> int:
    """The width of the table when every wrapping column is as narrow as its longest word: a probe
    table whose cells are those words (numbers and no-wrap cells whole), measured by rich itself. A
    column's measure is that of its widest cell, so the probe holds one row of each column's widest
    (``widest``, computed once for the table)."""
    widest = widest if widest is not None else _widest(columns, rows, shown)
    probe = _template([Column(c.header, min_width=c.min_width) for c in columns],
                      shown, box=box, padding=padding)
    probe.add_row(*(Text(widest[i]) for i in shown))
    return Measurement.get(console, console.options.update(width=1 << 16), probe).maximum


def _widest(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], indexes: Iterable[int],
            cells: Cells | None = None) -> dict[int, str]:
    """Each column's widest unbreakable piece (its header included), as rich measures it: the longest
    line of a column shown whole, the longest word of one that wraps. ``cells`` has the lengths of the
    cells the fast path draws (one cell wide a character); the others are measured here."""
    out = {}
    for i in indexes:
        whole = columns[i].numeric or columns[i].no_wrap
        candidates = [_unbreakable(Text(columns[i].header), whole)]
        if cells is not None and rows:
            lengths = cells.lines[i] if whole else cells.words[i]
            best = max(range(len(rows)), key=lengths.__getitem__)
            text = cells.texts[best][i]
            if text is not None:
                candidates.append(_unbreakable(text, whole))
            candidates += [_unbreakable(row[i], whole) for row, texts in zip(rows, cells.texts, strict=True)
                           if texts[i] is None]
        else:
            candidates += [_unbreakable(row[i], whole) for row in rows]
        out[i] = max(candidates, key=width)
    return out


def _unbreakable(cell: Cell, whole: bool) -> str:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    if whole:
        return max(text.splitlines() or [""], key=len)
    return max(text.split(), key=len, default="")


def in_order(by_component: Collection[str]) -> list[str]:
    """The inventory's tree (parents first, top level in its order), siblings in ``COMPONENT_ORDER``."""
    paths = [p for p in by_component if p != "total"]
    rank = {name: i for i, name in enumerate(COMPONENT_ORDER)}
    children: dict[str, list[str]] = {}
    for p in paths:
        children.setdefault(p.rpartition("/")[0], []).append(p)
    out: list[str] = []

    def walk(parent: str) -> None:
        kids = children.get(parent, [])
        for child in sorted(kids, key=lambda c: (rank.get(c.rpartition("/")[2], len(rank)), kids.index(c))):
            out.append(child)
            walk(child)

    walk("")
    seen = set(out)
    out += [p for p in paths if p not in seen]  # a sub-component whose parent is not listed
    return out + (["total"] if "total" in by_component else [])
