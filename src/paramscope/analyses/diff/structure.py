"""What differs in the description of two models, before a single value is read.

Works for any two sources, config-only ones included: hyperparameters (the ``ArchConfig`` fields),
tensors only one side has, tensors whose shape or stored type changed, parameter and byte totals,
the two vocabularies (vocab.py) and the metadata. Metadata is compared key by key only between two
files of the same format (a GGUF file's keys and a config.json's say the same things in different
words; the hyperparameters compare those).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from paramscope.analyses.diff.names import Pairing
from paramscope.analyses.diff.vocab import TokenizerDiff, Vocabulary, tokenizer_diff
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.records import field, fields, record

SHOWN_CHARS = 80  # a metadata value longer than this is cut for the report
INLINE_ITEMS = 8  # arrays longer than this are shown as their length


@record
class Change:
    key: str
    a: Any  # JSON-ready (None: absent on that side)
    b: Any


@record
class TensorRef:
    name: str
    shape: tuple[int, ...]
    dtype: str
    params: int
    bytes: int


@record
class TensorChange:
    name_a: str
    name_b: str
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    dtype_a: str
    dtype_b: str


@record
class Side:
    source: str
    format: str
    tensors: int
    params: int
    bytes: int
    has_weights: bool
    architecture: str | None
    family: str | None


@record
class StructureDiff:
    a: Side
    b: Side
    hyperparameters: tuple[Change, ...]
    removed: tuple[TensorRef, ...]  # only in A
    added: tuple[TensorRef, ...]  # only in B
    renamed: tuple[TensorChange, ...]  # same bytes under another name
    reshaped: tuple[TensorChange, ...]
    retyped: tuple[TensorChange, ...]
    paired: int  # tensors with a counterpart (renamed ones included)
    paired_params: int  # A's parameters in them
    metadata: tuple[Change, ...]
    metadata_compared: bool
    tokenizer: TokenizerDiff | None
    mapping: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def type_changes(self) -> dict[str, int]:
        """'F32 → Q8_0': how many tensors, most frequent first."""
        counts = Counter(f"{c.dtype_a} → {c.dtype_b}" for c in self.retyped)
        return dict(counts.most_common())

    @property
    def same_layout(self) -> bool:
        return not (self.removed or self.added or self.renamed or self.reshaped or self.retyped)


def structure_diff(a: Model, b: Model, pairing: Pairing, renamed: Sequence[tuple[Tensor, Tensor]] = (),
                   vocab_a: Vocabulary | None = None, vocab_b: Vocabulary | None = None) -> StructureDiff:
    gone_a = {id(x) for x, _ in renamed}
    gone_b = {id(y) for _, y in renamed}
    pairs = [(p.a, p.b) for p in pairing.pairs]
    notes = list(pairing.notes)
    compared = a.format == b.format
    if not compared:
        notes.append(f"metadata not compared key by key across formats ({a.format} and {b.format}); "
                     "the hyperparameters compare what both say")
    tok = tokenizer_diff(vocab_a, vocab_b) if vocab_a is not None and vocab_b is not None else None
    if (vocab_a is None) != (vocab_b is None):
        notes.append(f"only {'A' if vocab_b is None else 'B'} has a vocabulary paramscope can read")
    all_pairs = [*pairs, *renamed]
    return StructureDiff(
        a=_side(a), b=_side(b),
        hyperparameters=hyperparameter_changes(a.config, b.config, same_format=compared),
        removed=tuple(_ref(t) for t in pairing.only_a if id(t) not in gone_a),
        added=tuple(_ref(t) for t in pairing.only_b if id(t) not in gone_b),
        renamed=tuple(_change(x, y) for x, y in renamed),
        reshaped=tuple(_change(x, y) for x, y in all_pairs if x.shape != y.shape),
        retyped=tuple(_change(x, y) for x, y in all_pairs if x.dtype != y.dtype),
        paired=len(all_pairs), paired_params=sum(x.params for x, _ in all_pairs),
        metadata=metadata_changes(a, b) if compared else (), metadata_compared=compared,
        tokenizer=tok, mapping=pairing.mapping, notes=tuple(notes))


def _side(m: Model) -> Side:
    cfg = m.config
    return Side(m.source, m.format, len(m.tensors), m.params, m.tensor_bytes, m.has_weights,
                cfg.architecture if cfg else None, cfg.family if cfg else None)


def _ref(t: Tensor) -> TensorRef:
    return TensorRef(t.name, t.shape, t.dtype.value, t.params, t.nbytes)


def _change(x: Tensor, y: Tensor) -> TensorChange:
    return TensorChange(x.name, y.name, x.shape, y.shape, x.dtype.value, y.dtype.value)


# --- hyperparameters -----------------------------------------------------------------------------------
# Fields compared only between files of one format: "architecture" is a class name in config.json and
# an architecture key in GGUF; "tied_embeddings" is read from config.json but inferred in GGUF from
# a missing output tensor (an encoder such as BERT has none either), and the tensor lists show that.
SAME_FORMAT_ONLY = ("architecture", "tied_embeddings")


def hyperparameter_changes(a: ArchConfig | None, b: ArchConfig | None, *, same_format: bool = True
                           ) -> tuple[Change, ...]:
    if a is None or b is None:
        return () if a is b else (Change("config", _present(a), _present(b)),)
    out = []
    for f in fields(ArchConfig):
        if f.name == "extra" or (f.name in SAME_FORMAT_ONLY and not same_format):
            continue
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if va != vb:
            out.append(Change(f.name, _show(va), _show(vb)))
    if same_format:
        out.extend(_mapping_changes(a.extra, b.extra, "extra."))
    return tuple(out)


def _present(c: ArchConfig | None) -> str | None:
    return None if c is None else c.family


# --- metadata ------------------------------------------------------------------------------------------
def metadata_changes(a: Model, b: Model) -> tuple[Change, ...]:
    return tuple(_mapping_changes(_flat(a.metadata), _flat(b.metadata)))


def _flat(m: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings (a config.json inside the metadata) as dotted keys."""
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _mapping_changes(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[Change]:
    out = []
    for key in [*a, *(k for k in b if k not in a)]:
        if key not in b:
            out.append(Change(prefix + key, _show(a[key]), None))
        elif key not in a:
            out.append(Change(prefix + key, None, _show(b[key])))
        elif not _equal(a[key], b[key]):
            out.append(Change(prefix + key, _show(a[key]), _show(b[key])))
    return out


def _equal(x: Any, y: Any) -> bool:
    if x is y:
        return True
    if hasattr(x, "same_strings") and type(x) is type(y):  # GGUF string arrays
        return bool(x.same_strings(y))
    if hasattr(x, "tolist") and hasattr(y, "tolist") and not isinstance(x, np.ndarray | np.generic):
        return len(x) == len(y) and x.tolist() == y.tolist()
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return bool(np.shape(x) == np.shape(y) and np.array_equal(np.asarray(x), np.asarray(y)))
    try:
        return bool(x == y)
    except (TypeError, ValueError):
        return repr(x) == repr(y)


def _show(v: Any) -> Any:
    """A JSON-ready value for the report: long arrays as their length, long text cut."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool | int | float) or v is None:
        return v
    if isinstance(v, str):  # cut, and say by how much (a chat template runs to thousands of characters)
        return v if len(v) <= SHOWN_CHARS else f"{v[:SHOWN_CHARS]} [+{len(v) - SHOWN_CHARS:,} characters]"
    if isinstance(v, Mapping):
        return {str(k): _show(x) for k, x in v.items()}
    if hasattr(v, "__len__") and not isinstance(v, Mapping):
        n = len(v)
        if n > INLINE_ITEMS:
            return f"[{n} items]"
        items = v.tolist() if hasattr(v, "tolist") else list(v)
        return [_show(x) for x in items]
    return _show(repr(v))
