"""llama.cpp's Unigram text normalization, for GGUF "t5" vocabularies.

``llm_tokenizer_ugm_session::normalize`` (src/llama-vocab.cpp) walks the UTF-8 bytes of each piece of
text between user-defined tokens, and at each position takes, in this order:

1. the longest user-defined token starting there, unchanged;
2. else the longest prefix found in the precompiled charsmap (a SentencePiece XOR-compressed compact
   double array, ``tokenizer.ggml.precompiled_charsmap``), replaced by its NUL-terminated replacement;
3. else one UTF-8 character, unchanged.

It then writes each space of the result as "▁" (or drops them all and puts one "▁" before every run of
other characters, with remove_extra_whitespaces), and one "▁" before the first other character with
add_space_prefix. ``tokenizers``' own ``Precompiled`` normalizer differs: it matches grapheme by grapheme,
and a grapheme of 6 bytes or more character by character, so "a" + three combining accents is not
composed and a space followed by a combining mark is one unit; llama.cpp's longest-prefix walk is done
here instead, as a custom ``tokenizers`` normalizer that keeps each matched prefix's output aligned to
the characters it replaced.
"""

from __future__ import annotations

import numpy as np

SPACE = "\u2581"
_PLACEHOLDERS = 0xF0000  # Supplementary Private Use Area-A: stand-ins while a many-character output is put in


class Charsmap:
    """The precompiled charsmap: longest-prefix lookups on UTF-8 bytes (llm_tokenizer_ugm's
    ``xcda_array_view`` and ``normalize_prefix``)."""

    def __init__(self, blob: bytes):
        size = int.from_bytes(blob[:4], "little")
        self.array = np.frombuffer(blob[4:4 + size], "<u4").tolist()
        self.replacements = blob[4 + size:]

    def longest(self, data: bytes, start: int) -> tuple[int, bytes] | None:
        """(bytes matched, replacement) of the longest charsmap key that ``data[start:]`` begins with."""
        array, found = self.array, None
        n = len(array)

        def node(i: int) -> int:
            if i >= n:
                raise IndexError("Index out of array bounds in XCDA array")
            return array[i]

        def base(packed: int) -> int:
            return (packed >> 10) << ((packed & (1 << 9)) >> 6)

        index = base(node(0))
        for offset in range(start, len(data)):
            c = data[offset]
            if c == 0:
                break
            index ^= c
            packed = node(index)
            if packed & ((1 << 31) | 0xFF) != c:  # LCHECK: not a child of the previous node
                break
            leaf = (packed >> 8) & 1
            index ^= base(packed)
            if leaf:
                value = node(index) & ((1 << 31) - 1)
                end = self.replacements.find(b"\0", value)
                if end < 0:
                    raise ValueError("Unterminated string in precompiled charsmap")
                found = (offset - start + 1, self.replacements[value:end])
        return found


class LlamaUgmNormalizer:
    """A custom ``tokenizers`` normalizer (``normalizers.Normalizer.custom``) doing llama.cpp's UGM
    normalization of one piece of text."""

    def __init__(self, charsmap: bytes | None, user_tokens: list[str], add_space_prefix: bool,
                 merge_spaces: bool):
        self.charsmap = Charsmap(charsmap) if charsmap else None
        self.user = sorted({t.encode() for t in user_tokens if t}, key=len, reverse=True)
        self.user_first = {u[:1] for u in self.user}
        self.prefix, self.merge = add_space_prefix, merge_spaces

    def segments(self, text: str) -> list[tuple[int, int, str]]:
        """(first character, end character, output) for each unit normalize_prefix consumes."""
        data = text.encode("utf-8")
        # character index of each byte offset that starts a character (and of the end)
        starts = [*np.flatnonzero((np.frombuffer(data, np.uint8) & 0xC0) != 0x80).tolist(), len(data)]
        char_at = {b: i for i, b in enumerate(starts)}
        out, offset = [], 0
        prepended, in_word = False, False
        while offset < len(data):
            consumed, piece = self._prefix(data, offset)
            end = offset + consumed
            while end not in char_at:  # never for valid keys; kept to character boundaries
                end += 1
            written = []
            for ch in piece.decode("utf-8", "replace"):
                if ch != " ":
                    if not in_word:
                        in_word = True
                        if (self.prefix and not prepended) or self.merge:
                            written.append(SPACE)
                            prepended = True
                    written.append(ch)
                else:
                    in_word = False
                    if not self.merge:
                        written.append(SPACE)
            out.append((char_at[offset], char_at[end], "".join(written)))
            offset = end
        return out

    def _prefix(self, data: bytes, offset: int) -> tuple[int, bytes]:
        if data[offset:offset + 1] in self.user_first:
            for u in self.user:
                if data.startswith(u, offset):
                    return len(u), u
        if self.charsmap is not None:
            found = self.charsmap.longest(data, offset)
            if found is not None:
                return found
        n = 1
        while offset + n < len(data) and (data[offset + n] & 0xC0) == 0x80:
            n += 1
        return n, data[offset:offset + n]

    def normalize(self, normalized) -> None:
        """Each unit's output put in place of its characters, aligned to them: n characters giving m
        map one to one, the last one giving the rest where m > n (a placeholder replaced afterwards)
        and the extra ones dropped where m < n, so that a token starts where its text starts (where
        several characters became fewer, it ends a little early)."""
        text = normalized.normalized
        chars: list[str] = []  # what each character becomes in place (map), "" to drop it (filter)
        multi: dict[str, str] = {}  # output of several characters → its placeholder
        used = set(text)
        next_placeholder = _PLACEHOLDERS
        for start, end, output in self.segments(text):
            n, m = end - start, len(output)
            if m <= n:
                chars.extend(output)
                chars.extend("" for _ in range(n - m))
                continue
            tail = output[n - 1:]
            if tail not in multi:
                while chr(next_placeholder) in used:
                    next_placeholder += 1
                multi[tail] = chr(next_placeholder)
                next_placeholder += 1
            chars.extend(output[:n - 1])
            chars.append(multi[tail])
        if chars == list(text):
            return
        it = iter(chars)
        normalized.map(lambda c: next(it) or c)
        if "" in chars:
            keep = iter([bool(c) for c in chars])
            normalized.filter(lambda c: next(keep))
        for tail, placeholder in multi.items():
            normalized.replace(placeholder, tail)
