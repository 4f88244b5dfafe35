"""knowledge/packing.py: every row of the conventions table, on synthetic tensors and on tiny files.

Expected counts are worked by hand from each format's layout; the Linear under test is always
in_features 64 × out_features 128 = 8192 weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from builders.safetensors_files import write_safetensors
from paramscope.errors import UnsupportedError
from paramscope.formats import hf_dir
from paramscope.formats import safetensors as st
from paramscope.knowledge.packing import CONVENTIONS, apply_packing, detect_method, quant_method, weight_bits
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

IN, OUT = 64, 128
LINEAR = IN * OUT  # 8192

GPTQ4 = {"quant_method": "gptq", "bits": 4, "group_size": 32}
GPTQ8 = {"quant_method": "gptq", "bits": 8, "group_size": 32}
AWQ4 = {"quant_method": "awq", "bits": 4, "group_size": 32, "version": "gemm"}
BNB4 = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}
BNB8 = {"quant_method": "bitsandbytes", "load_in_8bit": True}
MXFP4 = {"quant_method": "mxfp4", "modules_to_not_convert": ["lm_head"]}
FP8 = {"quant_method": "fp8", "weight_block_size": [128, 128]}
CT_INT4 = {"quant_method": "compressed-tensors", "format": "pack-quantized",
           "config_groups": {"group_0": {"weights": {"num_bits": 4}, "targets": ["Linear"]}}}
CT_NVFP4 = {"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
            "config_groups": {"group_0": {"weights": {"num_bits": 4}, "targets": ["Linear"]}}}
MODELOPT = {"quant_method": "modelopt", "quant_algo": "NVFP4"}
MLX4 = {"group_size": 32, "bits": 4, "model.layers.0.mlp.up_proj": {"group_size": 32, "bits": 8}}


def _quark(dtype: str, group: int) -> dict:
    return {"quant_method": "quark",
            "global_quant_config": {"weight": {"dtype": dtype, "qscheme": "per_group", "group_size": group}}}


QUARK_MXFP4, QUARK_MXFP6, QUARK_INT4 = _quark("fp4", 32), _quark("fp6_e2m3", 32), _quark("int4", 128)
AUTOROUND = {"quant_method": "auto-round", "bits": 4, "group_size": 128,
             "packing_format": "auto_round:auto_gptq"}
BITNET = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "offline"}

# (config, name, dtype, shape, expected logical params); each row of CONVENTIONS is hit first by one.
EXAMPLES: list[tuple[dict | None, str, str, tuple[int, ...], int]] = [
    # buffers
    (None, "embeddings.position_ids", "I64", (1, 512), 0),
    (None, "bert.embeddings.token_type_ids", "I64", (1, 512), 0),
    (None, "h.0.attn.bias", "F32", (1, 1, 1024, 1024), 0),
    (None, "h.0.attn.masked_bias", "F32", (), 0),
    (None, "transformer.h.0.attn.attention.bias", "BOOL", (1, 1, 2048, 2048), 0),
    (None, "model.layers.0.self_attn.rotary_emb.inv_freq", "F32", (64,), 0),
    (None, "transformer.h.0.self_attention.rotary_emb.cos_cached", "F32", (1, 1, 2048, 64), 0),
    (None, "backbone.bn1.num_batches_tracked", "I64", (), 0),
    # things that look like buffers but are parameters
    (None, "h.0.attn.c_attn.bias", "F32", (2304,), 2304),
    (None, "encoder.layer.0.attention.self.query.bias", "F32", (384,), 384),
    (None, "blocks.0.attn.bias", "F32", (768,), 768),  # a real 1-d bias named attn.bias
    (None, "model.layers.0.mlp.gate_proj.scales", "F32", (8,), 8),  # not GPTQ without its method
    # GPTQ: qweight (in × 4 / 32, out) int32; qzeros (groups, out × 4 / 32); scales (groups, out)
    (GPTQ4, "model.layers.0.mlp.down_proj.qweight", "I32", (IN * 4 // 32, OUT), LINEAR),
    (GPTQ8, "model.layers.0.mlp.down_proj.qweight", "I32", (IN * 8 // 32, OUT), LINEAR),
    (GPTQ4, "model.layers.0.mlp.down_proj.qzeros", "I32", (IN // 32, OUT * 4 // 32), 0),
    (GPTQ4, "model.layers.0.mlp.down_proj.scales", "F16", (IN // 32, OUT), 0),
    (GPTQ4, "model.layers.0.mlp.down_proj.g_idx", "I32", (IN,), 0),
    (GPTQ4, "model.layers.0.mlp.down_proj.bias", "F16", (OUT,), OUT),
    # AWQ: qweight (in, out × 4 / 32)
    (AWQ4, "model.layers.0.mlp.down_proj.qweight", "I32", (IN, OUT * 4 // 32), LINEAR),
    (AWQ4, "model.layers.0.mlp.down_proj.qzeros", "I32", (IN // 32, OUT * 4 // 32), 0),
    # bitsandbytes 4-bit: (out × in / 2, 1) bytes
    (BNB4, "model.layers.0.mlp.down_proj.weight", "U8", (LINEAR // 2, 1), LINEAR),
    (BNB4, "lm_head.weight", "F16", (OUT, IN), LINEAR),  # modules_to_not_convert stay plain
    (BNB4, "model.layers.0.mlp.down_proj.weight.absmax", "F32", (LINEAR // 64,), 0),
    (BNB4, "model.layers.0.mlp.down_proj.weight.quant_map", "F32", (16,), 0),
    (BNB4, "model.layers.0.mlp.down_proj.weight.nested_absmax", "F32", (1,), 0),
    (BNB4, "model.layers.0.mlp.down_proj.weight.quant_state.bitsandbytes__nf4", "U8", (120,), 0),
    # bitsandbytes 8-bit
    (BNB8, "model.layers.0.mlp.down_proj.weight", "I8", (OUT, IN), LINEAR),
    (BNB8, "model.layers.0.mlp.down_proj.SCB", "F32", (OUT,), 0),
    (BNB8, "model.layers.0.mlp.down_proj.weight_format", "U8", (), 0),
    # MXFP4 (gpt-oss): blocks (experts, out, in / 32, 16) bytes, scales (experts, out, in / 32)
    (MXFP4, "model.layers.0.mlp.experts.down_proj_blocks", "U8", (4, OUT, IN // 32, 16), 4 * LINEAR),
    (MXFP4, "model.layers.0.mlp.experts.down_proj_scales", "U8", (4, OUT, IN // 32), 0),
    (MXFP4, "model.layers.0.mlp.experts.down_proj_bias", "BF16", (4, OUT), 4 * OUT),
    # FP8: weights F8_E4M3 count one each; 128 × 128 block scales do not count
    (FP8, "model.layers.0.mlp.down_proj.weight", "F8_E4M3", (OUT, IN), LINEAR),
    (FP8, "model.layers.0.mlp.down_proj.weight_scale_inv", "F32", (1, 1), 0),
    (FP8, "model.layers.0.mlp.down_proj.input_scale", "F32", (), 0),
    # compressed-tensors: int4 packed in int32 (out, in / 8); nvfp4 packed in uint8 (out, in / 2)
    (CT_INT4, "model.layers.0.mlp.down_proj.weight_packed", "I32", (OUT, IN // 8), LINEAR),
    (CT_INT4, "model.layers.0.mlp.down_proj.weight_shape", "I64", (2,), 0),
    (CT_NVFP4, "model.layers.0.mlp.down_proj.weight_packed", "U8", (OUT, IN // 2), LINEAR),
    (CT_NVFP4, "model.layers.0.mlp.down_proj.weight_global_scale", "F32", (1,), 0),
    (CT_INT4, "model.layers.0.mlp.down_proj.weight_g_idx", "I32", (IN,), 0),
    # ModelOpt NVFP4
    (MODELOPT, "model.layers.0.mlp.down_proj.weight", "U8", (OUT, IN // 2), LINEAR),
    (MODELOPT, "model.layers.0.mlp.down_proj.weight_scale_2", "F32", (), 0),
    # AMD Quark: MXFP4 two a byte, MXFP6 four in three bytes, INT4 eight an int32 (transposed); side data
    (QUARK_MXFP4, "model.layers.0.mlp.down_proj.weight", "U8", (OUT, IN // 2), LINEAR),
    (QUARK_MXFP6, "model.layers.0.mlp.down_proj.weight", "U8", (OUT, IN * 3 // 4), LINEAR),
    (QUARK_INT4, "model.layers.0.mlp.down_proj.weight", "I32", (IN, OUT // 8), LINEAR),
    (QUARK_MXFP4, "model.layers.0.self_attn.k_proj.output_scale", "BF16", (), 0),
    (QUARK_MXFP4, "model.layers.0.mlp.down_proj.weight_scale", "U8", (OUT, IN // 32), 0),
    # AutoRound packs as GPTQ
    (AUTOROUND, "model.layers.0.mlp.down_proj.qweight", "I32", (IN * 4 // 32, OUT), LINEAR),
    # BitNet: four ternary weights a byte
    (BITNET, "model.layers.0.mlp.down_proj.weight", "U8", (OUT // 4, IN), LINEAR),
    # MLX: uint32 (out, in × bits / 32), a module's own width where the config overrides it
    (MLX4, "model.layers.0.mlp.down_proj.weight", "U32", (OUT, IN * 4 // 32), LINEAR),
    (MLX4, "model.layers.0.mlp.up_proj.weight", "U32", (OUT, IN * 8 // 32), LINEAR),
    (MLX4, "model.layers.0.mlp.down_proj.scales", "BF16", (OUT, IN // 32), 0),
    (MLX4, "model.layers.0.mlp.down_proj.biases", "BF16", (OUT, IN // 32), 0),
]


def tensor(name: str, dtype: str, shape: tuple[int, ...]) -> Tensor:
    dt = DType(dtype)
    n = 1
    for d in shape:
        n *= d
    return Tensor(name, shape, dt, dt.nbytes(n))


@pytest.mark.parametrize(("config", "name", "dtype", "shape", "expected"), EXAMPLES,
                         ids=[f"{(c or {}).get('quant_method', 'plain')}:{n}" for c, n, *_ in EXAMPLES])
def test_row(config, name: str, dtype: str, shape: tuple[int, ...], expected: int) -> None:
    (t,) = apply_packing([tensor(name, dtype, shape)], config)
    assert t.params == expected
    assert t.is_parameter == (expected > 0)


def test_every_row_is_exercised() -> None:
    """Each convention is the first match for at least one example above."""
    hit = set()
    for config, name, dtype, shape, _ in EXAMPLES:
        method = quant_method(config)
        t = tensor(name, dtype, shape)
        for i, c in enumerate(CONVENTIONS):
            if ((not c.methods or method in c.methods) and ("." + name).endswith(c.suffixes)
                    and (not c.dtypes or t.dtype in c.dtypes) and (c.ndim is None or len(shape) == c.ndim)):
                hit.add(i)
                break
    assert hit == set(range(len(CONVENTIONS))), [CONVENTIONS[i].suffixes for i in
                                                 set(range(len(CONVENTIONS))) - hit]


def test_unmatched_tensors_are_the_same_objects() -> None:
    t = tensor("model.layers.0.mlp.down_proj.weight", "BF16", (OUT, IN))
    assert apply_packing([t], None)[0] is t


def test_quant_method_and_bits() -> None:
    assert quant_method(BNB4) == "bitsandbytes_4bit"
    assert quant_method(BNB8) == "bitsandbytes_8bit"
    assert quant_method({"load_in_4bit": True}) == "bitsandbytes_4bit"  # configs before quant_method
    assert quant_method({"quant_method": "GPTQ"}) == "gptq"
    assert quant_method(None) is None and quant_method({}) is None
    assert quant_method(MLX4) == "mlx" and quant_method({"bits": 4}) is None
    assert weight_bits(GPTQ4) == 4 and weight_bits({"w_bit": 3}) == 3 and weight_bits(CT_INT4) == 4
    mixed = {"config_groups": {"a": {"weights": {"num_bits": 4}}, "b": {"weights": {"num_bits": 8}}}}
    assert weight_bits(mixed) is None


def test_method_detected_from_names_without_config() -> None:
    assert detect_method(["a.weight", "a.weight.quant_state.bitsandbytes__nf4"]) == "bitsandbytes_4bit"
    assert detect_method(["l.SCB", "l.weight"]) == "bitsandbytes_8bit"
    assert detect_method(["x.experts.gate_up_proj_blocks"]) == "mxfp4"
    assert detect_method(["l.qweight", "l.qzeros"]) == "gptq"
    assert detect_method(["l.weight", "l.weight_scale_inv"]) == "fp8"
    assert detect_method(["l.weight", "l.bias", "l.my_qzeros"]) is None
    (t,) = apply_packing([tensor("x.experts.up_proj_blocks", "U8", (2, 8, 2, 16))], None)
    assert t.params == 2 * 8 * 2 * 16 * 2


def test_gptq_without_bits_is_unsupported_not_guessed() -> None:
    names = [tensor("l.qweight", "I32", (8, OUT)), tensor("l.qzeros", "I32", (2, 16))]
    with pytest.raises(UnsupportedError, match=r"^model\.safetensors: l\.qweight packs gptq weights"):
        apply_packing(names, None, "model.safetensors")


def test_three_bit_words_hold_32_weights_in_every_3() -> None:
    """3-bit GPTQ packs 32 weights in 3 int32s straight across the words (AutoGPTQ qlinear: qweight
    (in / 32 × 3, out)); MLX any width across uint32 (w_q (out, in × bits / 32)): the parameter count is
    elements × 32 / bits, exact; elements that would not hold whole weights are refused."""
    (t,) = apply_packing([tensor("l.qweight", "I32", (6, OUT))], {"quant_method": "gptq", "bits": 3}, "f")
    assert t.params == 64 * OUT and t.weight_bits == 3  # 6 words a column: 64 inputs
    (t,) = apply_packing([tensor("l.weight", "U32", (OUT, 12))], {"bits": 6, "group_size": 64}, "f")
    assert t.params == OUT * 64
    with pytest.raises(UnsupportedError, match=r"do not hold a whole number of 3-bit weights"):
        apply_packing([tensor("l.qweight", "I32", (1, 1))], {"quant_method": "gptq", "bits": 3}, "f")


# --- the same conventions on tiny files ----------------------------------------------------------

def write_model_dir(folder: Path, tensors: dict, quantization_config: dict | None,
                    legacy: tuple[str, dict] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    if quantization_config is not None:
        config["quantization_config"] = quantization_config
    (folder / "config.json").write_text(json.dumps(config))
    if legacy:
        (folder / legacy[0]).write_text(json.dumps(legacy[1]))
    path = write_safetensors(folder / "model.safetensors", tensors)
    with safe_open(path, framework="numpy") as f:  # the library accepts every file we count
        assert set(f.keys()) == set(tensors)
    return folder


GPTQ_FILE = {"l.qweight": ("I32", [IN * 4 // 32, OUT]), "l.qzeros": ("I32", [IN // 32, OUT * 4 // 32]),
             "l.scales": ("F16", [IN // 32, OUT]), "l.g_idx": ("I32", [IN]), "l.bias": ("F16", [OUT])}


def test_gptq_file_in_its_directory(tmp_path: Path) -> None:
    folder = write_model_dir(tmp_path / "gptq", GPTQ_FILE, GPTQ4)
    assert hf_dir.read(folder).params == LINEAR + OUT  # 8192 + 128
    assert st.read(folder / "model.safetensors").params == LINEAR + OUT  # bits from config.json beside


@pytest.mark.parametrize("bits", [3, 4, 8])
def test_gptq_file_of_any_width_in_its_directory(tmp_path: Path, bits: int) -> None:
    """AutoGPTQ's qweight (in / 32 × bits, out): 3-bit files (32 weights in 3 words) count as 4-bit ones."""
    tensors = {**GPTQ_FILE, "l.qweight": ("I32", [IN // 32 * bits, OUT]),
               "l.qzeros": ("I32", [IN // 32, OUT // 32 * bits])}
    folder = write_model_dir(tmp_path / f"gptq{bits}", tensors, {**GPTQ4, "bits": bits})
    assert hf_dir.read(folder).params == LINEAR + OUT


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
def test_mlx_file_of_any_width(tmp_path: Path, bits: int) -> None:
    """mlx-community's 3-, 5- and 6-bit files (w_q (out, in × bits / 32) uint32, scales and biases per
    group) were refused before Tensor.weight_bits; every width counts the Linear's weights."""
    tensors = {"l.weight": ("U32", [OUT, IN * bits // 32]), "l.scales": ("F16", [OUT, IN // 64]),
               "l.biases": ("F16", [OUT, IN // 64]), "norm.weight": ("F16", [IN])}
    folder = write_model_dir(tmp_path / f"mlx{bits}", tensors, {"group_size": 64, "bits": bits})
    assert hf_dir.read(folder).params == LINEAR + IN


def test_gptq_legacy_quantize_config(tmp_path: Path) -> None:
    folder = write_model_dir(tmp_path / "old", GPTQ_FILE, None, ("quantize_config.json", {"bits": 4}))
    assert hf_dir.read(folder).params == LINEAR + OUT


def test_gptq_file_alone_needs_its_config(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "model.safetensors", GPTQ_FILE)
    with pytest.raises(UnsupportedError, match=f"^{tmp_path}/model.safetensors: l.qweight"):
        st.read(path)


def test_awq_file(tmp_path: Path) -> None:
    tensors = {"l.qweight": ("I32", [IN, OUT * 4 // 32]), "l.qzeros": ("I32", [IN // 32, OUT * 4 // 32]),
               "l.scales": ("F16", [IN // 32, OUT])}
    assert hf_dir.read(write_model_dir(tmp_path / "awq", tensors, AWQ4)).params == LINEAR


def test_bitsandbytes_4bit_file(tmp_path: Path) -> None:
    tensors = {"l.weight": ("U8", [LINEAR // 2, 1]), "l.weight.absmax": ("F32", [LINEAR // 64]),
               "l.weight.quant_map": ("F32", [16]),
               "l.weight.quant_state.bitsandbytes__nf4": ("U8", [100]), "norm.weight": ("F16", [IN])}
    folder = write_model_dir(tmp_path / "bnb4", tensors, BNB4)
    assert hf_dir.read(folder).params == LINEAR + IN
    alone = write_safetensors(tmp_path / "bnb4.safetensors", tensors)  # detected from the names
    assert st.read(alone).params == LINEAR + IN


def test_bitsandbytes_8bit_file(tmp_path: Path) -> None:
    tensors = {"l.weight": ("I8", [OUT, IN]), "l.SCB": ("F32", [OUT]), "l.weight_format": ("U8", [])}
    assert hf_dir.read(write_model_dir(tmp_path / "bnb8", tensors, BNB8)).params == LINEAR


def test_mxfp4_file(tmp_path: Path) -> None:
    e = 4
    tensors = {"mlp.experts.down_proj_blocks": ("U8", [e, OUT, IN // 32, 16]),
               "mlp.experts.down_proj_scales": ("U8", [e, OUT, IN // 32]),
               "mlp.experts.down_proj_bias": ("BF16", [e, OUT]), "mlp.router.weight": ("BF16", [e, IN])}
    folder = write_model_dir(tmp_path / "mxfp4", tensors, MXFP4)
    assert hf_dir.read(folder).params == e * LINEAR + e * OUT + e * IN


def test_fp8_file(tmp_path: Path) -> None:
    tensors = {"l.weight": ("F8_E4M3", [256, 256]), "l.weight_scale_inv": ("F32", [2, 2])}
    assert hf_dir.read(write_model_dir(tmp_path / "fp8", tensors, FP8)).params == 256 * 256


def test_compressed_tensors_file(tmp_path: Path) -> None:
    tensors = {"l.weight_packed": ("I32", [OUT, IN // 8]), "l.weight_scale": ("BF16", [OUT, IN // 32]),
               "l.weight_shape": ("I64", [2])}
    assert hf_dir.read(write_model_dir(tmp_path / "ct", tensors, CT_INT4)).params == LINEAR


def test_gpt2_buffers_file(tmp_path: Path) -> None:
    tensors = {"h.0.attn.bias": ("F32", [1, 1, 16, 16]), "h.0.attn.masked_bias": ("F32", []),
               "h.0.attn.c_attn.weight": ("F32", [8, 24]), "h.0.attn.c_attn.bias": ("F32", [24])}
    model = st.read(write_safetensors(tmp_path / "gpt2.safetensors", tensors))
    assert model.params == 8 * 24 + 24
    assert {t.name for t in model.tensors if not t.is_parameter} == {"h.0.attn.bias", "h.0.attn.masked_bias"}
