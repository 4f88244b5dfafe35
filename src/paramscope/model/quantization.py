"""How a model's weights are quantized, whatever declared it: the neutral ``Quantization``.

A GGUF file declares a llama.cpp file type (``general.file_type``) and gives every tensor its own ggml
type; a Hugging Face checkpoint declares ``quantization_config`` in config.json (GPTQ, AWQ,
bitsandbytes, FP8 with block scales, MXFP4, compressed-tensors, MLX…), or an older quantizer's own file,
or nothing but tensor names only one method writes. Readers fill this one typed field
(``knowledge.quant_configs`` parses the declarations); weight pricing, `ls` and the web page read only
it, never the raw config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paramscope.records import field, record


@record
class Quantization:
    """How a model's weights are quantized, as its file or config declares."""

    method: str  # "gguf", "gptq", "awq", "bitsandbytes_4bit", "bitsandbytes_8bit", "fp8", "mxfp4", …
    bits: int | None = None  # bits per quantized weight; None where tensors differ (GGUF) or unstated
    group_size: int | None = None  # weights sharing one scale along a row (GPTQ/AWQ/MLX group, bnb block)
    block_shape: tuple[int, ...] = ()  # 2-D scale blocks (FP8 weight_block_size [128, 128])
    quant_type: str | None = None  # the number format: "nf4", "fp4", "e4m3", "int", "mxfp4" …
    scale_layout: str = ""  # how scales are stored, in words ("per group of 128, fp16 scales and zeros")
    double_quant: bool = False  # bitsandbytes: the absmax scales quantized again (8-bit, block 256)
    symmetric: bool | None = None
    excluded: tuple[str, ...] = ()  # modules left unquantized (modules_to_not_convert, ignore …)
    file_type: str | None = None  # GGUF: the llama.cpp file type ("Q4_K_M"); None elsewhere
    declared_in: str = ""  # "general.file_type", "config.json quantization_config", "tensor names" …
    config: Mapping[str, Any] = field(default_factory=dict)  # the declaration as found

    @property
    def label(self) -> str:
        """Short words for tables: "Q4_K_M", "gptq 4-bit g128", "bitsandbytes nf4", "fp8 e4m3 128×128"."""
        if self.file_type:
            return self.file_type
        parts = [self.method.replace("_4bit", "").replace("_8bit", "")]
        if self.quant_type in (None, "int", "affine"):  # integers: the width says it
            if self.bits:
                parts.append(f"{self.bits}-bit")
        elif self.quant_type not in parts[0]:  # a number format: its name says it (nf4, e4m3)
            parts.append(self.quant_type)
        if self.group_size:
            parts.append(f"g{self.group_size}")
        if self.block_shape:
            parts.append("×".join(map(str, self.block_shape)))
        return " ".join(parts)
