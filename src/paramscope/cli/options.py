"""Options several commands share, generated where they can be from the tables that define them.

The runtime options (llama.cpp ``--ubatch``, vLLM ``--gpu-memory-utilization``…) come from
``analyses.sizing.runtimes.RUNTIMES``: a runtime that declares an option gets its flag here, in the
web form and in the Python API at once.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

SOURCE_HELP = "model file, directory, config.json or catalogue name"
RUNTIME_OPTION_DEST = "runtime_option__"  # prefix of argparse dests that hold runtime options


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (contexts, batches, counts)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes a whole number ≥ 1 (found {text!r})") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number ≥ 1 (found {text!r})")
    return n


def existing_path(text: str) -> str:
    """argparse type: a file or folder that exists (checked before any work starts)."""
    if not os.path.exists(os.path.expanduser(text)):
        raise argparse.ArgumentTypeError(f"{text}: no such file or directory")
    return text


def existing_dir(text: str) -> str:
    if not os.path.isdir(os.path.expanduser(text)):
        what = "not a directory" if os.path.exists(os.path.expanduser(text)) else "no such directory"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return text


def existing_dir_or_remote(text: str) -> str:
    """argparse type: a folder that exists, or a remote source (hf:ORG/NAME, ollama:NAME), checked later."""
    from paramscope.sources import looks_remote

    return text if looks_remote(text) else existing_dir(text)


def output_file(text: str) -> str:
    """argparse type: a file to write, whose folder exists (checked before a long computation)."""
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(text)))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
    if os.path.isdir(os.path.expanduser(text)):
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file name")
    return text


def add_source(p: argparse.ArgumentParser, help: str = SOURCE_HELP) -> None:
    p.add_argument("source", metavar="SOURCE", help=help)


def add_memory_options(p: argparse.ArgumentParser) -> None:
    """The options of size, fit and report: context, batch, weights, KV type, runtime and its options."""
    from paramscope.analyses.sizing.runtimes import RUNTIMES, names

    p.add_argument("--context", type=positive_int,
                   help="tokens per sequence (default 8192, or the model's maximum when smaller)")
    p.add_argument("--batch", type=positive_int, default=1, help="parallel sequences (default 1)")
    p.add_argument("--encoder-length", type=positive_int, metavar="N",
                   help="encoder-decoders (T5, BART): encoder input tokens per sequence (default: the "
                        "context; Whisper's is fixed at 1500 frames)")
    p.add_argument("--weights", metavar="TYPE", help="re-price the weights: fp32, bf16, fp16, fp8, int8, "
                                                     "int4 (int4_g32, int4_g32_sym …: group size, no "
                                                     "zero points), nf4, or a ggml type / llama.cpp "
                                                     "file type "
                                                     "(q8_0, q4_k_m, iq3_xxs, …; add _imatrix for a file "
                                                     "made with an importance matrix, _before_2026_03 for "
                                                     "llama-quantize's earlier rules)")
    p.add_argument("--kv-type", metavar="TYPE", help="KV cache type: f32, f16, bf16, q8_0, q5_1, q5_0, "
                                                     "q4_1, q4_0, iq4_nl, fp8 (default: the runtime's)")
    p.add_argument("--runtime", default="llama.cpp", choices=names(),
                   help="whose buffers to count (default llama.cpp)")
    p.add_argument("--host-ram", metavar="NAME", help="the RAM beside the GPU, a CPU row of `paramscope gpus "
                   "--kind cpu` (ddr4-3200-2ch, ddr5-6400-2ch, epyc-genoa-12ch, …): the bandwidth a decode "
                   "step reads what stays in host memory at (default: dual-channel DDR5-5600, assumed)")
    for r in RUNTIMES:
        for o in r.options:
            # None or "": the help says what the default is
            default = "" if o.default in (None, "") else f"default {o.default}; "
            kw: dict[str, Any] = {"dest": RUNTIME_OPTION_DEST + o.name, "default": None,
                                  "help": f"{o.help} ({default}{r.name} only)"}
            if o.kind is bool:
                kw["action"] = "store_const"
                kw["const"] = True
            elif o.choices:
                kw["choices"] = o.choices
                if len(",".join(o.choices)) > 30:  # a long {a,b,…} set would push usage past 80 columns;
                    kw["metavar"] = o.name.upper()  # the help names every choice
            else:
                kw["type"] = o.kind
                kw["metavar"] = o.metavar or o.kind.__name__.upper()
            p.add_argument(o.flag, **kw)


def memory_options(args: argparse.Namespace) -> dict[str, Any]:
    """The shared memory options as keyword arguments of ``app.size`` / ``app.fit``; runtime options only
    when given (an option of another runtime is then refused by the runtime's table)."""
    out: dict[str, Any] = {"context": args.context, "batch": args.batch, "weights": args.weights,
                           "kv_type": args.kv_type, "runtime": args.runtime,
                           "encoder_length": args.encoder_length, "host_ram": args.host_ram}
    for key, value in vars(args).items():
        if key.startswith(RUNTIME_OPTION_DEST) and value is not None:
            out[key.removeprefix(RUNTIME_OPTION_DEST)] = value
    return out


def add_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("--explain", action="store_true", help="print every formula with its values")
