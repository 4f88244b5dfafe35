"""What the profile run measures beside the weights: the forward pass's activation peak (fused-MoE chunks,
AWQ's transients), the sampler's, the memory outside torch (the non-torch increase, NCCL, the CUDA context)
and the CUDA graph estimate.
"""

from __future__ import annotations

import re

from paramscope.analyses.sizing.runtimes.common import (
    CUDA_CONTEXT_BYTES,
    NCCL_BYTES,
    NCCL_PCIE_BYTES,
)
from paramscope.analyses.sizing.runtimes.vllm.engine import V0_FAMILIES, VllmParams
from paramscope.analyses.sizing.runtimes.vllm.speculative import CAPTURE_BOUND_RELEASE
from paramscope.analyses.sizing.runtimes.vllm.weights import kv_heads_per_rank
from paramscope.model import ArchConfig

MiB, GiB = 1 << 20, 1 << 30
F32, I64 = 4, 8

# Estimated constants (docs/runtimes.md lists the log lines they come from):
# memory_profiling's non-torch increase during the profile run (attention workspaces, cuBLAS):
# vLLM V1 logs 0.07–0.20 GiB ("non_torch_memory takes 0.16GiB", vLLM PR #12126)
NON_TORCH_BYTES = 160 * MiB
# From 0.27.0 the non-KV memory is measured at the device: free memory before the engine minus free memory
# after the profile, plus the profile's transient (utils/mem_utils.py memory_profiling: total_consumed +
# transient_peak_headroom; 0.26 added torch's peak increase, the weights and the non-torch increase). That
# adds what the caching allocator keeps reserved beyond live tensors: the weights' segment tails split off
# and holes (``VllmParams.device_holes``, runtimes/allocator.py ``reserved_holes``) and the profile's own
# leftovers. Consumed − weights at TP 1: 0.26 GiB for Llama 3.1 8B on an A100 (0.31.0, no holes), 0.30 for
# Qwen2.5-0.5B on an RTX 4090 (0.27.1, 0.05 GiB of holes): 0.25 GiB beside the holes
DEVICE_LEVEL_RELEASE = (0, 27, 0)
DEVICE_LEVEL_NON_TORCH_BYTES = 256 * MiB
# V0 worker.py (0.6.4): "non_torch_memory=0.35GiB" for Llama 3.1 8B on an RTX 3090, both logs of
# tests/fixtures/engine_logs/vllm/10517-* (the whole device's memory outside torch after the profile run):
# the "v0-0.6", "v0-early" and "v0-2023" families; "v0" (0.6.5 to 0.10) measures the increase
# (V0_INCREASE_BYTES at TP 1, NON_TORCH_BYTES with TP)
V0_NON_TORCH_BYTES = 350 * MiB
# the "v0" family's increase at TP 1 (worker.py determine_num_available_blocks, 0.6.5 to 0.10): 0.05 GiB on
# a T4 (0.7.2, two logs), an A10 (0.7.2) and a T4 (0.8.2), 0.08 on an L40 (0.7.2), 0.09 on a V100 (0.8.5)
# where V1's 0.16 had been taken. With TP the profile's collectives add NCCL's lazily connected buffers:
# 0.30 and 0.32 GiB at TP 2 on PCIe-only L40S and A40 pairs, 0.20 at TP 4 on modded Turing cards, 0.72 on
# MI50s: V1's 0.16 is kept there (NCCL's own profile share, 0.40 over NVLink, overshoots the PCIe logs)
V0_INCREASE_BYTES = 64 * MiB
V0_RESERVED_RELEASE = (0, 7, 0)  # memory_profiling's baseline in torch's reserved bytes (PR #11809)
# NCCL and custom all-reduce buffers per GPU with tensor parallelism (runtimes/common.py NCCL_BYTES),
# created in init_device before the memory snapshot: outside V1's budget, like the CUDA context.
# The CUDA graph estimate the budget takes from 0.21 ("Estimated CUDA graph memory: X GiB total",
# gpu_model_runner.py profile_cudagraph_memory): per capture mode (PIECEWISE, FULL) vLLM captures the largest
# two graphs, each read as the device's free memory falls (cudaMemGetInfo), and takes the first capture
# (the shared pool's activations and the graph) plus the second's × the mode's other graphs, the modes'
# first captures overlaid. What a graph costs the driver grows with the kernels it holds, with the layers,
# so the estimate is a base plus a rate per layer per captured graph (``captured_graphs``), per platform,
# fitted on the estimates the logs of tests/fixtures/engine_logs/vllm/ print where the budget takes them
# ("Estimated CUDA graph memory", "… GiB (estimated)"; the capture printed after the cache is the
# ``cuda_graph_captured`` figure): CUDA 0.09 GiB + 0.154 MiB (28 logs of 0.21-0.31, 0.08 to 1.94 GiB:
# median error 0.09 GiB, 0.15 on the halves a two-fold least-squares fit held out, the 512 MiB constant
# taken until session 27 0.24); ROCm 0.23 GiB + 1.05 MiB (eight MI300X logs of four Gemma 4 models on
# 0.31, 3.40 to 6.54 GiB, each within 0.04 GiB; HIP graphs cost about 7 times CUDA's per kernel; no other
# ROCm GPU or family checks it).
GRAPH_ESTIMATE = {  # platform → (base, bytes per layer per captured graph)
    "cuda": (round(0.09 * GiB), round(0.154 * MiB)),
    "rocm": (round(0.23 * GiB), round(1.05 * MiB)),
}
# The sampler on the profile run's logits (top-k and top-p on, as the dummy sampling parameters ask), per
# logit beyond the model-dtype logits compute_logits returns, by engine family:
# - v1 (0.21 on): the fp32 copy, the sorted values and their int64 indices, the softmax of the sorted
#   values (topk_topp_sampler.py): 20 B; checked against "3.04 GiB" of torch peak for Qwen3-8B with 1024
#   rows on an H100 (vLLM PR #48037, model runner V2): 3.25 GiB predicted.
# - v1-0.16 (0.16 to 0.20, the Triton top-k/top-p kernels of PR #33538): the kernel filters the logits in
#   place (topk_topp_triton.py, for batches of 8 rows or more); what stays is the fp32 copy, the softmax
#   probabilities and random_sample's exponential noise (``q = torch.empty_like(probs)``): 12 B, 13 with
#   what four vLLM 0.19.0 logs of 1024 rows on H100s add (tests/fixtures/engine_logs/vllm/r13q-*: torch
#   peaks of 1.89 to 2.87 GiB fitted at 12.8 to 12.9 B; the failed run's "Tried to allocate 786.00 MiB" is
#   the noise, 1024 × 201088 × 4 B). 20 B, the sort's figure, had been checked on two 0.19 logs of 256 rows
#   only, where the forward's peak hides the difference (myoceane-*, tokenkaki-*: within 1.3 % with 13).
# - v1-early, v1-0.9, v1-0.8 and v0: the sort-based path (the fp32 copy, sorted values, int64 indices and
#   their inverse, the scattered-back logits, probabilities, masks, the sampler's noise), measured per engine
#   on the logs whose peak is the sampler's (tests/fixtures/engine_logs/vllm/): V0 41.2 B per logit with the
#   bf16 logits (10511-*: 1.26 GiB for 256 rows × 128256, the same at TP 1 and TP 2) and 39.0 B (13061-*:
#   rank 0's pool is 1.23 GiB smaller than the other rank's): 40 B for the 0.6 and earlier V0 families;
#   the V0 of 0.6.5 to 0.10 ("v0") 37 B, from four logs whose peak is the sampler's (cs336-* 36.6, pr13109-*
#   36.5, hfcookbook-* 37.2, davidshare-phi4-* 37.3; 13061-*'s 39.0 is the exception, +1.2 % on its
#   tokens); V1 36.2 B (23278-*: −2.14 GiB left of an H100's 0.9 × 79.22 GiB with 1024 rows × 201088): 36 B.
SAMPLER_BYTES_PER_LOGIT = {"v1": F32 + F32 + I64 + F32, "v1-0.16": F32 + F32 + F32 + 1, "v1-early": 36,
                           "v1-0.12": 36, "v1-0.11": 36, "v1-0.9": 36, "v1-0.8": 36,
                           **dict.fromkeys(V0_FAMILIES, 40), "v0": 37}
# The V1 sampler with FlashInfer's top-k/top-p kernel instead (v1/sample/ops/topk_topp_sampler.py, 0.8.x:
# "Using FlashInfer for top-p & top-k sampling." where FlashInfer is installed, as in vLLM's Docker image;
# V0 never used it by default): the fp32 copy of the logits (sampler.py ``logits.to(torch.float32)``;
# temperature divides it in place) and the softmax probabilities ``forward_cuda`` hands the kernel, which
# samples without sorting: 8 B per logit. Checked on vLLM 0.8.5 on four A10s (17469-*, whose log says so).
FLASHINFER_SAMPLER_BYTES_PER_LOGIT = F32 + F32


def forward_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """Activation peak of the dummy forward of max_num_batched_tokens tokens (one rank).

    Three hidden-sized tensors stay live through a layer (the residual, the normed input and the sum
    the fused add-norm writes); on top of them either the MLP's gate_up output (2 × ffn) and SiluAndMul's
    output (ffn), the fused MoE kernel's caches (``fused_moe_width``), or attention's qkv and output.
    Checked on the V0 profile of a whole Llama 3.1 8B prompt (10517-*: 20000 tokens 2.07 GiB printed,
    2.06 predicted; 29000 tokens 2.99, 2.99).
    """
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    # MLA prefill expands the latent into per-head K and V (kv_b_proj), split over the ranks like Q
    kv_heads = cfg.n_heads // tp if cfg.is_mla else kv_heads_per_rank(cfg, tp)
    dense = cfg.ffn_size if not cfg.is_moe or cfg.n_dense_layers else 0
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads * (cfg.head_dim_k + cfg.head_dim_v)
    attention = qkv + cfg.n_heads * cfg.head_dim_v // tp
    widest = max(t * max(3 * dense // tp, attention), fused_moe_tokens(p) * fused_moe_width(cfg, p))
    peak = (t * 3 * cfg.hidden_size + widest) * b
    if p.awq_split_k:
        return max(peak, awq_split_k_peak(cfg, p))
    return max(peak, awq_dequantize_peak(cfg, p)) if p.awq_dequantize else peak


# The fused MoE kernel's caches per token (model_executor/layers/fused_moe/fused_moe.py fused_experts_impl,
# and the modular kernels' workspaces since): with N = w1's rows on a rank (2 × expert ffn / tp) and
# K = hidden, intermediate_cache1 (topk × N, the gate_up output), cache2 (topk × N/2, after SiluAndMul)
# and cache3 (topk × K, the down output before the weighted sum). PR #13625 (February 2025, in 0.8)
# made cache1 and cache3 share one buffer of topk × max(N, K) ("by the time we need cache3, we're done
# with cache1"); before, V0 allocated all three. A batch longer than VLLM_FUSED_MOE_CHUNK_SIZE tokens
# (envs.py: 32768 through 0.10, 16 × 1024 in the 0.11 series and later) is cut into chunks of that many,
# and the caches are sized for one. Qwen3-235B-A22B FP8 at TP 4 and 8192 tokens: 0.73 GiB (0.33 when the
# experts counted as a dense MLP of topk × expert ffn); vLLM 0.27.1's KV memory for it (kubesimplify-*-tp4-*)
# went from +5.4 % to +3.9 %. Its printed "peak activation" (0.76) is another sum, transient headroom
# plus the CUDA graph estimate (tools/engine_log_compare.py CONSUMED_FORMAT), so it checks nothing alone.
FUSED_MOE_CHUNK = {False: 32768, True: 16 * 1024}  # keyed by "a family of 0.11 or later"
FAMILIES_SINCE_0_11 = frozenset({"v1", "v1-0.16", "v1-early", "v1-0.12", "v1-0.11"})


def fused_moe_width(cfg: ArchConfig, p: VllmParams) -> int:
    """Values per token the fused MoE kernel holds at its peak on one rank (0 for a dense model); an MoE
    config without an expert width (a Mixtral GGUF) takes the FFN width."""
    if not cfg.is_moe:
        return 0
    ffn = cfg.expert_ffn_size or cfg.ffn_size
    # expert parallelism: a rank's experts are whole (N = 2 × ffn), and its kernel still takes every
    # token's top-k slots (the non-local ones masked by the expert map), so the caches span whole experts
    n = 2 * ffn if p.expert_parallel else 2 * ffn // p.tensor_parallel
    k, topk = cfg.hidden_size, cfg.n_experts_per_token
    if p.engine in V0_FAMILIES and p.release < SHARED_MOE_CACHE_RELEASE:
        return topk * (n + n // 2 + k)
    return topk * (max(n, k) + n // 2)


SHARED_MOE_CACHE_RELEASE = (0, 8, 0)  # PR #13625: V0 of 0.8 to 0.10 runs the same fused_experts_impl


def fused_moe_tokens(p: VllmParams) -> int:
    """The tokens the fused MoE kernel sizes its caches for: the batch, at most one chunk
    (VLLM_FUSED_MOE_CHUNK_SIZE, FUSED_MOE_CHUNK)."""
    return min(p.max_num_batched_tokens, FUSED_MOE_CHUNK[p.engine in FAMILIES_SINCE_0_11])


# AWQ before PR #2566 (vLLM 0.3.0, January 2024): every AWQ matmul ran ``ops.awq_gemm`` with split_k_iters =
# pack_factor = 8 (quantization/awq.py AWQLinearMethod.apply_weights), and the kernel
# (csrc/quantization/awq/gemm_kernels.cu) allocates the 8 partial outputs, ``torch::empty({split_k_iters,
# num_in_feats, out_features})``, then returns their ``sum(0)``: at that matmul 8 + 1 outputs are live.
# PR #2566 dequantizes the weight and calls torch.matmul for batches of 256 tokens or more, which the
# profile run always is.
AWQ_SPLIT_K = 8


def awq_split_k_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """The forward peak of an AWQ checkpoint before 0.3.0: the widest AWQ matmul with its split-k partials,
    beside the three hidden-sized tensors of ``forward_peak``. Dense models: the merged gate_up projection
    (2 × ffn per rank). MoE (Mixtral, the only one then): quantized Mixtral ran models/mixtral_quant.py,
    which gives each rank whole experts (np.array_split of the experts over the ranks, ReplicatedLinear
    w1 / w2 / w3) and runs each one over every token; w3 runs while w1's activated output (ffn) is live.
    Attention's qkv projection, split over the ranks, is the other candidate."""
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    parts = AWQ_SPLIT_K + 1
    # MoE: w1's activated output, then w3's partials and sum; dense: gate_up's partials and sum
    mlp = (1 + parts) * cfg.expert_ffn_size if cfg.is_moe else parts * 2 * cfg.ffn_size // tp
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads_per_rank(cfg, tp) * (cfg.head_dim_k + cfg.head_dim_v)
    return t * (3 * cfg.hidden_size + max(mlp, parts * qkv)) * b


# From 0.3.0 the AWQ kernel (quantization/awq.py AWQLinearMethod.apply, kept where Marlin cannot run: a
# GPU below capability 8.0, or --quantization awq given, which "forces awq") dequantizes the whole weight
# to fp16 and calls torch.matmul for 256 tokens or more (FP16_MATMUL_HEURISTIC_CONDITION), which the
# profile run always is: at the widest projection its fp16 weight and output are live beside the three
# hidden-sized tensors. Qwen2.5-7B-AWQ on a T4 (0.22.1, 2048 tokens): 0.438 GiB, KV 7.51 -> 7.33 GiB
# predicted, 7.32 printed; Qwen2.5-14B-AWQ on an RTX 3090 forced to awq (0.15.1): 11.55 -> 11.33, 11.33
# printed (tests/fixtures/engine_logs/vllm/r12v-aks-*, dali-*)
def awq_dequantize_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """The forward peak with the AWQ kernel of 0.3.0 and later: the widest AWQ projection of a rank (a
    dense MLP's merged gate_up, 2 × ffn / tp, or attention's qkv) as an fp16 hidden × width weight plus
    its output, beside the three hidden-sized tensors of ``forward_peak``. A mixture of experts' experts
    run their own MoE kernels: only attention counts there."""
    t, b, tp = p.max_num_batched_tokens, p.dtype.type_size, p.tensor_parallel
    dense = cfg.ffn_size if not cfg.is_moe or cfg.n_dense_layers else 0
    qkv = cfg.n_heads * cfg.head_dim_k // tp + kv_heads_per_rank(cfg, tp) * (cfg.head_dim_k + cfg.head_dim_v)
    width = max(2 * dense // tp, qkv)
    return (t * 3 * cfg.hidden_size + (cfg.hidden_size + t) * width) * b


def sampler_peak(cfg: ArchConfig, p: VllmParams) -> int:
    """profile_run's _dummy_sampler_run: one row of logits per request (at most max_num_seqs).

    V1: the forward's last hidden states stay live; the logits are gathered to full vocab on every rank.
    V0: the logits are gathered to rank 0 only, which alone samples: its peak is the larger, and its pool
    the smaller, which is the one vLLM uses (the minimum over the workers). Figures here are rank 0's.
    """
    rows = min(p.max_num_seqs, p.max_num_batched_tokens)
    logits = rows * cfg.vocab_size * (p.dtype.type_size + sampler_bytes_per_logit(p))
    if p.engine in V0_FAMILIES:
        return logits
    return p.max_num_batched_tokens * cfg.hidden_size * p.dtype.type_size + logits


def sampler_bytes_per_logit(p: VllmParams) -> int:
    """What the profile's sampler holds per logit beyond the model-dtype logits (see the tables above)."""
    if p.flashinfer_sampler and p.engine not in V0_FAMILIES:
        return FLASHINFER_SAMPLER_BYTES_PER_LOGIT
    return SAMPLER_BYTES_PER_LOGIT[p.engine]


def non_torch_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """Memory outside torch that the engine counts inside its budget (see the constants above): in
    "v1-0.9", "v1-0.8", "v0-early" and "v0-2023" the NCCL buffers too, created after its memory snapshot;
    in "v1-0.8" also the CUDA context (the whole device's non-torch memory); in "v0-2023" the all-reduce
    inputs the allocator could not reuse (``held_allreduce_bytes``); in the families whose snapshot
    follows NCCL's set-up, the part of NCCL that the profile run itself allocates (``nccl_profile_bytes``);
    FlashInfer's all-reduce fusion workspace where the engine fuses (``allreduce_fusion_bytes``). "v0"
    (0.6.5 to 0.10) counts its increase over the snapshot: V0_INCREASE_BYTES at TP 1, NON_TORCH_BYTES with
    TP. From 0.27 the device-level measure (DEVICE_LEVEL_RELEASE)."""
    if p.engine == "v0-2023-main":  # torch.cuda.max_memory_allocated(): nothing outside torch counts
        return 0
    if p.engine in V0_FAMILIES:
        if p.engine == "v0":  # the increase over the snapshot: V0_INCREASE_BYTES at TP 1, V1's with TP
            # 0.6.5-0.6.6 subtracted torch's allocated bytes, not its reserved ones (PR #11809 came in
            # 0.7): the allocator's holes beside the weights count as non-torch memory there
            holes = p.device_holes if p.release < V0_RESERVED_RELEASE else 0
            return (V0_INCREASE_BYTES if p.tensor_parallel == 1 else NON_TORCH_BYTES) + holes
        return V0_NON_TORCH_BYTES + (nccl_bytes(p) if nccl_inside(p) else 0) + held_allreduce_bytes(cfg, p)
    context = CUDA_CONTEXT_BYTES if context_inside(p) else 0
    nccl = nccl_bytes(p) if nccl_inside(p) else nccl_profile_bytes(p)
    base = (DEVICE_LEVEL_NON_TORCH_BYTES + p.device_holes if p.release >= DEVICE_LEVEL_RELEASE
            else NON_TORCH_BYTES)
    return base + context + nccl + allreduce_fusion_bytes(p)


def context_inside(p: VllmParams) -> bool:
    """Whether the engine counts its own CUDA context in the budget: "v1-0.8" (whole-device non-torch)."""
    return p.engine == "v1-0.8"


def nccl_inside(p: VllmParams) -> bool:
    """Whether the engine's memory snapshot preceded NCCL's initialisation, so its buffers are in the peak."""
    return p.engine in ("v1-0.9", "v1-0.8", "v0-early", "v0-2023")


def held_allreduce_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """"v0-2023" with tensor parallelism: two all-reduce inputs per layer of max_num_batched_tokens ×
    hidden, reserved until the profile step synchronises (issue #2150, fixed by PR #2151 with
    TORCH_NCCL_AVOID_RECORD_STREAMS=1)."""
    if p.engine != "v0-2023" or p.tensor_parallel == 1:
        return 0
    return 2 * cfg.n_layers * p.max_num_batched_tokens * cfg.hidden_size * p.dtype.type_size


# Since PR #25359 (0.11) the V1 worker snapshots free memory after NCCL's set-up, yet with tensor
# parallelism the profile run still adds memory outside torch: NCCL connects lazily (NCCL_RUNTIME_CONNECT,
# the default since NCCL 2.22), so the buffers of the collectives first used there (the logits' all-gather,
# torch.distributed's own communicator) are allocated inside the measured window. vLLM 0.11.0 on H100s at
# TP 2 (tests/fixtures/engine_logs/vllm/llmd-*): non-torch 0.55 GiB for Llama-3.3-70B FP8 and 0.54 for
# Qwen3-32B, against 0.14 for both at TP 1: 0.40 GiB more. Taken from those two and used at every TP size,
# capped at NCCL's whole PCIe-only estimate between PCIe-only GPUs (a 0.24 log on four PCIe-only L40S and a
# 0.27.1 one on four PCIe RTX PRO 6000 leave 0.53 and 1.5 GiB more: documented misses in docs/runtimes.md);
# the rest of NCCL stays outside the budget.
NCCL_PROFILE_BYTES = 410 * MiB


def nccl_profile_bytes(p: VllmParams) -> int:
    """The NCCL buffers the profile run allocates inside the budget (NCCL_PROFILE_BYTES), with tensor
    parallelism in the families that take their snapshot after NCCL's set-up; 0 otherwise."""
    if p.tensor_parallel == 1 or nccl_inside(p) or p.engine in V0_FAMILIES:
        return 0
    return min(NCCL_PROFILE_BYTES, nccl_bytes(p))


def nccl_bytes(p: VllmParams) -> int:
    """NCCL and custom all-reduce buffers per GPU (tensor parallelism only): as measured over NVLink, or
    the smaller PCIe-only estimate (runtimes/common.py)."""
    if p.tensor_parallel == 1:
        return 0
    return NCCL_BYTES if p.nvlink else NCCL_PCIE_BYTES


# vLLM's AllReduce + RMSNorm fusion (PassConfig.fuse_allreduce_rms; docs.vllm.ai design/fusions, 0.18 on:
# "Default at O2 (Hopper/Blackwell + TP > 1)", and O2 is the default level, so on unless --enforce-eager):
# FlashInfer's all-reduce workspace ("Initialized FlashInfer All Reduce workspace: backend=trtllm") is
# allocated outside torch while the profile run compiles. Measured on vLLM 0.19.0 at TP 2 on H100s
# (tests/fixtures/engine_logs/vllm/r13q-llmdplanner-*-tp2-*, one of which prints "Enabled custom fusions:
# allreduce_rms"): non-torch 2.07 and 2.10 GiB where the same TP 2 on 0.11 took 0.55 (llmd-*), 1.52 and
# 1.54 GiB more for hidden sizes of 2880 and 8192 alike. At TP 4 on the same H100s (Llama 4 Scout, hidden
# 5120; r19v-llama4-scout-*-tp4-*) non-torch is 2.17 GiB: the same workspace, although the fusion's size
# limit there is 2 MB where TP 2's is 64 (allreduce_rms_fusion.py FI_ALLREDUCE_FUSION_MAX_SIZE_MB). At TP 8
# the one log (gpt-oss-120b on H200s, 0.22.1, vastrepro-*: tokens only) fits the workspace scaled down by
# that table (0.1 %; the whole workspace would give −1.3 %): whole up to TP 4, scaled by the table beyond
# (TP sizes it lacks get no fusion). Every log behind this is a Hopper's; Blackwell's TP 4 (32 MB in the
# table) is taken whole as Hopper's is.
FUSION_MAX_MB: dict[int, dict[int, float]] = {90: {2: 64, 4: 2, 8: 0.5}, 100: {2: 64, 4: 32, 8: 1}}
FUSION_WORKSPACE = 1570 * MiB
FUSION_WHOLE_UP_TO_TP = 4
FUSION_FAMILIES = frozenset({"v1-0.16", "v1"})
# CUDA capability by the driver's name of the GPU (SM 9.0 Hopper; SM 10.0 and 10.3 the data-centre
# Blackwells, B300 the latter, which FUSION_MAX_MB has no row for)
CAPABILITY_BY_NAME = ((90, re.compile(r"\bG?H(?:100|200|800|20)\b", re.I)),
                      (100, re.compile(r"\bG?B(?:100|200)\b", re.I)), (103, re.compile(r"\bG?B300\b", re.I)))


def capability(gpu_name: str | None) -> int | None:
    """The GPU's CUDA capability (90, 100, 103) where its name says so (CAPABILITY_BY_NAME), else None."""
    for cc, pattern in CAPABILITY_BY_NAME:
        if gpu_name is not None and pattern.search(gpu_name):
            return cc
    return None


def allreduce_fusion_bytes(p: VllmParams) -> int:
    """FlashInfer's AllReduce + RMSNorm workspace, outside torch inside the profile (see above): with
    tensor parallelism on Hopper or Blackwell over NVLink in the families that fuse by default, unless
    eager."""
    cc = capability(p.gpu_name)
    # the workspace needs the GPUs' NVLink (vLLM warns it "is expected to fail" without NVSwitch, and then
    # runs unfused): PCIe-only boards take none
    if p.engine not in FUSION_FAMILIES or not p.cuda_graphs or cc is None or not p.nvlink:
        return 0
    size_mb = FUSION_MAX_MB.get(cc, {}).get(p.tensor_parallel)
    if size_mb is None:
        return 0
    if p.tensor_parallel <= FUSION_WHOLE_UP_TO_TP:
        return FUSION_WORKSPACE
    return round(FUSION_WORKSPACE * size_mb / 64)


def cuda_graph_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """The CUDA graph pool inside the budget: V1 since 0.21 only, its estimate (before, graphs are captured
    after the cache is sized, outside the budget); from 0.34 (``p.extensible``) the graphs as captured,
    before the cache is sized."""
    if p.cuda_graphs and p.extensible:
        return capture_bytes(cfg, p)
    inside = p.engine == "v1" if p.graph_estimate is None else p.graph_estimate
    return graph_estimate_bytes(cfg, p) if p.cuda_graphs and inside and estimated_here(p) else 0


# The platforms whose profile runs the estimate, from the release that added each (gpu_worker.py
# determine_available_memory: ``current_platform.is_cuda()`` in 0.21 to 0.25, ``is_cuda_alike()`` from
# 0.26, ``or current_platform.is_xpu()`` from 0.31); elsewhere the graphs are captured after the cache.
GRAPH_ESTIMATE_PLATFORMS: dict[str, tuple[int, int, int]] = {"cuda": (0, 0, 0), "rocm": (0, 26, 0),
                                                              "xpu": (0, 31, 0)}


def estimated_here(p: VllmParams) -> bool:
    """Whether vLLM's profile on ``p.platform`` runs the CUDA graph estimate (GRAPH_ESTIMATE_PLATFORMS)."""
    first = GRAPH_ESTIMATE_PLATFORMS.get(p.platform)
    return first is not None and p.release >= first


def graph_estimate_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """vLLM's CUDA graph estimate (GRAPH_ESTIMATE): a base plus a rate per layer per captured graph."""
    base, per_layer_graph = GRAPH_ESTIMATE["rocm" if p.platform == "rocm" else "cuda"]
    return base + per_layer_graph * cfg.n_layers * captured_graphs(cfg, p)


# The graphs the engines before 0.21 capture after sizing the cache, outside the budget: one per captured
# batch size (V0: the whole model; V1: the pieces between attention calls, PIECEWISE, and from 0.11 FULL
# graphs too), largest first into one shared pool (``capture_model``, compilation/cuda_graph.py: outputs held
# as weak references), so the pool holds one largest-batch forward's activations (under 0.1 GiB at these
# sizes) and the rest is each graph's own overhead, which grows with the kernels it holds: with the layers.
# Fitted on 39 logs' "Graph capturing finished in N secs, took X GiB" (tests/fixtures/engine_logs/vllm/;
# median error 0.10 GiB, the 0.5 GiB constant's 0.29): per layer per captured size, dense and MoE layers.
GRAPH_BYTES_PER_LAYER_SIZE = {False: round(0.23 * MiB), True: round(0.40 * MiB)}  # keyed by cfg.is_moe
# the batch sizes captured (vllm/config.py _set_cudagraph_sizes): V0 [1, 2, 4] + 8..8192 by 8 up to
# max_num_seqs padded up; V1 of 0.10 to 0.11.0 [1, 2, 4] + 8.. by 8 up to min(2 × max_num_seqs, 512,
# max_num_batched_tokens) (cuda_graph_sizes; 0.8-0.9: up to 512); from 0.11.x [1, 2, 4] + 8..248 by 8 +
# 256.. by 16 up to the same bound, FULL graphs for the sizes up to max_num_seqs (from 0.11.0).
# --max-cudagraph-capture-size sets the bound, and from 0.11.x so does gpt-oss's model config outright
# (models/config.py "Overriding max cuda graph capture size to 1024")
V0_CAPTURE_SIZES = (1, 2, 4, *range(8, 8193, 8))
PIECEWISE_ONLY = frozenset({"v1-0.9", "v1-0.8"})
MAX_CAPTURE_SIZE = {"gpt_oss": 1024}  # by family; 512 otherwise
MAX_TOKENS_CAPTURED_RELEASE = (0, 21, 0)
# From 0.28 a data-centre Blackwell GPU (capability family 10.x: B200, GB200, B300) captures up to 1024 by
# default (config/vllm.py: ``1024 if current_platform.is_device_capability_family(100) else 512``)
BLACKWELL_CAPTURE_RELEASE = (0, 28, 0)


def captured_graphs(cfg: ArchConfig, p: VllmParams) -> int:
    """How many CUDA graphs the engine captures (PIECEWISE + FULL; V0's whole-model ones)."""
    if p.engine in V0_FAMILIES:
        top = next((s for s in V0_CAPTURE_SIZES if s >= p.max_num_seqs), V0_CAPTURE_SIZES[-1])
        return sum(s <= top for s in V0_CAPTURE_SIZES)
    early = p.engine in PIECEWISE_ONLY or p.engine == "v1-0.11"
    # with speculative decoding a decode step of a request holds 1 + num_speculative_tokens tokens
    # (speculative.py CAPTURE_BOUND_RELEASE)
    query = 1 + (p.speculative_tokens if p.release >= CAPTURE_BOUND_RELEASE else 0)
    blackwell = p.release >= BLACKWELL_CAPTURE_RELEASE and (capability(p.gpu_name) or 0) // 10 == 10
    default = 512 if p.engine == "v1-0.8" else min(2 * p.max_num_seqs * query, 1024 if blackwell else 512)
    # the model's own bound (gpt-oss) came with max_cudagraph_capture_size, after 0.11.0
    model_bound = None if early else MAX_CAPTURE_SIZE.get(cfg.family)
    top = min(p.max_capture_size or model_bound or default, p.max_num_batched_tokens)
    if early:
        piecewise = [s for s in (1, 2, 4, *range(8, top + 1, 8)) if s <= top]
    else:
        # --performance-mode interactivity captures every size from 1 to 32 (config/vllm.py, 0.17 on)
        small = range(1, min(top, 32) + 1) if p.performance_mode == "interactivity" else (1, 2, 4)
        sizes = {*(s for s in small if s <= top), *range(8, min(top + 1, 256), 8), *range(256, top + 1, 16)}
        # from 0.21 max_num_batched_tokens itself where it is within the bound ("ensure max_num_tokens is
        # captured")
        if p.release >= MAX_TOKENS_CAPTURED_RELEASE and p.max_num_batched_tokens <= top:
            sizes.add(p.max_num_batched_tokens)
        piecewise = sorted(sizes)
    # FULL graphs for the uniform decode batches: from one request to max_num_seqs requests of 1 + k
    # tokens each (v1/cudagraph_dispatcher.py: uniform_decode_query_len <= x <= that × max_num_seqs)
    full = 0 if p.engine in PIECEWISE_ONLY else sum(query <= s <= p.max_num_seqs * query for s in piecewise)
    return len(piecewise) + full


def captured_graph_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """The graphs captured after the cache is sized, outside the budget (see above): every family but the
    one whose profile takes the estimate in (``cuda_graph_bytes``); 0 with --enforce-eager."""
    if not p.cuda_graphs or cuda_graph_bytes(cfg, p):
        return 0
    return capture_bytes(cfg, p)


def capture_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """The graph pool as captured after the cache is sized: GRAPH_BYTES_PER_LAYER_SIZE on CUDA; on ROCm the
    estimate's own rule (GRAPH_ESTIMATE), which HIP's captures follow: the eight MI300X logs capture within
    2 % of their estimates, and Gemma 3 4B under 0.23 (vllm/orbit-*, graphs after the cache) took 3.74 GiB
    for 34 layers × 102 graphs, 3.79 by the rule, where CUDA's per-layer rule gives 0.78."""
    if p.platform == "rocm":
        return graph_estimate_bytes(cfg, p)
    return GRAPH_BYTES_PER_LAYER_SIZE[cfg.is_moe] * cfg.n_layers * captured_graphs(cfg, p)


def outside_bytes(cfg: ArchConfig, p: VllmParams) -> int:
    """Per GPU, outside the reservation: the CUDA context (unless counted inside), NCCL with tensor
    parallelism, and the graphs of the engines that capture them after sizing the cache."""
    nccl = 0 if nccl_inside(p) else nccl_bytes(p) - nccl_profile_bytes(p)
    return (0 if context_inside(p) else CUDA_CONTEXT_BYTES) + nccl + captured_graph_bytes(cfg, p)
