"""The Python API is the CLI: for every command, ``paramscope.<command>(...).to_json()`` equals what
``paramscope <command> … --json`` prints for the same arguments (the CLI runs in a subprocess, as a user
runs it). Figures that change between two runs by nature (seconds taken, RAM free right now) are left out
of the comparison, and only those."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import paramscope
from builders.gguf_files import write_gguf
from builders.pickle_files import SPECS, state_dict_checkpoint
from builders.safetensors_files import write_safetensors

VOLATILE = {"seconds", "bytes_per_second", "available_ram_bytes"}


def cli(*args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "paramscope", *args, "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.stderr == "" or done.returncode == 2, done.stderr
    return json.loads(done.stdout)


def stable(value: Any) -> Any:
    """The JSON with the volatile keys removed, at any depth (through a JSON round trip, as printed)."""
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in VOLATILE}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(json.loads(json.dumps(value)))


@pytest.fixture(scope="module")
def files(tmp_path_factory, gemma_gguf) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("parity")
    rng = np.random.default_rng(0)
    st = d / "small.safetensors"
    from safetensors.numpy import save_file

    save_file({"model.layers.0.mlp.up_proj.weight": rng.standard_normal((64, 128)).astype(np.float32),
               "model.embed_tokens.weight": rng.standard_normal((100, 64)).astype(np.float32)}, st)
    models = d / "models"
    models.mkdir()
    write_gguf(models / "tiny.gguf", [("token_embd.weight", np.zeros((10, 8), np.float32), None)])
    write_safetensors(models / "other.safetensors", {"w": ("BF16", [4, 4])})
    ckpt = state_dict_checkpoint(d / "model.bin", SPECS)
    return {"safetensors": st, "models": models, "pickle": ckpt, "gemma": gemma_gguf,
            "zoo_out": d / "zoo.parquet"}


CASES = [
    ("inspect", ["llama-3.1-8b", "--layers"], lambda f: paramscope.inspect("llama-3.1-8b", layers=True)),
    ("inspect gguf", ["{gemma}", "--tensors"], lambda f: paramscope.inspect(str(f["gemma"]), tensors=True)),
    ("inspect pickle", ["{pickle}"], lambda f: paramscope.inspect(str(f["pickle"]))),
    ("catalogue", [], lambda f: paramscope.catalogue()),
    ("size", ["llama-3.1-8b", "--context", "4096", "--gpu", "h100x2", "--runtime", "vllm",
              "--gpu-memory-utilization", "0.8"],
     lambda f: paramscope.size("llama-3.1-8b", context=4096, gpu="h100x2", runtime="vllm",
                               gpu_memory_utilization=0.8)),
    ("size llama.cpp", ["{gemma}", "--ubatch", "128", "--swa-full", "--kv-type", "q8_0"],
     lambda f: paramscope.size(str(f["gemma"]), ubatch=128, swa_full=True, kv_type="q8_0")),
    ("size vllm options", ["llama-3.1-8b", "--gpu", "rtx-3090", "--runtime", "vllm", "--engine", "v0",
                           "--max-num-seqs", "128", "--enforce-eager", "--context", "20000"],
     lambda f: paramscope.size("llama-3.1-8b", gpu="rtx-3090", runtime="vllm", engine="v0", max_num_seqs=128,
                               enforce_eager=True, context=20000)),
    ("size llama.cpp offload", ["llama-3.1-70b", "--gpu", "rtx-4090", "--n-gpu-layers", "20", "--flash-attn",
                                "off"],
     lambda f: paramscope.size("llama-3.1-70b", gpu="rtx-4090", n_gpu_layers=20, flash_attn="off")),
    ("fit", ["mixtral-8x7b", "--gpu", "rtx-4090", "--ram", "64GiB"],
     lambda f: paramscope.fit("mixtral-8x7b", gpu="rtx-4090", ram="64GiB")),
    ("train", ["llama-3.1-8b", "--method", "lora", "--rank", "8", "--gpu", "h100"],
     lambda f: paramscope.train("llama-3.1-8b", method="lora", rank=8, gpu="h100")),
    ("gpus", ["--kind", "gpu"], lambda f: paramscope.gpus(kind="gpu")),
    ("tokens", ["{gemma}", "Hello, world"],
     lambda f: paramscope.tokens(str(f["gemma"]), text="Hello, world")),
    ("tokens ids", ["{gemma}", "--ids", "2,9259"],
     lambda f: paramscope.tokens(str(f["gemma"]), ids="2,9259")),
    ("stats", ["{safetensors}"], lambda f: paramscope.stats(str(f["safetensors"]))),
    ("quantize-error", ["{safetensors}", "--to", "q8_0,int4", "--budget", "20KB"],
     lambda f: paramscope.quantize_error(str(f["safetensors"]), to="q8_0,int4", budget="20KB")),
    ("scan", ["{pickle}", "{models}"], lambda f: paramscope.scan([str(f["pickle"]), str(f["models"])])),
    ("ls", ["{models}", "--only"], lambda f: paramscope.ls(dirs=[str(f["models"])], only=True)),
    ("explain", ["llama-3.1-70b", "--level", "expert"],
     lambda f: paramscope.explain("llama-3.1-70b", level="expert")),
    ("explain gguf", ["{gemma}", "--text", "Hello, world", "--context", "4096"],
     lambda f: paramscope.explain(str(f["gemma"]), text="Hello, world", context=4096)),
    ("diff", ["{safetensors}", "{safetensors}"],
     lambda f: paramscope.diff(str(f["safetensors"]), str(f["safetensors"]))),
    ("zoo", ["{models}", "{pickle}", "--out", "{zoo_out}", "--workers", "1", "--restart"],
     lambda f: paramscope.zoo([str(f["models"]), str(f["pickle"])], out=str(f["zoo_out"]), workers=1,
                              restart=True)),
]


# the catalogue's API side runs beside test_catalogue.py (one pytest-xdist worker), whose Models of the
# entries it reuses (catalogue.open_entry keeps them): DeepSeek-V3's 90k tensors are not listed again
@pytest.mark.parametrize(("name", "args", "call"), [
    pytest.param(*c, id=c[0], marks=[pytest.mark.xdist_group("catalogue")] * (c[0] == "catalogue"))
    for c in CASES])
def test_api_equals_cli(files, name, args, call):
    command = name.split()[0]
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in args]
    assert stable(call(files).to_json()) == stable(cli(command, *argv))


def test_every_command_is_compared():
    from paramscope.app import COMMANDS

    compared = {c[0].split()[0].replace("-", "_") for c in CASES}
    assert set(COMMANDS) <= compared, set(COMMANDS) - compared


def test_exit_codes_agree(files):
    result = paramscope.scan([str(files["pickle"])])
    done = subprocess.run([sys.executable, "-m", "paramscope", "scan", str(files["pickle"])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == result.exit_code
