"""``paramscope ls``: the Hugging Face cache, Ollama and LM Studio layouts built in a temporary home, and
folders given by hand; every model found once, counted from its headers, named as its tool names it."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builders.gguf_files import write_gguf
from builders.onnx_files import linear_model, save, weights
from builders.pickle_files import SPECS, state_dict_checkpoint
from builders.safetensors_files import write_safetensors
from paramscope.cli import ls_cmd
from paramscope.formats import discover as local_models

ENV = ("HF_HOME", "HF_HUB_CACHE", "XDG_CACHE_HOME", "OLLAMA_MODELS")
SMALL = {"model.embed_tokens.weight": ("F32", [10, 4]), "model.norm.weight": ("BF16", [4])}  # 44
SHARDS = [{"a.weight": ("F16", [8, 8])}, {"b.weight": ("F16", [8])}]  # 72
PYTORCH_PARAMS = sum(int(np.prod(s.shape)) for s in SPECS) - 16  # position_ids is a buffer


def gguf_file(path: Path, rows: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_gguf(path, [("token_embd.weight", np.zeros((rows, 8), np.float32), None),
                             ("output_norm.weight", np.ones(8, np.float32), None)])


def gguf_params(rows: int = 4) -> int:
    return rows * 8 + 8


def blob_link(repo: Path, revision: str, name: str, content: bytes) -> None:
    """huggingface_hub's layout: the file in blobs/ under its hash, a relative symlink in the snapshot."""
    digest = hashlib.sha256(content).hexdigest()
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / digest).write_bytes(content)
    link = repo / "snapshots" / revision / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(repo / "blobs" / digest, link.parent))


def hf_repo(hub: Path, repo_id: str, revision: str, files: dict[str, bytes],
            branch: str | None = None) -> None:
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    for name, content in files.items():
        blob_link(repo, revision, name, content)
    if branch:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / branch).write_text(revision)


def built(tmp: Path, build: Any) -> bytes:
    path = build(tmp)
    return Path(path).read_bytes()


def ollama_model(store: Path, host: str, namespace: str, model: str, tag: str, gguf: Path) -> None:
    data = gguf.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (store / "blobs").mkdir(parents=True, exist_ok=True)
    (store / "blobs" / f"sha256-{digest}").write_bytes(data)
    layers = [{"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}",
               "size": len(data)},
              {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64,
               "size": 10}]
    manifest = {"schemaVersion": 2, "config": {"digest": "sha256:" + "0" * 64, "size": 2}, "layers": layers}
    path = store / "manifests" / host / namespace / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with every layout; returns it with HOME pointing there and the tools' variables unset."""
    home = tmp_path / "home"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(local_models, "SYSTEM_OLLAMA", tmp_path / "no-system-ollama")
    hub = home / ".cache" / "huggingface" / "hub"
    config = json.dumps({"architectures": ["LlamaForCausalLM"]}).encode()
    small = built(scratch, lambda d: write_safetensors(d / "small.safetensors", SMALL))
    hf_repo(hub, "org/small", "a" * 40, {"model.safetensors": small, "config.json": config}, branch="main")
    hf_repo(hub, "org/small", "b" * 40, {"model.safetensors": small, "config.json": config})
    shard_dir = scratch / "shards"
    shard_dir.mkdir()
    from builders.safetensors_files import write_sharded

    write_sharded(shard_dir, SHARDS)
    hf_repo(hub, "org/sharded", "c" * 40, {p.name: p.read_bytes() for p in shard_dir.iterdir()})
    bin_bytes = built(scratch, lambda d: state_dict_checkpoint(d / "pytorch_model.bin", SPECS))
    hf_repo(hub, "old/bert", "d" * 40, {"pytorch_model.bin": bin_bytes, "config.json": b"{}"})
    hf_repo(hub, "org/quants", "e" * 40, {"tiny-Q4_K_M.gguf": gguf_file(scratch / "q.gguf").read_bytes(),
                                          "tiny-Q8_0.gguf": gguf_file(scratch / "q8.gguf", 6).read_bytes()})
    (hub / "datasets--org--data" / "snapshots" / "f").mkdir(parents=True)
    store = home / ".ollama" / "models"
    ollama_model(store, "registry.ollama.ai", "library", "tiny", "latest", gguf_file(scratch / "o1.gguf"))
    ollama_model(store, "registry.ollama.ai", "someone", "tiny2", "q4", gguf_file(scratch / "o2.gguf", 2))
    ollama_model(store, "hf.co", "org", "repo-GGUF", "Q8_0", gguf_file(scratch / "o3.gguf", 3))
    bad = store / "manifests" / "registry.ollama.ai" / "library" / "evil" / "latest"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model",
                                           "digest": "sha256:../../../../etc/passwd"}]}))
    lms = home / ".lmstudio" / "models" / "lmstudio-community" / "Tiny-GGUF"
    gguf_file(lms / "Tiny-Q4_K_M.gguf", 5)
    gguf_file(lms / "mmproj-Tiny-F16.gguf", 1)
    old_lms = home / ".cache" / "lm-studio" / "models" / "pub" / "Split-GGUF"
    gguf_file(old_lms / "split-00001-of-00002.gguf", 7)
    gguf_file(old_lms / "split-00002-of-00002.gguf", 7)
    return home


def ls(*argv: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser()
    ls_cmd.configure(parser)
    parser.add_argument("--json", action="store_true", dest="as_json")
    assert ls_cmd.run(parser.parse_args([*argv, "--json"])) == 0
    return json.loads(capsys.readouterr().out)


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows}


def test_every_model_in_a_fake_home(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = ls(capsys=capsys)
    rows = by_name(listed)
    expected = {
        "org/small": ("hf-cache", "safetensors", 44),  # a folder keeps its weights' format
        "org/sharded": ("hf-cache", "safetensors", 72),
        "old/bert": ("hf-cache", "pytorch", PYTORCH_PARAMS),
        "org/quants/tiny-Q4_K_M.gguf": ("hf-cache", "gguf", gguf_params()),
        "org/quants/tiny-Q8_0.gguf": ("hf-cache", "gguf", gguf_params(6)),
        "tiny:latest": ("ollama", "gguf", gguf_params()),
        "someone/tiny2:q4": ("ollama", "gguf", gguf_params(2)),
        "hf.co/org/repo-GGUF:Q8_0": ("ollama", "gguf", gguf_params(3)),
        "lmstudio-community/Tiny-GGUF/Tiny-Q4_K_M.gguf": ("lm-studio", "gguf", gguf_params(5)),
        # named like a split but without gguf-split's keys: the first part is read as one file, the
        # second is not listed as a model of its own
        "pub/Split-GGUF/split-00001-of-00002.gguf": ("lm-studio", "gguf", gguf_params(7)),
    }
    got = {name: (r["where"], r["format"], r["params"]) for name, r in rows.items()}
    assert len(listed) == len(expected) + 1  # org/small has two revisions
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert set(got) == set(expected)
    assert all(r["error"] is None for r in rows.values())
    assert len(expected) >= 10


def test_hf_revisions_are_separate_rows(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [r for r in ls(capsys=capsys) if r["name"] == "org/small"]
    assert sorted(r["revision"] for r in rows) == ["bbbbbbbbbbbb", "main"]
    small = next(r for r in rows if r["revision"] == "main")
    assert small["size_bytes"] == (Path(small["path"]) / "model.safetensors").stat().st_size + len(
        json.dumps({"architectures": ["LlamaForCausalLM"]}))
    assert small["stored_as"] == "F32"


def test_hf_home_and_ollama_models_variables(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    moved = tmp_path / "elsewhere"
    (home / ".cache" / "huggingface").rename(moved)
    (home / ".ollama" / "models").rename(tmp_path / "ollama-store")
    monkeypatch.setenv("HF_HOME", str(moved))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama-store"))
    names = {r["name"] for r in ls(capsys=capsys)}
    assert {"org/small", "tiny:latest", "hf.co/org/repo-GGUF:Q8_0"} <= names


def test_folders_given_by_hand(tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "run1").mkdir()
    state_dict_checkpoint(folder / "run1" / "model.pt", SPECS)
    save(linear_model(weights()), folder / "export" / "model.onnx")
    write_safetensors(folder / "loose.safetensors", SMALL)
    (folder / "notes.bin").write_bytes(b"not a checkpoint")
    os.mkfifo(folder / "pipe.pt")
    rows = by_name(ls(str(folder), "--only", capsys=capsys))
    assert {k: (r["format"], r["params"]) for k, r in rows.items()} == {
        "run1/model.pt": ("pytorch", PYTORCH_PARAMS), "export/model.onnx": ("onnx", 15),
        "checkpoints/loose.safetensors": ("safetensors", 44)}


def test_a_store_given_by_hand_is_read_as_one(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ls(str(home / ".ollama" / "models"), "--only", capsys=capsys)
    assert {r["name"] for r in rows} == {"tiny:latest", "someone/tiny2:q4", "hf.co/org/repo-GGUF:Q8_0"}


def test_broken_model_is_a_row_not_a_failure(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = home / ".lmstudio" / "models" / "lmstudio-community" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf"
    target.write_bytes(b"GGUF" + bytes(10))
    row = by_name(ls(capsys=capsys))["lmstudio-community/Tiny-GGUF/Tiny-Q4_K_M.gguf"]
    assert row["params"] is None and row["error"].startswith(str(target))


def test_human_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    ls_cmd.configure(parser)
    parser.add_argument("--json", action="store_true", dest="as_json")
    assert ls_cmd.run(parser.parse_args([])) == 0
    out = capsys.readouterr().out
    assert "tiny:latest" in out and "11 models" in out


def test_survey_runs_in_parallel_and_keeps_order() -> None:
    found = [local_models.Found(str(i), "folder", "gguf", (Path(str(i)),), 0) for i in range(20)]
    assert local_models.survey(found, lambda f: f.name, workers=4) == [str(i) for i in range(20)]
