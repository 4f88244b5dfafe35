"""Red team round 2: techniques from public attack corpora (tests/builders/scan_corpus.py names each
source: picklescan's test generators and GHSA advisories 2025-2026, JFrog's CVE-2025-10155/10156/10157,
CVE-2025-1716, ReversingLabs' nullifAI, joblib's and numpy's own file detection, CVE-2024-34359).

For each technique a control loads the file in a child process the way the technique aims at, and the
payload's marker file appears: the attack is live. ``scan`` must exit 2 and never create the marker.
The GGUF chat template is the one exception, by design (docs/security.md): it runs when a chat is
formatted, not on loading, so the verdict is "safe to load" and names the template as not judged.
"""

from __future__ import annotations

import bz2
import json
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest

from builders.scan_corpus import GGUF_SSTI, T, Technique, _lzma_alone, gguf_with_template
from paramscope.analyses.safety.pickle_safety import SAFE, SAFE_TO_LOAD
from paramscope.app.scan import scan, verdict_json

CASES = [pytest.param(t, id=t.id, marks=[pytest.mark.slow] if t.slow else []) for t in T]


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
    path, marker = tmp_path / f"model{t.suffix}", tmp_path / "MARKER"
    t.build(path, marker)
    return path, marker


def control(t: Technique, path: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", t.loader, str(path)], cwd=tmp_path, timeout=300,
                   capture_output=True, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("t", CASES)
def test_scan_says_it_could_run_code(t: Technique, tmp_path: Path) -> None:
    path, marker = build(t, tmp_path)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2, (t.id, verdict.summary)
    assert not marker.exists()


@pytest.mark.parametrize("t", CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if "torch" in t.loader or t.id.startswith("torch"):
        pytest.importorskip("torch")
    path, marker = build(t, tmp_path)
    control(t, path, tmp_path)
    assert marker.exists(), t.id


@pytest.mark.parametrize("tid", ["joblib-lzma-small-dictionary", "lzma-alone-other-properties"])
def test_lzma_files_are_inflated_and_their_globals_named(tid: str, tmp_path: Path) -> None:
    """Before: the first was "could run code" only because its compressed bytes broke as a pickle, the
    second "not a pickle" (exit 1) while lzma.open + pickle.load ran it; now both name posix.system."""
    (t,) = [t for t in T if t.id == tid]
    path, _ = build(t, tmp_path)
    (verdict,) = scan([str(path)]).verdicts
    assert "posix.system" in {g.qualname for g in verdict.flagged}, verdict.summary


@pytest.mark.parametrize("kind", ["lzma-default", "lzma-small-dict", "lzma-props-0", "bz2", "joblib-lzma"])
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_benign_compressed_pickles_stay_safe(kind: str, protocol: int, tmp_path: Path) -> None:
    data = pickle.dumps(OrderedDict(w=[1.0, 2.0], name="x" * 300), protocol=protocol)
    path = tmp_path / "weights.pkl.z"
    if kind == "bz2":
        path.write_bytes(bz2.compress(data))
    elif kind == "joblib-lzma":
        joblib = pytest.importorskip("joblib")
        joblib.dump(OrderedDict(w=[1.0, 2.0]), path, compress=("lzma", 3), protocol=protocol)
    else:
        filt = {"lzma-default": {}, "lzma-small-dict": {"dict_size": 4096},
                "lzma-props-0": {"lc": 0, "lp": 0, "pb": 0}}[kind]
        path.write_bytes(_lzma_alone(data, **filt))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE and not verdict.unverified, verdict.summary


def test_a_pickle_beside_an_lzma_header_is_read_as_a_pickle_too(tmp_path: Path) -> None:
    """A file both views could take: the scan inflates it and reads it as pickle.load reads it."""
    path = tmp_path / "model.pkl"
    body = _lzma_alone(pickle.dumps([1], protocol=2))
    # "]" EMPTY_LIST is both lzma's usual properties byte and a pickle opcode; "\x00" breaks the
    # pickle at once, so this benign file must stay safe, and no doubt comes from the plain view
    path.write_bytes(body)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE, verdict.summary


# --- GGUF chat templates ----------------------------------------------------------------------------

def test_gguf_chat_template_is_named_not_judged(tmp_path: Path) -> None:
    path, marker = tmp_path / "model.gguf", tmp_path / "MARKER"
    GGUF_SSTI.build(path, marker)
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 0 and verdict.status == SAFE_TO_LOAD, verdict.summary
    assert verdict.not_judged and "tokenizer.chat_template" in verdict.not_judged[0]
    assert "carries no code" not in verdict.summary
    assert verdict_json(verdict)["not_judged"] == list(verdict.not_judged)
    assert not marker.exists()


def test_gguf_chat_template_control_unsandboxed_render_runs_it(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    path, marker = tmp_path / "model.gguf", tmp_path / "MARKER"
    GGUF_SSTI.build(path, marker)
    control(GGUF_SSTI, path, tmp_path)
    assert marker.exists()


def test_gguf_chat_template_sandboxed_render_refuses_it(tmp_path: Path) -> None:
    """transformers' apply_chat_template renders in jinja2's ImmutableSandboxedEnvironment: it raises."""
    pytest.importorskip("jinja2")
    path, marker = tmp_path / "model.gguf", tmp_path / "MARKER"
    GGUF_SSTI.build(path, marker)
    sandboxed = GGUF_SSTI.loader.replace(
        "jinja2.Environment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)",
        "__import__('jinja2.sandbox').sandbox.ImmutableSandboxedEnvironment()")
    assert sandboxed != GGUF_SSTI.loader
    r = subprocess.run([sys.executable, "-c", sandboxed, str(path)], cwd=tmp_path, timeout=120,
                       capture_output=True)
    assert r.returncode != 0 and b"SecurityError" in r.stderr and not marker.exists()


def test_gguf_without_template_stays_safe(tmp_path: Path) -> None:
    import numpy as np
    from gguf import GGUFWriter

    path = tmp_path / "plain.gguf"
    w = GGUFWriter(path, "llama")
    w.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE and not verdict.not_judged, verdict.summary


def test_benign_gguf_template_is_named_too(tmp_path: Path) -> None:
    """The scan reads no Jinja: a plain template is named exactly as a hostile one is."""
    path = tmp_path / "chat.gguf"
    gguf_with_template(path, "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.status == SAFE_TO_LOAD and verdict.exit_code == 0


# --- formats the scan does not judge are never "safe" -----------------------------------------------

def test_keras_files_are_never_safe(tmp_path: Path) -> None:
    """A .keras archive (config.json with a Lambda layer whose function is marshalled bytecode, the
    weights in HDF5) and a legacy .h5 file: Keras runs the Lambda's code on load_model without
    safe_mode. The scan reads no Keras config, so neither is "safe" (exit 1: not pickle-based)."""
    lam = {"class_name": "Lambda", "config": {"name": "l", "function": {
        "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}}
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [lam]}}
    hdf5 = b"\x89HDF\r\n\x1a\n" + b"\x00" * 504
    keras = tmp_path / "model.keras"
    with zipfile.ZipFile(keras, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        z.writestr("model.weights.h5", hdf5)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(hdf5)
    pb = tmp_path / "saved_model.pb"  # TensorFlow SavedModel: a protobuf whose graph may read/write files
    pb.write_bytes(b"\x08\x01\x12\x04\x0a\x02tf")
    for verdict in scan([str(keras), str(h5), str(pb)]).verdicts:
        assert verdict.exit_code != 0 and verdict.status not in (SAFE, SAFE_TO_LOAD), verdict.summary


def test_the_corpus_is_complete() -> None:
    assert len({t.id for t in T}) == len(T) >= 30
    assert all(t.source for t in T)



# --- folders: what `scan FOLDER` checks -------------------------------------------------------------

FOLDER_FILES = {  # name: (loader, payload); joblib.dump names compressed files so (x.pkl.z)
    "clf.pkl.z": ("import joblib, sys; joblib.load(sys.argv[1])", "zlib"),
    "model.p": ("import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", "plain"),
    "state": ("import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", "protocol-4"),
    "frame.pkl.tar.gz": ("import pickle, sys; pickle.load(open(sys.argv[1], 'rb'))", "plain"),
    "checkpoint": ("import pickle, sys, zipfile; "  # torch.save's format under a bare name
                   "pickle.loads(zipfile.ZipFile(sys.argv[1]).read('a/data.pkl'))", "zip"),
}


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    import zlib

    from builders.pickle_opcodes import system_p0, zip_of
    from builders.scan_corpus import exec_pickle

    folder, marker = tmp_path / "models", tmp_path / "MARKER"
    folder.mkdir()
    for name, (_, kind) in FOLDER_FILES.items():
        payload = {"zlib": zlib.compress(system_p0(marker)), "plain": system_p0(marker),
                   "protocol-4": exec_pickle(marker),
                   "zip": zip_of({"a/data.pkl": exec_pickle(marker)}) if kind == "zip" else b""}[kind]
        (folder / name).write_bytes(payload)
    (folder / "config.json").write_text("{}")
    (folder / "README.md").write_text("# a model\n")
    return folder, marker


def test_folder_scan_finds_compressed_and_unsuffixed_pickles(tmp_path: Path) -> None:
    """Before: `scan FOLDER` matched names only, without joblib's compressed endings, ``.p``, or
    pickles named otherwise: "no pickle files found", exit 0."""
    folder, marker = _folder(tmp_path)
    result = scan([str(folder)])
    assert {Path(v.source).name for v in result.verdicts} == set(FOLDER_FILES)
    assert result.exit_code == 2 and all(v.exit_code == 2 for v in result.verdicts)
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(FOLDER_FILES))
def test_folder_scan_control_each_file_runs_code(name: str, tmp_path: Path) -> None:
    folder, marker = _folder(tmp_path)
    subprocess.run([sys.executable, "-c", FOLDER_FILES[name][0], str(folder / name)], cwd=tmp_path,
                   timeout=120, capture_output=True)
    assert marker.exists(), name


def test_folder_deeper_than_the_walk_is_not_safe(tmp_path: Path) -> None:
    """Before: a pickle nine folders down was never found, and `scan FOLDER` said exit 0."""
    from builders.scan_corpus import exec_pickle
    from paramscope.formats.discover import MAX_WALK_DEPTH

    deep = tmp_path.joinpath(*(str(i) for i in range(MAX_WALK_DEPTH + 2)))
    deep.mkdir(parents=True)
    (deep / "model.pkl").write_bytes(exec_pickle(tmp_path / "MARKER"))
    result = scan([str(tmp_path / "0")])
    assert result.exit_code == 2, [v.summary for v in result.verdicts]
    assert any("not searched" in u for v in result.verdicts for u in v.unverified)


def test_symlinked_folder_is_not_safe(tmp_path: Path) -> None:
    """The search never follows a symlinked folder; a loader given a path through it does."""
    from builders.scan_corpus import exec_pickle

    real, root = tmp_path / "elsewhere", tmp_path / "models"
    real.mkdir()
    root.mkdir()
    (real / "model.pkl").write_bytes(exec_pickle(tmp_path / "MARKER"))
    (root / "linked").symlink_to(real, target_is_directory=True)
    result = scan([str(root)])
    assert result.exit_code == 2 and "symlinked" in result.verdicts[0].unverified[0]


@pytest.mark.parametrize("magic", [b"\x28\xb5\x2f\xfd", b"\x50\x2a\x4d\x18", b"\x5f\x2a\x4d\x18"])
def test_zstd_is_named_unverified(magic: bytes, tmp_path: Path) -> None:
    """pandas.read_pickle infers zstd from .zst; the scan does not inflate zstd, and says so (before:
    a pickle that "cannot be read to its end", or none at all). No live control: neither pandas nor
    zstandard is installed here."""
    path = tmp_path / "frame.pkl.zst"
    path.write_bytes(magic + bytes(range(40)))
    (verdict,) = scan([str(path)]).verdicts
    assert verdict.exit_code == 2 and any("zstd" in u for u in verdict.unverified), verdict.summary
