"""paramscope report SOURCE -o report.html: the web page's views in one static file."""

from __future__ import annotations

import argparse

HELP = "one self-contained HTML file: treemap, memory by context, tokens (no network needed)"
DESCRIPTION = """\
The views of `paramscope serve` in one static HTML file that opens from disk with no network: the
parameter treemap, memory bars for a range of contexts (a slider over sizes computed now), a sample
tokenization, and with --stats the value histograms. Everything is inline; nothing is fetched.
Given the Parquet folder a `paramscope zoo` run wrote, it writes that zoo's summary page instead
(totals, duplicates, unsafe files), read back without opening any model file again.

examples:
  paramscope report gemma-3-270m-q4_k_m.gguf -o gemma.html
  paramscope report llama-3.1-70b -o llama70b.html --weights q4_k_m --gpu h100
  paramscope report model.safetensors -o report.html --stats --text "Hi!\"
  paramscope report zoo.parquet -o zoo.html    # what `paramscope zoo` found"""


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import add_memory_options, add_source, output_file

    add_source(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", type=output_file,
                   help="HTML file to write")
    add_memory_options(p)
    p.add_argument("--text", default="The quick brown fox jumps over the lazy dog.",
                   help="sentence to show tokenized (when the model has a tokenizer)")
    p.add_argument("--stats", action="store_true", help="read every weight and include the histograms")
    p.add_argument("--gpu", metavar="NAME", default="rtx-4090",
                   help="device of the fit matrix and the runtimes side by side, e.g. h100 (default: "
                        "rtx-4090; the page's GPU list switches the capacity lines)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from paramscope.cli.options import memory_options
    from paramscope.web.report import build_report

    if _is_zoo_dataset(args.source):
        from paramscope.app.zoo import zoo_report
        from paramscope.render.zoo_view import zoo_html

        html = zoo_html(zoo_report(args.source))
    else:
        html = build_report(args.source, memory_options(args), text=args.text, stats=args.stats,
                            gpu=args.gpu)
    Path(args.output).write_text(html, encoding="utf-8")
    if args.as_json:
        from paramscope.cli.output import dump

        dump({"output": args.output, "bytes": len(html.encode())})
    else:
        print(f"wrote {args.output} ({len(html.encode()):,} bytes)")
    return 0


def _is_zoo_dataset(source: str) -> bool:
    """A folder of Parquet parts as `paramscope zoo --out` writes them (``part-00000.parquet`` …)."""
    from pathlib import Path

    folder = Path(source)
    return folder.is_dir() and any(folder.glob("part-*.parquet"))
