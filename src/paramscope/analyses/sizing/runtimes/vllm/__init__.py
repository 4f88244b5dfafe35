"""vLLM (V1 engine): what `vllm serve` takes on each GPU, in the order the engine sizes it.

At start-up every worker (one per GPU with tensor parallelism) does, in vllm/v1/worker/gpu_worker.py:

1. ``init_device``: creates the CUDA context and NCCL, *then* snapshots free memory and sets
   ``requested_memory = total_memory × gpu_memory_utilization``. The context is outside that budget.
2. ``load_model``: the weights (this GPU's shard) plus the RoPE cos/sin cache (rotary_embedding).
3. ``determine_available_memory``: ``profile_run`` pushes one batch of ``max_num_batched_tokens`` tokens
   through the model and the sampler; ``memory_profiling`` (vllm/utils/mem_utils.py) records torch's peak
   increase and the non-torch increase; since v0.21 the CUDA graph memory is estimated there too
   (``VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS``, on by default). The KV cache gets the rest:
   ``available = requested_memory − weights − activation peak − non-torch − CUDA graphs``.
4. vllm/v1/core/kv_cache_utils.py turns that into blocks: ``num_blocks = available // page // group_size``
   and logs "GPU KV cache size: N tokens" and "Maximum concurrency for X tokens per request: Y x".

Exact here: the weights shard and RoPE cache, the KV page and block arithmetic (kv_cache_interface.py,
kv_cache_utils.py; hybrid attention / linear-attention models' shared page size, as 0.10.2 sets it), the
budget subtraction. Estimated: the activation peak (a formula over the profile
run's tensors), the non-torch increase, the CUDA graph pool and the CUDA context (documented constants).
docs/runtimes.md gives every formula with its source and the worked numbers.
"""
