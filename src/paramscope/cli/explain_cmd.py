"""paramscope explain SOURCE: a guided tour of the model, every figure from our own analyses."""

from __future__ import annotations

import argparse

HELP = "a guided tour of a model for newcomers: parameters, where they live, values, memory, tokens"
DESCRIPTION = """\
A short tour of one model in plain words, with its exact numbers: what a parameter is and how many it
has (and what its size label means); where they live (embedding, attention, feed-forward, experts,
norms, output head) with the largest tensor as an example; what the numbers look like (first values,
range, a histogram; files with weights only); how they are stored; what loading takes in fp32, fp16,
as stored and in 4-bit, with the KV cache; how a sentence becomes token IDs; and how it was trained
(published training tokens beside Chinchilla's rule, compute ≈ 6 × N × D). Every figure comes from
inspect, size, stats, tokens or train, and --json lists where each one was read.

examples:
  paramscope explain gemma-3-270m-q4_k_m.gguf
  paramscope explain llama-3.1-70b --level expert
  paramscope explain ./all-MiniLM-L6-v2 --text "Hello there" --json"""


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.app.explain import LEVELS, SAMPLE_TEXT
    from paramscope.cli.options import add_source, positive_int

    add_source(p)
    p.add_argument("--level", choices=LEVELS, default="beginner",
                   help="the words: beginner (default) or expert; the numbers stay the same")
    p.add_argument("--text", default=SAMPLE_TEXT,
                   help=f"sentence to turn into tokens (default {SAMPLE_TEXT!r})")
    p.add_argument("--context", type=positive_int,
                   help="tokens of context for the KV cache (default: as `paramscope size`)")
    p.add_argument("--no-values", dest="values", action="store_false",
                   help="do not read the weights (no values section; faster on big files)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.explain import explain

    result = explain(args.source, level=args.level, text=args.text, values=args.values,
                     context=args.context)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return result.exit_code
    from paramscope.cli.output import console
    from paramscope.render.explain_view import render_explain

    render_explain(result, console())
    return result.exit_code  # 2 for a pickle-based file that could run code, as `inspect`
