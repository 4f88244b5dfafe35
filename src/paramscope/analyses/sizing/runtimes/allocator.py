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
reuses it, and the holes of the 20 MiB segments smaller tensors share (``Allocator``,
``reserved_holes``: the whole allocator replayed in construction order). Checked on the logs whose
shapes leave tails (tests/fixtures/engine_logs/): DeepSeek-R1-Distill-Qwen-14B at TP 2 on vLLM
(13061-*: 13.948 GiB printed, 0.16 GiB more than the tensors; the tails come to 0.164), Qwen2-7B at TP 1
and 2 on vLLM 0.10.1.1 (dennislee-*: 57 and 22 MiB more; 43 and 22 MiB of tails), QwQ-32B at TP 4 on
SGLang (llmsinclouds-*: 0.25 GiB more; 0.22 of tails). Shapes that are multiples of 2 MiB (Llama 3.1
8B at TP 1 and 2) leave none, as their exact weights show.

The tensors are the checkpoint's, as the engines fuse and split them: q/k/v projections into one
QKVParallelLinear, gate/up into one MergedColumnParallelLinear, every expert's gate/up and down into the
fused MoE's w13 and w2; each matrix split over the tensor-parallel ranks (k/v replicated when there are
fewer KV heads than ranks), the embedding and LM head by vocabulary padded to 64. Packed formats vLLM
re-lays at their stored sizes (AWQ, compressed-tensors, GPTQ and AutoRound's GPTQ packing) are counted the
same way for vLLM (``sizes_kept``). Not modelled: the other packed formats (MXFP4, GGUF: the engines re-lay
them otherwise), re-priced
weights, and layouts the engines build otherwise (MLA, linear attention, encoder-decoder).
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
# replicated when fewer KV heads than ranks (a packed checkpoint's parts too)
KV_PROJ = re.compile(r"\.(?:k_proj|v_proj)\.(?:weight|qweight|qzeros|scales|weight_packed|weight_scale)$")


def rank_weight_sizes(model: Model, tp: int, skip: frozenset[str] = frozenset(),
                      key: Callable[[str], str] | None = None) -> list[int]:
    """The bytes of each parameter one of ``tp`` ranks allocates, fused as the engines fuse them (see
    above), for the matrices of a model laid out as the engines build it; [] otherwise. ``skip``: names
    of tensors the engine does not build; ``key``: how a name fuses (``fused_name``, ``packed_name``)."""
    found = _rank_parameters(model, tp, skip=skip, key=key)
    return list(found[0].values()) if found else []


def _rank_parameters(model: Model, tp: int, *, skip: frozenset[str] = frozenset(), vectors: bool = False,
                     key: Callable[[str], str] | None = None
                     ) -> tuple[dict[str, int], dict[str, tuple[int, int, int]]] | None:
    """One rank's parameters as the engines build them: bytes by (fused) name, in first-seen order, and
    each one's ``construction_order``; None for a model laid out otherwise. ``vectors``: the 1-D
    parameters too (buffers left out); ``key``: how a matrix's name fuses (``fused_name``)."""
    cfg = model.config
    if (cfg is None or cfg.is_mla or cfg.recurrent_layers or cfg.is_encoder_decoder
            or cfg.n_heads % tp or (cfg.n_kv_heads and cfg.n_kv_heads % tp and tp % cfg.n_kv_heads)):
        return None
    fuse = key or fused_name
    vocab = -(-cfg.vocab_size // VOCAB_PADDING) * VOCAB_PADDING
    kv_share = max(1, cfg.n_kv_heads // tp) / cfg.n_kv_heads if cfg.n_kv_heads else 1 / tp
    sizes: dict[str, int] = {}
    order: dict[str, tuple[int, int, int]] = {}
    for t in model.tensors:
        matrix = len(t.shape) >= 2
        if t.name in skip or not (matrix or vectors) or (vectors and not t.is_parameter):
            continue
        is_vocab = matrix and t.shape[0] == cfg.vocab_size
        if is_vocab:  # embedding or LM head: split by the padded vocabulary
            name, size = t.name, vocab // tp * (t.nbytes // cfg.vocab_size)
        elif not matrix:
            name, size = t.name, t.nbytes
        else:
            name = fuse(t.name)
            size = int(t.nbytes * (kv_share if KV_PROJ.search(t.name) else 1 / tp))
        sizes[name] = sizes.get(name, 0) + size
        order.setdefault(name, construction_order(t.name, is_vocab))
    return sizes, order


def fused_name(name: str) -> str:
    """The engine parameter a checkpoint tensor goes into (``FUSED``; the tensor's own name otherwise)."""
    for pattern, fused in FUSED:
        found = pattern.match(name)
        if found:
            return found.group(1) + fused
    return name


def weight_tails(model: Model, tp: int, *, device_level: bool, skip: frozenset[str] = frozenset(),
                 packed: bool = False) -> int:
    """What the allocator holds beyond one rank's weights (``tail_bytes`` over ``rank_weight_sizes``);
    0 for a checkpoint the engine re-lays (packed formats: GPTQ, AWQ, MXFP4, GGUF …), except, with
    ``packed``, the ones vLLM re-lays at their stored sizes (``sizes_kept``)."""
    if loaded_as_stored(model):
        sizes = rank_weight_sizes(model, tp, skip)
    elif packed and sizes_kept(model):
        sizes = rank_weight_sizes(model, tp, skip | freed_by_marlin(model), key=packed_name)
    else:
        return 0
    return sum(tail_bytes(size, device_level=device_level) for size in sizes)


# Packed formats vLLM re-lays in tensors of their stored sizes: AWQ (AWQ-Marlin repacks qweight and permutes
# qzeros and scales in place of the same bytes; model_executor/layers/quantization/awq_marlin.py, kernels/
# mixed_precision/marlin.py) and compressed-tensors (pack-quantized int4 the same way; NVFP4 renames
# weight_packed and swizzles its scales, padded to 128 × 4 tiles, a no-op at the usual shapes). Their
# parts fuse as the weight they belong to (q/k/v, gate/up). Qwen2.5-14B-Instruct-AWQ on vLLM 0.15.1 and
# Qwen3-8B NVFP4 on 0.23 load what their tensors and these tails come to (a replay of the allocator;
# tests/fixtures/engine_logs/vllm/dali-*, rtx5070ti-*). GPTQ on Marlin alike (gptq_marlin_repack returns as
# many int32 as it is given, marlin_permute_scales the same shape; the symmetric qzeros and unused g_idx it
# drops are freed), and AutoRound's GPTQ packing through the same kernel: Qwen3-32B AutoRound W4A16 on 0.19.1,
# 18.03 GiB printed, −0.8 % → −0.06 % with the fused qkv's and gate_up's 1 MiB tails (r44q-qwen3-32b-*)
PACKED_SUFFIXES = (".qweight", ".qzeros", ".scales", ".weight_packed", ".weight_scale", ".weight_zero_point",
                   ".weight_global_scale", ".input_global_scale")
SIZES_KEPT = frozenset({"awq", "compressed-tensors", "gptq", "auto-round"})


GPTQ_PACKINGS = frozenset({"gptq", "auto-round"})


def freed_by_marlin(model: Model) -> frozenset[str]:
    """The stored tensors Marlin frees from a symmetric GPTQ checkpoint before the allocator's tails matter:
    its constant zero points and, without act-order, g_idx (kernels/mixed_precision/marlin.py
    process_weights_after_loading; analyses/sizing/wna16.py keeps the per-release rules of what stays)."""
    q = model.quantization
    if q is None or q.method not in GPTQ_PACKINGS or q.symmetric is False:
        return frozenset()
    act_order = bool(q.config.get("desc_act"))
    return frozenset(t.name for t in model.tensors
                     if t.name.endswith(".qzeros") or (t.name.endswith(".g_idx") and not act_order))


def sizes_kept(model: Model) -> bool:
    """Whether vLLM holds a packed checkpoint's tensors at their stored sizes (SIZES_KEPT)."""
    q = model.quantization
    return q is not None and q.method in SIZES_KEPT


def packed_name(name: str) -> str:
    """``fused_name`` for a packed tensor: the fused weight's name with the part's suffix."""
    for suffix in PACKED_SUFFIXES:
        if name.endswith(suffix):
            return fused_name(name[: -len(suffix)] + ".weight") + suffix
    return fused_name(name)


def loaded_as_stored(model: Model) -> bool:
    """Whether the engines hold the checkpoint's matrices as stored: unquantized, or 8-bit float (FP8)."""
    q = model.quantization
    if q is None:
        return model.format != "gguf"
    return q.bits == 8 and (q.method == "fp8" or (q.quant_type or "").lower() in ("float", "e4m3", "fp8"))


# --- the whole allocator, for a measure of reserved memory ---------------------------------------------
# SGLang's "mem usage" of loading is reserved memory (free memory after torch.cuda.empty_cache): besides
# the large tensors' tails (``tail_bytes``), the 20 MiB segments that tensors under 10 MiB share keep the
# holes the next tensor does not fit, and empty_cache releases only whole segments. Where a model's
# matrices are that small (Qwen2.5-0.5B, Qwen3-0.6B; the shards of a 14B-32B model at TP 4) the holes come
# to tens of MiB. ``Allocator`` replays the allocator's rules (c10/cuda/CUDACachingAllocator.cpp:
# round_size, get_allocation_size, best fit in the request's pool, should_split, free-block merging,
# release_cached_blocks) over the allocations in the engine's construction order.
class Allocator:
    """The caching allocator's two pools: blocks per segment as [size, used] in address order."""

    __slots__ = ("live", "segments")

    def __init__(self) -> None:
        self.segments: list[tuple[bool, list[list[int]]]] = []  # (small pool, blocks)
        self.live: dict[int, tuple[list[list[int]], list[int]]] = {}

    def malloc(self, size: int) -> int:
        """A handle for ``size`` bytes (0: none, as PyTorch allocates nothing for an empty tensor)."""
        if size <= 0:
            return 0
        size = max(MIN_BLOCK, -(-size // MIN_BLOCK) * MIN_BLOCK)
        small = size <= SMALL_SIZE
        best: tuple[list[list[int]], list[int]] | None = None
        for pool, blocks in self.segments:  # get_free_block: the smallest free block that fits
            if pool == small:
                for b in blocks:
                    if not b[1] and b[0] >= size and (best is None or b[0] < best[1][0]):
                        best = (blocks, b)
        if best is None:  # alloc_block: a new segment
            segment = (2 * MiB if small else 20 * MiB if size < MIN_LARGE_ALLOC
                       else -(-size // ROUND_LARGE) * ROUND_LARGE)
            blocks = [[segment, 0]]
            self.segments.append((small, blocks))
            best = (blocks, blocks[0])
        blocks, block = best
        rest = block[0] - size
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:  # should_split
            block[0] = size
            blocks.insert(_index(blocks, block) + 1, [rest, 0])
        block[1] = 1
        handle = len(self.live) + 1 + max(self.live, default=0)
        self.live[handle] = (blocks, block)
        return handle

    def free(self, handle: int) -> None:
        if not handle:
            return
        blocks, block = self.live.pop(handle)
        block[1] = 0
        i = _index(blocks, block)
        if i + 1 < len(blocks) and not blocks[i + 1][1]:
            block[0] += blocks.pop(i + 1)[0]
        if i > 0 and not blocks[i - 1][1]:
            blocks[i - 1][0] += blocks.pop(i)[0]

    def empty_cache(self) -> None:  # release_cached_blocks: whole free segments only
        self.segments = [(pool, blocks) for pool, blocks in self.segments if any(b[1] for b in blocks)]

    @property
    def reserved(self) -> int:
        return sum(b[0] for _, blocks in self.segments for b in blocks)


def _index(blocks: list[list[int]], block: list[int]) -> int:
    """A block's place in its segment, by identity (two free blocks of one size are different blocks)."""
    return next(i for i, b in enumerate(blocks) if b is block)


LAYER_INDEX = re.compile(r"\.(?:layers|h|blocks)\.(\d+)\.")
# the order a decoder layer builds its parameters in (its __init__: the attention's qkv then output
# projection, the MLP's gate/up then down projection, then the two norms)
IN_LAYER_ORDER = tuple(re.compile(p) for p in (
    r"attn\.(qkv_proj|q_proj|k_proj|v_proj|query_key_value|c_attn)", r"attn\.",
    r"(mlp|feed_forward|block_sparse_moe)\.(gate_up_proj|gate_proj|up_proj|w1|w3|experts\.w13|gate\.)",
    r"(mlp|feed_forward|block_sparse_moe)\."))
SCALE_SUFFIXES = ("_scale_inv", "_scale")  # an FP8 weight's scales, fused like the weight they scale


def construction_order(name: str, is_vocab: bool) -> tuple[int, int, int]:
    """Where a parameter comes in the model's construction: the embedding, the layers in order (attention,
    MLP, norms), the final norm, the LM head last."""
    found = LAYER_INDEX.search(name)
    if found is None:
        return (0, 0, 0) if is_vocab and "embed" in name else (2, 1 if is_vocab else 0, 0)
    rest = name[found.end():]
    part = next((i for i, p in enumerate(IN_LAYER_ORDER) if p.search(rest)), len(IN_LAYER_ORDER))
    return (1, int(found.group(1)), part)


def _fused_key(name: str) -> str:
    """``fused_name``, for an FP8 weight's scales too (fused as the weight they scale)."""
    for suffix in SCALE_SUFFIXES:
        if name.endswith(".weight" + suffix):
            return fused_name(name[: -len(suffix)]) + suffix
    return fused_name(name)


# a multimodal model's towers, which each engine builds its own way (fused or not, before or after the
# language model): replayed by their tails alone (``tail_bytes``)
TOWER = re.compile(r"(^|\.)(vision_tower|visual|vision_model|vision_encoder|audio_tower|audio_model|"
                   r"multi_modal_projector|mm_projector)\.")


def rank_weights(model: Model, tp: int) -> list[tuple[str, int]]:
    """``rank_weight_sizes`` with each parameter's name (the fused one; an FP8 weight's scales fused as
    it is), 1-D tensors included, in the order the model builds them (``construction_order``); [] where
    the engines lay the model out otherwise. A tower's tensors (``TOWER``) come first, in their order."""
    found = _rank_parameters(model, tp, vectors=True, key=_fused_key)
    if found is None:
        return []
    sizes, order = found
    return sorted(sizes.items(), key=lambda kv: (not TOWER.search(kv[0]), order[kv[0]]))


def reserved_holes(weights: list[tuple[str, int]], rope: list[tuple[int, int]], *, cast_to: int = 0) -> int:
    """What the allocator reserves beyond the tensors once ``weights`` (name, bytes, in construction
    order) are built and empty_cache has run: segment tails and holes. ``rope``: each RoPE cache's
    (positions, rotary dim), computed in float32 on the GPU while the first layer's attention is built
    (RotaryEmbedding._compute_cos_sin_cache: t, freqs, cos and sin freed, the cos/sin cache kept);
    ``cast_to`` > 0: the cache is then cast to that many bytes a value (the model's dtype off CUDA)."""
    alloc = Allocator()
    held = tower = 0
    rope_done = False
    for name, size in weights:
        if TOWER.search(name):
            tower += tail_bytes(size, device_level=True)
            continue
        if not rope_done and LAYER_INDEX.search(name) and not name.split(".")[-2].endswith("norm") and (
                "mlp" in name or "moe" in name or "feed_forward" in name):
            rope_done = True
            held += _rope_on_gpu(alloc, rope, cast_to)
        alloc.malloc(size)
        held += -(-size // MIN_BLOCK) * MIN_BLOCK
    if not rope_done:
        held += _rope_on_gpu(alloc, rope, cast_to)
    alloc.empty_cache()
    return alloc.reserved - held + tower


def _rope_on_gpu(alloc: Allocator, rope: list[tuple[int, int]], cast_to: int) -> int:
    held = 0
    for positions, rotary in rope:
        temps = [alloc.malloc(rotary // 2 * 4), alloc.malloc(positions * 4)]  # inv_freq, t
        temps += [alloc.malloc(positions * rotary // 2 * 4) for _ in range(3)]  # freqs, cos, sin
        cache = alloc.malloc(positions * rotary * 4)
        for h in (temps[3], temps[4], temps[2], temps[1], temps[0]):
            alloc.free(h)
        if cast_to:
            alloc.malloc(positions * rotary * cast_to)
            alloc.free(cache)
            held += -(-positions * rotary * cast_to // MIN_BLOCK) * MIN_BLOCK
        else:
            held += -(-positions * rotary * 4 // MIN_BLOCK) * MIN_BLOCK
    return held
