"""``paramscope stats --plot``: histograms per component and per-layer heatmaps of std and abs-max.

matplotlib is an optional extra, imported only here and only when a plot is asked for; the Agg
backend renders without a display. The figure draws what the analysis computed: each top-level
component's histogram (log counts, bins as computed), and for every layer the std and abs-max of each
top-level component.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from paramscope.analyses.values.stats import WeightStats
from paramscope.errors import UnsupportedError

FORMATS = (".png", ".svg")
COLUMNS = 3
DPI = 120
HEAT_RANGE = 2.0  # a layer twice (or half) its component's median is as red (blue) as it gets
HEAT_TICKS = (0.5, 0.71, 1.0, 1.41, 2.0)


def check_plot_path(path: str) -> None:
    """Refuse early (before a long scan) a format we do not write, or a missing matplotlib."""
    if Path(path).suffix.lower() not in FORMATS:
        raise UnsupportedError(f"{path}: --plot writes {' or '.join(FORMATS)} files")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError("stats --plot", "plot", "matplotlib") from None


def plot_stats(r: WeightStats, path: str) -> None:
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tops = [k for k in r.by_component if "/" not in k and k != "total" and r.by_component[k].finite]
    layer_tops = _layer_components(r)
    hist_rows = max(1, math.ceil(len(tops) / COLUMNS))
    heat_rows = 2 if layer_tops else 0
    heat_height = 0.9 + 0.35 * len(layer_tops)
    fig = plt.figure(figsize=(4.2 * COLUMNS, 2.8 * hist_rows + heat_height * heat_rows), dpi=DPI)
    grid = fig.add_gridspec(hist_rows + heat_rows, COLUMNS, hspace=0.6, wspace=0.3,
                            height_ratios=[2.8] * hist_rows + [heat_height] * heat_rows)
    for i, comp in enumerate(tops):
        row, col = divmod(i, COLUMNS)
        _histogram(fig.add_subplot(grid[row, col]), comp, r.by_component[comp])
    if layer_tops:
        _heatmap(fig, fig.add_subplot(grid[hist_rows, :]), r, layer_tops, "std", "std per layer")
        _heatmap(fig, fig.add_subplot(grid[hist_rows + 1, :]), r, layer_tops, "absmax", "|x| max per layer")
    fig.suptitle(f"{Path(r.source).name}: values of {len(r.tensors)} tensors", fontsize=12)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def _histogram(ax, name: str, s) -> None:
    h = s.histogram
    ax.stairs(h.counts, h.edges, fill=True, color="#4477aa")
    ax.set_yscale("log")
    ax.set_title(f"{name}  (n={s.count:,}, σ={s.std:.3g})", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("value", fontsize=8)


def _layer_components(r: WeightStats) -> list[str]:
    seen: dict[str, None] = {}
    for cells in r.by_layer.values():
        seen.update(dict.fromkeys(k for k in cells if k != "total"))
    return list(seen)


def _heatmap(fig, ax, r: WeightStats, tops: list[str], field: str, title: str) -> None:
    """Each row divided by its median over the layers (log colour centred on 1), so a layer that
    stands out shows whatever the component's scale; the median is in the row's label."""
    from matplotlib.colors import LogNorm

    layers = list(r.by_layer)
    rows = [[getattr(r.by_layer[i][c], field) if c in r.by_layer[i] else math.nan for i in layers]
            for c in tops]
    medians = [statistics.median(v for v in row if v == v) or 1.0 for row in rows]
    ratios = [[v / m if m else math.nan for v in row] for row, m in zip(rows, medians, strict=True)]
    image = ax.imshow(ratios, aspect="auto", cmap="coolwarm", norm=LogNorm(1 / HEAT_RANGE, HEAT_RANGE),
                      interpolation="nearest")
    ax.set_yticks(range(len(tops)), [f"{c} ({m:.3g})" for c, m in zip(tops, medians, strict=True)],
                  fontsize=8)
    step = max(1, len(layers) // 16)
    ax.set_xticks(range(0, len(layers), step), [str(layers[i]) for i in range(0, len(layers), step)],
                  fontsize=7)
    ax.set_xlabel("layer", fontsize=8)
    ax.set_title(f"{title} ÷ the component's median over layers (in brackets); colour saturates at "
                 f"×{HEAT_RANGE:g} and ÷{HEAT_RANGE:g}", fontsize=9)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, ticks=HEAT_TICKS)
    bar.ax.set_yticklabels([f"{t:g}" for t in HEAT_TICKS])
    bar.ax.minorticks_off()
    bar.ax.tick_params(labelsize=7)
