"""``paramscope diff --plot``: where the change lies, as a layer × component heatmap.

Each cell is the relative change ‖B − A‖ / ‖A‖ of one component ("attention/q", "ffn/up", "norm") in
one layer (its tensors' sums added, so big tensors weigh more), on a log colour scale that spans at
least ``DECADES`` decades (so near-equal changes look alike); unchanged cells are grey, cells with no
such tensors white. A cell whose changed matrices are all low-rank is marked with their largest rank
at 99 % energy. matplotlib is an optional extra, imported only here; the Agg backend needs no display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from paramscope.render.stats_plot import check_plot_path

if TYPE_CHECKING:
    from paramscope.analyses.diff import DiffReport

DPI = 120
DECADES = 2
__all__ = ["check_plot_path", "plot_diff"]


def plot_diff(r: DiffReport, path: str) -> None:
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    by_layer = r.located.by_layer_detail
    layers = list(by_layer)
    seen: dict[str, None] = {}
    for cells in by_layer.values():
        seen.update(dict.fromkeys(cells))
    comps = list(seen)
    grid = np.full((len(comps), max(1, len(layers))), np.nan)
    same = np.zeros_like(grid, dtype=bool)
    for j, i in enumerate(layers):
        for k, c in enumerate(comps):
            cell = by_layer[i].get(c)
            if cell is None:
                continue
            if cell.sum_dd == 0:
                same[k, j] = True
            elif math.isfinite(cell.rel_change):
                grid[k, j] = cell.rel_change
    size = (max(6.0, 0.35 * len(layers) + 3), 1.2 + 0.45 * max(1, len(comps)))
    fig, ax = plt.subplots(figsize=size, dpi=DPI)
    ax.imshow(np.where(same, 1.0, np.nan), aspect="auto", cmap="Greys", vmin=0, vmax=4,
              interpolation="nearest")
    changed = grid[np.isfinite(grid)]
    if changed.size:
        hi = float(changed.max())
        lo = min(float(changed.min()), hi / 10**DECADES)
        image = ax.imshow(grid, aspect="auto", cmap="viridis", norm=LogNorm(lo, hi), interpolation="nearest")
        bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.01)
        bar.set_label("‖B−A‖ / ‖A‖", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    for j, i in enumerate(layers):
        for k, c in enumerate(comps):
            cell = by_layer[i].get(c)
            if cell is not None and cell.changed_tensors and cell.max_rank is not None and not cell.full_rank:
                ax.text(j, k, f"r{cell.max_rank}", ha="center", va="center", fontsize=7, color="black")
    ax.set_yticks(range(len(comps)), comps, fontsize=8)
    step = max(1, len(layers) // 24)
    ax.set_xticks(range(0, len(layers), step), [str(layers[i]) for i in range(0, len(layers), step)],
                  fontsize=7)
    ax.set_xlabel("layer (grey: unchanged; rN: low-rank change, rank N at 99 % energy)", fontsize=8)
    ax.set_title(f"{Path(r.a).name} → {Path(r.b).name}\n{r.verdict.line}", fontsize=9, wrap=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
