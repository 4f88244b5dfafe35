"""Famous models whose weights and config are not published: asked about by name, they get a plain
statement and the public estimates with their sources (``closed.csv``), never a file error.

One row per model: name, other names (space-separated), vendor, what is known about the size (in
words, saying who estimated it), and the source URLs (" ; "-separated). A figure the vendor itself
published (GPT-3's 175B, PaLM's 540B) says so; an outside estimate says whose it is.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path

from paramscope.errors import SourceError
from paramscope.records import record

FILE = "closed.csv"


@record
class ClosedModel:
    name: str
    aliases: tuple[str, ...]
    vendor: str
    estimate: str  # in words, with whose estimate it is
    sources: tuple[str, ...]

    @property
    def statement(self) -> str:
        """The one line a user gets for ``inspect`` / ``size`` of it."""
        return (f"{self.name}: a closed model ({self.vendor}): no weights or config are published, so there "
                f"is nothing to read or size. Size: {self.estimate} ({'; '.join(self.sources)}). "
                "See `paramscope catalogue` for the models that open by name.")


class ClosedModelError(SourceError):
    """A closed model was named as a source: the message is its plain statement."""


@cache
def closed_models() -> dict[str, ClosedModel]:
    """Every closed model by its name and each alias, lowercase."""
    text = (Path(__file__).parent / FILE).read_text(encoding="utf-8")
    out: dict[str, ClosedModel] = {}
    for row in csv.DictReader(io.StringIO(text)):
        m = ClosedModel(row["name"], tuple(row["aliases"].split()), row["vendor"], row["estimate"],
                        tuple(s.strip() for s in row["source"].split(" ; ") if s.strip()))
        for key in (m.name, *m.aliases):
            out.setdefault(key.lower(), m)
    return out


def entries() -> list[ClosedModel]:
    return list(dict.fromkeys(closed_models().values()))


def find(name: str) -> ClosedModel | None:
    """The closed model a name (any case, with or without the vendor as ``org/``) means, or None."""
    key = name.strip().lower()
    key = key.rpartition("/")[2] if key.count("/") == 1 else key
    return closed_models().get(key)
