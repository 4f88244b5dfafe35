"""SGLang's hybrid pools (analyses/sizing/runtimes/sglang.py pool_kind) against its source's arithmetic.

Every case feeds the free memory SGLang itself measures (``given_free_memory``: 70 GiB before loading,
56 GiB after, the "Load weight end" line's avail mem + mem usage and avail mem) at
``--mem-fraction-static 0.85``, so that the expected numbers follow from the source alone:

    profile_max_num_token: rest = after − before × (1 − 0.85) = 56 − 10.5 = 45.5 GiB = 48,855,252,992 B

(int(70 GiB × 0.85) − 14 GiB, as the code computes it: 59.5 GiB − 14 GiB).
"""

from __future__ import annotations

import pytest

import paramscope
from paramscope.analyses.sizing.kv_cache import layer_kinds
from paramscope.analyses.sizing.runtimes.sglang import (
    SGLANG_HYBRID_SWA_ARCHS,
    given_free_memory,
    indexer_key_bytes,
    mamba_state_bytes,
    pool_kind,
    sglang_memory,
)
from paramscope.analyses.sizing.runtimes.vllm.weights import rank_config
from paramscope.errors import UnsupportedError
from paramscope.records import replace

GiB = 1 << 30
REST = 48_855_252_992  # 45.5 GiB (module docstring)
QWEN3_NEXT = "tests/fixtures/engine_logs/configs/qwen3-next-80b-a3b-instruct.config.json"


@pytest.fixture(scope="module")
def gpt_oss():
    # gpt-oss-20b: 24 layers alternating sliding (window 128) and full, 8 KV heads × 64
    return paramscope.open_model("gpt-oss-20b").config


@pytest.fixture(scope="module")
def qwen3_next():
    # 48 layers: every 4th full attention (2 KV heads × 256), 36 gated-DeltaNet layers
    return paramscope.open_model(QWEN3_NEXT).config


def pooled(cfg, *, tp=1, **kw):
    m = sglang_memory(cfg, 10 * GiB, context=8192, gpu_memory_bytes=80 * GiB, mem_fraction_static=0.85,
                      tensor_parallel=tp, **kw)
    return given_free_memory(m, 70 * GiB, 56 * GiB)


def test_gpt_oss_gets_the_hybrid_swa_pool(gpt_oss):
    m = pooled(gpt_oss)
    assert m.pool == "hybrid-swa" and (m.full_layers, m.swa_layers) == (12, 12)
    assert m.pool_bytes_available == REST
    # profile_max_num_token: the cell of every layer, 24 × 8 heads × 64 × (K, V) × 2 B = 49,152 B
    assert m.cell_bytes == 49_152
    assert m.pooled_tokens == REST // 49_152 == 993_962
    # set_num_tokens_hybrid_swa: int(993,962 × 24 / (0.8 × 12 + 12)) = int(23,855,088 / 21.6) = 1,104,402
    assert m.tokens == 1_104_402
    # swa_max_total_num_tokens = int(1,104,402 × 0.8) = 883,521
    assert m.swa_tokens == 883_521
    # each pool's "KV Cache is allocated" line: (tokens + the padded slot 0's page) × its 12 layers × 8 ×
    # 64 × 2 B, K and V alike (MHATokenToKVPool: size + page_size rows, page_size 1 by default)
    assert m.k_bytes == m.v_bytes == (1_104_402 + 1) * 12 * 8 * 64 * 2 == 13_570_904_064
    assert m.swa_k_bytes == m.swa_v_bytes == (883_521 + 1) * 12 * 8 * 64 * 2 == 10_856_718_336
    # both pools together are rest, short of it by the roundings (rest // cell, two int()) and over it by
    # the two padded slots
    assert m.allocated_bytes is not None and REST - 2 * 49_152 < m.allocated_bytes <= REST + 2 * 24_576


def test_the_ratio_moves_tokens_between_the_pools(gpt_oss):
    # --swa-full-tokens-ratio 1.0: int(993,962 × 24 / 24), both pools the same size
    same = pooled(gpt_oss, swa_full_tokens_ratio=1.0)
    assert same.tokens == same.swa_tokens == 993_962
    # 0.25: int(993,962 × 24 / (0.25 × 12 + 12)) = int(23,855,088 / 15) = 1,590,339; swa int(× 0.25)
    small = pooled(gpt_oss, swa_full_tokens_ratio=0.25)
    assert (small.tokens, small.swa_tokens) == (1_590_339, 397_584)
    with pytest.raises(UnsupportedError):
        pooled(gpt_oss, swa_full_tokens_ratio=1.5)  # server_args.py: "should be in range (0, 1.0]"


def test_disable_hybrid_swa_memory_pools_every_layer_as_full(gpt_oss):
    m = pooled(gpt_oss, disable_hybrid_swa_memory=True)
    assert m.pool == "mha" and m.swa_tokens is None
    assert m.tokens == 993_962 and m.k_bytes == (993_962 + 1) * 24 * 8 * 64 * 2


def test_gemma_sliding_layers_share_the_one_pool(gpt_oss):
    # Gemma 2 and 3 are not in is_hybrid_swa_model: MHATokenToKVPool over num_hidden_layers, the window
    # applied by the attention kernels only; the same shapes as gpt-oss-20b give its undivided tokens
    gemma_like = replace(gpt_oss, architecture="Gemma3ForCausalLM", family="gemma3_text")
    assert gemma_like.architecture not in SGLANG_HYBRID_SWA_ARCHS
    m = pooled(gemma_like)
    assert m.pool == "mha" and m.cell_bytes == 49_152 and m.tokens == 993_962
    # what one request needs is the whole context in every layer, sliding ones included
    assert m.kv.total_bytes == 8192 * 49_152


@pytest.mark.parametrize("source", ["mistral-7b-v0.1",
                                    "tests/fixtures/configs/microsoft__Phi-3.5-MoE-instruct.json",
                                    "tests/fixtures/configs/intfloat__e5-mistral-7b-instruct.json"])
def test_a_model_whose_every_layer_slides_is_pooled_as_full(source):
    # Mistral 7B v0.1, Phi-3.5-MoE: a sliding_window on every layer and no full one. Not hybrid-SWA, so
    # MHATokenToKVPool holds every layer for the whole context: the same pool as without the window
    cfg = paramscope.open_model(source).config
    assert set(layer_kinds(cfg)) == {"sliding"} and pool_kind(cfg) == "mha"
    plain = replace(cfg, sliding_window=0, layer_types=())
    m, want = pooled(cfg), pooled(plain)
    assert m.cell_bytes == want.cell_bytes == cfg.n_layers * 2 * cfg.n_kv_heads * cfg.head_dim_k * 2
    assert (m.tokens, m.kv.total_bytes) == (want.tokens, want.kv.total_bytes)
    assert m.kv.total_bytes == 8192 * m.cell_bytes


def test_gemma3_catalogue_model_is_sized(gpt_oss):
    cfg = paramscope.open_model("gemma-3-27b").config
    assert pool_kind(cfg) == "mha"
    m = sglang_memory(cfg, 54 * GiB, context=8192, gpu_memory_bytes=80 * GiB, mem_fraction_static=0.9)
    # 62 layers × 16 KV heads × 128 × (K, V) × 2 B
    assert m.cell_bytes == 62 * 16 * 128 * 2 * 2


def test_qwen3_next_mamba_pool(qwen3_next):
    rank = rank_config(qwen3_next, 4, "SGLang")
    # mamba_cache_per_req at TP 4: 36 layers × (conv (16 × 128 × 2 + 32 × 128) / 4 × (4 − 1) values × 2 B
    # + SSM 32 / 4 heads × 128 × 128 values × 4 B) = 36 × (12,288 + 524,288) = 19,316,736 B
    assert mamba_state_bytes(rank) == 19_316_736
    m = pooled(qwen3_next, tp=4)
    assert m.pool == "mamba"
    # the token pool holds the 12 full-attention layers: max(1, 2 // 4) head × 256 × (K, V) × 2 B × 12
    assert m.cell_bytes == 12_288
    # handle_max_mamba_cache: int(REST × 0.9 / 1.9 // 19,316,736) = 1,198 states
    assert m.mamba_slots == 1_198
    # tokens = (REST − 1,198 × 19,316,736) // 12,288 = 25,713,803,264 // 12,288 = 2,092,594
    assert m.kv_rest_bytes == 25_713_803_264 and m.tokens == 2_092_594
    # the scheduler serves at most 1,198 // 3 = 399 requests at once (MAMBA_CACHE_SIZE_MAX_RUNNING_...)
    assert m.max_requests == min(2_092_594 // 8192, 399) == 255


def test_qwen3_next_given_cache_size_and_ssm_dtype(qwen3_next):
    # --max-mamba-cache-size 64: (REST − 64 × 19,316,736) // 12,288 = 3,875,242
    fixed = pooled(qwen3_next, tp=4, max_mamba_cache_size=64)
    assert (fixed.mamba_slots, fixed.tokens) == (64, 3_875_242)
    # --mamba-ssm-dtype bfloat16: 36 × (12,288 + 262,144) = 9,879,552 B a request; int(REST × 0.9 / 1.9 //
    # 9,879,552) = 2,342 states; (REST − 2,342 × 9,879,552) // 12,288 = 2,092,882 tokens
    half = pooled(qwen3_next, tp=4, mamba_ssm_dtype="bfloat16")
    assert (half.mamba_state_bytes, half.mamba_slots, half.tokens) == (9_879_552, 2_342, 2_092_882)
    with pytest.raises(UnsupportedError):
        pooled(qwen3_next, tp=4, mamba_ssm_dtype="float16")


def test_refusals(gpt_oss, qwen3_next):
    # sliding and recurrent layers together: no SGLang pool holds both
    mixed = replace(qwen3_next, layer_types=tuple("sliding" if t == "full" else t
                                                  for t in qwen3_next.layer_types), sliding_window=4096)
    with pytest.raises(UnsupportedError, match="sliding-window and recurrent"):
        pool_kind(mixed)
    # recurrent layers whose state sizes are unknown
    with pytest.raises(UnsupportedError, match="no conv/SSM state sizes"):
        pool_kind(replace(qwen3_next, recurrent_layers=0, conv_state_size=0, ssm_state_size=0))


def test_the_runtime_options_reach_the_pools():
    base = paramscope.size("gpt-oss-20b", runtime="sglang", gpu="h100", context=8192,
                           mem_fraction_static=0.85).to_json()
    assert any("sliding-window layers" in note for note in base["notes"])
    one = paramscope.size("gpt-oss-20b", runtime="sglang", gpu="h100", context=8192,
                          mem_fraction_static=0.85, disable_hybrid_swa_memory=True).to_json()
    assert not any("sliding-window layers" in note for note in one["notes"])
    nxt = paramscope.size(QWEN3_NEXT, runtime="sglang", gpu="h200x4", context=8192,
                          mem_fraction_static=0.85, max_mamba_cache_size=64).to_json()
    assert any("64 recurrent states" in note for note in nxt["notes"])


def test_gpt_oss_hybrid_pool_by_build(gpt_oss):
    # server_args.py _handle_model_specific_adjustments of the builds of August to late 2025 set
    # disable_hybrid_swa_memory = True for GptOssForCausalLM: one pool over the 24 layers
    for build in ("mid-2025", "early-2025"):
        m = pooled(gpt_oss, build=build)
        assert m.pool == "mha" and m.tokens == 993_962
    assert pooled(gpt_oss, build="current").pool == "hybrid-swa"
    # a flag given wins over the build's rule
    assert pooled(gpt_oss, build="mid-2025", disable_hybrid_swa_memory=False).pool == "hybrid-swa"


def test_qwen3_5_9b_log_arithmetic():
    # sglang/exp001-sglang-qwen3.5-9b-2x4090-tp2: Qwen3.5-9B at TP 2, --mem-fraction-static 0.8
    cfg = paramscope.open_model("tests/fixtures/engine_logs/configs/qwen3.5-9b.config.json").config
    rank = rank_config(cfg, 2, "SGLang")
    # 24 gated-DeltaNet layers × (conv 8192 / 2 × 3 × 2 B + SSM 32 / 2 × 128 × 128 × 4 B)
    assert mamba_state_bytes(rank) == 24 * (24_576 + 1_048_576) == 25_755_648
    # MambaPool holds max_mamba_cache_size + 1 states: the log's "ssm_state size: 4.38GB" for 186
    assert round(187 * 24 * 1_048_576 / GiB, 2) == 4.38
    m = given_free_memory(
        sglang_memory(cfg, 17 * GiB, context=262144, gpu_memory_bytes=24 * GiB, mem_fraction_static=0.8,
                      tensor_parallel=2, nvlink=False),
        round(22.93 * GiB), round(14.08 * GiB))
    # cell: 8 full layers × 2 heads × 256 × (K, V) × 2 B; 327,310 printed tokens are 2.50 GiB of K
    assert m.cell_bytes == 16_384 and round(327_310 * 8 * 2 * 256 * 2 / GiB, 2) == 2.50
    # rest = 14.08 − 22.93 × 0.2 GiB: int(rest × 0.9 / 1.9 // 25,755,648) = 187 states (the log: 186,
    # SGLang's own free-memory reads being some 30 MiB below the printed ones), then 328,234 tokens
    assert (m.mamba_slots, m.tokens) == (187, 328_234)
    # max_running_requests=62 in the log: 186 // MAMBA_SLOTS_PER_REQUEST
    assert 186 // 3 == 62


def test_a_parallel_hybrid_takes_the_mamba_pool():
    # Falcon-H1: attention and Mamba in every layer; SGLang treats it as mambaish (recurrent states in the
    # Mamba pool), not as a plain KV model
    from pathlib import Path

    import paramscope
    from paramscope.analyses.sizing.runtimes.sglang import pool_kind

    path = Path(__file__).parent / "fixtures" / "configs" / "tiiuae__Falcon-H1-0.5B-Instruct.json"
    cfg = paramscope.open_model(str(path)).config
    assert cfg is not None and cfg.recurrent_layers
    assert pool_kind(cfg) == "mamba"


def test_fit_prints_the_pool_flags_given():
    import paramscope
    from paramscope.analyses.sizing.fit import fit
    from paramscope.analyses.sizing.memory import MemoryRequest
    from paramscope.knowledge.hardware import find_device

    req = MemoryRequest(runtime="sglang", context=8192, device=find_device("h100-sxm"),
                        options={"swa_full_tokens_ratio": 0.5})
    lines = [c.text for c in fit(paramscope.open_model("gpt-oss-120b"), req).command_lines]
    assert any("--swa-full-tokens-ratio 0.5" in line and "--mamba" not in line for line in lines)


def test_gpt_oss_on_sm100_takes_one_pool_in_the_current_build():
    # current builds disable the hybrid pool for gpt-oss under trtllm_mha, the default on B200/GB200
    import paramscope
    from paramscope.analyses.sizing.memory import MemoryRequest, estimate
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("gpt-oss-120b")

    def notes(gpu: str) -> str:
        est = estimate(model, MemoryRequest(runtime="sglang", context=8192, device=find_device(gpu)))
        return " ".join(est.notes)

    assert "KV pools of" in notes("h100-sxm") and "a KV pool of" in notes("b200")


def test_the_requests_recurrent_state_is_the_mamba_pools():
    # what one request holds (the KV-needed line, the decode bound's reads) is the Mamba pool's state: conv
    # bf16 + SSM at --mamba-ssm-dtype (Qwen3-Next at TP 4: 19,316,736 B float32, 9,879,552 B bfloat16)
    from pathlib import Path

    import paramscope
    from paramscope.analyses.sizing.runtimes.sglang import sglang_memory

    path = Path(__file__).parent / "fixtures" / "configs" / "Qwen__Qwen3-Next-80B-A3B-Instruct.json"
    model = paramscope.open_model(str(path))
    assert model.config is not None
    for dtype, state in (("float32", 19_316_736), ("bfloat16", 9_879_552)):
        m = sglang_memory(model.config, model.tensor_bytes, context=8192, tensor_parallel=4,
                          mamba_ssm_dtype=dtype)
        assert sum(p.total_bytes for p in m.kv.parts if p.kind == "linear") == state


def test_a_sparse_attention_models_cell_holds_its_indexer_keys():
    """GLM-5 / DeepSeek-V3.2 (MLA with a DSA indexer): SGLang's NSA pool keeps each token's indexer key
    in every layer, 128 FP8 values and one fp32 scale per 128 (132 B), whatever the KV type; GLM-5-FP8 at
    TP 8 with fp8 KV: (576 + 132) B × 78 layers (the record rocm-sglang-glm5-fp8-8xmi35x-fp8kv-v058post1)."""
    from paramscope.model.dtypes import DType

    cfg = paramscope.open_model("tests/fixtures/engine_logs/configs/glm-5.1.config.json").config
    assert indexer_key_bytes(cfg) == 132
    for kv, latent in ((DType.F8_E4M3, 576), (DType.BF16, 1152)):
        m = sglang_memory(cfg, 90 * GiB, context=8192, gpu_memory_bytes=288 * GiB, mem_fraction_static=0.9,
                          tensor_parallel=8, kv_type=kv)
        assert (m.cell_bytes, m.indexer_bytes) == (78 * (latent + 132), 78 * 132)
        assert any("indexer keys" in line for line in m.explain)
    # without an indexer, plain MLA
    plain = replace(cfg, extra={k: v for k, v in cfg.extra.items() if k != "index_head_dim"})
    assert indexer_key_bytes(plain) == 0
    assert sglang_memory(plain, 90 * GiB, context=8192, tensor_parallel=8,
                         kv_type=DType.F8_E4M3).cell_bytes == 78 * 576


def test_gemma4_kv_sharing_layers_keep_pool_rows_of_their_own():
    # Gemma 4 E4B: 42 layers, the last 18 share an earlier layer's K and V (num_kv_shared_layers), so
    # transformers and vLLM cache 24 of them (20 sliding, 4 full); SGLang's SWAKVPool sizes every one of
    # the 42 (35 sliding × 2 heads × 256, 7 full × 2 heads × 512): the GB10 log's "SWAKVPool mem usage:
    # 79.94 GB, swa size: 798276, full size: 997846" is exactly those bytes
    cfg = paramscope.open_model("tests/fixtures/engine_logs/configs/gemma-4-e4b.config.json").config
    assert layer_kinds(cfg) == {"sliding": 20, "full": 4}
    m = pooled(cfg)
    assert m.pool == "hybrid-swa"
    assert (m.full_layers, m.swa_layers) == (7, 35)
    assert (m.full_cell_bytes, m.swa_cell_bytes) == (7 * 2 * 2 * 512 * 2, 35 * 2 * 2 * 256 * 2)
    assert 997_846 * m.full_cell_bytes + 798_276 * m.swa_cell_bytes == 85_830_664_192  # 79.94 GiB


def test_each_buffer_holds_the_padded_slot_s_page():
    # MHATokenToKVPool allocates size + page_size rows per layer (slot 0 takes padded tokens' dummy
    # writes): Qwen3-8B on a 288 GB SM100 GPU, where the trtllm_mha backend raised the page to 64, printed
    # "#tokens: 1707904, K size: 117.28 GB": (1,707,904 + 64) × 36 × 8 × 128 × 2 B = 117.2786 GiB, where
    # the tokens alone would print 117.27
    cfg = paramscope.open_model("qwen3-8b").config
    m = replace(pooled(cfg), page_size=64)
    assert m.k_bytes_for(1_707_904) == m.v_bytes_for(1_707_904) == (1_707_904 + 64) * 36 * 8 * 128 * 2
    assert round(m.k_bytes_for(1_707_904) / GiB, 2) == 117.28



def test_the_current_build_reserves_for_piecewise_cuda_graphs():
    """SGLang 0.5.10 captures piecewise CUDA graphs by default and reserves 8 MiB per captured token count
    (42 at 2048 tokens, 58 at 8192, 74 at 16384; 1.5 GiB for MLA) before the 10 GiB floor. The default
    fractions as logs print them: 0.83 on an H100 (a 2026-08 main), 0.854 on a B200 (a 2026-04 main), and
    0.86 on an H100 NVL with --disable-piecewise-cuda-graph (0.5.10.post1)."""
    from paramscope.analyses.sizing.runtimes.sglang import default_mem_fraction, piecewise_token_counts
    from paramscope.knowledge.hardware import find_device

    assert [piecewise_token_counts(n) for n in (2048, 4096, 8192, 16384)] == [42, 50, 58, 74]
    mib = {name: find_device(name).reported_bytes / (1 << 20) for name in ("h100", "h100-nvl", "b200")}
    assert default_mem_fraction(1, mib["h100"], "current", piecewise=True) == 0.83
    assert default_mem_fraction(1, mib["h100"], "late-2025", piecewise=True) == 0.835  # 0.5.3 to 0.5.9
    assert default_mem_fraction(1, mib["b200"], "current", piecewise=True) == 0.854
    assert default_mem_fraction(1, mib["h100-nvl"], "current") == 0.86
    # MLA: a flat 1.5 GiB (8 × H200: 0.886 where the term-free rule gives 0.897)
    h200 = find_device("h200").reported_bytes / (1 << 20)
    assert default_mem_fraction(8, h200, "current", piecewise=True, mla=True) == 0.886
    assert default_mem_fraction(8, h200, "current") == 0.897


def test_size_turns_the_piecewise_reserve_off_where_sglang_does():
    from paramscope.app.size import size

    def fraction(source, **kw):
        notes = " ".join(size(source, runtime="sglang", gpu="rtx-4090", **kw).estimate.explain)
        return float(notes.split("mem_fraction_static ")[1].split()[0].rstrip(","))

    assert fraction("qwen3-8b", context=4096) < fraction("qwen3-8b", context=4096,
                                                          disable_piecewise_cuda_graph=True)
    assert fraction("qwen3-8b", context=4096, sglang_build="late-2025") == fraction(
        "qwen3-8b", context=4096, disable_piecewise_cuda_graph=True)


@pytest.mark.parametrize(("gpu", "reserved"), [("arc-a770", False), ("rx-7900-xtx", False), ("a6000", True)])
def test_the_piecewise_reserve_is_cuda_only(gpu, reserved):
    """server_args.py _handle_piecewise_cuda_graph: off on HIP, NPU, CPU, MPS and XPU; Intel's GPUs keep
    the RoPE cache in float32 as CUDA does (``_is_cuda or _is_xpu``), ROCm casts it."""
    from paramscope.analyses.sizing.runtimes.sglang import default_mem_fraction
    from paramscope.app.size import size
    from paramscope.knowledge.hardware import find_device

    words = " ".join(size("qwen3-8b", runtime="sglang", gpu=gpu, context=4096).estimate.explain)
    device = find_device(gpu)  # SGLang's default reads the driver's total (NVML), not CUDA's
    mib = (device.reported_bytes or device.memory_bytes) / (1 << 20)
    piecewise = default_mem_fraction(1, mib, "current", piecewise=True)
    plain = default_mem_fraction(1, mib, "current", piecewise=False)
    assert piecewise != plain
    assert f"mem_fraction_static {piecewise if reserved else plain}" in words
