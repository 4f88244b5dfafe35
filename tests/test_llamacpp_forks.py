"""llama.cpp's forks (runtimes/llamacpp/forks.py): ik_llama.cpp's llama-server of 2025 caches a GGUF's MTP
blocks too and reserves -np + 1 rows of logits, as its logs print (GLM-4.5-Air at builds 3829-3874: 47
cached layers, 1.16 MiB of logits at -np 1, tests/fixtures/engine_logs/llamacpp/r32l-*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import paramscope
from builders.gguf_files import glm_gguf
from paramscope.analyses.sizing.runtimes import RUNTIMES
from paramscope.analyses.sizing.runtimes.llamacpp.forks import FORKS, fork
from paramscope.errors import UnsupportedError

LOG_CONFIGS = Path(__file__).resolve().parent / "fixtures" / "engine_logs" / "configs"


def _size(path, **options):
    return paramscope.size(str(path), context=1024, **options).estimate


def test_the_option_offers_every_fork():
    llamacpp = next(r for r in RUNTIMES if r.name == "llama.cpp")
    option = next(o for o in llamacpp.options if o.name == "llamacpp_fork")
    assert option.choices == tuple(FORKS) and option.default == "mainline"


def test_ik_2025_caches_the_mtp_block_too(tmp_path):
    path = glm_gguf(tmp_path / "glm.gguf", 3, 1)
    mainline = _size(path, llamacpp_build="legacy")
    ik = _size(path, llamacpp_build="legacy", llamacpp_fork="ik-2025")
    per_layer = 1024 * 2 * 2 * 8 * 2  # cells × (K + V) × 2 heads × 8 wide × f16
    assert mainline.kv_cache_bytes == 3 * per_layer
    assert ik.kv_cache_bytes == 4 * per_layer
    # the block's weights are skipped by both (TENSOR_SKIP)
    assert ik.weights_bytes == mainline.weights_bytes
    assert any("MTP block" in line for line in ik.explain)


def test_a_model_without_mtp_blocks_caches_the_same(tmp_path):
    path = glm_gguf(tmp_path / "plain.gguf", 3, 0)
    assert (_size(path, llamacpp_build="legacy", llamacpp_fork="ik-2025").kv_cache_bytes
            == _size(path, llamacpp_build="legacy").kv_cache_bytes)


def test_ik_2025_s_server_reserves_a_row_more():
    # GLM-4.5-Air's config: 151,552 tokens of f32 logits a row; -np 1 prints 1.16 MiB (two rows)
    config = str(LOG_CONFIGS / "glm-4.5-air.config.json")
    for batch in (1, 3):
        mainline = paramscope.size(config, context=4096, batch=batch, llamacpp_build="legacy").estimate
        ik = paramscope.size(config, context=4096, batch=batch, llamacpp_build="legacy",
                             llamacpp_fork="ik-2025").estimate
        output = [line for line in ik.explain if line.startswith("output")]
        assert output, ik.explain
        assert f"{(batch + 1) * 151552 * 4:,}" in output[0]
        assert f"{batch * 151552 * 4:,}" in next(line for line in mainline.explain
                                                 if line.startswith("output"))


def test_an_unknown_fork_is_one_line():
    with pytest.raises(UnsupportedError, match=r"unknown llama\.cpp fork 'ollama'"):
        fork("ollama")
    done = subprocess.run([sys.executable, "-m", "paramscope", "size", "llama-3.1-8b", "--llamacpp-fork",
                           "nope"], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3


def test_the_fork_follows_mid_2025_s_rules_unless_a_build_is_named():
    """ik_llama.cpp of 2025 is mainline of mid-2025 otherwise: one cache for all sequences, n_ctx padded to
    32 without flash attention; --llamacpp-build still names another family."""
    config = str(LOG_CONFIGS / "glm-4.5-air.config.json")
    ik = paramscope.size(config, context=1000, batch=3, llamacpp_fork="ik-2025", flash_attn="off").estimate
    legacy = paramscope.size(config, context=1000, batch=3, llamacpp_build="legacy",
                             flash_attn="off").estimate
    assert ik.kv_cache_bytes == legacy.kv_cache_bytes * 47 // 46
    assert any("n_ctx = GGML_PAD(n_ctx, 32) = 3008" in line for line in ik.explain)
    named = paramscope.size(config, context=1000, batch=3, llamacpp_fork="ik-2025", llamacpp_build="current",
                            flash_attn="off").estimate
    assert not any("GGML_PAD(n_ctx, 32)" in line for line in named.explain)


def test_a_second_slot_gets_its_row_as_the_first(tmp_path):
    """-np 2 on ik_llama.cpp's server: 3 rows of logits (r53l-ik809-*: 1.73 MiB for 151,552 tokens)."""
    config = str(LOG_CONFIGS / "glm-4.5-air.config.json")
    ik = paramscope.size(config, context=4096, batch=2, llamacpp_fork="ik-2025").estimate
    rows = f"output: 3 rows × 151552 × 4 B = {3 * 151552 * 4:,} B"
    assert any(line.startswith(rows) for line in ik.explain)
