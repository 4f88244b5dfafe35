"""Header read of a sharded safetensors checkpoint: paramscope vs the safetensors library.

    python bench/bench_sharded_header.py [--layers 128] [--shards 4] [--repeat 20]

Builds a Llama-shaped checkpoint (9 tensors per layer, hidden 1024, BF16) as sparse shards: each
header is written in full and the file is extended to its real size with truncate, so no tensor data
touches the disk. Then times, in this process, the best of ``--repeat`` runs of
- paramscope: ``read_index`` (every shard header parsed, validated, checked against the weight_map);
- safetensors: the index JSON plus ``safe_open`` of every shard and each tensor's shape and dtype
  (the same facts), the library's fastest route to them.
The target is ≤ 50 ms for ≥ 1,000 tensors; the ratio is paramscope / safetensors. Exits 1 when the
target is missed or when the two readers disagree on any tensor's name, shape or dtype.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HIDDEN = 1024
FFN = 2816
VOCAB = 32000
BF16_BYTES = 2


def llama_tensors(n_layers: int) -> list[tuple[str, list[int]]]:
    """(name, shape) in Hugging Face Llama naming: 9 per layer plus embedding, final norm, head."""
    out: list[tuple[str, list[int]]] = [("model.embed_tokens.weight", [VOCAB, HIDDEN])]
    for i in range(n_layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", [HIDDEN]),
                (p + "post_attention_layernorm.weight", [HIDDEN])]
        out += [(p + f"self_attn.{x}_proj.weight", [HIDDEN, HIDDEN]) for x in "qkvo"]
        out += [(p + "mlp.gate_proj.weight", [FFN, HIDDEN]), (p + "mlp.up_proj.weight", [FFN, HIDDEN]),
                (p + "mlp.down_proj.weight", [HIDDEN, FFN])]
    out += [("model.norm.weight", [HIDDEN]), ("lm_head.weight", [VOCAB, HIDDEN])]
    return out


def write_sparse_shard(path: Path, tensors: list[tuple[str, list[int]]]) -> int:
    """A valid shard whose data region is a hole; returns its data bytes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors:
        n = BF16_BYTES
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the writer pads to 8 bytes so the data is aligned
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        f.truncate(8 + len(raw) + offset)
    return offset


def build_sharded(folder: Path, n_layers: int = 128, n_shards: int = 4) -> Path:
    """Shards model-0000i-of-0000n.safetensors and model.safetensors.index.json; returns the index."""
    tensors = llama_tensors(n_layers)
    per = -(-len(tensors) // n_shards)
    weight_map: dict[str, str] = {}
    total = 0
    for s in range(n_shards):
        name = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
        part = tensors[s * per:(s + 1) * per]
        total += write_sparse_shard(folder / name, part)
        weight_map.update({t: name for t, _ in part})
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return index


def read_ours(index: Path) -> int:
    from paramscope.formats.safetensors import read_index

    return len(read_index(index).tensors)


def read_library(index: Path) -> int:
    from safetensors import safe_open

    weight_map = json.loads(index.read_text())["weight_map"]
    n = 0
    for shard in sorted(set(weight_map.values())):
        with safe_open(index.parent / shard, framework="numpy") as f:
            keys = f.keys()  # safe_open is not iterable itself
            for key in keys:
                s = f.get_slice(key)
                s.get_shape()
                s.get_dtype()
                n += 1
    return n


def facts_ours(index: Path) -> set[tuple[str, tuple[int, ...], str]]:
    from paramscope.formats.safetensors import read_index

    return {(t.name, tuple(t.shape), t.dtype.value) for t in read_index(index).tensors}


def facts_library(index: Path) -> set[tuple[str, tuple[int, ...], str]]:
    from safetensors import safe_open

    weight_map = json.loads(index.read_text())["weight_map"]
    out = set()
    for shard in sorted(set(weight_map.values())):
        with safe_open(index.parent / shard, framework="numpy") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not iterable itself)
                s = f.get_slice(key)
                out.add((key, tuple(s.get_shape()), s.get_dtype()))
    return out


def best_seconds(fn: Callable[[Path], int], index: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(index)
        best = min(best, time.perf_counter() - t0)
    return best


TARGET_S = 0.050
MIN_TENSORS = 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=128)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = build_sharded(Path(tmp), args.layers, args.shards)
        n_ours, n_lib = read_ours(index), read_library(index)
        mine, theirs = facts_ours(index), facts_library(index)
        ours = best_seconds(read_ours, index, args.repeat)
        lib = best_seconds(read_library, index, args.repeat)
    print(f"tensors: {n_ours} in {args.shards} shards")
    print(f"paramscope read_index: {ours * 1e3:8.2f} ms (target <= 50 ms)")
    print(f"safetensors safe_open: {lib * 1e3:8.2f} ms")
    print(f"ratio paramscope/safetensors: {ours / lib:.2f}")
    failed = []
    if mine != theirs or n_ours != n_lib:
        failed.append(f"readers disagree on {len(mine ^ theirs)} tensor(s) (counts {n_ours} vs {n_lib})")
    if n_ours >= MIN_TENSORS and ours > TARGET_S:
        failed.append(f"read_index {ours * 1e3:.1f} ms > {TARGET_S * 1e3:.0f} ms")
    print("FAILED: " + "; ".join(failed) if failed else "target met, readers agree")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
