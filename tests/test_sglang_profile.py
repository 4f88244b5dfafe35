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


@settings(max_examples=40)
@given(tp=st.sampled_from([1, 2, 4, 8]), fraction=st.floats(0.5, 0.95), kv=st.sampled_from([DType.BF16,
                                                                                           DType.F8_E4M3]))
def test_pool_is_the_sources_rule(tp, fraction, kv):
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=GPU, mem_fraction_static=fraction,
                      tensor_parallel=tp, kv_type=kv)
    free = GPU - CUDA_CONTEXT_BYTES - (NCCL_BYTES if tp > 1 else 0)  # after init_torch_distributed
    weights = -(-WEIGHTS // tp) + 131072 * 128 * 2  # the shard and the RoPE cache
    cell = 32 * 2 * (8 // tp) * 128 * kv.type_size  # heads of this rank × head_dim × layers × (K, V)
    assert m.cell_bytes == cell
    assert m.tokens == max((int(free * fraction) - weights) // cell, 0)
    assert m.k_bytes == m.v_bytes == m.tokens * cell // 2


def test_no_gpu_sizes_what_the_requests_need():
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, batch=2)
    assert m.tokens is None and m.fits
    assert m.kv.total_bytes == 2 * 8192 * 32 * 2 * 8 * 128 * 2


def test_too_little_memory_does_not_fit():
    m = sglang_memory(LLAMA, WEIGHTS, context=8192, gpu_memory_bytes=16 * 2**30)
    assert m.tokens == 0 and not m.fits
    assert any("would stop" in line for line in m.explain)


def test_refuses_sliding_window_layers_and_bad_fractions():
    gemma_like = replace(LLAMA, sliding_window=4096, layer_types=("sliding", "full") * 16)
    with pytest.raises(UnsupportedError):
        sglang_memory(gemma_like, WEIGHTS, context=8192, gpu_memory_bytes=GPU)
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
