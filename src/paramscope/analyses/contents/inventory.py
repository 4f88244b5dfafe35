"""What is inside: exact parameter counts and where they live, from the neutral Model only.

Conventions (docs/formulas.md states each with its source):
- A parameter is a trained number: logical count of each ``Tensor`` (packed formats count the weights
  they represent); buffers and quantization side data count 0.
- Tied embeddings count once: when the config says the head is tied and a file stores both, the head
  is left out of the totals.
- Active parameters per token = everything outside the routed experts (embedding and head included,
  as Mistral counts) + shared experts + routed experts × (experts per token / experts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple

from paramscope.gcpause import gc_paused
from paramscope.knowledge.roles import Placement, place
from paramscope.model import DType, Model, Tensor
from paramscope.model.memo import ModelMemo
from paramscope.records import field, record
from paramscope.units import size_label

# Display order of the component tree; anything else sorts after, alphabetically.
COMPONENT_ORDER = ("embedding", "attention", "ffn", "shared_experts", "router", "experts", "norm",
                   "output", "vision", "audio", "projector", "other")
ACTIVE_CONVENTION = ("active = all parameters outside routed experts (embedding and output head "
                     "included) + shared experts + routed experts × experts_per_token / experts, less the "
                     "multi-token-prediction layers a checkpoint stores")


@record
class Tally:
    """Parameters, bytes and tensors of one component or dtype, with its share of the model."""

    params: int = 0
    bytes: int = 0
    tensors: int = 0
    share: float = 0.0  # of the model's total parameters


@record
class TensorRow:
    """One tensor with its placement and logical parameter count."""

    tensor: Tensor
    placement: Placement
    counted: bool  # False for a tied head stored twice
    params: int  # the tensor's logical parameters, computed once


@record
class Inventory:
    """Every tensor placed and counted: totals, by component, by dtype, by layer."""

    model: Model
    rows: tuple[TensorRow, ...]
    total_params: int
    active_params: int
    label: str
    active_label: str
    weights_bytes: int
    by_dtype: dict[str, Tally]
    by_component: dict[str, Tally]  # path-keyed tree with subtotals: "attention/q", "attention", "total"
    by_role: dict[str, Tally]
    by_layer: dict[int, dict[str, Tally]]  # layer → top-level component → tally, plus "total"
    notes: tuple[str, ...] = field(default_factory=tuple)
    active_convention: str = ACTIVE_CONVENTION

    @property
    def tensor_count(self) -> int:
        return len(self.rows)

    @property
    def non_parameter_tensors(self) -> tuple[Tensor, ...]:
        return tuple(r.tensor for r in self.rows if not r.tensor.is_parameter)


# `fit` asks for one model's inventory several times (offload, speed, each plan's decode bound), each a walk
# over every tensor: 1.2 s a time for DeepSeek-V3's 90k.
_MEMO: ModelMemo[Inventory] = ModelMemo(2)


def inventory(model: Model) -> Inventory:
    return _MEMO.get(model, None, lambda: _inventory(model))


@gc_paused
def _inventory(model: Model) -> Inventory:
    rows, notes = _rows(model)
    kinds = _kinds(r for r in rows if r.counted)
    total = sum(acc[0] for acc in kinds.values())
    by_dtype = _group(kinds, lambda k: [k.dtype.value], total)
    by_component = _group(kinds, lambda k: _ancestors(k.component), total)
    by_role = _group(kinds, lambda k: [k.role] if k.is_parameter else [], total)
    by_layer = _layers(kinds, total)
    active = _active(model, rows, by_component, total)
    return Inventory(
        model=model,
        rows=tuple(rows),
        total_params=total,
        active_params=active,
        label=size_label(total),
        active_label=size_label(active),
        weights_bytes=sum(r.tensor.nbytes for r in rows),
        by_dtype=_sorted(by_dtype, key=lambda kv: -kv[1].bytes),
        by_component=_sorted(by_component, key=lambda kv: _component_key(kv[0])),
        by_role=_sorted(by_role, key=lambda kv: -kv[1].params),
        by_layer=by_layer,
        notes=tuple(notes),
    )


def _rows(model: Model) -> tuple[list[TensorRow], list[str]]:
    placements = [place(t.name) for t in model.tensors]
    notes: list[str] = []
    tied = model.config is not None and model.config.tied_embeddings
    embed_shapes = {t.shape for t, p in zip(model.tensors, placements, strict=True)
                    if p.component == "embedding"}
    rows = []
    for t, p in zip(model.tensors, placements, strict=True):
        counted = True
        if tied and p.component == "output" and t.shape in embed_shapes:
            counted = False
            notes.append(f"{t.name} is tied to the embedding and counted once")
        rows.append(TensorRow(t, p, counted, t.params))
    notes.extend(str(w) for w in model.metadata.get("warnings", ()))
    counted_as = model.config.extra.get("counted_as") if model.config is not None else None
    if counted_as:  # the config's model_type names another family than its architectures[0] is
        notes.append(f"counted as {counted_as}")
    notes.extend(_mtp_note(model))
    skipped = [r.tensor.name for r in rows if not r.tensor.is_parameter]
    if skipped:
        from paramscope.errors import and_more

        notes.append(f"not parameters (buffers, quantization scales): {and_more(skipped)}")
    return rows, notes


def _mtp_note(model: Model) -> tuple[str, ...]:
    """The checkpoint's multi-token-prediction layers, where its files hold them (knowledge/families/
    mtp.py): counted, and said, since no engine loads them with the model."""
    from paramscope.knowledge.families.mtp import model_mtp_tensors, mtp_layer_name

    mtp = model_mtp_tensors(model)
    if not mtp:
        return ()
    layers = filter(None, (mtp_layer_name(t.name) for t in mtp))
    where = sorted({f"{prefix}{index}" for prefix, index in layers})
    return (f"{', '.join(where) or 'mtp'}: the checkpoint's multi-token-prediction layer"
            f"{'s' if len(where) > 1 else ''}, {len(mtp):,} tensors, {sum(t.params for t in mtp):,} "
            f"parameters, {sum(t.nbytes for t in mtp):,} bytes, counted here (not as active); vLLM, SGLang, "
            f"transformers and llama.cpp leave them out of the model (vLLM loads them as a drafter with "
            f"--speculative-config method mtp)",)


@lru_cache(maxsize=256)
def _ancestors(path: str) -> tuple[str, ...]:
    parts = path.split("/")
    return (*("/".join(parts[: i + 1]) for i in range(len(parts))), "total")


class _Kind(NamedTuple):
    """What the tallies read of a row."""

    component: str
    role: str
    layer: int | None
    dtype: DType
    is_parameter: bool


def _kinds(rows: Iterable[TensorRow]) -> dict[_Kind, list[int]]:
    """[parameters, bytes, tensors] of the rows of each kind, in the order the rows first show each kind.

    The tallies are sums over kinds, not rows (DeepSeek-V3: 90k rows of 1.5k kinds, 0.3 s less); a tally's
    key first shows with the first kind that has it, so the tallies keep the order summing rows gives."""
    sums: dict[tuple[str, str, int | None, DType, bool], list[int]] = {}
    for r in rows:
        p, t = r.placement, r.tensor
        key = (p.component, p.role, p.layer, t.dtype, t.is_parameter)
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0, 0, 0]
        acc[0] += r.params
        acc[1] += t.nbytes
        acc[2] += 1
    return {_Kind(*k): acc for k, acc in sums.items()}


def tallies(sums_in: Iterable[tuple[str, int, int, int]], total: int | None = None) -> dict[str, Tally]:
    """(key, parameters, bytes, tensors) summed per key, keys in the order first seen; each key's share
    of ``total`` parameters (default: the sum of them all)."""
    sums: dict[str, list[int]] = {}
    for key, params, nbytes, tensors in sums_in:
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0, 0, 0]
        acc[0] += params
        acc[1] += nbytes
        acc[2] += tensors
    if total is None:
        total = sum(acc[0] for acc in sums.values())
    return {k: Tally(p, b, n, p / total if total else 0.0) for k, (p, b, n) in sums.items()}


def _group(kinds: dict[_Kind, list[int]], keys: Callable[[_Kind], Iterable[str]],
           total: int) -> dict[str, Tally]:
    return tallies(((k, params, nbytes, tensors) for kind, (params, nbytes, tensors) in kinds.items()
                    for k in keys(kind)), total)


def _layers(kinds: dict[_Kind, list[int]], total: int) -> dict[int, dict[str, Tally]]:
    by_layer: dict[int, dict[_Kind, list[int]]] = {}
    for kind, acc in kinds.items():
        if kind.layer is not None:
            by_layer.setdefault(kind.layer, {})[kind] = acc
    return {i: _group(by_layer[i], lambda k: (k.component.split("/")[0], "total"), total)
            for i in sorted(by_layer)}


def _active(model: Model, rows: list[TensorRow], by_component: dict[str, Tally], total: int) -> int:
    from paramscope.knowledge.families.mtp import model_mtp_tensors

    cfg = model.config
    # the model's forward never runs the MTP layers its checkpoint stores, wherever they sit: a module of
    # their own, layers numbered after the trunk's (DeepSeek-V3's model.layers.61, a GGUF's last block),
    # or, where no config says which, the roles' "mtp" component
    mtp = {id(t) for t in model_mtp_tensors(model)}
    if mtp:
        kept = _kinds(r for r in rows if r.counted and id(r.tensor) not in mtp)
        total = sum(acc[0] for acc in kept.values())
        by_component = _group(kept, lambda k: _ancestors(k.component), total)
    total -= by_component.get("mtp", Tally()).params
    routed = by_component.get("experts", Tally()).params
    if cfg is None or not cfg.n_experts or not routed:
        return total
    # every routed expert has the same shape, so this division is exact
    return total - routed + routed * cfg.n_experts_per_token // cfg.n_experts


def _component_key(path: str) -> tuple:
    if path == "total":
        return (len(COMPONENT_ORDER) + 1, "")
    top = path.split("/")[0]
    rank = COMPONENT_ORDER.index(top) if top in COMPONENT_ORDER else len(COMPONENT_ORDER)
    return (rank, path)


def _sorted(d: dict[str, Tally], key) -> dict[str, Tally]:
    return dict(sorted(d.items(), key=key))
