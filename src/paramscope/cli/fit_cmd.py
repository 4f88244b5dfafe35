"""paramscope fit SOURCE --gpu NAME: what fits where."""

from __future__ import annotations

import argparse

from paramscope.cli.options import add_explain, add_memory_options, add_source

HELP = "what fits where: devices needed, GPU/CPU split, longest context, best quantization, flags"
DESCRIPTION = """\
Does the model fit the device? If not: how many devices (tensor parallelism, respecting head
divisibility), how many layers go on the GPU and how much stays in CPU RAM (experts first for MoE),
the longest context that fits, the best weight quantization that fits one device, the decode speed
bound, and the llama.cpp / vLLM flags to pass.

examples:
  paramscope fit llama-3.1-70b --gpu h100
  paramscope fit mixtral-8x7b --gpu rtx-4090 --ram 64GiB
  paramscope fit gemma-3-27b --gpu 24GiB --context 32768"""


def configure(p: argparse.ArgumentParser) -> None:
    add_source(p)
    add_memory_options(p)
    add_explain(p)
    p.add_argument("--gpu", metavar="NAME", help="the device, e.g. h100, rtx-4090, m3-max, 24GiB "
                                                 "(default: this machine's first NVIDIA GPU, else its RAM)")
    p.add_argument("--ram", metavar="SIZE", help="CPU RAM for offloaded layers: 64GiB or 64GB (default: "
                                                 "this machine's available RAM)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.fit import fit
    from paramscope.cli.options import memory_options

    result = fit(args.source, gpu=args.gpu, ram=args.ram, **memory_options(args))
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.fit_view import render_fit

    render_fit(result.report, result.speed, result.ram_bytes, console(), explain=args.explain)
    return 0
