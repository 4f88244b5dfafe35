"""vLLM --cpu-offload-gb: which of one rank's parameters the engine moves to host memory.

vLLM wraps every decoder layer it builds with ``make_layers`` (model_executor/models/utils.py) in
``maybe_offload_to_cpu`` (0.5.2 to 0.10; ``UVAOffloader._maybe_offload_to_cpu`` in
model_executor/offloader/uva.py since): the layers first to last, and within a layer its parameters in
the order the module registers them, each moved to pinned host memory while the bytes moved so far are
below ``cpu_offload_gb × 2**30``. The test comes before each parameter ("we use per-parameter
offloading: one module might have some parameters offloaded and some not"), so the last one moved may pass
the limit, and the limit is per GPU: each tensor-parallel rank moves its own shard's parameters, each
pipeline stage's worker its own layers. The embedding, the final norm and the LM head are not built by
``make_layers``: they stay on the GPU. The GPU reads the moved weights over the host link at every step
(UVA), which the memory figures leave out and the speed bound does not model.

Checked: vLLM PR #6496's Llama-3-70B-Instruct with --cpu-offload-gb 70 on a GH200 (0.5.2) printed
"Loading model weights took 61.2922 GB": 43 whole layers of 1,711,308,800 B and layer 43's qkv_proj,
o_proj, gate_up_proj and down_proj (the limit is passed at down_proj) = 75,297,554,432 B moved; the rest,
65,809,858,560 B, plus the 2 MiB RoPE cache is 61.2922 GiB (tests/fixtures/engine_logs/vllm/6496-*).

The parameters are the checkpoint's tensors fused as vLLM fuses them (runtimes/allocator.py ``FUSED``:
q/k/v into qkv_proj, gate/up into gate_up_proj, experts into w13/w2), each split over the ranks (k/v
replicated when there are fewer KV heads than ranks, 1-D norms whole). Within a layer the order is the
one Llama-like layers register (attention projections, output projection, attention norms; MLP input,
MLP output, router; the layer norms): a model that registers otherwise moves the same layers, and at most
the one parameter that passes the limit differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from paramscope.analyses.sizing.runtimes.allocator import KV_PROJ, packed_name, tail_bytes
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.model import Model

# A decoder layer's index in a tensor name, and the prefixes of towers that make_layers does not build
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|h|blocks|blk|layer)\.(\d+)\.")
ENCODER_NAMES = ("visual", "vision", "mm_projector", "multi_modal", "audio")

# Within a layer, the order Llama-like decoder layers register their parameters: (pattern, rank)
PARAM_ORDER = (
    (re.compile(r"(?:attn|attention)\.(?:qkv_proj|q_proj|k_proj|v_proj|q_a_proj|q_b_proj|kv_a_proj"
                r"\w*|kv_b_proj|query_key_value|c_attn|wqkv)\b", re.I), 0),
    (re.compile(r"(?:attn|attention)\.(?:o_proj|dense|out_proj|c_proj|wo)\b", re.I), 1),
    (re.compile(r"(?:attn|attention)\.", re.I), 2),  # q_norm, k_norm, kv_a_layernorm
    (re.compile(r"\.(?:gate_up_proj|gate_proj|up_proj|w13|w1|w3|fc1|c_fc|dense_h_to_4h)\b", re.I), 3),
    (re.compile(r"\.(?:down_proj|w2|fc2|dense_4h_to_h)\b", re.I), 4),
    (re.compile(r"(?:mlp|moe|feed_forward|ffn)\.", re.I), 5),  # the router, shared-expert gates
    (re.compile(r"input_layernorm|ln_1|attention_norm", re.I), 6),
)
OTHER = 7


@record
class CpuOffload:
    """What one rank of one stage moves to host memory."""

    limit_bytes: int  # cpu_offload_gb × 2**30
    moved_bytes: int
    moved_tails: int  # the caching-allocator tails those parameters would have held on the GPU
    whole_layers: int  # layers moved whole, from the stage's first
    parameters: int  # parameters moved in all


def layer_parameters(model: Model, tensor_parallel: int, sizes: Mapping[str, int] | None = None
                     ) -> dict[int, list[tuple[str, int]]]:
    """One rank's parameters of each decoder layer, fused as vLLM fuses them, in registration order;
    ``sizes``: each tensor's bytes as held where they differ from the checkpoint's (re-priced)."""
    cfg = model.config
    kv_heads = cfg.n_kv_heads if cfg is not None else 0
    kv_share = max(1, kv_heads // tensor_parallel) / kv_heads if kv_heads else 1 / tensor_parallel
    groups: dict[str, tuple[int, float]] = {}
    for t in model.tensors:
        # towers and MTP modules are not among the decoder layers make_layers builds
        skip = any(k in t.name for k in ENCODER_NAMES) or t.name.startswith("mtp.") or ".mtp." in t.name
        found = None if skip else LAYER_INDEX.search(t.name)
        if found is None:
            continue
        key = packed_name(t.name)  # a packed part (AWQ qweight, scales …) fuses as its weight does
        share = 1.0 if len(t.shape) < 2 else kv_share if KV_PROJ.search(t.name) else 1 / tensor_parallel
        layer, size = groups.get(key, (int(found.group(1)), 0.0))
        nbytes = t.nbytes if sizes is None else sizes.get(t.name, t.nbytes)
        groups[key] = (layer, size + nbytes * share)
    layers: dict[int, list[tuple[str, int]]] = {}
    for key, (layer, size) in groups.items():
        layers.setdefault(layer, []).append((key, int(size)))
    for params in layers.values():
        params.sort(key=lambda kv: _rank(kv[0]))
    return dict(sorted(layers.items()))


def _rank(name: str) -> int:
    return next((rank for pattern, rank in PARAM_ORDER if pattern.search(name)), OTHER)


def cpu_offload(model: Model, tensor_parallel: int, limit_bytes: int, layers: tuple[int, int] | None = None,
                scale: float = 1.0, sizes: Mapping[str, int] | None = None, tails: bool = True
                ) -> CpuOffload:
    """What one rank holding decoder layers [start, end) (all: None) moves for a limit of
    ``limit_bytes``; ``sizes`` each tensor's bytes as re-priced, else ``scale`` times the checkpoint's
    (weights as the engine holds them); ``tails`` False where the weights figure counts no allocator tails
    (re-priced or packed weights: runtimes/allocator.py)."""
    moved = held = whole = count = 0
    if limit_bytes <= 0:
        return CpuOffload(limit_bytes, 0, 0, 0, 0)
    for index, params in layer_parameters(model, tensor_parallel, sizes).items():
        if layers is not None and not layers[0] <= index < layers[1]:
            continue
        done = 0
        for _, size in params:
            if moved >= limit_bytes:
                break
            size = int(size * scale)
            moved, held = moved + size, held + (tail_bytes(size, device_level=False) if tails else 0)
            count, done = count + 1, done + 1
        whole += done == len(params)
        if moved >= limit_bytes:
            break
    return CpuOffload(limit_bytes, moved, held, whole, count)
