"""vLLM's multimodal towers and RoPE caches as its model code builds them.

- Towers (analyses/sizing/loaded.py ``unbuilt_towers``, vllm/adapter.py ``built_model``): from 0.16 vLLM
  builds each tower inside ``_mark_tower_model(vllm_config, modalities)`` and leaves it out when every one
  of its modalities is limited to 0 (``--limit-mm-per-prompt``; ``--language-model-only`` from 0.17). The
  modules each model builds there are transcribed below from vLLM 0.31.0's model code, and the tensors
  paramscope leaves out must be exactly theirs, on real configs.
- RoPE caches (vllm/weights.py ``rope_shapes``): a transformers 5 config gives its RoPE per layer type, and
  vLLM builds each layer type's cache from its own entry and head size.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing.loaded import without_towers
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
    """Gemma 4 and Qwen2.5-VL mark their vision tower with image and video, and an unlimited modality is
    999 even where the model takes none: image=0 alone keeps the tower (LLaVA's, marked with image alone,
    would go: paramscope then counts it, the larger figure)."""
    for name in ("google__gemma-4-E2B.json", "qwen2.5-vl-7b-instruct.json"):
        model = paramscope.open_model(str(CONFIGS / name))
        built, towers, _ = without_towers(model, {"image": 0})
        assert towers == () and built is model


def _weights(source: Path, **options) -> tuple[int, tuple[str, ...]]:
    e = paramscope.size(str(source), runtime="vllm", gpu="h100", context=8192, **options).estimate
    return e.weights_bytes, e.explain + e.notes


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
    assert any("does not build the vision tower and the audio tower" in line for line in lines)
    # the audio tower alone: image and audio given, video not
    audio_off, lines = _weights(source, limit_mm_per_prompt='{"image": 0, "audio": 0}')
    assert 0 < full - audio_off < towers
    assert any("does not build the audio tower" in line for line in lines)


def test_towers_are_built_whatever_the_limits_before_0_16():
    source = CONFIGS / "google__gemma-4-E2B.json"
    full, _ = _weights(source, vllm_release="0.15")
    kept, lines = _weights(source, vllm_release="0.15", limit_mm_per_prompt="image=0,video=0,audio=0")
    assert kept == full
    assert any("builds the vision tower and the audio tower whatever" in line for line in lines)
    later, _ = _weights(source, vllm_release="0.16", limit_mm_per_prompt="image=0,video=0,audio=0")
    assert later < full


@pytest.mark.parametrize("options", [{"vllm_release": "0.16"}, {"engine": "v1-early"}, {"engine": "v0"}])
def test_language_model_only_is_refused_before_0_17(options):
    with pytest.raises(UnsupportedError, match="no --language-model-only"):
        _weights(CONFIGS / "google__gemma-4-E2B.json", language_model_only=True, **options)


def test_a_text_model_is_untouched():
    source = CONFIGS / "google__gemma-3-1b-it.json"
    assert _weights(source, language_model_only=True)[0] == _weights(source)[0]


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
