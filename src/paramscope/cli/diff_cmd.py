"""paramscope diff A B: what changed between two models, tensor by tensor."""

from __future__ import annotations

import argparse

HELP = "what changed between two models: structure, values tensor by tensor, and a verdict"
DESCRIPTION = """\
Compares two models. Structure, for any two sources (config-only ones too): hyperparameters that
differ, tensors added, removed, reshaped or stored at another type, parameter and byte totals, the
vocabularies and the metadata. Values, when both hold weights (both files are streamed once): per
tensor the relative change ‖B−A‖/‖A‖, cosine, max |B−A|, share of elements changed, SNR in dB, whether
the stored bytes are bit-identical, and for each matrix that changed the rank of its change (a merged
LoRA shows as rank r). Hugging Face and GGUF names are paired through gguf-py's name map (llama.cpp's
Q/K permutation undone), and a GGUF quant is decoded to compare with its original. The first line is a
verdict: identical, same weights stored differently, B is A quantized, B is a fine-tune of A, or
different models.

examples:
  paramscope diff ./Llama-3.1-8B ./Llama-3.1-8B-finetune
  paramscope diff ./all-MiniLM-L6-v2 minilm-q8_0.gguf
  paramscope diff base.gguf merged.gguf --tensor 'blk.*.attn_*' --plot c.png
  paramscope diff llama-3.1-8b llama-3.2-3b --structure-only"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="the first model (file, directory, config.json or catalogue name)")
    p.add_argument("b", metavar="B", help="the second model")
    p.add_argument("--structure-only", dest="values", action="store_false",
                   help="compare the descriptions only; read no weights")
    p.add_argument("--tensor", metavar="GLOB", action="append", default=[],
                   help="compare values only of tensors whose name (in A or B) matches (repeat for several)")
    p.add_argument("--no-hashes", dest="hashes", action="store_false",
                   help="skip the content hash of every tensor (bit-identity is then checked byte by byte)")
    p.add_argument("--no-spectrum", dest="spectrum", action="store_false",
                   help="skip the singular values of each changed matrix's change")
    p.add_argument("--all", dest="all_tensors", action="store_true",
                   help="list every tensor, not only those that changed")
    p.add_argument("--plot", metavar="FILE",
                   help="draw a layer × component heatmap of the change (.png or .svg)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.diff import diff
    from paramscope.render.stats_view import scan_progress

    if args.plot:
        from paramscope.render.diff_plot import check_plot_path

        check_plot_path(args.plot)
    with scan_progress(not args.as_json and args.values, "comparing") as progress:
        result = diff(args.a, args.b, values=args.values, hashes=args.hashes, spectrum=args.spectrum,
                      tensor=tuple(args.tensor), progress=progress)
    if args.plot:
        from paramscope.render.diff_plot import plot_diff

        plot_diff(result.report, args.plot)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return result.exit_code
    from paramscope.cli.output import console
    from paramscope.render.diff_view import render_diff

    render_diff(result.report, console(), all_tensors=args.all_tensors)
    return result.exit_code
