"""``paramscope inspect``: what is inside a model (counts by component, layer and stored type)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source, remote_json
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.analyses.contents.inventory import Inventory
    from paramscope.analyses.safety.pickle_safety import Verdict
    from paramscope.model import Model


@record
class InspectRequest:
    """`inspect`'s arguments."""

    source: Source
    tensors: bool = False  # list every tensor
    layers: bool = False  # parameters per layer


@record
class InspectResult:
    """`inspect`'s answer: the model, its inventory and the safety verdict."""

    request: InspectRequest
    model: Model
    inventory: Inventory
    safety: Verdict | None  # None unless the file is pickle-based

    @property
    def exit_code(self) -> int:
        """2 when loading the file could run code (docs/security.md), else 0."""
        return self.safety.exit_code if self.safety else 0

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.shapes import inventory_json

        out = inventory_json(self.inventory, tensors=self.request.tensors, layers=self.request.layers)
        if self.safety:
            from paramscope.app.scan import verdict_json

            out["pickle_safety"] = verdict_json(self.safety)
        return out | remote_json(self.model)


def inspect(source: Source | InspectRequest, **options: Any) -> InspectResult:
    """What is inside ``source``: ``paramscope.inspect("model.gguf", layers=True).inventory.total_params``."""
    from paramscope.analyses.contents.inventory import inventory

    req = source if isinstance(source, InspectRequest) else InspectRequest(source, **options)
    model = open_source(req.source)
    return InspectResult(req, model, inventory(model), _safety(model))


def _safety(model: Model) -> Verdict | None:
    """The safety line of a pickle-based model (None for any other) from ``scan``'s reading of its local
    files: every pickle they hold, not only the one the tensors come from (data after STOP, other zip
    members, frames)."""
    if "pickle_globals" not in model.metadata:  # what a pickle reader leaves; the safety check stays unloaded
        return None
    from pathlib import Path

    from paramscope.analyses.safety.pickle_safety import assess, judge
    from paramscope.app.scan import scan_file

    verdict = assess(model)
    local = [Path(f) for f in model.files if Path(f).is_file()]
    if verdict is None or not local:
        return verdict
    scans = [scan_file(p) for p in local]
    rows: dict[tuple[str, str], list[int]] = {}
    for g in (*verdict.globals, *(g for v in scans for g in v.globals)):
        row = rows.setdefault((g.module, g.name), [0, 0])
        row[0], row[1] = max(row[0], g.count), max(row[1], g.calls)
    unverified = [u if len(scans) == 1 else f"{v.source}: {u}" for v in scans for u in v.unverified]
    return judge(verdict.source, ((m, n, c, k) for (m, n), (c, k) in rows.items()), unverified=unverified)
