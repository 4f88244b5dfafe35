"""The dtype table against its outside authorities: gguf-py's GGML_QUANT_SIZES and safetensors itself."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
from safetensors import SafetensorError, safe_open

from paramscope.model.dtypes import BY_GGML_ID, BY_SAFETENSORS_NAME, DTYPES, RETIRED_GGML_IDS, DType

GGML_TYPES = list(GGMLQuantizationType)


@pytest.mark.parametrize("qtype", GGML_TYPES, ids=[t.name for t in GGML_TYPES])
def test_every_ggml_type_is_in_our_table(qtype: GGMLQuantizationType) -> None:
    dtype = BY_GGML_ID[qtype.value]
    assert dtype.name == qtype.name
    assert (dtype.block_size, dtype.type_size) == GGML_QUANT_SIZES[qtype]
    assert dtype.info.ggml_id == qtype.value


def test_our_ggml_ids_are_exactly_ggufs() -> None:
    assert set(BY_GGML_ID) == {t.value for t in GGMLQuantizationType}
    assert not set(RETIRED_GGML_IDS) & set(BY_GGML_ID)


def test_quantized_flag_matches_block_layout() -> None:
    for dtype, info in DTYPES.items():
        if info.ggml_id is not None and info.block_size > 1:
            assert info.quantized, dtype


def test_bits_per_weight_are_derived() -> None:
    assert DType.Q4_K.bits_per_element == 4.5  # 144 bytes per 256 weights
    assert DType.Q6_K.bits_per_element == 6.5625
    assert DType.Q8_0.nbytes(640 * 32) == 640 * 34
    assert DType.BF16.nbytes(10) == 20


def _safetensors_file(path: Path, dtype_name: str, n: int, nbytes: int) -> Path:
    header = json.dumps({"x": {"dtype": dtype_name, "shape": [n], "data_offsets": [0, nbytes]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * nbytes)
    return path


SAFETENSORS_TYPES = sorted(BY_SAFETENSORS_NAME.items())


@pytest.mark.parametrize(("name", "dtype"), SAFETENSORS_TYPES, ids=[n for n, _ in SAFETENSORS_TYPES])
def test_safetensors_accepts_our_name_and_byte_size(tmp_path: Path, name: str, dtype: DType) -> None:
    """safetensors checks a tensor's byte length against its dtype and shape: our size must pass."""
    n = dtype.block_size * 4
    with safe_open(_safetensors_file(tmp_path / "ok.safetensors", name, n, dtype.nbytes(n)), "numpy") as f:
        assert f.get_slice("x").get_dtype() == name
    with pytest.raises(SafetensorError):
        safe_open(_safetensors_file(tmp_path / "bad.safetensors", name, n, dtype.nbytes(n) + 1), "numpy")


def test_safetensors_rejects_ggml_only_names(tmp_path: Path) -> None:
    with pytest.raises(SafetensorError):
        safe_open(_safetensors_file(tmp_path / "q.safetensors", "Q4_0", 32, 18), "numpy")
