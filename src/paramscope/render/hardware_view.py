"""``paramscope gpus`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from paramscope.render.table import Column, table
from paramscope.units import bytes_label


def _tflops(x: float | None) -> str:
    return f"{x / 1e12:,.1f}" if x else "—"


def render_gpus(devices, system, console: Console) -> None:
    columns = (Column("key", no_wrap=True), Column("name", drop=2), Column("kind", drop=3),
               Column("memory", numeric=True), Column("bandwidth", numeric=True),
               Column("bf16 TFLOP/s", numeric=True, drop=1), Column("fp8 TFLOP/s", numeric=True, drop=1))
    rows = []
    for d in devices:
        bw = f"{d.bandwidth / 1e9:,.0f} GB/s" if d.bandwidth else "—"
        rows.append([d.key, d.name, d.kind, bytes_label(d.usable_bytes), bw, _tflops(d.half_flops),
                     _tflops(d.fp8_flops)])
    console.print(table(console, columns, rows, title="Hardware catalogue (dense peaks; docs/hardware.md)"))
    ram = bytes_label(system.total_ram_bytes) if system.total_ram_bytes else "unknown"
    avail = bytes_label(system.available_ram_bytes) if system.available_ram_bytes else "unknown"
    console.print(Text(f"This machine: {system.cpu_count or '?'} CPUs ({system.cpu_model or 'unknown'}), "
                       f"RAM {ram} ({avail} available, from {system.ram_source})"))
    for g in system.gpus:
        match = f" = {g.device.key}" if g.device else " (not in the catalogue)"
        mem = bytes_label(g.total_bytes) if g.total_bytes else "memory unknown"
        console.print(Text(f"  GPU {g.index}: {g.name}, {mem}{match}"))
    if not system.gpus:
        console.print(Text(f"  no NVIDIA GPU found ({system.gpu_note or 'none reported'})", style="dim"))
