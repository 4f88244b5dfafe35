"""What training or fine-tuning it takes: memory per GPU (full, LoRA, QLoRA, ZeRO) and compute."""
