"""SentencePiece-BPE ("llama" GGUF vocabularies) as BPE merges that ``tokenizers`` can run.

llama.cpp's SPM tokenizer (src/llama-vocab.cpp, ``llm_tokenizer_spm_session``) starts from UTF-8
characters and repeatedly joins the adjacent pair whose concatenation is a token of highest score,
the leftmost on ties, until no adjacent pair forms a token. That is BPE whose merges are every split
of every token into two tokens, ranked by the score of the token they make: ``(a, b) → a+b`` for all
tokens ``a+b`` and all cut points where both halves are tokens. Gemma 3's 262,144 tokens have 514,847
such splits among 1.2 million cut points.

Looking up every prefix and suffix as a Python string costs about 0.8 s for Gemma 3; here the halves
are found by polynomial hashes of the UTF-8 bytes (numpy, no Python loop), and every hit is then
checked byte for byte, so a hash collision can cost a lookup but never a wrong merge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

_P = np.uint64(0x100000001B3)  # FNV-64 prime: odd, so invertible modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


def spm_merges(tokens: Sequence[str], scores: np.ndarray, vocab: Mapping[str, int]) -> list[tuple[str, str]]:
    """Every ``(a, b)`` with ``a``, ``b`` and ``a + b`` in ``vocab``, highest score of ``a + b`` first.

    ``vocab`` maps each string to its ID; where a string occurs twice it maps to the later ID, as
    llama.cpp's ``token_to_id`` does, and only that ID's score counts. Cuts fall on character
    boundaries (llama.cpp's symbols are whole UTF-8 characters). Equal scores keep ID order, then
    cut order. Tokens must not be empty (llama.cpp renames an empty token "[EMPTY_<id>]").
    """
    data = np.frombuffer("".join(tokens).encode("utf-8"), np.uint8)
    # Byte offsets from character offsets: the k-th character starts at the k-th byte that is not a
    # UTF-8 continuation byte (10xxxxxx).
    char_starts = np.append(np.flatnonzero((data & 0xC0) != 0x80), len(data))
    char_ends = np.cumsum(np.fromiter(map(len, tokens), np.int64, len(tokens)))
    ends = char_starts[char_ends]
    starts = np.append(0, ends[:-1])
    lengths = ends - starts
    prefix, powers = _tables(data)
    ids = np.fromiter(vocab.values(), np.int64, len(vocab))  # one ID per distinct string
    known = _hash(prefix, powers, starts[ids], ends[ids])
    order = np.argsort(known)
    known, known_ids = known[order], ids[order]

    # Cut points: inside a token (not at its start), not inside a UTF-8 character, in a canonical ID.
    owner = np.repeat(np.arange(len(tokens)), lengths)
    cut = (data & 0xC0) != 0x80
    cut[starts] = False
    canonical = np.zeros(len(tokens), bool)
    canonical[ids] = True
    pos = np.flatnonzero(cut & canonical[owner])
    owner = owner[pos]
    left = _find(known, _hash(prefix, powers, starts[owner], pos))
    keep = left >= 0
    owner, pos, left = owner[keep], pos[keep], left[keep]
    right = _find(known, _hash(prefix, powers, pos, ends[owner]))
    keep = right >= 0
    owner, pos = owner[keep], pos[keep]
    left, right = known_ids[left[keep]], known_ids[right[keep]]

    keep = _same_bytes(data, starts, lengths, owner, pos - starts[owner], left, right)
    owner, left, right = owner[keep], left[keep], right[keep]
    order = np.argsort(-scores[owner].astype(np.float64), kind="stable")  # hits are in ID, cut order
    spell = tokens.__getitem__
    return list(zip(map(spell, left[order].tolist()), map(spell, right[order].tolist()), strict=True))


def _tables(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C[i] = Σ_{j<i} (b_j + 1)·P⁻ʲ and P^i, mod 2⁶⁴ (numpy's unsigned arithmetic wraps), so that a
    substring's hash needs no loop (see _hash). Bytes count as b + 1 so that NULs are not invisible."""
    n = len(data)
    powers, inv_powers = np.full(n + 1, _P, np.uint64), np.full(n, _P_INV, np.uint64)
    powers[0] = 1
    if n:
        inv_powers[0] = 1
    powers, inv_powers = np.cumprod(powers, dtype=np.uint64), np.cumprod(inv_powers, dtype=np.uint64)
    prefix = np.zeros(n + 1, np.uint64)
    np.cumsum((data.astype(np.uint64) + np.uint64(1)) * inv_powers, dtype=np.uint64, out=prefix[1:])
    return prefix, powers


def _hash(prefix: np.ndarray, powers: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Σ_{j=start}^{end-1} (b_j + 1)·P^(end-1-j) mod 2⁶⁴: the same value wherever the bytes sit."""
    return (prefix[end] - prefix[start]) * powers[end - 1]


def _find(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in ``sorted_keys``, or -1 (queries sorted first: about twice as fast)."""
    out = np.full(len(values), -1, np.int64)
    if not len(sorted_keys) or not len(values):
        return out
    order = np.argsort(values)
    queries = values[order]
    i = np.searchsorted(sorted_keys, queries)
    i[i == len(sorted_keys)] = 0
    found = sorted_keys[i] == queries
    out[order[found]] = i[found]
    return out


def _same_bytes(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, whole: np.ndarray,
                k: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each candidate: are the bytes of token ``left`` then token ``right`` exactly those of token
    ``whole`` cut at byte ``k``? Compared a token length at a time, as (candidates × length) arrays."""
    n = lengths[whole]
    ok = (lengths[left] == k) & (lengths[right] == n - k)
    for length in np.unique(n[ok]).tolist():
        rows = np.flatnonzero(ok & (n == length))
        col = np.arange(length)
        kk = k[rows, None]
        mine = data[starts[whole[rows], None] + col]
        at = np.where(col < kk, starts[left[rows], None] + col, starts[right[rows], None] + col - kk)
        theirs = data[at]
        ok[rows] = (mine == theirs).all(axis=1)
    return ok
