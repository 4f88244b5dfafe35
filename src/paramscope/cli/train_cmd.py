"""paramscope train SOURCE: memory and compute to train or fine-tune it."""

from __future__ import annotations

import argparse

from paramscope.cli.options import add_explain, add_source

HELP = "training and fine-tuning: memory per GPU (full, LoRA, QLoRA, ZeRO) and compute"
DESCRIPTION = """\
Memory per GPU to train or fine-tune a model — weights, gradients, optimizer states, activations
(with or without checkpointing) and logits — for full fine-tuning with mixed-precision AdamW, LoRA
(trainable parameters from the real tensor shapes) or QLoRA, with ZeRO stages 1-3 across N GPUs; and
the compute: 6 × params × tokens, compute-optimal tokens ≈ 20 × params (Chinchilla), GPU-hours at an
MFU. Without --tokens, full training uses the compute-optimal count and LoRA / QLoRA an assumed
fine-tuning set of 10^8 tokens (100,000 examples × 1,000 tokens; docs/train.md gives the sources).

examples:
  paramscope train llama-3.1-8b
  paramscope train llama-3.1-8b --method lora --rank 16 --targets all-linear
  paramscope train llama-3.1-70b --method full --gpus 8 --zero 3 --gpu h100
  paramscope train qwen3-8b --method qlora --seq-len 4096 --tokens 50M --json"""


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.app.train import METHODS
    from paramscope.cli.options import positive_int

    add_source(p)
    p.add_argument("--method", choices=METHODS, default="full", help="default full")
    p.add_argument("--seq-len", type=positive_int, default=2048, help="tokens per sequence (default 2048)")
    p.add_argument("--micro-batch", type=positive_int, default=1,
                   help="sequences per GPU per step (default 1)")
    p.add_argument("--gpus", type=positive_int, default=1, help="data-parallel GPUs (default 1)")
    p.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0, help="ZeRO stage (default 0)")
    p.add_argument("--no-checkpointing", action="store_true", help="keep every activation (default: "
                                                                   "activation checkpointing on)")
    p.add_argument("--rank", type=positive_int, default=16, help="LoRA rank (default 16)")
    p.add_argument("--targets", default="q,k,v,o", help="LoRA targets: q,k,v,o (default), all-linear, or "
                                                        "components such as attention,ffn")
    p.add_argument("--tokens", metavar="N", help="training tokens: 10M, 2.5B, 15T (default: 20 × params for "
                                                 "full training; 100M for lora and qlora)")
    p.add_argument("--gpu", metavar="NAME", help="device for GPU-hours and the fit check, e.g. h100")
    p.add_argument("--mfu", type=fraction, default=0.4, help="model FLOPs utilisation, above 0 and at most 1 "
                                                        "(default 0.4)")
    add_explain(p)


def fraction(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0 < x <= 1:
        raise argparse.ArgumentTypeError(f"takes a fraction above 0 and at most 1 (found {text!r})")
    return x


def run(args: argparse.Namespace) -> int:
    from paramscope.app.train import train

    result = train(args.source, method=args.method, seq_len=args.seq_len, micro_batch=args.micro_batch,
                   gpus=args.gpus, zero=args.zero, checkpointing=not args.no_checkpointing, rank=args.rank,
                   targets=args.targets, tokens=args.tokens, gpu=args.gpu,
                   mfu=args.mfu)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.train_view import render_train

    render_train(result.estimate, result.device, console(), explain=args.explain)
    return 0
