"""``paramscope gpus`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.units import bytes_label


def _tflops(x: float | None) -> str:
    return f"{x / 1e12:,.1f}" if x else "—"


def render_gpus(devices, system, console: Console) -> None:
    t = Table(title="Hardware catalogue (dense peaks; docs/hardware.md)", title_justify="left")
    for col in ("key", "name", "kind", "memory", "bandwidth", "bf16 TFLOP/s", "fp8 TFLOP/s"):
        t.add_column(col, justify="right" if col not in ("key", "name", "kind") else "left")
    for d in devices:
        bw = f"{d.bandwidth / 1e9:,.0f} GB/s" if d.bandwidth else "—"
        t.add_row(d.key, d.name, d.kind, bytes_label(d.usable_bytes), bw,
                  _tflops(d.half_flops), _tflops(d.fp8_flops))
    console.print(t)
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
