"""`fit`: devices needed, offload split, longest context, best quantization — all from `size`'s estimate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paramscope.analyses.sizing.fit import allowed_tp, best_quant, fit, max_context
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.formats import open_model
from paramscope.knowledge.hardware import find_device
from paramscope.model import ArchConfig


@pytest.fixture(scope="module")
def llama70b():
    return open_model("llama-3.1-70b")


def test_allowed_tensor_parallel_sizes():
    cfg = ArchConfig("llama", "x", 80, 8192, 64, 8, 128, 128, 28672, 128256, 131072)
    assert allowed_tp(cfg, 16) == (1, 2, 4, 8, 16)  # 16 replicates the 8 KV heads
    odd = replace(cfg, n_heads=40, n_kv_heads=8)
    assert allowed_tp(odd, 16) == (1, 2, 4, 8)  # 40 heads do not split 16 ways
    assert 3 not in allowed_tp(replace(cfg, n_heads=24, n_kv_heads=8), 16)  # 8 KV heads and 3 GPUs


def test_70b_bf16_needs_two_h100(llama70b):
    h100 = find_device("h100")
    r = fit(llama70b, MemoryRequest(device=h100), ram_bytes=256 << 30)
    assert r.one_device.fits is False
    assert r.devices_needed == 2
    assert estimate(llama70b, MemoryRequest(device=h100, n_devices=2)).fits
    o = r.offload
    assert o is not None and 0 < o.gpu_layers < 80 and o.fits_ram
    assert o.gpu_bytes <= h100.usable_bytes
    assert any(f"-ngl {o.gpu_layers}" in c for c in r.commands)
    assert any("--tensor-parallel-size 2" in c for c in r.commands)


def test_max_context_is_the_boundary(llama70b):
    req = MemoryRequest(device=find_device("h100"), n_devices=2)
    longest = max_context(llama70b, req)
    assert 0 < longest < 131072
    assert estimate(llama70b, replace(req, context=longest)).fits
    assert not estimate(llama70b, replace(req, context=longest + 1)).fits


def test_best_quant_fits_and_the_more_precise_one_does_not(llama70b):
    req = MemoryRequest(device=find_device("h100"))
    q = best_quant(llama70b, req)
    assert q == "q8_0"
    assert estimate(llama70b, replace(req, weights=q)).fits
    assert not estimate(llama70b, replace(req, weights="bf16")).fits


def test_moe_puts_experts_in_ram_first():
    r = fit(open_model("mixtral-8x7b"), MemoryRequest(device=find_device("rtx-4090")), ram_bytes=128 << 30)
    o = r.offload
    assert o is not None and o.gpu_layers == o.n_layers == 32
    assert 0 < o.cpu_moe_layers <= 32 and o.fits_ram
    assert any(f"--n-cpu-moe {o.cpu_moe_layers}" in c for c in r.commands)


def test_small_model_fits_everywhere(gemma_gguf):
    r = fit(open_model(str(gemma_gguf)), MemoryRequest(device=find_device("rtx-3060-12g")))
    assert r.one_device.fits and r.devices_needed == 1 and r.offload is None
    assert r.max_context == 32768 and r.best_quant == "bf16"
