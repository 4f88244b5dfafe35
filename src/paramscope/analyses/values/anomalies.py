"""What looks wrong in the numbers, each finding naming its tensor (docs/stats.md lists the rules).

Rules, checked on the statistics the scan already gathered (only identical-tensor candidates are read
again, to hash them):
- ``nan_inf`` (error): any NaN or ±Inf value.
- ``all_zero`` (warning): every value is 0.
- ``constant`` (warning): every value is the same non-zero number; for a norm scale ``suspicious_scale``
  instead — a LayerNorm/RMSNorm weight still at its initial value (1.0, or 0.0 for Gemma-style 1 + w).
- ``dead_rows`` / ``dead_columns`` (warning; info for embedding and output rows, where unused vocabulary
  entries are normal): whole rows / columns (input channels) of a matrix that are all zero.
- ``outlier_channels`` (info): input channels whose abs-max exceeds ``OUTLIER_SIGMAS`` × the tensor's std.
  A Gaussian matrix of a few thousand rows peaks near 4–5 σ per column, so 20 σ is far outside chance;
  trained LLMs have a few such channels (the "massive activation" dimensions), which matter for
  quantization.
- ``identical`` (info): tensors with the same bytes (equal type, shape and statistics, then the same
  BLAKE2b hash), e.g. a tied head stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from paramscope.analyses.values.stats_engine import ByteSource, Channels, TensorScan
from paramscope.errors import and_more
from paramscope.records import record

OUTLIER_SIGMAS = 20.0
HASH_CHUNK_BYTES = 16 * 2**20
VOCAB_COMPONENTS = ("embedding", "output")
SEVERITIES = ("error", "warning", "info")


@record
class Anomaly:
    kind: str
    severity: str  # "error", "warning" or "info"
    tensors: tuple[str, ...]
    detail: str


def find_anomalies(tensors: Sequence, scans: Sequence[TensorScan], source: ByteSource) -> list[Anomaly]:
    """``tensors`` are stats.TensorStats, ``scans`` the engine's scans of the same tensors, in order."""
    found: list[Anomaly] = []
    for ts, scan in zip(tensors, scans, strict=True):
        found.extend(_values(ts))
        if scan.channels is not None and ts.summary.finite and ts.summary.zeros < ts.summary.count:
            found.extend(_channels(ts, scan.channels))
    found.extend(_identical(tensors, scans, source))
    return sorted(found, key=lambda a: SEVERITIES.index(a.severity))


def _values(ts) -> list[Anomaly]:
    s = ts.summary
    out = []
    if s.nan or s.inf:
        out.append(Anomaly("nan_inf", "error", (ts.name,),
                           f"{s.nan:,} NaN, {s.posinf:,} +Inf, {s.neginf:,} −Inf of {s.count:,} values"))
    if s.count and s.zeros == s.count:
        out.append(Anomaly("all_zero", "warning", (ts.name,), f"all {s.count:,} values are 0"))
    elif s.finite == s.count and s.count > 1 and s.min == s.max:
        if ts.role == "norm":
            out.append(Anomaly("suspicious_scale", "warning", (ts.name,),
                               f"norm scale is {s.min:g} everywhere: still at its initial value?"))
        else:
            out.append(Anomaly("constant", "warning", (ts.name,), f"every value is {s.min:g}"))
    return out


def _channels(ts, ch: Channels) -> list[Anomaly]:
    out = []
    vocab = ts.component.split("/")[0] in VOCAB_COMPONENTS
    if ch.n_dead_rows:
        out.append(Anomaly("dead_rows", "info" if vocab else "warning", (ts.name,),
                           f"{ch.n_dead_rows:,} of {ch.rows:,} rows are all zero "
                           f"(rows {_listed(ch.dead_rows, ch.n_dead_rows)})"))
    if ch.colmax is None:
        return out
    dead = np.flatnonzero(ch.colmax == 0)
    if dead.size:
        out.append(Anomaly("dead_columns", "warning", (ts.name,),
                           f"{dead.size:,} of {ch.cols:,} input channels are all zero "
                           f"(channels {_listed(dead[:5].tolist(), dead.size)})"))
    std = ts.summary.std
    if std > 0:
        ratio = ch.colmax / std
        outliers = np.flatnonzero(ratio > OUTLIER_SIGMAS)
        if outliers.size:
            worst = outliers[np.argsort(-ratio[outliers])][:5]
            listed = ", ".join(f"{i} ({ratio[i]:.0f}σ)" for i in worst)
            more = f" and {outliers.size - worst.size} more" if outliers.size > worst.size else ""
            out.append(Anomaly("outlier_channels", "info", (ts.name,),
                               f"{outliers.size:,} of {ch.cols:,} input channels reach |x| > "
                               f"{OUTLIER_SIGMAS:g}σ (σ = {std:.3g}): {listed}{more}"))
    return out


def _listed(first: list[int], total: int) -> str:
    text = ", ".join(str(i) for i in first)
    return text + (f" … {total - len(first)} more" if total > len(first) else "")


def _identical(tensors: Sequence, scans: Sequence[TensorScan], source: ByteSource) -> list[Anomaly]:
    """Equal bytes, found cheaply: only tensors whose statistics already coincide are hashed."""
    groups: dict[tuple, list[int]] = {}
    for i, ts in enumerate(tensors):
        s = ts.summary
        if s.count < 2:
            continue
        key = (ts.dtype, ts.shape, ts.nbytes, s.count, s.zeros, s.nan, s.min, s.max, s.mean, s.std)
        groups.setdefault(key, []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        by_hash: dict[bytes, list[str]] = {}
        for i in members:
            by_hash.setdefault(_digest(scans[i], source), []).append(tensors[i].name)
        for names in by_hash.values():
            if len(names) > 1:
                out.append(Anomaly("identical", "info", tuple(names),
                                   f"{len(names)} tensors hold the same bytes: {and_more(names, 4)}"))
    return out


def _digest(scan: TensorScan, source: ByteSource) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for _, chunk in source.chunks(scan.tensor, HASH_CHUNK_BYTES, scan.tensor.dtype.type_size):
        h.update(chunk.data)  # its memoryview: numpy types ndarray without __buffer__ before Python 3.12
    return h.digest()
