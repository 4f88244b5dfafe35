"""paramscope size SOURCE: memory to run it."""

from __future__ import annotations

import argparse

from paramscope.cli.options import add_explain, add_memory_options, add_source

HELP = "memory to run it: weights + KV cache + runtime buffers + overhead, per device"
DESCRIPTION = """\
Memory to run a model: weights (as stored, or re-priced with --weights) + KV cache for the context
and batch + the runtime's buffers + overhead = total, per device.

examples:
  paramscope size llama-3.1-8b
  paramscope size gemma-3-270m-q4_k_m.gguf --context 32768 --kv-type q8_0
  paramscope size llama-3.1-70b --weights bf16 --gpu h100x2 --runtime vllm
  paramscope size qwen3-8b --weights q4_k_m --explain"""



def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import existing_path

    add_source(p)
    add_memory_options(p)
    add_explain(p)
    p.add_argument("--context-from-file", metavar="PATH", type=existing_path,
                   help="size the KV cache for this document: its tokens counted with the model's own "
                        "tokenizer (BOS included)")
    p.add_argument("--gpu", metavar="NAME[xN]", help="device(s) to check against, e.g. h100, rtx-4090x2, "
                                                     "24GiB (see `paramscope gpus`)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.size import size
    from paramscope.cli.options import memory_options

    result = size(args.source, gpu=args.gpu, context_from_file=args.context_from_file,
                  **memory_options(args))
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.size_view import render_size

    render_size(result.estimate, console(), explain=args.explain, speed=result.speed)
    return 0
