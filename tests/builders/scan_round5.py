"""Red team round 5 (blind): techniques whose payload only creates a marker file, each with the loader
that runs it (tests/test_scan_redteam5.py).

A technique builds its target under a fresh folder and returns the path to hand both to the control
(``argv[1]`` of the loader, run in a child process with the target's folder as its working directory)
and to ``paramscope scan``: a file, or a model folder for the techniques aimed at ``scan FOLDER``.

Rounds 1-4 covered the opcode machine (differential against CPython), archives, compression, joblib,
the folder search and a module file beside a pickle that the pickle names (``decimal.py`` for
``decimal.Decimal``). Round 5 looked for what loading imports or runs that the file itself does not
name. Sources (each technique names its own):

- CPython's import system (``importlib._bootstrap_external.FileFinder``): ``python -c``, ``-m``, the REPL
  and notebooks put the working directory first on ``sys.path``; every module imported *after* start-up
  is looked up there first, and that includes the modules the loader and the named modules import in
  turn: ``import pickle`` imports ``struct``, ``re``, ``functools``…; ``decimal`` imports ``_decimal``
  (an extension module in lib-dynload, not built in); ``argparse`` imports ``gettext``; ``import torch``
  imports ``typing_extensions``. A package is a folder whose ``__init__`` has any of the loader
  suffixes (``importlib.machinery.all_suffixes()``: ``.py``, ``.pyc``, extension suffixes), so a
  ``decimal/__init__.pyc`` (sourceless) is ``decimal`` as much as ``decimal/__init__.py``;
- diffusers 0.42 ``pipelines/pipeline_loading_utils.py`` ``get_class_obj_and_candidates``: a component
  ``["my_unet", "MyUNet"]`` in ``model_index.json`` whose folder holds ``my_unet.py`` is imported with
  ``get_class_from_dynamic_module`` (``DiffusionPipeline.from_pretrained(dir, trust_remote_code=True)``):
  diffusers' analogue of transformers' ``auto_map``;
- sentence-transformers 6.3 ``util/misc.py`` ``import_module_class``: a ``modules.json`` entry whose
  ``type`` is outside ``sentence_transformers.*`` is imported from the model folder
  (``SentenceTransformer(dir, trust_remote_code=True)``; before 6.0 a *local* folder was trusted without
  the flag, as the function's ``versionchanged:: 6.0`` note says);
- transformers 5.24 ``pipelines/__init__.py`` ``pipeline()``: ``config.json``'s
  ``custom_pipelines[task]["impl"]`` is imported from the folder (``trust_remote_code=True``), a key
  beside ``auto_map``;
- torch 2.13 ``hub.py`` ``load(dir, model, source="local")``: imports the folder's ``hubconf.py``
  (``trust_repo`` is asked only for GitHub repositories);
- torch 2.13 ``export/pt2_archive/_package.py`` ``_load_state_dict``: a weight whose
  ``model_weights_config.json`` entry says ``use_pickle`` is ``torch.load(..., weights_only=False)``-ed
  from ``data/weights/<name>`` (``torch.export.load``), a member no pickle name marks;
- numpy ``lib/format.py``: a structured dtype with an object field (``[('x', '<f8'), ('y', '|O')]``) is
  written and read with pickle, as a plain ``|O`` is;
- a symlink in a model folder pointing at a pickle outside it (loaders follow file symlinks).
"""

from __future__ import annotations

import json
import os
import pickle
import py_compile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builders.pickle_opcodes import system_p0
from builders.scan_round4 import registrar

LOAD = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))"
TORCH_LOAD = "import sys, torch; torch.load(sys.argv[1], weights_only=False)"
NUMPY_LOAD = "import numpy, sys; numpy.load(sys.argv[1], allow_pickle=True)"
EXPORT_LOAD = "import sys, torch; torch.export.load(sys.argv[1])"
DIFFUSERS_LOAD = ("import sys\nfrom diffusers import DiffusionPipeline\n"
                  "DiffusionPipeline.from_pretrained(sys.argv[1], trust_remote_code=True)")
ST_LOAD = ("import sys\nfrom sentence_transformers import SentenceTransformer\n"
           "SentenceTransformer(sys.argv[1], trust_remote_code=True)")


@dataclass(frozen=True)
class Technique:
    id: str
    source: str
    build: Callable[[Path, Path], Path]  # (folder, marker) -> the path to load and scan
    loader: str
    needs: tuple[str, ...] = ()  # modules the control's interpreter must import (else it is skipped)
    slow: bool = False  # the control imports torch (or diffusers, sentence-transformers)
    folder: bool = False  # aimed at ``scan FOLDER``
    names_payload: bool = False  # the scan can name the payload's global (posix.system)
    # what the scan answered blind (main at 5b5ec15) where it passed the technique (exit 0), and why (all
    # exit 2 since the fix)
    blind: str | None = None


T5: list[Technique] = []


technique = registrar(T5, Technique)


def _touch(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()\n"


def _model(root: Path) -> Path:
    model = root / "model"
    model.mkdir()
    return model


# --- modules a loading process imports that the pickle never names ---------------------------------

@technique("struct.py-beside-a-safe-pickle", "CPython FileFinder on sys.path[0]: `import pickle` (the "
           "loader itself) imports struct, re, functools, copyreg… after start-up", LOAD,
           blind="'safe' (collections.OrderedDict): app/scan.py shadowed_modules looks only for the "
           "pickle's own module names and LOADER_MODULES, not for what those import in turn")
def struct_shadow(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "struct.py").write_text(_touch(marker) + "from _struct import *\n")
    (model / "weights.pkl").write_bytes(pickle.dumps(OrderedDict(w=[1.0, 2.0]), protocol=2))
    return model / "weights.pkl"


@technique("_decimal.py-beside-a-decimal-pickle", "CPython decimal.py: `from _decimal import *` (an "
           "extension module in lib-dynload, looked up on sys.path like any other)", LOAD,
           blind="'harmless' (decimal.Decimal): only decimal.py / decimal/ are looked for, not what "
           "decimal imports")
def decimal_c_shadow(root: Path, marker: Path) -> Path:
    model = _model(root)
    # raising ImportError makes decimal.py fall back to _pydecimal: loading goes on as if nothing ran
    (model / "_decimal.py").write_text(_touch(marker) + "raise ImportError('use _pydecimal')\n")
    (model / "lr.pkl").write_bytes(b"cdecimal\nDecimal\n(V0.1\ntR.")
    return model / "lr.pkl"


@technique("gettext.py-beside-an-argparse-pickle", "CPython argparse.py: `from gettext import gettext "
           "as _, ngettext` at import (the hyper-parameters Namespace torch checkpoints often hold)", LOAD,
           blind="'harmless' (argparse.Namespace): argparse's own imports are not looked for")
def gettext_shadow(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "gettext.py").write_text(
        _touch(marker) + "import sys\ndel sys.modules['gettext']\nsys.path.pop(0)\nimport gettext\n"
        "sys.modules['gettext'] = gettext\nfrom gettext import *\n")
    (model / "args.pkl").write_bytes(b"cargparse\nNamespace\n(tR(dVlr\nF0.1\nsb.")
    return model / "args.pkl"


@technique("decimal-__init__.pyc-package", "CPython FileFinder: a folder is a package when its __init__ "
           "has any loader suffix (SourcelessFileLoader takes __init__.pyc without a source)", LOAD,
           blind="'harmless' (decimal.Decimal): formats/code_files.py importable counts a folder as a "
           "package only for __init__.py")
def decimal_pyc_package(root: Path, marker: Path) -> Path:
    model = _model(root)
    source = root / "decimal_src.py"
    source.write_text(_touch(marker) + "Decimal = str\n")
    (model / "decimal").mkdir()
    py_compile.compile(str(source), cfile=str(model / "decimal" / "__init__.pyc"), doraise=True)
    source.unlink()
    (model / "lr.pkl").write_bytes(b"cdecimal\nDecimal\n(V0.1\ntR.")
    return model / "lr.pkl"


@technique("typing_extensions.py-beside-a-torch-checkpoint", "CPython FileFinder on sys.path[0]: `import "
           "torch` imports typing_extensions (and ~120 other top-level modules) after start-up",
           TORCH_LOAD, needs=("torch",), slow=True,
           blind="'safe' (a plain torch.save state dict): LOADER_MODULES names torch, not what torch "
           "imports")
def typing_extensions_shadow(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "typing_extensions.py").write_text(
        _touch(marker) + "import sys\ndel sys.modules['typing_extensions']\nsys.path.pop(0)\n"
        "import typing_extensions\nsys.modules['typing_extensions'] = typing_extensions\n")
    import torch  # the builder writes a real checkpoint: torch.save of a state dict

    torch.save({"w": torch.zeros(2)}, model / "model.pt")
    return model / "model.pt"


@technique("textwrap.py-beside-a-safetensors-file", "CPython FileFinder on sys.path[0]: "
           "safetensors.numpy imports numpy, which imports textwrap (ast, inspect, platform…) after start-up",
           "from safetensors.numpy import load_file; import sys; load_file(sys.argv[1])",
           blind="'safe: a safetensors file, not a pickle': app/scan.py scan_file returns a code-free "
           "format's verdict before shadowed_modules is asked, which only pickle verdicts get")
def textwrap_shadow_safetensors(root: Path, marker: Path) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    model = _model(root)
    (model / "textwrap.py").write_text(
        _touch(marker) + "import sys\ndel sys.modules['textwrap']\nsys.path.pop(0)\nimport textwrap\n"
        "sys.modules['textwrap'] = textwrap\nfrom textwrap import *\n")
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(model / "model.safetensors"))
    return model / "model.safetensors"


# --- repository code a from_pretrained imports (with trust_remote_code=True) ------------------------

@technique("diffusers-model_index-custom-component", "diffusers 0.42 pipeline_loading_utils."
           "get_class_obj_and_candidates: component [library, class] with <component>/<library>.py",
           DIFFUSERS_LOAD, needs=("diffusers",), slow=True, folder=True,
           blind="'no pickle files found', exit 0: formats/discover.py remote_code reads only "
           "transformers' auto_map files (AUTO_MAP_FILES)")
def diffusers_component(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "_diffusers_version": "0.42.1", "unet": ["my_unet", "MyUNet"],
         "scheduler": ["diffusers", "DDPMScheduler"]}))
    (model / "scheduler").mkdir()
    (model / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "DDPMScheduler", "_diffusers_version": "0.42.1"}))
    (model / "unet").mkdir()
    (model / "unet" / "config.json").write_text("{}")
    (model / "unet" / "my_unet.py").write_text(
        _touch(marker) + "class MyUNet:\n    @classmethod\n    def from_pretrained(cls, *a, **k):\n"
        "        return cls()\n")
    return model


@technique("sentence-transformers-modules.json-custom-module", "sentence-transformers 6.3 util/misc.py "
           "import_module_class: a modules.json type outside sentence_transformers.* imported from the "
           "folder", ST_LOAD, needs=("sentence_transformers",), slow=True, folder=True,
           blind="'no pickle files found', exit 0: modules.json is not one of AUTO_MAP_FILES")
def st_custom_module(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "custom_mod.MyModule"}]))
    (model / "custom_mod.py").write_text(
        _touch(marker) + "import torch\nclass MyModule(torch.nn.Module):\n    @classmethod\n"
        "    def load(cls, *a, **k):\n        return cls()\n")
    return model


@technique("transformers-custom_pipelines-in-config.json", "transformers 5.24 pipelines/__init__.py "
           "pipeline(): config.custom_pipelines[task]['impl'] ('module.Class') is imported with "
           "get_class_from_dynamic_module (trust_remote_code=True)",
           "import sys\nfrom transformers import pipeline\n"
           "pipeline('my-task', model=sys.argv[1], trust_remote_code=True)", needs=("transformers",),
           slow=True, folder=True,
           blind="'no pickle files found', exit 0: formats/discover.py remote_code reads config.json's "
           "auto_map only, not its custom_pipelines")
def transformers_custom_pipeline(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "config.json").write_text(json.dumps(
        {"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 8, "vocab_size": 10,
         "custom_pipelines": {"my-task": {"impl": "my_pipe.MyPipeline", "pt": ["AutoModel"], "tf": []}}}))
    (model / "my_pipe.py").write_text(
        _touch(marker) + "from transformers import Pipeline\n\nclass MyPipeline(Pipeline):\n    pass\n")
    return model


@technique("torch.hub-hubconf.py", "torch 2.13 hub.py load(repo_or_dir, model, source='local'): "
           "_import_module(MODULE_HUBCONF, hubconf.py) with no trust_repo check for a local folder",
           "import sys, torch; torch.hub.load(sys.argv[1], 'tiny', source='local')", needs=("torch",),
           slow=True, folder=True,
           blind="'no pickle files found', exit 0: the folder's entry point for torch.hub is no config "
           "remote_code reads")
def torch_hub_local(root: Path, marker: Path) -> Path:
    model = _model(root)
    (model / "hubconf.py").write_text(_touch(marker) + "dependencies = []\n\ndef tiny():\n    return None\n")
    (model / "weights.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    return model


# --- files the scan reads and judges right (kept so a change cannot lose them) ----------------------

@technique("pt2-use_pickle-weight", "torch 2.13 export/pt2_archive/_package.py _load_state_dict: "
           "use_pickle weights are torch.load(weights_only=False)-ed", EXPORT_LOAD, needs=("torch",),
           slow=True, names_payload=True)
def pt2_pickled_weight(root: Path, marker: Path) -> Path:
    """Needs torch to write the ExportedProgram (the builder itself imports torch)."""
    plain = root / "plain.pt2"
    export_linear(plain)
    path = root / "m.pt2"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("model_weights_config.json"):
                config = json.loads(data)
                config["config"]["lin.weight"]["use_pickle"] = True
                data = json.dumps(config).encode()
            elif info.filename.endswith("data/weights/weight_0"):
                data = system_p0(marker)
            out.writestr(info, data)
    plain.unlink()
    return path


@technique("npy-structured-dtype-object-field", "numpy lib/format.py: a structured dtype with an object "
           "field is pickled (read_array: dtype.hasobject)", NUMPY_LOAD, names_payload=True)
def npy_structured_object(root: Path, marker: Path) -> Path:
    import io

    import numpy as np

    buf = io.BytesIO()
    dtype = np.dtype([("x", "<f8"), ("y", "|O")])
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(dtype),
                                               "fortran_order": False, "shape": (1,)})
    # numpy.load reads the rest with pickle.load whatever it holds: posix.system("touch MARKER")
    path = root / "x.npy"
    path.write_bytes(buf.getvalue() + system_p0(marker))
    return path


@technique("symlink-to-a-pickle-outside-the-folder", "loaders follow a file symlink (open())", LOAD.replace(
    "open(sys.argv[1], 'rb')", "open(sys.argv[1] + '/pytorch_model.bin', 'rb')"), folder=True,
    names_payload=True)
def symlink_out(root: Path, marker: Path) -> Path:
    model = _model(root)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "w.bin").write_bytes(system_p0(marker))
    os.symlink(os.path.relpath(elsewhere / "w.bin", model), model / "pytorch_model.bin")
    return model


def target_file(t: Technique, root: Path) -> Path:
    """The file a folder technique's loader reads, or the folder itself."""
    return {"symlink-to-a-pickle-outside-the-folder": root / "model" / "pytorch_model.bin"}.get(t.id, root)


def export_linear(path: Path) -> Path:
    """A real torch.export.save of one Linear(3, 2): an ordinary .pt2 (needs torch)."""
    import torch

    class M(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    torch.export.save(torch.export.export(M(), (torch.randn(1, 3),)), str(path))
    return path
