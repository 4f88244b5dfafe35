"""What running it takes: weights, KV cache, runtime buffers, devices, offload split and speed."""
