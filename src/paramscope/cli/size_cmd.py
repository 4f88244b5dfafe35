"""paramscope size SOURCE: memory to run it."""

from __future__ import annotations

import argparse

HELP = "memory to run it: weights + KV cache + runtime buffers + overhead, per device"
DESCRIPTION = """\
Memory to run a model: weights (as stored, or re-priced with --weights) + KV cache for the context
and batch + the runtime's buffers + overhead = total, per device.

examples:
  paramscope size llama-3.1-8b
  paramscope size gemma-3-270m-q4_k_m.gguf --context 32768 --kv-type q8_0
  paramscope size llama-3.1-70b --weights bf16 --gpu h100x2 --runtime vllm
  paramscope size qwen3-8b --weights q4_k_m --explain"""


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by size and fit."""
    p.add_argument("source", metavar="SOURCE", help="model file, directory, config.json or catalogue name")
    p.add_argument("--context", type=int, help="tokens per sequence (default 8192, or the model's maximum "
                                                "when smaller)")
    p.add_argument("--batch", type=int, default=1, help="parallel sequences (default 1)")
    p.add_argument("--weights", metavar="TYPE", help="re-price the weights: fp32, bf16, fp16, fp8, int8, "
                                                     "int4, nf4, or a ggml type / llama.cpp file type "
                                                     "(q8_0, q4_k_m, iq3_xxs, …)")
    p.add_argument("--kv-type", metavar="TYPE", help="KV cache type: f32, f16, bf16, q8_0, q5_1, q5_0, "
                                                     "q4_1, q4_0, iq4_nl, fp8 (default: the runtime's)")
    p.add_argument("--runtime", default="llama.cpp", choices=("llama.cpp", "vllm", "transformers"),
                   help="whose buffers to count (default llama.cpp)")
    p.add_argument("--ubatch", type=int, default=512, help="llama.cpp -ub (default 512)")
    p.add_argument("--swa-full", action="store_true", help="llama.cpp --swa-full: sliding-window layers "
                                                           "hold the whole context")
    p.add_argument("--explain", action="store_true", help="print every formula with its values")


def configure(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    p.add_argument("--context-from-file", metavar="PATH", help="size the KV cache for this document: its "
                                                               "tokens counted with the model's own "
                                                               "tokenizer (BOS included)")
    p.add_argument("--gpu", metavar="NAME[xN]", help="device(s) to check against, e.g. h100, rtx-4090x2, "
                                                     "24GB (see `paramscope gpus`)")


def request(args, device=None, n: int = 1):
    """The analysis request from parsed options (argparse's, or json_api.SizeArgs: same names)."""
    from paramscope.analyses.sizing.memory import SizeRequest

    return SizeRequest(context=args.context, batch=args.batch, weights=args.weights, kv_type=args.kv_type,
                       runtime=args.runtime, ubatch=args.ubatch, swa_full=args.swa_full, device=device,
                       n_devices=n)


def devices(gpu: str | None):
    """``--gpu NAME[xN]`` as (device, count); (None, 1) without one."""
    if not gpu:
        return None, 1
    from paramscope.knowledge.hardware import parse_gpu_spec

    return parse_gpu_spec(gpu)


def run(args: argparse.Namespace) -> int:
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.formats import open_model

    device, n = devices(args.gpu)
    model = open_model(args.source)
    if args.context_from_file:
        from paramscope.errors import UnsupportedError
        from paramscope.tokenize import count_tokens, read_text

        if args.context is not None:
            raise UnsupportedError("give --context or --context-from-file, not both")
        args.context = count_tokens(model, read_text(args.context_from_file))
    est = estimate(model, request(args, device, n))
    if args.as_json:
        from paramscope.render.jsonable import dump, size_json

        dump(size_json(est))
        return 0
    from paramscope.cli.app import console
    from paramscope.render.size_view import render_size

    render_size(est, console(), explain=args.explain)
    return 0
