"""render.text.PathText: a long path in a label / value grid wraps after a "/" (whole names per line) and
never in the middle of a name that fits its column; nothing is lost, added or cut; no line is too wide."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from builders.cli import cli_run
from paramscope.render.table import grid
from paramscope.render.text import PathText

LABEL = "source"
NAME = st.text(st.sampled_from("abcdefghij_.-0123456789 é漢"), min_size=1, max_size=70)


def shown(path: str, width: int) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    console.print(grid([(LABEL, PathText(path))]))
    return out.getvalue().splitlines()


@given(st.lists(NAME, min_size=1, max_size=8), st.booleans(), st.integers(30, 130))
def test_a_path_wraps_between_names(names: list[str], absolute: bool, width: int) -> None:
    path = ("/" if absolute else "") + "/".join(names)
    lines = shown(path, width)
    indent = len(LABEL) + 2
    assert lines[0].startswith(LABEL)
    pieces = [line[indent:] for line in lines]
    assert all(cell_len(line) <= width for line in lines)
    # rich strips a line's trailing blanks: names ending in a space compare without them
    assert "".join(pieces).replace(" ", "") == path.replace(" ", "")
    column = width - indent
    for name in PathText(path).pieces:  # each name that fits the column is whole on one line
        if cell_len(name) <= column:
            assert any(name.rstrip() in line for line in pieces), (name, pieces)


# words and folder names from letters apart, so that a word is found only where it is shown
WORD = st.text(st.sampled_from("ABCDEFGH(),;É"), min_size=1, max_size=30)
FOLDER = st.text(st.sampled_from("abcdefghij_.-0123456789é漢"), min_size=1, max_size=70)


@given(st.lists(FOLDER, min_size=1, max_size=6), st.lists(WORD, max_size=10), st.integers(30, 130))
def test_words_after_a_path_wrap_at_their_blanks(names: list[str], words: list[str], width: int) -> None:
    """A header's details after the path (stats, quantize-error): each word whole on a line where it fits,
    a word that starts a line without its blanks, nothing lost or added, no line too wide."""
    path = "/" + "/".join(names)
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    console.print(grid([(LABEL, PathText(path, "  " + " ".join(words)))], padding=1))
    lines = out.getvalue().splitlines()
    indent = len(LABEL) + 1
    assert all(cell_len(line) <= width for line in lines)
    shown_text = [line[indent:] for line in lines]
    assert "".join(shown_text).replace(" ", "") == (path + "".join(words)).replace(" ", "")
    for word in words:
        if cell_len(word) <= width - indent:
            assert any(word in line for line in shown_text), (word, shown_text)
    assert not any(line.startswith(" ") for line in shown_text[1:] if line.strip())


def test_stats_header_wraps_its_path_at_a_folder(tmp_path, minilm_dir) -> None:
    deep = tmp_path / ("folder_of_a_rather_long_name_" * 2) / "another_folder_of_a_long_name"
    deep.mkdir(parents=True)
    (deep / "minilm").symlink_to(minilm_dir.resolve())
    path = str(deep / "minilm")
    lines = cli_run("stats", path, columns=80).stdout.splitlines()
    header = lines[:next(i for i, line in enumerate(lines) if "numba" in line or "numpy" in line) + 1]
    assert all(cell_len(line) <= 80 for line in header)
    assert len(header) > 1 and header[0].startswith("source ")
    # every line break that falls inside the path falls right after a "/"
    pieces = [line[len("source "):] for line in header]
    cut = 0
    for piece in pieces[:-1]:
        cut += len(piece)
        if cut < len(path):
            assert path[cut - 1] == "/", pieces
    assert "".join(pieces).startswith(path) and "read in" in " ".join(header)


def test_a_short_path_is_one_line() -> None:
    assert shown("/models/gemma.gguf", 80) == ["source  /models/gemma.gguf"]


def test_a_control_character_is_shown_escaped() -> None:
    assert shown("/m/a\x1b[31mb.gguf", 80) == ["source  /m/a\\x1b[31mb.gguf"]


def test_size_inspect_and_fit_wrap_their_path_at_a_folder(tmp_path, gemma_gguf) -> None:
    deep = tmp_path / ("folder_of_a_rather_long_name_" * 2) / "another_folder_of_a_long_name"
    deep.mkdir(parents=True)
    (deep / "model.gguf").symlink_to(gemma_gguf.resolve())
    for command in ("size", "inspect", "fit"):
        lines = cli_run(command, str(deep / "model.gguf"), columns=80).stdout.splitlines()
        header = lines[:lines.index(next(line for line in lines if "model.gguf" in line)) + 1]
        assert all(cell_len(line) <= 80 for line in header), command
        # the path's last two names each whole on a line of the header, not cut between two lines
        assert any("another_folder_of_a_long_name/" in line for line in header), command
        assert header[-1].endswith(("  model.gguf", "/model.gguf")), command
