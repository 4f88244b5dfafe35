"""``VllmMemory``: one GPU's (or one pipeline stage's) figures, in the order the engine sizes them."""

from __future__ import annotations

from paramscope.analyses.sizing.kv_cache import KVCache
from paramscope.analyses.sizing.runtimes.vllm.engine import VllmParams
from paramscope.analyses.sizing.runtimes.vllm.kv import KVLayout, KVPool
from paramscope.analyses.sizing.runtimes.weight_offload import CpuOffload
from paramscope.records import record


@record
class VllmMemory:
    """One GPU's share (each of ``tensor_parallel`` GPUs takes the same)."""

    params: VllmParams
    model_bytes: int  # weights shard + RoPE cache
    kv: KVCache  # the cache ``batch`` requests of ``context`` tokens need, in whole blocks
    kv_padding_bytes: int  # padding layers of hybrid groups
    activation_bytes: int
    cuda_graph_bytes: int
    non_torch_bytes: int
    cuda_context_bytes: int
    layout: KVLayout
    pool: KVPool | None  # None without a GPU size
    explain: tuple[str, ...]
    # pipeline parallelism: which stage this is, its layers [start, end), and every stage (this one is
    # the worst: the fewest KV blocks of its own on a given GPU, else the most memory needed)
    stage: int = 0
    layers: tuple[int, int] = (0, 0)
    stages: tuple[VllmMemory, ...] = ()
    own_blocks: int | None = None  # the blocks this stage's memory holds, before the engine's minimum
    offload: CpuOffload | None = None  # --cpu-offload-gb: the parameters moved to host memory
    captured_graph_bytes: int = 0  # the CUDA graphs captured after the cache is sized (in cuda_context_bytes)

    @property
    def weights_bytes(self) -> int:
        return self.model_bytes

    @property
    def kv_needed_bytes(self) -> int:
        return self.kv.total_bytes + self.kv_padding_bytes

    @property
    def kv_cache_bytes(self) -> int:
        """The pool vLLM allocates on the given GPU, else what the requests need."""
        return self.pool.pool_bytes if self.pool else self.kv_needed_bytes

    @property
    def compute_bytes(self) -> int:
        return self.activation_bytes + self.cuda_graph_bytes

    @property
    def overhead_bytes(self) -> int:
        return self.non_torch_bytes + self.cuda_context_bytes

    @property
    def shortfall_bytes(self) -> int:
        """How much more memory the reservation needs to hold ``batch`` requests of ``context`` tokens
        (0 when it holds them): the blocks missing, or the negative memory left for the cache, plus the
        blocks the requests need."""
        if self.pool is None:
            return 0
        need = self.params.batch * self.layout.blocks_per_request * self.layout.block_bytes
        have = max(self.pool.available_bytes, 0) // self.layout.block_bytes * self.layout.block_bytes
        return max(need - have, 0) + max(-self.pool.available_bytes, 0) + self.over_gpu_bytes

    @property
    def over_gpu_bytes(self) -> int:
        """With --kv-cache-memory-bytes: how far the worker's memory passes the GPU's (0 otherwise)."""
        gpu = self.params.gpu_memory_bytes
        if self.pool is None or self.params.kv_cache_memory_bytes is None or gpu is None:
            return 0
        return max(self.total_bytes - gpu, 0)

    @property
    def needed_bytes(self) -> int:
        """The least a GPU must offer to serve ``batch`` × ``context`` (weights, cache, buffers)."""
        return self.weights_bytes + self.kv_needed_bytes + self.compute_bytes + self.overhead_bytes

    @property
    def total_bytes(self) -> int:
        """What to budget: on a given GPU vLLM takes its whole reservation, plus the CUDA context."""
        if self.pool:
            return self.pool.reserved_bytes + self.cuda_context_bytes
        return self.needed_bytes

    @property
    def fits(self) -> bool:
        """Whether vLLM starts and serves ``batch`` requests of ``context`` tokens at once."""
        if self.pool is None:
            return True
        if self.over_gpu_bytes:
            return False  # the cache asked for does not fit beside the rest: its allocation fails
        return self.pool.num_blocks >= self.params.batch * self.layout.blocks_per_request
