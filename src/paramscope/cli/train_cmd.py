"""paramscope train SOURCE: memory and compute to train or fine-tune it."""

from __future__ import annotations

import argparse

HELP = "training and fine-tuning: memory per GPU (full, LoRA, QLoRA, ZeRO) and compute"
DESCRIPTION = """\
Memory per GPU to train or fine-tune a model — weights, gradients, optimizer states, activations
(with or without checkpointing) and logits — for full fine-tuning with mixed-precision AdamW, LoRA
(trainable parameters from the real tensor shapes) or QLoRA, with ZeRO stages 1-3 across N GPUs; and
the compute: 6 × params × tokens, compute-optimal tokens ≈ 20 × params (Chinchilla), GPU-hours at an
MFU.

examples:
  paramscope train llama-3.1-8b
  paramscope train llama-3.1-8b --method lora --rank 16 --targets all-linear
  paramscope train llama-3.1-70b --method full --gpus 8 --zero 3 --gpu h100
  paramscope train qwen3-8b --method qlora --seq-len 4096 --json"""


# PEFT's usual target names → paramscope's component paths (docs/train.md)
_TARGETS = {short: comp for comp, names in {
    "attention/q": ("q", "q_proj"), "attention/k": ("k", "k_proj"), "attention/v": ("v", "v_proj"),
    "attention/o": ("o", "o_proj"), "ffn/gate": ("gate", "gate_proj"), "ffn/up": ("up", "up_proj"),
    "ffn/down": ("down", "down_proj"),
}.items() for short in names}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="model file, directory, config.json or catalogue name")
    p.add_argument("--method", choices=("full", "lora", "qlora"), default="full", help="default full")
    p.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence (default 2048)")
    p.add_argument("--micro-batch", type=int, default=1, help="sequences per GPU per step (default 1)")
    p.add_argument("--gpus", type=int, default=1, help="data-parallel GPUs (default 1)")
    p.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0, help="ZeRO stage (default 0)")
    p.add_argument("--no-checkpointing", action="store_true", help="keep every activation (default: "
                                                                   "activation checkpointing on)")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank (default 16)")
    p.add_argument("--targets", default="q,k,v,o", help="LoRA targets: q,k,v,o (default), all-linear, or "
                                                        "components such as attention,ffn")
    p.add_argument("--tokens", type=float, help="training tokens (default: compute-optimal, 20 × params)")
    p.add_argument("--gpu", metavar="NAME", help="device for GPU-hours and the fit check, e.g. h100")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation (default 0.4)")
    p.add_argument("--explain", action="store_true", help="print every formula with its values")


def run(args: argparse.Namespace) -> int:
    from paramscope.analyses.training.estimate import train_estimate
    from paramscope.formats import open_model

    device = None
    if args.gpu:
        from paramscope.knowledge.hardware import find_device

        device = find_device(args.gpu)
    targets = tuple(_TARGETS.get(t.strip(), t.strip()) for t in args.targets.split(",") if t.strip())
    est = train_estimate(
        open_model(args.source), method=args.method, seq_len=args.seq_len, micro_batch=args.micro_batch,
        gpus=args.gpus, zero_stage=args.zero, checkpointing=not args.no_checkpointing,
        lora_rank=args.rank, lora_targets=targets, tokens=int(args.tokens) if args.tokens else None,
        device_flops=device.half_flops if device else None, mfu=args.mfu)
    if args.as_json:
        from paramscope.render.jsonable import dump, train_json

        dump(train_json(est, device))
        return 0
    from paramscope.cli.app import console
    from paramscope.render.train_view import render_train

    render_train(est, device, console(), explain=args.explain)
    return 0
