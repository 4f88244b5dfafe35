"""What it takes to train or fine-tune a model: memory per GPU and compute.

Memory per GPU = weights + gradients + optimizer states (sharded by ZeRO) + activations + logits:

- **full**: every parameter trained with AdamW; mixed precision by default, 2 + 2 + 12 = 16 B per
  parameter (ZeRO §3.1, K = 12).
- **lora**: a frozen bf16 base (2 B per parameter) plus adapters of r × (in + out) per adapted matrix,
  counted from the real tensor shapes; the adapters are fp32 as PEFT makes them, 4 + 4 + 8 = 16 B per
  adapter parameter.
- **qlora**: the same adapters over a base whose linear layers are NF4 with double quantization
  (4.127 bits per weight; QLoRA §3); embeddings, the output head and norms stay bf16.
- **ZeRO** across N data-parallel GPUs (Rajbhandari et al. 2020, §5): stage 1 shards the optimizer
  states, 2 also the gradients, 3 also the weights. Activations and logits belong to each GPU's own
  micro-batch and are never sharded.
- **Activations** (train_memory.layer_activations): with checkpointing each layer keeps its input
  (Korthikanti et al. 2022: 2sbh per layer) and one layer at a time is recomputed in full.
- **Logits**: micro-batch × seq × vocab × 4 B (fp32 cross-entropy).

Compute is in train_compute.py. Not counted: the CUDA context and allocator slack, ZeRO's
communication buckets, the layer ZeRO-3 gathers for compute, temporary buffers inside kernels.
"""

from __future__ import annotations

from paramscope.analyses.contents.inventory import Inventory, TensorRow, inventory
from paramscope.analyses.training.activations import Training, activations
from paramscope.analyses.training.compute import (
    CHINCHILLA_TOKENS_PER_PARAM,
    COMPUTE_OPTIMAL,
    DEFAULT_FINETUNE_TOKENS,
    DEFAULT_MFU,
    FINETUNE_DEFAULT,
    GIVEN,
    gpu_hours,
    optimal_tokens,
    training_flops,
    wall_days,
)
from paramscope.analyses.training.memory import (
    ACTIVATION_BYTES,
    FROZEN_BYTES,
    LOGIT_BYTES,
    PRECISIONS,
    StatePrecision,
    expand_targets,
    lora_params,
    matches,
    nf4_bytes,
    qlora_quantizes,
    shard,
    state_bytes,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.records import field, record
from paramscope.units import bytes_label

METHODS = ("full", "lora", "qlora")
DEFAULT_LORA_TARGETS = ("attention/q", "attention/k", "attention/v", "attention/o")
# ZeRO §5: P_os (stage 1), P_os+g (stage 2), P_os+g+p (stage 3)
SHARDED_FROM_STAGE = {"optimizer": 1, "gradients": 2, "weights": 3}
ADAPTER_PRECISION = "fp32"  # PEFT's autocast_adapter_dtype=True
FULL_PRECISION = "mixed"
NOT_COUNTED = ("not counted: the CUDA context, allocator fragmentation, ZeRO communication "
               "buckets and ZeRO-3's gathered layer, temporary kernel buffers")


@record
class TrainEstimate:
    method: str
    precision: str
    seq_len: int
    micro_batch: int
    gpus: int
    zero_stage: int
    checkpointing: bool
    flash_attention: bool
    params: int
    active_params: int
    trainable_params: int
    trainable_by_component: dict[str, int]
    # bytes per GPU
    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    logits_bytes: int
    layer_bytes_per_token: int  # the largest layer's activations per token, nothing recomputed
    # compute
    tokens: int
    tokens_given: bool  # False: ``tokens`` is a default (``tokens_basis`` says which)
    optimal_tokens: int
    flops: int
    mfu: float
    device_flops: float | None
    gpu_hours: float | None
    days: float | None  # wall clock on ``gpus`` GPUs
    explain: tuple[str, ...]
    notes: tuple[str, ...] = ()
    # where ``tokens`` comes from: compute.GIVEN, COMPUTE_OPTIMAL (full) or FINETUNE_DEFAULT (lora, qlora)
    tokens_basis: str = GIVEN
    total_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_bytes", sum(self.by_part.values()))

    @property
    def by_part(self) -> dict[str, int]:
        return {"weights": self.weights_bytes, "gradients": self.gradients_bytes,
                "optimizer": self.optimizer_bytes, "activations": self.activations_bytes,
                "logits": self.logits_bytes}


def train_estimate(model: Model, *, method: str = "full", seq_len: int = 2048, micro_batch: int = 1,
                   gpus: int = 1, zero_stage: int = 0, checkpointing: bool = True, lora_rank: int = 16,
                   lora_targets: tuple[str, ...] = DEFAULT_LORA_TARGETS, tokens: int | None = None,
                   device_flops: float | None = None, mfu: float = DEFAULT_MFU,
                   precision: str | None = None, flash_attention: bool = True) -> TrainEstimate:
    """Memory per GPU and compute to train ``model`` (see the module docstring for the conventions)."""
    cfg = model.config
    if cfg is None:
        raise UnsupportedError(f"{model.source}: training estimates need the architecture (layers, hidden "
                               "size, heads, vocabulary) and no config was found")
    if cfg.n_layers < 1:  # activations are counted per layer: a config of no layers has nothing to train
        raise UnsupportedError(f"{model.source}: training estimates need at least one layer (the config "
                               "gives 0)")
    precision = precision or (FULL_PRECISION if method == "full" else ADAPTER_PRECISION)
    _check(method, seq_len, micro_batch, gpus, zero_stage, mfu, precision, tokens)
    prec = PRECISIONS[precision]
    inv = inventory(model)
    rows = [r for r in inv.rows if r.counted and r.tensor.is_parameter]
    n, active = inv.total_params, inv.active_params
    by_comp, trainable, adapters_active, (w, g, o), lines = _states(rows, inv, cfg, method, prec,
                                                                     lora_rank, tuple(lora_targets))
    targets = expand_targets(lora_targets) if method != "full" else ()
    per_gpu = {part: shard(b, gpus) if zero_stage >= SHARDED_FROM_STAGE[part] else b
               for part, b in (("weights", w), ("gradients", g), ("optimizer", o))}
    w_line = lines.pop()
    lines += [_state_line(w_line, w, per_gpu["weights"], gpus, zero_stage, "weights"),
              _state_line(f"gradients = {prec.grad} B × {trainable:,}", g, per_gpu["gradients"], gpus,
                          zero_stage, "gradients"),
              _state_line(f"optimizer = {prec.optimizer} B × {trainable:,}", o, per_gpu["optimizer"], gpus,
                          zero_stage, "optimizer")]

    e = prec.weight if method == "full" else ACTIVATION_BYTES
    if method == "full":
        training = Training(learns=lambda c: True, adapted=lambda c: False)
    else:
        training = Training(learns=lambda c: False, adapted=lambda c: matches(c, targets), rank=lora_rank,
                            adapter_copies=prec.weight != e, norms_learn=False)
    act, largest, act_lines = activations(cfg, rows, training, seq_len, micro_batch, checkpointing,
                                           flash_attention, e)
    logits = LOGIT_BYTES * micro_batch * seq_len * cfg.vocab_size
    lines += act_lines
    lines.append(f"logits = {LOGIT_BYTES} B × b·s × V = {LOGIT_BYTES} × {micro_batch * seq_len:,} × "
                 f"{cfg.vocab_size:,} = {logits:,} B")
    total = sum(per_gpu.values()) + act + logits
    lines.append(f"total per GPU = {' + '.join(f'{v:,}' for v in (*per_gpu.values(), act, logits))} "
                 f"= {total:,} B ({bytes_label(total)})")

    flops, d, d_opt, basis, hours, days, compute_lines = _compute(method, active, adapters_active, tokens,
                                                           device_flops, mfu, gpus)
    lines += compute_lines
    notes = [NOT_COUNTED]
    if method == "qlora":
        notes.append("PEFT's prepare_model_for_kbit_training upcasts the unquantized bf16 parameters "
                     "(embeddings, head, norms) to fp32; the QLoRA reference keeps them bf16, as here")
    if any(k == "linear" for k in cfg.layer_types):
        notes.append("linear-attention layers are priced like attention layers")
    return TrainEstimate(
        method=method, precision=precision, seq_len=seq_len, micro_batch=micro_batch, gpus=gpus,
        zero_stage=zero_stage, checkpointing=checkpointing, flash_attention=flash_attention, params=n,
        active_params=active, trainable_params=trainable, trainable_by_component=by_comp,
        weights_bytes=per_gpu["weights"], gradients_bytes=per_gpu["gradients"],
        optimizer_bytes=per_gpu["optimizer"], activations_bytes=act, logits_bytes=logits,
        layer_bytes_per_token=largest.per_token, tokens=d, tokens_given=tokens is not None,
        optimal_tokens=d_opt, flops=flops, mfu=mfu, device_flops=device_flops, gpu_hours=hours, days=days,
        explain=tuple(lines), notes=tuple(notes), tokens_basis=basis)


def _states(rows: list[TensorRow], inv: Inventory, cfg: ArchConfig, method: str, prec: StatePrecision,
            rank: int, lora_targets: tuple[str, ...],
            ) -> tuple[dict[str, int], int, int, tuple[int, int, int], list[str]]:
    """Trainable parameters by component, their count, the adapters a token runs through, unsharded
    (weights, gradients, optimizer) bytes, and explain lines ending with the weights formula."""
    n = inv.total_params
    if method == "full":
        by_comp = {k: t.params for k, t in inv.by_component.items() if "/" not in k and k != "total"}
        return (by_comp, n, 0, state_bytes(n, prec),
                [f"trainable = all {n:,} params ({prec.note})", f"weights = {prec.weight} B × {n:,}"])
    by_comp = lora_params(rows, rank, lora_targets)
    trainable = sum(by_comp.values())
    w, g, o = state_bytes(trainable, prec)
    base, base_line = _frozen_base(rows, method)
    lines = [f"trainable = Σ r × (in + out) over adapted matrices, r = {rank}: "
             + " + ".join(f"{c} {p:,}" for c, p in by_comp.items()) + f" = {trainable:,} params",
             f"weights = {base_line} + adapters {prec.weight} B × {trainable:,}"]
    active = _active_adapters(by_comp, cfg.n_experts_per_token, cfg.n_experts)
    return by_comp, trainable, active, (w + base, g, o), lines


def _compute(method: str, active: int, adapters: int, tokens: int | None, device_flops: float | None,
             mfu: float, gpus: int) -> tuple[int, int, int, str, float | None, float | None, list[str]]:
    d_opt = optimal_tokens(active)
    if tokens is not None:
        d, basis = tokens, GIVEN
    elif method == "full":
        d, basis = d_opt, COMPUTE_OPTIMAL
    else:
        d, basis = DEFAULT_FINETUNE_TOKENS, FINETUNE_DEFAULT
    if method == "full":
        flops = training_flops(active, active, d)
        lines = [f"FLOPs = 6 × N × D = 6 × {active:,} × {d:,} = {flops:.3e}"]
    else:
        flops = training_flops(active + adapters, adapters, d)
        lines = [f"FLOPs = 4 × (N + A) × D + 2 × A × D, frozen base: 4 × ({active:,} + {adapters:,}) × "
                 f"{d:,} + 2 × {adapters:,} × {d:,} = {flops:.3e}"]
    k = CHINCHILLA_TOKENS_PER_PARAM
    lines.append(f"compute-optimal tokens = {k} × N = {k} × {active:,} = {d_opt:,} (Chinchilla)"
                 + ("; used as D" if basis == COMPUTE_OPTIMAL else ""))
    if basis == FINETUNE_DEFAULT:
        lines.append(f"D = {DEFAULT_FINETUNE_TOKENS:,} tokens: an assumed fine-tuning set (analyses/training/"
                     "compute.py), not a law")
    hours = days = None
    if device_flops:
        hours = gpu_hours(flops, device_flops, mfu)
        days = wall_days(hours, gpus)
        lines.append(f"GPU-hours = FLOPs / (peak × MFU) / 3600 = {flops:.3e} / ({device_flops:.3e} × {mfu}) "
                     f"/ 3600 = {hours:,.3g}; on {gpus} GPU{'s' * (gpus > 1)}: {hours / gpus:,.3g} hours "
                     f"= {days:,.3g} days")
    return flops, d, d_opt, basis, hours, days, lines


def _check(method: str, seq_len: int, micro_batch: int, gpus: int, zero_stage: int, mfu: float,
           precision: str, tokens: int | None) -> None:
    if method not in METHODS:
        raise UnsupportedError(f"unknown training method {method!r} (known: {', '.join(METHODS)})")
    if precision not in PRECISIONS:
        raise UnsupportedError(f"unknown training precision {precision!r} (known: {', '.join(PRECISIONS)})")
    if zero_stage not in (0, 1, 2, 3):
        raise UnsupportedError(f"ZeRO stage must be 0, 1, 2 or 3 (found {zero_stage})")
    for name, value in (("sequence length", seq_len), ("micro-batch", micro_batch), ("GPU count", gpus)):
        if value < 1:
            raise UnsupportedError(f"{name} must be at least 1 (found {value})")
    if not 0 < mfu <= 1:
        raise UnsupportedError(f"MFU must be in (0, 1] (found {mfu})")
    if tokens is not None and tokens < 0:
        raise UnsupportedError(f"tokens must not be negative (found {tokens})")


def _frozen_base(rows: list[TensorRow], method: str) -> tuple[int, str]:
    """Bytes of the frozen base and the formula that gives them."""
    if method == "lora":
        n = sum(r.params for r in rows)
        return FROZEN_BYTES * n, f"frozen base {FROZEN_BYTES} B × {n:,}"
    quant = [r.params for r in rows if qlora_quantizes(r)]
    kept = sum(r.params for r in rows if not qlora_quantizes(r))
    q_bytes = sum(nf4_bytes(p) for p in quant)
    return (q_bytes + FROZEN_BYTES * kept,
            f"NF4 base {sum(quant):,} params → {q_bytes:,} B (4 bits + 8-bit absmax per 64 + fp32 per 256 "
            f"absmax) + bf16 {FROZEN_BYTES} B × {kept:,} (embeddings, head, norms)")


def _state_line(formula: str, whole: int, per_gpu: int, gpus: int, stage: int, part: str) -> str:
    if per_gpu == whole:
        return f"{formula} = {whole:,} B"
    return f"{formula} = {whole:,} B, / {gpus} GPUs (ZeRO-{stage} shards the {part}) = {per_gpu:,} B"


def _active_adapters(by_comp: dict[str, int], k: int, experts: int) -> int:
    """Adapter parameters one token runs through: routed-expert adapters count k of E."""
    routed = sum(p for c, p in by_comp.items() if c.startswith("experts/"))
    rest = sum(by_comp.values()) - routed
    return rest + (routed * k // experts if experts else routed)
