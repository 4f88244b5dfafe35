"""The scan behind ``paramscope stats``: every tensor's values, chunk by chunk, reduced to mergeable sums.

The engine never opens files: it reads through a ``ByteSource`` (sources/mapped.py in practice), one
chunk of whole rows (or whole blocks) at a time, so private memory stays at a few chunk-sized buffers
whatever the model's size. Two paths (stats_kernels.py has the loops):

- 8- and 16-bit stored types (BF16, F16, FP8, I8, I16 …) are *counted*, not decoded: a count per stored
  code is the exact distribution. The 65,536-entry table of code values comes from
  ``analyses.values.decode`` (the one decoder), and every statistic — percentiles included — is exact.
- Every other type is decoded to float32 chunk by chunk and reduced to NaN/Inf/zero counts, min, max,
  shifted float64 sums and a count per grid bin (bfloat16 grid: 2⁻⁷ relative resolution).

Partial results merge with Chan et al.'s pairwise update of (n, mean, M2) ("Updating formulae and a
pairwise algorithm for computing sample variances", 1979), so mean and variance keep float64 accuracy
across chunks, tensors and components.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

import numpy as np

from paramscope.analyses.values import stats_kernels as K
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

# 8- and 16-bit floats whose magnitude bits (all but the sign) order like |value|, NaN codes above Inf
SIGN_MAGNITUDE = frozenset({DType.BF16, DType.F16, DType.F8_E4M3, DType.F8_E5M2})
CODE_CHUNK_BYTES = 16 * 2**20  # counted types: raw bytes per chunk (no decoded copy exists)
FLOAT_CHUNK_ELEMENTS = 4 * 2**20  # decoded types: float32 values per chunk (16 MiB buffer)
ROW_EXAMPLES = 5  # indices kept of dead rows / columns and outlier channels, for the report

Progress = Callable[[int, str], None]  # (bytes just scanned, tensor name)


class ByteSource(Protocol):
    """Where tensor bytes come from; sources.mapped.MappedFiles is one."""

    def view(self, tensor: Tensor, start: int = 0, nbytes: int | None = None) -> np.ndarray: ...

    def release(self, tensor: Tensor, start: int = 0, nbytes: int | None = None) -> None: ...

    def chunks(self, tensor: Tensor, chunk_bytes: int, align: int | None = None
               ) -> Iterator[tuple[int, np.ndarray]]: ...


@dataclass(slots=True)
class Moments:
    """Mergeable statistics of a set of values; ``grid`` is the optional count per grid key."""

    count: int = 0  # every element, NaN and Inf included
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    zeros: int = 0
    n: int = 0  # finite elements: min, max, mean, M2 and Σ|x| are over these
    mean: float = 0.0
    m2: float = 0.0  # Σ (x − mean)²
    sum_abs: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    grid: np.ndarray | None = None

    def merge(self, o: Moments, *, with_grid: bool = True) -> None:
        n = self.n + o.n
        if o.n:
            delta = o.mean - self.mean
            self.mean += delta * o.n / n
            self.m2 += o.m2 + delta * delta * self.n * o.n / n
        self.n = n
        self.count += o.count
        self.nan += o.nan
        self.posinf += o.posinf
        self.neginf += o.neginf
        self.zeros += o.zeros
        self.sum_abs += o.sum_abs
        self.min = min(self.min, o.min)
        self.max = max(self.max, o.max)
        if with_grid and o.grid is not None:
            if self.grid is None:
                self.grid = np.zeros(K.GRID, np.int64)
            self.grid += o.grid


@dataclass(slots=True)
class Channels:
    """Row and column findings of a matrix (rows = all leading dims, columns = the last, inputs)."""

    rows: int
    cols: int
    dead_rows: list[int] = field(default_factory=list)  # first few indices of all-zero rows
    n_dead_rows: int = 0
    colmax: np.ndarray | None = None  # |x| max per column, float32


@dataclass(slots=True)
class TensorScan:
    tensor: Tensor
    moments: Moments
    # (values, counts) of every stored code that occurs, for types counted exactly
    exact: tuple[np.ndarray, np.ndarray] | None
    channels: Channels | None


def scan_tensor(tensor: Tensor, source: ByteSource, progress: Progress | None = None) -> TensorScan:
    """Statistics of one tensor's values; the caller checks ``decode.decodable`` first."""
    counted = _counted(tensor.dtype)
    cols = _row_length(tensor)
    channels = Channels(tensor.n_elements // cols, cols) if cols else None
    align = tensor.dtype.nbytes(cols) if cols else tensor.dtype.type_size
    target = CODE_CHUNK_BYTES if counted else tensor.dtype.nbytes(FLOAT_CHUNK_ELEMENTS)
    if counted:
        return _scan_counted(tensor, source, channels, align, target, progress)
    return _scan_decoded(tensor, source, channels, align, target, progress)


def _counted(dtype: DType) -> bool:
    info = dtype.info
    return info.block_size == 1 and info.type_size in (1, 2) and not info.quantized


def _row_length(t: Tensor) -> int:
    """Columns of the tensor seen as a matrix, or 0 when it is not one (1-D, or rows split blocks)."""
    if len(t.shape) < 2 or not t.shape[-1] or not t.dtype.fits_blocks(t.shape[-1]):
        return 0
    return t.shape[-1]


# --- 8- and 16-bit types: a count per stored code ------------------------------------------------------
def _scan_counted(tensor: Tensor, source: ByteSource, channels: Channels | None, align: int, target: int,
                  progress: Progress | None) -> TensorScan:
    values = code_values(tensor.dtype)
    code_type = np.dtype(np.uint8) if tensor.dtype.type_size == 1 else np.dtype("<u2")
    parts = K.parts()
    counts = np.zeros((parts, values.size), np.int64)
    cols = channels.cols if channels else 0
    # sign-magnitude floats keep maxima as magnitude codes (faster); other types as |value|
    signed = tensor.dtype in SIGN_MAGNITUDE
    abs_table = None if signed else _abs_table(tensor.dtype)
    track = code_type if signed else np.dtype(np.float32)
    colmax = np.zeros((parts, max(cols, 1)), track)
    element = tensor.dtype.type_size
    for start, raw in source.chunks(tensor, target, align):
        n = raw.size
        codes = raw.view(code_type)
        rowmax = np.empty(codes.size // cols if cols else 0, track)
        K.count_codes(codes, cols, counts, rowmax, colmax, abs_table)
        del raw, codes  # the source releases these pages when the next chunk is asked for
        if channels:
            _dead_rows(channels, rowmax, start // element // cols)
        if progress:
            progress(n, tensor.name)
    total = counts.sum(axis=0)
    if channels:
        top = colmax.max(axis=0)
        channels.colmax = _abs_table(tensor.dtype)[top] if signed else top
    seen = np.flatnonzero(total)
    return TensorScan(tensor, exact_moments(values[seen], total[seen]), (values[seen], total[seen]), channels)


def code_values(dtype: DType) -> np.ndarray:
    """float32 value of every stored code of an 8- or 16-bit type, through analyses.values.decode."""
    return _code_values(dtype).copy()


@cache
def _code_values(dtype: DType) -> np.ndarray:
    from paramscope.analyses.values.decode import dequantize

    n = 1 << (8 * dtype.type_size)
    raw = np.arange(n, dtype="<u2" if dtype.type_size == 2 else np.uint8).view(np.uint8)
    return dequantize(raw, dtype, n)


@cache
def _abs_table(dtype: DType) -> np.ndarray:
    a = np.abs(_code_values(dtype))
    a[np.isnan(a)] = np.inf  # a row or column holding NaN is neither dead nor quiet
    return a


def exact_moments(values: np.ndarray, counts: np.ndarray) -> Moments:
    """Moments, with grid, of a distribution given as distinct values and their counts."""
    v = values.astype(np.float64)
    nan = np.isnan(v)
    posinf, neginf = v == np.inf, v == -np.inf
    fin = ~(nan | posinf | neginf)
    fv, fc = v[fin], counts[fin]
    m = Moments(count=int(counts.sum()), nan=int(counts[nan].sum()), posinf=int(counts[posinf].sum()),
                neginf=int(counts[neginf].sum()), n=int(fc.sum()))
    if m.n:
        # c × v is exact in float64 for these short mantissas; fsum rounds the total once
        m.mean = math.fsum(fc * fv) / m.n
        m.m2 = float(np.einsum("i,i->", fc.astype(np.float64), (fv - m.mean) ** 2))
        m.sum_abs = math.fsum(fc * np.abs(fv))
        m.min, m.max = float(fv.min()), float(fv.max())
        m.zeros = int(fc[fv == 0].sum())
        keys = K.grid_keys(fv.astype(np.float32))
        m.grid = np.bincount(keys, weights=fc, minlength=K.GRID).astype(np.int64)
    return m


# --- every other type: decoded chunk by chunk ----------------------------------------------------------
def _scan_decoded(tensor: Tensor, source: ByteSource, channels: Channels | None, align: int, target: int,
                  progress: Progress | None) -> TensorScan:
    from paramscope.analyses.values.decode import dequantize

    dtype = tensor.dtype
    parts = K.float_parts(tensor.n_elements * 4)  # fixed by the tensor: the sums' rounding is too
    grid = np.zeros((parts, K.GRID), np.int64)
    out = np.zeros((parts, K.N_FIELDS))
    cols = channels.cols if channels else 0
    colmax = np.zeros((parts, max(cols, 1)), np.float32)
    step = min(max(align, target // align * align), tensor.nbytes)
    buffer = np.empty(step // dtype.type_size * dtype.block_size, np.float32)
    total = Moments()
    per_block = dtype.block_size / dtype.type_size
    for start, raw in source.chunks(tensor, target, align):
        n = raw.size
        n_el = n // dtype.type_size * dtype.block_size
        x = dequantize(raw, dtype, n_el, buffer[:n_el])
        del raw
        rowmax = np.empty(n_el // cols if cols else 0, np.float32)
        k = _shift(x)
        K.float_stats(x, cols, k, grid, out, rowmax, colmax)
        for row in out:
            total.merge(_from_sums(row, k), with_grid=False)
        if channels:
            _dead_rows(channels, rowmax, int(start * per_block) // cols)
        if progress:
            progress(n, tensor.name)
    total.count = tensor.n_elements
    total.grid = grid.sum(axis=0)
    if channels:
        channels.colmax = colmax.max(axis=0)
    return TensorScan(tensor, total, None, channels)


def _shift(x: np.ndarray) -> float:
    """A value near the chunk's mean: sums of (x − k) then lose no digits to a large common offset."""
    head = x[:4096]
    head = head[np.isfinite(head)]
    return float(head.astype(np.float64).mean()) if head.size else 0.0


def _from_sums(row: np.ndarray, k: float) -> Moments:
    n = int(row[K.F_N])
    m = Moments(nan=int(row[K.F_NAN]), posinf=int(row[K.F_POSINF]), neginf=int(row[K.F_NEGINF]),
                zeros=int(row[K.F_ZEROS]), n=n, sum_abs=float(row[K.F_SABS]),
                min=float(row[K.F_MIN]) if n else math.inf, max=float(row[K.F_MAX]) if n else -math.inf)
    if n:
        s1 = float(row[K.F_S1])
        m.mean = k + s1 / n
        m.m2 = max(0.0, float(row[K.F_S2]) - s1 * s1 / n)
    return m


def _dead_rows(channels: Channels, rowmax: np.ndarray, first_row: int) -> None:
    dead = np.flatnonzero(rowmax == 0)
    channels.n_dead_rows += dead.size
    room = ROW_EXAMPLES - len(channels.dead_rows)
    if room > 0 and dead.size:
        channels.dead_rows.extend(int(i) + first_row for i in dead[:room])
