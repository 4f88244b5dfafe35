"""A Hugging Face ``tokenizer.json``, run by the ``tokenizers`` library itself.

The file's normalizer, pre-tokenizer, model, post-processor ([CLS]/[SEP], BOS) and decoder are used as
they are; padding and truncation are switched off (a count of a document must not stop at 128 or
512, and must not include padding). Which IDs are special or user-defined comes from the file's
added tokens; byte-fallback tokens from a BPE model that has byte fallback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramscope.errors import HeaderError
from paramscope.tokenize.core import Tokenizer, spans_cut

FILE = "tokenizer.json"
# Components that never let a token run across a line break followed by a non-space character, so a
# long text may be counted in pieces cut there (core.SAFE_CUT). Anything else (Metaspace, Prepend,
# Strip, regex replacements, no pre-tokenizer at all) makes the text one piece.
SAFE_NORMALIZERS = {"BertNormalizer", "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "StripAccents", "Nmt",
                    "Precompiled", "Sequence"}
SAFE_PRE_TOKENIZERS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit", "Punctuation", "Digits",
                       "ByteLevel", "Split", "Sequence"}


def build(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer as Engine

    try:
        engine = Engine.from_file(str(path))
    except Exception as e:  # tokenizers raises plain Exception for every parse error
        raise HeaderError(str(path), "not a tokenizer.json the tokenizers library can read",
                          " ".join(str(e).split())[:200]) from None
    engine.no_padding()
    engine.no_truncation()
    added = engine.get_added_tokens_decoder()
    kinds = {i: ("special" if t.special else "user") for i, t in added.items()}
    model = type(engine.model).__name__  # BPE, WordPiece, Unigram, WordLevel
    if getattr(engine.model, "byte_fallback", False):
        for b in range(256):
            i = engine.token_to_id(f"<0x{b:02X}>")
            if i is not None:
                kinds.setdefault(i, "byte")
    chunkable = (_safe(engine.normalizer, SAFE_NORMALIZERS, allow_none=True)
                 and _safe(engine.pre_tokenizer, SAFE_PRE_TOKENIZERS, allow_none=False)
                 and not spans_cut(t.content for t in added.values()))
    name = path.parent.name if path.name == FILE else path.name
    return Tokenizer(engine, name=name, source=str(path), type=f"{model} ({FILE})", kinds=kinds,
                     chunkable=chunkable, details={"file": str(path), "model": model})


def _safe(component: Any, allowed: set[str], *, allow_none: bool) -> bool:
    if component is None:
        return allow_none
    return _walk(json.loads(component.__getstate__()), allowed)


def _walk(node: Any, allowed: set[str]) -> bool:
    if isinstance(node, list):
        return all(_walk(n, allowed) for n in node)
    if not isinstance(node, dict):
        return True
    kind = node.get("type")
    if kind not in allowed:
        return False
    if kind == "ByteLevel" and node.get("add_prefix_space"):
        return False
    return all(_walk(v, allowed) for k, v in node.items() if k in ("normalizers", "pretokenizers"))
