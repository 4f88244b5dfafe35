"""The value pass of ``paramscope diff``: every paired tensor's values read once from both files.

Per pair (A, B of the same shape), with d = b − a over the element pairs where both are finite:

    relative change  ‖B − A‖ / ‖A‖ = √(Σd² / Σa²)
    cosine           Σab / √(Σa² Σb²) = (Σa² + Σb² − Σd²) / (2 √(Σa² Σb²))
    SNR              10 · log₁₀(Σa² / Σd²) dB   (A the signal, B − A the noise: quantize-error's figure)
    max |B − A|, share of elements that differ, NaN/Inf counts on each side

and whether the stored bytes are bit-identical: the same type, no converter transform, and equal
content hashes (xxh3-128 when the ``xxhash`` package is installed, else BLAKE2b-128, over the bytes as
stored), or equal bytes compared chunk by chunk when hashing is off.

Both tensors are read through a ``ByteSource`` (sources/mapped.py), in chunks of whole rows — whole
heads when Q/K rows are permuted — and whole blocks of both types, so private memory stays at a few
chunk-sized buffers whatever the model's size, and every page is read once. BF16 pairs are compared
code against code (kernels.py); other types are decoded to float32 with ``analyses.values.decode``
first, so a GGUF quant is held against its bf16 original. For matrices that changed, rows of the
change are sampled as they pass for its spectrum (spectrum.py).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from paramscope.analyses.diff import kernels as K
from paramscope.analyses.diff.names import Pair, permutation_rows
from paramscope.analyses.diff.spectrum import RowSample, Spectrum, spectrum
from paramscope.analyses.values.stats_engine import ByteSource
from paramscope.model import Tensor
from paramscope.model.dtypes import DType
from paramscope.records import field, record

CHUNK_ELEMENTS = 1 << 21  # values per side per step: 8 MB decoded, 4 MB of bf16
Progress = Callable[[int, str], None]  # (bytes just read, tensor name)


@record
class TensorDelta:
    name: str  # A's name
    name_b: str
    dtype_a: str
    dtype_b: str
    shape: tuple[int, ...]
    bytes_a: int
    bytes_b: int
    elements: int
    sum_aa: float  # Σa² over pairs where both values are finite
    sum_bb: float
    sum_dd: float  # Σ(b − a)²
    max_abs: float  # max |b − a|
    changed: int  # elements whose values differ
    nonfinite_a: int
    nonfinite_b: int
    same_bytes: bool | None  # stored bytes identical; None when types or layout differ
    transform: str = ""  # what was done to one side first ("Q/K rows permuted (32 heads)")
    hash_a: str | None = None
    hash_b: str | None = None
    spectrum: Spectrum | None = None

    @property
    def identical(self) -> bool:
        """Every value equal (NaN against NaN counts as equal)."""
        return self.changed == 0

    @property
    def rel_change(self) -> float:
        if self.sum_dd == 0:
            return 0.0
        return math.sqrt(self.sum_dd / self.sum_aa) if self.sum_aa > 0 else math.inf

    @property
    def cosine(self) -> float:
        if self.sum_aa <= 0 or self.sum_bb <= 0:
            return 1.0 if self.sum_dd == 0 else 0.0
        c = (self.sum_aa + self.sum_bb - self.sum_dd) / (2 * math.sqrt(self.sum_aa * self.sum_bb))
        return max(-1.0, min(1.0, c))

    @property
    def snr_db(self) -> float:
        if self.sum_dd == 0:
            return math.inf
        return 10 * math.log10(self.sum_aa / self.sum_dd) if self.sum_aa > 0 else -math.inf

    @property
    def changed_share(self) -> float:
        return self.changed / self.elements if self.elements else 0.0

    @property
    def retyped(self) -> bool:
        return self.dtype_a != self.dtype_b


@record
class ValueDiff:
    tensors: tuple[TensorDelta, ...]
    skipped: tuple[str, ...]  # "name (why)"
    bytes_read: int  # both sides
    seconds: float
    backend: str
    hash_name: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_read / self.seconds if self.seconds > 0 else 0.0


def hasher_name() -> str:
    try:
        import xxhash  # noqa: F401
    except ImportError:
        return "blake2b-128"
    return "xxh3-128"


def _hasher():
    try:
        import xxhash
    except ImportError:
        return hashlib.blake2b(digest_size=16)
    return xxhash.xxh3_128()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while the pass runs (threadpoolctl, when installed): the spectra's small
    matrix products gain nothing from threads, and OpenBLAS threads spinning beside numba's on a
    busy two-core machine made one 4096 × 40 QR take a second instead of 17 ms (measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def comparable(p: Pair) -> str | None:
    """Why a pair's values cannot be compared, or None when they can."""
    from paramscope.analyses.values.decode import decodable

    a, b = p.a, p.b
    if a.shape != b.shape:
        return "shapes differ"
    for t in (a, b):
        if t.file is None or t.offset is None:
            return f"{t.name} has no data"
        if not decodable(t.dtype):
            return f"{t.dtype.value} cannot be decoded"
    heads = p.ta.heads or p.tb.heads
    if heads and not (a.shape and permutation_rows(a.shape[0], heads)):
        return f"{a.shape[0]} rows do not split into {heads} heads of two halves"
    return None


def value_diff(pairs: Sequence[Pair], source_a: ByteSource, source_b: ByteSource, *, hashes: bool = True,
               spectra: bool = True, progress: Callable[[int, int, str], None] | None = None) -> ValueDiff:
    """Compare the values of every pair whose shapes agree; the rest are listed as skipped."""
    started = time.perf_counter()
    todo, skipped = [], []
    for p in pairs:
        why = comparable(p)
        if why is None:
            todo.append(p)
        else:
            skipped.append(f"{p.a.name} ({why})")
    total = sum(p.a.nbytes + p.b.nbytes for p in todo)
    done = 0

    def tick(n: int, name: str) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total, name)

    with one_blas_thread():
        out = tuple(compare_pair(p, source_a, source_b, hashes=hashes, spectra=spectra, progress=tick)
                    for p in todo)
    return ValueDiff(out, tuple(skipped), total, time.perf_counter() - started, K.backend(),
                     hasher_name() if hashes else None)


def compare_pair(p: Pair, source_a: ByteSource, source_b: ByteSource, *, hashes: bool = True,
                 spectra: bool = True, progress: Progress | None = None) -> TensorDelta:
    a, b = p.a, p.b
    n = a.n_elements
    plan = _plan(p)
    same_type = a.dtype == b.dtype and p.ta.identity and p.tb.identity
    ha, hb = (_hasher(), _hasher()) if hashes else (None, None)
    fused = a.dtype == b.dtype == DType.BF16 and not (p.ta.shift or p.tb.shift)
    sample = RowSample(a.shape[0], n // a.shape[0]) if spectra and len(a.shape) == 2 and n else None
    if sample is not None and not plan.cols:
        sample = None
    sums = np.zeros(K.N_FIELDS)
    top = 0.0
    equal = True
    buffers = None if fused else (np.empty(plan.step, np.float32), np.empty(plan.step, np.float32))
    for start in range(0, n, plan.step):
        count = min(plan.step, n - start)
        ra = _read(source_a, a, start, count)
        rb = _read(source_b, b, start, count)
        if ha is not None and hb is not None:
            ha.update(ra)
            hb.update(rb)
        elif same_type and equal:
            equal = bool(np.array_equal(ra, rb))
        va, vb = _layout(ra, a, p.ta, plan), _layout(rb, b, p.tb, plan)
        rows = count // plan.cols if plan.cols else 0
        rowe = np.zeros(rows)
        out = np.zeros((K.parts(count), K.N_FIELDS))
        if buffers is None:  # fused
            ca, cb = _codes(va), _codes(vb)
            K.pair_bf16(ca, cb, plan.cols, out, rowe)
            rows_of = _code_rows(ca, cb, plan.cols)
        else:
            xa = _decode(va, a.dtype, count, buffers[0], p.ta.shift)
            xb = _decode(vb, b.dtype, count, buffers[1], p.tb.shift)
            K.pair_floats(xa, xb, plan.cols, out, rowe)
            rows_of = _value_rows(xa, xb, plan.cols)
        sums += out.sum(axis=0)
        top = max(top, float(out[:, K.F_MAX].max()))
        if sample is not None:
            sample.add(start // plan.cols, rowe, rows_of)
        del ra, rb, va, vb
        _release(source_a, a, start, count)
        _release(source_b, b, start, count)
        if progress:
            progress(a.dtype.nbytes(count) + b.dtype.nbytes(count), a.name)
    digest_a = ha.hexdigest() if ha is not None else None
    digest_b = hb.hexdigest() if hb is not None else None
    same_bytes = (digest_a == digest_b if ha is not None else equal) if same_type else None
    spec = spectrum(sample) if sample is not None and sums[K.F_DD] > 0 else None
    return TensorDelta(
        name=a.name, name_b=b.name, dtype_a=a.dtype.value, dtype_b=b.dtype.value, shape=a.shape,
        bytes_a=a.nbytes, bytes_b=b.nbytes, elements=n, sum_aa=float(sums[K.F_AA]),
        sum_bb=float(sums[K.F_BB]), sum_dd=float(sums[K.F_DD]), max_abs=top,
        changed=int(sums[K.F_CHANGED]), nonfinite_a=int(sums[K.F_NONFINITE_A]),
        nonfinite_b=int(sums[K.F_NONFINITE_B]), same_bytes=same_bytes,
        transform=", ".join(x for x in ((f"A: {p.ta.describe()}" if not p.ta.identity else ""),
                                        (f"B: {p.tb.describe()}" if not p.tb.identity else "")) if x),
        hash_a=digest_a, hash_b=digest_b, spectrum=spec)


@record
class _Plan:
    step: int  # elements per chunk: whole units
    cols: int  # values per row when every chunk is whole rows of the last dimension, else 0
    head_rows: int  # rows of one head when a side's rows are permuted, else 0


def _plan(p: Pair) -> _Plan:
    a, b = p.a, p.b
    n = a.n_elements
    last = a.shape[-1] if len(a.shape) >= 2 else 0
    heads = p.ta.heads or p.tb.heads
    head_rows = permutation_rows(a.shape[0], heads) if heads else 0
    blocks = math.lcm(a.dtype.block_size, b.dtype.block_size)
    if head_rows:
        unit = head_rows * (n // a.shape[0])  # whole heads (a 1-D bias: head_rows values)
    elif last and last % blocks == 0:
        unit = last
    else:
        unit = blocks
    if n % unit or unit % blocks:
        unit = n  # one piece: the reader checked the tensor is whole blocks
    cols = last if last and unit % last == 0 else 0
    return _Plan(max(unit, CHUNK_ELEMENTS // unit * unit), cols, head_rows)


def _read(source: ByteSource, t: Tensor, start: int, count: int) -> np.ndarray:
    return source.view(t, t.dtype.nbytes(start), t.dtype.nbytes(count))


def _release(source: ByteSource, t: Tensor, start: int, count: int) -> None:
    source.release(t, t.dtype.nbytes(start), t.dtype.nbytes(count))


def _layout(raw: np.ndarray, t: Tensor, tr, plan: _Plan) -> np.ndarray:
    """The stored bytes in the other side's row order: LlamaModel.permute applied to whole heads
    (rows are whole blocks, so the bytes of a row move together)."""
    if not tr.heads:
        return raw
    h = plan.head_rows
    row_bytes = t.nbytes // t.shape[0]
    heads = raw.size // (h * row_bytes)
    return np.ascontiguousarray(raw.reshape(heads, 2, h // 2, row_bytes).swapaxes(1, 2)).reshape(-1)


def _codes(raw: np.ndarray) -> np.ndarray:
    if raw.ctypes.data % 2:
        raw = raw.copy()
    return raw.view("<u2")


def _decode(raw: np.ndarray, dtype: DType, count: int, buffer: np.ndarray, shift: float) -> np.ndarray:
    from paramscope.analyses.values.decode import dequantize

    x = dequantize(raw, dtype, count, buffer[:count])
    if shift:
        x += np.float32(shift)
    return x


def _value_rows(xa: np.ndarray, xb: np.ndarray, cols: int) -> Callable[[np.ndarray], np.ndarray]:
    def rows(idx: np.ndarray) -> np.ndarray:
        return _finite(xb.reshape(-1, cols)[idx] - xa.reshape(-1, cols)[idx])
    return rows


def _code_rows(ca: np.ndarray, cb: np.ndarray, cols: int) -> Callable[[np.ndarray], np.ndarray]:
    def rows(idx: np.ndarray) -> np.ndarray:
        return _finite(K.bf16_values(cb.reshape(-1, cols)[idx]) - K.bf16_values(ca.reshape(-1, cols)[idx]))
    return rows


def _finite(d: np.ndarray) -> np.ndarray:
    """Rows of the change with non-finite entries set to 0 (the sums leave those pairs out too)."""
    if not np.isfinite(d).all():
        d = np.where(np.isfinite(d), d, np.float32(0))
    return d


# --- tensors without a counterpart by name: the same bytes under another name? --------------------------
def match_renamed(only_a: Sequence[Tensor], only_b: Sequence[Tensor], source_a: ByteSource,
                  source_b: ByteSource) -> list[tuple[Tensor, Tensor]]:
    """Pairs of unpaired tensors with the same type, shape and content hash (a renamed tensor)."""
    groups: dict[tuple, list[Tensor]] = {}
    for t in only_b:
        if t.file is not None and t.offset is not None:
            groups.setdefault((t.dtype, t.shape), []).append(t)
    found = []
    digests_b: dict[int, str] = {}
    for t in only_a:
        candidates = groups.get((t.dtype, t.shape), [])
        if not candidates or t.file is None or t.offset is None:
            continue
        digest = content_hash(t, source_a)
        for c in candidates:
            if id(c) not in digests_b:
                digests_b[id(c)] = content_hash(c, source_b)
            if digests_b[id(c)] == digest:
                found.append((t, c))
                candidates.remove(c)
                break
    return found


def content_hash(t: Tensor, source: ByteSource) -> str:
    h = _hasher()
    for _, raw in source.chunks(t, 16 * 2**20):
        h.update(raw)
        del raw
    return h.hexdigest()
