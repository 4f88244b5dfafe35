"""llama.cpp --n-cpu-moe (runtimes/llamacpp/offload.py): the first N layers' MoE experts stay in host
memory, and a CUDA GPU copies one expert stack in to run a large batch's product (op offload); checked on
Qwen3-235B-A22B Q8_0 on an RTX A6000 (1024 MiB printed: one 816 MiB stack beside what its split holds
live)."""

from __future__ import annotations

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes.llamacpp.compute import ComputeBuffer
from paramscope.analyses.sizing.runtimes.llamacpp.offload import (
    OP_OFFLOAD_MIN_BATCH,
    Offload,
    gpu_compute_with_host_experts,
    layer_split,
)
from paramscope.errors import UnsupportedError

MIB = 2**20


def test_the_experts_of_the_first_layers_stay_in_host_memory():
    model = paramscope.open_model("qwen3-30b-a3b")
    split = layer_split(model)
    assert len(split.experts_by_layer) == 48
    # one projection of 128 experts: 768 × 2048 × 2 B each, bf16
    assert split.stack_by_layer[0] == 128 * 768 * 2048 * 2
    assert split.experts_by_layer[0] == 3 * split.stack_by_layer[0]
    base = paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", gpu="rtx-4090", context=8192).estimate
    moe = paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", gpu="rtx-4090", context=8192,
                          n_cpu_moe=24).estimate
    held = sum(split.experts_by_layer[il] for il in range(24))
    assert moe.weights_bytes == base.weights_bytes
    assert moe.per_device[0].weights_bytes == base.per_device[0].weights_bytes - held
    assert any(f"--n-cpu-moe 24: {held:,} B of MoE experts" in n for n in moe.notes)
    # the KV cache stays with its layers, on the GPU
    assert moe.per_device[0].kv_cache_bytes == base.per_device[0].kv_cache_bytes


def test_a_dense_model_has_no_experts_to_keep():
    with pytest.raises(UnsupportedError, match="no experts"):
        paramscope.size("qwen3-8b", runtime="llama.cpp", gpu="rtx-4090", context=8192, n_cpu_moe=4)


def test_the_gpu_copies_one_stack_in_for_a_batch():
    compute = ComputeBuffer(logits_phase=round(304.8 * MIB), attention_phase=168 * MIB, explain=(),
                            ffn_phase=48 * MIB, moe_split_bytes=208 * MIB)
    split = Offload(99, 0, True, 0, 0, 0, host_expert_bytes=1, host_expert_stack_bytes=816 * MIB)
    total, why = gpu_compute_with_host_experts(compute, split, 512)
    assert total == 1024 * MIB and "op offload" in why
    # below the op-offload batch, or a backend that runs them on the CPU: the graph's own
    assert gpu_compute_with_host_experts(compute, split, OP_OFFLOAD_MIN_BATCH - 1)[0] == compute.total_bytes
    assert gpu_compute_with_host_experts(compute, split, 512, offloads_ops=False)[0] == compute.total_bytes


def test_the_split_holds_the_inputs_and_the_moe_activations():
    """What one expert product's split holds live beside the copied stack: the masks and the layer's MoE
    activations (input and residual, gate, up and their product, the experts' outputs)."""
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory

    cfg = paramscope.open_model("qwen3-30b-a3b").config  # 2048 wide, 8 of 128 experts of 768
    m = llamacpp_memory(cfg, 0, n_ctx=32768, n_ubatch=512, flash_attn=True)
    masks = 32768 * 512 * 2  # f16 under flash attention
    acts = 512 * (2 * 2048 + 3 * 8 * 768 + 8 * 2048) * 4
    assert m.compute.moe_split_bytes == masks + acts
    dense = llamacpp_memory(paramscope.open_model("qwen3-8b").config, 0, n_ctx=32768, n_ubatch=512)
    assert dense.compute.moe_split_bytes == 0


def test_a_named_split_with_host_experts_is_refused():
    with pytest.raises(UnsupportedError, match="not modelled"):
        paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", gpu="rtx-4090x2", context=8192, n_cpu_moe=24,
                        split_mode="layer")


def test_the_command_line_decides_which_experts_stay_on_the_host():
    """-ot lists are read as llama.cpp reads them: comma-separated, the first matching pattern decides."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "tools"))
    from engine_log_compare import record_cpu_expert_layers

    class Log:
        def __init__(self, log: str) -> None:
            self.log = log

    assert record_cpu_expert_layers(Log("llama-server --n-cpu-moe 3"), 8) == {0, 1, 2}
    assert record_cpu_expert_layers(Log("llama-server --cpu-moe"), 4) == {0, 1, 2, 3}
    first_wins = Log(r'llama-server -ot "blk\.(0|1)\.ffn.*=CUDA0,blk\.[0-9]\.ffn.*=CPU"')
    assert record_cpu_expert_layers(first_wins, 4) == {2, 3}
    assert record_cpu_expert_layers(Log("llama-server -ot exps=CPU"), 3) == {0, 1, 2}


def test_fit_finds_the_host_experts_itself():
    with pytest.raises(paramscope.errors.UsageError, match="leave --n-cpu-moe out"):
        paramscope.fit("qwen3-30b-a3b", gpu="rtx-4090", ram="64GiB", n_cpu_moe=20)


def test_without_a_gpu_or_with_dense_leading_layers_nothing_moves():
    cpu = paramscope.size("qwen3-30b-a3b", runtime="llama.cpp", context=8192, n_cpu_moe=8).estimate
    assert any("--n-cpu-moe changes nothing here" in n for n in cpu.notes)
    v3 = paramscope.size("deepseek-v3", runtime="llama.cpp", gpu="h100x8", context=4096, n_cpu_moe=3,
                         weights="q4_k_m").estimate
    assert any("hold no routed experts on the GPU" in n for n in v3.notes)
