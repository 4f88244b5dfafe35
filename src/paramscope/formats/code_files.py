"""What a folder can give Python's ``import``: code files of any platform and interpreter, sub-folders
with code below them, distribution metadata. Only names and directory entries are read, never a file's
bytes; standard library only, so that a scan of one file (app/scan.py ``shadowed_names``) pays for no
reader it does not use.
"""

from __future__ import annotations

import os
from collections.abc import Set
from pathlib import Path

# File endings import takes code from, on any platform and any interpreter version (a scan on Linux with
# Python 3.11 judges a folder a Windows Python 3.13 may load): source, bytecode, extension modules;
# compared without case (Windows' import finds X.PY)
CODE_SUFFIXES = (".py", ".pyw", ".pyc", ".pyo", ".so", ".pyd")
# a distribution's metadata in a folder on sys.path: importlib.metadata finds it, and loaders load its
# entry points (torch ≥ 2.5: every "torch.backends" entry point on `import torch`)
METADATA_SUFFIXES = (".dist-info", ".egg-info")
MAX_CODE_DEPTH = 8  # how deep under a folder code still makes it a package or a namespace portion


def importable(present: Set[str], folder: Path | None = None) -> frozenset[str]:
    """What a folder holding the names ``present`` can give ``import`` from it, whatever the importing
    Python is and whatever it imports (an optional ``import opt_einsum`` included): its code files
    (``x-y.py`` answers "x-y": import does not ask for an identifier; ``torch.cpython-311-….so``), every
    sub-folder with code anywhere below it (a package, or a namespace portion: ``google/protobuf/`` merges
    into the installed ``google`` namespace and is searched first), and distribution metadata
    (``x.dist-info``: its entry points). Names as listed."""
    out: set[str] = set()
    for name in present:
        lower = name.lower()
        if lower.endswith(CODE_SUFFIXES) or lower.endswith(METADATA_SUFFIXES):
            out.add(name)
    if folder is not None:  # the sub-folders, from one listing (not a stat per name)
        try:
            entries = [e for e in os.scandir(folder) if e.name in present and e.name not in out]
        except OSError:
            entries = []
        out.update(e.name + "/" for e in entries
                   if _linked_folder(e) or (entry_is_dir(e, follow=False) and _holds_code(Path(e.path))))
    return frozenset(out)


def _linked_folder(entry: os.DirEntry) -> bool:
    """A symlink that is, or may be, a folder: possible code, never walked. CPython's FileFinder stats
    through links, so ``struct -> ../lib/structpkg`` answers ``import struct`` (red team round 6); what
    lies behind a link is outside the folder the scan was given. A link whose target cannot be stat'ed
    is not known to be a file. Hugging Face cache snapshots link files only (to ../../blobs/…): quiet."""
    try:
        if not entry.is_symlink():
            return False
    except OSError:
        return True
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return True


def import_names(found: Set[str]) -> frozenset[str]:
    """The module names ``importable``'s entries answer: ``x.py`` and ``x.pyc`` "x", an extension module
    ``x.cpython-311-….so`` "x", a folder ``x/`` "x" (metadata answers none)."""
    out = set()
    for name in found:
        lower = name.lower()
        if name.endswith("/"):
            out.add(name[:-1])
        elif lower.endswith((".so", ".pyd")):
            out.add(name.split(".", 1)[0])
        elif lower.endswith(CODE_SUFFIXES):
            out.add(name.rsplit(".", 1)[0])
    return frozenset(out)


def _holds_code(folder: Path, depth: int = 0) -> bool:
    """A real (not symlinked) sub-folder with a code file, distribution metadata or a symlinked folder
    (``_linked_folder``: a namespace portion ``google/protobuf -> …``) anywhere below it."""
    if depth > MAX_CODE_DEPTH:
        return True  # deeper than the search goes: not known to hold none
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        lower = entry.name.lower()
        if lower.endswith(CODE_SUFFIXES) or lower.endswith(METADATA_SUFFIXES):
            return True
        if _linked_folder(entry):
            return True
        try:
            if entry.is_dir(follow_symlinks=False) and _holds_code(Path(entry.path), depth + 1):
                return True
        except OSError:
            continue
    return False


def entry_is_dir(entry: os.DirEntry, *, follow: bool) -> bool:
    """The directory entry's own type (a stat only for a symlink followed); False where it cannot be read."""
    try:
        return entry.is_dir(follow_symlinks=follow)
    except OSError:
        return False
