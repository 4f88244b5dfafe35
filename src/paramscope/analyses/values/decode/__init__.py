"""Stored bytes → float32 values, for every type paramscope can decode (docs/decode.md).

    dequantize(raw, dtype, n_elements, out=None) -> float32 array of n_elements
    decodable(dtype) -> bool

``raw`` is uint8, 1-D, and holds whole blocks (ggml types) or whole elements (plain types), so a tensor
can be decoded in pieces: pass a run of rows at a time. ggml types match ``gguf.quants.dequantize``
bit for bit. Decoders load on first use, so importing this package costs nothing beyond numpy; with
numba installed ggml types run compiled, multi-threaded kernels (ggml_kernels.py), otherwise numpy
(ggml.py). ``PARAMSCOPE_DECODE_BACKEND=numpy`` forces numpy.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache

import numpy as np

from paramscope.model.dtypes import DType

__all__ = ["BACKENDS", "decodable", "default_backend", "dequantize"]

BACKENDS = ("numba", "numpy")
CHUNK_BYTES = 1 << 18  # input bytes per numpy step: its output (≤ 2 MB for Q4_K) stays in cache
Decoder = Callable[[np.ndarray, np.ndarray], None]

# Not decodable: C64 (complex: no single real value per element) and Q8_1 (an activation format
# that ggml only quantizes to, with no dequantize_row_q8_1; gguf-py's 40-byte size also disagrees with
# ggml-common.h's 36-byte block_q8_1).
UNDECODABLE: frozenset[DType] = frozenset({DType.C64, DType.Q8_1})


def decodable(dtype: DType) -> bool:
    return dtype not in UNDECODABLE


@cache
def default_backend() -> str:
    forced = os.environ.get("PARAMSCOPE_DECODE_BACKEND", "")
    if forced in BACKENDS:
        return forced
    return "numba" if importlib.util.find_spec("numba") is not None else "numpy"


def dequantize(
    raw: np.ndarray, dtype: DType, n_elements: int, out: np.ndarray | None = None, *,
    backend: str | None = None,
) -> np.ndarray:
    """Decode ``n_elements`` values of ``dtype`` from ``raw`` into ``out`` (allocated if None).

    Raises ValueError when the sizes disagree (n_elements not a whole number of blocks, raw not
    exactly their bytes, out not float32 of n_elements) and NotImplementedError for a type
    ``decodable`` rejects.
    """
    if not decodable(dtype):
        raise NotImplementedError(f"decoding {dtype.value} is not supported")
    raw = _check_raw(raw, dtype, n_elements)
    out = _check_out(out, n_elements)
    if n_elements == 0:
        return out
    decode, chunk_blocks = _decoder(dtype, backend or default_backend())
    info = dtype.info
    blocks = raw.reshape(-1, info.type_size)
    values = out.reshape(-1, info.block_size)
    with np.errstate(all="ignore"):  # inf from huge scales is data to report, not a warning
        for start in range(0, blocks.shape[0], chunk_blocks):
            decode(blocks[start:start + chunk_blocks], values[start:start + chunk_blocks])
    return out


def _check_raw(raw: np.ndarray, dtype: DType, n_elements: int) -> np.ndarray:
    if not dtype.fits_blocks(n_elements):
        raise ValueError(
            f"{n_elements} elements is not a whole number of {dtype.value} blocks of {dtype.block_size}")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"raw must be a 1-D uint8 array, found {raw.ndim}-D {raw.dtype}")
    expected = dtype.nbytes(n_elements)
    if raw.size != expected:
        raise ValueError(f"{n_elements} {dtype.value} elements take {expected} bytes, found {raw.size}")
    return np.ascontiguousarray(raw)


def _check_out(out: np.ndarray | None, n_elements: int) -> np.ndarray:
    if out is None:
        return np.empty(n_elements, dtype=np.float32)
    if out.dtype != np.float32 or out.shape != (n_elements,) or not out.flags.c_contiguous:
        raise ValueError(f"out must be contiguous float32 of shape ({n_elements},), found {out.dtype} "
                         f"{out.shape}")
    return out


@cache
def _decoder(dtype: DType, backend: str) -> tuple[Decoder, int]:
    """(decoder of (blocks, values) 2-D views, blocks per call) for a type on a backend."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown decode backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    chunk_blocks = max(1, CHUNK_BYTES // dtype.type_size)
    if not dtype.info.quantized:
        from paramscope.analyses.values.decode.floats import DECODERS

        plain = DECODERS[dtype]
        return (lambda blocks, values: plain(blocks.reshape(-1), values.reshape(-1))), chunk_blocks
    if backend == "numba":
        from paramscope.analyses.values.decode import ggml_kernels, ggml_kernels_iq

        kernel = ggml_kernels.kernel_for(dtype) or ggml_kernels_iq.kernel_for(dtype)
        if kernel is not None:
            return kernel, 1 << 62  # one call: the kernel spreads the blocks over the cores
    from paramscope.analyses.values.decode.ggml import block_decoder

    return block_decoder(dtype), chunk_blocks
