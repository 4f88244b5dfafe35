"""Multimodal wrappers: a text family + a vision tower + a projector, one row per wrapper.

The published Gemma 3 checkpoints (google/gemma-3-4b/12b/27b) keep the pre-4.52 names:
``language_model.model.…`` for the text decoder, ``vision_tower.vision_model.…`` for SigLIP and
``multi_modal_projector.…``; transformers still loads them under those names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paramscope.knowledge.families.hfconfig import MAX_LAYERS, HfConfig
from paramscope.knowledge.families.tensors import TensorList

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


def llava_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str) -> None:
    """LlavaMultiModalProjector: linear_1 (vision → text), GELU, linear_2 (text → text), with biases
    unless multimodal_projector_bias is false."""
    vh = v.int("hidden_size", minimum=1)
    t.linear(p + "linear_1", text_hidden, vh, bias=True)
    t.linear(p + "linear_2", text_hidden, text_hidden, bias=True)


def llava_next_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str) -> None:
    """LLaVA-NeXT: LLaVA's projector and a learned image_newline vector (text width)."""
    llava_projector(v, text_hidden, t, p)
    t.add("image_newline", text_hidden)


def paligemma_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str) -> None:
    """PaliGemmaMultiModalProjector: one biased linear, vision hidden → vision_config.projection_dim."""
    t.linear(p + "linear", v.int("projection_dim", text_hidden, minimum=1), v.int("hidden_size", minimum=1),
             bias=True)


def gemma3_projector(v: HfConfig, text_hidden: int, t: TensorList, p: str) -> None:
    """Gemma3MultiModalProjector: RMSNorm over vision features, then a bare (vision, text) matrix
    used as ``x @ W`` — so its shape is (in, out), not nn.Linear's (out, in). 27B: 1152 × 5376 + 1152."""
    vh = v.int("hidden_size", minimum=1)
    t.add(p + "mm_input_projection_weight", vh, text_hidden)
    t.norm(p + "mm_soft_emb_norm", vh)


VISION_TOWERS: dict[str, tuple[Mapping[str, Any], Callable[[HfConfig, TensorList, str], None]]] = {
    "siglip_vision_model": (SIGLIP_DEFAULTS, siglip_tower),
    "clip_vision_model": (CLIP_DEFAULTS, clip_tower),
}


@dataclass(frozen=True, slots=True)
class Composite:
    model_type: str
    source: str
    text_family: str  # model_type of text_config when it names none
    vision_tower: str  # key of VISION_TOWERS when vision_config names none
    projector: Callable[[HfConfig, int, TensorList, str], None]
    text_prefix: str = "language_model.model."
    head_prefix: str = "language_model."
    vision_prefix: str = "vision_tower.vision_model."
    projector_prefix: str = "multi_modal_projector."
    extra_keys: tuple[str, ...] = ()  # wrapper fields worth keeping in ArchConfig.extra
    describes: tuple[str, ...] = ()  # the transformers class a config without architectures is
    text_defaults: Mapping[str, Any] = field(default_factory=dict)  # the wrapper's own text_config defaults
    vision_defaults: Mapping[str, Any] = field(default_factory=dict)  # …and vision_config defaults


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
