"""The safety verdict for pickle-based files (``analyses.pickle_safety``): tables, one line, or JSON.

Global names come from the file: they are shown as literal text, never as markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from paramscope.analyses.safety.pickle_safety import HARMLESS, SAFE, SAFE_TO_LOAD, SKIPPED, UNSAFE, Verdict
from paramscope.render.table import Cell, Column, table
from paramscope.render.text import plain

STATUS_STYLE = {SAFE: "green", HARMLESS: "yellow", SAFE_TO_LOAD: "yellow", SKIPPED: "dim", UNSAFE: "bold red"}
GLOBAL_STYLE = {"allowed": "green", "harmless": "yellow", "dangerous": "bold red", "unknown": "red"}


def render_scan(verdicts: list[Verdict], console: Console, *, show_globals: bool = False) -> None:
    columns = (Column("file"), Column("verdict", no_wrap=True), Column("globals that could run code"))
    rows = []
    for v in verdicts:
        flagged = ", ".join(g.qualname for g in v.flagged) or (
            f"cannot be verified: {v.unverified[0]}" if v.unverified else "") or v.skipped or v.error or (
            f"({v.not_pickle}: not a pickle" + ("; chat template not judged)" if v.not_judged else ")")
            if v.not_pickle else "")
        status = Text(v.status, style=STATUS_STYLE.get(v.status, "red"))
        rows.append([plain(v.source), status, plain(flagged)])
    console.print(table(console, columns, rows, title="pickle safety"))
    for v in verdicts:
        if show_globals or v.could_run_code:
            render_verdict(v, console)
    counts = {s: sum(v.status == s for v in verdicts) for s in dict.fromkeys(v.status for v in verdicts)}
    console.print(Text(", ".join(f"{n} {s}" for s, n in counts.items()) or "no pickle files found",
                       style="dim"))


def render_verdict(v: Verdict, console: Console) -> None:
    """One file: the verdict line, then each global with why it is or is not safe."""
    style = STATUS_STYLE.get(v.status, "red")
    console.print(plain(v.source) + Text(": ") + Text(v.summary, style=style))
    for reason in v.unverified[1:] if not v.flagged else v.unverified:
        console.print(Text("  cannot be verified: ", style=style) + plain(reason))
    if not v.globals:
        return
    columns = (Column("global"), Column("status", no_wrap=True), Column("named", numeric=True, drop=1),
               Column("called", numeric=True, drop=1), Column("why"))
    rows: list[list[Cell]] = [[plain(g.qualname), Text(g.status, style=GLOBAL_STYLE[g.status]),
                               str(g.count), str(g.calls), g.reason] for g in v.globals]
    console.print(table(console, columns, rows, box=False, padding=(0, 2)))
