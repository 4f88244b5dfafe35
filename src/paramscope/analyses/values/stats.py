"""The numbers themselves: statistics of every tensor's values, per tensor and per component.

Conventions (docs/stats.md shows real output):
- min, max, mean, std (population, ddof=0, as ``np.std``), mean |x| and abs-max are over the finite
  values; NaN, +Inf and −Inf are counted on their own; ``zeros`` counts +0 and −0.
- Values are what ``paramscope.analyses.values.decode`` decodes (float32); sums are float64 (stats_engine.py).
- Percentiles use numpy's ``inverted_cdf`` rule (the smallest value with at least p % of the values at or
  below it). They are exact for 8- and 16-bit stored types, whose every distinct value is counted;
  for other types, and for components, they are the value floored onto the bfloat16 grid (8
  significant bits: at most 0.8 % below the true percentile).
- The histogram has about ``bins`` bins from min to max whose edges are snapped down onto the bfloat16
  grid, so counts are exact and mergeable; ``np.histogram(values, bins=edges)`` gives the same counts.
- Components are the ``inspect`` tree (``knowledge.roles.place``); they aggregate parameters only
  (buffers such as position_ids are listed per tensor but left out), a tied head stored twice once.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from paramscope.analyses.contents.inventory import COMPONENT_ORDER, inventory
from paramscope.analyses.values import stats_engine as E
from paramscope.analyses.values import stats_kernels as K
from paramscope.errors import UnsupportedError
from paramscope.model import Model
from paramscope.records import field, record

PERCENTILES = (1.0, 50.0, 99.0, 99.9)
HISTOGRAM_BINS = 64
ProgressCallback = Callable[[int, int, str], None]  # (bytes done, bytes in all, tensor name)


@record
class Histogram:
    edges: tuple[float, ...]  # len(counts) + 1, increasing
    counts: tuple[int, ...]


@record
class Summary:
    count: int
    finite: int
    nan: int
    posinf: int
    neginf: int
    zeros: int
    min: float
    max: float
    mean: float
    std: float
    mean_abs: float
    percentiles: tuple[tuple[float, float], ...]  # (p, value)
    histogram: Histogram
    exact_percentiles: bool

    @property
    def absmax(self) -> float:
        return max(abs(self.min), abs(self.max)) if self.finite else math.nan

    @property
    def inf(self) -> int:
        return self.posinf + self.neginf

    def percentile(self, p: float) -> float:
        return dict(self.percentiles)[p]


@record
class TensorStats:
    name: str
    component: str
    role: str
    layer: int | None
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    is_parameter: bool
    summary: Summary


@record
class LayerCell:
    std: float
    absmax: float
    mean_abs: float


@record
class WeightStats:
    source: str
    format: str
    tensors: tuple[TensorStats, ...]
    by_component: dict[str, Summary]  # path-keyed tree with subtotals: "attention/q", "attention", "total"
    by_layer: dict[int, dict[str, LayerCell]]  # layer → top-level component (and "total") → cell
    anomalies: tuple  # tuple[anomalies.Anomaly, ...]
    skipped: tuple[str, ...]  # tensors not read: no data, or a type paramscope cannot decode
    bytes_scanned: int
    seconds: float
    backend: str  # "numba" or "numpy"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_scanned / self.seconds if self.seconds > 0 else 0.0


def weight_stats(model: Model, source: E.ByteSource, *, patterns: Sequence[str] = (),
                 bins: int = HISTOGRAM_BINS, progress: ProgressCallback | None = None) -> WeightStats:
    """Scan the tensors of ``model`` (those whose names match one of ``patterns``, or all)."""
    from paramscope.analyses.values.anomalies import find_anomalies
    from paramscope.analyses.values.decode import decodable

    if not model.has_weights:
        raise UnsupportedError(f"{model.source}: no weights to read (the model was described from its "
                               "config); give the model file or directory")
    started = time.perf_counter()
    rows = [r for r in inventory(model).rows if _selected(r.tensor.name, patterns)]
    todo = [r for r in rows if r.tensor.file is not None and r.tensor.offset is not None
            and decodable(r.tensor.dtype)]
    read = {id(r) for r in todo}
    skipped = tuple(f"{r.tensor.name} ({r.tensor.dtype.value})" for r in rows if id(r) not in read)
    total_bytes = sum(r.tensor.nbytes for r in todo)
    tick = _ticker(total_bytes, progress)
    tree = _Tree()
    tensors, scans = [], []
    for r in todo:
        scan = E.scan_tensor(r.tensor, source, tick)
        summary = summarize(scan.moments, bins, exact=scan.exact)
        p = r.placement
        tensors.append(TensorStats(r.tensor.name, p.component, p.role, p.layer, r.tensor.dtype.value,
                                   r.tensor.shape, r.tensor.nbytes, r.tensor.is_parameter, summary))
        if r.counted and r.tensor.is_parameter:
            tree.add(p.component, p.layer, scan.moments)
        scan.moments.grid = None  # 512 KB each: the tree holds the merged copies
        scans.append(scan)
    anomalies = find_anomalies(tensors, scans, source)
    return WeightStats(
        source=model.source, format=model.format, tensors=tuple(tensors),
        by_component=tree.components(bins), by_layer=tree.layers(), anomalies=tuple(anomalies),
        skipped=skipped, bytes_scanned=total_bytes, seconds=time.perf_counter() - started,
        backend=K.backend(), notes=_notes(rows, skipped))


def _selected(name: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _ticker(total: int, progress: ProgressCallback | None) -> E.Progress | None:
    if progress is None:
        return None
    done = 0

    def tick(n: int, name: str) -> None:
        nonlocal done
        done += n
        progress(done, total, name)

    return tick


def _notes(rows: list, skipped: tuple[str, ...]) -> tuple[str, ...]:
    notes = []
    buffers = [r.tensor.name for r in rows if not r.tensor.is_parameter]
    if buffers:
        notes.append(f"{len(buffers)} non-parameter tensors are listed but left out of the components")
    if skipped:
        notes.append(f"{len(skipped)} tensors not read (no data, or a type that cannot be decoded)")
    return tuple(notes)


# --- Moments → Summary -----------------------------------------------------------------------------
def summarize(m: E.Moments, bins: int = HISTOGRAM_BINS, *,
              exact: tuple[np.ndarray, np.ndarray] | None = None) -> Summary:
    n = m.n
    if exact is not None:
        pct = _exact_percentiles(*exact)
    elif m.grid is not None and n:
        pct = _grid_percentiles(m.grid, n)
    else:
        pct = tuple((p, math.nan) for p in PERCENTILES)
    return Summary(
        count=m.count, finite=n, nan=m.nan, posinf=m.posinf, neginf=m.neginf, zeros=m.zeros,
        min=m.min if n else math.nan, max=m.max if n else math.nan,
        mean=m.mean if n else math.nan, std=math.sqrt(m.m2 / n) if n else math.nan,
        mean_abs=m.sum_abs / n if n else math.nan, percentiles=pct,
        histogram=histogram(m.grid, m.min, m.max, bins) if n and m.grid is not None else Histogram((), ()),
        exact_percentiles=exact is not None)


def _rank(n: int, p: float) -> int:
    """1-based rank of the p-th percentile under inverted_cdf, computed as numpy does (n × q in float)."""
    return max(1, math.ceil(n * (p / 100)))


def _exact_percentiles(values: np.ndarray, counts: np.ndarray) -> tuple[tuple[float, float], ...]:
    v = values.astype(np.float64)
    keep = np.isfinite(v)
    order = np.argsort(v[keep], kind="stable")
    sv, cum = v[keep][order], np.cumsum(counts[keep][order])
    if not cum.size:
        return tuple((p, math.nan) for p in PERCENTILES)
    return tuple((p, float(sv[np.searchsorted(cum, _rank(int(cum[-1]), p))])) for p in PERCENTILES)


def _grid_percentiles(grid: np.ndarray, n: int) -> tuple[tuple[float, float], ...]:
    cum = np.cumsum(grid)
    values = _grid_values()
    return tuple((p, float(values[np.searchsorted(cum, _rank(n, p))])) for p in PERCENTILES)


def histogram(grid: np.ndarray, lo: float, hi: float, bins: int = HISTOGRAM_BINS) -> Histogram:
    """About ``bins`` equal bins over [lo, hi], edges floored onto the grid (so counts are exact);
    the last edge is the grid point after ``hi``. Bins that snapping makes empty of width merge."""
    targets = (lo + (hi - lo) * np.arange(1, bins) / bins).astype(np.float32)
    inner = K.grid_keys(targets) if bins > 1 else np.zeros(0, np.int64)
    first, last = K.grid_keys(np.array([lo, hi], np.float32))
    keys = np.unique(np.concatenate([[first], inner, [last + 1]]))
    keys = keys[(keys >= first) & (keys <= last + 1)]
    cum = np.concatenate([[0], np.cumsum(grid)])
    counts = cum[keys[1:]] - cum[keys[:-1]]
    return Histogram(tuple(float(e) for e in _grid_values(keys)), tuple(int(c) for c in counts))


def _grid_values(keys: np.ndarray | None = None) -> np.ndarray:
    values = _all_grid_values()
    return values if keys is None else values[keys]


@cache
def _all_grid_values() -> np.ndarray:
    return np.append(K.grid_values(), np.inf)  # key 65536: past the largest grid point


# --- the component tree and the per-layer table ----------------------------------------------------
class _Tree:
    def __init__(self) -> None:
        self._components: dict[str, E.Moments] = {}
        self._layers: dict[int, dict[str, E.Moments]] = {}

    def add(self, component: str, layer: int | None, m: E.Moments) -> None:
        parts = component.split("/")
        for path in (*("/".join(parts[: i + 1]) for i in range(len(parts))), "total"):
            self._components.setdefault(path, E.Moments()).merge(m)
        if layer is not None:
            cells = self._layers.setdefault(layer, {})
            for key in (parts[0], "total"):
                cells.setdefault(key, E.Moments()).merge(m, with_grid=False)

    def components(self, bins: int) -> dict[str, Summary]:
        return {k: summarize(self._components[k], bins) for k in sorted(self._components, key=_order)}

    def layers(self) -> dict[int, dict[str, LayerCell]]:
        return {i: {k: _cell(m) for k, m in sorted(cells.items(), key=lambda kv: _order(kv[0]))}
                for i, cells in sorted(self._layers.items())}


def _cell(m: E.Moments) -> LayerCell:
    if not m.n:
        return LayerCell(math.nan, math.nan, math.nan)
    return LayerCell(math.sqrt(m.m2 / m.n), max(abs(m.min), abs(m.max)), m.sum_abs / m.n)


def _order(path: str) -> tuple:
    if path == "total":
        return (len(COMPONENT_ORDER) + 1, "")
    top = path.split("/")[0]
    return (COMPONENT_ORDER.index(top) if top in COMPONENT_ORDER else len(COMPONENT_ORDER), path)
