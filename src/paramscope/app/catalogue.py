"""``paramscope catalogue``: the well-known models that open by name, our count beside the published one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paramscope.analyses.contents.catalogue_counts import CatalogueRow


@dataclass(frozen=True, slots=True)
class CatalogueResult:
    rows: tuple[CatalogueRow, ...]
    exit_code: int = 0

    def to_json(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rows]


def catalogue() -> CatalogueResult:
    from paramscope.analyses.contents.catalogue_counts import catalogue_rows
    from paramscope.knowledge import catalogue as cat

    return CatalogueResult(tuple(catalogue_rows((e, cat.open_entry(e.name)) for e in cat.entries())))
