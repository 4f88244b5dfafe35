"""The outputs the documentation shows are what the commands print today, and its links resolve
(tools/docs_outputs.py). The cheap blocks (catalogue names, config files, generated fixtures) run here;
those of the real model files are marked slow. A page whose output went stale fails here: rerun
``python tools/docs_outputs.py --write PAGE`` and read the diff before committing it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import docs_outputs as d  # noqa: E402

# the cheap commands the pages show today (31 on 2026-12-04): fewer means the parser lost some
MIN_CHEAP = 25


def _report(results: list[d.Result]) -> str:
    out = []
    for r in results:
        out.append(f"{r.block.page.relative_to(ROOT)}:{r.command.line}: {r.status} {r.why} "
                   f"$ {r.command.shown.splitlines()[0]}")
        out += [f"    {x}" for x in r.diff[:12]]
    return "\n".join(out)


@pytest.fixture(scope="module")
def runner() -> d.Runner:
    return d.Runner(sys.executable, timeout=120)


def test_every_relative_link_and_anchor_resolves():
    assert [b for p in d.pages([]) for b in d.broken_links(p)] == []


def _commands(real: bool) -> dict[str, list[tuple[d.Block, d.Command]]]:
    """The commands that can run here, by page: those of the real model files, or the cheap ones."""
    out: dict[str, list[tuple[d.Block, d.Command]]] = {}
    for p in d.pages([]):
        for b in d.blocks(p):
            for c in b.commands:
                names, why = d.needs(c)
                if why is None and bool(names & d.REAL_FILES) == real:
                    out.setdefault(str(p.relative_to(ROOT)), []).append((b, c))
    return out


CHEAP, REAL = _commands(real=False), _commands(real=True)


def test_the_pages_show_commands_to_check():
    assert sum(map(len, CHEAP.values())) >= MIN_CHEAP
    assert sum(map(len, REAL.values())) >= 20


def _check(runner: d.Runner, todo: list[tuple[d.Block, d.Command]]) -> None:
    for _, c in todo:
        for n in sorted(d.needs(c)[0]):
            assert runner.fixture(n) is None
    stale = [r for r in (runner.run(b, c) for b, c in todo) if r.status != "equal"]
    assert not stale, "stale documentation (python tools/docs_outputs.py --write PAGE):\n" + _report(stale)


@pytest.mark.slow  # 31 commands in all, about 9 CPU-s (`catalogue` 1.5 s)
@pytest.mark.parametrize("page", sorted(CHEAP))
def test_cheap_blocks_show_todays_output(runner, page):
    """Catalogue names, config files and generated fixtures."""
    _check(runner, CHEAP[page])


@pytest.mark.slow  # about 60 CPU-s in all: the Gemma re-quantized copy and the zoo are built once a worker
@pytest.mark.parametrize("page", sorted(REAL))
def test_real_file_blocks_show_todays_output(runner, page):
    """The blocks of Gemma 3 270M and all-MiniLM-L6-v2 (tools/fetch_models.py) and the files built
    from them."""
    _check(runner, REAL[page])


# --- the tool itself: it can tell a stale block, and reads the pages' conventions -------------------

PAGE = """# A page

Some [link](#a-page) and [another](missing.md) and [a third](#no-such-heading).

```
$ paramscope inspect llama-3.1-8b --tensros
{output}
```
"""
TRUE = ("Error: paramscope inspect: unknown option --tensros; did you mean --tensors? (usage: paramscope "
        "inspect SOURCE [options]; see `paramscope inspect --help`)")


def test_a_stale_block_differs_and_a_current_one_is_equal(tmp_path, runner):
    page = tmp_path / "page.md"
    page.write_text(PAGE.format(output=TRUE.replace("--tensors?", "--tokens?")))
    [stale] = [runner.run(b, c) for b in d.blocks(page) for c in b.commands]
    assert stale.status == "differs" and stale.diff
    page.write_text(PAGE.format(output=TRUE))
    [current] = [runner.run(b, c) for b in d.blocks(page) for c in b.commands]
    assert current.status == "equal"


def test_write_pastes_todays_output(tmp_path, runner):
    page = tmp_path / "page.md"
    page.write_text(PAGE.format(output="Error: something old"))
    results = [runner.run(b, c) for b in d.blocks(page) for c in b.commands]
    assert d.write(page, results) == 1
    assert TRUE in page.read_text() and "something old" not in page.read_text()


def test_broken_links_name_the_missing_file_and_anchor(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE.format(output=TRUE))
    d.ROOT, root = tmp_path, d.ROOT
    try:
        bad = d.broken_links(page)
    finally:
        d.ROOT = root
    assert len(bad) == 2
    assert "missing.md: no such file" in bad[0] and "no heading #no-such-heading" in bad[1]


def _cmd(expected: list[str], text: str = "paramscope x", excerpt: bool = False) -> d.Command:
    return d.Command(1, text, text, expected=expected, excerpt=excerpt)


def test_elision_stands_for_any_lines_and_nothing_else():
    act = ["a", "b", "c", "d"]
    assert d.compare(_cmd(["a", "…", "d"]), act) == []
    assert d.compare(_cmd(["…", "c", "…"]), act) == []
    assert d.compare(_cmd(["a", "…"]), act) == []
    assert d.compare(_cmd(["…", "c"]), act) != []        # d follows c: the page must say … again
    assert d.compare(_cmd(["b", "…"]), act) != []        # the first line is anchored
    assert d.compare(_cmd(["a", "…", "x"]), act) != []


def test_an_excerpt_needs_its_lines_in_order():
    act = ['{', '  "a": 1,', '  "b": 2,', '  "c": 3', '}']
    assert d.compare(_cmd(['{', '  "a": 1', '  "c": 3', '}'], excerpt=True), act) == []
    assert d.compare(_cmd(['  "c": 3', '  "a": 1'], excerpt=True), act) != []


def test_machine_dependent_lines_are_equal_only_to_their_like():
    page = ["This machine: 2 CPUs (AMD EPYC), RAM 23.54 GiB (18.79 GiB available, from psutil)", "x"]
    today = ["This machine: 16 CPUs (Intel), RAM 128.00 GiB (100.00 GiB available, from /proc/meminfo)", "x"]
    assert d.compare(_cmd(page, "paramscope gpus"), today) == []
    assert d.compare(_cmd(page, "paramscope inspect m"), today) != []   # only where the table says
    assert d.compare(_cmd(page, "paramscope gpus"), [today[0], "y"]) != []


def test_echo_status_belongs_to_the_command_before_it(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```\n$ paramscope scan a.pkl\nout\n$ echo $?\n2\n```\n")
    [block] = d.blocks(page)
    [cmd] = block.commands
    assert cmd.text == "paramscope scan a.pkl\necho $?" and cmd.expected == ["out", "$ echo $?", "2"]


def test_a_python_session_is_replayed(tmp_path, runner):
    page = tmp_path / "page.md"
    page.write_text("```python\n>>> x = 40 + 2\n"
                    ">>> x, paramscope.size('llama-3.1-8b').estimate.total_bytes > 0\n"
                    "(42, True)\n>>> int('a')\n"
                    "builtins.ValueError: invalid literal for int() with base 10: 'a'\n```\n")
    [result] = [runner.run(b, c) for b in d.blocks(page) for c in b.commands]
    assert result.status == "equal", result.diff
    page.write_text(page.read_text().replace("(42, True)", "(43, True)"))
    [result] = [runner.run(b, c) for b in d.blocks(page) for c in b.commands]
    assert result.status == "differs" and "+(42, True)" in result.diff


def test_what_cannot_run_says_why():
    def why(text: str) -> str | None:
        return d.needs(_cmd([], text))[1]
    assert "network" in (why("paramscope inspect hf:org/name") or "")
    assert "no builder" in (why("paramscope diff all-MiniLM-L6-v2 cut.gguf") or "")
    assert "no builder" in (why("paramscope inspect no-such-model") or "")
    assert "benchmark" in (why("python bench/bench_x.py") or "")
    assert why("paramscope size llama-3.1-8b --context 8192") is None
    assert why("paramscope fit gemma-3-270m-q4_k_m.gguf --gpu rtx-4090") is None


def test_a_command_continued_with_a_backslash_is_one_command(tmp_path, runner):
    page = tmp_path / "page.md"
    page.write_text("```\n$ paramscope size llama-3.1-8b \\\n    --context 8k\n"
                    "Error: paramscope size: --context takes a whole number ≥ 1 (found '8k')\n```\n")
    [cmd] = [c for b in d.blocks(page) for c in b.commands]
    assert cmd.text == "paramscope size llama-3.1-8b --context 8k"
    assert runner.run(next(d.blocks(page)), cmd).status == "equal"
