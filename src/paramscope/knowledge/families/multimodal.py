"""Multimodal wrappers: a text family + a vision tower + a projector, one row per wrapper.

The published Gemma 3 checkpoints (google/gemma-3-4b/12b/27b) keep the pre-4.52 names:
``language_model.model.…`` for the text decoder, ``vision_tower.vision_model.…`` for SigLIP and
``multi_modal_projector.…``; transformers still loads them under those names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paramscope.errors import FormatError
from paramscope.knowledge.families.gemma3n import (
    AUDIO_DEFAULTS,
    MOBILENET_DEFAULTS,
    gemma3n_audio_tower,
    gemma3n_projector,
    mobilenetv5_tower,
)
from paramscope.knowledge.families.gemma4 import AUDIO_DEFAULTS as GEMMA4_AUDIO
from paramscope.knowledge.families.gemma4 import (
    UNIFIED_AUDIO_DEFAULTS,
    UNIFIED_VISION_DEFAULTS,
    gemma4_audio_embedder,
    gemma4_audio_tower,
    gemma4_unified_audio_embedder,
    gemma4_unified_vision_embedder,
    gemma4_vision_embedder,
    gemma4_vision_tower,
    no_encoder,
)
from paramscope.knowledge.families.gemma4 import VISION_DEFAULTS as GEMMA4_VISION
from paramscope.knowledge.families.granite_speech import (
    ENCODER_DEFAULTS,
    granite_speech_encoder,
    granite_speech_projector,
)
from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList
from paramscope.records import field, record

# SiglipVisionConfig defaults (models/siglip/configuration_siglip.py)
SIGLIP_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                   "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16}


def siglip_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """SiglipVisionTransformer (models/siglip/modeling_siglip.py).

    Patch embedding is a Conv2d (hidden, channels, patch, patch) with bias; one learned position per
    patch, (image_size / patch_size)² of them; pre-norm encoder layers with LayerNorm biases and biased
    q/k/v/out projections; post_layernorm; and the attention-pooling head unless ``vision_use_head`` is
    false (Gemma 3 turns it off). Gemma 3 27B: 1152 wide, 27 layers, 896 / 14 = 64² patches →
    416,866,032 parameters.
    """
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    patch, channels = v.int("patch_size", minimum=1), v.int("num_channels", minimum=1)
    side = v.int("image_size", minimum=1) // patch
    t.add(p + "embeddings.patch_embedding.weight", h, channels, patch, patch)
    t.add(p + "embeddings.patch_embedding.bias", h)
    t.embedding(p + "embeddings.position_embedding", side * side, h)
    _vit_layers(v, t, p, h, ffn)
    t.norm(p + "post_layernorm", h, bias=True)
    if v.flag("vision_use_head", True):
        # SiglipMultiheadAttentionPoolingHead: a probe token, nn.MultiheadAttention (packed in_proj),
        # LayerNorm and an MLP
        t.add(p + "head.probe", 1, 1, h)
        t.add(p + "head.attention.in_proj_weight", 3 * h, h)
        t.add(p + "head.attention.in_proj_bias", 3 * h)
        t.linear(p + "head.attention.out_proj", h, h, bias=True)
        t.norm(p + "head.layernorm", h, bias=True)
        t.linear(p + "head.mlp.fc1", ffn, h, bias=True)
        t.linear(p + "head.mlp.fc2", h, ffn, bias=True)


# CLIPVisionConfig defaults (models/clip/configuration_clip.py)
CLIP_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32}


def _vit_layers(v: HfConfig, t: TensorList, p: str, h: int, ffn: int) -> None:
    """The pre-norm encoder layers CLIP and SigLIP share: biased q/k/v/out, two LayerNorms, fc1/fc2."""
    for i in range(v.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}encoder.layers.{i}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            t.linear(lp + "self_attn." + proj, h, h, bias=True)
        t.norm(lp + "layer_norm1", h, bias=True)
        t.linear(lp + "mlp.fc1", ffn, h, bias=True)
        t.linear(lp + "mlp.fc2", h, ffn, bias=True)
        t.norm(lp + "layer_norm2", h, bias=True)


def clip_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """CLIPVisionTransformer (models/clip/modeling_clip.py): a class token, a bias-free Conv2d patch
    embedding, one learned position per patch plus the class token, pre_layrnorm (sic), the encoder and
    post_layernorm. LLaVA-1.5's CLIP ViT-L/14-336: 1024 wide, 24 layers, (336 / 14)² + 1 = 577 positions."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    patch, channels = v.int("patch_size", minimum=1), v.int("num_channels", minimum=1)
    side = v.int("image_size", minimum=1) // patch
    t.add(p + "embeddings.class_embedding", h)
    t.add(p + "embeddings.patch_embedding.weight", h, channels, patch, patch)
    t.embedding(p + "embeddings.position_embedding", side * side + 1, h)
    t.norm(p + "pre_layrnorm", h, bias=True)
    _vit_layers(v, t, p, h, ffn)
    t.norm(p + "post_layernorm", h, bias=True)


def llava_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                    outer: Mapping[str, Any]) -> None:
    """LlavaMultiModalProjector: linear_1 (vision → text), GELU, linear_2 (text → text), with biases
    unless multimodal_projector_bias is false."""
    vh = v.int("hidden_size", minimum=1)
    bias = HfConfig(outer, {"multimodal_projector_bias": True}, {}, v.source).flag(
        "multimodal_projector_bias")
    t.linear(p + "linear_1", text_hidden, vh, bias=bias)
    t.linear(p + "linear_2", text_hidden, text_hidden, bias=bias)


def llava_next_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                         outer: Mapping[str, Any]) -> None:
    """LLaVA-NeXT: LLaVA's projector and a learned image_newline vector (text width)."""
    llava_projector(v, text_hidden, t, p, outer)
    t.add("image_newline", text_hidden)


def paligemma_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                        outer: Mapping[str, Any]) -> None:
    """PaliGemmaMultiModalProjector: one biased linear, vision hidden → vision_config.projection_dim."""
    t.linear(p + "linear", v.int("projection_dim", text_hidden, minimum=1), v.int("hidden_size", minimum=1),
             bias=True)


def gemma3_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                     outer: Mapping[str, Any]) -> None:
    """Gemma3MultiModalProjector: RMSNorm over vision features, then a bare (vision, text) matrix
    used as ``x @ W`` — so its shape is (in, out), not nn.Linear's (out, in). 27B: 1152 × 5376 + 1152."""
    vh = v.int("hidden_size", minimum=1)
    t.add(p + "mm_input_projection_weight", vh, text_hidden)
    t.norm(p + "mm_soft_emb_norm", vh)


def _qwen_patches(v: HfConfig, t: TensorList, p: str, h: int, bias: bool) -> None:
    """The Qwen-VL patch embedding: a Conv3d over temporal_patch_size frames of patch² pixels."""
    patch, temporal = v.int("patch_size", minimum=1), v.int("temporal_patch_size", minimum=1)
    t.add(p + "patch_embed.proj.weight", h, v.int("in_channels", minimum=1), temporal, patch, patch)
    if bias:
        t.add(p + "patch_embed.proj.bias", h)


def _qwen_blocks(v: HfConfig, t: TensorList, p: str, h: int, norm_bias: bool,
                 mlp: Callable[[str], None]) -> None:
    """Qwen-VL vision blocks: norm1, a fused biased qkv and proj, norm2, the block's MLP."""
    for i in range(v.int("depth", maximum=MAX_LAYERS)):
        bp = f"{p}blocks.{i}."
        t.norm(bp + "norm1", h, bias=norm_bias)
        t.norm(bp + "norm2", h, bias=norm_bias)
        t.linear(bp + "attn.qkv", 3 * h, h, bias=True)
        t.linear(bp + "attn.proj", h, h, bias=True)
        mlp(bp + "mlp.")


def qwen2_vl_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Qwen2VisionTransformerPretrainedModel (models/qwen2_vl/modeling_qwen2_vl.py): a bias-free Conv3d
    patch embedding, LayerNorm blocks with an fc1/fc2 MLP of embed_dim · mlp_ratio, and the PatchMerger
    (ln_q, then mlp.0/mlp.2 over spatial_merge_size² patches) that projects to the text width
    (vision_config.hidden_size). Qwen2-VL-7B: 1280 wide, 32 blocks, 675,759,104 parameters."""
    h = v.int("embed_dim", minimum=1)
    ffn = h * v.int("mlp_ratio", minimum=1)
    merged = h * v.int("spatial_merge_size", minimum=1) ** 2

    def mlp(mp: str) -> None:
        t.linear(mp + "fc1", ffn, h, bias=True)
        t.linear(mp + "fc2", h, ffn, bias=True)

    _qwen_patches(v, t, p, h, bias=False)
    _qwen_blocks(v, t, p, h, True, mlp)
    t.norm(p + "merger.ln_q", h, bias=True)
    t.linear(p + "merger.mlp.0", merged, merged, bias=True)
    t.linear(p + "merger.mlp.2", v.int("hidden_size", minimum=1), merged, bias=True)


def qwen2_5_vl_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Qwen2_5_VisionTransformerPretrainedModel: Qwen2-VL's tower with RMSNorm (no bias), a biased
    gate/up/down MLP of intermediate_size, and a merger (RMSNorm ln_q) out to out_hidden_size."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    merged = h * v.int("spatial_merge_size", minimum=1) ** 2

    def mlp(mp: str) -> None:
        t.linear(mp + "gate_proj", ffn, h, bias=True)
        t.linear(mp + "up_proj", ffn, h, bias=True)
        t.linear(mp + "down_proj", h, ffn, bias=True)

    _qwen_patches(v, t, p, h, bias=False)
    _qwen_blocks(v, t, p, h, False, mlp)
    t.norm(p + "merger.ln_q", h)
    t.linear(p + "merger.mlp.0", merged, merged, bias=True)
    t.linear(p + "merger.mlp.2", v.int("out_hidden_size", minimum=1), merged, bias=True)


def qwen3_vl_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Qwen3VLVisionModel (models/qwen3_vl/modeling_qwen3_vl.py): a biased Conv3d patch embedding,
    num_position_embeddings learned positions, LayerNorm blocks with a linear_fc1/linear_fc2 MLP, the
    merger (norm over one patch, then over the merged ones: linear_fc1, linear_fc2 → out_hidden_size)
    and one deepstack merger per deepstack_visual_indexes entry (its norm over the merged width)."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    merged = h * v.int("spatial_merge_size", minimum=1) ** 2
    out = v.int("out_hidden_size", minimum=1)

    def mlp(mp: str) -> None:
        t.linear(mp + "linear_fc1", ffn, h, bias=True)
        t.linear(mp + "linear_fc2", h, ffn, bias=True)

    def merger(mp: str, norm_width: int) -> None:
        t.norm(mp + "norm", norm_width, bias=True)
        t.linear(mp + "linear_fc1", merged, merged, bias=True)
        t.linear(mp + "linear_fc2", out, merged, bias=True)

    _qwen_patches(v, t, p, h, bias=True)
    t.embedding(p + "pos_embed", v.int("num_position_embeddings", minimum=1), h)
    _qwen_blocks(v, t, p, h, True, mlp)
    merger(p + "merger.", h)
    for i in range(len(v.int_list("deepstack_visual_indexes"))):
        merger(f"{p}deepstack_merger_list.{i}.", merged)


def pixtral_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """PixtralVisionModel (models/pixtral/modeling_pixtral.py): a bias-free Conv2d patch embedding,
    ln_pre (RMSNorm), and transformer.layers of RMSNorm, bias-free q/k/v/o of heads × head_dim and a
    gated gate/up/down MLP; positions are rotary (nothing stored)."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    patch, heads = v.int("patch_size", minimum=1), v.int("num_attention_heads", minimum=1)
    inner = heads * v.int("head_dim", h // heads, minimum=1)
    t.add(p + "patch_conv.weight", h, v.int("num_channels", minimum=1), patch, patch)
    t.norm(p + "ln_pre", h)
    for i in range(v.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}transformer.layers.{i}."
        t.norm(lp + "attention_norm", h)
        for proj in ("q_proj", "k_proj", "v_proj"):
            t.linear(lp + "attention." + proj, inner, h)
        t.linear(lp + "attention.o_proj", h, inner)
        t.norm(lp + "ffn_norm", h)
        t.linear(lp + "feed_forward.gate_proj", ffn, h)
        t.linear(lp + "feed_forward.up_proj", ffn, h)
        t.linear(lp + "feed_forward.down_proj", h, ffn)


def mistral3_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                       outer: Mapping[str, Any]) -> None:
    """Mistral3MultiModalProjector: RMSNorm over vision features, the patch merger (one bias-free linear
    over spatial_merge_size² patches) and linear_1/linear_2 to the text width, biased only when
    multimodal_projector_bias (default false)."""
    vh = v.int("hidden_size", minimum=1)
    wrapper = HfConfig(outer, {"spatial_merge_size": 2, "multimodal_projector_bias": False}, {}, v.source)
    bias = wrapper.flag("multimodal_projector_bias")
    t.norm(p + "norm", vh)
    t.linear(p + "patch_merger.merging_layer", vh, vh * wrapper.int("spatial_merge_size", minimum=1) ** 2)
    t.linear(p + "linear_1", text_hidden, vh, bias=bias)
    t.linear(p + "linear_2", text_hidden, text_hidden, bias=bias)


def llama4_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Llama4VisionModel (models/llama4/modeling_llama4.py): a class token, one learned position per
    patch plus it, an unfolding patch embedding (a bias-free linear over channels · patch² pixels),
    pre/post LayerNorms, CLIP-like layers (biased q/k/v/o, fc1/fc2, LayerNorms with bias) under
    ``model.``, and the pixel-shuffle adapter (vision_adapter.mlp.fc1: intermediate → projector_input_dim,
    fc2: projector_output_dim², no biases)."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    patch, channels = v.int("patch_size", minimum=1), v.int("num_channels", minimum=1)
    side = v.int("image_size", minimum=1) // patch
    t.add(p + "class_embedding", h)
    t.add(p + "positional_embedding_vlm", side * side + 1, h)
    t.linear(p + "patch_embedding.linear", h, channels * patch * patch)
    t.norm(p + "layernorm_pre", h, bias=True)
    t.norm(p + "layernorm_post", h, bias=True)
    for i in range(v.int("num_hidden_layers", maximum=MAX_LAYERS)):
        lp = f"{p}model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t.linear(lp + "self_attn." + proj, h, h, bias=True)
        t.linear(lp + "mlp.fc1", ffn, h, bias=True)
        t.linear(lp + "mlp.fc2", h, ffn, bias=True)
        t.norm(lp + "input_layernorm", h, bias=True)
        t.norm(lp + "post_attention_layernorm", h, bias=True)
    out = v.int("projector_output_dim", minimum=1)
    t.linear(p + "vision_adapter.mlp.fc1", v.int("projector_input_dim", minimum=1), ffn)
    t.linear(p + "vision_adapter.mlp.fc2", out, out)


def llama4_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str, outer: Mapping[str, Any]) -> None:
    """Llama4MultiModalProjector: one bias-free linear, vision_output_dim → the text width."""
    t.linear(p + "linear_1", text_hidden, v.int("vision_output_dim", minimum=1))


def aya_vision_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                         outer: Mapping[str, Any]) -> None:
    """AyaVisionMultiModalProjector (models/aya_vision/modeling_aya_vision.py): pixel shuffle by
    downsample_factor, a LayerNorm over vision hidden · factor², linear_1 to alignment_intermediate_size
    (the text width when the config names none), SwiGLU halving it, linear_2 into the text width; all
    biased."""
    w = HfConfig(outer, {"downsample_factor": 2, "alignment_intermediate_size": text_hidden}, {}, v.source)
    width = v.int("hidden_size", minimum=1) * w.int("downsample_factor", minimum=1) ** 2
    align = w.int("alignment_intermediate_size", minimum=2)
    t.norm(p + "layernorm", width, bias=True)
    t.linear(p + "linear_1", align, width, bias=True)
    t.linear(p + "linear_2", text_hidden, align // 2, bias=True)


def aria_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str, outer: Mapping[str, Any]) -> None:
    """AriaProjector (models/aria/modeling_aria.py): learned queries, as many as the largest value of
    projector_patch_to_query_dict (AriaConfig: {1225: 128, 4900: 256} when it names none), cross-attending
    to the vision features (AriaCrossAttention: bias-free q/k/v of the vision width, a packed
    nn.MultiheadAttention, a biased linear and two LayerNorms), a LayerNorm, and a bias-free two-layer MLP
    (AriaProjectorMLP) vision width → text width → text width."""
    queries = outer.get("projector_patch_to_query_dict") or {1225: 128, 4900: 256}
    counts = list(queries.values()) if isinstance(queries, Mapping) else []
    if not counts or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in counts):
        raise FormatError(v.source, "projector_patch_to_query_dict must map patch counts to query counts",
                          found=repr(queries)[:80])
    h = v.int("hidden_size", minimum=1)
    t.add(p + "query", max(counts), h)
    a = p + "cross_attn."
    for proj in ("q_proj", "k_proj", "v_proj"):
        t.linear(a + proj, h, h)
    t.add(a + "multihead_attn.in_proj_weight", 3 * h, h)
    t.add(a + "multihead_attn.in_proj_bias", 3 * h)
    t.linear(a + "multihead_attn.out_proj", h, h, bias=True)
    t.linear(a + "linear", h, h, bias=True)
    t.norm(a + "layer_norm", h, bias=True)
    t.norm(a + "layer_norm_kv", h, bias=True)
    t.norm(p + "layer_norm", h, bias=True)
    t.linear(p + "feed_forward.linear_in", text_hidden, h)
    t.linear(p + "feed_forward.linear_out", text_hidden, text_hidden)


def _pair(v: HfConfig, key: str) -> tuple[int, int]:
    """InternVLVisionConfig's image_size / patch_size: one number or a (height, width) pair."""
    if isinstance(v.value(key), list | tuple):
        pair = v.int_list(key)
        if len(pair) != 2 or min(pair) < 1:
            raise FormatError(v.source, f"field {key!r} must be a number or two", found=repr(v.value(key)))
        return pair[0], pair[1]
    n = v.int(key, minimum=1)
    return n, n


def internvl_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """InternVLVisionModel (models/internvl/modeling_internvl.py), InternViT as the -hf checkpoints store it
    under ``vision_tower.``: a cls token, a patch Conv2d with bias, absolute positions for the patches and
    the cls token (use_absolute_position_embeddings), a mask token (use_mask_token); per layer q/k/v
    (attention_bias), projection_layer (biased), RMSNorm q/k norms over the whole width (use_qk_norm),
    fc1/fc2, layernorm_before/after (LayerNorm, or RMSNorm without bias for norm_type rms_norm) and the
    layer-scale vectors lambda_1/lambda_2; a final LayerNorm only without use_mean_pooling."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    (ih, iw), (ph, pw) = _pair(v, "image_size"), _pair(v, "patch_size")
    e = p + "embeddings."
    t.add(e + "cls_token", 1, 1, h)
    if v.flag("use_mask_token"):
        t.add(e + "mask_token", 1, 1, h)
    t.add(e + "patch_embeddings.projection.weight", h, v.int("num_channels", 3, minimum=1), ph, pw)
    t.add(e + "patch_embeddings.projection.bias", h)
    if v.flag("use_absolute_position_embeddings", True):
        t.add(e + "position_embeddings", 1, (ih // ph) * (iw // pw) + 1, h)
    bias, qk_norm = v.flag("attention_bias"), v.flag("use_qk_norm")
    ln = v.value("norm_type", "layer_norm") != "rms_norm"
    for i in range(v.int("num_hidden_layers", maximum=MAX_LAYERS)):
        b = f"{p}encoder.layer.{i}."
        for proj in ("q_proj", "k_proj", "v_proj"):
            t.linear(b + "attention." + proj, h, h, bias)
        t.linear(b + "attention.projection_layer", h, h, bias=True)
        if qk_norm:
            t.norm(b + "attention.q_norm", h)
            t.norm(b + "attention.k_norm", h)
        t.linear(b + "mlp.fc1", ffn, h, bias=True)
        t.linear(b + "mlp.fc2", h, ffn, bias=True)
        t.norm(b + "layernorm_before", h, bias=ln)
        t.norm(b + "layernorm_after", h, bias=ln)
        t.add(b + "lambda_1", h)
        t.add(b + "lambda_2", h)
    if not v.flag("use_mean_pooling", True):
        t.norm(p + "layernorm", h, bias=True)


def glm4v_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """Glm4vVisionModel (models/glm4v/modeling_glm4v.py) under ``model.visual.``: a biased Conv3d patch
    embedding (temporal_patch_size × patch_size²), learned positions for (image_size // patch_size)²
    patches, post_conv_layernorm, ``depth`` blocks (RMSNorms norm1/norm2, attn.qkv with attention_bias,
    attn.proj without, a bias-free gated MLP of out_hidden_size: Glm4VisionMlp's width), post_layernorm,
    a biased Conv2d downsample by spatial_merge_size into out_hidden_size, and the merger (proj,
    post_projection_norm LayerNorm, a gated MLP of intermediate_size)."""
    h, out, ffn = (v.int(k, minimum=1) for k in ("hidden_size", "out_hidden_size", "intermediate_size"))
    patch, merge = v.int("patch_size", minimum=1), v.int("spatial_merge_size", minimum=1)
    t.add(p + "embeddings.position_embedding.weight", (v.int("image_size", minimum=1) // patch) ** 2, h)
    t.add(p + "patch_embed.proj.weight", h, v.int("in_channels", 3, minimum=1),
          v.int("temporal_patch_size", minimum=1), patch, patch)
    t.add(p + "patch_embed.proj.bias", h)
    bias = v.flag("attention_bias")
    for i in range(v.int("depth", maximum=MAX_LAYERS)):
        b = f"{p}blocks.{i}."
        t.norm(b + "norm1", h)
        t.norm(b + "norm2", h)
        t.linear(b + "attn.qkv", 3 * h, h, bias)
        t.linear(b + "attn.proj", h, h)
        for proj, rows, cols in (("gate_proj", out, h), ("up_proj", out, h), ("down_proj", h, out)):
            t.linear(b + "mlp." + proj, rows, cols)
    t.norm(p + "post_conv_layernorm", h)
    t.norm(p + "post_layernorm", h)
    t.add(p + "downsample.weight", out, h, merge, merge)
    t.add(p + "downsample.bias", out)
    t.linear(p + "merger.proj", out, out)
    t.norm(p + "merger.post_projection_norm", out, bias=True)
    for proj, rows, cols in (("gate_proj", ffn, out), ("up_proj", ffn, out), ("down_proj", out, ffn)):
        t.linear(p + "merger." + proj, rows, cols)


def internvl_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                       outer: Mapping[str, Any]) -> None:
    """InternVLMultiModalProjector: pixel shuffle by downsample_ratio, a LayerNorm over vision hidden ·
    int(1 / ratio)², linear_1 into the text width, linear_2 text to text; all biased."""
    ratio = HfConfig(outer, {"downsample_ratio": 0.5}, {}, v.source).value("downsample_ratio")
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
        raise FormatError(v.source, "field 'downsample_ratio' must be a number in (0, 1]", found=repr(ratio))
    width = v.int("hidden_size", minimum=1) * int(1 / ratio) ** 2
    t.norm(p + "layer_norm", width, bias=True)
    t.linear(p + "linear_1", text_hidden, width, bias=True)
    t.linear(p + "linear_2", text_hidden, text_hidden, bias=True)


def idefics3_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                       outer: Mapping[str, Any]) -> None:
    """Idefics3Connector: pixel shuffle by scale_factor, then one bias-free linear, vision hidden ·
    scale_factor² → the text width."""
    scale = HfConfig(outer, {"scale_factor": 2}, {}, v.source).int("scale_factor", minimum=1)
    t.linear(p + "modality_projection.proj", text_hidden, v.int("hidden_size", minimum=1) * scale * scale)


def mllama_tower(v: HfConfig, t: TensorList, p: str) -> None:
    """MllamaVisionModel (models/mllama/modeling_mllama.py): a bias-free Conv2d patch embedding, a class
    token, gated positional embeddings per patch and per tile (tile_embedding: one row per supported
    aspect ratio + 1, max_num_tiles · patches · hidden wide), gated pre/post tile embeddings, pre/post
    LayerNorms, num_hidden_layers local layers and num_global_layers gated global layers (bias-free
    q/k/v/o, biased fc1/fc2, LayerNorms with bias)."""
    h, ffn = v.int("hidden_size", minimum=1), v.int("intermediate_size", minimum=1)
    patch, channels = v.int("patch_size", minimum=1), v.int("num_channels", minimum=1)
    patches = (v.int("image_size", minimum=1) // patch) ** 2 + 1
    tiles = v.int("max_num_tiles", minimum=1)
    ratios = v.value("supported_aspect_ratios") or _MLLAMA_RATIOS
    if not isinstance(ratios, list | tuple):
        raise FormatError(v.source, "field 'supported_aspect_ratios' must be a list", found=repr(ratios)[:80])
    rows = len(ratios) + 1
    t.add(p + "patch_embedding.weight", h, channels, patch, patch)
    t.add(p + "class_embedding", h)
    g = p + "gated_positional_embedding."
    t.add(g + "embedding", patches, h)
    t.add(g + "gate", 1)
    t.embedding(g + "tile_embedding", rows, tiles * patches * h)
    for tile in ("pre_tile_positional_embedding.", "post_tile_positional_embedding."):
        t.embedding(p + tile + "embedding", rows, tiles * h)
        t.add(p + tile + "gate", 1)
    t.norm(p + "layernorm_pre", h, bias=True)
    t.norm(p + "layernorm_post", h, bias=True)
    for stack, n, gated in (("transformer", v.int("num_hidden_layers", maximum=MAX_LAYERS), False),
                            ("global_transformer", v.int("num_global_layers", maximum=MAX_LAYERS), True)):
        for i in range(n):
            lp = f"{p}{stack}.layers.{i}."
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                t.linear(lp + "self_attn." + proj, h, h)
            t.linear(lp + "mlp.fc1", ffn, h, bias=True)
            t.linear(lp + "mlp.fc2", h, ffn, bias=True)
            t.norm(lp + "input_layernorm", h, bias=True)
            t.norm(lp + "post_attention_layernorm", h, bias=True)
            if gated:
                t.add(lp + "gate_attn", 1)
                t.add(lp + "gate_ffn", 1)


def mllama_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str, outer: Mapping[str, Any]) -> None:
    """Mllama's multi_modal_projector: one biased linear, vision_output_dim → the text width."""
    t.add(p + "weight", text_hidden, v.int("vision_output_dim", minimum=1))
    t.add(p + "bias", text_hidden)


def no_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str,
                 outer: Mapping[str, Any]) -> None:
    """The tower's own merger projects to the text width (Qwen-VL): nothing outside it."""


@record
class Tower:
    defaults: Mapping[str, Any]  # the vision config class's defaults, for the fields read
    build: Callable[[HfConfig, TensorList, str], None]
    attribute_map: Mapping[str, str] = field(default_factory=dict)
    # the tower's modules sit right under the wrapper's attribute, with no "vision_model." level of their
    # own (PixtralVisionModel in LLaVA: pixtral-12b's vision_tower.transformer…, not …vision_model.…)
    bare: bool = False

    def prefix(self, composite_prefix: str) -> str:
        return composite_prefix.removesuffix("vision_model.") if self.bare else composite_prefix


_QWEN_VISION_NAMES = {"num_attention_heads": "num_heads", "num_hidden_layers": "depth"}
# Qwen2VLVisionConfig, Qwen2_5_VLVisionConfig, Qwen3VLVisionConfig defaults
_QWEN2_VL_VISION = {"depth": 32, "embed_dim": 1280, "hidden_size": 3584, "mlp_ratio": 4, "num_heads": 16,
                    "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
_QWEN2_5_VL_VISION = {"depth": 32, "hidden_size": 3584, "intermediate_size": 3420, "num_heads": 16,
                      "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                      "out_hidden_size": 3584}
_QWEN3_VL_VISION = {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16,
                    "in_channels": 3, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                    "out_hidden_size": 3584, "num_position_embeddings": 2304,
                    "deepstack_visual_indexes": [8, 16, 24]}

# PixtralVisionConfig defaults
_PIXTRAL = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "num_channels": 3, "image_size": 1024, "patch_size": 16}

# Llama4VisionConfig defaults
_LLAMA4_VISION = {"hidden_size": 768, "num_hidden_layers": 34, "num_attention_heads": 16, "num_channels": 3,
                  "intermediate_size": 5632, "vision_output_dim": 7680, "image_size": 448, "patch_size": 14,
                  "projector_input_dim": 4096, "projector_output_dim": 4096}

# Idefics3VisionConfig / SmolVLMVisionConfig defaults: a SigLIP encoder without the pooling head
_IDEFICS3_VISION = {**SIGLIP_DEFAULTS, "hidden_size": 1152, "intermediate_size": 3072,
                    "num_attention_heads": 16,
                    "patch_size": 32, "vision_use_head": False}

# MllamaVisionConfig defaults (supported_aspect_ratios: the 8 tile layouts of up to 4 tiles)
_MLLAMA_RATIOS = [[1, 1], [1, 2], [1, 3], [1, 4], [2, 1], [2, 2], [3, 1], [4, 1]]
_MLLAMA_VISION = {"hidden_size": 1280, "num_hidden_layers": 32, "num_global_layers": 8, "attention_heads": 16,
                  "num_channels": 3, "intermediate_size": 5120, "vision_output_dim": 7680, "image_size": 448,
                  "patch_size": 14, "max_num_tiles": 4}

# Qwen3_5VisionConfig: Qwen3-VL's tower without the deepstack mergers
_QWEN3_5_VISION = {**_QWEN3_VL_VISION, "deepstack_visual_indexes": []}

# Glm4vVisionConfig defaults
_GLM4V_VISION = {"depth": 24, "hidden_size": 1536, "attention_bias": False, "num_heads": 12, "in_channels": 3,
                 "image_size": 336, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                 "out_hidden_size": 4096, "intermediate_size": 13696}
# InternVLVisionConfig defaults (InternViT-300M)
_INTERNVL_VISION = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                    "attention_bias": False, "use_qk_norm": False, "intermediate_size": 4096,
                    "norm_type": "layer_norm", "image_size": [448, 448], "patch_size": [14, 14],
                    "num_channels": 3, "use_mask_token": False, "use_absolute_position_embeddings": True,
                    "use_mean_pooling": True}

VISION_TOWERS: dict[str, Tower] = {
    "siglip_vision_model": Tower(SIGLIP_DEFAULTS, siglip_tower),
    "clip_vision_model": Tower(CLIP_DEFAULTS, clip_tower),
    "pixtral": Tower(_PIXTRAL, pixtral_tower, bare=True),
    "llama4_vision_model": Tower(_LLAMA4_VISION, llama4_tower),
    "idefics3_vision": Tower(_IDEFICS3_VISION, siglip_tower),
    "mllama_vision_model": Tower(_MLLAMA_VISION, mllama_tower, {"num_attention_heads": "attention_heads"}),
    "smolvlm_vision": Tower(_IDEFICS3_VISION, siglip_tower),
    "qwen2_vl_vision": Tower(_QWEN2_VL_VISION, qwen2_vl_tower, _QWEN_VISION_NAMES),
    "qwen2_5_vl_vision": Tower(_QWEN2_5_VL_VISION, qwen2_5_vl_tower, _QWEN_VISION_NAMES),
    "qwen3_vl_vision": Tower(_QWEN3_VL_VISION, qwen3_vl_tower, _QWEN_VISION_NAMES),
    "qwen3_vl_moe_vision": Tower(_QWEN3_VL_VISION, qwen3_vl_tower, _QWEN_VISION_NAMES),
    "qwen3_5_vision": Tower(_QWEN3_5_VISION, qwen3_vl_tower, _QWEN_VISION_NAMES),
    "qwen3_5_moe_vision": Tower(_QWEN3_5_VISION, qwen3_vl_tower, _QWEN_VISION_NAMES),
    "gemma3n_vision": Tower(MOBILENET_DEFAULTS, mobilenetv5_tower),
    "internvl_vision": Tower(_INTERNVL_VISION, internvl_tower, bare=True),
    "glm4v_vision": Tower(_GLM4V_VISION, glm4v_tower, _QWEN_VISION_NAMES),
    "gemma4_vision": Tower(GEMMA4_VISION, gemma4_vision_tower),
    "gemma4_unified_vision": Tower(UNIFIED_VISION_DEFAULTS, no_encoder),
}
# older checkpoints name the vision config by the wrapper's model_type (the configs rename it the same way)
VISION_ALIASES = {"glm4v": "glm4v_vision", "qwen2_vl": "qwen2_vl_vision", "qwen2_5_vl": "qwen2_5_vl_vision",
                  "qwen3_vl": "qwen3_vl_vision", "qwen3_vl_moe": "qwen3_vl_moe_vision",
                  "qwen3_5": "qwen3_5_vision", "qwen3_5_moe": "qwen3_5_moe_vision"}


@record
class Composite:
    model_type: str
    source: str
    text_family: str  # model_type of text_config when it names none
    vision_tower: str  # key of VISION_TOWERS when vision_config names none
    projector: Callable[[HfConfig, int, TensorList, str, Mapping[str, Any]], None]  # (vision, text
    # width, tensors, prefix, the wrapper's config)
    text_prefix: str = "language_model.model."
    head_prefix: str = "language_model."
    vision_prefix: str = "vision_tower.vision_model."
    projector_prefix: str = "multi_modal_projector."
    extra_keys: tuple[str, ...] = ()  # wrapper fields worth keeping in ArchConfig.extra
    describes: tuple[str, ...] = ()  # the transformers class a config without architectures is
    text_defaults: Mapping[str, Any] = field(default_factory=dict)  # the wrapper's own text_config defaults
    vision_defaults: Mapping[str, Any] = field(default_factory=dict)  # …and vision_config defaults
    # Qwen2-VL / Qwen2.5-VL configs saved before transformers 4.5x keep the text fields at the top level
    text_inline: bool = False
    # the head is tied when the wrapper or its text config says so (Qwen-VL, LLaVA: "pre-v5 saves placed
    # tie_word_embeddings inside text_config")
    tie_either: bool = False
    tie_default: bool | None = None  # the wrapper's tie_word_embeddings when it names none (it, not the
    # text config's default, decides: Qwen3VLMoeConfig False over Qwen3VLMoeTextConfig True)
    audio: Tower | None = None  # an audio encoder built from audio_config (Gemma 3n's USM)
    audio_prefix: str = ""
    audio_section: str = "audio_config"  # the config section of the audio encoder (Granite Speech:
    # encoder_config); a wrapper whose vision_tower is "" has no vision, its projector follows the audio
    # the towers exist only where their config sections are given (Gemma4Model: ``AutoModel.from_config(
    # config.vision_config) if config.vision_config is not None else None``, and the same for audio)
    optional_towers: bool = False
    # the audio tower's own projector into the text width, beside the vision one (Gemma 4's embed_audio)
    audio_projector: Callable[[HfConfig, int, TensorList, str, Mapping[str, Any]], None] | None = None


_LLAVA_CLIP = {"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336,
               "num_hidden_layers": 24, "num_attention_heads": 16}

COMPOSITES: dict[str, Composite] = {
    "gemma3": Composite("gemma3", "models/gemma3/modeling_gemma3.py", "gemma3_text",
                        "siglip_vision_model", gemma3_projector, extra_keys=("mm_tokens_per_image",),
                        describes=("Gemma3ForConditionalGeneration",)),
    # LlavaConfig: a Llama text model and, when vision_config is absent, CLIP ViT-L/14 at 336 px
    "llava": Composite("llava", "models/llava/modeling_llava.py", "llama", "clip_vision_model",
                       llava_projector, describes=("LlavaForConditionalGeneration",),
                       vision_defaults=_LLAVA_CLIP),
    "llava_next": Composite("llava_next", "models/llava_next/modeling_llava_next.py", "llama",
                            "clip_vision_model", llava_next_projector,
                            describes=("LlavaNextForConditionalGeneration",), vision_defaults=_LLAVA_CLIP),
    # PaliGemmaConfig: Gemma 2B text and SigLIP So400m-style vision without the pooling head
    # Qwen-VL: the checkpoints keep the pre-4.52 names (model.layers…, visual.…, lm_head) for Qwen2-VL and
    # Qwen2.5-VL; Qwen3-VL was published with model.language_model… and model.visual…
    "qwen2_vl": Composite("qwen2_vl", "models/qwen2_vl/modeling_qwen2_vl.py", "qwen2_vl_text",
                          "qwen2_vl_vision", no_projector, text_prefix="model.", head_prefix="",
                          vision_prefix="visual.",
                          describes=("Qwen2VLForConditionalGeneration",), text_inline=True, tie_either=True),
    "qwen2_5_vl": Composite("qwen2_5_vl", "models/qwen2_5_vl/modeling_qwen2_5_vl.py", "qwen2_5_vl_text",
                            "qwen2_5_vl_vision", no_projector, text_prefix="model.", head_prefix="",
                            vision_prefix="visual.", describes=("Qwen2_5_VLForConditionalGeneration",),
                            text_inline=True, tie_either=True),
    "qwen3_vl": Composite("qwen3_vl", "models/qwen3_vl/modeling_qwen3_vl.py", "qwen3_vl_text",
                          "qwen3_vl_vision", no_projector, text_prefix="model.language_model.",
                          head_prefix="", vision_prefix="model.visual.",
                          describes=("Qwen3VLForConditionalGeneration",), tie_default=False),
    "qwen3_vl_moe": Composite("qwen3_vl_moe", "models/qwen3_vl_moe/modeling_qwen3_vl_moe.py",
                              "qwen3_vl_moe_text", "qwen3_vl_moe_vision", no_projector,
                              text_prefix="model.language_model.",
                              head_prefix="", vision_prefix="model.visual.",
                              describes=("Qwen3VLMoeForConditionalGeneration",),
                              tie_default=False),
    # Mistral3Config: Mistral Small 3.1's text model and Pixtral vision when either is absent; tied head
    "mistral3": Composite("mistral3", "models/mistral3/modeling_mistral3.py", "mistral", "pixtral",
                          mistral3_projector, vision_prefix="vision_tower.", tie_default=True,
                          describes=("Mistral3ForConditionalGeneration",),
                          text_defaults={"head_dim": 128, "hidden_size": 5120, "intermediate_size": 32768,
                                         "max_position_embeddings": 131072, "num_attention_heads": 32,
                                         "num_hidden_layers": 40, "num_key_value_heads": 8,
                                         "sliding_window": None, "vocab_size": 131072},
                          vision_defaults={"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14,
                                           "image_size": 1540, "num_hidden_layers": 24,
                                           "num_attention_heads": 16, "head_dim": 64}),
    "llama4": Composite("llama4", "models/llama4/modeling_llama4.py", "llama4_text", "llama4_vision_model",
                        llama4_projector, vision_prefix="vision_model.", tie_default=False,
                        describes=("Llama4ForConditionalGeneration",)),
    # Idefics3 / SmolVLM: SigLIP without its head, a pixel-shuffle connector, a Llama text model
    "idefics3": Composite("idefics3", "models/idefics3/modeling_idefics3.py", "llama", "idefics3_vision",
                          idefics3_projector, text_prefix="model.text_model.", head_prefix="",
                          vision_prefix="model.vision_model.", projector_prefix="model.connector.",
                          describes=("Idefics3ForConditionalGeneration",), tie_default=False),
    "smolvlm": Composite("smolvlm", "models/smolvlm/modeling_smolvlm.py", "llama", "smolvlm_vision",
                         idefics3_projector, text_prefix="model.text_model.", head_prefix="",
                         vision_prefix="model.vision_model.", projector_prefix="model.connector.",
                         describes=("SmolVLMForConditionalGeneration",), tie_default=False),
    # Mllama (Llama 3.2 Vision): the published names (language_model.model…, vision_model.…)
    "mllama": Composite("mllama", "models/mllama/modeling_mllama.py", "mllama_text_model",
                        "mllama_vision_model", mllama_projector, vision_prefix="vision_model.",
                        projector_prefix="multi_modal_projector.",
                        describes=("MllamaForConditionalGeneration",), tie_default=False),
    # Qwen3.5: Qwen3-Next-style hybrid text (Gated DeltaNet + gated attention) and Qwen3-VL's vision
    "qwen3_5": Composite("qwen3_5", "models/qwen3_5/modeling_qwen3_5.py", "qwen3_5_text", "qwen3_5_vision",
                         no_projector, text_prefix="model.language_model.", head_prefix="",
                         vision_prefix="model.visual.", describes=("Qwen3_5ForConditionalGeneration",),
                         tie_default=False),
    "qwen3_5_moe": Composite("qwen3_5_moe", "models/qwen3_5_moe/modeling_qwen3_5_moe.py", "qwen3_5_moe_text",
                             "qwen3_5_moe_vision", no_projector, text_prefix="model.language_model.",
                             head_prefix="", vision_prefix="model.visual.",
                             describes=("Qwen3_5MoeForConditionalGeneration",), tie_default=False),
    # Gemma 3n: MobileNetV5 (timm) and USM audio towers, each with an embedder into the text width
    # (model.embed_vision / model.embed_audio: the projector prefix "model.embed_" covers both)
    "gemma3n": Composite("gemma3n", "models/gemma3n/modeling_gemma3n.py", "gemma3n_text", "gemma3n_vision",
                         gemma3n_projector, text_prefix="model.language_model.", head_prefix="",
                         vision_prefix="model.vision_tower.timm_model.", projector_prefix="model.embed_",
                         extra_keys=("vision_soft_tokens_per_image", "audio_soft_tokens_per_image"),
                         describes=("Gemma3nForConditionalGeneration",),
                         audio=Tower(AUDIO_DEFAULTS, gemma3n_audio_tower), audio_prefix="model.audio_tower."),
    # AyaVisionConfig: SigLIP (So400m-like, no head) vision and a Cohere2 text model; tied head
    "aya_vision": Composite("aya_vision", "models/aya_vision/modeling_aya_vision.py", "cohere2",
                            "siglip_vision_model", aya_vision_projector, tie_default=True,
                            describes=("AyaVisionForConditionalGeneration",),
                            vision_defaults={"hidden_size": 1152, "intermediate_size": 4304, "patch_size": 14,
                                             "image_size": 384, "num_hidden_layers": 26,
                                             "num_attention_heads": 14, "vision_use_head": False}),
    # Glm4vConfig (GLM-4.1V): GLM-4's sandwich-norm text model and its own vision tower with a merger;
    # names as transformers 5 saves them (model.language_model…, model.visual…, lm_head)
    "glm4v": Composite("glm4v", "models/glm4v/modeling_glm4v.py", "glm4v_text", "glm4v_vision", no_projector,
                       text_prefix="model.language_model.", head_prefix="", vision_prefix="model.visual.",
                       describes=("Glm4vForConditionalGeneration",), tie_default=False, tie_either=True),
    # InternVLConfig: InternViT and a Qwen2 text model (InternVL3-*-hf); tied unless it says otherwise
    "internvl": Composite("internvl", "models/internvl/modeling_internvl.py", "qwen2", "internvl_vision",
                          internvl_projector, vision_prefix="vision_tower.vision_model.", tie_default=True,
                          describes=("InternVLForConditionalGeneration",)),
    # Granite Speech: a Conformer CTC encoder, a windowed Q-Former projector and a Granite text model,
    # stored as encoder.*, projector.*, language_model.model.* (granite_speech.py); no vision
    **{mt: Composite(mt, f"models/{mt}/modeling_{mt}.py", "granite", "", granite_speech_projector,
                     projector_prefix="projector.", describes=(cls,), tie_default=True, tie_either=True,
                     audio=Tower(ENCODER_DEFAULTS, granite_speech_encoder), audio_prefix="encoder.",
                     audio_section="encoder_config")
       for mt, cls in (("granite_speech", "GraniteSpeechForConditionalGeneration"),
                       ("granite_speech_plus", "GraniteSpeechPlusForConditionalGeneration"))},
    # AriaConfig: Idefics3's SigLIP tower (no head) straight under vision_tower., a cross-attention
    # projector and Aria's MoE text model; names as the llava conversion saves them (language_model.…)
    "aria": Composite("aria", "models/aria/modeling_aria.py", "aria_text", "idefics3_vision", aria_projector,
                      vision_prefix="vision_tower.", tie_default=False,
                      extra_keys=("projector_patch_to_query_dict",),
                      describes=("AriaForConditionalGeneration",)),
    # Gemma4Config: the Gemma 4 text model and, where their sections are given, Gemma 4's vision and USM
    # audio towers, each with its embedder (model.embed_vision / model.embed_audio); tied head
    "gemma4": Composite("gemma4", "models/gemma4/modeling_gemma4.py", "gemma4_text", "gemma4_vision",
                        gemma4_vision_embedder, text_prefix="model.language_model.", head_prefix="",
                        vision_prefix="model.vision_tower.", projector_prefix="model.embed_",
                        extra_keys=("vision_soft_tokens_per_image",), tie_default=True,
                        describes=("Gemma4ForConditionalGeneration",),
                        audio=Tower(GEMMA4_AUDIO, gemma4_audio_tower), audio_prefix="model.audio_tower.",
                        optional_towers=True, audio_projector=gemma4_audio_embedder),
    # Gemma4UnifiedConfig (Gemma 4 12B): the unified text model and, where their sections are given, the
    # encoder-free vision and audio embedders (model.embed_vision / model.embed_audio); tied head
    "gemma4_unified": Composite("gemma4_unified", "models/gemma4_unified/modeling_gemma4_unified.py",
                                "gemma4_unified_text", "gemma4_unified_vision",
                                gemma4_unified_vision_embedder, text_prefix="model.language_model.",
                                head_prefix="", vision_prefix="", projector_prefix="model.embed_",
                                tie_default=True, describes=("Gemma4UnifiedForConditionalGeneration",),
                                audio=Tower(UNIFIED_AUDIO_DEFAULTS, no_encoder), optional_towers=True,
                                audio_projector=gemma4_unified_audio_embedder),
    "paligemma": Composite("paligemma", "models/paligemma/modeling_paligemma.py", "gemma",
                           "siglip_vision_model", paligemma_projector,
                           describes=("PaliGemmaForConditionalGeneration",),
                           text_defaults={"hidden_size": 2048, "num_hidden_layers": 18,
                                          "intermediate_size": 16384, "num_attention_heads": 8,
                                          "num_key_value_heads": 1, "vocab_size": 257152},
                           vision_defaults={"intermediate_size": 4096, "hidden_size": 1152, "patch_size": 14,
                                            "image_size": 224, "num_hidden_layers": 27,
                                            "num_attention_heads": 16, "projection_dim": 2048,
                                            "vision_use_head": False}),
}
