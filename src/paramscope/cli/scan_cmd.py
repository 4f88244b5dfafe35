"""paramscope scan PATH…: could loading these pickle-based checkpoints run code?"""

from __future__ import annotations

import argparse

HELP = "is it safe to load? every global a pickle-based checkpoint names, and whether it could run code"
DESCRIPTION = """\
Reads every pickle a file holds with paramscope's own restricted pickle interpreter, which never
imports or calls anything, and lists the globals they name: PyTorch .bin/.pt/.pth/.ckpt (zip and
legacy), .pkl/.pickle, joblib files (also compressed), .npy object arrays, .npz and other zip
archives (every member that is a pickle by name or content, in both the central directory's and the
local headers' view), and every further pickle after the first one's STOP.
A file is "safe" when torch.load(weights_only=True) accepts every global, "harmless" when the others
only build data (numpy arrays, argparse.Namespace), and "could run code" otherwise: pickle.load or
torch.load(weights_only=False) would import and call what it names (os.system, builtins.exec, any
unknown callable). It is "could run code" too when the scan cannot verify the file: a pickle that
does not read to its end, data after STOP, a FRAME that disagrees with its opcodes, an encrypted or
oddly compressed member, a zip whose local headers and central directory disagree. Threat model and
promises: docs/security.md. Folders are searched for pickle-named files.

examples:
  paramscope scan pytorch_model.bin
  paramscope scan ~/.cache/huggingface/hub --json"""
EXIT_STATUS = ("exit status: 0 every file was read completely and loading it cannot run code (safe, "
               "harmless, or a format that carries no code); 2 some file could run code, or holds "
               "pickle data that cannot be verified; 1 some file is not pickle-based, cannot be "
               "opened, or is not a whole file of the format it claims (or a PATH does not exist). "
               "2 wins over 1. A folder's files found by their first bytes that hold no pickle are "
               "skipped. See docs/security.md.")


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
