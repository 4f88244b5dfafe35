"""Units in one place: the size label models are named by ("268M", "8.03B"), byte labels, and sizes typed
by users ("8GB" = 8 × 10^9 bytes, "7.5GiB" = 7.5 × 2^30: units mean what they say, everywhere)."""

from __future__ import annotations

import re

from paramscope.errors import UsageError

BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*")

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


def parse_bytes(text: str | float, default_unit: str = "b", what: str = "size") -> int:
    """'8GB' → 8 × 10^9, '7.5GiB' → 7.5 × 2^30, '500MB'; a bare number is in ``default_unit``."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = str(text)
    m = _SIZE.fullmatch(str(text).lower())
    unit = (m.group(2) or default_unit.lower()) if m else ""
    if not m or unit not in BYTE_UNITS:
        raise UsageError(f"not a {what}: {text!r} (examples: 8GB, 7.5GiB, 500MB)")
    n = float(m.group(1)) * BYTE_UNITS[unit]
    if n <= 0:
        raise UsageError(f"{what} must be positive (found {text!r})")
    return int(n)
