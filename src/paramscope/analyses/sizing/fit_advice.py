"""The answer to "what fits where" in plain words: the configurations worth running, and the commands.

``fit`` (fit.py) measures; this module chooses and says. Two plans are weighed when the model does not
fit one device as asked:

- **Several devices** at the weights asked for (tensor parallel, the fewest the heads allow).
- **One device**, the most precise way that works: the most precise quantization of ``QUANT_LADDER``
  down to Q4_K_M that fits whole; else Q4_K_M with layers (or, for a mixture of experts, routed experts)
  in CPU RAM, when the RAM holds them; else the smaller types below Q4_K_M, whole, then with RAM.
  Q4_K_M is the floor because it is the smallest type llama.cpp's quantize marks "*recommended*"
  ("medium, balanced quality", +0.0535 perplexity on LLaMA 7B; the types below it say "substantial" to
  "extreme" quality loss: llama.cpp examples/quantize/quantize.cpp, QUANT_OPTIONS).

On a CPU-only machine (the device is RAM) there is nothing to offload to: the plan is the most
precise type that fits the RAM, and the flags are llama.cpp's CPU ones.

Decode speed is the memory-bandwidth bound of ``speed.py``. With layers in RAM a token reads the
GPU's share at the GPU's bandwidth and the RAM's share at the RAM's: ``1 / (gpu_bytes / gpu_bw +
ram_bytes / ram_bw)``, where for routed experts in RAM only k of E experts are read per token. When the
RAM's bandwidth is unknown (this machine's RAM) it is taken as dual-channel DDR5-5600 (89.6 GB/s, the
``ddr5-5600-2ch`` row), and the verdict says so. Where public measurements of the runtime on that kind
of device apply (one device, batch 1, nothing in RAM: ``speed.speed_for``), the verdict quotes the
calibrated typical figure (the fit of the runs measured, knowledge/speed_calibration.py) with its label
instead.
"""

from __future__ import annotations

from paramscope.analyses.sizing.memory import MemoryRequest, SizeEstimate, estimate
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.speed import host_ram_bandwidth, speed_for
from paramscope.errors import UnsupportedError
from paramscope.knowledge.hardware import Device
from paramscope.model import Model
from paramscope.records import record, replace
from paramscope.units import bytes_label

QUANT_LADDER = ("bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k", "iq2_xxs")
QUALITY_FLOOR = "q4_k_m"  # the smallest "*recommended*" llama.cpp file type (module docstring)


@record
class Offload:
    """A llama.cpp offload: layers (and MoE layers' experts) on the GPU, bytes on each side."""

    gpu_layers: int  # llama.cpp -ngl
    n_layers: int
    cpu_moe_layers: int  # llama.cpp --n-cpu-moe: layers whose routed experts stay in RAM
    gpu_bytes: int
    ram_bytes: int
    fits_ram: bool | None


@record
class Plan:
    """One way to run the model: on how many devices, at which weights, what goes to RAM, how fast."""

    devices: int
    weights: str | None  # a QUANT_LADDER scheme, or None: as stored / as asked (``MemoryRequest.weights``)
    weights_label: str  # "BF16 as stored", "Q3_K_M"
    estimate: SizeEstimate  # on ``devices`` devices (``per_device`` has each one's share)
    offload: Offload | None  # layers or experts in RAM (one device only)
    decode_tokens_per_s: float | None  # memory-bandwidth bound, per sequence
    ram_bandwidth_assumed: bool  # the decode bound took speed.HOST_RAM's bandwidth
    # the calibrated typical decode tokens/s per sequence and its label, where measurements of the
    # runtime on this kind of device apply (speed.py: one device, batch 1, nothing offloaded); else None
    decode_typical: float | None = None
    decode_label: str | None = None


def stored_label(model: Model, weights: str | None) -> str:
    """What the weights are as asked: 'Q4_K_M as stored', 'BF16 as stored' or the scheme asked for."""
    if weights is not None:
        return weights.upper()
    if model.quantization is not None:
        return f"{model.quantization.label} as stored"
    by_type: dict[str, int] = {}
    for t in model.tensors:
        by_type[t.dtype.value] = by_type.get(t.dtype.value, 0) + t.nbytes
    top = max(by_type, key=by_type.__getitem__, default="")
    return f"{top.upper()} as stored" if top else "as stored"


def ram_bandwidth(device: Device, est: SizeEstimate | None = None) -> tuple[float, bool]:
    """The bandwidth of CPU RAM next to ``device`` (or of ``device``, a CPU): a CPU row's own, the RAM the
    request names (--host-ram), else assumed."""
    if device.kind == "cpu" and device.bandwidth:
        return device.bandwidth, False
    if est is not None and est.host_ram is not None and est.host_ram.bandwidth:
        return est.host_ram.bandwidth, False
    return host_ram_bandwidth(), True


def decode_bound(model: Model, est: SizeEstimate, device: Device, n: int, off: Offload | None
                 ) -> tuple[float | None, bool]:
    """Tokens/s per sequence at best, and whether RAM's bandwidth was assumed (module docstring)."""
    cfg = model.config
    if device.kind == "cpu":  # everything is read from RAM
        bw, assumed = ram_bandwidth(device, est)
        step = speed_for(model, est, None, n).bytes_per_step
        return (bw / step if bw and step else None), assumed
    s = speed_for(model, est, device, n)
    if off is None or not s.bandwidth:  # no plan of fit's own in RAM (the estimate's own host share, if
        # any, is in the bound already); no bandwidth: no decode bound either
        return s.decode_tokens_per_s, s.host_ram_assumed and bool(s.host_read_bytes)
    bw, assumed = ram_bandwidth(device, est)
    ram_read = off.ram_bytes  # dense layers in RAM: all read per token
    if off.cpu_moe_layers and cfg and cfg.n_experts:  # routed experts in RAM: k of E read per token
        ram_read = off.ram_bytes * cfg.n_experts_per_token // cfg.n_experts
    # with what the request keeps there itself (--no-kv-offload's cache), at most the whole step
    ram_read = min(ram_read + est.host_read_bytes, s.bytes_per_step)
    gpu_read = max(s.bytes_per_step - ram_read, 0)
    seconds = gpu_read / s.bandwidth + ram_read / bw
    return (1 / seconds if seconds > 0 else None), assumed


def one_device_plan(model: Model, req: MemoryRequest, one: SizeEstimate, ram_bytes: int | None,
                    offload_fn) -> Plan | None:
    """The most precise way to run on one device (module docstring), or None when nothing works."""
    device = req.device
    assert device is not None
    candidates: list[tuple[str | None, SizeEstimate]] = []
    for step in QUANT_LADDER:
        try:
            est = estimate(model, replace(req, weights=step, n_devices=1))
        except UnsupportedError:
            continue
        if est.weights_bytes < one.weights_bytes:  # only types smaller than the weights as asked
            candidates.append((step, est))
    above = [(None, one)] + [c for c in candidates if _rank(c[0]) <= _rank(QUALITY_FLOOR)]
    below = [c for c in candidates if _rank(c[0]) > _rank(QUALITY_FLOOR)]
    ram_ok = ram_bytes is None or device.kind == "cpu"
    for group in (above, below):
        if not group:
            continue
        whole = next(((s, e) for s, e in group if e.fits), None)
        if whole is not None:
            return _plan(model, whole[0], whole[1], device, 1, None)
        if device.kind == "cpu":
            continue  # no GPU to share the work with
        scheme, est = group[-1]  # the smallest of the group: the least in RAM, the fastest
        off = offload_fn(model, replace(req, weights=scheme), est, ram_bytes)
        if off.gpu_layers > 0 and (ram_ok or off.fits_ram):
            return _plan(model, scheme, est, device, 1, off)
    return None


def _rank(scheme: str | None) -> int:
    return -1 if scheme is None else QUANT_LADDER.index(scheme)


def _plan(model: Model, scheme: str | None, est: SizeEstimate, device: Device, n: int,
          off: Offload | None) -> Plan:
    tps, assumed = decode_bound(model, est, device, n, off)
    label = stored_label(model, model_weights(est, scheme))
    typical, how = None, None
    if off is None:  # calibrated figures are for everything on the device(s) (speed.speed_for)
        s = speed_for(model, est, device, n)
        if s.decode_range:
            typical, how = s.decode_range[1], s.decode_label
    return Plan(n, scheme, label, est, off, tps, assumed, typical, how)


def model_weights(est: SizeEstimate, scheme: str | None) -> str | None:
    """The scheme a plan's weights are at, as ``stored_label`` takes it: None when as stored."""
    if scheme is not None:
        return scheme
    return None if est.weights_scheme == "as stored" else est.weights_scheme.split(" (")[0]


def tp_plan(model: Model, est: SizeEstimate, device: Device, n: int) -> Plan:
    return _plan(model, None, est, device, n, None)


# --- words ---------------------------------------------------------------------------------------------
def verdict(device: Device, one: Plan, tp: Plan | None, one_plan: Plan | None, fits_one: bool,
            max_devices: int, ram_bytes: int | None, *, how: str = "tensor parallel",
            by_heads: bool = True) -> str:
    """The whole answer in one or two sentences, naming each configuration. ``max_devices``: the most
    devices paramscope tries (the heads' limit when ``by_heads``); ``how``: split_words."""
    key = device.key
    if device.kind == "cpu":
        head = f"CPU-only answer ({device.name}, no GPU): "
        if fits_one:
            return head + f"fits in RAM at {one.weights_label}{_need(one, device)}{_speed(one)}."
        if one_plan is None:
            return head + (f"{one.weights_label} needs {bytes_label(one.estimate.total_bytes)}, more than "
                           f"{bytes_label(device.usable_bytes)} of RAM, and no smaller type down to "
                           f"{QUANT_LADDER[-1].upper()} fits.")
        return head + (f"{one.weights_label} needs {bytes_label(one.estimate.total_bytes)}, more than "
                       f"{bytes_label(device.usable_bytes)} of RAM; at {one_plan.weights_label} it fits"
                       f"{_need(one_plan, device)}{_speed(one_plan)}.")
    if fits_one:
        return f"Fits on one {key} at {one.weights_label}{_need(one, device)}{_speed(one)}."
    if tp is not None:
        first = f"Needs {tp.devices} × {key} at {one.weights_label} ({how}{_speed(tp, ', ')})."
    else:
        first = (f"Does not fit {max_devices} × {key} at {one.weights_label}, "
                 + ("the most its attention heads allow splitting over." if by_heads
                    else "the most paramscope tries."))
    if one_plan is None:
        have = f" ({bytes_label(ram_bytes)} of RAM free)" if ram_bytes is not None else ""
        return first + (f" On one {key} it does not fit at any type down to {QUANT_LADDER[-1].upper()}, "
                        f"even with layers in RAM{have}.")
    return first + f" On one {key}: {_how(one_plan, device)}{_speed(one_plan, ', ')}."


def _need(plan: Plan, device: Device) -> str:
    host = plan.estimate.host_bytes if device.kind != "cpu" else 0  # not on the device (--cpu-offload-gb)
    return (f" ({bytes_label(plan.estimate.total_bytes - host)} of {bytes_label(device.usable_bytes)} with "
            f"{plan.estimate.context:,} tokens of context"
            f"{f', {bytes_label(host)} in host memory' if host else ''})")


def _how(plan: Plan, device: Device) -> str:
    off = plan.offload
    if off is None:
        return f"{plan.weights_label}, whole{_need(plan, device)}"
    ram = f"{bytes_label(off.ram_bytes)} of RAM"
    if off.cpu_moe_layers:
        # llama.cpp's op offload (ggml_backend_sched, backends whose offload_op takes batches of 32 rows or
        # more) may run a prompt batch's expert products on the GPU with the host experts copied into its
        # compute buffer: a Qwen3.6-35B-A3B log on a 16 GB card printed 1250 MiB of CUDA compute buffer
        # where the whole-offload rule gives 649 (tests/fixtures/engine_logs/llamacpp/r28l-*), two others
        # 43 and 77 MiB more; not modelled, so said
        return (f"{plan.weights_label} with the routed experts of {off.cpu_moe_layers} of {off.n_layers} "
                f"layers in RAM ({ram}; prompt batches may copy experts into the GPU's compute buffer, not "
                f"counted: leave headroom)")
    return (f"{plan.weights_label} with {off.gpu_layers} of {off.n_layers} layers on the GPU, the rest in "
            f"RAM ({ram})")


def _speed(plan: Plan, sep: str = "; ") -> str:
    """The decode speed: the calibrated typical figure with its label where measurements apply, else
    the memory-bandwidth bound."""
    if plan.decode_typical is not None:
        return f"{sep}decode ~{_tps(plan.decode_typical)} tokens/s, {plan.decode_label}"
    tps = plan.decode_tokens_per_s
    if tps is None:
        return ""
    shown = _tps(tps)
    assumed = (f" if RAM reads {host_ram_bandwidth() / 1e9:.1f} GB/s (dual-channel DDR5-5600)"
               if plan.ram_bandwidth_assumed else "")
    return f"{sep}decode ≤ {shown} tokens/s{assumed}"


def _tps(tps: float) -> str:
    return f"{tps:,.0f}" if tps >= 10 else f"{tps:.1f}"


# --- commands ------------------------------------------------------------------------------------------
@record
class Command:
    """A command line that runs one plan, with what it is for."""

    purpose: str  # "on 4 × rtx-4090, tensor parallel", "on one rtx-4090, Q3_K_M, experts in RAM"
    text: str


def commands(model: Model, req: MemoryRequest, plans: list[Plan]) -> tuple[Command, ...]:
    """llama.cpp (and, for weights vLLM reads, vLLM) command lines for each plan, in the plan's order."""
    device = req.device
    assert device is not None
    out: list[Command] = []
    for plan in plans:
        where = f"on {plan.devices} × {device.key}" if plan.devices > 1 else f"on one {device.key}"
        if device.kind == "cpu":
            where = "on this CPU" if device.key == "this-machine" else f"on {device.key} (CPU)"
        purpose = f"{where}, {plan.weights_label}" + (", part in RAM" if plan.offload else "")
        out.append(Command(purpose, _llama(model, req, plan)))
        # vLLM runs the checkpoint as it is (not a GGUF type it would have to be converted to)
        if device.kind == "gpu" and plan.weights is None and plan.offload is None and model.format != "gguf":
            out.append(Command(purpose + " (vLLM)", _vllm(model, req, plan)))
            if req.runtime == "sglang":  # asked for by name: its server too
                out.append(Command(purpose + " (SGLang)", _sglang(model, req, plan)))
    return tuple(out)


def _llama(model: Model, req: MemoryRequest, plan: Plan) -> str:
    ctx = plan.estimate.context
    kv = f" -ctk {req.kv_type} -ctv {req.kv_type}" if req.kv_type else ""
    off = plan.offload
    if req.device is not None and req.device.kind == "cpu":
        layers = "-ngl 0"  # everything on the CPU
    elif off is None:
        layers = "-ngl 999"  # every layer on the GPU(s); several GPUs split the layers between them
    elif off.cpu_moe_layers:
        layers = f"-ngl 999 --n-cpu-moe {off.cpu_moe_layers}"
    else:
        # -ngl counts the output layer, which current builds offload first (PR 18148): the head the offload
        # budgeted on the GPU, then the last gpu_layers repeating layers; older builds put it there last
        from paramscope.analyses.sizing.runtimes.llamacpp.adapter import build_family
        from paramscope.analyses.sizing.runtimes.llamacpp.params import OUTPUT_LAST_BUILDS

        first = build_family(req) not in OUTPUT_LAST_BUILDS
        layers = f"-ngl {off.gpu_layers + first}"
    model_file = gguf_name(model, plan)
    return f"llama-server -m {model_file} -c {ctx * req.batch} -np {req.batch} {layers}{kv}"


def gguf_name(model: Model, plan: Plan) -> str:
    """The GGUF file a command runs: the model's own, or one it would be converted or quantized to (a
    placeholder name, in angle brackets: paramscope cannot know the file)."""
    if model.format == "gguf" and plan.weights is None:
        return model.source
    stem = model.source.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")
    return f"<{stem}-{plan.weights_label.split()[0]}.gguf>"


def engine_model(model: Model) -> str:
    """What vLLM and SGLang are told to load: the Hugging Face repository a catalogue name stands for or
    a hub source was read from (with its revision when not main), else the path the user gave."""
    repo = model.metadata.get("hub_repo")
    if isinstance(repo, str) and repo:
        return repo
    remote = model.metadata.get("remote")
    if isinstance(remote, dict) and remote.get("hub") and isinstance(remote.get("repo"), str):
        revision = remote.get("revision")
        return remote["repo"] + (f" --revision {revision}" if revision and revision != "main" else "")
    return model.source


def _sglang(model: Model, req: MemoryRequest, plan: Plan) -> str:
    from paramscope.analyses.sizing.runtimes import find

    fraction = option(req, "mem_fraction_static", "sglang")
    # the pool flags given, as SGLang spells them (booleans as bare flags)
    pools = ""
    for name in ("swa_full_tokens_ratio", "disable_hybrid_swa_memory", "mamba_full_memory_ratio",
                 "max_mamba_cache_size", "mamba_ssm_dtype"):
        value = option(req, name, "sglang")
        if value is None or value is False or value == find("sglang").default(name):
            continue
        pools += f" --{name.replace('_', '-')}" + ("" if value is True else f" {value}")
    return (f"python -m sglang.launch_server --model-path {engine_model(model)} --tp {plan.devices} "
            f"--context-length {plan.estimate.context} --max-running-requests {req.batch}"
            + ("" if fraction is None else f" --mem-fraction-static {fraction}") + pools)


def split_words(model: Model, req: MemoryRequest, devices: int) -> str:
    """How the runtime spreads the model over ``devices`` GPUs, in its own terms."""
    from paramscope.analyses.sizing.runtimes import find

    name = find(req.runtime).name
    if name == "llama.cpp":
        mode = option(req, "split_mode")
        return {"layer": "layers split over the GPUs", "row": "matrix rows split over the GPUs"}.get(
            mode, f"--split-mode {mode}")
    if name == "transformers":
        return f"device_map={option(req, 'device_map')}"
    if name == "vllm":
        tp, pp = vllm_parallel(model, req, devices)
        return ("tensor parallel" if pp == 1 else "pipeline parallel" if tp == 1
                else f"tensor parallel {tp} × pipeline parallel {pp}")
    return "tensor parallel"


def vllm_parallel(model: Model, req: MemoryRequest, devices: int) -> tuple[int, int]:
    """(tensor parallel, pipeline parallel) for vLLM on ``devices`` GPUs: the stages asked for
    (--pipeline-parallel-size, where they divide the GPUs); else tensor parallel over all of them where
    the heads split that way; else the most tensor-parallel GPUs the heads allow that divide the count,
    the rest as pipeline stages (PP needs no head split: each stage holds whole layers)."""
    asked = option(req, "pipeline_parallel_size", "vllm") if req.runtime == "vllm" else 1
    if asked > 1 and devices % asked == 0:
        return devices // asked, asked
    cfg = model.config
    if cfg is None:
        return devices, 1
    from paramscope.analyses.sizing.runtimes.common import tensor_parallel_problem

    tp = next(t for t in range(devices, 0, -1) if devices % t == 0 and not tensor_parallel_problem(cfg, t))
    return tp, devices // tp


# The runtime options that are vLLM's own `vllm serve` flags, carried into the command as given so that it
# starts the engine the estimate describes (the others are paramscope's: the release and family whose
# rules to follow, the entrypoint, the sampler kernel seen in a log; the stage partition goes in the
# environment, ``_vllm``); on/off options as vLLM spells each side
VLLM_FLAGS = ("max_num_batched_tokens", "enforce_eager", "max_cudagraph_capture_size", "skip_mm_profiling",
              "limit_mm_per_prompt", "language_model_only", "enable_expert_parallel",
              "disable_hybrid_kv_cache_manager", "enable_prefix_caching", "no_enable_prefix_caching",
              "speculative_config", "performance_mode")
VLLM_ON_OFF = {"async_scheduling": ("--async-scheduling", "--no-async-scheduling"),
               "enable_chunked_prefill": ("--enable-chunked-prefill", "--no-enable-chunked-prefill")}


def _vllm_flags(req: MemoryRequest) -> str:
    """The vLLM flags the request gives (VLLM_FLAGS, VLLM_ON_OFF), as `vllm serve` takes them."""
    import json
    import shlex

    if req.runtime != "vllm":
        return ""
    out = []
    for name in VLLM_FLAGS:
        value = req.options.get(name)
        if name == "limit_mm_per_prompt" and value:  # vLLM reads JSON only
            from paramscope.analyses.sizing.runtimes.vllm.encoder import parse_mm_limits

            value = json.dumps(parse_mm_limits(value), separators=(",", ":"))
        if name == "speculative_config" and value and not str(value).lstrip().startswith("{"):
            # the short form METHOD:TOKENS as the JSON vLLM reads (JSON given is passed on as it is)
            from paramscope.analyses.sizing.runtimes.vllm.speculative import parse_speculative_config

            spec = parse_speculative_config(value)
            if spec is not None:
                value = json.dumps({"method": spec.method, "num_speculative_tokens": spec.tokens},
                                   separators=(",", ":"))
        if name == "performance_mode" and value == "balanced":  # vLLM's default: no flag
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value not in (None, False, ""):
            out.append(f"{flag} {shlex.quote(str(value))}")
    for name, (on, off) in VLLM_ON_OFF.items():
        value = req.options.get(name)
        if value in ("on", "off"):
            out.append(on if value == "on" else off)
    return "".join(f" {f}" for f in out)


def _vllm(model: Model, req: MemoryRequest, plan: Plan) -> str:
    vllm_kv = " --kv-cache-dtype fp8" if req.kv_type and req.kv_type.lower().startswith("fp8") else ""
    tp, pp = vllm_parallel(model, req, plan.devices)
    offload = option(req, "cpu_offload_gb", "vllm")
    kv_bytes = option(req, "kv_cache_memory_bytes", "vllm")
    budget = (f"--kv-cache-memory-bytes {kv_bytes}" if kv_bytes else
              f"--gpu-memory-utilization {_utilization(req)}")
    # the stages' layers as asked: vLLM reads them from the environment (VLLM_PP_LAYER_PARTITION)
    partition = option(req, "pp_layer_partition", "vllm") if req.runtime == "vllm" and pp > 1 else ""
    env = f"VLLM_PP_LAYER_PARTITION={partition} " if partition else ""
    # a model runner asked for: vLLM reads it from the environment too (VLLM_USE_V2_MODEL_RUNNER)
    runner = option(req, "vllm_model_runner", "vllm") if req.runtime == "vllm" else "auto"
    env += {"v1": "VLLM_USE_V2_MODEL_RUNNER=0 ", "v2": "VLLM_USE_V2_MODEL_RUNNER=1 "}.get(runner, "")
    return (f"{env}vllm serve {engine_model(model)} --tensor-parallel-size {tp}"
            f"{f' --pipeline-parallel-size {pp}' if pp > 1 else ''} "
            f"--max-model-len {plan.estimate.context} --max-num-seqs {req.batch} "
            f"{budget}{vllm_kv}{f' --cpu-offload-gb {offload:g}' if offload else ''}{_vllm_flags(req)}")


def _utilization(req: MemoryRequest) -> float:
    """--gpu-memory-utilization as given, else the default of the engine family and release the request
    follows on its device (runtimes/vllm/engine.py; 0.34's extensible KV cache: 1.0)."""
    from paramscope.analyses.sizing.runtimes.common import gpu_platform
    from paramscope.analyses.sizing.runtimes.vllm.adapter import engine_and_release
    from paramscope.analyses.sizing.runtimes.vllm.engine import (
        FAMILY_LAST,
        default_utilization,
        extensible_on,
    )

    given = option(req, "gpu_memory_utilization", "vllm")
    if given is not None:
        return given
    # the request may be another runtime's (the advice names vLLM's flags): its options read as vLLM's
    engine, release = engine_and_release(req, "vllm")
    platform = gpu_platform(req.device) or "cuda"
    return default_utilization(engine, extensible_on(release or FAMILY_LAST[engine], platform, None))
