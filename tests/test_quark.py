"""AMD Quark checkpoints (quant_method "quark"), priced as stored from config.json alone.

Quark saves each quantizer's scale and zero point beside the weight (weight_scale, input_scale,
weight_zero_point, output_scale; a second level "_2"); the tensors and shapes below are those vLLM 0.34's
quark/schemes register for each spec, which is what a checkpoint must hold to load (knowledge/quant_layouts.py
_quark). A layer takes exclude, then layer_quant_config's first matching glob, then layer_type_quant_config,
then global_quant_config, as the export decides.
"""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import paramscope
from paramscope.model.dtypes import DType

LLAMA = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
MX = {"qscheme": "per_group", "group_size": 32, "scale_format": "e8m0", "scale_type": "float",
      "round_method": "half_even", "symmetric": None, "ch_axis": -1}
EXPORT = {"kv_cache_group": [], "min_kv_scale": 0.0, "pack_method": "reorder",
          "weight_format": "real_quantized", "weight_merge_groups": None}


def quark(weight, inputs=None, **extra) -> dict:
    return {"quant_method": "quark", "global_quant_config": {"weight": weight, "input_tensors": inputs,
                                                             "output_tensors": None, "bias": None},
            "layer_quant_config": {}, "layer_type_quant_config": {}, "exclude": ["lm_head"],
            "export": dict(EXPORT), **extra}


def _open(tmp_path: Path, qc: dict, cfg: dict = LLAMA):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**cfg, "quantization_config": qc}))
    return paramscope.open_model(str(path))


def _shapes(model) -> dict:
    return {t.name: (t.dtype, t.shape) for t in model.tensors}


Q, K = "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"
DOWN = "model.layers.0.mlp.down_proj"


def test_mxfp4_as_amds_exports_write_it(tmp_path):
    """OCP MXFP4 (weight and dynamic input fp4 per group of 32, E8M0 scales): weight U8 (out, in/2), an E8M0
    scale U8 (out, in/32), nothing else; the excluded head, an excluded attention (a glob) and the router
    (re:) stay bf16, as AMD's DeepSeek and Qwen MXFP4 configs exclude them."""
    qc = quark({"dtype": "fp4", "is_dynamic": False, **MX}, {"dtype": "fp4", "is_dynamic": True, **MX},
               exclude=["lm_head", "*self_attn*", "re:.*mlp.gate$"])
    m = _open(tmp_path, qc)
    ts = _shapes(m)
    assert ts[DOWN + ".weight"] == (DType.U8, (4096, 14336 // 2))
    assert ts[DOWN + ".weight_scale"] == (DType.U8, (4096, 14336 // 32))
    assert not any(n.startswith(DOWN + ".") and n.endswith(("input_scale", "zero_point")) for n in ts)
    assert ts[Q + ".weight"] == (DType.BF16, (4096, 4096)) and ts["lm_head.weight"][0] == DType.BF16
    assert m.quantization is not None and m.quantization.label == "quark fp4 g32"
    # the packed weights count their 4-bit values: the parameters are the unquantized model's
    assert m.params == paramscope.open_model("llama-3.1-8b").params


@pytest.mark.parametrize("dtype, width", [("fp6_e2m3", 6), ("fp6_e3m2", 6), ("fp8_e4m3", 8)])
def test_mxfp6_and_mxfp8(tmp_path, dtype, width):
    m = _open(tmp_path, quark({"dtype": dtype, "is_dynamic": False, **MX}))
    ts = _shapes(m)
    assert ts[DOWN + ".weight"] == (DType.F8_E4M3 if width == 8 else DType.U8, (4096, 14336 * width // 8))
    assert ts[DOWN + ".weight_scale"] == (DType.U8, (4096, 14336 // 32))


def test_fp8_per_tensor_static_with_kv_cache_scales(tmp_path):
    """FP8 W8A8 with a static input (AMD's *-FP8-KV): a 0-d weight_scale and input_scale in the model
    dtype (scale_type "float"), and export.kv_cache_group's k_proj / v_proj outputs a 0-d output_scale each
    (vLLM renames them attn.k_scale / v_scale)."""
    fp8 = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False, "scale_type": "float"}
    qc = quark(fp8, dict(fp8))
    qc["export"]["kv_cache_group"] = ["*k_proj", "*v_proj"]
    ts = _shapes(_open(tmp_path, qc))
    assert ts[Q + ".weight"] == (DType.F8_E4M3, (4096, 4096))
    assert ts[Q + ".weight_scale"] == ts[Q + ".input_scale"] == (DType.BF16, ())
    assert ts[K + ".output_scale"] == (DType.BF16, ()) and Q + ".output_scale" not in ts
    assert "model.layers.31.self_attn.v_proj.output_scale" in ts


def test_fp8_per_channel_and_per_block(tmp_path):
    """PTPC FP8 (per-channel weights, dynamic per-token inputs): weight_scale (out,), no input scale; 128 ×
    128 blocks: (⌈out/128⌉, ⌈in/128⌉) in float32, or one byte each as E8M0 (scale_type float8_e8m0fnu)."""
    channel = _shapes(_open(tmp_path, quark(
        {"dtype": "fp8_e4m3", "qscheme": "per_channel", "ch_axis": 0, "is_dynamic": False},
        {"dtype": "fp8_e4m3", "qscheme": "per_channel", "is_dynamic": True})))
    assert channel[Q + ".weight_scale"] == (DType.BF16, (4096,)) and Q + ".input_scale" not in channel
    for scale_type, dtype in (("float32", DType.F32), ("float8_e8m0fnu", DType.U8)):
        (tmp_path / scale_type).mkdir()
        block = _shapes(_open(tmp_path / scale_type, quark(
            {"dtype": "fp8_e4m3", "qscheme": "per_block", "block_size": [128, 128], "scale_type": scale_type},
            {"dtype": "fp8_e4m3", "qscheme": "per_group", "group_size": 128, "is_dynamic": True})))
        assert block[K + ".weight_scale"] == (dtype, (ceil(1024 / 128), 4096 // 128))


def test_int8_keeps_a_zero_point_even_when_symmetric(tmp_path):
    int8 = {"dtype": "int8", "qscheme": "per_channel", "ch_axis": 0, "symmetric": True, "is_dynamic": False}
    static = {"dtype": "int8", "qscheme": "per_tensor", "symmetric": True, "is_dynamic": False}
    ts = _shapes(_open(tmp_path, quark(int8, static)))
    assert ts[Q + ".weight"] == (DType.I8, (4096, 4096))
    assert ts[Q + ".weight_scale"] == (DType.BF16, (4096,))
    assert ts[Q + ".weight_zero_point"] == (DType.I8, (4096,))
    assert ts[Q + ".input_scale"] == (DType.BF16, ()) and ts[Q + ".input_zero_point"] == (DType.I8, ())


def test_int4_per_group_is_transposed_and_packed_along_the_outputs(tmp_path):
    """W4A16 INT4 (Pack_4_bits per group): weight I32 (in, out/8), weight_scale (in/g, out) in the model
    dtype, weight_zero_point I32 (in/g, out/8) even when symmetric."""
    ts = _shapes(_open(tmp_path, quark({"dtype": "int4", "qscheme": "per_group", "group_size": 128,
                                        "symmetric": True, "is_dynamic": False})))
    assert ts[DOWN + ".weight"] == (DType.I32, (14336, 4096 // 8))
    assert ts[DOWN + ".weight_scale"] == (DType.BF16, (14336 // 128, 4096))
    assert ts[DOWN + ".weight_zero_point"] == (DType.I32, (14336 // 128, 4096 // 8))


def test_nvfp4_two_level(tmp_path):
    weight = [{"dtype": "fp4", "qscheme": "per_group", "group_size": 16, "is_dynamic": False},
              {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False, "is_scale_quant": True}]
    inputs = [{"dtype": "fp4", "qscheme": "per_group", "group_size": 16, "is_dynamic": True},
              {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False}]
    ts = _shapes(_open(tmp_path, quark(weight, inputs)))
    assert ts[DOWN + ".weight"] == (DType.U8, (4096, 14336 // 2))
    assert ts[DOWN + ".weight_scale"] == (DType.F8_E4M3, (4096, 14336 // 16))
    assert ts[DOWN + ".weight_scale_2"] == ts[DOWN + ".input_scale_2"] == (DType.F32, ())


def test_layer_specs_take_precedence_in_quarks_order(tmp_path):
    """layer_quant_config's first matching glob, then layer_type_quant_config["Linear"], then the global
    spec; a spec whose weight is null leaves the layer unquantized."""
    fp8 = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False}
    mx = {"dtype": "fp4", "is_dynamic": False, **MX}
    qc = quark(None, layer_quant_config={"*.mlp.down_proj": {"weight": fp8}, "*.mlp.*": {"weight": None}},
               layer_type_quant_config={"Linear": {"weight": mx}})
    ts = _shapes(_open(tmp_path, qc))
    assert ts[DOWN + ".weight"][0] == DType.F8_E4M3
    assert ts["model.layers.0.mlp.up_proj.weight"][0] == DType.BF16
    assert ts[Q + ".weight"][0] == DType.U8


def test_fake_quantized_exports_are_said_not_guessed(tmp_path):
    qc = quark({"dtype": "fp4", "is_dynamic": False, **MX})
    qc["export"]["weight_format"] = "fake_quantized"
    m = _open(tmp_path, qc)
    assert m.tensors[1].dtype == DType.BF16
    assert any("real_quantized" in w for w in m.metadata.get("warnings", ()))


def test_a_written_checkpoint_reads_back_with_its_parameters(tmp_path):
    """The listed tensors written as a real safetensors file beside the config and read back: the packed
    weights count their values (knowledge/packing.py), scales and zero points are side data."""
    cfg = {**LLAMA, "num_hidden_layers": 2, "vocab_size": 1024}
    for name, weight in (("mx", {"dtype": "fp4", "is_dynamic": False, **MX}),
                         ("int4", {"dtype": "int4", "qscheme": "per_group", "group_size": 128,
                                   "symmetric": True})):
        folder = tmp_path / name
        folder.mkdir()
        listed = _open(folder, quark(weight), cfg)
        types = {DType.I32: np.int32, DType.U8: np.uint8, DType.BF16: np.uint16}
        save_file({t.name: np.zeros(t.shape, types[t.dtype]) for t in listed.tensors},
                  str(folder / "model.safetensors"))
        plain = tmp_path / f"{name}-plain"
        plain.mkdir()
        (plain / "config.json").write_text(json.dumps(cfg))
        expected = paramscope.inspect(str(plain / "config.json")).inventory.total_params
        assert paramscope.inspect(str(folder)).inventory.total_params == expected, name


def test_mxfp8_blocks_kv_names_and_static_outputs(tmp_path):
    """The 2-D MXFP8 spelling (per_block [32, 32], E8M0): a byte per 32 × 32 block; a kv_cache_group naming
    one layer's k_proj adds that layer's output_scale only; a static output spec saves its scale."""
    mxfp8 = {"dtype": "fp8_e4m3", "qscheme": "per_block", "block_size": [32, 32],
             "scale_type": "float8_e8m0fnu"}
    out = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False}
    qc = quark(mxfp8, layer_quant_config={"*o_proj": {"weight": mxfp8, "output_tensors": out}})
    qc["export"]["kv_cache_group"] = [K]
    ts = _shapes(_open(tmp_path, qc))
    assert ts[DOWN + ".weight"] == (DType.F8_E4M3, (4096, 14336))
    assert ts[DOWN + ".weight_scale"] == (DType.U8, (4096 // 32, 14336 // 32))
    assert K + ".output_scale" in ts and "model.layers.1.self_attn.k_proj.output_scale" not in ts
    assert "model.layers.7.self_attn.o_proj.output_scale" in ts


def test_an_unknown_spec_is_named_and_left_unquantized(tmp_path):
    """W4A8's INT4+FP8 weight list has no layout here: its layers stay bf16 and a note names the spec."""
    w4a8 = [{"dtype": "fp8_e4m3", "qscheme": "per_tensor"}, {"dtype": "int4", "qscheme": "per_channel"}]
    m = _open(tmp_path, quark({"dtype": "fp4", "is_dynamic": False, **MX},
                              layer_quant_config={"*mlp*": {"weight": w4a8}}))
    ts = _shapes(m)
    assert ts[DOWN + ".weight"][0] == DType.BF16 and ts[Q + ".weight"][0] == DType.U8
    assert any("layer_quant_config['*mlp*']" in w for w in m.metadata.get("warnings", ()))


def test_hostile_patterns_are_refused_not_run(tmp_path):
    """An exclude expression that backtracks exponentially and a Linear-sized list of names: the pattern
    matches nothing (untrusted_regex), the names are looked up, the run stays bounded (a subprocess)."""
    import subprocess
    import sys

    qc = quark({"dtype": "fp4", "is_dynamic": False, **MX}, exclude=[
        r"re:^((\w|\.)*)*Q$", "re:(", *(f"model.layers.{i}.mlp.down_proj" for i in range(32)),
        *(f"no.such.module.{i}" for i in range(5000))])
    qc["global_quant_config"]["weight"]["group_size"] = float("inf")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "quantization_config": qc}))
    code = "import sys, paramscope; m = paramscope.open_model(sys.argv[1]); print(len(m.tensors))"
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_a_file_read_takes_each_layers_own_spec(tmp_path):
    """Reading a real file, a layer re-set by layer_quant_config counts its packed values by its own type
    (MXFP4 MLPs under a global FP8), and a null global spec is no error."""
    cfg = {**LLAMA, "num_hidden_layers": 2, "vocab_size": 1024}
    fp8 = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False}
    mx = {"dtype": "fp4", "is_dynamic": False, **MX}
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps(cfg))
    expected = paramscope.inspect(str(plain / "config.json")).inventory.total_params
    for name, qc in (("fp8-mx", quark(fp8, layer_quant_config={"*mlp*": {"weight": mx}})),
                     ("null-global", quark(None, layer_quant_config={"*mlp*": {"weight": mx}}))):
        folder = tmp_path / name
        folder.mkdir()
        listed = _open(folder, qc, cfg)
        types = {DType.U8: np.uint8, DType.BF16: np.uint16, DType.F8_E4M3: np.uint8}
        arrays = {t.name: np.zeros(t.shape, types[t.dtype]) for t in listed.tensors}
        save_file(arrays, str(folder / "model.safetensors"))
        _retype_f8(folder / "model.safetensors", {t.name for t in listed.tensors if t.dtype == DType.F8_E4M3})
        assert paramscope.inspect(str(folder)).inventory.total_params == expected, name


def _retype_f8(path: Path, names: set[str]) -> None:
    """numpy has no float8: write the bytes as U8, then rename the dtype in the header (same size)."""
    import struct

    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    for name in names:
        header[name]["dtype"] = "F8_E4M3"
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the header padded to 8 bytes, as safetensors writes it
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
