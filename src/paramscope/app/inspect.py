"""``paramscope inspect``: what is inside a model (counts by component, layer and stored type)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source, open_source, remote_json

if TYPE_CHECKING:
    from paramscope.analyses.contents.inventory import Inventory
    from paramscope.analyses.safety.pickle_safety import Verdict
    from paramscope.model import Model


@dataclass(frozen=True, slots=True)
class InspectRequest:
    source: Source
    tensors: bool = False  # list every tensor
    layers: bool = False  # parameters per layer


@dataclass(frozen=True, slots=True)
class InspectResult:
    request: InspectRequest
    model: Model
    inventory: Inventory
    safety: Verdict | None  # None unless the file is pickle-based

    @property
    def exit_code(self) -> int:
        """2 when loading the file could run code (docs/security.md), else 0."""
        return self.safety.exit_code if self.safety else 0

    def to_json(self) -> dict[str, Any]:
        from paramscope.app.scan import verdict_json
        from paramscope.app.shapes import inventory_json

        out = inventory_json(self.inventory, tensors=self.request.tensors, layers=self.request.layers)
        if self.safety:
            out["pickle_safety"] = verdict_json(self.safety)
        return out | remote_json(self.model)


def inspect(source: Source | InspectRequest, **options: Any) -> InspectResult:
    """What is inside ``source``: ``paramscope.inspect("model.gguf", layers=True).inventory.total_params``."""
    from paramscope.analyses.contents.inventory import inventory
    from paramscope.analyses.safety.pickle_safety import assess

    req = source if isinstance(source, InspectRequest) else InspectRequest(source, **options)
    model = open_source(req.source)
    return InspectResult(req, model, inventory(model), assess(model))
