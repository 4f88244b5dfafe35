"""Gemma 4 12B (transformers' ``gemma4_unified``): its text model is Gemma 4's without per-layer inputs
or a routed block, so everything a runtime does with it follows from the same numbers as a ``gemma4_text``
config; the encoder-free vision and audio embedders add only projections (tests/test_families_oracle.py
holds the tensors equal to transformers on the real config)."""

from __future__ import annotations

import json
from pathlib import Path

from paramscope.app.size import size
from paramscope.knowledge.families import expected_tensors

CONFIG = Path(__file__).parent / "fixtures/configs/google__gemma-4-12B.json"


def _configs() -> tuple[dict, dict]:
    unified = json.loads(CONFIG.read_text())
    text = {**unified["text_config"], "model_type": "gemma4_text", "architectures": ["Gemma4ForCausalLM"],
            "hidden_size_per_layer_input": 0}
    return unified, text


def test_the_text_model_is_gemma4s_without_per_layer_inputs():
    unified, text = _configs()
    ours = {t.name.removeprefix("model.language_model."): (t.shape, t.dtype)
            for t in expected_tensors(unified, fallback=False)}
    as_gemma4 = {t.name.removeprefix("model."): (t.shape, t.dtype)
                 for t in expected_tensors(text, fallback=False)}
    embedders = {n for n in ours if n.startswith(("model.embed_vision.", "model.embed_audio."))}
    assert {n: v for n, v in ours.items() if n not in embedders} == as_gemma4
    # three LayerNorms, the patch Dense, the (1120, 2, 3840) position table and two projections
    assert sum(1 for n in embedders if n.endswith(".weight")) == 6
    assert ours["model.embed_vision.pos_embedding"][0] == (1120, 2, 3840)


def test_llamacpp_caches_its_sliding_layers_at_the_window(tmp_path):
    """convert_hf_to_gguf writes Gemma4UnifiedForConditionalGeneration as a gemma4 GGUF: 40 sliding layers of
    8 × 256 at 1024 + 512 cells, 8 full layers of one 512-wide head at the whole context (a review finding:
    the sliding layers had been priced at the whole context, 12× the cache)."""
    unified, text = _configs()
    kv = {}
    for name, cfg in (("unified", unified), ("text", text)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(cfg))
        kv[name] = size(str(path), runtime="llama.cpp", context=32768).to_json()["kv_cache_bytes"]
    assert kv["unified"] == kv["text"] == 8 * 32768 * 1024 * 2 + 40 * 1536 * 4096 * 2


def test_gemma4_e4b_swa_cache_as_a_public_llamacpp_run_printed_it():
    """qualcomm/GenieX PR #1346 (August 2026) printed llama.cpp's caches for Gemma 4 E4B at 4096 cells, f16,
    n_swa 512: with swa_full the SWA cache holds 4096 cells, 160.00 MiB, beside 64.00 MiB of full-attention
    cache; without it pad(n_swa + n_ubatch, 256) = 1536 cells, 60.00 MiB (n_ubatch 1024, as its formula
    gives). The 18 KV-sharing layers hold none. (An RX 5700 XT log on an unnamed build printed 660 MiB more
    with --swa-full: tests/test_engine_log_predictions.py, r58l-gemma4-e4b-*.)"""
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
    from paramscope.knowledge.families import arch_config_from_hf

    e4b = arch_config_from_hf(json.loads((Path(__file__).parent / "fixtures/engine_logs/configs/"
                                          "gemma-4-e4b.config.json").read_text()))
    mib = 1 << 20
    for swa_full, cells, swa_mib in ((True, 4096, 160), (False, 1536, 60)):
        kv = llamacpp_memory(e4b, 0, n_ctx=4096, n_ubatch=1024, swa_full=swa_full, flash_attn=True).kv
        parts = {p.kind: p for p in kv.parts}
        assert parts["sliding"].cells == cells and parts["full"].cells == 4096
        assert kv.total_bytes == (swa_mib + 64) * mib
