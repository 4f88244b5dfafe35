"""The ``tokenizers`` objects that need no vocabulary arrays (no numpy): the SPM engine from its
vocabulary and merges, and the user-defined tokens cut out first. ``gguf_models`` builds them from a
whole GGUF vocabulary, ``restricted`` from the part of one a text can reach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPACE = "▁"  # U+2581: SentencePiece's visible space (llama_escape_whitespace)


def with_user_tokens(model: Any, user_tokens: list[str]) -> Any:
    """A tokenizers.Tokenizer around ``model`` with the user-defined tokens cut out of raw text first
    (tokenizer_st_partition). Control tokens are not added: with special=false llama.cpp leaves them
    to the model's algorithm, which may or may not rebuild them from pieces."""
    from tokenizers import AddedToken, Tokenizer

    engine = Tokenizer(model)
    user = [AddedToken(t, special=False, normalized=False) for t in user_tokens]
    if user:
        engine.add_tokens(user)
    return engine


def spm_engine(ids: Mapping[str, int], merges: list[tuple[str, str]], unk_token: str | None,
               user_tokens: list[str], add_space_prefix: bool) -> Any:
    """llm_tokenizer_spm_session as tokenizers runs it: spaces become "▁" (plus one in front of each
    piece of text when add_space_prefix), then the score-ranked pair merging (BPE over ``merges``),
    then bytes for what is left unmatched."""
    from tokenizers import decoders, models, normalizers

    model = models.BPE(vocab=ids if isinstance(ids, dict) else dict(ids), merges=merges,
                       byte_fallback=True, fuse_unk=False, unk_token=unk_token)
    engine = with_user_tokens(model, user_tokens)
    # llama.cpp prefixes a space to every raw fragment after a special token (is_prev_special), and
    # every fragment follows one or starts the text: that is a Prepend on each piece tokenizers sees.
    steps = ([normalizers.Prepend(SPACE)] if add_space_prefix else []) + [normalizers.Replace(" ", SPACE)]
    engine.normalizer = normalizers.Sequence(steps)
    pieces = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    engine.decoder = decoders.Sequence(pieces + ([decoders.Strip(" ", 1, 0)] if add_space_prefix else []))
    return engine
