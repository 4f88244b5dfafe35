"""``paramscope size`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.text import notes_and_explain, plain
from paramscope.units import bytes_label

_FITS = {True: "[green]fits[/]", False: "[red]does not fit[/]", None: ""}


def _gb(n: int) -> str:
    return f"{n / 1e9:,.2f} GB"


def render_size(est, console: Console, *, explain: bool = False) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("source", plain(est.source))
    head.add_row("runtime", est.runtime)
    head.add_row("context", est.context_note + (f", {est.batch} sequences" if est.batch > 1 else ""))
    head.add_row("weights", plain(est.weights_scheme))
    head.add_row("KV cache type", est.kv_type)
    console.print(head)
    t = Table(title="Memory", title_justify="left")
    for col in ("part", "bytes", "", ""):
        t.add_column(col, justify="left" if col == "part" else "right")
    for name, n in (("weights", est.weights_bytes), ("KV cache", est.kv_cache_bytes),
                    ("runtime buffers", est.compute_bytes), ("overhead", est.overhead_bytes)):
        t.add_row(name, f"{n:,}", bytes_label(n), _gb(n))
    t.add_row(Text("total", style="bold"), Text(f"{est.total_bytes:,}", style="bold"),
              Text(bytes_label(est.total_bytes), style="bold"), Text(_gb(est.total_bytes), style="bold"))
    console.print(t)
    if est.per_device and est.per_device[0].device is not None:
        d = Table(title="Per device (even split)", title_justify="left")
        for col in ("device", "weights", "KV cache", "buffers", "overhead", "total", "memory", ""):
            d.add_column(col, justify="left" if col == "device" else "right")
        for u in est.per_device:
            sizes = (u.weights_bytes, u.kv_cache_bytes, u.compute_bytes, u.overhead_bytes, u.total_bytes,
                     u.device.usable_bytes)
            d.add_row(f"{u.index}: {u.device.key}", *map(bytes_label, sizes), _FITS[u.fits])
        console.print(d)
    notes_and_explain(console, est.notes, est.explain, explain)
