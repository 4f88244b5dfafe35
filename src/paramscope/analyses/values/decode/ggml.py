"""ggml block-quantized types → float32 with numpy (the path used when numba is not installed).

A block decoder takes ``blocks`` (uint8, shape (n, type_size)) and fills ``out`` (float32, shape
(n, block_size)); the caller hands it cache-sized chunks. Q8_0, Q4_0 and Q4_K have tuned decoders:
the integer codes are cast straight into the output (a uint8 nibble array of the chunk is the only
temporary), then scaled in place with float32 scales broadcast per sub-block. Casting beats
``np.take`` on a 256-entry table here, which first widens every index byte to int64. Q8_K and Q1_0,
which gguf-py cannot decode, follow ggml-quants.c. Every other type runs gguf-py's own vectorised
``dequantize_blocks`` on the chunk (bit-exact by construction); ggml_kernels.py has compiled decoders
for all of them.

Bit-exactness with gguf-py (gguf/quants.py) needs its float32 operation order, e.g. Q4_K is
``(d · sc) · q − (dmin · m)`` with each product rounded to float32 in that order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paramscope.model.dtypes import QK_K, DType

BlockDecoder = Callable[[np.ndarray, np.ndarray], None]


def fp16(field: np.ndarray) -> np.ndarray:
    """A 2-byte little-endian IEEE half field of each block, shape (n, 2) → float32 (n, 1)."""
    return field.view("<f2").astype(np.float32)


def q8_0(blocks: np.ndarray, out: np.ndarray) -> None:
    # block_q8_0 {half d; int8 qs[32]}; gguf: x.astype(f32) * d
    out[...] = blocks[:, 2:].view(np.int8)
    out *= fp16(blocks[:, :2])


def q4_0(blocks: np.ndarray, out: np.ndarray) -> None:
    # block_q4_0 {half d; uint8 qs[16]}: element j is the low nibble of qs[j], element j+16 the high
    # one, minus 8; gguf: d * (q - 8)
    halves = out.reshape(-1, 2, 16)
    qs = blocks[:, 2:]
    halves[:, 0] = (qs & 0x0F).view(np.int8) - np.int8(8)
    halves[:, 1] = (qs >> 4).view(np.int8) - np.int8(8)
    halves *= fp16(blocks[:, :2])[:, :, None]


def k_scale_min(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K block's 12 scale bytes (get_scale_min_k4).

    Bytes 0-3 hold scales 0-3 in their low 6 bits, bytes 4-7 mins 0-3; bytes 8-11 hold the low 4 bits
    of scales 4-7 (low nibble) and mins 4-7 (high nibble), whose top 2 bits sit in bytes 0-3 / 4-7.
    """
    d, m, m_d = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]
    sc = np.concatenate([d & 0x3F, (m_d & 0x0F) | ((d >> 2) & 0x30)], axis=1)
    mins = np.concatenate([m & 0x3F, (m_d >> 4) | ((m >> 2) & 0x30)], axis=1)
    return sc, mins


def q4_k(blocks: np.ndarray, out: np.ndarray) -> None:
    # block_q4_K {half d; half dmin; uint8 scales[12]; uint8 qs[128]}: 4 groups of 32 bytes, each giving
    # 32 low nibbles (sub-block 2g) then 32 high nibbles (sub-block 2g+1)
    n = blocks.shape[0]
    sc, mins = k_scale_min(blocks[:, 4:16])
    scale = (fp16(blocks[:, 0:2]) * sc.astype(np.float32)).reshape(n, 4, 2, 1)
    offset = (fp16(blocks[:, 2:4]) * mins.astype(np.float32)).reshape(n, 4, 2, 1)
    quarters = out.reshape(n, 4, 2, 32)
    qs = blocks[:, 16:].reshape(n, 4, 32)
    quarters[:, :, 0] = qs & 0x0F
    quarters[:, :, 1] = qs >> 4
    quarters *= scale
    quarters -= offset


def q8_k(blocks: np.ndarray, out: np.ndarray) -> None:
    # block_q8_K {float d; int8 qs[256]; int16 bsums[16]}; dequantize_row_q8_K: y = d * qs
    np.multiply(blocks[:, 4:4 + QK_K].view(np.int8), blocks[:, :4].view("<f4"), out=out)


def q1_0(blocks: np.ndarray, out: np.ndarray) -> None:
    # block_q1_0 {half d; uint8 qs[16]}: one sign bit per element, LSB first; dequantize_row_q1_0:
    # bit 1 → +d, bit 0 → -d
    d = fp16(blocks[:, :2])
    bits = np.unpackbits(blocks[:, 2:], axis=1, bitorder="little")
    np.copyto(out, np.where(bits == 1, d, -d))


def _gguf(dtype: DType) -> BlockDecoder:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import _type_traits  # gguf-py's table: ggml type → its quant class

    quant = _type_traits[GGMLQuantizationType[dtype.value]]
    quant.init_grid()  # IQ types build their codebook grids on first use

    def decode(blocks: np.ndarray, out: np.ndarray) -> None:
        out[...] = quant.dequantize_blocks(blocks)
    return decode


TUNED: dict[DType, BlockDecoder] = {
    DType.Q8_0: q8_0,
    DType.Q4_0: q4_0,
    DType.Q4_K: q4_k,
    DType.Q8_K: q8_k,
    DType.Q1_0: q1_0,
}

# decoded by gguf-py's own block functions on this path
GGUF_DECODED: frozenset[DType] = frozenset({
    DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q2_K, DType.Q3_K, DType.Q5_K, DType.Q6_K,
    DType.IQ2_XXS, DType.IQ2_XS, DType.IQ2_S, DType.IQ3_XXS, DType.IQ3_S, DType.IQ1_S, DType.IQ1_M,
    DType.IQ4_NL, DType.IQ4_XS, DType.TQ1_0, DType.TQ2_0, DType.MXFP4, DType.NVFP4,
})


def block_decoder(dtype: DType) -> BlockDecoder:
    if dtype in TUNED:
        return TUNED[dtype]
    if dtype in GGUF_DECODED:
        return _gguf(dtype)
    raise NotImplementedError(f"no numpy decoder for {dtype.value}")
