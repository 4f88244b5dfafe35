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

from paramscope.analyses.sizing.runtimes.vllm.engine import Release, VllmParams
from paramscope.errors import UsageError
from paramscope.model import ArchConfig
from paramscope.records import record

F32 = 4
# the family of vLLM 0.8 to 0.9.1, whose gpu_model_runner took ``cdiv`` for the encoder's item count;
# floor by 0.10.2 (it prints 5 items for 16,384 // 2,928), taken for the whole "v1-0.9" family
ROUNDED_UP_ITEMS = frozenset({"v1-0.8"})
V1_FAMILIES = frozenset({"v1", "v1-0.16", "v1-early", "v1-0.12", "v1-0.11", "v1-0.9", "v1-0.8"})
# Before 0.13 (PR #30475, "operating with embeddings only") the encoder budget and the choice of modality
# count an item's placeholder tokens, the embeddings and the tokens around them (Gemma 3: "\n\n",
# <start_of_image>, <end_of_image>, "\n\n"; Qwen3-VL's video in 0.11-0.12: 12.5 × its embeddings, room for
# the timestamps, qwen3_vl.py get_max_video_tokens).
PLACEHOLDER_BUDGET = frozenset({"v1-0.12", "v1-0.11", "v1-0.9", "v1-0.8"})
# 0.11.0 to 0.12.0 (PR #25810): profile_run copies each dummy item's embeddings into zeros of more rows
# (``output.new_zeros((encoder_budget, width))``; 0.12.0: the item's placeholder count), kept in
# encoder_cache through the text run while the unpadded batch output they were cut from stays referenced
PADDED_TO = {"v1-0.11": "budget", "v1-0.12": "placeholders"}
PADDED_VIDEO_FAMILIES = frozenset(PADDED_TO)
# vLLM 0.11 rotates the Qwen towers' q and k together and in fp32 (0.10.2 rotates them one at a time, 0.12.0
# the pair in the model's dtype, read in its wheel). In 0.11.0 both attention classes concatenate them
# (``torch.cat([q, k], dim=0)``: 4h B a patch) and qwen2_vl.py ``apply_rotary_pos_emb_vision`` takes an fp32
# copy (``t.float()``, 8h), an fp32 result (8h) and casts it back (``.type_as(t)``, 4h) while the qkv
# output and the contiguous q, k, v live: 24h against the 10h of 0.10's one-at-a-time rotation (4h + 4h +
# 2h), so 14h more per patch in the attention phase. 0.11.1's Qwen2_5_VisionAttention (Qwen2.5-VL's and
# Qwen3-VL's) rearranges qkv as a view and copies only the q, k pair before the same fp32 rotation: 8h more
# (0.11.2, a patch release, taken as 0.11.1); Qwen2VisionAttention keeps 0.11.0's path. Each rank rotates its
# own heads (h / TP wide). Checked on Qwen2.5-VL-3B on an L4 under 0.11.0 (vllm/r52v-*: KV memory +16.1 %
# → +4.3 %)
PAIRED_FP32_ROTARY: dict[str, tuple[tuple[Release, Release, int], ...]] = {
    "Qwen2VisionAttention": (((0, 11, 0), (0, 11, 2), 14),),
    "Qwen2_5_VisionAttention": (((0, 11, 0), (0, 11, 0), 14), ((0, 11, 1), (0, 11, 2), 8)),
}


def paired_rotary(rule: TowerRule, release: Release) -> int:
    """Bytes per patch per unit of width the release's paired fp32 rotation adds (PAIRED_FP32_ROTARY)."""
    return next((extra for first, last, extra in PAIRED_FP32_ROTARY.get(rule.attention_class, ())
                 if first <= release <= last), 0)


@record
class TowerRule:
    """How vLLM sizes one family's dummy item and what its tower holds (section above)."""

    item: str  # how the largest image's patches and embeddings follow from the config (ITEM_SIZES)
    width: str  # vision_config key of the tower's width
    mlp: str  # vision_config key of the MLP's width, or "ratio" (embed_dim × mlp_ratio)
    gated: bool  # gate and up (SiluAndMul) rather than fc1 → act
    attention: float  # live bytes per patch per unit of width in the attention phase (calibrated)
    bf16_pixels: bool  # the caller holds a bf16 copy of the pixels during the tower (Qwen)
    defaults: tuple[tuple[str, Any], ...]  # the vision_config defaults of transformers' config class
    position: int = 0  # Qwen3's interpolated position embeddings, bytes per patch per unit of width
    video_frames: int = 0  # frames of the largest video vLLM builds (Qwen2-VL's rule), 0: no video dummy
    deepstack: bool = False  # Qwen3-VL: one more LM-wide output per deepstack layer
    max_pixels: int = 0  # the processor's largest image in pixels (Qwen: not in config.json)
    temporal: bool = False  # patches span temporal_patch_size frames (Qwen)
    image_extra: int = 0  # placeholder tokens around an image's embeddings (PLACEHOLDER_BUDGET families)
    # Qwen3-VL in PADDED_VIDEO_FAMILIES: the dummy video's total pixels (frames × height × width, the video
    # processor's size.longest_edge) and its placeholder tokens per embedding
    video_pixels: int = 0
    video_placeholders: float = 1.0
    attention_class: str = ""  # vLLM's attention module of the tower, where a release's rule depends on it


def _num(section: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = section.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _qwen_item(rule: TowerRule, v: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[int, int]:
    """Qwen-VL: the processor's max_pixels cut in patches, spatial_merge_size² patches an embedding
    (qwen2_vl.py ``get_image_size_with_most_features``; qwen3_vl.py ``_get_vision_info``)."""
    patch, merge = _num(v, "patch_size"), _num(v, "spatial_merge_size")
    patches = rule.max_pixels // (patch * patch) if patch else 0
    return patches, patches // (merge * merge) if merge else 0


def _pooled_item(rule: TowerRule, v: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[int, int]:
    """Gemma 3: one image_size² image (pan-and-scan off), its patches pooled to mm_tokens_per_image."""
    patch = _num(v, "patch_size")
    side = _num(v, "image_size") // patch if patch else 0
    return side * side, _num(config, "mm_tokens_per_image", 256)


def _merged_item(rule: TowerRule, v: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[int, int]:
    """Mistral 3 (Pixtral): an image_size² image (its longest edge), spatial_merge_size² patches (the
    wrapper's field) an embedding; the [IMG_BREAK] tokens beside them are no embeddings."""
    patch, merge = _num(v, "patch_size"), _num(config, "spatial_merge_size", 2)
    side = _num(v, "image_size") // patch if patch else 0
    return side * side, (side // merge) ** 2 if merge else 0


# (patches, embeddings) of the largest image, by TowerRule.item
ITEM_SIZES = {"qwen": _qwen_item, "pooled": _pooled_item, "merged": _merged_item}

QWEN2_VISION = (("in_channels", 3), ("temporal_patch_size", 2), ("patch_size", 14), ("spatial_merge_size", 2))
TOWERS: dict[str, TowerRule] = {
    # Qwen2-VL / Qwen2.5-VL: max_pixels 12,845,056 (3584²): 65,536 patches of 14 px, 16,384 embeddings;
    # their video: as many frame pairs as max_model_len holds, at most _MAX_FRAMES_PER_VIDEO (16)
    "qwen2_vl": TowerRule("qwen", "embed_dim", "ratio", gated=False, attention=22.5, bf16_pixels=True,
                          defaults=(*QWEN2_VISION, ("embed_dim", 1280), ("mlp_ratio", 4)), video_frames=16,
                          max_pixels=12845056, temporal=True, attention_class="Qwen2VisionAttention"),
    "qwen2_5_vl": TowerRule("qwen", "hidden_size", "intermediate_size", gated=True, attention=22.5,
                            bf16_pixels=True, defaults=(*QWEN2_VISION, ("hidden_size", 3584),
                                                        ("intermediate_size", 3420)),
                            video_frames=16, max_pixels=12845056, temporal=True,
                            attention_class="Qwen2_5_VisionAttention"),
    # Qwen3-VL / Qwen3.5: longest_edge 16,777,216 (4096²): 65,536 patches of 16 px, 16,384 embeddings; the
    # video is bounded in total pixels (25,165,824: 12,288 embeddings) and loses to the image, except
    # where vLLM 0.11-0.12 counted its placeholders, 12.5 × (PADDED_VIDEO_FAMILIES)
    **{t: TowerRule("qwen", "hidden_size", "intermediate_size", gated=False, attention=20, bf16_pixels=True,
                    defaults=(("in_channels", 3), ("temporal_patch_size", 2), ("patch_size", 16),
                              ("spatial_merge_size", 2), ("hidden_size", 1152), ("intermediate_size", 4304),
                              ("deepstack_visual_indexes", [8, 16, 24] if t.startswith("qwen3_vl") else [])),
                    position=14, deepstack=True, max_pixels=16777216, temporal=True,
                    video_pixels=25165824, video_placeholders=12.5, attention_class="Qwen2_5_VisionAttention")
       for t in ("qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe")},
    # Gemma 3: SigLIP (896² and 14 px in the published configs: 4,096 patches pooled to 256 embeddings;
    # pan-and-scan off); transformers' defaults are SiglipVisionConfig's
    "gemma3": TowerRule("pooled", "hidden_size", "intermediate_size", gated=False, attention=18,
                        bf16_pixels=False, defaults=(("num_channels", 3), ("patch_size", 16),
                                                     ("image_size", 224), ("hidden_size", 768),
                                                     ("intermediate_size", 3072)), image_extra=4),
    # Mistral 3 (Pixtral): 1540² and 14 px: 110 × 110 patches merged 2 × 2 into 55 × 55 embeddings; gated
    "mistral3": TowerRule("merged", "hidden_size", "intermediate_size", gated=True, attention=18,
                          bf16_pixels=False, defaults=(("num_channels", 3), ("patch_size", 14),
                                                       ("image_size", 1540), ("hidden_size", 1024),
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
    image_patches: int  # patches of the largest image
    image_tokens: int  # its embeddings
    deepstack_layers: int = 0
    padded_video_tokens: int = 0  # embeddings of TowerRule.video_pixels' video (0: none)


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
    """The tower vLLM's profile run feeds, for the families in TOWERS; None without one, for another
    family, or where the config's numbers are missing or not whole numbers."""
    if not isinstance(config, Mapping) or not isinstance(config.get("vision_config"), Mapping):
        return None
    model_type = str(config.get("model_type") or "")
    rule = TOWERS.get(model_type)
    if rule is None:
        return None
    v = {**dict(rule.defaults), **config["vision_config"]}
    width = _num(v, rule.width)
    mlp = width * _num(v, "mlp_ratio") if rule.mlp == "ratio" else _num(v, rule.mlp)
    # Qwen2-VL configs written before transformers 5 name the channels in_chans
    channels = _num(v, "in_chans") or _num(v, "in_channels") or _num(v, "num_channels")
    patch = _num(v, "patch_size")
    pixels = channels * patch * patch * (_num(v, "temporal_patch_size") if rule.temporal else 1)
    patches, tokens = ITEM_SIZES[rule.item](rule, v, config)
    if not (width and mlp and pixels and patches and tokens):
        return None
    deep = v.get("deepstack_visual_indexes") if rule.deepstack else None
    # the dummy video's embeddings: its patches (pixels over a patch's) over the patches an embedding merges
    video = rule.video_pixels * channels // pixels // (patches // tokens)
    return VisionTower(model_type, rule, width, mlp, pixels, patches, tokens,
                       len(deep) if isinstance(deep, list | tuple) else 0, video)


def encoder_profile(tower: VisionTower | None, cfg: ArchConfig, p: VllmParams,
                    limits: Mapping[str, int] | None = None) -> EncoderProfile | None:
    """The profile's encoder run and what it leaves during the text run (V1 families; see above).
    ``limits``: --limit-mm-per-prompt, items per prompt by modality (0 leaves a modality out; a
    modality not named keeps vLLM's default, never binding here)."""
    limits = limits or {}
    if tower is None or p.engine not in V1_FAMILIES:
        return None
    rule, b = tower.rule, p.dtype.type_size
    per_token = tower.image_patches // tower.image_tokens
    counted = p.engine in PLACEHOLDER_BUDGET
    # (modality, embeddings of its largest item, its placeholder tokens), image first: a tie goes to it
    candidates: list[tuple[str, int, int]] = []
    if limits.get("image") != 0:
        extra = rule.image_extra if counted else 0
        candidates.append(("image", tower.image_tokens, tower.image_tokens + extra))
    if limits.get("video") != 0:
        if rule.video_frames:  # frame pairs of the largest image's size
            pairs = max(1, min(rule.video_frames // 2, p.context // tower.image_tokens))
            candidates.append(("video", pairs * tower.image_tokens, pairs * tower.image_tokens))
        elif tower.padded_video_tokens and p.engine in PADDED_VIDEO_FAMILIES:
            video = tower.padded_video_tokens
            candidates.append(("video", video, round(video * rule.video_placeholders)))
    if not candidates:
        return None
    modality, tokens, placeholders = max(candidates, key=lambda c: c[2])
    budget = max(p.max_num_batched_tokens, placeholders)
    items = max(1, -(-budget // placeholders) if p.engine in ROUNDED_UP_ITEMS else budget // placeholders)
    # the decoder's cap: max_num_seqs prompts of as many items as max_model_len holds, at most the
    # per-prompt limit (budget.py ``_get_max_items``)
    per_prompt = max(1, p.context // placeholders)
    if limits.get(modality):
        per_prompt = max(1, min(limits[modality], per_prompt))
    items = max(1, min(items, p.max_num_seqs * per_prompt))
    n = items * tokens * per_token
    h, tp = tower.width, p.tensor_parallel
    mlp = 4 * h + 2 * tower.mlp_width * (3 if rule.gated else 2) / tp
    attention = rule.attention * h + (12 * h if tp > 1 else 0)
    attention += paired_rotary(rule, p.release) * h / tp
    pixels = tower.pixel_values * (F32 + (b if rule.bf16_pixels else 0))
    tower_bytes = round(n * (pixels + max(mlp, attention, rule.position * h)))
    width = cfg.hidden_size * (1 + tower.deepstack_layers)
    # 0.11-0.12: each item's copy padded to more rows, beside the batch output it was cut from (PADDED_TO)
    padded = {"budget": budget, "placeholders": placeholders}.get(PADDED_TO.get(p.engine, ""), 0)
    rows = items * (padded + tokens if tokens < padded else tokens)
    cached = rows * width * b + n * tower.pixel_values * F32
    pad_note = f", each padded to {padded:,} rows beside the unpadded output" if tokens < padded else ""
    explain = (f"multimodal profile (vLLM runs the vision tower first): {items} {modality} item(s) of "
               f"{tokens:,} embeddings{pad_note}, {n:,} patches; activation = max(the tower: {n:,} × (pixels "
               f"{pixels} + max(MLP {mlp:g}, attention {attention:g})) B = {tower_bytes:,} B, the text's "
               f"+ {round(cached):,} B kept beside it: {rows:,} embedding rows × {width} × {b} B + the fp32 "
               f"pixels)")
    return EncoderProfile(modality, items, n, tower_bytes, round(cached), explain)


def deepstack_buffer_bytes(tower: VisionTower | None, cfg: ArchConfig, p: VllmParams) -> int:
    """Qwen3-VL's deepstack inputs: vLLM's model (qwen3_vl.py, qwen3_vl_moe.py) allocates one
    ``torch.zeros(max_num_batched_tokens, hidden_size)`` per deepstack level when it is built, full size on
    every rank, so "Model loading took" counts them (Qwen3-VL-8B at 8,192 tokens: 3 × 8192 × 4096 × 2 B,
    0.19 GiB; tests/fixtures/engine_logs/vllm/r14m-*: −1.2 % → −0.1 %)."""
    if tower is None or not tower.deepstack_layers or p.engine not in V1_FAMILIES:
        return 0
    return tower.deepstack_layers * p.max_num_batched_tokens * cfg.hidden_size * p.dtype.type_size


def parse_mm_limits(text: str | None) -> dict[str, int] | None:
    """--limit-mm-per-prompt as vLLM takes it (JSON: ``{"image": 1, "video": 0}``, or an item's options,
    ``{"image": {"count": 1, "width": 512}}``, whose count is the limit: config/multimodal.py
    MultiModalDummyOptions) or as ``image=1,video=0``; None when not given; a malformed value is a usage
    error naming it."""
    if not text:
        return None
    from paramscope.analyses.sizing.runtimes.common import option_json

    what = "image=N,video=N or JSON"
    try:
        raw = option_json(text, "--limit-mm-per-prompt", what) if text.lstrip().startswith("{") else dict(
            (k.strip(), int(v)) for k, v in (part.split("=", 1) for part in text.split(",") if part.strip()))
    except ValueError as e:
        raise UsageError(f"--limit-mm-per-prompt takes {what} (found {text[:60]!r})") from e
    if not isinstance(raw, dict):
        raise UsageError(f"--limit-mm-per-prompt takes image=N,video=N or JSON (found {text!r})")
    counts = {str(k): v.get("count") if isinstance(v, dict) else v for k, v in raw.items()}
    out = {k: v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0}
    if len(out) != len(counts):
        raise UsageError(f"--limit-mm-per-prompt takes whole numbers of items (found {text!r})")
    return out
