"""Files that loaders other than pickle's take code from: what marks them, and what they name.

Red team round 6 (docs/security.md): a zip with no pickle inside, or an HDF5 file, is not inert when the
loader meant for it imports what the file names or runs code the file carries:

- Keras v3 ``.keras`` (a zip: ``config.json``, ``metadata.json``, ``model.weights.h5``):
  ``keras.saving.load_model`` imports the ``module`` each layer's config names and calls the class or
  function, ``safe_mode=True`` included (CVE-2025-1550; keras/src/saving/serialization_lib.py
  ``_retrieve_class_or_fn``);
- skops ``.skops`` (a zip: ``schema.json``): ``skops.io.load`` imports and calls each node's
  ``__module__``/``__class__`` (``ConstructorFromReduceNode`` reduces like pickle); the types it asks the
  user to trust are those names;
- TorchServe ``.mar`` (a zip: ``MAR-INF/MANIFEST.json``): the server imports the archive's handler and
  model files (Python code);
- NeMo ``.nemo`` (a tar: ``model_config.yaml``, ``model_weights.ckpt``): ``restore_from`` imports and
  instantiates the classes the config's ``_target_`` / ``target`` keys name (CVE-2025-23304);
- HDF5 files (``\\x89HDF\\r\\n\\x1a\\n``): a legacy Keras model (a ``model_config`` root attribute; a
  weights-only file's ``keras_version`` alone runs nothing; a ``Lambda`` layer is marshalled bytecode
  ``load_model`` runs, ``safe_mode`` ignored for .h5: CVE-2025-9905), and pandas / PyTables stores
  (``pandas_type``, ``PYTABLES_FORMAT_VERSION``, the ``CLASS``/``TITLE``/``VERSION`` attributes PyTables
  writes on every node): PyTables unpickles
  ``ObjectAtom`` arrays (pandas' object columns) and attribute values stored as pickles.

Only names are known here; analyses/safety decides what they mean. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from paramscope.sources.local import LocalFile

MAX_NAMES_SHOWN = 5
MAX_JSON_DEPTH = 200  # a manifest nested deeper is walked no further (its names past it are not listed)


def _json(data: bytes) -> Any:
    return json.loads(data)


def _text(data: bytes) -> Any:
    return data.decode("utf-8", "replace")


@dataclass(frozen=True)
class ArchiveLoader:
    what: str  # "a Keras v3 archive"
    manifest: str  # the member the loader reads first, at the archive's root
    with_any: tuple[str, ...]  # members one of which must be there too (none: the manifest alone)
    suffixes: tuple[str, ...]  # archive names that make the manifest alone enough
    how: str  # why loading it runs code, with the source
    names: Callable[[Any], Iterator[str]]  # what the parsed manifest names
    is_one: Callable[[Any], bool]  # the parsed manifest is this loader's (else the loader refuses it)
    parse: Callable[[bytes], Any] = _json  # raises ValueError where the loader cannot read it either


def _walk(doc: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(doc, dict):
        yield doc
        children: Collection[Any] = doc.values()
    elif isinstance(doc, list):
        children = doc
    else:
        return
    for child in children:
        yield from _walk(child, depth + 1)


def _keras_names(doc: Any) -> Iterator[str]:
    """Each ``{"module", "class_name", "config", "registered_name"}`` object: a class, or for
    ``class_name == "function"`` the function its ``config`` string names (serialization_lib)."""
    for d in _walk(doc):
        cls = d.get("class_name")
        if not isinstance(cls, str):
            continue
        module = d.get("module")
        name = d["config"] if cls in ("function", "__lambda__") and isinstance(d.get("config"), str) else cls
        yield f"{module}.{name}" if isinstance(module, str) and module else name


def _skops_names(doc: Any) -> Iterator[str]:
    for d in _walk(doc):
        module, cls = d.get("__module__"), d.get("__class__")
        if isinstance(module, str) and isinstance(cls, str):
            yield f"{module}.{cls}"


def _mar_names(doc: Any) -> Iterator[str]:
    model = doc.get("model") if isinstance(doc, dict) else None
    if isinstance(model, dict):
        for key in ("handler", "modelFile"):
            if isinstance(model.get(key), str):
                yield model[key]


# a hydra/OmegaConf key naming a class to import and instantiate: "_target_: pkg.Class", "target: …"
_TARGET = re.compile(r"^\s*[\"']?_?target_?[\"']?\s*:\s*[\"']?([^\s\"'#]+)", re.MULTILINE)


def _yaml_targets(text: Any) -> Iterator[str]:
    """The ``_target_`` / ``target`` values of a YAML config, by a line search (the scan reads no YAML:
    what it lists is a sample, and the doubt stands whatever it finds)."""
    yield from _TARGET.findall(text)


ARCHIVE_LOADERS: tuple[ArchiveLoader, ...] = (
    ArchiveLoader("a Keras v3 archive", "config.json",
                  ("metadata.json", "model.weights.h5", "model.weights.npz"), (".keras",),
                  "keras.saving.load_model imports the module each layer names and calls its class or "
                  "function, safe_mode=True included (CVE-2025-1550)", _keras_names,
                  lambda doc: isinstance(doc, dict)),
    ArchiveLoader("a skops archive", "schema.json", (), (".skops",),
                  "skops.io.load imports and calls the __module__.__class__ each node names (a "
                  "ConstructorFromReduceNode reduces like pickle)", _skops_names,
                  lambda doc: isinstance(doc, dict) and "__loader__" in doc),
    ArchiveLoader("a TorchServe model archive", "MAR-INF/MANIFEST.json", (), (".mar",),
                  "TorchServe imports its handler and model files (Python code the scan does not judge)",
                  _mar_names, lambda doc: True),
    # NeMo SaveRestoreConnector.restore_from extracts the tar, then imports and instantiates the class its
    # model_config.yaml names (hydra.utils.instantiate / import_class_by_path; CVE-2025-23304)
    ArchiveLoader("a NeMo archive", "model_config.yaml", ("model_weights.ckpt",), (".nemo",),
                  "NeMo's restore_from imports and instantiates the classes its model_config.yaml names "
                  "(_target_, target: CVE-2025-23304)", _yaml_targets, lambda doc: True, _text),
)


def archive_loader(members: Collection[str], archive_name: str) -> ArchiveLoader | None:
    """The code-running loader whose archive (zip or tar) this is, by its members' names (as extracted:
    no leading "./") and the archive's name."""
    lower = archive_name.lower()
    for loader in ARCHIVE_LOADERS:
        if loader.manifest in members and (not loader.with_any or lower.endswith(loader.suffixes)
                                           or any(m in members for m in loader.with_any)):
            return loader
    return None


def manifest_line(loader: ArchiveLoader, data: bytes) -> str | None:
    """The doubt for ``loader``'s archive with manifest ``data``; None when the loader would refuse the
    manifest before running anything (not JSON, not its shape)."""
    try:
        doc = loader.parse(data)
    except (ValueError, RecursionError):
        return None
    if not loader.is_one(doc):
        return None
    return f"{loader.what}: {loader.how}{_named(list(dict.fromkeys(loader.names(doc))))}"


def _named(names: list[str]) -> str:
    """The names, those outside the loader's own package first (keras.layers.Dense is keras's)."""
    if not names:
        return ""
    names.sort(key=lambda n: n.split(".")[0] in ("keras", "tf_keras", "sklearn", "builtins", "numpy",
                                                     "nemo"))
    more = f" and {len(names) - MAX_NAMES_SHOWN} more" if len(names) > MAX_NAMES_SHOWN else ""
    return f"; it names {', '.join(names[:MAX_NAMES_SHOWN])}{more}"


# --- HDF5 -----------------------------------------------------------------------------------------
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# the HDF5 library looks for the superblock at 0, 512, 1024, 2048, … (a user block before it)
HDF5_FIRST_BLOCK = 512
# Attribute names (null-terminated in an attribute message) that make an HDF5 file a code-running
# loader's, each with every name it needs: a byte search of the file, bounded by ``HDF5_BUDGET``
HDF5_LOADERS: tuple[tuple[str, tuple[bytes, ...], str], ...] = (
    # keras_version alone is a weights-only file (save_weights; transformers' tf_model.h5): load_model
    # refuses it ("No model config found"), load_weights rebuilds nothing
    ("a Keras HDF5 model", (b"model_config",),
     "keras load_model rebuilds its model_config: a Lambda layer's function is marshalled bytecode it runs, "
     "safe_mode ignored for .h5 (CVE-2025-9905)"),
    ("a pandas HDF5 store", (b"pandas_type",),
     "pandas.read_hdf (PyTables) unpickles object columns and pickled attributes"),
    ("a pandas HDF5 store", (b"pandas_version",),
     "pandas.read_hdf (PyTables) unpickles object columns and pickled attributes"),
    ("a PyTables file", (b"PYTABLES_FORMAT_VERSION",),
     "PyTables unpickles ObjectAtom arrays and attribute values stored as pickles"),
    ("a PyTables file", (b"CLASS", b"TITLE", b"VERSION"),
     "PyTables unpickles ObjectAtom arrays and attribute values stored as pickles"),
)
HDF5_CHUNK = 16 << 20
HDF5_BUDGET = 1 << 30  # bytes searched for those names; a larger file is searched this far


def hdf5_offset(f: LocalFile) -> int | None:
    """Where the HDF5 superblock starts (0, 512, 1024, …: as H5Fis_accessible searches), or None."""
    at = 0
    while at + len(HDF5_MAGIC) <= f.size:
        if f.read(at, len(HDF5_MAGIC), "the HDF5 signature") == HDF5_MAGIC:
            return at
        at = HDF5_FIRST_BLOCK if at == 0 else 2 * at
    return None


def hdf5_loaders(f: LocalFile) -> tuple[list[str], bool]:
    """(the loaders' lines whose attribute names the file holds, whether the search read it whole)."""
    wanted = {name + b"\x00" for _, names, _ in HDF5_LOADERS for name in names}
    found: set[bytes] = set()
    end = min(f.size, HDF5_BUDGET)
    overlap = max(len(w) for w in wanted)
    at = 0
    while at < end:
        n = min(HDF5_CHUNK + overlap, end - at)
        chunk = f.read(at, n, "the HDF5 file")
        found.update(w for w in wanted - found if w in chunk)
        at += HDF5_CHUNK
    return _lines(found), end == f.size


def hdf5_loaders_in(data: bytes) -> list[str]:
    """``hdf5_loaders`` for bytes in memory (an archive's member)."""
    wanted = {name + b"\x00" for _, names, _ in HDF5_LOADERS for name in names}
    return _lines({w for w in wanted if w in data})


def _lines(found: set[bytes]) -> list[str]:
    lines: dict[str, str] = {}  # one line per loader: the first attribute set that marks it
    for what, names, how in HDF5_LOADERS:
        if what not in lines and all(n + b"\x00" in found for n in names):
            lines[what] = f"{what} (attribute {', '.join(n.decode() for n in names)}): {how}"
    return list(lines.values())
