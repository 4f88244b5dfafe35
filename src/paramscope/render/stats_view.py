"""``paramscope stats`` and ``paramscope quantize-error`` for people (rich tables) and for programs (JSON).

Renderers only lay out what the analyses computed. Names that came from the file are shown as plain
``Text`` (never markup). A histogram becomes a 16-character sparkline on a log scale, so the tails of
a weight distribution stay visible next to its peak.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from paramscope.analyses.values.quant_error import Assignment, ErrorTally, QuantErrorReport
from paramscope.analyses.values.stats import Histogram, Summary, WeightStats
from paramscope.records import replace
from paramscope.render.table import Cell, Column, grid, groups, in_order, table
from paramscope.render.text import PathText, plain
from paramscope.units import bytes_label, decimal_label, size_label

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 16
RATE_AFTER_SECONDS = 2.0
INFO_PER_KIND = 8  # informational findings shown per kind in the table view; --json has all
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}

# --- stats: tables ---------------------------------------------------------------------------------
def render_stats(r: WeightStats, console: Console, *, tensors: bool = True) -> None:
    console.print(_header(r))
    console.print(component_table(r, console))
    if tensors:
        console.print(tensor_table(r, console))
    shown: dict[str, int] = {}
    for a in r.anomalies:
        shown[a.kind] = shown.get(a.kind, 0) + 1
        if a.severity == "info" and shown[a.kind] > INFO_PER_KIND:
            continue
        console.print(Text(f"{a.severity}: ", style=SEVERITY_STYLE[a.severity]) + Text(f"{a.kind} ")
                      + plain(", ".join(a.tensors)) + Text(": ") + plain(a.detail))
    for kind, n in shown.items():
        if n > INFO_PER_KIND and any(a.kind == kind and a.severity == "info" for a in r.anomalies):
            console.print(Text(f"info: {kind} in {n - INFO_PER_KIND} more tensors (--json lists every one)",
                               style="dim"))
    if not r.anomalies:
        console.print(Text("no anomalies found", style="green"))
    for note in r.notes:
        console.print(Text("note: ", style="dim") + plain(note))


def _header(r: WeightStats) -> Table:
    # a rate over a short scan would mostly measure start-up (loading the compiled kernels)
    rate = f", {decimal_label(int(r.bytes_per_second))}/s" if r.seconds >= RATE_AFTER_SECONDS else ""
    return grid([("source", PathText(r.source, f"  ({r.format}; {len(r.tensors)} tensors, "
                                               f"{bytes_label(r.bytes_scanned)} read in {r.seconds:.2f} s"
                                               f"{rate}, {r.backend})"))], padding=1)


# the summary columns, and how secondary each is at narrow widths (render.table.Column.drop)
SUMMARY_COLUMNS = (Column("values", numeric=True, drop=2), Column("mean", numeric=True),
                   Column("std", numeric=True), Column("min", numeric=True, drop=1),
                   Column("max", numeric=True, drop=1), Column("|x| max", numeric=True, drop=3),
                   Column("zeros", numeric=True, drop=3), Column("p1", numeric=True, drop=4),
                   Column("p50", numeric=True, drop=4), Column("p99", numeric=True, drop=4),
                   Column("p99.9", numeric=True, drop=4),
                   Column("histogram (log)", no_wrap=True, style="cyan"))


def component_table(r: WeightStats, console: Console) -> RenderableType:
    rows = []
    for path in in_order(r.by_component):
        s = r.by_component[path]
        depth = 0 if path == "total" else path.count("/")
        name = Text("  " * depth + (path.split("/")[-1] if depth else path),
                    style="bold" if path == "total" else "")
        rows.append([name, *_summary_cells(s)])
    return table(console, (Column("component"), *SUMMARY_COLUMNS), rows, title="Values by component")


def tensor_table(r: WeightStats, console: Console) -> RenderableType:
    """Fewer columns than the component table, so long tensor names fit; --json has every field."""
    keep = ("values", "mean", "std", "min", "max", "zeros", "histogram (log)")
    # here the names come first: the sparkline is the first thing a narrow terminal leaves out
    summary = [replace(c, drop=5) if c.no_wrap else c for c in SUMMARY_COLUMNS if c.header in keep]
    index = [i for i, c in enumerate(SUMMARY_COLUMNS) if c.header in keep]
    columns = (Column("tensor"), Column("type", no_wrap=True, drop=3), *summary)
    rows = []
    for ts in r.tensors:
        cells = _summary_cells(ts.summary)
        rows.append([plain(ts.name), ts.dtype, *(cells[i] for i in index)])
    return table(console, columns, rows, title="Values by tensor")


def _summary_cells(s: Summary) -> list[str | Text]:
    """values, mean, std, min, max, |x| max, zeros, p1, p50, p99, p99.9, sparkline."""
    zeros = f"{s.zeros / s.count:.1%}" if s.count else "-"
    bad = f" ({s.nan} NaN, {s.inf} Inf)" if s.nan or s.inf else ""
    return [f"{s.count:,}{bad}", _num(s.mean), _num(s.std), _num(s.min), _num(s.max), _num(s.absmax),
            zeros, *(_num(v) for _, v in s.percentiles), sparkline(s.histogram)]


def _num(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.4g}"


def sparkline(h: Histogram, width: int = SPARK_WIDTH) -> str:
    return sparkline_counts(h.counts, width)


def sparkline_counts(counts: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """Histogram counts as ``width`` block characters (bins merged in equal runs), on a log scale."""
    if not counts:
        return ""
    groups = [sum(counts[i * len(counts) // width:(i + 1) * len(counts) // width])
              for i in range(min(width, len(counts)))]
    top = math.log1p(max(groups))
    if top == 0:
        return SPARK[0] * len(groups)
    return "".join(" " if g == 0 else SPARK[min(7, int(math.log1p(g) / top * 7.999))] for g in groups)


# --- quantize-error ----------------------------------------------------------------------------------
def render_quant_error(r: QuantErrorReport, console: Console, *, tensors: bool = False) -> None:
    console.print(grid([("source", PathText(r.source, f"  (sample {r.sample:g} of the rows, "
                                                      f"{r.seconds:.1f} s)"))], padding=1))
    console.print(totals_table(r, console))
    for table_of in (types_table, component_error_table, *((tensor_error_table,) if tensors else ())):
        for t in table_of(r, console):
            console.print(t)
    if r.assignment is not None:
        console.print(assignment_table(r.assignment, console))
    seen: set[str] = set()
    for res in r.targets:
        for note in res.notes:
            if note not in seen:
                seen.add(note)
                console.print(Text(f"note ({res.target}): ", style="dim") + plain(note))
    for note in r.notes:
        console.print(Text("note: ", style="dim") + plain(note))


def totals_table(r: QuantErrorReport, console: Console) -> RenderableType:
    columns = (Column("target", no_wrap=True), Column("scheme", drop=1), Column("size", numeric=True),
               Column("bits/weight", numeric=True), Column("rel. RMSE", numeric=True),
               Column("SNR dB", numeric=True))
    rows = [[res.target, res.scheme, bytes_label(res.total.bytes), f"{res.bits_per_weight:.2f}",
             _rmse(res.total), _snr(res.total)] for res in r.targets]
    return table(console, columns, rows, title="Whole model at each target")


def types_table(r: QuantErrorReport, console: Console) -> list[RenderableType]:
    """What each target really stores at which type: a target quantizes some tensors and keeps others
    (embeddings, norms, biases) at another type, which is why bits/weight can exceed the target's own."""
    rows = []
    for name in dict.fromkeys(t for res in r.targets for t in res.by_type):
        cells: list[str | Text] = []
        for res in r.targets:
            tally = res.by_type.get(name)
            share = tally.params / res.total.params if tally and res.total.params else 0
            cells.append(f"{size_label(tally.params)} ({share:.0%})" if tally else "")
        rows.append(([name], cells))
    return _per_target(console, r, Column("type", no_wrap=True), rows, "Parameters at each type",
                       "a target quantizes the weight matrices it names; the rest keeps another type")


def component_error_table(r: QuantErrorReport, console: Console) -> list[RenderableType]:
    rows = []
    for path in in_order(r.targets[0].by_component) if r.targets else ():
        depth = 0 if path == "total" else path.count("/")
        label = Text("  " * depth + (path.split("/")[-1] if depth else path),
                     style="bold" if path == "total" else "")
        rows.append(([label], [_cell(res.by_component.get(path)) for res in r.targets]))
    return _per_target(console, r, Column("component"), rows, "Relative RMSE (SNR dB) by component")


def tensor_error_table(r: QuantErrorReport, console: Console) -> list[RenderableType]:
    rows = [([plain(row.name)], [f"{_rmse(res.rows[i].tally)} ({res.rows[i].type})" for res in r.targets])
            for i, row in enumerate(r.targets[0].rows if r.targets else ())]
    return _per_target(console, r, Column("tensor"), rows, "Relative RMSE (type) by tensor")


def _per_target(console: Console, r: QuantErrorReport, first: Column, rows, title: str,
                caption: str | None = None) -> list[RenderableType]:
    """One table, or as many as it takes to show every target's column whole at this width."""
    per = [Column(res.target, numeric=True) for res in r.targets]
    parts = groups(console, [first], per, rows)
    out = []
    for n, part in enumerate(parts):
        name = title if len(parts) == 1 else f"{title} ({n + 1} of {len(parts)})"
        cells = [[*f, *(p[i] for i in part)] for f, p in rows if any(p[i] != "" for i in part)]
        out.append(table(console, [first, *(per[i] for i in part)], cells, title=name,
                         caption=caption if n == len(parts) - 1 else None))
    return out


def assignment_table(a: Assignment, console: Console) -> RenderableType:
    columns = (Column("component"), Column("target", no_wrap=True), Column("size", numeric=True),
               Column("rel. RMSE", numeric=True), Column("SNR dB", numeric=True))
    rows: list[list[Cell]] = []
    for c, target in a.choice.items():
        tally = a.by_component[c]
        rows.append([plain(c), target, bytes_label(tally.bytes), _rmse(tally), _snr(tally)])
    return table(console, columns, rows, title=f"Most accurate choice per component within "
                                               f"{bytes_label(a.budget)}", caption=_verdict(a))


def _verdict(a: Assignment) -> str:
    whole = f"{bytes_label(a.total.bytes)}, rel. RMSE {_rmse(a.total)}, SNR {_snr(a.total)} dB"
    return f"fits: {whole}" if a.fits else f"does not fit even at the smallest choices: {whole}"


def _cell(tally: ErrorTally | None) -> str:
    return "-" if tally is None else f"{_rmse(tally)} ({_snr(tally)})"


def _rmse(tally: ErrorTally) -> str:
    return f"{tally.rel_rmse:.2e}" if tally.error > 0 else "0"


def _snr(tally: ErrorTally) -> str:
    v = tally.snr_db
    return "∞" if math.isinf(v) else f"{v:.1f}"


# --- progress ----------------------------------------------------------------------------------------
@contextmanager
def scan_progress(show: bool, label: str = "reading values"
                  ) -> Iterator[Callable[[int, int, str], None] | None]:
    """A transient progress bar on stderr with bytes and bytes/s, when ``show`` and stderr is a
    terminal; otherwise no callback at all (JSON and pipes stay clean)."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[name]}", style="dim"),
                  console=console, transient=True) as progress:
        task = progress.add_task("scan", total=None, name="")

        def update(done: int, total: int, name: str) -> None:
            progress.update(task, completed=done, total=total, name=name[-40:])

        yield update
