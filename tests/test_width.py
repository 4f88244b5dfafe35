"""Every command's default output fits the terminal: at COLUMNS=80 and 120, output piped (as `| less` or
a log file gets it). No line is wider than the terminal (in cells, as a terminal counts them), nothing is
cut short with "…" (rich's default for a cell that does not fit: names and numbers must wrap or their
column be left out instead), and no line ends in padding.

The commands run in this process (``cli.app.main`` with stdout captured and COLUMNS set), one case per
test so the workers share them out; a sample of them also runs through the real CLI in a subprocess, and
its output must be the same, byte for byte, as the in-process one.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from rich.cells import cell_len

from builders.cli import cli_run
from builders.pickle_files import G, R, dumps
from paramscope.cli.app import COMMANDS

WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def sources(tmp_path_factory, gemma_gguf, minilm_dir) -> dict[str, str]:
    d = tmp_path_factory.mktemp("width")
    (d / "evil.pkl").write_bytes(dumps(R(G("os", "system"), ("true",))))
    # the files commands write are named relative to the folder the tests run in (it is `d`): the line
    # "wrote PATH" must fit, whatever the length of the temporary folder's path on this machine
    return {"gemma": str(gemma_gguf), "minilm": str(minilm_dir), "evil": str(d / "evil.pkl"),
            "report": "report.html", "zoo": "zoo.parquet", "dir": str(d)}


# one or more default outputs per command (the keys of cli.app.COMMANDS; serve runs a server)
OUTPUTS: dict[str, list[list[str]]] = {
    "inspect": [["{gemma}"], ["{minilm}"], ["mixtral-8x7b", "--layers"], ["{gemma}", "--tensors"],
                ["deepseek-v3"], ["{evil}"]],
    "catalogue": [[]],
    "tokens": [["{gemma}", "The quick brown fox, 中文 and 🙂 emoji\twith a tab"],
               ["{minilm}", "Hello, world!"], ["{gemma}", "--ids", "2,818,3823,8864"]],
    "stats": [["{minilm}"], ["{gemma}", "--tensor", "blk.0.*"]],
    "quantize-error": [["{minilm}", "--sample", "0.05"]],
    "size": [["{gemma}"], ["llama-3.1-70b", "--gpu", "rtx-4090x2"],
             ["mixtral-8x7b", "--gpu", "h100", "--runtime", "vllm"], ["qwen3-8b", "--explain"]],
    "fit": [["mixtral-8x7b", "--gpu", "rtx-4090", "--ram", "64GiB"], ["llama-3.1-8b", "--gpu", "h100"],
            ["llama-3.1-70b", "--gpu", "rtx-3060-12g", "--ram", "32GB"],
            ["{gemma}", "--gpu", "ddr5-5600-2ch"]],
    "train": [["llama-3.1-8b"], ["llama-3.1-8b", "--method", "qlora", "--gpu", "h100"]],
    "gpus": [[]],
    "scan": [["{evil}", "{minilm}"]],
    "ls": [["{minilm}", "--only"]],
    "zoo": [["{minilm}", "{gemma}", "{evil}", "--out", "{zoo}", "--workers", "1"]],
    "report": [["mixtral-8x7b", "-o", "{report}"]],
    "diff": [["{gemma}", "{gemma}"], ["llama-3.1-8b", "qwen3-8b"]],
    "explain": [["{gemma}"], ["{minilm}", "--level", "expert"], ["llama-3.1-70b"]],
    "serve": [],
}
HELP = [[], *([c, "--help"] for c in COMMANDS)]


def test_every_command_is_covered():
    assert set(OUTPUTS) == set(COMMANDS)


def run(args: list[str], width: int) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, output piped."""
    return subprocess.run([sys.executable, "-m", "paramscope", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": str(width)})


def run_here(args: list[str], width: int) -> subprocess.CompletedProcess:
    """The same in this process: stdout and stderr captured (not terminals, like a pipe), COLUMNS set."""
    return cli_run(*args, columns=width)


def problems(out: str, width: int, *, ellipsis: bool = True) -> list[str]:
    found = []
    for n, line in enumerate(out.splitlines(), 1):
        if cell_len(line) > width:
            found.append(f"line {n} is {cell_len(line)} cells wide: {line!r}")
        if line != line.rstrip():
            found.append(f"line {n} ends in blanks: {line!r}")
        if ellipsis and "…" in line:
            found.append(f"line {n} is cut short: {line!r}")
    return found


CASES = [(name, args) for name, runs in OUTPUTS.items() for args in runs]
# the cases that also run in a subprocess: one of each kind of output (a file's, a name's, a table of
# tables, help), cheap ones
THROUGH_SUBPROCESS = [("inspect", ["{gemma}"]), ("size", ["llama-3.1-70b", "--gpu", "rtx-4090x2"]),
                      ("fit", ["mixtral-8x7b", "--gpu", "rtx-4090", "--ram", "64GiB"]),
                      ("scan", ["{evil}", "{minilm}"])]


def case_id(case: tuple[str, list[str]]) -> str:
    return " ".join([case[0], *case[1]])


# the cases that list the whole catalogue or DeepSeek-V3's 90k tensors run beside test_catalogue.py
# (one pytest-xdist worker), which has built every entry's Model: built once a process
# (catalogue.open_entry keeps them), they are not built again at each width
ON_THE_CATALOGUE_WORKER = {"catalogue", "inspect deepseek-v3"}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("name", "args"), [
    pytest.param(*case, id=case_id(case),
                 marks=[pytest.mark.xdist_group("catalogue")] * (case_id(case) in ON_THE_CATALOGUE_WORKER))
    for case in CASES])
def test_default_outputs_fit(sources, name, args, width, monkeypatch):
    monkeypatch.chdir(sources["dir"])
    argv = [name, *(a.format(**sources) for a in args)]
    r = run_here(argv, width)
    assert r.returncode in (0, 2) and r.stdout.strip(), f"exit {r.returncode}: {r.stderr[-300:]}"
    wrong = problems(r.stdout, width)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("name", "args"), THROUGH_SUBPROCESS, ids=list(map(case_id, THROUGH_SUBPROCESS)))
def test_in_process_output_is_the_real_clis(sources, name, args, width, monkeypatch):
    monkeypatch.chdir(sources["dir"])
    argv = [name, *(a.format(**sources) for a in args)]
    real = run(argv, width)
    assert real.returncode in (0, 2), real.stderr[-300:]
    assert run_here(argv, width).stdout == real.stdout


def test_the_subprocess_sample_is_among_the_cases():
    assert all(case in CASES for case in THROUGH_SUBPROCESS)


@pytest.mark.parametrize("width", WIDTHS)
def test_help_fits(width):
    wrong = []
    for args in HELP:
        r = run_here(args, width)
        wrong += [f"{args}: {p}" for p in problems(r.stdout, width, ellipsis=False)]
    assert not wrong, "\n".join(wrong)


def test_help_in_process_is_the_real_clis():
    for args in ([], ["fit", "--help"]):
        assert run_here(args, 80).stdout == run(args, 80).stdout, args
