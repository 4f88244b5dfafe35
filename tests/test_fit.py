"""`fit`: devices needed, offload split, longest context, best quantization — all from `size`'s estimate."""

from __future__ import annotations

import pytest

from paramscope.analyses.sizing.fit import (
    AS_STORED,
    QUANT_LADDER,
    allowed_tp,
    best_quant,
    fit,
    ladder,
    max_context,
    nominal_bits,
)
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.formats import open_model
from paramscope.knowledge.hardware import find_device
from paramscope.model import ArchConfig
from paramscope.records import replace


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
    # the advice: two H100s as stored, or one at Q8_0 whole (more precise than offloading at bf16 is fast)
    assert [(p.devices, p.weights, p.offload) for p in r.plans] == [(2, None, None), (1, "q8_0", None)]
    assert "Needs 2 × h100-sxm at BF16 as stored" in r.verdict and "Q8_0, whole" in r.verdict
    assert any("--tensor-parallel-size 2" in c for c in r.commands)
    assert any("<llama-3.1-70b-Q8_0.gguf>" in c and "-ngl 999" in c for c in r.commands)


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


def test_a_quantized_checkpoint_takes_its_place_on_the_ladder(gemma_gguf):
    """gpt-oss-120b's MXFP4 release (4.47 bits per weight over the whole model) sits between Q4_K_M
    (Q4_K: 4.5) and Q3_K_M (Q3_K: 3.4375); a bf16 release is the ladder's top and changes nothing; the
    Gemma Q4_K_M GGUF sits where its own bits per weight put it."""
    gpt_oss = open_model("gpt-oss-120b")
    steps = ladder(gpt_oss)
    assert steps == (*QUANT_LADDER[:5], AS_STORED, *QUANT_LADDER[5:])
    assert nominal_bits("q3_k_m") < 8 * gpt_oss.tensor_bytes / gpt_oss.params < nominal_bits("q4_k_m")
    assert ladder(open_model("llama-3.1-70b")) == QUANT_LADDER
    gemma = open_model(str(gemma_gguf))
    at = ladder(gemma).index(AS_STORED)
    bits = 8 * gemma.tensor_bytes / gemma.params
    assert all(nominal_bits(s) >= bits for s in QUANT_LADDER[:at])
    assert all(nominal_bits(s) < bits for s in QUANT_LADDER[at:])


def test_best_quant_keeps_quantized_weights_that_fit_rather_than_rounding_them_again():
    """gpt-oss-120b fits one H100 under vLLM as released (MXFP4); Q2_K, which re-rounds every expert
    (IQ4_NL for rows of 2880: not whole Q2_K blocks) also fits, and was the answer before the stored
    weights took their place on the ladder."""
    gpt_oss, h100 = open_model("gpt-oss-120b"), find_device("h100")
    req = MemoryRequest(device=h100, runtime="vllm")
    assert estimate(gpt_oss, req).fits and estimate(gpt_oss, replace(req, weights="q2_k")).fits
    assert not estimate(gpt_oss, replace(req, weights="q4_k_m")).fits
    assert best_quant(gpt_oss, req) == AS_STORED
    r = fit(gpt_oss, req, ram_bytes=256 << 30)
    assert (r.best_quant, r.best_label) == (AS_STORED, r.weights_label) == (AS_STORED, "mxfp4 as stored")


def test_moe_puts_experts_in_ram_first():
    mixtral, rtx = open_model("mixtral-8x7b"), find_device("rtx-4090")
    r = fit(mixtral, MemoryRequest(device=rtx), ram_bytes=128 << 30)
    o = r.offload
    assert o is not None and o.gpu_layers == o.n_layers == 32
    assert 0 < o.cpu_moe_layers <= 32 and o.fits_ram
    # the one-card advice: nothing down to Q4_K_M fits whole, so Q4_K_M with experts in RAM
    tp, one = r.plans
    assert (tp.devices, tp.weights) == (4, None) and "Needs 4 × rtx-4090 at BF16 as stored" in r.verdict
    assert one.devices == 1 and one.weights == "q4_k_m" and one.offload and one.offload.cpu_moe_layers > 0
    for scheme in ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m"):
        assert not estimate(mixtral, MemoryRequest(device=rtx, weights=scheme)).fits
    assert f"routed experts of {one.offload.cpu_moe_layers} of 32 layers in RAM" in r.verdict
    assert any(f"--n-cpu-moe {one.offload.cpu_moe_layers}" in c and "Q4_K_M.gguf" in c for c in r.commands)


def test_offload_decode_bound_reads_each_memory_at_its_bandwidth():
    """1 / (GPU bytes / GPU bandwidth + RAM bytes / RAM bandwidth), k of E routed experts read from RAM."""
    from paramscope.analyses.sizing.speed import speed_for
    from paramscope.knowledge.hardware import BY_KEY

    mixtral, rtx = open_model("mixtral-8x7b"), find_device("rtx-4090")
    one = fit(mixtral, MemoryRequest(device=rtx), ram_bytes=128 << 30).plans[1]
    step = speed_for(mixtral, one.estimate, rtx, 1).bytes_per_step
    ram = one.offload.ram_bytes * 2 // 8
    expected = 1 / ((step - ram) / rtx.bandwidth + ram / BY_KEY["ddr5-5600-2ch"].bandwidth)
    assert one.decode_tokens_per_s == pytest.approx(expected) and one.ram_bandwidth_assumed
    assert one.decode_tokens_per_s < speed_for(mixtral, one.estimate, rtx, 1).decode_tokens_per_s


@pytest.mark.parametrize(("name", "device", "ram"), [
    ("llama-3.1-70b", "rtx-4090", 64), ("llama-3.1-70b", "rtx-3060-12g", 16),
    ("mixtral-8x7b", "rtx-4090", 16),
    # 10 CPU-s: its 90k tensors; on the catalogue worker, beside test_catalogue.py, which has built its Model
    pytest.param("deepseek-v3", "h100", 512, marks=[pytest.mark.slow, pytest.mark.xdist_group("catalogue")]),
    ("qwen3-8b", "t4", 8),
    ("llama-3.1-405b", "rtx-4090", 32),
])
def test_every_recommended_plan_fits(name, device, ram):
    """A command the advice prints never needs more than the device (and RAM) holds."""
    model, dev = open_model(name), find_device(device)
    r = fit(model, MemoryRequest(device=dev), ram_bytes=ram << 30)
    for p in r.plans:
        if p.offload is None:
            assert p.estimate.fits and len(p.estimate.per_device) == p.devices, p
            assert all(d.total_bytes <= dev.usable_bytes for d in p.estimate.per_device), p
        else:
            assert p.devices == 1 and p.offload.gpu_bytes <= dev.usable_bytes and p.offload.fits_ram, p
    if len(r.plans) < 2 and not r.one_device.fits:
        assert "does not fit at any type" in r.verdict or "the most its attention heads" in r.verdict


def test_cpu_only_answer_has_cpu_flags():
    from paramscope.app.fit import host_ram_device

    r = fit(open_model("qwen3-8b"), MemoryRequest(device=host_ram_device(16 << 30)), ram_bytes=12 << 30)
    assert r.cpu_only and r.verdict.startswith("CPU-only answer")
    assert r.devices_needed in (1, None) and r.offload is None
    assert r.commands and all("-ngl 0" in c and "vllm" not in c for c in r.commands)


def test_small_model_fits_everywhere(gemma_gguf):
    r = fit(open_model(str(gemma_gguf)), MemoryRequest(device=find_device("rtx-3060-12g")))
    assert r.one_device.fits and r.devices_needed == 1 and r.offload is None
    assert r.max_context == 32768 and r.best_quant == "bf16"


def test_verdict_quotes_the_calibrated_typical_decode_where_it_applies(llama70b):
    """One device, batch 1, nothing in RAM: the verdict quotes the calibrated typical figure (bound ×
    the median utilisation measured) with its label; with tensor parallelism only the bound applies."""
    from paramscope.analyses.sizing.speed import speed_for

    h100 = find_device("h100")
    r = fit(llama70b, MemoryRequest(device=h100), ram_bytes=256 << 30)
    tp, one = r.plans
    assert tp.decode_typical is None and "layers split over the GPUs, decode ≤" in r.verdict
    s = speed_for(llama70b, one.estimate, h100, 1)
    assert s.decode_range is not None and one.decode_label == s.decode_label != "bound"
    assert one.decode_typical == pytest.approx(s.decode_range[1])
    assert one.decode_typical < one.decode_tokens_per_s
    shown = f"{one.decode_typical:,.0f}"
    assert f"decode ~{shown} tokens/s, {s.decode_label}" in r.verdict


def test_device_counts_follow_how_the_runtime_splits(llama70b):
    """llama.cpp hands each GPU whole layers (any count will do: 6 × RTX 4090 for Llama 3.1 70B in
    BF16); vLLM shards every matrix, so only counts the 64 query / 8 KV heads divide (8)."""
    from paramscope.analyses.sizing.fit import allowed_tp

    gpu = find_device("rtx-4090")
    cpp = fit(llama70b, MemoryRequest(device=gpu))
    vllm = fit(llama70b, MemoryRequest(device=gpu, runtime="vllm"))
    assert cpp.allowed_device_counts == tuple(range(1, 65)) and not cpp.counts_limited_by_heads
    assert vllm.allowed_device_counts == allowed_tp(llama70b.config) and vllm.counts_limited_by_heads
    assert vllm.devices_needed in vllm.allowed_device_counts and vllm.devices_needed % 2 == 0
    n = cpp.devices_needed
    assert n is not None and estimate(llama70b, MemoryRequest(device=gpu, n_devices=n)).fits
    assert not estimate(llama70b, MemoryRequest(device=gpu, n_devices=n - 1)).fits  # the fewest
    assert "layers split over the GPUs" in cpp.verdict and "tensor parallel" in vllm.verdict


def test_a_layer_split_decodes_at_one_gpus_bandwidth(llama70b):
    """A token passes through llama.cpp's GPUs in turn (--split-mode layer): one decode step reads the
    weights at one GPU's bandwidth however many hold them; a row split and vLLM's tensor parallelism
    read on all of them at once."""
    from paramscope.analyses.sizing.speed import speed_for

    h100 = find_device("h100")

    def bandwidth(n: int, **kw) -> float | None:
        est = estimate(llama70b, MemoryRequest(device=h100, n_devices=n, **kw))
        return speed_for(llama70b, est, h100, n).bandwidth

    one = bandwidth(1)
    assert one == h100.bandwidth
    assert bandwidth(4) == one  # the default layer split
    assert bandwidth(4, options={"split_mode": "row"}) == 4 * one
    assert bandwidth(4, runtime="vllm") == 4 * one
    assert bandwidth(4, runtime="vllm", options={"pipeline_parallel_size": 2}) == 2 * one


def test_size_says_a_layer_split_reads_one_gpu_at_a_time() -> None:
    import paramscope

    layer = paramscope.size("llama-3.1-70b", gpu="h100x2").to_json()["speed"]
    vllm = paramscope.size("llama-3.1-70b", gpu="h100x2", runtime="vllm").to_json()["speed"]
    assert (layer["bandwidth_devices"], vllm["bandwidth_devices"]) == (1, 2)
    assert vllm["bandwidth_bytes_per_s"] == 2 * layer["bandwidth_bytes_per_s"]


def test_an_offload_plans_ngl_counts_the_output_layer():
    """The plan budgets the output head on the GPU beside its repeating layers; llama.cpp's -ngl N puts the
    output layer there first and then N − 1 repeating layers (PR 18148), so the command asks one more."""
    from paramscope.app.fit import fit as fit_app

    j = fit_app("llama-3.1-70b", gpu="rtx-4090", ram="256GiB", runtime="llama.cpp").to_json()
    plan = next(p for p in j["plans"] if p["gpu_layers"])
    assert 0 < plan["gpu_layers"] < 80
    assert any(c.endswith(f"-ngl {plan['gpu_layers'] + 1}") for c in j["commands"])


def test_the_vllm_command_carries_the_vllm_flags_the_estimate_used():
    """The suggested `vllm serve` line starts the engine the estimate describes: the request's own vLLM
    flags (fit_advice.VLLM_FLAGS, VLLM_ON_OFF) are in it, paramscope's own options (the release) are not."""
    import shlex

    from paramscope.analyses.sizing.fit_advice import VLLM_FLAGS, VLLM_ON_OFF, _vllm_flags
    from paramscope.analyses.sizing.runtimes import find

    model = open_model("qwen3-8b")
    options = {"enforce_eager": True, "max_num_batched_tokens": 4096,
               "limit_mm_per_prompt": "image=0,video=0", "async_scheduling": "off",
               "enable_chunked_prefill": "on", "vllm_release": "0.30"}
    req = MemoryRequest(device=find_device("h100"), runtime="vllm", options=options)
    line = next(c for c in fit(model, req, ram_bytes=64 << 30).commands if c.startswith("vllm serve"))
    words = shlex.split(line)
    assert "--enforce-eager" in words and "--no-async-scheduling" in words
    assert "--enable-chunked-prefill" in words and "--vllm-release" not in words
    assert words[words.index("--max-num-batched-tokens") + 1] == "4096"
    assert words[words.index("--limit-mm-per-prompt") + 1] == '{"image":0,"video":0}'
    assert set(VLLM_FLAGS) | set(VLLM_ON_OFF) <= {o.name for o in find("vllm").options}
    # the stages' layers go in the environment vLLM reads them from
    staged = MemoryRequest(device=find_device("h100"), runtime="vllm",
                           options={"pipeline_parallel_size": 2, "pp_layer_partition": "44,36"})
    line = next(c for c in fit(open_model("llama-3.1-70b"), staged, ram_bytes=256 << 30).commands
                if "vllm serve" in c)
    assert line.startswith("VLLM_PP_LAYER_PARTITION=44,36 vllm serve")
    assert "--pipeline-parallel-size 2" in line
    # so does the model runner, where one is asked for
    for runner, env in (("v1", "VLLM_USE_V2_MODEL_RUNNER=0 "), ("v2", "VLLM_USE_V2_MODEL_RUNNER=1 "),
                        ("auto", "")):
        asked = MemoryRequest(device=find_device("h100"), runtime="vllm",
                              options={"vllm_model_runner": runner})
        line = next(c for c in fit(open_model("llama-3.1-8b"), asked, ram_bytes=256 << 30).commands
                    if "vllm serve" in c)
        assert line.startswith(f"{env}vllm serve"), line
    # another runtime's options are not vLLM's flags: the command keeps to the plan's own
    assert _vllm_flags(MemoryRequest(runtime="llama.cpp", options={"enforce_eager": True})) == ""
    # the short form of --speculative-config is written as the JSON vLLM reads
    drafted = MemoryRequest(runtime="vllm", options={"speculative_config": "mtp:2"})
    assert shlex.split(_vllm_flags(drafted)) == ["--speculative-config",
                                                 '{"method":"mtp","num_speculative_tokens":2}']
    given = '{"method": "qwen3_5_mtp", "num_speculative_tokens": 3, "draft_tensor_parallel_size": 1}'
    assert shlex.split(_vllm_flags(MemoryRequest(runtime="vllm", options={"speculative_config": given}))) == [
        "--speculative-config", given]
