"""``paramscope tokens``: text → tokens → IDs → text with the model's own tokenizer, or a count."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from paramscope.app.common import Source
from paramscope.errors import UsageError
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.tokenize.core import Counted, Decoded, Tokenized

Progress = Callable[[int, int], None]


@record
class TokensRequest:
    source: Source
    text: str | None = None  # tokenize this (or count it)
    ids: str | list[int] | None = None  # or decode these token IDs ("2,818,3823" or a list)
    count: bool = False  # only count the tokens
    no_special: bool = False  # no BOS/EOS/[CLS]/[SEP] around the text
    # special tokens written in the text ("<|im_start|>", "<start_of_turn>") become their IDs, as in
    # llama.cpp's llama-tokenize (parse_special on unless --no-parse-special) and transformers
    parse_special: bool = True


@record
class TokensResult:
    request: TokensRequest
    tokenized: Tokenized | None = None
    decoded: Decoded | None = None
    counted: Counted | None = None
    exit_code: int = 0

    def to_json(self) -> dict[str, Any]:
        if self.decoded is not None:
            d = self.decoded
            return {"tokenizer": _tokenizer(d), "ids": list(d.ids),
                    "tokens": [{"id": i, "text": s} for i, s in zip(d.ids, d.spellings, strict=True)],
                    "text": d.text, "count": len(d.ids)}
        if self.counted is not None:
            c = self.counted
            return {"tokenizer": _tokenizer(c), "count": c.count, "characters": c.characters,
                    "chars_per_token": c.chars_per_token, "parse_special": self.request.parse_special}
        t = self.tokenized
        assert t is not None
        return {"tokenizer": _tokenizer(t),
                "tokens": [{"id": x.id, "text": x.text, "start": x.start, "end": x.end} for x in t.tokens],
                "count": t.count, "characters": t.characters, "chars_per_token": t.chars_per_token,
                "parse_special": self.request.parse_special}


def _tokenizer(r: Tokenized | Decoded | Counted) -> dict[str, Any]:
    return {"name": r.tokenizer, "type": r.type, "vocab_size": r.vocab_size}


def tokens(source: Source | TokensRequest, *, progress: Progress | None = None, **options: Any
           ) -> TokensResult:
    """``paramscope.tokens("model.gguf", text="Hello").tokenized.tokens``; ``ids=[…]`` decodes instead."""
    from paramscope.tokenize import parse_ids, tokenizer_for

    req = source if isinstance(source, TokensRequest) else TokensRequest(source, **options)
    if req.ids is not None:
        ids = parse_ids(req.ids) if isinstance(req.ids, str) else list(req.ids)  # a typo fails first
        return TokensResult(req, decoded=tokenizer_for(req.source, ids=ids).decoded(ids))
    if req.text is None:
        raise UsageError("no text: give text to tokenize, or ids to decode")
    tok = tokenizer_for(req.source, text=req.text)
    if req.count:
        return TokensResult(req, counted=tok.counted(req.text, add_special=not req.no_special,
                                                     on_progress=progress, parse_special=req.parse_special))
    return TokensResult(req, tokenized=tok.tokenize(req.text, add_special=not req.no_special,
                                                    parse_special=req.parse_special))
