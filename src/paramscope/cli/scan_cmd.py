"""paramscope scan PATH…: could loading these pickle-based checkpoints run code?"""

from __future__ import annotations

import argparse

HELP = "is it safe to load? every global a pickle-based checkpoint names, and whether it could run code"
DESCRIPTION = """\
Reads each pickle-based file (PyTorch .bin/.pt/.pth/.ckpt, .pkl) with paramscope's own restricted
pickle interpreter, which never imports or calls anything, and lists the globals the file names.
A file is "safe" when torch.load(weights_only=True) accepts every one of them, "harmless" when the
others only build data (numpy arrays, argparse.Namespace), and "could run code" otherwise: loading it
with torch.load(weights_only=False) or pickle.load would import and call what it names (os.system,
builtins.exec, subprocess, runpy, any unknown callable). Folders are searched for pickle-named files.

examples:
  paramscope scan pytorch_model.bin
  paramscope scan ~/.cache/huggingface/hub --json"""
EXIT_STATUS = ("exit status: 2 if any file could run code, 1 if any file could not be read (or a PATH "
               "does not exist), 0 otherwise")


def configure(p: argparse.ArgumentParser) -> None:
    from paramscope.cli.options import existing_path

    p.add_argument("paths", metavar="PATH", nargs="+", type=existing_path,
                   help="checkpoint files or folders to search")
    p.add_argument("--globals", action="store_true", dest="show_globals",
                   help="list every global of every file, not only the ones that could run code")


def run(args: argparse.Namespace) -> int:
    from paramscope.app.scan import scan

    result = scan(args.paths)
    if args.as_json:
        from paramscope.cli.output import dump

        dump(result.to_json())
    else:
        from paramscope.cli.output import console
        from paramscope.render.scan_view import render_scan

        render_scan(list(result.verdicts), console(), show_globals=args.show_globals)
    return result.exit_code
