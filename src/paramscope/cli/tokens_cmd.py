"""paramscope tokens SOURCE [TEXT]: text → tokens → IDs → text, with the model's own tokenizer."""

from __future__ import annotations

import argparse
import sys

from paramscope.errors import UsageError

HELP = "text → tokens → IDs → text, with the model's own tokenizer; count a document's tokens"
DESCRIPTION = """\
How the model in hand cuts text into tokens: each token with its ID (coloured boundaries; spaces,
tabs, newlines and byte-fallback tokens made visible), the count and characters per token. The
tokenizer is the model's own: a GGUF file's vocabulary (IDs as llama.cpp gives them) or a model
directory's tokenizer.json. Text comes from TEXT, --file, or standard input.
Special tokens written in the text ("<|im_start|>", "<start_of_turn>", "<s>") become their IDs, as
llama.cpp's llama-tokenize does by default; --no-parse-special tokenizes them as plain text.

examples:
  paramscope tokens gemma-3-270m-q4_k_m.gguf "The quick brown fox jumps."
  paramscope tokens ./all-MiniLM-L6-v2 "Hello, world!" --json
  paramscope tokens gemma-3-270m-q4_k_m.gguf --file README.md --count
  git diff | paramscope tokens gemma-3-270m-q4_k_m.gguf --count
  paramscope tokens gemma-3-270m-q4_k_m.gguf --ids 2,818,3823,8864
  paramscope tokens gemma-3-270m-q4_k_m.gguf "<start_of_turn>user\nHi<end_of_turn>"""

PROGRESS_CHARS = 1 << 20  # --count shows a progress bar for texts longer than this (on a terminal)


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import existing_path

    p.add_argument("source", metavar="SOURCE", help="GGUF file, model directory, or tokenizer.json")
    p.add_argument("text", metavar="TEXT", nargs="?", help="text to tokenize (default: --file or stdin)")
    p.add_argument("--file", metavar="PATH", type=existing_path,
                   help="tokenize the contents of a UTF-8 text file")
    p.add_argument("--ids", metavar="ID,ID,…", help="decode these token IDs back to text instead")
    p.add_argument("--count", action="store_true", help="print only the number of tokens")
    p.add_argument("--no-special", action="store_true",
                   help="do not add the model's BOS/EOS/[CLS]/[SEP] around the text")
    p.add_argument("--no-parse-special", dest="parse_special", action="store_false",
                   help="tokenize special tokens written in the text (<|im_start|>, <s>) as plain "
                        "text (default: they become their IDs, as in llama-tokenize)")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.tokens import tokens

    if args.ids is not None:
        result = tokens(args.source, ids=args.ids)
    else:
        text = read_input(args)
        if args.count:
            from paramscope.render.tokens_view import progress_bar

            with progress_bar(len(text) > PROGRESS_CHARS and not args.as_json) as on_progress:
                result = tokens(args.source, text=text, count=True, no_special=args.no_special,
                                parse_special=args.parse_special, progress=on_progress)
        else:
            result = tokens(args.source, text=text, no_special=args.no_special,
                            parse_special=args.parse_special)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    if result.counted is not None:
        print(result.counted.count)
        return 0
    from paramscope.cli.output import console
    from paramscope.render.tokens_view import render_decoded, render_tokens

    if result.decoded is not None:
        render_decoded(result.decoded, console())
    else:
        assert result.tokenized is not None
        render_tokens(result.tokenized, console())
    return 0


def read_input(args: argparse.Namespace) -> str:
    """TEXT, else --file, else standard input when it is not a terminal."""
    from paramscope.tokenize import read_text

    if args.text is not None and args.file:
        raise UsageError("tokens: give TEXT or --file, not both")
    if args.text is not None:
        return args.text
    if args.file:
        return read_text(args.file)
    if sys.stdin.isatty():
        raise UsageError("tokens: no text: give TEXT, --file PATH, or pipe text on standard input")
    return read_text(sys.stdin.buffer, "standard input")
