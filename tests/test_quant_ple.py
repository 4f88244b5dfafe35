"""Gemma 3n's and Gemma 4's per-layer embedding table is quantized as the token embedding by llama.cpp's
llama-quant.cpp (tensor_name_match_token_embd: "token_embd.weight" or "per_layer_token_embd.weight"), and in
these tied models the token embedding goes as the output: Q6_K under Q4_K_M. A Q4_K_M file of Gemma 4 E4B
keeps 2,208 MiB on the host, the table's 2,205 MiB at 6.56 bits a weight among them
(tests/fixtures/engine_logs/llamacpp/r31l-gemma4-e4b-q4km-vulkan-*: model buffers −13.6 % → +0.05 %)."""

from __future__ import annotations

from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.weights import reprice
from paramscope.model.dtypes import DType

LOG_CONFIGS = Path(__file__).resolve().parent / "fixtures" / "engine_logs" / "configs"


@pytest.mark.parametrize("scheme, table_type", [("q4_k_m", DType.Q6_K), ("q8_0", DType.Q8_0)])
def test_the_per_layer_embeddings_go_as_the_token_embedding(scheme, table_type):
    model = paramscope.open_model(str(LOG_CONFIGS / "gemma-4-e4b.config.json"))
    rows = {r.name: r for r in reprice(model, scheme).rows}
    table = next(r for name, r in rows.items() if name.endswith("embed_tokens_per_layer.weight"))
    embedding = next(r for name, r in rows.items() if name.endswith("language_model.embed_tokens.weight"))
    assert table.type == embedding.type == table_type.value
    if table_type == DType.Q6_K:  # 262,144 entries × 42 layers × 256: 2,205 MiB of the host's 2,208.00
        assert table.bytes == 262144 * 42 * 256 // 256 * 210 == 2205 * 2**20
