"""vLLM 0.26+'s sliding-window admission (every batch in flight) and 0.28+'s batch defaults on GPUs of
160 GiB and more: the rules that explained Gemma 4's whole-context logs (docs/runtimes.md 4.0u)."""

from __future__ import annotations

import engine_log_compare
import engine_logs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    HUGE_GPU_DEFAULTS,
    batch_defaults,
    concurrent_batches,
)
from paramscope.analyses.sizing.runtimes.vllm.kv import request_blocks
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.model.dtypes import DType
from paramscope.records import replace

GiB = 1 << 30


def _record(rid: str):
    return next(r for r in engine_logs.load_all() if r.id == rid)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def vllm_admission_blocks(window: int, chunk: int, context: int, block: int, async_on: bool, pp: int,
                          release: tuple[int, int]) -> int:
    """vLLM's SlidingWindowSpec.max_admission_blocks_per_request as its releases write it: 0.25.0 takes
    max_num_batched_tokens; 0.26.0 to 0.33 VllmConfig.max_in_flight_tokens = max_concurrent_batches ×
    max_num_batched_tokens, where max_concurrent_batches is 2 with async scheduling at PP 1 (the V1 model
    runner), else the pipeline's size."""
    if release < (0, 26):
        in_flight = chunk
    else:
        batches = 2 if async_on and pp <= 1 else pp
        in_flight = batches * chunk
    return _cdiv(min(window - 1 + in_flight, context), block) + 1


@settings(max_examples=200, deadline=None)
@given(window=st.integers(1, 8192), chunk=st.sampled_from([512, 2048, 8192, 16384, 32768]),
       context=st.integers(1024, 262144), block=st.sampled_from([16, 32, 64]),
       async_on=st.booleans(), pp=st.integers(1, 4), old=st.booleans())
def test_sliding_admission_follows_the_release(window, chunk, context, block, async_on, pp, old):
    cfg = paramscope.open_model("gpt-oss-20b").config
    cfg = replace(cfg, sliding_window=window)
    release = (0, 25, 0) if old else (0, 30, 0)
    p = vllm_memory(cfg, 13 * GiB, context=context, max_num_batched_tokens=chunk, max_num_seqs=256,
                    block_size=block, async_scheduling=async_on, dtype=DType.BF16, release=release).params
    p = replace(p, in_flight_batches=concurrent_batches(release, async_on, pp))
    expected = vllm_admission_blocks(window, chunk, context, block, async_on, pp, release[:2])
    assert request_blocks("sliding", cfg, p) == expected
    assert request_blocks("full", cfg, p) == _cdiv(context, block)


def test_async_scheduling_is_on_unless_asked_off():
    now, before = (0, 26, 0), (0, 25, 1)
    assert concurrent_batches(now, None, 1) == concurrent_batches(now, True, 1) == 2
    assert concurrent_batches(now, False, 1) == 1
    assert concurrent_batches(now, None, 4) == 4
    assert concurrent_batches(before, True, 1) == concurrent_batches((0, 8, 0), None, 2) == 1
    # a family chosen by name takes its newest release: "v1-0.16" is 0.20.2, one chunk
    cfg = paramscope.open_model("gpt-oss-20b").config
    assert vllm_memory(cfg, 13 * GiB, context=32768, engine="v1-0.16").params.in_flight_batches == 1


@pytest.mark.parametrize("rid", [
    "r20v-gemma4-31b-it-bf16-b300-16k-v0260",  # 1,023 + 2 × 8,192 ≥ 16,384
    "r21v-gemma4-31b-it-bf16-mi300x-rocm-32k-v0311rc1",  # 1,023 + 2 × 16,384 ≥ 32,768
    "r21v-gemma4-26b-a4b-it-bf16-mi300x-rocm-32k-v0311rc1",
    "r21v-gemma4-e4b-it-bf16-mi300x-rocm-32k-v0311rc1",
    "amdgputools-gemma4-e2b-mi300x-rocm-v0291dev",  # 16,384 by default on 191.69 GiB, 511 + 32,768
    "r12q-gemma4-e2b-qat-w4a16-t4-fp16-v0290",  # 511 + 2 × 2,048 on a T4
    "r13v-gemma4-e4b-it-3090ti-v0221",  # 0.22.1, async on: one chunk still
    "r19q-gemma4-26b-a4b-nvfp4-modelopt-5090-wsl-256k-v0202",
])
def test_gemma4_logs_tokens_given_their_memory(rid):
    """Every Gemma 4 log's printed tokens, given its printed KV memory, within 0.1 % (before: +19 % to +96 %
    on the six of 0.26 and later, read then as a hybrid manager switched off)."""
    r = _record(rid)
    out = engine_log_compare.predict_vllm(engine_log_compare.open_record_model(r), r)
    printed = r.all("kv_tokens")[0].number
    assert out["kv_tokens" + engine_log_compare.GIVEN_KV] == pytest.approx(printed, rel=0.001)


def test_the_compare_tool_reads_async_scheduling_and_the_release():
    r13v = _record("r13v-gemma4-e4b-it-3090ti-v0221")  # 0.22.1 prints async on: still one chunk
    assert engine_log_compare.async_scheduling(r13v) is True
    assert engine_log_compare.record_release(r13v) == (0, 22, 1)
    assert engine_log_compare.async_scheduling(
        _record("r21v-gemma4-31b-it-bf16-mi300x-rocm-32k-v0311rc1")) is True  # 'async_scheduling': True
    assert engine_log_compare.async_scheduling(_record("r20v-gemma4-31b-it-bf16-b300-16k-v0260")) is None


def test_gpus_of_160_gib_batch_16384_tokens_from_0_28():
    """EngineArgs.get_batch_defaults of 0.28+: B200/B300/MI300X class GPUs get 16384 tokens and 1024
    sequences under `vllm serve`; H100/H200 8192; an A100 or a smaller GPU 2048 and 256."""
    mi300x = int(191.69 * GiB)
    assert batch_defaults("serve", mi300x, "AMD Instinct MI300X") == HUGE_GPU_DEFAULTS == (16384, 1024)
    assert batch_defaults("llm", 268 * GiB, "NVIDIA B300") == (16384, 1024)
    assert batch_defaults("serve", mi300x, "AMD Instinct MI300X", (0, 27, 1)) == (8192, 1024)
    # a GB10 (DGX Spark, 119.7 GiB) keeps the small tier from 0.33
    assert batch_defaults("serve", int(119.7 * GiB), "NVIDIA GB10", (0, 32, 0)) == (8192, 1024)
    assert batch_defaults("serve", int(119.7 * GiB), "NVIDIA GB10", (0, 33, 0)) == (2048, 256)
    assert batch_defaults("serve", int(139.8 * GiB), "NVIDIA H200") == (8192, 1024)
    assert batch_defaults("serve", int(79.3 * GiB), "NVIDIA A100-SXM4-80GB") == (2048, 256)
    assert batch_defaults("serve", None, None) == (8192, 1024)
    cfg = paramscope.open_model("qwen3-8b").config
    p = vllm_memory(cfg, 16 * GiB, context=8192, gpu_memory_bytes=192 * GiB).params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (16384, 1024)
    p = vllm_memory(cfg, 16 * GiB, context=8192, gpu_memory_bytes=192 * GiB, engine="v1-0.16").params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (8192, 1024)


def test_size_takes_async_scheduling():
    """`size --async-scheduling off` holds one step beyond a sliding layer's window: Gemma 4 31B at 32K
    on an H100, 1,023 + 8,192 tokens rather than 1,023 + 16,384."""
    from paramscope.app.size import size

    cfg = "tests/fixtures/engine_logs/configs/gemma-4-31b.config.json"
    on = size(cfg, runtime="vllm", gpu="h100", context=32768).estimate
    off = size(cfg, runtime="vllm", gpu="h100", context=32768, async_scheduling="off").estimate
    assert off.kv_cache_bytes < on.kv_cache_bytes
    assert any("2 step(s) in flight" in line for line in on.explain)
    assert any("1 step(s) in flight" in line for line in off.explain)
