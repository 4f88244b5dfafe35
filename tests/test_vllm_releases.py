"""Rules that changed inside vLLM's "v1" family, keyed by the release they begin with (runtimes/vllm/
engine.py ``Release``; docs/runtimes.md 1): --vllm-release, the family it picks, and 0.34's KV cache sized
after warmup (the extensible KV cache), read in the 0.34.0 sdist."""

from __future__ import annotations

import math

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    covers,
    family_for_release,
    family_range,
    parse_release,
)
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    CUDA_CONTEXT_BYTES,
    GRAPH_BYTES_PER_LAYER_SIZE,
    captured_graphs,
)
from paramscope.errors import UnsupportedError

GiB = 1 << 30


@pytest.mark.parametrize(("text", "release", "family"), [
    ("0.34", (0, 34, 0), "v1"), ("0.21.0", (0, 21, 0), "v1"), ("v0.19.1rc2", (0, 19, 1), "v1-0.16"),
    ("0.15.1", (0, 15, 1), "v1-early"), ("0.12.0", (0, 12, 0), "v1-0.12"), ("0.11.2", (0, 11, 2), "v1-0.11"),
    ("0.10.1.1", (0, 10, 1), "v1-0.9"), ("0.9.1", (0, 9, 1), "v1-0.8"), ("0.8.0", (0, 8, 0), "v1-0.8"),
    ("0.7.3", (0, 7, 3), "v0"), ("0.6.4.post1", (0, 6, 4), "v0-0.6"), ("0.6.3", (0, 6, 3), "v0-early"),
    ("0.2.5", (0, 2, 5), "v0-2023"),
])
def test_a_release_picks_its_family(text, release, family):
    assert parse_release(text) == release
    assert family_for_release(release) == family
    assert covers(family, release)
    first, until = family_range(family)
    assert first <= release and (until is None or release < until)


def test_size_takes_the_release_and_refuses_a_family_that_does_not_run_it():
    from paramscope.app.size import size

    old = size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release="0.19.1").estimate
    assert any("the rules of 0.19.1" in line for line in old.explain)
    assert any("V1-0.16 engine" in line for line in old.explain)
    with pytest.raises(UnsupportedError, match="not of the v1 family"):
        size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release="0.19", engine="v1")
    with pytest.raises(UnsupportedError, match=r"0\.27 or 0\.27\.1"):
        size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release="latest")


def test_0_34_sizes_the_cache_after_warmup():
    """extensible_kv_cache.measure_kv_cache_bytes: min(requested − non_kv, headroom − margin) − T, with
    requested = ceil(total × 1.0) unless --gpu-memory-utilization is given, margin = max(1 GiB, 0.75 T),
    the graphs as captured inside the budget, blocks of 64 tokens."""
    cfg = paramscope.open_model("qwen3-8b").config
    total = 85_061_827_297  # an H100's CUDA total
    m = vllm_memory(cfg, 16 * GiB, context=32768, gpu_memory_bytes=total, release=(0, 34, 0))
    p = m.params
    assert p.extensible and p.gpu_memory_utilization == 1.0 and p.block_size == 64
    margin = max(1 * GiB, int(0.75 * m.activation_bytes))
    assert m.pool.reserved_bytes == min(math.ceil(total * 1.0), total - CUDA_CONTEXT_BYTES - margin)
    graphs = GRAPH_BYTES_PER_LAYER_SIZE[False] * cfg.n_layers * captured_graphs(cfg, p)
    assert m.cuda_graph_bytes == graphs and m.captured_graph_bytes == 0
    assert m.pool.available_bytes == (m.pool.reserved_bytes - m.model_bytes - m.activation_bytes - graphs
                                      - m.non_torch_bytes)
    # an explicit utilization caps it as before; --kv-cache-memory-bytes turns it off
    capped = vllm_memory(cfg, 16 * GiB, context=32768, gpu_memory_bytes=total, release=(0, 34, 0),
                         gpu_memory_utilization=0.5)
    assert capped.pool.reserved_bytes == math.ceil(total * 0.5)
    given = vllm_memory(cfg, 16 * GiB, context=32768, gpu_memory_bytes=total, release=(0, 34, 0),
                        kv_cache_memory_bytes=20 * GiB)
    assert not given.params.extensible and given.pool.available_bytes == 20 * GiB
    assert given.params.block_size == 64  # 0.34's default block, extensible or not (DEFAULT_BLOCK_SIZE)
    # 0.33 had none of it
    before = vllm_memory(cfg, 16 * GiB, context=32768, gpu_memory_bytes=total, release=(0, 33, 0))
    assert not before.params.extensible and before.params.gpu_memory_utilization == 0.92
    assert before.params.block_size == 16


@pytest.mark.parametrize(("gpu", "platform", "extensible"), [
    ("h100", "cuda", True), ("mi300x", "rocm", True), ("arc-b580", "xpu", False), ("m4-max", "metal", False),
    ("24GiB", "cuda", True),  # a size alone: taken as an NVIDIA GPU
])
def test_0_34_extensible_cache_only_on_cuda_and_rocm(gpu, platform, extensible):
    """config/vllm.py _resolve_extensible_kv_cache: "it is only supported on CUDA and ROCm" (off where
    current_platform.is_cuda_alike() is false); elsewhere 0.92 stays the default utilization, and ROCm keeps a
    3 GiB margin (KV_CACHE_MARGIN_FLOOR_BYTES)."""
    from paramscope.app.size import size

    est = size("qwen3-8b", runtime="vllm", gpu=gpu, vllm_release="0.34").estimate
    assert any("no log checks" in n for n in est.notes)  # a release past the newest log, on any platform
    cfg = paramscope.open_model("qwen3-8b").config
    m = vllm_memory(cfg, 16 * GiB, context=4096, gpu_memory_bytes=64 * GiB, release=(0, 34, 0),
                    platform=platform)
    assert m.params.extensible is extensible and m.params.platform == platform
    assert m.params.gpu_memory_utilization == (1.0 if extensible else 0.92)
    if extensible:
        floor = 3 * GiB if platform == "rocm" else 1 * GiB
        assert m.pool.reserved_bytes == 64 * GiB - CUDA_CONTEXT_BYTES - max(floor,
                                                                           int(0.75 * m.activation_bytes))


def test_a_gpu_named_in_a_log_gives_its_platform():
    from paramscope.analyses.sizing.runtimes.vllm.engine import platform_from_name

    assert platform_from_name("AMD Instinct MI300X") == "rocm"
    assert platform_from_name("NVIDIA H100 80GB HBM3") == "cuda"
    assert platform_from_name(None) == "cuda"


def test_0_34_is_said_to_be_unchecked():
    from paramscope.app.size import size

    notes = size("qwen3-8b", runtime="vllm", gpu="h100", vllm_release="0.34").estimate.notes
    assert any("no log checks" in n for n in notes)
    default = size("qwen3-8b", runtime="vllm", gpu="h100").estimate.notes
    assert not any("no log checks" in n for n in default)


def test_a_family_named_beside_a_release_must_run_it():
    """A release between two families' listed releases belongs to the earlier family (0.20.5: v1-0.16);
    V0 ran to 0.10 beside V1; the current family is open-ended."""
    assert covers("v1-0.16", (0, 20, 5)) and not covers("v1", (0, 20, 5))
    assert covers("v0", (0, 8, 5)) and covers("v1-0.8", (0, 8, 5)) and not covers("v0", (0, 11, 0))
    assert covers("v1", (0, 99, 0))
    assert parse_release("0.10.1.1") == (0, 10, 1)
    assert parse_release("v0.31.1rc1.dev23+g43b4aaea3") == (0, 31, 1)
    for bad in ("abc0.27x", "latest", "0.27x"):
        with pytest.raises(UnsupportedError):
            parse_release(bad)
