"""Several GPUs (``--split-mode``, ``--tensor-split``): the layers each device takes by
llama_model::load_tensors' rule, and what each holds.
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import KVCache
from paramscope.analyses.sizing.runtimes.llamacpp.kv import as_llamacpp_loads, block_count
from paramscope.analyses.sizing.runtimes.llamacpp.offload import expert_bytes_at, gpu_layer_start, layer_split
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.records import record

# --- several GPUs (--split-mode, --tensor-split) -------------------------------------------------
# llama-model.cpp load_tensors: the split points are the prefix sums of --tensor-split (by default each
# device's free memory: identical GPUs, equal shares), normalised, in float; layer il (the output layer is
# il = n_layer) of the offloaded ones goes to the device
# ``upper_bound(splits, float(il − i_gpu_start) / act_gpu_layers)``. --split-mode layer (the default)
# uses that; none and row put every offloaded layer on the main GPU (-mg, device 0 here), row splitting
# each matrix's rows over the devices by the same fractions (the split buffer type), with the KV cache
# and the intermediate results on the main GPU. Each layer's cache sits with its layer (llama-kv-cache.cpp:
# buft = dev_layer(il)); each device that runs part of the graph has a compute buffer of its own.
SPLIT_MODES = ("layer", "none", "row")


def parse_tensor_split(text: str) -> tuple[float, ...] | None:
    """--tensor-split as llama.cpp's common/arg.cpp reads it: proportions, comma- or slash-separated."""
    if not text.strip():
        return None
    try:
        values = tuple(float(x) for x in text.replace("/", ",").split(","))
    except ValueError:
        raise UnsupportedError(f"llama.cpp: invalid --tensor-split {text!r} (proportions, e.g. 3,1)"
                               ) from None
    if any(v < 0 for v in values) or not any(values):
        raise UnsupportedError(f"llama.cpp: --tensor-split {text!r} needs non-negative proportions, "
                               f"one > 0")
    return values


def layer_devices(n_layer: int, n_devices: int, n_gpu_layers: int | None = None,
                  tensor_split: tuple[float, ...] | None = None, split_mode: str = "layer",
                  build: str = "current") -> tuple[int, ...]:
    """The device of each layer 0..n_layer − 1 and of the output layer (the last entry); −1: the host."""
    import numpy as np

    if split_mode not in SPLIT_MODES:
        raise UnsupportedError(f"llama.cpp: unknown --split-mode {split_mode!r} "
                               f"(known: {', '.join(SPLIT_MODES)})")
    if tensor_split is not None and len(tensor_split) > n_devices:
        raise UnsupportedError(f"llama.cpp: --tensor-split gives {len(tensor_split)} proportions for "
                               f"{n_devices} GPUs")
    ngl, start, _ = gpu_layer_start(n_layer, n_gpu_layers, build)
    shares = np.zeros(n_devices, np.float32)
    given = tensor_split or (1.0,) * n_devices
    shares[:len(given)] = given
    splits = np.cumsum(shares, dtype=np.float32)
    splits = (splits / splits[-1]).astype(np.float32)
    # every layer at once, each step in float32 as load_tensors computes it
    il = np.arange(n_layer + 1)
    offloaded = (il >= start) & (il - start < ngl)
    if split_mode != "layer":
        device = np.zeros(n_layer + 1, np.int64)
    else:
        x = (il - start).astype(np.float32) / np.float32(max(ngl, 1))
        device = np.minimum(np.searchsorted(splits, x, side="right"), n_devices - 1)
    return tuple(np.where(offloaded, device, -1).tolist())


@record
class DeviceSplit:
    """Each device's share under a multi-GPU split: weights, KV cache, and whether it runs a graph part."""

    layers: tuple[int, ...]  # layer_devices
    weights: tuple[int, ...]
    kv: tuple[int, ...]
    computes: tuple[bool, ...]


def device_split(model: Model, cfg: ArchConfig, weights_bytes: int, kv: KVCache, n_devices: int,
                 n_gpu_layers: int | None, tensor_split: tuple[float, ...] | None, split_mode: str,
                 build: str = "current", cpu_expert_layers: frozenset[int] = frozenset(),
                 scheme: str | None = None) -> DeviceSplit:
    """The weights (as ``weights_bytes`` prices them) and KV cache on each device (``layer_devices``);
    the host's share (input embedding, layers not offloaded, the routed experts of ``cpu_expert_layers``,
    at their own type where ``scheme`` re-prices them, as ``offload`` prices them) is ``offload``'s."""
    cfg = as_llamacpp_loads(cfg, build)
    n_layer = cfg.n_layers
    blocks = block_count(cfg)  # the trunk and the MTP layers the GGUF holds, placed alike (kv.py)
    where = layer_devices(blocks, n_devices, n_gpu_layers, tensor_split, split_mode, build)
    split = layer_split(model)
    scale = weights_bytes / (split.stored or 1)
    raw = [0.0] * n_devices
    hosted = [0.0] * n_devices  # the experts kept in host memory, as priced (at the scale, or the scheme)
    at_scheme = expert_bytes_at(model, scheme)[0] if scheme is not None and cpu_expert_layers else {}
    for il, nbytes in split.by_layer.items():
        if il < blocks and where[il] >= 0:
            raw[where[il]] += nbytes
            if il in cpu_expert_layers and il in split.experts_by_layer:
                hosted[where[il]] += (at_scheme.get(il, 0) if scheme is not None
                                      else split.experts_by_layer[il] * scale)
    if where[blocks] >= 0:
        output = split.outside
        if not split.has_output and cfg.tied_embeddings:
            output += split.embedding  # the GPU copy of a tied embedding (``offload``'s duplicate)
        raw[where[blocks]] += output
    if split_mode == "row":  # the matrices' rows over the devices by the same fractions
        shares = tensor_split or (1.0,) * n_devices
        total = sum(shares)
        on_gpu = sum(raw)
        raw = [on_gpu * (shares[d] if d < len(shares) else 0) / total for d in range(n_devices)]
    kinds = cfg.layer_types or ("full",) * n_layer
    per_kind = {part.kind: part.layer_bytes for part in kv.parts if part.layers and not part.layer_ids}
    kv_dev = [0] * n_devices
    for part in kv.parts:
        layer_bytes = part.layer_bytes  # a property that adds the part up: once per part
        for il in part.layer_ids:
            if where[il] >= 0:
                kv_dev[where[il]] += layer_bytes
    for il in range(min(n_layer, len(kinds))):
        if where[il] >= 0:
            kv_dev[where[il]] += per_kind.get(kinds[il], 0)
    computes = tuple(d in where for d in range(n_devices))
    return DeviceSplit(where, tuple(round(b * scale - h) for b, h in zip(raw, hosted, strict=True)),
                       tuple(kv_dev), computes)
