"""Decoders and quantizers against ggml's own C kernels, from recorded outputs.

tests/fixtures/ggml_reference/ holds what libggml-base (llama-cpp-python's build of the llama.cpp it
vendors; meta.json names the version) computed with ``to_float`` / ``dequantize_row_*`` and with
``ggml_quantize_chunk(type, …, imatrix=NULL)`` — the call llama-quantize makes — on random blocks and
rows and on real weights (the Gemma 3 270M GGUF's blocks, MiniLM's float32 weights, read here from the
files tools/fetch_models.py fetches). bench/ggml_reference.py records it and runs the same comparison on
many more blocks against the library itself. Every comparison is bit for bit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from paramscope.analyses.values.decode import BACKENDS, decodable, dequantize
from paramscope.analyses.values.quantize import (
    IRREPRODUCIBLE,
    PORTED,
    block_quantizer,
    quantizer,
    shipped_block_types,
)
from paramscope.model.dtypes import DTYPES, DType

FIXTURE = Path(__file__).parent / "fixtures" / "ggml_reference"
META = json.loads((FIXTURE / "meta.json").read_text(encoding="utf-8"))
OUTPUTS = np.load(FIXTURE / "ggml_outputs.npz")
HAS_NUMBA = importlib.util.find_spec("numba") is not None
# ggml has no to_float for these: F32 is the stored value itself, the integer and F64 types are not
# ggml compute types (test_decode.py checks them against numpy's conversions)
NO_GGML_DECODER = {DType.F32, DType.F64, DType.I8, DType.I16, DType.I32, DType.I64}

backends = pytest.mark.parametrize("backend", [
    pytest.param(b, marks=pytest.mark.skipif(b == "numba" and not HAS_NUMBA, reason="numba not installed"))
    for b in BACKENDS
])


def assert_same_bits(ours: np.ndarray, reference: np.ndarray, what: str) -> None:
    """Identical float32 bits, except that any NaN equals any NaN."""
    assert ours.dtype == np.float32 and ours.shape == reference.shape, what
    differ = np.flatnonzero((ours.view(np.uint32) != reference.view(np.uint32))
                            & ~(np.isnan(ours) & np.isnan(reference)))
    assert differ.size == 0, (f"{what}: {differ.size} of {ours.size} values differ from ggml, first at "
                              f"{differ[0]}: {ours[differ[0]]!r} vs {reference[differ[0]]!r}")


def assert_same_blocks(ours: np.ndarray, reference: np.ndarray, what: str) -> None:
    assert ours.dtype == np.uint8 and ours.shape == reference.shape, (what, ours.shape, reference.shape)
    differ = np.flatnonzero((ours != reference).any(axis=1))
    assert differ.size == 0, (f"{what}: {differ.size} of {len(ours)} blocks differ from ggml, "
                              f"first {differ[0]}")


def test_the_fixture_names_its_reference() -> None:
    assert META["llama_cpp_python"] == "0.3.36" and META["ggml"].startswith("ggml 0.25.3")


def test_every_type_ggml_decodes_is_recorded() -> None:
    """The fixture holds every ggml type paramscope decodes, except those ggml has no decoder for."""
    ours = {d.value for d, info in DTYPES.items()
            if info.ggml_id is not None and decodable(d) and d not in NO_GGML_DECODER}
    assert ours == set(META["decoders"])


@backends
@pytest.mark.parametrize("name", sorted(META["decoders"]))
def test_decoder_matches_ggml(name: str, backend: str) -> None:
    dtype = DType(name)
    raw, expected = OUTPUTS[f"decode/{name}/raw"], OUTPUTS[f"decode/{name}/values"]
    assert raw.size == META["decoders"][name] * dtype.type_size
    assert_same_bits(dequantize(raw, dtype, expected.size, backend=backend), expected, name)


@backends
def test_decoders_match_ggml_on_the_gemma_file(gemma_gguf_reference, backend: str) -> None:
    tensors = {t.name: t for t in gemma_gguf_reference.tensors}
    for name, pick in META["gemma"].items():
        dtype = DType(pick["type"])
        raw = np.ascontiguousarray(tensors[name].data).reshape(-1).view(np.uint8)
        first, count = pick["first_block"] * dtype.type_size, pick["blocks"] * dtype.type_size
        expected = OUTPUTS[f"gemma/{name}/values"]
        assert_same_bits(dequantize(raw[first:first + count], dtype, expected.size, backend=backend),
                         expected, name)
    assert {p["type"] for p in META["gemma"].values()} == {"Q4_K", "Q5_0", "Q6_K", "Q8_0"}


# --- quantizers ------------------------------------------------------------------------------------------
def quantizer_inputs(gemma_gguf_reference, minilm_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights = load_file(minilm_dir / "model.safetensors")
    minilm = [weights[name].reshape(-1)[p["first"]:p["first"] + p["count"]]
              for name, p in META["minilm"].items()]
    return {
        "random": OUTPUTS["quantize/inputs"],
        # what ggml decodes from the Gemma file's blocks (checked above): quantized weights re-quantized
        "gemma": np.stack([OUTPUTS[f"gemma/{name}/values"] for name in META["gemma"]]),
        "minilm": np.stack(minilm).astype(np.float32),
    }


def test_every_shipped_quantizer_is_recorded() -> None:
    assert {d.value for d in shipped_block_types()} == set(META["quantizers"])


def quantizer_cases() -> list:
    """(type, backend): the ported k-quants on each backend, gguf-py's quantizers once."""
    cases = []
    for name in sorted(META["quantizers"]):
        for b in BACKENDS if DType(name) in PORTED else ("gguf",):
            marks = pytest.mark.skipif(b == "numba" and not HAS_NUMBA, reason="numba not installed")
            cases.append(pytest.param(name, b, marks=marks, id=f"{name}-{b}"))
    return cases


@pytest.mark.parametrize(("name", "backend"), quantizer_cases())
def test_quantizer_writes_ggml_bytes(name: str, backend: str, gemma_gguf_reference, minilm_dir) -> None:
    """Our blocks are the bytes llama-quantize writes (ggml_quantize_chunk, no imatrix)."""
    dtype = DType(name)
    if dtype in PORTED:
        def quantize(x: np.ndarray) -> np.ndarray:
            return PORTED[dtype](x, backend=backend)
    else:
        quantize = block_quantizer(dtype)
    for label, x in quantizer_inputs(gemma_gguf_reference, minilm_dir).items():
        expected = OUTPUTS[f"quantize/{name}/{label}"]
        assert_same_blocks(quantize(x), expected, f"{name} on {label} inputs")
        # the round trip quantize-error measures is ggml's decode of ggml's bytes
        ours = quantizer(name)(x)
        theirs = dequantize(expected.reshape(-1), dtype, x.size).reshape(x.shape)
        assert_same_bits(ours, theirs, f"{name} round trip on {label}")


def test_random_rows_cover_the_edge_cases() -> None:
    rows = META["quantize_rows"]
    for needed in ("zeros", "constant", "tiny", "huge", "ties", "uniform_positive", "outlier"):
        assert needed in rows


def test_irreproducible_types_say_why_and_have_no_quantizer() -> None:
    for dtype, why in IRREPRODUCIBLE.items():
        assert why and block_quantizer(dtype) is None and quantizer(dtype.value) is None
    assert not set(IRREPRODUCIBLE) & set(shipped_block_types())
