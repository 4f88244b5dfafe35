"""vLLM's model runner: which one a release picks for a model (engine.py default_model_runner, read in
config/vllm.py use_v2_model_runner of the 0.25.0 to 0.34.0 sources), and what it changes: model runner V2
took no CUDA graph estimate into the budget before 0.29 (its profile_cudagraph_memory returned 0)."""

from __future__ import annotations

from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.vllm.engine import default_model_runner
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.errors import UsageError
from paramscope.records import replace

GIB = 1 << 30
QWEN35 = Path(__file__).parent / "fixtures" / "configs" / "Qwen__Qwen3.5-27B.json"


@pytest.fixture(scope="module")
def configs():
    return {**{name: paramscope.open_model(name).config for name in ("qwen3-8b", "gpt-oss-120b")},
            "qwen3.5-27b": paramscope.open_model(str(QWEN35)).config}


@pytest.mark.parametrize(("name", "release", "platform", "runner"), [
    ("qwen3-8b", (0, 21, 0), "cuda", "v1"),  # V2 behind VLLM_USE_V2_MODEL_RUNNER=1 only
    ("qwen3-8b", (0, 25, 0), "cuda", "v2"),  # a dense text model
    ("qwen3-8b", (0, 28, 0), "rocm", "v2"),
    ("gpt-oss-120b", (0, 28, 0), "cuda", "v1"),  # an MoE not in DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES
    ("gpt-oss-120b", (0, 29, 0), "cuda", "v2"),  # every model from 0.29
    ("qwen3.5-27b", (0, 28, 0), "cuda", "v1"),  # a hybrid (linear attention)
    ("qwen3.5-27b", (0, 30, 0), "cuda", "v2"),
])
def test_the_release_picks_the_runner(configs, name, release, platform, runner):
    assert default_model_runner(configs[name], release, platform) == runner


def test_listed_moe_and_unsupported_speculation(configs):
    def runner(architecture, release, platform):
        return default_model_runner(replace(configs["gpt-oss-120b"], architecture=architecture), release,
                                    platform)

    assert runner("DeepseekV2ForCausalLM", (0, 25, 0), "cuda") == "v2"
    # KimiK3 and DeepSeek-V4 stay on V1 on ROCm before 0.29; DeepSeek-V3.2/V4 and GLM-5 from 0.29 too
    assert runner("DeepseekV4ForCausalLM", (0, 28, 0), "cuda") == "v2"
    assert runner("DeepseekV4ForCausalLM", (0, 28, 0), "rocm") == "v1"
    assert runner("GlmMoeDsaForCausalLM", (0, 30, 0), "rocm") == "v1"
    assert runner("GlmMoeDsaForCausalLM", (0, 30, 0), "cuda") == "v2"
    # a speculative method V2 does not run takes V1; MTP it runs
    dense = configs["qwen3-8b"]
    assert default_model_runner(dense, (0, 30, 0), "cuda", "ngram") == "v1"
    assert default_model_runner(dense, (0, 30, 0), "cuda", "mtp") == "v2"


def test_v2_before_0_29_takes_no_graph_estimate(configs):
    # Qwen3-8B on 0.28 (V2 by default): the graphs are captured after the cache is sized, outside the
    # reservation; asked for V1, its estimate comes out of the KV cache; from 0.29 V2 takes it too
    cfg = configs["qwen3-8b"]
    kw = dict(context=8192, gpu_memory_bytes=44 * GIB, gpu_memory_utilization=0.9)
    v2 = vllm_memory(cfg, 16 * GIB, release=(0, 28, 0), **kw)
    v1 = vllm_memory(cfg, 16 * GIB, release=(0, 28, 0), model_runner="v1", **kw)
    assert (v2.params.model_runner, v1.params.model_runner) == ("v2", "v1")
    assert v2.cuda_graph_bytes == 0 < v2.captured_graph_bytes
    assert v1.cuda_graph_bytes > 0 == v1.captured_graph_bytes
    assert v2.pool.available_bytes - v1.pool.available_bytes == v1.cuda_graph_bytes
    later = vllm_memory(cfg, 16 * GIB, release=(0, 29, 0), **kw)
    assert later.params.model_runner == "v2" and later.cuda_graph_bytes == v1.cuda_graph_bytes
    assert "model runner V2" in v2.explain[0] and "model runner V2" not in v1.explain[0]
    with pytest.raises(UsageError, match="model runner 'v3'"):
        vllm_memory(cfg, 16 * GIB, release=(0, 28, 0), model_runner="v3", **kw)


def test_the_option_reaches_the_estimate():
    # the runner asked for on the command line: V1's estimate is in the budget's buffers, V2's graphs
    # outside it (the overhead)
    v2 = paramscope.size("qwen3-8b", runtime="vllm", gpu="l40s", vllm_release="0.28").estimate
    v1 = paramscope.size("qwen3-8b", runtime="vllm", gpu="l40s", vllm_release="0.28",
                         vllm_model_runner="v1").estimate
    assert v1.compute_bytes > v2.compute_bytes and v1.overhead_bytes < v2.overhead_bytes
