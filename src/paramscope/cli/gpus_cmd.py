"""paramscope gpus: the hardware catalogue, and what this machine has."""

from __future__ import annotations

import argparse

HELP = "the hardware catalogue (memory, bandwidth, FLOP/s, source) and this machine"
DESCRIPTION = """\
The devices paramscope knows: GPUs, unified-memory chips and CPU memory setups, with memory,
memory bandwidth, dense bf16/fp8 FLOP/s and the source of each row; then this machine's RAM and
NVIDIA GPUs (through nvidia-ml-py, when installed).

examples:
  paramscope gpus
  paramscope gpus --kind gpu --json
  paramscope size llama-3.1-70b --gpu h100x2"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=("gpu", "unified", "cpu"), help="only devices of this kind")
    p.add_argument("--vendor", help="only devices of this vendor (nvidia, amd, apple, …)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.gpus import gpus

    result = gpus(kind=args.kind, vendor=args.vendor)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.hardware_view import render_gpus

    render_gpus(list(result.devices), result.system, console())
    return 0
