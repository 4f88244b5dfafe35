"""The type a serving engine holds an unquantized checkpoint in with ``--dtype auto``, where that is not the
type the checkpoint stores.

vLLM (config/model.py ``_resolve_auto_dtype``, 0.10 to 0.34) takes the config's type unless the platform
cannot run it, and downcasts float32 "for float32 models" to the first type the platform supports for that
model: bfloat16 on an NVIDIA GPU of capability 8.0 or later and on ROCm (platforms/interface.py
``supported_dtypes``), float16 on older NVIDIA GPUs (platforms/cuda.py), except the model types whose
float16 it refuses for numerical instability (``_FLOAT16_NOT_SUPPORTED_MODELS``), which stay in float32
there; a bfloat16 checkpoint of those types on such a GPU falls back to float32 too ("Your device ...
doesn't support torch.bfloat16. Falling back to torch.float32"). Releases before 0.10 downcast float32 to
float16 (bfloat16 for Gemma 2) and refused bfloat16 on an older GPU. SGLang (configs/model_config.py
``_get_and_verify_dtype``) downcasts float32 to bfloat16 for the Gemma families and to float16 otherwise.

Every parameter is created in that type, so the weights, the activations and an "auto" KV cache follow it:
Gemma 2 9B, stored in float32 (36.97 GB), loads in 18.48 GB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramscope.model.dtypes import DType
from paramscope.records import replace

if TYPE_CHECKING:
    from paramscope.knowledge.hardware import Device
    from paramscope.model import Model

Release = tuple[int, int, int]

# vLLM's model types that refuse float16 (_FLOAT16_NOT_SUPPORTED_MODELS; plamo2 until 0.19)
FLOAT16_REFUSED = frozenset({"gemma2", "gemma3", "gemma3_text", "glm4", "plamo2"})
RESOLVE_AUTO_RELEASE: Release = (0, 10, 0)  # _resolve_auto_dtype and its fallback to a supported type
BF16_CAPABILITY = 80  # platforms/cuda.py supported_dtypes: bfloat16 from Ampere


def vllm_auto_dtype(stored: DType, model_type: str, device: Device | None, release: Release) -> DType:
    """The type vLLM's --dtype auto resolves to for a checkpoint stored in ``stored`` (see above); the
    device unknown: one that runs bfloat16."""
    from paramscope.knowledge.hardware import cuda_capability

    cc = cuda_capability(device)
    old_gpu = cc is not None and cc < BF16_CAPABILITY
    if release < RESOLVE_AUTO_RELEASE:
        return (DType.BF16 if model_type == "gemma2" else DType.F16) if stored == DType.F32 else stored
    supported = [t for t in ((DType.F16, DType.F32) if old_gpu else (DType.BF16, DType.F16, DType.F32))
                 if not (t == DType.F16 and model_type in FLOAT16_REFUSED)]
    preferred = supported[0]
    if stored == DType.F32:
        return preferred
    return stored if stored in supported else preferred


def sglang_auto_dtype(stored: DType, model_type: str) -> DType:
    """The type SGLang's --dtype auto resolves to (see above)."""
    if stored != DType.F32:
        return stored
    return DType.BF16 if model_type.startswith("gemma") else DType.F16


def served_in(model: Model, engine: str, stored: DType, dtype: DType) -> tuple[Model, tuple[str, ...]]:
    """The unquantized ``model``, whose weights are mostly ``stored`` (request.py ``model_dtype``), with
    the tensors of that type in ``dtype`` where the two differ in size (a float32 checkpoint served in 16
    bits, a bfloat16 one in float32), with a note; else unchanged. A quantized checkpoint keeps its types
    (its scales and unquantized modules follow their own rules)."""
    if model.quantization is not None or not model.tensors or dtype.type_size == stored.type_size:
        return model, ()
    from paramscope.knowledge.quant_layouts import TORCH_NAMES  # the torch names of the three types

    tensors = tuple(replace(t, dtype=dtype, nbytes=t.n_elements * dtype.type_size) if t.dtype == stored else t
                    for t in model.tensors)
    cast = sum(t.dtype == stored for t in model.tensors)
    change = sum(t.nbytes for t in tensors) - sum(t.nbytes for t in model.tensors)
    return replace(model, tensors=tensors), (
        f"{engine} --dtype auto serves this {TORCH_NAMES[stored]} checkpoint in {TORCH_NAMES[dtype]} "
        f"(serving_dtype.py): {cast:,} tensors, {change:+,} B",)


def model_type(model: Model) -> str:
    """The config's model_type (the top level's, as the engines read it), "" when there is none."""
    return str((model.config_json or {}).get("model_type") or "")
