"""What quantizing the weights really costs: each tensor round-tripped through each target scheme.

For every target (``q8_0``, ``q4_k``, ``int4``, ``fp8`` …), ``analyses.weights.reprice`` decides each
tensor's type exactly as ``paramscope size --weights`` prices it (llama.cpp's per-tensor rules and
fallbacks for GGUF file types; the linear layers for plain schemes; tensors a scheme leaves alone
keep their values, or are cast to the model's 16-bit type). The values are then quantized and
dequantized (quant_formats.py) and compared with the stored values, as decoded:

- relative RMSE = √(Σ(x − x̂)² / Σx²) and SNR = 10·log₁₀(Σx² / Σ(x − x̂)²) dB, per tensor; components
  and totals add up Σx² and Σ(x − x̂)² of their tensors (so big tensors weigh more);
- sizes are the re-priced bytes (``Repriced.total_bytes``), exact block arithmetic.

Sampling: with ``sample`` < 1 each matrix is cut into runs of ``RUN_ROWS`` consecutive rows (one fp8
128 × 128 block high; ggml blocks lie within a row) and ``⌈sample × runs⌉`` runs evenly spaced through
the tensor are read (deterministic: the same runs every time); sums are scaled by elements / sampled.

Budget (``assign``): the most accurate per-component choice among the targets whose bytes fit, found
greedily — start every leaf component at its smallest target, then repeatedly apply the single upgrade
that removes the most squared error per extra byte while the total still fits. Greedy is not always
optimal for this multiple-choice knapsack, but close when each component's error falls convexly with
its size, as it does for quantization.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from paramscope.analyses.sizing.weights import PricedTensor, reprice
from paramscope.analyses.values.quantize import IRREPRODUCIBLE, Quantizer, block_quantizer, quantizer
from paramscope.analyses.values.stats_engine import ByteSource
from paramscope.errors import UnsupportedError, and_more
from paramscope.knowledge import quant_schemes
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import field, record

RUN_ROWS = 128
BATCH_ELEMENTS = 4 * 2**20  # rows are decoded and quantized this many values at a time
KEPT = ("kept as stored", "buffer")  # reprice's reasons for leaving a tensor untouched
Progress = Callable[[int, int, str], None]  # (tensor bytes done, tensor bytes in all, name)


@record
class ErrorTally:
    params: int = 0
    bytes: int = 0
    energy: float = 0.0  # Σ x², scaled to the whole tensor
    error: float = 0.0  # Σ (x − x̂)², scaled likewise

    @property
    def rel_rmse(self) -> float:
        return math.sqrt(self.error / self.energy) if self.energy > 0 else 0.0

    @property
    def snr_db(self) -> float:
        if self.error <= 0:
            return math.inf
        return 10 * math.log10(self.energy / self.error) if self.energy > 0 else -math.inf

    def __add__(self, o: ErrorTally) -> ErrorTally:
        return ErrorTally(self.params + o.params, self.bytes + o.bytes, self.energy + o.energy,
                          self.error + o.error)


@record
class ErrorRow:
    name: str
    component: str
    layer: int | None
    type: str  # the type this target gives the tensor
    tally: ErrorTally
    sampled: int  # elements read (0: left as stored, nothing to measure)
    simulated: bool  # False when the type has no quantizer here (error not measured)


@record
class TargetResult:
    target: str  # as asked for: "q4_k"
    scheme: str  # reprice's canonical name: "Q4_K_M"
    rows: tuple[ErrorRow, ...]
    total: ErrorTally
    by_component: dict[str, ErrorTally]  # path-keyed tree with "total"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.total.bytes / self.total.params if self.total.params else 0.0

    @property
    def by_type(self) -> dict[str, ErrorTally]:
        """Parameters and bytes at each type this target gives (the target's own, and what stays as stored
        or at another type: embeddings, norms, biases), most parameters first."""
        out: dict[str, ErrorTally] = {}
        for r in self.rows:
            if r.tally.params:  # buffers (position_ids) hold no parameters
                out[r.type] = out.get(r.type, ErrorTally()) + r.tally
        return dict(sorted(out.items(), key=lambda kv: -kv[1].params))


@record
class Assignment:
    budget: int
    fits: bool
    choice: dict[str, str]  # leaf component → target
    by_component: dict[str, ErrorTally]
    total: ErrorTally


@record
class QuantErrorReport:
    source: str
    sample: float
    targets: tuple[TargetResult, ...]
    assignment: Assignment | None
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def quantize_error(model: Model, source: ByteSource, targets: Sequence[str], *, sample: float = 1.0,
                   budget: int | None = None, progress: Progress | None = None) -> QuantErrorReport:
    started = time.perf_counter()
    if not model.has_weights:
        raise UnsupportedError(f"{model.source}: no weights to read (the model was described from its "
                               "config); give the model file or directory")
    if not 0 < sample <= 1:
        raise UnsupportedError(f"--sample must be in (0, 1], found {sample}")
    priced = {t: reprice(model, t) for t in targets}
    tensors = {t.name: t for t in model.tensors}
    plans = {t: {r.name: r for r in p.rows} for t, p in priced.items()}
    measured = _measure(tensors, plans, source, sample, progress)
    results = tuple(_target(t, priced[t].scheme, plans[t], measured, priced[t].notes, _needs_imatrix(t))
                    for t in targets)
    assignment = assign(results, budget) if budget is not None else None
    return QuantErrorReport(model.source, sample, results, assignment, time.perf_counter() - started,
                            _notes(results))


# --- measuring -----------------------------------------------------------------------------------------
def _measure(tensors: dict[str, Tensor], plans: dict[str, dict[str, PricedTensor]], source: ByteSource,
             sample: float, progress: Progress | None) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(target, tensor) → (Σx², Σ(x − x̂)², elements read), each tensor decoded once for all targets."""
    work: dict[str, dict[str, Quantizer]] = {}  # tensor → target → round trip, for the tensors that change
    for target, rows in plans.items():
        for name, row in rows.items():
            # a tensor without elements (a dimension of 0, which gguf.cpp allows) has nothing to round
            quantize = quantizer(row.type) if _changes(row) and tensors[name].n_elements else None
            if quantize is not None:
                work.setdefault(name, {})[target] = quantize
    out: dict[tuple[str, str], tuple[float, float, int]] = {}
    done, total = 0, sum(tensors[name].nbytes for name in work)
    for name, types in work.items():
        sums = {t: [0.0, 0.0] for t in types}
        read = 0
        for x in _sampled_batches(tensors[name], source, sample):
            read += x.size
            energy = _sum_squares(x)
            # NaN and Inf in a tensor's values give NaN errors, which the report shows as such: numpy's
            # RuntimeWarnings about them would only put lines on stderr
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                for target, quantize in types.items():
                    sums[target][0] += energy
                    sums[target][1] += _sum_squares(x - quantize(x))
        scale = tensors[name].n_elements / read if read else 0.0
        for target, (energy, error) in sums.items():
            out[(target, name)] = (energy * scale, error * scale, read)
        done += tensors[name].nbytes
        if progress:
            progress(done, total, name)
    return out


def _changes(row: PricedTensor) -> bool:
    """Does the scheme alter this tensor's values? Not when kept, nor when cast to its own type."""
    if any(k in row.why for k in KEPT):
        return False
    return not (row.type == row.stored_type and row.type in ("F32", "F16", "BF16"))


def _sum_squares(v: np.ndarray) -> float:
    # einsum, not np.dot: BLAS would start its own threads next to numba's and the two spin on 2 cores
    v = v.astype(np.float64).reshape(-1)
    return float(np.einsum("i,i->", v, v))


def sample_runs(rows: int, sample: float, run: int = RUN_ROWS) -> list[tuple[int, int]]:
    """(first row, row count) of the runs read: ⌈sample × runs⌉ evenly spaced, all when sample = 1."""
    n_runs = -(-rows // run)
    m = n_runs if sample >= 1 else max(1, math.ceil(sample * n_runs))
    picks = sorted({int((j + 0.5) * n_runs / m) for j in range(m)})
    return [(i * run, min(run, rows - i * run)) for i in picks]


def _sampled_batches(t: Tensor, source: ByteSource, sample: float):
    """Decoded float32 (rows, cols) batches of the sampled rows; the whole tensor when it is not a
    matrix of whole-block rows."""
    from paramscope.analyses.values.decode import dequantize

    cols = t.shape[-1] if len(t.shape) >= 2 and t.shape[-1] and t.dtype.fits_blocks(t.shape[-1]) else 0
    if not cols:
        x = dequantize(source.view(t), t.dtype, t.n_elements).reshape(1, -1)
        source.release(t)
        yield x
        return
    row_bytes = t.dtype.nbytes(cols)
    runs = sample_runs(t.n_elements // cols, sample)
    per_batch = max(1, BATCH_ELEMENTS // (RUN_ROWS * cols))
    for i in range(0, len(runs), per_batch):
        parts = []
        for first, count in runs[i:i + per_batch]:
            raw = source.view(t, first * row_bytes, count * row_bytes)
            parts.append(dequantize(raw, t.dtype, count * cols).reshape(count, cols))
            del raw
            source.release(t, first * row_bytes, count * row_bytes)  # decoded: the pages can go
        yield np.concatenate(parts) if len(parts) > 1 else parts[0]


# --- per target ----------------------------------------------------------------------------------------
def _target(target: str, scheme: str, rows: dict[str, PricedTensor],
            measured: dict[tuple[str, str], tuple[float, float, int]], notes: tuple[str, ...],
            imatrix: bool = False) -> TargetResult:
    out: list[ErrorRow] = []
    unsupported: dict[str, list[str]] = {}  # type → tensors left unmeasured
    for name, r in rows.items():
        energy, error, read = measured.get((target, name), (0.0, 0.0, 0))
        simulated = not _changes(r) or quantizer(r.type) is not None
        if not simulated:
            unsupported.setdefault(r.type, []).append(name)
        out.append(ErrorRow(name, r.component, r.layer, r.type,
                            ErrorTally(r.params, r.bytes, energy, error), read, simulated))
    tree = component_tree(out)
    return TargetResult(target, scheme, tuple(out), tree["total"], tree,
                        (*notes, *_type_notes(out, imatrix), *_unsupported_notes(unsupported)))


def _ggml_type(type_name: str) -> DType | None:
    try:
        return DType(type_name)
    except ValueError:
        return None


def _needs_imatrix(target: str) -> bool:
    """Is this file type made with an importance matrix: one llama-quantize needs it for (IQ2_XXS, IQ1_S …),
    or one spelled so (q4_0_imatrix)?"""
    found = quant_schemes.lookup(target)
    return isinstance(found, quant_schemes.FileType) and found.uses_imatrix


def _type_notes(rows: Sequence[ErrorRow], imatrix: bool) -> tuple[str, ...]:
    """Which measured types are llama.cpp's own bytes (bench/ggml_reference.py checks them)."""
    ggml = sorted({r.type for r in rows if r.sampled and (d := _ggml_type(r.type)) is not None
                   and d.info.quantized and block_quantizer(d) is not None})
    if not ggml:
        return ()
    if imatrix:
        return (f"{', '.join(ggml)}: measured as llama-quantize writes them without an importance matrix "
                "(ggml_quantize_chunk, byte for byte); this file type is made with one, which picks other "
                "blocks",)
    return (f"{', '.join(ggml)}: the blocks llama-quantize writes without an importance matrix "
            "(ggml_quantize_chunk, byte for byte); a file made with --imatrix has other blocks",)


def _unsupported_notes(unsupported: dict[str, list[str]]) -> tuple[str, ...]:
    notes = []
    for type_name, names in sorted(unsupported.items()):
        d = _ggml_type(type_name)
        why = IRREPRODUCIBLE.get(d, "no quantizer for the type here") if d is not None else \
            "no quantizer for the scheme here"
        notes.append(f"{type_name} not simulated ({why}); counted as exact: {and_more(names)}")
    return tuple(notes)


def component_tree(rows: Sequence[ErrorRow]) -> dict[str, ErrorTally]:
    tree: dict[str, ErrorTally] = {"total": ErrorTally()}  # a model without tensors still has a total
    for r in rows:
        parts = r.component.split("/")
        for path in (*("/".join(parts[: i + 1]) for i in range(len(parts))), "total"):
            tree[path] = tree.get(path, ErrorTally()) + r.tally
    return dict(sorted(tree.items(), key=lambda kv: (kv[0] == "total", kv[0])))


def _notes(results: Sequence[TargetResult]) -> tuple[str, ...]:
    return ("relative RMSE = √(Σ(x−x̂)²/Σx²) over the stored values as decoded; SNR = 10·log₁₀(Σx²/Σ(x−x̂)²)",)


# --- budget --------------------------------------------------------------------------------------------
def assign(results: Sequence[TargetResult], budget: int) -> Assignment:
    """Greedy: every leaf component at its smallest target, then the best error-per-byte upgrades."""
    options = _leaf_options(results)
    choice = {c: min(opts, key=lambda t: (opts[t].bytes, opts[t].error)) for c, opts in options.items()}
    total = sum(options[c][t].bytes for c, t in choice.items())
    while True:
        best = None
        for c, opts in options.items():
            now = opts[choice[c]]
            for t, o in opts.items():
                extra, gain = o.bytes - now.bytes, now.error - o.error
                if gain <= 0 or total + extra > budget:
                    continue
                rate = math.inf if extra <= 0 else gain / extra
                if best is None or rate > best[0]:
                    best = (rate, c, t, extra)
        if best is None:
            break
        _, c, t, extra = best
        choice[c] = t
        total += extra
    leaves = {c: options[c][t] for c, t in choice.items()}
    tree: dict[str, ErrorTally] = {}
    for c, tally in leaves.items():
        parts = c.split("/")
        for path in (*("/".join(parts[: i + 1]) for i in range(len(parts))), "total"):
            tree[path] = tree.get(path, ErrorTally()) + tally
    tree = dict(sorted(tree.items(), key=lambda kv: (kv[0] == "total", kv[0])))
    return Assignment(budget, total <= budget, dict(sorted(choice.items())), tree, tree["total"])


def _leaf_options(results: Sequence[TargetResult]) -> dict[str, dict[str, ErrorTally]]:
    options: dict[str, dict[str, ErrorTally]] = {}
    for res in results:
        for r in res.rows:
            per = options.setdefault(r.component, {})
            per[res.target] = per.get(res.target, ErrorTally()) + r.tally
    return options
