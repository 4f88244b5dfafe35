"""Engine rules found by the round-9 logs (docs/runtimes.md 4.0i), each pinned on its own beside the
engine-log test that measures it: llama.cpp's output layer offloaded first and how a log tells its build
family; vLLM's token count reported from the concurrency and its hybrid models' prefix caching by default;
SGLang's one pool for a model whose every layer slides."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.vllm.engine import TOKENS_REPORTED_RELEASE
from paramscope.analyses.sizing.runtimes.vllm.kv import PREFIX_CACHING_RELEASE, prefix_caching_on
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.model.dtypes import DType

LOGS = Path(__file__).parent / "fixtures" / "engine_logs"
sys.path.insert(0, str(Path(__file__).parents[1] / "tools"))

import engine_log_compare  # noqa: E402
import engine_logs  # noqa: E402

GiB = 1 << 30
GRANITE = LOGS / "configs" / "granite-4.0-h-micro.config.json"


def _record(name: str) -> engine_logs.Record:
    return engine_logs.load(next(LOGS.rglob(f"{name}.json")))


@pytest.mark.parametrize("record,build", [
    # output line, then 14 repeating: a 2026 build before the mixed-batch input (b11401)
    ("ollama-llamaserver-hermes3-8b-q4-0-rtx2060-fit15", "mid-2026"),
    ("qwen35-27b-q4ks-4070-ngl26-ub1024-b8586", "early-2026"),  # before b9410's f16 mask
    ("qwen3-coder-30b-a3b-q8-a100-40g-b7342-np4", "late-2025"),  # 48 repeating, then the output
    ("gemma2-2b-it-q4km-cpu-win-b7445-np4", "late-2025"),
    ("ollama-qwq-32b-q4km-3060-ngl29-q8kv-fa", "late-2025"),  # partial: repeating layers, no output line
    ("ggmlci-pythia-2.8b-q4-0-cuda-v100-b4775-ngl10", "legacy-no-swa"),  # its own markers, output last too
])
def test_the_log_says_where_the_output_layer_went(record, build):
    assert engine_log_compare.llamacpp_build(_record(record)) == build


def _granite(engine: str, context: int, prefix_caching: bool | None = None, release=None):
    cfg = paramscope.open_model(str(GRANITE)).config
    return vllm_memory(cfg, 6 * GiB, context=context, dtype=DType.BF16, engine=engine,
                       gpu_memory_bytes=round(31.36 * GiB), gpu_memory_utilization=0.9,
                       prefix_caching=prefix_caching, release=release)


@pytest.mark.parametrize("context", [32768, 131072])
def test_tokens_are_reported_as_concurrency_times_the_context_from_0_20_1(context):
    """Granite 4.0-H-Micro (hybrid Mamba-2), 0.29.0: "GPU KV cache size" = int(max_model_len x max
    concurrency) (2,143,269 at 32K), not the attention blocks' tokens; 0.20.0 and before: the blocks; from
    0.20.1 (TOKENS_REPORTED_RELEASE: a 0.20.1 log prints 262,872 = int(361 / 45 x 32,768), r30v-*) the
    new way, the newest of the v1-0.16 family (0.20.2) too."""
    assert TOKENS_REPORTED_RELEASE == (0, 20, 1)
    new = _granite("v1", context).pool
    assert new.tokens == int(context * new.max_concurrency)
    assert new.tokens > new.num_blocks // new.layout.n_groups * new.block_size * 5
    old = _granite("v1-0.16", context, release=(0, 20, 0)).pool
    assert old.tokens == old.num_blocks // old.layout.n_groups * old.block_size
    for release in ((0, 20, 1), None):
        reported = _granite("v1-0.16", context, release=release).pool
        assert reported.tokens == int(context * reported.max_concurrency)


@pytest.mark.parametrize("context", [32768, 32000, 8191])
def test_a_plain_models_tokens_are_its_blocks_tokens_when_the_context_fills_whole_blocks(context):
    cfg = paramscope.open_model("llama-3.1-8b").config
    pool = vllm_memory(cfg, 16 * GiB, engine="v1", context=context, gpu_memory_bytes=80 * GiB,
                       gpu_memory_utilization=0.9).pool
    blocks = pool.num_blocks * pool.block_size
    # a context of whole blocks: the same count; else concurrency x context, below the blocks' tokens
    assert pool.tokens == blocks if context % 16 == 0 else blocks > pool.tokens == int(
        context * (pool.num_blocks / -(-context // 16)))


def test_a_hybrid_caches_prefixes_by_default_in_current_releases():
    """Unasked, the v1 family (current `vllm serve`, 0.29) puts the Mamba state in "align" mode: two state
    blocks of each Mamba group a request; 0.19 and before: one. --no-enable-prefix-caching: one."""
    assert PREFIX_CACHING_RELEASE == (0, 26, 0)  # 0.25.0: "Hybrid models do not support prefix caching"
    assert prefix_caching_on(None, (0, 26, 0)) and not prefix_caching_on(None, (0, 25, 1))
    assert not prefix_caching_on(False, (0, 33, 0)) and prefix_caching_on(True, (0, 20, 2))
    default, off = _granite("v1", 32768), _granite("v1", 32768, prefix_caching=False)
    at_029 = _granite("v1", 32768, release=(0, 29, 0))
    mamba_groups = default.layout.groups["linear"]
    assert at_029.layout.blocks_per_request == off.layout.blocks_per_request + mamba_groups
    # from 0.32 a Mamba-2 layer keeps a third block, the prefill's checkpoint (MAMBA2_CHECKPOINT_RELEASE)
    assert default.layout.blocks_per_request == off.layout.blocks_per_request + 2 * mamba_groups
    # the record: 65.41x printed; one state block a request gives 74.82x, two 66.51x (+1.7 %)
    r = _record("rtx5090-granite4-h-micro-32k-v0290")
    assert engine_log_compare.prefix_caching(r) is None
    got = engine_log_compare.predict_vllm(engine_log_compare.open_record_model(r), r)["max_concurrency"]
    assert got == pytest.approx(65.41, rel=0.02)


def test_the_cli_turns_it_off():
    from paramscope.app.size import size

    on = size(str(GRANITE), runtime="vllm", gpu="rtx-5090", context=32768)
    off = size(str(GRANITE), runtime="vllm", gpu="rtx-5090", context=32768, no_enable_prefix_caching=True)
    assert on.to_json() != off.to_json()


def test_llama_server_reserves_one_row_of_logits_per_sequence():
    """llama.cpp PR 23861 (June 2026): the prompt graph holds min(n_ubatch, n_outputs_max) rows of logits
    and llama-server sets n_outputs_max to -np. Llama 3.1 8B, 32768 cells, -ub 512, one sequence, on a GPU:
    the server's fit dry run printed 140 MiB of CUDA compute buffer (the Hermes 3 record's log), 258.5
    with 512 rows."""
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory

    model = paramscope.open_model("llama-3.1-8b")
    kw = dict(n_ctx=32768, n_ubatch=512, n_batch=512, backend="gpu")
    server = llamacpp_memory(model.config, model.tensor_bytes, n_outputs_max=1, **kw)
    library = llamacpp_memory(model.config, model.tensor_bytes, **kw)
    assert round(server.compute_bytes / 2**20) == 140 and library.compute_bytes / 2**20 == 258.5
    assert server.params.n_outputs == 1 and library.params.n_outputs == 512
    # never fewer rows than sequences, never more than the ubatch
    four = llamacpp_memory(model.config, model.tensor_bytes, n_seq=4, n_outputs_max=1, **kw)
    assert four.params.n_outputs == 4
    r = _record("ollama-llamaserver-hermes3-8b-q4-0-rtx2060-fit15")
    assert engine_log_compare.n_outputs_max(r) == 1


def test_the_size_option_reaches_the_compute_buffer():
    from paramscope.app.size import size

    plain = size("llama-3.1-8b", runtime="llama.cpp", gpu="rtx-4090", context=32768).to_json()
    server = size("llama-3.1-8b", runtime="llama.cpp", gpu="rtx-4090", context=32768,
                  llama_server_outputs=True).to_json()
    assert server["compute_bytes"] < plain["compute_bytes"]
    assert server["kv_cache_bytes"] == plain["kv_cache_bytes"]
    # builds of 2025 and earlier had no such cap: asking for it with them is refused, not ignored
    from paramscope.errors import UnsupportedError

    for build in ("late-2025", "legacy", "legacy-no-swa"):
        with pytest.raises(UnsupportedError, match="predates it"):
            size("llama-3.1-8b", runtime="llama.cpp", gpu="rtx-4090", context=32768,
                 llama_server_outputs=True, llamacpp_build=build)


# --- round 10 -------------------------------------------------------------------------------------------

def test_a_dsa_models_indexer_keys_join_its_vllm_pages():
    """vLLM's DeepseekV32IndexerCache (MLAAttentionSpec, head_size 132, uint8) beside each MLA layer with an
    indexer of its own: GLM-5.1 at TP 8, 78 × (1152 + 132) B a token as two bisect builds print it; the
    GLM-5.2 test config's IndexShare keeps them on its 5 "full" layers of 11 (13,332 B a token)."""
    from paramscope.analyses.sizing.kv_cache import indexer_key_bytes, indexer_layers

    for name, layers, indexers in (("glm-5.1.config.json", 78, 78),
                                   ("glm-5.2-pocketinfer-dummy.config.json", 11, 5)):
        cfg = paramscope.open_model(str(LOGS / "configs" / name)).config
        assert (cfg.n_layers, indexer_layers(cfg), indexer_key_bytes(cfg)) == (layers, indexers, 132)
        m = vllm_memory(cfg, 10 * GiB, context=8192, dtype=DType.BF16, tensor_parallel=8)
        assert m.layout.block_bytes == m.params.block_size * (layers * 1152 + indexers * 132)
    plain = paramscope.open_model("deepseek-v3").config
    assert indexer_key_bytes(plain) == 0


def test_without_the_hybrid_manager_every_sliding_layer_holds_the_context():
    """--disable-hybrid-kv-cache-manager (or a KV connector without SupportsHMA): gpt-oss-120b at TP 8 on
    H200s, 0.22.1: 13,724,416 tokens printed, one group of 36 full layers (25,798,626 with the manager)."""
    from paramscope.analyses.sizing.runtimes.vllm.kv import without_hybrid_manager
    from paramscope.errors import UnsupportedError

    cfg = paramscope.open_model("gpt-oss-120b").config
    flat = without_hybrid_manager(cfg)
    assert set(flat.layer_types) == {"full"} and len(flat.layer_types) == cfg.n_layers == 36
    # 0.22.1 admitted a sliding layer's window and one chunk (async_scheduling off: engine.py
    # concurrent_batches)
    kw = dict(context=131072, tensor_parallel=8, gpu_memory_bytes=140 * GiB, gpu_memory_utilization=0.9,
              async_scheduling=False)
    on = vllm_memory(cfg, 65 * GiB, **kw)
    off = vllm_memory(cfg, 65 * GiB, disable_hybrid_kv_cache_manager=True, **kw)
    # a request's bytes: every layer's whole context, against the sliding layers' window with the manager
    assert off.layout.n_groups == 1 and off.layout.group_size == 36
    assert (off.layout.blocks_per_request * off.layout.block_bytes
            > 1.8 * on.layout.blocks_per_request * on.layout.block_bytes)
    with pytest.raises(UnsupportedError, match="recurrent"):
        without_hybrid_manager(paramscope.open_model(str(GRANITE)).config)
    r = _record("vastrepro-gpt-oss-120b-8xh200-tp8-nohma-v0221")
    got = engine_log_compare.predict_vllm(engine_log_compare.open_record_model(r), r)["kv_tokens"]
    # −0.17 %: the graph estimate of gpt-oss's 166 graphs (capture bound 1024) over 36 layers, 0.99 GiB a
    # rank where the 0.5 GiB constant had been taken (the log prints no estimate)
    assert got == pytest.approx(13_724_416, rel=0.002)


def test_model_runner_v2_before_0_29_takes_no_graph_estimate():
    """0.26.0's breakdown: 13.99 − 0.93 − 1.06 − 0.07 = 11.93 GiB of KV for the 11.94 printed, no graph term;
    the estimate came to V2 with 0.29 (the 0.26.0 to 0.28.0 sdists' profile_cudagraph_memory returns 0)."""
    cfg = paramscope.open_model("llama-3.1-8b").config
    kw = dict(context=8192, gpu_memory_bytes=80 * GiB, gpu_memory_utilization=0.9)
    with_it = vllm_memory(cfg, 16 * GiB, **kw)
    without = vllm_memory(cfg, 16 * GiB, graph_estimate=False, **kw)
    assert with_it.cuda_graph_bytes > 0 == without.cuda_graph_bytes
    assert without.pool.available_bytes - with_it.pool.available_bytes == with_it.cuda_graph_bytes
    # the logs that show V2's lines (model_runner.py) run it; V2 before 0.29 takes none (memory.py)
    for rid in ("r24v-gemma4-e2b-it-fp16-t4-g4dn-16k-v0280", "orca3notes-qwen25-05b-async-16g-v0260"):
        assert engine_log_compare.model_runner(_record(rid)) == "v2"
    v2 = vllm_memory(cfg, 16 * GiB, model_runner="v2", release=(0, 28, 0), **kw)
    assert v2.cuda_graph_bytes == 0 < v2.captured_graph_bytes
    # 0.31 (V2 for every model) takes the estimate in, V2's included
    assert engine_log_compare.model_runner(_record("a100-llama31-8b-default-v0310")) == "v2"
    later = vllm_memory(cfg, 16 * GiB, model_runner="v2", release=(0, 31, 0), **kw)
    assert later.cuda_graph_bytes > 0 == later.captured_graph_bytes
    assert engine_log_compare.graph_estimate(_record("llmd-llama31-8b-h100-v0110")) is None  # the V1 runner


def test_llama_servers_outputs_cap_is_its_slots_where_the_excerpt_omits_it():
    assert engine_log_compare.n_outputs_max(_record("qwen35-9b-udq4kxl-vulkan-3080ti-b9849-np1-ub2048")) == 1
    assert engine_log_compare.n_outputs_max(_record("qwen35-9b-udq4kxl-vulkan-3080ti-b9849-np4-ub2048")) == 4
    # b8999 (Metal) came before the cap: n_ubatch rows
    assert engine_log_compare.n_outputs_max(_record("qwen35-9b-q4ks-metal-m4pro-b8999-262k-q8kv")) == 0


def test_ministral_3_is_replayed_on_the_llama_graph():
    from paramscope.analyses.sizing.runtimes.llamacpp.graph import graph_arch

    cfg = paramscope.open_model(str(LOGS / "configs" / "ministral-3-3b.config.json")).config
    assert graph_arch(cfg) == "mistral3"


def test_review_findings_of_rounds_9_and_10():
    """What a review found: a DSA model's "KV needed" holds the indexer keys as its blocks do; a pipeline
    stage cuts a string index_topk_pattern to its layers; fit's -ngl counts the output layer only for the
    builds that offload it first; both prefix-caching flags together are refused."""
    from paramscope.analyses.sizing.kv_cache import indexer_layers
    from paramscope.analyses.sizing.memory import MemoryRequest
    from paramscope.analyses.sizing.runtimes.vllm.kv import prefix_caching_asked
    from paramscope.analyses.sizing.runtimes.vllm.pipeline import stage_config
    from paramscope.errors import UsageError
    from paramscope.records import replace

    cfg = paramscope.open_model(str(LOGS / "configs" / "glm-5.2-pocketinfer-dummy.config.json")).config
    m = vllm_memory(cfg, 10 * GiB, context=8192, dtype=DType.BF16, tensor_parallel=8)
    assert m.kv_needed_bytes == m.layout.blocks_per_request * m.layout.block_bytes
    pattern = "".join("F" if k == "full" else "S" for k in cfg.extra["indexer_types"])
    as_string = replace(cfg, extra={**{k: v for k, v in cfg.extra.items() if k != "indexer_types"},
                                    "index_topk_pattern": pattern})
    half = cfg.n_layers // 2
    assert [indexer_layers(stage_config(as_string, a, b)) for a, b in ((0, half), (half, cfg.n_layers))] \
        == [indexer_layers(stage_config(cfg, a, b)) for a, b in ((0, half), (half, cfg.n_layers))] == [3, 2]
    with pytest.raises(UsageError, match="together"):
        prefix_caching_asked(MemoryRequest(runtime="vllm", options={"enable_prefix_caching": True,
                                                                    "no_enable_prefix_caching": True}))
    from paramscope.app.fit import fit as fit_app

    current = fit_app("llama-3.1-70b", gpu="rtx-4090", ram="256GiB", runtime="llama.cpp").to_json()
    older = fit_app("llama-3.1-70b", gpu="rtx-4090", ram="256GiB", runtime="llama.cpp",
                    llamacpp_build="late-2025").to_json()
    layers = next(p["gpu_layers"] for p in older["plans"] if p["gpu_layers"])
    assert any(c.endswith(f"-ngl {layers}") for c in older["commands"])
    assert any(c.endswith(f"-ngl {layers + 1}") for c in current["commands"])


def test_modelopt_checkpoints_are_priced_as_stored(tmp_path):
    """NVIDIA Model Optimizer's exports (quant_method "modelopt", SGLang's modelopt_fp4 / vLLM's modelopt):
    NVFP4 stores E2M1 pairs in uint8, an FP8 E4M3 scale per 16 values and two float32 scalars a Linear; FP8
    an FP8 weight and two float32 scalars; the head and exclude_modules stay in the model dtype. Round 11's
    GLM-5 NVFP4 log was priced at bf16 (+207 %) for want of the method."""
    import json

    plain = paramscope.open_model("llama-3.1-8b")
    sizes = {}
    for algo in ("NVFP4", "FP8"):
        qc = {"quant_method": "modelopt", "quant_algo": algo, "group_size": 16,
              "exclude_modules": ["lm_head"]}
        path = tmp_path / algo / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps({**plain.metadata["config"], "quantization_config": qc}))
        m = paramscope.open_model(str(path))
        ts = {t.name: t for t in m.tensors}
        q = "model.layers.0.self_attn.q_proj"
        if algo == "NVFP4":
            assert (ts[q + ".weight"].dtype, ts[q + ".weight"].shape) == (DType.U8, (4096, 2048))
            scale = ts[q + ".weight_scale"]
            assert (scale.dtype, scale.shape) == (DType.F8_E4M3, (4096, 256))
            assert ts[q + ".weight_scale_2"].shape == ts[q + ".input_scale"].shape == ()
        else:
            assert ts[q + ".weight"].dtype == DType.F8_E4M3 and ts[q + ".weight_scale"].shape == ()
        assert ts["lm_head.weight"].dtype == DType.BF16
        sizes[algo] = m.tensor_bytes
    assert sizes["NVFP4"] < sizes["FP8"] < plain.tensor_bytes


# --- round 11 -------------------------------------------------------------------------------------------

def test_mxfp4_on_capability_12_is_marlin():
    """vLLM's get_mxfp4_backend: Triton for capability 9.0 to 11.0, FlashInfer on the 10.x family, Marlin
    for the rest, so for the 12.x Blackwell GPUs (GeForce RTX 50, RTX PRO, GB10): gpt-oss-20b on a GB10
    printed 13.8 GiB, 13.70 with Marlin's padding, 13.44 with Triton's."""
    from paramscope.analyses.sizing.loaded import SM12X, _vllm_mxfp4_backend
    from paramscope.knowledge.hardware import find_device

    assert {"rtx-5090", "rtx-pro-6000", "dgx-spark"} <= SM12X
    assert [_vllm_mxfp4_backend(find_device(k)) for k in ("dgx-spark", "rtx-5090", "h100", "a100")] == [
        "marlin", "marlin", "triton", "marlin"]


def test_a_config_of_another_model_under_a_transformers_model_type_is_refused():
    """Grok-2's config says model_type "git" (transformers' GIT captioning model) and Grok1ForCausalLM: no
    class transformers builds for "git", so no count (it came to 54.9B of 269.6B as GIT). Kimi-K2.5's
    KimiK25ForConditionalGeneration is transformers' Kimi_K25ForConditionalGeneration spelled otherwise."""
    from paramscope.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="no class transformers builds"):
        paramscope.open_model(str(LOGS / "configs" / "grok-2.config.json"))
    assert paramscope.open_model(str(LOGS / "configs" / "kimi-k2.5.config.json")).config is not None


def test_nvfp4_as_engines_load_it_keeps_embeddings_and_head():
    """The nvfp4_linear scheme: a Linear's E2M1 pairs, an FP8 scale per 16 inputs and two float32 scalars;
    embeddings and head as stored (not llama.cpp's NVFP4 file type, which quantizes those too). Qwen3-8B on
    vLLM 0.23: 5.98 GiB printed, 5.96 priced (the RoPE cache beside)."""
    from paramscope.analyses.sizing.weights import reprice
    from paramscope.knowledge.quant_schemes import lookup

    assert lookup("nvfp4_linear").matrix_bytes(1, 4096, 4096) == 4096 * 2048 + 4096 * 256 + 8
    model = paramscope.open_model("qwen3-8b")
    rows = {r.name: r for r in reprice(model, "nvfp4_linear").rows}
    assert rows["model.embed_tokens.weight"].type == "BF16" and rows["lm_head.weight"].type == "BF16"
    assert rows["model.layers.0.mlp.down_proj.weight"].type == "NVFP4/g16"
    total = reprice(model, "nvfp4_linear").total_bytes
    assert abs(total / 2**30 - 5.96) < 0.01
    assert reprice(model, "nvfp4").total_bytes < total  # llama.cpp's file type quantizes the embeddings


# --- round 12 -------------------------------------------------------------------------------------------

def test_sglang_caps_its_pool_at_max_total_tokens():
    """SGLang's --max-total-tokens (model_runner.py init_memory_pool: min(profiled, cap)): Qwen3-30B-A3B at
    --mem-fraction-static 0.90 on an RTX PRO 6000 with a cap of 4096 printed #tokens 4096 and K size 0.19 GB
    (4096 x 48 layers x 4 heads x 128 x 2 B), where the memory alone gives about 305,000 tokens. The
    compare tool reads the cap from a record's settings or the log's server_args line."""
    from paramscope.analyses.sizing.runtimes.sglang import sglang_memory

    model = paramscope.open_model("qwen3-30b-a3b")
    kw = dict(context=40960, gpu_memory_bytes=95 * 2**30, mem_fraction_static=0.9)
    free = sglang_memory(model.config, model.tensor_bytes, **kw)
    capped = sglang_memory(model.config, model.tensor_bytes, max_total_tokens=4096, **kw)
    assert free.tokens > 300_000 and capped.tokens == 4096
    assert capped.k_bytes == (4096 + 1) * 48 * 4 * 128 * 2  # and the padded slot 0's page
    assert any("at most --max-total-tokens 4,096" in line for line in capped.explain)
    for rid in ("r12s-slime-sglang-qwen3-30b-a3b-rtxpro6000ws-v0513",
                "r12s-docsci-sglang-qwen25-05b-h100class-main2602"):
        rows = {row.figure: row for row in engine_log_compare.compare(_record(rid))[0]}
        assert rows["kv_tokens" + engine_log_compare.GIVEN_KV].error == 0
    from paramscope.app.size import size

    out = size("qwen3-30b-a3b", runtime="sglang", gpu="h100", max_total_tokens=4096).to_json()
    assert "4,096 tokens" in " ".join(out["notes"])


def test_sglang_keeps_its_rope_cache_in_float32_on_cuda():
    """SGLang's RotaryEmbedding casts the cos/sin cache to the model's dtype only off CUDA (and its
    early-2025 builds used vLLM's, which always casts): Llama 3.1 8B's 131072 x 128 cache is 64 MiB on
    CUDA, 32 on ROCm; 15.02 GB printed (maxuhl-*), 15.020 GiB predicted."""
    from paramscope.analyses.sizing.runtimes.sglang import sglang_rope_cache_bytes

    cfg = paramscope.open_model("llama-3.1-8b").config
    assert sglang_rope_cache_bytes(cfg, DType.BF16) == 131072 * 128 * 4
    assert sglang_rope_cache_bytes(cfg, DType.BF16, platform="rocm") == 131072 * 128 * 2
    assert sglang_rope_cache_bytes(cfg, DType.BF16, platform="xpu") == 131072 * 128 * 4
    assert sglang_rope_cache_bytes(cfg, DType.BF16, build="early-2025") == 131072 * 128 * 2
    row = {r.figure: r for r in engine_log_compare.compare(_record("maxuhl-sglang-llama31-8b-24g"))[0]}
    assert abs(row["weights"].error) < 0.0005
    assert engine_log_compare.sglang_on_rocm(_record("rocm-sglang-qwen3-0.6b-mi355x-aiter-v0517"))
    assert not engine_log_compare.sglang_on_rocm(_record("maxuhl-sglang-llama31-8b-24g"))


def test_a_linear_attention_block_is_quantized_whole_or_not_at_all():
    """Gated DeltaNet's projections (in_proj_qkv, in_proj_z, in_proj_a/b, out_proj) go together: out_proj
    was priced as attention output (quantized) while the in-projections stayed 16-bit, which no recipe
    does. NVFP4 recipes keep the block in bf16 (RedHatAI's Qwen3.6-35B-A3B-NVFP4: 21.86 GiB printed on
    vLLM 0.20, 21.52 -> 21.86 priced); AWQ / GPTQ quantize every Linear (cyankiwi's Qwen3.5-9B AWQ:
    +16.4 % -> -3.5 %, the rest its groups of 32)."""
    from paramscope.analyses.sizing.weights import reprice

    model = paramscope.open_model(str(LOGS / "configs" / "qwen3.5-9b.config.json"))
    for scheme, quantized in (("nvfp4_linear", False), ("int4", True), ("fp8", True)):
        rows = [r for r in reprice(model, scheme).rows if ".linear_attn." in r.name and "proj" in r.name]
        assert rows and {r.type not in ("BF16", "F16") for r in rows} == {quantized}, scheme
    for rid in ("r12q-qwen36-35b-a3b-nvfp4-gb10-v0200", "r12q-qwen35-9b-awq-ct-w4a16-fp8kv-eager-v0171rc1"):
        row = {r.figure: r for r in engine_log_compare.compare(_record(rid))[0]}["weights"]
        assert abs(row.error) < (0.005 if "nvfp4" in rid else 0.04), (rid, row.error)


def test_a_pre_mla_gguf_is_told_by_its_printed_heads():
    """Builds before llama.cpp PR 12801 print no n_embd_head_k_mla line; a DeepSeek GGUF converted before
    it shows every query head as a KV head (n_head_kv = n_head = 128), an MLA one a single latent head.
    DeepSeek V3 Q3_K_M on b4568 with a q5_0 K cache and an f16 V cache: refused as MLA ("the same K and V
    cache types"), now read as multi-head attention, its KV exact."""
    r = _record("r12l-deepseek-v3-q3km-4090-ngl5-q5kcache-b4568")
    cfg = engine_log_compare.llamacpp_config(paramscope.open_model("deepseek-v3"), r)
    assert cfg.extra["mla_latent_cache"] is False
    rows, why = engine_log_compare.compare(r)
    assert why is None and {x.figure: x.error for x in rows}["kv_size"] == 0


def test_the_awq_kernel_dequantizes_its_widest_weight_in_the_profile():
    """vLLM's AWQ kernel (not Marlin: a T4, or --quantization awq forced) from 0.3.0 dequantizes each
    weight to fp16 for batches of 256 tokens or more: Qwen2.5-7B's gate_up at 2048 tokens holds 0.253 GiB
    of weight and 0.145 of output beside 0.041 of hidden states (0.438 GiB, where the plain peak is
    0.258). Two logs: a T4 on 0.22.1 (KV +2.6 % -> +0.2 %) and an RTX 3090 forced to awq on 0.15.1
    (+1.9 % -> +0.0 %)."""
    from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params
    from paramscope.analyses.sizing.runtimes.vllm.profile import awq_dequantize_peak, forward_peak
    from paramscope.records import replace

    cfg = paramscope.open_model("qwen2.5-7b").config
    p = resolve_params(cfg, context=4096, batch=1, kv_type=None, dtype=DType.F16, gpu_memory_bytes=None,
                       gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=2048,
                       max_num_seqs=8, cuda_graphs=False, tensor_parallel=1, engine="v1",
                       chunked_prefill=None, gpu_name=None, entrypoint="serve")
    assert round(awq_dequantize_peak(cfg, p) / 2**30, 3) == 0.438
    assert round(forward_peak(cfg, p) / 2**30, 3) == 0.258
    assert forward_peak(cfg, replace(p, awq_dequantize=True)) == awq_dequantize_peak(cfg, p)
    for rid in ("r12v-aks-qwen25-7b-awq-t4-eager-v0221", "dali-qwen25-14b-awq-3090-v0151"):
        rows = {r.figure: r for r in engine_log_compare.compare(_record(rid))[0]}
        assert abs(rows["kv_cache_memory"].error) < 0.005, rid


def test_the_caching_allocator_replay_keeps_the_holes_of_shared_segments():
    """runtimes/allocator.py ``Allocator``: PyTorch's rules (requests under 10 MiB share 20 MiB segments,
    a tail over 1 MiB is split off, free neighbours merge, empty_cache releases only whole segments), and
    SGLang's "mem usage" of loading from it. Two 8 MiB tensors share one segment; a third opens another,
    whose 12 MiB stay reserved. Qwen3-30B-A3B FP8 on an H100: its 8 MiB o_proj of each layer shares
    segments two by two, 4 MiB left each time: 31.30 GiB printed, 31.17 with the large tensors' tails
    alone, 31.30 replayed. Qwen3-0.6B on an H100 (1.18 printed): 1.1855 replayed, 1.12 before."""
    from paramscope.analyses.sizing.runtimes.allocator import Allocator, MiB

    a = Allocator()
    first, second = a.malloc(8 * MiB), a.malloc(8 * MiB)
    third = a.malloc(8 * MiB)
    assert a.reserved == 40 * MiB
    a.free(first)
    a.empty_cache()
    assert a.reserved == 40 * MiB  # the first segment still holds the second tensor
    a.free(second)
    a.empty_cache()
    assert a.reserved == 20 * MiB
    a.free(third)
    small = a.malloc(1000)
    assert a.reserved == 20 * MiB + 2 * MiB  # a small request takes a 2 MiB segment of its own pool
    a.empty_cache()
    assert a.reserved == 2 * MiB
    for rid, bound in (("ktwhitepaper-sglang-qwen3-30b-a3b-fp8-h100-main2608", 0.001),
                       ("rerankh100-sglang-qwen3-reranker-0.6b-h100-v0518", 0.005)):
        row = {r.figure: r for r in engine_log_compare.compare(_record(rid))[0]}["weights"]
        assert abs(row.error) < bound, (rid, row.error)
    del small


def test_review_findings_of_round_12(tmp_path):
    """A review of round 12's changes: the allocator found a block by value, so freeing one of two equal
    free blocks merged the wrong one; a CPU "device" took the GPU allocator's holes; a Mamba block named
    ``mamba.`` (Jamba, Falcon-H1) was still quantized by halves; --max-total-tokens without a GPU was
    silent."""
    from paramscope.analyses.sizing.runtimes.allocator import Allocator, MiB
    from paramscope.app.size import size

    a = Allocator()
    h1, h2, h3 = (a.malloc(4 * MiB) for _ in range(3))
    a.free(h1)
    a.free(h3)
    a.malloc(9 * MiB)  # fits the 12 MiB the freed third block and the segment's rest merged into
    assert a.reserved == 20 * MiB and a.malloc(0) == 0
    del h2
    cpu = size("llama-3.1-8b", runtime="sglang", gpu="ddr5-5600-2ch").to_json()
    assert not any("holes" in line for line in cpu["explain"])
    out = size("qwen3-8b", runtime="sglang", max_total_tokens=1000).to_json()
    assert any("--max-total-tokens 1,000" in n for n in out["notes"])
    from paramscope.knowledge.quant_schemes import LINEAR_ATTENTION_PROJECTION as lin

    assert lin.search("model.layers.1.mamba.in_proj.weight")
    assert lin.search("model.layers.1.mamba.out_proj.weight")
    assert not lin.search("model.layers.1.self_attn.out_proj.weight")


def test_size_takes_the_awq_dequantize_peak_on_a_gpu_without_marlin():
    """Marlin needs capability 8.0: on a T4 or a V100 vLLM runs the AWQ kernel, which dequantizes its
    widest weight in the profile run (a review finding: only the compare tool knew it)."""
    from paramscope.app.size import size

    def forward(gpu: str) -> str:
        out = size("qwen2.5-7b", weights="awq", runtime="vllm", gpu=gpu, context=4096).to_json()
        return next(line for line in out["explain"] if "activation" in line and "forward" in line)

    assert "AWQ dequantized weight" in forward("t4") and "AWQ dequantized weight" in forward("v100-32g")
    assert "AWQ dequantized weight" not in forward("a10")
    # int4's other group sizes are AWQ's layout too; the symmetric variants are compressed-tensors', which
    # a stored compressed-tensors model is not charged the peak for either (a review finding)
    def peak(weights: str) -> bool:
        out = size("qwen2.5-7b", weights=weights, runtime="vllm", gpu="t4", context=4096).to_json()
        return any("AWQ dequantized weight" in line for line in out["explain"])

    assert peak("int4_g32") and peak("awq_g64") and not peak("int4_g32_sym") and not peak("w4a16_sym")


def test_a_logs_build_is_its_stated_version_or_its_build_line():
    """The compare tool took the largest "bNNNN" of a log, so a number quoted in passing could pass for the
    build (a review finding of round 11): one Vulkan log names b26200 beside its own "build: 9849"."""
    r = _record("qwen35-9b-udq4kxl-vulkan-1070ti-b9849-fit31-np4")
    assert "26200" in r.log and engine_log_compare.llamacpp_build_number(r) == 9849


def test_vllm_raises_the_block_size_of_a_narrower_kind():
    """kv_cache_utils.unify_kv_cache_spec_page_size: layer kinds whose pages differ (Gemma 4 26B-A4B: sliding
    layers of 8 × 256, full ones of 2 × 512) share the widest page, the narrower kind taking blocks of
    page / its own page × block_size tokens. vLLM 0.19 with an fp8 cache: 27,150 blocks of 64 KiB over
    6 groups, 72,400 tokens and 6.73x printed, both exact given the printed memory (2x and -43 % before);
    Gemma 4 E2B (the sliding kind narrower) comes to 31.73x with max_num_batched_tokens 4096 (31.72
    printed)."""
    from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params
    from paramscope.analyses.sizing.runtimes.vllm.kv import kv_layout

    rows = {r.figure: r for r in engine_log_compare.compare(
        _record("r12q-gemma4-26b-a4b-nvfp4-wsl-u080-v0192rc1"))[0]}
    for figure in ("kv_tokens", "max_concurrency"):
        assert abs(rows[figure + engine_log_compare.GIVEN_KV].error) < 0.001
    cfg = paramscope.open_model(str(LOGS / "configs" / "gemma-4-26b-a4b.config.json")).config
    p = resolve_params(cfg, context=98304, batch=1, kv_type=DType.F8_E4M3, dtype=DType.BF16,
                       gpu_memory_bytes=None, gpu_memory_utilization=None, block_size=None,
                       max_num_batched_tokens=2048, max_num_seqs=None, cuda_graphs=True, tensor_parallel=1,
                       engine="v1-0.16", chunked_prefill=None, gpu_name=None, entrypoint="serve")
    layout, _, _ = kv_layout(cfg, p)
    assert layout.page_bytes == 65536 and layout.blocks["full"] == 98304 // 32


def test_sglang_pads_mxfp4_experts_for_flashinfer_on_sm100():
    """SGLang's Mxfp4MoEMethod with FlashInfer's MXFP4 MoE (its choice on B200/GB200) rounds the experts'
    sizes up to 256 (gpt-oss: 2880 -> 3072) with float32 biases: gpt-oss-20b +1.28 GiB on a B200, the
    kvcached198-* log's +1.68 (its GPU unnamed, B200-class by its free memory); elsewhere as stored."""
    from paramscope.analyses.sizing.loaded import loaded_weights
    from paramscope.knowledge.hardware import find_device

    model = paramscope.open_model("gpt-oss-20b")
    b200 = loaded_weights(model, "sglang", find_device("b200"))
    h100 = loaded_weights(model, "sglang", find_device("h100"))
    assert h100.bytes == model.tensor_bytes and b200.backend == "flashinfer-sm100"
    assert 1.2 < (b200.bytes - model.tensor_bytes) / 2**30 < 1.35
