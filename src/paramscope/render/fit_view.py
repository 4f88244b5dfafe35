"""``paramscope fit`` for people: the verdict first, then the figures behind it, each with what it is
measured on, then the commands of each configuration."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.text import Text

from paramscope.analyses.sizing.fit import AS_STORED
from paramscope.analyses.sizing.fit_advice import QUANT_LADDER
from paramscope.render.speed_view import speed_rows
from paramscope.render.table import grid
from paramscope.render.text import PathText, notes_and_explain, plain, shell_lines
from paramscope.units import bytes_label


def render_fit(r, speed, ram_bytes: int | None, console: Console, *, explain: bool = False) -> None:
    one = r.one_device
    key = r.device.key
    on_one = f"one {key}"
    if r.cpu_only:  # the device is RAM: no "one" of it
        on_one = "this machine's RAM" if key == "this-machine" else f"{key} RAM"
    asked = r.weights_label
    rows: list[tuple[str, RenderableType]] = [
        ("model", PathText(one.source)),
        ("device", plain(f"{r.device.name} ({bytes_label(r.device.usable_bytes)})"
                         + (": CPU only, no GPU" if r.cpu_only else ""))),
        ("setting", plain(f"{one.runtime}, {one.context_note}, weights {asked}, KV {one.kv_type}"
                          + (f", {one.batch} sequences" if one.batch > 1 else ""))),
    ]
    verdict = Text("fits", style="green") if one.fits else Text("does not fit", style="red")
    need = one.total_bytes - one.host_bytes  # what stays in host memory is not on the device
    if one.split != "even split" and one.per_device:  # GPU 0's share of the runtime's own placement
        need = one.per_device[0].total_bytes
    rows.append((f"on {on_one}", Text(f"needs {bytes_label(need)} of "
                                       f"{bytes_label(r.device.usable_bytes)}: ") + verdict))
    if one.host_bytes and not r.cpu_only:
        # said only when it does not fit: the RAM is this machine's unless --ram gives it
        ram = f" (more than the {bytes_label(ram_bytes or 0)} of RAM)" if r.host_fits_ram is False else ""
        rows.append(("host memory", Text(f"{bytes_label(one.host_bytes)}{ram}",
                                         style="red" if r.host_fits_ram is False else "")))
    if not one.fits and not r.cpu_only:
        rows.append(("devices needed", f"{r.devices_needed} × {key} at {asked} ({r.split_words})"
                     if r.devices_needed else "more devices than the heads allow splitting over"
                     if r.counts_limited_by_heads else f"more than {max(r.allowed_device_counts)}"))
    where = f"{r.max_context_devices} × {key}" if r.max_context_devices > 1 else on_one
    rows.append(("longest context", f"{r.max_context:,} tokens on {where} at {asked}" if r.max_context
                 else f"none fits on {where} at {asked}"))
    ladder = f"{QUANT_LADDER[0]} to {QUANT_LADDER[-1]}" + (" and the weights as stored"
                                                           if AS_STORED in r.ladder else "")
    best = (f"{r.best_label}: of {ladder}, the most precise that fits {on_one} whole"
            if r.best_label else f"none of {ladder} fits {on_one}")
    rows.append(("best quantization", best))
    if r.offload and not one.fits:
        rows.append(("offload as asked", plain(_offload(r.offload, asked, ram_bytes))))
    if one.split != "even split":  # the runtime's own placement (transformers device_map)
        parts = [f"GPU {u.index} {bytes_label(u.weights_bytes)}" for u in one.per_device]
        parts += [f"{where} {bytes_label(n)}" for where, n in (("CPU RAM", one.host_bytes),
                                                               ("disk", one.disk_bytes)) if n]
        rows.append(("placed as asked", plain(f"{one.split}: weights on {', '.join(parts)}")))
    if not r.cpu_only:
        rows.extend(speed_rows(speed, f"{where} at {asked}"))
    console.print(Text(r.verdict, style="bold"))
    console.print(grid(rows))
    if r.command_lines:
        console.print(Text("Commands:", style="bold"))
    for c in r.command_lines:
        console.print(Text(f"  # {c.purpose}", style="dim"))
        for line in shell_lines(c.text, console.width):
            console.print(Text(line), soft_wrap=True)
    notes_and_explain(console, one.notes, (*r.explain, *one.explain, *speed.explain), explain)


def _offload(o, asked: str, ram_bytes: int | None) -> str:
    if o.cpu_moe_layers:
        split = f"routed experts of {o.cpu_moe_layers} of {o.n_layers} layers in RAM"
    else:
        split = f"{o.gpu_layers} of {o.n_layers} layers on the GPU, the rest in RAM"
    ram = f"RAM needed {bytes_label(o.ram_bytes)}"
    if ram_bytes is not None:
        ram += f" of {bytes_label(ram_bytes)} free " + ("(fits)" if o.fits_ram else "(does not fit)")
    return f"at {asked}: {split}; {ram}"
