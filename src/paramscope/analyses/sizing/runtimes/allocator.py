"""PyTorch's CUDA caching allocator: what the weights of one tensor-parallel rank occupy once loaded.

Engines that load with PyTorch (vLLM, SGLang) allocate every parameter through the caching allocator
(c10/cuda/CUDACachingAllocator.cpp), which rounds a request of ``size`` bytes up to 512 B and, when no
cached block fits, reserves a new segment: 2 MiB for requests of up to 1 MiB (shared by later small
ones), 20 MiB for requests under 10 MiB (split between later ones), and for larger requests the size
rounded up to a multiple of 2 MiB. The segment's tail is split off as a free block only when it is larger
than 1 MiB (``should_split``: ``remaining > kSmallSize``); otherwise it stays part of the allocated
block, so ``torch.cuda.memory_allocated`` counts it.

vLLM prints "Model loading took X GiB" from ``memory_allocated`` around the load: a 2-D weight whose
bytes are not a multiple of 2 MiB adds its unsplit tail (at most 1 MiB). SGLang's "mem usage" of
loading is the device's free memory before minus after: every tail, split or not, as no later weight
reuses it. Checked on the logs whose shapes leave tails (tests/fixtures/engine_logs/): DeepSeek-R1-
Distill-Qwen-14B at TP 2 on vLLM (13061-*: 13.948 GiB printed, 0.16 GiB more than the tensors; the tails
come to 0.164), Qwen2-7B at TP 1 and 2 on vLLM 0.10.1.1 (dennislee-*: 57 and 22 MiB more; 43 and 22 MiB
of tails), QwQ-32B at TP 4 on SGLang (llmsinclouds-*: 0.25 GiB more; 0.22 of tails). Shapes that are
multiples of 2 MiB (Llama 3.1 8B at TP 1 and 2) leave none, as their exact weights show.

The layout is the one both engines build for a standard decoder: per layer a fused QKV projection
(QKVParallelLinear), the output projection, a fused gate-up projection (MergedColumnParallelLinear) and
the down projection, or for an MoE layer the fused experts (w13: experts × 2 × ffn/tp × hidden, w2:
experts × hidden × ffn/tp); the embedding and the LM head split by vocabulary (padded to 64). Models of
another layout (MLA, linear attention, per-layer widths, encoder-decoder) get no tail modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramscope.analyses.sizing.runtimes.common import per_layer_heads

if TYPE_CHECKING:
    from paramscope.model import ArchConfig, Model
    from paramscope.model.dtypes import DType

MiB = 1 << 20
MIN_BLOCK = 512  # kMinBlockSize: every request is rounded up to it
SMALL_SIZE = 1 * MiB  # kSmallSize: requests up to it share 2 MiB segments; tails above it are split off
MIN_LARGE_ALLOC = 10 * MiB  # kMinLargeAlloc: requests below it share 20 MiB segments
ROUND_LARGE = 2 * MiB  # kRoundLarge: larger requests get a segment of a multiple of it
VOCAB_PADDING = 64  # vLLM / SGLang DEFAULT_VOCAB_PADDING_SIZE (VocabParallelEmbedding, ParallelLMHead)


def tail_bytes(size: int, *, device_level: bool) -> int:
    """The bytes a request of ``size`` holds beyond itself in its own segment: the 2 MiB rounding of a
    request of 10 MiB or more, counted as allocated when the tail is not split off (≤ 1 MiB), and always
    at the device level. Smaller requests share segments: nothing of their own."""
    size = -(-size // MIN_BLOCK) * MIN_BLOCK
    if size < MIN_LARGE_ALLOC:
        return 0
    tail = -(-size // ROUND_LARGE) * ROUND_LARGE - size
    return tail if device_level or tail <= SMALL_SIZE else 0


def rank_weight_sizes(cfg: ArchConfig, tp: int, linear_bytes: int, embed_bytes: int,
                      kv_heads: int) -> list[tuple[int, int]]:
    """(count, bytes) of the large tensors one of ``tp`` ranks holds, for the standard decoder layout
    (see above); [] for a model laid out otherwise. ``linear_bytes`` per value of the projections as
    loaded, ``embed_bytes`` per value of the embedding and LM head, ``kv_heads`` the KV heads a rank
    keeps (replicated when fewer than ``tp``)."""
    if (cfg.is_mla or cfg.recurrent_layers or cfg.is_encoder_decoder
            or per_layer_heads(cfg, "n_heads_per_layer") or per_layer_heads(cfg, "n_kv_heads_per_layer")
            or cfg.n_heads % tp):
        return []
    h, heads = cfg.hidden_size, cfg.n_heads // tp
    attention = [(cfg.n_layers, (heads * cfg.head_dim_k + kv_heads * (cfg.head_dim_k + cfg.head_dim_v)) * h),
                 (cfg.n_layers, h * heads * cfg.head_dim_v)]
    moe_layers = cfg.n_layers - cfg.n_dense_layers if cfg.is_moe else 0
    dense_layers = cfg.n_layers - moe_layers
    mlp: list[tuple[int, int]] = []
    if dense_layers and cfg.ffn_size % tp == 0:
        mlp += [(dense_layers, 2 * cfg.ffn_size // tp * h), (dense_layers, h * cfg.ffn_size // tp)]
    if moe_layers and cfg.expert_ffn_size % tp == 0:
        ffn = cfg.expert_ffn_size // tp
        mlp += [(moe_layers, cfg.n_experts * 2 * ffn * h), (moe_layers, cfg.n_experts * h * ffn)]
    sizes = [(n, values * linear_bytes) for n, values in attention + mlp]
    vocab = -(-cfg.vocab_size // VOCAB_PADDING) * VOCAB_PADDING
    if vocab % tp == 0:
        sizes.append((1 if cfg.tied_embeddings else 2, vocab // tp * h * embed_bytes))
    return sizes


def weight_tails(cfg: ArchConfig, tp: int, linear_bytes: int | None, embed_bytes: int, kv_heads: int, *,
                 device_level: bool) -> int:
    """What the allocator holds beyond one rank's weights (``tail_bytes`` over ``rank_weight_sizes``);
    0 where the projections' bytes per value are not known (``linear_bytes`` None: packed formats)."""
    if not linear_bytes:
        return 0
    return sum(n * tail_bytes(size, device_level=device_level)
               for n, size in rank_weight_sizes(cfg, tp, linear_bytes, embed_bytes, kv_heads))


def linear_value_bytes(model: Model, dtype: DType) -> int | None:
    """Bytes per value of the projections as an engine loads them: the model dtype for an unquantized
    checkpoint, 1 for 8-bit float ones (FP8), None for packed formats (GPTQ, AWQ, MXFP4, GGUF …)."""
    q = model.quantization
    if q is None:
        return dtype.type_size
    if q.bits == 8 and (q.method == "fp8" or (q.quant_type or "").lower() in ("float", "e4m3", "fp8")):
        return 1
    return None
