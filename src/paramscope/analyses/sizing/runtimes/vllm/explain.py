"""The lines ``size --explain`` prints for vLLM (each figure with its formula) and the warnings (vGPUs,
unified memory, a context beyond the model's default).
"""

from __future__ import annotations

import re

from paramscope.analyses.sizing.runtimes.common import CUDA_ALIKE
from paramscope.analyses.sizing.runtimes.vllm.engine import (
    V0_FAMILIES,
    derived_max_model_len,
    extensible_margin,
    release_text,
)
from paramscope.analyses.sizing.runtimes.vllm.kv import sliding_tokens
from paramscope.analyses.sizing.runtimes.vllm.profile import (
    FLASHINFER_SAMPLER_BYTES_PER_LOGIT,
    allreduce_fusion_bytes,
    captured_graphs,
    context_inside,
    held_allreduce_bytes,
    nccl_bytes,
    nccl_inside,
    nccl_profile_bytes,
    sampler_bytes_per_logit,
)
from paramscope.analyses.sizing.runtimes.vllm.result import VllmMemory
from paramscope.analyses.sizing.runtimes.vllm.speculative import MAMBA_SPECULATIVE_RELEASE
from paramscope.analyses.sizing.runtimes.vllm.weights import (
    ROPE_CACHE_DTYPE,
    allocator_tails,
    offloaded_bytes,
    per_layer_input_buffer_bytes,
    replicated_bytes,
    rope_shapes,
    uneven_experts_bytes,
)
from paramscope.analyses.sizing.runtimes.weight_offload import CpuOffload
from paramscope.model import ArchConfig

MiB, GiB = 1 << 20, 1 << 30

# From 0.27 the "peak activation" vLLM prints is the profile's transient part only (memory_profiling's
# transient_peak_headroom = torch's peak − what stays allocated after the profile run); what stays is in
# its "consumed memory (weights + non-torch)". Gemma 4 E4B under 0.28: 0.27 GiB printed where the whole
# peak is about 1.9 GiB (vllm/r49v-gemma4-e4b-*). The budget's arithmetic is unchanged.
TRANSIENT_PEAK_RELEASE = (0, 27, 0)


def gib(n: int | float) -> str:
    return f"{n / GiB:.2f} GiB"


def _outside_parts(cfg: ArchConfig, m: VllmMemory) -> str:
    """What the share outside the reservation holds, in words."""
    p = m.params
    parts = [*([] if context_inside(p) else ["CUDA context"]),
             *(["NCCL"] if p.tensor_parallel > 1 and not nccl_inside(p) else []),
             *([f"{captured_graphs(cfg, p)} CUDA graphs {m.captured_graph_bytes:,} B"]
               if m.captured_graph_bytes else [])]
    return ", ".join(parts) or "nothing"


def explanation(cfg: ArchConfig, m: VllmMemory, weights_bytes: int, forward: int, sampler: int
             ) -> tuple[str, ...]:
    p, layout = m.params, m.layout
    rows, b = min(p.max_num_seqs, p.max_num_batched_tokens), p.dtype.type_size
    shared = replicated_bytes(cfg, p)
    uneven = uneven_experts_bytes(cfg, weights_bytes - shared, p)
    buffer, tokens = per_layer_input_buffer_bytes(cfg, p), p.max_num_batched_tokens
    layers = int(cfg.extra.get("model_layers", cfg.n_layers))  # a pipeline stage's wrapper: all of them
    per_layer_inputs = (f" + per-layer input buffer {tokens} × {layers} × "
                        f"{buffer // (tokens * layers * b)} × {b} B" if buffer else "")
    lines = [
        f"{'vllm serve' if p.entrypoint == 'serve' else 'LLM() (offline)'} ({p.engine.upper()} engine, "
        f"the rules of {release_text(p.release)}{', model runner V2' if p.model_runner == 'v2' else ''}"
        f"{', chunked prefill' if p.chunked_prefill else ''}): "
        f"max_model_len {p.context}, {p.batch} seqs, block_size {p.block_size}, "
        f"max_num_batched_tokens {p.max_num_batched_tokens}, max_num_seqs {p.max_num_seqs}, "
        f"tensor_parallel {p.tensor_parallel}{', expert parallel' if p.expert_parallel else ''}, "
        f"KV {p.kv_type.value.lower()}; figures per GPU",
        f"weights: {weights_bytes:,} B / {p.tensor_parallel}"
        f"{f' (routers {shared:,} B whole on every rank)' if shared else ''} + "
        f"{'RoPE cache' if len(ropes := rope_shapes(cfg)) == 1 else 'RoPE caches'} " + " + ".join(
            f"{positions} × {rotary_dim} × {ROPE_CACHE_DTYPE.get(cfg.architecture, p.dtype).type_size} B"
            for positions, rotary_dim in ropes) +
        f"{f' + allocator segment tails {tails:,} B' if (tails := allocator_tails(cfg, p)) else ''}"
        f"{per_layer_inputs}"
        f"{f' + the first rank extra expert {uneven:,} B' if uneven else ''}"
        f"{f' − moved to host memory {offloaded_bytes(m.offload):,} B' if m.offload else ''}"
        f" = {m.model_bytes:,} B",
        *_offload_lines(m.offload),
        f"activation (estimate): max(forward {p.max_num_batched_tokens} tokens"
        f"{' (AWQ split-k partials)' if p.awq_split_k else ''}"
        f"{' (AWQ dequantized weight)' if p.awq_dequantize else ''} {forward:,} B, sampler "
        f"{rows} rows × {cfg.vocab_size} × ({b} + {sampler_bytes_per_logit(p)}) B"
        f"{', FlashInfer' if sampler_bytes_per_logit(p) == FLASHINFER_SAMPLER_BYTES_PER_LOGIT else ''}"
        f"{'' if p.engine in V0_FAMILIES else ' + hidden'} = {sampler:,} B)"
        f"{' with the multimodal profile (below)' if m.activation_bytes > max(forward, sampler) else ''}"
        f" = {m.activation_bytes:,} B",
        f"CUDA graphs in the budget (estimate"
        f"{f', {captured_graphs(cfg, p)} graphs × {cfg.n_layers} layers' if m.cuda_graph_bytes else ''}"
        f"): {m.cuda_graph_bytes:,} B; non-torch (estimate"
        f"{', CUDA context included' if context_inside(p) else ''}"
        f"{f', NCCL {nccl_bytes(p):,} B included' if nccl_bytes(p) and nccl_inside(p) else ''}"
        f"{', all-reduce inputs held' if held_allreduce_bytes(cfg, p) else ''}"
        f"{f', NCCL of the profile run {lazy:,} B included' if (lazy := nccl_profile_bytes(p)) else ''}"
        f"{f', all-reduce fusion workspace {fused:,} B' if (fused := allreduce_fusion_bytes(p)) else ''}"
        "): "
        f"{m.non_torch_bytes:,} B; outside the reservation (estimate: {_outside_parts(cfg, m)}): "
        f"{m.cuda_context_bytes:,} B",
        f"KV groups: {layout.groups} of {layout.group_size} layers; page {layout.page_bytes:,} B; "
        f"blocks per request {layout.blocks_per_request} ({layout.blocks})"
        if not layout.layer_pages else
        f"KV groups: one group of {layout.group_size} layers whose widths differ "
        f"(UniformTypeKVCacheSpecs): pages of {_page_sizes(layout.layer_pages)}, block "
        f"{layout.block_bytes:,} B over all layers; blocks per request {layout.blocks_per_request}",
    ]
    if (p.release >= TRANSIENT_PEAK_RELEASE and p.engine not in V0_FAMILIES and p.platform in CUDA_ALIKE
            and p.kv_cache_memory_bytes is None):
        lines.append("vLLM's 'peak activation' line (0.27 on) is another split of the same sum: the "
                     "profile's transient part (utils/mem_utils.py transient_peak_headroom, torch's peak "
                     "less what the run leaves allocated, which it counts in 'consumed memory') plus its "
                     "CUDA graph estimate; the KV cache is the same")
    if m.params.draft_layers or m.params.speculative_tokens:
        several = p.draft_layers > 1
        drafted = (f"the MTP drafter's {p.draft_layers} attention layer{'s' if several else ''} "
                   f"cache{'' if several else 's'} K and V as full-attention beside the model's "
                   f"(speculative.py)" if p.draft_layers else "")
        counted = p.release >= MAMBA_SPECULATIVE_RELEASE and "linear" in layout.blocks
        states = (f"a linear layer keeps {p.speculative_tokens} state block"
                  f"{'s' if p.speculative_tokens > 1 else ''} more a request, one per speculative token"
                  if counted and p.speculative_tokens else "")
        lines.append("speculative decoding: " + "; ".join(x for x in (drafted, states) if x)
                     if drafted or states else "speculative decoding: no drafter weights or KV layers")
    if "sliding" in layout.blocks and cfg.sliding_window > 0:
        held = sliding_tokens(cfg, p)
        lines.append(f"KV sliding window: a request holds min(window {cfg.sliding_window:,} − 1 + "
                     f"{p.in_flight_batches} step(s) in flight × max_num_batched_tokens "
                     f"{p.max_num_batched_tokens:,}, context {p.context:,}) = {held:,} tokens a sliding "
                     f"layer, + 1 block")
    lines += [f"KV needed {line}" for line in m.kv.explain]
    if m.kv_padding_bytes:
        lines.append(f"KV needed: + {m.kv_padding_bytes:,} B for the padding layers of hybrid groups")
    lines += _warnings(cfg, m)
    lines += _pool_lines(m) if m.pool else [f"total needed = {m.needed_bytes:,} B ({gib(m.needed_bytes)})"]
    return tuple(lines)


def _offload_lines(moved: CpuOffload | None) -> list[str]:
    if moved is None:
        return []
    return [f"--cpu-offload-gb {moved.limit_bytes / GiB:g}: {moved.parameters} parameters of the decoder "
            f"layers, first to last ({moved.whole_layers} layers whole), moved to pinned host memory until "
            f"{moved.limit_bytes:,} B are reached = {moved.moved_bytes:,} B"
            f"{f' (+ their allocator tails {moved.moved_tails:,} B)' if moved.moved_tails else ''}; "
            f"the GPU reads them over the host link at every step (runtimes/weight_offload.py)"]


def _page_sizes(pages: tuple[int, ...]) -> str:
    counts: dict[int, int] = {}
    for page in pages:
        counts[page] = counts.get(page, 0) + 1
    return ", ".join(f"{n} × {page:,} B" for page, n in counts.items())


def _pool_lines(m: VllmMemory) -> list[str]:
    pool, p = m.pool, m.params
    assert pool is not None
    reservation = (
        f"reservation: {p.gpu_memory_bytes:,} B × {p.gpu_memory_utilization} = {pool.reserved_bytes:,} B; "
        f"vLLM takes all of it whatever the requests need" if not p.extensible else
        f"reservation (0.34's extensible KV cache, sized after warmup): min(ceil({p.gpu_memory_bytes:,} B × "
        f"{p.gpu_memory_utilization}), {p.gpu_memory_bytes:,} − outside {m.cuda_context_bytes:,} − margin "
        f"{extensible_margin(p, m.activation_bytes):,} (max(1 GiB, 3 on ROCm; 0.75 × the transient peak))) = "
        f"{pool.reserved_bytes:,} B; from vLLM's source, no log checks it yet")
    lines = [
        reservation,
        f"available KV = reservation − weights − activation − CUDA graphs − non-torch = "
        f"{pool.available_bytes:,} B ({gib(pool.available_bytes)})",
    ] if p.kv_cache_memory_bytes is None else [
        f"--kv-cache-memory-bytes {p.kv_cache_memory_bytes:,}: the KV cache is that size whatever the GPU "
        f"(gpu_memory_utilization ignored); the worker takes weights + activation + CUDA graphs + "
        f"non-torch + it = {pool.reserved_bytes:,} B",
    ]
    lines += [
        (f"num_blocks = {pool.available_bytes:,} // {m.layout.page_bytes:,} // {m.layout.group_size} = "
         if not m.layout.layer_pages else
         f"num_blocks = {pool.available_bytes:,} // {m.layout.block_bytes:,} = ")
        + f"{pool.num_blocks:,}; GPU KV cache size: {pool.tokens:,} tokens"
        + (f" (int({pool.reported_len:,} × max concurrency), as 0.20.2 and later log it)" if pool.reported_len
           else f" (blocks // {pool.layout.n_groups} groups × {pool.block_size})"),
        f"Maximum concurrency for {p.context:,} tokens per request: {pool.max_concurrency:.2f}x",
        f"total = reservation + outside it = {m.total_bytes:,} B ({gib(m.total_bytes)})",
    ]
    if m.over_gpu_bytes:
        lines.append(f"does not fit: the GPU is {m.shortfall_bytes:,} B ({gib(m.shortfall_bytes)}) short of "
                     f"the worker's weights, buffers and the KV cache asked for")
    elif m.shortfall_bytes:
        lines.append(f"does not fit: the reservation is {m.shortfall_bytes:,} B "
                     f"({gib(m.shortfall_bytes)}) short of {p.batch} request(s) of {p.context:,} tokens")
    if m.over_gpu_bytes:
        lines.append(f"warning: vLLM would stop: the worker's {m.total_bytes:,} B pass the GPU's "
                     f"{p.gpu_memory_bytes:,} B (the cache's allocation runs out of memory)")
    elif pool.available_bytes <= 0:
        lines.append("warning: vLLM would stop: no available memory for the cache blocks")
    elif pool.num_blocks < m.layout.blocks_per_request:
        lines.append(f"warning: vLLM would stop: one request of {p.context} tokens needs "
                     f"{m.layout.blocks_per_request} blocks, the pool has {pool.num_blocks}")
    elif not m.fits:
        lines.append(f"warning: {p.batch} requests at once need {p.batch * m.layout.blocks_per_request} "
                     f"blocks, the pool has {pool.num_blocks}: the rest wait or are preempted")
    return lines


# NVIDIA vGPU profiles as the guest's driver names them: the board, then the framebuffer in GB and the
# profile series (Q, C, B, A), "NVIDIA A40-48Q", "GRID A100D-40C"
VGPU_NAME = re.compile(r"-\d+[QCBA]\b")
# GPUs sharing one memory with the host (compute capability 8.7, 11.0, 12.1: Jetson Orin and Thor, GB10):
# vLLM reads their free memory as the host's available RAM (vllm/utils/mem_utils.py MemorySnapshot.measure),
# so whatever the host allocates during the profile counts as non-torch memory
UNIFIED_MEMORY_NAME = re.compile(r"\b(GB10|Thor|Orin|DGX Spark|Jetson)\b", re.I)


def _warnings(cfg: ArchConfig, m: VllmMemory) -> list[str]:
    p = m.params
    limit = derived_max_model_len(cfg, p.release)
    checks = (
        (p.gpu_name is not None and VGPU_NAME.search(p.gpu_name) is not None,
         f"warning: {p.gpu_name} is a vGPU profile: memory its guest cannot account for (the hypervisor's, "
         f"other processes') shows up as non-torch memory in engines that measure the whole device "
         f"(0.6.4.post1: 4.09 GiB on an A40-48Q, issue 11230); it is not predicted, so the KV figures "
         f"here are an upper bound"),
        (p.gpu_name is not None and UNIFIED_MEMORY_NAME.search(p.gpu_name) is not None,
         f"warning: {p.gpu_name} shares its memory with the host: vLLM reads the host's available RAM as "
         f"free GPU memory, so what the host allocates during the profile (the worker, torch.compile) "
         f"counts as non-torch memory (3.0-6.9 GiB more than predicted on the nine DGX Spark start-up logs "
         f"of 0.18-0.27, model runner V1; three of the four of V2, 0.30, within 3 %); it is not predicted, "
         f"so with {p.model_runner.upper()} the KV figures here are "
         f"{'likely within a few %' if p.model_runner == 'v2' else 'an upper bound'}"),
        (p.context > limit,
         f"warning: context {p.context} exceeds the model's {limit} (vLLM refuses such a "
         f"max_model_len unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1)"),
        (p.batch > p.max_num_seqs,
         f"warning: batch {p.batch} exceeds max_num_seqs {p.max_num_seqs}: the rest wait"),
    )
    return [line for bad, line in checks if bad]
