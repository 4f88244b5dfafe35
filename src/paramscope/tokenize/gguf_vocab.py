"""A tokenizer from a GGUF file's own vocabulary (the ``tokenizer.ggml.*`` keys), tokenizing as llama.cpp.

What llama.cpp does with the keys (src/llama-vocab.cpp, ``llama_vocab::impl::load`` and ``tokenize``):
1. ``tokenizer.ggml.model`` picks the algorithm and its defaults (``MODELS``); the file's own keys
   (special token IDs, add_bos/add_eos/add_sep, add_space_prefix, …) then override the defaults.
2. User-defined tokens (token type 4: Gemma's "\\n\\n", "<b>", runs of spaces) are cut out of the raw
   text before anything else; control tokens are not, unless special tokens are parsed (they are not
   here, as in ``Llama.tokenize(special=False)``). ``tokenizers`` does the cutting as added tokens.
3. Each piece of text between them is tokenized by the model's algorithm (``gguf_models``).
4. BOS/EOS/[SEP] are added around the result as the flags say (``Tokenizer.prefix``/``suffix``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from paramscope.errors import FormatError, UnsupportedError
from paramscope.model import Model
from paramscope.records import record
from paramscope.tokenize.core import SPECIAL_ONLY

KEY = "tokenizer.ggml.{}"
# llama.h enum llama_token_type → how paramscope shows it. Undefined, unknown, control and unused
# tokens are all left out when llama.cpp detokenizes (token_to_piece with special=false).
TOKEN_KINDS: dict[int, str] = {0: "special", 1: "normal", 2: "special", 3: "special", 4: "user",
                               5: "special", 6: "byte"}
NORMAL, CONTROL, USER_DEFINED = 1, 3, 4

# llama.h enum llama_token_attr: the bits llama.cpp keeps per token (llama_vocab::impl::load derives
# them from the token type, then overrides some by token text and by model name).
ATTR_UNKNOWN, ATTR_UNUSED, ATTR_NORMAL, ATTR_CONTROL, ATTR_USER, ATTR_BYTE = 1, 2, 4, 8, 16, 32
ATTR_LSTRIP, ATTR_RSTRIP = 128, 256
# llama_vocab::impl::load: toktypes[i] → token_data.attr (undefined and unknown types → 0)
TYPE_ATTRS = {1: ATTR_NORMAL, 2: ATTR_UNKNOWN, 3: ATTR_CONTROL, 4: ATTR_USER, 5: ATTR_UNUSED, 6: ATTR_BYTE}
# The attributes that put a token in cache_special_tokens, the tokens tokenizer_st_partition cuts out
# of the raw text (only the user-defined ones when special tokens are not parsed).
PARTITIONED = ATTR_CONTROL | ATTR_USER | ATTR_UNKNOWN

# "auto-detect special tokens by text" in llama_vocab::impl::load: for each special token whose ID the
# file does not give (the keys, deprecated ones after), the first token found with one of these texts
# gets the CONTROL attribute ("control-looking token … its type will be overridden").
FOUND_BY_TEXT: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("eot_token_id",), frozenset(("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                   "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                   "<\uff5cend\u2581of\u2581sentence\uff5c>", "<end_of_utterance>"))),
    (("eom_token_id",), frozenset(("<|eom_id|>",))),
    (("fim_pre_token_id", "prefix_token_id"),
     frozenset(("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\uff5cfim\u2581begin\uff5c>", "<PRE>",
                "\u2581<PRE>", "<|code_prefix|>", "<|prefix|>"))),
    (("fim_suf_token_id", "suffix_token_id"),
     frozenset(("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\uff5cfim\u2581hole\uff5c>", "<SUF>",
                "\u2581<SUF>", "<|code_suffix|>", "<|suffix|>"))),
    (("fim_mid_token_id", "middle_token_id"),
     frozenset(("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\uff5cfim\u2581end\uff5c>", "<MID>",
                "\u2581<MID>", "<|code_middle|>", "<|middle|>"))),
    (("fim_pad_token_id",), frozenset(("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"))),
    (("fim_rep_token_id",),
     frozenset(("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"))),
    (("fim_sep_token_id",), frozenset(("<|file_sep|>",))),
)
# … and every end-of-generation text, whatever the file says (special_eog_ids): CONTROL too.
EOG_TEXTS = frozenset((
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>", "[e~["))
# Token texts whose attribute becomes exactly USER_DEFINED, always cut out ("quick hack for gpt-oss").
ALWAYS_USER = frozenset(("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"))

@record
class ModelDefaults:
    """One ``tokenizer.ggml.model``: llama.cpp's vocabulary type and its default special token IDs and
    flags (llama_vocab::impl::load); the algorithm itself is gguf_models.BUILDERS[model]."""

    vocab_type: str
    description: str
    bos: int | None
    eos: int | None
    unk: int | None
    sep: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool


MODELS: dict[str, ModelDefaults] = {
    "llama": ModelDefaults("SPM", "SentencePiece BPE", bos=1, eos=2, unk=0, sep=None,
                           add_bos=True, add_eos=False, add_space_prefix=True),
    "gpt2": ModelDefaults("BPE", "byte-level BPE with merges", bos=11, eos=11, unk=None, sep=None,
                          add_bos=False, add_eos=False, add_space_prefix=False),
    # gemma4: BPE on the file's merges with every special token read from the file, pre-tokenizer
    # "gemma4" whatever tokenizer.ggml.pre says (llama_vocab::impl::load)
    "gemma4": ModelDefaults("BPE", "SentencePiece-style BPE with merges", bos=None, eos=None, unk=None,
                            sep=None, add_bos=False, add_eos=False, add_space_prefix=False),
    "bert": ModelDefaults("WPM", "WordPiece", bos=101, eos=None, unk=100, sep=102,
                          add_bos=True, add_eos=False, add_space_prefix=False),
    "t5": ModelDefaults("UGM", "Unigram (SentencePiece)", bos=None, eos=1, unk=2, sep=None,
                        add_bos=False, add_eos=True, add_space_prefix=False),
}
# Special token keys → ModelDefaults field (the separator key is spelled "seperator" in GGUF).
SPECIAL_KEYS = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id",
                "sep": "seperator_token_id"}


@record
class Vocab:
    """The vocabulary keys of one file, read once, with llama.cpp's settings resolved."""

    source: str
    model: str
    defaults: ModelDefaults
    tokens: list[str]
    ids: dict[str, int]  # string → ID; a string that occurs twice maps to its later ID (token_to_id)
    scores: np.ndarray  # float32, one per token (0 where the file has none)
    types: np.ndarray  # int32 llama_token_type, one per token (1 where the file has none)
    user: list[int]  # IDs cut out of the raw text first (user-defined, as llama.cpp's attributes say)
    attrs: np.ndarray  # uint32 llama_token_attr bits, one per token (token_attrs)
    special: dict[str, int | None]  # bos, eos, unk, sep → ID or None
    flags: dict[str, Any]  # add_bos, add_eos, add_space_prefix, pre, merges, …
    metadata: Mapping[str, Any]

    def of_type(self, token_type: int) -> list[int]:
        return np.flatnonzero(self.types == token_type).tolist()


def read_vocab(model: Model) -> Vocab:
    md = model.metadata
    name = md.get(KEY.format("model"))
    if name is None:
        raise UnsupportedError(f"{model.source}: this GGUF file carries no vocabulary "
                               f"({KEY.format('model')} is missing)")
    defaults = MODELS.get(str(name))
    if defaults is None:
        raise UnsupportedError(f"{model.source}: tokenizer type {KEY.format('model')} = {name!r} is not "
                               f"supported (supported: {', '.join(MODELS)})")
    raw = md.get(KEY.format("tokens"))
    if raw is None or not len(raw):
        raise UnsupportedError(f"{model.source}: {KEY.format('tokens')} is missing or empty")
    tokens = _c_strings(raw.tolist() if hasattr(raw, "tolist") else list(raw))
    n = len(tokens)
    scores = _array(model.source, md, "scores", n, np.float32, 0)
    types = _array(model.source, md, "token_type", n, np.int32, NORMAL)
    flags = _flags(md, str(name), defaults)
    bos_default = None if flags.pop("no_bos") else defaults.bos
    special = {k: _special_id(md, key, bos_default if k == "bos" else getattr(defaults, k), n)
               for k, key in SPECIAL_KEYS.items()}
    ids = dict(zip(tokens, range(n), strict=True))  # later duplicates overwrite, as in token_to_id
    attrs = token_attrs(md, tokens, ids, types, special)
    # tokenizer_st_partition with parse_special=false cuts out USER_DEFINED tokens, never CONTROL or
    # UNKNOWN ones
    cut = ((attrs & ATTR_USER) != 0) & ((attrs & (ATTR_CONTROL | ATTR_UNKNOWN)) == 0)
    return Vocab(model.source, str(name), defaults, tokens, ids, scores, types, np.flatnonzero(cut).tolist(),
                 attrs, special, flags, md)


def token_attrs(md: Mapping[str, Any], tokens: list[str], ids: Mapping[str, int], types: np.ndarray,
                special: Mapping[str, int | None]) -> np.ndarray:
    """llama.cpp's attribute bits (llama_token_attr) for every token, as llama_vocab::impl::load sets
    them: from the token type; CONTROL added to the control-looking texts (FOUND_BY_TEXT where the file
    gives no ID, EOG_TEXTS always); ALWAYS_USER set to USER_DEFINED; "<|end|>" set to USER_DEFINED
    where "<|return|>" and "<|call|>" (or "<|calls|>" and "<|flush|>") are end-of-generation tokens too;
    "</s>" set to NORMAL where "<|tool_response>" or "<|plamo:eos|>" is one; then the per-model
    LSTRIP/RSTRIP of "Handle per token attributes" (model_attrs). Overrides by text act on the ID
    token_to_id gives it: the later one where a text occurs twice.

    Not decidable from the file: where it gives no ID for, say, the FIM prefix and holds two of its
    texts, llama.cpp marks only the first its std::unordered_map yields; paramscope marks both."""
    n = len(tokens)
    attrs = np.zeros(n, np.uint32)
    for token_type, attr in TYPE_ATTRS.items():
        attrs[types == token_type] = attr
    for keys, texts in FOUND_BY_TEXT:
        if any(_special_id(md, key, None, n) is not None for key in keys):
            continue  # the file names this token: no search by text
        for text in texts & ids.keys():
            attrs[ids[text]] |= ATTR_CONTROL
    for text in EOG_TEXTS & ids.keys():
        attrs[ids[text]] |= ATTR_CONTROL
    for text in ALWAYS_USER & ids.keys():
        attrs[ids[text]] = ATTR_USER
    # special_eog_ids: the EOG texts present, the EOS token and the file's EOT/EOM tokens
    named = [special.get("eos"), *(_special_id(md, k, None, n) for k in ("eot_token_id", "eom_token_id"))]
    eog = (EOG_TEXTS & ids.keys()) | {tokens[i] for i in named if i is not None}
    call = bool(eog & {"<|call|>", "<|calls|>"})
    if "<|end|>" in eog and call and ("<|return|>" in eog or "<|flush|>" in eog):
        attrs[ids["<|end|>"]] = ATTR_USER
    if "</s>" in eog and eog & {"<|tool_response>", "<|plamo:eos|>"}:
        attrs[ids["</s>"]] = ATTR_NORMAL
    return model_attrs(md, ids, attrs)


def model_attrs(md: Mapping[str, Any], ids: Mapping[str, int], attrs: np.ndarray) -> np.ndarray:
    """llama_vocab::impl::load, "Handle per token attributes": LSTRIP on "<mask>" for the jina-v2-de/
    es/code pre-tokenizers and the nomic-bert-moe/jina-bert-v3 architectures, on "[MASK]" for a model
    named modern-bert; for a model named phi-3/phi3, RSTRIP on every token cut out of the text and on
    "</s>", but not on "<unk>", "<s>", "<|endoftext|>". (llama.cpp fails to load a phi-3 vocabulary
    without one of those four; here a missing one is passed over.)"""
    name = str(md.get("general.name") or "").encode().lower().decode()  # std::tolower: ASCII only
    pre = str(md.get(KEY.format("pre")) or "")
    arch = str(md.get("general.architecture") or "")

    def has(s: str, parts: tuple[str, ...]) -> bool:
        return any(p in s for p in parts)

    jina = has(pre, ("jina-v2-de", "jina-v2-es", "jina-v2-code"))
    if jina or has(arch, ("nomic-bert-moe", "jina-bert-v3")):
        if "<mask>" in ids:
            attrs[ids["<mask>"]] |= ATTR_LSTRIP
    elif has(name, ("phi-3", "phi3")):
        attrs[(attrs & PARTITIONED) != 0] |= ATTR_RSTRIP
        if "</s>" in ids:
            attrs[ids["</s>"]] |= ATTR_RSTRIP
        for text in ("<unk>", "<s>", "<|endoftext|>"):
            if text in ids:
                attrs[ids[text]] &= ~np.uint32(ATTR_RSTRIP)
    elif has(name, ("modern-bert",)) and "[MASK]" in ids:
        attrs[ids["[MASK]"]] |= ATTR_LSTRIP
    return attrs


def partitioned(vocab: Vocab) -> list[tuple[str, int, int]]:
    """cache_special_tokens as (text, ID, LSTRIP/RSTRIP bits and whether it is cut out only when
    special tokens are parsed): every token with a CONTROL, USER_DEFINED or UNKNOWN attribute, longest
    text first (in UTF-8 bytes, as std::string::size). llama.cpp sorts with std::sort, which keeps no
    order among texts of one length; here they keep their ID order (it matters only where two such
    texts of one length overlap in the text)."""
    attrs = vocab.attrs
    found = np.flatnonzero(attrs & PARTITIONED).tolist()
    order = sorted(found, key=lambda i: -len(vocab.tokens[i].encode("utf-8")))
    return [(vocab.tokens[i], i, int(attrs[i]) & (ATTR_LSTRIP | ATTR_RSTRIP)
             | (SPECIAL_ONLY if attrs[i] & (ATTR_CONTROL | ATTR_UNKNOWN) else 0)) for i in order]


def _flags(md: Mapping[str, Any], name: str, d: ModelDefaults) -> dict[str, Any]:
    add_bos, no_bos, force_bos = d.add_bos, False, False
    pre = "gemma4" if name == "gemma4" else str(md.get(KEY.format("pre")) or "default")
    if d.vocab_type == "BPE":
        from paramscope.tokenize.bpe_pre import PRE_NAMES

        known = PRE_NAMES.get(pre)
        if known is not None:
            add_bos = add_bos if known.add_bos is None else known.add_bos
            no_bos, force_bos = known.no_bos, known.force_bos
    lowercase = bool(md.get(KEY.format("normalizer.lowercase"), True))
    return {
        "pre": pre,
        "no_bos": no_bos,
        "add_bos": force_bos or bool(md.get(KEY.format("add_bos_token"), add_bos)),
        "add_eos": bool(md.get(KEY.format("add_eos_token"), d.add_eos)),
        "add_space_prefix": bool(md.get(KEY.format("add_space_prefix"), d.add_space_prefix)),
        "remove_extra_whitespaces": bool(md.get(KEY.format("remove_extra_whitespaces"), False)),
        "lowercase": lowercase,
        "strip_accents": bool(md.get(KEY.format("normalizer.strip_accents"), lowercase)),
    }


def added_ids(vocab: Vocab) -> tuple[list[int], list[int]]:
    """IDs llama.cpp puts before and after the text (llama_vocab::impl::tokenize): WPM always adds
    [CLS] … [SEP]; the others add BOS and EOS as add_bos/add_eos say."""
    s, f = vocab.special, vocab.flags
    if vocab.defaults.vocab_type == "WPM":
        return _present(s["bos"]), _present(s["sep"])
    return (_present(s["bos"]) if f["add_bos"] else []), (_present(s["eos"]) if f["add_eos"] else [])


def _present(i: int | None) -> list[int]:
    return [] if i is None else [i]


def _special_id(md: Mapping[str, Any], key: str, default: int | None, n: int) -> int | None:
    """The file's ID for a special token; an ID outside the vocabulary keeps the default, and a
    default outside it means none (llama_vocab::impl::load, "bad special token")."""
    value = md.get(KEY.format(key))
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
        return value
    return default if default is not None and 0 <= default < n else None


def _array(source: str, md: Mapping[str, Any], key: str, n: int, dtype: type, fill: float) -> np.ndarray:
    """One number per token; a missing array is ``fill`` throughout, a short one is an error (llama.cpp:
    "Index out of array bounds")."""
    value = md.get(KEY.format(key))
    if value is None:
        return np.full(n, fill, dtype)
    arr: np.ndarray = np.asarray(value, dtype) if isinstance(value, np.ndarray) else np.zeros(0, dtype)
    if arr.ndim != 1 or len(arr) < n:
        raise FormatError(source, f"{KEY.format(key)} does not give one number per token",
                          f"{arr.size} entries", f"{n}")
    return arr[:n]


def _c_strings(tokens: list[str]) -> list[str]:
    """Tokens as llama.cpp holds them: read as C strings (gguf_get_arr_str), so each ends at its first
    NUL, and an empty one is renamed "[EMPTY_<id>]" (llama_vocab::impl::load)."""
    if "\x00" in "".join(tokens):
        tokens = [t.partition("\x00")[0] for t in tokens]
    if "" in tokens:
        tokens = [t or f"[EMPTY_{i}]" for i, t in enumerate(tokens)]
    return tokens


def non_normal(types: np.ndarray) -> tuple[list[int], list[int]]:
    ids = np.flatnonzero(types != NORMAL)
    return ids.tolist(), types[ids].tolist()
