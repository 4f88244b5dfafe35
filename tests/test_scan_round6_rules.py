"""The rules behind the round-6 fixes (docs/security.md "Red team, round 6"), on hand-made files: no
keras, h5py, skops or pandas needed (tests/test_scan_redteam6.py runs the live attacks)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from paramscope.analyses.safety.pickle_safety import judge
from paramscope.app.scan import scan
from paramscope.formats.code_loaders import HDF5_MAGIC

SAFE_PICKLE = b"\x80\x04]\x94."  # an empty list: exit 0


def _hdf5(*attributes: bytes, user_block: bytes = b"") -> bytes:
    """An HDF5 signature, then attribute names as an attribute message stores them (null-terminated)."""
    body = b"".join(b"\x0c\x00\x00\x00" + name + b"\x00" * (8 - len(name) % 8) for name in attributes)
    return user_block + HDF5_MAGIC + b"\x00" * 56 + body + b"\x00" * 64


def _exit(path: Path) -> int:
    return scan([str(path)]).exit_code


# --- HDF5 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attributes", [(b"model_config",), (b"model_config", b"keras_version"),
                                        (b"pandas_type",), (b"PYTABLES_FORMAT_VERSION",),
                                        (b"CLASS", b"TITLE", b"VERSION")])
def test_an_hdf5_file_a_code_running_loader_reads_could_run_code(tmp_path: Path,
                                                                  attributes: tuple[bytes, ...]) -> None:
    (tmp_path / "model").mkdir()
    path = tmp_path / "model" / "data.bin"  # found by its signature, not its name
    path.write_bytes(_hdf5(*attributes))
    assert _exit(path) == 2
    assert _exit(tmp_path / "model") == 2


def test_a_keras_weights_file_runs_nothing(tmp_path: Path) -> None:
    """A weights-only Keras HDF5 (``save_weights``; transformers' ``tf_model.h5``): ``keras_version`` and
    ``backend`` but no ``model_config``; load_model refuses it, load_weights rebuilds nothing."""
    (tmp_path / "snapshot").mkdir()
    path = tmp_path / "snapshot" / "tf_model.h5"
    path.write_bytes(_hdf5(b"keras_version", b"backend", b"layer_names"))
    assert _exit(path) == 1
    assert _exit(tmp_path / "snapshot") == 0


def test_a_plain_hdf5_file_is_not_a_pickle(tmp_path: Path) -> None:
    """By name: exit 1 ("not a pickle"); in a folder: skipped (h5py reads its arrays, no code runs).
    A netCDF dimension scale's ``CLASS`` alone is not PyTables' mark."""
    path = tmp_path / "arrays.h5"
    path.write_bytes(_hdf5(b"CLASS", b"NAME"))
    result = scan([str(path)])
    assert result.exit_code == 1, result.verdicts[0].summary
    assert "HDF5" in result.verdicts[0].summary
    folder = scan([str(tmp_path)])
    assert folder.exit_code == 0 and folder.verdicts[0].status == "skipped"


def test_an_hdf5_superblock_after_a_user_block_is_found(tmp_path: Path) -> None:
    """The HDF5 library (and so h5py, keras, pandas) finds the superblock at 512, 1024, …: a text head
    before it hides nothing."""
    (tmp_path / "notes.txt").write_bytes(_hdf5(b"model_config", user_block=b"# notes\n".ljust(1024, b" ")))
    assert _exit(tmp_path) == 2
    assert _exit(tmp_path / "notes.txt") == 2


# --- zip archives of code-running loaders ----------------------------------------------------------

def _zip(path: Path, members: dict[str, object]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, doc in members.items():
            z.writestr(name, doc if isinstance(doc, bytes) else json.dumps(doc))
    return path


KERAS_CONFIG = {"class_name": "Functional", "module": "keras.src.models.functional",
                "config": {"layers": [{"module": "posix", "class_name": "function", "config": "system"}]}}


@pytest.mark.parametrize("name, members", [
    ("model.bin", {"config.json": KERAS_CONFIG, "metadata.json": {"keras_version": "3.8.0"}}),
    ("model.keras", {"config.json": KERAS_CONFIG}),  # load_model needs no metadata.json
    ("model.skops", {"schema.json": {"__module__": "posix", "__class__": "system",
                                     "__loader__": "ConstructorFromReduceNode"}}),
    ("model.mar", {"MAR-INF/MANIFEST.json": {"model": {"handler": "handler.py"}}, "handler.py": b"x = 1\n"}),
])
def test_a_zip_a_code_running_loader_reads_could_run_code(tmp_path: Path, name: str,
                                                          members: dict[str, object]) -> None:
    (tmp_path / "model").mkdir()
    path = _zip(tmp_path / "model" / name, members)
    by_name, folder = scan([str(path)]), scan([str(tmp_path / "model")])
    assert by_name.exit_code == folder.exit_code == 2, [v.summary for v in folder.verdicts]
    if "posix" in json.dumps(members.get("config.json", members.get("schema.json", {}))):
        assert "posix.system" in by_name.verdicts[0].summary


@pytest.mark.parametrize("members", [
    {"config.json": {"hidden_size": 8}},  # a zip of a model folder's config: no loader's archive
    {"schema.json": {"$schema": "https://json-schema.org/draft/2020-12/schema"}},  # a JSON schema
    {"config.json": b"not json", "metadata.json": {}},  # keras raises before it imports anything
])
def test_a_zip_no_code_running_loader_takes_stays_no_pickle(tmp_path: Path,
                                                            members: dict[str, object]) -> None:
    path = _zip(tmp_path / "bundle.zip", members)
    assert _exit(path) == 1
    assert scan([str(tmp_path)]).exit_code == 0


def test_an_error_is_never_skipped() -> None:
    verdict = judge("f", (), error="cannot be opened", skipped="a zip archive with no pickle inside")
    assert verdict.exit_code == 1


# --- symlinks beside a file -------------------------------------------------------------------------

@pytest.fixture
def model(tmp_path: Path) -> Path:
    if not hasattr(os, "symlink"):
        pytest.skip("no symlinks here")
    (tmp_path / "lib" / "pkg").mkdir(parents=True)
    (tmp_path / "lib" / "pkg" / "__init__.py").write_text("")
    (tmp_path / "lib" / "notes.txt").write_text("notes\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.pkl").write_bytes(SAFE_PICKLE)
    return tmp_path / "model"


def test_a_symlinked_folder_beside_a_file_could_be_imported(model: Path) -> None:
    (model / "struct").symlink_to(Path("..", "lib", "pkg"))
    assert _exit(model / "weights.pkl") == 2


def test_a_symlinked_folder_inside_a_namespace_portion_could_be_imported(model: Path) -> None:
    (model / "google").mkdir()
    (model / "google" / "protobuf").symlink_to(Path("..", "..", "lib", "pkg"))
    assert _exit(model / "weights.pkl") == 2


def test_symlinked_files_and_dangling_links_stay_quiet(model: Path) -> None:
    """A Hugging Face snapshot links files only; a dangling link answers no import."""
    (model / "README.md").symlink_to(Path("..", "lib", "notes.txt"))
    (model / "gone").symlink_to(Path("..", "lib", "missing"))
    assert _exit(model / "weights.pkl") == 0


# --- binaries given by name ------------------------------------------------------------------------

@pytest.mark.parametrize("data, code", [
    (b"\x89PNG\r\n\x1a\n" + bytes(32), 1),  # NEWFALSE, PERSID …, then no opcode: imports nothing
    (b"\x80\x04]\x94", 2),  # a pickle cut short is still one: what followed is not known
    (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94\xff", 2),  # inside a FRAME: the doubt stays
])
def test_a_first_pickle_that_breaks(tmp_path: Path, data: bytes, code: int) -> None:
    (tmp_path / "x.bin").write_bytes(data)
    assert _exit(tmp_path / "x.bin") == code


# --- tar archives (NeMo's .nemo, torch.save before 0.4) ---------------------------------------------

def _tar(path: Path, members: dict[str, bytes], mode: str = "w", kind: bytes = b"0") -> Path:
    import io
    import tarfile

    with tarfile.open(path, mode) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.type = len(data), kind
            t.addfile(info, io.BytesIO(data))
    return path


def _state_dict() -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_a_tar_is_read_member_by_member(tmp_path: Path, mode: str) -> None:
    """A tar's members are judged as zip members are: a state dict is safe, a payload is named (the
    zip that zipfile finds at the tar's end is that member, read already)."""
    safe = _tar(tmp_path / "safe.tar", {"weights.pt": _state_dict(), "README.md": b"# model\n"}, mode)
    evil = _tar(tmp_path / "evil.tar", {"weights.pkl": b"cposix\nsystem\n(S'true'\ntR."}, mode)
    assert _exit(safe) == 0, scan([str(safe)]).verdicts[0].summary
    result = scan([str(evil)])
    assert result.exit_code == 2 and "posix.system" in result.verdicts[0].summary


def test_a_nemo_archive_names_the_classes_it_instantiates(tmp_path: Path) -> None:
    """NeMo's restore_from instantiates its model_config.yaml's targets (CVE-2025-23304): a .nemo with
    a plain state dict is still 'could run code', for that reason."""
    path = _tar(tmp_path / "asr.nemo", {"./model_config.yaml": b"target: evil.Model\n",
                                        "./model_weights.ckpt": _state_dict()})
    result = scan([str(path)])
    assert result.exit_code == 2 and "evil.Model" in result.verdicts[0].summary


@pytest.mark.parametrize("name, kind", [("../../x.py", b"0"), ("/etc/x.py", b"0"), ("link", b"2"),
                                        ("fifo", b"6")])
def test_a_tar_member_extracting_beyond_its_bytes_could_run_code(tmp_path: Path, name: str,
                                                                 kind: bytes) -> None:
    path = _tar(tmp_path / "m.tar", {name: b"" if kind != b"0" else b"x = 1\n"}, kind=kind)
    assert _exit(path) == 2


def test_a_tar_of_text_is_no_pickle(tmp_path: Path) -> None:
    _tar(tmp_path / "docs.tar", {"README.md": b"# notes\n"})
    assert _exit(tmp_path / "docs.tar") == 1
    assert scan([str(tmp_path)]).exit_code == 0  # skipped: found by its first bytes


def test_data_after_a_tars_end_could_run_code(tmp_path: Path) -> None:
    path = _tar(tmp_path / "m.tar", {"README.md": b"# notes\n"})
    path.write_bytes(path.read_bytes() + b"\x80\x02cposix\nsystem\n.")
    assert _exit(path) == 2


def test_a_pax_header_tarfile_would_backtrack_on_is_not_parsed(tmp_path: Path) -> None:
    """tarfile before Python 3.11.10 reads a malformed PAX header in time quadratic in its size
    (CVE-2024-6232): the scan checks PAX records first, in linear time, and leaves such a tar unread."""
    import io
    import tarfile
    import time

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        payload = b"1" * 300_000 + b" "
        info = tarfile.TarInfo("x")
        info.type, info.size = tarfile.XHDTYPE, len(payload)
        t.addfile(info, io.BytesIO(payload))
        t.addfile(tarfile.TarInfo("y"))
    (tmp_path / "pax.tar").write_bytes(buf.getvalue())
    start = time.monotonic()
    result = scan([str(tmp_path / "pax.tar")])
    assert result.exit_code == 2 and "PAX header" in result.verdicts[0].summary
    assert time.monotonic() - start < 10


def test_an_hdf5_member_a_code_running_loader_reads_could_run_code(tmp_path: Path) -> None:
    """A zip or tar is extracted, then its store read with pandas (as a .nemo's checkpoint is)."""
    path = _zip(tmp_path / "bundle.zip", {"store.h5": _hdf5(b"pandas_type")})
    assert _exit(path) == 2
    plain = _zip(tmp_path / "arrays.zip", {"arrays.h5": _hdf5(b"NAME")})
    assert _exit(plain) == 1
