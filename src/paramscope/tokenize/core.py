"""The tokenizer every source becomes: a ``tokenizers.Tokenizer`` plus what paramscope shows about it.

The engine (Hugging Face ``tokenizers``, Rust) does the work; this wrapper adds the vocabulary's own
token kinds (special, user-defined, byte-fallback), decoding that skips special tokens the way
llama.cpp's ``token_to_piece(special=false)`` does, and counting long texts in chunks. Nothing here
imports ``tokenizers``: the builders (``gguf_vocab``, ``hf``) do, so other commands never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from paramscope.errors import ParamscopeError, and_more
from paramscope.records import record

CHUNK_CHARS = 1 << 16  # text per chunk when counting a long text (about 16k Gemma tokens)
BATCH_CHUNKS = 16  # chunks per engine call: tokenizers encodes a batch on all cores
# Where a long text may be cut without changing its tokens: right after a line break that is followed
# by a non-space character. No pre-tokenizer paramscope builds lets a token run across such a point
# (newline runs end there; words, numbers and punctuation start there).
SAFE_CUT = re.compile(r"\n(?=\S)")
# C's isspace in the "C" locale: what LSTRIP/RSTRIP strip next to a special token (tokenizer_st_partition)
C_SPACE = " \t\n\v\f\r"
LSTRIP, RSTRIP = 128, 256  # llama_token_attr bits, as gguf_vocab.partitioned gives them
SPECIAL_ONLY = 1  # gguf_vocab.partitioned: cut out only when special tokens are parsed
# One piece of the text: (start, end, None) for raw text, (start, end, ID) for a special token in it.
Fragment = tuple[int, int, int | None]


def st_partition(text: str, specials: Sequence[tuple[str, int, int]], parse_special: bool
                 ) -> list[Fragment]:
    """llama.cpp's tokenizer_st_partition (src/llama-vocab.cpp): for each token of ``specials`` in
    order (cache_special_tokens: longest first), every occurrence in every raw piece left becomes that
    token, the text to its left and right stays raw, with the spaces next to it dropped where the token
    has LSTRIP (left) or RSTRIP (right), and empty pieces dropped. Tokens marked SPECIAL_ONLY (CONTROL,
    UNKNOWN) take part only when ``parse_special``."""
    pieces: list[Fragment] = [(0, len(text), None)] if text else []
    for token, token_id, flags in specials:
        if (flags & SPECIAL_ONLY and not parse_special) or token not in text:
            continue
        out: list[Fragment] = []
        size = len(token)
        for piece in pieces:
            start, end, kind = piece
            if kind is not None:
                out.append(piece)
                continue
            while True:
                match = text.find(token, start, end)
                if match < 0:
                    if end > start:
                        out.append((start, end, None))
                    break
                left = match
                if flags & LSTRIP:
                    while left > start and text[left - 1] in C_SPACE:
                        left -= 1
                if left > start:
                    out.append((start, left, None))
                out.append((match, match + size, token_id))
                start = match + size
                if flags & RSTRIP:
                    while start < end and text[start] in C_SPACE:
                        start += 1
        pieces = out
    return pieces


def spans_cut(tokens: Iterable[str]) -> bool:
    """Does any of these token texts contain a SAFE_CUT point (a line break, then a non-space)? Such a
    token could be split by cutting there, so a vocabulary that has one is counted in one piece."""
    return SAFE_CUT.search(" ".join(tokens)) is not None


class TokenIdError(ParamscopeError):
    """A token ID given to decode is not a number or lies outside the vocabulary."""


@record
class Token:
    id: int
    text: str  # the token as the vocabulary spells it: "▁quick", "<0xE4>", "Ġthe", "##ing", "<bos>"
    start: int  # character offsets of what it covers in the input; start == end for an added BOS/[CLS]
    end: int
    # "special" (BOS, [CLS], control tokens), "user" (user-defined: matched in the raw text before
    # anything else), "byte" (byte fallback, <0xE4>) or "normal"
    kind: str = "normal"


@record
class Tokenized:
    """One text and its tokens: what ``paramscope tokens`` shows. Totals are derived."""

    tokenizer: str
    type: str
    vocab_size: int
    text: str
    tokens: tuple[Token, ...]

    @property
    def count(self) -> int:
        return len(self.tokens)

    @property
    def characters(self) -> int:
        return len(self.text)

    @property
    def text_tokens(self) -> int:
        """Tokens that cover text: the count without the BOS/EOS/[CLS]/[SEP] added around it."""
        return sum(1 for t in self.tokens if not (t.kind == "special" and t.start == t.end))

    @property
    def chars_per_token(self) -> float | None:
        return self.characters / self.text_tokens if self.text_tokens else None


@record
class Counted:
    """A text's token count (``--count``), without the tokens themselves."""

    tokenizer: str
    type: str
    vocab_size: int
    characters: int
    count: int
    added: int  # of count, the BOS/EOS/[CLS]/[SEP] added around the text

    @property
    def chars_per_token(self) -> float | None:
        n = self.count - self.added
        return self.characters / n if n else None


@record
class Decoded:
    """Token IDs and the text they decode to, with each ID's spelling and kind."""

    tokenizer: str
    type: str
    vocab_size: int
    ids: tuple[int, ...]
    spellings: tuple[str, ...]
    kinds: tuple[str, ...]
    text: str


class Tokenizer:
    """Text → tokens → IDs → text for one model's vocabulary.

    ``engine`` is a built ``tokenizers.Tokenizer``; ``kinds`` maps the IDs that are not normal tokens to
    their kind; ``chunkable`` says whether ``SAFE_CUT`` points are exact for this vocabulary (False
    where a space is prepended to every piece of text, as SentencePiece's add_dummy_prefix does).
    ``prefix`` and ``suffix`` are the IDs added around the text (llama.cpp adds BOS/EOS/[SEP] itself
    rather than through a template, so GGUF vocabularies use these; a tokenizer.json keeps its own
    post-processor and leaves them empty). ``names`` spells IDs whose engine spelling is not theirs.
    ``vocab_size`` is given where the engine holds only part of the vocabulary (``tokenize.restricted``).
    ``specials`` are a GGUF vocabulary's tokens that llama.cpp cuts out of the raw text before its
    algorithm runs (``st_partition``); a tokenizer.json has none here: its engine's added tokens do that.

    ``parse_special`` (llama.cpp's parse_special, the ``special`` of llama-cpp-python's ``tokenize``):
    control tokens written in the text ("<|im_start|>", "<start_of_turn>", "[INST]", "<s>") become
    their IDs. Off, they are tokenized as the text they spell; user-defined tokens are cut out either
    way. For a tokenizer.json, off means its special added tokens are encoded as text. Not given, each
    follows its reference's default (``parses``): off for a GGUF vocabulary, on for a tokenizer.json.
    """

    def __init__(self, engine: Any, *, name: str, type: str, source: str, kinds: Mapping[int, str],
                 chunkable: bool, prefix: Sequence[int] = (), suffix: Sequence[int] = (),
                 names: Mapping[int, str] | None = None, details: Mapping[str, Any] | None = None,
                 vocab_size: int | None = None, specials: Sequence[Sequence[Any]] = ()):
        self.engine, self.name, self.type, self.source = engine, name, type, source
        self.kinds, self.chunkable = kinds, chunkable
        self.prefix, self.suffix = tuple(prefix), tuple(suffix)
        self.names = dict(names or {})
        self.details = dict(details or {})
        self._vocab_size = vocab_size
        self.specials = [(str(t), int(i), int(f)) for t, i, f in specials]

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, {self.type}, {self.vocab_size:,} tokens)"

    @property
    def vocab_size(self) -> int:
        if self._vocab_size is not None:
            return self._vocab_size
        return self.engine.get_vocab_size(with_added_tokens=True)

    def parses(self, parse_special: bool | None) -> bool:
        """``parse_special`` as given, or (None) the reference's own default: llama.cpp's ``llama_tokenize``
        and llama-cpp-python's ``tokenize`` leave it off (``special=False``) for a GGUF vocabulary (one with
        ``specials``); transformers parses a tokenizer.json's special tokens (``split_special_tokens``
        False), so on there."""
        return parse_special if parse_special is not None else not self.specials

    def fragments(self, text: str, parse_special: bool | None = None) -> list[Fragment]:
        """``text`` cut where llama.cpp cuts special tokens out of it (``st_partition``)."""
        return st_partition(text, self.specials, self.parses(parse_special))

    def _pieces(self, text: str, parse_special: bool) -> list[Fragment]:
        return self.fragments(text, parse_special) if self.specials else [(0, len(text), None)]

    def encode(self, text: str, add_special: bool = True, parse_special: bool | None = None) -> list[Token]:
        """The tokens of ``text``, with the model's BOS/EOS/[CLS]/[SEP] when ``add_special``, the
        control tokens written in it parsed when ``parse_special``."""
        kinds, names = self.kinds, self.names
        parse_special = self.parses(parse_special)
        body = []
        for start, end, token_id in self._pieces(text, parse_special):
            if token_id is not None:
                body.append(Token(token_id, text[start:end], start, end, kinds.get(token_id, "normal")))
                continue
            enc = self._encode(text[start:end], add_special and not self.specials, parse_special)
            body += [Token(i, names.get(i, t), start + s, start + e, kinds.get(i, "normal"))
                     for i, t, (s, e) in zip(enc.ids, enc.tokens, enc.offsets, strict=True)]
        if not add_special:
            return body
        end = len(text)
        return ([Token(i, self.token_text(i), 0, 0, self.kind(i)) for i in self.prefix] + body
                + [Token(i, self.token_text(i), end, end, self.kind(i)) for i in self.suffix])

    def _encode(self, text: str, add_special: bool, parse_special: bool) -> Any:
        """The engine's encoding of one piece. A tokenizer.json's special added tokens are cut out of
        the text by the engine itself; ``encode_special_tokens`` makes it leave them as text."""
        if self.specials or parse_special:
            return self.engine.encode(text, add_special_tokens=add_special)
        before = self.engine.encode_special_tokens
        self.engine.encode_special_tokens = True
        try:
            return self.engine.encode(text, add_special_tokens=add_special)
        finally:
            self.engine.encode_special_tokens = before

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool | None = None) -> Tokenized:
        return Tokenized(self.name, self.type, self.vocab_size, text,
                         tuple(self.encode(text, add_special, parse_special)))

    def ids(self, text: str, add_special: bool = True, parse_special: bool | None = None) -> list[int]:
        return [t.id for t in self.encode(text, add_special, parse_special)]

    def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
        """IDs back to text; special tokens (BOS, control tokens) are dropped unless ``skip_special``
        is False, as llama.cpp's detokenizer does with ``special=false``."""
        n = self.vocab_size
        bad = [str(i) for i in ids if not 0 <= i < n]
        if bad:
            raise TokenIdError(f"{self.name}: token IDs outside the vocabulary of {n:,}: {and_more(bad)}")
        if skip_special:
            return self.engine.decode([i for i in ids if self.kinds.get(i) != "special"],
                                      skip_special_tokens=True)
        # Renamed IDs (names) are spelled by us, the runs between them by the engine's decoder.
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            if i in self.names:
                out += [self.engine.decode(run, skip_special_tokens=False), self.names[i]]
                run = []
            else:
                run.append(i)
        return "".join([*out, self.engine.decode(run, skip_special_tokens=False)])

    def decoded(self, ids: Sequence[int], skip_special: bool = True) -> Decoded:
        text = self.decode(ids, skip_special)
        return Decoded(self.name, self.type, self.vocab_size, tuple(ids),
                       tuple(self.token_text(i) for i in ids), tuple(self.kind(i) for i in ids), text)

    def token_text(self, token_id: int) -> str:
        """How the vocabulary spells one ID ("▁the", "<0x0A>")."""
        text = self.names.get(token_id) or self.engine.id_to_token(token_id)
        if text is None:
            raise TokenIdError(f"{self.name}: token ID {token_id} is not in the vocabulary")
        return text

    def kind(self, token_id: int) -> str:
        return self.kinds.get(token_id, "normal")

    def chunks(self, text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
        """``text`` cut at ``SAFE_CUT`` points into pieces of at least ``size`` characters (the whole
        text at once where cutting would not be exact)."""
        if not self.chunkable or len(text) <= size:
            yield text
            return
        start = 0
        while start < len(text):
            m = SAFE_CUT.search(text, start + size)
            end = m.end() if m else len(text)
            yield text[start:end]
            start = end

    def count(self, text: str, add_special: bool = True,
              on_progress: Callable[[int, int], None] | None = None,
              parse_special: bool | None = None) -> int:
        """Tokens in ``text`` (with the special tokens the model adds), in chunks for long texts;
        ``on_progress(characters_done, characters_total)`` is called after each batch of chunks."""
        total = self.added_count(add_special)
        parse_special = self.parses(parse_special)
        chunks: list[tuple[int, str]] = []  # (where the chunk ends in text, the chunk)
        for start, end, token_id in self._pieces(text, parse_special):
            if token_id is not None:
                total += 1
                continue
            at = start
            for chunk in self.chunks(text[start:end]):
                at += len(chunk)
                chunks.append((at, chunk))
        before = self.engine.encode_special_tokens
        self.engine.encode_special_tokens = not (self.specials or parse_special)
        try:
            for i in range(0, len(chunks), BATCH_CHUNKS):
                batch = chunks[i:i + BATCH_CHUNKS]
                encoded = self.engine.encode_batch([c for _, c in batch], add_special_tokens=False)
                total += sum(len(e.ids) for e in encoded)
                if on_progress:
                    on_progress(batch[-1][0], len(text))
        finally:
            self.engine.encode_special_tokens = before
        return total

    def added_count(self, add_special: bool = True) -> int:
        """How many tokens the tokenizer adds around any text (BOS, [CLS] … [SEP])."""
        if not add_special:
            return 0
        return self.engine.num_special_tokens_to_add(False) + len(self.prefix) + len(self.suffix)

    def counted(self, text: str, add_special: bool = True,
                on_progress: Callable[[int, int], None] | None = None,
                parse_special: bool | None = None) -> Counted:
        n = self.count(text, add_special, on_progress, parse_special)
        return Counted(self.name, self.type, self.vocab_size, len(text), n, self.added_count(add_special))


def parse_ids(spec: str) -> list[int]:
    """'2,818, 3823' or '2 818 3823' or '[2, 818]' → [2, 818, 3823]."""
    parts = [p for p in re.split(r"[\s,\[\]]+", spec) if p]
    bad = [p for p in parts if not re.fullmatch(r"\d+", p)]
    if bad:
        raise TokenIdError(f"token IDs must be whole numbers separated by commas: {and_more(bad)}")
    if not parts:
        raise TokenIdError("no token IDs given")
    return [int(p) for p in parts]
