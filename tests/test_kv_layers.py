"""KV caches of models whose layers differ, as each engine lays them out (runtimes/llamacpp/,
vllm.py, sglang.py; fit's tensor-parallel check).

References, each computed here from the config alone (sum over layers), never from the code under test:

- llama.cpp (llama-kv-cache.cpp, llama_kv_cache constructor; llama-hparams.cpp): layer il holds K of
  n_head_kv(il) × head_dim values a cell; V the same with flash attention, and without it (current
  builds, [TAG_V_CACHE_VARIABLE]) the widest layer's in every allocated layer; a deci layer without KV
  heads is allocated (has_kv), with no K. Checked against a real start-up log: Llama-3.1-Nemotron-Ultra-
  253B on ik_llama.cpp (tests/fixtures/engine_logs/llamacpp/ik377-*), whose printed n_head_kv array
  gives the layers.
- vLLM V1 (kv_cache_interface.py UniformTypeKVCacheSpecs): one group whose page is the sum of its
  layers' pages, num_blocks = available // that sum; per rank, each layer keeps max(1, heads // tp).
  V0 (config.py get_total_num_kv_heads for nemotron-nas): the first attending block's heads in every
  attending layer. DeciLM-7B (decilm.py): the widest layer's heads in every layer.
- SGLang (model_config.py, model_runner.py): one KV head count for every hidden layer; Variable GQA
  refused.
- Tensor parallelism (vLLM's QKVParallelLinear per layer): every attending layer's heads must split.

Blind figures (main at 72bcbe7) and after are in tests/fixtures/heterogeneous/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope import open_model
from paramscope.analyses.sizing.fit import allowed_tp
from paramscope.analyses.sizing.kv_cache import KV_HEADS_PER_LAYER, kv_cache_for_context
from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.analyses.sizing.runtimes.llamacpp.offload import offload
from paramscope.analyses.sizing.runtimes.sglang import sglang_memory
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import arch_config_from_hf
from paramscope.knowledge.gguf_arch import arch_config as gguf_arch_config
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType
from paramscope.records import replace

HERE = Path(__file__).parent / "fixtures"
SUPER = HERE / "heterogeneous" / "nvidia__Llama-3_3-Nemotron-Super-49B-v1.config.json"
OPENELM = HERE / "heterogeneous" / "mlx-community__OpenELM-1_1B-Instruct-4bit.config.json"
ULTRA = HERE / "engine_logs" / "llamacpp" / "ik377-nemotron-ultra-253b-q3kxl-4gpu-fa"
MiB, GiB = 1 << 20, 1 << 30
F16 = 2


def super_heads() -> list[int]:
    """Nemotron-Super-49B's KV heads per layer from its config: 64 // n_heads_in_group, 0 for no_op."""
    cfg = json.loads(SUPER.read_text())
    return [0 if b["attention"]["no_op"] else cfg["num_attention_heads"] // b["attention"]["n_heads_in_group"]
            for b in cfg["block_configs"]]


def openelm_heads() -> list[int]:
    return list(json.loads(OPENELM.read_text())["num_kv_heads"])


# --- llama.cpp: a real log ---------------------------------------------------------------------------
def _printed_array(log: str, name: str) -> np.ndarray:
    m = re.search(rf"{name} += \[([^\]]*)\]", log)
    assert m, name
    return np.array([int(x) for x in m.group(1).split(",")], np.int32)


def test_ultra_253b_log_kv_size_from_its_printed_layers() -> None:
    """The deci GGUF keys llama.cpp loaded, as it printed them (n_head, n_head_kv per layer): 64 of 162
    layers with 8 KV heads. KV self size 1248.00 MiB, K (q8_0) 816.00, V (q4_0) 432.00, n_ctx 12288."""
    record = json.loads(ULTRA.with_suffix(".json").read_text())
    log = ULTRA.with_suffix(".log").read_text()
    heads = _printed_array(log, "n_head_kv")
    metadata = {"general.architecture": "deci", "deci.block_count": 162, "deci.embedding_length": 16384,
                "deci.attention.head_count": _printed_array(log, "n_head"),
                "deci.attention.head_count_kv": heads, "deci.attention.key_length": 128,
                "deci.attention.value_length": 128, "deci.vocab_size": 128256, "deci.context_length": 131072}
    cfg = gguf_arch_config(metadata, set(), 128256, "ultra.gguf")
    assert cfg is not None
    s = record["settings"]
    m = llamacpp_memory(cfg, 0, n_ctx=s["n_ctx"], n_ubatch=s["n_ubatch"], n_batch=s["n_batch"],
                        type_k=DType.Q8_0, type_v=DType.Q4_0, flash_attn=s["flash_attn"],
                        build="legacy-no-swa")  # the log's 'KV self size' line: llama_kv_cache_init
    printed = {f["name"]: f["value"] for f in record["figures"]}
    assert m.params.n_ctx == int(printed["kv_cells"]) == 12288
    assert (m.kv.total_bytes, m.kv.k_bytes, m.kv.v_bytes) == tuple(
        round(float(printed[k]) * MiB) for k in ("kv_size", "k_size", "v_size"))
    # the engine's formula: Σ over layers n_head_kv(il) × 128 values, q8_0 34 B and q4_0 18 B per 32
    assert m.kv.k_bytes == int(heads.sum()) * 128 * 34 // 32 * 12288
    assert m.kv.v_bytes == int(heads.sum()) * 128 * 18 // 32 * 12288


# --- llama.cpp: the real configs ------------------------------------------------------------------------
def _llamacpp(cfg: ArchConfig, fa: bool, build: str = "current", n_ctx: int = 8192):
    return llamacpp_memory(cfg, 0, n_ctx=n_ctx, flash_attn=fa, build=build)


@pytest.mark.parametrize("path,heads,head_dim", [(SUPER, super_heads(), 128), (OPENELM, openelm_heads(), 64)])
def test_llamacpp_layers_of_the_real_configs(path: Path, heads: list[int], head_dim: int) -> None:
    cfg = open_model(str(path)).config
    assert cfg is not None
    cells = 8192
    k = sum(heads) * head_dim * F16 * cells
    widest = max(heads) * head_dim * F16 * cells
    on = _llamacpp(cfg, True).kv
    assert (on.k_bytes, on.v_bytes) == (k, k)
    off = _llamacpp(cfg, False).kv  # every layer (no_op ones too: deci allocates them) pads V
    assert (off.k_bytes, off.v_bytes) == (k, len(heads) * widest)
    legacy = _llamacpp(cfg, False, "legacy").kv  # llama_kv_cache_init: V per layer
    assert (legacy.k_bytes, legacy.v_bytes) == (k, k)


def test_llamacpp_padding_is_explained() -> None:
    cfg = open_model(str(SUPER)).config
    assert cfg is not None
    assert any("padded to the widest, 1024 values" in line for line in _llamacpp(cfg, False).explain)
    assert not any("padded" in line for line in _llamacpp(cfg, True).explain)


@pytest.mark.parametrize("path,heads,head_dim,ngl,fa", [
    (OPENELM, openelm_heads(), 64, 14, True), (OPENELM, openelm_heads(), 64, 14, False),
    (SUPER, super_heads(), 128, 40, True), (SUPER, super_heads(), 128, 40, False)])
def test_offload_prices_each_host_layer_at_its_width(path: Path, heads: list[int], head_dim: int, ngl: int,
                                                     fa: bool) -> None:
    """-ngl N: layers below n_layer + 1 − N stay on the host with their cache (llama-kv-cache.cpp: the
    layer's device; the output layer takes one of the N first), below n_layer − N in builds that
    offloaded it last; each at its own K, and V padded without flash attention."""
    model = open_model(str(path))
    cfg = model.config
    assert cfg is not None
    m = _llamacpp(cfg, fa)
    v = [max(heads)] * len(heads) if not fa else heads
    for build, host in (("current", range(len(heads) + 1 - ngl)), ("late-2025", range(len(heads) - ngl))):
        expected = sum((heads[il] + v[il]) * head_dim * F16 * 8192 for il in host)
        assert offload(model, cfg, model.tensor_bytes, m.kv, ngl, build=build).host_kv_bytes == expected


def test_compute_buffer_counts_one_mask_per_cache_not_per_head_count() -> None:
    """llama.cpp builds one KQ mask per KV cache (full, sliding), whatever the layers' head counts: the
    estimate for OpenELM's five head counts equals the estimate with one head count in every layer."""
    cfg = open_model(str(OPENELM)).config
    assert cfg is not None
    uniform = replace(cfg, extra={k: v for k, v in cfg.extra.items() if k != KV_HEADS_PER_LAYER})
    assert _llamacpp(cfg, True).compute == _llamacpp(uniform, True).compute


# --- vLLM ------------------------------------------------------------------------------------------------
def _nas(heads: list[int], hidden: int = 1024, n_heads: int = 8, linear: tuple[int, ...] = ()) -> ArchConfig:
    blocks = []
    for il, h in enumerate(heads):
        attention = ({"replace_with_linear": True} if il in linear else {"no_op": True} if h == 0
                     else {"n_heads_in_group": n_heads // h})
        blocks.append({"attention": attention, "ffn": {"ffn_mult": 1.0}})
    return arch_config_from_hf({"model_type": "nemotron-nas", "architectures": ["DeciLMForCausalLM"],
                                "hidden_size": hidden, "num_attention_heads": n_heads, "vocab_size": 1000,
                                "max_position_embeddings": 65536, "torch_dtype": "bfloat16",
                                "block_configs": blocks})


def _vllm(cfg: ArchConfig, tp: int = 1, engine: str = "v1", context: int = 4096):
    return vllm_memory(cfg, 0, context=context, tensor_parallel=tp, engine=engine, gpu_memory_bytes=80 * GiB)


_HEADS = st.lists(st.sampled_from([0, 1, 2, 4, 8]), min_size=1, max_size=16).filter(any)


@settings(max_examples=40, deadline=None)
@given(_HEADS, st.sampled_from([1, 2, 4, 8]))
def test_vllm_v1_one_group_paged_by_the_sum_of_layers(heads: list[int], tp: int) -> None:
    cfg = _nas(heads)
    head_dim, block = 128, 16
    per_rank = [max(1, h // tp) for h in heads if h]
    pages = [block * 2 * h * head_dim * F16 for h in per_rank]
    m = _vllm(cfg, tp)
    assert m.pool is not None
    assert m.pool.num_blocks == m.pool.available_bytes // sum(pages)
    assert m.pool.tokens == m.pool.num_blocks * block
    assert m.kv_needed_bytes == 4096 * sum(2 * h * head_dim * F16 for h in per_rank)


def test_vllm_v0_first_attending_block_everywhere() -> None:
    heads = [0, 2, 8, 0, 4, 8]
    m = _vllm(_nas(heads), engine="v0")
    assert m.kv_needed_bytes == 4096 * 4 * 2 * 2 * 128 * F16  # 4 attending layers × block 1's 2 heads


def test_vllm_deci_7b_widest_everywhere() -> None:
    cfg = arch_config_from_hf({"model_type": "deci", "architectures": ["DeciLMForCausalLM"],
                               "hidden_size": 1024, "num_attention_heads": 8,
                               "intermediate_size": 2048, "num_hidden_layers": 4, "vocab_size": 1000,
                               "num_key_value_heads_per_layer": [4, 2, 2, 1], "torch_dtype": "bfloat16"})
    assert _vllm(cfg).kv_needed_bytes == 4096 * 4 * 2 * 4 * 128 * F16
    # llama.cpp keeps each layer's own (DeciModel converts the per-layer counts)
    assert _llamacpp(cfg, True, n_ctx=4096).kv.total_bytes == 4096 * 2 * (4 + 2 + 2 + 1) * 128 * F16


def test_vllm_refuses_linear_attention_blocks() -> None:
    with pytest.raises(UnsupportedError, match="replaced by a linear layer"):
        _vllm(_nas([8, 8, 0, 8], linear=(2,)))


def test_vllm_super_49b_per_rank() -> None:
    cfg = open_model(str(SUPER)).config
    assert cfg is not None
    for tp in (1, 2, 4, 8, 16):
        per_rank = sum(max(1, h // tp) for h in super_heads() if h)
        assert _vllm(cfg, tp, context=8192).kv_needed_bytes == 8192 * 2 * per_rank * 128 * F16


# --- SGLang ----------------------------------------------------------------------------------------------
def test_sglang_pool_covers_every_hidden_layer_of_nemotron_nas() -> None:
    """cell = get_num_kv_heads(tp) × head_dim × num_hidden_layers × 2 × 2 B: 8 × 128 × 80 × 4 = 327,680 B."""
    cfg = open_model(str(SUPER)).config
    assert cfg is not None
    for tp in (1, 2, 4, 8):
        m = sglang_memory(cfg, 0, context=8192, tensor_parallel=tp)
        assert m.cell_bytes == (8 // tp) * 128 * 80 * 2 * F16


@pytest.mark.parametrize("cfg", [_nas([8, 4, 0, 8]), open_model(str(OPENELM)).config])
def test_sglang_refuses_variable_gqa(cfg: ArchConfig) -> None:
    with pytest.raises(UnsupportedError, match="Variable GQA"):
        sglang_memory(cfg, 0, context=1024)


def test_sglang_refuses_linear_attention_blocks() -> None:
    with pytest.raises(UnsupportedError, match="replaced by a linear layer"):
        sglang_memory(_nas([8, 8, 0, 8], linear=(2,)), 0, context=1024)


# --- tensor parallelism ------------------------------------------------------------------------------------
def test_allowed_tp_real_configs() -> None:
    super_cfg, openelm = open_model(str(SUPER)).config, open_model(str(OPENELM)).config
    assert super_cfg is not None and openelm is not None
    assert allowed_tp(super_cfg) == (1, 2, 4, 8, 16, 32, 64)
    assert allowed_tp(openelm) == (1,)  # 5 and 7 KV heads (and 20, 28 query heads) split no way


@settings(max_examples=60, deadline=None)
@given(_HEADS)
def test_allowed_tp_is_every_layers(heads: list[int]) -> None:
    expected = tuple(n for n in range(1, 65) if 8 % n == 0 and all(
        (h % n == 0 if h >= n else n % h == 0) for h in heads if h))
    assert allowed_tp(_nas(heads)) == expected


# --- uniform layers: today's figures exactly -------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.sampled_from([1, 2, 4, 8]), st.booleans())
def test_uniform_per_layer_list_changes_nothing(n_layers: int, kv: int, fa: bool) -> None:
    """A per-layer list whose values are all equal (a GGUF writes an array either way) gives exactly the
    figures of the scalar n_kv_heads in every runtime."""
    plain = ArchConfig(family="llama", architecture="llama", n_layers=n_layers, hidden_size=1024, n_heads=8,
                       n_kv_heads=kv, head_dim_k=128, head_dim_v=128, ffn_size=2048, vocab_size=1000,
                       context_length=8192)
    listed = replace(plain, extra={KV_HEADS_PER_LAYER: (kv,) * n_layers})
    assert kv_cache_for_context(plain, 1000) == kv_cache_for_context(listed, 1000)
    a, b = _llamacpp(plain, fa, n_ctx=2048), _llamacpp(listed, fa, n_ctx=2048)
    assert (a.kv_cache_bytes, a.compute_bytes) == (b.kv_cache_bytes, b.compute_bytes)
    for tp in (1, 2):
        va, vb = _vllm(plain, tp), _vllm(listed, tp)
        assert (va.pool, va.kv_needed_bytes) == (vb.pool, vb.kv_needed_bytes)
        sa = sglang_memory(plain, 0, context=1024, tensor_parallel=tp, gpu_memory_bytes=80 * GiB)
        sb = sglang_memory(listed, 0, context=1024, tensor_parallel=tp, gpu_memory_bytes=80 * GiB)
        assert (sa.cell_bytes, sa.tokens) == (sb.cell_bytes, sb.tokens)
    assert allowed_tp(plain) == allowed_tp(listed)


@settings(max_examples=40, deadline=None)
@given(_HEADS, st.booleans())
def test_generated_nemotron_llamacpp_sum_over_layers(heads: list[int], fa: bool) -> None:
    cfg = _nas(heads)
    kv = _llamacpp(cfg, fa, n_ctx=1024).kv
    k = sum(heads) * 128 * F16 * 1024
    assert kv.k_bytes == k
    assert kv.v_bytes == (k if fa else len(heads) * max(heads) * 128 * F16 * 1024)


def test_attention_flops_per_layer_query_heads() -> None:
    """Prefill attention FLOPs: 2 × (QKᵀ and AV over the keys each query sees) × each layer's own query
    heads × (head_dim_k + head_dim_v): OpenELM-1.1B's 16 to 32 heads, not 32 in every layer."""
    from paramscope.analyses.sizing.speed import attention_flops

    cfg = open_model(str(OPENELM)).config
    assert cfg is not None
    q = json.loads(OPENELM.read_text())["num_query_heads"]
    t = 1000
    assert attention_flops(cfg, t) == sum(2 * t * (t + 1) / 2 * h * 128 for h in q)


def test_runtime_tables_match_the_gguf_reader() -> None:
    from paramscope.analyses.sizing.runtimes.llamacpp.graph import PER_LAYER_KEYS
    from paramscope.analyses.sizing.runtimes.llamacpp.kv import ZERO_KV_ARCHS
    from paramscope.knowledge.gguf_arch import NO_KV_MEANS_NO_CACHE, PER_LAYER

    assert ZERO_KV_ARCHS == NO_KV_MEANS_NO_CACHE
    assert set(PER_LAYER_KEYS) == set(PER_LAYER.values())


@settings(max_examples=40, deadline=None)
@given(_HEADS, st.booleans())
def test_parts_name_each_cached_layer_once(heads: list[int], fa: bool) -> None:
    """Every layer llama.cpp allocates is in exactly one part (``KVPart.layer_ids``), at its width."""
    kv = _llamacpp(_nas(heads), fa, n_ctx=256).kv
    ids = [il for part in kv.parts for il in part.layer_ids]
    assert len(ids) == len(set(ids))
    cached = [il for il, h in enumerate(heads) if h or not fa]  # no flash attention: V in every layer
    assert sorted(ids) == cached
    for part in kv.parts:
        assert all(part.k_width == heads[il] * 128 for il in part.layer_ids)
