"""Weights re-priced at another precision or quantization, tensor by tensor, with exact block arithmetic.

``reprice(model, "q4_k_m")`` answers "how many bytes would these weights take as …?" for every scheme
of knowledge/quant_schemes.py (docs/quantization.md states each convention and its source):

- llama.cpp file types assign each tensor a type the way ``llama_tensor_get_type`` in llama-quant.cpp
  does: the rules see the tensor's category (from ``roles.place()``, so GGUF and Hugging Face names both
  work), its row length, the running per-category counters in llama.cpp's tensor order, GQA, experts;
  then rows that are not a whole number of blocks fall back (``tensor_type_fallback``). Tensors llama.cpp
  never quantizes (1-D, norms, biases, routers, position embeddings) keep their GGUF type, or F32 — what
  convert_hf_to_gguf.py writes — for a model read from another format.
- Plain casts (fp32/bf16/fp16) convert every parameter; plain quantizations (fp8, int8, int4, nf4)
  quantize the decoder's linear weights, side data included, and leave the rest as stored.
- A tied output head stored twice is priced once (runtimes hold one copy); the source's own quantization
  side data (GPTQ scales, FP8 scale_inv …) is dropped, since the new scheme brings its own; buffers
  (position_ids, rope_freqs) keep their stored bytes.

Totals are derived from the rows; bits per weight = 8 × bytes / parameters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from operator import attrgetter
from typing import cast

from paramscope.analyses.contents.inventory import Tally, tallies
from paramscope.errors import UnsupportedError, and_more
from paramscope.gcpause import gc_paused
from paramscope.knowledge import packing
from paramscope.knowledge import quant_schemes as qs
from paramscope.knowledge.config_tensors import unloaded_buffers
from paramscope.knowledge.roles import Placement, place
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.model.memo import ModelMemo
from paramscope.records import field, record, replace


@record
class PricedTensor:
    """One tensor at the re-pricing scheme: its type and bytes beside the stored ones."""

    name: str
    component: str
    layer: int | None
    shape: tuple[int, ...]  # logical, row-major: packed containers unpacked
    params: int
    stored_type: str
    type: str  # a DType value ("Q6_K", "BF16") or a plain scheme's label ("I4/g128")
    bytes: int
    why: str = ""  # the rule that chose the type, when it is not the scheme's default


@record
class Repriced:
    """The model's weights re-priced at one scheme, tensor by tensor."""

    scheme: str  # canonical name: "Q4_K_M", "Q4_K (pure)", "bf16", "int4"
    kind: str  # "llama.cpp" file type, "ggml" single type, or "plain"
    description: str
    rows: tuple[PricedTensor, ...]
    source_bytes: int  # the model's stored tensor bytes, for comparison
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.rows)

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.total_bytes / self.params if self.params else 0.0

    @property
    def by_type(self) -> dict[str, Tally]:
        """Type → params, bytes, tensors, share of parameters; largest bytes first."""
        return _by_type((r.type, r.params, r.bytes, 1) for r in self.rows)


@record
class RepricedTotals:
    """A re-pricing's sums without its rows: the figures `size` and `fit` show, equal to Repriced's."""

    scheme: str
    kind: str
    description: str
    by_type: dict[str, Tally]  # as Repriced.by_type
    total_bytes: int
    params: int
    source_bytes: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.total_bytes / self.params if self.params else 0.0


def _by_type(sums_in: Iterable[tuple[str, int, int, int]]) -> dict[str, Tally]:
    """(type, params, bytes, tensors) → type → Tally, largest bytes first (ties: first seen first)."""
    return dict(sorted(tallies(sums_in).items(), key=lambda kv: -kv[1].bytes))


# One unit's price: its type's name, bytes, and the rule that chose the type ("" for the default).
# Units of one kind share one cell: DeepSeek-V3's 90k tensors are a few hundred kinds.
_Cell = tuple[str, int, str]

# DType → its name, as a dict read at C speed: an enum's .value is a descriptor call, and the rows read
# one per tensor (363k for `fit deepseek-v3`)
_NAMES = {d: d.value for d in DType}
_PARAMS = attrgetter("params")


@record
class _Unit:
    """One weight to re-price: the tensor, where it sits, its logical shape and parameters."""

    tensor: Tensor
    placement: Placement
    shape: tuple[int, ...]
    params: int


@gc_paused  # builds a record per tensor (363k for `fit deepseek-v3`'s schemes), all kept
def reprice(model: Model, scheme: str, *, imatrix: bool | None = None) -> Repriced:
    """The model's weights at ``scheme``, tensor by tensor.

    ``imatrix`` says whether a llama.cpp quantization used an importance matrix (it changes a few rules
    of IQ3_XXS, IQ4_NL/IQ4_XS, Q4_0/Q5_0); by default, only for the file types that require one.
    """
    plan = _plan(model, scheme, imatrix)
    rows = tuple(PricedTensor(u.tensor.name, u.placement.component, u.placement.layer, u.shape, u.params,
                              _NAMES[u.tensor.dtype], type_, nbytes, why)
                 for u, (type_, nbytes, why) in zip(plan.units, plan.cells, strict=True))
    return Repriced(plan.scheme, plan.kind, plan.description, rows, model.tensor_bytes, plan.notes)


def reprice_totals(model: Model, scheme: str, *, imatrix: bool | None = None) -> RepricedTotals:
    """``reprice``'s sums (by type, total bytes and parameters) without a record per tensor: `fit` prices
    a model at a dozen schemes and shows only these."""
    plan = _plan(model, scheme, imatrix)
    # units of one kind share a cell: count each (cell, parameters) pair (in C), then sum the few distinct
    counts = Counter(zip(plan.cells, map(_PARAMS, plan.units), strict=True))
    by_type = _by_type((type_, params * n, nbytes * n, n)
                       for ((type_, nbytes, _), params), n in counts.items())
    return RepricedTotals(plan.scheme, plan.kind, plan.description, by_type,
                          sum(t.bytes for t in by_type.values()), sum(t.params for t in by_type.values()),
                          model.tensor_bytes, plan.notes)


def gguf_type_counts(model: Model, scheme: str, *, imatrix: bool | None = None) -> dict[str, int]:
    """The tensors of the GGUF file llama-quantize would write at the llama.cpp ``scheme``, counted by type
    as llama.cpp prints them on loading ("llama_model_loader: - type q4_K: 193 tensors"), largest count
    first. Hugging Face per-expert matrices count as the one merged tensor each becomes; the vision and
    audio towers (a separate mmproj file) are left out."""
    plan = _plan(model, scheme, imatrix)
    if plan.kind == "plain":
        raise UnsupportedError(f"{plan.scheme} is not a llama.cpp type: no GGUF to count")
    units = plan.units
    quantizable = [_gguf_quantizable(u) for u in units]
    # a quantized group is one GGUF tensor; every unit llama.cpp keeps is one
    firsts = [g[0] for g in _ggml_tensors(units, quantizable)]
    firsts += [i for i, q in enumerate(quantizable) if not q]
    counts = Counter(plan.cells[i][0] for i in firsts
                     if units[i].placement.component not in qs.MMPROJ_COMPONENTS)
    return dict(counts.most_common())


@record
class _Plan:
    """A re-pricing before its rows: the scheme's names, the units and each one's price."""

    scheme: str
    kind: str
    description: str
    units: list[_Unit]
    cells: list[_Cell]  # one per unit
    notes: tuple[str, ...]


def _plan(model: Model, scheme: str, imatrix: bool | None) -> _Plan:
    found = qs.lookup(scheme)
    if found is None:
        raise UnsupportedError(f"unknown weight scheme {scheme!r} (known: {', '.join(qs.known_schemes())})")
    units, notes = _units(model)
    notes = [*_requantized_note(model), *notes]
    if isinstance(found, qs.PlainScheme):
        half = _half_dtype(model)
        cells = [_plain(u, found, half) for u in units]
        return _Plan(found.name, "plain", found.description, units, cells,
                     (*notes, *_plain_notes(found, half)))
    if isinstance(found, qs.FileType):
        use_imatrix = found.uses_imatrix if imatrix is None else imatrix
        cells, more = _llamacpp(model, units, found.default, found, use_imatrix)
        desc = (f"llama.cpp {found.label} (file type {found.ftype}): {found.default.value} by default, "
                "per-tensor types as llama_tensor_get_type assigns them")
        return _Plan(found.label, "llama.cpp", desc, units, cells, (*notes, *more))
    cells, more = _llamacpp(model, units, found.dtype, None, False)
    desc = f"every quantizable tensor in {found.dtype.value} (llama-quantize --pure), with its fallbacks"
    return _Plan(f"{found.dtype.value} (pure)", "ggml", desc, units, cells, (*notes, *more))


# --- the tensors a re-priced model holds ---------------------------------------------------------------
def _units(model: Model) -> tuple[list[_Unit], list[str]]:
    # `fit` re-prices one model at a dozen schemes: its units are derived once (a Model is frozen, so
    # the same object has the same units; one entry, so nothing piles up in a long-running server)
    global _LAST_UNITS
    last = _LAST_UNITS
    if last is not None and last[0] is model:
        return list(last[1]), list(last[2])
    units, notes = _derive_units(model)
    _LAST_UNITS = (model, tuple(units), tuple(notes))
    return units, notes


_LAST_UNITS: tuple[Model, tuple[_Unit, ...], tuple[str, ...]] | None = None


def _derive_units(model: Model) -> tuple[list[_Unit], list[str]]:
    placements = [place(t.name) for t in model.tensors]
    tied = model.config is not None and model.config.tied_embeddings
    embed_shapes = {t.shape for t, p in zip(model.tensors, placements, strict=True)
                    if p.component == "embedding"}
    method = _quant_method(model)
    unloaded = {t.name for t in unloaded_buffers(model.tensors)}
    units, side, twins, dropped = [], [], [], []
    for t, p in zip(model.tensors, placements, strict=True):
        if t.name in unloaded:
            dropped.append(t.name)
        elif _is_side_data(t):
            side.append(t.name)
        elif tied and p.component == "output" and t.shape in embed_shapes:
            twins.append(t.name)
        else:
            units.append(_Unit(t, p, _logical_shape(t, method), t.params))
    notes = []
    if twins:
        notes.append(f"{', '.join(twins)} is tied to the embedding: priced once, as the embedding")
    if dropped:  # knowledge/config_tensors.UNLOADED_BUFFERS
        notes.append(f"left out {len(dropped)} buffers the source holds and no engine loads "
                     f"({and_more(dropped)})")
    if side:
        notes.append(f"dropped the source's quantization side data ({len(side)} tensors: "
                     f"{and_more(side)}); the new scheme's own is priced per tensor")
    return units, notes


def _quant_method(model: Model) -> str | None:
    return model.quantization.method if model.quantization else None


def _requantized_note(model: Model) -> list[str]:
    """What re-pricing an already-quantized checkpoint assumes."""
    q = model.quantization
    if q is None or q.method == "gguf":
        return []
    return [f"the source is already quantized ({q.label}, from {q.declared_in}): re-priced from its logical "
            "parameters (packed weights unpacked), as if they were the original unquantized weights; "
            "quantizing them again compounds the error. Its modules left unquantized are re-priced like "
            "the rest. For the bytes the checkpoint holds, omit --weights (priced as stored)"]


def _is_side_data(t: Tensor) -> bool:
    """Quantization side data of the source (a non-parameter only a quantization method writes)."""
    return not t.is_parameter and ("." + t.name).endswith(_SIDE_SUFFIXES)


# every suffix of a convention that only a quantization method writes, as one tuple for str.endswith
_SIDE_SUFFIXES = tuple(s for c in packing.CONVENTIONS if c.methods and not c.parameter for s in c.suffixes)


def _logical_shape(t: Tensor, method: str | None) -> tuple[int, ...]:
    """The weight matrix a packed container holds, (…, out, in) like an unpacked Linear weight."""
    if not t.weight_bits or not t.shape:
        return t.shape
    container = t.dtype.type_size * 8

    def widen(n: int) -> int:  # n containers → the weights they hold (3-bit words: 32 in every 3)
        return n * container // t.weight_bits

    if t.name.endswith("_blocks") and len(t.shape) >= 2:  # MXFP4 (…, out, in / 32, 16 bytes)
        return (*t.shape[:-2], widen(t.shape[-2] * t.shape[-1]))
    if t.name.endswith(".qweight") and len(t.shape) == 2:
        # GPTQ packs along the inputs (in / 8, out); AWQ along the outputs (in, out / 8)
        rows, cols = t.shape
        return (cols, widen(rows)) if method == "gptq" else (widen(cols), rows)
    return (*t.shape[:-1], widen(t.shape[-1]))


# --- plain schemes -------------------------------------------------------------------------------------
def _plain(u: _Unit, s: qs.PlainScheme, half: DType) -> _Cell:
    t = u.tensor
    if not t.is_parameter:
        return _NAMES[t.dtype], t.nbytes, "buffer: kept as stored"
    if s.cast is not None:
        return _NAMES[s.cast], s.cast.nbytes(u.params), ""
    if s.matrix_bytes is not None and _plain_quantized(u, s):
        m = math.prod(u.shape[:-2])
        return s.label, s.matrix_bytes(m, u.shape[-2], u.shape[-1]), ""
    return _NAMES[half], half.nbytes(u.params), f"not quantized by {s.name}"


def _half_dtype(model: Model) -> DType:
    """The model's 16-bit dtype, which the parts a quantization leaves alone are loaded in: BF16 for a
    model stored mostly in BF16, F16 otherwise (vLLM dtype="auto"; transformers' default with
    bitsandbytes is F16)."""
    by_dtype: dict[DType, int] = {}
    for t in model.tensors:
        if t.is_parameter and t.dtype in qs.MODEL_DTYPES:
            by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.params
    top = max(by_dtype, key=by_dtype.__getitem__, default=None)
    return DType.BF16 if top == DType.BF16 else DType.F16


def _plain_quantized(u: _Unit, s: qs.PlainScheme) -> bool:
    p = u.placement
    if p.role != "weight" or len(u.shape) < 2:
        return False
    if qs.LINEAR_ATTENTION_PROJECTION.search(u.tensor.name):
        return s.linear_attention
    return (p.component.split("/")[0] in qs.PLAIN_QUANTIZED_TOPS
            and p.component not in qs.PLAIN_UNQUANTIZED_COMPONENTS)


def _plain_notes(s: qs.PlainScheme, half: DType) -> tuple[str, ...]:
    if s.cast is not None:
        return (f"every parameter in {s.cast.value}, norms included (as model.to({s.name}) does)",)
    return (f"quantized: the weight matrices of attention, feed-forward and expert layers; embeddings, the "
            f"output head, routers, norms and biases in the model's 16-bit dtype, {half.value}",)


# --- llama.cpp -----------------------------------------------------------------------------------------
def _llamacpp(model: Model, units: list[_Unit], target: DType, ftype: qs.FileType | None,
              imatrix: bool) -> tuple[list[_Cell], list[str]]:
    """Every quantizable tensor in ``target``, or in the type ``ftype``'s rules pick (None: --pure)."""
    is_gguf = model.quantization is not None and model.quantization.method == "gguf"
    layout = _LAYOUTS.get(model, "units", lambda: _layout(units, is_gguf))
    groups = layout.groups
    chosen = ([(target, "")] * len(groups) if ftype is None
              else _assign(model, units, layout.categories, groups, ftype, imatrix))
    cells = cast(list[_Cell], list(layout.kept))  # the quantizable units' Nones are filled in below
    fallbacks, refused_at = 0, list[int]()
    # (type, rule, row length, parameters) → the unit's cell and whether it fell back: a few dozen cases
    seen: dict[tuple[DType, str, int, int], tuple[_Cell, bool]] = {}
    before = ftype is not None and ftype.before_2026_03
    for runs, (dtype, why) in zip(layout.runs, chosen, strict=True):
        for ne0, params, members in runs:
            case = (dtype, why, ne0, params)
            hit = seen.get(case)
            if hit is None:
                hit = seen[case] = _quantized(dtype, why, ne0, params, before)
            cell, fell_back = hit
            for i in members:
                cells[i] = cell
            if fell_back:
                fallbacks += len(members)
                if dtype not in qs.FALLBACK:
                    refused_at.extend(members)
    refused = [units[i].tensor.name for i in sorted(refused_at)]  # in the model's order
    notes = []
    if fallbacks:
        notes.append(f"{fallbacks} tensors fell back to a smaller-block type (tensor_type_fallback)")
    if refused:
        notes.append(f"llama.cpp refuses these rows (no fallback is defined); priced in F16: "
                     f"{and_more(refused)}")
    if not is_gguf:
        notes.append("tensors llama.cpp does not quantize are priced in F32, as convert_hf_to_gguf.py "
                     "writes them; vision, audio and projector tensors in F16 (a separate mmproj file)")
    if ftype is not None:
        notes.append(f"{'with' if imatrix else 'without'} an importance matrix")
        notes.extend(_recipe_note(model, units, layout, ftype, imatrix, chosen))
    return cells, notes


def _recipe_note(model: Model, units: list[_Unit], layout: _Layout, ftype: qs.FileType, imatrix: bool,
                 chosen: list[tuple[DType, str]]) -> list[str]:
    """What the other llama-quantize recipe (before or after PR #19770, qs.BEFORE_2026_03) would change:
    only attn_qkv and attn_kv_b tensors, and the attn_v counter they share."""
    if not any(layout.categories[g[0]] in (qs.ATTN_QKV, qs.ATTN_KV_B) for g in layout.groups):
        return []
    # the explicit importance matrix too, so that the scheme the note names prices what it says
    other = replace(ftype, before_2026_03=not ftype.before_2026_03, imatrix=imatrix or None)
    theirs = _assign(model, units, layout.categories, layout.groups, other, imatrix)
    changed, delta = 0, 0
    for members, (mine, _), (their, _) in zip(layout.groups, chosen, theirs, strict=True):
        if mine is their:
            continue
        changed += len(members)
        for i in members:
            u = units[i]
            delta += (_quantized(their, "", u.shape[-1], u.params, other.before_2026_03)[0][1]
                      - _quantized(mine, "", u.shape[-1], u.params, ftype.before_2026_03)[0][1])
    if not changed:
        return []
    when = "before" if other.before_2026_03 else "since"
    size = f"{delta / 2**20:+,.1f} MiB" if abs(delta) >= 2**20 / 20 else f"{delta:+,} B"
    return [f"a file llama-quantize made {when} March 2026 (PR #19770) has {changed} attention tensors "
            f"(attn_qkv, attn_v, attn_kv_b) in other types: {size} (scheme {other.spelling})"]


def _quantized(dtype: DType, why: str, ne0: int, params: int, before: bool = False) -> tuple[_Cell, bool]:
    """A quantized unit's cell, in ``dtype`` or its fallback (``before``: llama-quantize's table before
    PR #19770); and whether it fell back."""
    final = _fallback(dtype, ne0, before)
    fell_back = final is not dtype
    if fell_back:
        why = (f"{why}; " if why else "") + (
            f"fallback {dtype.value}→{final.value}: row {ne0} is not a multiple of {dtype.block_size}")
    return (final.value, final.nbytes(params), why), fell_back


@record
class _Layout:
    """What llama.cpp's quantizer sees of a model, whatever the file type."""

    categories: tuple[str, ...]  # each unit's
    groups: tuple[tuple[int, ...], ...]  # the GGUF tensors (every unit llama.cpp quantizes) in its order
    # each group's units by (row length, parameters), which with the group's type decide their price: a
    # DeepSeek-V3 layer's 256 experts of a matrix are one run
    runs: tuple[tuple[tuple[int, int, tuple[int, ...]], ...], ...]
    kept: tuple[_Cell | None, ...]  # each unit's cell when it is not quantized, else None


# What llama.cpp's quantizer sees of a model does not depend on the file type: `fit` and the catalogue
# price one model at up to a dozen types, and DeepSeek-V3's 90k tensors took 0.3 s a type to classify.
_LAYOUTS: ModelMemo[_Layout] = ModelMemo(4)


def _layout(units: list[_Unit], is_gguf: bool) -> _Layout:
    quantizable = [_gguf_quantizable(u) for u in units]
    groups = tuple(tuple(g) for g in _ggml_tensors(units, quantizable))
    kept = tuple(None if q else _kept(u, is_gguf) for u, q in zip(units, quantizable, strict=True))
    return _Layout(tuple(_category(u) for u in units), groups, tuple(_runs(units, g) for g in groups), kept)


def _runs(units: list[_Unit], members: tuple[int, ...]) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
    by_size: dict[tuple[int, int], list[int]] = {}
    for i in members:
        u = units[i]
        by_size.setdefault((u.shape[-1], u.params), []).append(i)
    return tuple((ne0, params, tuple(idx)) for (ne0, params), idx in by_size.items())


def _gguf_quantizable(u: _Unit) -> bool:
    """tensor_allows_quantization, read through roles.place()."""
    t, p = u.tensor, u.placement
    return (t.is_parameter and len(u.shape) >= 2 and p.role == "weight"
            and p.component not in qs.UNQUANTIZED_COMPONENTS and p.component not in qs.MMPROJ_COMPONENTS
            and not _UNQUANTIZED_NAMES.search(t.name))


_UNQUANTIZED_NAMES = re.compile("|".join(map(re.escape, qs.UNQUANTIZED_NAME_PARTS)))


def _kept(u: _Unit, is_gguf: bool) -> _Cell:
    t, p = u.tensor, u.placement
    # a buffer the model loads keeps its dtype, but convert_hf_to_gguf.py writes every 1-D or scalar
    # tensor in F32 (Gemma 4's per-layer layer_scalar: the 30 f32 of its QAT Q4_0 file, not bf16)
    if is_gguf or (not t.is_parameter and len(u.shape) >= 2):
        return _NAMES[t.dtype], t.nbytes, "not quantized: kept as stored"
    if p.component in qs.MMPROJ_COMPONENTS and len(u.shape) >= 2 and p.role == "weight":
        return qs.MMPROJ_TYPE.value, qs.MMPROJ_TYPE.nbytes(u.params), "mmproj tensor"
    dtype = qs.CONVERTER_UNQUANTIZED_TYPE
    # a buffer's params is 0 (not a parameter): its elements are priced
    return dtype.value, dtype.nbytes(math.prod(u.shape)), "not quantized by llama.cpp"


def _fallback(dtype: DType, ne0: int, before: bool = False) -> DType:
    """tensor_type_fallback: a smaller-block type when ne[0] is not a whole number of blocks, else F16."""
    if ne0 % dtype.block_size == 0:
        return dtype
    smaller = (qs.FALLBACK_BEFORE_2026_03 if before else qs.FALLBACK).get(dtype, qs.LAST_RESORT)
    return smaller if ne0 % smaller.block_size == 0 else qs.LAST_RESORT


def _assign(model: Model, units: list[_Unit], categories: tuple[str, ...],
            groups: tuple[tuple[int, ...], ...], ftype: qs.FileType,
            imatrix: bool) -> list[tuple[DType, str]]:
    """Run llama_tensor_get_type_impl over the quantizable tensors in llama.cpp's order: each group's type
    and the rule that chose it ("" for the file type's default)."""
    cfg = model.config
    n_expert = cfg.n_experts if cfg else 0
    n_layer = cfg.n_layers if cfg else 1 + max((u.placement.layer or 0 for u in units), default=0)
    n_gqa = cfg.n_heads // cfg.n_kv_heads if cfg and cfg.n_kv_heads else 0
    arch = _arch_names(model)
    falcon = bool(arch & qs.FALCON_ARCHS)
    is_70b = n_layer == qs.SEVENTY_B_LAYERS and any(
        a in qs.SEVENTY_B_ARCHS and (not qs.SEVENTY_B_ARCHS[a] or n_gqa > 1) for a in arch)
    tied = qs.OUTPUT not in categories
    n_wv = sum(1 for members in groups if categories[members[0]] in qs.ATTN_V_LIKE)
    counters = dict.fromkeys(("attn_v", "ffn_down", "ffn_gate", "ffn_up"), 0)
    chosen: list[tuple[DType, str]] = []
    for members in groups:
        u, category = units[members[0]], categories[members[0]]
        counter = qs.COUNTER_OF_CATEGORY.get(category)
        count = counters[counter] if counter else 0
        layer = u.placement.layer if n_expert > 1 and u.placement.layer is not None else count
        site = qs.Site(
            ftype=ftype.name, default=ftype.default, category=category, ne0=u.shape[-1],
            ne2=_ne2(u, n_expert), count=count, count_total=n_wv if counter == "attn_v" else n_layer,
            layer=layer, n_layer=n_layer, n_gqa=n_gqa, n_expert=n_expert, falcon=falcon,
            is_70b=is_70b, imatrix=imatrix, tied=tied, before_2026_03=ftype.before_2026_03)
        dtype, branch = _get_type(site)
        if branch.counter:
            counters[branch.counter] += 1
        chosen.append((dtype, f"{branch.name} rule" if dtype != ftype.default else ""))
    return chosen


def _get_type(site: qs.Site) -> tuple[DType, qs.Branch]:
    branch = next((b for b in qs.BRANCHES if b.applies(site)), _NO_BRANCH)
    dtype = site.default
    for rule in branch.rules:
        if (not rule.ftypes or site.ftype in rule.ftypes) and rule.when(site):
            picked = rule.then(site) if callable(rule.then) else rule.then
            dtype = picked if picked is not None else dtype
            break
    for after in branch.after:
        dtype = after(site, dtype)
    return dtype, branch


_NO_BRANCH = qs.Branch("default", lambda s: True, ())


def _category(u: _Unit) -> str:
    if u.tensor.name.endswith(qs.TOKEN_EMBD_NAMES):
        return qs.TOKEN_EMBD
    if u.placement.role != "weight":
        return qs.OTHER
    if _OTHER_NAMES.search(u.tensor.name):
        return qs.OTHER
    named = _named(u.tensor.name)
    if named is not None:
        return named[0]
    return qs.CATEGORY_OF_COMPONENT.get(u.placement.component, qs.OTHER)


def _named(name: str) -> tuple[str, str] | None:
    """The category and GGUF name of a tensor that CATEGORY_OF_NAME lists, else None."""
    for suffix, category, gguf in qs.CATEGORY_OF_NAME:
        if name.endswith(suffix):
            return category, gguf
    return None


_OTHER_NAMES = re.compile("|".join(map(re.escape, qs.OTHER_GGUF_NAMES)))  # one search, not a loop a name


def _ggml_tensors(units: list[_Unit], quantizable: list[bool]) -> list[list[int]]:
    """Quantizable tensors as llama.cpp sees them, in its order (weight_name_comparer: block number, then
    name). Hugging Face per-expert matrices (experts.3.w1) are one merged GGUF tensor (ffn_gate_exps)."""
    groups: dict[object, list[int]] = {}
    for i, u in enumerate(units):
        if not quantizable[i]:
            continue
        p = u.placement
        per_expert = p.component.startswith("experts/") and len(u.shape) == 2
        key = (p.layer, p.component) if per_expert else i
        groups.setdefault(key, []).append(i)

    def order(members: list[int]) -> tuple:
        u = units[members[0]]
        layer = u.placement.layer
        named = _named(u.tensor.name)
        name = named[1] if named else qs.GGUF_NAME_OF_COMPONENT.get(u.placement.component, u.tensor.name)
        if u.tensor.name.startswith("blk.") or "." not in u.tensor.name:
            name = u.tensor.name
        return (-1 if layer is None else layer, name, members[0])

    return sorted(groups.values(), key=order)


def _ne2(u: _Unit, n_expert: int) -> int:
    if len(u.shape) >= 3:
        return u.shape[-3]
    return n_expert if u.placement.component.startswith("experts/") and n_expert > 1 else 1


def _arch_names(model: Model) -> set[str]:
    cfg = model.config
    if cfg is None:
        return set()
    return {cfg.family.lower(), cfg.architecture.lower()}

