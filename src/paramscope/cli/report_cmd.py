"""paramscope report SOURCE -o report.html: the web page's views in one static file."""

from __future__ import annotations

import argparse

HELP = "one self-contained HTML file: treemap, memory by context, tokens (no network needed)"
DESCRIPTION = """\
The views of `paramscope serve` in one static HTML file that opens from disk with no network: the
parameter treemap, memory bars for a range of contexts (a slider over sizes computed now), a sample
tokenization, and with --stats the value histograms. Everything is inline; nothing is fetched.

examples:
  paramscope report gemma-3-270m-q4_k_m.gguf -o gemma.html
  paramscope report llama-3.1-70b -o llama70b.html --weights q4_k_m
  paramscope report model.safetensors -o report.html --stats --text "Hello, world!\""""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="model file, directory, config.json or catalogue name")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="HTML file to write")
    p.add_argument("--weights", metavar="TYPE", help="re-price the weights (as `size --weights`)")
    p.add_argument("--kv-type", metavar="TYPE", help="KV cache type (as `size --kv-type`)")
    p.add_argument("--runtime", default="llama.cpp", choices=("llama.cpp", "vllm", "transformers"))
    p.add_argument("--batch", type=int, default=1, help="parallel sequences (default 1)")
    p.add_argument("--text", default="The quick brown fox jumps over the lazy dog.",
                   help="sentence to show tokenized (when the model has a tokenizer)")
    p.add_argument("--stats", action="store_true", help="read every weight and include the histograms")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from paramscope.cli.json_api import SizeArgs
    from paramscope.web.report import build_report

    size = SizeArgs(batch=args.batch, weights=args.weights, kv_type=args.kv_type, runtime=args.runtime)
    html = build_report(args.source, size, text=args.text, stats=args.stats)
    Path(args.output).write_text(html, encoding="utf-8")
    if not getattr(args, "as_json", False):
        print(f"wrote {args.output} ({len(html.encode()):,} bytes)")
    return 0
