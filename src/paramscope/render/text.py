"""Pieces every human renderer shares: file-provided text shown literally, notes, the --explain block."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text


def plain(s: object) -> Text:
    """File-provided text shown literally, control characters made visible.

    Never markup: a tensor named ``[red]x`` or carrying ANSI escapes prints as the characters it has.
    """
    text = str(s)
    # printable ASCII (nearly every tensor name) has none: skip the look at each character
    if not (text.isascii() and text.isprintable()) and any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = text.encode("unicode_escape").decode("ascii")
    return Text(text)


def literal(s: str) -> str | Text:
    """``plain(s)``, as the str itself where rich prints that unchanged (printable, no markup "[" or
    emoji ":"): a cell rich turns into the same Text, without making one (a tensor table has 92k)."""
    return s if s.isprintable() and "[" not in s and ":" not in s else plain(s)


class PathText:
    """A path or URL shown literally (as ``plain``) that wraps after a "/" where it is too long for its
    column, a whole folder name per line, rather than in the middle of a name: rich breaks lines only at
    spaces, and a path has none. A name wider than the column still folds."""

    def __init__(self, path: object, after: str = "") -> None:
        self.text = plain(path)
        # each piece ends with its separator ("/", "\\"): lines are cut between pieces
        self.pieces = re.findall(r"[^/\\]*(?:[/\\]+|$)", self.text.plain)[:-1] or [""]
        # words that follow the path on its line (a header's details), each starting with its blanks,
        # which a word that starts a line drops
        self.words = re.findall(r" *[^ ]+", plain(after).plain)

    def _starting_a_line(self) -> list[str]:
        return [*self.pieces, *(w.lstrip(" ") for w in self.words)]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(max(map(cell_len, self._starting_a_line())),
                           cell_len("".join(self.pieces + self.words)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        lines = [""]
        for piece, first in zip(self.pieces + self.words, self._starting_a_line(), strict=True):
            if cell_len(lines[-1] + piece) <= width:
                lines[-1] += piece
                continue
            if cell_len(first) <= width:  # the name (or word) starts the next line
                lines.append(first)
                continue
            for char in piece:  # a name wider than the column: folded, from where the line is
                if cell_len(lines[-1] + char) > width:
                    lines.append("")
                lines[-1] += char
        yield Text("\n".join(lines), style=self.text.style, overflow="fold")


def notes_and_explain(console: Console, notes: Iterable[str], explain: Iterable[str], show: bool) -> None:
    """Notes, then either every formula with its values (--explain) or a hint that they exist."""
    for note in notes:
        console.print(Text("note: ", style="dim") + plain(note))
    if show:
        console.print(Text("How each number is derived:", style="bold"))
        for line in explain:
            console.print(Text("  ") + plain(line))
    else:
        console.print(Text("(--explain shows every formula with its values)", style="dim"))


def shell_lines(command: str, width: int, indent: str = "  ") -> list[str]:
    """A command line broken at spaces into lines of at most ``width`` columns, each but the last
    ending in a backslash, so that it still pastes into a shell as one command."""
    lines, line = [], indent
    for word in command.split(" "):
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent + "    " + word
        else:
            line = f"{line} {word}" if line.strip() else line + word
        # a word longer than a line (a long path) is continued inside the word, after a "/" where one
        # fits: POSIX removes a backslash-newline before it splits words (XCU 2.2.1, "Escape Character"),
        # so the rest, at column 0 with no indent, still joins the same word
        while len(line) + 1 > width:
            start = len(line) - len(word)
            cut = line.rfind("/", start, width - 1) + 1 or width - 1
            if cut <= start or line[cut - 1] == "\\":
                break
            lines.append(line[:cut] + "\\")
            line, word = line[cut:], line[cut:]
    return [*lines, line]
