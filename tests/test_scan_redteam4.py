"""Red team round 4, blind (tests/builders/scan_round4.py names each source): files and model folders
that a real loader runs, aimed at what round 1-3 left: the folder search (files a loader reads under
names and heads ``scan FOLDER`` does not pick: a legacy torch tar ``checkpoint.tar``, a distributed
checkpoint's ``.metadata``, a shard an index names), joblib's raw array data read out of step with
joblib, a symlinked Hugging Face cache, protocol 5 buffers.

For each technique a control loads the target in a child process (its folder the working directory)
and the payload's marker file appears: the attack is live. ``scan`` must exit 2 and never create the
marker; where it can, it names the payload's global. Each technique keeps what the scan answered blind
(``blind``) where it passed.

Blind (main at 5f4c420): 12 techniques, every control live. **6 exit 0**: three folder searches that
find nothing ("no pickle files found": a legacy torch tar ``checkpoint.tar``, a distributed
checkpoint's protocol 0 ``.metadata``, a protocol 0 shard that ``pytorch_model.bin.index.json``
names), a torch.package archive ("safe": its pickle names ``collections.OrderedDict``, which
``PackageImporter`` imports from the archive), and two pickles whose module a ``.py`` file beside
them shadows through ``sys.path[0]`` ("harmless" ``decimal.Decimal``, "safe" ``torch.Size``).
6 exit 2, of which two joblib files (an ``f8`` dtype pickled with elsize 16; an alignment of None)
only for ``NumpyArrayWrapper``: the scan reads their array data out of step with joblib and never
sees the ``posix.system`` joblib runs, and a tar given by name is only "cannot be verified".

After: all 12 exit 2 and none runs its payload under the scan. The folder search reads every regular file
whose first 512 bytes a loader could take code from (a pickle of any protocol, a tar, a compressed
stream: formats/pickle_scan.py ``may_hold_pickle``) and every file an ``*.index.json`` names; an archive
holding Python modules (torch.package) is code; a ``X.py`` / ``X/__init__.py`` / extension module beside
a pickle naming a global of module X is named as what loading there runs (app/scan.py
``shadowed_modules``); joblib's array data is read as joblib reads it (the pickled elsize only for
flexible dtypes, the padding byte only with an alignment), which names ``posix.system`` in both files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builders.scan_round4 import T4, Technique
from paramscope.app.scan import scan

PAYLOAD_GLOBALS = {"posix.system", "os.system"}


def _marks(t: Technique) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if t.slow else []


EXIT_CASES = [pytest.param(t, id=t.id, marks=_marks(t)) for t in T4]
NAME_CASES = [pytest.param(t, id=t.id, marks=_marks(t)) for t in T4 if t.names_payload]
CONTROL_CASES = [pytest.param(t, id=t.id, marks=[pytest.mark.slow] if t.slow else []) for t in T4]


def build(t: Technique, tmp_path: Path) -> tuple[Path, Path]:
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


@pytest.mark.parametrize("t", CONTROL_CASES)
def test_control_the_loader_runs_it(t: Technique, tmp_path: Path) -> None:
    if "torch" in t.loader:
        pytest.importorskip("torch")
    if "joblib" in t.loader:
        pytest.importorskip("joblib")
    target, marker = build(t, tmp_path)
    cwd = target if target.is_dir() else target.parent
    subprocess.run([sys.executable, "-c", t.loader, str(target)], cwd=cwd, timeout=300, capture_output=True,
                   stdin=subprocess.DEVNULL)
    assert marker.exists(), t.id


def test_the_corpus_is_complete() -> None:
    assert len({t.id for t in T4}) == len(T4) >= 8
    assert all(t.source for t in T4)


@pytest.mark.parametrize("t", [pytest.param(t, id=t.id) for t in T4 if t.folder])
def test_folder_targets_given_by_name(t: Technique, tmp_path: Path) -> None:
    """The file each folder technique's loader reads, given by name, is 'could run code' already: what
    the folder search misses is finding it."""
    from builders.scan_round4 import target_file

    root = tmp_path / "case"
    root.mkdir()
    t.build(root, root / "MARKER")
    file = target_file(t, root)
    if file == root:
        pytest.skip("the folder search finds this one")
    assert scan([str(file)]).exit_code == 2


def test_a_model_folder_of_text_files_stays_safe(tmp_path: Path) -> None:
    """The wider folder search reads every file a loader could take code from by its first bytes, and no
    other: text whose first line would be a GLOBAL of prose (a YAML file starting with 'c'), an INST of
    'mport torch' (a Python file), JSON, a BPE merges file, a README are not pickles and stay out."""
    files = {"config.json": b'{"a": 1}', "merges.txt": b"#version: 0.2\n\xc4\xa0 t\n",
             "vocab.txt": b"[PAD]\n[UNK]\nthe\n", "README.md": b"---\nlicense: mit\n---\n# Model\n",
             "accelerate.yaml": b"compute_environment: LOCAL_MACHINE\ndistributed_type: NO\n",
             "notes.txt": b"(see below)\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = scan([str(tmp_path)])
    assert result.exit_code == 0 and not result.verdicts, [v.summary for v in result.verdicts]
    # Python code beside them is read by no pickle search, but a Python started in the folder can import
    # it for any module (round 5): the folder's own verdict, naming it
    (tmp_path / "modeling_x.py").write_bytes(b"import torch\nclass X:\n    pass\n")
    (verdict,) = scan([str(tmp_path)]).verdicts
    assert verdict.exit_code == 2 and "modeling_x.py" in verdict.summary


def test_a_remote_code_folder_is_could_run_code(tmp_path: Path) -> None:
    """A config.json whose auto_map names the repository's own modules: loading the model needs
    trust_remote_code=True, which imports them; the scan judges no Python, so it says so (exit 2)."""
    (tmp_path / "config.json").write_text(
        '{"model_type": "x", "auto_map": {"AutoConfig": "configuration_x.XConfig", '
        '"AutoModelForCausalLM": ["modeling_x.XForCausalLM", null]}}')
    (tmp_path / "modeling_x.py").write_text("import os\n")
    verdict, folder = scan([str(tmp_path)]).verdicts  # the config's, and the folder's (its code, round 5)
    # the module beside it is named; configuration_x was not uploaded, so nothing of it can load
    assert verdict.exit_code == 2 and "(modeling_x)" in verdict.summary
    assert folder.exit_code == 2 and "modeling_x.py" in folder.summary
    (tmp_path / "modeling_x.py").unlink()  # an auto_map whose code is not there (a quantized re-upload)
    assert not scan([str(tmp_path)]).verdicts
    # code of another repository ("org/repo--module.Class"), and an auto_map given as a list
    (tmp_path / "tokenizer_config.json").write_text('{"auto_map": ["org/repo--tokenization_x.XTok", null]}')
    (verdict,) = scan([str(tmp_path)]).verdicts
    assert verdict.exit_code == 2 and "tokenization_x" in verdict.summary
    (tmp_path / "tokenizer_config.json").write_bytes(b'{"pad": "' + b"x" * (1 << 20) + b'"}')
    (verdict,) = scan([str(tmp_path)]).verdicts  # too large to read: not known, so could run code
    assert verdict.exit_code == 2 and "larger than" in verdict.summary



def test_a_hub_cache_snapshot_fetches_the_code_it_names(tmp_path: Path) -> None:
    """In a Hugging Face cache snapshot (models--ORG--NAME/snapshots/REVISION, files symlinked into
    blobs/), a download that left the repository's code out (allow_patterns) still loads it: a load by
    repository id with trust_remote_code=True fetches the modules auto_map names. So the config could run
    code there, while the same config in a plain folder names nothing that can load (the test above).
    diffusers' model_index.json names its own modules as bare names too ("diffusers", "stable_diffusion"),
    so only its files count; sentence-transformers' custom module types are fetched like auto_map's."""
    repo = tmp_path / "hub" / "models--org--m"
    snapshot = repo / "snapshots" / "0123abc"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "c0").write_text('{"model_type": "x", "auto_map": {"AutoModel": "modeling_x.XModel"}}')
    (snapshot / "config.json").symlink_to(Path("..", "..", "blobs", "c0"))
    (repo / "blobs" / "i0").write_text('{"_class_name": "StableDiffusionPipeline", '
                                       '"unet": ["diffusers", "UNet2DConditionModel"], '
                                       '"safety_checker": ["stable_diffusion", '
                                       '"StableDiffusionSafetyChecker"]}')
    (snapshot / "model_index.json").symlink_to(Path("..", "..", "blobs", "i0"))
    # sentence-transformers' custom module type, fetched alike (a review finding)
    (repo / "blobs" / "m0").write_text('[{"idx": 0, "name": "0", "path": "", "type": "custom_st.Pool"}]')
    (snapshot / "modules.json").symlink_to(Path("..", "..", "blobs", "m0"))
    (tmp_path / "link").symlink_to(snapshot)  # the snapshot through a symlink (a review finding)
    for given in (snapshot, tmp_path / "hub", tmp_path / "link"):  # the snapshot, or the whole cache
        config, modules = sorted(scan([str(given)]).verdicts, key=lambda v: v.source)
        assert config.exit_code == 2 and config.source.endswith("config.json")
        assert "modeling_x [not downloaded yet" in config.summary, config.summary
        assert modules.exit_code == 2 and "custom_st [not downloaded yet" in modules.summary
    plain = tmp_path / "plain"  # the same files copied out of the cache: nothing to fetch from
    plain.mkdir()
    for name in ("config.json", "model_index.json", "modules.json"):
        (plain / name).write_bytes((snapshot / name).read_bytes())
    assert not scan([str(plain)]).verdicts
def test_review_findings_of_round_4(tmp_path: Path) -> None:
    """What a review of the round-4 fixes found: a SentencePiece model's first bytes pass the loose .lzma
    header test (no verdict for it now); a pickle whose first global's name is not an identifier still
    imports its module first, and a module name that is no identifier imports a file so named beside it
    (both could run code); the loaders' own modules beside a checkpoint are named (pickle.py); a module name
    the pickle gives is only looked up, never globbed."""
    spm = tmp_path / "spm"
    spm.mkdir()
    (spm / "tokenizer.model").write_bytes(b"\n\x0e\n\x05<unk>\x15\x00\x00\x00\x00\x18\x02" + b"\x00" * 64)
    assert not scan([str(spm)]).verdicts
    for name, head in (("f1", b"chelpers\nnot an identifier\n."), ("f2", b"cx-y\nz\n.")):
        folder = tmp_path / name
        folder.mkdir()
        module = "helpers" if name == "f1" else "x-y"
        (folder / f"{module}.py").write_text("import os\n")
        (folder / "state.raw").write_bytes(head)
        verdicts = scan([str(folder)]).verdicts  # the pickle's, and the folder's for its code
        assert [v.exit_code for v in verdicts] == [2, 2], [v.summary for v in verdicts]
    loader = tmp_path / "loader"
    loader.mkdir()
    (loader / "pickle.py").write_text("import os\n")
    (loader / "model.pkl").write_bytes(b"\x80\x04]\x94.")  # an empty list: no global at all
    (verdict,) = scan([str(loader / "model.pkl")]).verdicts
    assert verdict.exit_code == 2 and "pickle" in verdict.summary
    weird = tmp_path / "weird"
    weird.mkdir()
    (weird / "model.pkl").write_bytes(b"c/etc/passwd\nx\n.")
    (verdict,) = scan([str(weird / "model.pkl")]).verdicts
    assert verdict.exit_code == 2  # an unknown global, named; no internal error
