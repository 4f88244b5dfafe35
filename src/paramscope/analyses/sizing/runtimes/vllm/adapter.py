"""The adapter ``memory.estimate`` calls (``runtimes.RUNTIMES``): a request's options become
``VllmParams``; CPU offload, byte counts and a model's as-stored facts are read here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from paramscope.analyses.sizing.kv_cache import layer_kinds
from paramscope.analyses.sizing.loaded import (
    ALL_MODALITIES_OFF,
    TOWER_MODALITIES,
    UNLIMITED,
    EngineBuild,
    towers_note,
    towers_present,
    with_fused_v_slots,
    without_towers,
)
from paramscope.analyses.sizing.mtp import drafter_note, mtp_drafter, without_mtp
from paramscope.analyses.sizing.request import MemoryRequest, RuntimeParts, kv_dtype, model_dtype
from paramscope.analyses.sizing.runtimes import option
from paramscope.analyses.sizing.runtimes.allocator import loaded_as_stored, sizes_kept
from paramscope.analyses.sizing.runtimes.common import gpu_platform
from paramscope.analyses.sizing.runtimes.vllm.encoder import V1_FAMILIES, parse_mm_limits, vision_tower
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    LATEST_RELEASE,
    MLA_RELEASE,
    TRI_STATE,
    V0_FAMILIES,
    Release,
    covers,
    effective_release,
    family_for_release,
    family_range,
    mla_cached,
    parse_release,
    release_text,
)
from paramscope.analyses.sizing.runtimes.vllm.explain import gib
from paramscope.analyses.sizing.runtimes.vllm.kv import prefix_caching_asked
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.pipeline import (
    parse_partition,
    pp_stage_layers,
    stage_weight_split,
)
from paramscope.analyses.sizing.runtimes.vllm.speculative import (
    MAMBA_SPECULATIVE_ANY_RELEASE,
    MTP_DRAFTER_RELEASE,
    Speculation,
    parse_speculative_config,
)
from paramscope.analyses.sizing.runtimes.vllm.towers import (
    LANGUAGE_MODEL_ONLY_RELEASE,
    TOWER_SKIP_RELEASE,
    tower_modalities,
)
from paramscope.analyses.sizing.runtimes.vllm.weights import device_holes, loaded_tails, mla_stored
from paramscope.analyses.sizing.runtimes.weight_offload import (
    CpuOffload,
    cpu_offload,
)
from paramscope.analyses.sizing.serving_dtype import model_type, served_in, vllm_auto_dtype
from paramscope.errors import UnsupportedError
from paramscope.knowledge.families.mtp import mtp_family, mtp_layer_count, mtp_matcher
from paramscope.model import ArchConfig, Model
from paramscope.model.dtypes import DType
from paramscope.model.memo import ModelMemo
from paramscope.records import replace
from paramscope.units import counted

MiB, GiB = 1 << 20, 1 << 30

def stage_offload(model: Model, weights_bytes: int, tensor_parallel: int, limit_bytes: int,
                  stage_layers: tuple[int, ...], scheme: str | None = None) -> tuple[CpuOffload, ...]:
    """--cpu-offload-gb for each stage's worker (one stage without pipeline parallelism): each moves its
    own layers' parameters up to the limit (runtimes/weight_offload.py). Re-priced at ``scheme``
    (--weights): each tensor at its re-priced size; else the checkpoint's bytes scaled to the weights as
    held (the engine's re-laid layouts). () without the option."""
    if limit_bytes <= 0:
        return ()
    sizes = None
    if scheme is not None:
        from paramscope.analyses.sizing.weights import reprice

        sizes = {row.name: row.bytes for row in reprice(model, scheme).rows}
    scale = weights_bytes / (model.tensor_bytes or weights_bytes or 1)
    bounds = [sum(stage_layers[:i]) for i in range(len(stage_layers) + 1)]
    # the tails moved are those "Model loading took" would have counted (``loaded_tails``): none for
    # re-priced weights or the packed formats the engine re-lays at other sizes
    tails = scheme is None and (loaded_as_stored(model) or sizes_kept(model))
    return tuple(cpu_offload(model, tensor_parallel, limit_bytes, (bounds[i], bounds[i + 1]),
                             1.0 if sizes else scale, sizes, tails)
                 for i in range(len(stage_layers)))


# vllm/engine/arg_utils.py human_readable_int: lower-case suffixes are decimal in every release; the
# releases differ on upper-case ones (K, M, G binary until late 2025, then SI: M = 10**6 and Ki, Mi, Gi
# binary), which are refused here rather than guessed
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_BYTE_COUNT = re.compile(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|[kmgtKMGT]?)")


def parse_byte_count(text: str | None, flag: str) -> int | None:
    """A byte count as vLLM reads it (None: not given)."""
    if text is None or not str(text).strip():
        return None
    found = _BYTE_COUNT.fullmatch(str(text).strip())
    if found is None:
        raise UnsupportedError(f"{flag} takes bytes, as 30000000000, 30g (10**9) or 28Gi (2**30) "
                               f"(found {text!r})")
    number, suffix = found.groups()
    if suffix in _DECIMAL:
        return int(float(number) * _DECIMAL[suffix])
    if suffix in _BINARY and "." not in number:
        return int(number) * _BINARY[suffix]
    if suffix in _BINARY:
        raise UnsupportedError(f"{flag}: decimals are not allowed with {suffix} (found {text!r})")
    raise UnsupportedError(f"{flag} {text}: vLLM releases read the suffix {suffix} differently (2**n in "
                           f"older ones, 10**n since); write {number}{suffix.lower()} (10**n) or "
                           f"{number}{suffix}i (2**n)")


# vLLM's profile run first feeds the multimodal encoder one dummy batch of its largest items
# (gpu_model_runner.py profile_run: "Encoder cache will be initialized with a budget of N tokens, and
# profiled with K image/video items of the maximum feature size"), and keeps the embeddings during the text
# run: the torch peak is the larger of the encoder's own and the embeddings + the text's. Modelled
# (encoder.py, for the towers of its table): for other towers the output says the figures are an upper
# bound (Qwen2.5-VL-7B's run is 1.8-2.3 GiB above the text's: tests/fixtures/engine_logs/vllm/r13v-*).
VISION_PROFILE_NOTE = (
    "vLLM also profiles the vision encoder with its largest dummy image or video, a peak paramscope models "
    "only for the Qwen-VL, Qwen3.5, Gemma 3 and Mistral 3 towers in the V1 engine without pipeline "
    "parallelism (1.8-2.3 GiB on Qwen2.5-VL-7B): not here, so the KV figures are an upper bound "
    "(--limit-mm-per-prompt with 0 for a modality leaves it out of the profile)")


# vLLM 0.34.0 sizes the KV cache after warmup and CUDA graph capture, from memory measured at the device,
# with --gpu-memory-utilization 1.0 by default on CUDA and ROCm (the "extensible KV cache": config/cache.py
# resolved_gpu_memory_utilization, v1/worker/extensible_kv_cache.py measure_kv_cache_bytes); modelled from the
# source, but no log of it is in the reference set, which the output says
# An NVIDIA unified-memory device (DGX Spark's GB10, Jetson): vLLM's budget is the difference of two
# free-memory readings, from 0.13 the host's available memory (utils/mem_utils.py MemorySnapshot.measure:
# psutil on an integrated GPU), before it cudaMemGetInfo, which leaves out the reclaimable page cache; what
# the host side of start-up takes between them comes out of the KV cache (the heap and page cache of
# torch.compile and of loading the checkpoint: eugr/spark-vllm-docker PR 286, NVIDIA/xr-ai PR 462). Of the
# GB10 logs of tests/fixtures/engine_logs/vllm/ with a KV figure sized from the budget, the nine of 0.18 to
# 0.27 (model runner V1, five sources) left 3.0 to 6.9 GiB less for the cache than predicted (median 5.5),
# NVIDIA's 0.13 container 1.3 to 1.9; the four of 0.30 (model runner V2, one benchmark) came within 3 %
# but one, whose server arguments are not shown (24 % more). Not said where --kv-cache-memory-bytes sizes
# the cache (r34v-*-kvmem*: exact).
UNIFIED_MEMORY_NOTE = (
    "a unified-memory device: what the host takes during vLLM's start-up (torch.compile, loading the "
    "checkpoint) counts against the KV cache (from 0.13 vLLM reads free memory as the host's available "
    "memory): the nine DGX Spark logs of 0.18 to 0.27, on model runner V1, left 3.0 to 6.9 GiB less for "
    "the cache than paramscope predicts (median 5.5), so the KV figures are likely an upper bound here")
UNIFIED_MEMORY_V2_NOTE = (
    "a unified-memory device: what the host takes during vLLM's start-up counts against the KV cache (vLLM "
    "reads free memory as the host's available memory); three of the four DGX Spark logs of model runner V2 "
    "(0.30) came within 3 % of paramscope's KV figures, where V1's left 3.0 to 6.9 GiB less")

AFTER_WARMUP_NOTE = (
    "vLLM {release}: a release newer than any start-up log in paramscope's reference set; from 0.34 the KV "
    "cache is sized after warmup from measured memory on CUDA and ROCm, at --gpu-memory-utilization 1.0 by "
    "default (the extensible KV cache), and blocks hold 64 tokens: these figures follow 0.34's source "
    "(engine.py EXTENSIBLE_RELEASE), which no log checks yet")


_BUILT: ModelMemo[tuple[Model, tuple[str, ...]]] = ModelMemo(8)
_STORED_DTYPE: ModelMemo[DType] = ModelMemo(8)


def asked_mm_limits(req: MemoryRequest) -> dict[str, int] | None:
    """Items per prompt by modality: --limit-mm-per-prompt, or 0 for every one with --language-model-only
    (None: neither given)."""
    if option(req, "language_model_only"):
        return dict(ALL_MODALITIES_OFF)
    return parse_mm_limits(option(req, "limit_mm_per_prompt"))


def built_model(model: Model, req: MemoryRequest) -> tuple[Model, tuple[str, ...]]:
    """The model as vLLM builds it for the request, with a note for each change (the runtime table's
    ``Runtime.built``): in the type --dtype auto resolves to (serving_dtype.py: a float32 checkpoint in 16
    bits), K copied into the fused QKV's V slot where the values are the keys (``with_fused_v_slots``), and
    without the towers the per-prompt limits turn off (``towers_left_out``)."""
    engine, release = engine_and_release(req)
    effective = effective_release(engine, release)
    everything_off = bool(option(req, "language_model_only"))
    if everything_off and (engine in V0_FAMILIES or effective < LANGUAGE_MODEL_ONLY_RELEASE):
        raise UnsupportedError(f"vLLM {release_text(effective)} ({engine}) has no --language-model-only "
                               f"(from {release_text(LANGUAGE_MODEL_ONLY_RELEASE)}); --limit-mm-per-prompt "
                               "with 0 for each modality does the same for the models whose towers follow "
                               "the limits (runtimes/vllm/towers.py)")
    limits = parse_mm_limits(option(req, "limit_mm_per_prompt")) or {}
    spec = speculation(req, engine)
    stored = _STORED_DTYPE.get(model, (), lambda: model_dtype(model.tensors))  # a walk of every tensor
    dtype = vllm_auto_dtype(stored, model_type(model), req.device, effective)
    key = (tuple(sorted(limits.items())), everything_off, effective, spec, dtype)
    return _BUILT.get(model, key,
                      lambda: _built(model, limits, everything_off, effective, spec, stored, dtype))


def _built(model: Model, limits: dict[str, int], everything_off: bool,
           release: Release, spec: Speculation | None, stored: DType,
           dtype: DType) -> tuple[Model, tuple[str, ...]]:
    model, notes = served_in(model, "vLLM", stored, dtype)
    model, more = with_speculation(model, release, spec)
    notes += more
    model, more = with_fused_v_slots(model)
    notes += more
    model, more = towers_left_out(model, limits, everything_off, release)
    return model, notes + more


def with_speculation(model: Model, release: Release,
                     spec: Speculation | None) -> tuple[Model, tuple[str, ...]]:
    """The model without the MTP layers its checkpoint stores (vLLM skips them when it loads the model),
    or, with an MTP drafter (--speculative-config method mtp), with the drafter's tensors after the
    model's (sizing/mtp.py ``mtp_drafter``); with a note."""
    stripped, notes = without_mtp(model, "vLLM")
    if spec is None:
        return stripped, notes
    raw = model.config_json or {}
    cfg = model.config
    if (cfg is not None and "linear" in layer_kinds(cfg) and release < MAMBA_SPECULATIVE_ANY_RELEASE
            and mtp_family(raw) != "qwen3_next"):
        raise UnsupportedError(f"vLLM {release_text(release)} refuses speculative decoding on a Mamba / "
                               f"linear-attention model other than Qwen3-Next (from "
                               f"{release_text(MAMBA_SPECULATIVE_ANY_RELEASE)})")
    if not spec.mtp:
        return stripped, notes
    first = MTP_DRAFTER_RELEASE.get(mtp_family(raw))
    if first is not None and release < first:
        raise UnsupportedError(f"vLLM {release_text(release)} has no MTP drafter for {mtp_family(raw)} "
                               f"(from {release_text(first)})")
    drafter = mtp_drafter(model, release)
    return (replace(stripped, tensors=(*stripped.tensors, *drafter.tensors)),
            (drafter_note(drafter, speculative_tokens(spec)),))


def speculative_tokens(spec: Speculation | None) -> int:
    """num_speculative_tokens (0 without --speculative-config; the parser requires it, as vLLM does)."""
    return spec.tokens if spec is not None else 0


def drafter_replicated(model: Model, spec: Speculation | None) -> int:
    """The drafter's tensors every rank holds whole: a DeepSeek-style MTP layer's eh_proj is a plain
    nn.Linear (deepseek_mtp.py, glm4_moe_mtp.py), not split over the tensor-parallel ranks."""
    raw = model.config_json
    if spec is None or not spec.mtp or raw is None:
        return 0
    matches = mtp_matcher(raw)
    return sum(t.nbytes for t in model.tensors if t.name.endswith(".eh_proj.weight") and matches(t.name))


def speculation(req: MemoryRequest, engine: str | None = None) -> Speculation | None:
    """--speculative-config as the request gives it (speculative.py); refused on the V0 engine families,
    whose speculative decoding is not modelled."""
    spec = parse_speculative_config(option(req, "speculative_config"))
    if spec is not None and (engine or engine_and_release(req)[0]) in V0_FAMILIES:
        raise UnsupportedError("vLLM: --speculative-config is modelled for the V1 engine only")
    return spec


def draft_layers(model: Model, spec: Speculation | None) -> int:
    """The attention layers an MTP drafter adds to the KV cache (0 without one)."""
    if spec is None or not spec.mtp:
        return 0
    raw = model.config_json
    return mtp_layer_count(raw) if raw is not None else 0


def towers_left_out(model: Model, limits: Mapping[str, int], everything_off: bool,
                    release: Release) -> tuple[Model, tuple[str, ...]]:
    """The model without the towers vLLM ``release`` does not build for these per-prompt limits
    (``everything_off``: every modality 0, as --language-model-only), with a note; towers.py says which
    modalities each architecture's towers are built for, and from which release."""
    default = 0 if everything_off else UNLIMITED
    limited = {m for t in TOWER_MODALITIES.values() for m in t if limits.get(m, default) == 0} | {
        m for m, n in limits.items() if n == 0}
    present = towers_present(model)
    touched = tuple(t for t in present if everything_off or set(TOWER_MODALITIES[t]) & limited)
    if not touched:
        return model, ()
    architecture = model.config.architecture if model.config else None
    table = tower_modalities(architecture, release)
    if not table:  # its towers are built whatever the limits, or not known to follow them: counted
        what = " and ".join(f"the {t} tower" for t in touched)
        it = "them" if len(touched) > 1 else "it"
        why = (f"vLLM {release_text(release)} builds {it} whatever the limits (towers.py: from "
               f"{release_text(TOWER_SKIP_RELEASE)}, or earlier for a few models, a tower whose modalities "
               "are all 0 is not built)" if table is not None else
               f"which modalities vLLM builds {architecture}'s towers for is not in paramscope's table "
               "(runtimes/vllm/towers.py)")
        return model, (f"{what} counted: {why}",)
    built, towers, tensors = without_towers(model, limits, table, default)
    if not towers:
        return model, ()
    why = ("every modality limited to 0" if everything_off else
           ", ".join(sorted({m for t in towers for m in table[t]})) + " limited to 0")
    return built, (towers_note("vLLM", towers, tensors, f"{why}; models/interfaces.py "
                               "_mark_tower_model"),)


def has_vision_encoder(model: Model) -> bool:
    """Whether config.json describes a vision tower (``vision_config``), which vLLM's profile run feeds."""
    raw = model.config_json
    return raw is not None and isinstance(raw.get("vision_config"), dict)


def int4_without_marlin(model: Model, req: MemoryRequest) -> bool:
    """A 4-bit AWQ / GPTQ model (stored so, or re-priced with ``--weights int4`` or another variant with
    zero points) on an NVIDIA GPU before Ampere, where Marlin cannot run (capability 8.0 and later): vLLM's
    AWQ kernel (and GPTQ's exllama path) dequantize the weight for a large batch (``awq_dequantize_peak``).
    The symmetric variants (``int4_sym``) are compressed-tensors' layout, which a stored compressed-tensors
    model is not charged for either. The device table has no capability; an NVIDIA GPU without a bf16 rate
    (V100, T4, Turing and Pascal cards) is pre-Ampere."""
    device = req.device
    if device is None or device.kind != "gpu" or device.vendor != "NVIDIA" or device.bf16_flops is not None:
        return False
    if req.weights is not None:
        from paramscope.knowledge.quant_schemes import is_int4, lookup

        return is_int4(lookup(req.weights), symmetric=False)
    q = model.quantization
    return q is not None and q.method in ("awq", "gptq") and q.bits == 4


def engine_and_release(req: MemoryRequest, runtime: str | None = None) -> tuple[str, Release | None]:
    """--engine and --vllm-release: the family a release runs unless --engine names one, which must then
    cover the release. ``runtime`` "vllm": read them as vLLM's whatever runtime the request names (the fit
    advice's vLLM command)."""
    text = option(req, "vllm_release", runtime)
    release = parse_release(text) if text else None
    engine = option(req, "engine", runtime)
    if release is None:
        return engine, None
    if "engine" not in req.options:
        return family_for_release(release), release
    if not covers(engine, release):
        first, until = family_range(engine)
        span = (f"{release_text(first)} and later" if until is None else
                f"{release_text(first)} up to {release_text(until)}, not included")
        raise UnsupportedError(f"vLLM {release_text(release)} is not of the {engine} family ({span}); it "
                               f"runs {family_for_release(release)} (leave --engine out to follow it)")
    return engine, release


def layout_family(req: MemoryRequest) -> EngineBuild:
    """The engine family and release whose weight layout the request follows (runtimes.Runtime.layout):
    --vllm-release, else the family's newest release paramscope models."""
    engine, release = engine_and_release(req)
    return EngineBuild(engine, effective_release(engine, release))


# A checkpoint whose quantization config declares its KV cache quantized gets an FP8 cache: ModelOpt's
# kv_cache_quant_algo / kv_cache_scheme where --kv-cache-dtype is auto (utils/torch_utils.py
# resolve_kv_cache_dtype_string with get_kv_cache_quant_algo_string, from 0.14: "FP8", or a scheme of 8-bit
# static floats; resolved before the engine's config line, which prints fp8_e4m3), compressed-tensors'
# kv_cache_scheme (attention.py "llm-compressor mdls need to set cache_dtype to fp8 manually": from 0.15
# whatever --kv-cache-dtype says, from 0.22 only where it is auto; set while the model is built, so the
# config line still prints kv_cache_dtype=auto; only the Attention layer reads it, so an MLA model keeps its
# latent cache in the model's type). vLLM lower-cases the method and reads "compressed_tensors" as
# "compressed-tensors". Read in the 0.13 to 0.34 sources.
MODELOPT_KV_RELEASE: Release = (0, 14, 0)
LEGACY_MODELOPT_FILE = "hf_quant_config.json"
CT_KV_SCHEME_RELEASE: Release = (0, 15, 0)
CT_KV_SCHEME_AUTO_ONLY_RELEASE: Release = (0, 22, 0)
NVFP4_KV_RELEASE: Release = (0, 21, 0)  # MODELOPT_TO_VLLM_KV_CACHE_DTYPE_MAP's "nvfp4"


def checkpoint_method(model: Model) -> str | None:
    """The checkpoint's quantization method as vLLM names it (None: not quantized)."""
    q = model.quantization
    if q is None:
        return None
    return str(q.config.get("quant_method") or q.method).lower().replace("compressed_tensors",
                                                                         "compressed-tensors")


def checkpoint_kv_type(model: Model, release: Release, asked: str | None) -> tuple[str | None, str]:
    """The KV cache type vLLM takes for ``asked`` (None or "auto": the model's type) and this checkpoint,
    and a note where the checkpoint's quantization config changes it (see above)."""
    q = model.quantization
    auto = asked in (None, "auto")
    if q is None:
        return asked, ""
    method = checkpoint_method(model) or ""
    # vLLM resolves "auto" from the declaration's own quant_method (get_kv_cache_quant_algo_string:
    # quant_cfg.get("quant_method", "").startswith("modelopt")), which ModelOpt's older hf_quant_config.json
    # does not carry ({"producer": …, "quantization": {…}}): such a checkpoint's cache stays in the model's
    # type unless --kv-cache-dtype says. nvidia/Qwen3.6-35B-A3B-NVFP4 on 0.29 with auto: 207,842 tokens
    # printed, a bf16 cache's count (vllm/r49v-*)
    legacy = q.declared_in.endswith(LEGACY_MODELOPT_FILE)
    if method.startswith("modelopt") and auto and release >= MODELOPT_KV_RELEASE and not legacy:
        inner = q.config.get("quantization", q.config)
        inner = inner if isinstance(inner, Mapping) else q.config
        algo = (inner.get("kv_cache_scheme") or q.config.get("kv_cache_scheme")
                or inner.get("kv_cache_quant_algo") or q.config.get("kv_cache_quant_algo"))
        fp8 = (algo.get("dynamic") is False and algo.get("num_bits") == 8 and algo.get("type") == "float"
               if isinstance(algo, Mapping) else isinstance(algo, str) and algo.lower() == "fp8")
        if fp8:
            return "fp8", (f"KV cache in FP8: the checkpoint's ModelOpt config declares it "
                           f"(kv_cache_quant_algo {algo if isinstance(algo, str) else 'scheme'}), which vLLM "
                           f"follows from 0.14 where --kv-cache-dtype is auto")
        nvfp4 = (isinstance(algo, str) and algo.lower() == "nvfp4") or (
            isinstance(algo, Mapping) and algo.get("num_bits") == 4 and algo.get("type") == "float")
        if nvfp4 and release >= NVFP4_KV_RELEASE:
            return asked, ("the checkpoint's ModelOpt config declares an NVFP4 KV cache, which vLLM uses "
                           "from 0.21 and paramscope does not price: the cache is priced in the model's "
                           "type, about 3.5 times the NVFP4 one")
    is_mla = model.config is not None and model.config.is_mla
    if method == "compressed-tensors" and isinstance(q.config.get("kv_cache_scheme"), Mapping) \
            and not is_mla and release >= CT_KV_SCHEME_RELEASE \
            and (auto or release < CT_KV_SCHEME_AUTO_ONLY_RELEASE):
        return "fp8", ("KV cache in FP8: the checkpoint's compressed-tensors config declares a "
                       "kv_cache_scheme, which vLLM follows from 0.15 (from 0.22 only where --kv-cache-dtype "
                       "is auto); its start-up line still prints kv_cache_dtype=auto")
    return asked, ""


def act_order_refused(model: Model, release: Release) -> str:
    """What vLLM says of a GPTQ checkpoint with act-order and groups from 0.30, which refuses to load it
    (gptq_utils.normalize_and_validate_gptq_desc_act), or ""."""
    from paramscope.analyses.sizing.wna16 import GPTQ_NO_G_IDX_RELEASE

    q = model.quantization
    if q is None or q.method != "gptq" or not q.config.get("desc_act") or (q.group_size or -1) == -1:
        return ""
    if release < GPTQ_NO_G_IDX_RELEASE:
        return ""
    return ("vLLM 0.30 and later refuse this checkpoint: GPTQ act-order (desc_act) with groups is no longer "
            "supported (--vllm-release 0.29 prices it as that release loads it)")


# --- the adapter memory.estimate calls (runtimes.RUNTIMES) ----------------------------------------
def parts(model: Model, cfg: ArchConfig, weights_bytes: int, req: MemoryRequest, ctx: int) -> RuntimeParts:
    """vLLM's figures are per GPU (each of the tensor-parallel ranks holds the same); totals are × N.

    The KV line is what the requests need; on a given GPU vLLM also pre-allocates the rest of its
    reservation as KV blocks, which the notes report, and whether the blocks hold the requests decides
    whether it fits.
    """

    dtype = model_dtype(model.tensors)
    engine, release = engine_and_release(req)
    effective = effective_release(engine, release)
    kv_name, kv_note = checkpoint_kv_type(model, effective, req.kv_type)
    t = kv_dtype(kv_name, dtype)
    on_gpu = req.device is not None and req.device.kind != "cpu"
    gpu = req.device.usable_bytes if req.device and on_gpu else None
    pp = option(req, "pipeline_parallel_size")
    if req.n_devices % pp:
        raise UnsupportedError(f"vLLM: {req.n_devices} GPUs cannot be split into {pp} pipeline stages of "
                               f"equal tensor-parallel size (the GPU count must be a multiple of "
                               f"--pipeline-parallel-size)")
    partition = parse_partition(option(req, "pp_layer_partition"))
    if partition and pp == 1:
        raise UnsupportedError("vLLM: --pp-layer-partition (VLLM_PP_LAYER_PARTITION) needs "
                               "--pipeline-parallel-size above 1")
    stage_layers = pp_stage_layers(cfg.n_layers, pp, partition) if pp > 1 else None
    tp = req.n_devices // pp
    offload = stage_offload(model, weights_bytes, tp, int(option(req, "cpu_offload_gb") * GiB),
                            stage_layers or (cfg.n_layers,), req.weights)
    # vLLM tests ``if kv_cache_memory_bytes := ...``: 0 is "not set", the budget's rule applies
    kv_bytes = parse_byte_count(option(req, "kv_cache_memory_bytes"), "--kv-cache-memory-bytes") or None
    spec = speculation(req, engine)
    vision = None if option(req, "skip_mm_profiling") else vision_tower(model.config_json)
    mm_limits = asked_mm_limits(req)
    m = vllm_memory(cfg, weights_bytes, context=ctx, batch=req.batch, kv_type=t, dtype=dtype,
                    gpu_memory_bytes=gpu, gpu_memory_utilization=option(req, "gpu_memory_utilization"),
                    pipeline_parallel=pp, pp_partition=partition,
                    stage_weights=stage_weight_split(model, weights_bytes, stage_layers) if stage_layers
                    else None,
                    tensor_parallel=tp, max_num_seqs=option(req, "max_num_seqs"),
                    max_num_batched_tokens=option(req, "max_num_batched_tokens"),
                    cuda_graphs=not option(req, "enforce_eager"), engine=engine, release=release,
                    device_hole_bytes=0 if req.weights else device_holes(model, tp),
                    chunked_prefill=TRI_STATE[option(req, "enable_chunked_prefill")],
                    gpu_name=req.device.name if req.device and on_gpu else None,
                    platform=gpu_platform(req.device),
                    nvlink=req.device.nvlink is not False if req.device and on_gpu else True,
                    flashinfer_sampler=option(req, "flashinfer_sampler"),
                    allocator_tail_bytes=0 if req.weights else loaded_tails(model, tp),
                    entrypoint=option(req, "entrypoint"),
                    expert_parallel=option(req, "enable_expert_parallel"), offload=offload,
                    kv_cache_memory_bytes=kv_bytes, prefix_caching=prefix_caching_asked(req),
                    mla_stored_bytes=None if req.weights else mla_stored(model),
                    mla=mla_cached(effective, checkpoint_method(model)),
                    disable_hybrid_kv_cache_manager=option(req, "disable_hybrid_kv_cache_manager"),
                    async_scheduling=TRI_STATE[option(req, "async_scheduling")],
                    awq_dequantize=int4_without_marlin(model, req),
                    max_cudagraph_capture_size=option(req, "max_cudagraph_capture_size"),
                    vision=vision, mm_limits=mm_limits, speculative_tokens=speculative_tokens(spec),
                    draft_layers=draft_layers(model, spec),
                    drafter_replicated_bytes=drafter_replicated(model, spec),
                    model_runner=None if (runner := option(req, "vllm_model_runner")) == "auto" else runner,
                    speculative_method=spec.method if spec else None,
                    performance_mode=option(req, "performance_mode"))
    host = sum(s.moved_bytes for s in offload) * tp
    n = req.n_devices
    notes: tuple[str, ...] = (kv_note,) if kv_note else ()
    if cfg.is_mla and not mla_cached(effective, checkpoint_method(model)):
        why = ("MLA's latent cache came with 0.7.1" if effective < MLA_RELEASE else
               f"0.7.1 and 0.7.2 turn MLA off for a {checkpoint_method(model)} checkpoint (FP8 excepted)")
        notes += (f"vLLM {release_text(effective)} caches every head's K and V for this MLA model, not the "
                  f"latent: {why}",)
    refused = act_order_refused(model, effective)
    if refused:
        notes += (refused,)
    if host:
        notes += (f"--cpu-offload-gb: {host:,} B of weights ({gib(host)}) in pinned host memory, read by "
                  f"the GPUs over the host link at every step (slow); the per-GPU figures leave them out",)
    skipped = option(req, "skip_mm_profiling") or (mm_limits is not None and not any(mm_limits.values()))
    modelled = vision is not None and pp == 1 and m.params.engine in V1_FAMILIES
    if has_vision_encoder(model) and kv_bytes is None and not modelled and not skipped:
        notes += (VISION_PROFILE_NOTE,)
    if (req.device is not None and req.device.kind == "unified" and gpu_platform(req.device) == "cuda"
            and kv_bytes is None):
        notes += (UNIFIED_MEMORY_V2_NOTE if m.params.model_runner == "v2" else UNIFIED_MEMORY_NOTE,)
    if m.params.release > LATEST_RELEASE:
        notes += (AFTER_WARMUP_NOTE.format(release=release_text(m.params.release)),)
    if m.pool is not None:
        pool = m.pool
        util = m.params.gpu_memory_utilization
        how = (f"gpu_memory_utilization {util}" if kv_bytes is None else
               f"--kv-cache-memory-bytes {kv_bytes:,} beside the rest")
        notes += (f"vLLM reserves {pool.reserved_bytes:,} B per GPU ({how}) and "
                 f"{'fills what is left with' if kv_bytes is None else 'holds'} "
                 f"{max(pool.num_blocks, 0):,} KV blocks ({'logged as ' if pool.reported_len else ''}"
                 f"{pool.tokens:,} tokens): "
                 f"{counted(int(pool.max_concurrency), 'request')} of {ctx:,} tokens at once (vLLM's maximum "
                 f"concurrency {pool.max_concurrency:.2f}x, rounded down to whole requests)",)
        if m.shortfall_bytes:
            needed = req.batch * m.layout.blocks_per_request
            where = ("the cache asked for does not fit beside the weights and buffers (vLLM stops at "
                     "start-up)" if m.over_gpu_bytes else
                     "nothing is left for the KV cache (vLLM stops at start-up)" if pool.available_bytes <= 0
                     else f"{pool.num_blocks:,} blocks hold fewer than the {needed:,} the requests need")
            short = ("each GPU is" if m.over_gpu_bytes else "each GPU's reservation is")
            notes += (f"does not fit: {where}; {short} {m.shortfall_bytes:,} B ({gib(m.shortfall_bytes)}) "
                      f"short",)
    verdict = m.fits if m.pool is not None else None
    # the release and engine family the figures follow (speed calibration picks its era by it)
    settings = (("vllm_release", release_text(effective)), ("vllm_engine", engine))
    if m.stages:  # pipeline parallel: each stage's figures on each of its tensor-parallel GPUs
        tp = n // pp
        devices = tuple((s.model_bytes, s.kv_needed_bytes, s.compute_bytes, s.overhead_bytes)
                        for s in m.stages for _ in range(tp))
        notes = (f"pipeline parallel: {pp} stages × {tp} GPU(s); per GPU the stage's own weights (the "
                 f"embedding on the first{' and the last' if cfg.tied_embeddings else ''}, lm_head on the "
                 f"last{', the multimodal towers on every one' if towers_present(model) else ''}), KV cache "
                 f"of its layers and activations; the stage with the fewest KV blocks (stage {m.stage}) "
                 f"decides", *notes)
        return RuntimeParts(sum(d[1] for d in devices), sum(d[2] for d in devices),
                            sum(d[3] for d in devices), t.value.lower(), m.explain, notes, verdict,
                            host_weights_bytes=host, device_shares=devices, split_label="pipeline stages",
                            devices_at_once=tp, settings=settings)
    if kv_bytes is not None and m.pool is not None:
        # the cache asked for is allocated whole: the KV line is its blocks, a decode step reads the
        # requests' own cache
        return RuntimeParts(m.pool.pool_bytes * n, m.compute_bytes * n, m.overhead_bytes * n,
                            t.value.lower(), m.explain, notes, verdict, host_weights_bytes=host,
                            kv_requests_bytes=m.kv_needed_bytes * n, settings=settings)
    return RuntimeParts(m.kv_needed_bytes * n, m.compute_bytes * n, m.overhead_bytes * n,
                        t.value.lower(), m.explain, notes, verdict, host_weights_bytes=host,
                        settings=settings)
