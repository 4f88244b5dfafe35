"""Rules found on the blind engine-log rounds 18 to 20 (tests/fixtures/engine_logs/*/r18*-* … r20*-*)."""

from __future__ import annotations

import engine_log_compare
import engine_logs
import pytest

import paramscope
from paramscope.analyses.sizing.kv_cache import kv_cache_for_context
from paramscope.analyses.sizing.runtimes.llamacpp.kv import with_mla_v_cache
from paramscope.analyses.sizing.runtimes.vllm.engine import TOKENS_REPORTED_RELEASE

MiB = 1 << 20


def _record(rid: str):
    return next(r for r in engine_logs.load_all() if r.id == rid)


def test_llamacpp_builds_before_the_v_less_cache_keep_the_latent_as_v_too():
    """llama.cpp from PR #12801 to PR #19067 (January 2026): beside each MLA layer's latent K row (512 +
    64), a V row of kv_lora_rank. DeepSeek-V3-0324 at 16,384 cells on b5331 printed "K (f16): 1098.00 MiB,
    V (f16): 976.00 MiB"; current builds allocate no V."""
    cfg = paramscope.open_model("deepseek-v3").config
    now = kv_cache_for_context(cfg, 16384)
    then = kv_cache_for_context(with_mla_v_cache(cfg), 16384)
    assert (now.k_bytes, now.v_bytes) == (61 * 16384 * 576 * 2, 0)
    assert (then.k_bytes, then.v_bytes) == (1098 * MiB, 976 * MiB)
    assert with_mla_v_cache(paramscope.open_model("llama-3.1-8b").config).extra.get("mla_v_cache") is None
    # the compare tool takes it from the record's build number
    r = _record("r20l-ik394-deepseek-v3-0324-udq2kxl-4gpu-ot-fa-b5331")
    assert engine_log_compare.llamacpp_config(engine_log_compare.open_record_model(r), r).extra["mla_v_cache"]


@pytest.mark.parametrize(("rid", "by_concurrency"), [
    ("r19q-gemma4-26b-a4b-nvfp4-modelopt-5090-wsl-256k-v0202", True),  # 0.20.2: 256,000 × 1.117
    ("r17v-qwen36-35b-a3b-nvfp4-wsl-64k-seq1-v0200", False),  # 0.20.0 still counts the blocks
])
def test_vllm_0_20_2_reports_tokens_by_concurrency(rid, by_concurrency):
    r = _record(rid)
    out = engine_log_compare.predict_vllm(engine_log_compare.open_record_model(r), r)
    tokens = out["kv_tokens" + engine_log_compare.GIVEN_KV]
    printed = r.all("kv_tokens")[0].number
    assert abs(tokens / printed - 1) < 0.002
    assert (engine_log_compare.release(r, 3) >= TOKENS_REPORTED_RELEASE) is by_concurrency


def test_the_late_2025_llamacpp_build_prices_the_mla_v_row():
    """`--llamacpp-build late-2025` (and the legacy families: b5331 is "legacy-no-swa"): DeepSeek-V3 at
    16,384 cells takes 1098 + 976 MiB, as b5331 printed; the current build 1098 only."""
    from paramscope.app.size import size

    kv = {b: size("deepseek-v3", weights="q4_k_m", context=16384, llamacpp_build=b).estimate.kv_cache_bytes
          for b in ("current", "late-2025", "legacy")}
    assert kv == {"current": 1098 * MiB, "late-2025": 2074 * MiB, "legacy": 2074 * MiB}
    assert size("deepseek-v3", weights="q4_k_m", context=16384,
                llamacpp_build="legacy-no-swa").estimate.kv_cache_bytes == 2074 * MiB


def test_an_older_llamacpp_reserves_no_output_for_pooled_embeddings():
    """b4410 and b5618 printed "output buffer size = 0.00 MiB" for pooled embedding runs (BGE-small's CLS,
    Qwen3-Embedding-8B with --pooling mean); unpooled embeddings keep logits and embeddings, as current
    builds and Ollama's runners do (mainline builds of then kept the embeddings only: not modelled)."""
    from paramscope.analyses.sizing.runtimes.llamacpp.compute import output_buffer

    cfg = paramscope.open_model("qwen3-8b").config
    both = (cfg.vocab_size + cfg.hidden_size) * 4
    assert output_buffer(cfg, 1, 1, embeddings=True, legacy=True, pooled=True) == 0
    assert output_buffer(cfg, 1, 1, embeddings=True, legacy=True, pooled=False) == both
    assert output_buffer(cfg, 1, 1, embeddings=True, legacy=False, pooled=True) == both
    r = _record("r22l-rocm4903-qwen3-embedding-8b-q8-7900xt-fa-ub2048-b5618")
    assert engine_log_compare.llamacpp_pooled(r) is True


def test_size_takes_llamacpp_embeddings_and_pooling():
    """`size --embeddings [--pooling P]` for llama.cpp: an output row holds n_embd floats beside the logits;
    a pooled run on a legacy build reserves none (b5618's "output buffer size = 0.00 MiB"); --pooling alone
    is refused rather than ignored."""
    from paramscope.app.size import size
    from paramscope.errors import UnsupportedError

    cfg = paramscope.open_model("qwen3-8b").config

    def compute(**kw):
        return size("qwen3-8b", weights="q8_0", context=4096, **kw).estimate.compute_bytes

    plain, embd = compute(), compute(embeddings=True)
    assert embd - plain == cfg.hidden_size * 4
    legacy = dict(embeddings=True, llamacpp_build="legacy")
    assert compute(pooling="mean", **legacy) == compute(pooling="none", **legacy) - (
        cfg.vocab_size + cfg.hidden_size) * 4
    with pytest.raises(UnsupportedError, match="--embeddings"):
        compute(pooling="mean")
