"""The per-chunk loop of the value diff: compiled with numba when it is installed, numpy otherwise.

One pass over a chunk of A's and B's values (same elements, same order) fills, per part, the sums every
per-tensor figure derives from, over the element pairs where both values are finite:

    Σa², Σb², Σd² with d = b − a,  max |b − a|,  elements that differ,  non-finite a, non-finite b

and, when the chunk is whole rows of ``cols`` values, Σd² of each row (``rowe``: what the row sample
of the change is drawn by). Products and differences are taken in float64, where they are exact for
float32 inputs (24-bit significands), so the two backends differ only in summation order; Σab is not
summed, since Σab = (Σa² + Σb² − Σd²) / 2 (and a cosine near 1 is better taken from Σd², which holds
the small difference exactly, than from Σab). max |b − a| is of the float32 difference, the same in
both. "Differ" compares values: +0 and −0 are equal, NaN against NaN is unchanged.

numba kernels split a chunk into one part per thread at row boundaries (``prange``), each writing only
its own row of ``out``. The row loop is compiled with fastmath (vectorised reductions) and counts
non-finite values from the exponent bits as it goes; a row holding any is done again by a plain loop
that skips them, so fastmath never sees a NaN it could mistreat.

BF16 pairs are read as their stored codes (a bfloat16 is the top half of a float32: ``code << 16``),
so nothing is decoded ahead; every other type is decoded to float32 first
(``analyses.values.decode``).
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

(F_AA, F_BB, F_DD, F_MAX, F_CHANGED, F_NONFINITE_A, F_NONFINITE_B) = range(7)
N_FIELDS = 7
BLOCK = 4096  # values per step when a chunk is not whole rows
# Chunks smaller than this run on one thread: waking the others costs more than it brings (and far
# more on a loaded machine, where a parallel region waits for every thread to be scheduled).
PARALLEL_MIN = 1 << 18


@cache
def backend() -> str:
    """"numba" when it can be imported (and PARAMSCOPE_DIFF_BACKEND does not say "numpy")."""
    if os.environ.get("PARAMSCOPE_DIFF_BACKEND") == "numpy":
        return "numpy"
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numpy"
    return "numba"


# The float64 sums depend on how the values are grouped into parts, so the grouping must not depend on
# the machine: a fixed number of parts, which numba's threads share out (the same pair of files gives the
# same figures, to the last bit, on any number of threads). Four keeps a 4-core machine busy.
FIXED_PARTS = 4


def parts(n: int) -> int:
    """How many partial rows a kernel call on ``n`` values fills."""
    return FIXED_PARTS if backend() == "numba" and n >= PARALLEL_MIN else 1


def pair_floats(a: np.ndarray, b: np.ndarray, cols: int, out: np.ndarray, rowe: np.ndarray) -> None:
    """Fill ``out`` (``parts(a.size)`` × N_FIELDS) and ``rowe`` (one per row when ``cols`` > 0) from
    float32 a, b."""
    if backend() == "numba":
        from paramscope.analyses.diff import kernels_numba as nb

        run = nb.pair_f32 if out.shape[0] > 1 else nb.pair_f32_serial
        run(a, b, a.view(np.uint32), b.view(np.uint32), cols, out, rowe)
        return
    _pair_numpy(a, b, cols, out, rowe)


def pair_bf16(a: np.ndarray, b: np.ndarray, cols: int, out: np.ndarray, rowe: np.ndarray) -> None:
    """The same for two arrays of bfloat16 codes (uint16)."""
    if backend() == "numba":
        from paramscope.analyses.diff import kernels_numba as nb

        (nb.pair_bf16 if out.shape[0] > 1 else nb.pair_bf16_serial)(a, b, cols, out, rowe)
        return
    _pair_numpy(bf16_values(a), bf16_values(b), cols, out, rowe)


def bf16_values(codes: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 codes: the code is the top 16 bits of the float32."""
    return (codes.astype(np.uint32) << 16).view(np.float32)


def _pair_numpy(a: np.ndarray, b: np.ndarray, cols: int, out: np.ndarray, rowe: np.ndarray) -> None:
    row = out[0]
    row[:] = 0.0
    fa, fb = np.isfinite(a), np.isfinite(b)
    both = fa & fb
    row[F_NONFINITE_A] = a.size - np.count_nonzero(fa)
    row[F_NONFINITE_B] = b.size - np.count_nonzero(fb)
    differ = a != b
    if not both.all():
        differ &= ~(np.isnan(a) & np.isnan(b))
    row[F_CHANGED] = np.count_nonzero(differ)
    x, y = a.astype(np.float64), b.astype(np.float64)
    if not both.all():
        x[~both] = 0.0
        y[~both] = 0.0
    with np.errstate(over="ignore"):  # 3e38 − (−3e38) is inf in float32, as in the compiled loop
        gap = np.abs(b - a) if both.all() else np.abs(b[both] - a[both])
    row[F_MAX] = gap.max() if gap.size else 0.0
    d = y - x
    # einsum, not np.dot: BLAS would start threads of its own
    row[F_AA] = np.einsum("i,i->", x, x)
    row[F_BB] = np.einsum("i,i->", y, y)
    d *= d
    row[F_DD] = d.sum()
    if cols:
        rowe[:] = d.reshape(-1, cols).sum(axis=1)
