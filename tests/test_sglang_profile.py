"""SGLang's start-up rule (analyses/sizing/runtimes/sglang.py) against its source's arithmetic.

model_runner.py profile_max_num_token: rest = free_after_load − free_at_init × (1 − mem_fraction_static),
tokens = rest // cell. The logged case is tests/fixtures/engine_logs/sglang/ (test_engine_log_predictions).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.runtimes.common import CUDA_CONTEXT_BYTES, NCCL_BYTES
from paramscope.analyses.sizing.runtimes.sglang import default_mem_fraction, sglang_memory
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

LLAMA = ArchConfig(family="llama", architecture="LlamaForCausalLM", n_layers=32, hidden_size=4096, n_heads=32,
                   n_kv_heads=8, head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256,
                   context_length=131072)
WEIGHTS = 16_060_522_496
GPU = 80 * 2**30


def test_default_fraction_by_tp():
    # server_args.py: 0.88 at TP 1, 0.87 from 2, 0.85 from 4, 0.81 from 8, 0.79 from 16
    assert [default_mem_fraction(tp) for tp in (1, 2, 3, 4, 8, 16, 32)] == [0.88, 0.87, 0.87, 0.85, 0.81,
                                                                            0.79, 0.79]


@pytest.mark.parametrize(("build", "tp", "gpu_mib", "expected"), [
    # mid-2025 (server_args.py __post_init__): round((gpu_mem − reserved) / gpu_mem, 3), what the round-5
    # logs apply: an RTX 5080 (16303 MiB): reserved (2.8 + 0.1) × 1024 → 0.818 (mineru-*); a 24 GB card
    # (24564 MiB) → 0.879 (maxuhl-*); a B200 (183359 MiB) at TP 8: 32 GiB → 0.821 (b200guide-*)
    ("mid-2025", 1, 16303, 0.818), ("mid-2025", 1, 24564, 0.879), ("mid-2025", 8, 183359, 0.821),
    # an H100 (81559 MiB) at TP 2: (9.5 + 1) × 1024
    ("mid-2025", 2, 81559, round((81559 - 10.5 * 1024) / 81559, 3)),
    # current (_handle_gpu_memory_settings): 512 + max(chunk, 2048) × 1.5 + cuda_graph_max_bs × 2 + TP/8 GiB.
    # An H100 at TP 1: chunk 8192, 256 graphs: 512 + 12288 + 512 + 128 = 13440 MiB → 0.835, the value
    # recent SGLang server_args lines print with chunked_prefill_size=8192 (the code index holds many)
    ("current", 1, 81559, 0.835),
    # an RTX 4090 at TP 4: chunk 2048, 80 graphs: 512 + 3072 + 160 + 512 = 4256 → 0.827
    ("current", 4, 24564, round((24564 - 4256) / 24564, 3)),
    # a B200 at TP 8: 16384 × 1.5 + 1024 + 512 + 1024 = 27136 → 0.852; above 60 GiB at least 10 GiB
    ("current", 8, 183359, round((183359 - 27136) / 183359, 3)),
    ("current", 1, 46068, round((46068 - (512 + 4096 * 1.5 + 64 + 128)) / 46068, 3)),  # an L40S: 4k, 32
    ("early-2025", 4, 81559, 0.85),
])
def test_default_fraction_by_build(build, tp, gpu_mib, expected):
    assert default_mem_fraction(tp, gpu_mib, build) == expected


def test_the_default_follows_the_gpu_and_the_build():
    from paramscope.analyses.sizing.memory import MemoryRequest, estimate
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("llama-3.1-8b")
    h100 = find_device("h100-sxm")
    current = estimate(model, MemoryRequest(runtime="sglang", context=8192, device=h100))
    early = estimate(model, MemoryRequest(runtime="sglang", context=8192, device=h100,
                                          options={"sglang_build": "early-2025"}))
    # 0.835, less the piecewise CUDA graphs' reserve of 0.5.10 on (58 × 8 MiB): 0.830
    assert any("mem_fraction_static 0.83 (the build default)" in line for line in current.explain)
    late = estimate(model, MemoryRequest(runtime="sglang", context=8192, device=h100,
                                         options={"sglang_build": "late-2025"}))
    assert any("mem_fraction_static 0.835 (the build default)" in line for line in late.explain)
    assert any("mem_fraction_static 0.88 (the build default)" in line for line in early.explain)
    assert current.kv_cache_bytes < early.kv_cache_bytes


@settings(max_examples=40)
@given(tp=st.sampled_from([1, 2, 4, 8]), fraction=st.floats(0.5, 0.95), kv=st.sampled_from([DType.BF16,
                                                                                           DType.F8_E4M3]))
def test_pool_is_the_sources_rule(tp, fraction, kv):
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, mem_fraction_static=fraction,
                      tensor_parallel=tp, kv_type=kv)
    free = GPU - CUDA_CONTEXT_BYTES - (NCCL_BYTES if tp > 1 else 0)  # after init_torch_distributed
    weights = -(-WEIGHTS // tp) + 131072 * 128 * 4  # the shard and the RoPE cache (float32 on CUDA)
    cell = 32 * 2 * (8 // tp) * 128 * kv.type_size  # heads of this rank × head_dim × layers × (K, V)
    assert m.cell_bytes == cell
    assert m.tokens == max((int(free * fraction) - weights) // cell, 0)
    assert m.k_bytes == m.v_bytes == (m.tokens + 1) * cell // 2  # and the padded slot 0 (page_size 1)


def test_no_gpu_sizes_what_the_requests_need():
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, batch=2)
    assert m.tokens is None and m.fits
    assert m.kv.total_bytes == 2 * 8192 * 32 * 2 * 8 * 128 * 2


def test_too_little_memory_does_not_fit():
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=16 * 2**30)
    assert m.tokens == 0 and not m.fits
    assert any("would stop" in line for line in m.explain)


def test_sliding_layers_of_a_non_hybrid_architecture_share_one_pool_and_bad_fractions_are_refused():
    # an architecture SGLang does not build as hybrid-SWA (is_hybrid_swa_model: not a Llama) gets one pool
    # over every layer, the sliding ones holding the whole context (tests/test_sglang_pools.py: the rest)
    gemma_like = replace(LLAMA, sliding_window=4096, layer_types=("sliding", "full") * 16)
    plain = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, mem_fraction_static=0.85)
    slid = sglang_memory(gemma_like, WEIGHTS, context=8192, gpu_memory_bytes=GPU, mem_fraction_static=0.85)
    assert slid.tokens == plain.tokens
    with pytest.raises(UnsupportedError):
        sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, mem_fraction_static=1.0)


def test_size_with_the_sglang_runtime():
    r = paramscope.size("llama-3.1-8b", runtime="sglang", gpu="h100", context=8192,
                        mem_fraction_static=0.9)
    out = r.to_json()
    assert out["runtime"] == "sglang"
    assert any("KV pool of" in note for note in out["notes"])


def test_fit_gives_the_sglang_command_when_asked_for_sglang():
    commands = paramscope.fit("llama-3.1-8b", gpu="h100", runtime="sglang",
                              mem_fraction_static=0.8).to_json()["commands"]
    assert ("python -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B --tp 1 "
            "--context-length 8192 --max-running-requests 1 --mem-fraction-static 0.8") in commands
    assert not any("sglang" in c for c in paramscope.fit("llama-3.1-8b", gpu="h100").to_json()["commands"])


def test_nccl_by_interconnect():
    # GPUs on PCIe only (SGLang prints vLLM's "Custom allreduce is disabled because it's not supported on more
    # than two PCIe-only GPUs"): NCCL's smaller footprint, as in the vLLM profile (runtimes/common.py)
    from paramscope.analyses.sizing.runtimes.common import NCCL_PCIE_BYTES

    nv = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, tensor_parallel=4)
    pcie = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, tensor_parallel=4, nvlink=False)
    assert (nv.nccl_bytes, pcie.nccl_bytes) == (NCCL_BYTES, NCCL_PCIE_BYTES)
    assert pcie.free_bytes - nv.free_bytes == NCCL_BYTES - NCCL_PCIE_BYTES
    alone = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, nvlink=False)
    assert alone.nccl_bytes == 0  # one GPU: no NCCL at all


def test_a_decode_step_reads_the_requests_kv_not_the_whole_pool():
    # the KV line under SGLang is the pool it allocates (12 requests of 32K here); one decode step of one
    # request reads that request's cache only
    from paramscope.analyses.sizing.memory import MemoryRequest, estimate
    from paramscope.analyses.sizing.speed import speed_for
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("llama-3.1-70b")
    h100 = find_device("h100-sxm")
    est = estimate(model, MemoryRequest(runtime="sglang", context=32768, device=h100, n_devices=4))
    one_request = 80 * 32768 * 2 * 8 * 128 * 2
    assert est.kv_cache_bytes > 10 * one_request and est.kv_read_bytes == one_request
    assert speed_for(model, est, h100, 4).kv_bytes == one_request
