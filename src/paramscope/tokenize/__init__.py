"""Text → tokens → IDs → text, for the model in hand.

``tokenizer(source)`` builds the tokenizer a model carries: a Hugging Face directory's
``tokenizer.json`` (run by the ``tokenizers`` library as the file describes it), or a GGUF file's own
vocabulary built into an equivalent ``tokenizers`` object that gives llama.cpp's IDs
(``gguf_vocab``). ``count_tokens`` is what ``size --context-from-file`` needs.

    >>> tok = tokenizer("gemma-3-270m-q4_k_m.gguf")
    >>> tok.ids("The quick brown fox")
    [2, 818, 3823, 8864, 37423]
    >>> tok.decode([2, 818, 3823])
    'The quick'

``tokenizers`` is imported only when a tokenizer is built, never by importing this package.

``tokenizer_for(source, text=…)`` answers one question faster: for a GGUF file with an SPM vocabulary
(Gemma, Llama 2, Mistral…) and a text of ordinary length it builds the engine over only the part of the
vocabulary the text can reach (``restricted``), from a vocabulary kept between runs (``cache``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from paramscope.errors import SourceError, UnsupportedError
from paramscope.tokenize.core import Token, TokenIdError, Tokenized, Tokenizer, parse_ids

if TYPE_CHECKING:
    from paramscope.model import Model
    from paramscope.tokenize import restricted as restricted_types

__all__ = ["Token", "TokenIdError", "Tokenized", "Tokenizer", "build_tokenizer", "count_tokens", "parse_ids",
           "read_text", "tokenizer", "tokenizer_for"]
GGUF_MAGIC = b"GGUF"
HF_FILE = "tokenizer.json"
CACHED = 4  # tokenizers kept per process, by file identity: a Gemma vocabulary takes about a second
_cache: dict[tuple, Tokenizer] = {}


def tokenizer(source: str | os.PathLike[str] | Model | Tokenizer) -> Tokenizer:
    """The tokenizer of a model file, a model directory, a ``tokenizer.json``, or an opened ``Model``.
    Built once per file and process (the same path, size and modification time give the same one)."""
    if isinstance(source, Tokenizer):
        return source
    key = _identity(source.source if hasattr(source, "source") else source)
    if key is not None and key in _cache:
        return _cache[key]
    tok = build_tokenizer(source)
    if key is not None:
        if len(_cache) >= CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = tok
    return tok


def tokenizer_for(source: str | os.PathLike[str] | Model | Tokenizer, *, text: str | None = None,
                  ids: Sequence[int] = ()) -> Tokenizer:
    """A tokenizer exact for tokenizing ``text`` and decoding ``ids``: for an SPM GGUF file and a text of
    at most ``restricted.LONGEST_TEXT`` characters, built over what they can reach, from the vocabulary
    cache (filled on first use); for anything else ``tokenizer(source)``."""
    from paramscope.tokenize import restricted

    if isinstance(source, str | os.PathLike) and (text is None or len(text) <= restricted.LONGEST_TEXT):
        _require_tokenizers()
        path = Path(source).expanduser()
        if _is_gguf(path):
            from paramscope.tokenize import cache

            vocab = cache.load(path)
            if vocab is None:
                vocab, model = _remember(path)
                if vocab is None:
                    return tokenizer(model)
            return restricted.build(vocab, text or "", ids)
    return tokenizer(source)


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _remember(path: Path) -> tuple[restricted_types.SpmVocab | None, Model]:
    """Read an SPM vocabulary into the cache; (None, the model) for any other GGUF tokenizer."""
    from paramscope.formats import open_model
    from paramscope.tokenize import cache, gguf_models, gguf_vocab

    model = open_model(path)
    if model.metadata.get(gguf_vocab.KEY.format("model")) != "llama":
        return None, model
    vocab = gguf_vocab.read_vocab(model)
    wrapper = gguf_models.wrapper_fields(vocab, gguf_models.spm_chunkable(vocab))
    return cache.store(path, vocab, wrapper), model


def _identity(source: str | os.PathLike[str]) -> tuple | None:
    """(path, size, mtime) of the file the tokenizer comes from: the file named, or a directory's
    tokenizer.json; None for anything else (catalogue names, directories of GGUF files)."""
    try:
        path = Path(source).expanduser().resolve()
        if path.is_dir():
            path = path / HF_FILE
        st = path.stat()
    except (OSError, ValueError, TypeError):
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def build_tokenizer(source: str | os.PathLike[str] | Model) -> Tokenizer:
    """``tokenizer`` without the cache: always reads and builds."""
    _require_tokenizers()
    if isinstance(source, str | os.PathLike):
        path = Path(source).expanduser()
        if path.is_dir() and (path / HF_FILE).is_file():
            return _hf(path / HF_FILE)
        if path.is_file() and path.name.endswith(HF_FILE):
            return _hf(path)
        from paramscope.formats import open_model

        source = open_model(source)
    return from_model(source)


def from_model(model: Model) -> Tokenizer:
    """A GGUF model's own vocabulary, else the tokenizer.json found beside the weights."""
    if "tokenizer.ggml.model" in model.metadata or model.format == "gguf":
        from paramscope.tokenize import gguf_models

        return gguf_models.build(model)
    found = [f for f in model.tokenizer_files if Path(f).name == HF_FILE]
    if found and found[0].startswith("hf:"):  # a Hub repository's: fetched whole, into the HF cache
        from paramscope.sources.hub import local_copy

        return _hf(Path(local_copy(found[0])), name=model.source)
    named = Path(model.source).expanduser()  # a weights file or config.json named on its own
    beside = named.parent / HF_FILE
    if found or (named.is_file() and beside.is_file()):
        return _hf(Path(found[0]) if found else beside)
    if model.tokenizer_files:
        names = ", ".join(Path(f).name for f in model.tokenizer_files)
        raise UnsupportedError(f"{model.source}: only {names} found; paramscope reads a GGUF vocabulary "
                               f"or a {HF_FILE}")
    raise SourceError(f"{model.source}: no tokenizer found (a GGUF file carries its vocabulary; a model "
                      f"directory needs {HF_FILE}; catalogue entries have none)")


def count_tokens(model_or_source: str | os.PathLike[str] | Model | Tokenizer, text: str) -> int:
    """Tokens the model's tokenizer makes of ``text``, counting the BOS/[CLS]/EOS it adds: the context
    a prompt of this text occupies."""
    return tokenizer(model_or_source).count(text)


def read_text(source: str | os.PathLike[str] | BinaryIO, name: str | None = None) -> str:
    """A whole text file (or binary stream) as UTF-8 text; anything else is an error naming the byte."""
    path = None if hasattr(source, "read") else os.fspath(cast("str | os.PathLike[str]", source))
    label = name or path or "input"
    try:
        if path is None:
            raw = cast(BinaryIO, source).read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as e:
        raise SourceError(f"{label}: cannot read ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SourceError(f"{label}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start}); "
                          "convert it to UTF-8 first") from None


def _require_tokenizers() -> None:
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        from paramscope.errors import MissingExtraError

        raise MissingExtraError("tokenizing", "tokens", "tokenizers") from None


def _hf(path: Path, name: str | None = None) -> Tokenizer:
    from paramscope.tokenize import hf

    tok = hf.build(path)
    if name:  # a cached copy's folder is a hash: name the tokenizer after its model
        tok.name = name
    return tok
