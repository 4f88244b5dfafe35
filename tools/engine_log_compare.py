"""paramscope's memory predictions for the engine start-up logs of tests/fixtures/engine_logs/.

For each record whose model paramscope can open offline (a catalogue name, or a config.json kept in
tests/fixtures/engine_logs/configs/), ``compare`` runs the runtime profile with the record's own settings
and returns, figure by figure, the predicted value beside the printed one. The profiles are called
directly (analyses/sizing/runtimes/{vllm,llamacpp}.py) because ``estimate`` has no way to pass a record's
block size or n_batch. Settings a record leaves null take the cited default, else paramscope's.

bench/engine_logs_report.py prints the table; tests/test_engine_log_predictions.py bounds every error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import engine_logs
from engine_logs import FIXTURES, Record

import paramscope
from paramscope.analyses.sizing.kv_cache import ATTENTION_KINDS, KVCache
from paramscope.analyses.sizing.loaded import (
    ALL_MODALITIES_OFF,
    EngineBuild,
    loaded_weights,
    with_fused_v_slots,
    without_towers,
)
from paramscope.analyses.sizing.request import model_dtype as request_model_dtype
from paramscope.analyses.sizing.runtimes.allocator import loaded_as_stored
from paramscope.analyses.sizing.runtimes.llamacpp.devices import device_split, parse_tensor_split
from paramscope.analyses.sizing.runtimes.llamacpp.forks import FORKS
from paramscope.analyses.sizing.runtimes.llamacpp.kv import INDEXER, as_pre_mla_gguf, with_mla_v_cache
from paramscope.analyses.sizing.runtimes.llamacpp.memory import cpu_repack_bytes, llamacpp_memory
from paramscope.analyses.sizing.runtimes.llamacpp.offload import (
    gpu_compute_with_host_experts,
    gpu_compute_with_host_output,
    offload,
    repeating_layers_on_gpu,
)
from paramscope.analyses.sizing.runtimes.llamacpp.params import F16_KV_COPY_FIRST_BUILD
from paramscope.analyses.sizing.runtimes.sglang import (
    default_attention_backend,
    given_free_memory,
    sglang_memory,
    vision_tower,
)
from paramscope.analyses.sizing.runtimes.sglang import loaded_tails as sglang_loaded_tails
from paramscope.analyses.sizing.runtimes.vllm.adapter import (
    checkpoint_kv_type,
    checkpoint_method,
    draft_layers,
    drafter_replicated,
    speculative_tokens,
    stage_offload,
    towers_left_out,
    with_speculation,
)
from paramscope.analyses.sizing.runtimes.vllm.encoder import parse_mm_limits
from paramscope.analyses.sizing.runtimes.vllm.encoder import vision_tower as vllm_vision_tower
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    FAMILY_LAST,
    V0_FAMILIES,
    Release,
    default_max_model_len,
    mla_cached,
)
from paramscope.analyses.sizing.runtimes.vllm.kv import KVPool, reported_len
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.pipeline import pp_stage_layers, stage_weight_split
from paramscope.analyses.sizing.runtimes.vllm.profile import graph_estimate_bytes
from paramscope.analyses.sizing.runtimes.vllm.speculative import parse_speculative_config
from paramscope.analyses.sizing.runtimes.vllm.weights import device_holes as vllm_device_holes
from paramscope.analyses.sizing.runtimes.vllm.weights import loaded_tails as vllm_loaded_tails
from paramscope.analyses.sizing.runtimes.vllm.weights import mla_stored
from paramscope.analyses.sizing.serving_dtype import model_type, served_in, sglang_auto_dtype, vllm_auto_dtype
from paramscope.analyses.sizing.weights import reprice
from paramscope.errors import ParamscopeError
from paramscope.knowledge.hardware import Device, find_device
from paramscope.knowledge.quant_schemes import MMPROJ_COMPONENTS
from paramscope.model import ArchConfig, Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import replace

# vLLM --dtype / --kv-cache-dtype and llama.cpp cache type names → paramscope's dtypes
DTYPES = {"float16": DType.F16, "half": DType.F16, "bfloat16": DType.BF16, "float32": DType.F32,
          "fp8": DType.F8_E4M3, "fp8_e4m3": DType.F8_E4M3, "fp8_e5m2": DType.F8_E5M2,
          "f16": DType.F16, "bf16": DType.BF16, "f32": DType.F32, "q8_0": DType.Q8_0, "q4_0": DType.Q4_0,
          "q4_1": DType.Q4_1, "q5_0": DType.Q5_0, "q5_1": DType.Q5_1, "iq4_nl": DType.IQ4_NL}


@dataclass(frozen=True, slots=True)
class Row:
    record: str
    engine: str
    figure: str
    device: str | None
    printed: float
    predicted: float
    unit: str
    resolution: float = 0.0  # half the last printed digit, relative to the printed value
    # the engine prints the value rounded down to this many bytes (engine_logs.FLOORED_FIGURES): the error is
    # measured from the middle of [printed, printed + floor_step), which the resolution spans
    floor_step: float = 0.0

    @property
    def error(self) -> float:
        """Relative error of the prediction, signed (+ = paramscope says more)."""
        centre = self.printed + self.floor_step / 2
        if centre == 0:
            return 0.0 if self.predicted == 0 else float("inf")
        return (self.predicted - centre) / abs(centre)


def open_record_model(r: Record) -> Model | None:
    if r.model.get("catalogue"):
        return paramscope.open_model(r.model["catalogue"])
    if r.model.get("config"):
        return paramscope.open_model(str(FIXTURES / "configs" / r.model["config"]))
    return None


def weights_bytes(model: Model, r: Record) -> int:
    """The record's re-pricing where it names one, else the checkpoint as stored, as the engine holds it
    (vLLM pads MXFP4 experts per kernel backend, the backend read from the log where it says; its GPTQ and
    AWQ kernels per GPU and release)."""
    scheme = r.model.get("weights") or cast_scheme(model, r)
    if scheme and r.engine == "llamacpp":
        # the text GGUF's tensors: convert_hf_to_gguf writes a vision or audio tower and its projector to
        # a separate mmproj file (Qwen3.5-27B's 27-block vision tower: 879.55 MiB not in the model buffer)
        return sum(row.bytes for row in reprice(model, scheme).rows if row.component not in MMPROJ_COMPONENTS)
    if scheme:
        return reprice(model, scheme).total_bytes
    pp = r.setting("pipeline_parallel_size") or 1
    tp = r.setting("tensor_parallel_size") or (r.gpus.get("count") or 1) // pp
    build = EngineBuild(vllm_engine(r), effective_record_release(r)) if r.engine == "vllm" else None
    return loaded_weights(model, r.engine, gpu_device(r), log_backend(r), tensor_parallel=tp,
                          build=build).bytes


# --dtype casts an unquantized checkpoint's weights as they load (vLLM: model_config.dtype, every parameter
# created in it): what `paramscope size --weights f32` prices. Seed-OSS-36B (bf16) at --dtype float32 on
# two A100s: 67.59 GiB a GPU printed, twice the stored bytes
CAST_SCHEMES = {DType.F32: "f32", DType.F16: "f16", DType.BF16: "bf16"}


def cast_scheme(model: Model, r: Record) -> str | None:
    """The plain scheme of a --dtype the record states, where it differs from the unquantized checkpoint's
    own type; else None (as stored)."""
    stated = DTYPES.get(r.settings.get("dtype") or "")
    if stated not in CAST_SCHEMES or model.quantization is not None or not model.tensors:
        return None
    stored = request_model_dtype(model.tensors)
    return CAST_SCHEMES[stated] if stated != stored else None


def release(r: Record, parts: int) -> tuple[int, ...]:
    """The first ``parts`` numbers of the record's engine version ((0, 19) of "0.19.0"; () when unknown)."""
    return tuple(int(x) for x in re.findall(r"\d+", r.engine_version)[:parts])


# the releases whose bundled triton_kernels pads MXFP4 values to 64 (knowledge/quant_layouts.py "triton-0.17")
BUNDLED_PADDING = ((0, 17), (0, 23))


def log_backend(r: Record) -> str | None:
    """The kernel backend vLLM used: "gptq" where the record names --quantization gptq (a GPTQ checkpoint
    then keeps its plain layout); for MXFP4, as the log says (mxfp4.py "Using Triton backend";
    marlin_utils_fp4.py's warning), else Marlin for logs dated before vLLM 0.11.1 (version note "before
    0.11"): the Triton path needs the triton_kernels package, a vLLM dependency only since PR #27370
    (October 2025, in 0.11.1; issue #26582: 0.11.0 users installed it by hand), so on Hopper mxfp4.py fell
    back to Marlin; else None to let paramscope pick vLLM's current default. Triton of 0.17 to 0.22 is
    "triton-0.17" (BUNDLED_PADDING; 0.19 says "Using 'TRITON' Mxfp4 MoE backend"). "machete" where the log
    says GPTQ's or AWQ's layers run Machete ("Using MacheteLinearKernel for AWQMarlinLinearMethod": a vendor
    build of 0.18 with 0.19's awq_marlin.py, where upstream 0.18 runs Marlin)."""
    if r.setting("quantization") == "gptq":
        return "gptq"  # named explicitly: vLLM keeps the plain GPTQ kernel (loaded.GPTQ_FORCED)
    if "Using MacheteLinearKernel for" in r.log:
        return "machete"
    if "Using Triton backend" in r.log or "Using 'TRITON' Mxfp4 MoE backend" in r.log:
        version = release(r, 2)
        padded = len(version) == 2 and BUNDLED_PADDING[0] <= version < BUNDLED_PADDING[1]
        return "triton-0.17" if padded else "triton"
    if "Marlin" in r.log or "marlin" in r.log:
        return "marlin"
    if "before 0.11" in (r.version_note or ""):
        return "marlin"
    return None


def model_dtype(model: Model, r: Record) -> DType:
    stated = r.setting("dtype")
    if stated in DTYPES:
        return DTYPES[stated]
    sizes: dict[DType, int] = {}
    for t in model.tensors:
        sizes[t.dtype] = sizes.get(t.dtype, 0) + t.nbytes
    best = max(sizes, key=sizes.__getitem__, default=DType.BF16)
    return best if best in (DType.F32, DType.F16, DType.BF16) else DType.F16


def gpu_bytes(r: Record) -> int | None:
    """The GPU's memory as the engine saw it where printed, else the catalogue's for the named GPU."""
    printed = r.first("total_gpu_memory")
    if printed and printed.bytes:
        return printed.bytes
    device = gpu_device(r)
    return device.usable_bytes if device is not None else None


def gpu_device(r: Record) -> Device | None:
    """The catalogue's device for the GPU the record names, found as the CLI finds a name given to --gpu
    (``find_device``: vendor words and a size in GB as logs print them); None where it knows none."""
    given = (r.gpus.get("name") or "").split(" (")[0]
    try:
        return find_device(given) if given else None
    except ParamscopeError:
        return None


# vLLM 0.6.4 (released November 2024; PR #9352) replaced the whole-device peak of the V0 profile by torch's
# peak plus the non-torch increase: logs dated before then follow "v0-early"
V0_PEAK_CHANGE = (2024, 11)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _note_date(note: str) -> tuple[int, int] | None:
    """The date a version note gives the log, (year, month): 'log dated 07-24 (2024)' (the log's MM-DD and
    the year), '2024-12-02', else a month named with its year ('June 2024')."""
    found = re.search(r"dated (\d\d)-\d\d \((20\d\d)\)", note)
    if found:
        return int(found.group(2)), int(found.group(1))
    found = re.search(r"\b(20\d\d)-(\d\d)-\d\d\b", note)
    if found:
        return int(found.group(1)), int(found.group(2))
    found = re.search(r"\b(" + "|".join(MONTHS) + r") (20\d\d)\b", note)
    return (int(found.group(2)), MONTHS.index(found.group(1)) + 1) if found else None


# vLLM 0.9.2 (July 2025; PR #19312) replaced V1's whole-device non-torch measure by the snapshot's: V1 logs
# dated before then follow "v1-0.8"
V1_SNAPSHOT_CHANGE = (2025, 7)


# the line of a profile that took the CUDA graph estimate in: by default from 0.21, asked for on 0.19-0.20
GRAPH_PROFILING_ON = "CUDA graph memory profiling is enabled"
GRAPH_PROFILING_DEFAULT = (0, 21)


def vllm_engine(r: Record) -> str:
    """The engine family the record's log comes from (runtimes/vllm/engine.py ENGINES): V0 where
    its version note says so (V0's worker.py and executor lines) or the version is before 0.8 (V1 became
    the default in 0.8); V1 since 0.21 where the version says 0.21 or later, or, the version not known,
    the log says the CUDA graph estimate is in the profile ("CUDA graph memory profiling is enabled";
    0.19-0.20 say so when asked, ``graph_estimate``); V1 of 0.8 to 0.9.1 where the
    version says so or the note dates the log before July 2025; V1 of 0.9.2 to 0.10 where the version says
    so or the note dates the log before 0.11 ("before 0.11 ("); V1 of 0.16 to 0.20, of 0.12 and of
    0.11 where the version says so; else V1 of 0.13 to 0.15 (or a 0.11-0.12 log that does not say). The
    main branch before PR #2031 ("before PR #2031" in the note) is "v0-2023-main"."""
    version = release(r, 3)
    known = len(version) >= 2
    note = r.version_note or ""
    if "before PR #2031" in note:
        return "v0-2023-main"
    if "before 0.2.6" in note:
        return "v0-2023"
    if (known and version < (0, 6, 4)) or (_note_date(note) or (9999, 0)) < V0_PEAK_CHANGE:
        return "v0-early"
    if "V0 engine" in note or (known and version < (0, 8)):
        # 0.6.5 (December 2024) measured the non-torch increase over a baseline (utils.memory_profiling,
        # read in the 0.6.5 and 0.6.6 wheels), as 0.7 to 0.10 do; 0.6.4 the device's whole non-torch memory,
        # and so did the development builds of PR #10511 before it was merged for 0.6.5 (1.79 GiB printed
        # at TP 1, 10511-*), which the note calls "a development build of PR"
        before = ((known and version < (0, 6, 5)) or (_note_date(note) or (9999, 0)) < V0_SNAPSHOT_CHANGE
                  or re.search(r"\bv0\.6\.[0-4]|development build of PR", note) is not None)
        return "v0-0.6" if before else "v0"
    # 0.19–0.20 print the estimate too but keep it out of the budget unless asked ("In v0.19, CUDA graph
    # memory profiling will be enabled by default ... To try it now, set ..."); from 0.21 the log says
    # "CUDA graph memory profiling is enabled"
    if (GRAPH_PROFILING_ON in r.log and not known) or (known and version >= GRAPH_PROFILING_DEFAULT):
        return "v1"
    if (known and version < (0, 9, 2)) or (_note_date(note) or (9999, 0)) < V1_SNAPSHOT_CHANGE:
        return "v1-0.8"
    if (known and version < (0, 11)) or "before 0.11 (" in (r.version_note or ""):
        return "v1-0.9"
    if known and version >= (0, 16):
        return "v1-0.16"
    if known and version[:2] in ((0, 11), (0, 12)):
        return f"v1-0.{version[1]}"
    return "v1-early"


# vLLM 0.6.5 (December 17, 2024): V0's non-torch memory measured as the increase over a baseline snapshot;
# a log dated only by its month counts from January 2025 (December's may be 0.6.4.post1's)
V0_SNAPSHOT_CHANGE = (2025, 1)


# PR #6666 (merged 2024-07-23, "Enable chunked prefill by default for long context models") made the V0
# engine chunk prefills when max_model_len > 32K; before it, V0 profiled one batch of max_model_len tokens
LONG_CONTEXT_CHUNKING = (2024, 8)


def chunked_prefill(r: Record, engine: str) -> bool | None:
    """The record's --enable-chunked-prefill, else off for V0 logs older than PR #6666 (no long-context
    default then), else None (the engine's default)."""
    stated = r.setting("enable_chunked_prefill")
    if stated is not None or engine not in V0_FAMILIES:
        return stated
    version = release(r, 3)
    dated = _note_date(r.version_note or "")
    old = (len(version) >= 2 and version < (0, 5, 4)) or (dated is not None and dated < LONG_CONTEXT_CHUNKING)
    return False if old else None


# vLLM's custom all-reduce says why it is off (distributed/device_communicators/custom_all_reduce.py): the
# group spans nodes, the GPUs cannot reach each other peer to peer, or more than two GPUs share PCIe only.
# In all three NCCL carries the all-reduce without NVLink (its NET or SHM transport, or P2P over PCIe),
# so NCCL's PCIe-only footprint applies whatever the board (runtimes/common.py NCCL_PCIE_BYTES)
NO_NVLINK_MARKERS = (
    "Custom allreduce is disabled because this process group spans across nodes",
    "Custom allreduce is disabled because your platform lacks GPU P2P capability",
    "Custom allreduce is disabled because it's not supported on more than two PCIe-only GPUs",
)


def nvlink(r: Record) -> bool:
    """Whether the record's GPUs talk over NVLink: not where the log says vLLM's custom all-reduce is off for
    want of it (NO_NVLINK_MARKERS; the log's lines may be wrapped), else the catalogue's say for a GPU it
    knows (SXM boards), else True, the measured NCCL footprint's case (runtimes/common.py NCCL_BYTES)."""
    flat = re.sub(r"\s+", " ", r.log)
    if any(marker in flat for marker in NO_NVLINK_MARKERS):
        return False
    device = gpu_device(r)
    return device is None or device.nvlink is not False


# vLLM 0.3.0 (PR #2566) stopped running AWQ's split-k GEMM on large batches
AWQ_DEQUANTIZE = (0, 3, 0)


def before_awq_dequantize(r: Record, engine: str) -> bool:
    """Whether the record's release predates 0.3.0: its version, or a family that does (before 0.2.6)."""
    version = release(r, 3)
    if len(version) >= 2:
        return version < AWQ_DEQUANTIZE
    return engine in ("v0-2023", "v0-2023-main")


# vLLM 0.7.1 (February 2025) brought MLA (runtimes/vllm/engine.py mla_cached): V0 logs dated before it
# cache an MLA model's K and V per head
MLA_DATE = (2025, 2)


# V0's absorbed MLA matrices (runtimes/vllm/weights.py MLA_ABSORPTION): from 0.7.1 (PR #12528, 2025-01-28)
# until 0.8.0 (PR #14770; 2025-03-18); 0.7.3 (2025-02-20) and the PR branches before it that MLA-enable
# quantized checkpoints dequantize kv_b_proj to bf16, 0.7.1-0.7.2 to float32 for FP8
ABSORPTION_RELEASES = ((0, 7, 1), (0, 8))
ABSORPTION_DATES = ((2025, 2), (2025, 3))  # logs of February and March 2025 (before 0.8.0, March 18)
FP8_BF16_COPY = (0, 7, 3)


def mla_absorption(model: Model, r: Record, engine: str) -> str | None:
    """How the record's release stores MLA's absorbed matrices: a V0 log of 0.7.1 to 0.7.3, by its version or
    its date, with MLA on; None otherwise."""
    if engine not in V0_FAMILIES or not vllm_mla(r, engine, model):
        return None
    version = release(r, 3)
    dated = _note_date(r.version_note or "")
    if len(version) >= 2:
        if not ABSORPTION_RELEASES[0] <= version < ABSORPTION_RELEASES[1]:
            return None
    elif dated is None or not ABSORPTION_DATES[0] <= dated <= ABSORPTION_DATES[1]:
        return None
    q = model.quantization
    method = r.setting("quantization") or (q.method if q else None)
    if method is None:
        return "16-bit"
    fp8 = method == "fp8" or (q is not None and loaded_as_stored(model))  # compressed-tensors FP8 too
    if fp8:
        return "fp8" if (version if len(version) >= 2 else FP8_BF16_COPY) >= FP8_BF16_COPY else "fp8-0.7.2"
    # AWQ / GPTQ: MLA (and so the absorption) only from 0.7.3 (PR #13181); 0.7.1-0.7.2 ran them without MLA
    return None if len(version) >= 2 and version < FP8_BF16_COPY else "int"


def vllm_mla(r: Record, engine: str, model: Model | None = None) -> bool:
    """Whether the record's vLLM cached MLA's latent (engine.py mla_cached: from 0.7.1, for a quantized
    checkpoint other than FP8 from 0.7.3): not for a V0 log whose version or date is older than MLA
    support; V1 came after it."""
    if engine not in V0_FAMILIES:
        return True
    version = release(r, 3)
    if len(version) >= 2:
        method = r.setting("quantization") or (checkpoint_method(model) if model is not None else None)
        return mla_cached((*version, 0)[:3], method)
    dated = _note_date(r.version_note or "")
    return dated is None or dated >= MLA_DATE


# vLLM's model runner V2 (vllm/v1/worker/gpu/model_runner.py: "Using V2 Model Runner", its lines from
# model_runner.py; V1's from gpu_model_runner.py) took no CUDA graph estimate into the profile until 0.29
# (profile_cudagraph_memory: "return 0", "TBD whether we keep this API or not", in the 0.26.0 to 0.28.0
# sdists; 0.29.0 returns _profile_cudagraph_memory(self)): 0.26.0's breakdown sums 13.99 − 0.93 − 1.06 −
# 0.07 = 11.93 GiB for the 11.94 printed, no graph term; 0.27.1 prints 0.0 GiB of it (the 0.52 GiB of a
# 0.28.0 summary is the capture, printed after the cache is sized). A log that shows neither file follows
# the release's default (runtimes/vllm/engine.py default_model_runner). V2 exists from 0.19; the V0
# engine's worker has a model_runner.py of its own.
V2_FIRST = (0, 19)


# --skip-mm-profiling (gpu_model_runner.py profile_run): the multimodal encoder is left out of the profile
MM_PROFILING_SKIPPED = "Skipping memory profiling for multimodal encoder"


def model_runner(r: Record) -> str | None:
    """The model runner the record's log shows ("v1", "v2"), else None: the release's default."""
    version = release(r, 2)
    if len(version) == 2 and version >= V2_FIRST and (
            "V2 Model Runner" in r.log or "[model_runner.py:" in r.log):
        return "v2"
    return "v1" if "gpu_model_runner.py" in r.log else None


PERFORMANCE_MODE_LINES = (re.compile(r"Performance mode set to '(\w+)'"),
                          re.compile(r"'performance_mode': '(\w+)'"))


def performance_mode(r: Record) -> str:
    """--performance-mode as the log prints it ("Performance mode set to 'interactivity'", or the
    non-default args), else vLLM's default."""
    found = next((m.group(1) for pattern in PERFORMANCE_MODE_LINES if (m := pattern.search(r.log))), None)
    return found or "balanced"


def graph_estimate(r: Record) -> bool | None:
    """Whether the record's profile took the CUDA graph estimate into the budget (runtimes/vllm/engine.py
    ``graph_estimate``): yes for a release before 0.21 whose log says it did
    (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1); else the family's and the model runner's way (None)."""
    version = release(r, 2)
    if GRAPH_PROFILING_ON in r.log and len(version) == 2 and version < GRAPH_PROFILING_DEFAULT:
        return True
    return None


# the engine's own line, or the non-default args a launch prints ("'async_scheduling': True")
ASYNC_LINES = (re.compile(r"Asynchronous scheduling is (enabled|disabled)"),
               re.compile(r"'async_scheduling': (True|False)"))


def async_scheduling(r: Record) -> bool | None:
    """The record's async scheduling as its log prints it, else the engine's default (None). Releases
    before 0.26 take one chunk in flight whatever it is (runtimes/vllm/engine.py IN_FLIGHT_RELEASE)."""
    for line in ASYNC_LINES:
        said = line.search(r.log)
        if said:
            return said.group(1) in ("enabled", "True")
    return None


def record_release(r: Record) -> Release | None:
    """The record's vLLM release (runtimes/vllm/engine.py ``Release``); where its version is not known, a
    V0 log (0.7 on) that its note dates before April 2025 is 0.7.3's (V1 became the default with 0.8.0 on
    March 18, 2025: V0_07_UNTIL); else None (the family's newest is then taken)."""
    version = release(r, 3)
    if len(version) >= 2:
        return (*version, 0)[:3]  # type: ignore[return-value]
    dated = _note_date(r.version_note or "")
    if dated is not None and V0_07_FROM <= dated < V0_07_UNTIL and vllm_engine(r) == "v0":
        return (0, 7, 3)
    return None


# 0.7.0 came on January 27, 2025: a V0 log dated February or March 2025 is 0.7.x's
V0_07_FROM, V0_07_UNTIL = (2025, 2), (2025, 4)


def effective_record_release(r: Record) -> Release:
    """The release a vLLM record follows: its own, else its engine family's newest."""
    return record_release(r) or FAMILY_LAST[vllm_engine(r)]


def prefix_caching(r: Record) -> bool | None:
    """The record's --enable-prefix-caching; unstated: its release's default (None), or off where the
    version is not known."""
    stated = r.setting("enable_prefix_caching")
    if stated is not None:
        return bool(stated)
    return None if record_release(r) is not None else False


def kv_cache_dtype(r: Record) -> DType | None:
    """The engine's --kv-cache-dtype as a DType; None for "auto" or unset (the model's dtype)."""
    kv = r.setting("kv_cache_dtype")
    return DTYPES.get(kv) if kv and kv != "auto" else None


def vllm_kv_type(model: Model, r: Record) -> DType | None:
    """vLLM's KV cache type: --kv-cache-dtype, or FP8 where the checkpoint's quantization config declares
    it (adapter.checkpoint_kv_type; for a compressed-tensors scheme the log's config line still says
    "auto")."""
    asked = r.setting("kv_cache_dtype")
    kv = checkpoint_kv_type(model, effective_record_release(r), asked)[0]
    return DTYPES.get(kv) if kv and kv != "auto" else None


CONSUMED_FORMAT = "for consumed memory (weights + non-torch)"


def record_tails(model: Model, r: Record, tp: int) -> int:
    """One rank's caching-allocator segment tails as the engine's weights figure counts them (each
    runtime's ``loaded_tails``); 0 where the record re-prices the model to another scheme (its tensors
    are not the model's)."""
    if r.model.get("weights"):
        return 0
    if r.engine == "vllm":
        return vllm_loaded_tails(model, tp)
    return sglang_loaded_tails(model, tp, platform=sglang_platform(r), build=sglang_build(r))


# A text-only checkpoint (model "text_only": its architecture the text model's, Gemma4ForCausalLM) priced
# from its multimodal model's config: the towers are not in it, as with every modality at 0
def record_mm_limits(r: Record) -> dict[str, int] | None:
    """The record's per-prompt limits: every modality 0 for a text-only checkpoint or
    --language-model-only, else --limit-mm-per-prompt as its command line gives it."""
    if r.model.get("text_only") or r.setting("language_model_only"):
        return dict(ALL_MODALITIES_OFF)
    return parse_mm_limits(r.setting("limit_mm_per_prompt"))


def vllm_built_model(model: Model, r: Record) -> Model:
    """The model as the record's vLLM built it (adapter.py ``built_model``): in the type --dtype auto
    resolves to where the record states none, K copied into the fused QKV's V slot where the values are the
    keys, and without the towers its limits leave unbuilt (a text-only checkpoint: every one)."""
    if r.setting("dtype") in (None, "auto"):  # a stated --dtype re-prices the weights (cast_scheme)
        stored = request_model_dtype(model.tensors)
        auto = vllm_auto_dtype(stored, model_type(model), gpu_device(r), effective_record_release(r))
        model = served_in(model, "vLLM", stored, auto)[0]
    model = with_speculation(model, effective_record_release(r),
                             parse_speculative_config(r.setting("speculative_config")))[0]
    model = with_fused_v_slots(model)[0]
    if r.model.get("text_only"):  # the checkpoint holds no tower, whatever the release
        return without_towers(model, {}, default=0)[0]
    limits = parse_mm_limits(r.setting("limit_mm_per_prompt")) or {}
    return towers_left_out(model, limits, bool(r.setting("language_model_only")),
                           effective_record_release(r))[0]


# the class vLLM builds for a text-only checkpoint priced from its multimodal config (Gemma4ForCausalLM for
# Gemma4ForConditionalGeneration): no wrapper, so none of the buffers a wrapper allocates
TEXT_CLASS = ("ForConditionalGeneration", "ForCausalLM")


def predict_vllm(model: Model, r: Record) -> dict[str, float]:
    cfg = model.config
    assert cfg is not None
    if r.model.get("text_only"):
        cfg = replace(cfg, architecture=cfg.architecture.replace(*TEXT_CLASS))
    model = vllm_built_model(model, r)
    spec = parse_speculative_config(r.setting("speculative_config"))
    engine = vllm_engine(r)
    pp = r.setting("pipeline_parallel_size") or 1
    weights = weights_bytes(model, r)
    tp = r.setting("tensor_parallel_size") or (r.gpus.get("count") or 1) // pp
    offload = stage_offload(model, weights, tp, int((r.setting("cpu_offload_gb") or 0) * 2**30),
                            pp_stage_layers(cfg.n_layers, pp), r.model.get("weights"))
    m = vllm_memory(
        cfg, weights, context=r.setting("max_model_len") or default_max_model_len(
            cfg, effective_record_release(r)),
        kv_type=vllm_kv_type(model, r), dtype=model_dtype(model, r),
        gpu_memory_bytes=gpu_bytes(r), gpu_memory_utilization=r.setting("gpu_memory_utilization"),
        block_size=r.setting("block_size"), max_num_batched_tokens=r.setting("max_num_batched_tokens"),
        max_num_seqs=r.setting("max_num_seqs"), cuda_graphs=not r.setting("enforce_eager"),
        tensor_parallel=tp, pipeline_parallel=pp, stage_weights=stage_weight_split(
            model, weights, pp_stage_layers(cfg.n_layers, pp)) if pp > 1 else None,
        engine=engine, chunked_prefill=chunked_prefill(r, engine),
        gpu_name=r.gpus.get("name"), nvlink=nvlink(r),
        flashinfer_sampler="Using FlashInfer for top-p & top-k sampling" in r.log,
        awq_split_k=r.setting("quantization") == "awq" and before_awq_dequantize(r, engine),
        awq_dequantize=r.setting("quantization") == "awq" and not before_awq_dequantize(r, engine),
        mla=vllm_mla(r, engine, model),
        allocator_tail_bytes=record_tails(model, r, tp),
        entrypoint=r.setting("entrypoint") or "serve",
        expert_parallel="'enable_expert_parallel': True" in r.log or "Expert parallelism is enabled" in r.log,
        offload=offload, kv_cache_memory_bytes=r.setting("kv_cache_memory_bytes"),
        prefix_caching=prefix_caching(r),
        mla_stored_bytes=None if r.model.get("weights") else mla_stored(model),
        mla_absorption=mla_absorption(model, r, engine),
        max_cudagraph_capture_size=r.setting("max_cudagraph_capture_size"),
        graph_estimate=graph_estimate(r), model_runner=model_runner(r),
        speculative_method=spec.method if spec else None, performance_mode=performance_mode(r),
        disable_hybrid_kv_cache_manager=bool(r.setting("disable_hybrid_kv_cache_manager")),
        async_scheduling=async_scheduling(r), release=record_release(r),
        device_hole_bytes=0 if r.model.get("weights") else vllm_device_holes(model, tp),
        vision=None if MM_PROFILING_SKIPPED in r.log or r.model.get("text_only") else vllm_vision_tower(
            model.config_json), mm_limits=record_mm_limits(r),
        speculative_tokens=speculative_tokens(spec), draft_layers=draft_layers(model, spec),
        drafter_replicated_bytes=drafter_replicated(model, spec))
    # the breakdown line of the releases that print "consumed memory (weights + non-torch)" (0.26 and later,
    # gpu_worker.py): its peak activation is the profile's transient headroom plus the CUDA graph estimate
    # the budget takes (``peak_activation_memory = transient_peak_headroom + cudagraph_memory_estimate_
    # applied``), so KV = requested − consumed − peak activation; the prediction compared is the same sum
    graphs_in_peak = m.cuda_graph_bytes if CONSUMED_FORMAT in re.sub(r"\s+", " ", r.log) else 0
    out: dict[str, float] = {
        "weights": m.model_bytes, "activation_peak": m.activation_bytes + graphs_in_peak,
        "torch_peak_increase": m.activation_bytes, "peak_torch_memory": m.model_bytes + m.activation_bytes,
        "non_torch_memory": m.non_torch_bytes,
        # the estimate the budget takes (the v1 family), else the graphs captured after the cache is sized
        "cuda_graph_memory": m.cuda_graph_bytes or m.captured_graph_bytes,
        # the capture a release that budgets the estimate prints after the cache ("X GiB for CUDAGraph"),
        # which the estimate stands for: the same rule (profile.py GRAPH_ESTIMATE)
        "cuda_graph_captured": graph_estimate_bytes(cfg, m.params) if m.params.cuda_graphs else 0}
    if m.stages:  # pipeline parallel: a worker's line is its stage's (device "PP<stage>")
        out |= {f"weights{AT}PP{s.stage}": s.model_bytes for s in m.stages}
        out |= {f"kv_cache_memory{AT}PP{s.stage}": s.pool.available_bytes for s in m.stages if s.pool}
    if m.pool is not None:
        out |= {"kv_cache_memory": m.pool.available_bytes, "memory_budget": m.pool.reserved_bytes,
                "gpu_blocks": m.pool.num_blocks, "kv_tokens": m.pool.tokens,
                "max_concurrency": m.pool.max_concurrency}
    if m.stages:
        out.pop("kv_cache_memory", None)
    # the block arithmetic alone, fed the memory the engine itself found (kv_cache_utils.get_num_blocks);
    # with pipeline stages, each stage's blocks from its own line and layers, the fewest taken
    # (unify_kv_cache_configs gives every stage that block count)
    layout = m.layout
    stage_layouts = {f"PP{st.stage}": st.layout for st in m.stages}
    printed = [(f.bytes, stage_layouts.get(f.device or "", layout)) for f in r.all("kv_cache_memory")
               if f.bytes is not None]
    if printed and all(b > 0 for b, _ in printed):
        blocks = min(b // lay.block_bytes for b, lay in printed)
        out |= {f"gpu_blocks{GIVEN_KV}": blocks,
                f"kv_tokens{GIVEN_KV}": KVPool(0, 0, blocks, layout, m.params.block_size,
                                               reported_len(m.params)).tokens,
                f"max_concurrency{GIVEN_KV}": blocks / layout.blocks_per_request}
    return out


# Function names and messages of llama.cpp builds of mid-2025 and earlier: llama_new_context_with_model and
# llama_kv_cache_init (renamed in 2025), the "KV self size" line (before llama_kv_cache_unified printed
# its own), the LLAMA_SET_ROWS=0 notice (the default until August 2025)
LEGACY_MARKERS = ("LLAMA_SET_ROWS=0", "llama_new_context_with_model:", "llama_kv_cache_init:", "KV self size")


# Lines of builds from before llama_kv_cache_unified printed its own size line, so before the SWA cache
# it was extended into (PR 13194, May 2025): llama_context's "KV self size" and llama_kv_cache_init
PRE_SWA_MARKERS = ("KV self size", "llama_kv_cache_init:")


OUTPUT_LINE = re.compile(r"offloading output layer to GPU")
REPEATING_LINE = re.compile(r"offloading \d+ repeating layers to GPU")


MIXED_BATCH_BUILD = 11401  # runtimes/llamacpp/params.py MIXED_BATCH_BUILDS


def llamacpp_build(r: Record) -> str:
    """The build family the log comes from (analyses/sizing/runtimes/llamacpp/params.py BUILDS): the legacy
    markers; else "late-2025" where load_tensors names the repeating layers before the output layer, or
    offloads some without it (builds before PR 18148 offloaded the output layer last), else "current" from
    b11401 (MIXED_BATCH_BUILD), "mid-2026" from b9410 (F16_MASK_BUILD) and "early-2026" before it; a log
    without a build number by the date its note gives (before June 2026: "early-2026"), else "mid-2026"."""
    if any(marker in r.log for marker in PRE_SWA_MARKERS):
        return "legacy-no-swa"
    if any(marker in r.log for marker in LEGACY_MARKERS):
        return "legacy"
    repeating, output = REPEATING_LINE.search(r.log), OUTPUT_LINE.search(r.log)
    if repeating and (output is None or repeating.start() < output.start()) and not repeating.group(
            0).startswith("offloading 0 "):
        return "late-2025"
    # the mixed-batch input path came with b11401 (October 2026); a log without a build number is taken
    # to predate it, as every log of the reference set does
    build = llamacpp_build_number(r)
    if build is None:
        dated = _note_date(r.version_note or "")
        return "early-2026" if dated is not None and dated < F16_MASK_DATE else "mid-2026"
    if build >= MIXED_BATCH_BUILD:
        return "current"
    return "mid-2026" if build >= F16_MASK_BUILD else "early-2026"


# the MoE experts a record keeps in host memory: --n-cpu-moe N (the first N layers') and -ot patterns that
# send a layer's experts to the CPU ("blk\.1[4-9]\.ffn.*=CPU"), matched as llama.cpp matches them, against
# the layer's expert tensor names
OT_ARGUMENT = re.compile(r"""(?:-ot|--override-tensor)[ =]["']?([^"'\s]+)""")
N_CPU_MOE = re.compile(r"--n-cpu-moe[ =](\d+)|-ncmoe[ =](\d+)")
ALL_CPU_MOE = re.compile(r"(?:--cpu-moe|-cmoe)\b")
# the backends that copy a host expert stack in to run its product (offload.py OP_OFFLOAD_MIN_BATCH)
EXPERT_OP_OFFLOAD = ("CUDA", "ROCm", "Vulkan", "SYCL")


def f16_kv_copies(r: Record) -> bool | None:
    """Whether the log's build keeps f16 copies of a quantized cache with CUDA's flash attention (PR 23907,
    b9489 on: params.py F16_KV_COPY_FIRST_BUILD): by its build number (ik_llama.cpp's fork rules say never,
    forks.py); None (by the build family) where the number is not printed."""
    number = llamacpp_build_number(r)
    return None if number is None else number >= F16_KV_COPY_FIRST_BUILD


def ik_llama(r: Record) -> bool:
    """A log of ik_llama.cpp, the fork (its version as the record states it, or its build line)."""
    return "ik_llama" in (r.engine_version or "") or "ik_llama" in (r.version_note or "") or bool(
        IK_BUILD_LINE.search(r.log))


IK_BUILD_LINE = re.compile(r"build=\d+ commit=")


def llamacpp_fork(r: Record) -> str:
    """The fork whose rules the log follows (runtimes/llamacpp/forks.py FORKS): every ik_llama.cpp log of
    the set is of a 2025 build (3671 to 3933), the fork's "ik-2025"."""
    return "ik-2025" if ik_llama(r) else "mainline"


def record_cpu_expert_layers(r: Record, n_layers: int) -> frozenset[int]:
    """The layers whose experts the record's command keeps in host memory: --cpu-moe (all), --n-cpu-moe N
    (the first N), and -ot lists of PATTERN=BUFFER read as llama.cpp reads them (comma-separated, in
    order, the first pattern matching a tensor's name decides)."""
    if ALL_CPU_MOE.search(r.log):
        return frozenset(range(n_layers))
    found = N_CPU_MOE.search(r.log)
    layers = set(range(int(found.group(1) or found.group(2)))) if found else set()
    rules: list[tuple[re.Pattern[str], str]] = []
    for argument in OT_ARGUMENT.findall(r.log):
        for item in argument.split(","):
            pattern, _, buffer = item.rpartition("=")
            try:
                rules.append((re.compile(pattern), buffer))
            except re.error:
                continue
    for il in range(n_layers):
        for name in (f"blk.{il}.ffn_{p}_exps.weight" for p in ("gate", "up", "down")):
            first = next((buffer for rx, buffer in rules if rx.search(name)), None)
            if first is not None and first.upper().startswith("CPU"):
                layers.add(il)
    return frozenset(layers)


# llama.cpp's backends whose offload_op asks for no host-weight op (their device names' prefixes)
NO_OP_OFFLOAD = ("Metal", "MTL", "OpenCL", "GPUOpenCL")


# A GPU backend initialised (it takes the graph's big batches even where the weights stay on the CPU)
GPU_BACKEND_MARKERS = ("ggml_cuda_init", "ggml_metal_init", "ggml_vulkan", "ggml_metal_device_init")


def llamacpp_backend(r: Record) -> str:
    """'gpu' where a GPU backend takes part in the graph (llamacpp.compute_buffer), else 'cpu'."""
    devices = [f.device for f in (*r.all("compute_buffer"), *r.all("breakdown_compute"),
                                  *r.all("kv_buffer")) if f.device]
    on_gpu = any(not is_host(d) for d in devices)
    return "gpu" if on_gpu or any(marker in r.log for marker in GPU_BACKEND_MARKERS) else "cpu"


# llama.cpp's context line for --flash-attn auto (the default since PR 15434): what it resolves to is the
# rule of runtimes/llamacpp/flash_attention.py on the backend below, not the log's own verdict ("Flash
# Attention was auto, set to enabled / disabled"), which tests/test_llamacpp_flash_attention.py checks the
# rule against
FLASH_ATTN_AUTO = re.compile(r"\bflash_attn\s*=\s*auto\b")
# the backend that runs a layer's attention, by the device names of its buffers (HIP builds name ROCm)
ATTENTION_BACKENDS = (("CUDA", "cuda"), ("ROCm", "rocm"), ("Vulkan", "vulkan"), ("MTL", "metal"),
                      ("Metal", "metal"), ("SYCL", "sycl"))


def attention_backend(r: Record) -> str | None:
    """flash_attention.py's name for the backend running the attention layers: "cpu" with no layer on a
    GPU, None for a GPU backend it has no table for (OpenCL)."""
    if llamacpp_backend(r) == "cpu" or not repeating_layers_on_gpu(r.setting("n_gpu_layers"),
                                                                   llamacpp_build(r)):
        return "cpu"
    devices = {f.device for f in (*r.all("kv_buffer"), *r.all("compute_buffer"), *r.all("model_buffer"))
               if f.device and not is_host(f.device)}
    if not devices:  # figures recorded without their device: the buffer lines name it (SYCL0, CUDA0)
        devices = set(GPU_DEVICE_NAME.findall(r.log))
    for prefix, backend in ATTENTION_BACKENDS:
        if any(d.startswith(prefix) for d in devices):
            return backend
    return None


GPU_DEVICE_NAME = re.compile(r"\b((?:CUDA|ROCm|Vulkan|MTL|SYCL)\d+)\b")


# llama.cpp's print_info of a DeepSeek-V2/V3 GGUF converted before PR 12801 (no attention.key_length_mla):
# the model then runs as multi-head attention and caches every head's K and V (runtimes/llamacpp/
# caches_mla_latent). A record whose model is a config or catalogue name (converted today: MLA) takes the
# GGUF's shape from this line
PRE_MLA_GGUF = re.compile(r"n_embd_head_k_mla\s*=\s*0\b")
# builds before PR 12801 print no n_embd_head_k_mla line at all; their print_info shows the GGUF's KV heads,
# every query head's for a pre-MLA GGUF (DeepSeek V3: n_head_kv = 128), one latent head for an MLA one
PRINTED_HEADS = re.compile(r"\bn_head\s*=\s*(\d+)")
# a build the record's version note dates before PR 12801 (April 2025) caches every head's K and V whatever
# the GGUF holds: it has no MLA cache at all (an excerpt may print neither line above)
PRE_MLA_BUILD_NOTE = "before the MLA cache of PR 12801"
PRINTED_KV_HEADS = re.compile(r"\bn_head_kv\s*=\s*(\d+)")
# a pre-MLA GGUF's K head is the query's (DeepSeek-V2-Lite: 192 = 128 + 64), an MLA GGUF's the latent with
# its RoPE part (512 + 64 = 576); current builds print n_embd_head_k_mla as n_embd_head_k where the GGUF has
# no key_length_mla (llama-hparams.cpp n_embd_head_k_mla's fallback), so that line says nothing alone. The
# test is positive (the query's width, not the latent's), so that an MLA variant with another cached width
# is not read as pre-MLA
PRINTED_HEAD_K = re.compile(r"\bn_embd_head_k\s*=\s*(\d+)")


def llamacpp_config(model: Model, r: Record) -> ArchConfig:
    """The model's architecture as the record's GGUF describes it: a pre-MLA GGUF where the log says so
    (PRE_MLA_GGUF, or an MLA model whose printed KV heads are its query heads, or whose printed K head is
    the query's width) or the build predates MLA (PRE_MLA_BUILD_NOTE)."""
    cfg = model.config
    assert cfg is not None
    heads, kv_heads = PRINTED_HEADS.search(r.log), PRINTED_KV_HEADS.search(r.log)
    head_k = PRINTED_HEAD_K.search(r.log)
    per_head = cfg.is_mla and (
        (heads is not None and kv_heads is not None and int(heads.group(1)) == int(kv_heads.group(1)) > 1)
        or (head_k is not None and int(head_k.group(1)) == cfg.head_dim_k
            != cfg.kv_lora_rank + cfg.rope_head_dim))
    old_build = PRE_MLA_BUILD_NOTE in (r.version_note or "")
    if PRE_MLA_GGUF.search(r.log) or per_head or old_build:
        return as_pre_mla_gguf(cfg)
    build = llamacpp_build_number(r)  # "build: 0 (unknown)" is no build number
    return with_mla_v_cache(cfg) if build and build < V_LESS_MLA_BUILD else cfg


# llama.cpp's V-less MLA cache (PR #19067, merged 2026-01-24): its first build is not known here; b7800 is
# taken from the dated builds (b7217 on 2025-12-01, b7445 in December 2025: some ten a day)
V_LESS_MLA_BUILD = 7800


N_OUTPUTS_MAX_LINE = re.compile(r"n_outputs_max\s*=\s*(\d+)")


SLOTS_LINE = re.compile(r"n_slots\s*=\s*(\d+)")
BUILD_NUMBER = re.compile(r"\b(?:build[:= ]*|b)(\d{4,5})\b")
# llama.cpp PR 23764, the f16 mask under flash attention (params.py F32_MASK_BUILDS): b9410, commit 031ddb2e0
# of May 29, 2026 (Homebrew's llama.cpp formula pins that tag to that commit). A log known only by its month:
# from June 2026 "mid-2026", since nearly all of May predates the PR (b9026 and b9140 hold the f32 mask)
F16_MASK_BUILD, F16_MASK_DATE = 9410, (2026, 6)
# the first llama.cpp build whose llama-server is seen capping the reserved logits (PR 23861 came in June
# 2026; b9140 of May still reserves n_ubatch rows, b9849's Vulkan logs one per slot)
OUTPUTS_CAP_BUILD, OUTPUTS_CAP_DATE = 9849, (2026, 6)


# llama.cpp's own line at start-up: "build: 6527 (abc1234) with ..." (main, llama-cli, llama-server)
BUILD_LINE = re.compile(r"^\W*build\s*[:=]\s*(\d{4,5})\b", re.M)


def llamacpp_build_number(r: Record) -> int | None:
    """The record's llama.cpp build: its stated engine version, else the log's own "build:" line, else the
    largest "bNNNN" the excerpt names (a quoted unrelated build could mislead only this last step)."""
    for text, pattern in ((r.engine_version, BUILD_NUMBER), (r.log, BUILD_LINE), (r.log, BUILD_NUMBER)):
        found = [int(b) for b in pattern.findall(text)]
        if found:
            return found[0] if pattern is BUILD_LINE else max(found)
    return None


def n_outputs_max(r: Record) -> int:
    """The context's cap on reserved rows of logits (llama.cpp PR 23861): as its log prints it; else, for a
    llama-server log of a build that caps them (OUTPUTS_CAP_BUILD, or a note dated from June 2026) whose
    excerpt leaves the line out, its slots (llama-server sets n_outputs_max = n_parallel); else 0."""
    found = N_OUTPUTS_MAX_LINE.search(r.log)
    if found:
        return int(found.group(1))
    if "llama-server" not in r.log and "srv " not in r.log:
        return 0
    build = llamacpp_build_number(r)
    dated = _note_date(r.version_note or "")
    capped = (build >= OUTPUTS_CAP_BUILD if build is not None
              else dated is not None and dated >= OUTPUTS_CAP_DATE)
    if not capped:
        return 0
    slots = SLOTS_LINE.search(r.log)
    return int(slots.group(1)) if slots else (r.setting("n_seq_max") or 1)


POOLING_FLAG = re.compile(r"--pooling[=\s]+(\w+)")


def llamacpp_pooled(r: Record) -> bool | None:
    """Whether the command line asks for pooled embeddings (--pooling mean, cls, last, rank; "none": not);
    None where it does not say (the model's own pooling decides)."""
    found = POOLING_FLAG.search(r.log)
    return None if found is None else found.group(1) != "none"


def predict_llamacpp(model: Model, r: Record) -> dict[str, float]:
    cfg = llamacpp_config(model, r)
    type_k = DTYPES.get(r.setting("type_k") or "f16", DType.F16)
    type_v = DTYPES.get(r.setting("type_v") or "f16", DType.F16)
    n_seq = r.setting("n_seq_max") or 1
    weights = weights_bytes(model, r)
    flash_attn, fa_backend = r.setting("flash_attn"), attention_backend(r)
    if (FLASH_ATTN_AUTO.search(r.log) or flash_attn == "auto") and fa_backend is not None:
        flash_attn = None  # "auto", resolved by the rule
    elif flash_attn == "auto":  # a backend without a table here (OpenCL): llama.cpp's common case, on
        flash_attn = True
    m = llamacpp_memory(
        cfg, weights, n_ctx=r.setting("n_ctx") or 0, n_seq=n_seq,
        n_ubatch=r.setting("n_ubatch") or 512, n_batch=r.setting("n_batch") or 2048,
        swa_full=bool(r.setting("swa_full")), kv_unified=bool(r.setting("kv_unified")), type_k=type_k,
        type_v=type_v, flash_attn=flash_attn, embeddings=bool(r.setting("embeddings")),
        pooled=llamacpp_pooled(r), build=(build := llamacpp_build(r)),
        backend=llamacpp_backend(r), n_outputs_max=n_outputs_max(r), fa_backend=fa_backend or "cpu",
        f16_kv_copies=f16_kv_copies(r), fork=(fork := llamacpp_fork(r)), server="llama-server" in r.log)
    full, swa = m.kv.part("full"), m.kv.part("sliding")
    split_swa = bool(r.all("swa_kv_buffer") or r.all("swa_cells"))
    # a hybrid's recurrent state (LFM2's short convolutions, Mamba layers) is llama_memory_recurrent's own
    # buffer and size line ("RS buffer size", "R (f32) ... S (f32)"), beside the attention layers'
    # llama_kv_cache, whose lines the KV figures are (llama_memory_hybrid holds one of each)
    attention = KVCache(tuple(p for p in m.kv.parts if p.kind in ATTENTION_KINDS), m.kv.explain)
    main = full if split_swa and full else attention
    # the printed n_ctx_per_seq: builds of mid-2025 and earlier printed n_ctx / n_seq_max whatever the one
    # unified cache held (llama-context.cpp, then), later ones the cells of a sequence's stream
    per_seq = m.params.n_ctx // m.params.n_seq if m.params.legacy else m.params.n_ctx_seq
    out: dict[str, float] = {
        "kv_size": main.total_bytes, "k_size": main.k_bytes, "v_size": main.v_bytes,
        "kv_cells": m.params.n_ctx_seq, "n_ctx_seq": per_seq}
    if r.setting("n_seq_max") is not None:  # one row of logits per sequence: not comparable unless shown
        out["output_buffer"] = m.output_bytes
    if len(r.all("kv_buffer")) == 1:
        out["kv_buffer"] = main.total_bytes
    gpu_kv = [f for f in r.all("kv_buffer") if f.device and not is_host(f.device)]
    if len(gpu_kv) > 1 and len(gpu_kv) == r.gpus.get("count") and identical_gpus(r) and not split_swa:
        # several identical GPUs: llama.cpp's default split is by free memory, equal shares here
        # (runtimes/llamacpp/devices.py layer_devices); each GPU's KV buffer holds its layers' cache
        shares = parse_tensor_split(r.setting("tensor_split") or "")
        # a DSA model's indexer keys are a cache of their own, whose per-device lines come after the
        # main cache's (llama_kv_cache_dsa "creating indexer KV cache"): the figures are the main cache's
        main = replace(m.kv, parts=tuple(part for part in m.kv.parts if part.kind != INDEXER))
        d = device_split(model, cfg, weights, main, len(gpu_kv), r.setting("n_gpu_layers"), shares,
                         r.setting("split_mode") or "layer", build)
        for i, f in enumerate(sorted(gpu_kv, key=lambda f: f.device or "")):
            out[f"kv_buffer{AT}{f.device}"] = d.kv[i]
    if swa is not None:
        out |= {"swa_cells": m.params.swa_cells, "swa_kv_buffer": swa.total_bytes}
    offloaded = r.first("layers_offloaded")
    whole = offloaded is None or offloaded.value.split("/")[0] == offloaded.value.split("/")[1]
    if whole and len(r.all("compute_buffer")) == 1:
        out["compute_buffer"] = m.compute_bytes
    elif whole:  # a GPU's buffer beside the host's (the host one holds the inputs and copies; not modelled)
        gpus = [f.device for f in r.all("compute_buffer") if not is_host(f.device)]
        if len(gpus) == 1:
            out[f"compute_buffer{AT}{gpus[0]}"] = m.compute_bytes
            experts = record_cpu_expert_layers(r, cfg.n_layers)
            # experts in host memory: mainline's CUDA and ROCm copy one stack in for a batch's product
            # (ik_llama.cpp runs them on the CPU, forks.py: its figure not compared, the host's share of
            # its graph not modelled)
            if experts and FORKS[fork].expert_op_offload:
                split = offload(model, cfg, weights, m.kv, r.setting("n_gpu_layers"), r.model.get("weights"),
                                build, experts)
                out[f"compute_buffer{AT}{gpus[0]}"] = gpu_compute_with_host_experts(
                    m.compute, split, r.setting("n_ubatch") or 512,
                    offloads_ops=gpus[0].startswith(EXPERT_OP_OFFLOAD))[0]
    if not whole and r.setting("n_gpu_layers") is not None:
        split = offload(model, cfg, weights, m.kv, r.setting("n_gpu_layers"), r.model.get("weights"), build)
        host = next((f.device for f in r.all("kv_buffer") if f.device and is_host(f.device)), None)
        if r.setting("no_kv_offload"):  # -nkvo (offload_kqv = false): every layer's cache on the host
            split = replace(split, host_kv_bytes=m.kv_cache_bytes, host_state_bytes=sum(
                part.total_bytes for part in m.kv.parts if part.kind == "linear"))
        if host:  # the attention layers' buffer: a recurrent state has its own line (see above)
            out[f"kv_buffer{AT}{host}"] = split.host_kv_bytes - split.host_state_bytes
        gpu = next((f.device for f in r.all("compute_buffer") if not is_host(f.device)), None)
        # with -nkvo the attention runs on the host backend, and the GPU's graph holds the rest: not modelled
        if gpu and not split.output_on_gpu and not r.setting("no_kv_offload"):
            # the output layer stays on the host: the GPU runs its product anyway where its backend
            # offloads ops (runtimes/llamacpp/offload.py gpu_compute_with_host_output), else its graph stops
            # before the logits
            out[f"compute_buffer{AT}{gpu}"] = gpu_compute_with_host_output(
                m.compute, split, r.setting("n_ubatch") or 512, offloads_ops=not gpu.startswith(
                    NO_OP_OFFLOAD))[0]
    if whole:
        # llama-server's memory breakdown (MiB) of the first device: context = the KV cache only
        # (llama-context.cpp, llama_context::memory_breakdown: ret[buft].context sums
        # memory->memory_breakdown(), the cache's own buffers; the output buffer is in no column). Gemma 3
        # 1B on Metal: 150 MiB printed, the KV cache's 150, where KV + the 1 MiB output buffer gave 151
        out |= {"breakdown_context": m.kv_cache_bytes, "breakdown_compute": m.compute_bytes}
    if r.model.get("weights"):
        # tied embeddings with the output layer offloaded: the GPU holds a copy of the embedding the host
        # keeps for the lookup (llamacpp/offload.py Offload.duplicate_bytes), in a buffer of its own; a
        # mapped GPU buffer (Metal's) spans the file from its first tensor to its last
        # (llama_model_loader::get_mapping_range), the embedding at the file's start included, while the
        # CPU_Mapped buffer maps the embedding again: the printed sum counts it twice either way (Qwen2.5-3B
        # on an M4: 1834.82 + 243.43 MiB, r47l-radar-*)
        copied = [f for f in r.all("model_buffer") if f.device and not f.device.startswith("CPU")
                  and not is_host(f.device)]
        duplicate = offload(model, cfg, weights, m.kv, r.setting("n_gpu_layers"), r.model.get("weights"),
                            build).duplicate_bytes if copied else 0
        out["model_buffer"] = m.tensor_bytes + duplicate + record_repack(model, r)
    return out


# the CPU features llama.cpp's system_info line prints, first match: the instruction set whose repack rules
# apply (an ARM CPU with dotprod but no i8mm is read as i8mm; NEON alone, a Raspberry Pi 4, repacks
# nothing; an x86 CPU without AVX2 neither)
ISA_MARKERS = (("MATMUL_INT8 = 1", "arm-i8mm"), ("DOTPROD = 1", "arm-i8mm"), ("NEON = 1", "none"),
               ("AVX512 = 1", "x86-avx512"), ("AVX2 = 1", "x86-avx2"), ("system_info:", "none"))


# the repacked copy's buffer: CPU_REPACK, named CPU_AARCH64 by builds before the repack rename (2025: b4589
# and b4963's logs, r17l-*-aarch64repack-*, r36l-*-graviton4-*)
REPACK_BUFFERS = frozenset({"CPU_REPACK", "CPU_AARCH64"})
AARCH64_NAME_UNTIL = 6200  # b6209's log (r18l-*) names CPU_REPACK


def record_repack(model: Model, r: Record) -> int:
    """The CPU_REPACK copy a CPU-run record prints beside its mapped model buffer (memory.cpu_repack_bytes):
    the re-priced tensors, the instruction set its system_info names (ISA_MARKERS; x86 AVX2 without the
    line), the types its build repacks. Without mmap the CPU buffer holds the rest of the tensors, so the
    two add up to them: 0."""
    devices = {f.device for f in r.all("model_buffer")}
    repacked = devices & REPACK_BUFFERS
    if not repacked or "CPU_Mapped" not in devices or any(not d.startswith("CPU") for d in devices if d):
        return 0  # without mmap, or with layers on a GPU (the host's share is not priced): not compared
    isa = next((name for marker, name in ISA_MARKERS if marker in r.log), "x86-avx2")
    build = llamacpp_build_number(r)
    if "CPU_AARCH64" in repacked:  # a build before the rename, long before ARM repacked K-quants
        build = min(build or AARCH64_NAME_UNTIL, AARCH64_NAME_UNTIL)
    kinds = {d.value: d for d in DType}
    priced = reprice(model, r.model["weights"]).rows
    tensors = [Tensor(p.name, p.shape, kinds[p.type], p.bytes) for p in priced if p.type in kinds]
    return cpu_repack_bytes(tensors, isa, build)


def identical_gpus(r: Record) -> bool:
    """Whether the record names one kind of GPU for all of its count (not "A + B", not "two GPUs (...)")."""
    name = (r.gpus.get("name") or "").lower()
    return bool(name) and "+" not in name and "," not in name and not name.startswith(
        ("two ", "three ", "four ", "five "))


# the attention backend SGLang's server_args print names
SGLANG_BACKEND = re.compile(r"\battention_backend='(\w+)'|Use (\w+) backend by default")


# SGLang's "Load weight end" line (model_runner.py load_model): the free memory after loading and what the
# load took, GiB printed as GB ("avail mem=7.37 GB, mem usage=15.02 GB"); the first rank's line is taken,
# also where a page quoting it wraps it once (r18s-gemma4-e4b-it-gb10-dgx-spark-32k-dev)
SGLANG_LOAD_END = re.compile(r"Load weight end\.[^\n]*?\n?[^\n]*?"
                             r"avail mem=([\d.]+) GB, mem usage=([\d.]+) GB")


def sglang_loaded_free(r: Record) -> tuple[int, int] | None:
    """(free before loading, free after) as the record's log prints them, in bytes: after = avail mem,
    before = avail mem + mem usage (the free memory SGLang sizes the pool by, ``total_gpu_memory``)."""
    found = SGLANG_LOAD_END.search(r.log)
    if found is None:
        return None
    after, usage = (float(x) for x in found.groups())
    return round((after + usage) * 2**30), round(after * 2**30)


def sglang_option(r: Record, name: str) -> object:
    """A hybrid-pool setting as the record gives it, else as the log's server_args line prints it
    (``swa_full_tokens_ratio=0.8, disable_hybrid_swa_memory=False``), else None (SGLang's default)."""
    stated = r.setting(name)
    if stated is not None:
        return stated
    found = re.search(rf"\b{name}=([\w.]+)", r.log)
    if found is None or found.group(1) == "None":
        return None
    value = found.group(1)
    if value in ("True", "False"):
        return value == "True"
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


# server_args.py raising the page size for a backend that needs one ("TensorRT-LLM MHA only supports
# page_size of 16, 32 or 64, changing page_size from None to 64")
PAGE_SIZE_CHANGED = re.compile(r"changing page_size from \w+ to (\d+)")


# SGLang releases where a build family begins (runtimes/sglang.py SGLANG_BUILDS): 0.5.10 the piecewise CUDA
# graph reserve, 0.5.3 _handle_gpu_memory_settings. Older records state their build where it matters (the
# earlier families' boundaries, 0.4.7.post1 for mid-2025, are not applied by version: an audit of the
# sdists found their RoPE and fraction rules split further than the families do, docs/runtimes.md 5)
SGLANG_BUILD_SINCE = (((0, 5, 10), "current"), ((0, 5, 3), "late-2025"))


def sglang_build(r: Record) -> str:
    """The record's SGLang build family: stated, else by its version from 0.5.3 (SGLANG_BUILD_SINCE), else
    the current one."""
    stated = r.setting("build")
    if stated:
        return str(stated)
    version = release(r, 3)
    found = [build for since, build in SGLANG_BUILD_SINCE if len(version) == 3 and version >= since]
    return found[0] if found else "current"


def sglang_page_size(r: Record) -> int:
    """The pool's page size: as a backend changed it, else as server_args prints it, else 1."""
    changed = PAGE_SIZE_CHANGED.search(r.log)
    if changed:
        return int(changed.group(1))
    given = sglang_option(r, "page_size")
    return given if isinstance(given, int) and given > 0 else 1


# an SGLang log of ROCm: its attention backend, the GPUs' name, or the platform named
ROCM_MARKERS = re.compile(r"\baiter\b|\bROCm\b|\bHIP\b|AMD Instinct|\bMI3\d\dX?\b", re.I)


def sglang_on_rocm(r: Record) -> bool:
    return bool(ROCM_MARKERS.search(f"{r.gpus.get('name') or ''} {r.log}"))


def sglang_platform(r: Record) -> str:
    """The platform (runtimes/common.py gpu_platform) an SGLang log ran on: ROCm by its markers, else CUDA."""
    return "rocm" if sglang_on_rocm(r) else "cuda"


def predict_sglang(model: Model, r: Record) -> dict[str, float]:
    if r.setting("dtype") in (None, "auto"):  # as runtimes/sglang.py built_model
        stored = request_model_dtype(model.tensors)
        model = served_in(model, "SGLang", stored, sglang_auto_dtype(stored, model_type(model)))[0]
    model = with_fused_v_slots(model)[0]  # SGLang's fused QKV, as vLLM's (vllm_built_model)
    cfg = model.config
    assert cfg is not None
    tp = r.setting("tp_size") or r.gpus.get("count") or 1
    ratio, disable = sglang_option(r, "swa_full_tokens_ratio"), sglang_option(r, "disable_hybrid_swa_memory")
    mamba_ratio = sglang_option(r, "mamba_full_memory_ratio")
    mamba_size = sglang_option(r, "max_mamba_cache_size")
    cap = sglang_option(r, "max_total_tokens")
    m = sglang_memory(
        cfg, weights_bytes(model, r), context=r.setting("context_length") or cfg.context_length,
        kv_type=kv_cache_dtype(r), dtype=model_dtype(model, r),
        gpu_memory_bytes=gpu_bytes(r), mem_fraction_static=r.setting("mem_fraction_static"),
        tensor_parallel=tp, nvlink=nvlink(r), allocator_tail_bytes=record_tails(model, r, tp),
        swa_full_tokens_ratio=float(ratio) if isinstance(ratio, int | float) else None,
        disable_hybrid_swa_memory=disable if isinstance(disable, bool) else None,
        mamba_full_memory_ratio=float(mamba_ratio) if isinstance(mamba_ratio, int | float) else None,
        max_mamba_cache_size=mamba_size if isinstance(mamba_size, int) else None,
        build=sglang_build(r), vision=vision_tower(model),
        attention_backend=(found.group(1) or found.group(2) if (found := SGLANG_BACKEND.search(r.log))
                           else default_attention_backend(gpu_device(r), cfg, tp)),
        mla_stored_bytes=None if r.model.get("weights") else mla_stored(model),
        max_total_tokens=cap if isinstance(cap, int) else None,
        platform=sglang_platform(r),
        piecewise_cuda_graph=False if sglang_option(r, "disable_piecewise_cuda_graph") else None)
    m = replace(m, page_size=sglang_page_size(r))
    out: dict[str, float] = {"weights": m.model_bytes}
    if m.tokens is not None:
        out |= {"kv_tokens": m.tokens, "k_size": m.k_bytes or 0, "v_size": m.v_bytes or 0}
    printed_tokens = [f.number for f in r.all("kv_tokens") if f.number]
    if printed_tokens:
        # the cell arithmetic alone, fed the pool's size as printed: K and V bytes a token over the layers
        # (whatever the GPU, which a log may not name)
        n = int(printed_tokens[0])
        out |= {f"k_size{GIVEN_TOKENS}": m.k_bytes_for(n), f"v_size{GIVEN_TOKENS}": m.v_bytes_for(n)}
    loaded = sglang_loaded_free(r)
    if loaded is not None and r.setting("mem_fraction_static") is not None:
        # the pool rule alone, fed the free memory the engine printed (profile_max_num_token: rest =
        # after − (after + usage) × (1 − mem_fraction_static), tokens = rest // cell, then the hybrid split)
        given = given_free_memory(m, *loaded)
        if given.tokens is not None:
            out |= {f"kv_tokens{GIVEN_KV}": given.tokens, f"k_size{GIVEN_KV}": given.k_bytes or 0,
                    f"v_size{GIVEN_KV}": given.v_bytes or 0}
    return out


GIVEN_KV = " (given the printed KV memory)"
GIVEN_TOKENS = " (given the printed tokens)"
AT = "@"  # figure@device: the figure printed for that device
# llama.cpp's host buffers: the CPU's, a GPU backend's pinned host memory ("<backend>_Host": CUDA_Host,
# ROCm_Host, Vulkan_Host, Metal_Host, SYCL_Host, ...) and the memory breakdown's "Host" row
HOST_DEVICES = ("CPU", "Host", "CUDA_Host", "ROCm_Host", "Vulkan_Host", "Metal_Host", "SYCL_Host")


def is_host(device: str | None) -> bool:
    """Whether llama.cpp's buffer of that device name is in host memory (HOST_DEVICES, any "*_Host")."""
    return device is not None and (device in HOST_DEVICES or device.endswith("_Host"))
PREDICTORS: dict[str, Callable[[Model, Record], dict[str, float]]] = {
    "vllm": predict_vllm, "llamacpp": predict_llamacpp, "sglang": predict_sglang}


def compare(r: Record) -> tuple[list[Row], str | None]:
    """The rows for one record, or the reason there are none."""
    predictor = PREDICTORS.get(r.engine)
    if predictor is None:
        return [], f"paramscope has no {r.engine} profile"
    try:
        model = open_record_model(r)
    except ParamscopeError as e:
        return [], f"paramscope refuses: {e}"
    if model is None:
        return [], "model config not available offline"
    if r.engine == "vllm" and not (r.setting("tensor_parallel_size") or r.gpus.get("count")):
        return [], "tensor parallel size not known"
    if r.engine == "llamacpp" and r.setting("n_ctx") is None:
        return [], "n_ctx not shown (every buffer depends on it)"
    try:
        predicted = predictor(model, r)
    except ParamscopeError as e:
        return [], f"paramscope refuses: {e}"
    rows = []
    for key in predicted:
        name, _, device = key.removesuffix(GIVEN_KV).removesuffix(GIVEN_TOKENS).partition(AT)
        figures = [f for f in r.all(name) if not device or f.device == device]
        if not figures:
            continue
        printed = sum(f.bytes if f.bytes is not None else f.number for f in figures) if name in (
            "model_buffer",) else (figures[0].bytes if figures[0].bytes is not None else figures[0].number)
        f = figures[0]
        scale = engine_logs.UNIT_BYTES.get(f.unit, 1)
        # half the last printed digit, plus the byte Figure.bytes rounds the printed value to (2.375 MiB,
        # printed 2.38, is 2.38 MiB less 5,243 B, and half a digit is 5,242.88 B)
        slack = f.precision * scale + (1 if scale > 1 else 0)
        floor_step = scale if name in engine_logs.FLOORED_FIGURES else 0.0
        centre = printed + floor_step / 2
        resolution = (floor_step / 2 + 1 if floor_step else slack) / abs(centre) \
            if centre and name != "model_buffer" else 0.0
        rows.append(Row(r.id, r.engine, key, f.device, printed, predicted[key], f.unit, resolution,
                        floor_step))
    return rows, None if rows else "no printed figure paramscope predicts"
