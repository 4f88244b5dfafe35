"""``paramscope diff A B``: what changed between two models, tensor by tensor.

Structure for any two sources (config-only ones too); values, per-tensor change and the spectrum of each
matrix's change when both hold weights; and a one-line verdict (identical, stored differently,
quantized, fine-tuned, different models)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, finite, open_source
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.diff import DiffReport
    from paramscope.analyses.diff.structure import StructureDiff
    from paramscope.analyses.diff.verdict import ChangeTally
    from paramscope.analyses.diff.vocab import Vocabulary
    from paramscope.model import Model

Progress = Callable[[int, int, str], None]  # bytes done (both sides), bytes in all, tensor name
FORMULAS = {
    "rel_change": "‖B − A‖ / ‖A‖ = √(Σ(b − a)² / Σa²), over element pairs where both are finite",
    "cosine": "Σab / √(Σa² Σb²), computed as (Σa² + Σb² − Σ(b − a)²) / (2 √(Σa² Σb²))",
    "snr_db": "10 · log₁₀(Σa² / Σ(b − a)²): A the signal, B − A the noise (quantize-error's figure)",
    "changed_share": "elements whose values differ (+0 = −0, NaN = NaN) / elements",
    "same_bytes": "same stored type and layout, and equal content hashes of the stored bytes",
    "rank90/rank99": "fewest singular values of B − A holding 90 % / 99 % of Σσ² (randomized SVD of the "
                     "change, or of a length-squared sample of its rows for large matrices); null: more "
                     "than were computed",
}


@record
class DiffRequest:
    a: Source
    b: Source
    values: bool = True  # read the weights (False: structure only)
    hashes: bool = True  # content hash of every tensor on both sides
    spectrum: bool = True  # singular values of each changed matrix's change
    tensor: tuple[str, ...] = ()  # compare values only of tensors matching these globs (fnmatch)


@record
class DiffResult:
    request: DiffRequest
    report: DiffReport
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return diff_json(self.report)


def diff(a: Source | DiffRequest, b: Source | None = None, *, progress: Progress | None = None,
         **options: Any) -> DiffResult:
    """``paramscope.diff("base/", "finetune/").report.verdict.line``."""
    from paramscope.analyses.diff import diff_models
    from paramscope.errors import UsageError
    from paramscope.sources.mapped import MappedFiles

    if isinstance(a, DiffRequest):
        req = a
    elif b is None:
        raise UsageError("diff needs two sources: A and B")
    else:
        req = DiffRequest(a, b, **options)
    if isinstance(req.tensor, str):
        req = DiffRequest(req.a, req.b, req.values, req.hashes, req.spectrum, (req.tensor,))
    model_a, model_b = open_source(req.a), open_source(req.b)
    (vocab_a, note_a), (vocab_b, note_b) = _vocabulary(model_a), _vocabulary(model_b)
    with MappedFiles() as files:
        report = diff_models(model_a, model_b, files, files, vocab_a=vocab_a, vocab_b=vocab_b,
                             values=req.values, hashes=req.hashes, spectra=req.spectrum,
                             patterns=req.tensor, progress=progress)
    notes = tuple(n for n in (note_a, note_b) if n)
    if notes:
        from dataclasses import replace

        report = replace(report, notes=(*report.notes, *notes))
    return DiffResult(req, report)


def _vocabulary(model: Model) -> tuple[Vocabulary | None, str | None]:
    """The model's vocabulary: a GGUF file's metadata, else its tokenizer.json (needs ``tokenizers``)."""
    from paramscope.analyses.diff.vocab import gguf_vocabulary, vocabulary
    from paramscope.errors import ParamscopeError

    if model.format == "gguf" or "tokenizer.ggml.tokens" in model.metadata:
        return gguf_vocabulary(model), None
    if not any(Path(f).name == "tokenizer.json" for f in model.tokenizer_files):
        return None, None
    from paramscope.tokenize import tokenizer

    try:
        tok = tokenizer(model)
    except ParamscopeError as e:
        return None, f"vocabulary of {model.source} not compared: {e}"
    special = [i for i, kind in tok.kinds.items() if kind == "special"]
    return vocabulary(tok.engine.get_vocab(with_added_tokens=True), special, "tokenizer.json"), None


# --- JSON ----------------------------------------------------------------------------------------------
def diff_json(r: DiffReport) -> dict[str, Any]:
    s = r.structure
    out: dict[str, Any] = {
        "a": _side(s.a), "b": _side(s.b),
        "verdict": {"kind": r.verdict.kind, "line": r.verdict.line},
        **structure_json(s),
        "values": None,
        "formulas": FORMULAS,
        "seconds": round(r.seconds, 4),
        "notes": [*s.notes, *r.notes],
    }
    v = r.values
    if v is not None:
        out["values"] = {
            "backend": v.backend, "hash": v.hash_name, "bytes_read": v.bytes_read,
            "seconds": round(v.seconds, 4), "bytes_per_second": round(v.bytes_per_second),
            "total": tally_json(r.located.by_component.get("total")),
            "by_component": {k: tally_json(t) for k, t in r.located.by_component.items()},
            "by_layer": [{"layer": i, **{k: tally_json(t) for k, t in cells.items()}}
                         for i, cells in r.located.by_layer.items()],
            "by_layer_detail": [{"layer": i, **{k: tally_json(t) for k, t in cells.items()}}
                                for i, cells in r.located.by_layer_detail.items()],
            "tensors": [delta_json(d) for d in v.tensors],
            "skipped": list(v.skipped),
        }
    return out


def _side(side) -> dict[str, Any]:
    return {"source": side.source, "format": side.format, "tensors": side.tensors, "params": side.params,
            "bytes": side.bytes, "has_weights": side.has_weights, "architecture": side.architecture,
            "family": side.family}


def structure_json(s: StructureDiff) -> dict[str, Any]:
    def ref(t) -> dict[str, Any]:
        return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "params": t.params,
                "bytes": t.bytes}

    def change(c) -> dict[str, Any]:
        return {"name_a": c.name_a, "name_b": c.name_b, "shape_a": list(c.shape_a),
                "shape_b": list(c.shape_b), "dtype_a": c.dtype_a, "dtype_b": c.dtype_b}

    tok = s.tokenizer
    return {
        "mapping": s.mapping,
        "hyperparameters": [{"key": c.key, "a": c.a, "b": c.b} for c in s.hyperparameters],
        "paired": s.paired, "paired_params": s.paired_params,
        "removed": [ref(t) for t in s.removed], "added": [ref(t) for t in s.added],
        "renamed": [change(c) for c in s.renamed], "reshaped": [change(c) for c in s.reshaped],
        "retyped": [change(c) for c in s.retyped], "type_changes": s.type_changes,
        "metadata_compared": s.metadata_compared,
        "metadata": [{"key": c.key, "a": c.a, "b": c.b} for c in s.metadata],
        "tokenizer": None if tok is None else {
            "source_a": tok.source_a, "source_b": tok.source_b, "same": tok.same,
            "size_a": tok.size_a, "size_b": tok.size_b, "changed": tok.changed, "added": tok.added,
            "removed": tok.removed, "special_added": tok.special_added,
            "special_removed": tok.special_removed,
            "examples_changed": [{"id": i, "a": x, "b": y} for i, x, y in tok.examples_changed],
            "examples_added": [{"id": i, "token": x} for i, x in tok.examples_added],
            "examples_removed": [{"id": i, "token": x} for i, x in tok.examples_removed],
            "examples_special_added": [{"id": i, "token": x} for i, x in tok.examples_special_added],
            "examples_special_removed": [{"id": i, "token": x} for i, x in tok.examples_special_removed],
        },
    }


def tally_json(t: ChangeTally | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"tensors": t.tensors, "changed_tensors": t.changed_tensors, "elements": t.elements,
            "changed": t.changed, "rel_change": finite(t.rel_change), "snr_db": finite(t.snr_db),
            "sum_sq_a": t.sum_aa, "sum_sq_diff": t.sum_dd, "max_rank99": t.max_rank,
            "full_rank_matrices": t.full_rank}


def delta_json(d) -> dict[str, Any]:
    sp = d.spectrum
    return {
        "name": d.name, "name_b": d.name_b, "dtype_a": d.dtype_a, "dtype_b": d.dtype_b,
        "shape": list(d.shape),
        "elements": d.elements, "identical": d.identical, "same_bytes": d.same_bytes,
        "rel_change": finite(d.rel_change), "cosine": d.cosine, "snr_db": finite(d.snr_db),
        "max_abs_diff": d.max_abs, "changed": d.changed, "changed_share": d.changed_share,
        "nonfinite_a": d.nonfinite_a, "nonfinite_b": d.nonfinite_b, "transform": d.transform or None,
        "hash_a": d.hash_a, "hash_b": d.hash_b,
        "spectrum": None if sp is None else {
            "singular_values": [_round(x) for x in sp.singular_values],
            "energy": [_round(x) for x in sp.energy], "rank90": sp.rank90, "rank99": sp.rank99,
            "low_rank": sp.low_rank, "exact": sp.exact, "rows": sp.rows, "cols": sp.cols,
            "sampled_rows": sp.sampled_rows, "computed": sp.computed},
    }


def _round(x: float) -> float | None:
    return None if not math.isfinite(x) else float(f"{x:.6g}")
