"""Model.quantization: every reader fills the one typed field from what the file declares.

The declarations below are real: DeepSeek-V3's and gpt-oss-20b's come from the catalogue's config.json
files (their repositories' own); the others are the quantization_config blocks that the quantizers
write (AutoGPTQ / transformers GPTQConfig, AutoAWQ, BitsAndBytesConfig.to_dict(), llm-compressor,
mlx_lm.convert), with the values of public checkpoints noted beside each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders.gguf_files import write_gguf
from builders.safetensors_files import write_safetensors
from paramscope import open_model
from paramscope.knowledge.quant_configs import from_config, from_hf_config, from_tensor_names

GPTQ = {"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": False, "sym": True,
        "true_sequential": True, "model_file_base_name": "model", "quant_method": "gptq"}  # TheBloke 7B GPTQ
AWQ = {"quant_method": "awq", "zero_point": True, "group_size": 128, "bits": 4, "version": "gemm"}
BNB_NF4 = {"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
           "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
           "bnb_4bit_compute_dtype": "bfloat16", "llm_int8_skip_modules": None}
BNB_8 = {"quant_method": "bitsandbytes", "load_in_8bit": True, "llm_int8_skip_modules": ["lm_head"]}
COMPRESSED = {"quant_method": "compressed-tensors", "format": "pack-quantized",
              "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                  "num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": True}}},
              "ignore": ["lm_head"]}
MLX = {"group_size": 64, "bits": 4}  # mlx-community/*-4bit config.json "quantization"


@pytest.mark.slow  # runs long: DeepSeek-V3's 90k tensors
@pytest.mark.xdist_group("catalogue")  # beside test_catalogue.py, which has built its Model
def test_catalogue_fp8_and_mxfp4():
    v3 = open_model("deepseek-v3").quantization
    assert v3 is not None
    assert (v3.method, v3.bits, v3.block_shape, v3.quant_type) == ("fp8", 8, (128, 128), "e4m3")
    assert v3.label == "fp8 e4m3 128×128"
    oss = open_model("gpt-oss-20b").quantization
    assert oss is not None and (oss.method, oss.bits, oss.quant_type) == ("mxfp4", 4, "mxfp4")
    assert "lm_head" in oss.excluded and "model.embed_tokens" in oss.excluded
    assert open_model("llama-3.1-8b").quantization is None  # plain bf16


@pytest.mark.parametrize(("qc", "expected"), [
    (GPTQ, ("gptq", 4, 128, "int", True, "gptq 4-bit g128")),
    (AWQ, ("awq", 4, 128, "int", None, "awq 4-bit g128")),
    (BNB_NF4, ("bitsandbytes_4bit", 4, 64, "nf4", None, "bitsandbytes nf4 g64")),
    (BNB_8, ("bitsandbytes_8bit", 8, None, "int8", None, "bitsandbytes int8")),
    (COMPRESSED, ("compressed-tensors", 4, 128, "int", True, "compressed-tensors 4-bit g128")),
    ({**GPTQ, "group_size": -1}, ("gptq", 4, None, "int", True, "gptq 4-bit")),  # -1: one group per row
])
def test_declarations(qc, expected):
    q = from_hf_config(qc)
    assert q is not None
    assert (q.method, q.bits, q.group_size, q.quant_type, q.symmetric, q.label) == expected
    assert q.config == qc


def test_bitsandbytes_details():
    q = from_hf_config(BNB_NF4)
    assert q is not None and q.double_quant and "absmax" in q.scale_layout
    assert from_hf_config(BNB_8).excluded == ("lm_head",)  # type: ignore[union-attr]
    default = from_hf_config({"load_in_4bit": True})  # BitsAndBytesConfig's default 4-bit type is fp4
    assert default is not None and default.quant_type == "fp4" and not default.double_quant


def test_mlx_top_level_quantization():
    q = from_config({"model_type": "qwen3", "quantization": MLX})
    assert q is not None and (q.method, q.bits, q.group_size, q.declared_in) == (
        "mlx", 4, 64, "config.json quantization (MLX)")
    assert from_config({"model_type": "llama"}) is None
    assert from_hf_config({}) is None and from_hf_config(None) is None


def test_names_reveal_the_method():
    assert from_tensor_names(["a.qweight", "a.qzeros", "a.scales"]).method == "gptq"  # type: ignore[union-attr]
    assert from_tensor_names(["model.embed_tokens.weight"]) is None


def test_readers_fill_the_field(tmp_path: Path, gemma_gguf: Path):
    gemma = open_model(str(gemma_gguf)).quantization
    assert gemma is not None and (gemma.method, gemma.file_type) == ("gguf", "Q4_K_M")  # general.file_type 15
    folder = tmp_path / "gptq"
    folder.mkdir()
    down = "model.layers.0.mlp.down_proj."
    write_safetensors(folder / "fp8.safetensors", {down + "weight": ("F8_E4M3", [256, 256]),
                                                    down + "weight_scale_inv": ("F32", [2, 2])})
    alone = open_model(str(folder / "fp8.safetensors")).quantization
    assert alone is not None and (alone.method, alone.declared_in) == ("fp8", "tensor names")
    write_safetensors(folder / "model.safetensors", {down + "qweight": ("I32", [16, 64]),
                                                      down + "qzeros": ("I32", [1, 8]),
                                                      down + "scales": ("F16", [1, 64])})
    (folder / "config.json").write_text(json.dumps({"quantization_config": GPTQ}))
    declared = open_model(str(folder / "model.safetensors")).quantization
    assert declared is not None and (declared.method, declared.bits, declared.group_size) == ("gptq", 4, 128)
    f16 = write_gguf(tmp_path / "plain.gguf", [], {})
    plain = open_model(str(f16)).quantization
    assert plain is not None and plain.method == "gguf" and plain.file_type is None
