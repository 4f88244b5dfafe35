"""paramscope.analyses.values.decode against outside authorities. ggml's own C decoders are the reference
for every ggml type (tests/test_ggml_reference.py, on recorded outputs of libggml-base); here, on many more
random blocks, gguf.quants.dequantize checks every decoder that is not gguf-py's own code (the numba
kernels, and the numpy backend's tuned decoders), ml_dtypes the small float formats, and ggml-quants.c's
loops (written out below) the types gguf-py cannot decode."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from builders.ggml_blocks import HALF_FIELDS, random_blocks
from paramscope.analyses.values.decode import BACKENDS, decodable, dequantize
from paramscope.model.dtypes import DTYPES, QK_K, DType

# references computed with numpy warn about the inf that huge random scales produce
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

HAS_NUMBA = importlib.util.find_spec("numba") is not None
# "numba-parallel" is the numba backend with every input spread over the cores (small ones normally
# run on the calling thread)
backends = pytest.mark.parametrize("backend", indirect=True, argvalues=[
    pytest.param(b, marks=pytest.mark.skipif(b.startswith("numba") and not HAS_NUMBA, reason="numba missing"))
    for b in (*BACKENDS, "numba-parallel")
])


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "numba-parallel":
        from paramscope.analyses.values.decode import ggml_kernels

        monkeypatch.setattr(ggml_kernels, "PARALLEL_MIN_BYTES", 0)
        return "numba"
    return request.param

GGUF_TYPES = sorted((d for d in HALF_FIELDS if d not in (DType.Q8_K, DType.Q1_0)), key=lambda d: d.value)
GGML_TYPES = [d for d, info in DTYPES.items() if info.quantized]


def assert_same_bits(ours: np.ndarray, reference: np.ndarray) -> None:
    """Bit-identical float32 arrays (signs of zero included), except that any NaN equals any NaN."""
    reference = np.asarray(reference, dtype=np.float32).reshape(-1)
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    if np.array_equal(ours.view(np.uint32), reference.view(np.uint32)):
        return  # every bit the same (the usual case): one pass, where the NaN-aware test takes seven
    both_nan = np.isnan(ours) & np.isnan(reference)
    differ = np.flatnonzero((ours.view(np.uint32) != reference.view(np.uint32)) & ~both_nan)
    assert differ.size == 0, (
        f"{differ.size} of {ours.size} differ, first at {differ[0]}: {ours[differ[0]]!r} vs "
        f"{reference[differ[0]]!r}")


def gguf_cases() -> list:
    """(dtype, backend) pairs whose decoder is not gguf-py's: on the numpy backend, GGUF_DECODED types
    run gguf-py's own block functions, so comparing them with gguf-py would prove nothing."""
    from paramscope.analyses.values.decode.ggml import GGUF_DECODED

    cases = []
    for dtype in GGUF_TYPES:
        for b in (*BACKENDS, "numba-parallel"):
            if b == "numpy" and dtype in GGUF_DECODED:
                continue
            marks = pytest.mark.skipif(b.startswith("numba") and not HAS_NUMBA, reason="numba missing")
            cases.append(pytest.param(dtype, b, marks=marks, id=f"{dtype.value}-{b}"))
    return cases


@pytest.mark.parametrize(("dtype", "backend"), gguf_cases(), indirect=["backend"])
def test_matches_gguf_bit_for_bit(dtype: DType, backend: str) -> None:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize as gguf_dequantize

    n_blocks = 3000 if dtype.block_size < QK_K else 600
    raw = random_blocks(dtype, n_blocks, seed=dtype.info.ggml_id)
    reference = gguf_dequantize(raw, GGMLQuantizationType[dtype.value])
    assert_same_bits(dequantize(raw, dtype, n_blocks * dtype.block_size, backend=backend), reference)


# ggml-quants.c reference loops for the types gguf-py does not decode, one block at a time


def q8_k_reference(raw: np.ndarray) -> np.ndarray:
    # dequantize_row_q8_K: y[j] = x.d * x.qs[j]
    blocks = raw.reshape(-1, DType.Q8_K.type_size)
    d = blocks[:, :4].copy().view("<f4")
    return (blocks[:, 4:4 + QK_K].view(np.int8).astype(np.float32) * d).reshape(-1)


def q1_0_reference(raw: np.ndarray) -> np.ndarray:
    # dequantize_row_q1_0: bit = (qs[j / 8] >> (j % 8)) & 1; y[j] = bit ? d : -d
    out = []
    for block in raw.reshape(-1, DType.Q1_0.type_size):
        d = block[:2].view("<f2").astype(np.float32)[0]
        out += [d if (block[2 + j // 8] >> (j % 8)) & 1 else -d for j in range(128)]
    return np.array(out, dtype=np.float32)


@backends
@pytest.mark.parametrize(("dtype", "reference"), [(DType.Q8_K, q8_k_reference), (DType.Q1_0, q1_0_reference)],
                         ids=["Q8_K", "Q1_0"])
def test_matches_ggml_reference_where_gguf_cannot(dtype: DType, reference, backend: str) -> None:
    raw = random_blocks(dtype, 200, seed=7)
    assert_same_bits(dequantize(raw, dtype, 200 * dtype.block_size, backend=backend), reference(raw))


def test_gguf_cannot_decode_the_types_checked_against_ggml_loops() -> None:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import _type_traits

    for dtype in (DType.Q8_K, DType.Q1_0):
        assert GGMLQuantizationType[dtype.value] not in _type_traits


@backends
@pytest.mark.parametrize("dtype", [d for d in GGML_TYPES if decodable(d)], ids=lambda d: d.value)
def test_pieces_decode_like_the_whole(dtype: DType, backend: str) -> None:
    n_blocks = 37
    raw = random_blocks(dtype, n_blocks, seed=3)
    whole = dequantize(raw, dtype, n_blocks * dtype.block_size, backend=backend)
    out = np.full(n_blocks * dtype.block_size, np.nan, dtype=np.float32)
    for start, stop in ((0, 1), (1, 20), (20, 37)):
        piece = raw[start * dtype.type_size:stop * dtype.type_size]
        returned = dequantize(piece, dtype, (stop - start) * dtype.block_size,
                              out[start * dtype.block_size:stop * dtype.block_size], backend=backend)
        assert np.shares_memory(returned, out)
    assert_same_bits(out, whole)


def test_both_backends_agree_on_a_large_tensor() -> None:
    pytest.importorskip("numba")
    for dtype in (DType.Q8_0, DType.Q4_K, DType.Q6_K):
        n_blocks = (3 << 20) // dtype.type_size  # more than one numpy chunk
        raw = random_blocks(dtype, n_blocks, seed=11)
        n = n_blocks * dtype.block_size
        numba, numpy = (dequantize(raw, dtype, n, backend=b) for b in ("numba", "numpy"))
        assert_same_bits(numba, numpy)


# plain types


def test_bf16_is_the_high_half_of_float32() -> None:
    values = np.array([1.0, -2.5, 3.0e38, -1.0e-40, 0.0, -0.0, np.inf, np.nan], dtype=np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").view(np.uint8)
    ours = dequantize(raw, DType.BF16, values.size)
    assert_same_bits(ours, (values.view(np.uint32) & 0xFFFF0000).view(np.float32))


def test_bf16_matches_gguf_on_every_code() -> None:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize as gguf_dequantize

    raw = np.arange(1 << 16, dtype="<u2").view(np.uint8)
    assert_same_bits(dequantize(raw, DType.BF16, 1 << 16), gguf_dequantize(raw, GGMLQuantizationType.BF16))


@pytest.mark.parametrize(("dtype", "numpy_dtype"), [
    (DType.F64, "<f8"), (DType.F32, "<f4"), (DType.F16, "<f2"), (DType.I64, "<i8"), (DType.I32, "<i4"),
    (DType.I16, "<i2"), (DType.I8, "i1"), (DType.U64, "<u8"), (DType.U32, "<u4"), (DType.U16, "<u2"),
    (DType.U8, "u1"),
], ids=lambda x: x.value if isinstance(x, DType) else x)
def test_numeric_types_convert_like_numpy(dtype: DType, numpy_dtype: str) -> None:
    raw = np.random.default_rng(5).integers(0, 256, 8 * 1000, dtype=np.uint8)
    raw = raw[: raw.size // dtype.type_size * dtype.type_size]
    values = raw.view(numpy_dtype)
    assert_same_bits(dequantize(raw, dtype, values.size), values.astype(np.float32))


def test_bool_is_one_for_any_nonzero_byte() -> None:
    raw = np.array([0, 1, 2, 255, 0], dtype=np.uint8)
    assert dequantize(raw, DType.BOOL, 5).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


ML_DTYPES = {
    DType.F8_E4M3: "float8_e4m3fn", DType.F8_E5M2: "float8_e5m2", DType.F8_E4M3FNUZ: "float8_e4m3fnuz",
    DType.F8_E5M2FNUZ: "float8_e5m2fnuz", DType.F8_E8M0: "float8_e8m0fnu",
}


@pytest.mark.parametrize("dtype", list(ML_DTYPES), ids=lambda d: d.value)
def test_fp8_every_code_matches_ml_dtypes(dtype: DType) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    codes = np.arange(256, dtype=np.uint8)
    expected = codes.view(getattr(ml_dtypes, ML_DTYPES[dtype])).astype(np.float32)
    assert_same_bits(dequantize(codes, dtype, 256), expected)


@pytest.mark.parametrize(("dtype", "name", "bits"), [
    (DType.F6_E2M3, "float6_e2m3fn", 6), (DType.F6_E3M2, "float6_e3m2fn", 6), (DType.F4, "float4_e2m1fn", 4),
], ids=["F6_E2M3", "F6_E3M2", "F4"])
def test_sub_byte_tables_match_ml_dtypes(dtype: DType, name: str, bits: int) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from paramscope.analyses.values.decode.floats import table

    codes = np.arange(1 << bits, dtype=np.uint8)
    assert_same_bits(table(dtype), codes.view(getattr(ml_dtypes, name)).astype(np.float32))


def test_fp8_landmarks() -> None:
    def value(dtype: DType, code: int) -> float:
        return float(dequantize(np.array([code], dtype=np.uint8), dtype, 1)[0])

    assert value(DType.F8_E4M3, 0x7E) == 448.0 and np.isnan(value(DType.F8_E4M3, 0x7F))
    assert value(DType.F8_E4M3, 0x01) == 2.0 ** -9
    assert value(DType.F8_E5M2, 0x7B) == 57344.0 and value(DType.F8_E5M2, 0x7C) == np.inf
    assert value(DType.F8_E4M3FNUZ, 0x7F) == 240.0 and np.isnan(value(DType.F8_E4M3FNUZ, 0x80))
    assert value(DType.F8_E8M0, 127) == 1.0 and value(DType.F8_E8M0, 0) == 2.0 ** -127
    assert np.isnan(value(DType.F8_E8M0, 0xFF))


def test_f4_packs_two_per_byte_low_nibble_first() -> None:
    # E2M1 codes: 0x1 = 0.5, 0x7 = 6, 0xA = -1 (ggml kvalues_mxfp4 halved)
    raw = np.array([0x71, 0x0A], dtype=np.uint8)
    assert dequantize(raw, DType.F4, 4).tolist() == [0.5, 6.0, -1.0, 0.0]


def test_f6_packs_four_in_three_bytes_lsb_first() -> None:
    codes = [0x01, 0x1F, 0x21, 0x08]  # E2M3: 0.125, 7.5, -0.125, 1.0
    word = sum(c << (6 * k) for k, c in enumerate(codes))
    raw = np.frombuffer(word.to_bytes(3, "little"), dtype=np.uint8)
    assert dequantize(raw, DType.F6_E2M3, 4).tolist() == [0.125, 7.5, -0.125, 1.0]


# the contract


@pytest.mark.parametrize("dtype", list(DType), ids=lambda d: d.value)
def test_every_type_but_complex_and_q8_1_is_decodable(dtype: DType) -> None:
    assert decodable(dtype) == (dtype not in (DType.C64, DType.Q8_1))


def test_undecodable_type_raises() -> None:
    with pytest.raises(NotImplementedError, match="Q8_1"):
        dequantize(np.zeros(40, dtype=np.uint8), DType.Q8_1, 32)


@pytest.mark.parametrize(("raw", "n", "out", "message"), [
    (np.zeros(34, np.uint8), 33, None, "whole number of Q8_0 blocks"),
    (np.zeros(35, np.uint8), 32, None, "take 34 bytes, found 35"),
    (np.zeros((2, 17), np.uint8), 32, None, "1-D uint8"),
    (np.zeros(34, np.uint8), 32, np.zeros(32, np.float64), "out must be contiguous float32"),
    (np.zeros(34, np.uint8), 32, np.zeros(64, np.float32)[::2], "out must be contiguous float32"),
])
def test_size_mismatches_are_errors(raw, n, out, message) -> None:
    with pytest.raises(ValueError, match=message):
        dequantize(raw, DType.Q8_0, n, out)


def test_empty_and_unknown_backend() -> None:
    assert dequantize(np.zeros(0, np.uint8), DType.Q4_K, 0).shape == (0,)
    with pytest.raises(ValueError, match="unknown decode backend"):
        dequantize(np.zeros(34, np.uint8), DType.Q8_0, 32, backend="cuda")


def test_importing_the_package_loads_no_decoder() -> None:
    import subprocess
    import sys

    code = ("import sys, paramscope.analyses.values.decode; "
            "print(any(m.startswith(('numba', 'gguf', 'paramscope.analyses.values.decode.')) "
            "for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_without_numba_the_numpy_path_decodes() -> None:
    import subprocess
    import sys

    code = """
import sys
sys.modules["numba"] = None  # as if numba were not installed
import numpy as np
from gguf.constants import GGMLQuantizationType
from gguf.quants import dequantize as gguf_dequantize
from paramscope.analyses.values.decode import default_backend, dequantize
from paramscope.model.dtypes import DType
raw = np.random.default_rng(0).integers(0, 256, 34 * 100, dtype=np.uint8).reshape(100, 34)
raw[:, :2] = np.array([0.5], np.float16).view(np.uint8)
raw = raw.reshape(-1)
same = np.array_equal(dequantize(raw, DType.Q8_0, 3200), gguf_dequantize(raw, GGMLQuantizationType.Q8_0))
print(default_backend(), same)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["numpy", "True"]


def test_forcing_numpy_loads_no_numba() -> None:
    import os
    import subprocess
    import sys

    code = ("import sys, numpy as np; from paramscope.analyses.values.decode import dequantize; "
            "from paramscope.model.dtypes import DType; "
            "dequantize(np.zeros(144, np.uint8), DType.Q4_K, 256); print('numba' in sys.modules)")
    env = {**os.environ, "PARAMSCOPE_DECODE_BACKEND": "numpy"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "False"


@backends
@pytest.mark.parametrize("dtype", [DType.Q4_K, DType.IQ2_XXS, DType.BF16, DType.F32], ids=lambda d: d.value)
def test_read_only_unaligned_bytes_decode(dtype: DType, backend: str) -> None:
    # a memory-mapped file's bytes: read-only, and a tensor may start at any offset
    raw = random_blocks(dtype, 64, seed=9) if dtype.info.quantized else np.arange(256, dtype=np.uint8)
    buffer = np.frombuffer(b"\x00" + raw.tobytes(), dtype=np.uint8)[1:]
    assert not buffer.flags.writeable
    n = raw.size // dtype.type_size * dtype.block_size
    expected = dequantize(raw, dtype, n, backend=backend)
    assert_same_bits(dequantize(buffer, dtype, n, backend=backend), expected)


def test_codebooks_taken_from_gguf_py_match_ggml_common_h() -> None:
    pytest.importorskip("numba")
    from paramscope.analyses.values.decode.ggml_kernels_iq import grid, ksigns

    # ggml-common.h iq2xxs_grid[0..2]: one byte per value, little-endian
    expected = np.array([0x0808080808080808, 0x080808080808082B, 0x0808080808081919], dtype="<u8")
    assert_same_bits(grid("IQ2_XXS")[:3].reshape(-1), expected.view(np.uint8).astype(np.float32))
    # ksigns_iq2xs[i]: the 7 stored sign bits i, plus an eighth making the count of set bits even
    signs = ksigns().astype(np.int64)
    assert (signs & 0x7F).tolist() == list(range(128))
    assert all(bin(s).count("1") % 2 == 0 for s in signs)


ROWS_AT_ONCE = 4096


def test_every_tensor_of_the_gemma_gguf_matches_gguf(gemma_gguf_reference) -> None:
    # the real Gemma 3 270M Q4_K_M file: 109 F32, 81 Q5_0, 27 Q4_K, 10 Q8_0 and 9 Q6_K tensors; on the
    # numba kernels (the numpy backend decodes Q5_0 and Q6_K with gguf-py itself)
    pytest.importorskip("numba", reason="numba not installed: the numba kernels are not built")
    from gguf.quants import dequantize as gguf_dequantize

    from paramscope.model.dtypes import BY_GGML_ID

    seen = set()
    for tensor in gemma_gguf_reference.tensors:
        dtype = BY_GGML_ID[int(tensor.tensor_type)]
        seen.add(dtype)
        # every row, a few thousand rows at a time: decoding the 168M-value embedding whole on both sides
        # held 2.6 GB at once, and faulting in those pages cost more than the decoding
        rows = tensor.data.reshape(-1, tensor.data.shape[-1])
        row_values = int(tensor.n_elements) // rows.shape[0]
        for start in range(0, rows.shape[0], ROWS_AT_ONCE):
            part = rows[start:start + ROWS_AT_ONCE]
            raw = np.ascontiguousarray(part).reshape(-1).view(np.uint8)
            assert_same_bits(dequantize(raw, dtype, part.shape[0] * row_values, backend="numba"),
                             gguf_dequantize(part, tensor.tensor_type))
    assert seen == {DType.F32, DType.Q5_0, DType.Q4_K, DType.Q6_K, DType.Q8_0}
