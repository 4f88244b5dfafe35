"""``paramscope stats``: the numbers themselves, every tensor's values read once (statistics, histograms,
anomalies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, finite, open_source
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.values.stats import Summary, WeightStats

Progress = Callable[[int, int, str], None]  # bytes done, bytes in all, tensor name
_f = finite  # JSON has no NaN or Infinity: those become null
CONVENTIONS = {
    "std": "population (ddof=0), over finite values",
    "percentiles": "inverted_cdf; exact for 8/16-bit stored types, else floored onto the bfloat16 grid",
    "histogram": "bins from min to max with edges on the bfloat16 grid; np.histogram(values, edges) "
                 "gives the same counts",
}


@record
class StatsRequest:
    source: Source
    tensor: tuple[str, ...] = ()  # only tensors whose name matches one of these globs (fnmatch)


@record
class StatsResult:
    request: StatsRequest
    stats: WeightStats
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return stats_json(self.stats)


def stats(source: Source | StatsRequest, *, progress: Progress | None = None, **options: Any) -> StatsResult:
    """Every value of every tensor: ``paramscope.stats("model.gguf").stats.by_component["attention"]``."""
    from paramscope.analyses.values.stats import weight_stats
    from paramscope.sources.mapped import MappedFiles

    req = source if isinstance(source, StatsRequest) else StatsRequest(source, **options)
    if isinstance(req.tensor, str):
        req = StatsRequest(req.source, (req.tensor,))
    model = open_source(req.source)
    with MappedFiles() as files:
        result = weight_stats(model, files, patterns=list(req.tensor), progress=progress)
    return StatsResult(req, result)


def stats_json(r: WeightStats) -> dict[str, Any]:
    return {
        "source": r.source, "format": r.format, "backend": r.backend,
        "bytes_scanned": r.bytes_scanned, "seconds": round(r.seconds, 4),
        "bytes_per_second": round(r.bytes_per_second), "conventions": CONVENTIONS,
        "by_component": {k: summary_json(s) for k, s in r.by_component.items()},
        "by_layer": [{"layer": i, **{k: {"std": _f(c.std), "absmax": _f(c.absmax), "mean_abs": _f(c.mean_abs)}
                                     for k, c in cells.items()}} for i, cells in r.by_layer.items()],
        "tensors": [{"name": t.name, "component": t.component, "role": t.role, "layer": t.layer,
                     "dtype": t.dtype, "shape": list(t.shape), "bytes": t.nbytes,
                     "is_parameter": t.is_parameter, **summary_json(t.summary)} for t in r.tensors],
        "anomalies": [{"kind": a.kind, "severity": a.severity, "tensors": list(a.tensors), "detail": a.detail}
                      for a in r.anomalies],
        "skipped": list(r.skipped), "notes": list(r.notes),
    }


def summary_json(s: Summary) -> dict[str, Any]:
    return {
        "count": s.count, "finite": s.finite, "nan": s.nan, "posinf": s.posinf, "neginf": s.neginf,
        "zeros": s.zeros, "min": _f(s.min), "max": _f(s.max), "mean": _f(s.mean), "std": _f(s.std),
        "mean_abs": _f(s.mean_abs), "absmax": _f(s.absmax),
        "percentiles": {f"p{p:g}": _f(v) for p, v in s.percentiles},
        "percentiles_exact": s.exact_percentiles,
        "histogram": {"edges": [_f(e) for e in s.histogram.edges], "counts": list(s.histogram.counts)},
    }

