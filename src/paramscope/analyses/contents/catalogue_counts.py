"""The catalogue as a table: our count from each config next to the figure its vendor published."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from paramscope.analyses.contents.inventory import inventory
from paramscope.model import Model
from paramscope.records import asdict, record


class PublishedEntry(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...
    @property
    def total_params(self) -> int | None: ...
    @property
    def active_params(self) -> int | None: ...
    @property
    def exactness(self) -> str: ...


@record
class CatalogueRow:
    name: str
    aliases: tuple[str, ...]
    architecture: str
    total_params: int
    active_params: int
    label: str
    published_total: int | None
    published_active: int | None
    exactness: str
    # our total equals the published one where it is published exactly; None where only rounded
    total_matches: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"aliases": list(self.aliases)}


def catalogue_rows(pairs: Iterable[tuple[PublishedEntry, Model]]) -> list[CatalogueRow]:
    rows = []
    for entry, model in pairs:
        inv = inventory(model)
        exact = entry.exactness.startswith("exact") and entry.total_params is not None
        rows.append(CatalogueRow(
            name=entry.name, aliases=tuple(entry.aliases),
            architecture=model.config.architecture if model.config else "",
            total_params=inv.total_params, active_params=inv.active_params, label=inv.label,
            published_total=entry.total_params, published_active=entry.active_params,
            exactness=entry.exactness,
            total_matches=(inv.total_params == entry.total_params) if exact else None,
        ))
    return rows
