"""`scan` says "safe" (exit 0) only when loading cannot run code: one attack per class of issue 10.

Each payload only creates a marker file. A control run loads the file the way a real program does
(CPython's ``pickle.load``, ``pickle._Unpickler``, ``numpy.load(allow_pickle=True)``, ``zipfile`` then
``pickle.load``, a streaming unzip, ``joblib.load``) in a child process and shows the marker appear;
the scan must exit 2 and the marker must never appear from paramscope. The attacks and their control
loaders are built in tests/builders/scan_attacks.py.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from builders.scan_attacks import ATTACKS, Attack, benign, payload
from paramscope.app.scan import scan
from paramscope.cli import app as cli_app


def build(attack: Attack, tmp_path: Path) -> tuple[Path, Path]:
    path, marker = tmp_path / f"model{attack.suffix}", tmp_path / "MARKER"
    attack.build(path, marker)
    return path, marker


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_attack_is_could_run_code(attack: Attack, tmp_path: Path) -> None:
    path, marker = build(attack, tmp_path)
    result = scan([str(path)])
    (verdict,) = result.verdicts
    assert result.exit_code == 2 and verdict.could_run_code, verdict
    if attack.names:
        assert attack.names in {g.qualname for g in verdict.flagged}, verdict
    assert not marker.exists()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_control_the_attack_is_live(attack: Attack, tmp_path: Path) -> None:
    """The loader the attack aims at, in a child process, does run it."""
    path, marker = build(attack, tmp_path)
    subprocess.run([sys.executable, "-c", attack.control, str(path)], cwd=tmp_path, timeout=120,
                   capture_output=True)
    assert marker.exists(), attack.id


# --- the other two exit codes ---------------------------------------------------------------------

def test_safe_files_exit_0(tmp_path: Path) -> None:
    files = {"plain.pkl": benign(2), "proto5.pkl": benign(5), "two.pkl": benign(2) + benign(4)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    np.save(tmp_path / "numbers.npy", np.arange(6.0))
    np.savez(tmp_path / "numbers.npz", a=np.arange(3), b=np.ones((2, 2), dtype=np.float16))
    result = scan([str(tmp_path / n) for n in (*files, "numbers.npy", "numbers.npz")])
    assert [v.exit_code for v in result.verdicts] == [0] * 5, [v.summary for v in result.verdicts]
    assert result.exit_code == 0


def test_not_a_pickle_exits_1(tmp_path: Path) -> None:
    (tmp_path / "notes.pkl").write_text("hello, this is text\n")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "text.zip.pt", "w") as z:
        z.writestr("readme.txt", "no pickles here")
    result = scan([str(tmp_path / n) for n in ("notes.pkl", "empty.pkl", "text.zip.pt")])
    assert [v.exit_code for v in result.verdicts] == [1, 1, 1], [v.summary for v in result.verdicts]


def test_trailing_garbage_is_not_safe(tmp_path: Path) -> None:
    path = tmp_path / "trailing.pkl"
    path.write_bytes(benign(2) + b"\x00garbage")
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and verdict.unverified, verdict


def test_data_after_torch_data_pkl_stop_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", benign(2) + benign(2))  # both safe, but torch never writes two
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any("after the pickle's STOP" in u for u in verdict.unverified)


def test_cli_exit_status_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = build(ATTACKS[4], tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli_app.main(["scan", str(path)])
    assert exited.value.code == 2
    assert "posix.system" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_app.main(["scan", "--help"])
    text = capsys.readouterr().out
    assert "exit status: 0" in " ".join(text.split()) and "could run code" in text
    assert "docs/security.md" in text
    assert not marker.exists()


def test_inspect_safety_line_reads_every_pickle(tmp_path: Path) -> None:
    """inspect reads the tensors from data.pkl; its safety line still sees the pickle after STOP."""
    from builders.pickle_files import dumps, one_tensor_checkpoint
    from paramscope.app.inspect import inspect

    marker = tmp_path / "MARKER"
    path = one_tensor_checkpoint(tmp_path / "model.pt", extra_after_stop=payload(marker))
    result = inspect(str(path))
    assert len(result.model.tensors) == 1
    assert result.safety is not None and result.exit_code == 2 and result.safety.could_run_code
    assert "posix.system" in {g.qualname for g in result.safety.flagged}
    assert dumps  # the builder's emitter wrote the checkpoint
    assert not marker.exists()


def test_archives_the_scan_does_not_open_are_not_safe(tmp_path: Path) -> None:
    import tarfile

    inner = tmp_path / "evil.pkl"
    inner.write_bytes(payload(tmp_path / "MARKER"))
    for name, mode in (("model.tar", "w"), ("model.tar.gz", "w:gz")):
        with tarfile.open(tmp_path / name, mode) as t:
            t.add(inner, arcname="evil.pkl")
    (tmp_path / "model.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + bytes(32))
    result = scan([str(tmp_path / n) for n in ("model.tar", "model.tar.gz", "model.7z")])
    assert [v.exit_code for v in result.verdicts] == [2, 2, 2], [v.summary for v in result.verdicts]


COMPRESSORS = {"gzip": "gzip", "bz2": "bz2", "xz": "lzma"}


@pytest.mark.parametrize("compressor", sorted(COMPRESSORS))
def test_every_prefix_of_a_compressed_payload_is_never_safe(compressor: str, tmp_path: Path) -> None:
    """A compressed tar or pickle cut anywhere: the loaders hand over what inflates before the cut, then
    raise. Whatever is left is "could run code" or "unreadable", never "safe" (a gzip cut inside its
    first block inflated to nothing and read "safe" for want of any reason it was not)."""
    import importlib
    import io
    import tarfile

    module = importlib.import_module(COMPRESSORS[compressor])
    evil = payload(tmp_path / "MARKER")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as t:
        member = tarfile.TarInfo("config.pkl")
        member.size = len(evil)
        t.addfile(member, io.BytesIO(evil))
    for kind, raw in (("tar", archive.getvalue()), ("pkl", evil)):
        whole = module.compress(raw)
        cuts = sorted({*range(0, min(len(whole), 96)), *range(96, len(whole), max(1, len(whole) // 48))})
        paths = []
        for n in cuts:
            paths.append(tmp_path / f"{kind}-{n}.{compressor}")
            paths[-1].write_bytes(whole[:n])
        verdicts = scan([str(p) for p in paths]).verdicts
        safe = [(p.name, v.summary) for p, v in zip(paths, verdicts, strict=True) if v.exit_code == 0]
        assert not safe, safe
    assert not (tmp_path / "MARKER").exists()
