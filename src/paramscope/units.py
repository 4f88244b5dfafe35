"""Units in one place: the size label models are named by ("268M", "8.03B"), byte labels, and sizes and
counts typed by users.

One convention, everywhere (docs/cli.md): units mean what they say. "8GB" = 8 × 10^9 bytes (SI, as disk
and file sizes are sold), "7.5GiB" = 7.5 × 2^30 (IEC, as nvidia-smi, free and llama.cpp count, and as
GPU memory is built: a card sold as "24 GB" holds 24 GiB). A bare number is refused: it is exactly the
ambiguity this rule removes. Printed sizes are binary (``bytes_label``: "22.35 GiB") unless labelled
decimal (``decimal_label``: "24.00 GB"); both always carry their unit. Counts take K, M, B (or G), T.
"""

from __future__ import annotations

import re

from paramscope.errors import UsageError

BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# patterns as text, compiled by re (and cached there) on first use
_SIZE = r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*"

_SUFFIXES = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))


def size_label(params: int) -> str:
    """268,098,176 → "268M"; 8,030,261,248 → "8.03B"; 70,553,706,496 → "70.6B".

    Three significant digits, the way model cards round (Llama 3.1 "8B" is 8.03B, "70B" is 70.6B);
    trailing zeros after the point are dropped (46.7B, not 46.70B).
    """
    for scale, suffix in _SUFFIXES:
        if params >= scale:
            value = params / scale
            # round to 3 significant digits; 999.6M rounds up into the next unit
            digits = 2 if value < 10 else 1 if value < 100 else 0
            text = f"{value:.{digits}f}"
            if float(text) >= 1000 and suffix != "T":
                return size_label(int(round(value, digits - 3) * scale))
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return text + suffix
    return str(params)


def bytes_label(n: int) -> str:
    """Binary units as engines print them: 1536 → "1.50 KiB", 233,379,840 → "222.57 MiB"."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def decimal_label(n: int) -> str:
    """Decimal units, as disks and downloads are sized: 999 → "999 B", 25,769,803,776 → "25.77 GB"."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def parse_bytes(text: str | int, what: str = "size") -> int:
    """'8GB' → 8 × 10^9, '7.5GiB' → 7.5 × 2^30, '500MB'. A Python int is a number of bytes; a string
    needs its unit (a bare "64" could mean 64 GB or 64 GiB, 7 % apart)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise UsageError(f"{what} must be positive (found {text})")
        return text
    m = re.fullmatch(_SIZE, str(text).lower())
    if m and not m.group(2):
        raise UsageError(f"{what} {text!r} needs a unit: {m.group(1)}GiB (binary, as nvidia-smi and free "
                         f"count) or {m.group(1)}GB (decimal)")
    if not m or m.group(2) not in BYTE_UNITS:
        raise UsageError(f"not a {what}: {text!r} (examples: 8GB, 7.5GiB, 500MB)")
    n = float(m.group(1)) * BYTE_UNITS[m.group(2)]
    if n < 1:
        raise UsageError(f"{what} must be positive (found {text!r})")
    return int(n)


COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_COUNT = r"\s*([0-9][0-9_,]*\.?[0-9]*(?:e[+-]?[0-9]+)?)\s*([a-z]?)\s*"


def parse_count(text: str | int | float, what: str = "count") -> int:
    """'10M' → 10,000,000; '2.5B' → 2,500,000,000; '1e7', '10,000,000' and 1e7 as they say."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        n = float(text)
    else:
        m = re.fullmatch(_COUNT, str(text).lower())
        if not m or m.group(2) not in COUNT_SUFFIXES:
            raise UsageError(f"not a {what}: {text!r} (examples: 10M, 2.5B, 1e9, 15T)")
        try:
            n = float(m.group(1).replace(",", "").replace("_", "")) * COUNT_SUFFIXES[m.group(2)]
        except ValueError:
            raise UsageError(f"not a {what}: {text!r} (examples: 10M, 2.5B, 1e9, 15T)") from None
    if not n >= 1 or n == float("inf"):
        raise UsageError(f"{what} must be at least 1 (found {text!r})")
    return round(n)


def hours_label(hours: float) -> str:
    """A duration at a readable scale, three significant digits: 0.5 → "30 minutes", 1.36 →
    "1.36 hours", 100 → "4.17 days", 20,000 → "2.28 years"."""
    scales = (("seconds", 3600, 1 / 60), ("minutes", 60, 1), ("hours", 1, 48), ("days", 1 / 24, 365 * 24))
    for unit, per_hour, limit in scales:
        if hours < limit:
            return f"{sig3(hours * per_hour)} {unit}"
    return f"{sig3(hours / (365.25 * 24))} years"


def sig3(x: float) -> str:
    """Three significant digits without an exponent: 0.00759 → "0.00759", 1.357 → "1.36", 41.2 → "41.2",
    419,221.4 → "419,221" (whole numbers keep all their digits)."""
    if x >= 100:
        return f"{x:,.0f}"
    if x < 1:
        return f"{x:.3g}" if x else "0"
    return f"{x:.{2 if x < 10 else 1}f}".rstrip("0").rstrip(".")


def counted(n: int, noun: str) -> str:
    """"1 request", "3 requests": the count with the noun in the number it takes (English plural -s)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
