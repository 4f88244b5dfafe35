"""Memory to train, piece by piece: optimizer states per parameter, LoRA adapters counted from the real
tensor shapes, the NF4 base of QLoRA (activations are in train_activations.py).

docs/train.md states every formula with its source and works it through for Llama 3.1 8B.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from paramscope.analyses.contents.inventory import TensorRow
from paramscope.errors import UnsupportedError
from paramscope.records import record


@record
class StatePrecision:
    """Bytes per *trainable* parameter held by each part of the training state."""

    weight: int  # the copy the forward pass reads
    grad: int
    optimizer: int  # master copy (if any) + AdamW's two moments
    note: str


PRECISIONS: dict[str, StatePrecision] = {
    # ZeRO §3.1 (Rajbhandari et al. 2020): mixed-precision Adam holds 2Ψ + 2Ψ + KΨ, K = 12:
    # fp32 master weights + fp32 momentum + fp32 variance
    "mixed": StatePrecision(2, 2, 4 + 4 + 4, "bf16 weights and gradients, fp32 master + 2 fp32 moments"),
    # torch.optim.AdamW keeps exp_avg and exp_avg_sq in the parameter's dtype, so bf16 parameters
    # without a master copy give bf16 moments
    "bf16": StatePrecision(2, 2, 2 + 2, "bf16 weights, gradients and 2 bf16 moments, no master copy"),
    # fp32 parameters are their own master copy; PEFT upcasts LoRA adapters to fp32
    # (get_peft_model(..., autocast_adapter_dtype=True), the default)
    "fp32": StatePrecision(4, 4, 4 + 4, "fp32 weights and gradients, 2 fp32 moments"),
}

FROZEN_BYTES = 2  # B per frozen base weight in LoRA: loaded in bf16 (torch_dtype=torch.bfloat16)
ACTIVATION_BYTES = 2  # B per saved activation value under bf16 autocast
LOGIT_BYTES = 4  # B per logit: the cross-entropy runs in fp32 (Korthikanti et al. 2022, §4.4: 4sbv)
SOFTMAX_STAT_BYTES = 4  # B per head per token: flash attention's fp32 logsumexp
ROUTER_PROB_BYTES = 4  # B per expert per token: MoE routers take the softmax in fp32

# QLoRA §3 (Dettmers et al. 2023): NF4 with blocksize 64, and double quantization of the fp32 absmax
# constants to 8 bits in blocks of 256 with one fp32 constant each:
# 4 + 8/64 + 32/(64·256) = 4.127 bits per weight
NF4_BITS = 4
NF4_BLOCK = 64  # weights per absmax
NF4_ABSMAX_BYTES = 1  # 8-bit absmax after double quantization
NF4_BLOCK2 = 256  # absmax values per second-level constant
NF4_ABSMAX2_BYTES = 4  # fp32

# Components whose 2-D weights are nn.Linear layers: PEFT's "all-linear" targets (every linear layer but
# the output head) and the layers bitsandbytes quantizes (transformers keeps lm_head out; embeddings and
# norms are not linear layers).
LINEAR_COMPONENTS = ("attention", "ffn", "shared_experts", "experts", "router", "vision", "audio",
                     "projector")
ALL_LINEAR = "all-linear"


def state_bytes(params: int, precision: StatePrecision) -> tuple[int, int, int]:
    """(weights, gradients, optimizer) bytes of ``params`` trainable parameters, unsharded."""
    return params * precision.weight, params * precision.grad, params * precision.optimizer


def shard(nbytes: int, gpus: int) -> int:
    """Bytes per GPU of a state partitioned across ``gpus`` (DeepSpeed pads the last partition)."""
    return -(-nbytes // gpus)


def is_matrix(row: TensorRow) -> bool:
    """A weight matrix an adapter can wrap: 2-D, or 3-D stacked experts (E, out, in)."""
    dims = len(row.tensor.shape)
    top = row.placement.component.split("/")[0]
    return (row.counted and row.tensor.is_parameter and row.placement.role == "weight"
            and (dims == 2 or (dims == 3 and top in ("experts", "shared_experts"))))


# A target also adapts the fused or low-rank matrices that hold it, the way PEFT's per-family defaults
# name them: Phi-3's qkv_proj and gate_up_proj, MLA's q_a/q_b and kv_a/kv_b (DeepSeek V2/V3).
HELD_IN = {
    "attention/q": ("attention/qkv", "attention/q_a", "attention/q_b"),
    "attention/k": ("attention/qkv", "attention/kv_a", "attention/kv_b"),
    "attention/v": ("attention/qkv", "attention/kv_a", "attention/kv_b"),
    "ffn/gate": ("ffn/gate_up",),
    "ffn/up": ("ffn/gate_up",),
    "experts/gate": ("experts/gate_up",),
    "experts/up": ("experts/gate_up",),
}


def expand_targets(targets: Iterable[str]) -> tuple[str, ...]:
    """Component prefixes a list of LoRA targets adapts ("all-linear" = every linear component)."""
    out: list[str] = []
    for t in targets:
        out.extend(LINEAR_COMPONENTS if t == ALL_LINEAR else (t, *HELD_IN.get(t, ())))
    return tuple(dict.fromkeys(out))


def matches(component: str, targets: tuple[str, ...]) -> bool:
    """"attention" targets every attention/* matrix; "attention/q" only the query projection."""
    return any(component == t or component.startswith(t + "/") for t in targets)


def lora_params(rows: Iterable[TensorRow], rank: int, targets: tuple[str, ...]) -> dict[str, int]:
    """Adapter parameters by component: r × (in + out) per adapted (out, in) matrix.

    LoRA §4.1 (Hu et al. 2021): W₀ + BA with B ∈ ℝ^{out×r}, A ∈ ℝ^{r×in}. Stacked experts (E, out, in)
    get one adapter per expert; an embedding (vocab, hidden) gets PEFT's lora_embedding_A/B, the same
    r × (vocab + hidden).
    """
    if rank < 1:
        raise UnsupportedError(f"LoRA rank must be at least 1 (found {rank})")
    wanted = expand_targets(targets)
    found: dict[str, int] = {}
    present: set[str] = set()
    for row in rows:
        if not is_matrix(row):
            continue
        comp = row.placement.component
        present.add(comp)
        if matches(comp, wanted):
            found[comp] = found.get(comp, 0) + adapter_params(row, rank)
    missing = [t for t in targets if not any(matches(c, expand_targets((t,))) for c in present)]
    if missing or not found:
        raise UnsupportedError(f"no weight matrix matches LoRA target {', '.join(missing or targets)} "
                               f"(this model has: {', '.join(sorted(present)) or 'no matrices'})")
    return dict(sorted(found.items()))


def adapter_params(row: TensorRow, rank: int) -> int:
    *stack, out_dim, in_dim = row.tensor.shape
    return math.prod(stack) * rank * (in_dim + out_dim)


def nf4_bytes(n: int) -> int:
    """Bytes of ``n`` weights in bitsandbytes NF4 with double quantization, per tensor."""
    blocks = -(-n // NF4_BLOCK)
    return -(-n * NF4_BITS // 8) + blocks * NF4_ABSMAX_BYTES + -(-blocks // NF4_BLOCK2) * NF4_ABSMAX2_BYTES


def qlora_quantizes(row: TensorRow) -> bool:
    """bitsandbytes quantizes the linear layers; embeddings, the output head, norms and biases stay."""
    return is_matrix(row) and row.placement.component.split("/")[0] in LINEAR_COMPONENTS
