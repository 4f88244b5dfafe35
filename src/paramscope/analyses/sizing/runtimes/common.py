"""Facts several engines share: the CUDA context PyTorch creates, the widest MLP's activations."""

from __future__ import annotations

from paramscope.model import ArchConfig

MiB, GiB = 1 << 20, 1 << 30

# A CUDA context with PyTorch's kernels loaded lazily (CUDA ≥ 11.7 lazy module loading): what nvidia-smi
# shows for a process that has only called torch.cuda.init() on an H100, roughly. An estimate.
CUDA_CONTEXT_BYTES = 512 * MiB
# NCCL and custom all-reduce buffers per GPU with tensor parallelism. PR #10511's log
# (tests/fixtures/engine_logs/vllm/10511-*): 1.79 GiB of memory outside torch at TP 1, 3.58 GiB at TP 2 on
# an 80 GB GPU: 1.79 GiB more per GPU once NCCL runs. Taken as the same at every TP size (no log at TP 4
# or 8 separates it); SGLang's Qwen3-235B-A22B-FP8 pool at TP 4 (sglang/21348-*) agrees within 0.2 %.
NCCL_BYTES = 1833 * MiB
# The same between GPUs that talk over PCIe only (hardware.Device.nvlink False): NCCL opens few channels
# there, without the LL128 protocol or NVLink SHARP (NVLS) buffers it sets up over NVLink / NVSwitch, and
# vLLM's custom all-reduce is off for more than two PCIe-only GPUs (custom_all_reduce.py: "not supported on
# more than two PCIe-only GPUs"; its buffers are 8 MiB each anyway). An estimate that both PCIe logs
# admit (tests/fixtures/engine_logs/vllm/): vLLM 0.8.5 on four A10s (17469-*) leaves room for at most
# 0.93 GiB per GPU (0.43 once the CUDA context is counted, as that release's whole-device non-torch measure
# did, before PR #19312), and 0.5.x on two T4s (5248-*) needs at least 0.21 GiB besides its modelled terms
# (its whole-device peak also holds the caching allocator's slack, not modelled).
NCCL_PCIE_BYTES = 300 * MiB


def routed_ffn_width(cfg: ArchConfig) -> int:
    """Intermediate values per token in the widest MLP: the dense FFN, or the experts a token is routed to
    (fused / grouped expert kernels hold all of them at once)."""
    return max(cfg.ffn_size, cfg.n_experts_per_token * cfg.expert_ffn_size)
