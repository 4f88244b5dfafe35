"""NVIDIA Model Optimizer's MIXED_PRECISION checkpoints, priced per layer as vLLM loads them.

A MIXED_PRECISION export names each quantized Linear in ``quantized_layers`` with its own algorithm (vLLM
0.34 layers/quantization/modelopt.py ModelOptMixedPrecisionConfig): FP8, FP8 per channel, FP8 in 128 × 128
blocks, MXFP8, NVFP4 and W4A16_NVFP4; a Linear no key names stays unquantized, the head included unless
it is listed. Older exports keep the same fields in ``hf_quant_config.json`` beside config.json.
"""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

import pytest

import paramscope
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"
GIB = 1 << 30


def _write(folder: Path, cfg: dict, qc: dict | None = None, beside: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if qc is not None and beside:
        (folder / "hf_quant_config.json").write_text(json.dumps(
            {"producer": {"name": "modelopt", "version": "0.29.0"}, "quantization": qc}))
    elif qc is not None:
        cfg = {**cfg, "quantization_config": {"quant_method": "modelopt", **qc}}
    path = folder / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def llama() -> dict:
    return dict(paramscope.open_model("llama-3.1-8b").metadata["config"])


ALGOS = {
    "model.layers.0.self_attn.q_proj": {"quant_algo": "FP8"},
    "model.layers.0.self_attn.k_proj": {"quant_algo": "FP8_PER_CHANNEL_PER_TOKEN"},
    "model.layers.0.self_attn.v_proj": {"quant_algo": "FP8_PB_WO"},
    "model.layers.0.self_attn.o_proj": {"quant_algo": "MXFP8"},
    "model.layers.0.mlp.gate_proj": {"quant_algo": "NVFP4", "group_size": 16},
    "model.layers.0.mlp.up_proj": {"quant_algo": "W4A16_NVFP4", "group_size": 32},
    "lm_head": {"quant_algo": "W4A16_NVFP4"},
}


@pytest.mark.parametrize("beside", [False, True])
def test_each_layer_is_stored_as_its_own_algorithm_says(tmp_path, llama, beside):
    """Each algorithm's tensors as vLLM's QuantKeySchemes register them (KFp8StaticTensor, KFp8StaticChannel,
    KFp8Block128, KMxfp8Static, KNvfp4Static with the layer's own group), from config.json or from
    hf_quant_config.json beside it; the unlisted Linears of layer 0 and every Linear of layer 1 stay
    bf16."""
    qc = {"quant_algo": "MIXED_PRECISION", "kv_cache_quant_algo": None, "exclude_modules": [],
          "quantized_layers": ALGOS}
    m = paramscope.open_model(str(_write(tmp_path / str(beside), llama, qc, beside)))
    assert m.quantization is not None and m.quantization.method == "modelopt"
    assert m.quantization.label == "modelopt mixed_precision"
    ts = {t.name: (t.dtype, t.shape) for t in m.tensors}
    a, f = "model.layers.0.self_attn.", "model.layers.0.mlp."
    assert ts[a + "q_proj.weight"] == (DType.F8_E4M3, (4096, 4096))
    assert ts[a + "q_proj.weight_scale"] == ts[a + "q_proj.input_scale"] == (DType.F32, ())
    assert ts[a + "k_proj.weight_scale"] == (DType.F32, (1024,)) and a + "k_proj.input_scale" not in ts
    assert ts[a + "v_proj.weight_scale"] == (DType.F32, (ceil(1024 / 128), 4096 // 128))
    assert ts[a + "o_proj.weight_scale"] == (DType.U8, (4096, 4096 // 32))
    assert ts[f + "gate_proj.weight"] == (DType.U8, (14336, 2048))
    assert ts[f + "gate_proj.weight_scale"] == (DType.F8_E4M3, (14336, 4096 // 16))
    assert ts[f + "up_proj.weight_scale"] == (DType.F8_E4M3, (14336, 4096 // 32))
    assert ts["lm_head.weight"] == (DType.U8, (128256, 2048))  # listed: quantized, group 16 by default
    assert ts[f + "down_proj.weight"] == (DType.BF16, (4096, 14336))  # not listed
    assert ts["model.layers.1.self_attn.q_proj.weight"] == (DType.BF16, (4096, 4096))
    assert ts["model.embed_tokens.weight"][0] == DType.BF16


def test_names_are_matched_as_vllm_resolves_them(tmp_path):
    """vLLM's _resolve_quant_algo: a key under "language_model.model." names the module listed under
    "model.language_model." (and back), "lm_head" names the head wherever it sits, and an MoE layer's
    "…mlp.experts" key covers each expert's matrices; the router, unlisted, stays bf16."""
    cfg = json.loads((CONFIGS / "qwen3.5-35b-a3b.config.json").read_text())
    layers = {"language_model.model.layers.3.self_attn.q_proj": {"quant_algo": "FP8"},
              "model.language_model.layers.0.mlp.experts": {"quant_algo": "W4A16_NVFP4", "group_size": 16},
              "lm_head": {"quant_algo": "FP8"}}
    qc = {"quant_algo": "MIXED_PRECISION", "quantized_layers": layers}
    m = paramscope.open_model(str(_write(tmp_path, cfg, qc)))
    ts = {t.name: t.dtype for t in m.tensors}
    p = "model.language_model.layers.0."
    assert ts["model.language_model.layers.3.self_attn.q_proj.weight"] == DType.F8_E4M3
    assert ts[p + "mlp.experts.0.gate_proj.weight"] == ts[p + "mlp.experts.255.down_proj.weight"] == DType.U8
    assert ts[p + "mlp.shared_expert.gate_proj.weight"] == ts[p + "mlp.gate.weight"] == DType.BF16
    assert ts["model.language_model.layers.1.mlp.experts.0.gate_proj.weight"] == DType.BF16
    assert ts["lm_head.weight"] == DType.F8_E4M3


def test_exclusions_and_unknown_algorithms_leave_the_layer_as_it_is(tmp_path, llama):
    """exclude_modules wins over a recipe (vLLM tests is_layer_excluded first); an algorithm with no known
    layout (a b12x codec) is left in the model dtype rather than guessed."""
    layers = {"model.layers.0.self_attn.q_proj": {"quant_algo": "FP8"},
              "model.layers.0.self_attn.k_proj": {"quant_algo": "Q4_K"}}
    qc = {"quant_algo": "MIXED_PRECISION", "exclude_modules": ["model.layers.0.self_attn.q_proj"],
          "quantized_layers": layers}
    m = paramscope.open_model(str(_write(tmp_path, llama, qc)))
    ts = {t.name: t.dtype for t in m.tensors}
    a = "model.layers.0.self_attn."
    assert ts[a + "q_proj.weight"] == ts[a + "k_proj.weight"] == DType.BF16


def test_a_single_algorithm_export_beside_config_json_is_read(tmp_path, llama):
    """ModelOpt 0.29 and before wrote hf_quant_config.json beside a config.json that declares nothing
    (vLLM's transformers_utils/config.py reads it then): NVFP4 for every Linear but the head."""
    path = _write(tmp_path, llama, {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]},
                  beside=True)
    m = paramscope.open_model(str(path))
    assert m.quantization is not None and m.quantization.declared_in == "hf_quant_config.json"
    ts = {t.name: t.dtype for t in m.tensors}
    assert ts["model.layers.31.mlp.down_proj.weight"] == DType.U8 and ts["lm_head.weight"] == DType.BF16
    # a JSON file not named config.json speaks for no checkpoint folder
    other = tmp_path / "llama.json"
    other.write_text(path.read_text())
    assert paramscope.open_model(str(other)).quantization is None


def test_nvidias_qwen36_27b_map_gives_the_checkpoint_size_vllm_printed():
    """nvidia/Qwen3.6-27B-NVFP4's map as transcribed (configs/README.md: the MLP and head in W4A16_NVFP4,
    the attention and Gated-DeltaNet projections in FP8, the MTP layer excluded) against the record's
    'Checkpoint size: 20.42 GiB': the listed checkpoint plus its bf16 MTP layer (fc 2·5120 → 5120, three
    norms, one full-attention decoder layer), which transformers does not build and paramscope does not
    list. vLLM loaded 19.78 GiB (the RoPE cache beside): test_engine_log_predictions holds that."""
    m = paramscope.open_model(str(CONFIGS / "nvidia-qwen3.6-27b-nvfp4.config.json"))
    q = m.quantization
    assert q is not None
    assert sum(r["quant_algo"] == "W4A16_NVFP4" for r in q.config["quantized_layers"].values()) == 193
    h, ffn, heads, kv, d = 5120, 17408, 24, 4, 256
    mtp_layer = h * heads * d * 2 + 2 * h * kv * d + heads * d * h + 3 * h * ffn + 2 * h + 2 * d
    mtp = 2 * h * h + 3 * h + mtp_layer
    assert round((m.tensor_bytes + 2 * mtp) / GIB, 2) == 20.42


@pytest.mark.parametrize("recipe", [{"quant_algo": "NVFP4", "group_size": "x"}, {"quant_algo": 7},
                                    {"quant_algo": "NVFP4", "group_size": -16}, "NVFP4", None])
def test_a_malformed_recipe_is_no_traceback(tmp_path, llama, recipe):
    """A recipe of the wrong shape or type (from a stranger's config) prices the layer as vLLM's default
    NVFP4 group, or leaves it unquantized; it never raises."""
    qc = {"quant_algo": "MIXED_PRECISION", "quantized_layers": {"model.layers.0.mlp.up_proj": recipe}}
    m = paramscope.open_model(str(_write(tmp_path, llama, qc)))
    ts = {t.name: t for t in m.tensors}
    up = ts["model.layers.0.mlp.up_proj.weight"]
    assert up.dtype in (DType.U8, DType.BF16)
    if up.dtype == DType.U8:
        assert ts["model.layers.0.mlp.up_proj.weight_scale"].shape == (14336, 4096 // 16)


def test_experts_take_the_first_key_under_their_module(tmp_path):
    """vLLM asks for the routed-experts module ("…mlp.experts"): a key for a fused name under it
    ("…experts.gate_up_proj") or for one expert's matrix quantizes every expert, as vLLM's FusedMoE takes
    the first key under its prefix; with none, the first key under the MoE block (its ".experts" fallback)."""
    cfg = json.loads((CONFIGS / "qwen3.5-35b-a3b.config.json").read_text())
    p = "model.language_model.layers.0.mlp."
    for sub, key in (("fused", p + "experts.gate_up_proj"), ("one", p + "experts.0.gate_proj"),
                     ("parent", p + "shared_expert.gate_proj")):
        qc = {"quant_algo": "MIXED_PRECISION", "quantized_layers": {key: {"quant_algo": "NVFP4"}}}
        ts = {t.name: t.dtype for t in _open_at(tmp_path / sub, cfg, qc).tensors}
        assert ts[p + "experts.255.down_proj.weight"] == DType.U8, sub
        assert ts["model.language_model.layers.1.mlp.experts.0.down_proj.weight"] == DType.BF16, sub


def _open_at(folder: Path, cfg: dict, qc: dict):
    return paramscope.open_model(str(_write(folder, cfg, qc)))


@pytest.mark.parametrize("name, method", [("quantize_config.json", "gptq"), ("quant_config.json", "awq"),
                                          ("hf_quant_config.json", "modelopt")])
def test_a_quantizers_own_file_beside_a_config_is_read(tmp_path, llama, name, method):
    """A config.json read alone takes the quantizer file beside it, as a folder with weights does
    (hf_json.LEGACY_QUANT_FILES): AutoGPTQ's quantize_config.json, AutoAWQ's quant_config.json,
    ModelOpt's hf_quant_config.json."""
    files = {"gptq": {"bits": 4, "group_size": 128, "desc_act": False, "sym": True},
             "awq": {"w_bit": 4, "q_group_size": 128, "zero_point": True, "version": "GEMM"},
             "modelopt": {"quantization": {"quant_algo": "FP8", "exclude_modules": ["lm_head"]}}}
    (tmp_path / name).write_text(json.dumps(files[method]))
    (tmp_path / "config.json").write_text(json.dumps(llama))
    m = paramscope.open_model(str(tmp_path / "config.json"))
    assert m.quantization is not None and m.quantization.method == method
    assert m.quantization.declared_in == name
    assert m.tensor_bytes < paramscope.open_model("llama-3.1-8b").tensor_bytes * 0.6


def test_nvidias_qwen36_35b_a3b_map_gives_the_checkpoint_size_vllm_printed():
    """nvidia/Qwen3.6-35B-A3B-NVFP4's map as transcribed (configs/README.md): 161 W4A16_NVFP4 groups, as a
    public run report counts them (40 layers × the experts and three shared-expert projections, and the
    head); the listing and the bf16 MTP layer (fc, norms, one full-attention MoE layer) against the log's
    'Checkpoint size: 21.82 GiB' (the safetensors headers and the rounding inside 0.025 GiB)."""
    m = paramscope.open_model(str(CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4/config.json"))
    assert m.quantization is not None
    layers = m.quantization.config["quantized_layers"]
    assert sum(r["quant_algo"] == "W4A16_NVFP4" for r in layers.values()) == 161
    h, ffn, experts, heads, kv, d = 2048, 512, 256, 16, 2, 256
    attention = h * heads * d * 2 + 2 * h * kv * d + heads * d * h + 2 * d
    moe = experts * 3 * h * ffn + 3 * h * ffn + experts * h + h
    mtp = 2 * h * h + 3 * h + attention + moe + 2 * h
    assert abs((m.tensor_bytes + 2 * mtp) / GIB - 21.82) < 0.025


def test_inspect_says_how_the_weights_are_quantized(tmp_path, llama, capsys):
    """`inspect` shows the quantization a config declares (a summary row, and `quantization` in --json:
    None for plain weights)."""
    from paramscope.cli.app import main

    def run(*args: str) -> str:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as e:
            assert not e.code
        return capsys.readouterr().out

    qc = {"quant_algo": "MIXED_PRECISION", "quantized_layers": ALGOS, "exclude_modules": ["lm_head"]}
    path = _write(tmp_path / "q", llama, qc)
    assert "modelopt mixed_precision (config.json quantization_config)" in run("inspect", str(path))
    got = json.loads(run("inspect", str(path), "--json"))["quantization"]
    assert got["method"] == "modelopt" and got["excluded"] == ["lm_head"] and got["excluded_count"] == 1
    plain = _write(tmp_path / "plain", llama)
    assert json.loads(run("inspect", str(plain), "--json"))["quantization"] is None


def test_vllm_resolves_an_auto_kv_cache_from_config_json_only(tmp_path):
    """vLLM resolves --kv-cache-dtype auto from the declaration's own quant_method (utils/torch_utils.py
    get_kv_cache_quant_algo_string), which ModelOpt's hf_quant_config.json does not carry: the same FP8
    kv_cache_quant_algo caches FP8 from config.json's quantization_config and bf16 from the older file
    (nvidia/Qwen3.6-35B-A3B-NVFP4 on 0.29 with auto: a bf16 cache's 207,842 tokens, vllm/r49v-*)."""
    import json
    import shutil

    legacy = CONFIGS / "nvidia-qwen3.6-35b-a3b-nvfp4"
    folder = tmp_path / "modern"
    folder.mkdir()
    cfg = json.loads((legacy / "config.json").read_text())
    declared = json.loads((legacy / "hf_quant_config.json").read_text())["quantization"]
    cfg["quantization_config"] = {"quant_method": "modelopt", **declared}
    (folder / "config.json").write_text(json.dumps(cfg))
    kw = {"runtime": "vllm", "gpu": "h100", "context": 8192, "vllm_release": "0.29"}
    assert paramscope.size(legacy / "config.json", **kw).estimate.kv_type == "bf16"
    assert paramscope.size(folder / "config.json", **kw).estimate.kv_type == "f8_e4m3"
    shutil.rmtree(folder)
