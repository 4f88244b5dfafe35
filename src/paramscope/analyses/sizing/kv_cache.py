"""The KV cache: one formula for every source (GGUF, safetensors, config.json all give an ArchConfig).

Per layer and per cached token (a "cell") a layer holds one K row and one V row::

    K width = n_kv_heads × head_dim_k        V width = n_kv_heads × head_dim_v

never hidden / heads (Gemma 3 270M: hidden 640, 4 heads, 1 KV head of 256 → K = V = 256 wide).
Rows are priced with exact block arithmetic (``DType.nbytes``): q8_0 stores 32 values in 34 bytes, so a
256-wide q8_0 row is 8 × 34 = 272 B; a row whose width is not a multiple of the block size cannot be
stored at all (ggml asserts ``ne[0] % blck_size == 0`` in ggml_row_size) and is refused here too.

Layers whose KV head counts differ (``ArchConfig.extra["n_kv_heads_per_layer"]``: Nemotron-NAS's
``n_heads_in_group`` per block, DeciLM-7B's ``num_key_value_heads_per_layer``, OpenELM's
``num_kv_heads``) give one part per head count, each row ``heads × head_dim`` wide. ``layer_caches``
gives each layer's widths; a runtime that lays them out its own way (llama.cpp pads V without flash
attention, vLLM's DeciLM-7B caches the widest layer's heads everywhere) passes its own list to
``kv_cache``. Each part names the layers it holds (``KVPart.layer_ids``), so that a split by layer
(llama.cpp's ``-ngl``) prices each layer at its own width. Layers whose head widths differ
(``extra["head_dim_per_layer"]``: Gemma 4's full layers of ``global_head_dim``) cache rows of their own
width, ``heads × that width``.

Layers come in kinds, from ``ArchConfig.layer_types`` (empty means every layer is "full"):

- "full": holds every cell of the context;
- "sliding": holds a window; how many cells exactly is the runtime's business (llama.cpp keeps
  window + ubatch, padded; see runtimes/llamacpp/), so callers pass cells per kind;
- "linear" (linear attention / SSM): a fixed state per sequence, independent of the context. When
  the ArchConfig gives the state sizes (``recurrent_layers``, ``conv_state_size``, ``ssm_state_size``,
  in values: conv = (d_conv − 1) × conv channels, llama.cpp ``n_embd_r()``; ssm = heads × head dim ×
  d_state, ``n_embd_s()``) each recurrent layer holds ``(conv + ssm) × bytes of type_state``, f32 by
  default as llama.cpp keeps it (llama-memory-recurrent.cpp, ``type_r``/``type_s`` F32; vLLM and
  transformers keep the model dtype: pass ``type_state``). Parallel hybrids (Falcon-H1) hold both a KV
  row per cell and this state in the same layer. Otherwise the bytes come from
  ``ArchConfig.extra["linear_state_bytes_per_layer"]`` (a reader that computed them itself);
- "none": no cache (layers that reuse another layer's KV, and encoder-only models such as BERT, which
  attend over the whole input once and keep nothing between calls).

Encoder-decoders (T5/mT5/Flan-T5, BART, Whisper: ``ArchConfig.decoder_layers`` > 0) cache in their
decoder layers only, the encoder's attending once over the input. Each decoder layer holds:

- "full": its self-attention K/V, one row per generated (decoder) token, as a decoder-only model;
- "cross" (when the runtime caches it, ``cells["cross"]``): the cross-attention K/V of the encoder
  output, one row per encoder position: ``encoder_length × decoder_layers × 2 × (heads × d_kv) × bytes``
  per sequence. transformers' EncoderDecoderCache keeps them in ``cross_attention_cache``, computed at
  the first decoding step and reused; llama.cpp keeps none (its T5 decoder recomputes them from the
  stored encoder output, llama_cross::v_embd, at every step: runtimes/llamacpp/). The encoder length
  is the model's when it fixes one (Whisper: max_source_positions = 1500 frames), else the prompt's.

MLA (DeepSeek V2/V3, ``kv_lora_rank > 0``) has two layouts:

- "compressed" (llama.cpp, vLLM): one row of ``kv_lora_rank + rope_head_dim`` (512 + 64 = 576 for
  DeepSeek-V3) per token per layer, in K only. llama.cpp converts MLA models with
  ``head_count_kv = 1, key_length = kv_lora_rank + n_rot, value_length = kv_lora_rank`` and, since V is
  a view of the first kv_lora_rank values of that K row, allocates no V tensor
  (llama-kv-cache.cpp, llama_kv_cache::llama_kv_cache: ``has_v = !is_mla``; "V-less cache",
  llama.cpp PR #19067, January 2026). From PR #12801 (April 2025) until then llama.cpp also allocated a
  V cache of kv_lora_rank (512) per token (``MLA_V_CACHE``, set by runtimes/llamacpp/kv.py
  ``with_mla_v_cache`` for such a build: DeepSeek-V3-0324 on b5331); the default follows the current
  code, which is also what vLLM's MLA backends hold (one ``kv_lora_rank + qk_rope_head_dim`` entry per
  token).
- "expanded" (transformers' eager DynamicCache, and llama.cpp before PR #12801): K = n_heads ×
  head_dim_k (qk_nope + qk_rope = 192 for DeepSeek-V3, the reader stores that sum in head_dim_k),
  V = n_heads × head_dim_v.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from paramscope.errors import UnsupportedError
from paramscope.model import MLA_V_CACHE, UNPRICED_LAYER_TYPES, ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

LAYER_KINDS = ("full", "sliding", "linear")
CROSS = "cross"  # an encoder-decoder's cross-attention K/V of the encoder output
ENCODER_OUTPUT = "encoder output"  # the encoder's last hidden states, kept while the decoder runs
ATTENTION_KINDS = ("full", "sliding")
NO_CACHE = "none"
LINEAR_STATE_KEY = "linear_state_bytes_per_layer"  # bytes of recurrent state per layer per sequence
KV_HEADS_PER_LAYER = "n_kv_heads_per_layer"  # KV heads of each layer, where layers differ
HEAD_DIM_PER_LAYER = "head_dim_per_layer"  # K and V head width of each layer, where layers differ

MLALayout = Literal["compressed", "expanded"]


@record
class KVPart:
    """The cache of one kind of layer: ``layers × streams × cells`` rows of K and V, or a fixed state."""

    kind: str
    layers: int
    streams: int  # sequences with a cache of their own (llama.cpp: n_stream)
    cells: int  # cells per stream per layer (1 for a linear layer's state)
    k_width: int
    v_width: int
    type_k: DType
    type_v: DType
    state_bytes: int = 0  # linear layers: bytes of state per layer per stream
    layer_ids: tuple[int, ...] = ()  # the layers (decoder layer index) it holds; () when not per layer

    @property
    def layer_bytes(self) -> int:
        """What one of its layers holds."""
        return self.total_bytes // self.layers if self.layers else 0

    @property
    def k_row_bytes(self) -> int:
        return self.type_k.nbytes(self.k_width)

    @property
    def v_row_bytes(self) -> int:
        return self.type_v.nbytes(self.v_width)

    @property
    def k_bytes(self) -> int:
        return self.layers * self.streams * self.cells * self.k_row_bytes

    @property
    def v_bytes(self) -> int:
        return self.layers * self.streams * self.cells * self.v_row_bytes

    @property
    def state_total_bytes(self) -> int:
        return self.layers * self.streams * self.state_bytes

    @property
    def total_bytes(self) -> int:
        return self.k_bytes + self.v_bytes + self.state_total_bytes


@record
class KVCache:
    """The KV cache: its parts by layer kind, and how each was computed."""

    parts: tuple[KVPart, ...]
    explain: tuple[str, ...]

    @property
    def k_bytes(self) -> int:
        return sum(p.k_bytes for p in self.parts)

    @property
    def v_bytes(self) -> int:
        return sum(p.v_bytes for p in self.parts)

    @property
    def total_bytes(self) -> int:
        return sum(p.total_bytes for p in self.parts)

    def part(self, kind: str) -> KVPart | None:
        return next((p for p in self.parts if p.kind == kind), None)

    def by_kind(self) -> tuple[tuple[str, int], ...]:
        """Bytes per layer kind, the parts of one kind (layers of different widths) summed."""
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.kind] = out.get(p.kind, 0) + p.total_bytes
        return tuple(out.items())


def layer_kinds(cfg: ArchConfig) -> dict[str, int]:
    """Layers per kind, from ``layer_types`` (every layer "full" when it is empty); an encoder-decoder's
    decoder layers (the encoder caches nothing)."""
    if cfg.is_encoder_decoder and len(cfg.layer_types) != cfg.decoder_layers:
        return {"full": cfg.decoder_layers}  # layer_types (if any) were the encoder's
    types = cfg.layer_types or ("full",) * cfg.n_layers
    if len(types) != cfg.n_layers:
        raise UnsupportedError(
            f"{cfg.architecture}: layer_types lists {len(types)} layers, the model has {cfg.n_layers}")
    unknown = sorted(set(types) - {*LAYER_KINDS, NO_CACHE})
    if unknown:
        raise UnsupportedError(f"{cfg.architecture}: unknown layer kind {unknown[0]!r} "
                               f"(known: {', '.join((*LAYER_KINDS, NO_CACHE))})")
    return {kind: types.count(kind) for kind in LAYER_KINDS if kind in types}


# DeepSeek sparse attention (DeepSeek-V3.2, GLM-5: MLA with an "indexer"): the engines keep each token's
# indexer key beside the latent, 128 FP8 values and one fp32 scale per 128 (index_head_dim + index_head_dim
# // 128 × 4 = 132 B, uint8 whatever the KV type): vLLM's DeepseekV32IndexerCache (MLAAttentionSpec,
# head_size 132, uint8) and SGLang's NSATokenToKVPool (get_cell_size_per_token). A layer whose indexer is
# another's ("shared" in GLM-5.2's indexer_types, IndexShare) keeps none.
INDEXER_QUANT_BLOCK = 128


def indexer_key_bytes(cfg: ArchConfig) -> int:
    """One layer's indexer key of one token; 0 for a model without an indexer."""
    dim = cfg.extra.get("index_head_dim")
    if not cfg.is_mla or not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
        return 0
    return dim + dim // INDEXER_QUANT_BLOCK * 4


def indexer_layers(cfg: ArchConfig) -> int:
    """The layers with an indexer key cache of their own: indexer_types' "full" ones (or
    index_topk_pattern's "F"), else every layer."""
    return len(indexer_layer_ids(cfg))


def indexer_layer_ids(cfg: ArchConfig) -> tuple[int, ...]:
    """The decoder layers ``indexer_layers`` counts."""
    kinds = cfg.extra.get("indexer_types")
    if not isinstance(kinds, list | tuple):
        pattern = cfg.extra.get("index_topk_pattern")
        kinds = (tuple("full" if c == "F" else "shared" for c in pattern) if isinstance(pattern, str)
                 else pattern if isinstance(pattern, list | tuple) else None)
    if kinds is None:
        return tuple(range(cfg.n_layers))
    return tuple(il for il, k in enumerate(list(kinds)[:cfg.n_layers]) if k in ("full", "F"))


def no_pool_error(cfg: ArchConfig, engine: str) -> UnsupportedError:
    """Why a serving engine's pool cannot be sized for ``cfg``: an encoder (BERT, an embedding model:
    every layer attends both ways and caches nothing) runs in the engine's pooling runner, which keeps no
    KV cache and which paramscope does not model; any other model here has no attention layer."""
    if cfg.layer_types and set(cfg.layer_types) == {NO_CACHE} and not cfg.recurrent_layers:
        return UnsupportedError(f"{engine}: {cfg.architecture} is an encoder (its attention looks both "
                                f"ways and caches nothing): {engine} serves it in its pooling runner, "
                                f"with no KV cache, which paramscope does not size; --runtime "
                                f"transformers or llama.cpp sizes its memory")
    return UnsupportedError(f"{engine}: {cfg.architecture} has no attention layer, so no KV cache to size")


def cache_widths(cfg: ArchConfig, mla: MLALayout = "compressed") -> tuple[int, int]:
    """(K width, V width) of one cached token in one attention layer, in values."""
    if not cfg.is_mla:
        return cfg.n_kv_heads * cfg.head_dim_k, cfg.n_kv_heads * cfg.head_dim_v
    layouts = {
        # llama-kv-cache.cpp: K row = n_embd_head_k (kv_lora_rank + n_rot) × 1 head, no V tensor (a V of
        # kv_lora_rank in the llama.cpp builds of MLA_V_CACHE)
        "compressed": (cfg.kv_lora_rank + cfg.rope_head_dim,
                       cfg.kv_lora_rank if cfg.extra.get(MLA_V_CACHE) else 0),
        # transformers: key_states (heads, qk_nope + qk_rope), value_states (heads, v_head_dim)
        "expanded": (cfg.n_heads * cfg.head_dim_k, cfg.n_heads * cfg.head_dim_v),
    }
    return layouts[mla]


def check_row(dtype: DType, width: int, what: str) -> None:
    """ggml stores whole blocks only: a row of ``width`` values must fill them exactly."""
    if not dtype.fits_blocks(width):
        raise UnsupportedError(
            f"{what} row of {width} values cannot be stored as {dtype.value.lower()}: "
            f"it stores blocks of {dtype.block_size} values, and {width} is not a multiple of "
            f"{dtype.block_size}")


def plain_cells(cfg: ArchConfig, context: int, encoder_length: int | None = None) -> dict[str, int]:
    """What a layer must hold, with no runtime padding: the context, or the window when shorter; an
    encoder-decoder's cross-attention, every encoder position (``encoder_cells``)."""
    window = cfg.sliding_window or context
    cells = {"full": context, "sliding": min(window, context)}
    if cfg.is_encoder_decoder:
        cells[CROSS] = encoder_cells(cfg, context, encoder_length)
    return cells


def encoder_cells(cfg: ArchConfig, context: int, encoder_length: int | None = None) -> int:
    """Positions of the encoder output: the model's fixed length (Whisper's 1500 frames), else the one
    asked for, else the context (a prompt as long as the answer)."""
    if cfg.encoder_length:
        return cfg.encoder_length
    return encoder_length or context


@record
class LayerCache:
    """What one layer caches per cell: its kind ("full" or "sliding") and its K and V row widths."""

    kind: str
    k_width: int
    v_width: int


def layer_caches(cfg: ArchConfig, mla: MLALayout = "compressed") -> tuple[LayerCache | None, ...]:
    """Each layer's K and V widths (None: a layer keeping no K/V rows, "linear" or "none"), from
    ``layer_types`` and, where layers differ, ``extra[KV_HEADS_PER_LAYER]``; an encoder-decoder's
    decoder layers. Uniform models: ``cache_widths`` in every attention layer."""
    k_width, v_width = cache_widths(cfg, mla)
    kinds = layer_kinds(cfg)  # validates layer_types
    if cfg.is_encoder_decoder and len(cfg.layer_types) != cfg.decoder_layers:
        types: tuple[str, ...] = ("full",) * kinds.get("full", 0)
    else:
        types = cfg.layer_types or ("full",) * cfg.n_layers
    per_layer = kv_heads_per_layer(cfg)
    widths = head_dims_per_layer(cfg)
    out: list[LayerCache | None] = []
    for il, kind in enumerate(types):
        if kind not in ATTENTION_KINDS:
            out.append(None)
        elif per_layer is None and widths is None:
            out.append(LayerCache(kind, k_width, v_width))
        else:
            heads = per_layer[il] if per_layer is not None else cfg.n_kv_heads
            k, v = (widths[il], widths[il]) if widths is not None else (cfg.head_dim_k, cfg.head_dim_v)
            out.append(LayerCache(kind, heads * k, heads * v))
    return tuple(out)


def head_dims_per_layer(cfg: ArchConfig) -> tuple[int, ...] | None:
    """K and V head width of every layer where the config gives them per layer (None: head_dim_k /
    head_dim_v everywhere): Gemma 4's full layers use global_head_dim (families/gemma4.py)."""
    widths = cfg.extra.get(HEAD_DIM_PER_LAYER)
    types = cfg.layer_types or ("full",) * cfg.n_layers
    if cfg.is_mla or not isinstance(widths, tuple | list) or len(widths) != len(types):
        return None
    return tuple(int(w) for w in widths)


def kv_heads_per_layer(cfg: ArchConfig) -> tuple[int, ...] | None:
    """KV heads of every layer where the config lists them per layer (None: ``n_kv_heads`` everywhere;
    MLA caches a latent, not heads)."""
    per_layer = cfg.extra.get(KV_HEADS_PER_LAYER)
    types = cfg.layer_types or ("full",) * cfg.n_layers
    if cfg.is_mla or not isinstance(per_layer, tuple | list) or len(per_layer) != len(types):
        return None
    return tuple(int(h) for h in per_layer)


def kv_cache(
    cfg: ArchConfig,
    cells: Mapping[str, int],
    *,
    streams: int = 1,
    type_k: DType = DType.F16,
    type_v: DType = DType.F16,
    mla: MLALayout = "compressed",
    type_state: DType = DType.F32,
    layers: Sequence[LayerCache | None] | None = None,
) -> KVCache:
    """Bytes of the cache when each attention kind holds ``cells[kind]`` cells in each of ``streams``.

    ``layers``: each layer's widths as the runtime lays them out (default ``layer_caches``). Layers of
    one kind and the same widths make one part, in order of first appearance."""
    counts = layer_kinds(cfg)
    k_width, v_width = cache_widths(cfg, mla)
    per_layer = layer_caches(cfg, mla) if layers is None else tuple(layers)
    parts = []
    # the kinds the layers are held as: a runtime may hold a kind as another (SGLang's one-kind pool
    # holds a sliding layer as a full one; a model whose every layer slides then has only "full" ones)
    held = {layer.kind: 0 for layer in per_layer if layer is not None and layer.kind not in counts}
    for kind, n_layers in {**counts, **held}.items():
        if kind == "linear":
            if not _has_state_sizes(cfg):
                parts.append(_linear_part(cfg, n_layers, streams, type_k, type_v))
            continue
        groups: dict[tuple[int, int], list[int]] = {}
        for il, layer in enumerate(per_layer):
            if layer is not None and layer.kind == kind:
                groups.setdefault((layer.k_width, layer.v_width), []).append(il)
        for (k, v), ids in groups.items():
            check_row(type_k, k, "K")
            check_row(type_v, v, "V")
            parts.append(KVPart(kind, len(ids), streams, cells[kind], k, v, type_k, type_v,
                                layer_ids=tuple(ids)))
    if cfg.is_encoder_decoder and cells.get(CROSS):
        parts.append(KVPart(CROSS, cfg.decoder_layers, streams, cells[CROSS], k_width, v_width, type_k,
                            type_v))
    if _has_state_sizes(cfg):
        state = type_state.nbytes(cfg.conv_state_size + cfg.ssm_state_size)
        parts.append(KVPart("linear", cfg.recurrent_layers, streams, 1, 0, 0, type_state, type_state,
                            state_bytes=state))
    return KVCache(tuple(parts), tuple(_explain(p, cfg.is_encoder_decoder) for p in parts))


def encoder_width(cfg: ArchConfig) -> int:
    return cfg.encoder_hidden_size or cfg.hidden_size


def with_encoder_output(kv: KVCache, cfg: ArchConfig, streams: int, cells: int, dtype: DType) -> KVCache:
    """``kv`` plus the encoder's output hidden states an encoder-decoder holds while it generates
    (transformers: ``encoder_outputs.last_hidden_state``, streams × cells × hidden in the model dtype;
    llama.cpp: llama_cross::v_embd, cells × hidden f32): one row of ``hidden_size`` per position."""
    part = KVPart(ENCODER_OUTPUT, 1, streams, cells, encoder_width(cfg), 0, dtype, dtype)
    return KVCache((*kv.parts, part), (*kv.explain, _explain(part)))


def _has_state_sizes(cfg: ArchConfig) -> bool:
    return cfg.recurrent_layers > 0 and cfg.conv_state_size + cfg.ssm_state_size > 0


def kv_cache_for_context(cfg: ArchConfig, context: int, n_seq: int = 1, *,
                         encoder_length: int | None = None, **kwargs) -> KVCache:
    """The runtime-neutral cache: every sequence holds the context (sliding layers: the window; an
    encoder-decoder's cross-attention: the encoder output)."""
    return kv_cache(cfg, plain_cells(cfg, context, encoder_length), streams=n_seq, **kwargs)


def _linear_part(cfg: ArchConfig, layers: int, streams: int, type_k: DType, type_v: DType) -> KVPart:
    state = cfg.extra.get(LINEAR_STATE_KEY)
    if not isinstance(state, int) or state < 0:
        unknown = cfg.extra.get(UNPRICED_LAYER_TYPES)
        kinds = (f" (transformers calls them {', '.join(map(str, unknown))}, a kind paramscope does not "
                 f"price)") if isinstance(unknown, tuple | list) and unknown else ""
        raise UnsupportedError(
            f"{cfg.architecture}: {layers} {'layer keeps' if layers == 1 else 'layers keep'} a recurrent or "
            f"compressed state{kinds}, whose size "
            f"per sequence paramscope does not know, so its cache cannot be sized")
    return KVPart("linear", layers, streams, 1, 0, 0, type_k, type_v, state_bytes=state)


def element_cost(dtype: DType) -> str:
    """'2 B' for f16, '34 B / 32' for q8_0: the price of one value, as a fraction when blocked."""
    if dtype.block_size == 1:
        return f"{dtype.type_size} B"
    return f"{dtype.type_size} B / {dtype.block_size}"


def _explain(p: KVPart, decoder: bool = False) -> str:
    streams = f" × {p.streams} seqs" if p.streams != 1 else ""
    # an encoder-decoder's full/sliding layers are its decoder's self-attention, beside "cross"
    kind = f"{p.kind} (self-attention)" if decoder and p.kind in ATTENTION_KINDS else p.kind
    head = f"{kind}: {p.layers} layers{streams}"
    if p.kind == "linear":
        return f"{head} × {p.state_bytes:,} B state = {p.total_bytes:,} B"
    if p.kind == ENCODER_OUTPUT:
        return (f"{p.kind}: {p.streams} seqs × {p.cells} positions × {p.k_width} × "
                f"{element_cost(p.type_k)} = {p.total_bytes:,} B")
    if p.type_k == p.type_v:
        row = f"({p.k_width} + {p.v_width}) × {element_cost(p.type_k)}"
    else:
        row = f"({p.k_width} × {element_cost(p.type_k)} + {p.v_width} × {element_cost(p.type_v)})"
    cells = "encoder cells (cross-attention)" if p.kind == CROSS else "cells"
    return f"{head} × {p.cells} {cells} × {row} = {p.total_bytes:,} B"


def kv_part_explain(part: KVPart, decoder: bool = False) -> str:
    """The explain line of one part, as ``kv_cache`` writes it."""
    return _explain(part, decoder)


def with_changed_parts(kv: KVCache, kind: str, **changes: int) -> KVCache:
    """``kv`` with every part of ``kind`` changed (KVPart fields: streams, state_bytes…), its explain lines
    written again; the other parts and lines as they were."""
    parts = tuple(replace(p, **changes) if p.kind == kind else p for p in kv.parts)
    explain = tuple(_explain(p) if p.kind == kind else line
                    for p, line in zip(parts, kv.explain, strict=True))
    return KVCache(parts, explain)
