"""Round 13's general rules (blind logs in tests/fixtures/engine_logs/*/r13*-*): vLLM's all-reduce fusion
workspace, the 0.16-0.20 sampler, a wrapper's head tied as its saving transformers tied it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paramscope.analyses.sizing.runtimes.vllm.encoder import (
    deepstack_buffer_bytes,
    encoder_profile,
    vision_tower,
)
from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    FUSION_WORKSPACE,
    allreduce_fusion_bytes,
    capability,
)
from paramscope.knowledge.families import expected_tensors
from paramscope.knowledge.families.hfconfig import saved_by_v4
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

FIXTURES = Path(__file__).parent / "fixtures"
# Llama 3.1 8B
LLAMA = ArchConfig(family="llama", architecture="LlamaForCausalLM", n_layers=32, hidden_size=4096, n_heads=32,
                   n_kv_heads=8, head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256,
                   context_length=131072)


@pytest.mark.parametrize(("name", "cc"), [
    ("NVIDIA H100 80GB HBM3", 90), ("NVIDIA H200", 90), ("NVIDIA GH200 480GB", 90), ("NVIDIA H20", 90),
    ("NVIDIA B200", 100), ("NVIDIA GB200", 100), ("NVIDIA B100", 100), ("NVIDIA B300", 103),
    ("NVIDIA A100-SXM4-80GB", None),
    ("NVIDIA L40S", None), ("NVIDIA GeForce RTX 5090", None), (None, None)])
def test_capability_by_the_drivers_name(name, cc):
    assert capability(name) == cc


def _params(engine: str, tp: int, gpu: str, eager: bool = False):
    p = resolve_params(LLAMA, context=8192, batch=1, kv_type=DType.BF16, dtype=DType.BF16,
                       gpu_memory_bytes=80 * 2**30, gpu_memory_utilization=None, block_size=None,
                       max_num_batched_tokens=None, max_num_seqs=None, tensor_parallel=tp,
                       cuda_graphs=not eager, engine=engine)
    return replace(p, gpu_name=gpu)


def test_the_allreduce_fusion_workspace_where_vllm_fuses():
    # O2's AllReduce + RMSNorm fusion: Hopper/Blackwell with TP > 1, compiled (not eager), 0.16 on
    h100 = "NVIDIA H100 80GB HBM3"
    assert allreduce_fusion_bytes(_params("v1-0.16", 2, h100)) == FUSION_WORKSPACE
    assert allreduce_fusion_bytes(_params("v1", 2, "NVIDIA B200")) == FUSION_WORKSPACE
    # the same at TP 4, whatever FI_ALLREDUCE_FUSION_MAX_SIZE_MB says (2 MB on Hopper): Llama 4 Scout at
    # TP 4 on H100s, 0.19.0, printed 2.17 GiB of non-torch memory against TP 2's 2.07-2.10
    assert allreduce_fusion_bytes(_params("v1", 4, h100)) == FUSION_WORKSPACE
    assert allreduce_fusion_bytes(_params("v1", 4, "NVIDIA B200")) == FUSION_WORKSPACE
    # at TP 8 scaled by the table (0.5 MB on Hopper of TP 2's 64): gpt-oss-120b on eight H200s fits it
    assert allreduce_fusion_bytes(_params("v1", 8, h100)) == round(FUSION_WORKSPACE * 0.5 / 64)
    for p in (_params("v1", 1, h100), _params("v1", 2, h100, eager=True), _params("v1-early", 2, h100),
              _params("v1", 2, "NVIDIA A100-SXM4-80GB"), _params("v1", 6, h100),
              _params("v1", 2, "NVIDIA B300 SXM6 AC"),  # SM 10.3: the fusion table has no row for it
              replace(_params("v1", 2, "NVIDIA H100 PCIe"), nvlink=False)):
        assert allreduce_fusion_bytes(p) == 0


def test_a_wrapper_saved_by_transformers_4_ties_its_head_by_the_text_config():
    cfg = json.loads((FIXTURES / "engine_logs/configs/mistral-small-3.1-24b.config.json").read_text())
    assert saved_by_v4(cfg) and cfg["transformers_version"].startswith("4.")
    untied = expected_tensors(cfg, fallback=False)
    tied = expected_tensors({**cfg, "transformers_version": "5.0.0"}, fallback=False)
    head = 131072 * 5120  # lm_head.weight [131072, 5120], as vLLM 0.19 loads it
    assert sum(t.params for t in untied) - sum(t.params for t in tied) == head
    assert any(t.name.endswith("lm_head.weight") for t in untied)
    # a config that names the tie keeps it, whatever wrote it
    assert sum(t.params for t in expected_tensors({**cfg, "tie_word_embeddings": True}, fallback=False)) == \
        sum(t.params for t in tied)


# -- the multimodal encoder's profile run (runtimes/vllm/encoder.py) ------------------------------------
QWEN25_VL = json.loads((FIXTURES / "engine_logs/configs/qwen2.5-vl-7b-instruct.config.json").read_text())
QWEN25_VL_TEXT = ArchConfig(family="qwen2", architecture="Qwen2_5_VLForConditionalGeneration", n_layers=28,
                            hidden_size=3584, n_heads=28, n_kv_heads=4, head_dim_k=128, head_dim_v=128,
                            ffn_size=18944, vocab_size=152064, context_length=128000)


# Gemma 3's published SigLIP: 896² in patches of 14, pooled to 256 embeddings an image
GEMMA3 = {"model_type": "gemma3", "vision_config": {"image_size": 896, "patch_size": 14, "hidden_size": 1152,
                                                    "intermediate_size": 4304}}


def _vl_params(context: int, engine: str = "v1", tp: int = 1, batched: int = 2048, seqs: int | None = None,
               gpu: int = 24 * 2**30):
    return resolve_params(QWEN25_VL_TEXT, context=context, batch=1, kv_type=DType.BF16, dtype=DType.BF16,
                          gpu_memory_bytes=gpu, gpu_memory_utilization=None, block_size=None,
                          max_num_batched_tokens=batched, max_num_seqs=seqs, tensor_parallel=tp,
                          cuda_graphs=True, engine=engine)


def test_the_qwen25_vl_tower_as_the_profile_feeds_it():
    tower = vision_tower(QWEN25_VL)
    assert tower is not None
    assert (tower.width, tower.mlp_width, tower.pixel_values) == (1280, 3420, 3 * 2 * 14 * 14)
    mm = encoder_profile(tower, QWEN25_VL_TEXT, _vl_params(2048))
    assert mm is not None and (mm.modality, mm.items, mm.patches) == ("image", 1, 65536)
    # 65,536 patches × (fp32 + bf16 pixels 7,056 B + the attention phase's 22.5 × 1280 B, above the gated
    # MLP's 4 × 1280 + 6 × 3420 = 25,640): 2.19 GiB, the L4 log's 2.81 GiB with the text's and non-torch's
    assert mm.tower_bytes == 65536 * (1176 * 6 + 28800)
    assert mm.cached_bytes == 16384 * 3584 * 2 + 65536 * 1176 * 4


def test_a_long_context_makes_qwen2_vl_profile_a_video():
    # as many frame pairs as max_model_len holds at 16,384 tokens each (at most 16 frames): 128,000 → 7 pairs,
    # the 114,688-token budget the wcs-qwen25-vl-7b-* log prints; 8,192 → one pair, a tie, so the image
    mm = encoder_profile(vision_tower(QWEN25_VL), QWEN25_VL_TEXT, _vl_params(128000))
    assert mm is not None and (mm.modality, mm.patches) == ("video", 114688 * 4)
    short = encoder_profile(vision_tower(QWEN25_VL), QWEN25_VL_TEXT, _vl_params(8192))
    assert short is not None and short.modality == "image"


def test_no_profile_without_a_known_tower_or_outside_v1():
    assert vision_tower({"model_type": "llama", "hidden_size": 4096}) is None
    assert vision_tower({**QWEN25_VL, "model_type": "llava_next"}) is None  # not in the table: a note says so
    assert encoder_profile(vision_tower(QWEN25_VL), QWEN25_VL_TEXT, _vl_params(2048, engine="v0")) is None
    # with tensor parallelism the MLP is sharded, the attention's qkv all-gathered (12h more a patch)
    tp2 = encoder_profile(vision_tower(QWEN25_VL), QWEN25_VL_TEXT, _vl_params(2048, tp=2))
    assert tp2 is not None and tp2.tower_bytes == 65536 * (1176 * 6 + 28800 + 12 * 1280)


def test_the_largest_item_follows_the_config():
    # Gemma 3 at 448² (a smaller SigLIP): 1,024 patches of 14 px, still 256 embeddings; Pixtral at 1024²
    # with patches of 16: 64 × 64 patches merged 2 × 2
    gemma = {"model_type": "gemma3", "mm_tokens_per_image": 256,
             "vision_config": {"image_size": 448, "patch_size": 14, "hidden_size": 1152,
                               "intermediate_size": 4304}}
    tower = vision_tower(gemma)
    assert tower is not None and (tower.image_patches, tower.image_tokens) == (1024, 256)
    pixtral = {"model_type": "mistral3", "vision_config": {"image_size": 1024, "patch_size": 16}}
    tower = vision_tower(pixtral)
    assert tower is not None and (tower.image_patches, tower.image_tokens) == (64 * 64, 32 * 32)
    # a number that is not a whole number leaves the tower unknown (the output then says so)
    assert vision_tower({**gemma, "vision_config": {**gemma["vision_config"], "patch_size": True}}) is None


@pytest.mark.parametrize(("version", "v4"), [("4.57.1", True), (" 4.52.0.dev0", True), ("v4.46.0", True),
                                              ("5.0.0rc1", False), ("", False), (None, False)])
def test_which_transformers_wrote_the_config(version, v4):
    assert saved_by_v4({"transformers_version": version}) is v4


def test_qwen3_vl_builds_its_deepstack_buffers_with_the_model():
    # one max_num_batched_tokens × hidden buffer per deepstack level (transformers' default [8, 16, 24])
    cfg = {"model_type": "qwen3_vl", "vision_config": {}}
    tower = vision_tower(cfg)
    assert tower is not None and tower.deepstack_layers == 3
    p = _vl_params(4096)
    assert deepstack_buffer_bytes(tower, QWEN25_VL_TEXT, p) == 3 * 2048 * 3584 * 2
    assert deepstack_buffer_bytes(vision_tower(QWEN25_VL), QWEN25_VL_TEXT, p) == 0  # no deepstack


def test_the_decoder_caps_the_items():
    # Gemma 3's 256-embedding images: 8,192 batched tokens would take 32, but 2 sequences of a 1,024-token
    # context hold 2 × 4 (budget.py _get_max_items)
    p = _vl_params(1024, batched=8192, seqs=2, gpu=80 * 2**30)
    mm = encoder_profile(vision_tower(GEMMA3), QWEN25_VL_TEXT, p)
    assert mm is not None and mm.items == 8


def test_skip_mm_profiling_leaves_the_encoder_out():
    import paramscope

    path = str(FIXTURES / "engine_logs/configs/qwen2.5-vl-7b-instruct.config.json")
    kw = dict(runtime="vllm", gpu="l4", context=2048)
    full = paramscope.size(path, **kw)
    skipped = paramscope.size(path, skip_mm_profiling=True, **kw)
    assert any("multimodal profile" in line for line in full.estimate.explain)
    assert not any("multimodal profile" in line for line in skipped.estimate.explain)
    # the activation is the text run's alone: less taken beside the weights, more blocks for the cache
    assert skipped.estimate.compute_bytes < full.estimate.compute_bytes
    assert not any("vision encoder" in note for note in skipped.estimate.notes)


def test_limit_mm_per_prompt_chooses_the_modality_and_caps_the_items():
    from paramscope.analyses.sizing.runtimes.vllm.encoder import parse_mm_limits
    from paramscope.errors import UsageError

    assert parse_mm_limits("image=1, video=0") == parse_mm_limits('{"image": 1, "video": 0}') == {
        "image": 1, "video": 0}
    assert parse_mm_limits("") is None
    with pytest.raises(UsageError, match="limit-mm-per-prompt"):
        parse_mm_limits("image=x")
    tower = vision_tower(QWEN25_VL)
    long = _vl_params(128000)
    # at 128k the video wins (4.0m); with video=0 the image is profiled, with both 0 nothing
    assert encoder_profile(tower, QWEN25_VL_TEXT, long, {"video": 0}).modality == "image"
    assert encoder_profile(tower, QWEN25_VL_TEXT, long, {"image": 0, "video": 0}) is None
    # Gemma 3: 32 images at 8,192 batched tokens; one prompt of image=2 per sequence caps them at 2 × seqs
    p = _vl_params(8192, batched=8192, seqs=4, gpu=80 * 2**30)
    assert encoder_profile(vision_tower(GEMMA3), QWEN25_VL_TEXT, p).items == 32
    assert encoder_profile(vision_tower(GEMMA3), QWEN25_VL_TEXT, p, {"image": 2}).items == 4 * 2
