"""vLLM's integer-weight kernels (int4 / int8 weights, 16-bit activations: GPTQ, AWQ, compressed-tensors
W4A16 / W8A16) and what each keeps of a checkpoint after loading.

vLLM chooses a kernel for every linear module (kernels/linear choose_mp_linear_kernel: the first of its
CUDA list that can implement the module's shape and type, decided once for a fused module: q, k and v as
``qkv_proj``, gate and up as ``gate_up_proj``, on the summed widths of one tensor-parallel rank), and each
kernel re-lays the stored tensors in ``process_weights_after_loading``:

- **Marlin** repacks ``qweight`` and permutes ``scales`` at their stored sizes, and replaces a symmetric
  GPTQ checkpoint's ``qzeros`` by an empty tensor (marlin_make_empty_zp; from 0.34 the loaded one is
  retired but keeps its data: ``_retire_unused_zp``), its ``g_idx`` too without act-order
  (marlin_make_empty_g_idx); with act-order it keeps ``g_idx`` sorted and adds its sort indices
  (marlin_sort_g_idx: one int32 per input row). AWQ's zero points stay at their packed size
  (marlin_zero_points).
- **Machete** (kernels/mixed_precision/machete.py), which comes before Marlin on CUDA capability 9.0
  (Hopper: H100, H200, H800, H20, GH200), prepacks ``qweight`` at its size (machete_prepack_B:
  ``empty_like``) and keeps ``scales``; it does not touch a GPTQ checkpoint's ``qzeros`` or ``g_idx``,
  which stay as loaded (with act-order it also holds the permutation, ``act_perm``: one int32 per input
  row), and it stores AWQ's zero points pre-multiplied by the scales in the activation type
  (``-1.0 * w_s * zp``: 2 bytes a group and column where the checkpoint packs 8 in 4 bytes).

compressed-tensors' integer layers (W4A16 / W8A16: ``weight_packed``, ``weight_scale``, and with asymmetric
weights ``weight_zero_point``) go the same way: Marlin keeps them as stored, Machete holds the zero points
in 16 bits (from 0.9.2; before, Machete refused zero points and Marlin took such layers).

Which modules Machete takes: capability 9.0; GPTQ from 0.6.2 (MPLinearKernel), AWQ from 0.19 (awq_marlin
through choose_mp_linear_kernel; 0.18's called Marlin itself); zero points from 0.9.2; groups of 128 or
whole rows (64 too from 0.9.2); input features (on its tensor-parallel rank) a multiple of 64 and output
features of 128 (check_machete_supports_shape); act-order only where the input features are not split.
A tensor-parallel rank holds a module's rows split (RowParallelLinear: o_proj, down_proj …) or its columns
(the rest), with at least one whole KV head (replicated where there are fewer heads than ranks), and
MLA's down-projections whole (ReplicatedLinear). With act-order, or per-channel scales, a row-split
module's scales (and kept zero points) are whole on every rank (marlin_repeat_scales_on_all_ranks).

MoE experts run Marlin's fused MoE kernel whatever the GPU: GPTQ's expert ``g_idx`` becomes empty
without act-order (not registered from 0.30), the expert ``qzeros`` are kept, in the 16-bit parameter
type before 0.27 (half their stored bytes) and as int32 from 0.27. From 0.30 GPTQ registers no ``g_idx``
(act-order with groups is refused: gptq_utils.normalize_and_validate_gptq_desc_act).

Not modelled: AllSpark, which takes 8-bit per-channel GPTQ before Marlin on capability 8.x from 0.8 to 0.30
and keeps ``qzeros`` and ``g_idx`` (a few bytes a layer); Marlin's zero padding, from 0.25, of a shape
neither of its tile families divides (marlin_padded_nk; odd widths only).
Read in the 0.6.2, 0.7.0, 0.8.0, 0.9.1, 0.9.2, 0.10.0, 0.11, 0.17, 0.18, 0.19, 0.21, 0.22, 0.25 to 0.34
sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paramscope.knowledge.hardware import CUDA_CAPABILITY
from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.model import ArchConfig, Model, Tensor

Release = tuple[int, int, int]

MACHETE_CAPABILITY = 90  # is_device_capability(90): Hopper alone
SM90 = frozenset(key for key, cc in CUDA_CAPABILITY.items() if cc == MACHETE_CAPABILITY)  # the table's
MARLIN_TURING_RELEASE: Release = (0, 14, 0)  # marlin.py get_min_capability 80 → 75


def marlin_min_capability(release: Release) -> int:
    """The lowest CUDA capability vLLM's Marlin kernels run on in ``release``."""
    return 75 if release >= MARLIN_TURING_RELEASE else 80
MACHETE_GPTQ_RELEASE: Release = (0, 6, 2)  # MPLinearKernel with Machete (gptq_marlin.py)
MACHETE_AWQ_RELEASE: Release = (0, 19, 0)  # awq_marlin.py through choose_mp_linear_kernel
MACHETE_ZERO_POINTS_RELEASE: Release = (0, 9, 2)  # machete.py transform_w_zp; group size 64
# the first release each method can reach Machete; compressed-tensors' asymmetric layers, with zero points
FIRST_MACHETE_RELEASE = {"gptq": MACHETE_GPTQ_RELEASE, "awq": MACHETE_AWQ_RELEASE}
GPTQ_MOE_INT32_ZP_RELEASE: Release = (0, 27, 0)  # expert qzeros registered as int32, not params_dtype
GPTQ_NO_G_IDX_RELEASE: Release = (0, 30, 0)  # g_idx not registered; desc_act with groups refused
MARLIN_RETAINS_ZP_RELEASE: Release = (0, 34, 0)  # marlin.py _retire_unused_zp: kept, not freed
MACHETE_IN_ALIGN, MACHETE_OUT_ALIGN = 64, 128  # machete_utils.MACHETE_PREPACKED_BLOCK_SHAPE
# the modules vLLM splits along their input features (RowParallelLinear) under tensor parallelism, and the
# ones it keeps whole on every rank (ReplicatedLinear: MLA's down-projections)
ROW_PARALLEL = frozenset({"o_proj", "down_proj", "out_proj", "dense", "dense_4h_to_h", "fc2", "fc_out", "w2",
                          "wo", "c_proj", "proj"})
REPLICATED = frozenset({"q_a_proj", "kv_a_proj_with_mqa"})
# checkpoint modules vLLM fuses into one (the kernel is chosen once for the fused module)
FUSED = {"q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj", "gate_proj": "gate_up_proj",
         "up_proj": "gate_up_proj", "w1": "gate_up_proj", "w3": "gate_up_proj",
         "q_a_proj": "fused_qkv_a_proj", "kv_a_proj_with_mqa": "fused_qkv_a_proj"}
KV_PROJ = frozenset({"k_proj", "v_proj"})
ACT_BYTES = 2  # Machete's zero points in the activation type (float16 / bfloat16)
# each method's tensor names, as GPTQ's: compressed-tensors' pack-quantized layers (weight_packed, N × K /
# pack; weight_zero_point, N / pack × groups) hold the same parts under other names
PART_NAMES = {"weight_packed": "qweight", "weight_zero_point": "qzeros", "weight_scale": "scales",
              "weight_g_idx": "g_idx", "qweight": "qweight", "qzeros": "qzeros", "scales": "scales",
              "g_idx": "g_idx"}


@record
class Layer:
    """One quantized linear layer as the checkpoint stores it: its tensors by part, and its shape."""

    prefix: str
    parts: dict[str, Tensor]
    in_features: int
    out_features: int

    @property
    def name(self) -> str:
        return self.prefix.rsplit(".", 1)[-1]

    @property
    def row_parallel(self) -> bool:
        return self.name in ROW_PARALLEL

    def part_bytes(self, *parts: str) -> int:
        return sum(self.parts[p].nbytes for p in parts if p in self.parts)

    def rank_shape(self, tensor_parallel: int, kv_heads: int) -> tuple[int, int]:
        """(input, output) features on one tensor-parallel rank: rows split for a row-parallel module,
        columns for the rest, at least one whole KV head for k and v (``kv_heads`` 0: unknown), the whole
        module where vLLM replicates it."""
        k, n = self.in_features, self.out_features
        if tensor_parallel == 1 or self.name in REPLICATED:
            return k, n
        if self.row_parallel:
            return k // tensor_parallel, n
        if self.name in KV_PROJ and 0 < kv_heads < tensor_parallel:
            return k, n // kv_heads  # one head, replicated over kv_heads / tp ranks
        return k, n // tensor_parallel


@record
class Relaid:
    """The bytes vLLM holds for a GPTQ, AWQ or compressed-tensors integer checkpoint (all ranks together),
    with the kernel of each layer."""

    bytes: int
    backend: str  # "marlin", "machete" or "machete+marlin"
    notes: tuple[str, ...]


def layers_of(model: Model, method: str) -> list[Layer]:
    """The checkpoint's quantized linear layers (the packed weight with its side data, under GPTQ's names),
    experts left out. GPTQ packs ``qweight`` along the input features, (K / pack, N); AWQ along the output,
    (K, N / pack); compressed-tensors stores it transposed, (N, K / pack)."""
    pack = 32 // (model.quantization.bits or 4) if model.quantization else 8
    by_prefix: dict[str, dict[str, Tensor]] = {}
    for t in model.tensors:
        prefix, _, suffix = t.name.rpartition(".")
        if suffix in PART_NAMES and ".experts." not in t.name:
            by_prefix.setdefault(prefix, {})[PART_NAMES[suffix]] = t
    out = []
    for prefix, parts in by_prefix.items():
        w = parts.get("qweight")
        if w is None or len(w.shape) != 2:
            continue
        k, n = {"gptq": (w.shape[0] * pack, w.shape[1]), "awq": (w.shape[0], w.shape[1] * pack)}.get(
            method, (w.shape[1] * pack, w.shape[0]))
        out.append(Layer(prefix, parts, k, n))
    return out


def fused_modules(layers: list[Layer]) -> list[list[Layer]]:
    """The layers grouped as vLLM builds them: q, k and v of one block as one module, gate and up as
    another (FUSED); the rest alone."""
    groups: dict[str, list[Layer]] = {}
    for layer in layers:
        parent = layer.prefix.rsplit(".", 1)[0]
        key = f"{parent}.{FUSED[layer.name]}" if layer.name in FUSED else layer.prefix
        groups.setdefault(key, []).append(layer)
    return list(groups.values())


def machete_takes(module: list[Layer], method: str, release: Release, tensor_parallel: int,
                  group_size: int, desc_act: bool, kv_heads: int = 0) -> bool:
    """Whether choose_mp_linear_kernel gives this (fused) module to Machete on a capability-9.0 GPU: its
    input features and summed output features on one rank (MPLinearLayerConfig.partition_weight_shape)."""
    if release < FIRST_MACHETE_RELEASE.get(method, MACHETE_ZERO_POINTS_RELEASE):
        return False
    groups = (-1, 64, 128) if release >= MACHETE_ZERO_POINTS_RELEASE else (-1, 128)
    if group_size not in groups:
        return False
    shapes = [layer.rank_shape(tensor_parallel, kv_heads) for layer in module]
    k, n = shapes[0][0], sum(s[1] for s in shapes)
    if desc_act and k != module[0].in_features:
        return False  # "Act reordering currently not supported by Machete" on split input features
    return k % MACHETE_IN_ALIGN == 0 and n % MACHETE_OUT_ALIGN == 0


def relaid(model: Model, method: str, machete: bool, release: Release, tensor_parallel: int = 1) -> Relaid:
    """The checkpoint as vLLM holds it: each layer's bytes under the kernel its module gets (module
    docstring; ``machete``: the GPU is one Machete runs on, or the build's log says it does), the experts'
    side data as Marlin's MoE keeps it, the rest as stored."""
    q = model.quantization
    assert q is not None
    cfg: ArchConfig | None = model.config
    kv_heads = cfg.n_kv_heads if cfg is not None else 0
    group = q.group_size or -1
    desc_act = _act_order(q.config, method) and group != -1
    # GPTQ registers no g_idx from 0.30; compressed-tensors keeps its weight_g_idx
    g_idx = release < GPTQ_NO_G_IDX_RELEASE or method != "gptq"
    rules = _Rules(method, desc_act, g_idx, release >= MARLIN_RETAINS_ZP_RELEASE)
    total = model.tensor_bytes
    counts = {"machete": 0, "marlin": 0}
    for module in fused_modules(layers_of(model, method)):
        on_machete = machete and machete_takes(module, method, release, tensor_parallel, group, desc_act,
                                               kv_heads)
        counts["machete" if on_machete else "marlin"] += len(module)
        for layer in module:
            kept = rules.machete(layer) if on_machete else rules.marlin(layer)
            total += kept - layer.part_bytes(*layer.parts)
            # GPTQ and compressed-tensors: with act-order or per-channel scales a row-split module's
            # scales (and zero points) are whole on every rank (AWQ's are split)
            if tensor_parallel > 1 and layer.row_parallel and method != "awq" and (
                    group == -1 or (desc_act and rules.g_idx)):
                zeros = (kept_zeros(layer, method, on_machete) if method != "gptq" else
                         layer.part_bytes("qzeros") if on_machete or rules.retains_zp else 0)
                total += (tensor_parallel - 1) * (layer.part_bytes("scales") + zeros)
    if method == "gptq":
        total += _expert_side_data_change(model, desc_act, release)
    backend = "+".join(k for k in ("machete", "marlin") if counts[k]) or "marlin"
    name = {"gptq": "GPTQ", "awq": "AWQ"}.get(method, "compressed-tensors W4A16/W8A16")
    note = (f"vLLM's {name} kernels: " + ", ".join(f"{v:,} layers on {k.capitalize()}"
                                                   for k, v in counts.items() if v)
            + f" ({rules.what_changes(counts)}): "
            f"{total - model.tensor_bytes:+,} B against the {model.tensor_bytes:,} B stored")
    if method == "gptq" and desc_act and not rules.g_idx:
        note += ("; vLLM 0.30 and later refuse this checkpoint (act-order with groups: "
                 "gptq_utils.normalize_and_validate_gptq_desc_act), so it is priced without g_idx")
    return Relaid(total, backend, (note,))


@record
class _Rules:
    """What each kernel keeps of one layer, for a method and release."""

    method: str
    desc_act: bool
    g_idx: bool  # GPTQ registers g_idx (before 0.30)
    retains_zp: bool  # Marlin keeps the unused qzeros' data (0.34)

    def marlin(self, layer: Layer) -> int:
        if self.method != "gptq":  # AWQ's and compressed-tensors' zero points stay packed
            return layer.part_bytes(*layer.parts) + (4 * layer.in_features if self.desc_act else 0)
        kept = layer.part_bytes("qweight", "scales", *(("qzeros",) if self.retains_zp else ()))
        if self.desc_act and self.g_idx:  # g_idx sorted, and its sort indices (int32 per input row)
            kept += layer.part_bytes("g_idx") + 4 * layer.in_features
        return kept

    def machete(self, layer: Layer) -> int:
        if self.method != "gptq":  # the zero points (where the checkpoint has them) in the activation type
            rest = [part for part in layer.parts if part != "qzeros"]
            return (layer.part_bytes(*rest) + kept_zeros(layer, self.method, True)
                    + (4 * layer.in_features if self.desc_act else 0))
        kept = layer.part_bytes("qweight", "scales", "qzeros")
        if self.g_idx:
            kept += layer.part_bytes("g_idx") + (4 * layer.in_features if self.desc_act else 0)
        return kept

    def what_changes(self, counts: dict[str, int]) -> str:
        said = []
        if counts["machete"]:
            said.append("Machete keeps the zero points pre-multiplied by the scales, 2 B a group and column"
                        if self.method != "gptq" else
                        "Machete keeps qzeros" + (" and g_idx" if self.g_idx else ""))
        if counts["marlin"] and self.method == "gptq":
            sorted_g_idx = self.desc_act and self.g_idx
            said.append(("Marlin keeps the retired qzeros" if self.retains_zp else "Marlin drops qzeros")
                        + ("" if sorted_g_idx else " and g_idx")
                        + (", sorts g_idx and adds its sort indices" if sorted_g_idx else ""))
        if counts["marlin"] and self.method != "gptq":
            said.append("Marlin keeps the packed zero points")
        return "; ".join(said)


def _act_order(config: Mapping[str, Any], method: str) -> bool:
    """GPTQ's desc_act; compressed-tensors' weights with actorder "group" (weight_g_idx registered)."""
    if method == "gptq":
        return bool(config.get("desc_act", False))
    if method == "compressed-tensors":
        groups = config.get("config_groups") or {}
        return any(isinstance(g, Mapping) and isinstance(g.get("weights"), Mapping)
                   and g["weights"].get("actorder") == "group" for g in groups.values())
    return False


def kept_zeros(layer: Layer, method: str, on_machete: bool) -> int:
    """The bytes of an AWQ or compressed-tensors layer's zero points as a kernel holds them: packed on
    Marlin, 16-bit on Machete (groups × output features)."""
    zeros = layer.parts.get("qzeros")
    if zeros is None:
        return 0
    if not on_machete:
        return zeros.nbytes
    # AWQ stores (groups, N / pack), compressed-tensors (N / pack, groups)
    groups = zeros.shape[0] if method == "awq" or len(zeros.shape) < 2 else zeros.shape[1]
    return groups * layer.out_features * ACT_BYTES


def _expert_side_data_change(model: Model, desc_act: bool, release: Release) -> int:
    """Marlin's MoE: an expert's g_idx empty without act-order (none registered from 0.30), its qzeros kept
    in the 16-bit parameter type (half their int32 bytes) before 0.27, as int32 from then."""
    change = 0
    for t in model.tensors:
        if ".experts." not in t.name:
            continue
        if t.name.endswith(".g_idx") and (not desc_act or release >= GPTQ_NO_G_IDX_RELEASE):
            change -= t.nbytes
        elif t.name.endswith(".qzeros") and release < GPTQ_MOE_INT32_ZP_RELEASE:
            change -= t.nbytes // 2
    return change
