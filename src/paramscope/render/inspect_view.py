"""``paramscope inspect`` for people: rich tables of what the inventory analysis computed.

Every string that came from a file (tensor names, metadata) goes through ``render.text.plain``.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from paramscope.analyses.contents.inventory import Inventory
from paramscope.app.shapes import hyperparameters
from paramscope.render.text import plain
from paramscope.units import bytes_label

BAR_WIDTH = 24
# ArchConfig fields shown in the summary, in this order, when set
SUMMARY_FIELDS = ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim_k", "head_dim_v",
                  "ffn_size", "vocab_size", "context_length", "tied_embeddings", "n_experts",
                  "n_experts_per_token", "n_shared_experts", "n_dense_layers", "expert_ffn_size",
                  "kv_lora_rank", "q_lora_rank", "rope_head_dim", "sliding_window")


def render_inspect(inv: Inventory, console: Console, *, tensors: bool = False, layers: bool = False) -> None:
    console.print(summary(inv))
    console.print(component_table(inv))
    console.print(dtype_table(inv))
    if layers:
        console.print(layer_table(inv))
    if tensors:
        console.print(tensor_table(inv))
    for note in inv.notes:
        console.print(Text("note: ", style="dim") + plain(note))


def summary(inv: Inventory) -> Table:
    m, cfg = inv.model, inv.model.config
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("source", plain(m.source))
    fmt = m.format + ("" if m.has_weights else " (no weights: tensor list built from the config)")
    t.add_row("format", plain(fmt))
    if cfg:
        t.add_row("architecture", plain(f"{cfg.architecture} (family {cfg.family})"))
    total = Text(f"{inv.total_params:,}  ", style="bold") + Text(inv.label, style="bold cyan")
    t.add_row("parameters", total)
    if inv.active_params != inv.total_params:
        t.add_row("active per token", Text(f"{inv.active_params:,}  ({inv.active_label})"))
        t.add_row("", Text(inv.active_convention, style="dim"))
    t.add_row("tensors", f"{inv.tensor_count:,}")
    t.add_row("tensor bytes", f"{inv.weights_bytes:,}  ({bytes_label(inv.weights_bytes)})")
    if cfg:
        hp = hyperparameters(cfg)
        parts = [f"{k}={_short(hp[k])}" for k in SUMMARY_FIELDS if hp.get(k) not in (0, None, False, [])]
        t.add_row("hyperparameters", plain(", ".join(parts)))
        if cfg.layer_types:
            kinds = {k: cfg.layer_types.count(k) for k in dict.fromkeys(cfg.layer_types)}
            t.add_row("layer types", plain(", ".join(f"{n} {k}" for k, n in kinds.items())))
    return t


def component_table(inv: Inventory) -> Table:
    t = Table(title="Parameters by component", title_justify="left")
    t.add_column("component")
    t.add_column("params", justify="right")
    t.add_column("share", justify="right")
    t.add_column("bytes", justify="right")
    t.add_column("", no_wrap=True)
    for path, tally in inv.by_component.items():
        depth = 0 if path == "total" else path.count("/")
        name = path if path == "total" else "  " * depth + path.rsplit("/", 1)[-1]
        style = "bold" if depth == 0 else "dim" if depth else ""
        bar = "█" * round(tally.share * BAR_WIDTH) if depth == 0 and path != "total" else ""
        t.add_row(Text(name, style=style), f"{tally.params:,}", f"{tally.share:6.2%}",
                  bytes_label(tally.bytes), Text(bar, style="cyan"))
    return t


def dtype_table(inv: Inventory) -> Table:
    t = Table(title="By stored type", title_justify="left")
    for col in ("type", "tensors", "params", "bytes", "bits/param"):
        t.add_column(col, justify="left" if col == "type" else "right")
    for name, tally in inv.by_dtype.items():
        bpp = f"{tally.bytes * 8 / tally.params:.3f}" if tally.params else "-"
        t.add_row(name, f"{tally.tensors:,}", f"{tally.params:,}", f"{tally.bytes:,}", bpp)
    roles = "  ".join(f"{k}: {v.params:,}" for k, v in inv.by_role.items())
    t.caption = f"by role — {roles}"
    t.caption_justify = "left"
    return t


def layer_table(inv: Inventory) -> Table:
    comps = [c for c in ("attention", "ffn", "shared_experts", "router", "experts", "norm", "other")
             if any(c in layer for layer in inv.by_layer.values())]
    t = Table(title="Per layer", title_justify="left")
    t.add_column("layer", justify="right")
    for c in ("params", *comps, "bytes"):
        t.add_column(c, justify="right")
    cfg = inv.model.config
    if cfg and cfg.layer_types:
        t.add_column("attention kind")
    for i, comp in inv.by_layer.items():
        row = [str(i), f"{comp['total'].params:,}"]
        row += [f"{comp[c].params:,}" if c in comp else "" for c in comps]
        row.append(bytes_label(comp["total"].bytes))
        if cfg and cfg.layer_types:
            row.append(cfg.layer_types[i] if i < len(cfg.layer_types) else "")
        t.add_row(*row)
    return t


def tensor_table(inv: Inventory) -> Group:
    t = Table(title="Tensors", title_justify="left")
    for col in ("name", "shape", "type", "params", "bytes", "component"):
        t.add_column(col, justify="right" if col in ("params", "bytes") else "left")
    for r in inv.rows:
        tensor = r.tensor
        params = f"{tensor.params:,}" if tensor.is_parameter and r.counted else "—"
        t.add_row(plain(tensor.name), "×".join(map(str, tensor.shape)) or "scalar", tensor.dtype.value,
                  params, f"{tensor.nbytes:,}", f"{r.placement.component} ({r.placement.role})")
    return Group(t)


def _short(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)
