"""Which tensor of A is which tensor of B, and what a converter did to it on the way.

Two files in the same naming scheme pair by name. A Hugging Face file against a GGUF file pairs through
gguf-py's own tensor-name table for the GGUF file's architecture (``gguf.get_tensor_name_map``, the
table ``convert_hf_to_gguf.py`` maps names with), after the wrapper prefixes llama.cpp's converters
strip. Values the converter rewrote are brought back into line before they are compared:

- Llama-family attention: ``LlamaModel.permute`` reorders the rows of Q and K inside each head (HF's
  rotary layout keeps the two halves of a head apart, llama.cpp interleaves them):
  ``w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)``, with
  ``n_head = n_head_kv`` for K. The HF side is permuted the same way, so rows meet their counterparts.
- Gemma's RMSNorm multiplies by ``1 + w``; its converters store ``w + 1`` (``GemmaModel``,
  ``Gemma2Model``, ``Gemma3Model.modify_tensors``: ``if name.endswith("norm.weight"): data_torch +
  1``). The HF side gets the same +1.

Tensors left without a counterpart by name may still be the same bytes under another name: the value
pass pairs those by content hash (values.match_renamed).
"""

from __future__ import annotations

from collections.abc import Callable

from paramscope.model import Model, Tensor
from paramscope.records import field, record

GGUF = "gguf"
# GGUF architectures whose converter permutes Q and K rows (convert_hf_to_gguf.py: LlamaModel for
# Llama, Mistral and Mixtral checkpoints, and the classes that call LlamaModel.permute the same way).
QK_PERMUTED: dict[str, str] = {
    "llama": "LlamaModel.modify_tensors",
    "deci": "DeciModel.modify_tensors",
    "minicpm": "MiniCPMModel.modify_tensors",
    "granite": "GraniteModel (a LlamaModel)",
    "granitemoe": "GraniteMoeModel (a GraniteModel)",
    "smollm3": "SmolLM3Model (a LlamaModel)",
    "arcee": "ArceeModel (a LlamaModel)",
}
# GGUF architectures whose converter adds a constant to every ``*norm.weight`` (Gemma's 1 + w RMSNorm)
NORM_SHIFT: dict[str, float] = {"gemma": 1.0, "gemma2": 1.0, "gemma3": 1.0}
# Wrapper prefixes llama.cpp's converters remove before mapping a name (BertModel strips "bert.",
# multimodal checkpoints nest the text model under "language_model."), tried in order.
PREFIXES: tuple[tuple[str, str], ...] = (
    ("bert.", ""), ("roberta.", ""), ("model.language_model.", "model."), ("language_model.", ""),
)
Q_NAMES = ("attn_q.weight", "attn_q.bias")
K_NAMES = ("attn_k.weight", "attn_k.bias")


@record
class Transform:
    """What is done to one side's values before they are compared (identity by default)."""

    heads: int = 0  # permute rows as LlamaModel.permute with this many heads (0: no permutation)
    shift: float = 0.0  # added to every value (Gemma norms)

    @property
    def identity(self) -> bool:
        return not self.heads and not self.shift

    def describe(self) -> str:
        parts = [f"Q/K rows permuted ({self.heads} heads)"] if self.heads else []
        if self.shift:
            parts.append(f"{self.shift:+g} added (Gemma norm)")
        return ", ".join(parts)


@record
class Pair:
    a: Tensor
    b: Tensor
    ta: Transform = Transform()
    tb: Transform = Transform()

    @property
    def same_shape(self) -> bool:
        return self.a.shape == self.b.shape


@record
class Pairing:
    pairs: tuple[Pair, ...]
    only_a: tuple[Tensor, ...]
    only_b: tuple[Tensor, ...]
    mapping: str | None = None  # how names were mapped, when they were
    notes: tuple[str, ...] = field(default_factory=tuple)


def pair_tensors(a: Model, b: Model) -> Pairing:
    """Pair every tensor of A with its counterpart in B (by name, or through the GGUF name map)."""
    a_gguf, b_gguf = a.format == GGUF, b.format == GGUF
    if a_gguf == b_gguf:
        return _pair(a.tensors, b.tensors, _same, _same)
    gguf_side, hf_side = (a, b) if a_gguf else (b, a)
    arch = str(gguf_side.metadata.get("general.architecture", ""))
    mapper, note = _hf_to_gguf(arch, hf_side, gguf_side)
    if mapper is None:
        return _pair(a.tensors, b.tensors, _same, _same, notes=(note,))
    key_a, key_b = (_same, mapper) if a_gguf else (mapper, _same)
    side = "B" if a_gguf else "A"
    return _pair(a.tensors, b.tensors, key_a, key_b,
                 mapping=f"Hugging Face names of {side} mapped to GGUF '{arch}' names "
                         "(gguf-py TensorNameMap)",
                 notes=(note,) if note else ())


Keyed = tuple[str, Transform]  # (name in the shared scheme, transform of this side's values)


def _same(t: Tensor) -> Keyed | None:
    return t.name, Transform()


def _pair(tensors_a: tuple[Tensor, ...], tensors_b: tuple[Tensor, ...],
          key_a: Callable[[Tensor], Keyed | None], key_b: Callable[[Tensor], Keyed | None],
          mapping: str | None = None, notes: tuple[str, ...] = ()) -> Pairing:
    by_key: dict[str, tuple[Tensor, Transform]] = {}
    only_b: list[Tensor] = []
    for t in tensors_b:
        k = key_b(t)
        if k is None or k[0] in by_key:
            only_b.append(t)
        else:
            by_key[k[0]] = (t, k[1])
    pairs, only_a = [], []
    for t in tensors_a:
        k = key_a(t)
        hit = by_key.pop(k[0], None) if k is not None else None
        if k is None or hit is None:
            only_a.append(t)
        else:
            pairs.append(Pair(t, hit[0], k[1], hit[1]))
    leftover = {id(t) for t, _ in by_key.values()}
    only_b.extend(t for t in tensors_b if id(t) in leftover)
    order = {id(t): i for i, t in enumerate(tensors_b)}
    only_b.sort(key=lambda t: order[id(t)])
    return Pairing(tuple(pairs), tuple(only_a), tuple(only_b), mapping, notes)


Keyer = Callable[[Tensor], Keyed | None]


def _hf_to_gguf(arch: str, hf: Model, gguf_model: Model) -> tuple[Keyer | None, str]:
    import gguf

    by_name = {name: a for a, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in by_name:
        return None, (f"GGUF architecture {arch!r} is not in gguf-py's table: names compared as they are"
                      if arch else "the GGUF file names no architecture: names compared as they are")
    blocks = max((m.config.n_layers for m in (hf, gguf_model) if m.config), default=0)
    blocks = max(blocks, _max_layer(hf.tensors) + 1)
    table = gguf.get_tensor_name_map(by_name[arch], blocks)
    heads, kv_heads, note = _heads(arch, hf)
    shift = NORM_SHIFT.get(arch, 0.0)

    def key(t: Tensor) -> Keyed | None:
        name = _mapped(table, t.name)
        if name is None:
            return None
        if heads and name.endswith(Q_NAMES):
            return name, Transform(heads=heads)
        if kv_heads and name.endswith(K_NAMES):
            return name, Transform(heads=kv_heads)
        if shift and name.endswith("norm.weight"):
            return name, Transform(shift=shift)
        return name, Transform()

    return key, note


def _mapped(table, name: str) -> str | None:
    found = table.get_name(name, try_suffixes=(".weight", ".bias"))
    for prefix, replacement in PREFIXES:
        if found is not None:
            break
        if name.startswith(prefix):
            found = table.get_name(replacement + name[len(prefix):], try_suffixes=(".weight", ".bias"))
    return found


def _heads(arch: str, hf: Model) -> tuple[int, int, str]:
    """(heads for Q, heads for K) of LlamaModel.permute, when this architecture's converter permutes."""
    if arch not in QK_PERMUTED:
        return 0, 0, ""
    cfg = hf.config
    if cfg is None or not cfg.n_heads:
        return 0, 0, (f"{hf.source}: no head count known, so Q/K rows are compared as stored (llama.cpp's "
                      f"converter permutes them for '{arch}')")
    # LlamaModel.permute(w, n_head, n_head_kv): K uses n_head_kv whenever it differs from n_head
    return cfg.n_heads, cfg.n_kv_heads or cfg.n_heads, ""


def _max_layer(tensors: tuple[Tensor, ...]) -> int:
    from paramscope.knowledge.roles import place

    return max((place(t.name).layer or 0 for t in tensors), default=0)


def permutation_rows(rows: int, heads: int) -> int:
    """Rows of one head under LlamaModel.permute, or 0 when ``rows`` cannot be cut that way."""
    if heads <= 0 or rows % heads or (rows // heads) % 2:
        return 0
    return rows // heads
