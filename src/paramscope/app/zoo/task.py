"""One zoo task: one file in, one row out. Runs on a Dask worker, never raises.

The file is read by the reader its first bytes call for (``formats.registry``, in sniffing order, as
``open_file`` does): its header gives the tensors, their stored types and byte ranges; the parameter
count is the sum of logical parameters (packed formats count the weights they represent); the family
is GGUF's ``general.architecture`` or the ``model_type`` of the config.json beside the file. The safety
verdict is `scan`'s (``analyses.safety``): the globals a pickle names, judged without running them;
formats that carry no code are safe by format. Then every tensor's stored bytes are hashed (SHA-256),
read in chunks of ``CHUNK`` bytes, so a task holds one chunk at a time whatever the file's size.

GGUF and safetensors files on a remote file system are read by range requests; PyTorch and ONNX readers
need a local file, so a remote one is first copied to a temporary file in chunks (a pickle has to be
read whole to be judged anyway). A file that cannot be read gives a row with its error and whatever was
learnt before it.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramscope.app.zoo.walk import Item, is_local
from paramscope.errors import ParamscopeError

if TYPE_CHECKING:
    from paramscope.analyses.safety.pickle_safety import Verdict
    from paramscope.model import Tensor
    from paramscope.sources import ByteSource
    from paramscope.sources.folder import Folder

CHUNK = 8 << 20  # bytes read and hashed at a time: a task's memory for data, whatever the tensor
HASH = "sha256"


def describe(item: Item) -> dict[str, Any]:
    """The row for one file (see ``store.SCHEMA``); errors are recorded in it, never raised."""
    start = time.perf_counter()
    row: dict[str, Any] = {"path": item.url, "name": item.name, "model": item.model, "size": item.size,
                           "format": None, "family": None, "params": None, "n_tensors": None,
                           "bytes_by_type": None, "safety": None, "could_run_code": False, "globals": [],
                           "tensors": [], "bytes_hashed": 0, "error": item.error, "seconds": 0.0}
    if item.error is None:
        try:
            _fill(item, row)
        except ParamscopeError as e:
            row["error"] = " ".join(str(e).split())
        except Exception as e:  # a reader's bug must cost one row, not the run
            row["error"] = f"internal error: {type(e).__name__}: {e}"
    row["seconds"] = time.perf_counter() - start
    return row


def _fill(item: Item, row: dict[str, Any]) -> None:
    import fsspec

    from paramscope.formats import SNIFF_BYTES
    from paramscope.formats.registry import FILE_FORMATS
    from paramscope.sources.folder import LocalFolder
    from paramscope.sources.fsspec_files import FsspecFolder

    fs, path = fsspec.core.url_to_fs(item.url)
    local = is_local(fs)
    parent, base = posixpath.split(path)
    folder: Folder = LocalFolder(parent) if local else FsspecFolder(fs, parent)
    with _closing(folder.open(base)) as f:
        row["size"] = f.size
        head = f.head(SNIFF_BYTES)
    fmt = next((x for x in FILE_FORMATS if x.holds_weights and x.reader().sniff(head, Path(base))), None)
    code_suffixes = tuple(s for f in FILE_FORMATS if f.can_carry_code for s in f.suffixes)
    pickle_named = base.lower().endswith(code_suffixes)
    with ExitStack() as stack:
        local_path = Path(path) if local else None
        if (fmt is None and pickle_named) or (fmt is not None and (fmt.can_carry_code or fmt.name == "onnx")):
            local_path = local_path or stack.enter_context(_local_copy(folder, base))
        if fmt is None:
            if pickle_named:
                _verdict(row, _scan(local_path))  # a broken pickle still names what it would import
            raise ParamscopeError(f"{item.url}: not a format paramscope reads (first bytes {head[:8]!r})")
        row["format"] = fmt.name
        if not fmt.can_carry_code:
            from paramscope.analyses.safety.pickle_safety import judge

            # a GGUF's chat templates are named as not judged (app/scan.py chat_templates): until its
            # metadata is read, any template it may hold
            unread = ("any chat template (its metadata is not read yet)",) if fmt.name == "gguf" else ()
            _verdict(row, judge(item.url, (), not_pickle=fmt.name, not_judged=unread))
        else:
            # scan's own pass, before reading: it looks at every pickle of the file (the legacy format's
            # five), and a file the reader then refuses keeps its verdict
            _verdict(row, _scan(local_path))
        tensors, family, templates = _read(fmt.name, folder, base, local_path)
        if fmt.name == "gguf":
            from paramscope.analyses.safety.pickle_safety import judge

            _verdict(row, judge(item.url, (), not_pickle=fmt.name, not_judged=templates))
        row["family"] = family or _config_family(folder)
        row["params"] = sum(t.params for t in tensors)
        row["n_tensors"] = len(tensors)
        by_type: dict[str, int] = {}
        for t in tensors:
            by_type[t.dtype.value] = by_type.get(t.dtype.value, 0) + t.nbytes
        row["bytes_by_type"] = sorted(by_type.items())
        row["tensors"], row["bytes_hashed"] = _hash_all(tensors, folder, base, local_path, stack)


def _read(fmt: str, folder: Folder, base: str,
          local_path: Path | None) -> tuple[tuple[Tensor, ...], str | None, tuple[str, ...]]:
    """The file's tensors, its family where the file says, and a GGUF's chat templates."""
    from paramscope.formats import registry

    if fmt == "gguf":
        from paramscope.analyses.safety.pickle_safety import templates_in
        from paramscope.formats.gguf import read_file

        g = read_file(folder.open(base))  # this file only: the other splits are rows of their own
        arch = g.metadata.get("general.architecture")
        return g.tensors, arch if isinstance(arch, str) else None, templates_in(g.metadata)
    if fmt == "safetensors":
        from paramscope.formats.safetensors import read_from

        return read_from(folder, base).tensors, None, ()
    assert local_path is not None
    return registry.reader(fmt).read(local_path).tensors, None, ()


def _scan(path: Path | None) -> Verdict | None:
    from paramscope.app.scan import scan_file

    return None if path is None else scan_file(path)


def _verdict(row: dict[str, Any], v: Verdict | None) -> None:
    if v is None:
        return
    row["safety"] = v.status
    row["could_run_code"] = v.could_run_code
    row["globals"] = [{"global": g.qualname, "status": g.status, "count": g.count} for g in v.globals]


def _config_family(folder: Folder) -> str | None:
    """The ``model_type`` of the config.json beside the file; a missing or broken config says nothing."""
    from paramscope.formats.hf_json import read_config

    try:
        config = read_config(folder)
    except ParamscopeError:
        return None
    value = config.get("model_type") if config else None
    return value if isinstance(value, str) else None


def _hash_all(tensors: tuple[Tensor, ...], folder: Folder, base: str, local_path: Path | None,
              stack: ExitStack) -> tuple[list[dict[str, Any]], int]:
    """(name, type, bytes, parameters, hash) per tensor, and the bytes hashed. A tensor without a byte
    range (a compressed zip member) has no hash."""
    sources: dict[str, ByteSource] = {}
    this = folder.label(base)

    def source(file: str) -> ByteSource:
        if file not in sources:
            if file == this and local_path is None:
                sources[file] = stack.enter_context(_closing(folder.open(base)))
            else:
                from paramscope.sources.local import LocalFile

                target = local_path if local_path is not None and file in (this, str(local_path)) \
                    else Path(file)
                sources[file] = stack.enter_context(_closing(LocalFile(target)))
        return sources[file]

    out, total = [], 0
    buf = bytearray(min(CHUNK, max((t.nbytes for t in tensors), default=0)))  # one for the whole file
    for t in tensors:
        digest = None
        if t.offset is not None and t.file is not None:
            digest = tensor_hash(source(t.file), t.offset, t.nbytes, buf)
            total += t.nbytes
        out.append({"name": t.name, "dtype": t.dtype.value, "shape": list(t.shape), "nbytes": t.nbytes,
                    "params": t.params, "hash": digest})
    return out, total


def tensor_hash(f: ByteSource, offset: int, nbytes: int, buf: bytearray | None = None) -> str:
    """SHA-256 of ``nbytes`` stored bytes at ``offset``, read ``CHUNK`` at a time (hex).

    A local file is read into one reused buffer: a Dask worker runs with ``MALLOC_TRIM_THRESHOLD_`` set
    (distributed.yaml, ``nanny.pre-spawn-environ``), which makes glibc map and fault in every fresh
    8 MiB buffer anew, hashing at a third of the speed (bench/bench_zoo.py)."""
    h = hashlib.new(HASH)
    end = offset + nbytes
    read_into = getattr(f, "read_into", None)
    if read_into is not None and nbytes:
        buf = buf if buf is not None else bytearray(min(CHUNK, nbytes))
        view = memoryview(buf)
        while offset < end:
            n = min(len(buf), end - offset)
            read_into(offset, view[:n], "tensor data")
            h.update(view[:n])
            offset += n
        return h.hexdigest()
    while offset < end:
        n = min(CHUNK, end - offset)
        h.update(f.read(offset, n, "tensor data"))
        offset += n
    return h.hexdigest()


@contextmanager
def _closing(f: ByteSource) -> Iterator[ByteSource]:
    try:
        yield f
    finally:
        f.close()


@contextmanager
def _local_copy(folder: Folder, base: str) -> Iterator[Path]:
    """A remote file copied to a temporary local file ``CHUNK`` bytes at a time, removed afterwards."""
    # a folder of its own: the PyTorch reader looks beside the file for a config.json
    with tempfile.TemporaryDirectory(prefix="paramscope-zoo-") as tmp:
        name = Path(tmp) / base
        with open(name, "wb") as out, _closing(folder.open(base)) as f:
            for offset in range(0, f.size, CHUNK):
                out.write(f.read(offset, min(CHUNK, f.size - offset), "the file"))
        yield name



