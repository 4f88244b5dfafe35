"""How much a header may declare before paramscope refuses to read it (docs/formats.md, "Limits").

A header is small but can declare a great deal: a 94 MB safetensors header can list 1.3 million
tensors, a 56 MB GGUF header 1 million. Reading every such entry into a ``Tensor`` and classifying it
costs about 50 µs and 1 kB each (64 s and 1.4 GB for the 1.3 M, measured before these limits), so a
file beyond the limits below is refused with one line before its entries are read: in the CLI, in
``serve``, and for remote files before their headers are fetched whole.

The limits sit far above any published checkpoint: DeepSeek-V3 in FP8 holds about 92,000 tensors
(weights and their block scales), the largest we know of (Kimi K2, AWQ) about 210,000; a GGUF file
fuses experts and holds a few thousand, with 40-60 metadata keys.
"""

from __future__ import annotations

from paramscope.errors import HeaderError

MAX_TENSORS = 1 << 18  # 262,144 tensors in one model (a file, or all the shards or splits of one)
MAX_KV_PAIRS = 1 << 16  # 65,536 GGUF metadata keys


def check_tensor_count(file: str, n: int, what: str = "the header declares") -> None:
    if n > MAX_TENSORS:
        raise HeaderError(file, f"{what} more tensors than paramscope reads (docs/formats.md, Limits)",
                          f"{n:,}", f"at most {MAX_TENSORS:,}")


def check_kv_count(file: str, n: int) -> None:
    if n > MAX_KV_PAIRS:
        raise HeaderError(file, "the header declares more metadata keys than paramscope reads "
                          "(docs/formats.md, Limits)", f"{n:,}", f"at most {MAX_KV_PAIRS:,}")
