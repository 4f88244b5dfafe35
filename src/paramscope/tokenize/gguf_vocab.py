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

KEY = "tokenizer.ggml.{}"
# llama.h enum llama_token_type → how paramscope shows it. Undefined, unknown, control and unused
# tokens are all left out when llama.cpp detokenizes (token_to_piece with special=false).
TOKEN_KINDS: dict[int, str] = {0: "special", 1: "normal", 2: "special", 3: "special", 4: "user",
                               5: "special", 6: "byte"}
NORMAL, CONTROL, USER_DEFINED = 1, 3, 4

# Token texts llama.cpp marks CONTROL whatever their type, as "control-looking" end-of-turn, end-of-
# generation and fill-in-the-middle tokens (llama_vocab::impl::load: the EOT/EOM/FIM_*/EOG searches
# over token_to_id, "its type will be overridden"). A user-defined token so marked is no longer cut out
# of the text when special tokens are not parsed (tokenizer_st_partition skips CONTROL).
CONTROL_LOOKING = frozenset((
    "</s>", "<EOT>", "<MID>", "<PAD>", "<PRE>", "<REPO>", "<SUF>", "<end_of_turn>", "<end_of_utterance>",
    "<eos>", "<fim-middle>", "<fim-pad>", "<fim-prefix>", "<fim-repo>", "<fim-suffix>", "<fim_middle>",
    "<fim_pad>", "<fim_prefix>", "<fim_suffix>", "<reponame>", "<turn|>", "<|calls|>", "<|call|>",
    "<|code_middle|>", "<|code_prefix|>", "<|code_suffix|>", "<|end_of_text|>", "<|endoftext|>", "<|end|>",
    "<|eom_id|>", "<|eot_id|>", "<|file_sep|>", "<|fim_middle|>", "<|fim_pad|>", "<|fim_prefix|>",
    "<|fim_repo|>", "<|fim_suffix|>", "<|flush|>", "<|im_end|>", "<|middle|>", "<|prefix|>", "<|repo_name|>",
    "<|return|>", "<|suffix|>", "<|tool_response>", "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581end\uff5c>", "<\uff5cfim\u2581hole\uff5c>", "[EOS]",
    "[EOT]", "[PAD]", "[e~[", "_<EOT>", "\u2581<MID>", "\u2581<PRE>", "\u2581<SUF>"))
# … and the ones it then sets to USER_DEFINED, always cut out ("quick hack for gpt-oss").
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
    return Vocab(model.source, str(name), defaults, tokens, ids, scores, types, _user_ids(tokens, ids, types),
                 special, flags, md)


def _user_ids(tokens: list[str], ids: Mapping[str, int], types: np.ndarray) -> list[int]:
    """The tokens tokenizer_st_partition cuts out with parse_special=false: those whose attribute is
    USER_DEFINED without CONTROL, after llama_vocab::impl::load's renaming by text (CONTROL_LOOKING,
    ALWAYS_USER; "<|end|>" becomes user-defined where "<|return|>" and "<|call|>", or "<|calls|>" and
    "<|flush|>", exist; "</s>" becomes normal where "<|tool_response>" does). The overrides act on the ID
    token_to_id gives a text: the later one where a text occurs twice."""
    user = set(np.flatnonzero(types == USER_DEFINED).tolist())
    for text in CONTROL_LOOKING:
        if text in ids:
            user.discard(ids[text])
    end_is_user = ({"<|return|>", "<|call|>"} <= ids.keys() or {"<|calls|>", "<|flush|>"} <= ids.keys())
    for text in ALWAYS_USER | ({"<|end|>"} if end_is_user else set()):
        if text in ids:
            user.add(ids[text])
    return sorted(user)


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
    arr = np.asarray(value, dtype) if isinstance(value, np.ndarray) else np.zeros(0, dtype)
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
