"""Round 13's general rules (blind logs in tests/fixtures/engine_logs/*/r13*-*): vLLM's all-reduce fusion
workspace, the 0.16-0.20 sampler, a wrapper's head tied as its saving transformers tied it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paramscope.analyses.sizing.runtimes.vllm.engine import resolve_params
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    FUSION_WORKSPACE_AT_64MB,
    allreduce_fusion_bytes,
    capability,
)
from paramscope.knowledge.families import expected_tensors
from paramscope.knowledge.families.hfconfig import saved_by_v4
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

FIXTURES = Path(__file__).parent / "fixtures"
# Llama 3.1 8B
LLAMA = ArchConfig(family="llama", architecture="LlamaForCausalLM", n_layers=32, hidden_size=4096, n_heads=32,
                   n_kv_heads=8, head_dim_k=128, head_dim_v=128, ffn_size=14336, vocab_size=128256,
                   context_length=131072)


@pytest.mark.parametrize(("name", "cc"), [
    ("NVIDIA H100 80GB HBM3", 90), ("NVIDIA H200", 90), ("NVIDIA GH200 480GB", 90), ("NVIDIA H20", 90),
    ("NVIDIA B200", 100), ("NVIDIA GB200", 100), ("NVIDIA A100-SXM4-80GB", None),
    ("NVIDIA L40S", None), ("NVIDIA GeForce RTX 5090", None), (None, None)])
def test_capability_by_the_drivers_name(name, cc):
    assert capability(name) == cc


def _params(engine: str, tp: int, gpu: str, eager: bool = False):
    p = resolve_params(LLAMA, context=8192, batch=1, kv_type=DType.BF16, dtype=DType.BF16,
                       gpu_memory_bytes=80 * 2**30, gpu_memory_utilization=None, block_size=None,
                       max_num_batched_tokens=None, max_num_seqs=None, tensor_parallel=tp,
                       cuda_graphs=not eager, engine=engine)
    return replace(p, gpu_name=gpu)


def test_the_allreduce_fusion_workspace_follows_vllms_size_table():
    # O2's AllReduce + RMSNorm fusion: Hopper/Blackwell with TP > 1, compiled (not eager), 0.16 on
    h100 = "NVIDIA H100 80GB HBM3"
    assert allreduce_fusion_bytes(_params("v1-0.16", 2, h100)) == FUSION_WORKSPACE_AT_64MB
    assert allreduce_fusion_bytes(_params("v1", 2, "NVIDIA B200")) == FUSION_WORKSPACE_AT_64MB
    # 2 MB at TP 4 on Hopper, 32 on Blackwell (FI_ALLREDUCE_FUSION_MAX_SIZE_MB)
    assert allreduce_fusion_bytes(_params("v1", 4, h100)) == round(FUSION_WORKSPACE_AT_64MB * 2 / 64)
    assert allreduce_fusion_bytes(_params("v1", 4, "NVIDIA B200")) == FUSION_WORKSPACE_AT_64MB // 2
    for p in (_params("v1", 1, h100), _params("v1", 2, h100, eager=True), _params("v1-early", 2, h100),
              _params("v1", 2, "NVIDIA A100-SXM4-80GB"), _params("v1", 6, h100)):
        assert allreduce_fusion_bytes(p) == 0


def test_a_wrapper_saved_by_transformers_4_ties_its_head_by_the_text_config():
    cfg = json.loads((FIXTURES / "engine_logs/configs/mistral-small-3.1-24b.config.json").read_text())
    assert saved_by_v4(cfg) and cfg["transformers_version"].startswith("4.")
    untied = expected_tensors(cfg, fallback=False)
    tied = expected_tensors({**cfg, "transformers_version": "5.0.0"}, fallback=False)
    head = 131072 * 5120  # lm_head.weight [131072, 5120], as vLLM 0.19 loads it
    assert sum(t.params for t in untied) - sum(t.params for t in tied) == head
    assert any(t.name.endswith("lm_head.weight") for t in untied)
    # a config that names the tie keeps it, whatever wrote it
    assert sum(t.params for t in expected_tensors({**cfg, "tie_word_embeddings": True}, fallback=False)) == \
        sum(t.params for t in tied)
