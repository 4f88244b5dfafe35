"""Multi-token-prediction layers as llama.cpp holds them: GLM-4.5's, GLM-5's and DeepSeek-V3.2's GGUFs
append them as blocks after the trunk (convert_hf_to_gguf: block_count = num_hidden_layers +
num_nextn_predict_layers), llama.cpp caches the trunk alone (llama_hparams::n_layer() = n_layer_all −
n_layer_nextn) and places layers over every block (llama-model.cpp: i_gpu_start = max(n_layer_all + 1 −
n_gpu_layers, 0), the tensor split over n_layer_all), as GLM-4.5-Air's log says ("n_layer = 47",
"offloaded 48/48 layers") and GLM-5.2's over four cards (the trunk's 78 layers 55/9/8/6 with
--tensor-split 54,9,8,8: tests/fixtures/engine_logs/llamacpp/r31l-glm52-*)."""

from __future__ import annotations

from pathlib import Path

import paramscope
from builders.gguf_files import glm_gguf
from paramscope.analyses.sizing.runtimes.llamacpp.devices import device_split, layer_devices
from paramscope.analyses.sizing.runtimes.llamacpp.kv import block_count
from paramscope.analyses.sizing.runtimes.llamacpp.offload import gpu_layer_start, offload

LOG_CONFIGS = Path(__file__).resolve().parent / "fixtures" / "engine_logs" / "configs"


def test_a_gguf_s_trunk_caches_and_its_mtp_blocks_are_placed(tmp_path):
    for per_layer in (False, True):
        model = paramscope.open_model(str(glm_gguf(tmp_path / f"glm{per_layer}.gguf", 3, 1, per_layer)))
        cfg = model.config
        assert (cfg.n_layers, cfg.extra["nextn_layers"], block_count(cfg)) == (3, 1, 4)
        e = paramscope.size(str(tmp_path / f"glm{per_layer}.gguf"), context=1024).estimate
        # the trunk's 3 layers: K and V, 2 heads of 8, f16
        assert e.kv_cache_bytes == 3 * 1024 * 2 * 2 * 8 * 2


def test_a_router_layer_is_no_mtp_block(tmp_path):
    """Granite Switch repurposes n_layer_nextn for a router layer it adds at load (models/granite-switch.cpp):
    a re-saved file's nextn_predict_layers takes nothing off its block_count."""
    model = paramscope.open_model(str(glm_gguf(tmp_path / "switch.gguf", 3, 1, arch="graniteswitch")))
    assert model.config.n_layers == 4 and "nextn_layers" not in model.config.extra


def test_the_mtp_blocks_shift_the_gpu_layers():
    """GLM-4.5-Air from its config (46 layers and 1 MTP layer): -ngl 10 puts blocks 38-46 and the output on
    the GPU, so the trunk's layers 38-45 keep their cache there (8 layers, not 9)."""
    model = paramscope.open_model(str(LOG_CONFIGS / "glm-4.5-air.config.json"))
    cfg = model.config
    assert block_count(cfg) == cfg.n_layers + 1 == 47
    ngl, start, output = gpu_layer_start(block_count(cfg), 10)
    assert (ngl, start, output) == (10, 47 + 1 - 10, True)
    from paramscope.analyses.sizing.kv_cache import kv_cache_for_context

    kv = kv_cache_for_context(cfg, 4096)
    split = offload(model, cfg, model.tensor_bytes, kv, 10)
    per_layer = kv.total_bytes // cfg.n_layers
    assert split.host_kv_bytes == 38 * per_layer


def test_the_tensor_split_counts_the_mtp_blocks():
    """GLM-5.1's shape (78 layers, 1 MTP layer) over four cards at 54,9,8,8, as r31l-glm52-* printed: the
    trunk's layers 55/9/8/6 (the MTP block is the fourth card's seventh)."""
    model = paramscope.open_model(str(LOG_CONFIGS / "glm-5.1.config.json"))
    cfg = model.config
    where = layer_devices(block_count(cfg), 4, 999, (54.0, 9.0, 8.0, 8.0))
    assert [sum(1 for il in range(cfg.n_layers) if where[il] == d) for d in range(4)] == [55, 9, 8, 6]
    assert where[cfg.n_layers] == 3  # the MTP block
    from paramscope.analyses.sizing.kv_cache import kv_cache_for_context

    kv = kv_cache_for_context(cfg, 4096)
    split = device_split(model, cfg, model.tensor_bytes, kv, 4, 999, (54.0, 9.0, 8.0, 8.0), "layer")
    assert split.kv[0] * 6 == split.kv[3] * 55


def test_the_mtp_blocks_hold_no_weights_llama_cpp_loads(tmp_path):
    """llama.cpp builds a GGUF's MTP blocks with TENSOR_SKIP unless asked to speculate with them (b11549
    llama-model.cpp nextn_flags, load_mtp false by default; b6168 printed "model has unused tensor
    blk.46.attn_norm.weight ... -- ignoring" for GLM-4.5-Air and left the block out of its model buffers):
    the weights are the trunk's, on the GPU or not, and inspect names the block, counted but not active."""
    path = glm_gguf(tmp_path / "glm.gguf", 3, 1)
    model = paramscope.open_model(str(path))
    block = sum(t.nbytes for t in model.tensors if t.name.startswith("blk.3."))
    assert block == (32 * 32 + 2 * 16 * 32) * 2
    for ngl in (0, 2, 99):
        est = paramscope.size(str(path), context=1024, n_gpu_layers=ngl).estimate
        assert est.weights_bytes == model.tensor_bytes - block, ngl
        assert any("multi-token-prediction" in line for line in est.explain)
    inv = paramscope.inspect(str(path)).inventory
    assert inv.total_params == model.params
    assert inv.active_params == model.params - block // 2
    assert any(n.startswith("blk.3: the checkpoint's multi-token-prediction layer, 3 tensors")
               for n in inv.notes)


def test_a_gguf_beside_its_config_json_still_leaves_the_block_out(tmp_path):
    """A folder of a GGUF and the model's config.json (the hf-dir reader keeps the config): the GGUF's names
    are blk.N, so its own nextn_predict_layers says which tensors are the MTP block."""
    import shutil

    folder = tmp_path / "glm"
    folder.mkdir()
    alone = glm_gguf(tmp_path / "alone.gguf", 3, 1)
    shutil.copy(alone, folder / "model.gguf")
    shutil.copy(LOG_CONFIGS / "glm-4.5-air.config.json", folder / "config.json")
    single = paramscope.size(str(alone), context=1024).estimate
    both = paramscope.size(str(folder), context=1024).estimate
    assert both.weights_bytes == single.weights_bytes
    inv = paramscope.inspect(str(folder)).inventory
    assert inv.active_params == paramscope.inspect(str(alone)).inventory.active_params
