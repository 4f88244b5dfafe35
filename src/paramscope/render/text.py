"""Pieces every human renderer shares: file-provided text shown literally, notes, the --explain block."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text


def plain(s: object) -> Text:
    """File-provided text shown literally, control characters made visible.

    Never markup: a tensor named ``[red]x`` or carrying ANSI escapes prints as the characters it has.
    """
    text = str(s)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = text.encode("unicode_escape").decode("ascii")
    return Text(text)


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
    return [*lines, line]
