"""vLLM's GPTQ and AWQ kernels per GPU and release (analyses/sizing/wna16.py): Machete on Hopper keeps what
Marlin drops, and holds AWQ's zero points in 16 bits; checked against the H200 logs that name the kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramscope
from paramscope.analyses.sizing import wna16
from paramscope.analyses.sizing.loaded import EngineBuild, loaded_weights
from paramscope.knowledge.hardware import DEVICES, find_device
from paramscope.model import Model, Tensor
from paramscope.model.dtypes import DType
from paramscope.model.quantization import Quantization

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"
AWQ_7B = CONFIGS / "qwen2.5-7b-instruct-awq.config.json"
GPTQ_72B = CONFIGS / "qwen2.5-72b-instruct-gptq-int4.config.json"
H200, A100 = find_device("h200"), find_device("a100-80g")
NEW, OLD_AWQ = EngineBuild("v1", (0, 31, 0)), EngineBuild("v1-0.16", (0, 18, 0))


def side(model, suffix: str) -> list:
    return [t for t in model.tensors if t.name.endswith(suffix) and ".experts." not in t.name]


def test_every_capability_9_gpu_of_the_table_is_machetes():
    hopper = {d.key for d in DEVICES
              if d.vendor == "NVIDIA" and d.name.split()[1][:2] in ("H1", "H2", "H8", "GH")}
    assert hopper == wna16.SM90


def test_awq_on_hopper_holds_its_zero_points_in_16_bits():
    """Qwen2.5-7B AWQ (groups of 128) on an H200 at 0.31: every linear layer on Machete, each layer's packed
    zero points (G × N / 8 int32) replaced by G × N two-byte values: 76.5 MB more than stored."""
    m = paramscope.open_model(str(AWQ_7B))
    loaded = loaded_weights(m, "vllm", H200, build=NEW)
    zeros = side(m, ".qzeros")
    assert len(zeros) == 28 * 7
    grown = sum(z.shape[0] * z.shape[1] * 8 * 2 - z.nbytes for z in zeros)
    assert grown == 28 * 2_731_008
    assert loaded.bytes == m.tensor_bytes + grown and loaded.backend == "machete"
    assert "196 layers on Machete" in loaded.notes[0]
    # Marlin keeps them packed: an A100, and the H200 on 0.18 (awq_marlin.py called Marlin itself)
    for device, build in ((A100, NEW), (H200, OLD_AWQ)):
        other = loaded_weights(m, "vllm", device, build=build)
        assert other.bytes == m.tensor_bytes and other.backend == "marlin"
    # a build whose log says Machete (a vendor 0.18 with 0.19's awq_marlin.py)
    forced = loaded_weights(m, "vllm", A100, backend="machete", build=OLD_AWQ)
    assert forced.bytes == loaded.bytes


def test_awq_on_hopper_is_nearer_the_printed_weights():
    """r27v (0.31, H200, 'Using MacheteLinearKernel for AutoAWQMarlinLinearMethod'): 5.38 GiB printed;
    Machete's 16-bit zero points take the stored bytes from −3.4 % to −2.1 % of it."""
    record = json.loads((CONFIGS.parent / "vllm" / "r27v-qwen25-7b-awq-h200-4k-v0310.json").read_text())
    (printed,) = [float(f["value"]) * 2**30 for f in record["figures"] if f["name"] == "weights"]
    m = paramscope.open_model(str(AWQ_7B))
    machete = loaded_weights(m, "vllm", H200, build=NEW).bytes
    assert abs(machete - printed) < abs(m.tensor_bytes - printed)
    assert abs(machete - printed) / printed < 0.025


def _gptq(tmp_path: Path, **quant) -> paramscope.Model:
    base = json.loads(GPTQ_72B.read_text())
    cfg = {**base, "quantization_config": {**base["quantization_config"], **quant}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return paramscope.open_model(str(path))


def test_gptq_on_hopper_keeps_zero_points_and_g_idx(tmp_path):
    m = _gptq(tmp_path)
    zeros = sum(t.nbytes for t in side(m, ".qzeros"))
    g_idx = sum(t.nbytes for t in side(m, ".g_idx"))
    assert zeros and g_idx
    marlin = loaded_weights(m, "vllm", A100, build=NEW)
    assert marlin.bytes == m.tensor_bytes - zeros - g_idx and marlin.backend == "marlin"
    # Machete leaves both as loaded before 0.30; from 0.30 GPTQ registers no g_idx
    before = loaded_weights(m, "vllm", H200, build=EngineBuild("v1-0.16", (0, 20, 2)))
    assert before.bytes == m.tensor_bytes and before.backend == "machete"
    assert loaded_weights(m, "vllm", H200, build=NEW).bytes == m.tensor_bytes - g_idx
    # before 0.6.2 there was no Machete
    assert loaded_weights(m, "vllm", H200, build=EngineBuild("v0-early", (0, 6, 1))).bytes == marlin.bytes


def test_gptq_act_order_keeps_g_idx_and_its_permutation(tmp_path):
    """With act-order Marlin keeps g_idx sorted and adds its sort indices, Machete its permutation: one
    int32 per input row of each layer either way; Machete cannot reorder split input features, so at TP 2
    the row-parallel layers (o_proj, down_proj) go to Marlin."""
    m = _gptq(tmp_path, desc_act=True)
    zeros = sum(t.nbytes for t in side(m, ".qzeros"))
    rows = sum(t.shape[0] * 4 for t in side(m, ".g_idx"))
    build = EngineBuild("v1-0.16", (0, 20, 2))
    assert loaded_weights(m, "vllm", A100, build=build).bytes == m.tensor_bytes - zeros + rows
    assert loaded_weights(m, "vllm", H200, build=build).bytes == m.tensor_bytes + rows
    tp2 = loaded_weights(m, "vllm", H200, build=build, tensor_parallel=2)
    row_zeros = [t for t in side(m, ".qzeros") if t.name.split(".")[-2] in ("o_proj", "down_proj")]
    # and with act-order the row-split modules' scales are whole on both ranks (one more copy in all)
    row_scales = [t for t in side(m, ".scales") if t.name.split(".")[-2] in ("o_proj", "down_proj")]
    assert tp2.backend == "machete+marlin"
    assert tp2.bytes == (m.tensor_bytes + rows - sum(t.nbytes for t in row_zeros)
                         + sum(t.nbytes for t in row_scales))
    # 0.30 and later refuse such a checkpoint: said, and priced without g_idx
    new = loaded_weights(m, "vllm", H200, build=NEW)
    assert "refuse this checkpoint" in new.notes[0]


@pytest.mark.parametrize(("k", "n", "takes"), [(8192, 8192, True), (8192, 8256, False), (8224, 8192, False)])
def test_machete_takes_only_shapes_of_its_prepacked_blocks(k, n, takes):
    layer = wna16.Layer("model.layers.0.mlp.down_proj", {}, k, n)
    assert wna16.machete_takes([layer], "gptq", (0, 31, 0), 1, 128, False) is takes


def test_machete_decides_once_for_a_fused_module():
    """vLLM checks q, k and v as one qkv_proj on a rank's summed widths, with at least one whole KV head
    a rank: Llama-3.2-1B's 2048 + 512 + 512 at TP 8 is 256 + 64 + 64 = 384 a rank, a multiple of 128,
    where k and v alone (64) are not."""
    q, k, v = (wna16.Layer(f"model.layers.0.self_attn.{p}_proj", {}, 2048, n)
               for p, n in (("q", 2048), ("k", 512), ("v", 512)))
    (module,) = wna16.fused_modules([q, k, v])
    assert wna16.machete_takes(module, "gptq", (0, 31, 0), 8, 128, False, kv_heads=8)
    assert not wna16.machete_takes([k], "gptq", (0, 31, 0), 8, 128, False, kv_heads=8)
    # 4 KV heads of 128 over 8 ranks: one whole head (128) a rank, not 64
    k4 = wna16.Layer("model.layers.0.self_attn.k_proj", {}, 4096, 512)
    assert k4.rank_shape(8, 4) == (4096, 128)
    # MLA's down-projections are whole on every rank
    assert wna16.Layer("model.layers.0.self_attn.q_a_proj", {}, 7168, 1536).rank_shape(8, 128) == (7168, 1536)


def test_gptq_experts_keep_their_zero_points():
    """Marlin's MoE keeps the experts' qzeros (in the 16-bit parameter type before 0.27: half their int32
    bytes) and drops their g_idx without act-order."""
    tensors = [Tensor(f"model.layers.0.mlp.experts.{e}.{p}.{part}", shape, dtype, nbytes)
               for e in range(2) for p in ("gate_proj", "down_proj")
               for part, shape, dtype, nbytes in (("qweight", (256, 1024), DType.I32, 1 << 20),
                                                  ("qzeros", (16, 128), DType.I32, 8192),
                                                  ("scales", (16, 1024), DType.F16, 32768),
                                                  ("g_idx", (2048,), DType.I32, 8192))]
    m = Model(format="config", source="experts", tensors=tuple(tensors), quantization=Quantization(
        method="gptq", bits=4, group_size=128, symmetric=True, config={"desc_act": False}))
    zeros = g_idx = 4 * 8192
    assert loaded_weights(m, "vllm", A100, build=NEW).bytes == m.tensor_bytes - g_idx
    assert loaded_weights(m, "vllm", A100, build=EngineBuild("v1", (0, 26, 0))).bytes == (
        m.tensor_bytes - g_idx - zeros // 2)


def test_size_on_an_h200_says_which_kernel():
    est = paramscope.size(str(AWQ_7B), runtime="vllm", gpu="h200", context=4096).estimate
    assert any("layers on Machete" in line for line in est.explain)
    old = paramscope.size(str(AWQ_7B), runtime="vllm", gpu="h200", context=4096, vllm_release="0.18").estimate
    assert old.weights_bytes < est.weights_bytes


def _with_quantization(tmp_path: Path, quantization: dict) -> paramscope.Model:
    cfg = json.loads((CONFIGS / "qwen2.5-7b-instruct-awq.config.json").read_text())
    cfg["quantization_config"] = quantization
    path = tmp_path / f"{quantization['quant_method']}.json"
    path.write_text(json.dumps(cfg))
    return paramscope.open_model(str(path))


CT_FP8_KV = {"quant_method": "compressed-tensors", "format": "pack-quantized",
             "config_groups": {"group_0": {"targets": ["Linear"], "weights": {
                 "num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 128}}},
             "kv_cache_scheme": {"num_bits": 8, "type": "float", "symmetric": True, "dynamic": False,
                                 "strategy": "tensor"}}
MODELOPT_FP8_KV = {"quant_method": "modelopt", "quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}


def _ct_int4(tmp_path: Path, **weights: object) -> paramscope.Model:
    """The AWQ config's shapes as a compressed-tensors W4A16 checkpoint (groups of 128, lm_head left out),
    its weights' scheme updated with ``weights`` (symmetric, actorder)."""
    scheme = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 128,
              **weights}
    ct = {"quant_method": "compressed-tensors", "format": "pack-quantized", "ignore": ["lm_head"],
          "config_groups": {"group_0": {"targets": ["Linear"], "weights": scheme}}}
    return _with_quantization(tmp_path, ct)


@pytest.mark.parametrize(("quantization", "release", "asked", "expected"), [
    (CT_FP8_KV, (0, 24, 0), None, "fp8"),        # the checkpoint's scheme where the cache type is auto
    (CT_FP8_KV, (0, 24, 0), "bfloat16", "bfloat16"),  # from 0.22 an explicit type wins
    (CT_FP8_KV, (0, 19, 0), "bfloat16", "fp8"),  # 0.15 to 0.21 set fp8 whatever was asked
    (CT_FP8_KV, (0, 14, 1), None, None),         # before 0.15 the scheme did not set the cache type
    (MODELOPT_FP8_KV, (0, 14, 0), None, "fp8"),
    (MODELOPT_FP8_KV, (0, 13, 0), None, None),
    (MODELOPT_FP8_KV, (0, 31, 0), "bfloat16", "bfloat16"),
])
def test_a_checkpoints_kv_scheme_sets_vllms_cache_type(tmp_path, quantization, release, asked, expected):
    from paramscope.analyses.sizing.runtimes.vllm.adapter import checkpoint_kv_type

    m = _with_quantization(tmp_path, quantization)
    kv, note = checkpoint_kv_type(m, release, asked)
    assert kv == expected
    assert ("KV cache in FP8" in note) == (expected == "fp8")


def test_size_prices_the_declared_fp8_cache(tmp_path):
    m = _with_quantization(tmp_path, CT_FP8_KV)
    est = paramscope.size(m.source, runtime="vllm", gpu="h200", context=32768).estimate
    plain = paramscope.size(str(AWQ_7B), runtime="vllm", gpu="h200", context=32768).estimate
    assert est.kv_cache_bytes * 2 == plain.kv_cache_bytes
    assert any("KV cache in FP8" in line for line in (*est.notes, *est.explain))


def test_compressed_tensors_asymmetric_int4_on_hopper(tmp_path):
    """compressed-tensors W4A16 with zero points (weight_zero_point, N / 8 × groups int32): Machete holds them
    in 16 bits from 0.9.2; Marlin, and symmetric checkpoints anywhere, keep every stored tensor."""
    m = _ct_int4(tmp_path, symmetric=False)
    zeros = side(m, ".weight_zero_point")
    assert len(zeros) == 28 * 7
    grown = sum(z.shape[0] * 8 * z.shape[1] * 2 - z.nbytes for z in zeros)
    hopper = loaded_weights(m, "vllm", H200, build=NEW)
    assert hopper.bytes == m.tensor_bytes + grown and hopper.backend == "machete"
    assert loaded_weights(m, "vllm", H200, build=EngineBuild("v1-0.9", (0, 9, 1))).bytes == m.tensor_bytes
    assert loaded_weights(m, "vllm", A100, build=NEW).bytes == m.tensor_bytes
    sym = _with_quantization(tmp_path / "..", {**CT_FP8_KV, "kv_cache_scheme": None})
    assert loaded_weights(sym, "vllm", H200, build=NEW).bytes == sym.tensor_bytes


def test_kernels_named_with_quantization_and_older_gpus_keep_every_tensor(tmp_path):
    """--quantization gptq before 0.22 and awq before 0.24 name the plain kernels (GPTQConfig, AWQConfig);
    from then they name the Auto configs, whose kernels are chosen as unnamed. A GPU Marlin cannot run on
    keeps every tensor too. From 0.34 Marlin retires GPTQ's unused qzeros but keeps their data."""
    awq = paramscope.open_model(str(AWQ_7B))
    named = loaded_weights(awq, "vllm", H200, backend="awq", build=EngineBuild("v1", (0, 23, 0)))
    assert named.bytes == awq.tensor_bytes and "plain AWQ kernel" in named.notes[0]
    assert loaded_weights(awq, "vllm", H200, backend="awq", build=NEW).bytes > awq.tensor_bytes
    gptq = _gptq(tmp_path)
    g_idx = sum(t.nbytes for t in side(gptq, ".g_idx"))
    t4, v100, mi300x = find_device("t4"), find_device("v100-32g"), find_device("mi300x")
    # Marlin runs from capability 8.0, 7.5 (a T4) from 0.14; never on AMD GPUs
    old = EngineBuild("v1-early", (0, 13, 0))
    assert loaded_weights(gptq, "vllm", t4, build=old).bytes == gptq.tensor_bytes
    assert loaded_weights(gptq, "vllm", t4, build=NEW).backend == "marlin"
    for device in (v100, mi300x):  # from 0.30 no g_idx is registered
        assert loaded_weights(gptq, "vllm", device, build=NEW).bytes == gptq.tensor_bytes - g_idx
        assert loaded_weights(gptq, "vllm", device, build=EngineBuild("v1", (0, 29, 0))).bytes == (
            gptq.tensor_bytes)
    assert loaded_weights(gptq, "vllm", A100, build=EngineBuild("v1", (0, 34, 0))).bytes == (
        gptq.tensor_bytes - g_idx)


def test_a_compressed_tensors_kv_scheme_leaves_an_mla_cache_alone(tmp_path):
    """Only vLLM's Attention layer reads a compressed-tensors kv_cache_scheme; MLAAttention keeps the
    latent cache in the model's type."""
    from paramscope.analyses.sizing.runtimes.vllm.adapter import checkpoint_kv_type

    cfg = json.loads((Path(__file__).parent.parent / "src" / "paramscope" / "knowledge" / "catalogue"
                      / "DeepSeek-V2-Lite.json").read_text())
    cfg["quantization_config"] = CT_FP8_KV
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    assert checkpoint_kv_type(paramscope.open_model(str(path)), (0, 31, 0), None) == (None, "")


def test_sglang_runs_mla_on_aiter_at_16_or_128_heads_a_gpu():
    from paramscope.analyses.sizing.runtimes.sglang import default_attention_backend

    v3 = paramscope.open_model("deepseek-v3").config
    mi300x = find_device("mi300x")
    assert default_attention_backend(mi300x, v3, 8) == "aiter"  # 128 / 8 = 16 heads a GPU
    assert default_attention_backend(mi300x, v3, 4) is None  # 32: Triton
    assert default_attention_backend(H200, v3, 8) is None
    dense = paramscope.open_model("qwen3-8b").config
    assert default_attention_backend(mi300x, dense, 1) == "aiter"


def test_compressed_tensors_act_order_adds_its_sort_indices(tmp_path):
    """compressed-tensors weights with actorder "group": Marlin keeps weight_g_idx and its sort indices
    (an int32 per input row of each layer); Machete cannot reorder split input features, so at TP 2 the
    row-split modules go to Marlin."""
    m = _ct_int4(tmp_path, symmetric=False, actorder="group")
    rows = sum(t.shape[0] * 4 for t in side(m, ".weight_g_idx"))
    assert rows and loaded_weights(m, "vllm", A100, build=NEW).bytes == m.tensor_bytes + rows
    assert loaded_weights(m, "vllm", H200, build=NEW, tensor_parallel=2).backend == "machete+marlin"


def test_vllm_030_refusing_act_order_is_a_note_on_every_gpu(tmp_path):
    m = _gptq(tmp_path, desc_act=True)
    for gpu in ("h100", "a100", "mi300x"):
        est = paramscope.size(m.source, runtime="vllm", gpu=gpu, context=4096).estimate
        assert any("vLLM 0.30 and later refuse this checkpoint" in n for n in est.notes), gpu
    old = paramscope.size(m.source, runtime="vllm", gpu="h100", context=4096, vllm_release="0.29").estimate
    assert not any("refuse" in n for n in old.notes)


def test_amd_apus_run_no_marlin(tmp_path):
    m = _gptq(tmp_path)
    g_idx = sum(t.nbytes for t in side(m, ".g_idx"))
    apu = find_device("mi300a")
    assert loaded_weights(m, "vllm", apu, build=NEW).bytes == m.tensor_bytes - g_idx


def test_compressed_tensors_symmetric_act_order_gets_its_sort_indices(tmp_path):
    m = _ct_int4(tmp_path, symmetric=True, actorder="group")
    rows = sum(t.shape[0] * 4 for t in side(m, ".weight_g_idx"))
    loaded = loaded_weights(m, "vllm", A100, build=NEW)
    assert rows and loaded.bytes == m.tensor_bytes + rows and "refuse" not in loaded.notes[0]
