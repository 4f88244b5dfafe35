"""The command line end to end, as a user runs it: real files, real processes, real exit codes."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from paramscope.errors import ParamscopeError

EXE = [sys.executable, "-m", "paramscope"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def inspect_json(source: str, *flags: str) -> dict:
    r = run("inspect", source, "--json", *flags)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_gemma_gguf_json(gemma_gguf):
    out = inspect_json(str(gemma_gguf))
    assert out["format"] == "gguf"
    assert out["architecture"] == "gemma3"
    assert out["total_params"] == out["active_params"] == 268_098_176
    assert out["label"] == "268M"
    assert out["tensor_count"] == 236
    assert out["by_component"]["embedding"] == 167_772_160
    assert out["by_component"]["total"] == 268_098_176
    assert "output" not in out["by_component"]  # tied: the head is the embedding
    assert out["hyperparameters"]["tied_embeddings"] is True
    assert sum(v["bytes"] for v in out["by_dtype"].values()) == out["weights_bytes"]
    assert sum(v["params"] for v in out["by_role"].values()) == out["total_params"]
    tokens = out["metadata"]["tokenizer.ggml.tokens"]
    assert tokens == {"array": "string", "length": 262_144}
    for key in ("format", "architecture", "total_params", "active_params", "label", "tensor_count",
                "weights_bytes", "by_dtype", "by_component", "by_role", "hyperparameters"):
        assert key in out


def test_gemma_gguf_tensors_and_layers(gemma_gguf):
    out = inspect_json(str(gemma_gguf), "--tensors", "--layers")
    assert len(out["tensors"]) == 236
    embd = next(t for t in out["tensors"] if t["name"] == "token_embd.weight")
    assert embd["shape"] == [262_144, 640] and embd["params"] == 167_772_160
    assert len(out["by_layer"]) == 18
    assert sum(layer["total"]["params"] for layer in out["by_layer"]) == 268_098_176 - 167_772_160 - 640


def test_gemma_human_output(gemma_gguf):
    r = run("inspect", str(gemma_gguf), "--layers", "--tensors")
    assert r.returncode == 0, r.stderr
    assert "268,098,176" in r.stdout and "268M" in r.stdout
    assert "Parameters by component" in r.stdout and "Parameters per layer" in r.stdout
    assert "blk.17.ffn_down.weight" in r.stdout
    assert "15 sliding, 3 full" in r.stdout


def test_minilm_directory_and_file(minilm_dir):
    for source in (minilm_dir, minilm_dir / "model.safetensors"):
        out = inspect_json(str(source))
        assert out["total_params"] == 22_713_216
        assert out["format"] == "safetensors"
    assert "tokenizer.json" in " ".join(inspect_json(str(minilm_dir))["tokenizer_files"])


@pytest.mark.parametrize(("name", "total"), [
    ("llama-3.1-8b", 8_030_261_248), ("llama-3.1-70b", 70_553_706_496),
    ("mixtral-8x7b", 46_702_792_704),
    pytest.param("deepseek-v3", 671_026_419_200, marks=pytest.mark.slow),  # runs long: 90k tensors
    ("gemma-3-27b", 27_432_406_640), ("qwen3-8b", 8_190_735_360),
])
def test_catalogue_names(name, total):
    out = inspect_json(name)
    assert out["total_params"] == total and out["format"] == "config" and out["has_weights"] is False


def test_mixtral_active_params():
    out = inspect_json("mixtral-8x7b")
    assert out["active_params"] == 12_879_925_248
    assert "active" in out["active_convention"]


@pytest.mark.slow  # runs long: the whole catalogue, DeepSeek's 90k tensors included, in a subprocess
def test_catalogue_command():
    r = run("catalogue", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rows = out["models"]
    assert len(rows) >= 10
    assert {"gpt-4", "claude-3-opus", "gemini-1.5-pro"} <= {c["name"] for c in out["closed"]}
    assert all(c["sources"] and c["sources"][0].startswith("https://") for c in out["closed"])
    exact = [row for row in rows if row["total_matches"] is not None]
    assert exact and all(row["total_matches"] for row in exact)


def test_one_line_errors(tmp_path: Path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + struct.pack("<I", 3) + b"\x01\x00")  # truncated header
    cases = {
        str(tmp_path / "missing.gguf"): "no such file",
        str(bad): "bad.gguf",
        str(tmp_path): "",  # an empty directory: nothing to read
        "/dev/null": "",
        "no-such-model": "not a catalogue name",
    }
    for source, fragment in cases.items():
        r = run("inspect", source)
        assert r.returncode == 1, (source, r.stdout, r.stderr)
        assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
        assert fragment in r.stderr
        assert "Traceback" not in r.stderr


def test_usage_error_is_not_a_traceback():
    r = run("inspect")  # exit 2 is the safety verdict's: a bad command line is 1, on one line
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_hostile_tensor_names_print_literally(tmp_path: Path):
    names = ["[bold red]x[/]", "\x1b[31mred\x1b[0m"]
    header = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
              for i, n in enumerate(names)}
    raw = json.dumps(header).encode()
    f = tmp_path / "evil.safetensors"
    f.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(8))
    r = run("inspect", str(f), "--tensors")
    assert r.returncode == 0, r.stderr
    assert "[bold red]x[/]" in r.stdout
    assert "\x1b[31m" not in r.stdout and "\\x1b[31mred" in r.stdout


def test_python_api(gemma_gguf):
    import paramscope

    model = paramscope.open_model(str(gemma_gguf))
    assert sum(t.params for t in model.tensors) == 268_098_176
    with pytest.raises(ParamscopeError):
        paramscope.open_model("no-such-model")


def test_size_json_keys_and_gemma_kv(gemma_gguf):
    r = run("size", str(gemma_gguf), "--context", "8192", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "overhead_bytes", "total_bytes",
                "context", "batch", "runtime", "per_device"):
        assert key in out
    assert out["kv_cache_bytes"] == 39 * 1024 * 1024  # llama.cpp: 24.00 + 15.00 MiB
    assert out["total_bytes"] == sum(out[k] for k in ("weights_bytes", "kv_cache_bytes", "compute_bytes",
                                                      "overhead_bytes"))


@pytest.mark.slow  # runs long: twelve CLI subprocesses
def test_size_fit_train_gpus_run():
    for args in (("size", "llama-3.1-70b", "--gpu", "h100x2", "--explain"),
                 ("size", "llama-3.1-8b", "--runtime", "vllm", "--gpu", "h100"),
                 ("size", "qwen3-8b", "--weights", "q4_k_m", "--kv-type", "q8_0"),
                 ("fit", "mixtral-8x7b", "--gpu", "rtx-4090", "--ram", "64GiB"),
                 ("train", "llama-3.1-8b", "--method", "lora", "--targets", "q,v", "--gpu", "h100"),
                 ("gpus", "--kind", "unified")):
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.strip()
        j = run(*args, "--json")
        assert j.returncode == 0, (args, j.stderr)
        json.loads(j.stdout)


def test_fit_and_train_json():
    fit = json.loads(run("fit", "llama-3.1-70b", "--gpu", "h100", "--ram", "256GiB", "--json").stdout)
    assert fit["devices_needed"] == 2 and fit["fits_one_device"] is False
    assert fit["offload"]["gpu_layers"] > 0 and fit["best_quant"] == "q8_0"
    train = json.loads(run("train", "llama-3.1-8b", "--method", "lora", "--json").stdout)
    assert train["trainable_params"] == 13_631_488  # r 16 on q, k, v, o: 32 × 16 × 26,624


def test_size_errors_are_one_line():
    for args in (("size", "llama-3.1-8b", "--gpu", "nosuchgpu"), ("size", "llama-3.1-8b", "--weights", "q9"),
                 ("size", "llama-3.1-8b", "--context", "0"), ("train", "llama-3.1-8b", "--seq-len", "0")):
        r = run(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_whole_process_ends_without_teardown_but_runs_its_exit_functions():
    """main() of the console script ends with os._exit after the atexit functions (the interpreter's
    teardown was 8 % of a light command); a thread still running is still waited for."""
    code = ("import atexit, sys, threading, time\n"
            "atexit.register(lambda: print('atexit ran', flush=True))\n"
            "if sys.argv[1] == 'thread':\n"
            "    threading.Thread(target=lambda: (time.sleep(2), print('thread done', flush=True))).start()\n"
            "sys.argv = ['paramscope', 'size', 'llama-3.1-8b', '--json']\n"
            "from paramscope.cli.app import main\n"
            "main()\n")
    for case in ("plain", "thread"):
        done = subprocess.run([sys.executable, "-c", code, case], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        head, _, tail = done.stdout.rpartition("}\n")
        assert json.loads(head + "}")["total_bytes"] > 0  # the whole JSON was written before the end
        expected = ["thread done", "atexit ran"] if case == "thread" else ["atexit ran"]
        assert tail.splitlines() == expected, done.stdout[-200:]
