"""Flash attention "auto" (llama.cpp's default since PR 15434, August 2025): on where the backend that runs
each layer has a kernel for that layer's attention, else off for the whole context.

llama_context::resolve_fused_ops (llama-context.cpp) reserves a one-token graph with flash attention and
asks the scheduler where each layer's GGML_OP_FLASH_ATTN_EXT landed: where a GPU backend's supports_op
refuses it, the op falls back to the CPU, the layer's device and the op's differ, and the context logs
"layer N is assigned to device CUDA0 but Flash Attention is assigned to device CPU (usually due to
missing support)" and "Flash Attention not supported, set to disabled" (older builds: "Flash Attention was
auto, set to disabled"). The KV cache was made before that check, with flash attention still on, so its V
stays untransposed (llama-model.cpp create_memory: ``attn_v_trans = !cparams.flash_attn``), and the graph
without flash attention copies each layer's V transposed (llama-graph.cpp build_attn_mha: ``v_cont``).

``KERNELS`` is each GPU backend's supports_op for the op, read in llama.cpp b11549 (ggml-cuda/fattn.cu
ggml_cuda_get_best_fattn_kernel, which HIP builds share; ggml-metal/ggml-metal-device.m; ggml-vulkan.cpp;
ggml-sycl/fattn.cpp ggml_sycl_get_best_fattn_kernel). The CPU backend runs every shape. Where a backend
gained a shape or the op itself after August 2025, ``since`` names the build and the build family it
falls in (the families are params.py BUILDS).
"""

from __future__ import annotations

from collections.abc import Mapping

from paramscope.analyses.sizing.kv_cache import head_dims_per_layer, kv_heads_per_layer
from paramscope.analyses.sizing.runtimes.llamacpp.kv import cache_head_dims, encoder_only
from paramscope.analyses.sizing.runtimes.llamacpp.params import BUILDS
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import record

F16_FAMILY = frozenset({DType.F32, DType.F16, DType.BF16})
LEGACY_QUANTS = frozenset({DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.Q8_0})


@record
class Since:
    """A llama.cpp change after flash attention "auto" (August 2025): what brought it, and the build family
    (params.py BUILDS) it falls in."""

    what: str
    family: str


@record
class Shape:
    """One (K head, V head) pair a backend has kernels for, and the grouped-query ratio those kernels
    need: at least ``min_gqa`` query heads per KV head, a multiple of ``gqa_multiple``."""

    k: int
    v: int
    min_gqa: int = 1
    gqa_multiple: int = 1
    since: Since | None = None  # where the shape came after "auto" did

    def takes(self, gqa: int) -> bool:
        return gqa >= self.min_gqa and gqa % self.gqa_multiple == 0


@record
class FlashAttnKernels:
    """One GPU backend's GGML_OP_FLASH_ATTN_EXT support (its supports_op, b11549)."""

    backend: str
    shapes: tuple[Shape, ...]  # the K/V head pairs it takes; empty: any pair of multiples of ``multiple``
    cache_types: frozenset[DType]  # the K and V cache types it reads
    same_type: bool = False  # K and V must share one type
    multiple: int = 0  # with no ``shapes``: K and V heads must each be a multiple of this
    since: Since | None = None  # where the op itself came after "auto" did
    source: str = ""

    def shape(self, k: int, v: int) -> Shape | None:
        if not self.shapes:
            fits = self.multiple and k % self.multiple == 0 and v % self.multiple == 0
            return Shape(k, v) if fits else None
        return next((s for s in self.shapes if (s.k, s.v) == (k, v)), None)


def _same(*heads: int) -> tuple[Shape, ...]:
    return tuple(Shape(h, h) for h in heads)


_PR20998 = Since("PR 20998 (b8609, April 2026)", "early-2026")


# ggml_cuda_get_best_fattn_kernel: "gqa_opt_applies" (gqa ≥ 2 with a mask, no ALiBi, the cache padded to
# 256) is what 192/128, 320/256, 512 and 576/512 need; 512 came with llama.cpp PR 20998 (b8609, April 2026,
# for Gemma 4's full-attention layers: "When FA is enabled, these ops silently fall back to CPU" before it)
_CUDA = FlashAttnKernels(
    "cuda",
    (*_same(40, 64, 72, 80, 96, 112, 128, 256),
     Shape(192, 128, 8, 8), Shape(320, 256, 32, 32), Shape(512, 512, 2, since=_PR20998),
     Shape(576, 512, 2)),
    F16_FAMILY | LEGACY_QUANTS, source="ggml-cuda/fattn.cu ggml_cuda_get_best_fattn_kernel")
# ggml_metal_device_supports_op: these K heads, K = V or the listed K > V pairs, one type for both (when
# Metal gained 48 and 512 is not pinned here: taken as in every build family with "auto")
_METAL = FlashAttnKernels(
    "metal",
    (*_same(32, 40, 48, 64, 72, 80, 96, 112, 128, 192, 256, 320, 512, 576),
     Shape(96, 64), Shape(128, 96), Shape(192, 128), Shape(320, 256), Shape(576, 512)),
    F16_FAMILY | LEGACY_QUANTS, same_type=True,
    source="ggml-metal/ggml-metal-device.m ggml_metal_device_supports_op")
# ggml_backend_vk_device_supports_op: any head that is a multiple of 8 (on a device with subgroup shuffle
# and vote, or coopmat2: every current desktop GPU); bf16 for both or neither
_VULKAN = FlashAttnKernels(
    "vulkan", (), F16_FAMILY | LEGACY_QUANTS | {DType.IQ4_NL}, multiple=8,
    source="ggml-vulkan.cpp ggml_backend_vk_device_supports_op")
# ggml_sycl_get_best_fattn_kernel: the op itself came with PR 20190 (March 2026; a b7300 log of December
# 2025 on an Arc A770 resolves "auto" to off for Qwen2.5-7B's 128-wide heads), 512 with PR 21654 (April
# 2026); q4_1, q5_0 and q5_1 only in a build with GGML_SYCL_FA_ALL_QUANTS
_SYCL = FlashAttnKernels(
    "sycl",
    (*_same(40, 64, 72, 80, 96, 112, 128, 256),
     Shape(512, 512, since=Since("PR 21654 (April 2026)", "early-2026")), Shape(576, 512, 2)),
    F16_FAMILY | {DType.Q4_0, DType.Q8_0}, same_type=True,
    since=Since("PR 20190 (March 2026)", "early-2026"),
    source="ggml-sycl/fattn.cpp ggml_sycl_get_best_fattn_kernel")
# llama_init_from_model: "flash_attn is not compatible with Grok - forcing off", whatever was asked for
FORCED_OFF_ARCHS = frozenset({"grok"})
KERNELS: Mapping[str, FlashAttnKernels] = {"cuda": _CUDA, "rocm": _CUDA, "metal": _METAL,
                                           "vulkan": _VULKAN, "sycl": _SYCL}
BACKENDS = ("cpu", *KERNELS)
# the backend llama.cpp's usual build runs on each vendor's GPUs (--llamacpp-backend names another)
VENDOR_BACKENDS = {"NVIDIA": "cuda", "AMD": "rocm", "Apple": "metal", "Intel": "sycl"}


def family_has(since: Since | None, build: str) -> bool:
    """Whether a build family has what came with ``since``: every family after the one it came in does;
    the family it came in is taken to have it (its later builds), which the output says
    (``FlashAttnChoice.since``)."""
    return since is None or BUILDS.index(build) <= BUILDS.index(since.family)


@record
class FlashAttnChoice:
    """What "auto" resolves to, and why."""

    on: bool
    why: str
    since: Since | None = None  # a shape or op the build family's earlier builds lack


def attention_shapes(cfg: ArchConfig) -> tuple[tuple[int, int, int], ...]:
    """The (K head, V head, query heads per KV head) of each distinct attention layer, as llama.cpp's
    graph feeds GGML_OP_FLASH_ATTN_EXT: an MLA model's latent (kv_lora_rank + rope wide K, kv_lora_rank
    wide V) read by every query head at once."""
    if cfg.is_mla:
        k, _ = cache_head_dims(cfg)
        return ((k, cfg.kv_lora_rank, cfg.n_heads),)
    if encoder_only(cfg):  # BERT's layers attend over the batch itself, no cache: still the same op
        return ((cfg.head_dim_k, cfg.head_dim_v, max(cfg.n_heads // max(cfg.n_kv_heads, 1), 1)),)
    kinds = cfg.layer_types or ("full",) * cfg.n_layers
    heads = kv_heads_per_layer(cfg)
    widths = head_dims_per_layer(cfg)
    out: dict[tuple[int, int, int], None] = {}
    for il, kind in enumerate(kinds):
        if kind not in ("full", "sliding", "chunked"):
            continue
        n_kv = heads[il] if heads is not None else cfg.n_kv_heads
        if not n_kv:
            continue
        k, v = (widths[il], widths[il]) if widths is not None else (cfg.head_dim_k, cfg.head_dim_v)
        out[(k, v, max(cfg.n_heads // n_kv, 1))] = None
    return tuple(out)


def resolve_auto(cfg: ArchConfig, backend: str, type_k: DType, type_v: DType,
                 build: str = "current") -> FlashAttnChoice:
    """Flash attention "auto" on ``backend`` (``BACKENDS``) for this model and cache types."""
    if backend == "cpu":
        return FlashAttnChoice(True, "the CPU backend runs flash attention for every head size")
    kernels = KERNELS.get(backend)
    if kernels is None:
        raise UnsupportedError(f"llama.cpp: unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    name = {"cuda": "CUDA", "rocm": "ROCm", "metal": "Metal", "vulkan": "Vulkan", "sycl": "SYCL"}[backend]
    if not family_has(kernels.since, build):
        assert kernels.since is not None
        return FlashAttnChoice(False, f"{name} has no flash attention kernel in the {build} builds "
                                      f"(it came with {kernels.since.what})")
    for t in (type_k, type_v):
        if t not in kernels.cache_types:
            return FlashAttnChoice(False, f"{name}'s flash attention does not read a "
                                          f"{t.value.lower()} cache")
    if kernels.same_type and type_k != type_v:
        return FlashAttnChoice(False, f"{name}'s flash attention needs K and V of one type "
                                      f"({type_k.value.lower()} and {type_v.value.lower()} given)")
    if backend == "vulkan" and (type_k == DType.BF16) != (type_v == DType.BF16):
        return FlashAttnChoice(False, "Vulkan's flash attention takes bf16 for both K and V or neither")
    since = kernels.since if kernels.since is not None and kernels.since.family == build else None
    for k, v, gqa in attention_shapes(cfg):
        shape = kernels.shape(k, v)
        if shape is None or not family_has(shape.since, build):
            return FlashAttnChoice(False, f"{name} has no flash attention kernel for K heads of {k} and "
                                          f"V heads of {v}")
        if not shape.takes(gqa):
            need = (f"a multiple of {shape.gqa_multiple}" if shape.gqa_multiple > 1
                    else f"at least {shape.min_gqa}")
            return FlashAttnChoice(False, f"{name}'s kernel for {k}/{v} heads needs {need} query heads "
                                          f"per KV head ({gqa} here)")
        if shape.since is not None and shape.since.family == build:
            since = shape.since
    return FlashAttnChoice(True, f"{name} has flash attention kernels for this model's heads", since)
