"""Hugging Face transformers: eager ``model.generate()`` with its default cache, on one GPU, or spread
over GPUs, CPU RAM and disk by ``from_pretrained(device_map=…, max_memory=…)`` (``split``: the placement
is analyses/sizing/device_map.py, transformers' own rule).

Describes transformers ≥ 4.56 (and 5.x), where ``generate`` builds ``DynamicCache(config=...)``
(generation/utils.py ``_prepare_cache_for_generation``): one ``DynamicLayer`` per full-attention layer
and one ``DynamicSlidingWindowLayer`` per sliding layer (cache_utils.py ``DYNAMIC_LAYER_TYPE_MAPPING``).
Since PR #40135 (August 2025) the hub default ``cache_implementation="hybrid"`` of Gemma 2/3 is ignored;
before 4.56 those models got the static ``HybridCache`` instead (full layers pre-allocated to
``max_length``, sliding layers to the window).

The peak is the prefill of ``context`` tokens, at the last layer: every layer's cache is written, and that
layer's activations are live. Then generate computes logits for the last position only.

Exact: the cache (analyses/sizing/kv_cache.py with the cells DynamicCache really keeps). Estimated: the
activation terms (tensors named after the modeling code; the caching allocator's rounding and
fragmentation are not modelled) and the CUDA context. docs/runtimes.md has the sources and numbers.
"""

from __future__ import annotations

from typing import Any

from paramscope.analyses.sizing.device_map import (
    CPU,
    DISK,
    DeviceMap,
    device_map,
    parse_max_memory,
    tied_copies,
)
from paramscope.analyses.sizing.kv_cache import (
    CROSS,
    KVCache,
    cache_widths,
    encoder_cells,
    kv_cache,
    kv_cache_for_context,
    with_encoder_output,
)
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype, model_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.common import CUDA_CONTEXT_BYTES, routed_ffn_width
from paramscope.errors import UnsupportedError, UsageError
from paramscope.knowledge.roles import place
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

MiB, GiB = 1 << 20, 1 << 30
F32 = 4


# attn_implementation → whether the (batch, heads, q, kv) score matrix is materialised. SDPA with no
# padding mask runs is_causal on the flash / memory-efficient kernels (integrations/sdpa_attention.py);
# flash-attention never builds it (integrations/flash_attention.py).
MATERIALISES_SCORES = {"eager": True, "sdpa": False, "flash_attention_2": False, "flash_attention_3": False}
# DynamicCache stores what the k/v projections produce: the model dtype
CACHE_TYPES = (DType.F32, DType.F16, DType.BF16)


@record
class TransformersMemory:
    context: int
    batch: int
    dtype: DType
    attn_implementation: str
    model_bytes: int
    kv: KVCache  # at the end of prefill: the peak
    kv_decode: KVCache  # after the first decoded token, sliding layers cut to their window
    attention_bytes: int  # one attention layer's live activations at prefill
    mlp_bytes: int  # one MLP's live activations at prefill
    logits_bytes: int  # last-position logits, fp32 copy and probabilities
    cuda_context_bytes: int
    explain: tuple[str, ...]

    @property
    def weights_bytes(self) -> int:
        return self.model_bytes

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv.total_bytes

    @property
    def compute_bytes(self) -> int:
        """The largest of the phases, which never overlap: attention, MLP, logits."""
        return max(self.attention_bytes, self.mlp_bytes, self.logits_bytes)

    @property
    def peak_phase(self) -> str:
        phases = {"attention": self.attention_bytes, "mlp": self.mlp_bytes, "logits": self.logits_bytes}
        return max(phases, key=phases.__getitem__)

    @property
    def overhead_bytes(self) -> int:
        return self.cuda_context_bytes

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.overhead_bytes


def mlp_bytes(cfg: ArchConfig, tokens: int, b: int) -> int:
    """modeling_llama.LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)). act(gate), up and their
    product are live together (3 × ffn), beside the residual and the normed input (2 × hidden)."""
    return tokens * (2 * cfg.hidden_size + 3 * routed_ffn_width(cfg)) * b


def attention_bytes(cfg: ArchConfig, context: int, batch: int, b: int, scores: bool) -> int:
    """One attention layer at prefill: residual + normed input, Q and its RoPE copy, K (projection, RoPE
    copy, the cache's concatenated copy), V (projection, cache copy), the output; with eager attention
    also the scores, the 4-D mask and the repeat_kv copies (modeling_llama.eager_attention_forward)."""
    tokens = batch * context
    k_width, v_width = cache_widths(cfg, "expanded")
    q_width, o_width = cfg.n_heads * cfg.head_dim_k, cfg.n_heads * cfg.head_dim_v
    live = tokens * (2 * cfg.hidden_size + 2 * q_width + 3 * k_width + 2 * v_width + o_width) * b
    if not scores:
        return live + batch * cfg.n_heads * context * F32  # the kernel's logsumexp, fp32
    return live + eager_scores_bytes(cfg, context, batch, b)


def eager_scores_bytes(cfg: ArchConfig, context: int, batch: int, b: int) -> int:
    """matmul(q, kᵀ) × scaling + mask in the model dtype, then softmax(dtype=float32) while its input is
    still live: (b + 4) B per score; the additive mask (batch, 1, q, kv) in the model dtype; repeat_kv
    expands K and V to every query head (not when there is one query head per KV head)."""
    scores = batch * cfg.n_heads * context * context * (b + F32)
    mask = batch * context * context * b
    grouped = cache_widths(cfg, "expanded")[0] < cfg.n_heads * cfg.head_dim_k
    repeated = batch * context * cfg.n_heads * (cfg.head_dim_k + cfg.head_dim_v) * b if grouped else 0
    return scores + mask + repeated


def logits_bytes(cfg: ArchConfig, batch: int, b: int) -> int:
    """generate sets logits_to_keep = 1, so lm_head runs on the last position only (model dtype);
    _sample copies it to fp32 (``outputs.logits[:, -1, :].to(copy=True, dtype=torch.float32)``) and
    softmax gives fp32 probabilities when sampling."""
    return batch * cfg.vocab_size * (b + F32 + F32)


def prefill_cells(cfg: ArchConfig, context: int, encoder_length: int | None = None) -> dict[str, int]:
    """Cells each layer holds when prefill ends: all of them, sliding layers too.

    An encoder-decoder's generate wraps two DynamicCaches in an EncoderDecoderCache: the decoder's
    self-attention (``context`` generated tokens) and ``cross_attention_cache``, which every decoder
    layer fills once with the K/V of the whole encoder output and then reuses (is_updated).

    DynamicSlidingWindowLayer.update keeps ``full_key_states[:, :, -sliding_window + 1:, :]``, a view,
    so the whole concatenated prompt stays allocated until the layer's next update (the first decoded
    token) replaces it with a window-sized tensor.
    """
    cells = {"full": context, "sliding": context}
    if cfg.is_encoder_decoder:
        cells[CROSS] = encoder_cells(cfg, context, encoder_length)
    return cells


def check_types(cfg: ArchConfig, dtype: DType, kv_type: DType, attn: str) -> None:
    rules = (
        (attn in MATERIALISES_SCORES,
         f"unknown attn_implementation {attn!r} (known: {', '.join(MATERIALISES_SCORES)})"),
        (dtype in CACHE_TYPES, f"transformers runs in f32, f16 or bf16, not {dtype.value.lower()}"),
        (kv_type == dtype, f"DynamicCache stores K and V in the model dtype ({dtype.value.lower()}), "
                           f"not {kv_type.value.lower()}"),
    )
    for ok, message in rules:
        if not ok:
            raise UnsupportedError(f"transformers: {message}")


def transformers_memory(
    cfg: ArchConfig,
    weights_bytes: int,
    *,
    context: int,
    batch: int = 1,
    dtype: DType = DType.BF16,
    kv_type: DType | None = None,
    attn_implementation: str = "sdpa",
    encoder_length: int | None = None,
) -> TransformersMemory:
    """Peak GPU memory of ``generate`` on ``batch`` unpadded prompts of ``context`` tokens."""
    if context < 1 or batch < 1:
        raise UnsupportedError(f"transformers: context and batch must be ≥ 1 (found {context}, {batch})")
    kv_type = kv_type or dtype
    check_types(cfg, dtype, kv_type, attn_implementation)
    b = dtype.type_size
    kv = kv_cache(cfg, prefill_cells(cfg, context, encoder_length), streams=batch, type_k=kv_type,
                  type_v=kv_type, mla="expanded")
    kv_decode = kv_cache_for_context(cfg, context, batch, type_k=kv_type, type_v=kv_type, mla="expanded",
                                     encoder_length=encoder_length)
    if cfg.is_encoder_decoder:  # generate keeps encoder_outputs in model_kwargs until it returns
        n_enc = encoder_cells(cfg, context, encoder_length)
        kv = with_encoder_output(kv, cfg, batch, n_enc, dtype)
        kv_decode = with_encoder_output(kv_decode, cfg, batch, n_enc, dtype)
    memory = TransformersMemory(
        context, batch, dtype, attn_implementation, weights_bytes, kv, kv_decode,
        attention_bytes(cfg, context, batch, b, MATERIALISES_SCORES[attn_implementation]),
        mlp_bytes(cfg, batch * context, b), logits_bytes(cfg, batch, b), CUDA_CONTEXT_BYTES, ())
    return replace(memory, explain=_explain(cfg, memory))


def _explain(cfg: ArchConfig, m: TransformersMemory) -> tuple[str, ...]:
    b, tokens = m.dtype.type_size, m.batch * m.context
    attention = (f"eager scores {m.batch} × {cfg.n_heads} × {m.context}² × ({b} + 4) B + mask + repeat_kv"
                 if MATERIALISES_SCORES[m.attn_implementation] else "no score matrix (fp32 logsumexp only)")
    lines = [
        f"generate, {m.attn_implementation}, {m.dtype.value.lower()}: prefill {m.batch} × {m.context} tokens "
        f"(transformers ≥ 4.56 DynamicCache)",
        f"weights: {m.model_bytes:,} B",
        *(f"KV at end of prefill {line}" for line in m.kv.explain),
        f"KV after the first decoded token: {m.kv_decode.total_bytes:,} B (sliding layers keep their window)",
        f"attention (estimate): {attention} = {m.attention_bytes:,} B",
        f"MLP (estimate): {tokens} tokens × (2 × {cfg.hidden_size} + 3 × {routed_ffn_width(cfg)}) × {b} B "
        f"= {m.mlp_bytes:,} B",
        f"logits: {m.batch} × {cfg.vocab_size} × ({b} + 4 + 4) B = {m.logits_bytes:,} B",
        f"compute = max(attention, MLP, logits) = {m.compute_bytes:,} B ({m.peak_phase})",
        f"CUDA context (estimate): {m.cuda_context_bytes:,} B",
        f"total = {m.total_bytes:,} B ({m.total_bytes / GiB:.2f} GiB)",
    ]
    if cfg.context_length and m.context > cfg.context_length:
        lines.append(f"warning: context {m.context} exceeds the model's {cfg.context_length}")
    return tuple(lines)


# --- device_map: the model spread over GPUs, CPU RAM and disk ------------------------------------------
@record
class Split:
    """``from_pretrained(device_map=…)``: the placement and each GPU's share of the run."""

    placement: DeviceMap
    gpus: tuple[tuple[int, int, int, int], ...]  # per GPU: weights, KV, compute, overhead
    host_weights_bytes: int
    host_kv_bytes: int  # KV and activations in RAM when no GPU holds anything (the model runs on the CPU)
    disk_bytes: int
    streamed_bytes: int  # the largest offloaded module, copied to the main GPU while it runs
    explain: tuple[str, ...]


def split(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, m: TransformersMemory,
          mode: str, max_memory: str | None) -> Split:
    """Where each module lands and what each GPU then holds at the peak of ``generate``.

    Placement: analyses/sizing/device_map.py (transformers' own rule). At run time accelerate's hooks
    (big_modeling.py ``dispatch_model``) run a CPU- or disk-offloaded module on the *main* device, the
    first GPU holding a module, copying its weights there for the call (``AlignDevicesHook``): that GPU
    also holds the largest offloaded module, the room the rule kept free. DynamicCache puts each layer's
    K and V where that layer's key states are computed (cache_utils.py ``DynamicLayer.lazy_initialization``:
    ``self.device = key_states.device``), so an offloaded layer's cache sits on the main GPU too. Every GPU
    running layers holds one layer's activations at a time and a CUDA context.
    """
    n = req.n_devices
    if max_memory is not None:
        asked: dict[Any, int | None] = dict(parse_max_memory(max_memory))
        if req.device is not None:  # transformers get_max_memory: min(what was asked, what the GPU has)
            asked = {d: min(v, req.device.usable_bytes) if isinstance(d, int) and v is not None else v
                     for d, v in asked.items()}
    elif req.device is not None:  # from_pretrained without max_memory: each GPU's free memory, the CPU's
        asked = {**{i: req.device.usable_bytes for i in range(n)}, CPU: None}
    else:
        raise UsageError(f"--device-map {mode} needs --max-memory (e.g. 0=20GiB,cpu=64GiB) or --gpu NAME")
    stored = sum(t.nbytes for t in model.tensors) or 1
    scale = weights_bytes / stored  # re-priced weights: each tensor in proportion
    tensors = [(t.name, round(t.nbytes * scale)) for t in model.tensors]
    tied = tied_copies(name for name, _ in tensors)
    copies = [(c, 0) for group in tied for c in group[1:]]
    placement = device_map([*tensors, *copies], mode, asked, user_set=max_memory is not None, tied=tied)
    main = placement.main_device
    where = placement.devices_of(name for name, _ in tensors)
    offloaded: dict[str, int] = {}  # module placed on the CPU or disk → its bytes
    for (name, size), top in zip(tensors, _placed_module(placement, where), strict=True):
        if where[name] in (CPU, DISK):
            offloaded[top] = offloaded.get(top, 0) + size
    streamed = max(offloaded.values(), default=0)
    # each text layer's KV where it runs: its own GPU, or the main device when offloaded
    runs_on: dict[int, Any] = {}
    for name, _ in tensors:
        layer = place(name).layer
        if layer is not None and layer not in runs_on:
            runs_on[layer] = main if where[name] in (CPU, DISK) else where[name]
    layers = len(runs_on) or 1
    kv = m.kv_cache_bytes
    kv_on = {d: kv * sum(1 for v in runs_on.values() if v == d) // layers for d in (*placement.gpus, CPU)}
    kv_on[main] += kv - sum(kv_on.values())  # rounding, and a model without numbered layers
    gpus = []
    for g in placement.gpus:
        runs = g == main or g in runs_on.values()
        compute = m.compute_bytes + (streamed if g == main else 0) if runs else 0
        context = m.cuda_context_bytes if runs or placement.on(g) else 0
        gpus.append((placement.on(g), kv_on[g], compute, context))
    limits = ", ".join(f"{_device_name(d)} " + ("not limited" if v is None else f"{v:,} B")
                       for d, v in placement.max_memory)
    balanced = ", ".join(f"{_device_name(d)} {v:,} B" for d, v in placement.budgets if isinstance(d, int))
    explain = (
        f"device_map={mode}: "
        + ", ".join(f"{_device_name(d)} {b:,} B" for d, b in placement.bytes_by_device)
        + " (transformers' rule, integrations/accelerate.py _get_device_map: exact for the parameters)",
        f"max_memory: {limits}" + ("" if mode == "sequential" else f"; balanced to {balanced}"),
        *_ranges(placement),
        f"main device {_device_name(main)}"
        + (f": runs the offloaded modules (largest {streamed:,} B, copied in for its call) and holds their "
           "layers' KV cache" if offloaded else ""),
        "KV by device: in proportion to the layers each runs (exact when every layer caches alike)",
        "not counted: non-persistent buffers (rotary inv_freq: a few KB, on the layer's device)",
        *(("no GPU holds a module: the model runs on the CPU, its KV cache and activations in RAM",)
          if main == CPU else ()),
    )
    return Split(placement, tuple(gpus), placement.on(CPU), kv if main == CPU else 0, placement.on(DISK),
                 streamed, explain)


def _placed_module(placement: DeviceMap, where: dict[str, Any]) -> list[str]:
    """For each tensor (in ``where``'s order), the placed module holding it: what accelerate moves as one."""
    placed = {name for name, _ in placement.placed}
    out = []
    for full in where:
        name = full
        while name and name not in placed:
            name = name.rpartition(".")[0]
        out.append(name)
    return out


def _device_name(d: Any) -> str:
    return f"GPU {d}" if isinstance(d, int) else "CPU RAM" if d == CPU else str(d)


def _ranges(placement: DeviceMap) -> tuple[str, ...]:
    """The placement in a few lines: runs of modules on one device (``model.layers.0-11 → GPU 0``)."""
    runs: list[list[Any]] = []
    for name, d in placement.placed:
        stem, _, last = name.rpartition(".")
        if runs and runs[-1][2] == d and last.isdigit() and runs[-1][0] == stem and runs[-1][3] is not None:
            runs[-1][3] = last
            continue
        runs.append([stem if last.isdigit() else name, last if last.isdigit() else None, d,
                     last if last.isdigit() else None])
    lines = [(f"{stem}.{a}" + (f"-{b}" if b != a else "") if a is not None else stem)
             + f" → {_device_name(d)}" for stem, a, d, b in runs]
    return tuple(f"placed: {'; '.join(lines[i:i + 3])}" for i in range(0, min(len(lines), 12), 3)) + (
        (f"placed: … and {len(lines) - 12} more runs",) if len(lines) > 12 else ())


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest,
                  ctx: int) -> RuntimeParts:

    dtype = model_dtype(model.tensors)
    t = kv_dtype(req.kv_type, dtype)
    m = transformers_memory(cfg, weights_bytes, context=ctx, batch=req.batch, dtype=dtype, kv_type=t,
                            encoder_length=req.encoder_length)
    kv_parts = m.kv.by_kind()
    mode = option(req, "device_map")
    if mode == "none":
        max_memory = option(req, "max_memory")
        if max_memory is not None:
            raise UsageError("--max-memory applies with --device-map auto, balanced, balanced_low_0 or "
                             "sequential")
        return RuntimeParts(m.kv_cache_bytes, m.compute_bytes, m.overhead_bytes, t.value.lower(), m.explain,
                            kv_parts=kv_parts, devices_at_once=1)
    s = split(model, cfg, weights_bytes, req, m, mode, option(req, "max_memory"))
    compute = sum(g[2] for g in s.gpus) or (m.compute_bytes if s.host_kv_bytes else 0)
    return RuntimeParts(m.kv_cache_bytes, compute, sum(g[3] for g in s.gpus), t.value.lower(),
                        (*m.explain, *s.explain), kv_parts=kv_parts,
                        host_weights_bytes=s.host_weights_bytes, host_kv_bytes=s.host_kv_bytes,
                        device_shares=s.gpus, disk_bytes=s.disk_bytes, split_label=f"device_map={mode}",
                        devices_at_once=1,  # accelerate's hooks run the layers device after device
                        notes=_split_note(s, mode))


def _split_note(s: Split, mode: str) -> tuple[str, ...]:
    if not s.host_weights_bytes and not s.disk_bytes:
        return ()
    main = s.placement.main_device
    where = (f"they run on {_device_name(main)}, their weights copied in for each call (every decoded token "
             f"reads them over PCIe, or from disk)" if main != CPU else "the model runs on the CPU")
    return (f"device_map={mode}: {s.host_weights_bytes:,} B of weights in CPU RAM, {s.disk_bytes:,} B on "
            f"disk (offload_folder); {where}",)
