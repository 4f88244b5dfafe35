"""`size`: the composition of weights, KV cache, runtime buffers and overhead, on real files and configs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.memory import DEFAULT_CONTEXT, MemoryRequest, estimate
from paramscope.errors import UnsupportedError, UsageError
from paramscope.formats import open_model
from paramscope.knowledge.hardware import find_device, parse_gpu_spec

MiB = 1 << 20


@pytest.fixture(scope="module")
def gemma(gemma_gguf):
    return open_model(str(gemma_gguf))


@pytest.fixture(scope="module")
def llama8b():
    return open_model("llama-3.1-8b")


def test_gemma_llamacpp_matches_llamacpp_log(gemma):
    # llama-cpp-python 0.3.36 printed, n_ctx 8192, swa_full off: KV 24.00 MiB + 15.00 MiB,
    # compute buffer 514.50 MiB, output buffer 1.00 MiB (bench/bench_llamacpp.py, docs/kv-cache.md): the
    # mid-2026 build family it vendors (the current one, b11401 on, holds a larger CPU compute buffer)
    est = estimate(gemma, MemoryRequest(context=8192, options={"llamacpp_build": "mid-2026"}))
    assert est.kv_cache_bytes == (24 + 15) * MiB
    assert est.compute_bytes == 539_494_400 + MiB
    assert est.weights_bytes == 246_587_904
    assert est.total_bytes == (est.weights_bytes + est.kv_cache_bytes + est.compute_bytes
                               + est.overhead_bytes)
    swa_full = estimate(gemma, MemoryRequest(context=32768, options={"swa_full": True}))
    assert swa_full.kv_cache_bytes == (96 + 480) * MiB
    q8 = estimate(gemma, MemoryRequest(context=8192, kv_type="q8_0", options={"swa_full": True}))
    assert q8.kv_cache_bytes == int((12.75 + 63.75) * MiB)


def test_default_context_is_a_working_one_and_said(llama8b):
    est = estimate(llama8b, MemoryRequest())
    assert est.context == DEFAULT_CONTEXT
    assert "default" in est.context_note and "131,072" in est.context_note


def test_default_context_without_a_stated_maximum_says_so():
    """T5's relative positions have no maximum in config.json: the default applies, not "maximum 0"."""
    from pathlib import Path

    mt5 = open_model(str(Path(__file__).parent / "fixtures" / "configs" / "mt5-small.json"))
    est = estimate(mt5, MemoryRequest())
    assert est.context == DEFAULT_CONTEXT
    assert "states no maximum" in est.context_note and "is 0" not in est.context_note
    assert "beyond" not in estimate(mt5, MemoryRequest(context=1 << 20)).context_note


def test_llama_8b_bf16_fits_one_80gb_gpu_at_8k(llama8b):
    device, n = parse_gpu_spec("h100")
    est = estimate(llama8b, MemoryRequest(context=8192, device=device, n_devices=n))
    assert est.weights_bytes == 2 * 8_030_261_248
    # 32 layers × 8 KV heads × 128 × 2 (K, V) × 2 B × 8192 tokens = 1 GiB
    assert est.kv_cache_bytes == 32 * 8 * 128 * 2 * 2 * 8192
    assert est.fits is True


def test_llama_70b_bf16_needs_two_80gb_gpus():
    model = open_model("llama-3.1-70b")
    one = estimate(model, MemoryRequest(device=parse_gpu_spec("h100")[0]))
    assert 140e9 < one.weights_bytes < 142e9  # "70B in bf16 ≈ 141 GB"
    assert one.fits is False
    device, n = parse_gpu_spec("h100x2")
    two = estimate(model, MemoryRequest(device=device, n_devices=n))
    assert two.fits is True and len(two.per_device) == 2


def test_gemma_3_27b_bf16_is_about_55_gb():
    est = estimate(open_model("gemma-3-27b"), MemoryRequest())
    assert 54e9 < est.weights_bytes < 56e9


@pytest.mark.slow  # runs long: DeepSeek-V3's 90k tensors
@pytest.mark.xdist_group("catalogue")  # beside test_catalogue.py, which has built its Model
def test_mla_kv_cache_is_compressed():
    est = estimate(open_model("deepseek-v3"), MemoryRequest(context=4096))
    # llama.cpp's MLA cache: 61 layers × (512 + 64) × 2 B per token, no separate V
    assert est.kv_cache_bytes == 61 * (512 + 64) * 2 * 4096


def test_partial_offload_keeps_layers_and_their_cache_on_the_host(llama8b):
    # -ngl 16 of 32 layers: the output layer first, then layers 17–31, so layers 0–16 stay on the host
    # (llama-model.cpp load_tensors: i_gpu_start = n_layer + 1 − n_gpu_layers, PR 18148); in builds before
    # it layers 0–15 and the output layer (i_gpu_start = n_layer − n_gpu_layers; the output layer needed
    # n_gpu_layers > n_layer)
    gpu = parse_gpu_spec("rtx-4090")[0]
    full = estimate(llama8b, MemoryRequest(device=gpu, options={"n_gpu_layers": 33}))
    half = estimate(llama8b, MemoryRequest(device=gpu, options={"n_gpu_layers": 16}))
    old = estimate(llama8b, MemoryRequest(device=gpu, options={"n_gpu_layers": 16,
                                                               "llamacpp_build": "late-2025"}))
    layer = 2 * (4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336 + 2 * 4096)  # bf16
    embedding = 128256 * 4096 * 2
    layer_kv = 8192 * 2 * 1024 * 2
    assert full.host_bytes == embedding  # the input layer is always on the host
    assert half.host_bytes == embedding + 17 * layer + 17 * layer_kv
    assert old.host_bytes == embedding + 16 * layer + (embedding + 4096 * 2) + 16 * layer_kv
    assert half.per_device[0].weights_bytes == half.weights_bytes - embedding - 17 * layer
    assert half.per_device[0].kv_cache_bytes == half.kv_cache_bytes * 15 // 32
    assert old.per_device[0].weights_bytes == old.weights_bytes - embedding - 16 * layer - embedding - 8192
    assert old.per_device[0].kv_cache_bytes == old.kv_cache_bytes // 2
    # the same bytes, placed differently; with the output layer on the GPU its compute buffer is the full
    # offload's, with it on the host (the older builds) the GPU still runs the output product of a 512-row
    # batch (op offload) with the host's output matrix copied in (llamacpp.py gpu_compute_with_host_output)
    assert half.total_bytes == full.total_bytes
    assert old.total_bytes - old.compute_bytes == full.total_bytes - full.compute_bytes
    assert old.compute_bytes - full.compute_bytes == pytest.approx(embedding + 4096 * 2, abs=4096)


def test_no_kv_offload_keeps_the_cache_on_the_host(llama8b):
    gpu = parse_gpu_spec("rtx-4090")[0]
    est = estimate(llama8b, MemoryRequest(device=gpu, options={"no_kv_offload": True}))
    assert est.per_device[0].kv_cache_bytes == 0
    assert est.host_bytes == est.kv_cache_bytes + 128256 * 4096 * 2  # the cache and the input embedding


def test_tied_embeddings_are_held_twice_when_the_output_is_offloaded():
    gemma = open_model("gemma-3-270m")
    gpu = parse_gpu_spec("rtx-4090")[0]
    on_cpu = estimate(gemma, MemoryRequest())
    on_gpu = estimate(gemma, MemoryRequest(device=gpu))
    embedding = 262144 * 640 * 2
    assert on_gpu.weights_bytes == on_cpu.weights_bytes  # the model's weights
    assert on_gpu.duplicate_bytes == embedding and on_gpu.host_bytes == embedding
    assert on_gpu.per_device[0].weights_bytes == on_cpu.weights_bytes
    # the same parts but for the duplicate and the compute buffer (a GPU's lacks the inp_embd input; in
    # current builds also the mixed-batch path's host inputs, which move the CPU arena's layout more)
    assert (on_gpu.total_bytes - on_gpu.compute_bytes
            == on_cpu.total_bytes - on_cpu.compute_bytes + embedding)
    assert on_gpu.compute_bytes < on_cpu.compute_bytes
    mid = {"llamacpp_build": "mid-2026"}
    cpu_mid = estimate(gemma, MemoryRequest(options=mid))
    gpu_mid = estimate(gemma, MemoryRequest(device=gpu, options=mid))
    assert 0 < cpu_mid.compute_bytes - gpu_mid.compute_bytes <= 512 * 640 * 4 + 4096


def test_flash_attention_off_adds_the_scores(llama8b):
    on = estimate(llama8b, MemoryRequest(context=8192, options={"flash_attn": "on"}))
    off = estimate(llama8b, MemoryRequest(context=8192, options={"flash_attn": "off"}))
    # without flash attention the scores KQ, n_ctx × n_ubatch × heads × 4 B = 8192 × 512 × 32 × 4 = 512 MiB,
    # outgrow the logits phase (512 × 128256 × 4 B = 250.5 MiB), which is the peak with it
    assert on.compute_bytes < 8192 * 512 * 32 * 4 < off.compute_bytes
    with pytest.raises(UsageError, match="--flash-attn takes one of auto, on, off"):
        estimate(llama8b, MemoryRequest(options={"flash_attn": "maybe"}))


def test_vllm_shortfall_is_a_note(llama8b):
    gpu = parse_gpu_spec("rtx-4090")[0]
    est = estimate(llama8b, MemoryRequest(runtime="vllm", device=gpu, context=131072))
    assert est.fits is False
    assert any(n.startswith("does not fit:") and "short" in n for n in est.notes)


def test_errors_are_clear(llama8b):
    with pytest.raises(UsageError, match="unknown runtime 'nosuch'"):
        estimate(llama8b, MemoryRequest(runtime="nosuch"))
    with pytest.raises(UsageError, match="--ubatch does not apply to runtime vllm"):
        estimate(llama8b, MemoryRequest(runtime="vllm", options={"ubatch": 64}))
    with pytest.raises(UnsupportedError, match="KV cache type"):
        estimate(llama8b, MemoryRequest(kv_type="q9_9"))
    with pytest.raises(UnsupportedError, match="at least 1"):
        estimate(llama8b, MemoryRequest(context=0))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 65536), st.integers(1, 65536), st.integers(1, 8))
def test_monotonic_in_context_and_batch(llama8b, c1, c2, batch):
    lo, hi = sorted((c1, c2))
    a = estimate(llama8b, MemoryRequest(context=lo, batch=batch))
    b = estimate(llama8b, MemoryRequest(context=hi, batch=batch))
    assert a.kv_cache_bytes <= b.kv_cache_bytes and a.total_bytes <= b.total_bytes
    more = estimate(llama8b, MemoryRequest(context=lo, batch=batch + 1))
    assert more.kv_cache_bytes >= a.kv_cache_bytes


def test_bytes_per_parameter_claims():
    """A 2B model needs ~4 GB in fp16 and ~8 GB in fp32: 2 and 4 bytes per parameter."""
    model = open_model("gemma-2b")
    params = 2_506_172_416
    fp16 = estimate(model, MemoryRequest(weights="fp16"))
    fp32 = estimate(model, MemoryRequest(weights="fp32"))
    assert fp16.weights_bytes == 2 * params and fp32.weights_bytes == 4 * params


def test_reprice_orders_the_weights(llama8b):
    schemes = ("q4_k_m", "q8_0", "bf16", "fp32")
    sizes = [estimate(llama8b, MemoryRequest(weights=w)).weights_bytes for w in schemes]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert sizes[0] == 4_912_898_048  # llama.cpp prints 4.58 GiB (4.89 BPW) for Llama 3.1 8B Q4_K_M


def test_vllm_on_a_gpu_reports_its_reservation(llama8b):
    est = estimate(llama8b, MemoryRequest(runtime="vllm", device=find_device("h100")))
    assert est.fits is True
    assert est.kv_cache_bytes == 32 * 8 * 128 * 2 * 2 * 8192  # what one 8192-token request needs
    assert any("reserves" in n and "KV blocks" in n for n in est.notes)
    tiny = estimate(llama8b, MemoryRequest(runtime="vllm", device=find_device("rtx-3060-12g")))
    assert tiny.fits is False


def test_a_state_of_unknown_size_names_the_file(tmp_path):
    # a Mamba GGUF without its ssm keys: the state's size per sequence is unknown. The one-line error names
    # the file (the fuzzer of test_fuzz_readers.py found it naming only the architecture)
    import numpy as np
    from gguf import GGUFValueType

    from builders.cli import cli_run
    from builders.gguf_files import write_gguf

    kv = {"mamba.block_count": (1, GGUFValueType.UINT32, None),
          "mamba.embedding_length": (4, GGUFValueType.UINT32, None)}
    tensors = [("token_embd.weight", np.zeros((8, 4), np.float32), None)]
    path = write_gguf(tmp_path / "mamba-min.gguf", tensors, kv=kv, arch="mamba")
    with pytest.raises(UnsupportedError, match=r"mamba-min\.gguf: mamba: 1 layer keeps a recurrent"):
        estimate(open_model(str(path)), MemoryRequest())
    run = cli_run("size", str(path))
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and str(path) in run.stderr


def test_vllm_on_unified_memory_says_the_kv_is_an_upper_bound(llama8b):
    # DGX Spark logs of model runner V1 leave less for the cache than predicted (the host's start-up counts
    # against it), V2's came within 3 %: the note says which on an NVIDIA unified-memory device, only there
    from paramscope.analyses.sizing.runtimes.vllm.adapter import UNIFIED_MEMORY_NOTE, UNIFIED_MEMORY_V2_NOTE

    for gpu, noted in (("gb10", True), ("jetson-agx-thor", True), ("h100", False)):
        v1 = estimate(llama8b, MemoryRequest(runtime="vllm", device=find_device(gpu), context=8192,
                                             options={"vllm_model_runner": "v1"}))
        assert (UNIFIED_MEMORY_NOTE in v1.notes) is noted, gpu
        default = estimate(llama8b, MemoryRequest(runtime="vllm", device=find_device(gpu), context=8192))
        assert (UNIFIED_MEMORY_V2_NOTE in default.notes) is noted, gpu  # V2: the default for a dense model
        assert UNIFIED_MEMORY_NOTE not in default.notes
    # a cache sized outright (--kv-cache-memory-bytes) is what it is there too (r34v-*-kvmem*: exact)
    given = estimate(llama8b, MemoryRequest(runtime="vllm", device=find_device("gb10"), context=8192,
                                            options={"kv_cache_memory_bytes": "30g"}))
    assert not {UNIFIED_MEMORY_NOTE, UNIFIED_MEMORY_V2_NOTE} & set(given.notes)
