"""hf:ORG/NAME and ollama:NAME read as headers only, against the emulated Hub and Ollama registry
(tests/builders/hub_server.py, fixture ``hub``): the same model as the local files give, the fetch
floors, range requests only, and one-line errors."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub", reason="the hub extra (huggingface_hub) is not installed")

import paramscope
from builders.hub_server import (
    CATALOGUE,
    OllamaModel,
    Repo,
    deepseek_v3_files,
    llama3_gguf,
    llama_31_8b_files,
)
from builders.safetensors_files import header_json, write_safetensors
from paramscope.cli.app import main
from paramscope.formats import gguf as gguf_reader
from paramscope.formats import hf_dir

MB = 1_000_000


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *args: str) -> str:
    code, _, err = cli(capsys, *args)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


def folder_files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def weight_requests(hub, suffix: str) -> list:
    """Requests for weight files (by name ending), through the resolve and CDN paths."""
    return [e for e in hub.log if e.path.endswith(suffix) and not e.path.startswith("/api/")]


def assert_ranges_only(hub, suffix: str) -> None:
    """No weight file was fetched whole: every GET of one carried a Range and got 206 (or a redirect)."""
    requests = weight_requests(hub, suffix)
    assert requests
    for e in requests:
        assert e.method == "GET" and e.range is not None, e
        assert e.status in (206, 302), e


def tensors_of(model) -> list[tuple]:
    return [(t.name, t.shape, t.dtype, t.nbytes, t.offset, t.params) for t in model.tensors]


# --- the same model as the local files -------------------------------------------------------------

def test_minilm_repo_equals_local_folder(hub, minilm_dir):
    hub.repos["sentence-transformers/all-MiniLM-L6-v2"] = Repo(folder_files(minilm_dir))
    remote = paramscope.inspect("hf:sentence-transformers/all-MiniLM-L6-v2")
    local = hf_dir.read(minilm_dir)
    assert tensors_of(remote.model) == tensors_of(local)
    assert remote.model.config == local.config and remote.model.has_weights
    assert remote.model.source == "hf:sentence-transformers/all-MiniLM-L6-v2"
    commit = hub.repos["sentence-transformers/all-MiniLM-L6-v2"].sha
    assert remote.model.files == (f"hf:sentence-transformers/all-MiniLM-L6-v2@{commit}/model.safetensors",)
    assert_ranges_only(hub, "model.safetensors")
    # bytes_fetched is every file byte the emulator sent (ranges and small files), the listing aside
    out = remote.to_json()
    sent = sum(e.sent for e in hub.log if not e.path.startswith("/api/"))
    assert out["bytes_fetched"] == sent == remote.model.metadata["remote"]["bytes_fetched"]
    assert out["bytes_fetched"] < 200_000  # of a 90 MB file


def test_gemma_gguf_repo_equals_local_file(hub, gemma_gguf):
    hub.repos["google/gemma-3-270m-GGUF"] = Repo({"gemma-3-270m-q4_k_m.gguf": gemma_gguf})
    remote = paramscope.inspect("hf:google/gemma-3-270m-GGUF").model
    local = gguf_reader.read(gemma_gguf)
    assert tensors_of(remote) == tensors_of(local)
    assert remote.config == local.config and remote.quantization == local.quantization
    assert_ranges_only(hub, ".gguf")
    data_start = min(t.offset for t in local.tensors)
    fetched = remote.metadata["remote"]["bytes_fetched"]
    assert data_start <= fetched <= data_start + 200_000  # the header, and at most one refill past it


def test_tokens_from_remote_tokenizer_json(hub, minilm_dir):
    pytest.importorskip("tokenizers")
    hub.repos["sentence-transformers/all-MiniLM-L6-v2"] = Repo(folder_files(minilm_dir))
    text = "Headers only, never the weights."
    remote = paramscope.tokens("hf:sentence-transformers/all-MiniLM-L6-v2", text=text).to_json()
    local = paramscope.tokens(str(minilm_dir), text=text).to_json()
    assert remote["tokens"] == local["tokens"] and remote["count"] == local["count"]
    assert any(e.path.endswith("/tokenizer.json") and e.range is None for e in hub.log)  # fetched whole


def test_ollama_model_equals_local_gguf(hub, gemma_gguf):
    hub.ollama["library/gemma3:270m"] = OllamaModel(gemma_gguf)
    model = paramscope.inspect("ollama:gemma3:270m").model
    assert tensors_of(model) == tensors_of(gguf_reader.read(gemma_gguf))
    assert model.source == "ollama:library/gemma3:270m"
    blobs = [e for e in hub.log if e.path.startswith(("/v2/library/gemma3/blobs/", "/ollama-cdn/"))]
    assert blobs and all(e.range is not None and e.status in (206, 307) for e in blobs)
    assert model.metadata["remote"]["digest"].startswith("sha256:")


# --- the floors --------------------------------------------------------------------------------------

@functools.cache
def _llama() -> dict:
    return llama_31_8b_files()


def test_llama_31_8b_size_gives_the_catalogue_numbers_in_a_subprocess(hub):
    """`paramscope size hf:meta-llama/Llama-3.1-8B --json` in a fresh process (HF_ENDPOINT read by
    huggingface_hub at import): the catalogue's numbers, at most 1 MB fetched, ranges only."""
    hub.repos["meta-llama/Llama-3.1-8B"] = Repo(dict(_llama()))
    r = subprocess.run([sys.executable, "-m", "paramscope", "size", "hf:meta-llama/Llama-3.1-8B", "--json",
                        "--context", "8192"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    remote = json.loads(r.stdout)
    catalogue = paramscope.size("meta-llama/Llama-3.1-8B", context=8192).to_json()
    for key in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes", "total_bytes"):
        assert remote[key] == catalogue[key], key
    assert remote["weights_bytes"] == 16060522496  # the index's total_size
    assert remote["bytes_fetched"] <= 1 * MB
    assert hub.sent() <= 1 * MB
    assert_ranges_only(hub, ".safetensors")
    assert {e.path.rsplit("/", 1)[1] for e in weight_requests(hub, ".safetensors")} == {
        f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)}


@pytest.mark.slow  # runs long (several CPU-s): make test runs it, make test-fast does not
def test_deepseek_v3_163_shards_under_40_mb(hub):
    files = deepseek_v3_files()
    hub.repos["deepseek-ai/DeepSeek-V3"] = Repo(files)
    result = paramscope.inspect("hf:deepseek-ai/DeepSeek-V3")
    index = json.loads(files["model.safetensors.index.json"])["weight_map"]
    assert result.inventory.tensor_count == len(index) == 91929
    shards = {e.path.rsplit("/", 1)[1] for e in weight_requests(hub, ".safetensors")}
    assert len(shards) == 163
    assert_ranges_only(hub, ".safetensors")
    assert result.to_json()["bytes_fetched"] <= 40 * MB and hub.sent() <= 40 * MB
    # FP8 weights count one parameter per byte; the block scales are not parameters
    headers = [json.loads(b.head[8:]) for f, b in files.items() if f.endswith(".safetensors")]
    expected = sum(math.prod(t["shape"]) for h in headers for n, t in h.items()
                   if not n.endswith("_scale_inv"))
    assert result.inventory.total_params == expected


@pytest.mark.slow  # runs long: builds and serves a 128k-token GGUF
def test_gguf_with_a_128k_vocabulary_under_8_mb(hub):
    body = llama3_gguf()
    hub.repos["bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"] = Repo({
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": body, "README.md": b"# GGUF"})
    assert body.size > 5 * 10**9 and len(body.head) > 7 * MB  # a 5 GB file, a 7 MB header
    result = paramscope.inspect("hf:bartowski/Meta-Llama-3.1-8B-Instruct-GGUF")
    assert result.model.config.vocab_size == 128256 and result.inventory.tensor_count == 292
    assert result.to_json()["bytes_fetched"] <= 8 * MB
    assert_ranges_only(hub, ".gguf")


# --- several GGUF files: ls, and naming one ---------------------------------------------------------

def test_ls_lists_the_gguf_files_and_a_file_is_picked_by_name(hub, gemma_gguf, capsys):
    hub.repos["someone/Gemma-GGUF"] = Repo({
        "gemma-Q4_K_M.gguf": gemma_gguf, "gemma-IQ2_XXS.gguf": gemma_gguf,
        "Q8_0/gemma-Q8_0-00001-of-00002.gguf": gemma_gguf, "Q8_0/gemma-Q8_0-00002-of-00002.gguf": gemma_gguf,
        "README.md": b"# GGUF"})
    code, out, _ = cli(capsys, "ls", "hf:someone/Gemma-GGUF", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == {"gemma-Q4_K_M.gguf", "gemma-IQ2_XXS.gguf", "Q8_0/gemma-Q8_0-00001-of-00002.gguf"}
    size = gemma_gguf.stat().st_size
    q4 = rows["gemma-Q4_K_M.gguf"]
    assert q4["stored_as"] == "Q4_K_M" and q4["size_bytes"] == size
    assert rows["Q8_0/gemma-Q8_0-00001-of-00002.gguf"]["size_bytes"] == 2 * size
    assert rows["gemma-IQ2_XXS.gguf"]["path"] == "hf:someone/Gemma-GGUF/gemma-IQ2_XXS.gguf"
    assert not weight_requests(hub, ".gguf")  # listed by name and size: nothing read
    error = one_line_error(capsys, "inspect", "hf:someone/Gemma-GGUF")
    assert "several GGUF models" in error and "paramscope ls hf:someone/Gemma-GGUF" in error
    code, out, _ = cli(capsys, "inspect", "hf:someone/Gemma-GGUF/gemma-Q4_K_M.gguf", "--json")
    local = paramscope.inspect(str(gemma_gguf)).inventory.total_params
    assert code == 0 and json.loads(out)["total_params"] == local


# --- errors: one line, exit 1 -----------------------------------------------------------------------

def tiny_repo(tmp_path: Path) -> dict:
    st = write_safetensors(tmp_path / "model.safetensors", {"w": ("F32", [4, 4])})
    return {"config.json": b'{"model_type": "unknown-kind"}', "model.safetensors": st.read_bytes()}


def test_no_such_repository_revision_or_file(hub, tmp_path, capsys):
    hub.repos["org/tiny"] = Repo(tiny_repo(tmp_path))
    assert "no such model repository" in one_line_error(capsys, "inspect", "hf:org/missing")
    assert "no such revision" in one_line_error(capsys, "inspect", "hf:org/tiny@v9")
    assert "no file 'nope.gguf'" in one_line_error(capsys, "inspect", "hf:org/tiny/nope.gguf")
    assert "not a remote source" in one_line_error(capsys, "inspect", "hf:not a repo")
    assert paramscope.inspect("hf:org/tiny@main").inventory.total_params == 16


def test_a_revision_is_read_at_its_commit(hub, tmp_path):
    files = tiny_repo(tmp_path)
    hub.repos["org/tiny"] = Repo(files, refs={"v1": "a" * 40})
    model = paramscope.inspect("hf:org/tiny@v1").model
    assert model.metadata["remote"]["commit"] == "a" * 40
    assert all(f"/resolve/{'a' * 40}/" in e.path or e.path.startswith(("/api/", "/lfs/")) for e in hub.log)


def test_gated_repository_says_how_to_get_access(hub, tmp_path, capsys, monkeypatch):
    hub.repos["meta-llama/Gated"] = Repo(tiny_repo(tmp_path), gated=True, token="hf_right")
    error = one_line_error(capsys, "inspect", "hf:meta-llama/Gated")
    assert "gated repository" in error and "HF_TOKEN" in error and f"{hub.url}/meta-llama/Gated" in error
    monkeypatch.setenv("HF_TOKEN", "hf_right")
    assert paramscope.inspect("hf:meta-llama/Gated").inventory.total_params == 16


def test_repository_without_weights(hub, capsys):
    config = CATALOGUE / "Llama-3.1-8B.json"
    hub.repos["org/pickles"] = Repo({"config.json": config.read_bytes(),
                                     "pytorch_model.bin": b"\x80\x02}q\x00."})
    error = one_line_error(capsys, "inspect", "hf:org/pickles")
    assert "no safetensors or GGUF weights" in error and "hf:org/pickles/config.json" in error
    code, out, _ = cli(capsys, "size", "hf:org/pickles/config.json", "--json")
    assert code == 0 and json.loads(out)["weights_bytes"] == 16060522496


def test_server_that_ignores_range_is_refused(hub, capsys):
    hub.repos["meta-llama/Llama-3.1-8B"] = Repo(dict(_llama()))
    hub.ignore_range = True
    error = one_line_error(capsys, "size", "hf:meta-llama/Llama-3.1-8B")
    assert "ignored the byte-range request" in error
    assert hub.sent() < 200 * MB  # the client hung up on a 5 GB answer (what sockets buffered aside)


def test_no_network(hub, tmp_path, capsys, monkeypatch):
    import socket

    import huggingface_hub.constants as constants

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", dead)
    error = one_line_error(capsys, "inspect", "hf:org/tiny")
    assert "cannot reach" in error and dead in error
    monkeypatch.setenv("OLLAMA_REGISTRY", dead)
    assert "cannot reach" in one_line_error(capsys, "inspect", "ollama:gemma3")


def test_unknown_ollama_model(hub, capsys):
    error = one_line_error(capsys, "inspect", "ollama:nope:1b")
    assert "no such model or tag in the Ollama registry" in error


def test_values_are_not_downloaded(hub, tmp_path, capsys):
    hub.repos["org/tiny"] = Repo(tiny_repo(tmp_path))
    error = one_line_error(capsys, "stats", "hf:org/tiny")
    assert "tensor values are not downloaded" in error


def test_without_the_hub_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as when not installed
    error = one_line_error(capsys, "inspect", "hf:org/tiny")
    assert "needs the hub extra" in error and "paramscope[hub]" in error


def test_offline_reads_the_cached_snapshot(hub, tmp_path, capsys, monkeypatch):
    import huggingface_hub
    import huggingface_hub.constants as constants

    hub.repos["org/tiny"] = Repo(tiny_repo(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "HF_HUB_OFFLINE is set" in one_line_error(capsys, "inspect", "hf:org/tiny")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    huggingface_hub.snapshot_download("org/tiny")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub.reset()
    assert paramscope.inspect("hf:org/tiny").inventory.total_params == 16
    assert not hub.log  # nothing asked of the server


# --- serve --------------------------------------------------------------------------------------------

@pytest.mark.slow  # runs long: the web app on the emulated Hub
def test_serve_accepts_remote_sources(hub, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from paramscope.web.app import create_app

    hub.repos["org/tiny"] = Repo(tiny_repo(tmp_path))
    client = TestClient(create_app([tmp_path], defaults=False), base_url="http://127.0.0.1:8765")
    r = client.get("/api/inspect", params={"source": "hf:org/tiny"})
    assert r.status_code == 200 and r.json()["total_params"] == 16 and r.json()["bytes_fetched"] > 0
    r = client.get("/api/inspect", params={"source": "hf:org/../etc"})
    assert r.status_code == 400


def test_header_json_builder_round_trips():
    """The emulator's sparse shards are real safetensors headers (the builder the floors rely on)."""
    spec = {"a": ("BF16", [2, 3]), "b": ("F8_E4M3", [4])}
    assert header_json(spec) == {"a": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
                                 "b": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [12, 16]}}


def test_bare_org_name_is_a_hub_repository(hub, tmp_path, monkeypatch):
    """ORG/NAME with no such local path and no such catalogue entry is hf:ORG/NAME; a local path wins."""
    hub.repos["org/tiny"] = Repo(tiny_repo(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert paramscope.inspect("org/tiny").model.source == "hf:org/tiny"
    (tmp_path / "org" / "tiny").mkdir(parents=True)
    write_safetensors(tmp_path / "org" / "tiny" / "model.safetensors", {"v": ("F32", [2])})
    assert paramscope.inspect("org/tiny").inventory.total_params == 2


def test_a_config_read_alone_takes_modelopts_quant_file_beside_it(hub, capsys):
    """hf:org/repo/config.json of a ModelOpt 0.29 export (hf_quant_config.json beside a config.json that
    declares nothing): priced as stored in NVFP4, as a local folder is (tests/test_modelopt_mixed.py)."""
    config = CATALOGUE / "Llama-3.1-8B.json"
    quant = {"producer": {"name": "modelopt", "version": "0.29.0"},
             "quantization": {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]}}
    hub.repos["org/nvfp4"] = Repo({"config.json": config.read_bytes(),
                                   "hf_quant_config.json": json.dumps(quant).encode()})
    code, out, _ = cli(capsys, "size", "hf:org/nvfp4/config.json", "--json")
    assert code == 0
    nvfp4 = json.loads(out)["weights_bytes"]
    assert nvfp4 < 16060522496 // 2
    assert nvfp4 == paramscope.size(str(config), weights="nvfp4_linear").to_json()["weights_bytes"]


def test_deepseek_v3_mtp_layer_from_the_hub(hub):
    """DeepSeek-V3's checkpoint stores its MTP layer as model.layers.61 (tests/test_mtp_speculative.py):
    vLLM leaves it out of the model's weights, and its MTP drafter loads it less the embedding and head
    copies it shares with the model."""
    hub.repos["deepseek-ai/DeepSeek-V3"] = Repo(deepseek_v3_files())
    model = paramscope.open_model("hf:deepseek-ai/DeepSeek-V3")
    mtp = [t for t in model.tensors if t.name.startswith("model.layers.61.")]
    copies = [t for t in mtp if t.name.endswith(("embed_tokens.weight", "shared_head.head.weight"))]
    assert len(copies) == 2
    kw = {"runtime": "vllm", "gpu": "h200x8", "context": 4096}
    plain = paramscope.size("hf:deepseek-ai/DeepSeek-V3", **kw).estimate
    spec = paramscope.size("hf:deepseek-ai/DeepSeek-V3", speculative_config="mtp:1", **kw).estimate
    assert spec.weights_bytes - plain.weights_bytes == sum(t.nbytes for t in mtp) - sum(
        t.nbytes for t in copies)
    assert any("multi-token-prediction" in line for line in plain.explain)
