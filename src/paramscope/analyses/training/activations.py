"""Activations: what autograd keeps for the backward pass, per layer per token, and in all.

Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", §4.1, count
what a GPT layer keeps for the backward pass: s·b·h·(34 + 5·a·s/h) bytes in 16-bit. We count the same
way, tensor by tensor, for the layer the model really has and for what PyTorch and transformers really
save (checked byte for byte with torch.autograd.graph.saved_tensors_hooks, docs/train.md):

- its own norms: transformers' RMSNorm upcasts to fp32 and keeps that input (4 B) and the fp32 rsqrt
  per vector, plus the normalised input when the norm's weight trains (Gemma's in fp32); a LayerNorm
  keeps its input and fp32 mean and rstd;
- GQA widths n_kv_heads × head_dim (never hidden/heads); flash/SDPA attention keeps Q, K, V, the output
  and an fp32 logsumexp per head, so the paper's 5·a·s/h term disappears; eager attention keeps K and V
  repeated to every head, the fp32 softmax and its 16-bit copy (6·a·s bytes per token);
- a matrix's input only when its weight trains (autograd saves a matmul's input for the weight's
  gradient); a LoRA adapter keeps its own cast copy of the input (fp32 adapters under bf16 autocast)
  and its r-wide intermediate, and autocast's 16-bit copy of the adapter's weights;
- a gated FFN keeps gate, up and act(gate) (the product only for a trainable down projection); MoE
  layers keep the fp32 router softmax and, per routed slot, the expert's output twice and the routing
  bookkeeping (transformers 4.57's expert loop);
- no dropout masks: dropout is 0 in today's LLMs (the paper counts 2·sbh + as²b of them).

With full activation checkpointing each layer keeps only its input, e·h per token (the paper's 2sbh per
layer), and the backward pass recomputes one layer at a time, so the peak adds the largest layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from paramscope.analyses.contents.inventory import TensorRow
from paramscope.analyses.training.memory import ACTIVATION_BYTES, adapter_params, is_matrix, matches
from paramscope.model import ArchConfig
from paramscope.records import record

RMS_STAT_BYTES = 4  # fp32 rsqrt per normalised vector
LN_STAT_BYTES = 4 + 4  # fp32 mean and rstd per normalised vector
FP32 = 4
INDEX_BYTES = 8  # int64 indices
_QK_NORM = re.compile(r"(?:^|[._])(?:attn_)?([qk])_norm(?:[._]|$)")
_MLA_NORM = re.compile(r"(?:^|[._])(q_a|kv_a)_(?:layer)?norm(?:[._]|$)|attn_(q_a|kv_a)_norm")
_DENSE = ("attention/q", "attention/k", "attention/v", "attention/o", "ffn/gate", "ffn/up", "ffn/down")
_MOE = ("attention/q", "attention/k", "attention/v", "attention/o", "router", "experts/gate", "experts/up",
        "experts/down")


@record
class Training:
    """What trains, as the activation count needs it."""

    learns: Callable[[str], bool]  # the component's own weights train (full fine-tuning)
    adapted: Callable[[str], bool]  # the component carries a LoRA adapter
    rank: int = 0
    adapter_copies: bool = True  # adapters in another dtype than the activations cast their input
    norms_learn: bool = True


@record
class LayerActivations:
    """Bytes one layer keeps per token when nothing is recomputed, item by item."""

    layer: int
    items: tuple[tuple[str, int], ...]  # (what is kept, bytes per token)

    @property
    def per_token(self) -> int:
        return sum(b for _, b in self.items)


def norm_bytes(width: int, vectors: int, *, layer_norm: bool, learns: bool, e: int, normed: int) -> int:
    """Bytes per token one norm keeps: ``width`` values in ``vectors`` normalised vectors."""
    if layer_norm:  # torch's native layer_norm: the input, fp32 mean and rstd
        return e * width + LN_STAT_BYTES * vectors
    return FP32 * width + RMS_STAT_BYTES * vectors + normed * width * learns


def layer_activations(cfg: ArchConfig, rows: list[TensorRow], layer: int, training: Training, *,
                      seq_len: int, flash: bool, e: int = ACTIVATION_BYTES,
                      layer_norm: bool = False) -> LayerActivations:
    """Activations of one layer per token, from its tensors (norms, FFN kind, MoE) and the config."""
    h, a, g = cfg.hidden_size, cfg.n_heads, cfg.n_kv_heads
    d_k, d_v = cfg.head_dim_k, cfg.head_dim_v
    comps = {r.placement.component for r in rows}
    if not any(c.startswith("attention/") for c in comps):  # no tensors: a Llama-shaped layer
        comps |= set(_MOE if cfg.is_moe and layer >= cfg.n_dense_layers else _DENSE)
    items: list[tuple[str, int]] = []

    normed = FP32 if cfg.family.startswith("gemma") else e  # Gemma normalises and scales in fp32
    for what, width, vectors in _norms(cfg, rows):
        items.append((what, norm_bytes(width, vectors, layer_norm=layer_norm, learns=training.norms_learn,
                                       e=e, normed=normed)))

    def inputs(what: str, width: int, readers: tuple[str, ...], slots: int = 1, kept: bool = False) -> None:
        """A tensor read by ``readers``: kept once when one of them trains (or ``kept`` anyway), and
        once more per adapter that casts its own copy, plus each adapter's r-wide intermediate."""
        present = [c for c in comps if matches(c, readers)]
        n = int(kept or any(training.learns(c) for c in present))
        adapters = sum(training.adapted(c) for c in present)
        if training.adapter_copies:
            n += adapters
        elif adapters:
            n = max(n, 1)
        total = e * slots * (n * width + adapters * training.rank)
        if total:
            items.append((f"{what} ({slots}×{n}×{width}" + (f" + {adapters}×r" if adapters else "") + ")",
                          total))

    inputs("attention input", h, ("attention/q", "attention/k", "attention/v", "attention/qkv",
                                  "attention/q_a", "attention/kv_a"))
    if cfg.is_mla:
        inputs("MLA q_a normalised", cfg.q_lora_rank, ("attention/q_b",))
        inputs("MLA kv_a normalised", cfg.kv_lora_rank, ("attention/kv_b",))
    g_kept = g if flash else a  # eager attention keeps K and V after repeat_kv to every head
    items.append(("Q, K, V", e * (a * d_k + g_kept * d_k + g_kept * d_v)))
    if flash:
        items.append(("softmax logsumexp", FP32 * a))
    else:
        items.append(("softmax output fp32 + 16-bit copy, a·s", (FP32 + e) * a * seq_len))
    inputs("attention output", a * d_v, ("attention/o",), kept=flash)
    if any(c.split("/")[0] in ("ffn", "experts", "shared_experts") for c in comps):
        items += _ffn_items(cfg, comps, e, inputs)
    return LayerActivations(layer, tuple(items))


def _norms(cfg: ArchConfig, rows: list[TensorRow]) -> list[tuple[str, int, int]]:
    """(what, width, vectors) of each norm of a layer, from its norm tensors (two if it has none)."""
    out = []
    for r in rows:
        if r.placement.component != "norm" or r.placement.role != "norm":
            continue
        name = r.tensor.name
        if m := _QK_NORM.search(name):
            heads = cfg.n_heads if m.group(1) == "q" else cfg.n_kv_heads
            out.append((f"{m.group(1)}_norm", heads * cfg.head_dim_k, heads))
        elif m := _MLA_NORM.search(name):
            rank = cfg.q_lora_rank if "q_a" in (m.group(1) or m.group(2)) else cfg.kv_lora_rank
            out.append(("MLA norm", rank, 1))
        else:
            out.append(("norm", r.tensor.shape[-1], 1))
    return out or [("norm", cfg.hidden_size, 1)] * 2


def _ffn_items(cfg: ArchConfig, comps: set[str], e: int,
               inputs: Callable[..., None]) -> list[tuple[str, int]]:
    """Dense FFN, shared experts, routed experts. A gated FFN always keeps gate, up and act(gate); a
    plain one act's input (Korthikanti's GeLU input, 8sbh at f = 4h); the down projection's input
    only when it trains."""
    h, items = cfg.hidden_size, []
    inputs("FFN input", h, ("ffn/gate", "ffn/up", "ffn/gate_up", "router", "shared_experts/gate",
                            "shared_experts/up", "shared_experts/gate_up"))

    def ffn(prefix: str, f: int, slots: int) -> None:
        gated = any(c in comps for c in (f"{prefix}/gate", f"{prefix}/gate_up"))
        kept = 3 if gated else 1
        items.append((f"{prefix} hidden {slots}×{kept}×{f}", e * slots * kept * f))
        inputs(f"{prefix} down input", f, (f"{prefix}/down",), slots)

    if any(c.startswith("ffn/") for c in comps):
        ffn("ffn", cfg.ffn_size, 1)
    if any(c.startswith("shared_experts/") for c in comps):
        ffn("shared_experts", cfg.extra.get("shared_expert_ffn_size")
            or cfg.n_shared_experts * cfg.expert_ffn_size, 1)
    if any(c.startswith("experts/") for c in comps):
        k = cfg.n_experts_per_token
        items.append(("router softmax fp32, E", FP32 * cfg.n_experts))
        inputs("expert input", h, ("experts/gate", "experts/up", "experts/gate_up"), k)
        ffn("experts", cfg.expert_ffn_size or cfg.ffn_size, k)
        # transformers' expert loop keeps each slot's output (for the routing weight's gradient) and the
        # weighted output (index_add_ saves its source), the nonzero() indices (int64 pairs), top-k
        # indices (int64), the 16-bit routing weights and the fp32 top-k renormalisation
        items.append((f"expert outputs, weighted outputs {k}×2×h", e * k * 2 * h))
        renorm = (FP32 * k + FP32) * bool(cfg.extra.get("norm_topk_prob", True))
        items.append((f"routing indices and weights {k}×(16 + 8 + e)",
                      k * (INDEX_BYTES * 2 + INDEX_BYTES + e) + renorm))
    return items


def activations(cfg: ArchConfig, rows: list[TensorRow], training: Training, seq_len: int,
                 micro_batch: int, checkpointing: bool, flash: bool,
                 e: int) -> tuple[int, LayerActivations, list[str]]:
    by_layer: dict[int, list[TensorRow]] = {}
    for r in rows:
        if r.placement.layer is not None:
            by_layer.setdefault(r.placement.layer, []).append(r)
    layer_norm = any(r.placement.component == "norm" and r.placement.role == "bias" for r in rows)
    layers = [layer_activations(cfg, by_layer.get(i, []), i, training, seq_len=seq_len, flash=flash, e=e,
                                layer_norm=layer_norm) for i in range(cfg.n_layers)]
    largest = max(layers, key=lambda la: la.per_token)
    h, n_layers, sb = cfg.hidden_size, cfg.n_layers, seq_len * micro_batch
    head = _head_bytes(cfg, training, e, layer_norm, checkpointing)
    # bf16 autocast casts fp32 adapter weights to 16-bit copies that the backward pass keeps: e per
    # adapter parameter of every layer run with autograd on (one layer at a time under checkpointing)
    casts = [e * sum(adapter_params(r, training.rank) for r in by_layer.get(i, [])
                     if training.adapter_copies and is_matrix(r) and training.adapted(r.placement.component))
             for i in range(n_layers)]
    cast = max(casts, default=0) if checkpointing else sum(casts)
    lines = [f"activations of layer {largest.layer} per token, nothing recomputed = "
             + " + ".join(f"{what} {b:,}" for what, b in largest.items) + f" = {largest.per_token:,} B"]
    if checkpointing:
        per_token = n_layers * e * h + largest.per_token + head
        formula = (f"s·b × (L × e·h layer inputs + one layer recomputed + final norm and head) = {sb:,} × "
                   f"({n_layers} × {e * h:,} + {largest.per_token:,} + {head:,})")
    else:
        per_token = sum(la.per_token for la in layers) + head
        formula = f"s·b × (Σ layers + final norm and head) = {sb:,} × ({per_token - head:,} + {head:,})"
    if cast:
        formula += f" + 16-bit copies of the adapters {cast:,}"
    lines.append(f"activations = {formula} = {sb * per_token + cast:,} B")
    return sb * per_token + cast, largest, lines


def _head_bytes(cfg: ArchConfig, training: Training, e: int, layer_norm: bool, checkpointing: bool) -> int:
    """Per token outside the layers: the final norm, the head's input when the head trains, the token
    ids when the embedding trains, and (nothing recomputed) the RoPE cos and sin tables the layers share."""
    h = cfg.hidden_size
    normed = FP32 if cfg.family.startswith("gemma") else e
    norm = norm_bytes(h, 1, layer_norm=layer_norm, learns=training.norms_learn, e=e, normed=normed)
    head_in = e * h * training.learns("output")
    if training.adapted("output"):
        head_in = e * (h * (training.adapter_copies or not head_in) + training.rank) + head_in
    ids = INDEX_BYTES * training.learns("embedding")
    rope_dim = cfg.rope_head_dim or cfg.head_dim_k
    rope = 0 if checkpointing or "rope_theta" not in cfg.extra else 2 * e * rope_dim
    return norm + head_in + ids + rope
