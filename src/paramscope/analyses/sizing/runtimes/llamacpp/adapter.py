"""The adapter ``memory.estimate`` calls (``runtimes.RUNTIMES``): a request's options become
``LlamaCppParams``, offload and device splits, and the buffers' parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, even_share, kv_dtype

if TYPE_CHECKING:
    from paramscope.analyses.sizing.memory import SizeEstimate
from paramscope.analyses.sizing.runtimes import Adapter, option
from paramscope.analyses.sizing.runtimes.llamacpp.autofit import (
    KEPT,
    PRICED_END,
    PRICED_GPUS,
    SHORTENED,
    SHORTEST,
    WOULD_END,
    WOULD_GPUS,
    fit_context,
    fit_explanation,
    fit_gpus,
    fit_note,
    fit_one_gpu,
    fit_skipped,
    fit_unavailable,
    gpus_context_target,
    gpus_fit_explanation,
    gpus_fit_note,
    layer_ranges,
)
from paramscope.analyses.sizing.runtimes.llamacpp.devices import device_split, parse_tensor_split
from paramscope.analyses.sizing.runtimes.llamacpp.flash_attention import (
    FORCED_OFF_ARCHS,
    VENDOR_BACKENDS,
    resolve_auto,
)
from paramscope.analyses.sizing.runtimes.llamacpp.forks import fork
from paramscope.analyses.sizing.runtimes.llamacpp.kv import as_llamacpp_loads, block_count, encoder_only
from paramscope.analyses.sizing.runtimes.llamacpp.memory import (
    LLAMA_CPP_PYTHON_BASE_BYTES,
    cpu_repack_bytes,
    llamacpp_memory,
    repack_types,
)
from paramscope.analyses.sizing.runtimes.llamacpp.offload import (
    Offload,
    gpu_compute_with_host_experts,
    gpu_compute_with_host_output,
    layer_split,
    offload,
    repeating_layers_on_gpu,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.records import replace

MiB = 1 << 20
ISA_WORDS = {"x86-avx2": "an x86 CPU with AVX2", "x86-avx512": "an x86 CPU with AVX-512",
             "arm-i8mm": "an ARM CPU with i8mm", "none": "a CPU without repacking kernels"}


def build_family(req: MemoryRequest) -> str:
    """The build family whose rules apply (params.py BUILDS): --llamacpp-build where named, else the one
    the fork follows (forks.py: ik-2025 is mainline of mid-2025, "legacy"), else the default."""
    named = option(req, "llamacpp_build", "llama.cpp")
    if "llamacpp_build" in req.options:
        return named
    return fork(option(req, "llamacpp_fork", "llama.cpp")).build or named


def attention_backend(req: MemoryRequest) -> str:
    """The backend that runs the attention (flash_attention.py BACKENDS): the CPU without a GPU or with
    no layer on it, else --llamacpp-backend, by default the one llama.cpp's usual build runs on the
    GPU's vendor."""
    if req.device is None or req.device.kind == "cpu" or not repeating_layers_on_gpu(
            option(req, "n_gpu_layers"), build_family(req)):
        return "cpu"
    named = option(req, "llamacpp_backend")
    return named if named != "auto" else VENDOR_BACKENDS.get(req.device.vendor, "cuda")


def gpu_bytes_of(parts: RuntimeParts, weights_bytes: int) -> int:
    """What one GPU holds by ``parts``: weights less the host's share, KV cache less the host's, compute
    buffer and overhead (memory.estimate's per-device sum on one device)."""
    return (weights_bytes + parts.duplicate_weights_bytes - parts.host_weights_bytes + parts.kv_cache_bytes
            - parts.host_kv_bytes + parts.compute_bytes + parts.overhead_bytes)


WITHOUT_C = "llama.cpp without -c"  # the words of a context default_context picked


def default_context(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, parts_of: Adapter
                    ) -> tuple[int | None, str, tuple[str, ...]] | None:
    """With --fit on and no --context, llama-server without -c on one GPU: the model's trained context,
    which its --fit shortens to what the GPU holds with --fit-target free (autofit.fit_context). None where
    llama.cpp would not fit (--fit off, an older build, ik_llama.cpp, no GPU or several)."""
    if (option(req, "fit") != "on" or not cfg.context_length
            or fit_unavailable(req, build_family(req)) is not None):
        return None
    assert req.device is not None  # fit_unavailable: a GPU
    as_placed = replace(req, options={**req.options, "fit": "off"})  # the projection: -ngl's placement
    target_mib = option(req, "fit_target")
    nd = req.n_devices
    room = nd * (req.device.usable_bytes - target_mib * MiB)
    target = room
    if nd > 1:  # the sum over the GPUs, aimed lower by the waste of placing whole layers
        full = parts_of(model, cfg, weights_bytes, as_placed, cfg.context_length)
        on_gpus = weights_bytes + full.duplicate_weights_bytes - full.host_weights_bytes
        target = gpus_context_target(room, nd, on_gpus, block_count(cfg), cfg.is_moe)

    def used(n: int) -> int:  # each GPU has a compute buffer of its own (a named split counts them all)
        p = parts_of(model, cfg, weights_bytes, as_placed, n)
        return gpu_bytes_of(p, weights_bytes) + (0 if p.device_shares else (nd - 1) * p.compute_bytes)

    ctx, case = fit_context(used,
        target, cfg.context_length, option(req, "fit_ctx"), room=room if nd > 1 else None)
    how = {KEPT: "which --fit keeps",
           SHORTENED: f"shortened by --fit to what {'the GPUs hold' if nd > 1 else 'the GPU holds'} with "
                      f"{target_mib} MiB free{' each' if nd > 1 else ''}",
           SHORTEST: f"shortened by --fit to --fit-ctx, its least: even that leaves less than "
                     f"{target_mib} MiB free, so it moves layers next"}[case]
    return ctx, f"{ctx:,} tokens ({WITHOUT_C}: the model's trained {cfg.context_length:,}, {how})", ()


def engine_choice_notes(model: Model, req: MemoryRequest, est: SizeEstimate) -> tuple[str, ...]:
    """With --fit off (paramscope's default), what llama.cpp's own --fit would choose that ``est`` does not
    price, priced with --fit on: the context llama-server without -c would take (``default_context``),
    and over several GPUs the layers' placement (on one GPU ``parts`` says it itself: one search, where
    several GPUs take one per device)."""
    from paramscope.analyses.sizing.memory import estimate

    if option(req, "fit") == "on":
        return ()
    notes: tuple[str, ...] = ()
    fit_on = {**req.options, "fit": "on"}
    if req.context is None:
        picked = estimate(model, replace(req, options=fit_on))
        # llama.cpp would pick one here, and not the context priced
        if WITHOUT_C in picked.context_note and picked.context != est.context:
            notes += (f"llama-server without -c (its --fit on by default since December 2025) would run "
                      f"{picked.context_note.replace(WITHOUT_C + ': ', '')}; `size --fit on` prices that "
                      f"context",)
    if req.n_devices > 1 and est.split == "even split":
        placed = estimate(model, replace(req, context=est.context, options=fit_on))
        notes += tuple(n.replace(PRICED_GPUS, WOULD_GPUS).replace(PRICED_END, WOULD_END)
                       for n in placed.notes if n.startswith(PRICED_GPUS))
    return notes


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    t = kv_dtype(req.kv_type, DType.F16)
    flash = {"auto": None, "on": True, "off": False}[option(req, "flash_attn")]
    # llama.cpp's n_ctx is shared by all sequences: n_seq sequences of ctx tokens need n_ctx = n_seq × ctx
    on_cpu = req.device is None or req.device.kind == "cpu"
    embeddings, pooling = option(req, "embeddings"), option(req, "pooling")
    if pooling != "auto" and not embeddings:
        raise UnsupportedError("llama.cpp: --pooling applies to embeddings; add --embeddings")
    fa_backend = attention_backend(req)
    build, rules = build_family(req), fork(option(req, "llamacpp_fork"))
    m = llamacpp_memory(cfg, weights_bytes, n_ctx=ctx * req.batch,
                        n_seq=req.batch, n_ubatch=option(req, "ubatch"),
                        swa_full=option(req, "swa_full"), type_k=t, type_v=t, flash_attn=flash,
                        build=build, encoder_length=req.encoder_length,
                        n_outputs_max=req.batch if option(req, "llama_server_outputs") else 0,
                        runtime_base_bytes=LLAMA_CPP_PYTHON_BASE_BYTES,
                        backend="cpu" if on_cpu else "gpu", embeddings=embeddings,
                        pooled=None if pooling == "auto" else pooling != "none", fa_backend=fa_backend,
                        fork=option(req, "llamacpp_fork"))
    notes: tuple[str, ...] = ()
    choice = m.flash_attn_choice
    asked_on = option(req, "flash_attn") == "on" and fa_backend != "cpu" and not t.info.quantized
    kernels = resolve_auto(as_llamacpp_loads(cfg, build), fa_backend, t, t,
                           build) if asked_on else None
    if kernels is not None and not kernels.on:
        notes += (f"--flash-attn on: {kernels.why}, so llama.cpp runs those layers' attention on the CPU "
                  f"(more graph splits, slow); the buffers are priced as asked",)
    if not m.params.flash_attn and option(req, "flash_attn") != "off" and choice is None \
            and cfg.architecture in FORCED_OFF_ARCHS | {"Grok1ForCausalLM"}:
        notes += ("flash attention off: llama.cpp forces it off for Grok",)
    if choice is not None and not choice.on:
        notes += (f"flash attention auto resolves to off: {choice.why}"
                  + ("" if encoder_only(cfg) else "; the KV cache is made as for on, so each layer's V is "
                     "also copied transposed in the compute buffer"),)
    elif choice is not None and choice.since is not None:
        notes += (f"flash attention auto stays on: builds of the {build} family "
                  f"before {choice.since.what} lack a kernel this model needs and resolve it to off, "
                  f"which adds the attention scores to the compute buffer",)
    if fa_backend != "cpu" and option(req, "llamacpp_backend") == "auto" and req.device is not None \
            and req.device.vendor not in VENDOR_BACKENDS:
        who = f"a {req.device.vendor} GPU" if req.device.vendor else "an unnamed GPU"
        notes += (f"llama.cpp's backend for {who} is not known here: flash attention auto is resolved as "
                  f"CUDA would (--llamacpp-backend names another)",)
    if fa_backend == "cpu" and option(req, "llamacpp_backend") != "auto":
        notes += (f"--llamacpp-backend {option(req, 'llamacpp_backend')} changes nothing here: no attention "
                  f"layer runs on a GPU",)
    explain = m.explain
    isa = option(req, "cpu_isa")
    repack = (cpu_repack_bytes(model.tensors, isa, lm_head=not encoder_only(cfg))
              if on_cpu and req.weights is None and model.has_weights else 0)
    if repack:
        kinds = "/".join(t.value for t in repack_types(isa))
        notes = (f"on {ISA_WORDS[isa]}, llama.cpp copies {repack:,} B of {kinds} matrices into "
                 "a CPU_REPACK buffer for faster kernels: with mmap (the default) that is on top of the "
                 "mapped weights above; with --no-mmap the model buffer shrinks by as much",)
    split = None
    gpus_fitted = None
    compute_single = m.compute_bytes + m.output_bytes
    if option(req, "n_cpu_moe") and (req.device is None or req.device.kind != "gpu"):
        notes += ("--n-cpu-moe changes nothing here: without a GPU of its own memory every weight is in "
                  "host memory already",)
    if req.device is not None and req.device.kind == "gpu":
        # CUDA, ROCm, Vulkan and SYCL run a host expert's large-batch product on the GPU (offload.py
        # OP_OFFLOAD_MIN_BATCH); on Apple's GPUs the host experts sit in CPU_REPACK, no host buffer
        offloads = req.device.vendor != "Apple" and rules.expert_op_offload

        def place(ngl: int | None, cpu_layers: frozenset[int]) -> tuple[Offload, int, tuple[str, ...]]:
            """The split for -ngl ``ngl`` with ``cpu_layers``' experts in host memory, the GPU's compute
            buffer and output rows, and the lines saying why the buffer is what it is."""
            placed = offload(model, cfg, weights_bytes, m.kv, ngl, req.weights, build, cpu_layers)
            if option(req, "no_kv_offload"):  # llama_context_params.offload_kqv = false: every layer's cache
                placed = replace(placed, host_kv_bytes=m.kv_cache_bytes, host_state_bytes=sum(
                    part.total_bytes for part in m.kv.parts if part.kind == "linear"),
                    host_read_bytes=placed.host_read_bytes - placed.host_kv_bytes + m.kv_cache_bytes)
            whys: tuple[str, ...] = ()
            compute = m.compute_bytes + m.output_bytes
            if not placed.output_on_gpu:
                gpu_compute, why = gpu_compute_with_host_output(m.compute, placed, option(req, "ubatch"))
                compute, whys = gpu_compute + m.output_bytes, (f"GPU compute: {why}",)
            if placed.host_expert_bytes:
                with_experts, why = gpu_compute_with_host_experts(m.compute, placed, option(req, "ubatch"),
                                                                  offloads)
                if with_experts > compute - m.output_bytes:
                    compute, whys = with_experts + m.output_bytes, (*whys, f"GPU compute: {why}")
            return placed, compute, whys

        def gpu_bytes(ngl: int | None, cpu_layers: frozenset[int]) -> int:
            placed, compute, _ = place(ngl, cpu_layers)
            return (weights_bytes + placed.duplicate_bytes - placed.host_weights_bytes + m.kv_cache_bytes
                    - placed.host_kv_bytes + compute + m.overhead_bytes)

        nd = req.n_devices

        def gpu_shares(layers: tuple[int, ...] | None, cpu_layers: frozenset[int]
                       ) -> tuple[tuple[int, int, int, int], ...]:
            """Each GPU's (weights, KV cache, compute, overhead) with ``layers`` slots each (None: every
            slot, split evenly) and ``cpu_layers``' experts in host memory: what llama.cpp's fit projects
            for a placement over several GPUs. Each GPU holding layers has a compute buffer of its own;
            the first GPU one GPU's (``place``: with what the host's experts and output add) whether it
            holds layers or not, as the backend that runs the host's large products is the first that can
            (ggml-backend.cpp op_offload)."""
            ngl = None if layers is None else sum(layers)
            _, compute, _ = place(ngl, cpu_layers)
            fractions = None if layers is None or not any(layers) else tuple(float(n) for n in layers)
            d = device_split(model, cfg, weights_bytes, m.kv, nd, ngl, fractions, "layer", build, cpu_layers,
                             req.weights)
            kv_dev = (0,) * nd if option(req, "no_kv_offload") else d.kv
            return tuple((d.weights[i], kv_dev[i],
                          compute if i == 0 else m.compute_bytes if d.computes[i] else 0,
                          even_share(m.overhead_bytes, nd, i)) for i in range(nd))

        ngl, cpu_layers = option(req, "n_gpu_layers"), frozenset(range(option(req, "n_cpu_moe")))
        skipped = fit_skipped(req, build)
        n_slots, expert_layers = block_count(cfg) + 1, tuple(layer_split(model).experts_by_layer)
        target = req.device.usable_bytes - option(req, "fit_target") * MiB
        fitted = (fit_one_gpu(gpu_bytes, target, n_slots, expert_layers)
                  if skipped is None and nd == 1 else None)
        # after its context step shortened the context (a run without -c: default_context), llama.cpp
        # places the layers over several GPUs whatever the even split would leave free
        shortened = (req.context is None and option(req, "fit") == "on" and bool(cfg.context_length)
                     and ctx < cfg.context_length)
        # over several GPUs only where priced (engine_choice_notes says what it would do otherwise)
        gpus_fitted = (fit_gpus(lambda ls, cpu: tuple(sum(x) for x in gpu_shares(ls, cpu)), target, n_slots,
                                expert_layers, nd, replace_even=shortened)
                       if skipped is None and nd > 1 and option(req, "fit") == "on" else None)
        if skipped is not None and option(req, "fit") == "on":
            notes += (f"--fit on changes nothing here: {skipped}",)
        if fitted is not None and option(req, "fit") == "on":
            ngl, cpu_layers = fitted.n_gpu_layers, fitted.cpu_expert_layers
        if gpus_fitted is not None and option(req, "fit") == "on":
            placed_all = sum(gpus_fitted.layers) == n_slots
            ngl, cpu_layers = None if placed_all else sum(gpus_fitted.layers), gpus_fitted.cpu_expert_layers
        split, compute_single, whys = place(ngl, cpu_layers)
        if option(req, "n_cpu_moe") and not split.host_expert_bytes and not cfg.is_moe:
            raise UnsupportedError("llama.cpp: --n-cpu-moe keeps MoE experts in host memory; this model has "
                                   "no experts")
        if option(req, "n_cpu_moe") and not split.host_expert_bytes:
            notes += (f"--n-cpu-moe {option(req, 'n_cpu_moe')}: those layers hold no routed experts on the "
                      f"GPU (dense leading layers, or already in host memory with -ngl), so nothing moves",)
        if option(req, "n_cpu_moe") and ("split_mode" in req.options or "tensor_split" in req.options):
            raise UnsupportedError("llama.cpp: --n-cpu-moe with a named --split-mode or --tensor-split is "
                                   "not modelled (each GPU's share of the host experts); leave the split "
                                   "out for the even split")
        hosted = sorted(il for il in cpu_layers
                        if il >= split.i_gpu_start and il in layer_split(model).experts_by_layer)
        moe_words = f", MoE experts of layers {layer_ranges(hosted)}"
        explain = (*explain,
                   f"offload: {split.n_gpu_layers}/{block_count(cfg) + 1} layers on the GPU (layers "
                   f"{split.i_gpu_start}–{block_count(cfg) - 1}{', output' if split.output_on_gpu else ''}"
                   f"{', the MTP layers among them' if block_count(cfg) > cfg.n_layers else ''}); "
                   f"host memory: {split.host_weights_bytes:,} B of weights (input embedding"
                   f"{', layers below ' + str(split.i_gpu_start) if split.i_gpu_start else ''}"
                   f"{moe_words if split.host_expert_bytes else ''}"
                   f"{'' if split.output_on_gpu else ', output'}) + {split.host_kv_bytes:,} B of KV cache"
                   + (f"; the tied embedding is held twice (+{split.duplicate_bytes:,} B on the GPU)"
                      if split.duplicate_bytes else ""), *whys)
        if fitted is not None:
            explain = (*explain, fit_explanation(fitted, block_count(cfg) + 1))
            notes += (fit_note(fitted, option(req, "fit") == "on", option(req, "fit_target")),)
        if gpus_fitted is not None:
            explain = (*explain, gpus_fit_explanation(gpus_fitted, n_slots))
            notes += (gpus_fit_note(gpus_fitted, n_slots, option(req, "fit_target")),)
        if split.host_expert_bytes:
            by_fit = (fitted is not None or gpus_fitted is not None) and option(req, "fit") == "on"
            who = "--fit" if by_fit else f"--n-cpu-moe {option(req, 'n_cpu_moe')}"
            notes += (f"{who}: {split.host_expert_bytes:,} B of MoE experts stay in host memory (counted "
                      f"there, not on the GPU)",)
        if split.i_gpu_start or not split.output_on_gpu or option(req, "no_kv_offload"):
            notes += (f"-ngl {split.n_gpu_layers}: {split.host_weights_bytes + split.host_kv_bytes:,} B "
                      f"of weights and KV cache stay in host memory; the per-device figures leave them out",)
    shares: tuple[tuple[int, int, int, int], ...] = ()
    mode, fractions = option(req, "split_mode"), parse_tensor_split(option(req, "tensor_split"))
    # asked for by name only: the default view stays the even split of ``estimate`` (fit's device search
    # builds on it; with llama.cpp's own default split the first GPU can hold a layer more than its
    # share, which changes what fits: Mixtral 8x7B in bf16 on four RTX 4090 holds 9 of 33 slots on GPU 0)
    asked = "split_mode" in req.options or "tensor_split" in req.options
    # llama.cpp's fit over several GPUs writes its own --tensor-split (a row split or the user's stop it)
    fit_placed = split is not None and gpus_fitted is not None and option(req, "fit") == "on"
    if split is not None and req.n_devices > 1 and asked and not fit_placed:
        d = device_split(model, cfg, weights_bytes, m.kv, req.n_devices, option(req, "n_gpu_layers"),
                         fractions, mode, build)
        kv_dev = (0,) * req.n_devices if option(req, "no_kv_offload") else d.kv
        n = req.n_devices
        shares = tuple((d.weights[i], kv_dev[i],
                        (m.compute_bytes if d.computes[i] else 0) + (m.output_bytes if i == 0 else 0),
                        even_share(m.overhead_bytes, n, i)) for i in range(n))
        counts = [sum(1 for w in d.layers[:-1] if w == i) for i in range(n)]
        explain = (*explain,
                   f"--split-mode {mode}"
                   f"{' --tensor-split ' + ','.join(f'{f:g}' for f in fractions) if fractions else ''}: "
                   f"layers per GPU {'+'.join(map(str, counts))}, the output layer on "
                   f"{'the host' if d.layers[-1] < 0 else 'GPU ' + str(d.layers[-1])} (llama-model.cpp "
                   f"load_tensors: upper_bound of the split points); each GPU holding layers has a compute "
                   f"buffer of its own ({m.compute_bytes:,} B, estimated as one GPU's)")
        notes += (f"{n} GPUs, --split-mode {mode}: per GPU its own layers' weights and KV cache "
                  f"({'+'.join(map(str, counts))} layers"
                  f"{'' if fractions else ', equal shares: identical GPUs have the same free memory'}) and "
                  f"a compute buffer each",)
    if fit_placed:
        assert gpus_fitted is not None
        shares = gpu_shares(gpus_fitted.layers, gpus_fitted.cpu_expert_layers)
    compute_total = sum(x[2] for x in shares) if shares else compute_single
    settings: tuple[tuple[str, str | bool | int], ...] = (
        ("attention_backend", fa_backend), ("flash_attn", m.params.flash_attn),
        ("flash_attn_why", choice.why if choice is not None else
         f"--flash-attn {option(req, 'flash_attn')}" if option(req, "flash_attn") != "auto" else
         "auto: forced on by a quantized V cache" if m.params.flash_attn else
         "auto: off (no auto in this build family, or Grok)"))
    return RuntimeParts(m.kv_cache_bytes, compute_total, m.overhead_bytes,
                        t.value.lower(), explain, notes,
                        host_weights_bytes=split.host_weights_bytes if split else 0,
                        host_kv_bytes=split.host_kv_bytes if split else 0,
                        host_read_bytes=split.host_read_bytes if split else 0,
                        kv_parts=m.kv.by_kind(),
                        duplicate_weights_bytes=split.duplicate_bytes if split else 0,
                        device_shares=shares,
                        split_label="--fit" if fit_placed else f"--split-mode {mode}" if shares else "",
                        # a row split runs every matrix on all GPUs at once; a layer split (the default)
                        # runs each GPU's layers in turn, one token after the other
                        devices_at_once=0 if mode == "row" else 1, settings=settings)
