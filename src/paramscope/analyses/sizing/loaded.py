"""The weights an engine holds after loading a checkpoint: the tensors as stored, re-laid where the engine
pads them (knowledge/quant_layouts.ENGINE_LAYOUTS: vLLM's MXFP4 experts) or drops what its kernel does not
need (vLLM's GPTQ and AWQ kernels: wna16.py).

Kept apart from re-pricing (``weights.py``): sizing a model as stored, the common case, needs neither the
scheme tables nor the tensor roles, and starts without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from paramscope.errors import UnsupportedError
from paramscope.records import record, replace

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model, Tensor


@record
class Loaded:
    """A checkpoint's weights as an engine holds them after loading (bytes on all devices together)."""

    runtime: str
    stored_bytes: int
    bytes: int
    backend: str = ""  # the engine's kernel backend, where it changes the layout
    notes: tuple[str, ...] = ()


def _int_with_zero_points(model: Model) -> bool:
    """A compressed-tensors integer checkpoint (W4A16 / W8A16) whose layout vLLM's kernels change
    (wna16.py): with zero points (asymmetric: 16 bits on Machete) or with act-order's g_idx (sort indices
    or a permutation beside it)."""
    q = model.quantization
    return (q is not None and q.quant_type == "int" and q.bits in (4, 8) and any(
        t.name.endswith((".weight_zero_point", ".weight_g_idx")) for t in model.tensors))


@record
class EngineBuild:
    """The engine build whose weight layouts a request follows (runtimes.Runtime.layout): the vLLM
    family, and the release within it (None: the newest paramscope models)."""

    family: str
    release: tuple[int, int, int] | None = None


def loaded_weights(model: Model, runtime: str, device: Device | None = None, backend: str | None = None,
                   tensor_parallel: int = 1, build: EngineBuild | None = None) -> Loaded:
    """The stored tensors (quantized weights with their side data, unquantized modules at their stored
    type), with the re-layouts of knowledge/quant_layouts.ENGINE_LAYOUTS applied: vLLM pads MXFP4 experts
    per backend (``backend`` None: the one vLLM picks for ``device``, Triton when the device is unknown)
    and per tensor-parallel rank (``build``: the vLLM family and release, PADDED_TRITON_FAMILIES), and
    GPTQ and AWQ per kernel (wna16.py); and without the vision layers vLLM does not build
    (``unbuilt_vision``)."""
    loaded = _without_unloaded_buffers(model, _relaid(model, runtime, device, backend, tensor_parallel,
                                                      build))
    unbuilt = unbuilt_vision(model) if runtime == "vllm" else ()
    if not unbuilt:
        return loaded
    freed = sum(t.nbytes for t in unbuilt)
    note = (f"vLLM builds the vision tower only up to the layer whose features it uses "
            f"(vision_feature_layer; models/llava.py _get_num_hidden_layers, no post-norm): "
            f"{len(unbuilt)} tensors, {-freed:+,} B")
    return replace(loaded, bytes=loaded.bytes - freed, notes=(*loaded.notes, note))


def _without_unloaded_buffers(model: Model, loaded: Loaded) -> Loaded:
    """Less the buffers old writers saved that no engine loads (knowledge/config_tensors.UNLOADED_BUFFERS:
    GPT-NeoX's causal masks, 4 MiB a layer at 2,048 positions, and rotary inv_freq)."""
    from paramscope.knowledge.config_tensors import unloaded_buffers

    unloaded = unloaded_buffers(model.tensors)
    if not unloaded:
        return loaded
    freed = sum(t.nbytes for t in unloaded)
    note = (f"{len(unloaded)} buffers the checkpoint holds and no engine loads (attention masks, "
            f"masked_bias, rotary inv_freq: llama.cpp's converter and vLLM skip them): {-freed:+,} B")
    return replace(loaded, bytes=loaded.bytes - freed, notes=(*loaded.notes, note))


# vLLM's LLaVA-like models (models/llava.py init_vision_tower_for_llava, which llava_next, llava_onevision
# and mistral3 call too; aya_vision builds its SigLIP tower the same way, post-norm kept) build the tower
# with ``num_hidden_layers_override`` = the layer vision_feature_layer names (a negative index counts from
# the end: 24 + (−2) + 1 = 23 of CLIP-L's 24 layers; a list: its deepest) and, in llava.py, with
# ``require_post_norm=False``. Checked: llava-v1.6-mistral-7b's 14.0786 GiB in a vLLM 0.10.2 log (code index
# file id 34680831065), where the whole checkpoint is 0.023 GiB more: one CLIP-L layer. Per architecture:
# the config's default vision_feature_layer (transformers' LlavaConfig and LlavaNextConfig −2, the others
# −1) and whether the post-norm is dropped.
LLAVA_LIKE: dict[str, tuple[int, bool]] = {
    "LlavaForConditionalGeneration": (-2, True), "LlavaNextForConditionalGeneration": (-2, True),
    "LlavaNextVideoForConditionalGeneration": (-2, True),
    "LlavaOnevisionForConditionalGeneration": (-1, True), "Mistral3ForConditionalGeneration": (-1, True),
    "AyaVisionForConditionalGeneration": (-1, False),
}
_VISION_LAYER = re.compile(r"^(?:model\.)?vision_tower\..*?\blayers\.(\d+)\.")
_VISION_POST_NORM = re.compile(r"^(?:model\.)?vision_tower\.vision_model\.post_layernorm\.")


def unbuilt_vision(model: Model) -> tuple[Tensor, ...]:
    """The vision-tower tensors vLLM does not build for a LLaVA-like model (see LLAVA_LIKE): the layers
    after the deepest one vision_feature_layer names, and the tower's post-norm. () for other models."""
    raw = model.config_json
    if raw is None:
        return ()
    arch = next((a for a in raw.get("architectures") or () if a in LLAVA_LIKE), None)
    vision = raw.get("vision_config")
    total = vision.get("num_hidden_layers") if isinstance(vision, dict) else None
    if arch is None or not isinstance(total, int):
        return ()
    default, drops_post_norm = LLAVA_LIKE[arch]
    wanted = raw.get("vision_feature_layer", default)
    layers = wanted if isinstance(wanted, list | tuple) else [wanted]
    if not layers or not all(isinstance(x, int) for x in layers):
        return ()
    keep = max(total + x + 1 if x < 0 else x for x in layers)
    out = []
    for t in model.tensors:
        found = _VISION_LAYER.match(t.name)
        if (found and int(found.group(1)) >= keep) or (drops_post_norm and _VISION_POST_NORM.match(t.name)):
            out.append(t)
    return tuple(out)


# A multimodal model's towers, as an engine leaves them out when a request limits their modalities to 0
# (vLLM: runtimes/vllm/towers.py says which modalities each architecture's towers are built for). A tower's
# projector into the text model is built with it (llava's and qwen2_audio's multi_modal_projector, gemma3n's
# and gemma4's embed_vision / embed_audio). Where an architecture's own modalities are not known, a vision
# tower counts as built for image and video, an audio tower for audio (``TOWER_MODALITIES``).
TOWER_MODALITIES: dict[str, tuple[str, ...]] = {"vision": ("image", "video"), "audio": ("audio",)}
ALL_MODALITIES_OFF = {modality: 0 for tower in TOWER_MODALITIES.values() for modality in tower}
UNLIMITED = 999  # vLLM's limit for a modality the request does not name (config/multimodal.py)


def tower_of(name: str, present: frozenset[str]) -> str | None:
    """The tower (a key of TOWER_MODALITIES) a tensor belongs to: its own, or for a projector the tower its
    name names (embed_audio), else the one tower of ``present`` (the towers the model has) there is; None
    for the text model, and for a projector whose tower cannot be told."""
    from paramscope.knowledge.roles import place

    component = place(name).component
    if component in TOWER_MODALITIES:
        return component
    if component != "projector":
        return None
    if "audio" in name and "audio" in present:
        return "audio"
    if "vision" in present:
        return "vision"
    return "audio" if "audio" in present else None


def towers_present(model: Model) -> tuple[str, ...]:
    """The towers (keys of TOWER_MODALITIES) the model has tensors of, in that order."""
    from paramscope.knowledge.roles import place

    found = {c for t in model.tensors if (c := place(t.name).component) in TOWER_MODALITIES}
    return tuple(t for t in TOWER_MODALITIES if t in found)


def unbuilt_towers(model: Model, limits: Mapping[str, int],
                   modalities: Mapping[str, tuple[str, ...]] = TOWER_MODALITIES,
                   default: int = UNLIMITED) -> tuple[tuple[str, ...], tuple[Tensor, ...]]:
    """The towers left out for these per-prompt limits (``default`` for a modality they do not name: 0 when
    every modality is) given the modalities each tower is built for, and their tensors (with the
    projectors that go with them)."""

    off = frozenset(tower for tower, mods in modalities.items()
                    if mods and all(limits.get(m, default) == 0 for m in mods))
    if not off:
        return (), ()
    present = frozenset(towers_present(model))
    placed = [(t, tower_of(t.name, present)) for t in model.tensors]
    left = tuple(t for t, tower in placed if tower in off)
    found = {tower for _, tower in placed if tower in off}
    return tuple(tower for tower in TOWER_MODALITIES if tower in found), left


def without_towers(model: Model, limits: Mapping[str, int],
                   modalities: Mapping[str, tuple[str, ...]] = TOWER_MODALITIES,
                   default: int = UNLIMITED) -> tuple[Model, tuple[str, ...], tuple[Tensor, ...]]:
    """The model without the towers these limits turn off (``unbuilt_towers``), the towers and their
    tensors; the model itself when none is."""
    towers, tensors = unbuilt_towers(model, limits, modalities, default)
    if not tensors:
        return model, (), ()
    gone = {id(t) for t in tensors}
    return replace(model, tensors=tuple(t for t in model.tensors if id(t) not in gone)), towers, tensors


def towers_note(engine: str, towers: tuple[str, ...], tensors: tuple[Tensor, ...], why: str) -> str:
    """The explain line for towers left out."""
    from paramscope.knowledge.roles import place

    what = " and ".join(f"the {t} tower" for t in towers)
    present = frozenset(towers)
    with_projector = {tower_of(t.name, present) for t in tensors if place(t.name).component == "projector"}
    projectors = " with the projectors" if len(with_projector) > 1 else " with the projector" \
        if with_projector else ""
    return (f"{engine} does not build {what} ({why}): {len(tensors):,} tensors{projectors}, "
            f"{-sum(t.nbytes for t in tensors):+,} B")


# vLLM and SGLang build every attention layer's q, k and v as one fused QKV projection, with a V slot even
# where the checkpoint has no v_proj because the values are the keys (Gemma 4's attention_k_eq_v full
# layers): the loader copies K into both slots (vLLM models/gemma4.py _gemma4_layer_weights_mapper
# "k_eq_v_shards"; SGLang models/gemma4_causal.py "should_dup_k_to_v"), so the engine holds K twice. 31B: 10
# layers × 4 heads × 512 × 5376 × 2 B = 0.21 GiB. (llama.cpp and transformers read K for V, no copy.)
_ATTENTION_PROJ = re.compile(r"^(?P<block>.*\.self_attn)\.(?P<which>[qkv])_proj\.")


def fused_v_slots(model: Model) -> tuple[Tensor, ...]:
    """The V slots an engine with fused QKV projections fills with K (vLLM's and SGLang's ``built_model``):
    a copy of each
    k_proj tensor (its weight, scales and zero points) of an attention block with q_proj and k_proj and no
    v_proj, named v_proj; () for a model whose every such block has its own v_proj. Towers are not fused."""
    from paramscope.knowledge.roles import place

    found: dict[str, set[str]] = {}
    for t in model.tensors:
        m = _ATTENTION_PROJ.match(t.name) if ".self_attn." in t.name else None
        if m is not None:
            found.setdefault(m["block"], set()).add(m["which"])
    k_is_v = {block for block, which in found.items() if which == {"q", "k"}}
    if not k_is_v:
        return ()
    out = []
    for t in model.tensors:
        m = _ATTENTION_PROJ.match(t.name) if ".self_attn.k_proj." in t.name else None
        if m is not None and m["which"] == "k" and m["block"] in k_is_v \
                and place(t.name).component not in TOWER_MODALITIES:
            out.append(replace(t, name=t.name.replace(".self_attn.k_proj.", ".self_attn.v_proj.", 1)))
    return tuple(out)


def with_fused_v_slots(model: Model) -> tuple[Model, tuple[str, ...]]:
    """The model as a fused-QKV engine holds it (``fused_v_slots`` added after their K), with a note."""
    slots = fused_v_slots(model)
    if not slots:
        return model, ()
    after = {s.name.replace(".self_attn.v_proj.", ".self_attn.k_proj.", 1): s for s in slots}
    tensors: list[Tensor] = []
    for t in model.tensors:
        tensors.append(t)
        if t.name in after:
            tensors.append(after[t.name])
    added = sum(t.nbytes for t in slots)
    return replace(model, tensors=tuple(tensors)), (
        f"the fused QKV projection holds K twice where the values are the keys (no v_proj: Gemma 4's "
        f"attention_k_eq_v layers; the loader copies K into the V slot): {len(slots):,} tensors, "
        f"{added:+,} B",)


# vLLM loads an AutoRound checkpoint (quantization "inc") through the GPTQ or AWQ kernels of its packing:
# inc/schemes/inc_wna16_linear.py builds AutoGPTQLinearMethod (desc_act off) or AutoAWQMarlinLinearMethod
# (vLLM 0.34); a legacy intel/auto-round config and the native and gptqmodel packings it does not load
AUTOROUND_KERNELS = {"auto_gptq": "gptq", "relabelled": "gptq", "auto_awq": "awq"}


def _kernel_method(model: Model) -> str | None:
    """The quantization method whose vLLM kernels hold the checkpoint (AutoRound's: its packing's)."""
    q = model.quantization
    if q is None:
        return None
    if q.method == "auto-round":
        from paramscope.knowledge.quant_layouts import autoround_packing

        return AUTOROUND_KERNELS.get(autoround_packing(q) or "", q.method)
    return q.method


# vLLM families whose Triton MXFP4 backend pads its values (knowledge/quant_layouts.py "triton-0.17": the
# triton_kernels 0.17 to 0.22 bundle; the v1-0.16 family is 0.16 to 0.20)
PADDED_TRITON_FAMILIES = frozenset({"v1-0.16"})


def _relaid(model: Model, runtime: str, device: Device | None, backend: str | None,
            tensor_parallel: int, build: EngineBuild | None = None) -> Loaded:
    """The checkpoint with the engine's re-layouts of quantized tensors (see ``loaded_weights``)."""
    stored = model.tensor_bytes
    method = _kernel_method(model)
    if runtime == "vllm" and (method in ("gptq", "awq") or (method == "compressed-tensors"
                                                           and _int_with_zero_points(model))):
        return _vllm_int_kernels(model, runtime, stored, method, device, build, tensor_parallel, backend)
    if method != "mxfp4" or runtime not in ("vllm", "sglang"):
        return Loaded(runtime, stored, stored)
    if runtime == "sglang" and (device is None or device.key not in SM100):
        return Loaded(runtime, stored, stored)  # SGLang pads MXFP4 experts only for FlashInfer on SM100
    from paramscope.analyses.sizing.runtimes.common import gpu_platform
    from paramscope.knowledge import quant_layouts as ql

    # on ROCm the padding is the platform's whatever kernel runs (the log may say "Triton backend")
    amd = gpu_platform(device) == "rocm"
    if runtime == "sglang":
        chosen = "flashinfer-sm100"
    else:
        chosen = _vllm_mxfp4_backend(device) if amd or not backend else backend
        padded = build is not None and build.family in PADDED_TRITON_FAMILIES
        if chosen == "triton" and not backend and padded:
            chosen = "triton-0.17"
    lay = ql.ENGINE_LAYOUTS.get((runtime, "mxfp4", chosen))
    if lay is None:
        known = sorted(b for e, m, b in ql.ENGINE_LAYOUTS if (e, m) == ("vllm", "mxfp4"))
        raise UnsupportedError(f"unknown vLLM MXFP4 backend {chosen!r} (known: {', '.join(known)})")
    total = stored
    by_name = {t.name: t for t in model.tensors}
    for t in model.tensors:
        if not t.name.endswith("_blocks") or len(t.shape) != 4:
            continue
        base = t.name.removesuffix("_blocks")
        kind = "gate_up" if base.endswith("gate_up_proj") else "down"
        experts, out, blocks, _ = t.shape
        parts = [by_name.get(base + s) for s in ("_blocks", "_scales", "_bias")]
        total -= sum(p.nbytes for p in parts if p is not None)
        total += ql.mxfp4_loaded_bytes(kind, experts, out, blocks * ql.MXFP4_BLOCK, lay,
                                       with_bias=parts[2] is not None, tensor_parallel=tensor_parallel)
    engine = "vLLM" if runtime == "vllm" else "SGLang"
    note = (f"{engine} {chosen} MXFP4 backend ({lay.when}): expert weights padded to intermediate × "
            f"{lay.intermediate_align}, hidden × {lay.hidden_align}"
            + (", biases in float32 and a swizzled copy of the scales" if lay.scale_copy_align else "")
            + f" ({lay.source}); {total - stored:+,} B against the {stored:,} B stored")
    return Loaded(runtime, stored, total, chosen, (note,))


# Kernels named with --quantization: before 0.22 "gptq" maps to GPTQConfig, the plain kernel
# (gptq_marlin.py override_quantization_method: "Detected that the model can run with gptq_marlin, however
# you specified quantization=gptq explicitly, so forcing gptq"), and before 0.24 "awq" to AWQConfig (the
# plain AWQ kernel; awq_marlin.py "forcing awq"): both keep every stored tensor (GPTQ's exllama shuffle is in
# place). From then both names map to AutoGPTQConfig / AutoAWQConfig, whose kernels are chosen as unnamed
# (quantization/__init__.py, read in 0.21, 0.22, 0.23, 0.24 and 0.25)
PLAIN_KERNEL_UNTIL = {"gptq": (0, 22, 0), "awq": (0, 24, 0)}
GPTQ_FORCED = ("vLLM's plain GPTQ kernel (--quantization gptq named explicitly, before 0.22): every stored "
               "tensor kept, zero points and g_idx included")
PLAIN_KERNELS = {
    "gptq": GPTQ_FORCED,
    "awq": "vLLM's plain AWQ kernel (--quantization awq named explicitly, before 0.24): every stored "
           "tensor kept",
    "no-marlin": "vLLM's other GPTQ / AWQ kernels where Marlin cannot run (an NVIDIA GPU below capability "
                 "8.0, 7.5 from 0.14; AMD GPUs: the plain, Triton, Conch or Exllama kernels): every stored "
                 "tensor kept (from 0.30 GPTQ's g_idx is not loaded)"}


def _vllm_int_kernels(model: Model, runtime: str, stored: int, method: str, device: Device | None,
                      build: EngineBuild | None, tensor_parallel: int, backend: str | None) -> Loaded:
    """vLLM's GPTQ, AWQ and compressed-tensors integer kernels (wna16.py): Marlin drops a symmetric GPTQ
    checkpoint's zero points (and g_idx without act-order), Machete on Hopper keeps them and holds AWQ's
    zero points in 16 bits (``backend`` "machete": wherever it can, whatever the GPU and release, a build
    whose log says it runs it; "gptq" or "awq": the kernel named with --quantization, PLAIN_KERNEL_UNTIL).
    Asymmetric GPTQ, and bit widths Marlin does not take, keep every stored tensor, as the plain kernels on
    GPUs before Ampere do."""
    from paramscope.analyses.sizing import wna16

    q = model.quantization
    assert q is not None
    release = _release(build)
    if method == backend and release < PLAIN_KERNEL_UNTIL.get(method, (0, 0, 0)):
        return Loaded(runtime, stored, stored, method, (PLAIN_KERNELS[method],))
    if _no_marlin(device, release):
        # the plain kernels keep every stored tensor (GPTQ's g_idx from 0.30 not registered)
        g_idx = sum(t.nbytes for t in model.tensors if t.name.endswith(".g_idx")) if (
            method == "gptq" and release >= wna16.GPTQ_NO_G_IDX_RELEASE) else 0
        return Loaded(runtime, stored, stored - g_idx, method, (PLAIN_KERNELS["no-marlin"],))
    if method == "gptq" and (q.symmetric is False or q.bits not in (4, 8)):
        return Loaded(runtime, stored, stored)
    if method == "awq" and q.bits != 4:
        return Loaded(runtime, stored, stored)
    machete = backend == "machete" or (device is not None and device.key in wna16.SM90)
    if backend == "machete":
        release = max(release, wna16.FIRST_MACHETE_RELEASE.get(method, wna16.MACHETE_ZERO_POINTS_RELEASE))
    r = wna16.relaid(model, method, machete, release, tensor_parallel)
    return Loaded(runtime, stored, r.bytes, r.backend, r.notes)


def _no_marlin(device: Device | None, release: tuple[int, int, int]) -> bool:
    """A GPU vLLM's Marlin kernels do not run on: another vendor's (ROCm runs the plain, Triton, Conch or
    Exllama kernels), or an NVIDIA GPU below Marlin's capability (wna16.marlin_min_capability). A device
    of unknown capability, or none, is taken to run Marlin."""
    from paramscope.analyses.sizing import wna16
    from paramscope.knowledge.hardware import cuda_capability

    if device is None or device.kind == "cpu":
        return False
    if device.vendor != "NVIDIA":  # AMD's GPUs and APUs (ROCm), Intel's, Apple's
        return True
    cc = cuda_capability(device)
    return cc is not None and cc < wna16.marlin_min_capability(release)


def _release(build: EngineBuild | None) -> tuple[int, int, int]:
    from paramscope.analyses.sizing.runtimes.vllm.engine import LATEST_RELEASE, effective_release

    return effective_release(build.family, build.release) if build is not None else LATEST_RELEASE


def _vllm_mxfp4_backend(device: Device | None) -> str:
    """vLLM's choice (mxfp4.py get_mxfp4_backend): ROCm's layout on AMD GPUs; Triton for CUDA capability
    9.0 up to 11.0; FlashInfer's only on the capability-10 family; the rest Marlin: below 9.0, and the 12.x
    Blackwell GPUs (SM12X), by the device table's CUDA capability (Ada, 8.9, gets Marlin); a device of
    unknown capability: Marlin without FP8 rates (pre-Ada), else Triton."""
    from paramscope.analyses.sizing.runtimes.common import gpu_platform
    from paramscope.knowledge.hardware import cuda_capability

    if gpu_platform(device) == "rocm":
        return "rocm-gfx950" if device is not None and device.key in GFX950 else "rocm"
    cc = cuda_capability(device)
    if cc is not None:  # Triton from capability 9.0 up to 11.0; Marlin below it and on the 12.x family
        return "triton" if 90 <= cc < 110 else "marlin"
    if device is not None and (device.key in SM12X or (device.kind == "gpu" and device.fp8_flops is None)):
        return "marlin"
    return "triton"


GFX950 = frozenset({"mi350x", "mi355x"})  # CDNA 4: vLLM's ROCm MXFP4 alignment is 256 there
SM100 = frozenset({"b200", "gb200"})  # CUDA capability 10.x in the device table (hardware.py)
# CUDA capability 12.0 / 12.1 (GeForce RTX 50, RTX PRO Blackwell, GB10): neither Triton's range nor
# FlashInfer's family in get_mxfp4_backend, so Marlin ("Using Marlin backend" on SM121; gpt-oss-20b on a
# GB10, vLLM 0.30: 13.8 GiB printed, 13.70 with Marlin's padding, 13.44 with Triton's)
SM12X = frozenset({"rtx-5060-ti-16g", "rtx-5070", "rtx-5070-ti", "rtx-5080", "rtx-5090", "rtx-pro-6000",
                   "dgx-spark"})
