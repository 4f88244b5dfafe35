"""``paramscope scan``: could loading these pickle-based files run code? A verdict per file, from the
globals its pickles name, never from running them (docs/security.md)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.safety.pickle_safety import Verdict
    from paramscope.formats.pickle_vm import GlobalUse
    from paramscope.formats.registry import Format

@record
class ScanRequest:
    paths: tuple[str, ...]  # files, or folders searched for pickle-based files


@record
class ScanResult:
    request: ScanRequest
    verdicts: tuple[Verdict, ...]

    @property
    def exit_code(self) -> int:
        return max((v.exit_code for v in self.verdicts), default=0)

    def to_json(self) -> dict[str, Any]:
        return {"files": [verdict_json(v) for v in self.verdicts],
                "could_run_code": [v.source for v in self.verdicts if v.could_run_code],
                "exit_status": self.exit_code}


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {
        "file": v.source, "status": v.status, "could_run_code": v.could_run_code, "summary": v.summary,
        "error": v.error, "unverified": list(v.unverified), "not_judged": list(v.not_judged),
        "skipped": v.skipped,
        "exit_status": v.exit_code,
        "globals": [{"global": g.qualname, "module": g.module, "name": g.name, "status": g.status,
                     "reason": g.reason, "count": g.count, "calls": g.calls} for g in v.globals],
    }


def scan(paths: str | Sequence[str] | ScanRequest) -> ScanResult:
    """``paramscope.scan(["pytorch_model.bin"]).verdicts``; folders are searched for pickle-based files."""
    if isinstance(paths, ScanRequest):
        req = paths
    else:
        req = ScanRequest((paths,) if isinstance(paths, str) else tuple(str(p) for p in paths))
    # a folder's listing is cached for one call only: a second call in the same process (the API, the web
    # front end) must see code added since, even inside a sub-folder whose parent's mtime did not change
    _listing.cache_clear()
    given = [Path(p).expanduser() for p in req.paths]
    by_head: set[Path] = set()
    code: list[Verdict] = []
    if any(p.is_dir() for p in given):  # folder search needs discover (and the readers it imports)
        from paramscope.formats.discover import pickle_files, pickle_named, remote_code, walked_folders

        found = pickle_files(given)
        by_head = {p for p in set(found) - set(given) if not p.is_dir() and not pickle_named(p.name)}
        code = [_repository_code(f, modules, how) for f, modules, how in remote_code(given)]
        # a folder whose Python code stands in for modules loading imports, whatever its files are
        code += [_shadowing_folder(folder, names) for folder in walked_folders(given)
                 if (names := _own_code(folder))]
    else:
        found = given
    return ScanResult(req, (*(_unsearched(path) if path.is_dir() else scan_file(path, path in by_head)
                              for path in found), *code))


def _repository_code(config: Path, modules: tuple[str, ...], how: str) -> Verdict:
    """A file that names repository code present beside it or in another repository (formats/discover.py
    REMOTE_CODE: transformers' auto_map and custom_pipelines, diffusers' model_index.json,
    sentence-transformers' modules.json; a hubconf.py): ``how`` says what imports it, and the scan judges
    no Python code."""
    from paramscope.analyses.safety.pickle_safety import judge
    from paramscope.formats.discover import OVERSIZED

    if modules == (OVERSIZED,):
        return judge(str(config), (), unverified=(f"{OVERSIZED}: whether it names code is not known",))
    listed = ", ".join(modules)
    return judge(str(config), (), unverified=(
        f"names repository code ({listed}): {how}; the scan does not judge Python code",))


def _own_code(folder: Path) -> tuple[str, ...]:
    """``shadowed_names`` less the sub-folders that are no regular package (namespace portions only for
    their code below, which the folder search reports in its own folder's verdict)."""
    return tuple(n for n in shadowed_names(folder)
                 if not n.endswith("/") or any((folder / n[:-1]).glob("__init__.*")))


def _shadowing_folder(folder: Path, names: tuple[str, ...]) -> Verdict:
    from paramscope.analyses.safety.pickle_safety import judge

    return judge(str(folder), (), unverified=(_shadow_line(folder, names),))


def _unsearched(folder: Path) -> Verdict:
    """A folder the search did not enter (formats/discover.py ``pickle_files``): loading a file under it
    could run code the scan never saw."""
    from paramscope.analyses.safety.pickle_safety import judge
    from paramscope.formats.discover import MAX_WALK_DEPTH

    what = "a symlinked folder (not followed)" if folder.is_symlink() else \
        f"a folder deeper than {MAX_WALK_DEPTH} levels"
    return judge(str(folder), (), unverified=(f"{what}: the files under it were not searched",))


def scan_file(path: Path, found_by_head: bool = False) -> Verdict:
    """One file's verdict: every pickle it holds (formats/pickle_scan.py); a file that cannot be opened,
    or holds no pickle at all, is a verdict too (exit 1). ``found_by_head``: a folder search took the
    file for its first bytes, not its name (a zip, a .npy, PROTO): holding no pickle, it is skipped
    (exit 0; picklescan and modelscan skip such files too), not an error the user asked about."""
    from paramscope.analyses.safety.pickle_safety import judge
    from paramscope.errors import ParamscopeError
    from paramscope.formats import SNIFF_BYTES, pickle_scan
    from paramscope.formats.registry import FILE_FORMATS  # rows only: readers import on use
    from paramscope.sources.local import LocalFile

    try:
        with LocalFile(path) as f:
            head = f.head(SNIFF_BYTES)
        # a file of a format that holds no code (by its own first bytes or name) is still read as
        # pickle.load would read it: a name or four magic bytes do not stop an unpickler. It is that
        # format's only when that reading breaks before naming a global (and no archive hides in it).
        # A zip, a protocol-2+ pickle or a .npy array is read at once (the other readers stay
        # unimported), and asked about other formats only when it breaks before naming anything (a
        # safetensors header of 384 bytes starts with the bytes of PROTO 1)
        def claimed() -> Format | None:
            return next((fmt for fmt in FILE_FORMATS if not fmt.can_carry_code and fmt.holds_weights
                         and fmt.may_be(head) and fmt.reader().sniff(head, path)), None)

        other = None
        if pickle_scan.certainly_scanned(head):
            found = pickle_scan.scan_path(path)
            if (found.unverified or found.not_pickle) and not (found.references or found.pickles):
                other = claimed()
        else:
            other = claimed()
            if other is None:
                found = pickle_scan.scan_path(path)
        if other is not None:
            found = pickle_scan.scan_path(path, lenient=True)
            if not (found.references or found.unverified):
                # "safe: a GGUF file" is a claim about the whole file: that format's own reader must
                # read it (a GGUF cut after its magic is no GGUF file). Where it cannot, the verdict is
                # the reader's error (exit 1): not pickle-based, and not what it claims to be either
                from paramscope.analyses.safety.pickle_safety import templates_in

                metadata = whole_file(other.name, path)
                return judge(str(path), (), not_pickle=other.name,
                             not_judged=templates_in(metadata) if other.name == "gguf" else (),
                             unverified=shadowed_modules(path))
    except ParamscopeError as e:
        return judge(str(path), (), error=str(e))
    if found.code_free:
        return judge(str(path), (), not_pickle=found.code_free, unverified=shadowed_modules(path))
    if found_by_head and found.not_pickle and not (found.references or found.unverified):
        return judge(str(path), (), skipped=f"{found.not_pickle} (found by its first bytes, not its name)")
    return judge(str(path), _rows(found.references), error=found.not_pickle and f"{path}: {found.not_pickle}",
                 unverified=(*found.unverified, *shadowed_modules(path)))


# A Python started in a folder (``python -c``, ``-m``, the REPL, a notebook; a script: its own folder)
# looks there first for every module it imports: the loader, what the file names (decimal.Decimal), what
# those import in turn (``import pickle`` loads struct, numpy textwrap, torch typing_extensions) and what
# any of them only tries (torch's optional ``import opt_einsum``). No list of names can be proved whole,
# and which modules are built in, frozen or installed is the loading Python's, not the scan's: so any code
# the folder can give import (formats/code_files.py ``importable``: code files, sub-folders with code below
# them, which a namespace package such as ``google`` merges, distribution metadata whose entry points
# torch loads) is "could run code". Tested quiet on folders of weights, configs, tokenizers and text.
MAX_NAMES_SHOWN = 5


def shadowed_names(folder: Path) -> tuple[str, ...]:
    """What in ``folder`` a Python started there can import (``importable``), in name order: every module
    counts, whether the file's globals name it or not."""
    return tuple(sorted(_modules_in(folder)))


def _shadow_line(folder: Path, names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:MAX_NAMES_SHOWN]) + (f" and {len(names) - MAX_NAMES_SHOWN} more"
                                                   if len(names) > MAX_NAMES_SHOWN else "")
    return (f"Python code in {folder} ({shown}): a Python started there imports from it first, so any "
            f"module loading imports or only tries to may be this code")


def shadowed_modules(path: Path) -> tuple[str, ...]:
    """``shadowed_names`` of the file's folder, as the verdict's line."""
    names = shadowed_names(path.parent)
    return (_shadow_line(path.parent, names),) if names else ()


def _modules_in(folder: Path) -> frozenset[str]:
    """The modules the folder answers ``import`` for (formats/code_files.py ``importable``), found once per
    folder state within one ``scan()`` call (a scan of 4,000 files in one folder lists it once, not 4,000
    times); ``scan()`` clears the cache, since the key (the folder's own mtime) misses changes below it."""
    try:
        state = folder.stat().st_mtime_ns
    except OSError:
        return frozenset()
    return _listing(str(folder), state)


@functools.lru_cache(maxsize=64)
def _listing(folder: str, state: int) -> frozenset[str]:
    import os

    from paramscope.formats.code_files import importable

    try:
        return importable(set(os.listdir(folder)), Path(folder))
    except OSError:
        return frozenset()


def _rows(refs: Iterable[GlobalUse]) -> Iterator[tuple[str, str, int, int]]:
    return ((u.module, u.name, u.count, u.calls) for u in refs)




def whole_file(format_name: str, path: Path) -> Mapping[str, Any]:
    """The metadata of ``path`` read by the reader of the code-free format that claims it, as far as
    ``inspect`` reads it (headers, never tensor data); raises that reader's one-line error when the
    file is not a whole file of that format."""
    from paramscope.formats.registry import reader

    module = reader(format_name)
    read = {"gguf": lambda: module.read_file(path).metadata,
            "safetensors": lambda: (module.read_index(path) if path.name.lower().endswith(module.INDEX_SUFFIX)
                                    else module.read_header(path)).metadata}.get(format_name)
    return read() if read else module.read(path).metadata
