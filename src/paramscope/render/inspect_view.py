"""``paramscope inspect`` for people: rich tables of what the inventory analysis computed.

Every string that came from a file (tensor names, metadata) goes through ``render.text.plain`` (or
``literal``, which gives the str itself where rich would print it unchanged).
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from paramscope.analyses.contents.inventory import Inventory
from paramscope.app.shapes import hyperparameters
from paramscope.render.table import Cell, Column, grid, in_order, table
from paramscope.render.text import PathText, literal, plain
from paramscope.units import bytes_label

BAR_WIDTH = 24
# ArchConfig fields shown in the summary, in this order, when set
SUMMARY_FIELDS = ("n_layers", "hidden_size", "n_heads", "n_kv_heads", "head_dim_k", "head_dim_v",
                  "ffn_size", "vocab_size", "context_length", "tied_embeddings", "n_experts",
                  "n_experts_per_token", "n_shared_experts", "n_dense_layers", "expert_ffn_size",
                  "kv_lora_rank", "q_lora_rank", "rope_head_dim", "sliding_window")


def render_inspect(inv: Inventory, console: Console, *, tensors: bool = False, layers: bool = False) -> None:
    console.print(summary(inv))
    console.print(component_table(inv, console))
    console.print(dtype_table(inv, console))
    if layers:
        console.print(layer_table(inv, console))
    if tensors:
        console.print(tensor_table(inv, console))
    for note in inv.notes:
        console.print(Text("note: ", style="dim") + plain(note))


def summary(inv: Inventory) -> Table:
    m, cfg = inv.model, inv.model.config
    rows: list[tuple[str, RenderableType]] = [("source", PathText(m.source))]
    fmt = m.format + ("" if m.has_weights else " (no weights: tensor list built from the config)")
    rows.append(("format", plain(fmt)))
    if cfg:
        rows.append(("architecture", plain(f"{cfg.architecture} (family {cfg.family})")))
    rows.append(("parameters", Text(f"{inv.total_params:,} ", style="bold")
                 + Text(f"({inv.label})", style="bold cyan")))
    if inv.active_params != inv.total_params:
        rows.append(("active per token", Text(f"{inv.active_params:,} ({inv.active_label})")))
        rows.append(("", Text(inv.active_convention, style="dim")))
    rows.append(("tensors", f"{inv.tensor_count:,}"))
    rows.append(("tensor bytes", f"{inv.weights_bytes:,} ({bytes_label(inv.weights_bytes)})"))
    q = m.quantization
    if q is not None:
        declared = f" ({q.declared_in})" if q.declared_in else ""
        rows.append(("quantization", plain(q.label + declared)))
    if cfg:
        hp = hyperparameters(cfg)
        parts = [f"{k}={_short(hp[k])}" for k in SUMMARY_FIELDS if hp.get(k) not in (0, None, False, [])]
        rows.append(("hyperparameters", plain(", ".join(parts))))
        if cfg.layer_types:
            kinds = {k: cfg.layer_types.count(k) for k in dict.fromkeys(cfg.layer_types)}
            rows.append(("layer types", plain(", ".join(f"{n} {k}" for k, n in kinds.items()))))
    return grid(rows)


def component_table(inv: Inventory, console: Console) -> RenderableType:
    columns = (Column("component"), Column("params", numeric=True), Column("share", numeric=True),
               Column("bytes", numeric=True), Column("chart", drop=1, no_wrap=True, style="cyan"))
    rows: list[list[Cell]] = []
    for path in in_order(inv.by_component):
        tally = inv.by_component[path]
        depth = 0 if path == "total" else path.count("/")
        name = path if path == "total" else "  " * depth + path.rsplit("/", 1)[-1]
        style = "bold" if depth == 0 else "dim" if depth else ""
        bar = "█" * round(tally.share * BAR_WIDTH) if depth == 0 and path != "total" else ""
        rows.append([Text(name, style=style), f"{tally.params:,}", f"{tally.share:6.2%}",
                     bytes_label(tally.bytes), bar])
    return table(console, columns, rows, title="Parameters by component")


def dtype_table(inv: Inventory, console: Console) -> RenderableType:
    columns = (Column("type"), Column("tensors", numeric=True), Column("params", numeric=True),
               Column("bytes", numeric=True), Column("bits/param", numeric=True))
    rows = []
    for name, tally in inv.by_dtype.items():
        bpp = f"{tally.bytes * 8 / tally.params:.3f}" if tally.params else "-"
        rows.append([name, f"{tally.tensors:,}", f"{tally.params:,}", f"{tally.bytes:,}", bpp])
    roles = "; ".join(f"{k} {v.params:,}" for k, v in inv.by_role.items())
    return table(console, columns, rows, title="By stored type", caption=f"parameters by role: {roles}")


def layer_table(inv: Inventory, console: Console) -> RenderableType:
    # columns left out first at narrow widths: the small parts (norms, routers), then bytes
    drop = {"attention": 0, "ffn": 0, "experts": 0, "shared_experts": 2, "router": 3, "norm": 3, "other": 3}
    comps = [c for c in drop if any(c in layer for layer in inv.by_layer.values())]
    kinds = inv.model.config.layer_types if inv.model.config else ()
    columns = [Column("layer", numeric=True), Column("params", numeric=True),
               *(Column(c, numeric=True, drop=drop[c]) for c in comps), Column("bytes", numeric=True, drop=1)]
    if kinds:
        columns.append(Column("attention kind", drop=1))
    rows = []
    for i, comp in inv.by_layer.items():
        row = [str(i), f"{comp['total'].params:,}"]
        row += [f"{comp[c].params:,}" if c in comp else "" for c in comps]
        row.append(bytes_label(comp["total"].bytes))
        if kinds:
            row.append(kinds[i] if i < len(kinds) else "")
        rows.append(row)
    return table(console, columns, rows, title="Parameters per layer")


def tensor_table(inv: Inventory, console: Console) -> Group:
    columns = (Column("name"), Column("shape", no_wrap=True), Column("type", no_wrap=True),
               Column("params", numeric=True, drop=1), Column("bytes", numeric=True, drop=2),
               Column("component", drop=3))
    rows: list[list[Cell]] = []
    for r in inv.rows:
        tensor = r.tensor
        params = f"{r.params:,}" if tensor.is_parameter and r.counted else "—"
        rows.append([literal(tensor.name), "×".join(map(str, tensor.shape)) or "scalar", tensor.dtype.value,
                     params, f"{tensor.nbytes:,}", f"{r.placement.component} ({r.placement.role})"])
    return Group(table(console, columns, rows, title="Tensors"))


def _short(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)
