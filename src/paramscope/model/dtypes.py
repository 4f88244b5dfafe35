"""Every storage type paramscope knows, in one table.

A type is stored in blocks: ``block_size`` elements take ``type_size`` bytes. Plain dtypes are blocks of
one element (BF16 = (1, 2)); sub-byte floats pack several (F4 = two elements per byte, F6 = four
elements in three bytes); ggml quantized types use the block layouts of ggml-common.h, written as sums
of their fields the way gguf-py's ``GGML_QUANT_SIZES`` writes them (a test pins this table to it).
Bits per element are derived, never stored.
"""

from __future__ import annotations

from enum import Enum

from paramscope.records import record

QK_K = 256  # elements per k-quant super-block (ggml-common.h)


@record
class DTypeInfo:
    """A dtype's storage: block size and bytes per block, and its GGUF and safetensors names."""

    block_size: int  # elements per block
    type_size: int  # bytes per block
    ggml_id: int | None = None  # GGMLQuantizationType value, when GGUF can store it
    safetensors: str | None = None  # name in a safetensors header, when safetensors can store it
    is_float: bool = True
    quantized: bool = False  # block-quantized with scales (ggml q/k/iq/tq/mxfp types)


class DType(Enum):
    """One enum for safetensors dtypes and every ggml type; ``.value`` is the canonical name."""

    # Enum's own __hash__ is a Python function (hash of the name); members are singletons that compare by
    # identity, so the object's hash keeps every dict keyed by dtype right at C speed (a DeepSeek-V3
    # listing and inventory hash ~200k dtypes). Neither orders a set of dtypes the same in two processes.
    __hash__ = object.__hash__

    # plain types (safetensors names; ggml ids where GGUF stores them too)
    F64 = "F64"
    F32 = "F32"
    F16 = "F16"
    BF16 = "BF16"
    F8_E4M3 = "F8_E4M3"
    F8_E5M2 = "F8_E5M2"
    F8_E8M0 = "F8_E8M0"
    F8_E4M3FNUZ = "F8_E4M3FNUZ"
    F8_E5M2FNUZ = "F8_E5M2FNUZ"
    F6_E2M3 = "F6_E2M3"
    F6_E3M2 = "F6_E3M2"
    F4 = "F4"
    C64 = "C64"
    I64 = "I64"
    I32 = "I32"
    I16 = "I16"
    I8 = "I8"
    U64 = "U64"
    U32 = "U32"
    U16 = "U16"
    U8 = "U8"
    BOOL = "BOOL"
    # ggml block-quantized types
    Q4_0 = "Q4_0"
    Q4_1 = "Q4_1"
    Q5_0 = "Q5_0"
    Q5_1 = "Q5_1"
    Q8_0 = "Q8_0"
    Q8_1 = "Q8_1"
    Q2_K = "Q2_K"
    Q3_K = "Q3_K"
    Q4_K = "Q4_K"
    Q5_K = "Q5_K"
    Q6_K = "Q6_K"
    Q8_K = "Q8_K"
    IQ2_XXS = "IQ2_XXS"
    IQ2_XS = "IQ2_XS"
    IQ3_XXS = "IQ3_XXS"
    IQ1_S = "IQ1_S"
    IQ4_NL = "IQ4_NL"
    IQ3_S = "IQ3_S"
    IQ2_S = "IQ2_S"
    IQ4_XS = "IQ4_XS"
    IQ1_M = "IQ1_M"
    TQ1_0 = "TQ1_0"
    TQ2_0 = "TQ2_0"
    MXFP4 = "MXFP4"
    NVFP4 = "NVFP4"
    Q1_0 = "Q1_0"

    @property
    def info(self) -> DTypeInfo:
        return DTYPES[self]

    @property
    def block_size(self) -> int:
        return DTYPES[self].block_size

    @property
    def type_size(self) -> int:
        return DTYPES[self].type_size

    @property
    def bits_per_element(self) -> float:
        info = DTYPES[self]
        return info.type_size * 8 / info.block_size

    def nbytes(self, n_elements: int) -> int:
        """Exact bytes of ``n_elements`` stored in this type (caller checks block alignment)."""
        info = DTYPES[self]
        return n_elements // info.block_size * info.type_size

    def fits_blocks(self, n_elements: int) -> bool:
        return n_elements % DTYPES[self].block_size == 0


def _plain(size: int, st: str | None, ggml: int | None = None, *, is_float: bool = True) -> DTypeInfo:
    return DTypeInfo(1, size, ggml, st, is_float)


def _q(block: int, size: int, ggml: int) -> DTypeInfo:
    return DTypeInfo(block, size, ggml, None, True, True)


DTYPES: dict[DType, DTypeInfo] = {
    DType.F64: _plain(8, "F64", 28),
    DType.F32: _plain(4, "F32", 0),
    DType.F16: _plain(2, "F16", 1),
    DType.BF16: _plain(2, "BF16", 30),
    DType.F8_E4M3: _plain(1, "F8_E4M3"),
    DType.F8_E5M2: _plain(1, "F8_E5M2"),
    DType.F8_E8M0: _plain(1, "F8_E8M0"),
    # AMD MI300's fp8 variants (finite, unsigned zero, no negative zero), as safetensors 0.6+ names them
    DType.F8_E4M3FNUZ: _plain(1, "F8_E4M3FNUZ"),
    DType.F8_E5M2FNUZ: _plain(1, "F8_E5M2FNUZ"),
    # OCP microscaling element types: 4 six-bit values in 3 bytes, 2 four-bit values in 1 byte
    DType.F6_E2M3: DTypeInfo(4, 3, None, "F6_E2M3"),
    DType.F6_E3M2: DTypeInfo(4, 3, None, "F6_E3M2"),
    DType.F4: DTypeInfo(2, 1, None, "F4"),
    DType.C64: _plain(8, "C64"),
    DType.I64: _plain(8, "I64", 27, is_float=False),
    DType.I32: _plain(4, "I32", 26, is_float=False),
    DType.I16: _plain(2, "I16", 25, is_float=False),
    DType.I8: _plain(1, "I8", 24, is_float=False),
    DType.U64: _plain(8, "U64", is_float=False),
    DType.U32: _plain(4, "U32", is_float=False),
    DType.U16: _plain(2, "U16", is_float=False),
    DType.U8: _plain(1, "U8", is_float=False),
    DType.BOOL: _plain(1, "BOOL", is_float=False),
    # ggml-common.h block layouts: scales (fp16 d, dmin), packed quants, sub-block scales
    DType.Q4_0: _q(32, 2 + 16, 2),
    DType.Q4_1: _q(32, 2 + 2 + 16, 3),
    DType.Q5_0: _q(32, 2 + 4 + 16, 6),
    DType.Q5_1: _q(32, 2 + 2 + 4 + 16, 7),
    DType.Q8_0: _q(32, 2 + 32, 8),
    DType.Q8_1: _q(32, 4 + 4 + 32, 9),
    DType.Q2_K: _q(QK_K, 2 + 2 + QK_K // 16 + QK_K // 4, 10),
    DType.Q3_K: _q(QK_K, 2 + QK_K // 4 + QK_K // 8 + 12, 11),
    DType.Q4_K: _q(QK_K, 2 + 2 + QK_K // 2 + 12, 12),
    DType.Q5_K: _q(QK_K, 2 + 2 + QK_K // 2 + QK_K // 8 + 12, 13),
    DType.Q6_K: _q(QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16, 14),
    DType.Q8_K: _q(QK_K, 4 + QK_K + QK_K // 8, 15),
    DType.IQ2_XXS: _q(QK_K, 2 + QK_K // 4, 16),
    DType.IQ2_XS: _q(QK_K, 2 + QK_K // 4 + QK_K // 32, 17),
    DType.IQ3_XXS: _q(QK_K, 2 + QK_K // 4 + QK_K // 8, 18),
    DType.IQ1_S: _q(QK_K, 2 + QK_K // 8 + QK_K // 16, 19),
    DType.IQ4_NL: _q(32, 2 + 16, 20),
    DType.IQ3_S: _q(QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4, 21),
    DType.IQ2_S: _q(QK_K, 2 + QK_K // 4 + QK_K // 16, 22),
    DType.IQ4_XS: _q(QK_K, 2 + 2 + QK_K // 2 + QK_K // 64, 23),
    DType.IQ1_M: _q(QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32, 29),
    DType.TQ1_0: _q(QK_K, 2 + 4 * 13, 34),
    DType.TQ2_0: _q(QK_K, 2 + 64, 35),
    DType.MXFP4: _q(32, 1 + 16, 39),  # one E8M0 scale + 32 four-bit E2M1 values
    DType.NVFP4: _q(64, 4 + 32, 40),  # four FP8 sub-block scales + 64 four-bit values
    DType.Q1_0: _q(128, 2 + 16, 41),
}

BY_GGML_ID: dict[int, DType] = {i.ggml_id: d for d, i in DTYPES.items() if i.ggml_id is not None}
BY_SAFETENSORS_NAME: dict[str, DType] = {i.safetensors: d for d, i in DTYPES.items() if i.safetensors}
# ggml ids that were assigned once and later removed (Q4_2, Q4_3, Q4_0_4_4 …): named in errors.
RETIRED_GGML_IDS: dict[int, str] = {
    4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8",
    36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8",
}


def parse_dtype(name: str) -> DType:
    """Look a dtype up by any common spelling: 'bf16', 'Q4_K', 'float16', 'fp8'…"""
    key = name.strip().upper().replace("-", "_")
    key = _ALIASES.get(key, key)
    try:
        return DType(key)
    except ValueError:
        raise KeyError(name) from None


_ALIASES = {
    "FLOAT64": "F64", "FP64": "F64", "FLOAT32": "F32", "FP32": "F32", "FLOAT": "F32",
    "FLOAT16": "F16", "FP16": "F16", "HALF": "F16", "BFLOAT16": "BF16",
    "FP8": "F8_E4M3", "FP8_E4M3": "F8_E4M3", "FLOAT8_E4M3FN": "F8_E4M3", "F8_E4M3FN": "F8_E4M3",
    "FP8_E5M2": "F8_E5M2", "FLOAT8_E5M2": "F8_E5M2", "INT8": "I8", "UINT8": "U8",
    "INT16": "I16", "INT32": "I32", "INT64": "I64", "FP4": "F4",
}
