"""paramscope quantize-error SOURCE --to …: what quantizing the weights really costs."""

from __future__ import annotations

import argparse
import re

HELP = "round-trip the weights through quantization schemes: error per tensor and component, and size"
DESCRIPTION = """\
Quantizes and dequantizes every tensor the way each target scheme would store it (llama.cpp file types
with their per-tensor rules and fallbacks, or plain int8 / int4 / fp8 of the linear layers), and reports
the relative RMSE and SNR against the stored values per component and in total, next to the size at
each choice. --budget picks, per component, the most accurate target that keeps the model within the
budget (greedy by error removed per byte). --sample reads evenly spaced runs of rows, for speed.

examples:
  paramscope quantize-error gemma-3-270m-q4_k_m.gguf --to q8_0,q6_k,q4_k,q4_0 --sample 0.1
  paramscope quantize-error ./Llama-3.1-8B --to q8_0,q4_k,int4,fp8 --sample 0.05 --budget 6GB"""

DEFAULT_TARGETS = "q8_0,q6_k,q4_k,q4_0,int8,int4,fp8"
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="model file or directory (with its weights)")
    p.add_argument("--to", default=DEFAULT_TARGETS, metavar="LIST",
                   help=f"comma-separated target schemes (default {DEFAULT_TARGETS}; any --weights scheme "
                        "of `paramscope size`)")
    p.add_argument("--sample", type=float, default=1.0, metavar="FRACTION",
                   help="fraction of each matrix's rows to read (default 1: all)")
    p.add_argument("--budget", type=parse_bytes, metavar="SIZE",
                   help="pick the most accurate target per component within SIZE (8GB, 7.5GiB, 500MB)")
    p.add_argument("--tensors", action="store_true", help="also show every tensor's error")


def parse_bytes(text: str) -> int:
    """'8GB' → 8·10⁹, '7.5GiB' → 7.5·2³⁰ (decimal units as disks count, binary as memory does)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 8GB, 7.5GiB, 500MB)")
    return int(float(m.group(1)) * UNITS[m.group(2).lower()])


def run(args: argparse.Namespace) -> int:
    from paramscope.analyses.values.quant_error import quantize_error
    from paramscope.formats import open_model
    from paramscope.render.stats_view import scan_progress
    from paramscope.sources.mapped import MappedFiles

    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    model = open_model(args.source)
    with MappedFiles() as source, scan_progress(not args.as_json, "round-tripping") as progress:
        report = quantize_error(model, source, targets, sample=args.sample, budget=args.budget,
                                progress=progress)
    if args.as_json:
        from paramscope.render.jsonable import dump
        from paramscope.render.stats_view import quant_error_json

        dump(quant_error_json(report))
        return 0
    from paramscope.cli.app import console
    from paramscope.render.stats_view import render_quant_error

    render_quant_error(report, console(), tensors=args.tensors)
    return 0
