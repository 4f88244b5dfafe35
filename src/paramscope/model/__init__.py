"""The neutral description of a model that every reader produces and every analysis reads.

Readers fill these frozen dataclasses; totals are derived here, never passed in. Shapes are in
row-major (PyTorch) order everywhere: the GGUF reader reverses ggml's ``ne`` so that a Gemma 3
embedding is (262144, 640) whichever file it came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from paramscope.model.dtypes import DType
from paramscope.model.quantization import Quantization
from paramscope.records import field, record

__all__ = ["ArchConfig", "DType", "Model", "Quantization", "Tensor"]


@record
class Tensor:
    """One stored tensor: name, shape, dtype and bytes as the file holds it."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    nbytes: int
    offset: int | None = None  # absolute byte offset of the data in ``file``; None without weights
    file: str | None = None  # file (shard) holding the data
    # Packed formats store weights narrower than their elements: GPTQ/AWQ 8 four-bit weights per int32,
    # bitsandbytes nf4 / MXFP4 blocks 2 per byte, and MLX or GPTQ 3-, 5- and 6-bit weights 32 to every
    # 3, 5 or 6 uint32 words, straddling them. The width of one weight, 0 when an element is one
    # parameter; params = elements × element bits / weight_bits (a whole number: ``packing`` and
    # ``quant_layouts`` only set it where the elements hold whole weights).
    weight_bits: int = 0
    # Buffers and quantization side data (position_ids, attention masks, GPTQ scales/zeros, FP8
    # block scales) are stored tensors but not parameters.
    is_parameter: bool = True

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def params(self) -> int:
        """Logical parameter count: the weights this tensor represents, 0 for non-parameters."""
        if not self.is_parameter:
            return 0
        if not self.weight_bits:
            return self.n_elements
        return self.n_elements * self.dtype.type_size * 8 // self.weight_bits  # containers: one per block


# ArchConfig.extra keys that the family table (knowledge/) writes and the cache analyses read
# the layer kinds of a KV-sharing model (Gemma 3n, Gemma 4) before its sharing layers became "none": what an
# engine that gives every layer a cache slot of its own sizes (SGLang's pool for Gemma 4)
UNSHARED_LAYER_TYPES = "unshared_layer_types"
# transformers' names of layer kinds paramscope cannot price (a model counted by the fallback)
UNPRICED_LAYER_TYPES = "unpriced_layer_types"
# llama.cpp builds from PR #12801 (April 2025) to PR #19067 (January 2026) keep a V cache of kv_lora_rank
# values beside an MLA model's latent (runtimes/llamacpp/kv.py with_mla_v_cache)
MLA_V_CACHE = "mla_v_cache"


@record
class ArchConfig:
    """Architecture hyperparameters, whatever file they came from.

    Head dims of keys and values are separate fields (never derived as hidden/heads: Gemma 3 270M has
    hidden 640, 4 heads, head dim 256). ``layer_types`` names each layer's attention kind:
    "full", "sliding", "linear" (linear attention / SSM state) or "none".
    """

    family: str
    architecture: str
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim_k: int
    head_dim_v: int
    ffn_size: int
    vocab_size: int
    context_length: int
    tied_embeddings: bool = False
    n_experts: int = 0
    n_experts_per_token: int = 0
    n_shared_experts: int = 0
    n_dense_layers: int = 0  # leading layers with a dense FFN in an MoE model
    expert_ffn_size: int = 0
    kv_lora_rank: int = 0  # MLA: compressed KV width
    q_lora_rank: int = 0
    rope_head_dim: int = 0  # MLA: decoupled RoPE key width
    sliding_window: int = 0
    layer_types: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Recurrent (SSM / linear-attention) state, per recurrent layer per sequence, in values: the conv
    # state ((d_conv − 1) × conv channels) and the SSM / delta-rule state (heads × head dim × d_state).
    # recurrent_layers counts the layers that keep it: the "linear" ones, and in a parallel hybrid
    # (Falcon-H1) layers that attend as well.
    recurrent_layers: int = 0
    conv_state_size: int = 0
    ssm_state_size: int = 0
    # the groups a recurrent state splits by over tensor-parallel ranks: Mamba-2's B/C groups, Gated
    # DeltaNet's key heads (0: Mamba-1, split by channel)
    state_groups: int = 0
    # Encoder-decoder models (T5, BART, Whisper): n_layers, heads and widths above are the encoder's
    # (what the config's own num_layers / encoder_layers say); ``decoder_layers`` > 0 marks one and
    # counts the decoder layers, the only ones that cache anything: their self-attention K/V per
    # generated token, and (transformers) the cross-attention K/V of every encoder position.
    # ``encoder_length``: how many positions the encoder output has when the model fixes it (Whisper's
    # max_source_positions, 1500 frames for 30 s of audio); 0 = as many as the prompt (T5, BART).
    decoder_layers: int = 0
    encoder_length: int = 0
    encoder_hidden_size: int = 0  # width of the encoder output when it differs from hidden_size (T5Gemma)

    @property
    def is_encoder_decoder(self) -> bool:
        return self.decoder_layers > 0

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0


@record
class Model:
    """What a reader makes of a source: tensors, architecture, metadata and quantization."""

    format: str  # reader name: "gguf", "safetensors", "hf-dir", "config", "catalogue"
    source: str  # what the user named
    tensors: tuple[Tensor, ...]
    config: ArchConfig | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    tokenizer_files: tuple[str, ...] = ()  # tokenizer.json etc. found beside the weights
    has_weights: bool = True  # False when the tensor list was built from a config alone
    quantization: Quantization | None = None  # how the weights are quantized; None: plain dtypes

    @property
    def config_json(self) -> dict | None:
        """config.json as the reader found it, None without one (a GGUF, a bare weights file): the keys
        an engine reads that the neutral ``config`` does not keep (a vision tower's, the MTP layers')."""
        raw = self.metadata.get("config") if self.metadata else None
        return raw if isinstance(raw, dict) else None

    # summed in C (map, attrgetter): `fit` reads these a dozen times, DeepSeek-V3 has 90k tensors
    @property
    def tensor_bytes(self) -> int:
        return sum(map(_NBYTES, self.tensors))

    @property
    def params(self) -> int:
        return sum(map(_PARAMS, self.tensors))


_NBYTES = attrgetter("nbytes")
_PARAMS = attrgetter("params")
