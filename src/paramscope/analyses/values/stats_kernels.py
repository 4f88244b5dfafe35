"""The per-chunk loops of the statistics engine: compiled with numba when it is installed, numpy otherwise.

Two kernels, both one pass over a chunk, each filling partial results that the engine merges:

- ``count_codes``: for 8- and 16-bit stored types. There are at most 65,536 distinct values, so the
  chunk is reduced to a count per stored code (the exact distribution: every statistic follows from
  it) without decoding a single element. Row and column abs-max are kept as magnitude codes for
  sign-magnitude floats (BF16, F16, FP8: code without its sign bit orders like |value|), else looked
  up in a |value| table per code; NaN counts as an infinite magnitude there.
- ``float_stats``: for everything else, on decoded float32 values: NaN/±Inf/zero counts, min, max,
  float64 sums of (x − k) and (x − k)² for a shift ``k`` near the mean (so the variance loses no digits
  to a large common offset), Σ|x|, and a count per *grid key* (below). Sums run over blocks of 4,096
  values, then over blocks: rounding error grows with 4,096 + blocks, not with the element count.

The grid: every finite float32 is floored onto the bfloat16 numbers (its top 16 bits, rounding towards
−∞), and the result is numbered in value order by a *key* (0x8000 + bits for x ≥ 0, 0x7FFF − |bits|
rounded up for x < 0; ±0 share key 0x8000). 65,536 fixed, exactly mergeable bins, 2⁻⁷ relative wide.

numba kernels split a chunk into one part per thread (``prange``) with a private partial each, so no
two threads write the same counter; the engine calls them from one Python thread. The numpy fallbacks
do the same arithmetic with whole-array operations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

import numpy as np

GRID = 1 << 16
ZERO_KEY = 0x8000
# float_stats writes these fields into its float64 output row, one row per part
(F_NAN, F_POSINF, F_NEGINF, F_ZEROS, F_N, F_MIN, F_MAX, F_S1, F_S2, F_SABS) = range(10)
N_FIELDS = 10
# Inputs smaller than this run on the calling thread alone (same rule and figure as the decoders'
# PARALLEL_MIN_BYTES): when another process holds the other core, a parallel region waits for it, a
# scheduler slice (measured ~8 ms per call, on a 640-value norm as on a 4 Mi-value chunk, against 4 ms
# for that chunk on one thread); the parts (float_parts) are the same either way, so are the results.
PARALLEL_MIN_BYTES = 8 << 20


@cache
def backend() -> str:
    """"numba" when it can be imported (and PARAMSCOPE_STATS_BACKEND does not say "numpy")."""
    if os.environ.get("PARAMSCOPE_STATS_BACKEND") == "numpy":
        return "numpy"
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numpy"
    return "numba"


def parts() -> int:
    """How many partials ``count_codes`` fills: one per numba thread, one for numpy (its counts are
    integers: how the work is split cannot change them)."""
    if backend() == "numba":
        import numba

        return numba.get_num_threads()
    return 1


# float_stats' float64 sums depend on how the elements are grouped into parts, so the grouping must not
# depend on the machine: a fixed number of parts (which the threads share out), one below
# PARALLEL_MIN_BYTES. The same file then gives the same figures, to the last bit, on 1 thread or 64, in
# a test worker held to one thread or a CLI process with two. Four keeps a 4-core machine busy; the
# scan is bound by memory beyond that.
FLOAT_PARTS = 4


def float_parts(nbytes: int) -> int:
    """How many partials ``float_stats`` fills for a tensor of ``nbytes`` float32 bytes."""
    return FLOAT_PARTS if backend() == "numba" and nbytes >= PARALLEL_MIN_BYTES else 1


def grid_keys(x: np.ndarray) -> np.ndarray:
    """Grid key of each finite float32 value (int64), numpy version of the kernels' ``_key``."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.int64)
    mag = u & 0x7FFFFFFF
    keys = np.where(u >> 31, 0x7FFF - ((mag + 0xFFFF) >> 16), 0x8000 + (u >> 16))
    keys[mag == 0] = ZERO_KEY
    return keys


def grid_values() -> np.ndarray:
    """float64 value of each grid key: the lower edge of its bin."""
    keys = np.arange(GRID, dtype=np.int64)
    bits = np.where(keys >= 0x8000, keys - 0x8000, 0x8000 | (0x7FFF - keys)).astype(np.uint32) << 16
    with np.errstate(invalid="ignore"):  # the NaN keys past ±Inf, never used
        return bits.view(np.float32).astype(np.float64)


def count_codes(codes: np.ndarray, cols: int, counts: np.ndarray, rowmax: np.ndarray, colmax: np.ndarray,
                abs_table: np.ndarray | None) -> None:
    """Add each code's count to ``counts`` (parts × codes); with ``cols`` > 0 the chunk is whole rows:
    fill ``rowmax`` (one per row) and raise ``colmax`` (parts × cols). With an ``abs_table`` (float32
    |value| per code) the maxima are of |value|; without, the type is a sign-magnitude float
    (``SIGN_MASKS``) and the maxima are magnitude codes, of the codes' own dtype."""
    if backend() == "numba":
        from paramscope.analyses.values import stats_numba as nb

        if abs_table is not None:
            _on_threads(codes.nbytes, nb.count_codes, codes, cols, abs_table, counts, rowmax, colmax)
        elif codes.dtype == np.uint8:
            _on_threads(codes.nbytes, nb.count_sign8, codes, cols, counts, rowmax, colmax)
        else:
            _on_threads(codes.nbytes, nb.count_sign16, codes, cols, counts, rowmax, colmax)
        return
    counts[0] += np.bincount(codes, minlength=counts.shape[1])
    if cols:
        mask = codes.dtype.type(0x7F if codes.dtype == np.uint8 else 0x7FFF)
        a = (abs_table[codes] if abs_table is not None else codes & mask).reshape(-1, cols)
        rowmax[:] = a.max(axis=1)
        np.maximum(colmax[0], a.max(axis=0), out=colmax[0])


def float_stats(x: np.ndarray, cols: int, k: float, grid: np.ndarray, out: np.ndarray,
                rowmax: np.ndarray, colmax: np.ndarray) -> None:
    """Fill ``out`` (parts × N_FIELDS) and add to ``grid`` (parts × GRID) for float32 ``x``; row and
    column abs-max as in ``count_codes`` (NaN and ±Inf count as an infinite magnitude there)."""
    if backend() == "numba":
        from paramscope.analyses.values.stats_numba import float_stats as kernel

        _on_threads(x.nbytes, kernel, x, cols, k, grid, out, rowmax, colmax)
        return
    _float_stats_numpy(x, cols, k, grid, out, rowmax, colmax)


def _on_threads(nbytes: int, kernel: Callable[..., None], *args: object) -> None:
    """Call a numba kernel on all its threads, or on this one alone below PARALLEL_MIN_BYTES."""
    if nbytes >= PARALLEL_MIN_BYTES:
        kernel(*args)
        return
    import numba

    threads = numba.get_num_threads()  # a per-thread setting in numba
    numba.set_num_threads(1)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(threads)


def _float_stats_numpy(x: np.ndarray, cols: int, k: float, grid: np.ndarray, out: np.ndarray,
                       rowmax: np.ndarray, colmax: np.ndarray) -> None:
    row = out[0]
    row[:] = 0.0
    nan = np.isnan(x)
    finite = np.isfinite(x)
    row[F_NAN] = np.count_nonzero(nan)
    row[F_POSINF] = np.count_nonzero(x == np.inf)
    row[F_NEGINF] = np.count_nonzero(x == -np.inf)
    xf = x if finite.all() else x[finite]
    row[F_N] = xf.size
    if xf.size:
        d = xf.astype(np.float64)
        d -= k
        row[F_MIN], row[F_MAX] = xf.min(), xf.max()
        row[F_S1] = d.sum()
        row[F_S2] = np.einsum("i,i->", d, d)  # not BLAS: its threads would fight numba's
        row[F_SABS] = np.abs(xf).sum(dtype=np.float64)
        row[F_ZEROS] = xf.size - np.count_nonzero(xf)
        grid[0] += np.bincount(grid_keys(xf), minlength=GRID)
    else:
        row[F_MIN], row[F_MAX] = np.inf, -np.inf
    if cols:
        a = np.where(nan, np.float32(np.inf), np.abs(x)).reshape(-1, cols)
        rowmax[:] = a.max(axis=1)
        np.maximum(colmax[0], a.max(axis=0), out=colmax[0])
