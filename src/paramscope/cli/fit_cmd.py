"""paramscope fit SOURCE --gpu NAME: what fits where."""

from __future__ import annotations

import argparse

from paramscope.cli.size_cmd import add_model_options, request

HELP = "what fits where: devices needed, GPU/CPU split, longest context, best quantization, flags"
DESCRIPTION = """\
Does the model fit the device? If not: how many devices (tensor parallelism, respecting head
divisibility), how many layers go on the GPU and how much stays in CPU RAM (experts first for MoE),
the longest context that fits, the best weight quantization that fits one device, the decode speed
bound, and the llama.cpp / vLLM flags to pass.

examples:
  paramscope fit llama-3.1-70b --gpu h100
  paramscope fit mixtral-8x7b --gpu rtx-4090 --ram 64
  paramscope fit gemma-3-27b --gpu 24GB --context 32768"""


def configure(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    p.add_argument("--gpu", metavar="NAME", help="the device, e.g. h100, rtx-4090, m3-max, 24GB "
                                                 "(default: this machine's first NVIDIA GPU, else its RAM)")
    p.add_argument("--ram", type=float, metavar="GB", help="CPU RAM for offloaded layers, in GB as RAM is "
                                                            "sold (binary: 64 = 64 GiB; default: this "
                                                            "machine's available RAM)")


def run(args: argparse.Namespace) -> int:
    from paramscope.formats import open_model

    report, speed, ram = fit_parts(open_model(args.source), args, args.gpu, args.ram)
    if args.as_json:
        from paramscope.render.jsonable import dump, fit_json

        dump(fit_json(report, speed, ram))
        return 0
    from paramscope.cli.app import console
    from paramscope.render.fit_view import render_fit

    render_fit(report, speed, ram, console(), explain=args.explain)
    return 0


def fit_parts(model, options, gpu: str | None, ram_gb: float | None):
    """The fit report, the speed bounds on the devices it needs, and the RAM assumed (bytes).

    ``options`` are parsed size options (argparse's, or json_api.SizeArgs)."""
    from paramscope.analyses.sizing.fit import fit
    from paramscope.analyses.sizing.memory import estimate
    from paramscope.analyses.sizing.speed import speed_for
    from paramscope.system import detect

    device = _device(gpu)
    ram = int(ram_gb * 2**30) if ram_gb else detect().available_ram_bytes
    report = fit(model, request(options, device, 1), ram_bytes=ram)
    n = report.devices_needed or 1
    speed = speed_for(model, estimate(model, request(options, device, n)), device, n)
    return report, speed, ram


def _device(spec: str | None):
    from paramscope.knowledge.hardware import parse_gpu_spec
    from paramscope.system import detect

    if spec:
        device, n = parse_gpu_spec(spec)
        if n != 1:
            from paramscope.errors import UnsupportedError

            raise UnsupportedError(f"fit takes one device type and finds how many are needed (got {spec!r}; "
                                   "use `size --gpu NAMExN` to check a given count)")
        return device
    found = detect(gpus=True)
    for g in found.gpus:
        if g.device:
            return g.device
    from paramscope.knowledge.hardware import custom_device

    gb = (found.available_ram_bytes or 0) / 1e9  # no GPU: the model runs from this machine's RAM
    return custom_device(f"{gb:.1f}GB")
