"""The multimodal encoder's part of vLLM's profile run (V1 ``gpu_model_runner.py`` ``profile_run``).

For a model that takes images, the profile run first builds a dummy batch of the largest items of the
modality with the most tokens per item (``MultiModalBudget.get_modality_with_max_tokens``: image before
video on a tie), runs the vision tower on all of them at once, keeps their embeddings in
``encoder_cache["tmp"]`` and only then runs the text dummy batch (and the sampler); the dummy pixel tensors
stay referenced until ``profile_run`` returns. torch's peak over the whole profile is therefore

    max(pixels + the tower's live set at its widest block,  text peak + embeddings + fp32 pixels)

How many items: ``budget = max(max_num_batched_tokens, tokens per item)`` (encoder_cache_manager.py
``compute_mm_encoder_budget``), ``items = max(1, budget // tokens per item)`` (multimodal/budget.py
``_get_max_items``; 0.8 and 0.9 rounded up), capped by max_num_seqs (never binding here).

A vision block's live set, per patch, with h the tower's width and I its MLP's:
- MLP phase: the residual and the norm's output (2h B each) and the MLP's intermediate outputs, I/TP wide
  (ColumnParallel): gate and up plus the activation (6I/TP B) for a gated MLP, fc1 plus the activation
  (4I/TP) for a plain one.
- attention phase (varlen flash attention: no N² scores): qkv, the concatenated q,k and their rotated
  copies, about ``attention`` × h B (calibrated per family on the logs below; the source counts about
  24h); with tensor parallelism ``split_qkv`` all-gathers qkv, 12h more on every rank.
- Qwen3's position-embedding interpolation before the blocks: [4, N, h], about 14h.
Pixels: the processor's fp32 values (C·T·p² per patch) stay in the dummy batch; the Qwen towers' caller
holds a bf16 copy during the tower too.

Checked on the logs of tests/fixtures/engine_logs/vllm/: Qwen2.5-VL-7B, one image of 16,384 tokens on an L4
(r13v-qwen25-vl-7b-l4-2k-*: 2.81 GiB of activation and non-torch implied, 2.85 predicted) and a 14-frame
video at 128k context (wcs-qwen25-vl-7b-*, where ``attention`` 22.5 was fitted); Qwen3.5-9B on two L40S
logs (fancai-*, l40s-nb-*: 2.05 implied, 2.12 predicted); Mistral-Small-3.1 and LLaVA-NeXT, where the text
run stays the larger (r13q-*-mistral-small-31-*, llava-next-*).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.analyses.sizing.runtimes.vllm.engine import VllmParams
from paramscope.model import ArchConfig
from paramscope.records import record

F32 = 4
# the families vLLM 0.8 and 0.9 belong to: ``cdiv`` for the encoder's item count, floor from 0.10
ROUNDED_UP_ITEMS = frozenset({"v1-0.8", "v1-0.9"})
V1_FAMILIES = frozenset({"v1", "v1-0.16", "v1-early", "v1-0.9", "v1-0.8"})


@record
class TowerRule:
    """How vLLM sizes one family's dummy item and what its tower holds (section above)."""

    image_tokens: int  # embeddings of the largest image (the processor's maximum size)
    patches_per_token: int  # patches behind one embedding (the spatial merge, squared)
    pixels_per_patch: tuple[str, ...]  # vision_config keys multiplied (channels, temporal patch, patch²)
    width: str  # vision_config key of the tower's width
    mlp: str  # vision_config key of the MLP's width, or "ratio" (embed_dim × mlp_ratio)
    gated: bool  # gate and up (SiluAndMul) rather than fc1 → act
    attention: float  # live bytes per patch per unit of width in the attention phase (calibrated)
    bf16_pixels: bool  # the caller holds a bf16 copy of the pixels during the tower (Qwen)
    position: int = 0  # Qwen3's interpolated position embeddings, bytes per patch per unit of width
    video_frames: int = 0  # frames of the largest video vLLM builds (Qwen2-VL's rule), 0: no video dummy
    defaults: tuple[tuple[str, int], ...] = ()  # vision_config defaults (transformers' config classes)
    deepstack: bool = False  # Qwen3-VL: one more LM-wide output per deepstack layer


QWEN2_VISION = (("in_chans", 3), ("temporal_patch_size", 2), ("patch_size", 14), ("spatial_merge_size", 2))
QWEN3_VISION = (("in_channels", 3), ("temporal_patch_size", 2), ("patch_size", 16), ("spatial_merge_size", 2),
                ("hidden_size", 1152), ("intermediate_size", 4304))
# Qwen2-VL / Qwen2.5-VL: max_pixels 12,845,056 → 3584² → 256 × 256 patches of 14 px → 16,384 embeddings
# (qwen2_vl.py Qwen2VLProcessingInfo.get_image_size_with_most_features). Their video: as many frames as
# max_model_len holds at 16,384 tokens a pair (temporal patch 2), at most _MAX_FRAMES_PER_VIDEO (16).
# Qwen3-VL / Qwen3.5: longest_edge 16,777,216 → 4096² → 256 × 256 patches of 16 px → 16,384; their video
# is bounded in total pixels (≤ 12,288 embeddings) and loses to the image.
TOWERS: dict[str, TowerRule] = {
    "qwen2_vl": TowerRule(16384, 4, ("in_chans", "temporal_patch_size", "patch_size", "patch_size"),
                          "embed_dim", "ratio", gated=False, attention=22.5, bf16_pixels=True,
                          video_frames=16, defaults=(*QWEN2_VISION, ("embed_dim", 1280), ("mlp_ratio", 4))),
    "qwen2_5_vl": TowerRule(16384, 4, ("in_chans", "temporal_patch_size", "patch_size", "patch_size"),
                            "hidden_size", "intermediate_size", gated=True, attention=22.5, bf16_pixels=True,
                            video_frames=16, defaults=(*QWEN2_VISION, ("hidden_size", 1280),
                                                       ("intermediate_size", 3420))),
    **{t: TowerRule(16384, 4, ("in_channels", "temporal_patch_size", "patch_size", "patch_size"),
                    "hidden_size", "intermediate_size", gated=False, attention=20, bf16_pixels=True,
                    position=14, defaults=QWEN3_VISION, deepstack=t.startswith("qwen3_vl"))
       for t in ("qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe")},
    # Gemma 3: SigLIP at 896², 4096 patches of 14 px pooled to 256 embeddings (pan-and-scan off)
    "gemma3": TowerRule(256, 16, ("num_channels", "patch_size", "patch_size"), "hidden_size",
                        "intermediate_size", gated=False, attention=18, bf16_pixels=False,
                        defaults=(("num_channels", 3), ("patch_size", 14), ("hidden_size", 1152),
                                  ("intermediate_size", 4304))),
    # Mistral 3 (Pixtral): longest edge 1540 → 110 × 110 patches of 14 px, merged 2 × 2 into 55 × 55
    # embeddings (+ 55 [IMG_BREAK] tokens: 3,080 placeholders); a gated MLP
    "mistral3": TowerRule(3025, 4, ("num_channels", "patch_size", "patch_size"), "hidden_size",
                          "intermediate_size", gated=True, attention=18, bf16_pixels=False,
                          defaults=(("num_channels", 3), ("patch_size", 14), ("hidden_size", 1024),
                                    ("intermediate_size", 4096))),
}


@record
class VisionTower:
    """One model's tower as vLLM's profile feeds it (``vision_tower`` reads it from config.json)."""

    model_type: str
    rule: TowerRule
    width: int
    mlp_width: int
    pixel_values: int  # values per patch (channels × temporal patch × patch²)
    deepstack_layers: int = 0


@record
class EncoderProfile:
    """What the profile's multimodal part adds, for one GPU."""

    modality: str
    items: int
    patches: int
    tower_bytes: int  # pixels + the tower's live set at its widest phase
    cached_bytes: int  # the embeddings kept during the text run + the fp32 pixels still referenced
    explain: str


def vision_tower(config: Mapping[str, Any] | None) -> VisionTower | None:
    """The tower vLLM's profile run feeds, for the families in TOWERS; None without one (or unknown)."""
    if not isinstance(config, Mapping) or not isinstance(config.get("vision_config"), Mapping):
        return None
    model_type = str(config.get("model_type") or "")
    rule = TOWERS.get(model_type)
    if rule is None:
        return None
    v = {**dict(rule.defaults), **config["vision_config"]}

    def num(key: str) -> int:
        value = v.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    width = num(rule.width)
    mlp = width * num("mlp_ratio") if rule.mlp == "ratio" else num(rule.mlp)
    pixels = 1
    for key in rule.pixels_per_patch:
        pixels *= num(key)
    if not (width and mlp and pixels):
        return None
    deep = v.get("deepstack_visual_indexes") if rule.deepstack else None
    return VisionTower(model_type, rule, width, mlp, pixels, len(deep) if isinstance(deep, list) else 0)


def encoder_profile(tower: VisionTower | None, cfg: ArchConfig, p: VllmParams) -> EncoderProfile | None:
    """The profile's encoder run and what it leaves during the text run (V1 families; see above)."""
    if tower is None or p.engine not in V1_FAMILIES:
        return None
    rule, b = tower.rule, p.dtype.type_size
    modality, tokens = "image", rule.image_tokens
    if rule.video_frames:
        pairs = max(1, min(rule.video_frames // 2, p.context // rule.image_tokens))
        if pairs * rule.image_tokens > tokens:
            modality, tokens = "video", pairs * rule.image_tokens
    budget = max(p.max_num_batched_tokens, tokens)
    items = max(1, -(-budget // tokens) if p.engine in ROUNDED_UP_ITEMS else budget // tokens)
    items = min(items, p.max_num_seqs)
    n = items * tokens * rule.patches_per_token
    h, tp = tower.width, p.tensor_parallel
    mlp = 4 * h + 2 * tower.mlp_width * (3 if rule.gated else 2) / tp
    attention = rule.attention * h + (12 * h if tp > 1 else 0)
    pixels = tower.pixel_values * (F32 + (b if rule.bf16_pixels else 0))
    tower_bytes = round(n * (pixels + max(mlp, attention, rule.position * h)))
    width = cfg.hidden_size * (1 + tower.deepstack_layers)
    cached = items * tokens * width * b + n * tower.pixel_values * F32
    explain = (f"multimodal profile (vLLM runs the vision tower first): {items} {modality} item(s) of "
               f"{tokens:,} embeddings, {n:,} patches; activation = max(the tower: {n:,} × (pixels "
               f"{pixels} + max(MLP {mlp:g}, attention {attention:g})) B = {tower_bytes:,} B, the text's "
               f"+ {round(cached):,} B kept beside it: embeddings × {width} × {b} B + the fp32 pixels)")
    return EncoderProfile(modality, items, n, tower_bytes, round(cached), explain)
