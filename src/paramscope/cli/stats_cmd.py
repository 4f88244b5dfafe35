"""paramscope stats SOURCE: the numbers themselves."""

from __future__ import annotations

import argparse

HELP = "the numbers themselves: statistics, histograms and anomalies of every tensor's values"
DESCRIPTION = """\
Reads every value of every tensor (memory-mapped, chunk by chunk) and reports, per tensor and per
component (the tree of `inspect`): count, min, max, mean, std, mean |x|, abs-max, zeros, NaN, Inf,
percentiles 1 / 50 / 99 / 99.9 and a histogram; then anomalies (NaN/Inf, all-zero or constant tensors,
dead rows and columns, outlier input channels, identical tensors). --plot draws histograms per
component and a per-layer heatmap of std and abs-max (needs matplotlib).

examples:
  paramscope stats gemma-3-270m-q4_k_m.gguf
  paramscope stats ./all-MiniLM-L6-v2 --tensor 'encoder.layer.0.*' --json
  paramscope stats model.safetensors --plot stats.png"""


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import output_file

    p.add_argument("source", metavar="SOURCE", help="model file or directory (with its weights)")
    p.add_argument("--tensor", metavar="GLOB", action="append", default=[],
                   help="only tensors whose name matches (fnmatch; repeat for several)")
    p.add_argument("--plot", metavar="FILE", type=output_file,
                   help="draw histograms and a per-layer heatmap (.png or .svg)")
    p.add_argument("--no-tensors", dest="tensors", action="store_false",
                   help="leave out the per-tensor table (components and anomalies only)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.stats import stats
    from paramscope.render.stats_view import scan_progress

    if args.plot:
        from paramscope.render.stats_plot import check_plot_path

        check_plot_path(args.plot)
    with scan_progress(not args.as_json) as progress:
        result = stats(args.source, tensor=tuple(args.tensor), progress=progress)
    if args.plot:
        from paramscope.render.stats_plot import plot_stats

        plot_stats(result.stats, args.plot)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.stats_view import render_stats

    render_stats(result.stats, console(), tensors=args.tensors)
    return 0
