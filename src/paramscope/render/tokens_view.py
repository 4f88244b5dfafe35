"""``paramscope tokens`` for people and for programs: the text with coloured token boundaries, a table
of tokens, the count; and the ``--json`` shapes.

The text is shown as the tokens cut it: each token's span of the input on alternating backgrounds,
spaces as "·", tabs as "→", line breaks as "↵" (then the break itself), byte-fallback tokens as the
character followed by its bytes in ⟨⟩, tokens the tokenizer added (BOS, [CLS]) by their spelling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

from paramscope.render.text import plain
from paramscope.tokenize.core import Decoded, Token, Tokenized

BACKGROUNDS = ("on #26415e", "on #4a2f52", "on #27503a", "on #5c4424")  # cycled, token by token
KIND_STYLES = {"special": "bold yellow", "byte": "bold magenta", "user": "bold cyan", "normal": ""}
VISIBLE = {" ": "·", "\t": "→", "\n": "↵\n", "\r": "␍", "\u00a0": "⍽", "\u3000": "□"}
INLINE = VISIBLE | {"\n": "↵"}  # in table cells the line break itself is left out
GAP_STYLE = "dim"  # text no token covers (the spaces WordPiece drops)
MAX_ROWS = 200  # table rows before "(and N more)"


def render_tokens(result: Tokenized, console: Console) -> None:
    console.print(_header(result.tokenizer, result.type, result.vocab_size))
    console.print(boundaries(result))
    console.print()
    console.print(token_table(result.tokens, result.text))
    console.print(summary(result))


def render_decoded(result: Decoded, console: Console) -> None:
    console.print(_header(result.tokenizer, result.type, result.vocab_size))
    t = Table(title="IDs", title_justify="left")
    for col in ("#", "id", "token", "kind"):
        t.add_column(col, justify="right" if col in ("#", "id") else "left")
    for n, (i, spelling, kind) in enumerate(zip(result.ids, result.spellings, result.kinds, strict=True)):
        t.add_row(str(n), str(i), Text(visible(spelling, inline=True)), Text(kind, style=KIND_STYLES[kind]))
    console.print(t)
    console.print(Text("text: ", style="bold") + plain(result.text))


def boundaries(result: Tokenized) -> Text:
    """The input as the tokens cut it. Tokens sharing one span (the bytes of one character) are shown
    once, as the character and then its bytes."""
    out, text, cursor = Text(), result.text, 0
    for n, ((start, end), members) in enumerate(groupby(result.tokens, key=lambda t: (t.start, t.end))):
        tokens = list(members)
        if start == end:  # added by the tokenizer, covers nothing
            for t in tokens:
                out.append(visible(t.text, inline=True), style=KIND_STYLES["special"])
            continue
        if start > cursor:
            out.append(visible(text[cursor:start]), style=GAP_STYLE)
        style = BACKGROUNDS[n % len(BACKGROUNDS)]
        piece = visible(text[max(start, cursor):end])
        if any(t.kind == "byte" for t in tokens):
            out.append(piece, style=f"{KIND_STYLES['byte']} {style}")
            out.append("⟨" + " ".join(_byte(t.text) for t in tokens) + "⟩", style="magenta")
        else:
            out.append(piece, style=f"{KIND_STYLES[tokens[0].kind]} {style}".strip())
        cursor = max(cursor, end)
    if cursor < len(text):
        out.append(visible(text[cursor:]), style=GAP_STYLE)
    return out


def token_table(tokens: tuple[Token, ...], text: str) -> Table:
    t = Table(title="Tokens", title_justify="left")
    for col in ("#", "id", "token", "text", "span", "kind"):
        t.add_column(col, justify="right" if col in ("#", "id") else "left")
    for n, tok in enumerate(tokens[:MAX_ROWS]):
        span = visible(text[tok.start:tok.end], inline=True)
        t.add_row(str(n), str(tok.id), Text(visible(tok.text, inline=True)), Text(span),
                  f"{tok.start}–{tok.end}", Text(tok.kind, style=KIND_STYLES[tok.kind]))
    if len(tokens) > MAX_ROWS:
        t.caption = f"(and {len(tokens) - MAX_ROWS:,} more; --json lists all)"
        t.caption_justify = "left"
    return t


def summary(result: Tokenized) -> Text:
    out = Text(f"{result.count:,} tokens", style="bold")
    out.append(f"  ·  {result.characters:,} characters")
    if result.chars_per_token is not None:
        out.append(f"  ·  {result.chars_per_token:.2f} characters per token")
    added = result.count - result.text_tokens
    if added:
        out.append(f"  ({added} added by the tokenizer)", style="dim")
    return out


def visible(s: str, inline: bool = False) -> str:
    """Whitespace shown as marks (line breaks kept unless ``inline``); other control characters escaped."""
    marks = INLINE if inline else VISIBLE
    return "".join(marks.get(c) or (_escape(c) if _control(c) else c) for c in s)


def _control(c: str) -> bool:
    return (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0


def _escape(c: str) -> str:
    return c.encode("unicode_escape").decode("ascii")


@contextmanager
def progress_bar(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A transient rich progress bar on stderr (characters done of total), when ``show`` and stderr is
    a terminal; otherwise no callback at all."""
    console = Console(stderr=True)
    if not show or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("counting tokens"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("count", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _header(name: str, kind: str, vocab_size: int) -> Text:
    return (Text("tokenizer ", style="bold") + plain(name)
            + Text(f"  {kind}, {vocab_size:,} tokens", style="dim"))


def _byte(spelling: str) -> str:
    """"<0xE4>" → "E4"; other spellings as they are."""
    return spelling[3:-1] if spelling.startswith("<0x") and spelling.endswith(">") else spelling
