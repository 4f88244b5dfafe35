"""llama.cpp rules the fifth round of real start-up logs found missing (tests/fixtures/engine_logs/llamacpp/):
the KV cache of an MLA model whose GGUF predates MLA, the architectures llama.cpp gives a sliding window,
and the comparison tool's host devices. Expected numbers come from llama.cpp's source, cited per test."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import paramscope
from builders.gguf_files import V, write_gguf
from paramscope.analyses.sizing.runtimes.llamacpp.kv import (
    as_llamacpp_loads,
    as_pre_mla_gguf,
    caches_mla_latent,
    has_swa,
)
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.knowledge.families import arch_config_from_hf
from paramscope.model import ArchConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import engine_log_compare  # noqa: E402
import engine_logs  # noqa: E402

MIB = 1024 * 1024
LLAMACPP = engine_logs.FIXTURES / "llamacpp"


# --- 1. DeepSeek-V2: the latent cache needs a GGUF with the MLA keys ------------------------------------
def deepseek_v2_lite_gguf(path: Path, mla: bool) -> Path:
    """DeepSeek-V2-Lite's attention keys as convert_hf_to_gguf writes them: since PR 12801 (``mla``) one KV
    head of kv_lora_rank + rope (576) / kv_lora_rank (512) plus key_length_mla / value_length_mla (192 /
    128); before it head_count_kv = num_key_value_heads (16), key_length = qk_nope + qk_rope (192) and
    value_length = v_head_dim (128), as the two pre-MLA logs print them."""
    a = "deepseek2"
    kv = {f"{a}.block_count": 27, f"{a}.embedding_length": 2048, f"{a}.attention.head_count": 16,
          f"{a}.attention.head_count_kv": 1 if mla else 16, f"{a}.attention.kv_lora_rank": 512,
          f"{a}.rope.dimension_count": 64, f"{a}.attention.key_length": 576 if mla else 192,
          f"{a}.attention.value_length": 512 if mla else 128, f"{a}.feed_forward_length": 10944,
          f"{a}.context_length": 163840}
    if mla:
        kv |= {f"{a}.attention.key_length_mla": 192, f"{a}.attention.value_length_mla": 128}
    tensors = [("token_embd.weight", np.zeros((64, 2048), np.float16), None)]
    return write_gguf(path, tensors, {k: (v, V.UINT32, None) for k, v in kv.items()}, arch=a)


def test_pre_mla_gguf_caches_every_head(tmp_path: Path) -> None:
    # llm_build_deepseek2: is_mla = (n_embd_head_k_mla != 0 && n_embd_head_v_mla != 0); without it the
    # cache is llama-kv-cache.cpp's plain one, n_embd_k_gqa = n_head_kv x n_embd_head_k = 16 x 192 and
    # n_embd_v_gqa = 16 x 128 per layer (the log: n_embd_k_gqa = 3072, n_embd_v_gqa = 2048). At 4096 cells
    # in f16: 27 x 4096 x 3072 x 2 B = 648 MiB of K and 27 x 4096 x 2048 x 2 B = 432 MiB of V, the
    # OpenCL log's "K (f16): 648.00 MiB, V (f16): 432.00 MiB" (0.633 and 0.422 GiB)
    cfg = paramscope.open_model(str(deepseek_v2_lite_gguf(tmp_path / "old.gguf", mla=False))).config
    assert cfg is not None and cfg.is_mla and cfg.extra["mla_latent_cache"] is False
    assert not caches_mla_latent(cfg)
    kv = llamacpp_memory(cfg, 0, n_ctx=4096).kv
    assert (kv.k_bytes, kv.v_bytes) == (27 * 4096 * 3072 * 2, 27 * 4096 * 2048 * 2) == (648 * MIB, 432 * MIB)
    # at 2048 cells (the M2 log): 324 and 216 MiB
    kv = llamacpp_memory(cfg, 0, n_ctx=2048).kv
    assert (kv.k_bytes, kv.v_bytes) == (324 * MIB, 216 * MIB)


def test_mla_gguf_caches_the_latent(tmp_path: Path) -> None:
    # with both MLA keys: one row of kv_lora_rank + n_rot = 576 values, no V tensor (has_v = !is_mla)
    cfg = paramscope.open_model(str(deepseek_v2_lite_gguf(tmp_path / "new.gguf", mla=True))).config
    assert cfg is not None and cfg.extra["mla_latent_cache"] is True and caches_mla_latent(cfg)
    kv = llamacpp_memory(cfg, 0, n_ctx=4096).kv
    assert (kv.k_bytes, kv.v_bytes) == (27 * 4096 * 576 * 2, 0)


def test_config_and_catalogue_convert_as_today() -> None:
    # a config (or catalogue name) is converted by today's convert_hf_to_gguf: the latent cache
    cfg = paramscope.open_model("DeepSeek-V2-Lite").config
    assert cfg is not None and "mla_latent_cache" not in cfg.extra and caches_mla_latent(cfg)
    assert llamacpp_memory(cfg, 0, n_ctx=4096).kv.total_bytes == 27 * 4096 * 576 * 2
    # ... unless the record's GGUF is older (tools/engine_log_compare.py reads "n_embd_head_k_mla = 0")
    old = as_pre_mla_gguf(cfg)
    kv = llamacpp_memory(old, 0, n_ctx=4096).kv
    assert (kv.k_bytes, kv.v_bytes) == (648 * MIB, 432 * MIB)
    assert as_llamacpp_loads(old).n_kv_heads == 16 and not as_llamacpp_loads(old).is_mla


def test_minicpm3_runs_as_multi_head_attention() -> None:
    # llm_build_minicpm3 expands kv_lora_rank into n_head K heads of n_embd_head_k (qk_nope 64 + qk_rope
    # 32 = 96) and V heads of n_embd_head_v (64), cached by build_attn like any MHA model; its converter
    # writes no key_length_mla. MiniCPM3-4B: 62 layers x 40 heads
    cfg = arch_config_from_hf({"model_type": "minicpm3"})
    assert cfg is not None and cfg.is_mla and not caches_mla_latent(cfg)
    kv = llamacpp_memory(cfg, 0, n_ctx=4096).kv
    assert (kv.k_bytes, kv.v_bytes) == (62 * 4096 * 40 * 96 * 2, 62 * 4096 * 40 * 64 * 2)


def test_pre_mla_records_read_from_the_log() -> None:
    for rid in ("deepseek-v2-lite-chat-q4-0-opencl-adreno840-b7057",
                "deepseek-coder-v2-lite-q4km-m2-ngl0-metal"):
        r = engine_logs.load(LLAMACPP / f"{rid}.json")
        assert engine_log_compare.PRE_MLA_GGUF.search(r.log)
        rows, _ = engine_log_compare.compare(r)
        got = {row.figure: row for row in rows}
        for figure in ("kv_size", "k_size", "v_size"):
            assert got[figure].predicted == got[figure].printed, (rid, figure)


# --- 2. sliding windows only where llama.cpp's architecture has them ------------------------------------
def test_mistral_v01_window_is_ignored() -> None:
    # Mistral 7B v0.1 (sliding_window 4096) converts to arch "llama", whose load_hparams sets no
    # swa_type: the log prints n_swa = 0 and every layer caches n_ctx cells. At n_ctx 16384: 16384
    # cells x 32 layers x 1024 values (8 KV heads x 128) x 2 B = 1 GiB of K and as much V
    cfg = paramscope.open_model("Mistral-7B-v0.1").config
    assert cfg is not None and cfg.sliding_window == 4096 and not has_swa(cfg)
    m = llamacpp_memory(cfg, 0, n_ctx=16384)
    assert [(p.kind, p.cells, p.layers) for p in m.kv.parts] == [("full", 16384, 32)]
    assert m.params.n_ctx_seq == 16384 and m.kv.k_bytes == m.kv.v_bytes == 16384 * 32 * 1024 * 2


@pytest.mark.parametrize("model_type", ["mistral", "mixtral", "starcoder2", "phi3"])
def test_families_without_llamacpp_swa(model_type: str) -> None:
    cfg = arch_config_from_hf({"model_type": model_type, "sliding_window": 4096})
    assert cfg is not None and "sliding" in cfg.layer_types
    loaded = as_llamacpp_loads(cfg)
    assert loaded.sliding_window == 0 and "sliding" not in loaded.layer_types


@pytest.mark.parametrize(("model_type", "window"), [("gemma2", 4096), ("gemma3_text", 4096), ("gpt_oss", 128),
                                                    ("cohere2", 4096), ("olmo3", 4096)])
def test_families_with_llamacpp_swa_keep_it(model_type: str, window: int) -> None:
    # LLM_ARCH_GEMMA2 / GEMMA3 / OPENAI_MOE / COHERE2 / OLMO2 (with a sliding_window): swa_type STANDARD;
    # the window's cells: GGML_PAD(min(n_ctx, n_swa + n_ubatch), 256)
    cfg = arch_config_from_hf({"model_type": model_type})
    assert cfg is not None and has_swa(cfg) and as_llamacpp_loads(cfg) == cfg
    assert llamacpp_memory(cfg, 0, n_ctx=16384).params.swa_cells == -(-(window + 512) // 256) * 256


def test_gguf_arch_names_keep_their_window() -> None:
    cfg = ArchConfig(family="gemma3_text", architecture="gemma3", n_layers=6, hidden_size=640, n_heads=4,
                     n_kv_heads=1, head_dim_k=256, head_dim_v=256, ffn_size=2048, vocab_size=100,
                     context_length=32768, sliding_window=512, layer_types=("sliding",) * 5 + ("full",))
    sliding = llamacpp_memory(cfg, 0, n_ctx=8192).kv.part("sliding")
    assert has_swa(cfg) and sliding is not None and sliding.cells == 1024


# --- 3. the comparison tool's host devices --------------------------------------------------------------
def test_host_devices() -> None:
    for device in ("CPU", "Host", "CUDA_Host", "SYCL_Host", "OpenCL_Host", "Metal_Host"):
        assert engine_log_compare.is_host(device)
    for gpu in ("CUDA0", "SYCL0", "OpenCL", "MTL0", "Metal", "ROCm0", None):
        assert not engine_log_compare.is_host(gpu)


def test_sycl_compute_buffer_is_compared() -> None:
    # SYCL0 beside SYCL_Host: one GPU compute buffer, so it is compared
    r = engine_logs.load(LLAMACPP / "ipexllm-mistral-7b-v01-q4km-sycl-arc.json")
    rows, _ = engine_log_compare.compare(r)
    assert "compute_buffer@SYCL0" in {row.figure for row in rows}
    assert engine_log_compare.llamacpp_backend(r) == "gpu"


def test_hybrid_kv_figures_are_the_attention_cache() -> None:
    # llama_memory_hybrid: a llama_kv_cache for the attention layers and a llama_memory_recurrent for
    # the others, each with its own buffer and size line; LFM2 1.2B's 6 attention layers at 4096 cells:
    # 6 x 4096 x (512 + 512) x 2 B = 48 MiB, its 10 short-conv states apart ("RS buffer size = 0.16 MiB")
    r = engine_logs.load(LLAMACPP / "lfm25-audio-1.5b-q4-0-android-cpu.json")
    rows, _ = engine_log_compare.compare(r)
    got = {row.figure: row for row in rows}
    for figure in ("kv_size", "kv_buffer", "k_size", "v_size"):
        assert got[figure].predicted == got[figure].printed == (48 if figure.startswith("kv") else 24) * MIB


# --- 4. the FFN's gate and up in the per-phase estimate -------------------------------------------------
def test_moe_ffn_phase_without_flash_attention() -> None:
    # build_moe_ffn: up and gate are [n_ff_exp, n_expert_used, n_tokens] f32, both held until
    # ggml_mul(silu(gate), up): Mixtral 8x7B at n_ubatch 512, 2 x 14336 x 2 x 512 x 4 B = 112 MiB, above
    # the attention (KQ 32 MiB ...) and logits (62.5 MiB ...) phases; build 2688 on Metal printed 115.5
    cfg = paramscope.open_model("Mixtral-8x7B-v0.1").config
    assert cfg is not None
    m = llamacpp_memory(cfg, 0, n_ctx=512, n_batch=512, flash_attn=False, build="legacy-no-swa",
                        backend="gpu")
    assert m.compute.ffn_phase == 2 * 14336 * 2 * 512 * 4 == 112 * MIB
    assert m.compute_bytes == m.compute.ffn_phase > max(m.compute.attention_phase, m.compute.logits_phase)
