"""Published pre-training token counts of catalogue models, each with where it is published.

One row of ``training.csv`` per config file: the token count as a whole number, the words the source
uses ("~15T", "up to 9T": a published figure is rounded, and the row says how), and the URL of the model
card or paper. Only figures a vendor published are kept: Mistral 7B, Mixtral, gpt-oss, GPT-2 and
Qwen1.5-MoE have none (their papers and cards give no token count), so they have no row, and a tour of
them says that nothing is published rather than guessing.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

from paramscope.records import record

FILE = "training.csv"


@record
class TrainingTokens:
    config: str  # catalogue config file, e.g. "gemma-3-270m.json"
    tokens: int  # pre-training tokens as published (rounded as the source rounds them)
    stated: str  # the source's own words for the figure
    source: str  # URL of the model card or paper


@cache
def _rows() -> dict[str, TrainingTokens]:
    text = (resources.files(__package__) / FILE).read_text(encoding="utf-8")
    return {r["config"]: TrainingTokens(r["config"], int(r["tokens"]), r["stated"], r["source"])
            for r in csv.DictReader(io.StringIO(text))}


def all_rows() -> list[TrainingTokens]:
    return list(_rows().values())


def training_tokens(name: str) -> TrainingTokens | None:
    """The published training tokens of a catalogue name or alias, or None when none are published
    (or the name is not in the catalogue)."""
    from paramscope.errors import SourceError
    from paramscope.knowledge import catalogue

    if not catalogue.has(name):
        return None
    try:
        entry = catalogue.lookup(name)
    except SourceError:  # a closed model: no config, no row
        return None
    return _rows().get(entry.file)
