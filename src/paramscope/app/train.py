"""``paramscope train``: memory per GPU and compute to train or fine-tune a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source, remote_json
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.training.estimate import TrainEstimate
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model

# PEFT's usual target names → paramscope's component paths (docs/train.md)
LORA_TARGET_NAMES: dict[str, str] = {short: comp for comp, names in {
    "attention/q": ("q", "q_proj"), "attention/k": ("k", "k_proj"), "attention/v": ("v", "v_proj"),
    "attention/o": ("o", "o_proj"), "ffn/gate": ("gate", "gate_proj"), "ffn/up": ("up", "up_proj"),
    "ffn/down": ("down", "down_proj"),
}.items() for short in names}
METHODS = ("full", "lora", "qlora")


@record
class TrainRequest:
    source: Source
    method: str = "full"  # full, lora or qlora
    seq_len: int = 2048
    micro_batch: int = 1
    gpus: int = 1  # data-parallel GPUs
    zero: int = 0  # ZeRO stage 0-3
    checkpointing: bool = True  # activation checkpointing
    rank: int = 16  # LoRA rank
    targets: str = "q,k,v,o"  # LoRA targets: q,k,v,o, all-linear, or components such as attention,ffn
    # training tokens: an int, or "10M", "2.5B", "15T"; None: compute-optimal (20 × params) for full
    # training, an assumed 10^8-token fine-tuning set for lora / qlora (analyses/training/compute.py)
    tokens: int | str | None = None
    gpu: str | None = None  # device for GPU-hours and the fit check
    mfu: float = 0.4


@record
class TrainResult:
    request: TrainRequest
    model: Model
    estimate: TrainEstimate
    device: Device | None
    exit_code: int = 0

    @property
    def fits(self) -> bool | None:
        """Whether the memory per GPU fits the device (None without one)."""
        return None if self.device is None else self.estimate.total_bytes <= self.device.usable_bytes

    def to_json(self) -> dict[str, Any]:
        from paramscope.analyses.training.compute import COMPUTE_OPTIMAL, TOKENS_BASIS

        est, device = self.estimate, self.device
        return {
            "method": est.method, "precision": est.precision, "seq_len": est.seq_len,
            "micro_batch": est.micro_batch, "gpus": est.gpus, "zero_stage": est.zero_stage,
            "checkpointing": est.checkpointing, "params": est.params, "active_params": est.active_params,
            "trainable_params": est.trainable_params, "trainable_by_component": est.trainable_by_component,
            "bytes_per_gpu": est.by_part | {"total": est.total_bytes},
            "device": device.key if device else None, "fits": self.fits,
            "tokens": est.tokens, "tokens_are_compute_optimal": est.tokens_basis == COMPUTE_OPTIMAL,
            "tokens_basis": est.tokens_basis, "tokens_basis_text": TOKENS_BASIS[est.tokens_basis],
            "optimal_tokens": est.optimal_tokens, "flops": est.flops, "mfu": est.mfu,
            "gpu_hours": est.gpu_hours, "days": est.days, "explain": list(est.explain),
            "notes": list(est.notes),
        } | remote_json(self.model)


def train(source: Source | TrainRequest, **options: Any) -> TrainResult:
    """Training memory and compute: ``paramscope.train("llama-3.1-8b", method="qlora").estimate``."""
    from paramscope.analyses.training.estimate import train_estimate
    from paramscope.units import parse_count

    req = source if isinstance(source, TrainRequest) else TrainRequest(source, **options)
    device = None
    if req.gpu:
        from paramscope.knowledge.hardware import find_device

        device = find_device(req.gpu)
    targets = tuple(LORA_TARGET_NAMES.get(t.strip(), t.strip()) for t in req.targets.split(",") if t.strip())
    model = open_source(req.source)
    est = train_estimate(
        model, method=req.method, seq_len=req.seq_len, micro_batch=req.micro_batch,
        gpus=req.gpus, zero_stage=req.zero, checkpointing=req.checkpointing, lora_rank=req.rank,
        lora_targets=targets, tokens=None if req.tokens is None else parse_count(req.tokens, "token count"),
        device_flops=device.half_flops if device else None,
        mfu=req.mfu)
    return TrainResult(req, model, est, device)
