"""Our config-only tensor list against transformers' (``oracle.reference``), tensor for tensor.

Names are compared after transformers' own load-time renamings (``Reference.rename``), applied to
both sides, so two spellings of one checkpoint name that ``from_pretrained`` treats alike count as one;
shapes and the parameter/buffer flag must then agree exactly. A buffer that older checkpoints stored
and current transformers registers non-persistent (BERT's ``embeddings.position_ids`` before
transformers 4.31) is reported apart from parameter differences, never hidden.

A config that says ``tie_word_embeddings: false`` while transformers ties the head regardless (T5Config,
MT5Config, UMT5Config force it since transformers 5) lists the head the checkpoint stores; that tensor,
tied in transformers' model with the same shape, is reported apart (``tied``), not as a difference.

Equality is by stored tensors (names and shapes). Whether a stored tensor counts as a parameter is
reported beside it (``kinds``): DeepSeek-V3's and GLM-4-MoE's router ``e_score_correction_bias`` is a
persistent buffer in transformers but a parameter in llama.cpp (``exp_probs_b``) and in the published
671,026,419,200 of DeepSeek-V3, which we follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from paramscope.gcpause import gc_paused
from paramscope.knowledge.families.oracle import Reference
from paramscope.model import Tensor
from paramscope.records import record


@record
class Comparison:
    class_name: str
    ours: int  # tensors listed by us
    theirs: int  # tensors transformers saves
    ours_params: int
    theirs_params: int
    missing: tuple[str, ...]  # saved by transformers, not listed by us
    extra: tuple[str, ...]  # listed by us, not saved by transformers
    shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # (name, ours, theirs)
    kinds: tuple[str, ...]  # parameter in one list, buffer in the other
    old_buffers: tuple[str, ...] = ()  # non-parameter buffers we list that current transformers does not save
    tied: tuple[str, ...] = ()  # stored by the untied checkpoint, tied (saved once) in transformers' model

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.shapes)

    @property
    def params_equal(self) -> bool:
        return self.ours_params == self.theirs_params

    def summary(self, limit: int = 3) -> str:
        """One line: 'equal (291 tensors)' or what differs, first few names of each."""
        kinds = f"; {len(self.kinds)} stored buffers counted as parameters" if self.kinds else ""
        if self.old_buffers:
            kinds += f"; plus {', '.join(self.old_buffers)}, a buffer older transformers saved"
        if self.tied:
            kinds += (f"; plus {', '.join(self.tied)}, which the config unties and transformers ties "
                      f"anyway")
        if self.equal:
            return f"equal ({self.theirs} tensors, {self.theirs_params:,} parameters{kinds})"
        parts = []
        for label, names in (("missing", self.missing), ("extra", self.extra),
                             ("shape", [f"{n} {a}≠{b}" for n, a, b in self.shapes])):
            if names:
                shown = ", ".join(list(names)[:limit])
                more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
                parts.append(f"{label} {len(names)}: {shown}{more}")
        return "; ".join(parts) + kinds


def compare(ours: Iterable[Tensor], ref: Reference, untied: bool = False) -> Comparison:
    """``untied``: the config says tie_word_embeddings is false (see the module doc)."""
    mine = _by_name(ours, ref)
    theirs = _by_name(ref.tensors, ref)
    both = mine.keys() & theirs.keys()
    extra = sorted(mine.keys() - theirs.keys())
    old = tuple(n for n in extra if not mine[n].is_parameter)
    tied_shapes = {n: t.shape for n, t in _by_name(ref.tied, ref).items()} if untied else {}
    tied = tuple(n for n in extra if n not in old and tied_shapes.get(n) == mine[n].shape)
    return Comparison(
        class_name=ref.class_name, ours=len(mine), theirs=len(theirs),
        ours_params=sum(t.params for t in mine.values()),
        theirs_params=sum(t.params for t in theirs.values()),
        missing=tuple(sorted(theirs.keys() - mine.keys())),
        extra=tuple(n for n in extra if n not in old and n not in tied), old_buffers=old, tied=tied,
        shapes=tuple((n, mine[n].shape, theirs[n].shape) for n in sorted(both)
                     if mine[n].shape != theirs[n].shape),
        kinds=tuple(n for n in sorted(both) if mine[n].is_parameter != theirs[n].is_parameter))


# a default MoE config's comparison keeps two lists of 100k tensors and two dicts of them alive, none
# garbage before it returns (they are freed as it returns, none in a cycle): the collector waits
@gc_paused
def compare_config(cfg: Mapping[str, Any], source: str = "config.json") -> Comparison:
    """Our table's tensors for ``cfg`` against transformers' for the class our row describes."""
    from paramscope.knowledge.families import describes, expected_tensors
    from paramscope.knowledge.families.oracle import reference

    ours = expected_tensors(cfg, source, fallback=False)
    return compare(ours, reference(cfg, source, preferred=describes(cfg, source)),
                   untied=cfg.get("tie_word_embeddings") is False)


def _by_name(tensors: Iterable[Tensor], ref: Reference) -> dict[str, Tensor]:
    tensors = list(tensors)
    return dict(zip(ref.rename.all(t.name for t in tensors), tensors, strict=True))
