"""``paramscope stats`` and ``paramscope quantize-error`` for people (rich tables) and for programs (JSON).

Renderers only lay out what the analyses computed. Names that came from the file are shown as plain
``Text`` (never markup). A histogram becomes a 16-character sparkline on a log scale, so the tails of
a weight distribution stay visible next to its peak.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.analyses.values.quant_error import ErrorTally, QuantErrorReport
from paramscope.analyses.values.stats import Histogram, Summary, WeightStats
from paramscope.render.inspect_view import plain
from paramscope.units import bytes_label

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 16
RATE_AFTER_SECONDS = 2.0
INFO_PER_KIND = 8  # informational findings shown per kind in the table view; --json has all
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}

# --- stats: tables ---------------------------------------------------------------------------------
def render_stats(r: WeightStats, console: Console, *, tensors: bool = True) -> None:
    console.print(_header(r))
    console.print(component_table(r))
    if tensors:
        console.print(tensor_table(r))
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


def _header(r: WeightStats) -> Text:
    # a rate over a short scan would mostly measure start-up (loading the compiled kernels)
    rate = f", {r.bytes_per_second / 1e9:.2f} GB/s" if r.seconds >= RATE_AFTER_SECONDS else ""
    return (Text("source ", style="bold") + plain(r.source)
            + Text(f"  ({r.format}; {len(r.tensors)} tensors, {bytes_label(r.bytes_scanned)} read in "
                   f"{r.seconds:.2f} s{rate}, {r.backend})"))


def component_table(r: WeightStats) -> Table:
    t = _summary_table("Values by component", "component")
    for path, s in r.by_component.items():
        depth = 0 if path == "total" else path.count("/")
        name = Text("  " * depth + (path.split("/")[-1] if depth else path),
                    style="bold" if path == "total" else "")
        t.add_row(name, *_summary_cells(s))
    return t


def tensor_table(r: WeightStats) -> Table:
    """Fewer columns than the component table, so long tensor names fit; --json has every field."""
    t = Table(title="Values by tensor", title_justify="left")
    longest = max((len(ts.name) for ts in r.tensors), default=6)
    t.add_column("tensor", no_wrap=True, min_width=min(48, longest))
    t.add_column("type")
    for name in ("values", "mean", "std", "min", "max", "zeros"):
        t.add_column(name, justify="right")
    t.add_column("histogram (log)", no_wrap=True)
    for ts in r.tensors:
        s = ts.summary
        cells = _summary_cells(s)
        t.add_row(plain(ts.name), ts.dtype, cells[0], cells[1], cells[2], cells[3], cells[4], cells[6],
                  cells[-1])
    return t


def _summary_table(title: str, first: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column(first)
    for name in ("values", "mean", "std", "min", "max", "|x| max", "zeros", "p1", "p50", "p99", "p99.9"):
        t.add_column(name, justify="right")
    t.add_column("histogram (log)", no_wrap=True)
    return t


def _summary_cells(s: Summary) -> list[str | Text]:
    """values, mean, std, min, max, |x| max, zeros, p1, p50, p99, p99.9, sparkline."""
    zeros = f"{s.zeros / s.count:.1%}" if s.count else "-"
    bad = f" ({s.nan} NaN, {s.inf} Inf)" if s.nan or s.inf else ""
    return [f"{s.count:,}{bad}", _num(s.mean), _num(s.std), _num(s.min), _num(s.max), _num(s.absmax),
            zeros, *(_num(v) for _, v in s.percentiles), Text(sparkline(s.histogram), style="cyan")]


def _num(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.4g}"


def sparkline(h: Histogram, width: int = SPARK_WIDTH) -> str:
    if not h.counts:
        return ""
    groups = [sum(h.counts[i * len(h.counts) // width:(i + 1) * len(h.counts) // width])
              for i in range(min(width, len(h.counts)))]
    top = math.log1p(max(groups))
    if top == 0:
        return SPARK[0] * len(groups)
    return "".join(" " if g == 0 else SPARK[min(7, int(math.log1p(g) / top * 7.999))] for g in groups)


# --- quantize-error ----------------------------------------------------------------------------------
def render_quant_error(r: QuantErrorReport, console: Console, *, tensors: bool = False) -> None:
    console.print(Text("source ", style="bold") + plain(r.source)
                  + Text(f"  (sample {r.sample:g} of the rows, {r.seconds:.1f} s)"))
    console.print(totals_table(r))
    console.print(component_error_table(r))
    if tensors:
        console.print(tensor_error_table(r))
    if r.assignment is not None:
        console.print(assignment_table(r))
    seen: set[str] = set()
    for res in r.targets:
        for note in res.notes:
            if note not in seen:
                seen.add(note)
                console.print(Text(f"note ({res.target}): ", style="dim") + plain(note))
    for note in r.notes:
        console.print(Text("note: ", style="dim") + plain(note))


def totals_table(r: QuantErrorReport) -> Table:
    t = Table(title="Whole model at each target", title_justify="left")
    for name, justify in (("target", "left"), ("scheme", "left"), ("size", "right"), ("bits/weight", "right"),
                          ("rel. RMSE", "right"), ("SNR dB", "right")):
        t.add_column(name, justify=justify)
    for res in r.targets:
        t.add_row(res.target, res.scheme, bytes_label(res.total.bytes), f"{res.bits_per_weight:.2f}",
                  _rmse(res.total), _snr(res.total))
    return t


def component_error_table(r: QuantErrorReport) -> Table:
    t = Table(title="Relative RMSE (SNR dB) by component", title_justify="left")
    t.add_column("component")
    for res in r.targets:
        t.add_column(res.target, justify="right")
    for path in r.targets[0].by_component if r.targets else ():
        depth = 0 if path == "total" else path.count("/")
        label = Text("  " * depth + (path.split("/")[-1] if depth else path),
                     style="bold" if path == "total" else "")
        t.add_row(label, *(_cell(res.by_component.get(path)) for res in r.targets))
    return t


def tensor_error_table(r: QuantErrorReport) -> Table:
    t = Table(title="Relative RMSE (type) by tensor", title_justify="left")
    t.add_column("tensor")
    for res in r.targets:
        t.add_column(res.target, justify="right")
    for i, row in enumerate(r.targets[0].rows if r.targets else ()):
        t.add_row(plain(row.name), *(f"{_rmse(res.rows[i].tally)} ({res.rows[i].type})" for res in r.targets))
    return t


def assignment_table(r: QuantErrorReport) -> Table:
    a = r.assignment
    t = Table(title=f"Most accurate choice per component within {bytes_label(a.budget)}",
              title_justify="left", caption=_verdict(a), caption_justify="left")
    for name in ("component", "target", "size", "rel. RMSE", "SNR dB"):
        t.add_column(name, justify="left" if name in ("component", "target") else "right")
    for c, target in a.choice.items():
        tally = a.by_component[c]
        t.add_row(plain(c), target, bytes_label(tally.bytes), _rmse(tally), _snr(tally))
    return t


def _verdict(a) -> str:
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
