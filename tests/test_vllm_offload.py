"""vLLM --cpu-offload-gb and --kv-cache-memory-bytes (runtimes/weight_offload.py, runtimes/vllm/).

The offload rule is vLLM's maybe_offload_to_cpu / UVAOffloader._maybe_offload_to_cpu: the decoder layers
first to last, each layer's parameters in registration order, each moved while the bytes moved so far are
below the limit. The expected figures are worked out here from that rule; the engine log that checks it
end to end is vllm/6496-* (tests/test_engine_log_predictions.py).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.analyses.sizing.runtimes.vllm.adapter import parse_byte_count, stage_offload
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.weight_offload import cpu_offload, layer_parameters
from paramscope.errors import ParamscopeError
from paramscope.knowledge.hardware import find_device

GiB = 1 << 30
# Llama 3.1 70B at TP 1: one layer's parameters as vLLM registers them
QKV, O_PROJ, GATE_UP, DOWN, NORM = 167_772_160, 134_217_728, 939_524_096, 469_762_048, 16_384
LAYER = QKV + O_PROJ + GATE_UP + DOWN + 2 * NORM


@pytest.fixture(scope="module")
def llama70b():
    return paramscope.open_model("llama-3.1-70b")


def test_layer_parameters_are_vllms_fused_ones_in_registration_order(llama70b):
    layers = layer_parameters(llama70b, 1)
    assert list(layers) == list(range(80))
    assert [size for _, size in layers[43]] == [QKV, O_PROJ, GATE_UP, DOWN, NORM, NORM]
    assert [name.removesuffix(".weight").rsplit(".", 1)[-1] for name, _ in layers[0]][:4] == [
        "qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    # TP 2: every matrix halved; the 8 KV heads split 4 and 4; norms whole
    assert [size for _, size in layer_parameters(llama70b, 2)[0]] == [
        QKV // 2, O_PROJ // 2, GATE_UP // 2, DOWN // 2, NORM, NORM]


def test_pr6496_limit_of_70_gib(llama70b):
    # 43 whole layers, then layer 43's qkv, o, gate_up and down: the limit is passed at down_proj
    moved = cpu_offload(llama70b, 1, 70 * GiB)
    assert moved.moved_bytes == 43 * LAYER + QKV + O_PROJ + GATE_UP + DOWN == 75_297_554_432
    assert moved.whole_layers == 43 and moved.parameters == 43 * 6 + 4
    assert moved.moved_tails == 0  # every one a multiple of 2 MiB


def test_limits_at_the_edges(llama70b):
    assert cpu_offload(llama70b, 1, 0).moved_bytes == 0
    one = cpu_offload(llama70b, 1, 1)  # anything above zero moves the first parameter whole
    assert one.moved_bytes == QKV and one.parameters == 1
    exact = cpu_offload(llama70b, 1, LAYER)  # reached exactly: nothing more
    assert exact.moved_bytes == LAYER and exact.whole_layers == 1
    everything = cpu_offload(llama70b, 1, 1 << 50)  # all decoder layers; embedding and LM head stay
    assert everything.moved_bytes == 80 * LAYER and everything.whole_layers == 80
    assert llama70b.tensor_bytes - everything.moved_bytes == 2 * 128256 * 8192 * 2 + 8192 * 2


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=140 * GiB), st.sampled_from([1, 2, 4, 8]))
def test_the_smallest_prefix_that_reaches_the_limit(limit, tp):
    model = paramscope.open_model("llama-3.1-70b")
    sizes = [size for params in layer_parameters(model, tp).values() for _, size in params]
    moved = cpu_offload(model, tp, limit)
    prefix = sizes[:moved.parameters]
    assert moved.moved_bytes == sum(prefix)
    if moved.parameters < len(sizes):  # stopped: reached the limit, and one parameter fewer had not
        assert sum(prefix) >= limit > sum(prefix[:-1])
    else:
        assert sum(sizes) <= limit or sum(prefix[:-1]) < limit


def test_each_pipeline_stage_moves_its_own_layers(llama70b):
    first, second = stage_offload(llama70b, llama70b.tensor_bytes, 1, 10 * GiB, (40, 40))
    assert first.moved_bytes == second.moved_bytes  # identical layers: each worker from its first
    assert first.moved_bytes == cpu_offload(llama70b, 1, 10 * GiB, (40, 80)).moved_bytes


def test_repriced_weights_scale_the_parameters(llama70b):
    (half,) = stage_offload(llama70b, llama70b.tensor_bytes // 2, 1, 10 * GiB, (80,))
    (whole,) = stage_offload(llama70b, llama70b.tensor_bytes, 1, 10 * GiB, (80,))
    assert half.parameters > whole.parameters  # halved parameters: more of them under the same limit
    assert half.moved_bytes >= 10 * GiB


def test_weights_per_gpu_and_host_memory(llama70b):
    dev = find_device("h100-sxm")
    base = estimate(llama70b, MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=2))
    off = estimate(llama70b, MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=2,
                                           options={"cpu_offload_gb": 20}))
    (moved,) = stage_offload(llama70b, llama70b.tensor_bytes, 2, 20 * GiB, (80,))
    assert off.host_bytes == 2 * moved.moved_bytes
    assert off.per_device[0].weights_bytes == base.per_device[0].weights_bytes - moved.moved_bytes
    # the GPU memory freed goes to KV blocks
    kw = {"context": 8192, "tensor_parallel": 2, "gpu_memory_bytes": dev.usable_bytes}
    with_offload = vllm_memory(llama70b.config, llama70b.tensor_bytes, offload=(moved,), **kw)
    without = vllm_memory(llama70b.config, llama70b.tensor_bytes, **kw)
    assert with_offload.pool and without.pool
    assert with_offload.pool.available_bytes - without.pool.available_bytes == moved.moved_bytes
    assert any("--cpu-offload-gb" in n for n in off.notes)


def test_kv_cache_memory_bytes_sizes_the_pool(llama70b):
    m = vllm_memory(llama70b.config, llama70b.tensor_bytes, context=8192, tensor_parallel=2,
                    gpu_memory_bytes=79 * GiB, kv_cache_memory_bytes=4 * GiB)
    assert m.pool is not None and m.pool.available_bytes == 4 * GiB
    assert m.pool.num_blocks == 4 * GiB // m.layout.block_bytes
    assert m.pool.reserved_bytes == (m.model_bytes + m.activation_bytes + m.cuda_graph_bytes
                                     + m.non_torch_bytes + 4 * GiB)
    assert m.fits
    too_big = vllm_memory(llama70b.config, llama70b.tensor_bytes, context=8192, tensor_parallel=2,
                          gpu_memory_bytes=79 * GiB, kv_cache_memory_bytes=60 * GiB)
    assert not too_big.fits and too_big.over_gpu_bytes == too_big.total_bytes - 79 * GiB > 0
    assert too_big.shortfall_bytes >= too_big.over_gpu_bytes
    assert any("would stop" in line for line in too_big.explain)


@pytest.mark.parametrize(("text", "expected"), [
    ("30000000000", 30_000_000_000), ("30g", 30 * 10**9), ("25.6k", 25_600), ("28Gi", 28 * GiB),
    ("512Mi", 512 << 20), ("", None), (None, None),
])
def test_byte_counts_as_vllm_reads_them(text, expected):
    assert parse_byte_count(text, "--kv-cache-memory-bytes") == expected


@pytest.mark.parametrize("text", ["12G", "1.5Gi", "lots", "-3"])
def test_ambiguous_or_bad_byte_counts_are_refused(text):
    with pytest.raises(ParamscopeError):
        parse_byte_count(text, "--kv-cache-memory-bytes")


def test_fit_keeps_offloaded_weights_off_the_device_and_checks_them_against_ram(llama70b):
    from paramscope.analyses.sizing.fit import fit

    dev = find_device("rtx-4090")
    req = MemoryRequest(runtime="vllm", context=8192, device=dev, options={"cpu_offload_gb": 120})
    (moved,) = stage_offload(llama70b, llama70b.tensor_bytes, 1, 120 * GiB, (80,))
    small = fit(llama70b, req, ram_bytes=64 * GiB)
    assert small.one_device.host_bytes == moved.moved_bytes
    assert small.host_fits_ram is False and "host memory" in small.verdict
    assert f"needs {small.one_device.total_bytes - moved.moved_bytes:,} B" in small.explain[0]
    assert fit(llama70b, req, ram_bytes=256 * GiB).host_fits_ram is True


def test_kv_cache_memory_bytes_is_the_kv_line_and_zero_means_unset(llama70b):
    dev = find_device("h100-sxm")
    base = {"runtime": "vllm", "context": 8192, "device": dev, "n_devices": 2}
    asked = estimate(llama70b, MemoryRequest(**base, options={"kv_cache_memory_bytes": "4Gi"}))
    # the cache asked for is allocated whole: 4 GiB of 32 KiB-a-layer blocks on each GPU
    page = 16 * 2 * 4 * 128 * 2 * 80
    assert asked.kv_cache_bytes == 2 * (4 * GiB // page) * page
    assert asked.kv_read_bytes == 2 * 80 * 8192 * 2 * 4 * 128 * 2  # one request's cache
    zero = estimate(llama70b, MemoryRequest(**base, options={"kv_cache_memory_bytes": "0"}))
    plain = estimate(llama70b, MemoryRequest(**base))
    assert zero.notes == plain.notes  # vLLM: `if kv_cache_memory_bytes := ...`, 0 is not set


def test_mtp_modules_are_not_decoder_layers():
    from paramscope.model import Tensor
    from paramscope.model.dtypes import DType
    from paramscope.records import replace

    model = paramscope.open_model("llama-3.1-8b")
    extra = Tensor("mtp.layers.0.mlp.down_proj.weight", DType.BF16, (4096, 14336), 0)
    with_mtp = replace(model, tensors=(*model.tensors, extra))
    assert layer_parameters(with_mtp, 1) == layer_parameters(model, 1)


def test_repriced_weights_move_each_tensor_at_its_repriced_size(llama70b):
    # --weights int4: a layer's matrices at 4 bits with group-128 scales, its norms in bf16 (reprice):
    # qkv 43,581,440 + o 34,865,152 + gate_up 244,056,064 + down 122,028,032 + 2 × 16,384 = 444,563,456 B
    (moved,) = stage_offload(llama70b, 0, 1, 10 * GiB, (80,), "int4")
    layer = 43_581_440 + 34_865_152 + 244_056_064 + 122_028_032 + 2 * 16_384
    # 24 layers, then layer 24's qkv_proj and o_proj, which passes the limit
    assert moved.whole_layers == 24 and moved.moved_bytes >= 10 * GiB > moved.moved_bytes - 34_865_152
    assert moved.moved_bytes == 24 * layer + 43_581_440 + 34_865_152 and moved.parameters == 24 * 6 + 2
    assert moved.moved_tails == 0  # re-priced weights: "Model loading took" counts no tails
