"""``paramscope train`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.text import notes_and_explain
from paramscope.units import bytes_label, size_label


def render_train(est, device, console: Console, *, explain: bool = False) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    zero = f", ZeRO-{est.zero_stage}" if est.zero_stage else ""
    head.add_row("method", f"{est.method} ({est.precision}), {est.gpus} GPU(s){zero}")
    head.add_row("batch", f"{est.micro_batch} × {est.seq_len:,} tokens per GPU, activation checkpointing "
                          + ("on" if est.checkpointing else "off"))
    head.add_row("parameters", f"{est.params:,} ({size_label(est.params)}); trainable "
                               f"{est.trainable_params:,} ({est.trainable_params / est.params:.2%})")
    console.print(head)
    t = Table(title="Memory per GPU", title_justify="left")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    t.add_column("", justify="right")
    for part, n in est.by_part.items():
        t.add_row(part, f"{n:,}", bytes_label(n))
    t.add_row(Text("total", style="bold"), Text(f"{est.total_bytes:,}", style="bold"),
              Text(bytes_label(est.total_bytes), style="bold"))
    if device is not None:
        ok = est.total_bytes <= device.usable_bytes
        verdict = "fits" if ok else "does not fit"
        t.caption = f"{device.key}: {bytes_label(device.usable_bytes)} — {verdict}"
        t.caption_justify = "left"
    console.print(t)
    c = Table.grid(padding=(0, 2))
    c.add_column(style="bold")
    c.add_column()
    kind = "given" if est.tokens_given else "compute-optimal, 20 × params (Chinchilla)"
    c.add_row("tokens", f"{est.tokens:,} ({kind})")
    c.add_row("compute", f"{est.flops:.3e} FLOPs")
    if est.gpu_hours is not None:
        c.add_row("time", f"{est.gpu_hours:,.0f} GPU-hours at MFU {est.mfu:.0%}"
                          + (f" = {est.days:,.1f} days on {est.gpus} GPU(s)" if est.days is not None else ""))
    console.print(c)
    notes_and_explain(console, est.notes, est.explain, explain)
