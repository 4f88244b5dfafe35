"""What fits where: devices needed, GPU/CPU split, longest context, best quantization, flags to pass.

Everything here asks ``analyses.memory.estimate`` (the one composition of weights + KV + buffers +
overhead) under different settings; no memory formula lives in this module.

- **Devices needed** (tensor parallelism): the fewest N whose even split fits each device, among the N
  the attention heads allow: vLLM requires ``n_heads % N == 0`` and either ``n_kv_heads % N == 0`` or
  ``N % n_kv_heads == 0`` (KV heads are then replicated) — vllm/config (verify_with_parallel_config) —
  in every layer where layers differ (each layer's QKVParallelLinear splits its own heads: OpenELM's
  5 and 7 KV heads allow no split at all).
- **Offload** (llama.cpp ``-ngl``): when one device is too small, the layers that fit on it go there
  and the rest stays in CPU RAM. A layer costs its weights plus its KV cache; the device also keeps the
  runtime buffers and the output head (llama.cpp keeps the input embedding in RAM). For a mixture of
  experts, routed experts go to RAM first (``--n-cpu-moe``): attention and shared weights of every
  layer stay on the GPU, which is what makes big MoE models usable on one GPU.
- **Longest context**: binary search over the context (memory is monotonic in it).
- **Best quantization**: the first scheme, from most to least precise, whose total fits. A quantized
  checkpoint's own weights ("as stored") take the ladder place their precision gives them: the stored
  bits per weight against each step's default tensor type (Q4_K: 4.5, Q3_K: 3.4375, bf16: 16), so that
  gpt-oss's MXFP4 experts (4.47 bits per weight over the whole model) come before Q3_K_M and Q2_K,
  which would round them again, and after the steps an unquantized release of the model would offer.
- **Verdict and commands** (``fit_advice``): the configurations worth running, in words and as
  llama.cpp / vLLM command lines.
"""

from __future__ import annotations

from paramscope.analyses.contents.inventory import inventory
from paramscope.analyses.sizing import fit_advice as advice
from paramscope.analyses.sizing.fit_advice import QUANT_LADDER, Command, Offload, Plan
from paramscope.analyses.sizing.memory import MemoryRequest, SizeEstimate, estimate
from paramscope.analyses.sizing.runtimes.common import per_layer_heads, tensor_parallel_problem
from paramscope.errors import UnsupportedError
from paramscope.knowledge.hardware import Device
from paramscope.knowledge.quant_schemes import FILE_TYPES
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import parse_dtype
from paramscope.records import record, replace
from paramscope.units import bytes_label

__all__ = ["AS_STORED", "MAX_DEVICES", "QUANT_LADDER", "Command", "FitReport", "Offload", "Plan",
           "allowed_tp", "best_quant", "devices_needed", "fit", "fits", "ladder", "max_context",
           "nominal_bits", "offload"]
MAX_DEVICES = 64


@record
class FitReport:
    """Whether the model fits the device: on one, on how many, and offloaded."""

    device: Device
    request: MemoryRequest
    one_device: SizeEstimate
    on_devices: SizeEstimate  # on the devices needed (one device when none suffices)
    devices_needed: int | None  # None: not even MAX_DEVICES of them (always 1 or None on a CPU)
    allowed_device_counts: tuple[int, ...]
    offload: Offload | None  # when one device is too small: the split at the weights as asked
    max_context: int  # on ``max_context_devices`` devices at the weights as asked: 0 if none fits
    best_quant: str | None  # the most precise re-pricing that fits one device whole, or AS_STORED
    best_label: str | None  # best_quant as shown: "Q3_K_M", "MXFP4 as stored"
    ladder: tuple[str, ...]  # the steps best_quant tried, most precise first (``ladder``)
    explain: tuple[str, ...]
    plans: tuple[Plan, ...]  # what the verdict recommends, in its order (fit_advice)
    command_lines: tuple[Command, ...]  # for each plan: its llama.cpp (and vLLM) command
    verdict: str  # the answer in words, naming each configuration
    weights_label: str  # the weights as asked: "BF16 as stored", "Q4_K_M"
    cpu_only: bool  # the device is CPU RAM: no GPU to offload to or split over
    split_words: str = "tensor parallel"  # how the runtime spreads the model over several GPUs
    counts_limited_by_heads: bool = True  # allowed_device_counts: what the heads allow, or 1..MAX_DEVICES
    # weights and KV the runtime keeps in host memory on one device (vLLM --cpu-offload-gb, llama.cpp -ngl,
    # --no-kv-offload) against the RAM given: None when there are none or no RAM was given
    host_fits_ram: bool | None = None

    @property
    def max_context_devices(self) -> int:
        return self.devices_needed or 1

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.command_lines)


def allowed_tp(cfg: ArchConfig, limit: int = MAX_DEVICES) -> tuple[int, ...]:
    """The device counts the attention heads split over, every layer's where layers differ
    (runtimes/common.py ``tensor_parallel_problem``: vLLM's rule, layer by layer)."""
    return tuple(n for n in range(1, limit + 1) if tensor_parallel_problem(cfg, n) is None)


# Runtimes that hand each GPU whole layers (llama.cpp --split-mode layer, its row split over matrix rows,
# transformers' device_map) take any number of GPUs; vLLM and SGLang shard every matrix (tensor
# parallel), so the heads must divide among the GPUs.
ANY_COUNT_RUNTIMES = ("llama.cpp", "transformers")


def device_counts(cfg: ArchConfig, req: MemoryRequest) -> tuple[tuple[int, ...], bool]:
    """The GPU counts ``fit`` tries, and whether the attention heads limited them (vLLM
    --pipeline-parallel-size P: P stages of the tensor-parallel sizes the heads allow)."""
    from paramscope.analyses.sizing.runtimes import find

    pp = _pipeline(req)[0]
    if find(req.runtime).name in ANY_COUNT_RUNTIMES:
        return tuple(range(1, MAX_DEVICES + 1)), False
    if pp == 1:
        return allowed_tp(cfg), True
    return tuple(pp * t for t in allowed_tp(cfg, MAX_DEVICES // pp)), True


def _heads_words(cfg: ArchConfig) -> str:
    """'n_heads 64, n_kv_heads 8', or each kind's range over the layers where they differ."""
    words = []
    for name, key, scalar in (("n_heads", "n_heads_per_layer", cfg.n_heads),
                              ("n_kv_heads", "n_kv_heads_per_layer", cfg.n_kv_heads)):
        values = sorted(set(per_layer_heads(cfg, key)) - {0})
        spread = f"{values[0]}–{values[-1]} by layer" if len(values) > 1 else str(scalar)
        words.append(f"{name} {spread}")
    return ", ".join(words)


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


AS_STORED = "as stored"  # best_quant's answer when the checkpoint's own quantized weights are the best


def nominal_bits(scheme: str) -> float:
    """A ladder step's precision: the bits per weight of its default tensor type (module docstring)."""
    file_type = FILE_TYPES.get(scheme.upper())
    return (file_type.default if file_type else parse_dtype(scheme)).bits_per_element


def ladder(model: Model) -> tuple[str, ...]:
    """QUANT_LADDER, with AS_STORED where a quantized checkpoint's stored bits per weight place it."""
    stored_bits = 8 * model.tensor_bytes / model.params if model.params else 0.0
    if not 0 < stored_bits < nominal_bits(QUANT_LADDER[0]):  # not quantized: the ladder's top is it
        return QUANT_LADDER
    at = next((i for i, s in enumerate(QUANT_LADDER) if nominal_bits(s) < stored_bits), len(QUANT_LADDER))
    return (*QUANT_LADDER[:at], AS_STORED, *QUANT_LADDER[at:])


def best_quant(model: Model, req: MemoryRequest) -> str | None:
    for scheme in ladder(model):
        try:
            if fits(model, replace(req, weights=None if scheme == AS_STORED else scheme, n_devices=1)):
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


PIPELINE_OPTIONS = ("pipeline_parallel_size", "pp_layer_partition")


def _pipeline(req: MemoryRequest) -> tuple[int, MemoryRequest]:
    """The pipeline stages asked for (1 if none), and the request without them (for one GPU)."""
    pp = int(req.options.get("pipeline_parallel_size", 1) or 1)
    rest = {k: v for k, v in req.options.items() if k not in PIPELINE_OPTIONS}
    return max(pp, 1), replace(req, options=rest)


def fit(model: Model, req: MemoryRequest, *, ram_bytes: int | None = None) -> FitReport:
    cfg = model.config
    device = req.device
    if cfg is None or device is None:
        raise UnsupportedError(f"{model.source}: fit needs an architecture and a device")
    cpu = device.kind == "cpu"
    # vLLM --pipeline-parallel-size P: the multi-GPU counts are P stages of the tensor-parallel sizes the
    # heads allow (a stage holds whole layers); the one-GPU estimates and plans are without it
    pp, single = _pipeline(req)
    one = estimate(model, replace(single, n_devices=1))
    # a CPU's RAM is one memory: no tensor parallelism over copies of it, no offload from it
    counts, by_heads = ((1,), False) if cpu else device_counts(cfg, req)
    n, on_n = (1, one) if one.fits else devices_needed(model, req, counts)
    # llama.cpp's layer split, unless the runtime placed the model itself (transformers --device-map: the
    # estimate holds its GPU / CPU / disk split)
    off = None if one.fits or cpu or one.split != "even split" else offload(model, single, one, ram_bytes)
    longest = max_context(model, replace(req if (n or 1) % pp == 0 and (n or 1) > 1 else single,
                                         n_devices=n or 1))
    quant = best_quant(model, single)
    as_asked = advice.tp_plan(model, one, device, 1)
    tp = advice.tp_plan(model, on_n, device, n) if n and n > 1 and on_n is not None else None
    one_plan = None if one.fits else advice.one_device_plan(model, single, one, ram_bytes, offload)
    plans = [as_asked] if one.fits else [p for p in (tp, one_plan) if p is not None]
    how = advice.split_words(model, req, n or max(counts))
    words = advice.verdict(device, as_asked, tp, one_plan, bool(one.fits), max(counts), ram_bytes,
                           how=how, by_heads=by_heads)
    host_fits = None if ram_bytes is None or not one.host_bytes else one.host_bytes <= ram_bytes
    if host_fits is False and ram_bytes is not None:
        words += (f" But {bytes_label(one.host_bytes)} stay in host memory on one device, more than the "
                  f"{bytes_label(ram_bytes)} of RAM.")
    tried = f"{', '.join(map(str, counts[:12]))}{' …' if len(counts) > 12 else ''}"
    explain = (
        f"one {device.key}: needs {one.total_bytes - one.host_bytes:,} B of {device.usable_bytes:,} B"
        + (f" (and {one.host_bytes:,} B in host memory)" if one.host_bytes else ""),
        f"device counts the heads allow ({_heads_words(cfg)}): {tried}" if by_heads else
        f"device counts tried: {tried} ({req.runtime} gives each GPU whole layers: no head split)",
        f"longest context on {n or 1} device(s): {longest:,} tokens (binary search on the same estimate)",
        *(f"plan: {p.devices} × {device.key} at {p.weights_label}: "
          f"{p.estimate.total_bytes - p.estimate.host_bytes:,} B per device"
          + (f", RAM {p.offload.ram_bytes:,} B" if p.offload else "")
          + (f", decode ≤ {p.decode_tokens_per_s:,.1f} tokens/s" if p.decode_tokens_per_s else "")
          for p in plans),
    )
    label = None if quant is None else advice.stored_label(model, None if quant == AS_STORED else quant)
    return FitReport(device, req, one, on_n or one, n, counts, off, longest, quant, label, ladder(model),
                     explain, tuple(plans), advice.commands(model, req, plans), words,
                     as_asked.weights_label, cpu, how, by_heads, host_fits)
