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

The tensors are the checkpoint's, as the engines fuse and split them: q/k/v projections into one
QKVParallelLinear, gate/up into one MergedColumnParallelLinear, every expert's gate/up and down into the
fused MoE's w13 and w2; each matrix split over the tensor-parallel ranks (k/v replicated when there are
fewer KV heads than ranks), the embedding and LM head by vocabulary padded to 64. Not modelled: packed
formats (GPTQ, AWQ, MXFP4, GGUF: the engines re-lay them), re-priced weights, and layouts the engines
build otherwise (MLA, linear attention, encoder-decoder).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramscope.model import Model

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


# Checkpoint names the engines fuse into one parameter (vLLM / SGLang packed_modules_mapping, the fused
# MoE's stacked experts): the name's fused group, with the prefix kept
FUSED = (
    (re.compile(r"^(.*\.experts\.)\d+\.(?:gate_proj|up_proj|w1|w3)\.weight$"), "w13"),
    (re.compile(r"^(.*\.experts\.)\d+\.(?:down_proj|w2)\.weight$"), "w2"),
    (re.compile(r"^(.*\.)(?:q_proj|k_proj|v_proj)\.weight$"), "qkv_proj"),
    (re.compile(r"^(.*\.)(?:gate_proj|up_proj)\.weight$"), "gate_up_proj"),
)
KV_PROJ = re.compile(r"\.(?:k_proj|v_proj)\.weight$")  # replicated when fewer KV heads than ranks


def rank_weight_sizes(model: Model, tp: int, skip: frozenset[str] = frozenset()) -> list[int]:
    """The bytes of each parameter one of ``tp`` ranks allocates, fused as the engines fuse them (see
    above), for the matrices of a model laid out as the engines build it; [] otherwise. ``skip``: names
    of tensors the engine does not build."""
    cfg = model.config
    if (cfg is None or cfg.is_mla or cfg.recurrent_layers or cfg.is_encoder_decoder
            or cfg.n_heads % tp or (cfg.n_kv_heads and cfg.n_kv_heads % tp and tp % cfg.n_kv_heads)):
        return []
    vocab = -(-cfg.vocab_size // VOCAB_PADDING) * VOCAB_PADDING
    kv_share = max(1, cfg.n_kv_heads // tp) / cfg.n_kv_heads if cfg.n_kv_heads else 1 / tp
    groups: dict[str, int] = {}
    for t in model.tensors:
        if len(t.shape) < 2 or t.name in skip:
            continue
        if t.shape[0] == cfg.vocab_size:  # embedding or LM head: split by the padded vocabulary
            groups[t.name] = vocab // tp * (t.nbytes // cfg.vocab_size)
            continue
        key = fused_name(t.name)
        share = kv_share if KV_PROJ.search(t.name) else 1 / tp
        groups[key] = groups.get(key, 0) + int(t.nbytes * share)
    return list(groups.values())


def fused_name(name: str) -> str:
    """The engine parameter a checkpoint tensor goes into (``FUSED``; the tensor's own name otherwise)."""
    for pattern, fused in FUSED:
        found = pattern.match(name)
        if found:
            return found.group(1) + fused
    return name


def weight_tails(model: Model, tp: int, *, device_level: bool, skip: frozenset[str] = frozenset()) -> int:
    """What the allocator holds beyond one rank's weights (``tail_bytes`` over ``rank_weight_sizes``);
    0 for a checkpoint the engine re-lays (packed formats: GPTQ, AWQ, MXFP4, GGUF …)."""
    if not loaded_as_stored(model):
        return 0
    return sum(tail_bytes(size, device_level=device_level) for size in rank_weight_sizes(model, tp, skip))


def loaded_as_stored(model: Model) -> bool:
    """Whether the engines hold the checkpoint's matrices as stored: unquantized, or 8-bit float (FP8)."""
    q = model.quantization
    if q is None:
        return model.format != "gguf"
    return q.bits == 8 and (q.method == "fp8" or (q.quant_type or "").lower() in ("float", "e4m3", "fp8"))
