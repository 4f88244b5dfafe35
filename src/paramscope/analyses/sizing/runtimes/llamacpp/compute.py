"""The compute buffer (llama_context::sched_reserve's worst-case ubatch): ggml-alloc replayed on the
rebuilt graph where paramscope has one (graph.py), else a per-phase estimate; the output buffer.
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import (
    ATTENTION_KINDS,
    KVCache,
    cache_widths,
    head_dims_per_layer,
    layer_caches,
)
from paramscope.analyses.sizing.runtimes.common import routed_ffn_width
from paramscope.analyses.sizing.runtimes.llamacpp.graph import compute_buffer_bytes, graph_arch, has_graph
from paramscope.analyses.sizing.runtimes.llamacpp.kv import cache_head_dims, encoder_only
from paramscope.analyses.sizing.runtimes.llamacpp.params import LlamaCppParams
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import record

F32, F16, I32, I64 = 4, 2, 4, 8  # bytes of the graph's element types


@record
class ComputeBuffer:
    """The worst-case graph's buffer (see ``compute_buffer``): ggml-alloc replayed on llama.cpp's graph
    (``graph_bytes``) where paramscope builds that graph, else the larger of the two per-phase peaks."""

    logits_phase: int
    attention_phase: int
    explain: tuple[str, ...]
    graph_bytes: int | None = None
    ffn_phase: int = 0  # the FFN's gate and up, held together (``compute_buffer``)
    # live in a split that runs one MoE expert product (offload.py gpu_compute_with_host_experts): the
    # graph's inputs (masks, rotations) and the layer's MoE activations; 0 for a dense model
    moe_split_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        if self.graph_bytes is not None:
            return self.graph_bytes
        return max(self.logits_phase, self.attention_phase, self.ffn_phase)


def rotation_bytes(dtype: DType, head_dim: int, largest: bool) -> int:
    """Hadamard matrix fed to the graph for a quantized cache (llama-kv-cache.cpp, build_input_k_rot).

    K: the largest power of two ≥ 64 dividing the head dim (256 for Gemma 3); V: 64. f32, n × n.
    """
    if not dtype.info.quantized or head_dim == 0 or head_dim % 64:
        return 0
    n = 64
    while largest and head_dim % (n * 2) == 0:
        n *= 2
    return n * n * F32


def compute_buffer(cfg: ArchConfig, p: LlamaCppParams, kv: KVCache, type_k: DType = DType.F16,
                   type_v: DType = DType.F16, backend: str = "cpu", replay: bool = True,
                   f16_kv_copies: bool = False) -> ComputeBuffer:
    """The graph buffer of the worst-case ubatch (sched_reserve: n_ubatch tokens, every token an output).

    For a current build of the architectures graph.py rebuilds (llama, qwen2, qwen3, qwen3moe,
    gemma3, phi3, gpt-oss): ggml-alloc replayed on that graph (ggml_graph.reserve), which is the byte
    count llama.cpp prints. Otherwise (other architectures, legacy builds, or ``replay`` False) the
    per-phase estimate below, whose two phases are also reported.

    ``backend`` "gpu": a GPU backend takes part in the graph (all layers offloaded, or CPU weights with
    the GPU running the big batches), and the buffer llama.cpp prints lacks the ``inp_embd`` input, the
    n_embd x n_tokens x 4 B that the graph holds for embeddings given instead of tokens and that nothing
    consumes otherwise: ggml_backend_sched places graph inputs on the CPU backend and a GPU only receives
    copies of those its ops read. Exact on a CUDA log (Qwen3-4B, DGX Spark, 2026), on Gemma 3 1B and 4B on
    Metal (build 8185) and on a CPU buffer with Metal offload (Llama 3.2 1B, iPhone): each printed one
    such tensor less than the CPU replay, which is exact on the CPU alone (llama-cpp-python 0.3.36).

    The estimate: ggml-alloc's high-water mark is the larger of two moments:

    - the output matmul: the logits (n_outputs × n_vocab × 4 B), the last layer's hidden state for every
      token of the graph, the rows inp_out_ids selects from it (n_outputs × n_embd × 4 B each) and
      inp_out_ids itself (n_outputs × 4 B); n_outputs is n_ubatch, the graph's tokens n_ubatch rounded up
      to a multiple of n_seq (``resolve_params``);
    - inside an attention layer, while the masks (inputs live until the last layer uses them) are
      held: KQ without flash attention (n_kv × n_ubatch × n_head × 4 B; the softmax runs in place),
      the masks (f32, or f16 with flash attention: n_kv × n_ubatch per cache; the builds before b9410 also
      hold an f32 mask while it is cast, params.py F32_MASK_BUILDS), the Hadamard matrices of
      a quantized cache, and activations per token. Those per-token activations are fitted on
      Gemma 3 270M (exact there from n_ubatch 64 to 2048 and n_ctx 768 to 1M) and named after the graph
      tensors they match; other architectures: an estimate;
    - inside the FFN: its gate and up outputs, f32, both held until the GLU multiplies them (llama.cpp's
      build_ffn / build_moe_ffn: ``ggml_mul(silu(gate), up)`` or one swiglu of the two; for a mixture of
      experts each is [n_ff_exp, n_expert_used, n_tokens], the experts a token is routed to): n_tokens ×
      2 × the widest MLP × 4 B, a lower bound of that moment (with flash attention the attention phase
      above already counts them). Mixtral 8x7B at n_ubatch 512: 2 × 14336 × 2 × 512 × 4 B = 112 MiB,
      where the attention and logits phases give 73; build 2688 on Metal printed 115.5.
    """
    out, t = p.n_outputs or p.n_ubatch, p.n_tokens or p.n_ubatch
    on_gpu = backend == "gpu"
    # an encoder-only embedding model (BERT: every layer "none", no cache) has no LM head: its graph ends
    # in the pooled or per-token embeddings, no logits (llm_build_bert: no build_lora_mm(model.output, …))
    encoder = encoder_only(cfg)
    logits = 0 if encoder else out * cfg.vocab_size * F32
    # the CPU graph also holds inp_embd (t x n_embd), the GPU's does not (see above); builds before May
    # 2025 made it only for a batch of embeddings (llm_build_inp_embd: the token ids, or the embeddings):
    # Pythia 1.4B on an arm64 CPU, build 4775, printed 102.25 MiB, the logits and the last hidden state,
    # as its Metal run of the same command (ggml-org/ci)
    # builds from b11401 hold one more n_tokens × n_embd input beside it, the mixed path's dup
    embd = (t if p.embd_input and not on_gpu else 0) + (t if p.mixed_batch and not on_gpu else 0)
    logits_rest = (embd + out) * cfg.hidden_size * F32 + out * I32
    # one mask, one set of index and rotation inputs per cache (full, sliding), however many head counts
    # its layers have (llama-kv-cache.cpp build_input_*: one input of the cache for all its layers)
    caches = {part.kind: part.cells for part in kv.parts if part.kind in ATTENTION_KINDS}
    mask_elt = F16 if p.flash_attn else F32
    masks = sum(cells * t * mask_elt for cells in caches.values())
    # builds before PR 23764 (params.py F32_MASK_BUILDS): an f32 mask beside its f16 cast while the cast
    # runs, before the first attention layer's FFN; each cache's mask is cast (and its f32 copy freed) on
    # its own, so the largest one
    cast = max(caches.values(), default=0) * t * F32 if p.flash_attn and p.f32_mask else 0
    # without flash attention the scores: over the cache's cells, or an encoder's over its own tokens
    kv_len = t if encoder else max(caches.values(), default=0)
    kq = 0 if p.flash_attn else kv_len * t * cfg.n_heads * F32
    head_k, head_v = cache_head_dims(cfg)
    # flash attention "auto" resolved off (flash_attention.py): the cache was made with V untransposed,
    # so each layer copies its V transposed beside the scores (build_attn_mha's v_cont), one layer's at a
    # time: the cache's cells × the layer's V width in the cache's type. An encoder's V (no cache: the
    # layer's own f32 projection, laid out untransposed) is copied so whenever flash attention is off,
    # from the builds that dropped its cache (legacy builds wrote it into a cache, kv.py)
    # An MLA cache's V is a view of the latent K rows, never transposed: copied whenever flash attention
    # is off. Every stream's cells are copied at once (the view spans the streams)
    # the widest layer's V (Gemma 4's full layers: 512-wide heads beside the sliding layers' 256)
    v_width = max((layer.v_width for layer in layer_caches(cfg) if layer is not None),
                  default=cache_widths(cfg)[1])
    v_bytes = type_v.info.type_size / type_v.info.block_size
    mla_view = cfg.is_mla and head_v == 0
    if p.flash_attn or (encoder and p.legacy) or (p.v_transposed and not encoder and not mla_view):
        v_copy = 0
    elif encoder:
        v_copy = t * cfg.n_kv_heads * cfg.head_dim_v * F32
    else:
        width = cfg.kv_lora_rank if mla_view else v_width
        v_copy = round(kv_len * width * v_bytes) * p.n_streams
    rot = len(caches) * (rotation_bytes(type_k, head_k, True) + rotation_bytes(type_v, head_v, False))
    per_token = _attention_token_bytes(cfg, p, len(caches))
    ffn_width = widest_ffn(cfg)
    # Gemma 3n / 4's per-layer inputs (gemma4.cpp project_per_layer_inputs): every layer's slice, made
    # before the first layer and held until the last reads its own, f32
    per_layer = t * cfg.n_layers * per_layer_input_width(cfg) * F32
    # CUDA / ROCm from PR 23907 (``f16_kv_copies``): a flash attention result holds f16 copies of its
    # layer's quantized K and V (ggml_graph.py flash_attn_f16_extra), the largest layer's (its cells ×
    # its own widths: Gemma 4's full layers are not its widest); a moment of its own, beside the masks, the
    # layer's query and output and the residual, not the FFN's activations the fitted phase holds
    f16_copies = 0
    if f16_kv_copies and p.flash_attn and caches:
        f16_copies = max((caches.get(layer.kind, 0) * p.n_streams
                          * ((layer.k_width if type_k != DType.F16 else 0)
                             + (layer.v_width if type_v != DType.F16 and not mla_view else 0)) * F16
                          for layer in layer_caches(cfg) if layer is not None), default=0)
    attention = attention_sum = kq + v_copy + masks + rot + t * per_token + per_layer
    fa_moment = 0
    if f16_copies:
        head_q = widest_heads(cfg)[0]
        fa_moment = (masks + rot + per_layer + f16_copies
                     + t * (2 * cfg.n_heads * head_q + cfg.hidden_size) * F32)
        fa_line = (f"flash attention moment (CUDA, PR 23907): f16 copies of the quantized K/V "
                   f"{f16_copies:,} B + masks {masks:,} B + {t} × (2 × {cfg.n_heads} × {head_q} + "
                   f"{cfg.hidden_size}) × 4 B query, output and residual = {fa_moment:,} B")
        attention = max(attention, fa_moment)
    cast_phase = masks + cast + rot + t * (per_token - 2 * ffn_width * F32) + per_layer if cast else 0
    attention = max(attention, cast_phase)
    ffn = t * 2 * ffn_width * F32 + per_layer
    # a mixture of experts' down projection (build_moe_ffn's mul_mat_id): its output, n_embd for each of
    # the k experts a token is routed to, beside their GLU output it reads (k × n_ff); the gate and up
    # outputs (k × n_ff each) are freed by then, and where the down output is the larger (fine-grained
    # experts, n_embd > 2 × n_ff) it does not fit the hole they leave, so the buffer grows as if they were
    # held (the replayed Qwen3-30B-A3B graph at -ub 2048 with one output row: 400 MiB, of which 256 live
    # at the peak; this phase 352, without the hole 272; Mixtral's wide experts reuse it). The residual
    # and the normed input the experts read stay live (build_moe_ffn expands the routed experts first: a
    # shared expert or Gemma 4's dense MLP runs after them). Before it, the moment the GLU output is made
    # beside the gate and up outputs it reads (3 × k × n_ff; the builds of mid-2025 and earlier ran their
    # experts otherwise: Mixtral on b2688 printed 115.5 MiB where the gate and up alone give 112)
    k_used = cfg.n_experts_per_token if cfg.is_moe else 0
    n_ff_exp = cfg.expert_ffn_size
    hole = 2 * n_ff_exp if cfg.hidden_size > 2 * n_ff_exp else 0
    moe_down = (t * (k_used * (n_ff_exp + hole + cfg.hidden_size) + 2 * cfg.hidden_size) * F32
                + masks + per_layer) if k_used else 0
    moe_glu = (t * (3 * k_used * n_ff_exp + 2 * cfg.hidden_size) * F32 + masks + per_layer
               if k_used and not p.legacy else 0)
    # a shared expert (DeepSeek, GLM, Llama 4, Qwen2-MoE) runs after the routed ones, whose summed output
    # waits beside its gate, up and product, with the residual and the normed input
    shared = shared_expert_width(cfg)
    moe_shared = (t * (3 * shared + 3 * cfg.hidden_size) * F32 + masks + per_layer
                  if k_used and shared and not p.legacy else 0)
    ffn = max(ffn, moe_down, moe_glu, moe_shared)
    hidden_rows = f"({t} + {out})" if embd else f"{out}"
    while_cast = (f"; or, while the largest f32 mask ({cast:,} B) is cast, {cast_phase:,} B"
                  if cast else "")
    explain = (
        f"logits phase: {out} × {cfg.vocab_size} × 4 B logits + {hidden_rows} × {cfg.hidden_size} × 4 B "
        f"+ {out} × 4 B = {logits + logits_rest:,} B",
        f"attention phase: KQ {kq:,} B"
        + (f" + V copied transposed {v_copy:,} B" if v_copy else "")
        + f" + masks {masks:,} B + rotations {rot:,} B "
        f"+ {t} × {per_token:,} B activations"
        f" = {attention_sum:,} B{while_cast}",
        *((fa_line,) if fa_moment else ()),
        f"FFN phase: gate and up, {t} × 2 × {ffn_width} × 4 B"
        + (f" + per-layer inputs {t} × {cfg.n_layers} × {per_layer_input_width(cfg)} × 4 B" if per_layer
           else "") + f" = {ffn:,} B",
    )
    if backend not in ("cpu", "gpu"):
        raise UnsupportedError(f"unknown llama.cpp backend kind {backend!r} (known: cpu, gpu)")
    # one expert product's split: the inputs stay (graph leaves), with the layer's MoE activations: its
    # input and the residual, gate, up and their product (k × n_ff_exp each), and the experts' outputs
    # before they are weighted and summed (k × n_embd)
    k = cfg.n_experts_per_token
    moe_split = (masks + rot + t * (2 * cfg.hidden_size + 3 * k * cfg.expert_ffn_size + k * cfg.hidden_size)
                 * F32) if cfg.is_moe else 0
    if p.legacy or not replay or not has_graph(cfg):
        return ComputeBuffer(logits + logits_rest, attention, explain, ffn_phase=ffn,
                             moe_split_bytes=moe_split)
    graph_bytes, n_nodes = compute_buffer_bytes(
        cfg, n_ubatch=p.n_ubatch, n_outputs=out, n_tokens=t, n_seqs=p.n_seq, n_streams=p.n_streams,
        kv_unified=p.kv_unified, flash_attn=p.flash_attn,
        cells={"full": p.n_ctx_seq, "sliding": p.swa_cells}, type_k=type_k, type_v=type_v, on_gpu=on_gpu,
        mixed_batch=p.mixed_batch, f32_mask=p.f32_mask, v_trans=p.v_trans,
        f16_kv_copies=f16_kv_copies and p.flash_attn and (type_k != DType.F16 or type_v != DType.F16))
    where = ", a GPU backend's buffer: no inp_embd" if on_gpu else ""
    if cast:
        where += ", the f32 mask beside its f16 cast (a build before b9410)"
    graph_line = (f"ggml-alloc on llama.cpp's {graph_arch(cfg)} graph ({n_nodes} nodes, {t} tokens, "
                  f"{out} outputs{where}): {graph_bytes:,} B; the per-phase estimate, for comparison:")
    return ComputeBuffer(logits + logits_rest, attention, (graph_line, *explain), graph_bytes, ffn, moe_split)


def widest_ffn(cfg: ArchConfig) -> int:
    """The widest MLP's intermediate values per token: the routed experts', or the dense FFN's, twice as
    wide in the KV-sharing layers of a Gemma 4 with ``use_double_wide_mlp`` (gemma4.cpp: hparams.n_ff(il)
    per layer)."""
    double = cfg.extra.get("use_double_wide_mlp") is True and bool(cfg.extra.get("num_kv_shared_layers"))
    per_layer = cfg.extra.get("ffn_size_per_layer")  # a GGUF's feed_forward_length array
    widest = max(per_layer) if isinstance(per_layer, tuple | list) and per_layer else 0
    return max(routed_ffn_width(cfg), cfg.ffn_size * (2 if double else 1), int(widest))


def shared_expert_width(cfg: ArchConfig) -> int:
    """The shared expert MLP's width (all shared experts as one: DeepSeek's n_shared × expert width,
    Qwen2-MoE's shared_expert_intermediate_size; a GGUF's expert_shared_feed_forward_length); 0 without."""
    for key in ("shared_expert_ffn_size", "expert_shared_ffn_size"):
        value = cfg.extra.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return cfg.n_shared_experts * cfg.expert_ffn_size


def per_layer_input_width(cfg: ArchConfig) -> int:
    """Gemma 3n / 4's ``hidden_size_per_layer_input`` (0 elsewhere)."""
    value = cfg.extra.get("hidden_size_per_layer_input")
    return value if isinstance(value, int) else 0


def widest_heads(cfg: ArchConfig) -> tuple[int, int]:
    """The widest layer's K and V head (Gemma 4's full-attention layers: 512 values a head beside 256)."""
    widths = head_dims_per_layer(cfg)
    return (max(widths), max(widths)) if widths else (cfg.head_dim_k, cfg.head_dim_v)


def _attention_token_bytes(cfg: ArchConfig, p: LlamaCppParams, n_caches: int) -> int:
    """Per-token bytes live beside the masks (fitted, see ``compute_buffer``)."""
    head_k, head_v = widest_heads(cfg)
    q = cfg.n_heads * head_k * F32  # one query-sized f32 tensor per token
    kqv = cfg.n_heads * head_v * F32  # attention output
    hidden = 3 * cfg.hidden_size * F32  # residual stream, normed input, attention output projected
    inputs = 3 * I32  # inp_tokens, inp_pos, inp_out_ids
    _, v_width = cache_widths(cfg)
    # legacy builds copy K and V into the cache with ggml_cpy: no index inputs
    k_idxs, v_idxs = (0, 0) if p.legacy else (I64, (v_width * I64 if p.v_transposed else I64))
    if p.flash_attn:
        # Q twice (rope output and the contiguous copy flash attention reads), k_idxs and v_idxs
        # (one i64 per token each, per cache), and the FFN's gate and up, live at the same time
        # (for a mixture of experts: the gate and up of the k experts a token is routed to, ffn_moe_gate/up
        # [n_ff_exp, n_expert_used, n_tokens])
        ffn = widest_ffn(cfg)
        return 2 * q + kqv + hidden + inputs + n_caches * (k_idxs + v_idxs) + 2 * ffn * F32
    # without flash attention V is stored transposed: v_idxs holds one i64 per value written
    return q + kqv + hidden + inputs + n_caches * (k_idxs + v_idxs)


def output_buffer(cfg: ArchConfig, n_seq: int, n_outputs: int, embeddings: bool, legacy: bool = False,
                  pooled: bool = False) -> int:
    """llama_context::output_reserve: n_vocab floats (+ n_embd with embeddings) per output row.

    The context reserves n_seq rows; a decode asking for more outputs grows it (at most n_batch rows).
    ``legacy`` builds (params.py NO_POOLED_OUTPUT_BUILDS) reserved nothing for pooled embeddings (they go
    to a map of their own): "output buffer size = 0.00 MiB" for BGE-small with CLS pooling (b4410) and for
    Qwen3-Embedding-8B with --pooling mean (b5618); with embeddings unpooled, the logits and the
    embeddings as today, which is what Ollama's runners hold (they turn embeddings on for every model and
    patch the reserve to keep the logits); mainline builds of then reserved the embeddings only there
    (``has_logits = !embeddings``): not modelled, no log of it.
    """
    if legacy and embeddings and pooled:
        return 0
    return max(n_outputs, n_seq) * (cfg.vocab_size + (cfg.hidden_size if embeddings else 0)) * F32
