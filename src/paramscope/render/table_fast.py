"""A rich table that lays out and draws thousands of rows in linear time, drawing what rich draws.

rich measures every cell of a table to size its columns and renders every cell through Padding, Text
wrapping and line cropping: over half a millisecond a row, so `inspect --tensors` on DeepSeek-V3's
91,991 tensors took a minute. ``FastTable`` gives the same characters and styles:

- Layout: a column's width depends only on the widest "longest word" and the widest line among its
  cells (``Text.__rich_measure__``, wrapped in ``Padding``: both monotone), so rich lays out a small
  probe table holding the header, the rows with those extreme cells, and every row that has a cell the
  fast path below does not handle; the widths it computes are the whole table's.
- Drawing: a cell that is one line of single-width printable characters that fits its column is the
  segments rich's Padding → Text.wrap → justify pipeline makes of it (left pad, the text padded to the
  width — right-justified text loses trailing blanks first, as ``Lines.justify`` does —, right pad,
  each with the column's style); any other row is drawn cell by cell through rich itself, as
  ``Table._render`` does. Borders come from the box, as there. With no colours and no recording the
  styles cannot show, and a row is one segment.

It leans on three of Table's own members: ``_calculate_column_widths`` and ``_extra_width`` (the
layout) and ``_render`` (the header), which rich 13 to 15 have alike. tests/test_table_fast.py
compares the output with rich's own Table's, plain, in colour and exported as HTML, so a rich that
draws differently fails there.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import cast

import rich.cells
from rich.box import Box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

Cell = str | Text
# rich's test that every character of a string is one cell wide, so that its cell_len is its len (a set
# lookup in rich 13.8+); without it, ASCII, which the same holds for
_single_cells = getattr(rich.cells, "_is_single_cell_widths", str.isascii)


def width(s: str) -> int:
    """rich's cell_len, without its per-string cache lookup for printable ASCII (one cell each)."""
    return len(s) if s.isascii() and s.isprintable() else cell_len(s)


def _simple(cell: Cell, single: dict[str, bool]) -> str | None:
    """The text of a cell the fast path draws exactly, else None: a str that rich's markup and emoji
    parsing leave as it is (no "[", no ":"), or a Text without spans or its own justify/overflow/wrap;
    in both, printable characters one cell wide each (so length is width). ``single`` caches the
    answer for text that is not ASCII."""
    if type(cell) is str:
        s = cell
        if "[" in s or ":" in s:
            return None
    elif type(cell) is Text:
        if cell.spans or cell.justify or cell.overflow or cell.no_wrap is not None or cell.end != "\n":
            return None
        s = cell.plain
    else:
        return None
    if s.isascii():
        return s if s.isprintable() else None
    ok = single.get(s)
    if ok is None:
        ok = single[s] = s.isprintable() and all(cell_len(c) == 1 for c in s)
    return s if ok else None


class Cells:
    """What the fast path knows of every cell of a table's rows (all columns), computed once: its text
    where the fast path draws it (else None), and per column each such text's length and the length
    of its longest word (0 for none, or for a cell the fast path leaves to rich)."""

    def __init__(self, rows: Sequence[Sequence[Cell]]):
        single: dict[str, bool] = {}
        self.texts = [[_simple(c, single) for c in row] for row in rows]
        self.lines: list[list[int]] = []
        self.words: list[list[int]] = []
        for column in zip(*self.texts, strict=True):
            texts = ["" if s is None else s for s in column]
            self.lines.append(list(map(len, texts)))
            self.words.append([len(max(s.split(), key=len, default="")) if " " in s else len(s)
                               for s in texts])


class FastTable:
    """``Table(columns…)`` with ``rows`` added, drawn as rich would draw it (padding without top or
    bottom, no footer, no row styles or section lines: the tables ``render.table`` builds). ``cells``
    of the rows with ``shown`` the indexes of the template's columns among theirs, when the rows have
    more columns than the table shows."""

    def __init__(self, template: Table, rows: Sequence[Sequence[Cell]], cells: Cells | None = None,
                 shown: Sequence[int] | None = None):
        self.template = template
        cells = cells if cells is not None else Cells(rows)
        shown = list(shown) if shown is not None else list(range(len(template.columns)))
        if shown == list(range(len(rows[0]) if rows else 0)):
            self.rows, self.texts = rows, cells.texts
        else:
            pick = operator.itemgetter(*shown) if len(shown) > 1 else lambda r: [r[i] for i in shown]
            self.rows, self.texts = list(map(pick, rows)), list(map(pick, cells.texts))
        if not all(c.justify in ("left", "right") for c in template.columns):  # rich draws every row
            self.texts = [[None] * len(row) for row in self.rows]
        self.probe = self._probe([cells.lines[i] for i in shown] if cells.lines else [],
                                 [cells.words[i] for i in shown] if cells.words else [])

    def _probe(self, lines: list[list[int]], words: list[list[int]]) -> Table:
        """The header, each column's widest line and widest word (rich's minimum: a cell of blanks
        measures its length), and the rows the fast path leaves."""
        keep: set[int] = {i for i, texts in enumerate(self.texts) if None in texts}
        for column_lines, column_words in zip(lines, words, strict=True):
            minimum = [w or n for w, n in zip(column_words, column_lines, strict=True)]
            keep.update(max(range(len(n)), key=n.__getitem__) for n in (column_lines, minimum))
        probe = _copy(self.template)
        for i in sorted(keep):
            probe.add_row(*self.rows[i])
        return probe

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return self.probe.__rich_measure__(console, options)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.template.columns:  # as Table draws a table without columns
            yield Segment("\n")
            return
        probe = self.probe
        extra = probe._extra_width
        widths = probe._calculate_column_widths(console, options.update_width(options.max_width - extra))
        render_options = options.update(width=sum(widths) + extra, highlight=probe.highlight, height=None)
        header = cast("Iterable[Segment]", _copy(self.template)._render(console, render_options, widths))
        head = list(Segment.split_lines(header))
        box = probe.box.substitute(options, safe=console.safe_box if probe.safe_box is None else
                                   probe.safe_box) if probe.box else None
        has_foot = box is not None and probe.show_edge
        for line in head[:-1] if has_foot else head:
            yield from line
            yield Segment.line()
        yield from self._body(console, render_options, widths, box)
        if has_foot:
            yield from head[-1]
            yield Segment.line()

    def _body(self, console: Console, options: ConsoleOptions, widths: list[int],
              box: Box | None) -> Iterable[Segment]:
        t = self.template
        border = console.get_style(t.style or "") + console.get_style(t.border_style or "")
        # styles cannot show (no colours, no recording), or there are none: a line is its text
        plain = console.color_system is None and not console.record
        unstyled = plain or not (border or any(c.style for c in t.columns))
        top, right_pad, bottom, left_pad = Padding.unpack(t.padding)
        styles = [console.get_style(c.style or "") for c in t.columns]
        inner = [w - left_pad - right_pad for w in widths]
        right_justified = [c.justify == "right" for c in t.columns]
        # a word longer than its column is cut into lines of the column's width (Text.wrap with
        # overflow "fold": divide_line → chop_cells); a no_wrap column would crop it instead
        folds = [not c.no_wrap and c.overflow == "fold" for c in t.columns]
        # a column no wider than its padding, or blank lines above and below cells: rich draws every row
        narrow = min(inner, default=1) < 1 or top > 0 or bottom > 0
        pad_l, pad_r = " " * left_pad, " " * right_pad
        blanks = [" " * w for w in widths]
        draw = _Draw(console, styles, border, pad_l, pad_r, box is not None and t.show_edge, box is not None)
        mid = (box.mid_left, box.mid_right, box.mid_vertical) if box else ("", "", "")
        foot = (box.foot_left, box.foot_right, box.foot_vertical) if box else ("", "", "")
        # the text around and between the cells of a one-line row, in the middle and at the foot
        frames = {id(e): ((e[0] if draw.outer else "") + pad_l, pad_r + e[2] + pad_l,
                          pad_r + (e[1] if draw.outer else "")) for e in (mid, foot)}
        newline = Segment.line()
        last = len(self.rows) - 1
        le, ljust, rjust, rstrip = operator.le, str.ljust, str.rjust, str.rstrip
        for index, (row, texts) in enumerate(zip(self.rows, self.texts, strict=True)):
            edges = foot if index == last else mid
            if narrow or None in texts:
                yield from _rich_row(console, options, t, widths, row, edges, border, box is not None)
                continue
            full: list[str] = texts  # type: ignore[assignment]  # no None in it
            flat = unstyled and (plain or not any(isinstance(c, Text) and c.style for c in row))
            if all(map(le, map(len, full), inner)):
                cells = [rjust(rstrip(s), w) if rj else ljust(s, w)
                         for s, w, rj in zip(full, inner, right_justified, strict=True)]
                if flat:  # the hot path: one line of text
                    start, joint, end = frames[id(edges)]
                    line = start + joint.join(cells) + end
                    if _single_cells(line):
                        yield Segment(line)
                        yield newline
                    else:
                        yield from _plain_segments(cells, edges, draw)
                else:
                    yield from draw.styled_line(cells, row, edges)
                continue
            # a long word folded onto more lines; anything else (spaces to wrap at, cropping) is rich's
            if any(len(s) > w and (not fold or " " in s)
                   for s, w, fold in zip(full, inner, folds, strict=True)):
                yield from _rich_row(console, options, t, widths, row, edges, border, box is not None)
                continue
            pieces = [[s[i:i + w] for i in range(0, len(s), w)] or [""]
                      for s, w in zip(full, inner, strict=True)]
            height = max(map(len, pieces))
            for line_no in range(height):
                cells_or_blank = [(p[line_no].rstrip().rjust(w) if rj else p[line_no].ljust(w))
                                  if line_no < len(p) else None
                                  for p, w, rj in zip(pieces, inner, right_justified, strict=True)]
                if flat:
                    padded = [c is not None for c in cells_or_blank]
                    cells = [b if c is None else c for c, b in zip(cells_or_blank, blanks, strict=True)]
                    yield Segment(draw.plain_line(cells, edges, padded))
                    yield Segment.line()
                else:
                    yield from draw.styled_line(cells_or_blank, row, edges, blanks)


class _Draw:
    """One body line as segments, the way Table._render assembles a row of Padding-wrapped cells."""

    def __init__(self, console: Console, styles: list[Style], border: Style, pad_l: str, pad_r: str,
                 outer: bool, boxed: bool):
        self.console, self.styles, self.border = console, styles, border
        self.pad_l, self.pad_r, self.outer, self.boxed = pad_l, pad_r, outer, boxed
        self.pads = [(Segment(pad_l, s) if pad_l else None, Segment(pad_r, s) if pad_r else None)
                     for s in styles]
        self.text_styles: dict[tuple[int, object], Style] = {}

    def plain_line(self, cells: list[str], edges: tuple[str, str, str],
                   padded: list[bool] | None = None) -> str:
        """The line's text; ``padded`` False marks a blank that already spans its padding."""
        pad_l, pad_r = self.pad_l, self.pad_r
        if padded is None:
            body = edges[2].join(pad_l + c + pad_r for c in cells)
        else:
            body = edges[2].join(pad_l + c + pad_r if p else c for c, p in zip(cells, padded, strict=True))
        return edges[0] + body + edges[1] if self.outer else body

    def styled_line(self, cells: Sequence[str | None], row: Sequence[Cell], edges: tuple[str, str, str],
                    blanks: list[str] | None = None) -> list[Segment]:
        """``cells`` justified to their widths; None is a blank line of a cell with fewer lines."""
        segments: list[Segment] = []
        if self.outer:
            segments.append(Segment(edges[0], self.border))
        for col, (text, cell) in enumerate(zip(cells, row, strict=True)):
            if col and self.boxed:
                segments.append(Segment(edges[2], self.border))
            style = self.styles[col]
            if text is None:  # Segment.align_top: one segment as wide as the column, in the cell's style
                segments.append(Segment(blanks[col], style))  # type: ignore[index]
                continue
            left, right = self.pads[col]
            if left:
                segments.append(left)
            base = cell.style if isinstance(cell, Text) and cell.style else None
            if base is not None:
                key = (col, base)
                if key not in self.text_styles:
                    own = self.console.get_style(base)
                    self.text_styles[key] = style + own if style else own
                segments.append(Segment(text, self.text_styles[key]))
            else:
                segments.append(Segment(text, style) if style else Segment(text))
            if right:
                segments.append(right)
        if self.outer:
            segments.append(Segment(edges[1], self.border))
        segments.append(Segment.line())
        return segments


def _plain_segments(cells: list[str], edges: tuple[str, str, str], draw: _Draw) -> Iterable[Segment]:
    """A row as few unstyled segments: the console measures each segment's cells (rich.cells.cell_len),
    character by character unless all are of a few common widths, caching only short strings; so
    a cell with other characters ("—") is a segment of its own, which repeats and hits that cache."""
    pieces = [edges[0]] if draw.outer else []
    for col, text in enumerate(cells):
        if col and draw.boxed:
            pieces.append(edges[2])
        cell = draw.pad_l + text + draw.pad_r
        if _single_cells(cell):
            pieces.append(cell)
        else:
            if pieces:
                yield Segment("".join(pieces))
                pieces = []
            yield Segment(cell)
    if draw.outer:
        pieces.append(edges[1])
    if pieces:
        yield Segment("".join(pieces))
    yield Segment.line()


def _copy(template: Table) -> Table:
    """An empty table with ``template``'s settings and columns (headers, styles, widths)."""
    from copy import copy

    t = copy(template)
    t.columns = [copy(c) for c in template.columns]
    for c in t.columns:
        c._cells = []
    t.rows = []
    return t


def _rich_row(console: Console, options: ConsoleOptions, t: Table, widths: list[int], row: Sequence[Cell],
              edges: tuple[str, str, str], border: Style, boxed: bool) -> Iterable[Segment]:
    """One body row drawn as ``Table._render`` draws it (rich 13–15): every cell through Padding and
    render_lines, aligned to the top of the row's height."""
    top, right, bottom, left = Padding.unpack(t.padding)
    cells: list[list[list[Segment]]] = []
    for w, cell, column in zip(widths, row, t.columns, strict=True):
        style = console.get_style(column.style or "") + Style.null()
        cell_options = options.update(width=w, justify=column.justify, no_wrap=column.no_wrap,
                                      overflow=column.overflow, height=None, highlight=column.highlight)
        padded = Padding(cell, (top, right, bottom, left))
        cells.append(console.render_lines(padded, cell_options, style=style))
    row_height = max(len(c) for c in cells)
    height = max(1, row_height)  # a row is at least a line high, even when its cells render none
    shaped = [Segment.set_shape(Segment.align_top(c, w, row_height, console.get_style(column.style or "")
                                                  + Style.null()), w, height)
              for w, c, column in zip(widths, cells, t.columns, strict=True)]
    divider = Segment(edges[2], border) if edges[2].strip() else Segment(edges[2], Style.null() + border)
    for line_no in range(height):
        if boxed and t.show_edge:
            yield Segment(edges[0], border)
        for col, c in enumerate(shaped):
            if col and boxed:
                yield divider
            yield from c[line_no]
        if boxed and t.show_edge:
            yield Segment(edges[1], border)
        yield Segment.line()
