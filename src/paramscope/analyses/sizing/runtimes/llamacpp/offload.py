"""``-ngl``: which layers, and which of their buffers, run on the GPU; the output layer's place by build
family; tied embeddings held twice; ops offloaded to the GPU for large batches.
"""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import KVCache
from paramscope.analyses.sizing.runtimes.llamacpp.compute import ComputeBuffer
from paramscope.analyses.sizing.runtimes.llamacpp.kv import as_llamacpp_loads, block_count
from paramscope.analyses.sizing.runtimes.llamacpp.params import OUTPUT_LAST_BUILDS
from paramscope.model import ArchConfig, Model
from paramscope.model.memo import ModelMemo
from paramscope.records import field, record


@record
class Offload:
    """Where llama.cpp puts each layer with ``-ngl`` (llama-model.cpp, load_tensors; ``gpu_layer_start``):
    layers il ≥ i_gpu_start on the GPU, the output layer first (current builds) or only when n_gpu_layers >
    n_layer (OUTPUT_LAST_BUILDS), the input layer (token embedding) always in host memory. Tied embeddings
    offloaded: the output matrix is a GPU copy of the embedding the host keeps for the lookup."""

    n_gpu_layers: int  # as given, capped at n_layer + 1 ("offloaded N/n_layer+1 layers to GPU")
    i_gpu_start: int
    output_on_gpu: bool
    host_weights_bytes: int
    duplicate_bytes: int
    host_kv_bytes: int  # the host layers' cache, a hybrid's recurrent state included
    output_matrix_bytes: int = 0  # the output matmul's weight (the token embedding when tied), as priced
    # the recurrent state in host_kv_bytes: llama_memory_recurrent's own buffer ("RS buffer size"), beside
    # the attention layers' "KV buffer size"
    host_state_bytes: int = 0
    # MoE experts kept in host memory (--n-cpu-moe, -ot ...exps=CPU) of layers otherwise on the GPU: their
    # bytes (in host_weights_bytes) and the largest one stack of them (one projection of one layer), which a
    # GPU backend that offloads ops copies into its compute buffer to run the product
    host_expert_bytes: int = 0
    host_expert_stack_bytes: int = 0
    # of what stays in host memory, the bytes one decode step reads there (the CPU runs those layers'
    # products): the host layers' weights and the output matrix if it is there, k of E of the routed
    # experts, the host layers' KV cache; not the input embedding, of which a token looks up one row
    host_read_bytes: int = 0


def gpu_layer_start(n_layer: int, n_gpu_layers: int | None, build: str = "current") -> tuple[int, int, bool]:
    """(-ngl capped at n_layer + 1, i_gpu_start, whether the output layer is on the GPU): BUILDS notes. A
    negative -ngl is every layer (llama.cpp's -1: "auto", all layers where they fit), as None is."""
    ngl = n_layer + 1 if n_gpu_layers is None or n_gpu_layers < 0 else min(n_gpu_layers, n_layer + 1)
    if build in OUTPUT_LAST_BUILDS:
        return ngl, max(n_layer - ngl, 0), ngl > n_layer
    return ngl, max(n_layer + 1 - ngl, 0), ngl >= 1


def repeating_layers_on_gpu(n_gpu_layers: int | None, build: str = "current") -> bool:
    """Whether -ngl puts any repeating layer (and so an attention) on the GPU: builds that offload the
    output layer first (``gpu_layer_start``) give it the first of the N, so -ngl 1 there holds none; a
    negative -ngl, as logs write it, is all of them."""
    if n_gpu_layers is None or n_gpu_layers < 0:
        return True
    return n_gpu_layers > (0 if build in OUTPUT_LAST_BUILDS else 1)


# ggml_backend_sched hands an op whose weight sits in host memory to a GPU backend that asks for it
# (ggml-backend.cpp ggml_backend_sched_backend_id_from_cur, cause "1.off"; the backend's offload_op): CUDA
# and HIP (ggml_backend_cuda_device_offload_op), Vulkan and SYCL take matrix products of at least 32 rows
# and copy the weight into their compute buffer for it. With the output layer in host memory (-ngl ≤
# n_layer) the GPU's graph so still ends in the logits, the output matrix copied beside them: Pythia 2.8B
# at -ngl 10 on a V100 (ggml-org/ci, build 4775) printed 203.99 MiB = the q6_K output matrix 105,638,400
# + the logits 512 × 50304 × 4 + the last hidden state 512 × 2560 × 4 B, with and without flash attention.
# Metal and OpenCL ask for none (their offload_op is false).
OP_OFFLOAD_MIN_BATCH = 32


def gpu_compute_with_host_output(compute: ComputeBuffer, split: Offload, n_ubatch: int,
                                 offloads_ops: bool = True) -> tuple[int, str]:
    """The GPU's compute buffer with the output layer left in host memory, and a line saying why.

    Ops offloaded (``offloads_ops``, n_ubatch ≥ 32): the whole graph's peak or the output matmul with its
    weight copied in, whichever is larger. Otherwise the GPU's graph stops before the logits: the larger
    of the attention and FFN phases (an estimate of the layers' peak where the graph is replayed)."""
    if offloads_ops and n_ubatch >= OP_OFFLOAD_MIN_BATCH:
        output = compute.logits_phase + split.output_matrix_bytes
        return max(compute.total_bytes, output), (
            f"the output layer stays in host memory, but the GPU backend runs its {n_ubatch}-row product "
            f"(op offload, at least {OP_OFFLOAD_MIN_BATCH} rows) with the matrix copied in: logits phase "
            f"{compute.logits_phase:,} + {split.output_matrix_bytes:,} B = {output:,} B")
    layers = max(compute.attention_phase, compute.ffn_phase)
    return layers, (f"the output layer stays in host memory and the GPU's graph stops before the logits: "
                    f"the larger of the attention and FFN phases, {layers:,} B")


@record
class LayerSplit:
    """A model's stored bytes by where llama.cpp's loader puts them: the token embedding, each layer, and
    the rest outside the layers (output matrix, final norm)."""

    stored: int
    embedding: int
    by_layer: dict[int, int]
    outside: int
    has_output: bool
    experts_by_layer: dict[int, int] = field(default_factory=dict)  # the MoE experts of each layer
    # each layer's largest expert stack: one projection of all its experts (a GGUF's ffn_*_exps tensor)
    stack_by_layer: dict[int, int] = field(default_factory=dict)


# offload() is asked dozens of times for one model while only -ngl, context or batch change; placing
# DeepSeek-V3's 90k tensors takes ~0.1 s a time.
_SPLIT_MEMO: ModelMemo[LayerSplit] = ModelMemo(8)


def layer_split(model: Model) -> LayerSplit:
    return _SPLIT_MEMO.get(model, None, lambda: _split(model))


def _split(model: Model) -> LayerSplit:
    # imported here: only a model with weights, or one offloaded to a GPU, needs its tensors placed, and
    # the roles table (with its dataclass) would otherwise load on every `size` of a catalogue name
    from paramscope.knowledge.roles import place

    # bytes by placement first: place() shares one record per (component, role, layer), so DeepSeek-V3's
    # 90k tensors sum into ~1.5k placements (keyed by identity: a record hashes its fields in Python),
    # and only those are read
    by_place: dict[int, list] = {}
    for t in model.tensors:
        where = place(t.name)
        acc = by_place.get(id(where))
        if acc is None:
            by_place[id(where)] = [where, t.nbytes]
        else:
            acc[1] += t.nbytes
    embedding = outside = stored = 0
    by_layer: dict[int, int] = {}
    experts: dict[int, int] = {}
    stacks: dict[tuple[int, str], int] = {}
    has_output = False
    for where, nbytes in by_place.values():
        stored += nbytes
        has_output |= where.component == "output"
        if where.component == "embedding" and where.layer is None:
            embedding += nbytes
        elif where.layer is not None:
            by_layer[where.layer] = by_layer.get(where.layer, 0) + nbytes
            if where.component.startswith("experts"):  # routed experts ("experts/down" …), not shared ones
                experts[where.layer] = experts.get(where.layer, 0) + nbytes
                key = (where.layer, where.component)
                stacks[key] = stacks.get(key, 0) + nbytes
        else:
            outside += nbytes
    return LayerSplit(stored, embedding, by_layer, outside, has_output, experts, largest_stacks(stacks))


def largest_stacks(stacks: dict[tuple[int, str], int]) -> dict[int, int]:
    """Each layer's largest expert stack from the bytes of its (layer, expert component) groups: one GGUF
    ffn_*_exps tensor; a fused gate and up ("experts/gate_up", gpt-oss) is two such stacks."""
    largest: dict[int, int] = {}
    for (layer, component), nbytes in stacks.items():
        one = nbytes // 2 if "gate_up" in component else nbytes
        largest[layer] = max(largest.get(layer, 0), one)
    return largest


@record
class SchemeSplit:
    """A re-pricing's bytes where offload needs them: the output and the token embedding at their own
    types, each layer's routed experts and its largest expert stack."""

    output: int
    embedding: int
    experts: dict[int, int]
    stacks: dict[int, int]


# a partial offload at a scheme asks these once per placement tried (llama.cpp's --fit searches tens of
# them); re-pricing Qwen3-30B-A3B's 18,867 tensors takes ~35 ms
_SCHEME_MEMO: ModelMemo[SchemeSplit] = ModelMemo(16)


def at_scheme(model: Model, scheme: str) -> SchemeSplit:
    return _SCHEME_MEMO.get(model, scheme, lambda: _at_scheme(model, scheme))


def _at_scheme(model: Model, scheme: str) -> SchemeSplit:
    from paramscope.analyses.sizing.weights import reprice  # only for a partial offload at a scheme

    output = embedding = 0
    experts: dict[int, int] = {}
    stacks: dict[tuple[int, str], int] = {}
    for r in reprice(model, scheme).rows:
        if r.component == "output":
            output += r.bytes
        elif r.component == "embedding" and r.layer is None:
            embedding += r.bytes
        elif r.layer is not None and r.component.startswith("experts"):
            experts[r.layer] = experts.get(r.layer, 0) + r.bytes
            stacks[(r.layer, r.component)] = stacks.get((r.layer, r.component), 0) + r.bytes
    return SchemeSplit(output, embedding, experts, largest_stacks(stacks))


def output_matrix_bytes(model: Model, scheme: str) -> int:
    """The output matmul's weight at a re-pricing scheme, which gives it a type of its own (llama.cpp's
    quantize keeps output.weight at Q6_K for most file types, Q5_K for the IQ2/IQ1 ones): the output
    component's rows, or the token embedding's where the two are tied."""
    split = at_scheme(model, scheme)
    return split.output or split.embedding


def expert_bytes_at(model: Model, scheme: str) -> tuple[dict[int, int], dict[int, int]]:
    """Each layer's routed experts and its largest expert stack at a re-pricing scheme (LayerSplit's
    experts_by_layer and stack_by_layer, at the types the scheme gives them)."""
    split = at_scheme(model, scheme)
    return split.experts, split.stacks


def embedding_bytes(model: Model, scheme: str) -> int:
    """The token embedding at a re-pricing scheme, at its own type (llama-quant.cpp types token_embd by its
    own rule: Q6_K where it doubles as the output, the scheme's embedding type otherwise)."""
    return at_scheme(model, scheme).embedding


def _unread_bytes(model: Model) -> int:
    from paramscope.analyses.sizing.speed import unread_by_text  # memoized per model there

    return unread_by_text(model)[0]


def offload(model: Model, cfg: ArchConfig, weights_bytes: int, kv: KVCache, n_gpu_layers: int | None,
            scheme: str | None = None, build: str = "current",
            cpu_expert_layers: frozenset[int] = frozenset()) -> Offload:
    """The split of the weights (as ``weights_bytes`` prices them) and of the KV cache; ``scheme``, the
    re-pricing ``weights_bytes`` follows, prices the output matrix at its own type; ``cpu_expert_layers``:
    the layers whose MoE experts stay in host memory (--n-cpu-moe N: the first N; -ot)."""
    cfg = as_llamacpp_loads(cfg, build)
    n_layer = cfg.n_layers
    # placed over every block, MTP layers included (kv.py block_count); the cache is the trunk's
    ngl, start, output_on_gpu = gpu_layer_start(block_count(cfg), n_gpu_layers, build)
    split = layer_split(model)
    stored = split.stored or 1
    embedding = split.embedding
    has_output = split.has_output
    host = embedding + sum(b for il, b in split.by_layer.items() if il < start)
    if not output_on_gpu:
        host += split.outside  # output matrix and final norm
    duplicate = embedding if output_on_gpu and not has_output and cfg.tied_embeddings else 0
    # the output matmul's weight: the output matrix (with the final norm, a rounding error) or, tied, the
    # token embedding
    output_matrix = split.outside if has_output else embedding
    scale = weights_bytes / stored  # re-priced weights: the same split
    # each layer's cache sits with its layer (llama-kv-cache.cpp: buft = dev_layer(il)): the parts name
    # their layers, each at its own width; parts that do not (a recurrent state) go by layer kind
    kinds = cfg.layer_types or ("full",) * n_layer
    host_kv = sum(part.layer_bytes * sum(il < start for il in part.layer_ids) for part in kv.parts)
    per_kind = {part.kind: part.layer_bytes for part in kv.parts if part.layers and not part.layer_ids}
    state = sum(per_kind.get(kinds[il], 0) for il in range(min(start, len(kinds))))
    output_bytes = (output_matrix_bytes(model, scheme) if scheme is not None and not output_on_gpu
                    else round(output_matrix * scale))
    # the GPU's copy of a tied embedding is the embedding at its own type (Q6_K where quantize types it as
    # the output: llama-quant.cpp, token_embd when the model has no output.weight), not at the file's
    # average: Phi-4-mini Q4_K_M on two Vulkan GPUs, model buffer −3.5 % → +0.1 % (r13l-phi4-mini-*)
    duplicate_bytes = (output_matrix_bytes(model, scheme) if duplicate and scheme is not None
                       else round(duplicate * scale))
    # the host's copy priced as the GPU's: the embedding at its own type, the rest at the file's average
    host_bytes = (embedding_bytes(model, scheme) + round((host - embedding) * scale) if scheme is not None
                  else round(host * scale))
    # experts kept in host memory from layers that are otherwise on the GPU (host layers hold theirs anyway),
    # at the experts' own re-priced type where a scheme prices them (gpt-oss's MXFP4 experts are not at the
    # file's average, whose attention goes from bf16 to Q8_0)
    kept = [il for il in cpu_expert_layers if il >= start and il in split.experts_by_layer]
    if kept and scheme is not None:
        experts, stacks = expert_bytes_at(model, scheme)
        expert_bytes = sum(experts.get(il, 0) for il in kept)
        stack_bytes = max((stacks.get(il, 0) for il in kept), default=0)
    else:
        expert_bytes = round(sum(split.experts_by_layer[il] for il in kept) * scale)
        stack_bytes = round(max((split.stack_by_layer.get(il, 0) for il in kept), default=0) * scale)
    # a decode step reads k of E of the routed experts in host memory (those of the host layers at the
    # file's average, as their layers are priced), everything else there whole but the input embedding,
    # which it looks up, unless that is the output matrix there too (tied, the output layer on the host),
    # and what no text token reads (towers, Gemma's per-layer tables: outside the layers, with the output)
    host_layer_experts = round(sum(b for il, b in split.experts_by_layer.items() if il < start) * scale)
    k, e = (cfg.n_experts_per_token, cfg.n_experts) if cfg.n_experts else (1, 1)
    embedding_held = (embedding_bytes(model, scheme) if scheme is not None else round(embedding * scale))
    looked_up = embedding_held if output_on_gpu or has_output else 0
    unread = 0 if output_on_gpu else round(_unread_bytes(model) * scale)
    host_read = (host_bytes - looked_up - unread - host_layer_experts
                 + (host_layer_experts + expert_bytes) * k // e + host_kv + state)
    return Offload(ngl, start, output_on_gpu, host_bytes + expert_bytes, duplicate_bytes, host_kv + state,
                   output_bytes, host_state_bytes=state, host_expert_bytes=expert_bytes,
                   host_expert_stack_bytes=stack_bytes, host_read_bytes=max(host_read, 0))


def gpu_compute_with_host_experts(compute: ComputeBuffer, split: Offload, n_ubatch: int,
                                  offloads_ops: bool = True) -> tuple[int, str]:
    """The GPU's compute buffer with MoE experts in host memory: a backend that offloads ops (CUDA, at
    least OP_OFFLOAD_MIN_BATCH rows: ggml-backend.cpp op_offload) runs each host expert product itself,
    one split a weight, with the stack copied in beside what that split holds live (the graph's inputs
    and the layer's MoE activations, ``ComputeBuffer.moe_split_bytes``); the graph's own peak where that is
    larger. Qwen3-235B-A22B Q8_0 with layers 14 on kept in host memory on an RTX A6000: 1024.00 MiB printed
    = 816 MiB of one Q8_0 stack + 208 live (r37l-*-a6000-*; 184 estimated); gpt-oss-20b at 131k cells with
    every expert on the host (ik822-*): 457.0 printed, the graph's 413.5 (135 + 322 live; 230 estimated)."""
    if not split.host_expert_stack_bytes or not offloads_ops or n_ubatch < OP_OFFLOAD_MIN_BATCH:
        return compute.total_bytes, ""
    live = compute.moe_split_bytes
    copied = live + split.host_expert_stack_bytes
    return max(compute.total_bytes, copied), (
        f"MoE experts stay in host memory, but the GPU backend runs their {n_ubatch}-row products (op "
        f"offload) with one stack copied in: {live:,} B live in that split + "
        f"{split.host_expert_stack_bytes:,} B = {copied:,} B")
