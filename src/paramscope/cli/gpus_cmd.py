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
    from paramscope.knowledge.hardware import DEVICES
    from paramscope.system import detect

    devices = [d for d in DEVICES
               if (args.kind is None or d.kind == args.kind)
               and (args.vendor is None or d.vendor.lower() == args.vendor.lower())]
    system = detect(gpus=True)
    if args.as_json:
        from paramscope.render.jsonable import device_json, dump, system_json

        dump({"devices": [device_json(d) for d in devices], "this_machine": system_json(system)})
        return 0
    from paramscope.cli.app import console
    from paramscope.render.hardware_view import render_gpus

    render_gpus(devices, system, console())
    return 0
