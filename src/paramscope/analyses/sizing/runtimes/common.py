"""Facts several engines share: the CUDA context PyTorch creates, the widest MLP's activations."""

from __future__ import annotations

from paramscope.knowledge.hardware import Device
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


# The software stack an engine runs on a device, from its vendor: what the engines' own platform checks
# decide (vLLM's current_platform.is_cuda_alike(): CUDA and ROCm; SGLang's is_cuda(): CUDA alone). A device
# given only by its size (vendor unknown) is taken as an NVIDIA GPU, the common case.
PLATFORM_BY_VENDOR = {"NVIDIA": "cuda", "": "cuda", "AMD": "rocm", "Intel": "xpu", "Apple": "metal"}
CUDA_ALIKE = frozenset({"cuda", "rocm"})


def gpu_platform(device: Device | None) -> str | None:
    """"cuda", "rocm", "xpu", "metal", "cpu" (host memory only) or "other" (a vendor not above); None
    without a device."""
    if device is None:
        return None
    if device.kind == "cpu":
        return "cpu"
    return PLATFORM_BY_VENDOR.get(device.vendor, "other")


def routed_ffn_width(cfg: ArchConfig) -> int:
    """Intermediate values per token in the widest MLP: the dense FFN, or the experts a token is routed to
    (fused / grouped expert kernels hold all of them at once)."""
    return max(cfg.ffn_size, cfg.n_experts_per_token * cfg.expert_ffn_size)


def per_layer_heads(cfg: ArchConfig, key: str) -> tuple[int, ...]:
    """The heads each layer has, from ``cfg.extra[key]`` ("n_heads_per_layer", "n_kv_heads_per_layer":
    GGUF per-layer arrays, Nemotron-NAS, DeciLM-7B, OpenELM) where the config lists them, else ()."""
    values = cfg.extra.get(key)
    if not isinstance(values, tuple | list) or len(values) != cfg.n_layers:
        return ()
    return tuple(int(v) for v in values)


def tensor_parallel_problem(cfg: ArchConfig, tp: int) -> str | None:
    """Why ``tp`` tensor-parallel ranks cannot split the attention heads, or None where they can.

    vllm/config/model.py verify_with_parallel_config: ``num_attention_heads % tp == 0``; each attention
    layer's QKVParallelLinear (model_executor/layers/linear.py) divides its query heads by tp and its KV
    heads by tp when there are at least tp of them, else tp by them (each rank then keeps one replica).
    A model whose layers differ builds one QKVParallelLinear per layer with that layer's heads (vLLM's
    nemotron_nas.py DeciLMDecoderLayer: ``num_attention_heads // n_heads_in_group``), so every
    attending layer must split; layers without heads (no-op attention) build none.
    """
    if cfg.n_heads % tp:
        return f"{cfg.n_heads} attention heads"
    q_layers = per_layer_heads(cfg, "n_heads_per_layer") or (cfg.n_heads,)
    kv_layers = per_layer_heads(cfg, "n_kv_heads_per_layer") or (cfg.n_kv_heads or cfg.n_heads,)
    for q in sorted({q for q in q_layers if q}):
        if q % tp:
            return f"{q} attention heads in a layer"
    for kv in sorted({kv for kv in kv_layers if kv}):
        if (kv % tp if kv >= tp else tp % kv):
            return f"{kv} KV heads" + (" in a layer" if len(set(kv_layers) - {0}) > 1 else "")
    return None


# An engine flag's JSON value (vLLM's --speculative-config, --limit-mm-per-prompt) comes from the command
# line or a web request: bounded in length before it is parsed, and a value nested past the parser's
# recursion limit is refused like any other malformed one
MAX_OPTION_JSON = 4096


def option_json(text: str, flag: str, what: str) -> object:
    """``text`` parsed as JSON for ``flag``, or a one-line UsageError saying it takes ``what``."""
    import json

    from paramscope.errors import UsageError

    if len(text) > MAX_OPTION_JSON:
        raise UsageError(f"{flag}: a value of {len(text):,} characters; it takes {what} (at most "
                         f"{MAX_OPTION_JSON:,})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(f"{flag} takes {what} (found {text[:60]!r})") from None
