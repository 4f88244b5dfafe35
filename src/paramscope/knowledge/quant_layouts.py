"""Logical tensors → the tensors a quantized checkpoint stores: one table of layouts, one row per format.

``knowledge.families`` lists a config's *logical* tensors (``q_proj.weight`` (out, in) in the model dtype).
A quantized checkpoint stores each quantized weight as a packed container plus side data, and leaves the
rest at the model dtype. ``as_stored`` rewrites the list: for every weight a method quantizes (its own rule
of which modules, then the config's exclusions), the row of ``LAYOUTS`` for that method gives the stored
pieces — name suffix, dtype, shape — each written as the quantizer allocates it (the row cites where). The
packed container keeps the weight's parameter count (``weight_bits``); side data counts 0.

Byte totals equal the real checkpoint's ``model.safetensors.index.json`` ``total_size``
(tests/test_quant_layouts.py, tests/fixtures/quantized/), with one data-dependent exception: bitsandbytes'
double-quantized 4-bit state stores ``nested_offset`` (a float) as JSON text, whose length varies by a few
bytes per matrix (``NESTED_OFFSET_CHARS``).
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from paramscope.gcpause import gc_paused
from paramscope.knowledge.quant_selectors import (
    INC_REGEX_CHARS,
    autoround_override,
    modelopt_recipe,
    quark_kv_output,
    quark_spec,
    quark_weight,
    untrusted_regex,
)
from paramscope.knowledge.roles import Placement, place, without_layer
from paramscope.model import Tensor
from paramscope.model.dtypes import DType
from paramscope.model.quantization import Quantization
from paramscope.records import field, record, replace

# bitsandbytes: Params4bit(blocksize=64) and the nested quantization of absmax in blocks of 256
# (bitsandbytes/functional.py quantize_4bit, compress_statistics=True → quantize_blockwise(blocksize=256)).
BNB4_BLOCK, BNB4_NESTED_BLOCK, BNB4_CODE = 64, 256, 16
# QuantState.as_dict(packed=True) serializes the non-tensor fields with json.dumps; nested_offset is
# absmax.mean().item(), a float32 widened to a Python float, whose repr takes 16–21 characters
# ("0.10000000149011612"). It is data (the mean of the weights' block scales), so no config gives it; 19
# is the best whole length: real files average 19.15 (Llama 2 13B index, 280 matrices), 18.83 and 19.16
# (tests/fixtures/quantized_totals/single_files.json, 192 and 64 matrices).
NESTED_OFFSET_CHARS = 19
# BitNet b1.58: four ternary weights (2 bits each) a byte, along the output rows (VALUES_PER_ITEM)
BITNET_PER_BYTE = 4
# ModelOpt's NVFP4 group (its default), FP8 block side and MXFP8 block (OCP MX: 32 values a scale)
MODELOPT_NVFP4_GROUP, MODELOPT_FP8_BLOCK, MXFP8_BLOCK = 16, 128, 32
# vLLM / transformers names for the model dtypes a quantizer writes into its own metadata
TORCH_NAMES = {DType.F16: "float16", DType.BF16: "bfloat16", DType.F32: "float32"}
# Families whose MoE router is a bare nn.Parameter, not an nn.Linear, so no Linear-replacing quantizer
# touches it: DeepseekV3MoE's MoEGate (modeling_deepseek_v3.py), GptOssTopKRouter (modeling_gpt_oss.py).
ROUTER_NOT_LINEAR = frozenset({"deepseek_v2", "deepseek_v3", "deepseek_v32", "glm_moe_dsa", "kimi_k2",
                               "gpt_oss"})
# Families whose fused 3-D expert weights are input-major, (experts, in, out), unlike nn.Linear's (out, in):
# Llama4TextExperts and GptOssExperts build gate_up_proj (E, hidden, 2·ffn) and down_proj (E, ffn, hidden)
# (modeling_llama4.py, modeling_gpt_oss.py; families/decoder.py _llama4, _gpt_oss). Every other fused
# expert tensor listed is (experts, out, in) (transformers 5's MoE experts, Qwen3-VL-MoE, GLM-4.5V).
EXPERTS_INPUT_MAJOR = frozenset({"llama4", "llama4_text", "gpt_oss"})
# mlx-lm's own modules: its DeepSeek-style MoE keeps the router as a bare array (models/deepseek_v3.py
# MoEGate: ``self.weight = mx.zeros((n_routed_experts, hidden_size))``), which has no ``to_quantized`` and
# stays in the model dtype; the Mistral-4 text model (mistral4, the same MoE and MLA, stored with mlx-lm's
# switch_mlp / embed_q / unembed_out names) does too: a Mistral-4 MLX 4-bit index holds mlp.gate.weight
# without scales, and its total_size is the listing's only so (tests/fixtures/quantized_totals/
# quantized_oos.json). gpt-oss's mlx-lm router is an nn.Linear (quantized), unlike transformers'.
MLX_ROUTER_NOT_LINEAR = (ROUTER_NOT_LINEAR - {"gpt_oss"}) | {"mistral4"}
# Linear layers the block-FP8 release format leaves in the model dtype: the DeepSeek-V3.2 sparse-attention
# indexer's weights_proj (DeepSeek-V3.2's inference/model.py builds it in the default dtype, not FP8; vLLM's
# models/deepseek_v2.py Indexer and SGLang's NSA indexer load it with quant_config=None). DeepSeek-V3.2's
# and GLM-5.1-FP8's files store it in bfloat16 beside their FP8 wq_b and wk (gogongxt/python model
# reports; tests/fixtures/weight_tables/glm_5.1_fp8.json). Other methods may quantize it: llm-compressor's
# GLM-5 W4A16 stores weights_proj.weight_packed (tests/fixtures/quantized_totals/first_names.json).
FP8_NOT_QUANTIZED: dict[str, tuple[str, ...]] = {
    "deepseek_v32": (".self_attn.indexer.weights_proj.weight",),
    "glm_moe_dsa": (".self_attn.indexer.weights_proj.weight",),
}
# BitsAndBytesConfig.bnb_4bit_quant_storage: the dtype the packed bytes are viewed as (FSDP-QLoRA: bf16)
BNB4_STORAGE = {"uint8": DType.U8, "int8": DType.I8, "bfloat16": DType.BF16, "float16": DType.F16,
                "float32": DType.F32}
MXFP4_BLOCK = 32  # OCP MX: one E8M0 scale per 32 weights, two E2M1 weights per byte


@record
class Matrix:
    """One weight a layout stores: its module path, (…, out, in) and the settings it is quantized with."""

    module: str  # "model.layers.0.self_attn.q_proj"; a fused expert tensor's own name for MXFP4
    lead: tuple[int, ...]  # leading dims (experts) of a fused 3-D weight
    out: int
    inn: int
    dtype: DType  # the model dtype the weight had before quantization
    bits: int
    group: int  # weights per scale along the input; 0: one scale per output row
    opts: Mapping[str, Any] = field(default_factory=dict)  # method-specific settings (format, storage …)

    @property
    def n(self) -> int:
        return math.prod(self.lead) * self.out * self.inn

    @property
    def groups(self) -> int:
        return math.ceil(self.inn / self.group) if self.group else 1

    @property
    def pack(self) -> int:
        """Weights per 32-bit container."""
        return 32 // self.bits


ShapeFn = Callable[[Matrix], tuple[int, ...]]
DTypeFn = Callable[[Matrix], DType]


@record
class Piece:
    """One stored tensor of a quantized weight: ``module + suffix``."""

    suffix: str
    dtype: DType | DTypeFn
    shape: ShapeFn
    packed: bool = False  # holds the weights themselves (counts their parameters)
    when: Callable[[Matrix], bool] = lambda m: True

    def tensor(self, m: Matrix) -> Tensor | None:
        if not self.when(m):
            return None
        dtype = self.dtype(m) if callable(self.dtype) else self.dtype
        shape = self.shape(m)
        elements = math.prod(shape) * dtype.block_size
        nbytes = dtype.nbytes(elements)
        # the width each weight takes in the container (MLX's and GPTQ's 3-bit words: 3)
        width = nbytes * 8 // m.n if self.packed else 0
        if self.packed and width * m.n != nbytes * 8:
            raise ValueError(f"{m.module}: {m.n} weights do not fill {elements} {dtype.value} elements")
        return Tensor(m.module + self.suffix, shape, dtype, nbytes, weight_bits=width,
                      is_parameter=self.packed)


@record
class Layout:
    method: str  # Quantization.method, or "method:variant" for formats with several layouts
    pieces: tuple[Piece, ...]
    source: str  # where the stored layout is defined
    bias: DType | None = None  # the bias of a quantized module is stored in this dtype (GPTQ/AWQ: F16)


def _bnb4_state(m: Matrix) -> tuple[int, ...]:
    """QuantState.as_dict(packed=True)["quant_state.bitsandbytes__<type>"]: the JSON of the non-tensor
    fields as a uint8 tensor (bitsandbytes/utils.py pack_dict_to_tensor)."""
    fields: dict[str, Any] = {"quant_type": m.opts["quant_type"], "blocksize": BNB4_BLOCK,
                              "dtype": TORCH_NAMES[m.dtype], "shape": [m.out, m.inn]}
    if m.opts["double"]:
        fields |= {"nested_blocksize": BNB4_NESTED_BLOCK, "nested_dtype": "float32", "nested_offset": 0}
        return (len(json.dumps(fields)) - 1 + NESTED_OFFSET_CHARS,)
    return (len(json.dumps(fields)),)


def _bnb4_blocks(m: Matrix) -> int:
    return math.ceil(m.n / BNB4_BLOCK)


def _double(m: Matrix) -> bool:
    return bool(m.opts["double"])


def _storage(m: Matrix) -> DType:
    return m.opts["storage"]


def _bnb4_weight(m: Matrix) -> tuple[int, ...]:
    # Params4bit: two 4-bit codes per byte, flattened to (bytes / itemsize of bnb_4bit_quant_storage, 1)
    storage: DType = m.opts["storage"]
    return (math.ceil(m.n / 2) // storage.type_size, 1)


def _scale_dtype(m: Matrix) -> DType:
    return m.opts.get("scale_dtype") or m.dtype


def _ct_scale_shape(m: Matrix) -> tuple[int, ...]:
    """compressed-tensors weight_scale by strategy (quantization/lifecycle/initialize.py)."""
    strategy = m.opts["strategy"]
    if strategy == "tensor":
        return (1,)
    if strategy == "block":
        b0, b1 = m.opts["block"]
        return (math.ceil(m.out / b0), math.ceil(m.inn / b1))
    if strategy in ("group", "tensor_group"):
        return (m.out, m.groups)
    return (m.out, 1)  # channel


def _asymmetric(m: Matrix) -> bool:
    return not m.opts.get("symmetric", True)


def _packed_zero_point(m: Matrix) -> tuple[int, ...]:
    # pack_to_int32(weight_zero_point, num_bits, packed_dim=0) for group/channel strategies
    return (math.ceil(m.out / m.pack), m.groups)


def _group_order(m: Matrix) -> bool:
    return m.opts.get("actorder") == "group"


def _kv_output(m: Matrix) -> bool:
    return bool(m.opts.get("kv_output"))


def _quark_scale_shape(m: Matrix) -> tuple[int, ...]:
    """A Quark FP8 or INT8 weight scale by qscheme: one (), one per output row, or one per 128 × 128 block."""
    scheme = m.opts.get("qscheme")
    if scheme == "per_channel":
        return (m.out,)
    if scheme == "per_block":
        rows, cols = m.opts.get("block") or (MODELOPT_FP8_BLOCK, MODELOPT_FP8_BLOCK)
        return (math.ceil(m.out / rows), math.ceil(m.inn / cols))
    return ()


def _static_input(m: Matrix) -> bool:
    return bool(m.opts.get("static_input"))


def _mlx_affine(m: Matrix) -> bool:
    return m.opts.get("mode", "affine") == "affine"


def _mlx_scale_dtype(m: Matrix) -> DType:
    return m.dtype if _mlx_affine(m) else DType.U8  # mxfp4 mode: E8M0 scales stored as uint8


def _lead(m: Matrix, *shape: int) -> tuple[int, ...]:
    return (*m.lead, *shape)


def _awq_zeros_width(m: Matrix) -> int:
    """AutoAWQ gemv.py calculate_zeros_width: the groups of a row in int32 words, rounded up to 1, 2 or 4
    words for group sizes ≥ 128, 64, 32."""
    group = m.group or m.inn
    multiplier = 1 if group >= 128 else {64: 2, 32: 4}[group]
    words = -(-(m.inn // group) // m.pack)
    return -(-words // multiplier) * multiplier


# AutoAWQ / transformers AwqConfig versions stored as WQLinear_GEMM buffers (exllama and ipex load those)
AWQ_GEMM_VERSIONS = frozenset({"gemm", "exllama", "exllamav2", "ipex"})


# GPTQModel's pack_dtype: the integer qweight and qzeros are packed into (int32 unless the config says)
GPTQ_PACK = {"int8": DType.I8, "int16": DType.I16, "int32": DType.I32, "int64": DType.I64}


def _pack_dtype(m: Matrix) -> DType:
    return m.opts.get("pack", DType.I32)


def _pack_bits(m: Matrix) -> int:
    return 8 * _pack_dtype(m).type_size


def _static_asymmetric_input(m: Matrix) -> bool:
    return _static_input(m) and not m.opts.get("input_symmetric", True)


# NVFP4 as ModelOpt's unified export writes it and Quark's exporter copies: E2M1 pairs a byte, an E4M3
# scale per group of 16, one float32 second-level scale (the layouts differ in their side tensors)
_NVFP4_WEIGHT = (
    Piece(".weight", DType.U8, lambda m: (m.out, m.inn // 2), packed=True),
    Piece(".weight_scale", DType.F8_E4M3, lambda m: (m.out, m.inn // m.group)),
    Piece(".weight_scale_2", DType.F32, lambda m: ()),
)


LAYOUTS: dict[str, Layout] = {lay.method: lay for lay in (
    Layout("bitsandbytes_4bit", (
        Piece(".weight", _storage, _bnb4_weight, packed=True),
        Piece(".weight.absmax", lambda m: DType.U8 if m.opts["double"] else DType.F32,
              lambda m: (_bnb4_blocks(m),)),
        Piece(".weight.quant_map", DType.F32, lambda m: (BNB4_CODE,)),
        Piece(".weight.nested_absmax", DType.F32,
              lambda m: (math.ceil(_bnb4_blocks(m) / BNB4_NESTED_BLOCK),), when=_double),
        Piece(".weight.nested_quant_map", DType.F32, lambda m: (256,), when=_double),
        Piece("", DType.U8, _bnb4_state),  # suffix set per quant type in _bnb4_opts
    ), "bitsandbytes nn/modules.py Params4bit + functional.py QuantState.as_dict(packed=True); "
       "transformers integrations/bitsandbytes.py replace_with_bnb_linear"),
    Layout("bitsandbytes_8bit", (
        Piece(".weight", DType.I8, lambda m: (m.out, m.inn), packed=True),
        Piece(".SCB", DType.F32, lambda m: (m.out,)),
        Piece(".weight_format", DType.U8, lambda m: ()),
    ), "bitsandbytes nn/modules.py Int8Params (CB int8, SCB float32 per row) and "
       "Linear8bitLt._save_to_state_dict (weight_format, one uint8)"),
    Layout("gptq", (
        Piece(".qweight", _pack_dtype, lambda m: (m.inn // _pack_bits(m) * m.bits, m.out), packed=True),
        Piece(".qzeros", _pack_dtype, lambda m: (m.groups, m.out // _pack_bits(m) * m.bits)),
        Piece(".scales", DType.F16, lambda m: (m.groups, m.out)),
        Piece(".g_idx", DType.I32, lambda m: (m.inn,), when=lambda m: m.opts.get("g_idx", True)),
    ), "auto_gptq nn_modules/qlinear/qlinear_*.py QuantLinear.__init__; GPTQModel "
       "nn_modules/qlinear/__init__.py BaseQuantLinear (the same buffers, packed in pack_dtype)",
       bias=DType.F16),
    Layout("awq", (
        Piece(".qweight", DType.I32, lambda m: (m.inn, m.out // m.pack), packed=True),
        Piece(".qzeros", DType.I32, lambda m: (m.groups, m.out // m.pack)),
        Piece(".scales", DType.F16, lambda m: (m.groups, m.out)),
    ), "AutoAWQ awq/modules/linear/gemm.py WQLinear_GEMM.__init__", bias=DType.F16),
    Layout("auto-round:awq", (
        Piece(".qweight", DType.I32, lambda m: (m.inn, m.out * m.bits // 32), packed=True),
        Piece(".qzeros", DType.I32, lambda m: (m.groups, m.out * m.bits // 32)),
        Piece(".scales", DType.F16, lambda m: (m.groups, m.out)),
    ), "auto-round export_to_awq/utils.py WQLinear_GEMM (4 to 7 bits: SUPPORTED_AWQ_BITS, its output "
       "columns packed along int32 words)"),
    Layout("awq:gemv", (
        Piece(".qweight", DType.I32, lambda m: (m.out, m.inn // m.pack), packed=True),
        Piece(".qzeros", DType.I32, lambda m: (m.out, _awq_zeros_width(m))),
        Piece(".scales", DType.F16, lambda m: (m.out, _awq_zeros_width(m) * m.pack)),
    ), "AutoAWQ awq/modules/linear/gemv.py WQLinear_GEMV.__init__ (calculate_zeros_width pads the "
       "groups to whole words)", bias=DType.F16),
    Layout("mxfp4", (
        Piece("_blocks", DType.U8, lambda m: _lead(m, m.out, m.inn // MXFP4_BLOCK, MXFP4_BLOCK // 2),
              packed=True),
        Piece("_scales", DType.U8, lambda m: _lead(m, m.out, m.inn // MXFP4_BLOCK)),
    ), "openai/gpt-oss checkpoints as transformers integrations/mxfp4.py loads them: "
       "experts.{gate_up,down}_proj_blocks (E, out, in/32, 16) U8 and _scales (E, out, in/32) U8"),
    Layout("fp8", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale_inv", DType.F32, lambda m: (math.ceil(m.out / m.opts["block"][0]),
                                                        math.ceil(m.inn / m.opts["block"][1]))),
    ), "transformers integrations/finegrained_fp8.py FP8Linear (DeepSeek-V3 / Qwen3-FP8 weight_block_size)"),
    Layout("fp8:tensor", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.F32, lambda m: ()),
        Piece(".input_scale", DType.F32, lambda m: (), when=_static_input),
        Piece(".output_scale", DType.F32, lambda m: (), when=lambda m: bool(m.opts.get("output_scale"))),
    ), "AutoFP8 auto_fp8/quantize.py (FP8DynamicLinear / FP8StaticLinear: float32 scalar weight_scale, "
       "input_scale when activation_scheme is static, output_scale on the kv_cache_quant_layers) as vLLM "
       "layers/quantization/fp8.py reads it (no weight_block_size)"),
    Layout("fbgemm_fp8", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.F32, lambda m: (m.out, 1)),
    ), "transformers integrations/fbgemm_fp8.py FbgemmFp8Linear (per-channel float32 scale)"),
    Layout("compressed-tensors:pack-quantized", (
        Piece(".weight_packed", DType.I32, lambda m: (m.out, math.ceil(m.inn / m.pack)), packed=True),
        Piece(".weight_scale", _scale_dtype, _ct_scale_shape),
        Piece(".weight_zero_point", DType.I32, _packed_zero_point, when=_asymmetric),
        Piece(".weight_g_idx", DType.I32, lambda m: (m.inn,), when=_group_order),
        Piece(".weight_shape", DType.I64, lambda m: (2,)),
    ), "compressed-tensors compressors/quantized_compressors/pack_quantized.py (pack_to_int32, "
       "weight_shape = torch.tensor(shape))"),
    Layout("compressed-tensors:int-quantized", (
        Piece(".weight", DType.I8, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", _scale_dtype, _ct_scale_shape),
        Piece(".weight_zero_point", DType.I8, _ct_scale_shape, when=_asymmetric),
        Piece(".input_scale", _scale_dtype, lambda m: (1,), when=_static_input),
        Piece(".input_zero_point", DType.I8, lambda m: (1,), when=_static_asymmetric_input),
    ), "compressed-tensors compressors/quantized_compressors/int_quantized.py; base.py compress keeps "
       "zero points only for asymmetric args"),
    Layout("compressed-tensors:float-quantized", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", _scale_dtype, _ct_scale_shape),
        Piece(".input_scale", _scale_dtype, lambda m: (1,), when=_static_input),
    ), "compressed-tensors compressors/quantized_compressors/float_quantized.py"),
    Layout("compressed-tensors:nvfp4-pack-quantized", (
        Piece(".weight_packed", DType.U8, lambda m: (m.out, m.inn // 2), packed=True),
        Piece(".weight_scale", DType.F8_E4M3, lambda m: (m.out, m.groups)),
        Piece(".weight_global_scale", DType.F32, lambda m: (1,)),
        Piece(".input_global_scale", DType.F32, lambda m: (1,), when=lambda m: bool(m.opts.get("has_input"))),
    ), "compressed-tensors compressors/quantized_compressors/fp4_quantized.py (NVFP4: E2M1 pairs, "
       "FP8 scale per 16, float32 global scale)"),
    Layout("modelopt:nvfp4", (
        *_NVFP4_WEIGHT,
        Piece(".input_scale", DType.F32, lambda m: ()),
    ), "NVIDIA Model Optimizer's unified HF export (modelopt torch/export/quant_utils.py) as vLLM "
       "layers/quantization/modelopt.py ModelOptNvFp4LinearMethod.create_weights reads it: E2M1 pairs in "
       "uint8, an FP8 E4M3 weight_scale per 16 values, float32 scalars weight_scale_2 and input_scale"),
    Layout("modelopt:fp8", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.F32, lambda m: ()),
        Piece(".input_scale", DType.F32, lambda m: ()),
    ), "vLLM layers/quantization/modelopt.py ModelOptFp8LinearMethod.create_weights (per-tensor float32 "
       "weight_scale and input_scale)"),
    Layout("bitnet", (
        Piece(".weight", DType.U8, lambda m: (m.out // BITNET_PER_BYTE, m.inn), packed=True),
        Piece(".weight_scale", lambda m: m.dtype, lambda m: (1,)),
    ), "transformers integrations/bitnet.py BitLinear (and AutoBitLinear offline, whose checkpoints "
       "BitNetDeserialize unpacks): four ternary rows a uint8 row, one scale in the model dtype"),
    # AMD Quark's real_quantized exports (quark/torch/export: a quantizer's scale and zero_point saved as
    # <weight|input|output>_scale / _zero_point, a second quantizer's with "_2"), each as vLLM 0.34's
    # quark/schemes register them: FP8 (per tensor, channel or 128 × 128 block), INT8 (a zero point even
    # when symmetric), INT4/UINT4 per group (transposed, eight to an int32 along the outputs, the zero
    # points packed alike), OCP MX (MXFP4, MXFP6, MXFP8: an E8M0 scale per 32) and NVFP4; 0-d scales for a
    # static input and for the KV cache's k_proj / v_proj outputs (export.kv_cache_group)
    Layout("quark:fp8", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", lambda m: m.opts["scale_dtype"], lambda m: _quark_scale_shape(m)),
        Piece(".input_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_static_input),
        Piece(".output_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_kv_output),
    ), "Quark export (export/utils.py _fix_state_dict_key_on_save) as vLLM quark/schemes/quark_w8a8_fp8.py "
       "QuarkW8A8Fp8 / QuarkW8A8Fp8PerBlock register it"),
    Layout("quark:int8", (
        Piece(".weight", DType.I8, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", lambda m: m.opts["scale_dtype"], lambda m: _quark_scale_shape(m)),
        Piece(".weight_zero_point", DType.I8, lambda m: _quark_scale_shape(m)),
        Piece(".input_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_static_input),
        Piece(".input_zero_point", DType.I8, lambda m: (), when=_static_input),
        Piece(".output_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_kv_output),
    ), "Quark Pack_8_bits (the zero point saved for every INT type) as vLLM quark_w8a8_int8.py registers it"),
    Layout("quark:int4", (
        Piece(".weight", DType.I32, lambda m: (m.inn, m.out // 8), packed=True),
        Piece(".weight_scale", lambda m: m.opts["scale_dtype"], lambda m: (m.groups, m.out)),
        Piece(".weight_zero_point", DType.I32, lambda m: (m.groups, m.out // 8)),
        Piece(".output_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_kv_output),
    ), "Quark Pack_4_bits per group (transposed, eight 4-bit values an int32) as vLLM quark_w4a16_int4.py "
       "QuarkW4A16Int4 registers it"),
    Layout("quark:mx", (
        Piece(".weight", lambda m: DType.F8_E4M3 if m.bits == 8 else DType.U8,
              lambda m: (m.out, m.inn * m.bits // 8), packed=True),
        Piece(".weight_scale", DType.U8, lambda m: (m.out, m.inn // MXFP8_BLOCK)),
        Piece(".input_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_static_input),
        Piece(".output_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_kv_output),
    ), "Quark Pack_fp4 / Pack_fp6 and the E8M0 scales (realquantizer.py to_e8m0_uint8) as vLLM "
       "quark_ocp_mx.py QuarkOCP_MX and quark_w4a8_mxfp4_fp8.py register them"),
    Layout("quark:nvfp4", (
        *_NVFP4_WEIGHT,
        Piece(".input_scale_2", DType.F32, lambda m: (), when=_static_input),
        Piece(".output_scale", lambda m: m.opts["scale_dtype"], lambda m: (), when=_kv_output),
    ), "Quark's two-level NVFP4 (an FP8 E4M3 scale per 16, a float32 global scale) as vLLM quark_nvfp4.py "
       "QuarkNVFP4 registers it"),
    # the per-layer algorithms of ModelOpt's MIXED_PRECISION besides FP8 and NVFP4 (vLLM 0.34 modelopt.py
    # LINEAR_ALGOS and their QuantKeySchemes' create_weights: KFp8StaticChannel, KFp8Block128, KMxfp8Static)
    Layout("modelopt:fp8_channel", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.F32, lambda m: (m.out,)),
    ), "vLLM modelopt.py KFp8StaticChannel (FP8_PER_CHANNEL_PER_TOKEN: a float32 scale per output row, the "
       "activations scaled per token at run time)"),
    Layout("modelopt:fp8_block", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.F32, lambda m: (math.ceil(m.out / MODELOPT_FP8_BLOCK),
                                                     math.ceil(m.inn / MODELOPT_FP8_BLOCK))),
    ), "vLLM modelopt.py KFp8Block128 (FP8_PB_WO: weight-only FP8 with a float32 scale per 128 × 128 "
       "block)"),
    Layout("modelopt:mxfp8", (
        Piece(".weight", DType.F8_E4M3, lambda m: (m.out, m.inn), packed=True),
        Piece(".weight_scale", DType.U8, lambda m: (m.out, m.inn // MXFP8_BLOCK)),
    ), "vLLM modelopt.py KMxfp8Static (MXFP8: E4M3 weights with an E8M0 scale, stored as uint8, per 32 "
       "values of a row)"),
    Layout("mlx", (
        Piece(".weight", DType.U32, lambda m: _lead(m, m.out, m.inn * m.bits // 32), packed=True),
        Piece(".scales", _mlx_scale_dtype, lambda m: _lead(m, m.out, m.groups)),
        Piece(".biases", lambda m: m.dtype, lambda m: _lead(m, m.out, m.groups), when=_mlx_affine),
    ), "mlx core quantize (packed uint32 weights; scales and biases per group) as mlx_lm utils.py "
       "quantize_model applies it to nn.Linear and nn.Embedding"),
)}
# compressed-tensors formats whose stored weight is the plain quantized tensor
LAYOUTS["compressed-tensors:naive-quantized"] = LAYOUTS["compressed-tensors:int-quantized"]


@record
class Stored:
    tensors: tuple[Tensor, ...]
    notes: tuple[str, ...] = ()


@gc_paused
def as_stored(tensors: Sequence[Tensor], q: Quantization | None, model_type: str = "",
              text_model_type: str = "") -> Stored:
    """The tensors a checkpoint quantized by ``q`` stores, from the logical list a config gives.

    A method or format with no row keeps the logical tensors, with a note saying so."""
    if q is None or q.method == "gguf":
        return Stored(tuple(tensors))
    rule = RULES.get(q.method)
    if rule is None:
        return Stored(tuple(tensors), (f"{q.label}: no stored layout known for quant_method {q.method!r}; "
                                       "tensors listed and priced as unquantized",))
    unlisted = (_gptq_unlisted(q) if q.method == "gptq" else _awq_unlisted(q) if q.method == "awq"
                else _autoround_unlisted(q) if q.method in AUTOROUND_METHODS
                else _quark_unlisted(q) if q.method == "quark"
                else "use_rms_norm adds a norm to every BitLinear, not modelled"
                if q.method == "bitnet" and q.config.get("use_rms_norm") else None)
    if unlisted:
        return Stored(tuple(tensors), (f"{q.label}: {unlisted}; tensors listed and priced as unquantized",))
    out: list[Tensor] = []
    quantized: set[str] = set()
    float_scales: list[Tensor] = []
    types = {model_type, text_model_type}  # a multimodal config's own and its text_config's
    ctx = Ctx(model_type not in ROUTER_NOT_LINEAR, bool(types & EXPERTS_INPUT_MAJOR),
              not types & MLX_ROUTER_NOT_LINEAR)
    kept = FP8_NOT_QUANTIZED.get(model_type, ()) if q.method == "fp8" else ()
    skipped = _exclusion(q.excluded) if q.method in EXCLUDING and q.excluded else None
    # A rule's pick holds for the same tensor in every layer (_alike_in_every_layer), so it is made once per
    # tensor of the first layer and replayed under the other names: DeepSeek-V3 lists 45k logical tensors
    # of ~800 kinds. The exclusions, which may name one layer, are tested name by name.
    kinds: dict[tuple[Any, ...], _Kind | None] | None = {} if _alike_in_every_layer(q) else None
    for t in tensors:
        if kinds is None:
            kind = _pick(q, rule, t, ctx, kept)
        else:
            key = (without_layer(t.name), t.shape, t.dtype)
            kind = kinds.get(key, _UNSEEN)
            if kind is _UNSEEN:
                kind = kinds[key] = _pick(q, rule, t, ctx, kept)
        if kind is None:
            out.append(t)
            continue
        module = t.name[:len(t.name) - kind.cut]
        if skipped is not None and skipped(module):
            out.append(t)
            continue
        quantized.add(module)
        for suffix, piece in kind.pieces:
            stored = Tensor(module + suffix, piece.shape, piece.dtype, piece.nbytes, None, None,
                            piece.weight_bits, piece.is_parameter)
            out.append(stored)
            if kind.float_scale and suffix == ".weight_scale":
                float_scales.append(stored)
    bias_dtypes = {lay.bias for lay in LAYOUTS.values()
                   if lay.method.split(":")[0] == q.method and lay.bias is not None}
    if q.method in AUTOROUND_METHODS:
        bias_dtypes = {DType.F16}  # its packers keep a quantized layer's bias as linear.bias.half()
    if bias_dtypes:
        dtype = next(iter(bias_dtypes))
        out = [_retype(t, dtype) if t.name.endswith(".bias") and t.name[:-5] in quantized else t for t in out]
    notes: tuple[str, ...] = ()
    if q.method == "awq":
        # AutoAWQ quantizes through the repository's own modeling code (DeepSeek-V3's modeling_deepseek.py:
        # MoEGate.e_score_correction_bias, an nn.Parameter in the model dtype), not transformers' float32
        # buffer, so the router's score bias is stored at 2 bytes: the 74-shard DeepSeek-V3 AWQ index's
        # total_size holds 58 × 256 of them so (tests/fixtures/quantized_totals/index_totals.json)
        gates = {t.name: t.dtype for t in tensors if t.name.endswith(".gate.weight")}
        out = [_retype(t, gates.get(t.name.removesuffix("e_score_correction_bias") + "weight", t.dtype))
               if t.name.endswith(".e_score_correction_bias") else t for t in out]
    if q.method == "mlx":
        # mlx_lm convert casts parameters to the model dtype through the model's cast_predicate, which keeps
        # the Gated DeltaNet's A_log out (mlx_lm/models/qwen3_5.py: ``if path.endswith("A_log"): return
        # False``), and A_log starts float32 (mx.log of a float32 uniform): Qwen3.5-9B MLX 8-bit and a
        # Qwen3.5-2B MLX bf16 conversion both hold it so, 2 bytes per element more than in the model dtype
        # (tests/fixtures/quantized_totals/out_of_sample.json). Mamba mixers' A_log is left as listed: not
        # every mlx_lm model keeps it out of the cast, and no file here shows which do.
        out = [_retype(t, DType.F32) if t.name.endswith("linear_attn.A_log") else t for t in out]
        logs = [t for t in out if t.name.endswith("linear_attn.A_log")]
        notes = ((f"{q.label}: {len(logs)} linear-attention A_log tensors listed in float32 (mlx-lm's "
                  "cast_predicate keeps them so); a converter that casts them to the model dtype (a "
                  "Qwen3.5-27B MLX mixed 4/8-bit file does) holds "
                  f"{sum(t.nbytes for t in logs) // 2:,} bytes fewer",) if logs else ())
    if q.method == "gptq":
        notes = _gptq_bias_note(q, tensors, quantized)
    if q.method == "fp8" and q.block_shape:
        # DeepSeek's FP8 release format keeps the router's score bias in float32 (its inference/model.py:
        # Gate.bias = nn.Parameter(torch.empty(n_routed_experts, dtype=torch.float32)): the Hub counts
        # 41,555,600 F32 values in DeepSeek-V3 = its weight_scale_inv plus 59 × 256 of these). The
        # DeepSeek-style rows (families/decoder.py _deepseek) already list it so; this holds the other MoE
        # rows' biases (MiniMax-M2, ERNIE-4.5, EXAONE-MoE) to the same in their FP8 releases, which no real
        # file here checks yet
        out = [_retype(t, DType.F32) if t.name.endswith(".e_score_correction_bias") else t for t in out]
        notes = _fp8_scale_note(q, out)
    if float_scales:
        notes = _float_scale_note(q, float_scales)
    if q.method == "quark":
        in_model_dtype = any(t.name.endswith(("_scale", "_zero_point")) and t.dtype in MODEL_SCALE_DTYPES
                             for t in out)
        notes = _quark_unpriced(q) + (_quark_scale_note(q) if in_model_dtype else ())
    if q.method == "compressed-tensors" and isinstance(q.config.get("kv_cache_scheme"), Mapping):
        before = len(out)
        out = _with_kv_scales(out, tensors)
        if len(out) > before and not q.config.get("version"):
            # releases before the config carried its version put the kv-cache observers on the k/v
            # projections' outputs: the same bytes under other names
            notes = (f"{q.label}: kv_cache_scheme scales listed as <attention>.k_scale / v_scale; files from "
                     "older compressed-tensors (no version in the config) name them k_proj.output_scale / "
                     "v_proj.output_scale (same bytes)",)
    return Stored(tuple(out), notes)


# GPTQ checkpoint formats stored as QuantLinear buffers (gptq_v2 differs only in the zero-point values);
# marlin, bitblas, ipex … repack the weights into layouts of their own.
GPTQ_FORMATS = frozenset({"gptq", "gptq_v2"})


_UNSEEN: Any = object()


@record
class _Kind:
    """How a method stores one logical tensor, by name suffix: its module (the name less ``cut``
    characters: ``.weight``, or none) and the pieces stored for it, named module + suffix."""

    cut: int
    pieces: tuple[tuple[str, Tensor], ...]
    float_scale: bool  # compressed-tensors float-quantized: its weight_scale dtype is noted (as_stored)


def _pick(q: Quantization, rule: Rule, t: Tensor, ctx: Ctx, kept: tuple[str, ...]) -> _Kind | None:
    """How ``t`` is stored if the config's exclusions leave it to the method; None: as listed."""
    if kept and t.name.endswith(kept):
        return None
    m, layout = rule(q, t, place(t.name), ctx)
    if m is None or layout is None:
        return None
    if not t.name.startswith(m.module):  # every rule names a matrix by its tensor's name less a suffix
        raise ValueError(f"{t.name}: quantized as {m.module}, not a prefix of its name")
    pieces = tuple((piece.suffix, stored) for piece in _pieces(layout, m)
                   if (stored := piece.tensor(m)) is not None)
    return _Kind(len(t.name) - len(m.module), pieces, layout.method == "compressed-tensors:float-quantized")


def _alike_in_every_layer(q: Quantization) -> bool:
    """Whether a rule picks alike (exclusions aside) for tensors that differ only in their layer index.

    A rule reads a tensor's name through its placement (alike but for the layer, which rules only test
    for None: roles.without_layer), its suffix, and the module names its config lists: GPTQ's
    modules_in_block_to_quantize and ``dynamic`` regular expressions, MLX's per-module settings,
    compressed-tensors' targets. A listed name without digits, regular expression or one-character
    wildcard matches a module in every layer or in none; any other may name one layer (``dynamic``
    "-:model\\.layers\\.1\\..*", an MLX setting for "model.layers.0.mlp.gate"), and then each tensor is
    picked by its own name."""
    if q.method == "gptq":
        if _dynamic(q.config.get("dynamic")):
            return False
        names = _block_names(q.config.get("modules_in_block_to_quantize"))
    elif q.method == "mlx":
        names = [str(k) for k in q.config]
    elif q.method == "compressed-tensors":
        names = [x for group in _config_groups(q) for x in _targets(group)]
    elif q.method == "modelopt":
        names = [str(k) for k in _modelopt_layers(q)]
    elif q.method in AUTOROUND_METHODS:
        extra = q.config.get("extra_config")
        names = [*(str(k) for k in extra), *_autoround_blocks(q)] if isinstance(extra, Mapping) else [
            *_autoround_blocks(q)]
        if any(INC_REGEX_CHARS & set(n) for n in names):
            return False
    elif q.method == "quark":
        layers, export = q.config.get("layer_quant_config"), q.config.get("export")
        groups = export.get("kv_cache_group") if isinstance(export, Mapping) else None
        names = [*map(str, q.excluded), *(map(str, layers) if isinstance(layers, Mapping) else ()),
                 *(map(str, groups) if isinstance(groups, list) else ())]
    else:
        names = []
    return not any(n.startswith("re:") or any(c.isdigit() or c in "?[" for c in n) for n in names)


def _gptq_unlisted(q: Quantization) -> str | None:
    """Why a GPTQ config's stored tensors cannot be listed, or None."""
    fmt = str(q.config.get("checkpoint_format") or "gptq").lower()
    if fmt not in GPTQ_FORMATS:
        return f"no stored layout known for GPTQ checkpoint_format {fmt!r}"
    pack_name = str(q.config.get("pack_dtype") or "int32").removeprefix("torch.")
    pack = GPTQ_PACK.get(pack_name)
    if pack is None:
        return f"no stored layout known for GPTQ pack_dtype {pack_name!r}"
    return None


def _awq_unlisted(q: Quantization) -> str | None:
    version = str(q.config.get("version") or "gemm").lower()
    if version not in AWQ_GEMM_VERSIONS | {"gemv"}:
        return f"no stored layout known for AWQ version {version!r}"
    group = q.group_size or 128
    if version == "gemv" and ((q.bits or 4) != 4 or (group < 128 and group not in (32, 64))):
        return f"AutoAWQ's GEMV packs only 4-bit weights in groups of 32, 64 or ≥ 128, not {q.label}"
    return None


def _gptq_bias_note(q: Quantization, logical: Sequence[Tensor], quantized: set[str]) -> tuple[str, ...]:
    """Older AutoGPTQ and optimum built every QuantLinear with ``bias=True`` (make_quant, optimum
    GPTQQuantizer._replace_by_quant_layers), so their files hold a float16 zero bias for each quantized
    linear that had none (Qwen/Qwen-VL-Chat-Int4 stores mlp.w1.bias though Qwen has no_bias; TheBloke's
    2023 files hold them, tests/fixtures/quantized_totals/single_files.json); later AutoGPTQ
    (``bias = submodule.bias is not None``), GPTQModel and newer optimum copy the module's own bias flag, and
    only GPTQModel-era configs are signed (meta.quantizer): Qwen2.5-14B-Instruct-GPTQ-Int4, unsigned, holds
    no such bias (QwenLM/Qwen3 issue #930). An unsigned config cannot say which, so the difference is
    stated, not guessed."""
    meta = q.config.get("meta")
    signed = q.config.get("quantizer") or (meta.get("quantizer") if isinstance(meta, Mapping) else None)
    if signed:
        return ()
    biased = {t.name[:-5] for t in logical if t.name.endswith(".bias")}
    missing = [t for t in logical if t.name.endswith(".weight") and t.name[:-7] in quantized
               and t.name[:-7] not in biased]
    if not missing:
        return ()
    extra = sum(DType.F16.nbytes(t.shape[-2]) for t in missing)
    return (f"{q.label}: a file written by older AutoGPTQ or optimum (its config carries no meta.quantizer) "
            f"also stores a float16 zero bias for each quantized linear without one: {len(missing)} more "
            f"tensors, {extra:,} bytes more than listed",)


def _fp8_scale_note(q: Quantization, out: Sequence[Tensor]) -> tuple[str, ...]:
    """Block-scaled FP8 checkpoints do not agree on the dtype of ``weight_scale_inv`` and the config does not
    say it: DeepSeek-V3/R1's files and transformers' FP8Linear hold float32, Qwen's FP8 releases bfloat16
    (Qwen3-1.7B-FP8 and Qwen3-32B-FP8, read from their headers: modular issue #7142, HabanaAI vllm-fork #2141)
    or float16 (Qwen3-4B-Instruct-2507-FP8: lmdeploy #4276). The listing keeps float32; the note gives the
    difference."""
    scales = [t for t in out if t.name.endswith(".weight_scale_inv")]
    if not scales:
        return ()
    half = sum(t.nbytes for t in scales) // 2
    return (f"{q.label}: weight_scale_inv listed in float32 (DeepSeek-V3/R1, transformers' FP8Linear); "
            f"checkpoints that store them in bfloat16 or float16 (Qwen's FP8 releases) hold {half:,} bytes "
            f"less ({len(scales):,} scale tensors)",)


def _float_scale_note(q: Quantization, scales: Sequence[Tensor]) -> tuple[str, ...]:
    """compressed-tensors creates an FP8 weight's ``weight_scale`` in the weight's dtype (quantization/
    lifecycle/initialize.py), and llm-compressor's files keep it so; zai-org's GLM-4.5-FP8 (float-quantized,
    channel) stores float32 scales with a config that does not say so (tests/fixtures/weight_tables/
    glm_4.5_fp8.json). The listing keeps the model dtype; the note gives the difference."""
    two_byte = [t for t in scales if t.dtype in (DType.BF16, DType.F16)]
    if not two_byte:
        return ()
    more = sum(t.nbytes for t in two_byte)
    return (f"{q.label}: weight_scale listed in the model dtype (compressed-tensors, llm-compressor); "
            f"checkpoints that store them in float32 (GLM-4.5-FP8) hold {more:,} bytes more "
            f"({len(two_byte):,} scale tensors)",)


def _with_kv_scales(out: list[Tensor], logical: Sequence[Tensor]) -> list[Tensor]:
    """compressed-tensors ``kv_cache_scheme``: every attention module (one holding k_proj, v_proj or
    qkv_proj) gets ``k_scale`` and ``v_scale``, one value each in the module's dtype
    (quantization/lifecycle/initialize.py _initialize_attn_scales), placed after the module's tensors."""
    dtypes: dict[str, DType] = {}
    for t in logical:
        parent, _, leaf = t.name.removesuffix(".weight").rpartition(".")
        if t.name.endswith(".weight") and leaf in ("k_proj", "v_proj", "qkv_proj") and parent:
            dtypes.setdefault(parent, t.dtype)
    last = {}
    for i, t in enumerate(out):  # a tensor of the attention module itself, or of one of its children
        for parent in (t.name.rsplit(".", 1)[0], t.name.rsplit(".", 2)[0]):
            if parent in dtypes:
                last[parent] = i
    extra: dict[int, list[Tensor]] = {}
    for parent, dtype in dtypes.items():
        extra.setdefault(last[parent], []).extend(
            Tensor(f"{parent}.{kind}", (1,), dtype, dtype.nbytes(1), is_parameter=False)
            for kind in ("k_scale", "v_scale"))
    return [x for i, t in enumerate(out) for x in (t, *extra.get(i, ()))]


def _pieces(layout: Layout, m: Matrix) -> tuple[Piece, ...]:
    if layout.method != "bitsandbytes_4bit":
        return layout.pieces
    *head, state = layout.pieces
    return (*head, replace(state, suffix=f".weight.quant_state.bitsandbytes__{m.opts['quant_type']}"))


def _retype(t: Tensor, dtype: DType) -> Tensor:
    return replace(t, dtype=dtype, nbytes=dtype.nbytes(t.n_elements))


# --- which modules each method quantizes --------------------------------------------------------------
# A rule picks the weights a method quantizes and how. The config's exclusions (modules_to_not_convert,
# llm_int8_skip_modules, ignore: ``q.excluded``) are tested by as_stored on the picked matrix's module
# for the methods in EXCLUDING, so that a pick can be made once for the same tensor of every layer;
# MLX lists the modules its config sets to False, which _mlx reads itself (the exact module, not
# ``excluded``'s dotted runs).
Picked = tuple[Matrix | None, Layout | None]


@record
class Ctx:
    """What a rule knows of the model beyond the tensor: from its model_type, once per listing."""

    routers_linear: bool  # the MoE router is an nn.Linear (not ROUTER_NOT_LINEAR)
    experts_input_major: bool  # fused expert weights are (experts, in, out) (EXPERTS_INPUT_MAJOR)
    mlx_routers_linear: bool  # mlx-lm's router is an nn.Linear (not MLX_ROUTER_NOT_LINEAR)


Rule = Callable[[Quantization, Tensor, Placement, Ctx], Picked]
NONE: Picked = (None, None)


# nn.Embedding tables the roles do not call "embedding" (it stays the token table a tied head shares), by
# the module's last name: Gemma 3n's and Gemma 4's per-layer table (Google's gemma-4-E4B-it-qat-w4a16-ct
# keeps embed_tokens_per_layer [262144, 10752] in bf16 beside its int4 Linears, per_layer_model_projection
# among them: tests/fixtures/engine_logs/configs/README.md), Mamba's backbone.embeddings, T5's and BART's
# shared table and T5's relative_attention_bias, BLT's hash embeddings, the towers' position and tile
# embeddings (SigLIP's position_embedding, Qwen3-VL's pos_embed, mllama's tile tables), MPNet's
# rel_pos_emb. A Linear-targeting scheme leaves every one in the model's type
EMBEDDING_MODULE = re.compile(
    r"(^|\.)(?!patch_)(shared|relative_attention_bias|rel_pos_emb|pos_embed|embed_positions|"
    r"embed_tokens(_per_layer)?|[a-z_]*embeddings?)$")  # not a patch_embedding: SigLIP2's is a Linear


def _linear(t: Tensor, p: Placement, routers_linear: bool) -> bool:
    """An nn.Linear weight: a 2-D ``.weight`` that is not an embedding, a norm, or a parameter router."""
    if not t.name.endswith(".weight") or len(t.shape) != 2 or p.role != "weight":
        return False
    if EMBEDDING_MODULE.search(t.name[: -len(".weight")]):
        return False
    top = p.component.split("/")[0]
    if top in ("embedding", "norm"):
        return False
    return routers_linear or top != "router"


def _in_blocks(p: Placement) -> bool:
    """Inside the decoder's repeated blocks (what GPTQ and AWQ walk), not towers or the head."""
    return p.layer is not None and p.component.split("/")[0] not in ("vision", "audio", "projector", "output")


def excluded(module: str, patterns: Sequence[str]) -> bool:
    """transformers' rule for modules_to_not_convert / llm_int8_skip_modules / compressed-tensors ignore:
    a name is skipped when a pattern equals it or one of its dotted parts runs (``lm_head``, ``gate``,
    ``model.layers.0.mlp``), matches it as a glob (gpt-oss ``model.layers.*.self_attn``), or, with ``re:``,
    as a regular expression from the start (compressed-tensors)."""
    return _exclusion(patterns)(module)


# One matcher per pattern list (keyed by the list itself: a Quantization's excluded tuple). GLM-4.5-FP8
# ignores 839 modules by name; testing each of its 88,000 tensors against every pattern took ~20 s, while
# the runs of a name's dotted parts (21 for six parts) are looked up in a set.
_MATCHERS: dict[int, tuple[Sequence[str], Callable[[str], bool]]] = {}


def _exclusion(patterns: Sequence[str]) -> Callable[[str], bool]:
    cached = _MATCHERS.get(id(patterns))
    if cached is not None and cached[0] is patterns:
        return cached[1]
    plain = frozenset(p for p in patterns if not p.startswith("re:") and "*" not in p)
    # every leading run of a plain pattern's parts: a run of the module's parts that is none of these
    # cannot grow into a pattern, so each start stops at its first miss (a few set lookups a name, not
    # the joins of all its 21-36 runs)
    heads = frozenset(".".join(ps[:k]) for ps in (p.split(".") for p in plain) for k in range(1, len(ps) + 1))
    compiled = (untrusted_regex(p[3:]) for p in patterns if p.startswith("re:"))
    regexes = tuple(rx for rx in compiled if rx is not None)  # an unusable expression matches nothing
    globs = tuple(p for p in patterns if not p.startswith("re:") and "*" in p)

    def test(module: str) -> bool:
        if plain:
            # a pattern is skipped when it equals a run of the module's dotted parts
            parts = module.split(".")
            for i, run in enumerate(parts):
                j = i + 1
                while run in heads:
                    if run in plain:
                        return True
                    if j == len(parts):
                        break
                    run += "." + parts[j]
                    j += 1
        if any(rx.match(module) for rx in regexes):
            return True
        return any(fnmatch.fnmatchcase(module, g) or fnmatch.fnmatchcase(module, g + ".*") for g in globs)

    if len(_MATCHERS) > 64:
        _MATCHERS.clear()
    _MATCHERS[id(patterns)] = (patterns, test)
    return test


def _matrix(t: Tensor, module: str, bits: int, group: int | None, **opts: Any) -> Matrix:
    out, inn = t.shape[-2], t.shape[-1]
    return Matrix(module, tuple(t.shape[:-2]), out, inn, t.dtype, bits, group or 0, opts)


def _module(t: Tensor) -> str:
    return t.name.removesuffix(".weight")


def _bnb4(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    if not _linear(t, p, ctx.routers_linear) or p.component == "output":
        return NONE
    storage = BNB4_STORAGE.get(str(q.config.get("bnb_4bit_quant_storage") or "uint8").removeprefix("torch."))
    if storage is None:
        return NONE
    m = _matrix(t, _module(t), 4, BNB4_BLOCK, quant_type=q.quant_type or "fp4", double=q.double_quant,
                storage=storage)
    return m, LAYOUTS["bitsandbytes_4bit"]


def _bnb8(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    if not _linear(t, p, ctx.routers_linear) or p.component == "output":
        return NONE
    return _matrix(t, _module(t), 8, 0), LAYOUTS["bitsandbytes_8bit"]


def _gptq(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Linear layers of the decoder blocks except the router (AutoGPTQ / GPTQModel list the modules of
    each block to quantize and leave the MoE gate out); ``modules_in_block_to_quantize`` narrows the list
    and GPTQModel's ``dynamic`` rules skip (``-:regex``) or re-set bits / group_size per module."""
    module = _module(t)
    head = p.component.split("/")[0] == "output" and q.config.get("lm_head") is True  # GPTQModel lm_head
    if not _linear(t, p, ctx.routers_linear) or not (_in_blocks(p) or head) or p.component == "router":
        return NONE
    chosen = _in_block_list(module, q.config.get("modules_in_block_to_quantize"))
    if not chosen:
        return NONE
    bits, group = q.bits or 4, q.group_size
    for pattern, override in _dynamic(q.config.get("dynamic")):
        rx = untrusted_regex(pattern[2:] if pattern.startswith("-:") else pattern.removeprefix("+:"))
        if rx is None:
            continue
        if pattern.startswith("-:"):
            if rx.match(module):
                return NONE
        elif rx.match(module):
            bits = int(override.get("bits", bits))
            g = override.get("group_size", group)
            group = int(g) if g and int(g) > 0 else None
            break
    pack = GPTQ_PACK[str(q.config.get("pack_dtype") or "int32").removeprefix("torch.")]  # _gptq_unlisted
    m = _matrix(t, module, bits, group, pack=pack)
    if (8 * pack.type_size) % bits and (pack != DType.I32 or m.inn % 32 or m.out % 32):
        # 3 bits: AutoGPTQ's qlinear packs 32 weights into 3 int32 words (qweight (in / 32 × 3, out)),
        # which needs whole blocks of 32 inputs and outputs; any other container: left as listed
        return NONE
    return m, LAYOUTS["gptq"]


def _in_block_list(module: str, lists: Any) -> bool:
    if not isinstance(lists, list) or not lists:
        return True
    return any(module.endswith("." + n) for n in _block_names(lists))


def _block_names(lists: Any) -> list[str]:
    """GPTQ's modules_in_block_to_quantize: lists of module names within a block."""
    if not isinstance(lists, list):
        return []
    return [n for group in lists if isinstance(group, list) for n in group if isinstance(n, str)]


def _dynamic(rules: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(rules, Mapping):
        return []
    return [(str(k), v if isinstance(v, Mapping) else {}) for k, v in rules.items()]


def _awq(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Every nn.Linear of the decoder blocks (AutoAWQ get_named_linears) minus modules_to_not_convert."""
    module = _module(t)
    if not _linear(t, p, ctx.routers_linear) or not _in_blocks(p):
        return NONE
    version = str(q.config.get("version") or "gemm").lower()  # others: _awq_unlisted
    layout = LAYOUTS["awq:gemv"] if version == "gemv" else LAYOUTS["awq"]
    return _matrix(t, module, q.bits or 4, q.group_size), layout


def _fp8(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Every nn.Linear except the output head (transformers adds it to modules_to_not_convert) and the
    config's modules_to_not_convert."""
    if not _linear(t, p, ctx.routers_linear) or p.component == "output":
        return NONE
    if q.method == "fbgemm_fp8":
        return _matrix(t, _module(t), 8, 0), LAYOUTS["fbgemm_fp8"]
    if not q.block_shape:
        module = _module(t)
        static = str(q.config.get("activation_scheme") or "dynamic") == "static"
        kv = q.config.get("kv_cache_scheme") == "static" and module.rsplit(".", 1)[-1] in ("k_proj", "v_proj")
        return _matrix(t, module, 8, 0, static_input=static, output_scale=kv), LAYOUTS["fp8:tensor"]
    return _matrix(t, _module(t), 8, 0, block=q.block_shape), LAYOUTS["fp8"]


def _mxfp4(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Only the fused expert weights (GptOssExperts gate_up_proj (E, hidden, 2·ffn), down_proj
    (E, ffn, hidden), stored transposed as (E, out, in/32, 16))."""
    if len(t.shape) != 3 or not p.component.startswith("experts/") or p.role != "weight":
        return NONE
    experts, inn, out = t.shape
    return Matrix(t.name, (experts,), out, inn, t.dtype, 4, MXFP4_BLOCK), LAYOUTS["mxfp4"]


# mlx-vlm utils.skip_multimodal_module: the towers its convert never quantizes (placement components)
MLX_UNQUANTIZED_TOWERS = frozenset({"vision", "audio"})
# The wrappers a language model sits in under each writer's module tree: mlx_lm names a text model's modules
# "model.layers.0.mlp", mlx-vlm "language_model.model.layers.0.mlp" (its sanitize maps transformers'
# "model.language_model." there and "lm_head" to "language_model.lm_head"), transformers 5
# "model.language_model.layers.0.mlp". The per-module entries of an MLX quantization config are MLX module
# paths (mlx_lm utils.py quantize_model records ``config["quantization"][path]``), so an entry and a listed
# module are matched with these leading wrappers dropped (a Qwen3.5-27B MLX mixed 4/8-bit file's overrides,
# tests/fixtures/quantized_totals/quantized_oos.json).
MLX_WRAPPERS = frozenset({"model", "language_model"})


def _mlx_key(module: str) -> str:
    parts = module.split(".")
    i = 0
    while i < len(parts) - 1 and parts[i] in MLX_WRAPPERS:
        i += 1
    return ".".join(parts[i:])


_MLX_SETTINGS: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}


def _mlx_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The per-module entries of an MLX quantization config ({...} or False) by _mlx_key."""
    cached = _MLX_SETTINGS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    found = {_mlx_key(str(k)): v for k, v in config.items() if v is False or isinstance(v, Mapping)}
    if len(_MLX_SETTINGS) > 64:
        _MLX_SETTINGS.clear()
    _MLX_SETTINGS[id(config)] = (config, found)
    return found


def _mlx(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """mlx_lm quantize_model: every layer with ``to_quantized`` (nn.Linear, nn.Embedding, and the MoE's
    SwitchLinear: mlx_lm switch_layers.py QuantizedSwitchLinear, weight (experts, out, in) quantized along
    the input like a Linear) whose input width is a multiple of the group size; per-module entries in the
    config override bits and group size, or (False) leave the module unquantized. mlx-vlm's convert
    quantizes the language model only: its class predicate returns False first for any module
    ``skip_multimodal_module`` names (vision_tower, vision_model, audio_tower, ... in mlx-vlm's own names:
    the vision tower with its merger), so those stay in the model's dtype (Qwen3.5-9B-MLX-8bit's index: no
    vision_tower .scales, and its total_size is the listing's only so,
    tests/fixtures/quantized_totals/out_of_sample.json). Any width packs into uint32 words, w_q (…, out,
    in · bits / 32): 3-, 5- and 6-bit weights straddle them (mlx ops.cpp quantize; a Qwen2.5-14B MLX 3-bit
    index, tests/fixtures/quantized_totals/quantized_oos.json)."""
    m = _mlx_matrix(q, t, p, ctx)
    return NONE if m is None else (m, LAYOUTS["mlx"])


def _mlx_matrix(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Matrix | None:
    """The matrix mlx_lm quantizes for ``t`` and its settings, whatever its bits; None: left as is."""
    if p.component in MLX_UNQUANTIZED_TOWERS:
        return None
    experts = len(t.shape) == 3 and p.component.startswith("experts/") and p.role == "weight"
    if not (experts or _linear(t, p, ctx.mlx_routers_linear)
            or (p.component == "embedding" and len(t.shape) == 2)):
        return None
    module = _module(t)
    settings: Mapping[str, Any] = q.config
    override = q.config.get(module, _mlx_settings(q.config).get(_mlx_key(module)))
    if override is False:
        return None
    if isinstance(override, Mapping):
        settings = override
    bits = int(settings.get("bits") or q.bits or 4)
    mode = str(settings.get("mode") or q.config.get("mode") or "affine")
    group = int(settings.get("group_size") or (32 if mode == "mxfp4" else q.group_size or 64))
    if experts and ctx.experts_input_major:
        e, inn, out = t.shape
        m = Matrix(module, (e,), out, inn, t.dtype, bits, group, {"mode": mode})
    else:
        m = _matrix(t, module, bits, group, mode=mode)
    return None if m.inn % group or (m.inn * bits) % 32 else m


def _embedding_table(t: Tensor, p: Placement) -> bool:
    """An nn.Embedding's table: the token table or another the module's name calls one (EMBEDDING_MODULE)."""
    if not t.name.endswith(".weight") or len(t.shape) != 2 or p.role != "weight":
        return False
    return p.component.split("/")[0] == "embedding" or bool(EMBEDDING_MODULE.search(_module(t)))


def _target_rank(module: str, target: str, cls: str) -> int | None:
    """How a compressed-tensors target matches a module (compressed-tensors match.py): its exact name (0),
    a ``re:`` pattern matched from the name's start (1), or its class name (2); None: no match."""
    if target == module:
        return 0
    if target.startswith("re:"):
        return 1 if _regex(target[3:]).match(module) else None
    return 2 if target == cls else None


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error:
        return re.compile(r"(?!)")  # a pattern Python cannot read matches nothing


def _compressed(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """config_groups: the group whose ``targets`` match the module best quantizes it with its ``weights``
    args, unless ``ignore`` names it. A target is a module's exact name, a ``re:`` pattern or a class name
    (``Linear``; ``Embedding`` for the tables, which compressed-tensors packs alike), in that order of
    precedence whatever the groups' order (compressed-tensors apply.py: a ``re:.*lm_head$`` group beside a
    ``Linear`` one takes the head); a name or pattern may name an embedding table (a writer that packs
    Gemma's embed_tokens_per_layer names it so)."""
    module = _module(t)
    linear = _linear(t, p, ctx.routers_linear)
    if not linear and not _embedding_table(t, p):
        return NONE
    cls = "Linear" if linear else "Embedding"
    ranked = [(min(ranks), i, group) for i, group in enumerate(_config_groups(q))
              if (ranks := [r for x in _targets(group) if (r := _target_rank(module, x, cls)) is not None])]
    for _, _, group in sorted(ranked, key=lambda r: r[:2])[:1]:
        w = group["weights"]
        fmt = str(group.get("format") or q.config.get("format") or "")
        layout = LAYOUTS.get(f"compressed-tensors:{fmt}")
        if layout is None:
            return NONE
        acts = group.get("input_activations")
        block = w.get("block_structure")
        m = _matrix(t, module, int(w.get("num_bits") or 8), int(w.get("group_size") or 0),
                    strategy=str(w.get("strategy") or "tensor"), symmetric=bool(w.get("symmetric", True)),
                    actorder=w.get("actorder"), block=tuple(block) if isinstance(block, list) else (),
                    scale_dtype=_dtype_named(w.get("scale_dtype")), has_input=isinstance(acts, Mapping),
                    static_input=isinstance(acts, Mapping) and not acts.get("dynamic", False),
                    input_symmetric=not isinstance(acts, Mapping) or bool(acts.get("symmetric", True)))
        return m, layout
    return NONE


def _config_groups(q: Quantization) -> list[Mapping[str, Any]]:
    """compressed-tensors config_groups that quantize weights, in order."""
    groups = q.config.get("config_groups")
    return [g for g in (groups.values() if isinstance(groups, Mapping) else ())
            if isinstance(g, Mapping) and isinstance(g.get("weights"), Mapping)]


def _targets(group: Mapping[str, Any]) -> list[str]:
    return [str(x) for x in group.get("targets") or ()]


def _dtype_named(name: Any) -> DType | None:
    names = {v: k for k, v in TORCH_NAMES.items()}
    return names.get(str(name).removeprefix("torch.")) if name else None


# ModelOpt's quant_algo → the stored layout of a Linear it quantizes, and the weight bits (vLLM 0.34
# modelopt.py LINEAR_ALGOS). W4A16_NVFP4 stores NVFP4's tensors (its input_scale unused: vLLM drops it);
# FP8_BLOCK_SCALES is the MoE spelling of the 128 × 128 blocks (_BLOCK_FP8_MOE_ALGOS)
MODELOPT_ALGOS: dict[str, tuple[str, int]] = {
    "NVFP4": ("modelopt:nvfp4", 4), "W4A16_NVFP4": ("modelopt:nvfp4", 4), "FP8": ("modelopt:fp8", 8),
    "FP8_PER_CHANNEL_PER_TOKEN": ("modelopt:fp8_channel", 8), "FP8_PB_WO": ("modelopt:fp8_block", 8),
    "FP8_BLOCK_SCALES": ("modelopt:fp8_block", 8), "MXFP8": ("modelopt:mxfp8", 8),
}
MODELOPT_MIXED = "MIXED_PRECISION"


def _modelopt_algo(q: Quantization) -> str:
    """quant_algo, at the top (config.json's quantization_config) or under "quantization"
    (hf_quant_config.json)."""
    nested = q.config.get("quantization")
    algo = q.config.get("quant_algo") or (nested.get("quant_algo") if isinstance(nested, Mapping) else None)
    return str(algo or "").upper()


def _modelopt_layers(q: Quantization) -> Mapping[str, Any]:
    """MIXED_PRECISION's per-layer recipes ({module: {"quant_algo": …, "group_size": …}}), at the top or
    under "quantization", as vLLM's ModelOptMixedPrecisionConfig._from_config reads them."""
    nested = q.config.get("quantization")
    layers = q.config.get("quantized_layers")
    if layers is None and isinstance(nested, Mapping):
        layers = nested.get("quantized_layers")
    return layers if isinstance(layers, Mapping) else {}


def _modelopt(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """As quant_algo says (MODELOPT_ALGOS; NVFP4 only where a row is a whole number of its groups), every
    nn.Linear but the output head and exclude_modules (checked by as_stored); under MIXED_PRECISION each
    Linear, the head included, as its own recipe in quantized_layers says, and the unlisted ones left as
    they are. An algorithm with no row is left unpriced."""
    if not _linear(t, p, ctx.routers_linear):
        return NONE
    algo, group = _modelopt_algo(q), q.group_size
    module = _module(t)
    if algo == MODELOPT_MIXED:
        recipe = modelopt_recipe(_modelopt_layers(q), module, p.component.startswith("experts/"))
        if recipe is None:
            return NONE
        algo, group = str(recipe.get("quant_algo") or "").upper(), recipe.get("group_size") or group
    elif p.component == "output":
        return NONE
    if not (isinstance(group, int) and group > 0):
        group = MODELOPT_NVFP4_GROUP  # vLLM's default; what a malformed config gives is not guessed at
    layout, bits = MODELOPT_ALGOS.get(algo, ("", 0))
    if not layout:
        return NONE
    if bits == 4:
        if t.shape[-1] % group:
            return NONE
        return _matrix(t, module, 4, group), LAYOUTS[layout]
    return _matrix(t, module, 8, 0), LAYOUTS[layout]


# Intel AutoRound (quant_method "auto-round" from auto-round 0.5, "intel/auto-round" up to 0.4.x): its
# integer weights packed as GPTQ's or AWQ's buffers (auto-round 0.16.1 export/export_to_autoround/export.py
# dynamic_import_quant_linear_for_packing; auto_round_extension/torch/qlinear_torch(_zp).py; export_to_awq/
# utils.py WQLinear_GEMM): qzeros written even when symmetric, scales always float16, a quantized layer's bias
# in float16. g_idx only in "auto_round:gptqmodel" exports from 0.10, in 3-bit exports of 0.5.x, in every
# legacy intel/auto-round checkpoint, and in GPTQ exports relabelled auto-round without a packing_format
# (INFERRED there: their weights were not seen). Checked: a Qwen3-0.6B W4A16 export of 0.12.3, 540,176,136 B
# on disk (tests/test_autoround.py).
AUTOROUND_METHODS = frozenset({"auto-round", "intel/auto-round"})
AUTOROUND_GROUP = 128  # auto_round/schemes.py QuantizationScheme: bits 4, group_size 128, sym, "int"
AUTOROUND_UNQUANTIZED_BITS = 16  # an extra_config entry of 16 bits or more: left in high precision
# readers' spellings of the packing (auto_round loader convert_hf_model; vLLM INCConfig), as the layout's
AUTOROUND_PACKINGS = {
    "auto": "auto_gptq", "auto_round:gptq": "auto_gptq", "auto_round:auto_gptq": "auto_gptq",
    "auto_round:awq": "auto_awq", "auto_round:auto_awq": "auto_awq", "auto_round:gptqmodel": "gptqmodel",
    "auto_round": "native"}


def autoround_packing(q: Quantization) -> str | None:
    """The packing an AutoRound config declares (AUTOROUND_PACKINGS), "legacy" for intel/auto-round's
    ``backend`` spelling, None for a format it does not pack as GPTQ or AWQ (fp8, mx_fp, llm_compressor)."""
    if q.method == "intel/auto-round":
        return "legacy"
    declared = q.config.get("packing_format")
    if declared is None:
        return "relabelled"  # readers take auto_gptq; the weights are a GPTQ export's
    return AUTOROUND_PACKINGS.get(str(declared).lower())


def _autoround_version(q: Quantization) -> tuple[int, ...]:
    found = re.findall(r"\d+", str(q.config.get("autoround_version") or ""))[:2]
    return tuple(int(x) for x in found) or (0, 0)


def _autoround_blocks(q: Quantization) -> list[str]:
    """block_name_to_quantize (to_quant_block_names, quant_block_list): prefixes, a comma-separated string
    or lists of them; [] where none is named (the decoder's blocks)."""
    for key in ("block_name_to_quantize", "to_quant_block_names", "quant_block_list"):
        v = q.config.get(key)
        if isinstance(v, str) and v.strip():
            return [x.strip() for x in v.split(",") if x.strip()]
        if isinstance(v, list) and v:
            flat = [x for item in v for x in (item if isinstance(item, list) else [item])]
            return [str(x) for x in flat if isinstance(x, str) and x]
    return []


def _autoround(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """The Linears of the quantized blocks (block_name_to_quantize, else the decoder's: not the towers or
    the head), each as extra_config re-sets its bits, group or symmetry (16 bits or more: left as is); the
    head only where extra_config names it; a Linear whose rows or columns are not a multiple of 32 left in
    high precision (layer_config_resolver.py), as in auto-round's own config."""
    if not _linear(t, p, ctx.routers_linear):
        return NONE
    module = _module(t)
    blocks = _autoround_blocks(q)
    # the layers the blocks hold (vLLM: a name starting with one of block_name_to_quantize; the export's own
    # default is the decoder's blocks), never the head
    quantized = (any(module.startswith(b) for b in blocks) if blocks else _in_blocks(p)) and (
        p.component != "output")
    found = autoround_override(q.config.get("extra_config"), module)
    if found is None and not quantized:
        return NONE
    override, named = found or ({}, True)
    # a named entry's missing fields are the global config's; a matched expression's are the layer's own
    # defaults, 16 bits outside the quantized blocks (inc/config_parser.py get_config)
    base = q.config if named or quantized else {"bits": AUTOROUND_UNQUANTIZED_BITS}
    settings = {**q.config, **base, **override}
    try:
        bits = int(settings.get("bits") or 4)
        group = int(settings.get("group_size") or AUTOROUND_GROUP)
    except (TypeError, ValueError, OverflowError):
        return NONE
    if bits >= AUTOROUND_UNQUANTIZED_BITS or bits < 2 or str(settings.get("data_type") or "int") != "int":
        return NONE
    m = _matrix(t, module, bits, t.shape[-1] if group == -1 else group)
    if m.out % 32 or m.inn % 32 or m.group <= 0 or m.inn % m.group:
        return NONE
    packing = autoround_packing(q)
    if packing == "auto_awq":
        return (m, LAYOUTS["auto-round:awq"]) if (m.out * bits) % 32 == 0 else NONE
    version = _autoround_version(q)
    g_idx = (packing in ("legacy", "relabelled") or (packing == "gptqmodel" and version >= (0, 10))
             or (bits == 3 and (0, 5) <= version < (0, 6)))
    return _matrix(t, module, bits, m.group, pack=DType.I32, g_idx=g_idx), LAYOUTS["gptq"]


def _autoround_unlisted(q: Quantization) -> str | None:
    """Why an AutoRound config's stored tensors cannot be listed, or None."""
    if q.config.get("model_free"):
        return ("auto-round's model-free export pads each matrix to whole groups (model_free_utils.py "
                "quantize_weight_rtn), a layout not modelled")
    if autoround_packing(q) is None or str(q.config.get("data_type") or "int") != "int":
        return (f"auto-round packing {q.config.get('packing_format')!r} / data_type "
                f"{q.config.get('data_type')!r}: only its integer GPTQ and AWQ packings are modelled")
    return None


def _bitnet(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Every nn.Linear but modules_to_not_convert, and the head unless that list is given (transformers'
    get_modules_to_not_convert adds the output embedding only to a missing list); AutoBitLinear's online
    mode stores plain weights and quantizes them as it runs."""
    if not _linear(t, p, ctx.routers_linear):
        return NONE
    if p.component == "output" and q.config.get("modules_to_not_convert") is None:
        return NONE
    online = q.config.get("linear_class") == "autobitlinear" and q.config.get("quantization_mode") == "online"
    if online or t.shape[0] % BITNET_PER_BYTE:
        return NONE
    return _matrix(t, _module(t), 2, 0), LAYOUTS["bitnet"]


# AMD Quark (quant_method "quark"): which spec a Linear takes, as the export decides what it writes
# (quark/torch/quantization/config: exclude, then layer_quant_config's first fnmatch key, then
# layer_type_quant_config["Linear"], then global_quant_config); embeddings never, the head and routers as any
# Linear unless excluded. Scales of FP8 and INT types follow the model dtype unless scale_type names one
# (observer.py: "When scale_type='float32', scale stays in float32; otherwise follows model dtype"); the
# file-to-file exporter writes float32 for every one of them, which a config does not tell apart: noted.
MODEL_SCALE_DTYPES = frozenset({DType.BF16, DType.F16})  # scales kept in the model dtype (the note below)
QUARK_MX_BITS = {"fp4": 4, "fp6_e2m3": 6, "fp6_e3m2": 6, "fp8_e4m3": 8}
QUARK_SCALE_TYPES = {"float32": DType.F32, "float16": DType.F16, "bfloat16": DType.BF16,
                     "float8_e8m0fnu": DType.U8}


def _quark_static(spec: Any) -> bool:
    """A static (calibrated) activation spec, whose scale the export saves."""
    return isinstance(spec, Mapping) and spec.get("dtype") is not None and spec.get("is_dynamic") is False


def _quark_kind(weight: Any) -> str | None:
    """The layout of a Quark weight spec (a LAYOUTS row "quark:<kind>"), or None where none is known here:
    W4A8's INT4+FP8 list, the legacy "mx" type, INT4 per channel, INT8 per group."""
    if isinstance(weight, list):
        nvfp4 = (len(weight) == 2 and all(isinstance(w, Mapping) for w in weight)
                 and weight[0].get("dtype") == "fp4" and weight[1].get("dtype") == "fp8_e4m3")
        return "nvfp4" if nvfp4 else _quark_kind(weight[0]) if len(weight) == 1 else None
    if not isinstance(weight, Mapping):
        return None
    dtype, scheme = str(weight.get("dtype") or ""), str(weight.get("qscheme") or "")
    group = weight.get("group_size")
    if scheme == "per_group" and dtype in QUARK_MX_BITS and group == MXFP8_BLOCK:
        return "mx"
    if dtype == "fp8_e4m3" and scheme in ("per_tensor", "per_channel", "per_block"):
        return "fp8"
    if dtype in ("int8", "uint8") and scheme in ("per_tensor", "per_channel"):
        return "int8"
    if dtype in ("int4", "uint4") and scheme == "per_group" and isinstance(group, int) and group > 0:
        return "int4"
    return None


def _quark(q: Quantization, t: Tensor, p: Placement, ctx: Ctx) -> Picked:
    """Each Linear as its Quark spec's weight says (see above, _quark_kind), a static output spec (the KV
    cache's) with its 0-d output_scale; a spec with no layout is left as listed, and as_stored's note
    names it (_quark_unpriced)."""
    if not _linear(t, p, ctx.routers_linear):
        return NONE
    module = _module(t)
    spec = quark_spec(q.config, module)
    kind = _quark_kind(spec.get("weight")) if spec else None
    if kind is None or spec is None:
        return NONE
    weight = quark_weight(spec)
    if weight is None:
        return NONE
    inputs = spec.get("input_tensors")
    scheme, group = str(weight.get("qscheme") or ""), weight.get("group_size")
    scale = QUARK_SCALE_TYPES.get(str(weight.get("scale_type") or ""), t.dtype)
    opts: dict[str, Any] = {
        "scale_dtype": scale if scale != DType.U8 else t.dtype, "qscheme": scheme,
        # the KV cache's outputs, and any other static output spec, save their scale
        "kv_output": quark_kv_output(q.config, module) or _quark_static(spec.get("output_tensors")),
        "static_input": _quark_static(inputs[-1] if isinstance(inputs, list) and inputs else inputs)}
    if kind == "nvfp4":
        g = group if isinstance(group, int) and group > 0 else MODELOPT_NVFP4_GROUP
        return (_matrix(t, module, 4, g, **opts), LAYOUTS["quark:nvfp4"]) if t.shape[-1] % g == 0 else NONE
    if kind == "mx":
        m = _matrix(t, module, QUARK_MX_BITS[str(weight["dtype"])], MXFP8_BLOCK, **opts)
        return (m, LAYOUTS["quark:mx"]) if m.inn % MXFP8_BLOCK == 0 else NONE
    if kind == "int4":
        m = _matrix(t, module, 4, group, **opts)
        return (m, LAYOUTS["quark:int4"]) if m.out % 8 == 0 and m.inn % m.group == 0 else NONE
    if scheme == "per_block":
        block = weight.get("block_size")
        whole = isinstance(block, list) and len(block) == 2 and all(
            isinstance(b, int) and b > 0 for b in block)
        opts["block"] = tuple(block) if whole and block else (MODELOPT_FP8_BLOCK, MODELOPT_FP8_BLOCK)
        if scale == DType.U8:
            opts["scale_dtype"] = DType.U8  # E8M0 block scales (the 2-D MXFP8 spelling): a byte each
    return _matrix(t, module, 8, 0, **opts), LAYOUTS[f"quark:{kind}"]


def _quark_unpriced(q: Quantization) -> tuple[str, ...]:
    """A note naming the weight specs of the config that no layout here prices (their layers are listed
    in the model dtype)."""
    layers, by_type = q.config.get("layer_quant_config"), q.config.get("layer_type_quant_config")
    specs = [("global_quant_config", q.config.get("global_quant_config"))]
    for where, table in (("layer_quant_config", layers), ("layer_type_quant_config", by_type)):
        specs += [(f"{where}[{k!r}]", v) for k, v in (table.items() if isinstance(table, Mapping) else ())]
    unpriced = [name for name, spec in specs if isinstance(spec, Mapping) and spec.get("weight")
                and _quark_kind(spec["weight"]) is None]
    if not unpriced:
        return ()
    return (f"{q.label}: no stored layout known for the weight spec of {', '.join(unpriced[:3])}"
            + (f" and {len(unpriced) - 3} more" if len(unpriced) > 3 else "")
            + "; those layers listed and priced as unquantized",)


def _quark_unlisted(q: Quantization) -> str | None:
    export = q.config.get("export")
    fmt = export.get("weight_format") if isinstance(export, Mapping) else None
    if fmt not in (None, "real_quantized"):
        return f"Quark export weight_format {fmt!r}: only real_quantized checkpoints are modelled"
    return None


def _quark_scale_note(q: Quantization) -> tuple[str, ...]:
    return (f"{q.label}: FP8 and INT scales listed in the model dtype (Quark's observer keeps them so unless "
            "scale_type names one); a file-to-file export writes them in float32",)


RULES: dict[str, Rule] = {
    "bitsandbytes_4bit": _bnb4, "bitsandbytes_8bit": _bnb8, "gptq": _gptq, "awq": _awq, "fp8": _fp8,
    "fbgemm_fp8": _fp8, "mxfp4": _mxfp4, "mlx": _mlx, "compressed-tensors": _compressed,
    "modelopt": _modelopt, "auto-round": _autoround, "intel/auto-round": _autoround, "quark": _quark,
    "bitnet": _bitnet,
}
# the methods whose q.excluded as_stored tests (see the rules above); Quark's rule reads its own exclude
EXCLUDING = frozenset(RULES) - {"mlx", "quark"}


# --- what an engine holds after loading a stored checkpoint ------------------------------------------------
@record
class EngineLayout:
    """How an engine re-lays a method's weights on load, where that changes their size.

    vLLM's MXFP4 MoE (layers/quantization/mxfp4.py Mxfp4MoEMethod) allocates the expert weights with the
    intermediate size padded to ``intermediate_align`` and the hidden size to ``hidden_align`` (per backend,
    in create_weights), then process_weights_after_loading: the Triton backend turns the biases to float32
    and keeps a swizzled copy of the scales beside the originals (utils/mxfp4_utils.py _swizzle_mxfp4;
    triton_kernels swizzle_mxfp4_scale_hopper pads rows to 2·num_warps·2·8 = 256 and blocks to 2)."""

    engine: str
    method: str
    backend: str
    intermediate_align: int
    hidden_align: int
    bias_dtype: DType
    scale_copy_align: tuple[int, int] | tuple[()] = ()  # (rows, blocks) padding of a swizzled scale copy
    when: str = ""  # when the engine picks this backend
    source: str = ""
    value_align: int = 0  # the swizzled values' rows and packed columns padded to this multiple (0: none)


ENGINE_LAYOUTS: dict[tuple[str, str, str], EngineLayout] = {(e.engine, e.method, e.backend): e for e in (
    EngineLayout("vllm", "mxfp4", "triton", 64, 1, DType.F32, (256, 2),
                 "CUDA capability ≥ 9.0 with triton_kernels, FlashInfer MXFP4 off (default on H100/H200)",
                 "vllm mxfp4.py get_mxfp4_backend, create_weights (round_up(intermediate, 64)), "
                 "process_weights_after_loading TRITON branch"),
    # the triton_kernels vLLM 0.17 to 0.22 bundle (vllm/third_party/triton_kernels; absent from 0.12-0.15
    # and again from 0.23) pre-pads the swizzled values: HopperMXValueLayout.swizzle_data "Pre-pad both
    # matrix dims to multiples of 64" (the out rows and the packed in / 2 bytes). gpt-oss-20b on 0.19.0
    # (H100, tests/fixtures/engine_logs/vllm/r13q-*-gpt-oss-20b-*): 13.64 and 7.01 GiB printed at TP 1 and
    # 2, 13.44 and 6.86 without it, 13.63 and 6.99 with it
    EngineLayout("vllm", "mxfp4", "triton-0.17", 64, 1, DType.F32, (256, 2),
                 "the Triton backend of vLLM 0.17 to 0.22 (its bundled triton_kernels)",
                 "vllm mxfp4.py as 'triton', then third_party/triton_kernels hopper_value.py swizzle_data's "
                 "64-padding of both value dims", value_align=64),
    EngineLayout("vllm", "mxfp4", "marlin", 128, 256, DType.BF16, (),
                 "CUDA capability < 9.0 (A100, L40S, RTX), or VLLM_MXFP4_USE_MARLIN=1",
                 "vllm mxfp4.py create_weights MARLIN branch: 'n % 256 == 0 and k % 128 == 0'"),
    EngineLayout("vllm", "mxfp4", "flashinfer-sm90", 128, 128, DType.BF16, (),
                 "H100/H200 with VLLM_USE_FLASHINFER_MOE_MXFP4_BF16=1",
                 "vllm mxfp4.py create_weights SM90_FI_MXFP4_BF16 branch (not checked against a log)"),
    EngineLayout("vllm", "mxfp4", "flashinfer-sm100", 256, 256, DType.F32, (),
                 "B200/GB200 with FlashInfer",
                 "vllm mxfp4.py create_weights SM100 branches (not checked against a log)"),
    EngineLayout("vllm", "mxfp4", "rocm", 128, 128, DType.F32, (256, 2),
                 "AMD GPUs (ROCm)",
                 "vllm mxfp4.py create_weights on ROCm: both sizes rounded up to get_padding_alignment(), "
                 "128; then the Triton backend's processing (float32 biases, a swizzled scale copy): "
                 "gpt-oss-20b at TP 2 on two Radeon AI PRO R9700, 7.26 GiB a GPU printed, 7.19 with this "
                 "layout, 6.86 with CUDA's"),
    EngineLayout("vllm", "mxfp4", "rocm-gfx950", 256, 256, DType.F32, (256, 2),
                 "AMD Instinct MI350X / MI355X (gfx950, ROCm)",
                 "vllm mxfp4.py create_weights on ROCm: get_padding_alignment() is 256 on gfx950 (not "
                 "checked against a log)"),
    EngineLayout("sglang", "mxfp4", "flashinfer-sm100", 256, 256, DType.F32, (),
                 "B200/GB200 (CUDA capability 10.x), where SGLang runs FlashInfer's MXFP4 MoE kernel",
                 "sglang quantization/mxfp4.py Mxfp4MoEMethod.create_weights: with FlashInfer's MXFP4 MoE "
                 "both sizes rounded up to 256, float32 biases: gpt-oss-20b on a B200-class GPU "
                 "(tests/fixtures/engine_logs/sglang/kvcached198-*) +1.32 GiB of the +1.68 its log shows; "
                 "elsewhere SGLang keeps the experts as stored"),
)}


def _round_up(x: int, k: int) -> int:
    return -(-x // k) * k


def mxfp4_loaded_bytes(kind: str, experts: int, out: int, inn: int, lay: EngineLayout,
                       with_bias: bool = True, tensor_parallel: int = 1) -> int:
    """Bytes of one fused expert weight (blocks, scales, bias) as the engine holds it, on all ranks.

    ``kind`` "gate_up": out = 2 × intermediate, in = hidden; "down": out = hidden, in = intermediate.
    Tensor parallelism shards the intermediate size, and vLLM pads each rank's share."""
    tp = tensor_parallel
    if kind == "gate_up":
        rows, cols = 2 * _round_up(out // 2 // tp, lay.intermediate_align), _round_up(inn, lay.hidden_align)
    else:
        rows, cols = _round_up(out, lay.hidden_align), _round_up(inn // tp, lay.intermediate_align)
    blocks = cols // MXFP4_BLOCK
    values = (_round_up(rows, lay.value_align) * _round_up(cols // 2, lay.value_align) if lay.value_align
              else rows * cols // 2)
    rank = experts * (values + rows * blocks)
    if with_bias:
        rank += experts * rows * lay.bias_dtype.type_size
    if lay.scale_copy_align:
        r, c = lay.scale_copy_align
        rank += experts * _round_up(rows, r) * _round_up(blocks, c)
    return rank * tp
