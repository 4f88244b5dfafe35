"""vLLM's integer-weight kernels (int4 / int8 weights, 16-bit activations: GPTQ, AWQ) and what each keeps
of a checkpoint after loading.

vLLM chooses a kernel for every linear layer (kernels/linear choose_mp_linear_kernel: the first of its
CUDA list that can implement the layer's shape and type), and each kernel re-lays the stored tensors in
``process_weights_after_loading``:

- **Marlin** repacks ``qweight`` and permutes ``scales`` at their stored sizes, and replaces a symmetric
  GPTQ checkpoint's ``qzeros`` by an empty tensor (marlin_make_empty_zp), its ``g_idx`` too without
  act-order (marlin_make_empty_g_idx); with act-order it keeps ``g_idx`` sorted and adds its sort indices
  (marlin_sort_g_idx: one int32 per input row). AWQ's zero points stay at their packed size
  (marlin_zero_points).
- **Machete** (kernels/mixed_precision/machete.py), which comes before Marlin on CUDA capability 9.0
  (Hopper: H100, H200, H800, H20, GH200), prepacks ``qweight`` at its size (machete_prepack_B:
  ``empty_like``) and keeps ``scales``; it does not touch a GPTQ checkpoint's ``qzeros`` or ``g_idx``,
  which stay as loaded (with act-order it also holds the permutation, ``act_perm``: one int32 per input
  row), and it stores AWQ's zero points pre-multiplied by the scales in the activation type
  (``-1.0 * w_s * zp``: 2 bytes a group and column where the checkpoint packs 8 in 4 bytes).

Which layers Machete takes: capability 9.0; GPTQ from 0.6.2 (MPLinearKernel), AWQ from 0.19 (awq_marlin
through choose_mp_linear_kernel; 0.18's called Marlin itself); zero points from 0.9.2; groups of 128 or
whole rows (64 too from 0.9.2); a layer's input features (on its tensor-parallel rank) a multiple of 64 and
its output features of 128 (check_machete_supports_shape); act-order only where the input features are
not split. MoE experts run Marlin's fused MoE kernel whatever the GPU. From 0.30 GPTQ registers no
``g_idx`` (act-order with groups is refused: gptq_utils.normalize_and_validate_gptq_desc_act).
Read in the 0.6.2, 0.7.0, 0.8.0, 0.9.1, 0.9.2, 0.10.0, 0.11, 0.17, 0.18, 0.19, 0.30 and 0.31 wheels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from paramscope.records import record

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model, Tensor

Release = tuple[int, int, int]

# CUDA capability 9.0 in the device table (knowledge/hardware.py): Machete's GPUs
SM90 = frozenset({"h100-sxm", "h100-pcie", "h100-nvl", "h200", "h200-nvl", "gh200", "gh200-144g", "h800",
                  "h800-pcie", "h20"})
MACHETE_GPTQ_RELEASE: Release = (0, 6, 2)  # MPLinearKernel with Machete (gptq_marlin.py)
MACHETE_AWQ_RELEASE: Release = (0, 19, 0)  # awq_marlin.py through choose_mp_linear_kernel
MACHETE_ZERO_POINTS_RELEASE: Release = (0, 9, 2)  # machete.py transform_w_zp; group size 64
GPTQ_NO_G_IDX_RELEASE: Release = (0, 30, 0)  # g_idx not registered; desc_act with groups refused
MACHETE_IN_ALIGN, MACHETE_OUT_ALIGN = 64, 128  # machete_utils.MACHETE_PREPACKED_BLOCK_SHAPE
# the layers vLLM splits along their input features (RowParallelLinear) under tensor parallelism
ROW_PARALLEL = frozenset({"o_proj", "down_proj", "out_proj", "dense", "dense_4h_to_h", "fc2", "w2", "wo",
                          "c_proj", "proj"})
ACT_BYTES = 2  # Machete's zero points in the activation type (float16 / bfloat16)


@record
class Layer:
    """One quantized linear layer as the checkpoint stores it: its tensors by suffix, and its shape."""

    prefix: str
    parts: dict[str, Tensor]
    in_features: int
    out_features: int

    @property
    def row_parallel(self) -> bool:
        return self.prefix.rsplit(".", 1)[-1] in ROW_PARALLEL

    def part_bytes(self, *suffixes: str) -> int:
        return sum(self.parts[s].nbytes for s in suffixes if s in self.parts)


@record
class Relaid:
    """The bytes vLLM holds for a GPTQ or AWQ checkpoint, with the kernel of each layer."""

    bytes: int
    backend: str  # "marlin", "machete" or "machete+marlin"
    notes: tuple[str, ...]


def layers_of(model: Model, method: str) -> list[Layer]:
    """The checkpoint's quantized linear layers (``qweight`` with its side data), experts left out.
    GPTQ packs ``qweight`` along the input features, (K / pack, N); AWQ along the output, (K, N / pack)."""
    pack = 32 // (model.quantization.bits or 4) if model.quantization else 8
    by_prefix: dict[str, dict[str, Tensor]] = {}
    for t in model.tensors:
        prefix, _, suffix = t.name.rpartition(".")
        if suffix in ("qweight", "qzeros", "scales", "g_idx") and ".experts." not in t.name:
            by_prefix.setdefault(prefix, {})[suffix] = t
    out = []
    for prefix, parts in by_prefix.items():
        w = parts.get("qweight")
        if w is None or len(w.shape) != 2:
            continue
        k, n = (w.shape[0] * pack, w.shape[1]) if method == "gptq" else (w.shape[0], w.shape[1] * pack)
        out.append(Layer(prefix, parts, k, n))
    return out


def machete_takes(layer: Layer, method: str, release: Release, tensor_parallel: int, group_size: int,
                  desc_act: bool) -> bool:
    """Whether choose_mp_linear_kernel gives this layer to Machete (on a capability-9.0 GPU)."""
    if release < (MACHETE_GPTQ_RELEASE if method == "gptq" else MACHETE_AWQ_RELEASE):
        return False
    groups = (-1, 64, 128) if release >= MACHETE_ZERO_POINTS_RELEASE else (-1, 128)
    if group_size not in groups:
        return False
    k, n = layer.in_features, layer.out_features
    if layer.row_parallel:
        k //= tensor_parallel
    else:
        n //= tensor_parallel
    if desc_act and k != layer.in_features:
        return False  # "Act reordering currently not supported by Machete" on split input features
    return k % MACHETE_IN_ALIGN == 0 and n % MACHETE_OUT_ALIGN == 0


def relaid(model: Model, method: str, device: Device | None, release: Release,
           tensor_parallel: int = 1, forced_machete: bool = False) -> Relaid:
    """The GPTQ (symmetric, 4 or 8 bits) or AWQ checkpoint as vLLM holds it: each layer's bytes under the
    kernel it gets (module docstring; ``forced_machete``: Machete wherever its shapes allow, whatever the
    GPU and release); experts and the rest of the checkpoint as stored (a GPTQ checkpoint's expert
    ``qzeros`` and ``g_idx`` dropped as Marlin's MoE drops them)."""
    q = model.quantization
    assert q is not None
    group = q.group_size or -1
    desc_act = method == "gptq" and bool(q.config.get("desc_act", False)) and group != -1
    registers_g_idx = release < GPTQ_NO_G_IDX_RELEASE
    hopper = forced_machete or (device is not None and device.key in SM90)
    if forced_machete:
        release = max(release, MACHETE_AWQ_RELEASE)
    total = model.tensor_bytes
    counts = {"machete": 0, "marlin": 0}
    for layer in layers_of(model, method):
        kept = layer.part_bytes(*layer.parts)
        if hopper and machete_takes(layer, method, release, tensor_parallel, group, desc_act):
            counts["machete"] += 1
            now = _machete_bytes(layer, method, desc_act, registers_g_idx)
        else:
            counts["marlin"] += 1
            now = _marlin_bytes(layer, method, desc_act, registers_g_idx)
        total += now - kept
    if method == "gptq":  # Marlin's MoE keeps neither the experts' qzeros nor (without act-order) g_idx
        total -= sum(t.nbytes for t in _expert_side_data(model.tensors, desc_act))
    backend = "+".join(k for k in ("machete", "marlin") if counts[k]) or "marlin"
    note = (f"vLLM's {method.upper()} kernels: " + ", ".join(f"{v:,} layers on {k.capitalize()}"
                                                             for k, v in counts.items() if v)
            + f" ({_what_changes(method, counts, desc_act, registers_g_idx)}): "
            f"{total - model.tensor_bytes:+,} B against the {model.tensor_bytes:,} B stored")
    if desc_act and not registers_g_idx:
        note += ("; vLLM 0.30 and later refuse this checkpoint (act-order with groups: "
                 "gptq_utils.normalize_and_validate_gptq_desc_act), so it is priced without g_idx")
    return Relaid(total, backend, (note,))


def _marlin_bytes(layer: Layer, method: str, desc_act: bool, registers_g_idx: bool) -> int:
    if method == "awq":
        return layer.part_bytes("qweight", "qzeros", "scales")
    kept = layer.part_bytes("qweight", "scales")
    if desc_act and registers_g_idx:  # g_idx sorted, and its sort indices (int32 per input row)
        kept += layer.part_bytes("g_idx") + 4 * layer.in_features
    return kept


def _machete_bytes(layer: Layer, method: str, desc_act: bool, registers_g_idx: bool) -> int:
    if method == "awq":  # the zero points (where the checkpoint has them) in the activation type
        zeros = layer.parts.get("qzeros")
        groups = zeros.shape[0] if zeros is not None else 0
        return layer.part_bytes("qweight", "scales") + groups * layer.out_features * ACT_BYTES
    kept = layer.part_bytes("qweight", "scales", "qzeros")
    if registers_g_idx:
        kept += layer.part_bytes("g_idx") + (4 * layer.in_features if desc_act else 0)
    return kept


def _expert_side_data(tensors: Iterable[Tensor], desc_act: bool) -> list[Tensor]:
    return [t for t in tensors if ".experts." in t.name
            and (t.name.endswith(".qzeros") or (t.name.endswith(".g_idx") and not desc_act))]


def _what_changes(method: str, counts: dict[str, int], desc_act: bool, registers_g_idx: bool) -> str:
    said = []
    if counts["machete"]:
        said.append("Machete keeps the zero points pre-multiplied by the scales, 2 B a group and column"
                    if method == "awq" else
                    "Machete keeps qzeros" + (" and g_idx" if registers_g_idx else ""))
    if counts["marlin"] and method == "gptq":
        said.append("Marlin drops qzeros" + ("" if desc_act and registers_g_idx else " and g_idx")
                    + (", sorts g_idx and adds its sort indices" if desc_act and registers_g_idx else ""))
    if counts["marlin"] and method == "awq":
        said.append("Marlin keeps the packed zero points")
    return "; ".join(said)
