"""paramscope scan PATH…: could loading these pickle-based checkpoints run code?"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paramscope.analyses.safety.pickle_safety import Verdict
    from paramscope.formats.pickle_vm import GlobalUse

HELP = "is it safe to load? every global a pickle-based checkpoint names, and whether it could run code"
DESCRIPTION = """\
Reads each pickle-based file (PyTorch .bin/.pt/.pth/.ckpt, .pkl) with paramscope's own restricted
pickle interpreter, which never imports or calls anything, and lists the globals the file names.
A file is "safe" when torch.load(weights_only=True) accepts every one of them, "harmless" when the
others only build data (numpy arrays, argparse.Namespace), and "could run code" otherwise: loading it
with torch.load(weights_only=False) or pickle.load would import and call what it names (os.system,
builtins.exec, subprocess, runpy, any unknown callable). Folders are searched for pickle-named files.

exit status: 2 if any file could run code, 1 if any file could not be read, 0 otherwise.

examples:
  paramscope scan pytorch_model.bin
  paramscope scan ~/.cache/huggingface/hub --json"""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", metavar="PATH", nargs="+", help="checkpoint files or folders to search")
    p.add_argument("--globals", action="store_true", dest="show_globals",
                   help="list every global of every file, not only the ones that could run code")


def run(args: argparse.Namespace) -> int:
    from paramscope.sources.local_models import pickle_files

    verdicts = [_scan(path) for path in pickle_files([Path(p).expanduser() for p in args.paths])]
    if args.as_json:
        from paramscope.render.jsonable import dump
        from paramscope.render.scan_view import scan_json

        dump(scan_json(verdicts))
    else:
        from paramscope.cli.app import console
        from paramscope.render.scan_view import render_scan

        render_scan(verdicts, console(), show_globals=args.show_globals)
    return max((v.exit_code for v in verdicts), default=0)


NOT_PICKLES = ("gguf", "safetensors", "onnx_reader")  # readers of formats that hold no code


def _scan(path: Path) -> Verdict:
    """One file's verdict; a file that cannot be read is a verdict too (with what it named before)."""
    from paramscope.analyses.safety.pickle_safety import judge
    from paramscope.errors import ParamscopeError
    from paramscope.formats import SNIFF_BYTES, pickle_vm, pytorch, reader
    from paramscope.sources.local import LocalFile

    try:
        with LocalFile(path) as f:
            head = f.head(SNIFF_BYTES)
        other = next((name for name in NOT_PICKLES if reader(name).sniff(head, path)), None)
        if other is not None:
            return judge(str(path), (), not_pickle=reader(other).NAME)
        refs = pytorch.read_globals(path)
    except pickle_vm.PickleError as e:
        return judge(str(path), _rows(e.references), error=str(e))
    except ParamscopeError as e:
        return judge(str(path), (), error=str(e))
    return judge(str(path), _rows(refs))


def _rows(refs: Iterable[GlobalUse]) -> Iterator[tuple[str, str, int, int]]:
    return ((u.module, u.name, u.count, u.calls) for u in refs)
