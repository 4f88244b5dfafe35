"""The speed lines `size` and `fit` share: calibrated intervals where measured, the bounds always."""

from __future__ import annotations

from rich.text import Text

from paramscope.units import bytes_label


def speed_rows(speed, where: str) -> list[tuple[str, Text | str]]:
    """(label, text) rows: decode and prefill, each calibrated (with its label) and bound."""
    rows: list[tuple[str, Text | str]] = []
    if speed.decode_range:
        low, typical, high = speed.decode_range
        rows.append(("decode", f"~{typical:,.1f} tokens/s per sequence ({low:,.1f}–{high:,.1f}): "
                               f"{speed.decode_label}"))
    if speed.decode_tokens_per_s:
        # a layer split: the GPUs read their layers in turn, so N GPUs decode no faster than one
        turn = ", one GPU at a time" if 0 < speed.devices_at_once < speed.n_devices else ""
        if speed.host_read_bytes and speed.host_bandwidth:
            assumed = "an assumed " if speed.host_ram_assumed else ""
            turn += (f", {bytes_label(speed.host_read_bytes)} of it in host memory at "
                     f"{assumed}{speed.host_bandwidth / 1e9:.1f} GB/s")
        rows.append(("decode bound", f"≤ {speed.decode_tokens_per_s:,.1f} tokens/s per sequence on {where} "
                                     f"({bytes_label(speed.bytes_per_step)} read per token{turn})"))
    if speed.prefill_range:
        fast, typical, slow = speed.prefill_range
        rows.append(("prefill", f"~{typical:.3f} s for {speed.prefill_tokens:,} tokens "
                                f"({fast:.3f}–{slow:.3f} s): {speed.prefill_label}"))
    if speed.prefill_seconds is not None:
        rows.append(("prefill bound", f"≥ {speed.prefill_seconds:.3f} s for {speed.prefill_tokens:,} tokens "
                                      f"on {where}, at peak FLOP/s"))
    return rows
