"""``--pipeline-parallel-size``: stages of layers, each sized like one engine of its own; the pool is the
smallest stage's (vLLM takes the minimum of the workers' blocks).
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import layer_kinds
from paramscope.analyses.sizing.runtimes.vllm.engine import VllmParams
from paramscope.analyses.sizing.runtimes.vllm.explain import explanation
from paramscope.analyses.sizing.runtimes.vllm.kv import kv_layout, kv_pool
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    captured_graph_bytes,
    cuda_graph_bytes,
    forward_peak,
    non_torch_bytes,
    outside_bytes,
    sampler_peak,
)
from paramscope.analyses.sizing.runtimes.vllm.result import VllmMemory
from paramscope.analyses.sizing.runtimes.vllm.weights import offloaded_bytes, weights_per_gpu
from paramscope.analyses.sizing.runtimes.weight_offload import (
    ENCODER_NAMES,
    LAYER_INDEX,
    CpuOffload,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Model
from paramscope.records import replace

# --- pipeline parallelism (--pipeline-parallel-size) ------------------------------------------------
# vllm/distributed/utils.py get_pp_indices: the decoder layers in pp_size stages of n // pp_size layers;
# the remainder goes one layer each to the stages before the last, from the second-to-last backwards
# (the last holds the final norm and lm_head, the first the embedding), unless VLLM_PP_LAYER_PARTITION
# lists the layers of each stage ("its length must be pp_size and its sum the layer count"). Models build
# their layers with make_layers (model_executor/models/utils.py): a stage holds only its own layers, the
# rest are PPMissingLayer. LlamaModel (and the models written like it): embed_tokens on the first stage,
# and on the last too when the embeddings are tied (lm_head ties to it there); norm and lm_head on the
# last. Each worker profiles its own stage and sizes its own KV cache (its layers only); V1's
# kv_cache_utils.get_kv_cache_configs then gives every worker the smallest worker's num_blocks ("set
# num_blocks of each worker to the smallest among workers"), and the engine logs that pool. The profile:
# only the last stage computes logits and runs the sampler (gpu_model_runner.profile_run,
# ``if get_pp_group().is_last_rank``); the other stages receive the previous stage's hidden states and
# residual in buffers of max_num_tokens rows (gpu_model_runner._dummy_run, make_empty_intermediate_tensors),
# which stay allocated through the profile.
INTERMEDIATE_TENSORS = 2  # hidden_states and residual, each max_num_batched_tokens × hidden


def pp_stage_layers(n_layers: int, pp: int, partition: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The layers of each stage, as get_pp_indices divides them (see above)."""
    if pp < 1:
        raise UnsupportedError(f"vLLM: pipeline_parallel_size must be at least 1 (found {pp})")
    if partition:
        if len(partition) != pp or sum(partition) != n_layers or min(partition) < 1:
            raise UnsupportedError(f"vLLM: VLLM_PP_LAYER_PARTITION {','.join(map(str, partition))} must list "
                                   f"{pp} stages of at least one layer adding up to {n_layers} layers")
        return tuple(partition)
    if pp > n_layers:
        raise UnsupportedError(f"vLLM: {n_layers} layers cannot fill {pp} pipeline stages")
    parts = [n_layers // pp] * pp
    for i in range(2, n_layers % pp + 2):
        parts[-i] += 1
    return tuple(parts)


def parse_partition(text: str) -> tuple[int, ...] | None:
    """VLLM_PP_LAYER_PARTITION as the engine reads it: layers per stage, comma-separated ("" = none)."""
    if not text.strip():
        return None
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise UnsupportedError(f"vLLM: invalid VLLM_PP_LAYER_PARTITION {text!r} (layers per stage, "
                               f"comma-separated)") from None


PER_LAYER_STRINGS = frozenset({"index_topk_pattern"})


MODEL_LAYERS = "model_layers"  # a stage's config keeps the whole model's layer count under this key


def stage_config(cfg: ArchConfig, start: int, end: int) -> ArchConfig:
    """The model as one stage holds it: layers [start, end), with their kinds, per-layer head counts,
    recurrent layers and leading dense (MoE) layers."""
    n = cfg.n_layers
    types = cfg.layer_types[start:end] if cfg.layer_types else ()
    # per-layer lists (and per-layer strings: index_topk_pattern's "FSSS…") cut to the stage's layers
    extra = {k: (tuple(v)[start:end] if isinstance(v, (list, tuple)) and len(v) == n
                 else v[start:end] if k in PER_LAYER_STRINGS and isinstance(v, str) and len(v) == n else v)
             for k, v in cfg.extra.items()}
    linear_all = layer_kinds(cfg).get("linear", 0)
    recurrent = cfg.recurrent_layers
    if recurrent and recurrent == linear_all:
        recurrent = types.count("linear")
    elif recurrent == n:  # a parallel hybrid: every layer keeps a state
        recurrent = end - start
    dense = max(0, min(end, cfg.n_dense_layers) - start)
    extra.setdefault(MODEL_LAYERS, n)  # what a stage's wrapper still sizes by (weights.py per-layer inputs)
    return replace(cfg, n_layers=end - start, layer_types=types, extra=extra, recurrent_layers=recurrent,
                   n_dense_layers=dense)


LAST_STAGE_NAMES = ("lm_head", "output.", "output_norm", "norm.", "ln_f", "final_layernorm", "norm_f")


def stage_weight_split(model: Model, weights_bytes: int, stage_layers: tuple[int, ...]) -> tuple[int, ...]:
    """Each stage's weights (before the tensor-parallel split), from the tensors' names: a layer's
    tensors go to the stage holding that layer (a layer past the last, as an MTP module, to the last);
    the final norm and lm_head to the last; the multimodal towers and their projectors to every stage
    (the wrappers build them with no pipeline rank test: models/qwen2_5_vl.py, llava.py, gemma3_mm.py,
    gemma4_mm.py; qwen3_vl.py tests the rank for the text model alone); the embedding and the rest to the
    first, and the embedding to the last as well when the embeddings are tied. The text model's bytes are
    scaled to ``weights_bytes`` less the towers (the weights as the engine holds them, re-priced or re-laid
    out); the towers, which re-pricing keeps as stored, are not."""
    from paramscope.knowledge.roles import TOWERS, place

    bounds = [sum(stage_layers[:i + 1]) for i in range(len(stage_layers))]
    raw = [0] * len(stage_layers)
    towers = 0
    tied = model.config is not None and model.config.tied_embeddings
    for t in model.tensors:
        component = place(t.name).component
        if component in TOWERS:
            towers += t.nbytes
            continue
        found = None if any(k in t.name for k in ENCODER_NAMES) else LAYER_INDEX.search(t.name)
        if found:
            layer = int(found.group(1))
            stage = next((i for i, b in enumerate(bounds) if layer < b), len(bounds) - 1)
        elif any(t.name.startswith(k) or f".{k}" in t.name for k in LAST_STAGE_NAMES):
            stage = len(bounds) - 1
        else:
            stage = 0
            if tied and component == "embedding":
                raw[-1] += t.nbytes
        raw[stage] += t.nbytes
    text = max(model.tensor_bytes - towers, 1)
    return tuple((weights_bytes - towers) * r // text + towers for r in raw)


def _estimated_stage_weights(cfg: ArchConfig, weights_bytes: int, p: VllmParams,
                             stage_layers: tuple[int, ...]) -> tuple[int, ...]:
    """Without the tensors: the embedding and lm_head at vocab × hidden in the model dtype, the rest
    evenly over the layers."""
    embed = cfg.vocab_size * cfg.hidden_size * p.dtype.type_size
    head = 0 if cfg.tied_embeddings else embed
    per_layer = max(weights_bytes - embed - head, 0) / cfg.n_layers
    last = len(stage_layers) - 1
    return tuple(int(n * per_layer) + (embed if i == 0 else 0) + (head if i == last else 0)
                 + (embed if i == last and cfg.tied_embeddings else 0)
                 for i, n in enumerate(stage_layers))


def pipeline_memory(cfg: ArchConfig, kv_cfg: ArchConfig, weights_bytes: int, p: VllmParams,
                    partition: tuple[int, ...] | None, stage_weights: tuple[int, ...] | None,
                    offload: tuple[CpuOffload, ...] = ()) -> VllmMemory:
    """Every stage's memory (see the notes above); the engine's pool is the smallest stage's."""
    if cfg.is_encoder_decoder:
        raise UnsupportedError(f"vLLM: pipeline parallelism of an encoder-decoder ({cfg.architecture}) is "
                               f"not modelled")
    layers = pp_stage_layers(cfg.n_layers, p.pipeline_parallel, partition)
    weights = stage_weights or _estimated_stage_weights(cfg, weights_bytes, p, layers)
    stages = []
    for i, n in enumerate(layers):
        start = sum(layers[:i])
        s_cfg, s_kv = stage_config(cfg, start, start + n), stage_config(kv_cfg, start, start + n)
        first, last = i == 0, i == len(layers) - 1
        layout, kv, padding = kv_layout(s_kv, p)
        moved = offload[i] if offload else None
        # the checkpoint's MLA down-projections (held whole on every rank) are the whole model's: a stage
        # holds its own layers' share of them
        stored = p.mla_stored_bytes
        s_p = p if stored is None else replace(p, mla_stored_bytes=stored * n // max(cfg.n_layers, 1))
        model = weights_per_gpu(s_cfg, weights[i], s_p) - offloaded_bytes(moved)
        received = 0 if first else (INTERMEDIATE_TENSORS * p.max_num_batched_tokens * cfg.hidden_size
                                    * p.dtype.type_size)
        forward = forward_peak(cfg, p) + received
        sampler = sampler_peak(cfg, p) if last else 0
        graphs, non_torch = cuda_graph_bytes(s_cfg, p), non_torch_bytes(cfg, p)
        transient = max(forward, sampler)
        pool = kv_pool(p, layout, model + transient + non_torch + graphs, outside_bytes(s_cfg, p), transient)
        m = VllmMemory(p, model, kv, padding, max(forward, sampler), graphs, non_torch,
                       outside_bytes(s_cfg, p), layout, pool, (), i, (start, start + n), (),
                       pool.num_blocks if pool else None, moved, captured_graph_bytes(s_cfg, p))
        lines = explanation(s_cfg, m, weights[i], forward, sampler)
        stages.append(replace(m, explain=(f"stage {i} (layers {start}–{start + n - 1}"
                                          f"{', embedding' if first else ''}"
                                          f"{', norm + lm_head, sampler' if last else ''}"
                                          f"{', received hidden + residual' if received else ''}):",
                                          *lines)))
    if all(m.pool is not None for m in stages):
        blocks = min(m.own_blocks or 0 for m in stages)
        stages = [replace(m, pool=replace(m.pool, num_blocks=blocks)) for m in stages]
        worst = min(stages, key=lambda m: (m.own_blocks or 0, m.stage))
    else:
        worst = max(stages, key=lambda m: (m.needed_bytes, -m.stage))
    head = (f"pipeline parallel: {len(layers)} stages of {'+'.join(map(str, layers))} layers "
            f"(vllm/distributed/utils.py get_pp_indices{', VLLM_PP_LAYER_PARTITION' if partition else ''}),"
            f" each on {p.tensor_parallel} GPU(s); the figures are stage {worst.stage}'s, the worst")
    if worst.pool is not None:
        own = ", ".join(f"stage {m.stage} {m.own_blocks:,}" for m in stages)
        head += (f"; KV blocks each stage's memory holds: {own}; every worker takes the smallest, "
                 f"{worst.pool.num_blocks:,} (kv_cache_utils.get_kv_cache_configs)")
    explain = (head, *(line for m in stages for line in m.explain))
    return replace(worst, stages=tuple(stages), explain=explain)
