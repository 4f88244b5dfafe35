"""Red team round 6, blind (tests/builders/scan_round6.py names each source): what the round-5 rules do
not see, and loaders other than pickle's that run code from a model file.

- A *symlink to a folder* answers ``import`` as the folder would (CPython's FileFinder stats through it):
  ``model/struct -> ../lib/structpkg`` beside a plain pickle is the ``struct`` that ``import pickle``
  imports, ``model/google/protobuf -> …`` beside an ONNX file the ``google.protobuf`` that ``import
  onnx`` imports. A folder scan reports the symlinked folder ("not followed"); a scan of the file does not.
- Keras: a ``.keras`` archive (CVE-2025-1550: ``load_model`` with the default ``safe_mode=True`` imports
  and calls ``posix.system``) and a legacy ``.h5`` with a ``Lambda`` (CVE-2025-9905: ``safe_mode``
  ignored). By name the scan says "unreadable" (1) or, for the ``.h5``, "could run code" for a wrong
  reason (its first byte is NEWFALSE and the "pickle" breaks); in a folder the ``.keras`` is ``skipped``
  and the ``.h5`` never found: exit 0.
- pandas HDF5: ``to_hdf(format="fixed")`` pickles an object column (PyTables ``ObjectAtom``) and
  ``read_hdf`` unpickles it: by name exit 2 for the same wrong reason as the ``.h5``, in a folder never
  found (exit 0).
- skops: a ``.skops`` archive whose ``schema.json`` has ``ConstructorFromReduceNode`` call ``posix.system``,
  loaded the way skops documents (``load(p, trusted=get_untrusted_types(file=p))``): like the ``.keras``,
  exit 1 by name, ``skipped`` (0) in a folder.
- NeMo ``.nemo`` tarballs (tar and tar.gz) holding a pickle, and a cloudpickle lambda called on load:
  exit 2 already (a tar is not read: "its members are not read"; ``cloudpickle.*`` is dangerous).
- Ordinary binaries given by name (a PNG, a plain HDF5 array file) are "could run code: the pickle
  cannot be read to its end": a false alarm whose reason is wrong (CPython's unpicklers break at the same
  unknown opcode, having imported nothing).
- ``scan()`` called twice in one process misses ``decimal/__init__.py`` added to an existing ``decimal/``
  sub-folder between the calls (the listing cache is keyed by the folder's own mtime).

For each technique a control loads the target in a child process (its folder the working directory) and the
payload's marker file appears: the attack is live. ``scan`` must exit 2 and never create the marker. The
controls and builders that need keras 3.8, h5py, skops, pandas or tables (not in the project's environment)
run with the interpreter ``PARAMSCOPE_REDTEAM_PYTHON`` names (a venv with ``keras==3.8.0 h5py skops pandas
tables``, torch from the project's environment, ``KERAS_BACKEND=torch``; default: this one) and are skipped
where it cannot import them.

Blind (main at fac5d6a): 14 techniques, every control live (keras 3.8.0, skops 0.16.0, pandas + tables).
**Exit 0: 6** (the symlinked ``struct`` package and the symlinked ``google/protobuf`` scanned by file; the
``.keras``, the Keras ``.h5``, the pandas ``.h5`` and the ``.skops`` in a folder); **exit 1: 2** (the
``.keras`` and the ``.skops`` by name); exit 2: 6 (the symlinked folder scanned as a folder, both ``.h5`` by
name — for the wrong reason —, both ``.nemo`` files, the cloudpickle lambda). Besides: two false alarms
(PNG, HDF5 by name) and the stale cache (exit 0). The techniques still open are marked
``xfail(strict=True)`` (``OPEN`` and the three tests so marked): remove an id from ``OPEN`` when its fix
lands.

After the fixes (docs/security.md "Red team, round 6"): all 14 exit 2, ``OPEN`` is empty, the PNG and the
plain HDF5 file are exit 1 ("not a pickle") and a second ``scan()`` sees the new code. The ``.nemo`` files
are now read member by member (the payload is named) and are "could run code" for NeMo's own reason too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builders.scan_round6 import T6, BuildUnavailable, Technique, h5_data, png
from paramscope.app.scan import scan

CONTROL_PYTHON = os.environ.get("PARAMSCOPE_REDTEAM_PYTHON", sys.executable)

# exit 0 or 1 blind, and still so: each a finding for the lead (see each technique's ``blind``)
OPEN: set[str] = set()


def _marks(t: Technique, finding: bool = True) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.slow] if t.slow else []
    if finding and t.id in OPEN:
        marks.append(pytest.mark.xfail(strict=True, reason=f"round 6 finding: {t.blind}"))
    return marks


EXIT_CASES = [pytest.param(t, id=t.id, marks=_marks(t)) for t in T6]
CONTROL_CASES = [pytest.param(t, id=t.id, marks=_marks(t, finding=False)) for t in T6]


def _importable(modules: tuple[str, ...]) -> bool:
    if not modules:
        return True
    env = {**os.environ, "KERAS_BACKEND": "torch"}  # keras 3's default backend, tensorflow, is not there
    probe = subprocess.run([CONTROL_PYTHON, "-c", "import " + ", ".join(modules)], capture_output=True,
                           timeout=300, stdin=subprocess.DEVNULL, env=env)
    return probe.returncode == 0


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
    if t.id.startswith("symlinked") and not hasattr(os, "symlink"):
        pytest.skip("no symlinks here")
    if "onnx" in t.needs:
        pytest.importorskip("onnx")
    root, marker = tmp_path / "case", tmp_path / "case" / "MARKER"
    root.mkdir()
    try:
        return t.build(root, marker), marker
    except BuildUnavailable as e:
        pytest.skip(f"{CONTROL_PYTHON} cannot build it: {e}")


@pytest.mark.parametrize("t", EXIT_CASES)
def test_scan_says_could_run_code(t: Technique, tmp_path: Path) -> None:
    target, marker = build(t, tmp_path)
    result = scan([str(target)])
    assert result.exit_code == 2, (t.id, [v.summary for v in result.verdicts])
    assert not marker.exists()


@pytest.mark.parametrize("t", CONTROL_CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if not _importable(t.needs):
        pytest.skip(f"{CONTROL_PYTHON} cannot import {', '.join(t.needs)}")
    target, marker = build(t, tmp_path)
    loaded = target / t.file if t.folder else target
    cwd = target if t.folder else target.parent
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    subprocess.run([CONTROL_PYTHON, "-c", t.loader, str(loaded)], cwd=cwd, timeout=300, capture_output=True,
                   stdin=subprocess.DEVNULL, env=env)
    assert marker.exists(), t.id


def test_the_corpus_is_complete() -> None:
    assert len({t.id for t in T6}) == len(T6) >= 8
    assert all(t.source for t in T6)
    assert {t.id for t in T6} >= OPEN
    assert all(t.blind for t in T6 if t.id in OPEN)
    assert all(t.file for t in T6 if t.folder)


def test_a_png_given_by_name_is_not_a_pickle(tmp_path: Path) -> None:
    """``\\x89PNG\\r\\n`` reads as NEWFALSE, BINPERSID, NONE, BINFLOAT: both CPython unpicklers stop at the
    0x1a after it, having imported nothing, as they would at a first byte that is no opcode (exit 1)."""
    (tmp_path / "figure.png").write_bytes(png())
    result = scan([str(tmp_path / "figure.png")])
    assert result.exit_code == 1, [v.summary for v in result.verdicts]


@pytest.mark.slow
def test_a_plain_hdf5_file_given_by_name_is_not_a_pickle(tmp_path: Path) -> None:
    """``\\x89HDF``: NEWFALSE, then 'H', no opcode: nothing imported (an HDF5 file with a Keras
    ``model_config`` can carry code, and "could run code" would be right for it, for that reason)."""
    try:
        path = h5_data(tmp_path / "arrays.h5")
    except BuildUnavailable as e:
        pytest.skip(f"{CONTROL_PYTHON} has no h5py: {e}")
    result = scan([str(path)])
    assert result.exit_code == 1, [v.summary for v in result.verdicts]


def test_a_folder_of_pictures_and_plain_text_stays_quiet(tmp_path: Path) -> None:
    """The folder search does not take a PNG (its head is no pickle a loader reads): blind exit 0."""
    (tmp_path / "figure.png").write_bytes(png())
    (tmp_path / "README.md").write_text("# model\n")
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04]\x94.")
    result = scan([str(tmp_path)])
    assert result.exit_code == 0, [v.summary for v in result.verdicts]


def test_a_second_scan_sees_code_added_to_a_sub_folder(tmp_path: Path) -> None:
    """``paramscope.scan`` called twice in one process (a service, a notebook, the web front end): between
    the calls ``decimal/__init__.py`` appears in a ``decimal/`` sub-folder that held only a text file. The
    folder's mtime does not change (only the sub-folder's), so the cached listing says no code; the control
    shows the pickle's ``decimal.Decimal`` then imports it."""
    model = tmp_path / "model"
    (model / "decimal").mkdir(parents=True)
    (model / "decimal" / "README.txt").write_text("notes\n")
    (model / "lr.pkl").write_bytes(b"cdecimal\nDecimal\n(V0.1\ntR.")
    assert scan([str(model / "lr.pkl")]).exit_code == 0  # harmless: decimal.Decimal, no code beside it
    marker = tmp_path / "MARKER"
    (model / "decimal" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    subprocess.run([sys.executable, "-c", "import pickle; pickle.load(open('lr.pkl', 'rb'))"], cwd=model,
                   timeout=60, capture_output=True, stdin=subprocess.DEVNULL)
    assert marker.exists()  # the control: live
    marker.unlink()
    result = scan([str(model / "lr.pkl")])
    assert result.exit_code == 2, [v.summary for v in result.verdicts]
    assert not marker.exists()
