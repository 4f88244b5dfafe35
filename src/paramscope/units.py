"""The size label models are named by: three significant digits and a suffix ("268M", "8.03B")."""

from __future__ import annotations

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
