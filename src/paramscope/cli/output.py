"""Where the CLI's output goes: JSON on stdout, rich tables on a console sized to the terminal.

rich pads every line of a table or grid to the table's width; on stdout those trailing spaces are
noise (diffs, `grep $`, copy and paste), so the console writes through ``TrimmedLines``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from rich.console import Console

PIPED_WIDTH = 160  # columns for output that goes to a file or pipe and no COLUMNS says otherwise
# trailing blanks of a line, with any SGR escape codes (colours) among them: the codes are kept. Patterns
# as text, compiled by re (and cached there) on first use: --json output never needs them.
_TRAILING = r"(?:[ \t]|\x1b\[[0-9;]*m)+$"
_SGR = r"\x1b\[[0-9;]*m"


def dump(data: Any) -> None:
    """``data`` as ``json.dump(data, indent=2, ensure_ascii=False)`` writes it, built in one piece."""
    from paramscope.cli.json_text import dumps

    sys.stdout.write(dumps(data) + "\n")


def dump_error(line: str) -> None:
    """An error under --json: one JSON object on stdout, as the web API answers (docs/web.md), beside
    the ``Error:`` line on stderr, so a script reading stdout never meets an empty document."""
    with contextlib.suppress(BrokenPipeError, ValueError):  # stdout closed: the stderr line still says it
        dump({"error": line})


class TrimmedLines:
    """A text stream that drops the blanks at the end of every line it passes on to ``out``."""

    def __init__(self, out: TextIO):
        self.out, self._partial = out, ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        if lines:
            self.out.write("".join(trim(line) + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.out.write(trim(self._partial))
            self._partial = ""
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()

    def fileno(self) -> int:
        return self.out.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.out, "encoding", "utf-8")


def trim(line: str) -> str:
    if not line.endswith((" ", "\t", "m")):  # nothing to trim (a table row ends "│"): no search
        return line
    m = re.search(_TRAILING, line)
    return line if m is None else line[:m.start()] + "".join(re.findall(_SGR, m.group()))


def console() -> Console:
    """A rich console for human output; piped output gets room for tables instead of 80 columns."""
    from rich.console import Console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH
    return Console(file=cast(IO[str], TrimmedLines(sys.stdout)), highlight=False, width=width)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)
