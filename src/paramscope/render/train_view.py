"""``paramscope train`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from paramscope.analyses.training.compute import TOKENS_BASIS
from paramscope.render.table import Column, grid, table
from paramscope.render.text import notes_and_explain
from paramscope.units import bytes_label, hours_label, sig3, size_label


def render_train(est, device, console: Console, *, explain: bool = False) -> None:
    zero = f", ZeRO-{est.zero_stage}" if est.zero_stage else ""
    gpus = f"{est.gpus} GPU" + ("s" if est.gpus > 1 else "")
    console.print(grid([
        ("method", f"{est.method} ({est.precision}), {gpus}{zero}"),
        ("batch", f"{est.micro_batch} × {est.seq_len:,} tokens per GPU, activation checkpointing "
                  + ("on" if est.checkpointing else "off")),
        ("parameters", f"{est.params:,} ({size_label(est.params)}); trainable {est.trainable_params:,}"
                       + (f" ({est.trainable_params / est.params:.2%})" if est.params else "")),
    ]))
    columns = (Column("part"), Column("bytes", numeric=True), Column("size", numeric=True))
    rows = [[part, f"{n:,}", bytes_label(n)] for part, n in est.by_part.items()]
    total = est.total_bytes
    rows.append([Text(c, style="bold") for c in ("total", f"{total:,}", bytes_label(total))])
    caption = None
    if device is not None:
        ok = est.total_bytes <= device.usable_bytes
        caption = Text(f"{device.key}: {bytes_label(device.usable_bytes)}: ") + (
            Text("fits", style="green") if ok else Text("does not fit", style="red"))
    console.print(table(console, columns, rows, title="Memory per GPU", caption=caption))
    compute = [("tokens", f"{est.tokens:,} ({size_label(est.tokens)}): {TOKENS_BASIS[est.tokens_basis]}"),
               ("compute", f"{est.flops:.3e} FLOPs")]
    if est.gpu_hours is not None:
        wall = hours_label(est.gpu_hours / est.gpus)
        on = f"{est.gpus} × {device.key}" if device is not None else gpus
        compute.append(("time", f"{sig3(est.gpu_hours)} GPU-hours at MFU {est.mfu:.0%}: {wall} on {on}"))
    else:
        compute.append(("time", "give --gpu NAME for GPU-hours (see `paramscope gpus`)"))
    console.print(grid(compute))
    notes_and_explain(console, est.notes, est.explain, explain)
