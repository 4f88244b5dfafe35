"""Every command's default output fits the terminal: at COLUMNS=80 and 120, through the real CLI in a
subprocess (output piped, as `| less` or a log file gets it). No line is wider than the terminal (in
cells, as a terminal counts them), nothing is cut short with "…" (rich's default for a cell that does not
fit: names and numbers must wrap or their column be left out instead), and no line ends in padding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from rich.cells import cell_len

from builders.pickle_files import G, R, dumps
from paramscope.cli.app import COMMANDS

WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def sources(tmp_path_factory, gemma_gguf, minilm_dir) -> dict[str, str]:
    d = tmp_path_factory.mktemp("width")
    (d / "evil.pkl").write_bytes(dumps(R(G("os", "system"), ("true",))))
    return {"gemma": str(gemma_gguf), "minilm": str(minilm_dir), "evil": str(d / "evil.pkl"),
            "report": str(d / "report.html"), "zoo": str(d / "zoo.parquet")}


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
    return subprocess.run([sys.executable, "-m", "paramscope", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": str(width)})


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


@pytest.mark.parametrize("width", WIDTHS)
def test_default_outputs_fit(sources, width):
    cases = [(name, [a.format(**sources) for a in args]) for name, runs in OUTPUTS.items() for args in runs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: run([c[0], *c[1]], width), cases))
    wrong = []
    for (name, args), r in zip(cases, results, strict=True):
        if r.returncode not in (0, 2) or not r.stdout.strip():
            wrong.append(f"{name} {args}: exit {r.returncode}: {r.stderr[-300:]}")
        wrong += [f"{name} {args}: {p}" for p in problems(r.stdout, width)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("width", WIDTHS)
def test_help_fits(width):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda args: run(args, width), HELP))
    wrong = []
    for args, r in zip(HELP, results, strict=True):
        wrong += [f"{args}: {p}" for p in problems(r.stdout, width, ellipsis=False)]
    assert not wrong, "\n".join(wrong)
