"""llama.cpp on several GPUs (--split-mode, --tensor-split): which layers, and so which KV cache and
weights, each GPU holds (runtimes/llamacpp/devices.py layer_devices, device_split).

The rule is llama-model.cpp load_tensors': split points = prefix sums of the shares (free memory by
default), normalised, in float; layer il of the offloaded ones (the output layer is il = n_layer) goes to
``upper_bound(splits, float(il - i_gpu_start) / act_gpu_layers)``. Checked against two real logs whose
per-device KV buffers llama.cpp printed: five MI50 (equal shares) and ik_llama.cpp's Nemotron-Ultra
with ``-ts 6.5,6,10,4``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.analyses.sizing.runtimes.llamacpp.devices import (
    device_split,
    layer_devices,
    parse_tensor_split,
)
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.llamacpp.offload import gpu_layer_start, offload
from paramscope.analyses.sizing.runtimes.llamacpp.params import BUILDS, OUTPUT_LAST_BUILDS
from paramscope.errors import ParamscopeError, UnsupportedError
from paramscope.knowledge.gguf_arch import arch_config as gguf_arch_config
from paramscope.knowledge.hardware import find_device
from paramscope.model.dtypes import DType

LOGS = Path(__file__).parent / "fixtures" / "engine_logs"
MiB = 1 << 20


def printed_kv_buffers(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?:CUDA|ROCm)\d KV buffer size = +([\d.]+) MiB", log)]


def test_five_mi50_equal_shares():
    """12369: 64 layers + output over five identical GPUs: 13, 13, 13, 13 and 12 layers (the output on the
    last); a layer's cache is 32768 cells x 8 KV heads x 128 x 2 (K, V) x 2 B = 128 MiB."""
    log = (LOGS / "llamacpp" / "12369-qwen-32b-f16-5xmi50-rocm-split.log").read_text()
    model = paramscope.open_model(str(LOGS / "configs" / "qwen2.5-32b.config.json"))
    cfg = model.config
    m = llamacpp_memory(cfg, model.tensor_bytes, n_ctx=32768, type_k=DType.F16, type_v=DType.F16)
    d = device_split(model, cfg, model.tensor_bytes, m.kv, 5, None, None, "layer")
    counts = [d.layers[:-1].count(i) for i in range(5)]
    assert counts == [13, 13, 13, 13, 12] and d.layers[-1] == 4
    layer = 32768 * 8 * 128 * 2 * 2
    assert list(d.kv) == [n * layer for n in counts]
    assert [b / MiB for b in d.kv] == printed_kv_buffers(log)


def _printed_array(log: str, name: str) -> list[int]:
    found = re.search(rf"{name} += \[([^\]]*)\]", log)
    assert found
    return [int(x) for x in found.group(1).split(",")]


def test_nemotron_ultra_tensor_split():
    """ik377: 162 layers (64 with 8 KV heads) + output, -ngl 163 -ts 6.5,6,10,4: the printed KV buffers
    are 22, 15, 17 and 10 attending layers' cache (19.5 MiB each: 12288 cells x 1024 x (34 + 18) / 32 B),
    plus a few KiB ik_llama.cpp adds per buffer."""
    path = LOGS / "llamacpp" / "ik377-nemotron-ultra-253b-q3kxl-4gpu-fa"
    log = path.with_suffix(".log").read_text()
    assert "-ts 6.5,6,10,4" in log
    heads = _printed_array(log, "n_head_kv")
    metadata = {"general.architecture": "deci", "deci.block_count": 162, "deci.embedding_length": 16384,
                "deci.attention.head_count": np.array(_printed_array(log, "n_head"), np.int32),
                "deci.attention.head_count_kv": np.array(heads, np.int32), "deci.attention.key_length": 128,
                "deci.attention.value_length": 128, "deci.vocab_size": 128256, "deci.context_length": 131072}
    cfg = gguf_arch_config(metadata, set(), 128256, "ultra.gguf")
    assert cfg is not None
    where = layer_devices(162, 4, 163, (6.5, 6.0, 10.0, 4.0))
    attending = [sum(1 for il in range(162) if where[il] == dev and heads[il]) for dev in range(4)]
    assert attending == [22, 15, 17, 10]
    m = llamacpp_memory(cfg, 0, n_ctx=12228, n_ubatch=512, n_batch=2048, type_k=DType.Q8_0,
                        type_v=DType.Q4_0, flash_attn=True, build="legacy-no-swa")
    model = paramscope.model.Model("gguf", "ultra.gguf", (), cfg)
    d = device_split(model, cfg, 0, m.kv, 4, 163, (6.5, 6.0, 10.0, 4.0), "layer")
    per_layer = 12288 * 1024 * (34 + 18) // 32
    assert list(d.kv) == [n * per_layer for n in attending]
    for predicted, printed in zip(d.kv, printed_kv_buffers(log), strict=True):
        assert 0 <= printed * MiB - predicted < 0.05 * MiB


@given(st.integers(1, 160), st.integers(2, 8), st.lists(st.floats(0.1, 10), min_size=8, max_size=8))
@settings(max_examples=200, deadline=None)
def test_split_is_contiguous_and_complete(n_layer, n_devices, shares):
    shares = tuple(shares[:n_devices])
    where = layer_devices(n_layer, n_devices, None, shares)
    assert len(where) == n_layer + 1 and min(where) >= 0
    assert list(where) == sorted(where)  # each GPU a contiguous run of layers, in device order
    assert where[-1] == max(where)  # the output layer with the last layers


@given(st.integers(1, 160), st.integers(2, 8))
@settings(max_examples=200, deadline=None)
def test_equal_shares_differ_by_one_layer_at_most(n_layer, n_devices):
    where = layer_devices(n_layer, n_devices)
    counts = [where.count(i) for i in range(n_devices)]  # the output layer counts as a layer
    assert max(counts) - min(counts) <= 1


def test_partial_offload_keeps_the_first_layers_on_the_host():
    # -ngl 78 of 81: the output layer first (PR 18148), so layers 0-2 on the host
    where = layer_devices(80, 2, 78)
    assert where[:3] == (-1, -1, -1) and where[-1] >= 0 and min(where[3:80]) >= 0
    # builds that offloaded the output layer last: layers 0-1 and the output on the host
    where = layer_devices(80, 2, 78, build="late-2025")
    assert where[:2] == (-1, -1) and where[-1] == -1 and min(where[2:80]) >= 0


@pytest.mark.parametrize("build", BUILDS)
@given(n_layer=st.integers(1, 120), ngl=st.integers(0, 130))
@settings(max_examples=60, deadline=None)
def test_gpu_layer_start_is_load_tensors(build, n_layer, ngl):
    """llama-model.cpp load_tensors, both rules: layer il (the output layer is il = n_layer) is on the GPU
    when il ≥ i_gpu_start and il − i_gpu_start < min(ngl, n_layer + 1); -ngl N offloads N layers."""
    capped, start, output = gpu_layer_start(n_layer, ngl, build)
    old = build in OUTPUT_LAST_BUILDS
    i_gpu_start = max(n_layer - ngl, 0) if old else max(n_layer + 1 - ngl, 0)
    on_gpu = [il >= i_gpu_start and il - i_gpu_start < capped for il in range(n_layer + 1)]
    assert (start, output, sum(on_gpu)) == (i_gpu_start, on_gpu[-1], capped)
    assert output == (ngl > n_layer if old else ngl >= 1)


def test_hermes_fit_to_15_layers_as_ollamas_llama_server_placed_them():
    """Llama 3.1 8B Q4_0, -ngl 15 of 33, a 2026 build: "offloading output layer to GPU", "offloading 14
    repeating layers to GPU", and 18 host layers' cache, 2304 MiB at 32768 cells (the record
    ollama-llamaserver-hermes3-8b-q4-0-rtx2060-fit15)."""
    model = paramscope.open_model("llama-3.1-8b")
    cfg = model.config
    m = llamacpp_memory(cfg, model.tensor_bytes, n_ctx=32768)
    split = offload(model, cfg, model.tensor_bytes, m.kv, 15)
    assert (split.i_gpu_start, split.output_on_gpu) == (18, True)
    assert split.host_kv_bytes == 2304 * 2**20 and split.host_state_bytes == 0
    old = offload(model, cfg, model.tensor_bytes, m.kv, 15, build="late-2025")
    assert (old.i_gpu_start, old.output_on_gpu, old.host_kv_bytes) == (17, False, 2176 * 2**20)


def test_a_hybrids_host_state_is_its_own_buffer():
    """Qwen3.5-27B, -ngl 26 of 65 (b8586): the host's attention layers' KV buffer (4608 MiB) and, apart,
    the recurrent state of its 30 gated-DeltaNet layers (llama_memory_recurrent's "RS buffer size",
    93.52 MiB = 30 × 3.117 MiB)."""
    model = paramscope.open_model(str(LOGS / "configs" / "qwen3.5-27b.config.json"))
    cfg = model.config
    m = llamacpp_memory(cfg, model.tensor_bytes, n_ctx=131072, n_ubatch=1024, n_batch=1024)
    split = offload(model, cfg, model.tensor_bytes, m.kv, 26)
    assert split.host_kv_bytes - split.host_state_bytes == 4608 * 2**20
    state = m.kv.part("linear")
    assert split.host_state_bytes == 30 * state.layer_bytes
    assert round(split.host_state_bytes / 2**20, 2) == 93.52


def test_none_and_row_put_layers_and_cache_on_the_main_gpu():
    model = paramscope.open_model("llama-3.1-8b")
    cfg = model.config
    m = llamacpp_memory(cfg, model.tensor_bytes, n_ctx=8192)
    for mode in ("none", "row"):
        d = device_split(model, cfg, model.tensor_bytes, m.kv, 2, None, None, mode)
        assert set(d.layers) == {0} and d.kv == (m.kv.total_bytes, 0)
    row = device_split(model, cfg, model.tensor_bytes, m.kv, 2, None, (3.0, 1.0), "row")
    none = device_split(model, cfg, model.tensor_bytes, m.kv, 2, None, None, "none")
    assert sum(row.weights) == pytest.approx(sum(none.weights), abs=2)
    assert row.weights[0] == pytest.approx(3 * row.weights[1], rel=1e-6)
    assert none.weights[1] == 0 and none.computes == (True, False)


def test_estimate_per_device_and_options():
    model = paramscope.open_model("llama-3.1-8b")
    dev = find_device("rtx-4090")
    est = estimate(model, MemoryRequest(context=8192, device=dev, n_devices=2,
                                        options={"split_mode": "layer"}))
    assert est.split == "--split-mode layer"
    assert est.kv_cache_bytes == sum(u.kv_cache_bytes for u in est.per_device)
    # 17 + 15 layers + output: 32 layers x 8192 cells x 8 x 128 x 2 x 2 B
    assert [u.kv_cache_bytes for u in est.per_device] == [17 * 32 * MiB, 15 * 32 * MiB]
    split = estimate(model, MemoryRequest(context=8192, device=dev, n_devices=2,
                                          options={"tensor_split": "3,1"}))
    assert split.per_device[0].kv_cache_bytes > split.per_device[1].kv_cache_bytes
    with pytest.raises(ParamscopeError):
        estimate(model, MemoryRequest(context=8192, device=dev, n_devices=2,
                                      options={"tensor_split": "1,1,1"}))
    with pytest.raises(UnsupportedError):
        parse_tensor_split("a,b")


def test_unasked_keeps_the_even_split():
    model = paramscope.open_model("llama-3.1-8b")
    est = estimate(model, MemoryRequest(context=8192, device=find_device("rtx-4090")))
    assert est.split == "even split" and len(est.per_device) == 1
    two = estimate(model, MemoryRequest(context=8192, device=find_device("rtx-4090"), n_devices=2))
    assert two.split == "even split"
    assert two.per_device[0].kv_cache_bytes == two.per_device[1].kv_cache_bytes == 16 * 32 * MiB



def test_a_negative_ngl_is_every_layer():
    # llama.cpp's -ngl -1 (its "auto", the default of 2026 builds) offloads every layer, the output
    # layer with them; it was read as 0 (nothing offloaded)
    for build in ("current", "late-2025"):
        assert gpu_layer_start(36, -1, build) == gpu_layer_start(36, None, build)
        assert gpu_layer_start(36, -1, build)[2]
