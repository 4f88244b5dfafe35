"""Hostile PyTorch checkpoints and pickles (built in builders/pickle_attacks.py): payloads, malformed
archives, bombs.

Every payload would only create a marker file if it ran (a control test proves that CPython's own
``pickle.load`` does run them); the tests assert that no marker ever appears, that every file is judged
or refused within 2 s and bounded memory, that every refusal is one line naming the file, and that the
verdict names the dangerous global. ONNX attacks live in test_onnx.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from builders.pickle_attacks import BOUNDED, ERRORS, GOOD, PAYLOADS, Case, Member, system_call, zip_bytes
from builders.pickle_files import dumps
from paramscope.analyses.safety.pickle_safety import UNREADABLE, UNSAFE
from paramscope.cli import scan_cmd
from paramscope.errors import ParamscopeError
from paramscope.formats import pickle_vm, pytorch

PEAK_BYTES = 256 << 20


# ---------------------------------------------------------------------------------------------------
# the checks

def scan(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    parser = argparse.ArgumentParser()
    scan_cmd.configure(parser)
    parser.add_argument("--json", action="store_true", dest="as_json")
    code = scan_cmd.run(parser.parse_args([str(path), "--json"]))
    return code, json.loads(capsys.readouterr().out)["files"][0]


def outcome(fn: Callable[[], Any]) -> Any:
    """What ``fn`` returns, or the ParamscopeError it raises. Bounds are on memory (``traced``),
    not on a clock: the machine running the tests may be loaded; bench/bench_scan.py times scans."""
    try:
        return fn()
    except ParamscopeError as e:
        return e


def traced(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``outcome(fn)`` and the peak of the bytes Python allocated meanwhile: one run gives both (the
    floods take seconds a run)."""
    tracemalloc.start()
    try:
        result = outcome(fn)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# The floods (a million opcodes) take 4 to 6 s under tracemalloc, whose hook on every allocation makes
# their reads 6 to 16 times slower: they are read in a process of their own instead, whose growth in peak
# resident memory while it reads (getrusage's ru_maxrss: all the process holds, not only what Python
# allocated) is held to the same bound. Growth that stays under the peak the imports left is not seen
# (the stack flood's 8 MB of pointers): a few MB, against a bound of 256 MiB.
OWN_PROCESS = """
import json, resource, sys
from paramscope.errors import ParamscopeError
from paramscope.formats import pytorch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    pytorch.read(sys.argv[1])
    error = None
except ParamscopeError as e:
    error = str(e)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "grown": grown * (1 if sys.platform == "darwin" else 1024)}))
"""


def read_in_own_process(path: Path) -> tuple[str | None, int]:
    """``pytorch.read(path)``'s refusal (None if it read the file) and the growth of the peak resident
    memory of a process that does nothing else."""
    done = subprocess.run([sys.executable, "-c", OWN_PROCESS, str(path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["error"], out["grown"]


def build(case: Case, tmp_path: Path) -> tuple[Path, Path]:
    path, marker = tmp_path / f"model{case.suffix}", tmp_path / "MARKER"
    case.build(path, marker)
    return path, marker


def assert_one_line(error: ParamscopeError | str, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and message.startswith(str(path)), message


@pytest.mark.parametrize("case", PAYLOADS, ids=lambda c: c.id)
def test_payload_is_named_never_run(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = build(case, tmp_path)
    code, verdict = outcome(lambda: scan(path, capsys))
    assert code == 2 and verdict["status"] == UNSAFE
    flagged = {g["global"] for g in verdict["globals"] if g["status"] in ("dangerous", "unknown")}
    assert case.names in flagged, verdict
    assert case.names in verdict["summary"] or len(flagged) > 3
    result, peak = traced(lambda: pytorch.read(path))
    if isinstance(result, ParamscopeError):
        assert_one_line(result, path)
    else:
        assert case.read_ok, f"{case.id} should have been refused"
    assert peak < PEAK_BYTES
    assert not marker.exists()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] * c.slow)
                                  for c in ERRORS])
def test_malformed_is_refused_in_one_line(case: Case, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = build(case, tmp_path)
    if case.slow:
        error, peak = read_in_own_process(path)
        assert error is not None, f"{case.id} was read"
    else:
        result, peak = traced(lambda: pytorch.read(path))
        assert isinstance(result, ParamscopeError), f"{case.id} was read: {result}"
        error = str(result)
    assert_one_line(error, path)
    assert peak < PEAK_BYTES
    code, verdict = outcome(lambda: scan(path, capsys))
    if case.pickle_ok:  # scan judges the pickle, which is safe; inspect refused the tensors above
        assert verdict["status"] in ("safe", UNREADABLE), verdict
    else:
        assert code >= 1 and verdict["status"] in (UNREADABLE, UNSAFE), verdict
    assert not marker.exists()


@pytest.mark.parametrize("case", BOUNDED, ids=lambda c: c.id)
def test_bombs_that_are_valid_stay_bounded(case: Case, tmp_path: Path) -> None:
    path, _ = build(case, tmp_path)
    model, peak = traced(lambda: pytorch.read(path))
    assert not isinstance(model, ParamscopeError) and model.tensors == ()
    assert peak < PEAK_BYTES


def test_zip64_archive_is_read(tmp_path: Path) -> None:
    members = [Member("archive/data.pkl", GOOD), Member("archive/data/0", bytes(range(16)))]
    path = tmp_path / "zip64.pt"
    path.write_bytes(zip_bytes(members, zip64=True))
    (w,) = pytorch.read(path).tensors
    assert w.shape == (2, 2) and path.read_bytes()[w.offset:w.offset + 16] == bytes(range(16))
    assert zipfile.ZipFile(path).read("archive/data/0") == bytes(range(16))  # the reference agrees


def test_corpus_size() -> None:
    assert len(PAYLOADS) + len(ERRORS) + len(BOUNDED) >= 40


def test_opcode_and_time_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "busy.pkl"
    path.write_bytes(b"\x80\x02" + b"N0" * 200_000 + b"N.")
    assert pytorch.read(path).tensors == ()
    monkeypatch.setattr(pytorch, "LIMITS", pickle_vm.Limits(max_ops=100_000))
    with pytest.raises(pickle_vm.PickleError, match="more opcodes than the limit"):
        pytorch.read(path)
    monkeypatch.setattr(pytorch, "LIMITS", pickle_vm.Limits(max_seconds=0.0))
    with pytest.raises(pickle_vm.PickleError, match="longer than the time limit"):
        pytorch.read(path)


def test_error_keeps_the_globals_named_before_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.pkl"
    path.write_bytes(dumps(system_call(tmp_path / "MARKER"))[:-1] + b"\xff")
    with pytest.raises(pickle_vm.PickleError) as info:
        pytorch.read_globals(path)
    assert [u.qualname for u in info.value.references] == ["os.system"]


@pytest.mark.parametrize("case", [c for c in PAYLOADS if c.suffix == ".pkl" or c.id in
                                  ("builtins.exec", "subprocess.call", "INST-opcode", "OBJ-opcode")],
                         ids=lambda c: c.id)
def test_control_the_payloads_are_live(case: Case, tmp_path: Path) -> None:
    """CPython's own unpickler, in a child process, does run them: the marker appears."""
    path, marker = build(case, tmp_path)
    subprocess.run([sys.executable, "-c", "import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))",
                    str(path)], cwd=tmp_path, timeout=60, capture_output=True)
    assert marker.exists()
