"""``paramscope fit`` for people."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.text import notes_and_explain, plain
from paramscope.units import bytes_label


def render_fit(r, speed, ram_bytes: int | None, console: Console, *, explain: bool = False) -> None:
    one = r.one_device
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("model", plain(one.source))
    t.add_row("device", plain(f"{r.device.name} ({bytes_label(r.device.usable_bytes)})"))
    t.add_row("setting", plain(f"{one.runtime}, {one.context_note}, weights {one.weights_scheme}, "
                               f"KV {one.kv_type}" + (f", {one.batch} sequences" if one.batch > 1 else "")))
    verdict = Text("fits", style="green") if one.fits else Text("does not fit", style="red")
    t.add_row("one device", Text(f"needs {bytes_label(one.total_bytes)}: ") + verdict)
    if not one.fits:
        needed = (f"{r.devices_needed} × {r.device.key} (tensor parallel)" if r.devices_needed
                  else "more devices than the heads allow splitting over")
        t.add_row("devices needed", needed)
    if r.offload:
        o = r.offload
        if o.cpu_moe_layers:
            split = (f"all {o.n_layers} layers on the GPU with the routed experts of {o.cpu_moe_layers} "
                     f"layers in RAM (-ngl 999 --n-cpu-moe {o.cpu_moe_layers})")
        else:
            split = f"{o.gpu_layers} of {o.n_layers} layers on the GPU (-ngl {o.gpu_layers}), the rest in RAM"
        ram = f"; RAM needed {bytes_label(o.ram_bytes)}"
        if ram_bytes is not None:
            ram += f" of {bytes_label(ram_bytes)} " + ("(fits)" if o.fits_ram else "(does not fit)")
        t.add_row("offload (one device)", plain(split + ram))
    t.add_row("longest context", f"{r.max_context:,} tokens" if r.max_context else "none fits")
    t.add_row("best quantization", r.best_quant or "none fits one device")
    if speed.decode_tokens_per_s:
        t.add_row("decode bound", f"≤ {speed.decode_tokens_per_s:,.1f} tokens/s per sequence "
                                  f"(bandwidth / {bytes_label(speed.bytes_per_step)} read per token)")
    if speed.prefill_seconds is not None:
        t.add_row("prefill bound", f"≥ {speed.prefill_seconds:.3f} s for {speed.prefill_tokens:,} tokens "
                                   "at peak FLOP/s")
    console.print(t)
    console.print(Text("Commands:", style="bold"))
    for c in r.commands:
        console.print(Text("  " + c))
    notes_and_explain(console, one.notes, (*r.explain, *one.explain, *speed.explain), explain)
