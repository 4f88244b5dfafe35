"""What vLLM's ``load_model`` puts on each GPU: the weights' shard (tensors every rank holds whole, experts
split unevenly, MLA's down-projections, the caching allocator's tails), the RoPE caches, the buffers a
model class allocates as it is built, and the per-rank config the layers are built from.
"""

from __future__ import annotations

import re

from paramscope.analyses.sizing.kv_cache import (
    KV_HEADS_PER_LAYER,
    head_dims_per_layer,
    layer_kinds,
)
from paramscope.analyses.sizing.loaded import unbuilt_vision
from paramscope.analyses.sizing.request import model_dtype
from paramscope.analyses.sizing.runtimes.allocator import (
    loaded_as_stored,
    rank_weights,
    reserved_holes,
    weight_tails,
)
from paramscope.analyses.sizing.runtimes.common import (
    per_layer_heads,
    tensor_parallel_problem,
)
from paramscope.analyses.sizing.runtimes.vllm.engine import V0_FAMILIES, VllmParams, cdiv, rope_settings
from paramscope.analyses.sizing.runtimes.weight_offload import CpuOffload
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.records import replace

MiB, GiB = 1 << 20, 1 << 30
F32, I64 = 4, 8

# vLLM before MLA support (v0.7.1, February 2025) ran DeepSeek-V2/V3 attention as plain multi-head attention
# (model_executor/models/deepseek_v2.py DeepseekV2Attention: "# TODO, support head_size 192", then
# Attention(num_local_heads, 256, ..., num_kv_heads=num_local_heads) with q, k (128 + 64 values) and v (128)
# padded to 256 per head; SGLang's deepseek_v2.py keeps the same code for its non-MLA path). PR #10927's
# "Before" run, DeepSeek-V2-Lite on an H100: 442,368 B a token = 27 layers x 2 x 16 heads x 256 x 2 B
PRE_MLA_HEAD_DIM = 256


# V0's CacheEngine pads an MLA cache entry to a multiple of 256 bytes on CUDA (vllm/worker/cache_engine.py
# _align_cache, VLLM_CUDA_MEM_ALIGN_KV_CACHE on by default; PR #12676, in 0.7.2): "640 elements per cache
# entry instead of 576 (1280 bytes instead of 1152)". PR #13109's DeepSeek-Coder-V2-Lite log: 59.75 GiB /
# (116,023 blocks × 16) = 34,560 B a token = 27 layers × 1280 B. V1's MLA backends keep 576, and so does
# V0 from 0.8.0, whose cache_engine.py has no _align_cache (read in the 0.7.3, 0.8.0 and 0.8.3 wheels; a
# DeepSeek-V2.5 log of 0.8.3, a pipeline stage of 30 layers: 7,767 CPU blocks of 4 GiB = 552,960 B a block
# = 30 layers × 16 × 576 × 2 B)
V0_MLA_ENTRY_ALIGN = 256
V0_MLA_ALIGN_RELEASES = ((0, 7, 2), (0, 8, 0))  # first, and first without


def v0_mla_aligned(cfg: ArchConfig, kv_type: DType) -> ArchConfig:
    """An MLA model's cache as V0 lays it out: the latent and rope part padded to 256 bytes a token."""
    width = cfg.kv_lora_rank + cfg.rope_head_dim
    size = kv_type.type_size  # one byte or two: the cache types are not block-quantized
    padded = cdiv(width * size, V0_MLA_ENTRY_ALIGN) * V0_MLA_ENTRY_ALIGN // size
    return replace(cfg, kv_lora_rank=cfg.kv_lora_rank + padded - width)


# 0.7.0 (and 0.7.1-0.7.2 where MLA is off for a quantized checkpoint) gave Attention the query's head size,
# qk_nope + qk_rope (192 for DeepSeek-V2), V padded to it (deepseek_v2.py of the 0.7.0 wheel: Attention(...,
# self.qk_head_dim, ...)); 0.6.x still padded both to 256 ("# TODO, support head_size 192")
QK_HEAD_RELEASE = (0, 7, 0)


def pre_mla_attention(cfg: ArchConfig, release: tuple[int, int, int] = QK_HEAD_RELEASE) -> ArchConfig:
    """An MLA model's attention as a vLLM without MLA cached it: every head's K and V, padded to 256
    before 0.7.0 and to the query's head size from it."""
    head = PRE_MLA_HEAD_DIM if release < QK_HEAD_RELEASE else cfg.head_dim_k
    return replace(cfg, kv_lora_rank=0, n_kv_heads=cfg.n_heads, head_dim_k=head, head_dim_v=head)
# The RoPE cos/sin cache's dtype where a model asks for one (get_rope(..., dtype=...)), else the model
# dtype: gpt_oss.py OAIAttention builds its YaRN rotary embedding with dtype=torch.float32
# (131072 positions × 64 × 4 B = 32 MiB).
ROPE_CACHE_DTYPE = {"GptOssForCausalLM": DType.F32}


def kv_heads_per_rank(cfg: ArchConfig, tp: int, engine: str = "vLLM") -> int:
    """KV heads one GPU holds: split across ranks, or replicated when there are fewer than ranks.

    vllm/config/model.py verify_with_parallel_config: heads % tp == 0; models/llama.py LlamaAttention:
    kv_heads % tp == 0 when kv_heads ≥ tp, else tp % kv_heads == 0 and each rank keeps one head; in a
    model whose layers differ, every layer's (``tensor_parallel_problem``).
    """
    problem = tensor_parallel_problem(cfg, tp)
    if problem:
        raise UnsupportedError(f"{engine}: {problem} cannot be split over tensor_parallel {tp}")
    return max(1, cfg.n_kv_heads // tp)


def rank_config(cfg: ArchConfig, tp: int, engine: str = "vLLM") -> ArchConfig:
    """The model as one rank's cache sees it. MLA caches one latent per token on every rank; linear /
    SSM states are split over the ranks (``hybrid_state_bytes``); a per-layer KV head list is split
    layer by layer (each layer's attention keeps ``max(1, heads // tp)``, none where it has none)."""
    heads = kv_heads_per_rank(cfg, tp, engine)
    states = {"conv_state_size": cfg.conv_state_size // tp, "ssm_state_size": cfg.ssm_state_size // tp}
    if cfg.is_mla:
        return replace(cfg, **states)
    per_layer = per_layer_heads(cfg, KV_HEADS_PER_LAYER)
    if per_layer:
        ranked = tuple(max(1, h // tp) if h else 0 for h in per_layer)
        return replace(cfg, n_kv_heads=heads, extra={**cfg.extra, KV_HEADS_PER_LAYER: ranked}, **states)
    return replace(cfg, n_kv_heads=heads, **states)


# How vLLM's model code lays out the KV heads of a model whose layers differ, by family (model_type):
# - "deci" (Deci/DeciLM-7B): vllm/model_executor/models/decilm.py (vllm-project/vllm at fc5726d3)
#   DeciLMForCausalLM.__init__ sets ``config.num_key_value_heads = max(config.num_key_value_heads_per_layer)``
#   ("PagedAttention does not work well with variable GQA, so we normalize the weights upon loading, and
#   use uniform GQA with the max value instead"): every layer caches the widest layer's heads.
# - "nemotron-nas": models/nemotron_nas.py DeciLMDecoderLayer builds attention for each block that is not
#   ``no_op`` with ``num_attention_heads // n_heads_in_group`` KV heads; a block replaced by a linear layer
#   has ``n_heads_in_group`` null, which that code cannot divide by: vLLM does not load such a model.
#   The V1 engine asks each attention layer for its own spec (FullAttentionSpec with its num_kv_heads);
#   the V0 engine's CacheEngine holds ``ModelConfig.get_total_num_kv_heads()`` in every attending layer
#   (config.py: for nemotron-nas, the first block that is not no_op's heads; get_num_layers_by_block_type
#   counts the blocks that are not no_op).
# (model_type, architecture) pairs: a GGUF's "deci" architecture (Nemotron-NAS converted) is not DeciLM-7B
VLLM_WIDEST_EVERYWHERE = frozenset({("deci", "DeciLMForCausalLM")})
VLLM_NO_LINEAR_ATTENTION = frozenset({"nemotron-nas"})
V0_FIRST_ATTENTION_HEADS = frozenset({"nemotron-nas"})


def vllm_layout_config(cfg: ArchConfig, engine: str) -> ArchConfig:
    """The model as vLLM's model code caches it (VLLM_WIDEST_EVERYWHERE and the notes above it)."""
    per_layer = per_layer_heads(cfg, KV_HEADS_PER_LAYER)
    if cfg.family in VLLM_NO_LINEAR_ATTENTION:
        linear = (cfg.extra.get("heterogeneous") or {}).get("linear_attention_layers", 0)
        if linear:
            raise UnsupportedError(f"vLLM: {cfg.architecture} has {linear} attention blocks replaced by a "
                                   f"linear layer, which vLLM's nemotron_nas.py cannot build "
                                   f"(n_heads_in_group is null)")
    if not per_layer:
        return cfg
    extra = {k: v for k, v in cfg.extra.items() if k != KV_HEADS_PER_LAYER}
    if (cfg.family, cfg.architecture) in VLLM_WIDEST_EVERYWHERE:
        return replace(cfg, n_kv_heads=max(per_layer), extra=extra)
    if engine in V0_FAMILIES and cfg.family in V0_FIRST_ATTENTION_HEADS:
        first = next(h for h in per_layer if h)
        return replace(cfg, n_kv_heads=first, extra=extra)
    if engine in V0_FAMILIES and len(set(per_layer) - {0}) > 1:
        raise UnsupportedError(f"vLLM V0: its CacheEngine holds one KV head count in every layer, and "
                               f"which one {cfg.architecture}'s config gives it is not known here")
    return cfg


def rope_cache_bytes(cfg: ArchConfig, dtype: DType) -> int:
    """model_executor/layers/rotary_embedding: a cos_sin_cache of positions × rotary_dim, model dtype,
    for each distinct RoPE config (get_rope keeps one instance per (head size, rotary dim, max position,
    base, scaling): layers share it). Llama 3.1 8B: 131072 × 128 × 2 B = 32 MiB, which is why vLLM reports
    14.9888 GiB of weights for its 14.9576 GiB of tensors. GLM-4-32B-0414 (partial rotary factor 0.5):
    32768 × 64 × 2 B = 4 MiB. Gemma 3 27B: its global layers' cache is linear-scaled × 8 (131072 × 8
    positions) and its sliding layers have their own (rope_local_base_freq): 256 + 32 MiB (``rope_caches``).
    """
    size = ROPE_CACHE_DTYPE.get(cfg.architecture, dtype).type_size
    return sum(positions * rotary_dim * size for positions, rotary_dim in rope_shapes(cfg))


def rope_shapes(cfg: ArchConfig) -> list[tuple[int, int]]:
    """Each RoPE cache's (positions, rotary dim) (``rope_caches``; ``rope_cache_bytes``); a config whose
    RoPE is given per layer type, each type's own (``per_type_rope_shapes``)."""
    by_type = per_type_rope_shapes(cfg)
    if by_type is not None:
        return by_type
    # get_rope narrows rotary_dim to int(head_size × partial_rotary_factor) (GLM-4 0.5, Phi-2 0.4,
    # StableLM 0.25): the cache holds only the rotated part of each head
    factor = cfg.extra.get("partial_rotary_factor", (rope_settings(cfg) or {}).get("partial_rotary_factor"))
    rotary_dim = cfg.rope_head_dim if cfg.is_mla else _rotary_dim({"partial_rotary_factor": factor},
                                                                    cfg.head_dim_k)
    return [(positions, rotary_dim) for positions, _ in rope_caches(cfg)]


MROPE_CACHE_FACTOR = 4


def rope_positions(cfg: ArchConfig, scaling: object) -> int:
    """The rows of one cache, as each rotary class sizes it (rotary_embedding get_rope): linear and
    dynamic-NTK scaling max_position × factor; YaRN (and DeepSeek's) original_max_position × factor;
    LongRoPE (Phi-3 "su"/"longrope") a short cache of original_max_position and a long one of max_position,
    concatenated; the rest (none, llama3, mrope) max_position."""
    positions = cfg.context_length
    if not isinstance(scaling, dict):
        return positions
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = scaling.get("factor")
    original = scaling.get("original_max_position_embeddings", positions)
    if not isinstance(original, int):
        original = positions
    if kind in ("linear", "dynamic") and isinstance(factor, int | float) and factor > 1:
        return int(positions * factor)
    if kind in ("yarn", "deepseek_yarn") and isinstance(factor, int | float) and factor > 1:
        return int(original * factor)
    if kind in ("su", "longrope"):
        return original + positions
    if "mrope_section" in scaling:
        # MRotaryEmbedding (rotary_embedding/mrope.py): cache_max_position_num = max_position × 4, "In
        # Qwen2.5-VL, the maximum index value is related to the duration of the input video"
        return positions * MROPE_CACHE_FACTOR
    return positions


# transformers 5 writes the RoPE of a model whose layer types rotate differently as one rope_parameters
# entry per layer type (Gemma 3, Gemma 3n, Gemma 4, ModernBERT: {"full_attention": {...},
# "sliding_attention": {...}}; rnj1's "chunked_attention"), and vLLM's model code builds each layer's rotary
# embedding from its type's entry (models/gemma3.py, gemma4.py, modernbert.py: ``if layer_type in
# config.rope_parameters``), with the layer's own head size (Gemma 4's full layers: global_head_dim 512).
# get_rope keeps one cache per distinct setting. paramscope's layer kinds and the entries they read:
ROPE_LAYER_TYPES = {"full": ("full_attention",), "sliding": ("sliding_attention", "chunked_attention")}
# Gemma 4's "proportional" RoPE (rotary_embedding/gemma4_rope.py Gemma4RotaryEmbedding) rotates only
# partial_rotary_factor of each head but builds its cache over the whole head ("rotary_dim = head_size
# (full application)", the other angles zero-padded): 131072 × 512 × 2 B = 128 MiB on Gemma 4 E2B
WHOLE_HEAD_ROPE_TYPES = frozenset({"proportional"})
_PER_TYPE_KEYS = frozenset(k for keys in ROPE_LAYER_TYPES.values() for k in keys)


def per_type_rope_shapes(cfg: ArchConfig) -> list[tuple[int, int]] | None:
    """The (positions, rotary dim) of each distinct cache of a config whose rope_parameters are keyed by
    layer type (ROPE_LAYER_TYPES), each at the head size of its layers; a model whose layers' kinds are not
    known here (an encoder's) gets one cache per entry at head_dim. None for any other config."""
    rope = cfg.extra.get("rope_parameters")
    if not isinstance(rope, dict) or not any(isinstance(v, dict) for k, v in rope.items()
                                             if k in _PER_TYPE_KEYS):
        return None
    types = cfg.layer_types or ("full",) * cfg.n_layers
    widths = head_dims_per_layer(cfg)
    entries = [(rope[key], widths[types.index(kind)] if widths is not None else cfg.head_dim_k)
               for kind, keys in ROPE_LAYER_TYPES.items() if kind in types
               for key in keys if isinstance(rope.get(key), dict)]
    if not entries:  # no layer of a kind named here (an encoder's are "none"): every entry, at head_dim
        entries = [(params, cfg.head_dim_k) for k, params in rope.items()
                   if k in _PER_TYPE_KEYS and isinstance(params, dict)]
    # get_rope's key holds the head size too: two types alike but for it keep two caches
    caches: dict[tuple[int, int, int, str], None] = {}
    for params, head in entries:
        caches[(rope_positions(cfg, params), _rotary_dim(params, head), head,
                repr(sorted(params.items())))] = None
    return [(positions, rotary_dim) for positions, rotary_dim, _, _ in caches]


def _rotary_dim(params: dict, head: int) -> int:
    """The cache's width: the whole head for WHOLE_HEAD_ROPE_TYPES, else get_rope's rotary_dim, rope_dim
    where given, else head × partial_rotary_factor (rotary_embedding/__init__.py get_rope)."""
    if params.get("rope_type") in WHOLE_HEAD_ROPE_TYPES:
        return head
    if isinstance(params.get("rope_dim"), int) and params["rope_dim"] > 0:
        return int(params["rope_dim"])
    factor = params.get("partial_rotary_factor")
    return int(head * factor) if isinstance(factor, int | float) and 0 < factor < 1 else head


def rope_caches(cfg: ArchConfig) -> tuple[tuple[int, object], ...]:
    """The distinct caches (positions, base): the model's, and for models whose sliding-window layers
    rotate with their own unscaled base (Gemma 3's rope_local_base_freq) theirs."""
    caches = [(rope_positions(cfg, rope_settings(cfg)), cfg.extra.get("rope_theta"))]
    local = cfg.extra.get("rope_local_base_freq")
    if local is not None and "sliding" in layer_kinds(cfg):
        caches.append((cfg.context_length, local))
    return tuple(dict.fromkeys(caches))


def weights_per_gpu(cfg: ArchConfig, weights_bytes: int, p: VllmParams) -> int:
    """The weights split evenly over the ranks, except the MoE routers, which every rank holds whole
    (``replicated_bytes``), plus the RoPE cache and the caching allocator's unsplit segment tails that
    "Model loading took" counts (``allocator_tails``). Norms and the biases of row-parallel layers are
    replicated too; their few MiB are ignored."""
    shared = replicated_bytes(cfg, p) + (p.drafter_replicated if p.tensor_parallel > 1 else 0)
    return (cdiv(weights_bytes - shared, p.tensor_parallel) + shared + rope_cache_bytes(cfg, p.dtype)
            + allocator_tails(cfg, p) + uneven_experts_bytes(cfg, weights_bytes - shared, p)
            + mla_absorbed_bytes(cfg, p) + per_layer_input_buffer_bytes(cfg, p))


# The multimodal wrappers of Gemma 3n and Gemma 4 pre-allocate, as they are built, the per-layer inputs of
# a whole batch "for CUDA graph compatibility" (models/gemma3n_mm.py and gemma4_mm.py __init__:
# ``self.per_layer_embeddings = torch.zeros(max_num_batched_tokens, num_hidden_layers,
# hidden_size_per_layer_input)``, the model dtype), so "Model loading took" counts it on every rank. The
# text classes (Gemma3nForCausalLM, Gemma4ForCausalLM: a text-only checkpoint) allocate none unless
# kv_sharing_fast_prefill is on. Gemma 4 E2B at 16,384 batched tokens: 16384 × 35 × 256 × 2 B = 0.27 GiB.
PER_LAYER_INPUT_BUFFER = frozenset({"Gemma3nForConditionalGeneration", "Gemma4ForConditionalGeneration"})


def per_layer_input_buffer_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """The per-layer input buffer a Gemma 3n or Gemma 4 multimodal model allocates at load
    (``PER_LAYER_INPUT_BUFFER``); 0 for every other class."""
    if cfg.architecture not in PER_LAYER_INPUT_BUFFER:
        return 0
    width = int(cfg.extra.get("hidden_size_per_layer_input") or 0)
    # every pipeline stage builds the wrapper, which sizes the buffer by the whole model's layers
    layers = int(cfg.extra.get("model_layers", cfg.n_layers))
    return p.max_num_batched_tokens * layers * width * p.dtype.type_size


# vLLM 0.7.1 to 0.7.3, V0 with MLA: MLACommonImpl.process_weights_after_loading (attention/backends/mla/
# utils.py; VLLM_MLA_PERFORM_MATRIX_ABSORPTION, on by default; PRs #12528 and #12601, removed by PR #14770
# in 0.8.0) keeps, beside q_proj (or q_b_proj), kv_b_proj and o_proj, which prefill still calls, per layer
# and rank (n heads of the rank, Lq = q_lora_rank or hidden, L = kv_lora_rank, R the RoPE width, P the
# no-RoPE key width): W_QR (Lq × n·R, 16-bit), W_Q_UK (Lq × n·L) and W_UV_O (n·L × hidden), and for a
# quantized checkpoint the dequantized kv_b_proj (L × n·(P + V)) that W_UK and W_UV view. The loader's
# "model weights take" counts them. Bytes a value (W_Q_UK and W_UV_O, the kv_b_proj copy) by checkpoint:
MLA_ABSORPTION: dict[str, tuple[int | None, int]] = {
    "16-bit": (None, 0),  # the model dtype; W_UK and W_UV are views of kv_b_proj's own weight
    "fp8": (1, 2),  # 0.7.3: requantized to fp8 (VLLM_MLA_DISABLE_REQUANTIZATION unset), kv_b_proj in bf16
    "fp8-0.7.2": (1, 4),  # 0.7.1 and 0.7.2: kv_b_proj dequantized by scaled_dequantize, float32
    "int": (2, 2),  # AWQ / GPTQ (0.7.3, PR #13181): dequantized through quant_method.apply on an identity
}


def mla_absorbed_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """One rank's absorbed MLA matrices of V0 0.7.1 to 0.7.3 (MLA_ABSORPTION): DeepSeek-Coder-V2-Lite's AWQ
    checkpoint 27 × 37,748,736 values × 2 B = 1.90 GiB; DeepSeek-R1's FP8 one at TP 8 on 0.7.3, 4.47 GiB."""
    if p.mla_absorption is None or not cfg.is_mla:
        return 0
    absorbed, kv_b = MLA_ABSORPTION[p.mla_absorption]
    b = p.dtype.type_size if absorbed is None else absorbed
    n, lq, latent = cfg.n_heads // p.tensor_parallel, cfg.q_lora_rank or cfg.hidden_size, cfg.kv_lora_rank
    rope = cfg.rope_head_dim
    per_layer = (2 * lq * n * rope + b * n * latent * (lq + cfg.hidden_size)
                 + kv_b * latent * n * (cfg.head_dim_k - rope + cfg.head_dim_v))
    return cfg.n_layers * per_layer


# --enable-expert-parallel (model_executor/layers/fused_moe/layer.py determine_expert_map): each of the
# tensor-parallel × data-parallel ranks holds whole experts, E // ranks of them and one more on the first
# E % ranks ranks; the rest of the model stays split by tensor parallelism. The worst rank's weights are
# what the even split gives plus its extra experts' share.
def uneven_experts_bytes(cfg: ArchConfig, split_bytes: int, p: VllmParams) -> int:
    """With expert parallelism, the bytes the first rank holds beyond an even split when the experts do
    not divide over the ranks: its one extra expert less its share, estimated from the experts' share
    of the parameters (``expert_fraction``)."""
    ranks = p.tensor_parallel
    if not p.expert_parallel or not cfg.is_moe or cfg.n_experts % ranks == 0:
        return 0
    per_expert = split_bytes * expert_fraction(cfg) / cfg.n_experts
    return int(per_expert * (cdiv(cfg.n_experts, ranks) - cfg.n_experts / ranks))


def expert_fraction(cfg: ArchConfig) -> float:
    """The routed experts' share of a model's parameters, from its shapes: 3 × hidden × expert ffn per
    expert per MoE layer, against the attention, dense MLP and embedding matrices."""
    h, moe_layers = cfg.hidden_size, cfg.n_layers - cfg.n_dense_layers
    experts = moe_layers * cfg.n_experts * 3 * h * (cfg.expert_ffn_size or cfg.ffn_size)
    attention = cfg.n_layers * h * (cfg.n_heads + cfg.n_kv_heads) * (cfg.head_dim_k + cfg.head_dim_v)
    dense = cfg.n_dense_layers * 3 * h * cfg.ffn_size
    embeddings = (1 if cfg.tied_embeddings else 2) * cfg.vocab_size * h
    return experts / (experts + attention + dense + embeddings)


def loaded_tails(model: Model, tensor_parallel: int) -> int:
    """One rank's caching-allocator segment tails as "Model loading took" counts them: the unsplit ones
    (torch.cuda.memory_allocated), over the tensors vLLM builds (runtimes/allocator.py)."""
    return weight_tails(model, tensor_parallel, device_level=False,
                        skip=frozenset(t.name for t in unbuilt_vision(model)), packed=True)


def device_holes(model: Model, tensor_parallel: int) -> int:
    """What one rank's caching allocator reserves beyond the bytes "Model loading took" counts, once the
    weights are built and loaded: the segment tails split off and the holes of the segments small tensors
    share (runtimes/allocator.py ``reserved_holes``, replayed in construction order with the RoPE cache
    computed in float32 and cast to its type), which a device-level measure counts (profile.py
    DEVICE_LEVEL_RELEASE); for a checkpoint laid out otherwise, the large tensors' split tails alone."""
    cfg = model.config
    weights = rank_weights(model, tensor_parallel) if loaded_as_stored(model) and cfg is not None else []
    if not weights or cfg is None:
        return max(weight_tails(model, tensor_parallel, device_level=True)
                   - weight_tails(model, tensor_parallel, device_level=False), 0)
    rope = ROPE_CACHE_DTYPE.get(cfg.architecture, model_dtype(model.tensors)).type_size
    held = reserved_holes(weights, rope_shapes(cfg), cast_to=0 if rope == DType.F32.type_size else rope)
    return max(held - loaded_tails(model, tensor_parallel), 0)


def allocator_tails(cfg: ArchConfig, p: VllmParams) -> int:
    """The segment tails of one rank's weights that torch.cuda.memory_allocated counts (runtimes/
    allocator.py ``weight_tails``, given as ``p.weight_tails``): vLLM measures the load with it. Not
    modelled for pipeline stages."""
    return p.weight_tails if p.pipeline_parallel == 1 else 0


def replicated_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """What every rank holds whole with tensor parallelism: MLA's down-projections
    (``mla_down_projection_params``) and the MoE routers: vLLM builds them as ``ReplicatedLinear`` (models/
    qwen3_moe.py, qwen2_moe.py, mixtral.py, deepseek_v2.py ``self.gate``) or a plain ``nn.Linear``
    (gpt_oss.py ``MLPBlock.router``), so each rank holds all of them (hidden × experts per MoE layer, in
    the model dtype: quantization configs leave the gate unquantized). Qwen3-235B-A22B: 94 × 4096 × 128
    × 2 B = 94 MiB per rank instead of a quarter of it at TP 4."""
    return replicated_weight_bytes(cfg, p.tensor_parallel, p.dtype, p.mla_stored_bytes)


def replicated_weight_bytes(cfg: ArchConfig, tensor_parallel: int, dtype: DType,
                            mla_stored_bytes: int | None = None) -> int:
    """``replicated_bytes`` for a tensor-parallel size and model dtype (SGLang's model code shares it);
    ``mla_stored_bytes``: the down-projections as the checkpoint stores them (``mla_stored``: an FP8
    DeepSeek keeps them in FP8 with their scales), else priced from the config in the model dtype."""
    if tensor_parallel == 1:
        return 0
    routers = (cfg.n_layers - cfg.n_dense_layers) * cfg.hidden_size * cfg.n_experts if cfg.is_moe else 0
    mla = mla_down_projection_params(cfg) * dtype.type_size if mla_stored_bytes is None else mla_stored_bytes
    return routers * dtype.type_size + mla


_MLA_DOWN = re.compile(r"\.(?:q_a_proj|kv_a_proj_with_mqa|fused_qkv_a_proj)\.")


def mla_stored(model: Model) -> int | None:
    """The bytes of an MLA model's down-projections as its tensors store them (weights, scales, zeros), or
    None when the model lists none (not MLA, or tensors not named so)."""
    found = [t.nbytes for t in model.tensors if _MLA_DOWN.search(t.name)]
    return sum(found) if found else None


def mla_down_projection_params(cfg: ArchConfig) -> int:
    """MLA's down-projections, which every rank holds whole: vLLM's and SGLang's deepseek_v2.py build
    q_a_proj (hidden → q_lora_rank) and kv_a_proj_with_mqa (hidden → kv_lora_rank + qk_rope_head_dim) as
    ``ReplicatedLinear`` (later fused into one ``fused_qkv_a_proj`` with ``disable_tp``), beside the
    column-parallel up-projections; quantization configs keep attention in 16 bits where they skip it.
    Kimi-K2.5 at TP 8: 61 × 7168 × (1536 + 576) × 2 B = 1.72 GiB per rank instead of an eighth."""
    if not cfg.is_mla:
        return 0
    return cfg.n_layers * cfg.hidden_size * (cfg.q_lora_rank + cfg.kv_lora_rank + cfg.rope_head_dim)


def offloaded_bytes(moved: CpuOffload | None) -> int:
    """What --cpu-offload-gb takes off one rank's weights: the parameters moved and the allocator tails
    they would have held ("Model loading took" counts neither)."""
    return moved.moved_bytes + moved.moved_tails if moved else 0
