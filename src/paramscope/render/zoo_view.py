"""``paramscope zoo``: the summary of a zoo's table (the table itself is the Parquet dataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from paramscope.render.table import Column, table
from paramscope.render.text import plain
from paramscope.units import bytes_label, size_label

if TYPE_CHECKING:
    from paramscope.app.zoo import ZooResult

HASH_SHOWN = 12  # hex digits of a content hash shown (--json has all 64)


def render_zoo(result: ZooResult, console: Console) -> None:
    s, st = result.summary, result.stats
    console.print(Text.assemble(
        (f"{s.files:,} files", "bold"), f" ({s.models:,} models), {bytes_label(s.bytes)} on disk, ",
        (f"{size_label(s.params)} parameters", "bold cyan"), f", {s.tensors:,} tensors"))
    if st is None:
        console.print(Text(f"read back from {result.request.out} (no model file read again)", style="dim"))
    else:
        rate = f", {bytes_label(int(st.bytes_hashed / st.seconds))}/s" if st.seconds > 0 else ""
        console.print(Text(f"this run: {st.files_read:,} files read, {st.files_resumed:,} resumed from "
                           f"{result.request.out}; {bytes_label(st.bytes_hashed)} hashed in "
                           f"{st.seconds:.1f} s{rate} on {_n(st.workers, 'worker')} "
                           f"({_n(st.threads, 'thread')})", style="dim"))
    if s.by_family:
        console.print(table(console, (Column("family"), Column("files", numeric=True),
                                      Column("models", numeric=True), Column("parameters", numeric=True),
                                      Column("on disk", numeric=True)),
                            [[plain(f.family or "(unknown)"), f"{f.files:,}", f"{f.models:,}",
                              size_label(f.params), bytes_label(f.bytes)] for f in s.by_family],
                            title="by family"))
    if s.by_type:
        console.print(table(console, (Column("stored type"), Column("tensors", numeric=True),
                                      Column("bytes", numeric=True)),
                            [[t.dtype, f"{t.tensors:,}", bytes_label(t.bytes)] for t in s.by_type],
                            title="by stored type"))
    _duplicates(result, console)
    if s.unsafe:
        console.print(table(console, (Column("could run code on loading"), Column("globals")),
                            [[plain(n.name), plain(n.detail)] for n in s.unsafe],
                            title=f"{len(s.unsafe)} unsafe files"))
    if s.errors:
        console.print(table(console, (Column("could not be read"), Column("why")),
                            [[plain(n.name), plain(n.detail)] for n in s.errors],
                            title=f"{len(s.errors)} files with errors"))


def _duplicates(result: ZooResult, console: Console) -> None:
    s = result.summary
    console.print(Text.assemble(
        "duplicates: ", (f"{s.shared_tensors:,}", "bold"), " tensors shared across files, ",
        f"{s.duplicate_copies:,} copies; deduplication would save ",
        (bytes_label(s.dedup_saved_bytes), "bold"),
        f" of {bytes_label(s.bytes_hashed)} hashed"))
    if s.top_shared:
        console.print(table(console, (Column("content", no_wrap=True), Column("size", numeric=True),
                                      Column("copies", numeric=True), Column("files", numeric=True),
                                      Column("names", drop=1)),
                            [[t.hash[:HASH_SHOWN], bytes_label(t.nbytes), f"{t.copies:,}", f"{t.files:,}",
                              plain(", ".join(t.names))] for t in s.top_shared],
                            title="the duplicates that cost most"))
    if s.same_model:
        console.print(table(console, (Column("group", numeric=True), Column("files")),
                            [[str(i), _lines(g.names)] for i, g in enumerate(s.same_model, 1)],
                            title=f"the same model, every tensor equal: {len(s.same_model)} groups"))
    if s.same_base:
        console.print(table(console, (Column("group", numeric=True), Column("files"),
                                      Column("shared", numeric=True)),
                            [[str(i), _lines(g.names), f"≥ {g.share:.0%}"]
                             for i, g in enumerate(s.same_base, 1)],
                            title=f"the same base, most tensor bytes equal: {len(s.same_base)} groups"))


def _lines(names: tuple[str, ...]) -> Text:
    """One name a line (each shown literally)."""
    return Text("\n").join(plain(n) for n in names)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


HTML_WIDTH = 120  # columns the page's tables are laid out at


def zoo_html(result: ZooResult) -> str:
    """The summary's tables, as the terminal shows them, as one HTML page with no script (rich escapes
    every text): `zoo --html` and `report` of a zoo dataset."""
    import io

    page = Console(record=True, width=HTML_WIDTH, file=io.StringIO(), highlight=False)
    render_zoo(result, page)
    return page.export_html(inline_styles=True)
