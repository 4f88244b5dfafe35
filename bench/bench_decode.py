"""Decoding throughput: paramscope.analyses.values.decode against gguf.quants.dequantize on the same
random blocks.

    python bench/bench_decode.py [--mb 256] [--types Q4_K,Q8_0,BF16] [--repeat 3]

For each type, ~MB megabytes of random valid blocks (finite scales) are decoded two ways, each by
``gguf.quants.dequantize`` (the baseline) and by ``paramscope.analyses.values.decode.dequantize`` on
each installed backend (numba, numpy):
- whole: the whole array at once, a fresh output each time;
- streamed: 1 MB pieces, as ``stats`` streams a tensor (ours into one reused buffer; gguf allocates
  its own output per piece, it has no ``out``).
Throughput is GB/s of input bytes, the best of --repeat runs after one warm-up run (the warm-up takes
the cost of first-touching fresh memory, slow on VMs, out of the timings); the runs of all methods are
interleaved, so load from other processes hits them alike. Ratios are against gguf decoding the same
way in this same run. The floor (issue 4): on the default backend, Q4_K and Q8_0 ≥ 3× gguf both ways;
exits 1 below it, or when any backend's values differ from gguf's (bit for bit, any NaN equal to any NaN).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable

import numpy as np

from _common import ROOT

sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from builders.ggml_blocks import random_blocks  # the tests' generator of valid random blocks
from paramscope.analyses.values.decode import BACKENDS, default_backend, dequantize
from paramscope.model.dtypes import DType

FLOOR = 3.0
FLOOR_TYPES = (DType.Q4_K, DType.Q8_0)
PIECE_BYTES = 1 << 20


def random_input(dtype: DType, n_bytes: int) -> tuple[np.ndarray, int]:
    """About n_bytes of valid random data of a type, and its element count."""
    n_blocks = n_bytes // dtype.type_size
    if dtype.info.quantized:
        return random_blocks(dtype, n_blocks, seed=1), n_blocks * dtype.block_size
    raw = np.random.default_rng(1).integers(0, 256, n_blocks * dtype.type_size, dtype=np.uint8)
    return raw, n_blocks * dtype.block_size


Decode = Callable[[np.ndarray, int, np.ndarray | None], object]


def gguf_decoder(dtype: DType) -> Decode:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize as gguf_dequantize

    qtype = GGMLQuantizationType[dtype.value]
    return lambda raw, n, out: gguf_dequantize(raw, qtype)


def our_decoder(dtype: DType, backend: str) -> Decode:
    return lambda raw, n, out: dequantize(raw, dtype, n, out, backend=backend)


def whole(decode: Decode, raw: np.ndarray, n: int) -> Callable[[], object]:
    return lambda: decode(raw, n, None)


def streamed(decode: Decode, raw: np.ndarray, dtype: DType) -> Callable[[], None]:
    piece_bytes = PIECE_BYTES // dtype.type_size * dtype.type_size
    buffer = np.empty(piece_bytes // dtype.type_size * dtype.block_size, dtype=np.float32)

    def go() -> None:
        for start in range(0, raw.size, piece_bytes):
            piece = raw[start:start + piece_bytes]
            n = piece.size // dtype.type_size * dtype.block_size
            decode(piece, n, buffer[:n])
    return go


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if b != "numba" or importlib.util.find_spec("numba") is not None]


def best_seconds(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best time of each function over ``repeat`` interleaved rounds, after one warm-up round."""
    best = dict.fromkeys(fns, float("inf"))
    for round_ in range(repeat + 1):
        for label, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_:
                best[label] = min(best[label], time.perf_counter() - start)
    return best


def differing_backends(dtype: DType, raw: np.ndarray, n: int) -> list[str]:
    """Backends whose values are not gguf-py's on these blocks."""
    reference = gguf_decoder(dtype)(raw, n, None).reshape(-1).view(np.uint32)
    out = []
    for backend in installed_backends() if dtype.info.quantized else ["numpy"]:
        ours = dequantize(raw, dtype, n, backend=backend).view(np.uint32)
        nan = np.isnan(ours.view(np.float32)) & np.isnan(reference.view(np.float32))
        if not np.all((ours == reference) | nan):
            out.append(f"{dtype.value} {backend}")
    return out


def bench_type(dtype: DType, n_bytes: int, repeat: int) -> list[tuple[str, str, float, float]]:
    """(way, decoder, GB/s, ratio to gguf the same way) rows for one type."""
    raw, n = random_input(dtype, n_bytes)
    if differ := differing_backends(dtype, raw, n):
        raise SystemExit(f"values differ from gguf.quants.dequantize: {', '.join(differ)}")
    decoders = {"gguf.quants.dequantize": gguf_decoder(dtype)}
    # plain types decode with numpy on either backend
    backends = installed_backends() if dtype.info.quantized else ["numpy"]
    decoders |= {f"ours, {backend}": our_decoder(dtype, backend) for backend in backends}
    fns = {}
    for name, decode in decoders.items():
        fns[("whole", name)] = whole(decode, raw, n)
        fns[("streamed 1 MB", name)] = streamed(decode, raw, dtype)
    seconds = best_seconds(fns, repeat)
    rows = []
    for way, name in fns:
        rate = raw.nbytes / seconds[way, name] / 1e9
        base = raw.nbytes / seconds[way, "gguf.quants.dequantize"] / 1e9
        rows.append((way, name, rate, rate / base))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="input megabytes per type (default 256)")
    parser.add_argument("--types", default="Q4_K,Q8_0,BF16")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"decode throughput, {args.mb} MB of random blocks per type, GB/s of input, best of "
          f"{args.repeat}; default backend: {default_backend()}")
    print(f"  {'type':<6} {'way':<14} {'decoder':<24} {'GB/s':>7}  {'× gguf':>6}")
    failed = []
    for name in args.types.split(","):
        dtype = DType(name.strip().upper())
        for way, decoder, rate, ratio in bench_type(dtype, args.mb << 20, args.repeat):
            print(f"  {dtype.value:<6} {way:<14} {decoder:<24} {rate:7.3f}  {ratio:6.1f}", flush=True)
            if dtype in FLOOR_TYPES and decoder == f"ours, {default_backend()}" and ratio < FLOOR:
                failed.append(f"{dtype.value} {way} {ratio:.1f}×")
    if failed:
        print(f"below the {FLOOR:g}× floor: {', '.join(failed)}")
        return 1
    print(f"floor met: Q4_K and Q8_0 decoding ≥ {FLOOR:g}× gguf.quants.dequantize, whole and streamed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
