"""llama.cpp rules found by the round-6 logs (docs/runtimes.md 4.0e): a recurrent state of one cell per
sequence, and an encoder-only model's graph without logits."""

from __future__ import annotations

from pathlib import Path

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"


def _recurrent_bytes(kv) -> int:
    return sum(part.total_bytes for part in kv.parts if part.kind == "linear")


def test_recurrent_state_has_one_cell_per_sequence_unified_or_not():
    # llama-model.cpp create_memory: llama_memory_recurrent(mem_size = max(1, n_seq_max)); the attention
    # cache of a unified KV is one stream, the recurrent state still n_seq cells (Qwen3.5-2B at 4
    # sequences printed 4 x 19.27 MiB, llamacpp/qwen35-2b-*)
    cfg = paramscope.open_model(str(CONFIGS / "qwen3.5-2b-text.config.json")).config
    assert cfg is not None
    one = llamacpp_memory(cfg, 0, n_ctx=8192, n_seq=1)
    four = llamacpp_memory(cfg, 0, n_ctx=8192, n_seq=4, kv_unified=True)
    split = llamacpp_memory(cfg, 0, n_ctx=8192, n_seq=4)
    assert _recurrent_bytes(one.kv) > 0
    assert _recurrent_bytes(four.kv) == _recurrent_bytes(split.kv) == 4 * _recurrent_bytes(one.kv)
    # the attention cache: 8192 cells whether one stream of them or four of 2048
    attention = [p.total_bytes for p in four.kv.parts if p.kind != "linear"]
    assert attention == [p.total_bytes for p in split.kv.parts if p.kind != "linear"]


def test_an_encoder_only_model_has_no_logits_phase():
    # BERT (bge-small): no LM head, so no n_outputs x vocab logits; without flash attention the scores of
    # its own tokens: 512 x 512 x 12 heads x 4 B
    cfg = paramscope.open_model(str(CONFIGS / "bge-small-en-v1.5.config.json")).config
    assert cfg is not None
    m = llamacpp_memory(cfg, 0, n_ctx=512, n_ubatch=512, flash_attn=False, embeddings=True,
                        type_k=DType.F16, backend="gpu")
    assert m.compute.logits_phase < 512 * cfg.vocab_size * 4
    assert m.compute.attention_phase >= 512 * 512 * cfg.n_heads * 4
    assert m.kv.total_bytes == 0


def test_legacy_builds_gave_an_encoder_a_kv_cache():
    # builds of mid-2025 and earlier created a unified KV cache for every model: bge-small at n_ctx 512,
    # 12 layers × 512 cells × 384 × 2 (K, V) × 2 B = 9 MiB (ggml-ci, build 4410); current builds none
    cfg = paramscope.open_model(str(CONFIGS / "bge-small-en-v1.5.config.json")).config
    assert cfg is not None
    legacy = llamacpp_memory(cfg, 0, n_ctx=512, n_ubatch=512, embeddings=True, build="legacy-no-swa")
    current = llamacpp_memory(cfg, 0, n_ctx=512, n_ubatch=512, embeddings=True)
    assert legacy.kv.total_bytes == 12 * 512 * 384 * 2 * 2 == 9 * 2**20
    assert current.kv.total_bytes == 0
