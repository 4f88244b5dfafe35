"""From the per-tensor figures to where the change lies (component tree, layer × component grid) and a
one-line verdict.

Verdicts, checked in this order:

- **different models**: the layer stack's shape differs (hidden size, layers, heads…), fewer than
  half of A's parameters have a counterpart in B, or the values that changed are unrelated (cosine
  of the changed tensors, weighted by energy, below ``UNRELATED_COSINE``: two trainings of one
  architecture are near-orthogonal, a fine-tune stays near 1);
- **structure only**: a side has no weights (a config or catalogue entry), so only the description
  was compared;
- **identical**: every tensor paired under its own name, same shape, same type, bit-identical;
- **same weights stored differently**: every value equal, but names, types (exact casts) or layout
  differ;
- **B is A quantized**: only tensors stored at another type changed (the types and the SNR over them);
- **B is a fine-tune of A**: tensors stored at the same type changed (which components and layers,
  how much, and whether the change of each matrix is low-rank: its rank at 99 % energy is at most a
  quarter of its smaller side).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from paramscope.analyses.contents.inventory import COMPONENT_ORDER
from paramscope.analyses.diff.structure import StructureDiff
from paramscope.analyses.diff.values import TensorDelta, ValueDiff
from paramscope.knowledge.roles import place
from paramscope.records import record

UNRELATED_COSINE = 0.5
PAIRED_SHARE = 0.5
# ArchConfig fields whose difference makes two layer stacks different models
SHAPE_FIELDS = ("hidden_size", "n_layers", "n_heads", "n_kv_heads", "head_dim_k", "ffn_size", "n_experts")
SHOWN = 4  # components / layers listed in the one-line verdict before "…"


@record
class ChangeTally:
    """Sums over a group of tensors, so relative change and SNR are weighted by energy."""

    tensors: int = 0
    changed_tensors: int = 0
    elements: int = 0
    changed: int = 0
    sum_aa: float = 0.0
    sum_dd: float = 0.0
    max_rank: int | None = None  # largest rank at 99 % among the changed matrices (None: none known)
    full_rank: int = 0  # changed matrices whose change is not low-rank

    @property
    def rel_change(self) -> float:
        if self.sum_dd == 0:
            return 0.0
        return math.sqrt(self.sum_dd / self.sum_aa) if self.sum_aa > 0 else math.inf

    @property
    def snr_db(self) -> float:
        if self.sum_dd == 0:
            return math.inf
        return 10 * math.log10(self.sum_aa / self.sum_dd) if self.sum_aa > 0 else -math.inf

    def __add__(self, o: ChangeTally) -> ChangeTally:
        ranks = [r for r in (self.max_rank, o.max_rank) if r is not None]
        return ChangeTally(self.tensors + o.tensors, self.changed_tensors + o.changed_tensors,
                           self.elements + o.elements, self.changed + o.changed, self.sum_aa + o.sum_aa,
                           self.sum_dd + o.sum_dd, max(ranks) if ranks else None,
                           self.full_rank + o.full_rank)


def tally(d: TensorDelta) -> ChangeTally:
    s = d.spectrum
    rank = s.rank99 if s is not None and s.low_rank else None
    return ChangeTally(1, 0 if d.identical else 1, d.elements, d.changed, d.sum_aa, d.sum_dd,
                       rank, 1 if s is not None and not s.low_rank else 0)


def total(deltas: Iterable[TensorDelta]) -> ChangeTally:
    return sum((tally(d) for d in deltas), ChangeTally())


@record
class Located:
    by_component: dict[str, ChangeTally]  # path-keyed tree with subtotals and "total"
    by_layer: dict[int, dict[str, ChangeTally]]  # layer → top-level component (and "total") → tally
    by_layer_detail: dict[int, dict[str, ChangeTally]]  # layer → leaf component ("attention/q") → tally


def locate(deltas: Sequence[TensorDelta]) -> Located:
    tree: dict[str, ChangeTally] = {}
    layers: dict[int, dict[str, ChangeTally]] = {}
    detail: dict[int, dict[str, ChangeTally]] = {}
    for d in deltas:
        p = place(d.name)
        t = tally(d)
        parts = p.component.split("/")
        for path in (*("/".join(parts[: i + 1]) for i in range(len(parts))), "total"):
            tree[path] = tree.get(path, ChangeTally()) + t
        if p.layer is not None:
            cells = layers.setdefault(p.layer, {})
            for key in (parts[0], "total"):
                cells[key] = cells.get(key, ChangeTally()) + t
            leaves = detail.setdefault(p.layer, {})
            leaves[p.component] = leaves.get(p.component, ChangeTally()) + t
    return Located(_sorted(tree), {i: _sorted(c) for i, c in sorted(layers.items())},
                   {i: _sorted(c) for i, c in sorted(detail.items())})


def _sorted(cells: dict[str, ChangeTally]) -> dict[str, ChangeTally]:
    return dict(sorted(cells.items(), key=lambda kv: _order(kv[0])))


def _order(path: str) -> tuple:
    if path == "total":
        return (len(COMPONENT_ORDER) + 1, "")
    top = path.split("/")[0]
    return (COMPONENT_ORDER.index(top) if top in COMPONENT_ORDER else len(COMPONENT_ORDER), path)


# --- the verdict ---------------------------------------------------------------------------------------
@record
class Verdict:
    kind: str  # "identical", "same-weights", "quantized", "fine-tune", "different", "structure-only"
    line: str  # one sentence for people


def judge(s: StructureDiff, v: ValueDiff | None) -> Verdict:
    shape = [c for c in s.hyperparameters if c.key in SHAPE_FIELDS]
    if shape:
        why = ", ".join(f"{c.key} {c.a} → {c.b}" for c in shape[:SHOWN])
        return Verdict("different", f"different models: {why}")
    share = s.paired_params / s.a.params if s.a.params else (1.0 if s.paired else 0.0)
    if share < PAIRED_SHARE:
        return Verdict("different", f"different models: only {share:.0%} of A's parameters have a "
                                    f"counterpart in B ({s.paired} of {s.a.tensors} tensors paired)")
    if v is None:
        return Verdict("structure-only", _structure_line(s))
    deltas = v.tensors
    changed = [d for d in deltas if not d.identical]
    cos = _cosine(changed)
    if changed and cos < UNRELATED_COSINE:
        return Verdict("different", f"different models: same layout, unrelated weights (cosine {cos:.2f} "
                                    f"over the {len(changed)} tensors that differ)")
    extra = _extra(s)
    if not changed:
        if s.same_layout and not s.mapping and all(d.same_bytes for d in deltas) and not v.skipped:
            meta = f"; metadata differs ({len(s.metadata)} keys)" if s.metadata else ""
            return Verdict("identical", f"identical: all {len(deltas)} tensors bit for bit{meta}")
        how = _stored_how(s, deltas)
        return Verdict("same-weights", f"same weights stored differently ({how}){extra}")
    same_type = [d for d in changed if not d.retyped]
    if not same_type:
        t = total(changed)
        types = ", ".join(f"{k} ×{n}" for k, n in _type_changes(changed).items())
        return Verdict("quantized", f"B is A quantized: {types}; SNR {_db(t.snr_db)} dB over those "
                                    f"tensors (relative error {t.rel_change:.2e}){extra}")
    return Verdict("fine-tune", _fine_tune_line(same_type, deltas, changed) + extra)


def _cosine(changed: Sequence[TensorDelta]) -> float:
    aa = sum(d.sum_aa for d in changed)
    bb = sum(d.sum_bb for d in changed)
    dd = sum(d.sum_dd for d in changed)
    if aa <= 0 or bb <= 0:
        return 1.0 if dd == 0 else 0.0
    return (aa + bb - dd) / (2 * math.sqrt(aa * bb))


def _type_changes(deltas: Iterable[TensorDelta]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in deltas:
        key = f"{d.dtype_a} → {d.dtype_b}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _db(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.1f}"


def _stored_how(s: StructureDiff, deltas: Sequence[TensorDelta]) -> str:
    parts = []
    if s.mapping:
        parts.append("names mapped to GGUF")
    if s.renamed:
        parts.append(f"{len(s.renamed)} renamed")
    if s.retyped:
        parts.append("exact casts " + ", ".join(f"{k} ×{n}" for k, n in s.type_changes.items()))
    permuted = sum(1 for d in deltas if d.transform)
    if permuted:
        parts.append(f"{permuted} tensors in the converter's layout")
    if s.metadata:
        parts.append(f"metadata differs ({len(s.metadata)} keys)")
    if s.a.format != s.b.format:
        parts.insert(0, f"{s.a.format} → {s.b.format}")
    return ", ".join(parts) or "another file"


def _extra(s: StructureDiff) -> str:
    bits = []
    if s.removed:
        bits.append(f"{len(s.removed)} tensors only in A")
    if s.added:
        bits.append(f"{len(s.added)} tensors only in B")
    if s.tokenizer is not None and not s.tokenizer.same:
        t = s.tokenizer
        bits.append(f"vocabulary {t.size_a} → {t.size_b} tokens ({t.changed} changed)")
    return "; " + "; ".join(bits) if bits else ""


def _fine_tune_line(same_type: Sequence[TensorDelta], deltas: Sequence[TensorDelta],
                    changed: Sequence[TensorDelta]) -> str:
    t = total(changed)
    where = _where(same_type, deltas)
    spectra = [d.spectrum for d in same_type if d.spectrum is not None]
    low = [sp for sp in spectra if sp.low_rank]
    if spectra and len(low) == len(spectra):
        ranks = sorted({sp.rank99 for sp in low if sp.rank99 is not None})  # low_rank implies one
        rank = f"rank {ranks[0]}" if len(ranks) == 1 else f"rank {ranks[0]}–{ranks[-1]}"
        kind = f"low-rank ({rank} at 99 % energy)"
    elif low:
        kind = f"low-rank in {len(low)} of {len(spectra)} changed matrices"
    elif spectra:
        kind = "full-rank"
    else:
        kind = "no matrix changed"
    retyped = len(changed) - len(same_type)
    more = f"; {retyped} more tensors at another type" if retyped else ""
    return (f"B is a fine-tune of A: {len(same_type)} of {len(deltas)} tensors changed ({where}), by "
            f"{t.rel_change:.2e} relative to their norm, {kind}{more}")


def _where(changed: Sequence[TensorDelta], deltas: Sequence[TensorDelta]) -> str:
    """'attention/q, attention/v in layers 1, 4' or '… in every layer'."""
    all_layers = {place(d.name).layer for d in deltas} - {None}
    by_component: dict[str, set[int]] = {}
    outside: set[str] = set()
    for d in changed:
        p = place(d.name)
        if p.layer is None:
            outside.add(p.component)
        else:
            by_component.setdefault(p.component, set()).add(p.layer)
    groups: dict[tuple[int, ...], list[str]] = {}
    for comp, layers in sorted(by_component.items(), key=lambda kv: _order(kv[0])):
        groups.setdefault(tuple(sorted(layers)), []).append(comp)
    text = []
    for ids, comps in groups.items():
        names = _listed(comps)
        if set(ids) == all_layers and len(all_layers) > 1:
            text.append(f"{names} of every layer")
        else:
            label = "layer" if len(ids) == 1 else "layers"
            text.append(f"{names} in {label} {_listed([str(i) for i in ids])}")
    if outside:
        names = _listed(sorted(outside, key=_order))
        text.append(f"outside the layers: {names}" if text else names)
    return "; ".join(text)


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _structure_line(s: StructureDiff) -> str:
    missing = " and ".join(x for x, side in (("A", s.a), ("B", s.b)) if not side.has_weights)
    bits = []
    if s.hyperparameters:
        bits.append(f"{len(s.hyperparameters)} hyperparameters differ")
    if s.removed or s.added:
        bits.append(f"{len(s.removed)} tensors only in A, {len(s.added)} only in B")
    if s.retyped:
        bits.append(f"{len(s.retyped)} tensors at another type")
    if s.reshaped:
        bits.append(f"{len(s.reshaped)} reshaped")
    layout = "; ".join(bits) or "same layout"
    why = f"{missing} has no weights" if missing else "values not compared"
    return f"same architecture, {layout} ({why})"
