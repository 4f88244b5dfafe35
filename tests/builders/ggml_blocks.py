"""Random ggml quantized blocks that decode to finite numbers: random bytes everywhere except the
scale fields, which hold finite halves (floats for Q8_K). What tests/test_decode.py checks the
decoders on, and what bench/bench_decode.py and bench/ggml_reference.py feed them.
"""

from __future__ import annotations

import numpy as np

from paramscope.model.dtypes import DType

# byte offsets of each block's IEEE half scale fields (ggml-common.h), which random bytes must not
# fill with inf/NaN
HALF_FIELDS: dict[DType, tuple[int, ...]] = {
    DType.Q4_0: (0,), DType.Q4_1: (0, 2), DType.Q5_0: (0,), DType.Q5_1: (0, 2), DType.Q8_0: (0,),
    DType.Q2_K: (80, 82), DType.Q3_K: (108,), DType.Q4_K: (0, 2), DType.Q5_K: (0, 2), DType.Q6_K: (208,),
    DType.IQ2_XXS: (0,), DType.IQ2_XS: (0,), DType.IQ2_S: (0,), DType.IQ3_XXS: (0,), DType.IQ3_S: (0,),
    DType.IQ1_S: (0,), DType.IQ4_NL: (0,), DType.IQ4_XS: (0,), DType.TQ1_0: (52,), DType.TQ2_0: (64,),
    DType.Q1_0: (0,), DType.MXFP4: (), DType.NVFP4: (), DType.IQ1_M: (), DType.Q8_K: (),
}


def finite_halves(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random finite halves as raw uint16: every sign, subnormals and zeros included."""
    bits = rng.integers(0, 1 << 16, n, dtype=np.uint16)
    return np.where((bits & 0x7C00) == 0x7C00, bits ^ 0x4000, bits).astype(np.uint16)


def random_blocks(dtype: DType, n: int, seed: int = 0) -> np.ndarray:
    """n blocks of random bytes whose scale fields hold finite values, as the 1-D raw bytes."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (n, dtype.type_size), dtype=np.uint8)
    for offset in HALF_FIELDS[dtype]:
        blocks[:, offset:offset + 2] = finite_halves(rng, n).view(np.uint8).reshape(n, 2)
    if dtype is DType.IQ1_M:
        # the half d sits in the top nibbles of the four uint16 scales (block_iq1_m)
        d = finite_halves(rng, n).astype(np.uint16)
        scales = blocks[:, 48:56].copy().view("<u2")
        for k in range(4):
            scales[:, k] = (scales[:, k] & 0x0FFF) | (((d >> (4 * k)) & 0xF) << 12)
        blocks[:, 48:56] = scales.view(np.uint8)
    if dtype is DType.Q8_K:
        bits = rng.integers(0, 1 << 32, n, dtype=np.uint32)
        bits = np.where((bits & 0x7F800000) == 0x7F800000, bits ^ 0x40000000, bits).astype(np.uint32)
        blocks[:, 0:4] = bits.view(np.uint8).reshape(n, 4)
    return blocks.reshape(-1)
