"""Engine rules found by the round-40 logs (docs/runtimes.md 4.0za), each pinned on its own beside the
engine-log test that measures it: vLLM V0's MLA padding only in 0.7.2 and 0.7.3, a pipeline stage's share
of MLA's replicated down-projections, 0.6.5's non-torch increase; Gemma 4's per-layer inputs and
double-wide MLP in llama.cpp's compute estimate."""

from __future__ import annotations

from pathlib import Path

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.compute import per_layer_input_width, widest_ffn
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    FAMILY_LAST,
    family_for_release,
    family_range,
)
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.profile import V0_INCREASE_BYTES, V0_NON_TORCH_BYTES
from paramscope.model.dtypes import DType

CONFIGS = Path(__file__).parent / "fixtures" / "engine_logs" / "configs"


def test_v0_measures_the_increase_from_0_6_5() -> None:
    """0.6.5's worker.py: non_kv = the non-torch increase + torch's peak increase + the weights."""
    assert family_for_release((0, 6, 5)) == family_for_release((0, 6, 6)) == "v0"
    assert family_for_release((0, 6, 4)) == "v0-0.6" and FAMILY_LAST["v0-0.6"] == (0, 6, 4)
    assert family_range("v0") == ((0, 6, 5), (0, 11, 0))
    cfg = paramscope.open_model("qwen2.5-7b").config
    assert cfg is not None
    kw = dict(context=32768, gpu_memory_bytes=round(39.39 * 2**30), cuda_graphs=False, dtype=DType.F16)
    new = vllm_memory(cfg, 15 * 10**9, engine="v0", release=(0, 6, 6), **kw)  # type: ignore[arg-type]
    old = vllm_memory(cfg, 15 * 10**9, engine="v0-0.6", **kw)  # type: ignore[arg-type]
    assert new.non_torch_bytes == V0_INCREASE_BYTES and old.non_torch_bytes >= V0_NON_TORCH_BYTES


def test_a_pipeline_stage_holds_its_layers_share_of_the_mla_down_projections() -> None:
    """DeepSeek-V2.5 at TP 8 × PP 2 on 0.8.3 (r40v-*): each rank of a 30-layer stage holds 30 layers'
    q_a_proj and kv_a_proj_with_mqa whole, not the model's 60 (+0.53 GiB a rank before)."""
    model = paramscope.open_model(str(CONFIGS / "deepseek-v2.5.config.json"))
    cfg = model.config
    assert cfg is not None and cfg.is_mla and cfg.n_layers == 60
    per_layer = cfg.hidden_size * (cfg.q_lora_rank + cfg.kv_lora_rank + cfg.rope_head_dim) * 2
    kw = dict(context=8192, gpu_memory_bytes=round(39.39 * 2**30), tensor_parallel=8, engine="v0",
              release=(0, 8, 3), pipeline_parallel=2, cuda_graphs=False)
    whole = vllm_memory(cfg, 471 * 2**30, mla_stored_bytes=60 * per_layer, **kw)  # type: ignore[arg-type]
    priced = vllm_memory(cfg, 471 * 2**30, **kw)  # type: ignore[arg-type]
    assert len(whole.stages) == 2
    assert [s.model_bytes for s in whole.stages] == [s.model_bytes for s in priced.stages]
    # the stored bytes are the whole model's: a stage given them all would hold 30 layers' more
    doubled = vllm_memory(cfg, 471 * 2**30, mla_stored_bytes=120 * per_layer, **kw)  # type: ignore[arg-type]
    # (the rank holds them whole where the rest is an eighth: (stage − shared) / 8 + shared)
    assert doubled.stages[0].model_bytes - whole.stages[0].model_bytes == 30 * per_layer * 7 // 8


def test_gemma4_per_layer_inputs_and_double_wide_mlp() -> None:
    """Gemma 4 E2B: the 20 KV-sharing layers' MLP is 12,288 wide; the 35 layers' 256-wide per-layer
    inputs are held from before the first layer to the last (gemma4.cpp project_per_layer_inputs)."""
    e2b = paramscope.open_model(str(CONFIGS / "gemma-4-e2b.config.json")).config
    e4b = paramscope.open_model(str(CONFIGS / "gemma-4-e4b.config.json")).config
    assert e2b is not None and e4b is not None
    assert widest_ffn(e2b) == 2 * 6144 and widest_ffn(e4b) == 10240
    assert per_layer_input_width(e2b) == 256
    m = llamacpp_memory(e2b, 0, n_ctx=8192, n_seq=4, n_ubatch=2048, n_batch=2048, kv_unified=True,
                        n_outputs_max=4, backend="gpu", build="mid-2026")
    held = 2048 * 35 * 256 * 4
    assert m.compute.ffn_phase == 2048 * 2 * 12288 * 4 + held
    assert any("per-layer inputs" in line for line in m.compute.explain)
