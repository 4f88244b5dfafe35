"""The spectrum of a change ΔW = B − A: its singular values and how many of them hold the energy.

A merged LoRA of rank r adds ΔW = (α/r)·B·A, of rank ≤ r; a full fine-tune's change has no such limit.
So the *effective rank* of ΔW tells the two apart: the fewest singular values whose squares hold 90 %
(99 %) of the change's energy ‖ΔW‖²_F = Σσᵢ².

ΔW is streamed row by row and never held whole (an embedding's change alone can take gigabytes):

1. Rows are kept in a bounded sample. A matrix of at most ``SAMPLE_ELEMENTS`` values (or
   ``MIN_ROWS`` rows) is kept whole: the spectrum is then exact. Otherwise ``c`` rows are drawn with
   replacement, each with probability pᵢ = ‖ΔWᵢ‖² / ‖ΔW‖²_F and scaled by 1/√(c·pᵢ)
   ("length-squared" sampling, Drineas, Kannan & Mahoney, "Fast Monte Carlo algorithms for matrices
   II", SIAM J. Comput. 36(1), 2006): then E[CᵀC] = ΔWᵀΔW, and every row of C lies in ΔW's row
   space, so a change of rank r ≤ c shows rank exactly r. Each of the c draws is a weighted reservoir
   of one (a chunk of rows with weight w replaces the draw with probability w / the weight seen so
   far, and then picks its row ∝ ‖ΔWᵢ‖²), so one pass suffices.
2. The sample's leading singular values come from a randomized SVD (Halko, Martinsson & Tropp,
   "Finding structure with randomness", SIAM Review 53(2), 2011: Gaussian test matrix with
   ``OVERSAMPLE`` extra columns, ``POWER`` steps of subspace iteration re-orthonormalised by QR,
   Algorithm 4.4, then the SVD of the small QᵀC, Algorithm 5.1), or from a plain SVD when the sample
   is that small anyway.
3. Energy shares are over the sample's own ‖C‖²_F. A rank above ``RANK`` (the number of singular
   values computed) is reported as "more than RANK": the change is not low-rank.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from paramscope.records import record

SAMPLE_ELEMENTS = 1 << 19  # values kept per matrix: 2 MB of float32 (128 rows of 4096)
MIN_ROWS = 64  # rows kept at least, whatever the row length
RANK = 32  # singular values computed
OVERSAMPLE = 8  # extra columns of the Gaussian test matrix (Halko et al. §4.2: 5 or 10 suffice)
POWER = 2  # subspace iterations (Halko et al. §4.5)
SHARES = (0.90, 0.99)
SEED = 20110101


@record
class Spectrum:
    singular_values: tuple[float, ...]  # leading σ of the (sampled, rescaled) change, at most RANK
    energy: tuple[float, ...]  # cumulative share of ‖C‖²_F held by the first 1, 2, … of them
    rank90: int | None  # fewest σ holding 90 % of the energy; None: more than computed
    rank99: int | None
    rows: int  # rows of the change
    cols: int
    sampled_rows: int  # rows in the sample (== rows when exact)
    exact: bool  # the whole change was kept (no sampling)
    computed: int  # how many σ were computed

    @property
    def low_rank(self) -> bool:
        """Rank at 99 % found and at most a quarter of the smaller side."""
        return self.rank99 is not None and self.rank99 <= max(1, min(self.rows, self.cols) // 4)

    def rank_label(self, which: int = 99) -> str:
        r = self.rank99 if which == 99 else self.rank90
        return str(r) if r is not None else f">{self.computed}"


class RowSample:
    """The rows of one matrix's change kept while it streams past (see the module docstring)."""

    def __init__(self, rows: int, cols: int, *, budget: int | None = None, seed: int = SEED):
        self.rows, self.cols = rows, cols
        keep = max(MIN_ROWS, (SAMPLE_ELEMENTS if budget is None else budget) // max(cols, 1))
        self.exact = rows <= keep
        self.size = rows if self.exact else keep
        self.data = np.zeros((self.size, cols), np.float32)
        self.weight = np.zeros(self.size)  # ‖row‖² of the row each draw holds (sampled mode)
        self.total = 0.0
        self._rng = np.random.default_rng(seed)

    def add(self, first_row: int, energies: np.ndarray, rows_of: Callable[[np.ndarray], np.ndarray]) -> None:
        """Offer rows first_row … with their ‖ΔWᵢ‖² (``energies``); ``rows_of(local indices)`` gives
        those rows of ΔW as float32 (rows, cols), called only for rows that are kept."""
        n = energies.size
        if self.exact:
            self.data[first_row:first_row + n] = rows_of(np.arange(n))
            self.total += float(energies.sum())
            return
        w = float(energies.sum())
        if w <= 0.0 or not math.isfinite(w):
            return
        self.total += w
        replace = np.flatnonzero(self._rng.random(self.size) < w / self.total)
        if not replace.size:
            return
        cum = np.cumsum(energies)
        picks = np.searchsorted(cum, self._rng.random(replace.size) * cum[-1], side="right")
        picks = np.minimum(picks, n - 1)
        unique, inverse = np.unique(picks, return_inverse=True)
        self.data[replace] = rows_of(unique)[inverse]
        self.weight[replace] = energies[picks]

    def matrix(self) -> np.ndarray:
        """The sample C: ΔW itself when exact, else the drawn rows scaled by 1/√(c·pᵢ)."""
        if self.exact:
            return self.data
        if self.total <= 0.0:
            return np.zeros((0, self.cols), np.float32)
        p = self.weight / self.total
        scale = np.where(p > 0, 1.0 / np.sqrt(self.size * np.where(p > 0, p, 1.0)), 0.0)
        return self.data * scale[:, None].astype(np.float32)


def spectrum(sample: RowSample, rank: int = RANK) -> Spectrum:
    c = sample.matrix().astype(np.float64)
    sv = randomized_svd(c, rank) if c.size else np.zeros(0)
    total = float(np.einsum("ij,ij->", c, c)) if c.size else 0.0
    energy = np.cumsum(sv ** 2) / total if total > 0 else np.zeros(0)
    energy = np.minimum(energy, 1.0)
    ranks = [_rank(energy, s) for s in SHARES]
    return Spectrum(tuple(float(s) for s in sv), tuple(float(e) for e in energy), ranks[0], ranks[1],
                    sample.rows, sample.cols, sample.size, sample.exact, len(sv))


def _rank(energy: np.ndarray, share: float) -> int | None:
    # a hair below the share: float sums of an exactly rank-r matrix reach 1 − 1e-12, not 1
    hit = np.flatnonzero(energy >= share - 1e-9)
    return int(hit[0]) + 1 if hit.size else None


def randomized_svd(m: np.ndarray, k: int = RANK, *, oversample: int = OVERSAMPLE, power: int = POWER,
                   seed: int = SEED) -> np.ndarray:
    """The ``k`` largest singular values of ``m`` (fewer when it is smaller), Halko et al. Alg. 4.4 + 5.1."""
    small = min(m.shape)
    k = min(k, small)
    ell = min(k + oversample, small)
    if small <= 2 * ell:
        return np.linalg.svd(m, compute_uv=False)[:k]
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(m @ rng.standard_normal((m.shape[1], ell)))
    for _ in range(power):
        z, _ = np.linalg.qr(m.T @ q)
        q, _ = np.linalg.qr(m @ z)
    return np.linalg.svd(q.T @ m, compute_uv=False)[:k]
