"""What fits where: devices needed, GPU/CPU split, longest context, best quantization, flags to pass.

Everything here asks ``analyses.memory.estimate`` (the one composition of weights + KV + buffers +
overhead) under different settings; no memory formula lives in this module.

- **Devices needed** (tensor parallelism): the fewest N whose even split fits each device, among the N
  the attention heads allow: vLLM requires ``n_heads % N == 0`` and either ``n_kv_heads % N == 0`` or
  ``N % n_kv_heads == 0`` (KV heads are then replicated) — vllm/config (verify_with_parallel_config).
- **Offload** (llama.cpp ``-ngl``): when one device is too small, the layers that fit on it go there
  and the rest stays in CPU RAM. A layer costs its weights plus its KV cache; the device also keeps the
  runtime buffers and the output head (llama.cpp keeps the input embedding in RAM). For a mixture of
  experts, routed experts go to RAM first (``--n-cpu-moe``): attention and shared weights of every
  layer stay on the GPU, which is what makes big MoE models usable on one GPU.
- **Longest context**: binary search over the context (memory is monotonic in it).
- **Best quantization**: the first scheme, from most to least precise, whose total fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paramscope.analyses.contents.inventory import inventory
from paramscope.analyses.sizing.memory import MemoryRequest, SizeEstimate, estimate
from paramscope.errors import UnsupportedError
from paramscope.knowledge.hardware import Device
from paramscope.model import ArchConfig, Model

# Re-pricing choices, most precise first (llama.cpp file types; their bytes come from analyses/weights)
QUANT_LADDER = ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k", "iq2_xxs")
MAX_DEVICES = 64


@dataclass(frozen=True, slots=True)
class Offload:
    gpu_layers: int  # llama.cpp -ngl
    n_layers: int
    cpu_moe_layers: int  # llama.cpp --n-cpu-moe: layers whose routed experts stay in RAM
    gpu_bytes: int
    ram_bytes: int
    fits_ram: bool | None


@dataclass(frozen=True, slots=True)
class FitReport:
    device: Device
    request: MemoryRequest
    one_device: SizeEstimate
    on_devices: SizeEstimate  # on the devices needed (one device when none suffices)
    devices_needed: int | None  # None: not even MAX_DEVICES of them
    allowed_device_counts: tuple[int, ...]
    offload: Offload | None  # when one device is too small
    max_context: int  # on the devices needed (or one device when none suffices): 0 if none fits
    best_quant: str | None  # the most precise re-pricing that fits one device
    commands: tuple[str, ...]
    explain: tuple[str, ...]


def allowed_tp(cfg: ArchConfig, limit: int = MAX_DEVICES) -> tuple[int, ...]:
    out = []
    for n in range(1, limit + 1):
        if cfg.n_heads % n:
            continue
        kv = cfg.n_kv_heads or cfg.n_heads
        if kv % n == 0 or n % kv == 0:
            out.append(n)
    return tuple(out)


def fits(model: Model, req: MemoryRequest) -> bool:
    return bool(estimate(model, req).fits)


def devices_needed(model: Model, req: MemoryRequest, counts: tuple[int, ...]
                   ) -> tuple[int | None, SizeEstimate | None]:
    """The fewest devices whose even split fits, and the estimate on them; (None, None) if no count does."""
    for n in counts:
        est = estimate(model, replace(req, n_devices=n))
        if est.fits:
            return n, est
    return None, None


def max_context(model: Model, req: MemoryRequest) -> int:
    cfg = model.config
    hi = cfg.context_length if cfg and cfg.context_length else 1 << 20
    if not fits(model, replace(req, context=1)):
        return 0
    if fits(model, replace(req, context=hi)):
        return hi
    lo = 1  # fits; hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(model, replace(req, context=mid)) else (lo, mid)
    return lo


def best_quant(model: Model, req: MemoryRequest) -> str | None:
    for scheme in QUANT_LADDER:
        try:
            if fits(model, replace(req, weights=scheme, n_devices=1)):
                return scheme
        except UnsupportedError:
            continue
    return None


def offload(model: Model, req: MemoryRequest, est: SizeEstimate, ram_bytes: int | None) -> Offload:
    """llama.cpp's split of layers between one GPU and CPU RAM (weights re-priced or as stored)."""
    inv = inventory(model)
    cfg = model.config
    assert cfg is not None and req.device is not None
    scale = est.weights_bytes / inv.weights_bytes if inv.weights_bytes else 1.0  # re-priced / stored
    layers = len(inv.by_layer) or cfg.n_layers
    kv_per_layer = est.kv_cache_bytes / max(cfg.n_layers, 1)
    layer_w = [int(c["total"].bytes * scale) for c in inv.by_layer.values()]
    expert_w = [int(c["experts"].bytes * scale) if "experts" in c else 0 for c in inv.by_layer.values()]
    # the output head runs on the GPU; a tied model's head is a GPU copy of the embedding (llama.cpp
    # loads it as a duplicated tensor), while the input embedding itself stays in RAM
    head_tally = inv.by_component.get("output") or inv.by_component.get("embedding")
    head = int(head_tally.bytes * scale) if head_tally else 0
    budget = req.device.usable_bytes - est.compute_bytes - est.overhead_bytes - head
    # MoE first: every layer's non-expert part on the GPU, routed experts in RAM, then bring experts back
    cpu_moe = 0
    if any(expert_w):
        dense_part = sum(w - e for w, e in zip(layer_w, expert_w, strict=True)) + kv_per_layer * layers
        if dense_part <= budget:
            room = budget - dense_part
            cpu_moe = layers
            for e in expert_w:
                if e > room:
                    break
                room -= e
                cpu_moe -= 1
            gpu = int(req.device.usable_bytes - room)
            ram = sum(expert_w[layers - cpu_moe:])
            return Offload(layers, layers, cpu_moe, gpu, ram, _fits(ram, ram_bytes))
    on_gpu, used = 0, 0.0
    for w in layer_w:
        if used + w + kv_per_layer > budget:
            break
        used += w + kv_per_layer
        on_gpu += 1
    ram = sum(layer_w[on_gpu:]) + int(kv_per_layer * (layers - on_gpu))
    gpu = int(used) + est.compute_bytes + est.overhead_bytes + head
    return Offload(on_gpu, layers, 0, gpu, ram, _fits(ram, ram_bytes))


def _fits(need: int, have: int | None) -> bool | None:
    return None if have is None else need <= have


def commands(model: Model, req: MemoryRequest, n: int | None, off: Offload | None,
             ctx: int) -> tuple[str, ...]:
    src = model.source
    kv = f" -ctk {req.kv_type} -ctv {req.kv_type}" if req.kv_type else ""
    if off is None:
        ngl = "-ngl 999"
    elif off.cpu_moe_layers:
        ngl = f"-ngl 999 --n-cpu-moe {off.cpu_moe_layers}"
    else:
        ngl = f"-ngl {off.gpu_layers}"
    out = [f"llama-server -m {src} -c {ctx * req.batch} -np {req.batch} {ngl}{kv}"]
    vllm_kv = " --kv-cache-dtype fp8" if req.kv_type and req.kv_type.lower().startswith("fp8") else ""
    if n:
        out.append(f"vllm serve {src} --tensor-parallel-size {n} --max-model-len {ctx} "
                   f"--max-num-seqs {req.batch} "
                   f"--gpu-memory-utilization {req.option('gpu_memory_utilization', 'vllm')}{vllm_kv}")
    return tuple(out)


def fit(model: Model, req: MemoryRequest, *, ram_bytes: int | None = None) -> FitReport:
    cfg = model.config
    if cfg is None or req.device is None:
        raise UnsupportedError(f"{model.source}: fit needs an architecture and a device")
    one = estimate(model, replace(req, n_devices=1))
    counts = allowed_tp(cfg)
    n, on_n = (1, one) if one.fits else devices_needed(model, req, counts)
    off = None if one.fits else offload(model, req, one, ram_bytes)
    ctx_req = replace(req, n_devices=n or 1)
    longest = max_context(model, ctx_req)
    quant = best_quant(model, req)
    ctx = one.context
    explain = (
        f"one {req.device.key}: needs {one.total_bytes:,} B of {req.device.usable_bytes:,} B",
        f"device counts the heads allow (n_heads {cfg.n_heads}, n_kv_heads {cfg.n_kv_heads}): "
        f"{', '.join(map(str, counts[:12]))}{' …' if len(counts) > 12 else ''}",
        f"longest context on {n or 1} device(s): {longest:,} tokens (binary search on the same estimate)",
    )
    return FitReport(req.device, req, one, on_n or one, n, counts, off, longest, quant,
                     commands(model, req, n, off, ctx), explain)
