"""Round 17's rules: vLLM 0.11-0.12's padded multimodal profile (the "v1-0.11" and "v1-0.12" families,
runtimes/vllm/encoder.py PADDED_TO) and the placeholder-counted encoder budget before 0.13."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from paramscope.analyses.sizing.runtimes.vllm.encoder import encoder_profile, vision_tower
from paramscope.analyses.sizing.runtimes.vllm.engine import ENGINES, resolve_params
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

ROOT = Path(__file__).parents[1]
CONFIGS = ROOT / "tests/fixtures/engine_logs/configs"
QWEN3_VL = json.loads((CONFIGS / "qwen3-vl-30b-a3b-instruct.config.json").read_text())
# the text decoder's width is all the encoder's rows need here (2048: Qwen3-VL-30B-A3B, 5376: Gemma 3 27B)
TEXT = {w: ArchConfig(family="qwen3_moe", architecture="x", n_layers=48, hidden_size=w, n_heads=32,
                      n_kv_heads=4, head_dim_k=128, head_dim_v=128, ffn_size=768, vocab_size=151936,
                      context_length=262144)
        for w in (2048, 5376)}
GEMMA3_27B = {"model_type": "gemma3", "vision_config": {"image_size": 896, "patch_size": 14,
                                                        "hidden_size": 1152, "intermediate_size": 4304}}


def _profile(config, engine: str, width: int, context: int = 65536, batched: int = 2048, release=None):
    p = resolve_params(TEXT[width], context=context, batch=1, kv_type=DType.BF16, dtype=DType.BF16,
                       gpu_memory_bytes=24 * 2**30, gpu_memory_utilization=None, block_size=None,
                       max_num_batched_tokens=batched, max_num_seqs=None, tensor_parallel=1, cuda_graphs=True,
                       engine=engine, release=release)
    mm = encoder_profile(vision_tower(config), TEXT[width], p)
    assert mm is not None
    return mm


def test_the_families_are_engines():
    assert {"v1-0.11", "v1-0.12"} <= set(ENGINES)


def test_qwen3_vl_video_padded_to_the_budget_in_0_11():
    # r13v-qwen3-vl-30b-a3b-tp4-4x3090-v0110 prints "a budget of 153600 tokens, and profiled with 1 video
    # items": 12,288 embeddings counted 12.5 × each, padded to the whole budget beside the unpadded output,
    # 8192 wide (2048 × the main output and 3 deepstack levels)
    mm = _profile(QWEN3_VL, "v1-0.11", 2048)
    assert (mm.modality, mm.items, mm.patches) == ("video", 1, 12288 * 4)
    pixels = 12288 * 4 * 3 * 2 * 16 * 16 * 4
    assert mm.cached_bytes == (153600 + 12288) * 8192 * 2 + pixels
    # 0.12.0 pads to the item's placeholders, here the same 153,600 rows
    assert _profile(QWEN3_VL, "v1-0.12", 2048).cached_bytes == mm.cached_bytes
    # from 0.13 the video's 12,288 embeddings lose to the image's 16,384, and nothing is padded
    later = _profile(QWEN3_VL, "v1-early", 2048)
    assert (later.modality, later.items) == ("image", 1)
    assert later.cached_bytes == 16384 * 8192 * 2 + 16384 * 4 * 1536 * 4


@pytest.mark.parametrize(("engine", "items", "rows"), [
    ("v1-0.11", 31, 8192 + 256),  # 8,192 // 260 placeholders; each copy 8,192 rows beside its 256
    ("v1-0.12", 31, 260 + 256),  # each copy 260 rows
    ("v1-0.9", 31, 256),  # the budget counted placeholders, no padding
    ("v1-early", 32, 256),  # embeddings only (PR #30475)
])
def test_gemma3_images_by_family(engine, items, rows):
    mm = _profile(GEMMA3_27B, engine, 5376, batched=8192)
    assert mm.items == items
    assert mm.cached_bytes == items * rows * 5376 * 2 + items * 4096 * 3 * 14 * 14 * 4


@pytest.mark.parametrize(("version", "family"), [
    ("0.11.0", "v1-0.11"), ("0.11.2", "v1-0.11"), ("0.12.0", "v1-0.12"), ("0.13.0", "v1-early"),
    ("0.15.1", "v1-early"), ("0.16.0", "v1-0.16"), ("0.10.2", "v1-0.9")])
def test_the_log_compare_tool_maps_versions_to_families(version, family):
    sys.path.insert(0, str(ROOT / "tools"))
    from engine_log_compare import vllm_engine

    class Record:
        engine_version, version_note, log = version, "", ""

    assert vllm_engine(Record()) == family  # type: ignore[arg-type]


def _mla(config: str, tp: int, absorption: str | None) -> int:
    import paramscope
    from paramscope.analyses.sizing.runtimes.vllm.weights import mla_absorbed_bytes

    cfg = paramscope.open_model(config).config
    assert cfg is not None
    p = resolve_params(cfg, context=4096, batch=1, kv_type=None, dtype=DType.BF16, gpu_memory_bytes=None,
                       gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=None,
                       max_num_seqs=None, tensor_parallel=tp, cuda_graphs=True, engine="v0")
    return mla_absorbed_bytes(cfg, replace(p, mla_absorption=absorption))


def test_v0_0_7_absorbed_mla_matrices():
    lite = str(CONFIGS / "deepseek-coder-v2-lite-instruct-awq.config.json")
    # per layer: W_QR 2048 × 16 × 64, W_Q_UK 2048 × 16 × 512, W_UV_O 16 × 512 × 2048, kv_b 512 × 16 × 256
    assert _mla(lite, 1, "int") == 27 * 37_748_736 * 2
    assert _mla(lite, 1, "16-bit") == 27 * (37_748_736 - 2_097_152) * 2  # kv_b's views cost nothing
    assert _mla(lite, 1, None) == 0
    # DeepSeek-R1 FP8 at TP 8: 16 heads a rank, W_Q_UK and W_UV_O in fp8, kv_b in bf16 (0.7.3) or fp32
    per_layer = 2 * 1536 * 16 * 64 + 16 * 512 * (1536 + 7168) + 2 * 512 * 16 * 256
    assert _mla("DeepSeek-R1", 8, "fp8") == 61 * per_layer  # 4.47 GiB
    assert _mla("DeepSeek-R1", 8, "fp8-0.7.2") == 61 * (per_layer + 2 * 512 * 16 * 256)


@pytest.mark.parametrize(("version", "note", "quantization", "expected"), [
    ("0.7.3", "", "fp8", "fp8"), ("0.7.2", "", "fp8", "fp8-0.7.2"), ("0.7.3", "", None, "16-bit"),
    ("0.7.0", "", None, None), ("0.8.0", "", None, None),
    ("0.7.3", "", "awq", "int"), ("0.7.2", "", "awq", None),  # AWQ ran without MLA before 0.7.3
    ("unknown", "V0 engine, log dated 03-15 (2025)", "fp8", "fp8"),
    ("unknown", "V0 engine, a development build of December 2024", None, None)])
def test_the_log_compare_tool_dates_the_absorption(version, note, quantization, expected):
    sys.path.insert(0, str(ROOT / "tools"))
    from engine_log_compare import mla_absorption

    import paramscope

    class Record:
        engine_version, version_note, log = version, note, ""

        def setting(self, name):
            return quantization if name == "quantization" else None

    model = paramscope.open_model("DeepSeek-V2-Lite")
    assert mla_absorption(model, Record(), "v0") == expected  # type: ignore[arg-type]
    assert mla_absorption(model, Record(), "v1-early") is None


@pytest.mark.parametrize(("engine", "seqs", "batched", "family", "graphs"), [
    ("v1-0.16", 256, 2048, "llama", 51 + 35),  # "PIECEWISE=51 … FULL=35" in 0.19-0.23 logs
    ("v1-0.16", 128, 2048, "llama", 35 + 19),  # AsyncEngineArgs' 128 sequences (abortdemo-*, fastapi-*)
    ("v1-0.16", 1024, 8192, "gpt_oss", 83 + 83),  # gpt-oss raises the largest size to 1024 (r13q-*)
    ("v1-0.16", 16, 8192, "gpt_oss", 83 + 5),  # its 1024 whatever max_num_seqs says
    ("v1-0.11", 256, 2048, "llama", 67 + 35),  # 0.11.0: the 8-step grid to 512, FULL up to 256 (r13v-*)
    ("v1-0.11", 16, 2048, "llama", 7 + 5),  # ... to 2 × max_num_seqs: 1, 2, 4, 8, 16, 24, 32
    ("v0", 512, 4096, "llama", 67),  # V0's grid goes on to 8192
    ("v1-0.9", 256, 2048, "llama", 67),  # piecewise only before 0.11
    ("v0", 256, 4096, "llama", 35),  # V0: 1, 2, 4, 8 … 256
    ("v0", 192, 4096, "llama", 27),
])
def test_the_cuda_graphs_vllm_captures(engine, seqs, batched, family, graphs):
    from paramscope.analyses.sizing.runtimes.vllm.profile import captured_graphs

    cfg = replace(TEXT[2048], family=family)
    p = resolve_params(cfg, context=4096, batch=1, kv_type=None, dtype=DType.BF16, gpu_memory_bytes=None,
                       gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=batched,
                       max_num_seqs=seqs, tensor_parallel=1, cuda_graphs=True, engine=engine)
    assert captured_graphs(cfg, p) == graphs


def test_max_cudagraph_capture_size_caps_the_graphs():
    # the native-Windows 0.19 log (r12q-qwen25-7b-awq-windows-native-*) captured batch sizes 1, 2, 4 and 8,
    # piecewise and whole: 8 graphs of 28 layers, 0.05 GiB as printed
    from paramscope.analyses.sizing.runtimes.vllm.profile import captured_graph_bytes, captured_graphs

    cfg = replace(TEXT[2048], n_layers=28, family="qwen2")
    p = resolve_params(cfg, context=4096, batch=1, kv_type=None, dtype=DType.BF16, gpu_memory_bytes=None,
                       gpu_memory_utilization=None, block_size=None, max_num_batched_tokens=2048,
                       max_num_seqs=None, tensor_parallel=1, cuda_graphs=True, engine="v1-0.16")
    capped = replace(p, max_capture_size=8)
    assert captured_graphs(cfg, capped) == 8
    assert round(captured_graph_bytes(cfg, capped) / 2**30, 2) == 0.05


def test_the_capture_size_option_reaches_the_cli():
    import subprocess

    run = [sys.executable, "-m", "paramscope", "size", "llama-3.1-8b", "--runtime", "vllm", "--gpu", "h100",
           "--engine", "v1-0.16", "--json"]
    totals = []
    for extra in ([], ["--max-cudagraph-capture-size", "8"]):
        out = subprocess.run(run + extra, capture_output=True, text=True, check=True).stdout
        totals.append(json.loads(out)["total_bytes"])
    # 102 graphs of 32 layers by default on an H100 (1024 sequences: 51 piecewise, 51 whole), 8 with the
    # cap: 94 × 32 × 0.23 MiB less outside the reservation
    from paramscope.analyses.sizing.runtimes.vllm.profile import GRAPH_BYTES_PER_LAYER_SIZE

    assert totals[0] - totals[1] == 94 * 32 * GRAPH_BYTES_PER_LAYER_SIZE[False]


@pytest.mark.parametrize(("name", "component"), [
    ("model.layers.3.shared_mlp.input_linear.weight", "shared_experts"),
    ("model.layers.3.shared_mlp.output_linear.weight", "shared_experts"),
    ("model.layers.3.block_sparse_moe.input_linear.weight", "experts"),
    ("model.layers.3.block_sparse_moe.output_linear.weight", "experts"),
    ("model.layers.3.block_sparse_moe.router.layer.weight", "router"),
])
def test_granite_moe_and_granite_4_tensors_have_their_components(name, component):
    # r17v-granite4-micro-*: the shared MLP had been "other", so --weights fp8_tensor left 74 % of the
    # model in bf16 (weights +68 %, now −0.0 %)
    from paramscope.knowledge.roles import place

    assert place(name).component.split("/")[0] == component


@pytest.mark.parametrize(("version", "log", "family", "estimate"), [
    # 0.20 asked for the estimate (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1): 0.20's family, graphs inside
    ("0.20.0", "CUDA graph memory profiling is enabled (default since v0.21.0)", "v1-0.16", True),
    ("0.20.0", "", "v1-0.16", None),
    ("0.22.0", "CUDA graph memory profiling is enabled", "v1", None),
    ("unknown", "CUDA graph memory profiling is enabled", "v1", None),
    # V2's estimate was a stub then: the model runner decides (engine.py default_model_runner)
    ("0.27.1", "Using V2 Model Runner", "v1", None),
])
def test_where_the_graph_estimate_goes(version, log, family, estimate):
    sys.path.insert(0, str(ROOT / "tools"))
    from engine_log_compare import graph_estimate, model_runner, vllm_engine

    class Record:
        engine_version, version_note = version, ""

    Record.log = log
    assert vllm_engine(Record()) == family  # type: ignore[arg-type]
    assert graph_estimate(Record()) is estimate  # type: ignore[arg-type]
    assert model_runner(Record()) == ("v2" if "V2" in log else None)  # type: ignore[arg-type]


def test_a_profile_asked_for_the_estimate_takes_it_in():
    from paramscope.analyses.sizing.runtimes.vllm.profile import cuda_graph_bytes, graph_estimate_bytes

    p = resolve_params(TEXT[2048], context=4096, batch=1, kv_type=None, dtype=DType.BF16,
                       gpu_memory_bytes=None, gpu_memory_utilization=None, block_size=None,
                       max_num_batched_tokens=2048, max_num_seqs=None, tensor_parallel=1, cuda_graphs=True,
                       engine="v1-0.16")
    cfg = TEXT[2048]
    assert cuda_graph_bytes(cfg, p) == 0
    estimate = graph_estimate_bytes(cfg, p)
    assert cuda_graph_bytes(cfg, replace(p, graph_estimate=True)) == estimate > 0
    v1 = replace(p, engine="v1")
    assert cuda_graph_bytes(cfg, v1) == estimate
    assert cuda_graph_bytes(cfg, replace(v1, graph_estimate=False)) == 0


@pytest.mark.parametrize(("tp", "extra"), [(1, 8_847_360), (2, 5_963_776)])
def test_the_triton_kernels_of_0_17_to_0_22_pad_mxfp4_values_to_64(tp, extra):
    # gpt-oss-20b's 32 experts, hidden 2880 and intermediate 2880: the packed in / 2 bytes 1440 → 1472 (and
    # at TP 2 the down projection's 736 → 768), per layer on one rank (vllm 0.19 hopper_value.py)
    from paramscope.knowledge.quant_layouts import ENGINE_LAYOUTS, mxfp4_loaded_bytes

    padded, plain = (ENGINE_LAYOUTS[("vllm", "mxfp4", b)] for b in ("triton-0.17", "triton"))
    per_rank = [sum(mxfp4_loaded_bytes(kind, 32, out, inn, lay, tensor_parallel=tp) // tp
                    for kind, out, inn in (("gate_up", 5760, 2880), ("down", 2880, 2880)))
                for lay in (padded, plain)]
    assert per_rank[0] - per_rank[1] == extra


def test_vllm_counts_the_allocator_tails_of_packed_awq_tensors():
    # AWQ-Marlin keeps qweight, qzeros and scales at their stored sizes: their q/k/v and gate/up parts fuse
    # as the weights do, and each fused tensor of 10 MiB or more leaves its unsplit 2 MiB tail
    import paramscope
    from paramscope.analyses.sizing.runtimes.allocator import packed_name, weight_tails

    assert packed_name("layers.0.self_attn.k_proj.qweight") == "layers.0.self_attn.qkv_proj.qweight"
    assert packed_name("model.layers.0.mlp.up_proj.scales") == "model.layers.0.mlp.gate_up_proj.scales"
    model = paramscope.open_model(str(CONFIGS / "qwen2.5-14b-instruct-awq.config.json"))
    assert weight_tails(model, 1, device_level=False) == 0  # SGLang's and the stored-layout rule: none
    tails = weight_tails(model, 1, device_level=False, packed=True)
    # Qwen2.5-14B: 48 layers; gate_up's qweight (5120 × 27648 / 2 B) is 2 MiB-aligned, the others not
    assert 0 < tails <= 48 * 4 * 2**20


@pytest.mark.parametrize(("a", "b"), [
    ("h.3.layers.7.v", "h.5.layers.7.v"), ("layers.0.layers.0.weight", "layers.0.layers.1.weight"),
    ("encoder.block.0.layer.1.DenseReluDense.wi.weight", "encoder.block.4.layer.1.DenseReluDense.wi.weight")])
def test_names_alike_but_for_any_layer_index_key_alike(a, b):
    from paramscope.knowledge.roles import without_layer

    assert without_layer(a) == without_layer(b)


def test_size_prices_gpt_oss_as_the_v1_0_16_family_holds_it():
    # the family's Triton MXFP4 backend pads the values to 64 (its bundled triton_kernels): 24 layers ×
    # 8,847,360 B more on one H100 than the current family's layout
    import paramscope

    got = {e: paramscope.size("gpt-oss-20b", runtime="vllm", gpu="h100", engine=e).estimate.weights_bytes
           for e in ("v1", "v1-0.16")}
    assert got["v1-0.16"] - got["v1"] == 24 * 8_847_360


def test_0_11_rotates_the_qwen_towers_q_and_k_together_in_fp32():
    """vLLM 0.11.0's Qwen2.5-VL tower concatenates q and k and rotates them in fp32 (qwen2_vl.py
    apply_rotary_pos_emb_vision: t.float()): 14 bytes per patch per unit of width more in the attention
    phase than 0.10's one-at-a-time rotation or 0.12's in-dtype one (round 52: Qwen2.5-VL-3B on an L4 under
    0.11.0, KV memory +16.1 % → +4.3 %). Gemma 3's SigLIP tower rotates nothing."""
    qwen25 = json.loads((CONFIGS / "qwen2.5-vl-3b-instruct.config.json").read_text())
    tower = vision_tower(qwen25)
    assert tower is not None and tower.width == 1280
    base = _profile(qwen25, "v1-0.9", 2048, context=8192)
    paired = _profile(qwen25, "v1-0.11", 2048, context=8192, release=(0, 11, 0))
    assert (base.modality, base.patches) == (paired.modality, paired.patches) == ("image", 65536)
    assert paired.tower_bytes - base.tower_bytes == 65536 * 14 * 1280
    assert _profile(qwen25, "v1-0.12", 2048, context=8192).tower_bytes == base.tower_bytes
    assert (_profile(GEMMA3_27B, "v1-0.11", 5376).tower_bytes
            == _profile(GEMMA3_27B, "v1-0.9", 5376).tower_bytes)


def test_0_11_1_copies_only_the_q_and_k_pair():
    """0.11.1's Qwen2_5_VisionAttention rearranges qkv as a view and copies only the q, k pair before the
    fp32 rotation: 8 bytes per patch per unit of width over 0.10, where Qwen2-VL's own attention keeps
    0.11.0's 14."""
    from paramscope.analyses.sizing.runtimes.vllm.encoder import TOWERS, paired_rotary

    assert [paired_rotary(TOWERS["qwen2_5_vl"], r) for r in ((0, 10, 2), (0, 11, 0), (0, 11, 1), (0, 11, 2),
                                                             (0, 12, 0))] == [0, 14, 8, 8, 0]
    assert [paired_rotary(TOWERS["qwen2_vl"], r) for r in ((0, 11, 0), (0, 11, 2))] == [14, 14]
    assert paired_rotary(TOWERS["qwen3_vl"], (0, 11, 0)) == 14
    assert paired_rotary(TOWERS["gemma3"], (0, 11, 0)) == 0
