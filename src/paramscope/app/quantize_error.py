"""``paramscope quantize-error``: every tensor round-tripped through quantization schemes, the error per
tensor and component beside the size at each choice, and the most accurate choice within a budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, finite, open_source
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.values.quant_error import ErrorTally, QuantErrorReport

Progress = Callable[[int, int, str], None]
DEFAULT_TARGETS = "q8_0,q6_k,q4_k,q4_0,int8,int4,fp8"


@record
class QuantErrorRequest:
    source: Source
    to: str = DEFAULT_TARGETS  # comma-separated targets: llama.cpp types and file types, int8, int4, fp8…
    sample: float = 1.0  # fraction of each matrix's rows to read
    budget: str | int | None = None  # bytes: 8GB, 7.5GiB, or an integer


@record
class QuantErrorResult:
    request: QuantErrorRequest
    report: QuantErrorReport
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return quant_error_json(self.report)


def quantize_error(source: Source | QuantErrorRequest, *, progress: Progress | None = None,
                   **options: Any) -> QuantErrorResult:
    """``paramscope.quantize_error("model.gguf", to="q8_0,q4_k", sample=0.1).report``."""
    from paramscope.analyses.values.quant_error import quantize_error as run
    from paramscope.sources.mapped import MappedFiles
    from paramscope.units import parse_bytes

    req = source if isinstance(source, QuantErrorRequest) else QuantErrorRequest(source, **options)
    targets = [t.strip() for t in req.to.split(",") if t.strip()]
    budget = None if req.budget is None else parse_bytes(req.budget, "budget")
    model = open_source(req.source)
    with MappedFiles() as files:
        report = run(model, files, targets, sample=req.sample, budget=budget, progress=progress)
    return QuantErrorResult(req, report)


def quant_error_json(r: QuantErrorReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": r.source, "sample": r.sample, "seconds": round(r.seconds, 3),
        "targets": [{"target": res.target, "scheme": res.scheme, "bits_per_weight": res.bits_per_weight,
                     **tally_json(res.total),
                     "by_component": {k: tally_json(v) for k, v in res.by_component.items()},
                     "by_type": {k: {"params": v.params, "bytes": v.bytes} for k, v in res.by_type.items()},
                     "tensors": [{"name": row.name, "component": row.component, "layer": row.layer,
                                  "type": row.type, "sampled": row.sampled, "simulated": row.simulated,
                                  **tally_json(row.tally)} for row in res.rows],
                     "notes": list(res.notes)} for res in r.targets],
        "notes": list(r.notes),
    }
    if r.assignment is not None:
        a = r.assignment
        out["assignment"] = {"budget": a.budget, "fits": a.fits, "choice": a.choice, **tally_json(a.total),
                             "by_component": {k: tally_json(v) for k, v in a.by_component.items()}}
    return out


def tally_json(t: ErrorTally) -> dict[str, Any]:
    return {"params": t.params, "bytes": t.bytes, "rel_rmse": t.rel_rmse, "snr_db": finite(t.snr_db),
            "sum_sq": t.energy, "sum_sq_error": t.error}
