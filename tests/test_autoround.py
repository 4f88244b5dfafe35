"""Intel AutoRound checkpoints (quant_method "auto-round", "intel/auto-round" up to auto-round 0.4.x),
priced as stored from config.json alone.

AutoRound packs its integers as GPTQ's or AWQ's buffers (packing_format), keeps qzeros when symmetric and
its scales in float16, and re-sets or skips layers in extra_config (knowledge/quant_layouts.py _autoround,
the facts read in the auto-round 0.3.1 to 0.16.1 wheels and vLLM 0.34's inc/ parser).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import paramscope
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"
QWEN3_06B = json.loads((CONFIGS / "qwen3-0.6b.config.json").read_text())
# an auto-round 0.12.3 W4A16 RTN export's quantization_config, as three public agent logs of auto_quant
# print it (code index file ids 55030767225, 54679231636, 54967813713)
W4A16 = {"bits": 4, "data_type": "int", "group_size": 128, "sym": True, "iters": 0,
         "autoround_version": "0.12.3", "quant_method": "auto-round",
         "packing_format": "auto_round:auto_gptq"}


def _open(tmp_path: Path, cfg: dict, qc: dict):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**cfg, "quantization_config": qc}))
    return paramscope.open_model(str(path))


def _by_name(model) -> dict:
    return {t.name: t for t in model.tensors}


def test_a_real_qwen3_06b_export_to_the_byte(tmp_path):
    """The export's model.safetensors is 540,176,136 B (the `ls -la` in code index file id 55030767225):
    540,098,560 B of tensors (28 layers × 7 Linears as qweight, qzeros and float16 scales, no g_idx, the tied
    head not saved, the norms and embedding in bf16) and a header of 77,576 B with the 8-byte length, as
    safetensors writes 702 tensors' entries without metadata."""
    m = _open(tmp_path, QWEN3_06B, W4A16)
    assert m.tensor_bytes == 540_098_560
    assert len(m.tensors) == 702
    ts = _by_name(m)
    q = "model.layers.0.self_attn.q_proj"
    assert (ts[q + ".qweight"].dtype, ts[q + ".qweight"].shape) == (DType.I32, (1024 * 4 // 32, 2048))
    assert (ts[q + ".qzeros"].dtype, ts[q + ".qzeros"].shape) == (DType.I32, (1024 // 128, 2048 * 4 // 32))
    assert (ts[q + ".scales"].dtype, ts[q + ".scales"].shape) == (DType.F16, (1024 // 128, 2048))
    assert q + ".g_idx" not in ts and "lm_head.weight" not in ts
    assert m.quantization is not None and m.quantization.label == "auto-round 4-bit g128"


def test_each_packing_stores_its_own_buffers(tmp_path):
    """auto_awq: AWQ's (in, out·b/32) qweight; gptqmodel from 0.10: GPTQ's with g_idx; a legacy
    intel/auto-round export (its packing in ``backend``) and a GPTQ export relabelled auto-round without a
    packing_format: g_idx too."""
    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    q = "model.layers.0.mlp.down_proj"
    unpacked = {k: v for k, v in W4A16.items() if k != "packing_format"}
    cases = {
        "awq": ({**W4A16, "sym": False, "packing_format": "auto_round:auto_awq"}, (14336, 4096 // 8), False),
        "gptqmodel": ({**W4A16, "packing_format": "auto_round:gptqmodel"}, (14336 * 4 // 32, 4096), True),
        "legacy": (unpacked | {"quant_method": "intel/auto-round", "autoround_version": "0.4.2",
                      "backend": "auto_round:gptq:exllamav2"}, (14336 * 4 // 32, 4096), True),
        "relabelled": (unpacked | {"autoround_version": "0.5.1"}, (14336 * 4 // 32, 4096), True),
    }
    for name, (qc, shape, g_idx) in cases.items():
        (tmp_path / name).mkdir()
        ts = _by_name(_open(tmp_path / name, cfg, qc))
        assert ts[q + ".qweight"].shape == shape, name
        assert (q + ".g_idx" in ts) is g_idx, name
        assert ts[q + ".scales"].dtype == DType.F16, name


def test_extra_config_resets_skips_and_adds_layers(tmp_path):
    """extra_config as vLLM's INC parser reads it: a layer's own name or a name it ends with, or a key with
    regular-expression characters searched; 16 bits or more leaves it in bf16; other keys re-set bits and
    group; the head is quantized only when named."""
    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    qc = {**W4A16, "extra_config": {
        "model.layers.0.mlp.gate_proj": {"bits": 16, "data_type": "fp"},
        r"model\.layers\.1\.self_attn\..*": {"bits": 8},
        "model.layers.2.mlp.up_proj": {"group_size": 32},
        "lm_head": {"bits": 4, "group_size": 128, "sym": True, "data_type": "int"}}}
    ts = _by_name(_open(tmp_path, cfg, qc))
    assert ts["model.layers.0.mlp.gate_proj.weight"].dtype == DType.BF16
    assert ts["model.layers.1.self_attn.q_proj.qweight"].shape == (4096 * 8 // 32, 4096)
    assert ts["model.layers.2.mlp.up_proj.scales"].shape == (4096 // 32, 14336)
    assert ts["lm_head.qweight"].shape == (4096 * 4 // 32, 128256)
    assert ts["model.embed_tokens.weight"].dtype == DType.BF16


def test_blocks_named_and_the_multiple_of_32_rule(tmp_path):
    """block_name_to_quantize names the blocks (a multimodal export's text blocks: the vision tower stays
    bf16); a Linear whose rows are not a multiple of 32 (Qwen3.6-27B's 48-row in_proj_b and in_proj_a,
    Qwen3.5-35B-A3B's one-row shared-expert gate) stays in high precision, as auto-round's
    layer_config_resolver leaves it; the 32-row in_proj_b of the 35B is quantized."""
    qc = {**W4A16, "block_name_to_quantize": "model.language_model.layers"}
    p = "model.language_model.layers.0."
    dense = _by_name(_open(tmp_path, json.loads((CONFIGS / "qwen3.6-27b.config.json").read_text()), qc))
    assert p + "linear_attn.in_proj_qkv.qweight" in dense and p + "mlp.down_proj.qweight" in dense
    assert dense[p + "linear_attn.in_proj_b.weight"].dtype == DType.BF16
    assert not any(n.startswith("model.visual.") and n.endswith(".qweight") for n in dense)
    moe = _by_name(_open(tmp_path, json.loads((CONFIGS / "qwen3.5-35b-a3b.config.json").read_text()), qc))
    assert p + "mlp.experts.7.down_proj.qweight" in moe and p + "linear_attn.in_proj_b.qweight" in moe
    assert moe[p + "mlp.shared_expert_gate.weight"].dtype == DType.BF16


@pytest.mark.parametrize("qc, says", [
    ({**W4A16, "model_free": True}, "model-free"),
    ({**W4A16, "data_type": "fp", "bits": 8, "packing_format": "auto_round:fp8"}, "only its integer"),
    ({**W4A16, "packing_format": "auto_round:llm_compressor"}, "only its integer"),
])
def test_what_is_not_modelled_is_said(tmp_path, qc, says):
    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    m = _open(tmp_path, cfg, qc)
    assert m.tensors[1].dtype == DType.BF16
    assert any(says in w for w in m.metadata.get("warnings", ())), m.metadata.get("warnings")


def test_a_written_checkpoint_reads_back_with_the_configs_counts(tmp_path):
    """The tensors the config lists, written as a real safetensors file beside it, read back by the
    safetensors reader: the packed qweights count their 4-bit weights (knowledge/packing.py), the zeros and
    scales are side data, so the parameter count is the unquantized model's."""
    cfg = {**QWEN3_06B, "num_hidden_layers": 2, "vocab_size": 1024}
    listed = _open(tmp_path, cfg, W4A16)
    plain = paramscope.inspect(str(_plain(tmp_path / "plain", cfg)))
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**cfg, "quantization_config": W4A16}))
    numpy_types = {DType.I32: np.int32, DType.F16: np.float16, DType.BF16: np.uint16}
    arrays = {t.name: np.zeros(t.shape, numpy_types[t.dtype]) for t in listed.tensors}
    save_file(arrays, str(folder / "model.safetensors"))
    read = paramscope.inspect(str(folder))
    assert read.inventory.total_params == plain.inventory.total_params


def _plain(folder: Path, cfg: dict) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder / "config.json"


def test_vllm_holds_an_auto_gptq_export_as_its_gptq_twin(tmp_path):
    """vLLM 0.34 loads auto_round:auto_gptq through AutoGPTQLinearMethod with act-order off (inc/schemes/
    inc_wna16_linear.py), so it holds what it holds of the same GPTQ checkpoint: on Marlin (A100) the
    symmetric zero points and the unused g_idx dropped, on Machete (H100) the zero points kept. The twin
    stores a g_idx AutoRound does not write; held, they match."""
    from paramscope.analyses.sizing.loaded import loaded_weights
    from paramscope.knowledge.hardware import find_device

    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    (tmp_path / "ar").mkdir()
    (tmp_path / "gptq").mkdir()
    ar = _open(tmp_path / "ar", cfg, W4A16)
    twin = _open(tmp_path / "gptq", cfg, {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True,
                                           "desc_act": False})
    assert twin.tensor_bytes > ar.tensor_bytes
    zeros = sum(t.nbytes for t in ar.tensors if t.name.endswith(".qzeros"))
    for gpu, dropped in (("a100", zeros), ("h100", 0)):
        held = loaded_weights(ar, "vllm", find_device(gpu))
        assert held.bytes == loaded_weights(twin, "vllm", find_device(gpu)).bytes == ar.tensor_bytes - dropped
        assert "GPTQ" in " ".join(held.notes)


def _llama(tmp_path, qc, sub):
    (tmp_path / sub).mkdir()
    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    return {t.name: t for t in _open(tmp_path / sub, cfg, qc).tensors}


def test_extra_config_precedence_is_vllms(tmp_path):
    """vLLM's INC parser: a name (its own, or one it ends with) before any expression, whatever the order of
    the keys; an expression's missing fields default to 16 bits outside the blocks (the head), so a head an
    expression re-groups stays unquantized; an expression with \\d reaches only the layers it names."""
    ts = _llama(tmp_path, {**W4A16, "extra_config": {".*": {"bits": 8}, "lm_head": {"bits": 16}}}, "a")
    assert ts["lm_head.weight"].dtype == DType.BF16
    assert ts["model.layers.5.mlp.up_proj.qweight"].shape == (4096 * 8 // 32, 14336)
    ts = _llama(tmp_path, {**W4A16, "extra_config": {".*head.*": {"group_size": 64}}}, "b")
    assert ts["lm_head.weight"].dtype == DType.BF16
    ts = _llama(tmp_path, {**W4A16, "extra_config": {r"model\.layers\.\d\.mlp\.down_proj": {"bits": 8}}}, "c")
    assert ts["model.layers.3.mlp.down_proj.qweight"].shape == (14336 * 8 // 32, 4096)
    assert ts["model.layers.13.mlp.down_proj.qweight"].shape == (14336 * 4 // 32, 4096)


def test_blocks_named_by_prefix_and_awq_above_4_bits(tmp_path):
    """block_name_to_quantize as vLLM reads it (a name starting with the prefix: "model.layers.1" holds
    layers 1 and 10 to 19, not 2); auto_awq at 5 bits packs its columns along int32 words."""
    ts = _llama(tmp_path, {**W4A16, "block_name_to_quantize": "model.layers.1"}, "a")
    assert "model.layers.1.mlp.up_proj.qweight" in ts and "model.layers.12.mlp.up_proj.qweight" in ts
    assert ts["model.layers.2.mlp.up_proj.weight"].dtype == DType.BF16
    ts = _llama(tmp_path, {**W4A16, "bits": 5, "sym": False, "packing_format": "auto_round:auto_awq"}, "b")
    assert ts["model.layers.0.mlp.down_proj.qweight"].shape == (14336, 4096 * 5 // 32)
    assert ts["model.layers.0.mlp.down_proj.qzeros"].shape == (14336 // 128, 4096 * 5 // 32)


def test_a_hostile_extra_config_is_neither_a_traceback_nor_a_hang(tmp_path):
    """Infinity bits, an expression whose repeat count overflows, one that backtracks exponentially
    (refused: untrusted_regex), thousands of names: priced, in a bounded time (a subprocess, so a hang
    fails rather than stalls the suite)."""
    import subprocess
    import sys

    cfg = dict(paramscope.open_model("llama-3.1-8b").metadata["config"])
    extra = {"model.layers.0.mlp.up_proj": {"bits": float("inf")}, "a{99999999999}": {"bits": 8},
             r"^((\w|\.)*)*Q$": {"bits": 8}, "model.layers.1.mlp.up_proj": {"bits": "x"},
             **{f"model.layers.{i % 32}.mlp.experts.{i}.up_proj": {"bits": 8} for i in range(5000)}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**cfg, "quantization_config": {**W4A16, "extra_config": extra}}))
    code = ("import sys, paramscope; m = paramscope.open_model(sys.argv[1]); "
            "print(sum(t.name.endswith('.qweight') for t in m.tensors))")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 32 * 7 - 2  # the two malformed layers left as they are
