"""The catalogue as a table: our count from each config next to the figure its vendor published."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, Protocol

from paramscope.analyses.contents.inventory import inventory
from paramscope.model import Model
from paramscope.model.memo import ModelMemo
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


# Each entry's counts, by Model: the inventory memo keeps two models' inventories, so every `catalogue`
# (a server's page, the API beside the CLI) counted all the entries again (0.6-1 CPU-s), though the
# catalogue keeps their Models (its last 32, as here).
_COUNTS: ModelMemo[tuple[int, int, str]] = ModelMemo(32)


def _counts(model: Model) -> tuple[int, int, str]:
    inv = inventory(model)
    return inv.total_params, inv.active_params, inv.label


def catalogue_rows(pairs: Iterable[tuple[PublishedEntry, Model]]) -> list[CatalogueRow]:
    rows = []
    for entry, model in pairs:
        total, active, label = _COUNTS.get(model, None, partial(_counts, model))
        exact = entry.exactness.startswith("exact") and entry.total_params is not None
        rows.append(CatalogueRow(
            name=entry.name, aliases=tuple(entry.aliases),
            architecture=model.config.architecture if model.config else "",
            total_params=total, active_params=active, label=label,
            published_total=entry.total_params, published_active=entry.active_params,
            exactness=entry.exactness,
            total_matches=(total == entry.total_params) if exact else None,
        ))
    return rows
