"""paramscope ls [DIR…]: the models already on this machine."""

from __future__ import annotations

import argparse

HELP = "the models on this machine: Hugging Face cache, Ollama, LM Studio and any folders given"
DESCRIPTION = """\
Finds the models on this machine and reads only their headers: the Hugging Face cache (HF_HOME,
HF_HUB_CACHE, ~/.cache/huggingface/hub: every snapshot), Ollama (OLLAMA_MODELS, ~/.ollama/models:
model:tag → its GGUF blob), LM Studio (~/.lmstudio/models, ~/.cache/lm-studio/models) and any folders
given. One row each: name, format, parameters, stored type or quantization, size on disk, path.
hf:ORG/NAME lists a Hugging Face Hub repository instead: each GGUF file with its size and the
quantization its name states (unread), and the safetensors model read to its headers (docs/hub.md).

examples:
  paramscope ls
  paramscope ls ~/models /data/checkpoints --only --json
  paramscope ls hf:bartowski/Llama-3.2-1B-Instruct-GGUF"""
PROGRESS_ABOVE = 16  # models: a progress bar on a terminal when there are more than this


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import existing_dir_or_remote, positive_int

    p.add_argument("dirs", metavar="DIR", nargs="*", type=existing_dir_or_remote,
                   help="more folders to search, or hf:ORG/NAME to list a Hub repository's models")
    p.add_argument("--only", action="store_true", help="search only the folders given, not the usual places")
    p.add_argument("--workers", type=positive_int, default=8, help="header reads in parallel (default 8)")


def run(args: argparse.Namespace) -> int:
    import sys

    from paramscope.app.ls import LsRequest, ls, models

    req = LsRequest(tuple(args.dirs), args.only, args.workers)
    found = models(req)  # found first: the progress bar needs the count
    if args.as_json or len(found) <= PROGRESS_ABOVE or not sys.stderr.isatty():
        result = ls(req, found=found)
    else:
        from rich.progress import Progress

        from paramscope.cli.output import stderr_console

        with Progress(console=stderr_console(), transient=True) as bar:
            task = bar.add_task("reading headers", total=len(found))
            result = ls(req, found=found, progress=lambda n: bar.advance(task, n))
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
        return 0
    from paramscope.cli.output import console
    from paramscope.render.ls_view import render_ls

    render_ls(list(result.rows), console())
    return 0
