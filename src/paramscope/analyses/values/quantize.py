"""Quantizers for the round trips of ``quantize-error``: each takes float32 rows and returns the values a
runtime would compute back from the quantized form (fake quantization), same shape.

- ggml types that ``gguf.quants.quantize`` implements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0,
  MXFP4) go through it, and the bytes are decoded by ``paramscope.analyses.values.decode``: a true round trip.
- Q4_K and Q6_K, which gguf-py cannot quantize, are numpy ports of llama.cpp's reference quantizers
  (ggml-quants.c ``quantize_row_q4_K_ref`` / ``quantize_row_q6_K_ref``, no importance matrix), packed
  into real blocks and decoded the same way. float32 sums run in numpy's order, not C's left-to-right
  loop, so a near-tie between two candidate scales can resolve differently in a rare block.
- Plain schemes (knowledge/quant_schemes.py labels): ``I8/row`` symmetric int8 with a float32 scale per
  output row (absmax / 127); ``I4/g128`` asymmetric 4-bit per 128 inputs with an fp16 scale and a 4-bit
  zero point (AWQ/GPTQ); ``F8_E4M3/b128`` and ``F8_E4M3/t`` fp8 e4m3 (OCP "FN": max 448, round to
  nearest even, saturating) with a float32 scale absmax / 448 per 128 × 128 block or per matrix.
- Casts: F32 (nothing), F16 (numpy, round to nearest even), BF16 (round to nearest even on the bits).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paramscope.model.dtypes import QK_K, DType

Quantizer = Callable[[np.ndarray], np.ndarray]  # float32 (rows, cols) → float32 (rows, cols)
GROUP_MAX_EPS = 1e-15  # ggml-quants.c: a group whose max is below this is all zero
GGUF_QUANTIZABLE = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4")
INT4_GROUP = 128
FP8_BLOCK = 128
E4M3_MAX = 448.0


def quantizer(type_name: str) -> Quantizer | None:
    """The round trip for a re-priced tensor's type (a DType value or a plain scheme's label)."""
    if type_name in GGUF_QUANTIZABLE:
        return lambda x: _gguf_round_trip(x, DType(type_name))
    return _OWN.get(type_name)


def round_trip_blocks(x: np.ndarray, dtype: DType, quantize: Callable[[np.ndarray], np.ndarray]
                      ) -> np.ndarray:
    from paramscope.analyses.values.decode import dequantize

    packed = np.ascontiguousarray(quantize(x), np.uint8).reshape(-1)
    return dequantize(packed, dtype, x.size).reshape(x.shape)


def _gguf_round_trip(x: np.ndarray, dtype: DType) -> np.ndarray:
    from gguf import GGMLQuantizationType
    from gguf.quants import quantize

    return round_trip_blocks(x, dtype, lambda v: quantize(v, GGMLQuantizationType[dtype.value]))


# --- rounding helpers as ggml writes them -----------------------------------------------------------
def nearest_int(v: np.ndarray) -> np.ndarray:
    """ggml's nearest_int: float32 round half to even (the 1.5 × 2²³ trick), as int32."""
    return np.rint(v.astype(np.float32)).astype(np.int32)


def fp16_round(v: np.ndarray) -> np.ndarray:
    """GGML_FP32_TO_FP16 then back: float32 values a half can hold (round to nearest even)."""
    return v.astype(np.float32).astype(np.float16).astype(np.float32)


# --- Q4_K ---------------------------------------------------------------------------------------------
def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    """quantize_row_q4_K_ref: (n × 256) float32 → (n, 144) block_q4_K bytes."""
    sub = x.reshape(-1, QK_K // 32, 32).astype(np.float32)
    av_x = np.sqrt((sub * sub).sum(axis=-1, keepdims=True) / 32)
    scales, mins = make_qkx2_quants(sub, av_x + np.abs(sub), nmax=15, rmin=-1.0, rdelta=0.1, nstep=20)
    max_scale, max_min = scales.max(axis=1, keepdims=True), mins.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv_scale = np.where(max_scale > 0, np.float32(63) / max_scale, np.float32(0))
        inv_min = np.where(max_min > 0, np.float32(63) / max_min, np.float32(0))
    ls = np.minimum(63, nearest_int(inv_scale * scales)).astype(np.uint8)
    lm = np.minimum(63, nearest_int(inv_min * mins)).astype(np.uint8)
    d, dmin = fp16_round(max_scale / 63), fp16_round(max_min / 63)
    step, offset = d * ls, dmin * lm
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(nearest_int((sub + offset[..., None]) / step[..., None]), 0, 15)
    # a sub-block whose scale rounds to 0 decodes to −offset whatever its quants: any value will do
    q = np.where(step[..., None] == 0, 0, q).astype(np.uint8)
    return _pack_q4_k(d, dmin, ls, lm, q)


def make_qkx2_quants(x: np.ndarray, w: np.ndarray, *, nmax: int, rmin: float, rdelta: float, nstep: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Best (scale, −min) per row of ``x`` for x ≈ scale·L + min, L in 0..nmax, under weights ``w``:
    the starting grid, then ``nstep`` + 1 stretched grids each refit by weighted least squares."""
    f32 = np.float32
    lo = np.minimum(x.min(axis=-1), 0).astype(f32)
    hi = x.max(axis=-1).astype(f32)
    span = np.where(hi > lo, hi - lo, f32(1))
    sum_w, sum_x = w.sum(axis=-1), (w * x).sum(axis=-1)

    def levels(iscale: np.ndarray) -> np.ndarray:
        return np.clip(nearest_int(iscale[..., None] * (x - lo[..., None])), 0, nmax).astype(f32)

    def error(scale: np.ndarray, offset: np.ndarray, lv: np.ndarray) -> np.ndarray:
        diff = scale[..., None] * lv + offset[..., None] - x
        return (w * diff * diff).sum(axis=-1)

    iscale = f32(nmax) / span
    scale, best_min = (f32(1) / iscale).astype(f32), lo.copy()
    best = error(scale, best_min, levels(iscale))
    for step in range(nstep + 1):
        lv = levels((f32(rmin) + f32(rdelta) * f32(step) + f32(nmax)) / span)
        sum_l, sum_l2, sum_xl = (w * lv).sum(-1), (w * lv * lv).sum(-1), (w * lv * x).sum(-1)
        det = sum_w * sum_l2 - sum_l * sum_l
        with np.errstate(divide="ignore", invalid="ignore"):
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
            clamp = this_min > 0
            this_scale = np.where(clamp, sum_xl / sum_l2, this_scale).astype(f32)
            this_min = np.where(clamp, f32(0), this_min).astype(f32)
            cur = error(this_scale, this_min, lv)
        better = (det > 0) & (cur < best)
        best = np.where(better, cur, best)
        scale = np.where(better, this_scale, scale)
        best_min = np.where(better, this_min, best_min)
    flat = hi <= lo  # max == min: every level 0
    return np.where(flat, f32(0), scale).astype(f32), np.where(flat, -lo, -best_min).astype(f32)


def _pack_q4_k(d, dmin, ls, lm, q) -> np.ndarray:
    n = q.shape[0]
    out = np.zeros((n, 144), np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8)
    out[:, 2:4] = dmin.astype(np.float16).view(np.uint8)
    sc = out[:, 4:16]
    # 6-bit scales and mins, 8 of each in 12 bytes (ggml-common.h get_scale_min_k4 reads them back)
    sc[:, 0:4] = ls[:, 0:4]
    sc[:, 4:8] = lm[:, 0:4]
    sc[:, 8:12] = (ls[:, 4:8] & 0xF) | ((lm[:, 4:8] & 0xF) << 4)
    sc[:, 0:4] |= (ls[:, 4:8] >> 4) << 6
    sc[:, 4:8] |= (lm[:, 4:8] >> 4) << 6
    # 4 chunks of 64 values: low nibbles hold values 0..31 of the chunk, high nibbles 32..63
    pairs = q.reshape(n, 4, 2, 32)
    out[:, 16:] = (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).reshape(n, 128)
    return out


# --- Q6_K ---------------------------------------------------------------------------------------------
def quantize_q6_k(x: np.ndarray) -> np.ndarray:
    """quantize_row_q6_K_ref: (n × 256) float32 → (n, 210) block_q6_K bytes."""
    sub = x.reshape(-1, QK_K // 16, 16).astype(np.float32)
    scales = make_qx_quants(sub, nmax=32)
    pick = np.abs(scales).argmax(axis=1)
    max_scale = np.take_along_axis(scales, pick[:, None], axis=1)
    empty = np.abs(max_scale) < GROUP_MAX_EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = np.where(empty, np.float32(0), np.float32(-128) / max_scale)
        d = fp16_round(np.where(empty, np.float32(0), np.float32(1) / iscale))
    sc = np.minimum(127, nearest_int(iscale * scales)).astype(np.int8)
    step = d * sc
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(nearest_int(sub / step[..., None]), -32, 31)
    q = np.where(step[..., None] == 0, 0, q) + 32
    return _pack_q6_k(d, sc, q.astype(np.uint8))


def make_qx_quants(x: np.ndarray, *, nmax: int) -> np.ndarray:
    """make_qx_quants with rmse_type 1 (weights x²): the scale per row of ``x`` for x ≈ scale·L,
    L in −nmax..nmax−1, trying the grid through the extreme value and 18 stretched ones."""
    f32 = np.float32
    pick = np.abs(x).argmax(axis=-1)
    top = np.take_along_axis(x, pick[..., None], axis=-1)[..., 0]
    empty = np.abs(top) < GROUP_MAX_EPS
    safe = np.where(empty, f32(1), top)
    w = x * x

    def fit(iscale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lv = np.clip(nearest_int(iscale[..., None] * x), -nmax, nmax - 1).astype(f32)
        return (w * x * lv).sum(-1), (w * lv * lv).sum(-1)

    sumlx, suml2 = fit(f32(-nmax) / safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(suml2 > 0, sumlx / suml2, f32(0)).astype(f32)
    best = scale * sumlx
    for step in (*range(-9, 0), *range(1, 10)):
        slx, sl2 = fit(-(f32(nmax) + f32(0.1) * f32(step)) / safe)
        better = (sl2 > 0) & (slx * slx > best * sl2)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(better, slx / sl2, scale).astype(f32)
        best = np.where(better, scale * slx, best)
    return np.where(empty, f32(0), scale)


def _pack_q6_k(d, sc, q) -> np.ndarray:
    n = q.shape[0]
    out = np.zeros((n, 210), np.uint8)
    # two halves of 128 values; in each, 4 runs of 32 (a, b, c, e): ql = a|c<<4, b|e<<4; qh = 2 bits each
    runs = q.reshape(n, 2, 4, 32)
    low, high = runs & 0xF, runs >> 4
    ql = np.concatenate([low[:, :, 0] | (low[:, :, 2] << 4), low[:, :, 1] | (low[:, :, 3] << 4)], axis=2)
    qh = high[:, :, 0] | (high[:, :, 1] << 2) | (high[:, :, 2] << 4) | (high[:, :, 3] << 6)
    out[:, 0:128] = ql.reshape(n, 128)
    out[:, 128:192] = qh.reshape(n, 64)
    out[:, 192:208] = sc.reshape(n, 16).view(np.uint8)
    out[:, 208:210] = d.reshape(n, 1).astype(np.float16).view(np.uint8)
    return out


# --- plain schemes ------------------------------------------------------------------------------------
def int8_rows(x: np.ndarray) -> np.ndarray:
    """Symmetric int8, one float32 scale per output row: absmax / 127 (bitsandbytes SCB)."""
    scale = np.abs(x).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.rint(x / scale), -127, 127)
    return np.where(scale > 0, q * scale, np.float32(0)).astype(np.float32)


def int4_groups(x: np.ndarray) -> np.ndarray:
    """Asymmetric 4-bit per group of 128 inputs: fp16 scale (max − min) / 15, integer zero point
    round(−min / scale) in 0..15 (AutoAWQ's min-max quantizer)."""
    rows, cols = x.shape
    pad = -cols % INT4_GROUP
    g = np.pad(x, ((0, 0), (0, pad)), mode="edge").reshape(rows, -1, INT4_GROUP)
    lo, hi = g.min(axis=-1, keepdims=True), g.max(axis=-1, keepdims=True)
    scale = fp16_round((hi - lo) / np.float32(15))
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = np.clip(np.rint(-lo / scale), 0, 15)
        q = np.clip(np.rint(g / scale) + zero, 0, 15)
    y = np.where(scale > 0, (q - zero) * scale, g)
    return y.reshape(rows, -1)[:, :cols].astype(np.float32)


def fp8_e4m3(v: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest e4m3 value (ties to even), saturating at ±448: by bit math — the
    quantum is 2^(exponent − 3) for normals and 2⁻⁹ below 2⁻⁶, both powers of two, so the division,
    rint and product are exact."""
    a = np.abs(v).astype(np.float32)
    _, exp = np.frexp(a)  # a = m × 2^exp, m in [0.5, 1)
    quantum = np.ldexp(np.float32(1), np.maximum(exp - 1, -6) - 3).astype(np.float32)
    r = np.minimum(np.rint(a / quantum) * quantum, np.float32(E4M3_MAX))
    return np.copysign(r, v).astype(np.float32)


def fp8_blocks(x: np.ndarray, block: int = FP8_BLOCK) -> np.ndarray:
    """fp8 e4m3 with a float32 scale absmax / 448 per block × block tile (DeepSeek-V3 weight_scale_inv)."""
    rows, cols = x.shape
    pr, pc = -rows % block, -cols % block
    t = np.pad(x, ((0, pr), (0, pc))).reshape((rows + pr) // block, block, (cols + pc) // block, block)
    scale = np.abs(t).max(axis=(1, 3), keepdims=True) / np.float32(E4M3_MAX)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(scale > 0, fp8_e4m3(t / scale) * scale, np.float32(0))
    return y.reshape(rows + pr, cols + pc)[:rows, :cols].astype(np.float32)


def fp8_tensor(x: np.ndarray) -> np.ndarray:
    scale = np.float32(np.abs(x).max() / E4M3_MAX)
    return (fp8_e4m3(x / scale) * scale).astype(np.float32) if scale > 0 else np.zeros_like(x)


def bf16_round(x: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 → float32, round to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16
    return u.astype(np.uint32).view(np.float32).reshape(x.shape)


_OWN: dict[str, Quantizer] = {
    "Q4_K": lambda x: round_trip_blocks(x, DType.Q4_K, quantize_q4_k),
    "Q6_K": lambda x: round_trip_blocks(x, DType.Q6_K, quantize_q6_k),
    "I8/row": int8_rows,
    "I4/g128": int4_groups,
    "F8_E4M3/b128": fp8_blocks,
    "F8_E4M3/t": fp8_tensor,
    "F32": lambda x: x,
    "F16": lambda x: x.astype(np.float16).astype(np.float32),
    "BF16": bf16_round,
}
