"""vLLM pipeline parallelism (--pipeline-parallel-size): stages of layers, each with its own weights,
KV cache and profile; the engine's pool is the smallest stage's (runtimes/vllm/pipeline.py pipeline_memory).

The expected figures are computed here from vLLM's rules: get_pp_indices (vllm/distributed/utils.py)
for the layer split, make_layers / PPMissingLayer for what each stage holds, kv_cache_utils for the
blocks and their minimum over the workers.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.fit_advice import Plan, _vllm
from paramscope.analyses.sizing.memory import MemoryRequest, estimate
from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory
from paramscope.analyses.sizing.runtimes.vllm.pipeline import (
    parse_partition,
    pp_stage_layers,
    stage_weight_split,
)
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    GRAPH_ESTIMATE,
    NON_TORCH_BYTES,
    forward_peak,
    sampler_peak,
)
from paramscope.errors import ParamscopeError, UnsupportedError
from paramscope.knowledge.hardware import find_device

GiB = 1 << 30


def get_pp_indices(n: int, rank: int, pp: int) -> tuple[int, int]:
    """vllm/distributed/utils.py get_pp_indices, transcribed (without VLLM_PP_LAYER_PARTITION)."""
    per = n // pp
    partitions = [per for _ in range(pp)]
    if remaining := n % pp:
        for i in range(2, remaining + 2):
            partitions[-i] += 1
    start = sum(partitions[:rank])
    return start, start + partitions[rank]


# the examples of vLLM's docs and docstring: 22 layers in 4 stages, 5 in 3, 4 in 3, 3 in 2, 61 in 2 and 4
@pytest.mark.parametrize(("n", "pp", "expected"), [
    (22, 4, (5, 6, 6, 5)), (5, 3, (2, 2, 1)), (4, 3, (1, 2, 1)), (3, 2, (2, 1)), (61, 2, (31, 30)),
    (61, 4, (15, 15, 16, 15)), (32, 4, (8, 8, 8, 8))])
def test_stage_layers_as_vllm_documents(n, pp, expected):
    assert pp_stage_layers(n, pp) == expected


@given(st.integers(1, 200), st.integers(1, 16))
@settings(max_examples=200, deadline=None)
def test_stage_layers_match_get_pp_indices(n, pp):
    if pp > n:
        with pytest.raises(UnsupportedError):
            pp_stage_layers(n, pp)
        return
    layers = pp_stage_layers(n, pp)
    bounds = [get_pp_indices(n, r, pp) for r in range(pp)]
    assert layers == tuple(end - start for start, end in bounds)
    assert layers[-1] == n // pp  # the last stage (norm + lm_head) never takes a remainder layer


def test_partition_is_vllm_pp_layer_partition():
    assert parse_partition("16,32") == (16, 32)
    assert parse_partition("") is None
    assert pp_stage_layers(48, 2, (16, 32)) == (16, 32)
    for bad in ((16, 31), (48,), (0, 48)):
        with pytest.raises(UnsupportedError):
            pp_stage_layers(48, 2, bad)
    with pytest.raises(UnsupportedError):
        parse_partition("16;32")


def llama8b():
    return paramscope.open_model("llama-3.1-8b")


def test_stage_weights_from_tensor_names():
    model = llama8b()
    by_name = {t.name: t.nbytes for t in model.tensors}
    embed = by_name["model.embed_tokens.weight"]
    head = by_name["lm_head.weight"] + by_name["model.norm.weight"]
    layer = sum(v for k, v in by_name.items() if k.startswith("model.layers.0."))
    first, last = stage_weight_split(model, model.tensor_bytes, (16, 16))
    assert first == embed + 16 * layer
    assert last == head + 16 * layer
    assert first + last == model.tensor_bytes


def test_tied_embedding_on_the_last_stage_too():
    """LlamaModel builds embed_tokens on the last stage as well when the embeddings are tied (lm_head is
    tied to it there): the embedding is held twice."""
    model = paramscope.open_model("llama-3.2-1b")
    embed = next(t.nbytes for t in model.tensors if t.name == "model.embed_tokens.weight")
    first, last = stage_weight_split(model, model.tensor_bytes, (8, 8))
    layer = sum(t.nbytes for t in model.tensors if t.name.startswith("model.layers.0."))
    norm = next(t.nbytes for t in model.tensors if t.name == "model.norm.weight")
    assert first == embed + 8 * layer
    assert last == embed + 8 * layer + norm


def test_two_stages_on_24_gib():
    """Llama 3.1 8B, PP 2 on two 24 GiB GPUs at max_model_len 8192: every figure from vLLM's rules."""
    model = llama8b()
    cfg = model.config
    gpu, util = 24 * GiB, 0.9
    weights = stage_weight_split(model, model.tensor_bytes, (16, 16))
    m = vllm_memory(cfg, model.tensor_bytes, context=8192, gpu_memory_bytes=gpu, gpu_memory_utilization=util,
                    pipeline_parallel=2, stage_weights=weights, release=(0, 26, 0),  # before 0.27's measure
                    model_runner="v1")  # whose profile takes the graph estimate in (V2 took none before 0.29)
    assert len(m.stages) == 2
    rope = 131072 * 128 * 2  # cos/sin cache, max positions × head dim, bf16, on every stage
    t, hidden = 2048, 4096  # V1 defaults below 70 GiB: 2048 batched tokens, 256 sequences
    p = m.params
    assert (p.max_num_batched_tokens, p.max_num_seqs) == (t, 256)
    forward = forward_peak(cfg, p)
    received = 2 * t * hidden * 2  # hidden_states + residual from the previous stage
    activation = [forward, max(forward + received, sampler_peak(cfg, p))]
    page = 16 * 2 * 8 * 128 * 2  # block 16 × (K + V) × 8 KV heads × 128 × bf16
    reserved = int(gpu * util)
    own = []
    for i, s in enumerate(m.stages):
        assert s.layers == ((0, 16), (16, 32))[i]
        assert s.model_bytes == weights[i] + rope
        assert s.activation_bytes == activation[i]
        # the graph estimate over the stage's 16 layers: 86 graphs at 256 sequences (51 PIECEWISE, 35 FULL)
        graphs = GRAPH_ESTIMATE["cuda"][0] + GRAPH_ESTIMATE["cuda"][1] * 16 * 86
        available = reserved - s.model_bytes - activation[i] - NON_TORCH_BYTES - graphs
        assert s.pool.available_bytes == available
        own.append(available // (page * 16))
        assert s.own_blocks == own[-1]
        assert s.kv_needed_bytes == 16 * 2 * 8 * 128 * 2 * 8192  # its own 16 layers' cache
    assert m.pool.num_blocks == min(own)
    assert all(s.pool.num_blocks == min(own) for s in m.stages)
    assert m.stage == own.index(min(own))
    assert m.pool.tokens == min(own) * 16
    assert m.pool.max_concurrency == min(own) / (8192 // 16)


def test_pp_with_tp():
    """PP 2 × TP 2: each stage's weights and KV heads split over its two GPUs."""
    model = llama8b()
    weights = stage_weight_split(model, model.tensor_bytes, (16, 16))
    m = vllm_memory(model.config, model.tensor_bytes, context=4096, pipeline_parallel=2,
                    tensor_parallel=2, stage_weights=weights)
    for i, s in enumerate(m.stages):
        assert s.model_bytes == -(-weights[i] // 2) + 131072 * 128 * 2
        assert s.kv_needed_bytes == 16 * 2 * 4 * 128 * 2 * 4096  # 4 of the 8 KV heads


def test_pipeline_parallel_one_is_unchanged():
    model = llama8b()
    a = vllm_memory(model.config, model.tensor_bytes, context=8192, gpu_memory_bytes=24 * GiB)
    b = vllm_memory(model.config, model.tensor_bytes, context=8192, gpu_memory_bytes=24 * GiB,
                    pipeline_parallel=1)
    assert a == b and not a.stages


def test_estimate_per_device_is_per_stage():
    model = llama8b()
    dev = find_device("rtx-4090")
    est = estimate(model, MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=4,
                                        options={"pipeline_parallel_size": 2}))
    assert est.split == "pipeline stages" and len(est.per_device) == 4
    d = est.per_device
    assert d[0].weights_bytes == d[1].weights_bytes != d[2].weights_bytes == d[3].weights_bytes
    assert d[0].compute_bytes < d[2].compute_bytes  # only the last stage runs the sampler
    assert est.kv_cache_bytes == sum(u.kv_cache_bytes for u in d)
    even = estimate(model, MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=4))
    assert even.split == "even split"


def test_gpu_count_must_be_a_multiple_of_the_stages():
    with pytest.raises(ParamscopeError):
        estimate(llama8b(), MemoryRequest(runtime="vllm", context=8192, n_devices=3,
                                          options={"pipeline_parallel_size": 2}))
    with pytest.raises(ParamscopeError):
        estimate(llama8b(), MemoryRequest(runtime="vllm", context=8192, n_devices=2,
                                          options={"pp_layer_partition": "16,16"}))


def test_fit_command_names_the_stages():
    model = llama8b()
    dev = find_device("rtx-4090")
    req = MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=4,
                        options={"pipeline_parallel_size": 2})
    est = estimate(model, req)
    plan = Plan(4, None, "BF16 as stored", est, None, None, False)
    text = _vllm(model, req, plan)
    assert "--tensor-parallel-size 2 --pipeline-parallel-size 2" in text
    plain = _vllm(model, MemoryRequest(runtime="vllm", context=8192, device=dev, n_devices=4),
                  Plan(4, None, "BF16 as stored", est, None, None, False))
    assert "--tensor-parallel-size 4" in plain and "pipeline" not in plain
