"""``paramscope diff A B`` for people: the verdict, then structure, then values, in tables that stay
readable at 80 columns.

Renderers only lay out what the analysis computed. Names that came from files are plain ``Text``
(never markup). The per-tensor table lists the tensors that changed (``all_tensors`` lists every one);
``--json`` has every figure of every tensor.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.inspect_view import plain
from paramscope.render.table import Column, table
from paramscope.units import bytes_label, size_label

if TYPE_CHECKING:
    from paramscope.analyses.diff import DiffReport
    from paramscope.analyses.diff.structure import Side, StructureDiff
    from paramscope.analyses.diff.values import TensorDelta
    from paramscope.analyses.diff.verdict import ChangeTally
    from paramscope.analyses.diff.vocab import TokenizerDiff

LISTED = 8  # tensors named per list (added, removed …) before "and N more"
METADATA_ROWS = 12
LAYER_COLUMNS = 6  # top-level components shown in the per-layer table
VERDICT_STYLE = {"identical": "bold green", "same-weights": "bold green", "quantized": "bold yellow",
                 "fine-tune": "bold cyan", "different": "bold red", "structure-only": "bold"}


def render_diff(r: DiffReport, console: Console, *, all_tensors: bool = False) -> None:
    s = r.structure
    console.print(_side_line("A", s.a))
    console.print(_side_line("B", s.b))
    console.print(Text("verdict: ", style="bold") + Text(r.verdict.line, style=VERDICT_STYLE[r.verdict.kind]))
    render_structure(s, console)
    if r.values is not None:
        render_values(r, console, all_tensors=all_tensors)
    for note in (*s.notes, *r.notes):
        console.print(Text("note: ", style="dim") + plain(note))


def _side_line(label: str, side: Side) -> Text:
    arch = f"{side.family or side.architecture}, " if (side.family or side.architecture) else ""
    weights = "" if side.has_weights else ", no weights"
    return (Text(f"{label} ", style="bold") + plain(side.source)
            + Text(f"\n  {side.format}; {arch}{side.tensors} tensors, {size_label(side.params)} params, "
                   f"{bytes_label(side.bytes)}{weights}", style="dim"))


# --- structure -----------------------------------------------------------------------------------------
def render_structure(s: StructureDiff, console: Console) -> None:
    if s.hyperparameters:
        rows = [(plain(c.key), plain(_value(c.a)), plain(_value(c.b))) for c in s.hyperparameters]
        console.print(table(console, [Column("hyperparameter"), Column("A"), Column("B")], rows,
                            title="Hyperparameters that differ"))
    else:
        console.print(Text("hyperparameters: the same", style="dim"))
    console.print(_tensor_lines(s))
    if s.tokenizer is not None:
        console.print(_tokenizer_line(s.tokenizer))
    if s.metadata_compared:
        if s.metadata:
            more = len(s.metadata) - METADATA_ROWS
            console.print(table(console, [Column("key"), Column("A"), Column("B")],
                                [(plain(c.key), plain(_value(c.a)), plain(_value(c.b)))
                                 for c in s.metadata[:METADATA_ROWS]],
                                title=f"Metadata that differs ({len(s.metadata)} keys)",
                                caption=f"and {more} more keys (--json lists every one)" if more > 0
                                else None))
        else:
            console.print(Text("metadata: the same", style="dim"))


def _tensor_lines(s: StructureDiff) -> Text:
    text = Text("tensors: ", style="bold") + Text(f"{s.paired} paired")
    if s.mapping:
        text += Text(" (") + plain(s.mapping) + Text(")")
    for label, refs in (("only in A", s.removed), ("only in B", s.added)):
        if refs:
            text += Text(f"\n  {label} ({len(refs)}): ") + plain(_names([r.name for r in refs]))
    if s.renamed:
        text += Text(f"\n  renamed ({len(s.renamed)}): ") + plain(
            _names([f"{c.name_a} → {c.name_b}" for c in s.renamed]))
    if s.reshaped:
        text += Text(f"\n  reshaped ({len(s.reshaped)}): ") + plain(
            _names([f"{c.name_a} {list(c.shape_a)} → {list(c.shape_b)}" for c in s.reshaped]))
    if s.retyped:
        text += Text(f"\n  stored at another type ({len(s.retyped)}): ") + plain(
            ", ".join(f"{k} ×{n}" for k, n in s.type_changes.items()))
    params = f"{size_label(s.a.params)} → {size_label(s.b.params)}"
    text += Text(f"\n  params {params}, bytes {bytes_label(s.a.bytes)} → {bytes_label(s.b.bytes)}")
    return text


def _tokenizer_line(t: TokenizerDiff) -> Text:
    head = Text("vocabulary: ", style="bold")
    if t.same:
        return head + Text(f"the same ({t.size_a:,} tokens)")
    parts = [f"{t.size_a:,} → {t.size_b:,} tokens"]
    if t.added:
        parts.append(f"{t.added:,} added")
    if t.removed:
        parts.append(f"{t.removed:,} removed")
    if t.changed:
        parts.append(f"{t.changed:,} spelled differently")
    if t.special_added or t.special_removed:
        parts.append(f"special tokens +{t.special_added} / −{t.special_removed}")
    text = head + Text("; ".join(parts))
    for i, x, y in t.examples_changed:
        text += Text(f"\n  id {i}: ") + plain(repr(x)) + Text(" → ") + plain(repr(y))
    for i, x in t.examples_added:
        text += Text(f"\n  id {i} added: ") + plain(repr(x))
    return text


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def _value(v: object) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


# --- values --------------------------------------------------------------------------------------------
def render_values(r: DiffReport, console: Console, *, all_tensors: bool = False) -> None:
    v = r.values
    if v is None:  # values were not compared
        return
    rate = f", {v.bytes_per_second / 1e9:.2f} GB/s" if v.seconds >= 2 else ""
    hashed = f", hashes {v.hash_name}" if v.hash_name else ""
    console.print(Text(f"values: {len(v.tensors)} tensor pairs, {bytes_label(v.bytes_read)} read in "
                       f"{v.seconds:.2f} s{rate} ({v.backend}{hashed})", style="dim"))
    shown = [d for d in v.tensors if all_tensors or not d.identical]
    if not v.tensors:
        console.print(Text("no tensor pair whose values could be compared", style="dim"))
    elif shown:  # tables of zeros say nothing the line below does not
        console.print(component_table(r))
        layers = layer_table(r)
        if layers is not None:
            console.print(layers)
    if shown:
        console.print(tensor_table(shown, all_tensors, mapped=bool(r.structure.mapping)))
    elif v.tensors:
        console.print(Text("every compared tensor holds the same values", style="green"))
    if v.skipped:
        console.print(Text(f"not compared ({len(v.skipped)}): ", style="dim")
                      + plain(_names(list(v.skipped))))


def component_table(r: DiffReport) -> Table:
    t = Table(title="Change by component", title_justify="left")
    t.add_column("component")
    for name in ("changed", "rel. change", "SNR dB", "rank"):
        t.add_column(name, justify="right")
    for path, c in r.located.by_component.items():
        depth = 0 if path == "total" else path.count("/")
        label = Text("  " * depth + (path.split("/")[-1] if depth else path),
                     style="bold" if path == "total" else "")
        t.add_row(label, f"{c.changed_tensors}/{c.tensors}", _rel(c.rel_change), _db(c.snr_db), _rank(c))
    return t


def layer_table(r: DiffReport) -> Table | None:
    """Relative change per layer and top-level component (the heatmap of --plot, as numbers)."""
    layers = r.located.by_layer
    if not layers:
        return None
    tops: dict[str, None] = {}
    for cells in layers.values():
        tops.update(dict.fromkeys(k for k in cells if k != "total"))
    cols = list(tops)[:LAYER_COLUMNS]
    t = Table(title="Relative change by layer", title_justify="left")
    t.add_column("layer", justify="right")
    for c in cols:
        t.add_column(c, justify="right")
    for i, cells in layers.items():
        t.add_row(str(i), *(_rel(cells[c].rel_change) if c in cells else "" for c in cols))
    return t


def tensor_table(deltas: list[TensorDelta], all_tensors: bool, *, mapped: bool = False) -> Table:
    """One row per tensor, under A's name (B's too when it was renamed, not mapped: --json has both)."""
    title = "Every tensor" if all_tensors else f"Tensors that changed ({len(deltas)})"
    if mapped:
        title += ", by A's names"
    t = Table(title=title, title_justify="left")
    t.add_column("tensor", overflow="fold", ratio=3)
    t.add_column("type", overflow="fold")
    for name in ("rel. Δ", "cos", "SNR", "diff", "rank"):
        t.add_column(name, justify="right", no_wrap=True)
    for d in deltas:
        types = d.dtype_a if d.dtype_a == d.dtype_b else f"{d.dtype_a}→{d.dtype_b}"
        name = d.name if d.name == d.name_b or mapped else f"{d.name} → {d.name_b}"
        rank = d.spectrum.rank_label(99) if d.spectrum is not None else "-"
        t.add_row(plain(name), types, _rel(d.rel_change), _cos(d.cosine), _db(d.snr_db),
                  f"{d.changed_share:.0%}" if d.changed else "0", rank)
    t.caption = "rel. Δ = ‖B−A‖/‖A‖; diff = share of elements that differ; rank = rank of B−A at 99 % energy"
    t.caption_justify = "left"
    return t


def _rel(x: float) -> str:
    return "0" if x == 0 else ("∞" if math.isinf(x) else f"{x:.2e}")


def _db(x: float) -> str:
    return "∞" if math.isinf(x) and x > 0 else ("-∞" if math.isinf(x) else f"{x:.1f}")


def _cos(x: float) -> str:
    return "1" if x == 1 else f"{x:.6f}" if x > 0.99 else f"{x:.3f}"


def _rank(c: ChangeTally) -> str:
    if c.full_rank:
        return "full" if c.max_rank is None else f"≤{c.max_rank}, full"
    return "-" if c.max_rank is None else f"≤{c.max_rank}"
