"""Compute to train: FLOPs from parameters and tokens, compute-optimal tokens, GPU-hours at an MFU.

- **FLOPs.** Each weight costs 2 FLOPs per token in the forward pass (multiply + add), 2 more in the
  backward pass for the gradient of the activations and 2 for the gradient of the weight itself:
  ``C = 2·N·D + 2·N·D + 2·N·D = 6·N·D`` (Kaplan et al. 2020, §2.1; Hoffmann et al. 2022, §3).
  Frozen weights skip the last term, so LoRA costs ``4·(N + A)·D + 2·A·D`` with A the adapter
  parameters (LoRA §4.2 reports the saving: 25 % faster training of GPT-3 175B). N is the *active*
  parameter count for mixture-of-experts models. Attention-score FLOPs (QKᵀ, AV) are left out, as in
  6·N·D (PaLM's MFU adds 12·L·H·Q·T per token: 3.2 GFLOP for Llama 3.1 8B at 2048 tokens, 6.7 % of
  6·N), and so is recomputation under checkpointing, as in MFU (Chowdhery et al. 2022, §4.1).
- **Compute-optimal tokens.** ``D_opt ≈ 20·N`` (Hoffmann et al. 2022, "Chinchilla", Table 3: 20.2
  tokens per parameter from 400M to 10T parameters). The law was fitted on dense models; for MoE we use
  the active parameters, the same N as in ``C = 6·N·D``.
- **Fine-tuning tokens.** Chinchilla sizes pre-training from scratch; a fine-tuning run's tokens are
  its dataset's, and no law gives them. Without ``tokens``, LoRA and QLoRA assume one epoch over an
  instruction-tuning set of 100,000 examples of 1,000 tokens: 10^8 tokens. Published sets lie within
  a factor of ten or so either side: LIMA 1,000 examples (Zhou et al. 2023, §2), Alpaca 52,002 (Taori
  et al. 2023), Tülu 3's SFT mix 939,344 (Lambert et al. 2024, Table 7). The figure is an assumption and
  is always printed as one; give ``--tokens`` for a real dataset.
- **Time.** ``GPU-hours = C / (peak FLOP/s × MFU) / 3600``; wall-clock days = GPU-hours / GPUs / 24.
  MFU (model FLOPs utilisation) 0.4 is a typical well-tuned dense bf16 run: PaLM 540B reached 46.2 %
  (Chowdhery et al. 2022, Table 3), Megatron's 530B 54.2 % (Korthikanti et al. 2022, abstract), Llama 3
  405B 38–43 % (Dubey et al. 2024, Table 4); small fine-tuning jobs on one GPU often reach less.
"""

from __future__ import annotations

FLOPS_FORWARD = 2  # FLOP per weight per token: one multiply, one add
FLOPS_BACKWARD_INPUT = 2  # gradient of the layer's input
FLOPS_BACKWARD_WEIGHT = 2  # gradient of the weight: only for trainable weights
CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022, Table 3
FINETUNE_EXAMPLES = 100_000  # an assumed instruction-tuning set (module docstring)
FINETUNE_TOKENS_PER_EXAMPLE = 1_000
DEFAULT_FINETUNE_TOKENS = FINETUNE_EXAMPLES * FINETUNE_TOKENS_PER_EXAMPLE  # one epoch: 10^8 tokens
# Where the tokens of an estimate come from, as printed and in --json ("tokens_basis")
GIVEN, COMPUTE_OPTIMAL, FINETUNE_DEFAULT = "given", "compute-optimal", "fine-tuning default"
TOKENS_BASIS = {
    GIVEN: "given",
    COMPUTE_OPTIMAL: "compute-optimal for pre-training from scratch: 20 × params (Chinchilla); "
                     "give --tokens for a fine-tuning run",
    FINETUNE_DEFAULT: f"assumed fine-tuning set: {FINETUNE_EXAMPLES:,} examples × "
                      f"{FINETUNE_TOKENS_PER_EXAMPLE:,} tokens, 1 epoch; give --tokens for yours",
}
DEFAULT_MFU = 0.4
SECONDS_PER_HOUR = 3600
HOURS_PER_DAY = 24


def training_flops(forward_params: int, trainable_params: int, tokens: int) -> int:
    """``(2 + 2)·N_fwd·D + 2·N_train·D``; equals ``6·N·D`` when every weight is trained."""
    return ((FLOPS_FORWARD + FLOPS_BACKWARD_INPUT) * forward_params
            + FLOPS_BACKWARD_WEIGHT * trainable_params) * tokens


def optimal_tokens(params: int) -> int:
    """Chinchilla's compute-optimal training tokens for ``params`` parameters: 20·N."""
    return CHINCHILLA_TOKENS_PER_PARAM * params


def gpu_hours(flops: int, device_flops: float, mfu: float = DEFAULT_MFU) -> float:
    """GPU-hours to run ``flops`` at ``mfu`` of a GPU's peak dense bf16 FLOP/s."""
    return flops / (device_flops * mfu) / SECONDS_PER_HOUR


def wall_days(hours: float, gpus: int) -> float:
    return hours / gpus / HOURS_PER_DAY
