"""``paramscope catalogue``: the well-known models that open by name, our count beside the published one;
and the famous closed models, with what is publicly known of their size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.contents.catalogue_counts import CatalogueRow
    from paramscope.knowledge.catalogue.closed import ClosedModel


@record
class CatalogueResult:
    rows: tuple[CatalogueRow, ...]
    closed: tuple[ClosedModel, ...] = ()
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"models": [r.as_dict() for r in self.rows],
                "closed": [{"name": c.name, "aliases": list(c.aliases), "vendor": c.vendor,
                            "estimate": c.estimate, "sources": list(c.sources)} for c in self.closed]}


def catalogue() -> CatalogueResult:
    from paramscope.analyses.contents.catalogue_counts import catalogue_rows
    from paramscope.knowledge import catalogue as cat
    from paramscope.knowledge.catalogue import closed

    rows = tuple(catalogue_rows((e, cat.open_entry(e.name)) for e in cat.entries()))
    return CatalogueResult(rows, tuple(closed.entries()))
