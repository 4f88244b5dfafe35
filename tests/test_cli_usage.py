"""A newcomer's mistakes, through the real command line in a subprocess: every bad usage, missing
argument, bad value and nonexistent path gets one line on stderr (``Error: …``), no traceback, and the
exit status docs/cli.md documents (errors.EXIT_CODES): 1 for bad input or usage, 2 only for a safety
verdict. Missing optional packages are made missing for real (a sitecustomize that refuses the import),
and the command must name the extra that installs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from builders.pickle_files import G, R, dumps
from paramscope.errors import EXIT_CODES, EXIT_ERROR, EXIT_OK, EXIT_UNSAFE

EXE = [sys.executable, "-m", "paramscope"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "100", **(env or {})})


def one_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory, gemma_gguf) -> dict[str, str]:
    d = tmp_path_factory.mktemp("usage")
    evil = d / "evil.pkl"
    evil.write_bytes(dumps(R(G("os", "system"), ("true",))))
    return {"gemma": str(gemma_gguf), "tmp": str(d), "evil": str(evil)}


# (arguments, fragment of the one line): each exits 1. "{gemma}" and "{tmp}" are filled in.
BAD_USAGE = [
    (["inspecct", "x"], "unknown command 'inspecct'; did you mean inspect?"),
    (["sizee"], "did you mean size"),
    (["inspect"], "SOURCE is missing (usage: paramscope inspect SOURCE"),
    (["inspect", "a", "b"], "unexpected argument 'b'"),
    (["inspect", "llama-3.1-8b", "--tensros"], "unknown option --tensros; did you mean --tensors?"),
    (["inspect", "/nonexistent/model.gguf"], "/nonexistent/model.gguf: no such file or directory"),
    (["inspect", "llama-3.1-8bb"], "not a catalogue name"),
    (["inspect", "gpt-4"], "gpt-4: a closed model (OpenAI): no weights or config are published"),
    (["size", "claude-3-opus"], "claude-3-opus: a closed model (Anthropic)"),
    (["size", "llama-3.1-8b", "--context", "abc"], "--context takes a whole number ≥ 1 (found 'abc')"),
    (["size", "llama-3.1-8b", "--context", "0"], "--context takes a whole number ≥ 1"),
    (["size", "llama-3.1-8b", "--batch", "-1"], "--batch takes a whole number ≥ 1"),
    (["size", "llama-3.1-8b", "--context"], "--context needs a value"),
    (["size", "llama-3.1-8b", "--runtime", "vlm"],
     "--runtime 'vlm' is not one of llama.cpp, vllm, sglang, transformers; did you mean vllm?"),
    (["size", "llama-3.1-8b", "--gpu", "nosuchgpu"], "unknown device 'nosuchgpu'"),
    (["size", "llama-3.1-8b", "--weights", "q9"], "unknown weight scheme 'q9'"),
    (["size", "llama-3.1-8b", "--kv-type", "q9"], "unknown KV cache type 'q9'"),
    (["size", "llama-3.1-8b", "--context-from-file", "/nonexistent.txt"], "/nonexistent.txt: no such file"),
    (["fit", "mixtral-8x7b", "--ram", "64"], "RAM size '64' needs a unit: 64GiB"),
    (["fit", "mixtral-8x7b", "--ram", "lots"], "not a RAM size: 'lots'"),
    (["fit", "mixtral-8x7b", "--gpu", "rtx-4090x2"], "fit takes one device type"),
    (["fit", "mixtral-8x7b", "--gpu", "rtx-409"], "did you mean"),
    (["train", "llama-3.1-8b", "--method", "foo"], "--method 'foo' is not one of full, lora, qlora"),
    (["train", "llama-3.1-8b", "--method", "lroa"], "did you mean lora"),
    (["train", "llama-3.1-8b", "--tokens", "10X"], "not a token count: '10X'"),
    (["train", "llama-3.1-8b", "--mfu", "2"], "--mfu takes a fraction above 0 and at most 1"),
    (["train", "llama-3.1-8b", "--zero", "5"], "--zero '5' is not one of 0, 1, 2, 3"),
    (["train", "llama-3.1-8b", "--seq-len", "0"], "--seq-len takes a whole number ≥ 1"),
    (["gpus", "--kind", "tpu"], "--kind 'tpu' is not one of gpu, unified, cpu"),
    (["gpus", "--vendor", "foo"], "no devices of vendor 'foo'"),
    (["scan"], "PATH is missing"),
    (["scan", "/nonexistent"], "/nonexistent: no such file or directory"),
    (["ls", "/nonexistent"], "/nonexistent: no such directory"),
    (["ls", "--workers", "0"], "--workers takes a whole number ≥ 1"),
    (["zoo", "{tmp}"], "--out is missing"),
    (["zoo", "{tmp}", "--out", "{gemma}"], "exists and is not a folder"),
    (["zoo", "{tmp}", "--out", "{tmp}/z", "--workers", "0"], "--workers takes a whole number ≥ 1"),
    (["serve", "--port", "99999"], "--port takes a port number from 1 to 65535 (found '99999')"),
    (["serve", "--port", "http"], "--port takes a port number"),
    (["serve", "/nonexistent"], "/nonexistent: no such directory"),
    (["report", "mixtral-8x7b"], "-o/--output is missing"),
    (["report", "mixtral-8x7b", "-o", "/no/such/dir/r.html"], "the folder /no/such/dir does not exist"),
    (["report", "mixtral-8x7b", "-o", "{tmp}"], "is a directory; give a file name"),
    (["stats", "/nonexistent.gguf"], "no such file or directory"),
    (["stats", "{gemma}", "--plot", "/no/such/dir/x.png"], "the folder /no/such/dir does not exist"),
    (["stats", "{gemma}", "--plot", "{tmp}/x.jpg"], "--plot writes .png or .svg"),
    (["stats", "mixtral-8x7b"], "no weights"),
    (["quantize-error", "{gemma}", "--budget", "8"], "budget '8' needs a unit"),
    (["quantize-error", "{gemma}", "--to", "q9"], "q9"),
    (["quantize-error", "{gemma}", "--sample", "x"], "--sample takes a number (found 'x')"),
    (["tokens", "{gemma}", "x", "--file", "/nonexistent.txt"], "/nonexistent.txt: no such file"),
    (["tokens", "{gemma}", "--ids", "1,two"], "token IDs must be whole numbers"),
    (["tokens", "{gemma}", "--ids", "999999999"], "outside the vocabulary"),
    (["tokens", "mixtral-8x7b", "hello"], "no tokenizer"),
    (["catalogue", "extra"], "unexpected argument 'extra'"),
    (["gpus", "--json", "--kind"], "--kind needs a value"),
]


def test_bad_usage_is_one_line_and_exit_1(files):
    cases = [[a.format(**files) for a in args] for args, _ in BAD_USAGE]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: run(*args), cases))
    wrong = []
    for (args, fragment), r in zip(BAD_USAGE, results, strict=True):
        ok = (r.returncode == EXIT_ERROR and "Traceback" not in r.stderr and r.stderr.startswith("Error: ")
              and r.stderr.count("\n") == 1 and fragment.format(**files) in r.stderr)
        if not ok:
            wrong.append((args, r.returncode, r.stderr[-400:], r.stdout[-200:]))
    assert not wrong, "\n".join(map(repr, wrong))


def test_choices_are_listed_once():
    line = one_line(run("size", "llama-3.1-8b", "--weights", "q9"))
    names = line.split("known: ", 1)[1].rstrip(")\n").split(", ")
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]


def test_safety_verdict_is_exit_2_and_the_only_2(files):
    r = run("scan", files["evil"])
    assert r.returncode == EXIT_UNSAFE and "could run code" in r.stdout and "Traceback" not in r.stderr
    r = run("inspect", files["evil"])
    assert r.returncode == EXIT_UNSAFE and "Traceback" not in r.stderr
    assert EXIT_CODES[EXIT_UNSAFE].startswith("safety finding")


def test_no_command_prints_help_and_exits_1():
    r = run()
    assert r.returncode == EXIT_ERROR and "usage: paramscope" in r.stdout and "exit status:" in r.stdout
    for code in EXIT_CODES:
        assert f"  {code} " in r.stdout


def test_help_and_version_exit_0():
    assert run("--version").returncode == EXIT_OK
    for command in ("inspect", "scan", "fit", "tokens"):
        r = run(command, "--help")
        assert r.returncode == EXIT_OK and "exit status:" in r.stdout, command


def test_report_json_says_what_it_wrote(tmp_path):
    out = tmp_path / "r.html"
    r = run("report", "mixtral-8x7b", "-o", str(out), "--json")
    assert r.returncode == EXIT_OK, r.stderr
    data = json.loads(r.stdout)
    assert data == {"output": str(out), "bytes": out.stat().st_size}


def test_an_interrupted_write_is_one_line(tmp_path):
    """An ordinary operating-system error on a path the user gave is exit 1, not "internal error"."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        r = run("report", "mixtral-8x7b", "-o", str(ro / "r.html"))
        assert r.returncode == EXIT_ERROR and "Permission denied" in one_line(r)
    finally:
        ro.chmod(0o700)


# --- optional extras, made missing for real ------------------------------------------------------------

SITECUSTOMIZE = '''
import os, sys
BLOCKED = set(os.environ["PARAMSCOPE_TEST_BLOCK"].split(","))

class Refuse:
    """Any import of a blocked top-level package fails, as if it were not installed."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
'''


@pytest.fixture(scope="module")
def blocker(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("block")
    (d / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return d


def without(blocker: Path, modules: str, *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(p for p in (str(blocker), os.environ.get("PYTHONPATH", "")) if p)
    return run(*args, env={"PYTHONPATH": path, "PARAMSCOPE_TEST_BLOCK": modules})


@pytest.mark.parametrize(("modules", "args", "extra"), [
    ("tokenizers", ["tokens", "{gemma}", "Hello"], "tokens"),
    ("tokenizers", ["tokens", "{gemma}", "--ids", "2,818"], "tokens"),
    ("matplotlib", ["stats", "{gemma}", "--plot", "{tmp}/x.png"], "plot"),
    ("onnx", ["inspect", "{tmp}/m.onnx"], "onnx"),
    ("uvicorn", ["serve"], "web"),
    ("fastapi", ["serve"], "web"),
])
def test_missing_extra_names_it(blocker, files, modules, args, extra):
    Path(files["tmp"], "m.onnx").write_bytes(b"\x08\x07")
    r = without(blocker, modules, *(a.format(**files) for a in args))
    assert r.returncode == EXIT_ERROR, (args, r.stdout, r.stderr)
    line = one_line(r)
    assert f"pip install 'paramscope[{extra}]'" in line and modules in line, line


def test_the_blocker_blocks(blocker):
    r = subprocess.run([sys.executable, "-c", "import tokenizers"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(blocker), "PARAMSCOPE_TEST_BLOCK": "tokenizers"})
    assert r.returncode != 0 and "No module named 'tokenizers'" in r.stderr
