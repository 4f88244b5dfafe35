"""Red team round 5, blind (tests/builders/scan_round5.py names each source): what a loading process
imports or runs that the file does not name. Modules imported *in turn* by the loader and by the modules
a pickle names (``struct`` for ``import pickle``, ``_decimal`` for ``decimal``, ``gettext`` for
``argparse``, ``typing_extensions`` for ``import torch``, ``textwrap`` for numpy beside a safetensors
file) and a sourceless package (``decimal/__init__.pyc``), each found first in the working directory;
repository code that diffusers' ``model_index.json`` and sentence-transformers' ``modules.json`` name,
imported by ``from_pretrained`` with ``trust_remote_code=True`` (transformers' ``auto_map`` is judged
since round 4; ``config.json``'s ``custom_pipelines`` is not), and the ``hubconf.py`` that
``torch.hub.load(dir, source="local")`` imports. And kept, as the scan answers them right: a ``.pt2``
whose weight ``torch.export.load`` unpickles, a structured ``.npy`` with an object field, a symlink out
of the model folder.

For each technique a control loads the target in a child process (its folder the working directory) and
the payload's marker file appears: the attack is live. ``scan`` must exit 2 and never create the marker;
where it can, it names the payload's global. The controls that need diffusers or sentence-transformers
(not in the project's environment) run with the interpreter ``PARAMSCOPE_REDTEAM_PYTHON`` names (a venv
that has them; default: this one) and are skipped where it cannot import them.

Blind (main at 5b5ec15): 13 techniques, every control live (diffusers 0.42.1 and sentence-transformers
6.3.0 in a separate venv). **10 exit 0**: six shadowing techniques ("safe" / "harmless" / "safe: a
safetensors file") and four repository-code folders (diffusers, sentence-transformers, transformers'
``custom_pipelines``, torch.hub's ``hubconf.py``: "no pickle files found"). Each technique's ``blind``
keeps what the scan said then (the builders' "LOADER_MODULES" was the fixed list the scan watched). Fixed
(all 13 exit 2): any code a folder can give import (formats/code_files.py ``importable``: code files of any
platform, sub-folders with code, distribution metadata) is "could run code" beside every file, code-free
formats included, and in every folder a folder scan enters; the repository code diffusers,
sentence-transformers, transformers' ``custom_pipelines`` and torch.hub import is read from their own files
(formats/discover.py REMOTE_CODE). The review of that fix: ``test_review_findings_of_round_5``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders.scan_round5 import T5, Technique, export_linear, target_file
from paramscope.app.scan import scan

PAYLOAD_GLOBALS = {"posix.system", "os.system"}
CONTROL_PYTHON = os.environ.get("PARAMSCOPE_REDTEAM_PYTHON", sys.executable)
# builders that write a real file with torch (torch.save, torch.export.save)
BUILT_WITH_TORCH = {"typing_extensions.py-beside-a-torch-checkpoint", "pt2-use_pickle-weight"}


def _marks(t: Technique, finding: bool = True) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if t.slow else []


EXIT_CASES = [pytest.param(t, id=t.id, marks=_marks(t)) for t in T5]
NAME_CASES = [pytest.param(t, id=t.id, marks=_marks(t)) for t in T5 if t.names_payload]
CONTROL_CASES = [pytest.param(t, id=t.id, marks=_marks(t, finding=False)) for t in T5]


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
    if t.id in BUILT_WITH_TORCH:
        pytest.importorskip("torch")
    root, marker = tmp_path / "case", tmp_path / "case" / "MARKER"
    root.mkdir()
    return t.build(root, marker), marker


@pytest.mark.parametrize("t", EXIT_CASES)
def test_scan_says_could_run_code(t: Technique, tmp_path: Path) -> None:
    target, marker = build(t, tmp_path)
    result = scan([str(target)])
    assert result.exit_code == 2, (t.id, [v.summary for v in result.verdicts])
    assert not marker.exists()


@pytest.mark.parametrize("t", NAME_CASES)
def test_scan_names_the_payload(t: Technique, tmp_path: Path) -> None:
    target, marker = build(t, tmp_path)
    flagged = {g.qualname for v in scan([str(target)]).verdicts for g in v.flagged}
    assert PAYLOAD_GLOBALS & flagged, (t.id, flagged)
    assert not marker.exists()


@pytest.mark.parametrize("t", [pytest.param(t, id=t.id, marks=_marks(t)) for t in T5 if t.folder])
def test_folder_techniques_given_as_the_file_a_loader_reads(t: Technique, tmp_path: Path) -> None:
    """The folder techniques scanned by the file their loader reads, where there is one."""
    root = tmp_path / "case"
    root.mkdir()
    t.build(root, root / "MARKER")
    file = target_file(t, root)
    if file == root:
        pytest.skip("a folder technique: the loader reads the folder")
    assert scan([str(file)]).exit_code == 2


def _importable(modules: tuple[str, ...]) -> bool:
    if not modules:
        return True
    probe = subprocess.run([CONTROL_PYTHON, "-c", "import " + ", ".join(modules)], capture_output=True,
                           timeout=300, stdin=subprocess.DEVNULL)
    return probe.returncode == 0


@pytest.mark.parametrize("t", CONTROL_CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if not _importable(t.needs):
        pytest.skip(f"{CONTROL_PYTHON} cannot import {', '.join(t.needs)}")
    target, marker = build(t, tmp_path)
    cwd = target if target.is_dir() else target.parent
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "hf_modules"), "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf_home")}
    subprocess.run([CONTROL_PYTHON, "-c", t.loader, str(target)], cwd=cwd, timeout=300, capture_output=True,
                   stdin=subprocess.DEVNULL, env=env)
    assert marker.exists(), t.id


def test_the_corpus_is_complete() -> None:
    assert len({t.id for t in T5}) == len(T5) >= 8
    assert all(t.source for t in T5)


def test_special_files_in_a_folder_do_not_hang(tmp_path: Path) -> None:
    """A FIFO and symlinks to /dev/zero named like checkpoints: listed, never opened (exit 1)."""
    os.mkfifo(tmp_path / "model.bin")
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    os.symlink("/dev/zero", tmp_path / "pytorch_model.bin")
    os.symlink("/dev/zero", tmp_path / "other.pkl")
    result = scan([str(tmp_path)])
    assert [v.exit_code for v in result.verdicts] == [1, 1, 1], [v.summary for v in result.verdicts]


@pytest.mark.slow
def test_ordinary_files_stay_safe(tmp_path: Path) -> None:
    """Files torch, numpy and transformers write for ordinary models: no false alarm (blind: all exit 0)."""
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    state = {"w": torch.randn(3, 4), "b": torch.zeros(4, dtype=torch.bfloat16), "i": torch.arange(5)}
    torch.save(state, tmp_path / "zip.pt")
    torch.save(state, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"model": state, "epoch": 3,
                "opt": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}}, tmp_path / "ckpt.pth")
    torch.save(torch.randn(2, 2).to_sparse(), tmp_path / "sparse.pt")
    torch.save({"q": torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8)}, tmp_path / "q.pt")
    np.save(tmp_path / "a.npy", np.arange(10.0))
    np.savez_compressed(tmp_path / "b.npz", x=np.ones((2, 3)), y=np.array(["ab", "c"]))
    export_linear(tmp_path / "m.pt2")
    result = scan([str(tmp_path)])
    seen = [(v.source, v.summary) for v in result.verdicts]
    assert result.exit_code == 0 and len(result.verdicts) == 8, seen


def _exit(path: Path) -> int:
    return scan([str(path)]).exit_code


def test_review_findings_of_round_5(tmp_path: Path) -> None:
    """What a review of the round-5 fixes found: a list of names to watch can never be whole (torch only
    tries `import opt_einsum`; what is built in, frozen or installed is the loading Python's), so any code a
    folder can give import is reported; distribution metadata (torch ≥ 2.5 loads every "torch.backends"
    entry point on `import torch`); a namespace portion (`google/protobuf/` merges into an installed
    `google`); a package whose `__init__` is another interpreter's extension; upper-case `.PY`; and
    manifests that named other repositories, dotted modules, or paths no file system holds."""
    cases = {
        "optional": {"opt_einsum.py": "import os\n"},
        "metadata": {"evil-1.0.dist-info/entry_points.txt": "[torch.backends]\nx = helper:run\n"},
        "namespace": {"google/protobuf/__init__.py": "import os\n"},
        "extension": {"decimal/__init__.cpython-312-x86_64-linux-gnu.so": "\x7fELF"},
        "upper": {"STRUCT.PY": "import os\n"},
    }
    for name, files in cases.items():
        folder = tmp_path / name
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        (folder / "model.pkl").write_bytes(b"\x80\x04]\x94.")  # an empty list: no global at all
        assert _exit(folder / "model.pkl") == 2, name
        assert _exit(folder) == 2, name
    odd = tmp_path / "manifests"
    odd.mkdir()
    (odd / "model_index.json").write_text('{"unet": ["' + "x" * 5000 + '", "X"], "vae": ["/etc/x", "Y"]}')
    (odd / "modules.json").write_text("[" * 100_000 + "]" * 100_000)
    (odd / "model.pkl").write_bytes(b"\x80\x04]\x94.")
    result = scan([str(odd)])
    assert result.exit_code == 0 and [v.status for v in result.verdicts] == ["safe"]
    other = tmp_path / "other-repo"
    other.mkdir()
    (other / "modules.json").write_text('[{"idx": 0, "name": "0", "path": "", "type": "org/repo--mod.Cls"}]')
    (verdict,) = scan([str(other)]).verdicts
    assert verdict.exit_code == 2 and "mod" in verdict.summary
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("config.json", "tokenizer.json", "generation_config.json", "README.md", "merges.txt"):
        (plain / name).write_text("{}\n")
    (plain / "model.pkl").write_bytes(b"\x80\x04]\x94.")
    assert _exit(plain) == 0
