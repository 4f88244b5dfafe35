"""How vLLM turns the memory left into KV blocks (kv_cache_interface.py, kv_cache_utils.py): layer kinds
and their groups, shared page sizes, hybrid models' state pages, the blocks one request needs, the pool.
"""

from __future__ import annotations

import math

from paramscope.analyses.sizing.kv_cache import (
    ATTENTION_KINDS,
    KV_HEADS_PER_LAYER,
    KVCache,
    KVPart,
    head_dims_per_layer,
    indexer_key_bytes,
    indexer_layers,
    kv_cache,
    layer_kinds,
    no_pool_error,
)
from paramscope.analyses.sizing.request import MemoryRequest
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.common import per_layer_heads
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    TOKENS_REPORTED_RELEASE,
    V0_FAMILIES,
    Release,
    VllmParams,
    cdiv,
    extensible_margin,
)
from paramscope.analyses.sizing.runtimes.vllm.speculative import MAMBA_SPECULATIVE_RELEASE
from paramscope.analyses.sizing.runtimes.vllm.weights import rank_config
from paramscope.errors import UnsupportedError, UsageError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

F32, I64 = 4, 8

@record
class KVLayout:
    """How vLLM groups layers and how many blocks one request needs (kv_cache_utils.py).

    Layers of one kind share a block table; kinds are cut into groups of ``group_size`` layers (padding
    the last group of a kind), and one block id holds one page in each of ``group_size`` tensors.
    """

    group_size: int
    groups: dict[str, int]  # groups per layer kind
    blocks: dict[str, int]  # blocks one request holds in one group of that kind
    page_bytes: int  # one block of one layer: block_size × (K + V) row bytes (the widest layer's)
    # layers of one kind whose widths differ (UniformTypeKVCacheSpecs): each layer's page, in one group
    layer_pages: tuple[int, ...] = ()

    @property
    def n_groups(self) -> int:
        return sum(self.groups.values())

    @property
    def block_bytes(self) -> int:
        """One block id over the group's layers: vLLM's page size of the group (a UniformTypeKVCacheSpecs
        sums its layers' pages)."""
        return sum(self.layer_pages) if self.layer_pages else self.page_bytes * self.group_size

    @property
    def blocks_per_request(self) -> int:
        return sum(self.groups[kind] * self.blocks[kind] for kind in self.groups)


@record
class KVPool:
    """What the pool comes to on a given GPU: the blocks vLLM allocates and how many requests fit."""

    reserved_bytes: int  # gpu_memory_utilization × GPU memory
    available_bytes: int  # left for the KV cache ("Available KV cache memory")
    num_blocks: int
    layout: KVLayout
    block_size: int
    # max_model_len where the engine reports its tokens as concurrency × max_model_len (engine.py
    # TOKENS_REPORTED_RELEASE);
    # 0: as blocks
    reported_len: int = 0

    @property
    def pool_bytes(self) -> int:
        return self.num_blocks * self.layout.block_bytes

    @property
    def tokens(self) -> int:
        """'GPU KV cache size: N tokens' (kv_cache_utils._report_kv_cache_config; engine.py
        TOKENS_REPORTED_RELEASE)."""
        if self.reported_len:
            return int(self.reported_len * self.max_concurrency)
        return self.num_blocks // self.layout.n_groups * self.block_size

    @property
    def max_concurrency(self) -> float:
        """'Maximum concurrency for X tokens per request' (get_max_concurrency_for_kv_cache_config)."""
        return self.num_blocks / self.layout.blocks_per_request


def kv_layout(cfg: ArchConfig, p: VllmParams) -> tuple[KVLayout, KVCache, int]:
    """The blocks per request, the cache they hold (sizing/kv_cache.py) and the padding layers' share.

    Hybrid models (attention beside linear-attention / SSM layers whose state sizes the config gives,
    ``hybrid_state_bytes``): every kind shares one page size, the attention page of ``p.block_size``
    tokens (``hybrid_block_size`` raised it to hold a state), and a linear layer's request holds one
    block, its state padded to that page (v1/kv_cache_interface.py MambaSpec; 0.10.2 logs "Padding mamba
    page size by 1.49%")."""
    all_kinds = layer_kinds(cfg)
    state = hybrid_state_bytes(cfg, p) if "linear" in all_kinds or cfg.recurrent_layers else 0
    counts = {kind: n for kind, n in all_kinds.items() if kind in ATTENTION_KINDS}
    if not counts:
        raise _no_attention(cfg)
    if "sliding" in counts and cfg.sliding_window < 1:
        raise UnsupportedError(f"{cfg.architecture}: sliding-window layers but no window size")
    attention = dict(counts)
    if state:
        counts["linear"] = all_kinds["linear"]
    size = group_size(counts)
    groups = {kind: cdiv(n, size) for kind, n in counts.items()}
    blocks = {kind: mamba_blocks(cfg, p) if kind == "linear" else request_blocks(kind, cfg, p)
              for kind in counts}
    cells = {kind: blocks[kind] * p.block_size for kind in attention}
    kv = kv_cache(rank_config(cfg, p.tensor_parallel), cells, streams=p.batch, type_k=p.kv_type,
                  type_v=p.kv_type, mla="compressed", type_state=p.dtype)
    attention_parts = [part for part in kv.parts if part.kind in ATTENTION_KINDS]
    indexers = indexer_layers(cfg) if indexer_key_bytes(cfg) and p.engine not in V0_FAMILIES else 0
    if len(attention_parts) > len(attention) or indexers:
        layout, kv, padding = _uniform_type_layout(kv, attention_parts, attention, blocks, p, indexers * (
            p.block_size * indexer_key_bytes(cfg),))
        if indexers:  # what the requests hold of them too ("KV needed")
            part = KVPart(INDEXER, indexers, p.batch, cells["full"], indexer_key_bytes(cfg), 0, DType.U8,
                          DType.U8)
            line = (f"{INDEXER}: {indexers} layers × {p.batch} seqs × {part.cells:,} cells × "
                    f"{part.k_width} B = {part.total_bytes:,} B")
            kv = KVCache((*kv.parts, part), (*kv.explain, line))
        return layout, kv, padding
    # kinds of different widths (Gemma 4: sliding layers of 8 × 256, full ones of 2 × 512):
    # kv_cache_utils.unify_kv_cache_spec_page_size raises the narrower kinds' block size until their pages
    # match the widest one's, so they hold fewer, larger blocks. Gemma 4 26B-A4B with an fp8 cache on vLLM
    # 0.19: 64 KiB pages, the full layers' blocks of 32 tokens; 27,150 blocks, 72,400 tokens printed
    rows = {part.kind: part.k_row_bytes + part.v_row_bytes for part in attention_parts}
    row = max(rows.values())
    if any(row % r for r in rows.values()):
        raise UnsupportedError(f"vLLM: {cfg.architecture}'s layer kinds have KV pages whose sizes do not "
                               f"divide each other ({sorted(rows.values())} B a token), which vLLM refuses")
    if len(set(rows.values())) > 1:
        blocks |= {kind: request_blocks(kind, cfg, replace(p, block_size=p.block_size * (row // r)))
                   for kind, r in rows.items()}
        cells = {kind: blocks[kind] * p.block_size * (row // rows[kind]) for kind in attention}
        kv = kv_cache(rank_config(cfg, p.tensor_parallel), cells, streams=p.batch, type_k=p.kv_type,
                      type_v=p.kv_type, mla="compressed", type_state=p.dtype)
    page = p.block_size * row
    padding = sum((groups[kind] * size - n) * p.batch * cells[kind] * rows[kind]
                  for kind, n in attention.items())
    if state:  # the padded state pages, and the padding layers of the last linear group
        linear = counts["linear"]
        padding += p.batch * ((page - state) * linear + (groups["linear"] * size - linear) * page)
    return KVLayout(size, groups, blocks, page), kv, padding


INDEXER = "indexer keys"  # a DSA model's kind beside its MLA layers (kv_cache.py indexer_key_bytes)


def _uniform_type_layout(kv: KVCache, parts: list, attention: dict[str, int], blocks: dict[str, int],
                         p: VllmParams, extra_pages: tuple[int, ...] = ()) -> tuple[KVLayout, KVCache, int]:
    """Layers of one kind whose K/V widths differ (per-layer KV heads): vllm/v1/kv_cache_interface.py
    UniformTypeKVCacheSpecs ("multiple layers with the same type of attention ... different hidden
    sizes"), which kv_cache_utils.get_kv_cache_groups builds when every layer needs the same number of
    token slots: one group of all layers, its page size the sum of the layers' pages
    (``page_size_bytes = sum(spec.page_size_bytes ...)``), so ``num_blocks = available // Σ pages`` and
    each layer holds as many blocks, at its own width (get_kv_cache_config_from_groups). Older V1
    releases, before that class, unified the page sizes by raising the narrower layers' block sizes
    (unify_kv_cache_spec_page_size) into groups of their own: not modelled. Kinds that differ as well
    (sliding beside full layers, linear states) take those paths too: refused. ``extra_pages``: full-attention
    caches beside the layers' own, a DSA model's indexer keys (kv_cache.py indexer_key_bytes: GLM-5.1-FP8
    at TP 8, 78 × (1152 + 132) B a token as two bisect builds print it)."""
    if len(attention) > 1 or len(kv.parts) != len(parts):
        raise UnsupportedError("vLLM: layers of different KV widths beside sliding-window or linear "
                               "layers are grouped by unify_kv_cache_spec_page_size, which paramscope "
                               "does not model")
    kind = next(iter(attention))
    pages = tuple(p.block_size * (part.k_row_bytes + part.v_row_bytes)
                  for part in parts for _ in range(part.layers)) + extra_pages
    layout = KVLayout(attention[kind], {kind: 1}, blocks, max(pages), pages)
    return layout, kv, 0


def hybrid_state_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """One linear-attention / SSM layer's state on one rank (MambaSpec.page_size_bytes before padding):
    the convolution state and the recurrent (temporal) state, both split over the ranks
    (``get_mamba_state_shape_from_config``: Qwen3-Next's gated DeltaNet ``(conv_dim / tp, kernel − 1)``
    and ``(v_heads / tp, k_dim, v_dim)``; Mamba's ``(d_inner / tp, ...)`` alike), in the model dtype
    (``--mamba-cache-dtype`` / ``--mamba-ssm-cache-dtype`` "auto"). Refused where the config gives no
    state sizes or the layers are a parallel hybrid's (attention and state in one layer)."""
    linear = layer_kinds(cfg).get("linear", 0)
    if not (cfg.conv_state_size + cfg.ssm_state_size) or cfg.recurrent_layers != linear:
        raise UnsupportedError(f"{cfg.architecture}: the vLLM profile models linear-attention/SSM layers "
                               f"only where the config gives their state sizes, one kind per layer")
    if cfg.state_groups % p.tensor_parallel:
        # vLLM replicates Mamba-2 groups over the ranks when they do not divide (mamba_utils
        # extra_groups_for_head_shards): each rank's state is then more than its share
        raise UnsupportedError(f"{cfg.architecture}: {cfg.state_groups} state groups do not split over "
                               f"tensor_parallel {p.tensor_parallel}; the vLLM profile does not model the "
                               f"replicated groups")
    tp = p.tensor_parallel
    ssm = ssm_state_dtype(cfg, p)
    return p.dtype.nbytes(cfg.conv_state_size // tp) + ssm.nbytes(cfg.ssm_state_size // tp)


# The recurrent (SSM / delta-rule) state's type: the config's mamba_ssm_dtype where it names one (Qwen3.5's
# text_config says "float32"), as vLLM's --mamba-ssm-cache-dtype "auto" takes it; else the model dtype.
# Qwen3.5-9B on an L40S (0.18.0, fp8 KV): "Setting attention block size to 1056 tokens" = 16 × cdiv(32 ×
# 128 × 128 × 4 + 8192 × 3 × 2 B, 16 × 2048 B), where a bf16 state gives 544
SSM_DTYPES = {"float32": DType.F32, "bfloat16": DType.BF16, "float16": DType.F16}


def ssm_state_dtype(cfg: ArchConfig, p: VllmParams) -> DType:
    return SSM_DTYPES.get(str(cfg.extra.get("mamba_ssm_dtype")), p.dtype)


def _no_attention(cfg: ArchConfig) -> UnsupportedError:
    return no_pool_error(cfg, "vLLM")


# vllm/model_executor/models/config.py HybridAttentionMambaModelConfig (0.10.2 and on): attention block
# sizes are multiples of 16 ("some attention backends (e.g. FA) only support setting block size to multiple
# of 16")
HYBRID_BLOCK_ALIGN = 16


# With prefix caching asked for (--enable-prefix-caching; a hybrid model has it off by default: 0.19's
# LLM class with every default prints it off) a hybrid model's state runs in mamba_cache_mode "align" in
# the 0.16 and later families (a 0.18 log: "Mamba cache mode is set to 'align' ... when prefix caching is
# enabled"): v1/kv_cache_interface.py MambaSpec.max_memory_usage_bytes = page × (2 + speculative blocks), two
# state blocks of each Mamba group a request, where "none" takes one (0.10.2's Qwen3-Next log, 0.19's
# defaults: 1258 / (497 + 3) = 2.52x). Qwen3.5-9B with it: 63 attention blocks + 3 groups × 2 = 69 a
# request of 65536 tokens; 1258 / 69 = 18.23x, as printed
MAMBA_BLOCKS_PER_REQUEST = {"v1": 2, "v1-0.16": 2}
# From 0.32.0 a Mamba-2 layer (MambaMixer2: Granite 4.0-H, Nemotron-H, Bamba, Falcon-H1, Zamba2) keeps one
# block more in align mode, a checkpoint of the prefill's block-boundary state (mamba_mixer2.py
# get_kv_cache_spec: num_prefill_checkpoint_blocks=1; MambaSpec.max_memory_usage_bytes = page × (2 +
# speculative + checkpoint blocks)); the gated-DeltaNet layers of Qwen3-Next and Qwen3.5 keep two
MAMBA2_CHECKPOINT_RELEASE = (0, 32, 0)
MAMBA2_FAMILIES = frozenset({"granitemoehybrid", "nemotron_h", "bamba", "falcon_h1", "zamba2", "mamba2"})
# Unasked, prefix caching is on for a hybrid model from 0.26.0 (config/model.py: "Generative hybrid models
# support prefix caching", where 0.25.0 says they "do not support prefix caching"; `vllm serve` 0.29: "The
# engine now selects a Mamba cache mode that is compatible with prefix caching"): Granite 4.0-H-Micro on an
# RTX 5090, 0.29.0, printed 65.41x / 19.84x at 32K / 128K where one state block a request gives 74.82x /
# 20.88x and two 66.5x / 20.2x
PREFIX_CACHING_RELEASE = (0, 26, 0)


def mamba_blocks(cfg: ArchConfig, p: VllmParams) -> int:
    """The state blocks one request holds in a linear-attention / SSM group (MambaSpec)."""
    # speculative decoding keeps a state block for each speculative token too (MambaSpec
    # num_speculative_blocks = num_speculative_tokens, any method), counted from 0.16
    speculative = p.speculative_tokens if p.release >= MAMBA_SPECULATIVE_RELEASE else 0
    if not p.prefix_caching:
        return 1 + speculative
    checkpoint = p.release >= MAMBA2_CHECKPOINT_RELEASE and cfg.family in MAMBA2_FAMILIES
    return MAMBA_BLOCKS_PER_REQUEST.get(p.engine, 1) + checkpoint + speculative


def prefix_caching_asked(req: MemoryRequest) -> bool | None:
    """--enable-prefix-caching True, --no-enable-prefix-caching False, neither None; both: refused."""
    on, off = option(req, "enable_prefix_caching"), option(req, "no_enable_prefix_caching")
    if on and off:
        raise UsageError("vLLM: --enable-prefix-caching and --no-enable-prefix-caching together")
    return True if on else False if off else None


def prefix_caching_on(asked: bool | None, release: Release) -> bool:
    """--enable-prefix-caching (True), --no-enable-prefix-caching (False), else the release's default."""
    return release >= PREFIX_CACHING_RELEASE if asked is None else asked


def hybrid_block_size(cfg: ArchConfig, p: VllmParams, given: int | None) -> int:
    """The attention block size of a hybrid model: the smallest multiple of 16 tokens whose attention page
    holds one layer's state, ``16 × cdiv(state, 16 × attention page of one token)``, unless
    ``--block-size`` asks for more (0.10.2, Qwen3-Next-80B at TP 2: "Setting attention block size to 544
    tokens")."""
    row = kv_row_bytes(cfg, p)
    if not row:  # a pure SSM (Mamba): no attention page to hold the state in
        raise _no_attention(cfg)
    needed = HYBRID_BLOCK_ALIGN * cdiv(hybrid_state_bytes(cfg, p), HYBRID_BLOCK_ALIGN * row)
    return needed if given is None or given < needed else given


def kv_row_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """K + V of one token in one attention layer on one rank."""
    part = kv_cache(rank_config(cfg, p.tensor_parallel), {"full": 1, "sliding": 1}, type_k=p.kv_type,
                    type_v=p.kv_type, mla="compressed", type_state=p.dtype).parts[0]
    return part.k_row_bytes + part.v_row_bytes


def group_size(counts: dict[str, int]) -> int:
    """kv_cache_utils._get_kv_cache_groups_uniform_page_size: the smaller layer count (Gemma 3: the full
    layers), or the larger when the two are within 1.5× (fewer padding layers). One kind: all layers."""
    lo, hi = min(counts.values()), max(counts.values())
    return hi if hi < 1.5 * lo else lo


def request_blocks(kind: str, cfg: ArchConfig, p: VllmParams) -> int:
    """Blocks one request of ``context`` tokens holds per layer (kv_cache_interface.py).

    FullAttentionSpec: cdiv(max_model_len, block_size). SlidingWindowSpec: the window − 1 tokens behind
    the tokens in flight (``p.in_flight_batches`` chunks of max_num_batched_tokens, engine.py
    IN_FLIGHT_RELEASE), capped at max_model_len, + 1 block because the window need not start on a block
    boundary.
    """
    full = cdiv(p.context, p.block_size)
    if kind == "full":
        return full
    return cdiv(sliding_tokens(cfg, p), p.block_size) + 1


def sliding_tokens(cfg: ArchConfig, p: VllmParams) -> int:
    """The tokens a request holds in a sliding-window layer: window − 1 behind the tokens in flight,
    capped at the context."""
    return min(cfg.sliding_window - 1 + p.in_flight_batches * p.max_num_batched_tokens, p.context)


def kv_pool(p: VllmParams, layout: KVLayout, non_kv: int, outside: int = 0, transient: int = 0
            ) -> KVPool | None:
    """The pool on a GPU of ``p.gpu_memory_bytes``: the budget's rest, or with --kv-cache-memory-bytes
    the size given (gpu_worker.determine_available_memory returns it after the profile run, whatever the
    budget; the reservation is then what the worker takes: the non-KV memory and that cache). From 0.34
    (``p.extensible``, engine.py EXTENSIBLE_RELEASE) the budget is also capped by the device's memory
    beyond what is ``outside`` the engine's measure less a margin over the ``transient`` peak."""
    if p.gpu_memory_bytes is None and p.kv_cache_memory_bytes is None:
        return None
    if p.kv_cache_memory_bytes is not None:
        reserved, available = non_kv + p.kv_cache_memory_bytes, p.kv_cache_memory_bytes
    elif p.extensible:
        total = p.gpu_memory_bytes or 0
        reserved = min(math.ceil(total * p.gpu_memory_utilization),
                       total - outside - extensible_margin(p, transient))
        available = reserved - non_kv
    else:
        reserved = int((p.gpu_memory_bytes or 0) * p.gpu_memory_utilization)
        available = reserved - non_kv
    # kv_cache_utils.get_num_blocks: available // page_size // num_layers (the group's layers), which is
    # available // (page × layers); a UniformTypeKVCacheSpecs group: available // its summed page size
    blocks = max(available // layout.block_bytes, 0)
    return KVPool(reserved, available, blocks, layout, p.block_size, reported_len(p))


def reported_len(p: VllmParams) -> int:
    """KVPool.reported_len: max_model_len where the release logs its tokens as concurrency × max_model_len
    (engine.py TOKENS_REPORTED_RELEASE), else 0 (as blocks)."""
    return p.context if p.release >= TOKENS_REPORTED_RELEASE else 0


def without_hybrid_manager(cfg: ArchConfig) -> ArchConfig:
    """The layers as vLLM caches them with --disable-hybrid-kv-cache-manager (or a KV connector without
    SupportsHMA, which turns the manager off): kv_cache_utils.unify_hybrid_kv_cache_specs makes every
    sliding-window layer a full-attention one, one group at the whole context. gpt-oss-120b at TP 8 on
    H200s, 0.22.1: 13,724,416 tokens printed (9,216 B a token a rank), 25,798,626 with the manager. A
    recurrent state cannot be unified: vLLM refuses."""
    kinds = layer_kinds(cfg)
    if "linear" in kinds or cfg.recurrent_layers:
        raise UnsupportedError(f"vLLM: {cfg.architecture} has recurrent layers, whose state cannot be held "
                               f"without the hybrid KV cache manager (vLLM refuses to start)")
    if "sliding" not in kinds:
        return cfg
    return replace(cfg, layer_types=tuple("full" if k == "sliding" else k for k in cfg.layer_types))


def with_draft_layers(cfg: ArchConfig, layers: int) -> ArchConfig:
    """The layers the KV cache holds with an MTP drafter's ``layers`` attention layers after the model's
    (speculative.py): full-attention layers as wide as the model's (vLLM builds each MTP layer with the
    model's attention: qwen3_5_mtp.py ``layer_type="full_attention"``, deepseek_mtp.py a DeepSeek-V2 decoder
    layer). Refused for a model whose layers differ in KV width."""
    if not layers:
        return cfg
    if per_layer_heads(cfg, KV_HEADS_PER_LAYER) or head_dims_per_layer(cfg):
        raise UnsupportedError(f"vLLM: {cfg.architecture}'s layers differ in KV width; an MTP drafter's "
                               f"layers beside them are not modelled")
    types = cfg.layer_types or ("full",) * cfg.n_layers
    extra = dict(cfg.extra)
    # a DSA model's MTP layer keeps an indexer cache of its own (GLM-5.2's indexer_types list ends with
    # the trunk's layers)
    kinds = extra.get("indexer_types")
    if isinstance(kinds, list | tuple) and len(kinds) == cfg.n_layers:
        extra["indexer_types"] = (*kinds, *("full",) * layers)
    pattern = extra.get("index_topk_pattern")
    if isinstance(pattern, str) and len(pattern) == cfg.n_layers:
        extra["index_topk_pattern"] = pattern + "F" * layers
    return replace(cfg, n_layers=cfg.n_layers + layers, layer_types=(*types, *("full",) * layers),
                   extra=extra)
