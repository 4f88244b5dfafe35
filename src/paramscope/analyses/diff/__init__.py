"""What changed between two models (``paramscope diff A B``), tensor by tensor.

    names.py      which tensor of A is which of B (by name, or HF ↔ GGUF through gguf-py's name map,
                  undoing the converter's Q/K permutation and Gemma's norm shift)
    structure.py  hyperparameters, tensors added / removed / reshaped / retyped, totals, metadata
    vocab.py      the two vocabularies
    values.py     the value pass: both files streamed once, per-tensor change, SNR, cosine, hashes
    kernels*.py   its per-chunk loop (numba, or numpy)
    spectrum.py   the spectrum of each matrix's change: row sample + randomized SVD, effective rank
    verdict.py    where the change lies and the one-line verdict

Nothing here opens a file: bytes come through the ``ByteSource`` the caller passes (sources/mapped.py),
vocabularies are built by the caller where they need the tokenizer package.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence

from paramscope.analyses.diff.names import Pair, pair_tensors
from paramscope.analyses.diff.structure import StructureDiff, structure_diff
from paramscope.analyses.diff.values import ValueDiff, match_renamed, value_diff
from paramscope.analyses.diff.verdict import Located, Verdict, judge, locate
from paramscope.analyses.diff.vocab import Vocabulary
from paramscope.analyses.values.stats_engine import ByteSource
from paramscope.model import Model
from paramscope.records import field, record

__all__ = ["DiffReport", "diff_models"]


@record
class DiffReport:
    a: str
    b: str
    structure: StructureDiff
    values: ValueDiff | None  # None: values not compared (a side without weights, or not asked)
    located: Located
    verdict: Verdict
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def diff_models(a: Model, b: Model, source_a: ByteSource | None = None, source_b: ByteSource | None = None,
                *, vocab_a: Vocabulary | None = None, vocab_b: Vocabulary | None = None,
                values: bool = True, hashes: bool = True, spectra: bool = True,
                patterns: Sequence[str] = (), progress: Callable[[int, int, str], None] | None = None
                ) -> DiffReport:
    """Compare ``a`` with ``b``: structure always, values when both have weights and sources are given."""
    started = time.perf_counter()
    pairing = pair_tensors(a, b)
    both = (source_a, source_b) if source_a is not None and source_b is not None else None
    read = both if values and a.has_weights and b.has_weights else None  # the two sources, when read
    renamed = match_renamed(pairing.only_a, pairing.only_b, *read) if read else []
    structure = structure_diff(a, b, pairing, renamed, vocab_a, vocab_b)
    notes = []
    vd = None
    if read:
        pairs = [*pairing.pairs, *(Pair(x, y) for x, y in renamed)]
        if patterns:
            pairs = [p for p in pairs if _selected(p, patterns)]
            notes.append(f"values compared for the {len(pairs)} paired tensors matching "
                         f"{', '.join(patterns)}")
        vd = value_diff(pairs, *read, hashes=hashes, spectra=spectra, progress=progress)
    elif values and not (a.has_weights and b.has_weights):
        side = " and ".join(x for x, m in (("A", a), ("B", b)) if not m.has_weights)
        notes.append(f"values not compared: {side} described without weights")
    located = locate(vd.tensors if vd else ())
    verdict = judge(structure, vd)
    if patterns and vd is not None:
        verdict = Verdict(verdict.kind, f"{verdict.line} (values of the selected tensors only)")
    return DiffReport(a.source, b.source, structure, vd, located, verdict, time.perf_counter() - started,
                      tuple(notes))


def _selected(p: Pair, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, g) for n in (p.a.name, p.b.name) for g in patterns)
