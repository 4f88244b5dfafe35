"""paramscope quantize-error SOURCE --to …: what quantizing the weights really costs."""

from __future__ import annotations

import argparse

from paramscope.app.quantize_error import DEFAULT_TARGETS

HELP = "round-trip the weights through quantization schemes: error per tensor and component, and size"
DESCRIPTION = """\
Quantizes and dequantizes every tensor the way each target scheme would store it (llama.cpp file types
with their per-tensor rules and fallbacks, or plain int8 / int4 / fp8 of the linear layers), and reports
the relative RMSE and SNR against the stored values per component and in total, next to the size at
each choice. --budget picks, per component, the most accurate target that keeps the model within the
budget (greedy by error removed per byte). --sample reads evenly spaced runs of rows, for speed.

examples:
  paramscope quantize-error gemma-3-270m-q4_k_m.gguf --to q8_0,q4_k --sample 0.1
  paramscope quantize-error ./Llama-3.1-8B --to q8_0,q4_k,int4 --budget 6GB"""



def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="model file or directory (with its weights)")
    p.add_argument("--to", default=DEFAULT_TARGETS, metavar="LIST",
                   help=f"comma-separated target schemes (default {DEFAULT_TARGETS}; any --weights scheme "
                        "of `paramscope size`)")
    p.add_argument("--sample", type=float, default=1.0, metavar="FRACTION",
                   help="fraction of each matrix's rows to read (default 1: all)")
    p.add_argument("--budget", metavar="SIZE",
                   help="pick the most accurate target per component within SIZE (8GB, 7.5GiB, 500MB)")
    p.add_argument("--tensors", action="store_true", help="also show every tensor's error")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.quantize_error import quantize_error
    from paramscope.render.stats_view import scan_progress

    with scan_progress(not args.as_json, "round-tripping") as progress:
        result = quantize_error(args.source, to=args.to, sample=args.sample, budget=args.budget,
                                progress=progress)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.stats_view import render_quant_error

    render_quant_error(result.report, console(), tensors=args.tensors)
    return 0
