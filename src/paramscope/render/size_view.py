"""``paramscope size`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from paramscope.render.speed_view import speed_rows
from paramscope.render.table import Cell, Column, grid, table
from paramscope.render.text import PathText, notes_and_explain, plain
from paramscope.units import bytes_label, decimal_label

FITS = {True: Text("fits", style="green"), False: Text("does not fit", style="red"), None: Text("")}


def render_size(est, console: Console, *, explain: bool = False, speed=None) -> None:
    console.print(grid([
        ("source", PathText(est.source)),
        ("runtime", est.runtime),
        ("context", est.context_note + (f", {est.batch} sequences" if est.batch > 1 else "")),
        ("weights", plain(est.weights_scheme)),
        ("KV cache type", est.kv_type),
    ]))
    columns: tuple[Column, ...] = (Column("part"), Column("bytes", numeric=True),
                                   Column("binary", numeric=True), Column("decimal", numeric=True, drop=1))
    parts = [("weights", est.weights_bytes), ("KV cache", est.kv_cache_bytes),
             ("runtime buffers", est.compute_bytes), ("overhead", est.overhead_bytes)]
    if est.duplicate_bytes:
        parts.insert(1, ("weights held twice", est.duplicate_bytes))
    rows: list[list[Cell]] = [[name, f"{n:,}", bytes_label(n), decimal_label(n)] for name, n in parts]
    n = est.total_bytes
    rows.append([Text(c, style="bold") for c in ("total", f"{n:,}", bytes_label(n), decimal_label(n))])
    console.print(table(console, columns, rows, title="Memory"))
    placed = est.split != "even split"  # the runtime placed the model itself (transformers device_map)
    if est.per_device and (est.per_device[0].device is not None or placed):
        columns = (Column("device"), Column("weights", numeric=True, drop=1),
                   Column("KV cache", numeric=True, drop=1), Column("buffers", numeric=True, drop=2),
                   Column("overhead", numeric=True, drop=2), Column("total", numeric=True),
                   Column("memory", numeric=True), Column("verdict", no_wrap=True))
        rows = []
        for u in est.per_device:
            sizes = (u.weights_bytes, u.kv_cache_bytes, u.compute_bytes, u.overhead_bytes, u.total_bytes)
            name, memory = (f"{u.index}: {u.device.key}", bytes_label(u.device.usable_bytes)) if u.device \
                else (f"GPU {u.index}", "")
            rows.append([name, *map(bytes_label, sizes), memory, FITS[u.fits]])
        console.print(table(console, columns, rows, title=f"Per device ({est.split})"))
        if est.host_bytes:
            where = "CPU RAM (offloaded)" if placed else "host memory (not on the devices)"
            console.print(f"{where}: {bytes_label(est.host_bytes)}")
        if est.disk_bytes:
            console.print(f"disk (offload_folder): {bytes_label(est.disk_bytes)}")
    if speed is not None:
        n = len(est.per_device)
        where = f"{n} × {est.per_device[0].device.key}" if n > 1 else f"one {est.per_device[0].device.key}"
        lines = speed_rows(speed, where)
        if lines:
            console.print(Text("Speed", style="bold"))
            console.print(grid(lines))
    notes_and_explain(console, est.notes, (*est.explain, *(speed.explain if speed else ())), explain)
