"""llama.cpp's WordPiece text preparation, for GGUF "bert" vocabularies.

llm_tokenizer_wpm_session::preprocess (src/llama-vocab.cpp) differs from BERT's own normalizer in two
ways that change IDs: its "NFD" keeps only the first code point of each character's decomposition
(unicode_cpts_normalize_nfd: "é" → "e", and a Hangul syllable → its leading consonant, "안" → "ᄋ"),
and with strip_accents it drops every combining mark, \\p{M}, where BERT drops only Mn (so the
Devanagari vowel sign "ि", an Mc, goes too). Lower-casing keeps the first code point of the lower
case ("İ" → "i"), as llama.cpp's unicode_map_lowercase does. Python's ``unicodedata`` stands in for
llama.cpp's generated tables (scripts/gen-unicode-data.py derives them from the same data).

This runs as a Python normalizer inside ``tokenizers``, one call per character: fine for the short
texts an embedding model takes, slow (about a megabyte a second) for counting long files.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# unicode_set_whitespace in llama.cpp's src/unicode-data.cpp (Unicode White_Space).
WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                       "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@lru_cache(maxsize=1 << 16)
def first_of_nfd(c: str) -> str:
    return unicodedata.normalize("NFD", c)[0]


@lru_cache(maxsize=1 << 16)
def first_of_lower(c: str) -> str:
    return c.lower()[0]


def dropped(c: str, strip_accents: bool) -> bool:
    """NUL, U+FFFD and \\p{C} characters go; \\p{M} too when accents are stripped."""
    category = unicodedata.category(c)
    return c in "\x00\ufffd" or category[0] == "C" or (strip_accents and category[0] == "M")


class LlamaWpmNormalizer:
    """A custom ``tokenizers`` normalizer (``normalizers.Normalizer.custom``) doing llama.cpp's
    per-character steps; every step maps one character to one or none, so offsets stay exact."""

    def __init__(self, lowercase: bool, strip_accents: bool):
        self.lowercase, self.strip_accents = lowercase, strip_accents

    def normalize(self, normalized) -> None:
        if self.strip_accents:
            normalized.map(first_of_nfd)
        normalized.map(lambda c: " " if c in WHITESPACE else c)
        strip = self.strip_accents
        normalized.filter(lambda c: not dropped(c, strip))
        if self.lowercase:
            normalized.map(first_of_lower)
