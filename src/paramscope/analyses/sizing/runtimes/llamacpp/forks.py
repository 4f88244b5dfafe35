"""Forks of llama.cpp whose buffers differ from mainline's in ways the build families (params.py BUILDS)
do not say: one row per fork, what it changes, where that was read.

ik_llama.cpp's builds of 2025 (3671 to 3933 in the reference set; the fork's own build numbers, printed
``build=N commit=...``) differ from mainline in four ways that change a printed buffer:

- its KV cache holds every block of the GGUF, a GLM-4.5's MTP block too: ``llama_kv_cache_init`` loops
  ``for (int i = 0; i < (int) n_layer; i++)`` over ``hparams.n_layer``, the block count, until its PR
  843 ("Do not allocate KV cache for unused layers", October 20, 2025) took the nextn layers off; the
  block's weights are skipped as mainline skips them (TENSOR_SKIP: "model has unused tensor blk.46..."),
  except on the GLM-4.5 port's own branch (PR 668, August 1, 2025), which loaded them (r53l-ik668-*).
  GLM-4.5-Air's logs of builds 3829-3874 cache 47 layers (llamacpp/r32l-glm45-air-*), GLM-4.5's and
  GLM-4.6's of 3899 and 3901 93 (r53l-ik809-*, r51l-ik816-*);
- its llama-server adds a sequence for the system prompt (``params.n_parallel += 1`` in ``load_model``,
  the code mainline removed in October 2024), so the context reserves -np + 1 rows of logits: 1.16 MiB
  for a 151,552-token vocabulary at -np 1 (r32l-*, ik866-*, r34l-ik398-*), 1.73 MiB at -np 2
  (r53l-ik809-*), where its llama-cli and llama-imatrix keep one (ik539-*, ik641-*, r53l-ik668-*);
- its CUDA flash attention keeps no f16 copies of a quantized cache (mainline's came with b9489);
- it runs the products of experts kept in host memory on the CPU, where mainline's CUDA, ROCm, Vulkan and
  SYCL backends copy a stack in for a large batch (its CUDA0 compute buffer 144 MiB against mainline's 774
  for the same -ot split, r37l-*-2x3090-*).

Its other rules are mainline's of mid-2025 (the "legacy" build family: one unified cache, KV padded to 256
with flash attention and to 32 without, -ngl placing the output layer last), which the fork takes unless
--llamacpp-build names another family.
"""

from __future__ import annotations

from paramscope.errors import UnsupportedError
from paramscope.records import record


@record
class Fork:
    """What one fork of llama.cpp does unlike mainline."""

    name: str
    summary: str
    caches_mtp_blocks: bool = False  # a KV cache for a GGUF's MTP blocks (kv.py block_count) as well
    server_extra_rows: int = 0  # rows of logits its llama-server reserves beyond one per sequence
    f16_kv_copies: bool = True  # may keep f16 copies of a quantized cache (else never: memory.py)
    expert_op_offload: bool = True  # a GPU backend copies host experts in for a batch (offload.py)
    build: str = ""  # the build family (params.py BUILDS) whose other rules it follows, unless one is named


FORKS: dict[str, Fork] = {f.name: f for f in (
    Fork("mainline", "ggml-org/llama.cpp"),
    Fork("ik-2025", "ik_llama.cpp's llama-server of 2025 (before its PR 843, October 2025)",
         caches_mtp_blocks=True, server_extra_rows=1, f16_kv_copies=False, expert_op_offload=False,
         build="legacy"),
)}


def fork(name: str) -> Fork:
    """The fork called ``name``; a one-line error naming the known ones otherwise."""
    found = FORKS.get(name)
    if found is None:
        raise UnsupportedError(f"unknown llama.cpp fork {name!r} (known: {', '.join(FORKS)})")
    return found
