"""The models already on this machine: where each tool keeps them, found by walking the file system.

Places (each documented by its tool):
- Hugging Face cache (huggingface_hub ``constants.py``, ``file_download.py``): ``$HF_HUB_CACHE``, else
  ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``; one
  folder ``models--ORG--NAME`` per repository, ``snapshots/REVISION/`` holding symlinks into ``blobs/``,
  ``refs/BRANCH`` holding the revision a branch points at.
- Ollama (``envconfig.Models``, ``server/manifest.go``): ``$OLLAMA_MODELS``, else ``~/.ollama/models``
  (the Linux service's ``/usr/share/ollama/.ollama/models`` too); ``manifests/HOST/NAMESPACE/MODEL/TAG``
  are JSON manifests whose layer of media type ``application/vnd.ollama.image.model`` is a GGUF file
  ``blobs/sha256-HEX``.
- LM Studio: ``~/.lmstudio/models`` and the older ``~/.cache/lm-studio/models``, as
  ``PUBLISHER/REPOSITORY/FILE.gguf`` (MLX models as safetensors folders).
- Any folder given: model folders (config.json beside safetensors), GGUF, safetensors, PyTorch and ONNX
  files; a given folder that is itself a Hugging Face cache or Ollama store is read as one.

Only names, sizes, first bytes and small JSON manifests are read here; which file is which format comes
from the format table (``formats.registry``), and the weights' headers are read by the formats, in
parallel, through ``survey``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from paramscope.errors import ParamscopeError
from paramscope.formats import registry
from paramscope.formats.code_files import entry_is_dir, import_names, importable
from paramscope.formats.gguf import SPLIT_NAME
from paramscope.records import field, record

HF, OLLAMA, LMSTUDIO, FOLDER = "hf-cache", "ollama", "lm-studio", "folder"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY, OLLAMA_LIBRARY = "registry.ollama.ai", "library"
SYSTEM_OLLAMA = Path("/usr/share/ollama/.ollama/models")  # the Linux install script's service user
DIGEST = re.compile(r"^sha256[:-]([0-9a-f]{64})$")
MAX_MANIFEST_BYTES = 1 << 20
MAX_WALK_DEPTH = 8
# What `scan` reads in a folder: the formats that can carry code, and names pickles often hide under.
SCAN_SUFFIXES = (*(s for f in registry.code_formats() for s in f.suffixes), ".joblib", ".dat", ".data",
                 ".npy", ".npz", ".sav", ".dill", ".pck", ".p", ".pcl")
# Endings a pickle's name takes when it is compressed: joblib.dump picks its compressor by them
# (joblib/numpy_pickle.py _COMPRESSOR_EXTENSIONS: .z .gz .bz2 .lzma .xz .lz4) and pandas.read_pickle
# infers it from them (pandas/io/common.py extension_to_compression: .gz .bz2 .zip .xz .zst .tar ...)
COMPRESSED_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".z", ".gz", ".bz2", ".lzma", ".xz", ".lz4",
                       ".zip", ".zst", ".tar")  # the longest first
WEIGHT_SUFFIXES = registry.weight_suffixes()
# Weight files transformers looks for in a model folder, safetensors first (modeling_utils.py).
PYTORCH_SINGLE, PYTORCH_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
HF_CONFIG = "config.json"
HF_SAFETENSORS = frozenset({"model.safetensors", "model.safetensors.index.json"})
FOLDER_SIZE_DEPTH = 1  # a model folder's own files and one level below (1_Pooling/, onnx/)
MAX_WORKERS = 8

T = TypeVar("T")


@record
class Found:
    """One model on disk: what to call it, which reader opens it and which files hold it."""

    name: str
    place: str  # HF, OLLAMA, LMSTUDIO or FOLDER
    format: str  # a format of formats.registry: "hf-dir", "gguf", "safetensors", "pytorch", "onnx"
    paths: tuple[Path, ...]  # what its reader opens
    size: int  # bytes on disk, each distinct file once
    revision: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def path(self) -> Path:
        return self.paths[0]


def default_places(env: Mapping[str, str], home: Path) -> list[tuple[str, Path]]:
    """(kind, folder) for every place the tools keep models by default, whether or not it exists."""
    xdg = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else home / ".cache"
    if env.get("HF_HUB_CACHE"):
        hf = Path(env["HF_HUB_CACHE"])
    elif env.get("HF_HOME"):
        hf = Path(env["HF_HOME"]) / "hub"
    else:
        hf = xdg / "huggingface" / "hub"
    places = [(HF, hf)]
    if env.get("OLLAMA_MODELS"):
        places.append((OLLAMA, Path(env["OLLAMA_MODELS"])))
    else:
        places += [(OLLAMA, home / ".ollama" / "models"),
                   (OLLAMA, SYSTEM_OLLAMA)]
    places += [(LMSTUDIO, home / ".lmstudio" / "models"), (LMSTUDIO, xdg / "lm-studio" / "models")]
    return places


def discover(folders: Sequence[Path] = (), *, defaults: bool = True, env: Mapping[str, str] | None = None,
             home: Path | None = None) -> list[Found]:
    """Every model in the default places (when ``defaults``) and in ``folders``, each file once."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home()) if home is None else home
    places = default_places(env, home) if defaults else []
    places += [(_kind_of(Path(f)), Path(f)) for f in folders]
    found: list[Found] = []
    seen: set[tuple[str, ...]] = set()
    for kind, folder in places:
        if not folder.is_dir():
            continue
        for item in SCANNERS[kind](folder):
            key = tuple(os.path.realpath(p) for p in item.paths)
            if key not in seen:
                seen.add(key)
                found.append(item)
    return found


def survey(found: Sequence[Found], describe: Callable[[Found], T], *, workers: int = MAX_WORKERS,
           progress: Callable[[int], None] | None = None) -> list[T | ParamscopeError]:
    """``describe`` run on every model in threads (header reads wait on the disk, not the CPU); a model
    that cannot be read gives its error in its place, so one bad file never hides the others."""
    def one(item: Found) -> T | ParamscopeError:
        try:
            return describe(item)
        except ParamscopeError as e:
            return e
        finally:
            if progress:
                progress(1)

    if len(found) <= 1:
        return [one(item) for item in found]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(found)))) as pool:
        return list(pool.map(one, found))


def pickle_files(paths: Sequence[Path]) -> list[Path]:
    """What ``scan`` checks: every file given, and under each folder every file named like a pickle,
    compressed or not (``clf.pkl.z``, as joblib.dump names it), or whose first bytes are a protocol 2+
    pickle whatever its name (pickle.dump, torch.save and joblib.dump write those under any name);
    special files too, so that a FIFO named ``model.bin`` is reported rather than skipped. A folder the
    walk does not enter (deeper than ``MAX_WALK_DEPTH``, or a symlink) is returned itself: its files
    were not searched."""
    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        for folder, files, depth in _walk(path):
            indexed = _index_named(files)
            try:
                listing = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                listing = []
            modules = import_names(importable({e.name for e in listing}, folder))
            out.extend(f for f in files
                       if pickle_named(f.name) or f.name in indexed or _pickle_head(f, modules))
            # folders the walk does not enter: those past its depth, and symlinked ones (never followed)
            out.extend(Path(e.path) for e in listing
                       if entry_is_dir(e, follow=True) and (_entry_is_symlink(e) or depth >= MAX_WALK_DEPTH))
    return out


OVERSIZED = "(a config larger than the 1 MiB the scan reads)"
# config files transformers reads an ``auto_map`` from (AutoConfig, AutoTokenizer, AutoProcessor,
# AutoImageProcessor, AutoFeatureExtractor, AutoVideoProcessor): each names classes of the repository's
# own Python modules
AUTO_MAP_FILES = ("config.json", "tokenizer_config.json", "processor_config.json",
                  "preprocessor_config.json", "feature_extractor_config.json", "image_processor_config.json",
                  "video_preprocessor_config.json", "audio_tokenizer_config.json")
TRUST_REMOTE_CODE = "imports it when the model is loaded with trust_remote_code=True"


def _auto_map(data: object) -> list[str]:
    """transformers: ``auto_map`` ("modeling_x.Class", or "org/repo--modeling_x.Class" of another
    repository; a list for a tokenizer's slow and fast classes) and config.json's ``custom_pipelines``
    (``{task: {"impl": "my_pipe.MyPipeline"}}``, which pipeline() imports)."""
    if not isinstance(data, dict):
        return []
    auto_map = data.get("auto_map")
    refs: list = (list(auto_map.values()) if isinstance(auto_map, dict)
                  else list(auto_map) if isinstance(auto_map, list | tuple) else [])
    names = [r for v in refs for r in (v if isinstance(v, list) else [v]) if isinstance(r, str)]
    pipelines = data.get("custom_pipelines")
    if isinstance(pipelines, dict):
        names += [t["impl"] for t in pipelines.values()
                  if isinstance(t, dict) and isinstance(t.get("impl"), str)]
    # "org/repo--module.Class": another repository's module, marked "--" (never present to check)
    return [("--" if "--" in n else "") + n.split("--")[-1].rsplit(".", 1)[0] for n in names if "." in n]


def _model_index(data: object) -> list[str]:
    """diffusers ``model_index.json``: a component ``"unet": ["my_unet", "MyUNet"]`` whose library is a
    module of the repository (``unet/my_unet.py``), or a pipeline class of its own (``"_class_name":
    ["pipeline", "MyPipeline"]``): DiffusionPipeline.from_pretrained imports it."""
    if not isinstance(data, dict):
        return []
    out = []
    for key, value in data.items():
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and value[0]:
            out += [f"{key}/{value[0]}", value[0]]
    return out


def _sentence_modules(data: object) -> list[str]:
    """sentence-transformers ``modules.json``: a module ``type`` outside sentence_transformers (its
    ``path`` folder or the repository's root holds its file): SentenceTransformer() imports it."""
    if not isinstance(data, list):
        return []
    out = []
    for entry in data:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if isinstance(kind, str) and "." in kind and not kind.startswith("sentence_transformers."):
            if "--" in kind:  # "org/repo--module.Class": fetched from another repository
                out.append("--" + kind.split("--")[-1].rsplit(".", 1)[0])
                continue
            module = kind.rsplit(".", 1)[0]
            where = entry.get("path") if isinstance(entry.get("path"), str) else ""
            out += [f"{where}/{module}" if where else module, module]
    return out


# The files that name repository code a loader imports (module names relative to the file's folder; a
# name starting "--" is another repository's, which is never present to check), what imports it, and
# whether in a Hugging Face cache snapshot a name not downloaded yet counts: a module a load by repository
# id fetches (transformers' dynamic_module_utils.get_cached_module_file; sentence-transformers' custom
# module types alike). transformers' auto_map names only repository modules, sentence-transformers' types
# outside its own package are custom code or another installed library (unsure, so it counts); diffusers'
# model_index.json names its own pipeline modules ("stable_diffusion" for a safety checker) as bare
# names too, which the scan cannot list, so there only the files that are present count
REMOTE_CODE: dict[str, tuple[Callable[[object], list[str]], str, bool]] = {
    **{name: (_auto_map, f"transformers {TRUST_REMOTE_CODE}", True) for name in AUTO_MAP_FILES},
    "model_index.json": (_model_index, f"diffusers' DiffusionPipeline {TRUST_REMOTE_CODE}", False),
    "modules.json": (_sentence_modules, f"sentence-transformers {TRUST_REMOTE_CODE}", True),
}
NOT_DOWNLOADED = "not downloaded yet: a load by repository id fetches it"
# torch.hub.load(folder, source="local") imports the folder's hubconf.py: no trust flag guards it
HUBCONF = "hubconf.py"


def remote_code(paths: Sequence[Path]) -> list[tuple[Path, tuple[str, ...], str]]:
    """Under each folder, the files that name repository code (REMOTE_CODE; a ``hubconf.py``), with the
    modules named and what imports them: only code that is there (beside the file, or in the named
    sub-folder), of another repository, or, in a Hugging Face cache snapshot, an auto_map module not
    downloaded yet counts; elsewhere a manifest whose files were not uploaded loads nothing."""
    out: list[tuple[Path, tuple[str, ...], str]] = []
    for path in paths:
        if not path.is_dir():
            continue
        for _folder, files, _depth in _walk(path):
            for f in files:
                if f.name == HUBCONF and _is_regular(f):
                    out.append((f, ("hubconf",), "torch.hub.load(folder, source='local') imports it, with no "
                                                 "trust flag"))
                    continue
                row = REMOTE_CODE.get(f.name)
                if row is None or not _is_regular(f):
                    continue
                try:
                    with open(f, "rb") as handle:  # bounded: a config is small, a file so named may not be
                        data = handle.read(MAX_MANIFEST_BYTES + 1)
                except OSError:
                    continue
                if len(data) > MAX_MANIFEST_BYTES:
                    out.append((f, (OVERSIZED,), row[1]))  # not read: whether it names code is not known
                    continue
                try:
                    named = row[0](json.loads(data))
                except (ValueError, RecursionError):  # a loader's json.loads fails on it as well
                    continue
                fetched = row[2] and in_hub_snapshot(f.parent)
                modules = sorted({m.lstrip("-") if m.startswith("--") or _present(f.parent, m)
                                  else f"{m} [{NOT_DOWNLOADED}]" for m in named
                                  if m.startswith("--") or fetched or _present(f.parent, m)})
                if modules:
                    out.append((f, tuple(modules), row[1]))
    return out


def in_hub_snapshot(folder: Path) -> bool:
    """Whether ``folder`` is (in) a revision of a Hugging Face cache: ``…/models--ORG--NAME/snapshots/
    REVISION/…`` (datasets and spaces alike), a partial copy of a repository whose other files a load by
    repository id downloads."""
    seen: list[tuple[str, ...]] = [folder.absolute().parts]
    with contextlib.suppress(OSError, RuntimeError):
        seen.append(folder.resolve().parts)  # through any symlink too
    return any(part == "snapshots" and i > 0 and parts[i - 1].startswith(HUB_REPO_PREFIXES)
               and i + 1 < len(parts) for parts in seen for i, part in enumerate(parts))


HUB_REPO_PREFIXES = ("models--", "datasets--", "spaces--")


def _present(folder: Path, module: str) -> bool:
    """Whether ``module`` ("x", "x.y" or "sub/x", as a manifest names it) has code in ``folder`` (or in
    the sub-folder named): its file, or a folder with code below it. Names that leave the folder (absolute,
    ``..``) or that no file system holds are not looked up."""
    parts = [p for p in module.replace(".", "/").split("/")]
    if not parts or any(p in ("", "..") or len(p) > 255 for p in parts) or module.startswith("/"):
        return False
    try:
        place = folder.joinpath(*parts[:-1]) if len(parts) > 1 else folder
        listed = {p.name for p in _list(place)} if place.is_dir() else set()
    except (OSError, ValueError):
        return False
    name = parts[-1]
    return (name in import_names(importable(listed, place))
            or (len(parts) > 1 and _present(folder, parts[0])))


def walked_folders(paths: Sequence[Path]) -> Iterator[Path]:
    """Every folder a folder search enters (``_walk``), the given ones first."""
    for path in paths:
        if path.is_dir():
            for folder, _files, _depth in _walk(path):
                yield folder


def pickle_named(name: str) -> bool:
    """Named like a pickle-based file, compressed or not (``clf.pkl.z``)."""
    lower = name.lower()
    stem = next((lower[: -len(s)] for s in COMPRESSED_SUFFIXES if lower.endswith(s)), lower)
    return lower.endswith(SCAN_SUFFIXES) or stem.endswith(SCAN_SUFFIXES)


def _pickle_head(path: Path, modules: Set[str] = frozenset()) -> bool:
    """A regular file whose first 512 bytes a loader could take code from, whatever its name (a special
    file is not opened): a pickle of any protocol (a distributed checkpoint's ``.metadata`` is one), a zip
    (torch.save's format: torch.load reads it whatever its name), a .npy array, a tar (torch.save before
    0.4), a compressed stream (formats/pickle_scan.py ``may_hold_pickle``), an HDF5 file, whose
    superblock may follow a user block (Keras and pandas load code from some: formats/code_loaders.py)."""
    if not _is_regular(path):
        return False
    from paramscope.formats.code_loaders import hdf5_offset
    from paramscope.formats.pickle_scan import may_hold_pickle  # scan's folder search only
    from paramscope.sources.local import LocalFile

    try:
        with LocalFile(path) as f:
            head = f.head(512)
            return may_hold_pickle(head, modules.__contains__) or hdf5_offset(f) is not None
    except (OSError, ParamscopeError):
        return False


# an index's own name (transformers' sharded checkpoints: pytorch_model.bin.index.json and the like)
INDEX_SUFFIX = ".index.json"
MAX_INDEX_BYTES = 64 << 20


def _index_named(files: Sequence[Path]) -> set[str]:
    """The file names the ``*.index.json`` files among ``files`` map weights to: transformers'
    load_sharded_checkpoint loads each with torch.load (or safetensors) whatever it is called."""
    names: set[str] = set()
    for index in files:
        if not index.name.lower().endswith(INDEX_SUFFIX) or not _is_regular(index):
            continue
        try:
            if index.stat().st_size > MAX_INDEX_BYTES:
                continue
            weight_map = json.loads(index.read_bytes()).get("weight_map")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(weight_map, dict):
            names.update(v for v in weight_map.values() if isinstance(v, str))
    return names


def _kind_of(folder: Path) -> str:
    """A folder given by hand: a Hugging Face cache, an Ollama store, or any folder."""
    if (folder / "manifests").is_dir() and (folder / "blobs").is_dir():
        return OLLAMA
    if folder.is_dir() and any(p.name.startswith("models--") for p in _list(folder)):
        return HF
    return FOLDER


# --- Hugging Face cache ---------------------------------------------------------------------------

def scan_hf_cache(hub: Path) -> Iterator[Found]:
    for repo in sorted(_list(hub)):
        if not repo.name.startswith("models--") or not repo.is_dir():
            continue
        name = "/".join(repo.name[len("models--"):].split("--"))
        refs = _refs(repo / "refs")
        for snapshot in sorted(_list(repo / "snapshots")):
            if snapshot.is_dir():
                revision = refs.get(snapshot.name) or snapshot.name[:12]
                yield from _model_folder(snapshot, name, HF, revision)


def _refs(folder: Path) -> dict[str, str]:
    """Revision hash → branch name (``refs/main`` holds the hash ``main`` points at)."""
    out: dict[str, str] = {}
    for ref in _list(folder):
        if _is_regular(ref) and ref.stat().st_size <= 256:
            out.setdefault(ref.read_text(errors="replace").strip(), ref.name)
    return out


# --- Ollama ---------------------------------------------------------------------------------------

def scan_ollama(store: Path) -> Iterator[Found]:
    manifests = store / "manifests"
    for path in _files(manifests, max_depth=5):
        parts = path.relative_to(manifests).parts
        if len(parts) != 4:  # HOST/NAMESPACE/MODEL/TAG
            continue
        blob = _ollama_model_blob(store, path)
        if blob is not None:
            size = _size(blob)
            yield Found(_ollama_name(*parts), OLLAMA, "gguf", (blob,), size, parts[3])


def _ollama_model_blob(store: Path, manifest: Path) -> Path | None:
    if manifest.stat().st_size > MAX_MANIFEST_BYTES:
        return None
    try:
        doc = json.loads(manifest.read_bytes())
    except (ValueError, OSError):
        return None
    layers = doc.get("layers") if isinstance(doc, dict) else None
    for layer in layers if isinstance(layers, list) else ():
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
            m = DIGEST.match(str(layer.get("digest", "")))  # hex only: a digest can never be a path
            blob = store / "blobs" / f"sha256-{m.group(1)}" if m else None
            return blob if blob is not None and _is_regular(blob) else None
    return None


def _ollama_name(host: str, namespace: str, model: str, tag: str) -> str:
    """``llama3.2:latest`` for the official library, ``user/model:tag`` or ``hf.co/org/repo:tag`` else."""
    if host == OLLAMA_REGISTRY:
        return f"{model}:{tag}" if namespace == OLLAMA_LIBRARY else f"{namespace}/{model}:{tag}"
    return f"{host}/{namespace}/{model}:{tag}"


# --- LM Studio and plain folders ------------------------------------------------------------------

def scan_lmstudio(root: Path) -> Iterator[Found]:
    for item in scan_folder(root):
        yield Found(item.name, LMSTUDIO, item.format, item.paths, item.size, item.revision, item.notes)


def scan_folder(root: Path) -> Iterator[Found]:
    """Model folders and loose weight files under ``root``, named by their path below it."""
    for folder, _files_here, _depth in _walk(root):
        rel = folder.relative_to(root).as_posix()
        yield from _model_folder(folder, root.name if rel == "." else rel, FOLDER, "")


def _model_folder(folder: Path, name: str, place: str, revision: str) -> Iterator[Found]:
    """A Hugging Face style folder: safetensors (one or an index), else pytorch_model.bin, else GGUF
    or ONNX files, each GGUF a model of its own (a repository of quantizations)."""
    entries = {p.name: p for p in _list(folder)}
    names = set(entries)
    safetensors = any(registry.by_suffix(n) is registry.by_name("safetensors") for n in names)
    # the folder reader takes the config, the safetensors (one or an index) or the pytorch_model.bin
    # shards (one index parser, one merge)
    pickles = PYTORCH_SINGLE in names or PYTORCH_INDEX in names
    if (safetensors and (HF_CONFIG in names or HF_SAFETENSORS & names)) or pickles:
        yield Found(name, place, registry.DIRECTORY.name, (folder,), _folder_size(folder), revision)
    else:
        for f in sorted(entries.values()):
            item = _loose_file(f, f"{name}/{f.name}")
            if item is not None:
                yield Found(item.name, place, item.format, item.paths, item.size, revision)


def _loose_file(path: Path, name: str) -> Found | None:
    """A weights file on its own, as the format table names it; vision projectors (mmproj) are not models,
    later splits of a GGUF are read with the first, and an ambiguous name (``.bin``) of a format that can
    carry code counts only when the file starts like one."""
    fmt = registry.by_suffix(path.name)
    if (fmt is None or not fmt.holds_weights or not fmt.discoverable or not _is_regular(path)
            or path.name.lower().startswith("mmproj")):
        return None
    split = SPLIT_NAME.match(path.name)
    if fmt.name == "gguf" and split and int(split["no"]) != 1:
        return None
    if fmt.can_carry_code and not _starts_like(fmt, path):
        return None
    return Found(name, FOLDER, fmt.name, (path,), _size(path))


def _starts_like(fmt: registry.Format, path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return bool(fmt.reader().sniff(head, path)) and head.startswith(fmt.magic)


# --- file system helpers: no symlinked folders followed, no special files opened ------------------

def _list(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder)]
    except OSError:
        return []


def _walk(root: Path, max_depth: int = MAX_WALK_DEPTH) -> Iterator[tuple[Path, list[Path], int]]:
    """(folder, its non-folder entries, depth) top-down, in name order; symlinked folders are not entered.
    The directory entries' own types answer (no stat per file, except for a symlink's target)."""
    todo = [(root, 0)]
    while todo:
        folder, depth = todo.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            entries = []
        files, folders = [], []
        for e in entries:
            if entry_is_dir(e, follow=True):
                if depth < max_depth and not _entry_is_symlink(e):
                    folders.append(Path(e.path))
            else:
                files.append(Path(e.path))
        yield folder, files, depth
        todo.extend((p, depth + 1) for p in reversed(folders))



def _entry_is_symlink(entry: os.DirEntry) -> bool:
    """Whether a directory entry is a symlink; one that vanished or cannot be read counts as one (never
    entered)."""
    try:
        return entry.is_symlink()
    except OSError:
        return True


def _files(root: Path, max_depth: int) -> Iterator[Path]:
    for _folder, files, _depth in _walk(root, max_depth):
        yield from (f for f in files if _is_regular(f))


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _folder_size(folder: Path) -> int:
    """Bytes of the regular files in a model folder, each target once (snapshots are symlinks)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for f in _files(folder, FOLDER_SIZE_DEPTH):
        try:
            st = f.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


SCANNERS: dict[str, Callable[[Path], Iterator[Found]]] = {
    HF: scan_hf_cache, OLLAMA: scan_ollama, LMSTUDIO: scan_lmstudio, FOLDER: scan_folder,
}
