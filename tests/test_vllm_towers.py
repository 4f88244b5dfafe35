"""vLLM's multimodal towers and RoPE caches as its model code builds them.

- Towers (analyses/sizing/loaded.py ``unbuilt_towers``, vllm/towers.py, vllm/adapter.py
  ``towers_left_out``): from 0.15 vLLM builds each tower inside ``_mark_tower_model(vllm_config,
  modalities)`` and leaves it out when every one of its modalities is limited to 0
  (``--limit-mm-per-prompt``; ``--language-model-only`` from 0.17). The modules each model builds there are
  transcribed below from vLLM 0.31.0's model code, and the tensors paramscope leaves out must be exactly
  theirs, on real configs.
- RoPE caches (vllm/weights.py ``rope_shapes``): a transformers 5 config gives its RoPE per layer type, and
  vLLM builds each layer type's cache from its own entry and head size.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.loaded import without_towers
from paramscope.analyses.sizing.runtimes.vllm.towers import MARKED, tower_modalities
from paramscope.analyses.sizing.runtimes.vllm.weights import rope_cache_bytes, rope_shapes
from paramscope.errors import UnsupportedError
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).resolve().parent / "fixtures" / "configs"
LOG_CONFIGS = Path(__file__).resolve().parent / "fixtures" / "engine_logs" / "configs"

# vLLM 0.31.0, model_executor/models/: the attributes each model assigns inside _mark_tower_model, by the
# modalities it names there (gemma4_mm.py {"image", "video"} and "audio"; gemma3n_mm.py "image" and
# "audio"; llava_next.py "image"; qwen2_5_vl.py {"image", "video"}). The checkpoint names them under these
# prefixes (image_newline, a parameter of LLaVA-NeXT's, is left out with its tower too).
VLLM_TOWERS = {
    "google__gemma-4-E2B.json": {"vision": ("model.vision_tower.", "model.embed_vision."),
                                 "audio": ("model.audio_tower.", "model.embed_audio.")},
    "gemma-3n-E2B.json": {"vision": ("model.vision_tower.", "model.embed_vision."),
                          "audio": ("model.audio_tower.", "model.embed_audio.")},
    "llava-hf__llava-v1.6-mistral-7b-hf.json": {"vision": ("vision_tower.", "multi_modal_projector.",
                                                           "image_newline")},
    "qwen2.5-vl-7b-instruct.json": {"vision": ("visual.",)},
}
OFF = {"vision": {"image": 0, "video": 0}, "audio": {"audio": 0}}


@pytest.mark.parametrize("name", sorted(VLLM_TOWERS))
@pytest.mark.parametrize("towers", [("vision",), ("audio",), ("vision", "audio")])
def test_the_tensors_left_out_are_the_towers_vllm_marks(name, towers):
    model = paramscope.open_model(str(CONFIGS / name))
    limits = {k: v for t in towers for k, v in OFF[t].items()}
    built, left_out, tensors = without_towers(model, limits)
    prefixes = tuple(p for t in towers for p in VLLM_TOWERS[name].get(t, ()))
    expected = {t.name for t in model.tensors if t.name.startswith(prefixes)}
    assert {t.name for t in tensors} == expected
    assert set(left_out) == {t for t in towers if t in VLLM_TOWERS[name]}
    assert len(built.tensors) == len(model.tensors) - len(expected)
    assert built.tensor_bytes == model.tensor_bytes - sum(t.nbytes for t in tensors)


def test_a_vision_tower_is_kept_while_video_is_not_limited():
    """Gemma 4 and Qwen2.5-VL build their vision tower for image and video, and an unlimited modality is
    999 even where the model takes none: image=0 alone keeps the tower."""
    for name in ("google__gemma-4-E2B.json", "qwen2.5-vl-7b-instruct.json"):
        model = paramscope.open_model(str(CONFIGS / name))
        table = tower_modalities(model.config.architecture, (0, 31, 0))
        assert table is not None and table["vision"] == ("image", "video")
        built, towers, _ = without_towers(model, {"image": 0}, table)
        assert towers == () and built is model


def _weights(source: Path, **options) -> tuple[int, tuple[str, ...]]:
    e = paramscope.size(str(source), runtime="vllm", gpu="h100", context=8192, **options).estimate
    return e.weights_bytes, e.explain + e.notes


def _said(lines: tuple[str, ...], text: str) -> bool:
    return any(text in " ".join(line.split()) for line in lines)


def test_language_model_only_prices_the_text_model_alone():
    source = CONFIGS / "google__gemma-4-E2B.json"
    model = paramscope.open_model(str(source))
    full, _ = _weights(source)
    text, lines = _weights(source, language_model_only=True)
    limited, _ = _weights(source, limit_mm_per_prompt='{"image": 0, "video": 0, "audio": 0}')
    towers = sum(t.nbytes for t in without_towers(model, {"image": 0, "video": 0, "audio": 0})[2])
    assert towers > 0
    assert full - text == towers
    assert limited == text
    assert _said(lines, "does not build the vision tower and the audio tower")
    # the audio tower alone: image and audio given, video not
    audio_off, lines = _weights(source, limit_mm_per_prompt='{"image": 0, "audio": 0}')
    assert 0 < full - audio_off < towers
    assert _said(lines, "does not build the audio tower (audio limited to 0")


def test_an_image_only_tower_goes_with_image_0():
    """Gemma 3's vision tower is built for images alone (gemma3_mm.py: _mark_tower_model(vllm_config,
    "image")): image=0 leaves it and its projector out."""
    source = LOG_CONFIGS / "gemma-3-4b-text.config.json"
    model = paramscope.open_model(str(source))
    full, _ = _weights(source)
    text, lines = _weights(source, limit_mm_per_prompt="image=0")
    gone = [t for t in model.tensors if t.name.startswith(("vision_tower.", "multi_modal_projector."))]
    assert gone and full - text == sum(t.nbytes for t in gone)
    assert _said(lines, "does not build the vision tower (image limited to 0")
    assert _said(lines, "with the projector")


def test_towers_follow_the_limits_from_0_15_and_some_models_before():
    """0.15.0 has _mark_tower_model; 0.10.1 to 0.14 only the models that tested the limits themselves
    (towers.HAND_GATED: Qwen2.5-VL, not Gemma 4); 0.10.0 none (read in its source)."""
    gemma4 = CONFIGS / "google__gemma-4-E2B.json"
    full, _ = _weights(gemma4, vllm_release="0.14")
    kept, lines = _weights(gemma4, vllm_release="0.14", limit_mm_per_prompt="image=0,video=0,audio=0")
    assert kept == full
    assert _said(lines, "the vision tower and the audio tower counted: vLLM 0.14.0 builds them whatever")
    assert _weights(gemma4, vllm_release="0.19", limit_mm_per_prompt="image=0,video=0,audio=0")[0] < full
    qwen = CONFIGS / "qwen2.5-vl-7b-instruct.json"
    for release, left_out in (("0.10.0", False), ("0.10.1", True), ("0.14", True), ("0.15", True)):
        whole = _weights(qwen, vllm_release=release)[0]
        limited = _weights(qwen, vllm_release=release, limit_mm_per_prompt="image=0,video=0")[0]
        assert (limited < whole) is left_out, release


def test_a_model_marked_after_0_15_keeps_its_tower_until_then():
    """towers.MARKED gives each architecture the first release read that marks its towers: LightOnOCR
    built its tower whatever the limits until 0.19 (lightonocr.py calls nn.Module.__init__, not Mistral 3's
    marked __init__)."""
    first, towers = MARKED["LightOnOCRForConditionalGeneration"]
    assert first == (0, 19, 0) and towers == {"vision": ("image",)}
    assert tower_modalities("LightOnOCRForConditionalGeneration", (0, 17, 0)) == {}
    assert tower_modalities("LightOnOCRForConditionalGeneration", (0, 19, 0)) == towers
    # keys are the architectures config.json names, as vLLM's registry maps them to their classes
    assert tower_modalities("Lfm2VlForConditionalGeneration", (0, 31, 0)) == {"vision": ("image",)}
    assert tower_modalities("Glm4vMoeForConditionalGeneration", (0, 31, 0)) == {"vision": ("image", "video")}
    assert tower_modalities("MiniCPMO", (0, 31, 0)) == {"vision": ("image", "video"), "audio": ("audio",)}
    assert tower_modalities("SomethingNew", (0, 31, 0)) is None
    assert tower_modalities("SomethingNew", (0, 14, 0)) == {}


def test_an_architecture_not_in_the_table_keeps_its_towers(tmp_path):
    raw = json.loads((CONFIGS / "google__gemma-4-E2B.json").read_text())
    raw["architectures"] = ["SomeNewGemma4ForConditionalGeneration"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    full, _ = _weights(path)
    kept, lines = _weights(path, limit_mm_per_prompt="image=0,video=0,audio=0")
    assert kept == full and _said(lines, "is not in paramscope's table")
    kept, lines = _weights(path, language_model_only=True)  # its marks are not known either
    assert kept == full and _said(lines, "the vision tower and the audio tower counted")


def test_an_audio_model_loses_its_projector_with_its_tower():
    """Granite Speech's projector goes with its audio tower (granite_speech.py builds both inside
    _mark_tower_model(vllm_config, "audio"))."""
    model = paramscope.open_model(str(CONFIGS / "ibm-granite__granite-speech-3.3-2b.json"))
    table = tower_modalities(model.config.architecture, (0, 31, 0))
    assert table == {"audio": ("audio",)}
    _, towers, tensors = without_towers(model, {"audio": 0}, table)
    names = {t.name for t in tensors}
    assert towers == ("audio",) and any(n.startswith("projector.") for n in names)
    assert all(n.startswith(("encoder.", "projector.")) for n in names)


def test_vllm_object_form_of_the_limits():
    from paramscope.analyses.sizing.runtimes.vllm.encoder import parse_mm_limits

    assert parse_mm_limits('{"image": {"count": 0, "width": 512}, "video": 1}') == {"image": 0, "video": 1}


@pytest.mark.parametrize("options", [{"vllm_release": "0.16"}, {"engine": "v1-early"}, {"engine": "v0"}])
def test_language_model_only_is_refused_before_0_17(options):
    with pytest.raises(UnsupportedError, match="no --language-model-only"):
        _weights(CONFIGS / "google__gemma-4-E2B.json", language_model_only=True, **options)


def test_a_text_model_is_built_as_it_is():
    from paramscope.analyses.sizing.memory import MemoryRequest
    from paramscope.analyses.sizing.runtimes.vllm.adapter import built_model

    model = paramscope.open_model(str(CONFIGS / "google__gemma-3-1b-it.json"))
    req = MemoryRequest(runtime="vllm", options={"language_model_only": True,
                                                 "limit_mm_per_prompt": "image=0"})
    assert built_model(model, req) == (model, ())


def test_language_model_only_appears_on_the_command_line():
    import subprocess
    import sys

    source = str(CONFIGS / "google__gemma-4-E2B.json")
    done = subprocess.run([sys.executable, "-m", "paramscope", "size", source, "--runtime", "vllm", "--gpu",
                           "h100", "--language-model-only", "--explain"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "does not build the vision tower" in " ".join(done.stdout.split())


# --- RoPE caches per layer type ---------------------------------------------------------------------
def test_gemma4_builds_a_cache_per_layer_type_over_the_whole_head():
    """gemma4.py: each layer's get_rope(head_dim of its type, rope_parameters[layer_type]); the full layers'
    "proportional" RoPE (gemma4_rope.py) caches the whole 512-wide head though it rotates a quarter."""
    for name, positions in (("gemma-4-e2b.config.json", 131072), ("gemma-4-31b.config.json", 262144)):
        cfg = paramscope.open_model(str(LOG_CONFIGS / name)).config
        assert sorted(rope_shapes(cfg)) == [(positions, 256), (positions, 512)]
        assert rope_cache_bytes(cfg, DType.BF16) == positions * (256 + 512) * 2


def test_gemma3_caches_are_the_same_in_either_config_spelling(tmp_path):
    """Gemma 3's transformers 4 config (rope_scaling linear × 8, rope_local_base_freq) and the transformers 5
    spelling of the same model (rope_parameters per layer type) give vLLM the same two caches."""
    raw = json.loads((LOG_CONFIGS / "gemma-3-4b-text.config.json").read_text())
    text = raw["text_config"]
    v5 = json.loads(json.dumps(raw))
    t5 = v5["text_config"]
    t5["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": text["rope_scaling"]["factor"],
                           "rope_theta": text["rope_theta"]},
        "sliding_attention": {"rope_type": "default", "rope_theta": text["rope_local_base_freq"]}}
    for key in ("rope_scaling", "rope_theta", "rope_local_base_freq"):
        t5.pop(key)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(v5))
    old = paramscope.open_model(str(LOG_CONFIGS / "gemma-3-4b-text.config.json")).config
    new = paramscope.open_model(str(path)).config
    assert sorted(rope_shapes(new)) == sorted(rope_shapes(old)) == [(131072, 256), (1048576, 256)]


def test_a_partial_rotary_layer_type_caches_its_rotated_part():
    """A per-type entry with partial_rotary_factor and a RoPE other than "proportional" caches only the
    rotated part (get_rope: rotary_dim = head_size × factor)."""
    cfg = paramscope.open_model(str(LOG_CONFIGS / "gemma-4-e2b.config.json")).config
    rope = dict(cfg.extra["rope_parameters"])
    rope["full_attention"] = {**rope["full_attention"], "rope_type": "default"}
    from paramscope.records import replace

    changed = replace(cfg, extra={**cfg.extra, "rope_parameters": rope})
    assert sorted(rope_shapes(changed)) == [(131072, 128), (131072, 256)]


# --- K copied into the fused QKV's V slot -----------------------------------------------------------
def _k_eq_v_layers(raw: dict) -> set[int]:
    """vLLM 0.31 models/gemma4.py _gemma4_layer_weights_mapper's k_eq_v_layers: the full-attention layers
    before the KV-sharing ones, where attention_k_eq_v is set."""
    text = raw["text_config"]
    first_shared = text["num_hidden_layers"] - (text.get("num_kv_shared_layers") or 0)
    if not text.get("attention_k_eq_v"):
        return set()
    return {i for i, kind in enumerate(text["layer_types"][:first_shared]) if kind == "full_attention"}


@pytest.mark.parametrize("name", ["gemma-4-31b.config.json", "gemma-4-26b-a4b.config.json",
                                  "gemma-4-e2b.config.json", "gemma-4-e4b.config.json"])
def test_the_v_slots_are_the_layers_vllm_copies_k_into(name):
    from paramscope.analyses.sizing.loaded import fused_v_slots, with_fused_v_slots

    raw = json.loads((LOG_CONFIGS / name).read_text())
    model = paramscope.open_model(str(LOG_CONFIGS / name))
    slots = fused_v_slots(model)
    layers = {int(t.name.split(".layers.")[1].split(".")[0]) for t in slots}
    assert layers == _k_eq_v_layers(raw)
    by_name = {t.name: t for t in model.tensors}
    for t in slots:
        k = by_name[t.name.replace(".v_proj.", ".k_proj.")]
        assert (t.shape, t.dtype) == (k.shape, k.dtype)
        assert t.name not in by_name
    built, notes = with_fused_v_slots(model)
    assert built.tensor_bytes == model.tensor_bytes + sum(t.nbytes for t in slots)
    assert bool(notes) == bool(slots)


def test_vllm_and_sglang_hold_k_twice_and_llama_cpp_does_not():
    source = LOG_CONFIGS / "gemma-4-31b.config.json"
    model = paramscope.open_model(str(source))
    from paramscope.analyses.sizing.loaded import fused_v_slots

    twice = sum(t.nbytes for t in fused_v_slots(model))
    assert twice == 10 * 4 * 512 * 5376 * 2  # 10 full layers, 4 KV heads of 512, hidden 5376, bf16
    weights = {rt: paramscope.size(str(source), runtime=rt, gpu="h200", context=4096).estimate.weights_bytes
               for rt in ("vllm", "sglang", "llama.cpp")}
    assert weights["vllm"] == weights["sglang"] == model.tensor_bytes + twice
    assert weights["llama.cpp"] == model.tensor_bytes


def test_an_encoder_s_per_type_ropes_each_get_a_cache(tmp_path):
    """ModernBERT saved by transformers 5 (layer_types and rope_parameters per type): vLLM's modernbert.py
    builds each layer's RoPE from its type's entry, two caches of 8192 × head_dim where the thetas differ;
    paramscope knows no layer kinds for an encoder, so it prices every entry at head_dim."""
    raw = json.loads((CONFIGS / "MoritzLaurer__ModernBERT-large-zeroshot-v2.0.json").read_text())
    n, every = raw["num_hidden_layers"], raw.get("global_attn_every_n_layers", 3)
    raw["layer_types"] = ["full_attention" if i % every == 0 else "sliding_attention" for i in range(n)]
    raw["rope_parameters"] = {
        "full_attention": {"rope_type": "default", "rope_theta": raw.pop("global_rope_theta")},
        "sliding_attention": {"rope_type": "default", "rope_theta": raw.pop("local_rope_theta")}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    cfg = paramscope.open_model(str(path)).config
    head = raw["hidden_size"] // raw["num_attention_heads"]
    assert rope_shapes(cfg) == [(raw["max_position_embeddings"], head)] * 2


def test_a_rope_dim_and_a_chunked_layer_type():
    """get_rope takes rope_parameters' rope_dim before the partial factor; a "chunked_attention" entry
    (rnj1) rotates paramscope's chunked layers, which it counts as sliding."""
    cfg = paramscope.open_model(str(LOG_CONFIGS / "gemma-4-e2b.config.json")).config
    from paramscope.records import replace

    rope = {"full_attention": {"rope_type": "default", "rope_theta": 1e6, "rope_dim": 64},
            "chunked_attention": {"rope_type": "default", "rope_theta": 1e4}}
    changed = replace(cfg, extra={**cfg.extra, "rope_parameters": rope})
    assert sorted(rope_shapes(changed)) == [(131072, 64), (131072, 256)]


def test_every_pipeline_stage_builds_the_towers():
    """vLLM's multimodal wrappers build the towers on every pipeline rank (no rank test around them): each
    stage's weights hold them, and with --language-model-only none does."""
    from paramscope.analyses.sizing.runtimes.vllm.pipeline import stage_weight_split
    from paramscope.knowledge.roles import TOWERS, place

    model = paramscope.open_model(str(LOG_CONFIGS / "gemma-4-31b.config.json"))
    towers = sum(t.nbytes for t in model.tensors if place(t.name).component in TOWERS)
    text, _, _ = without_towers(model, {}, default=0)
    assert towers > 0 and text.tensor_bytes == model.tensor_bytes - towers
    stages = (30, 30)
    with_towers = stage_weight_split(model, model.tensor_bytes, stages)
    without = stage_weight_split(text, text.tensor_bytes, stages)
    assert [a - b for a, b in zip(with_towers, without, strict=True)] == [towers, towers]


def test_re_priced_weights_leave_the_towers_on_each_stage_as_stored():
    """--weights re-prices the text model and keeps the towers as stored (weights.py): each stage holds
    the towers' own bytes, and the text model's re-priced bytes are split as before."""
    from paramscope.analyses.sizing.runtimes.vllm.pipeline import stage_weight_split
    from paramscope.analyses.sizing.weights import reprice
    from paramscope.knowledge.roles import TOWERS, place

    model = paramscope.open_model(str(CONFIGS / "qwen2.5-vl-7b-instruct.json"))
    rows = reprice(model, "int4").rows
    towers = sum(r.bytes for r in rows if r.component in TOWERS)
    assert towers == sum(t.nbytes for t in model.tensors if place(t.name).component in TOWERS)
    held = sum(r.bytes for r in rows)
    stages = stage_weight_split(model, held, (14, 14))
    text, _, _ = without_towers(model, {}, default=0)
    assert [s - towers for s in stages] == list(stage_weight_split(text, held - towers, (14, 14)))


def _loaded(source: Path, tokens: int) -> tuple[int, str]:
    """The weights line of --explain at max_num_batched_tokens ``tokens``: what "Model loading took"
    stands for, and its total."""
    line = next(x for x in _weights(source, max_num_batched_tokens=tokens)[1]
                if x.startswith("weights:") and " = " in x)
    return int(line.rsplit("= ", 1)[1].removesuffix(" B").replace(",", "")), line


@pytest.mark.parametrize("name", ["google__gemma-4-E2B.json", "gemma-3n-E2B.json"])
def test_the_multimodal_wrapper_holds_a_batch_of_per_layer_inputs(name, tmp_path):
    """Gemma 3n's and Gemma 4's multimodal classes allocate max_num_batched_tokens × layers ×
    hidden_size_per_layer_input values in the model dtype as they are built (gemma3n_mm.py, gemma4_mm.py
    ``per_layer_embeddings``); the text class (a text-only checkpoint) allocates none."""
    raw = json.loads((CONFIGS / name).read_text())
    layers, width = raw["text_config"]["num_hidden_layers"], raw["text_config"]["hidden_size_per_layer_input"]
    (small, _), (large, line) = _loaded(CONFIGS / name, 2048), _loaded(CONFIGS / name, 16384)
    assert large - small == (16384 - 2048) * layers * width * 2
    assert f"per-layer input buffer 16384 × {layers} × {width} × 2 B" in line
    text_only = tmp_path / "config.json"
    text_only.write_text(json.dumps(raw | {"architectures": [raw["architectures"][0].replace(
        "ForConditionalGeneration", "ForCausalLM")]}))
    (small, _), (large, line) = _loaded(text_only, 2048), _loaded(text_only, 16384)
    assert large == small and "per-layer input" not in line


def test_a_gemma4_without_per_layer_inputs_holds_no_buffer():
    source = LOG_CONFIGS / "gemma-4-31b.config.json"
    assert _loaded(source, 2048)[0] == _loaded(source, 16384)[0]


def test_every_pipeline_stage_s_wrapper_sizes_the_buffer_by_all_layers():
    e = paramscope.size(str(CONFIGS / "gemma-3n-E2B.json"), runtime="vllm", gpu="h100x2", context=8192,
                        pipeline_parallel_size=2).estimate
    assert sum("per-layer input buffer 8192 × 30 × 256 × 2 B" in line for line in e.explain) == 2
