"""The four GGUF tokenizer algorithms as ``tokenizers`` objects, each matching llama.cpp's session class
in src/llama-vocab.cpp. A builder takes a ``gguf_vocab.Vocab`` and returns the engine, whether long
texts may be cut at line starts (``core.SAFE_CUT``), and IDs the engine spells differently.

- llama (llm_tokenizer_spm): BPE with merges derived from the scores (``spm``), byte fallback.
- gpt2 (llm_tokenizer_bpe): byte-level BPE on the file's merges, split by llama.cpp's regexes
  (``bpe_pre``).
- bert (llm_tokenizer_wpm): WordPiece after llama.cpp's own text preparation (``wpm``), with the
  "▁word"/"piece" spelling turned back into "word"/"##piece".
- t5 (llm_tokenizer_ugm): Unigram (Viterbi on the scores) after the precompiled charsmap normalizer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from paramscope.errors import UnsupportedError
from paramscope.model import Model
from paramscope.tokenize.bpe_pre import PRE_NAMES, PreTokenizer
from paramscope.tokenize.core import Tokenizer, spans_cut
from paramscope.tokenize.engines import SPACE, spm_engine, with_user_tokens
from paramscope.tokenize.gguf_vocab import (
    MODELS,
    NORMAL,
    TOKEN_KINDS,
    USER_DEFINED,
    Vocab,
    added_ids,
    non_normal,
    partitioned,
    read_vocab,
)

# Token types left out of llama.cpp's Unigram trie (llm_tokenizer_ugm: only normal, user-defined and
# unused tokens are matched): undefined, unknown, control, byte.
UGM_UNMATCHED = (0, 2, 3, 6)
UGM_HIDDEN = "\uf8ff\u2063{}"  # how such a token is spelled inside the engine, so no text can match it

Built = tuple[Any, bool, dict[int, str]]


def _engine(model: Any, vocab: Vocab) -> Any:
    return with_user_tokens(model, [vocab.tokens[i] for i in vocab.user])


def build_spm(vocab: Vocab) -> Built:
    """llm_tokenizer_spm_session: spaces become "▁" (plus one in front of each piece of text when
    add_space_prefix), then the score-ranked pair merging, then bytes for what is left unmatched."""
    from paramscope.tokenize.spm import spm_merges

    unk = vocab.special["unk"]
    prefix = vocab.flags["add_space_prefix"]
    engine = spm_engine(vocab.ids, spm_merges(vocab.tokens, vocab.scores, vocab.ids),
                        None if unk is None else vocab.tokens[unk],
                        [vocab.tokens[i] for i in vocab.user], prefix)
    return engine, spm_chunkable(vocab), {}


def spm_chunkable(vocab: Vocab) -> bool:
    """No pre-tokenizer: a token holding a line break and then more text could span a cut, and a
    space put in front of every piece makes every cut visible."""
    return not vocab.flags["add_space_prefix"] and not spans_cut(vocab.tokens)


def build_bpe(vocab: Vocab) -> Built:
    """llm_tokenizer_bpe_session: the pre-tokenizer's regexes, byte-level encoding, then the file's
    merges by rank; ``ignore_merges`` takes a piece whole when it is a token (llama3 and others)."""
    from tokenizers import decoders, models, normalizers

    pre = PRE_NAMES.get(vocab.flags["pre"])
    if pre is None:
        from paramscope.tokenize.bpe_pre import UNSUPPORTED

        why = UNSUPPORTED.get(vocab.flags["pre"])
        families = ", ".join(sorted({p.kind for p in PRE_NAMES.values()}))
        raise UnsupportedError(f"{vocab.source}: pre-tokenizer tokenizer.ggml.pre = {vocab.flags['pre']!r} "
                               + (f"is not supported (llama.cpp splits it with {why})" if why else
                                  f"is not supported (supported: the {families} families)"))
    raw = vocab.metadata.get("tokenizer.ggml.merges")
    if raw is None:
        raise UnsupportedError(f"{vocab.source}: a {vocab.model} vocabulary without tokenizer.ggml.merges is "
                               "not supported")
    ids = vocab.ids
    merges = []
    # llama_vocab::impl::load: "first second" split at the first space after position 0; a pair seen
    # twice keeps its first rank (bpe_ranks.emplace). Pairs whose pieces are not tokens are left out:
    # tokenizers refuses them, and llama.cpp would turn what they make into single bytes anyway.
    for line in dict.fromkeys(raw.tolist() if hasattr(raw, "tolist") else raw):
        line = line.partition("\x00")[0]  # a C string in llama.cpp (gguf_get_arr_str)
        cut = line.find(" ", 1)
        a, b = line[:cut], line[cut + 1:]
        if cut > 0 and a in ids and b in ids and a + b in ids:
            merges.append((a, b))
    if pre.spm_style:
        # llm_tokenizer_bpe_session with byte_encode = false: spaces escaped to "▁" first
        # (llama_escape_whitespace), symbols are UTF-8 characters, what no token spells becomes
        # "<0xXX>" byte tokens
        model = models.BPE(vocab=ids, merges=merges, ignore_merges=pre.ignore_merges, fuse_unk=False,
                           byte_fallback=True)
        engine = _engine(model, vocab)
        engine.normalizer = normalizers.Replace(" ", SPACE)
        engine.pre_tokenizer = bpe_pre_tokenizer(pre)
        engine.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.ByteFallback(),
                                            decoders.Fuse()])
        return engine, True, {}
    model = models.BPE(vocab=ids, merges=merges, ignore_merges=pre.ignore_merges, fuse_unk=False)
    engine = _engine(model, vocab)
    engine.pre_tokenizer = bpe_pre_tokenizer(pre)
    engine.decoder = decoders.ByteLevel()
    return engine, True, {}


def bpe_pre_tokenizer(pre: PreTokenizer) -> Any:
    """unicode_regex_split as a tokenizers pre-tokenizer: each expression splits what the previous ones
    left, matches and the text between them kept; then GPT-2's byte encoding unless SPM-style."""
    from tokenizers import Regex, pre_tokenizers

    from paramscope.tokenize.bpe_pre import oniguruma

    splits = [pre_tokenizers.Split(Regex(oniguruma(r)), behavior="isolated") for r in pre.regexes]
    if pre.spm_style:
        return pre_tokenizers.Sequence(splits)
    return pre_tokenizers.Sequence(
        [*splits, pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])


def build_wpm(vocab: Vocab) -> Built:
    """llm_tokenizer_wpm_session: llama.cpp's per-character preparation (``wpm``), then split at
    whitespace and around punctuation, ASCII symbols and CJK characters, then the longest token from
    the left. convert_hf_to_gguf spells word starts "▁word" and continuations "piece"; WordPiece wants
    "word" and "##piece" (special and user-defined tokens keep their spelling)."""
    from tokenizers import decoders, models, normalizers, pre_tokenizers

    from paramscope.tokenize.wpm import LlamaWpmNormalizer

    hf_vocab: dict[str, int] = {}
    for i, (t, kind) in enumerate(zip(vocab.tokens, vocab.types.tolist(), strict=True)):
        if kind == NORMAL:
            t = t[len(SPACE):] if t.startswith(SPACE) and len(t) > len(SPACE) else "##" + t
        hf_vocab[t] = i
    unk = vocab.special["unk"]
    if unk is None:
        raise UnsupportedError(f"{vocab.source}: a bert vocabulary without an unknown token is not supported")
    # No per-word length limit: llama.cpp has none (WordPiece's default gives up after 100 characters).
    model = models.WordPiece(vocab=hf_vocab, unk_token=vocab.tokens[unk], max_input_chars_per_word=1 << 30)
    engine = _engine(model, vocab)
    flags = vocab.flags
    prepare = LlamaWpmNormalizer(flags["lowercase"], flags["strip_accents"])
    # BertNormalizer only for the spaces around CJK characters (llama.cpp's is_chinese_char ranges are
    # BERT's, "0x2B920 as in the hf rust code").
    cjk = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False,
                                     lowercase=False)
    engine.normalizer = normalizers.Sequence([normalizers.Normalizer.custom(prepare), cjk])
    engine.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    engine.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    return engine, True, {}


def build_ugm(vocab: Vocab) -> Built:
    """llm_tokenizer_ugm_session: the precompiled charsmap normalizer, spaces as "▁" (merged when
    remove_extra_whitespaces, one in front when add_space_prefix), then the Viterbi best path of token
    scores, user-defined tokens scoring 0, unknown characters min score − 10, runs of unknowns as one."""
    from tokenizers import decoders, models, normalizers

    from paramscope.tokenize.ugm import LlamaUgmNormalizer

    normal = vocab.scores[vocab.types == NORMAL]
    floor = float(normal.min()) if len(normal) else 0.0
    pieces, names = [], {}
    for i, (t, kind, score) in enumerate(zip(vocab.tokens, vocab.types.tolist(), vocab.scores.tolist(),
                                             strict=True)):
        if kind in UGM_UNMATCHED:  # kept out of reach, at a score that leaves the minimum alone
            pieces.append((UGM_HIDDEN.format(i), floor))
            names[i] = t
        else:
            pieces.append((t, 0.0 if kind == USER_DEFINED else score))
    unk = vocab.special["unk"]
    model = models.Unigram(pieces, unk_id=unk, byte_fallback=False)
    engine = _engine(model, vocab)
    charsmap = vocab.metadata.get("tokenizer.ggml.precompiled_charsmap")
    blob = charsmap.astype("uint8").tobytes() if charsmap is not None and len(charsmap) else None
    # llm_tokenizer_ugm_session::normalize, done by ugm.LlamaUgmNormalizer on each piece of text between
    # user-defined tokens (which it also passes through whole, as normalize_prefix does)
    flags = vocab.flags
    user = [vocab.tokens[i] for i in vocab.of_type(USER_DEFINED)]
    engine.normalizer = normalizers.Normalizer.custom(
        LlamaUgmNormalizer(blob, user, flags["add_space_prefix"], flags["remove_extra_whitespaces"]))
    # Fuse before Strip: decoders run token by token, and only the text's first space is the prefix's
    engine.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.Fuse()]
                                       + ([decoders.Strip(" ", 1, 0)] if flags["add_space_prefix"] else []))
    return engine, False, names


BUILDERS: dict[str, Callable[[Vocab], Built]] = {
    "llama": build_spm,
    "gpt2": build_bpe,
    "gemma4": build_bpe,
    "bert": build_wpm,
    "t5": build_ugm,
}


def build(model: Model, vocab: Vocab | None = None) -> Tokenizer:
    """The tokenizer of a GGUF ``Model`` from its metadata. Unsupported types say which they are."""
    vocab = vocab or read_vocab(model)
    engine, chunkable, names = BUILDERS[vocab.model](vocab)
    return Tokenizer(engine, names=names, **wrapper_fields(vocab, chunkable))


def wrapper_fields(vocab: Vocab, chunkable: bool) -> dict[str, Any]:
    """What ``core.Tokenizer`` shows about a GGUF vocabulary besides its engine (JSON-ready, so that
    ``tokenize.cache`` can keep it): name, type, token kinds, added IDs, details."""
    chunkable = chunkable and not spans_cut(vocab.tokens[i] for i in vocab.user)
    d, special, flags = vocab.defaults, vocab.special, vocab.flags
    prefix, suffix = added_ids(vocab)
    kinds = {i: TOKEN_KINDS.get(t, "special") for i, t in zip(*non_normal(vocab.types), strict=True)}
    details = {"model": vocab.model, "vocab_type": d.vocab_type, **{k: v for k, v in special.items()},
               **{k: v for k, v in flags.items() if not isinstance(v, np.ndarray | list)}}
    pre = f", pre-tokenizer {flags['pre']}" if vocab.model == "gpt2" else ""
    spec = PRE_NAMES.get(flags["pre"]) if vocab.model == "gpt2" else None
    description = MODELS["gemma4"].description if spec is not None and spec.spm_style else d.description
    return {"name": Path(vocab.source).name, "source": vocab.source,
            "type": f"{description}{pre} (GGUF {vocab.model})", "kinds": kinds, "chunkable": chunkable,
            "prefix": prefix, "suffix": suffix, "details": details,
            # cache_special_tokens, as tokenizer_st_partition uses them: [text, ID, flags]
            "specials": [list(s) for s in partitioned(vocab)],
            # llama.cpp's n_vocab: every ID, also where a string occurs twice (the engine's own count
            # holds each string once, and would refuse the last IDs)
            "vocab_size": len(vocab.tokens)}
