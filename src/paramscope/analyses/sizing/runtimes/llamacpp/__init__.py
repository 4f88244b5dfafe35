"""llama.cpp: the memory a context takes, buffer by buffer, as llama.cpp prints it.

Checked against llama-cpp-python 0.3.36 (its vendored llama.cpp), CPU backend, on the Gemma 3 270M GGUF
(bench/bench_llamacpp.py; docs/kv-cache.md records the log lines) and on generated GGUFs of four
architectures (bench/bench_llamacpp_archs.py, recorded in tests/fixtures/llamacpp_archs.json). Source
files named below are under llama.cpp's src/ unless a path says otherwise.

Buffers (all reserved when the context is created, before any token is decoded):

- model: the weights. With mmap, llama.cpp wraps the file region spanning its tensors ("CPU_Mapped");
  weights the CPU backend re-lays out for faster kernels are copied into "CPU_REPACK" (x86 AVX2:
  Q4_0/Q4_K/IQ4_NL/MXFP4 matrices with rows % 8 == 0, ggml-cpu/repack.cpp). Without mmap the CPU buffer
  holds only the tensors that were not repacked.
- KV: analyses/sizing/kv_cache.py with llama.cpp's cells (padding below).
- output: logits (and embeddings) copied out for the caller, n_outputs × n_vocab × 4 B.
- compute: the scheduler's graph buffer for the worst-case ubatch (llama_context::sched_reserve):
  ggml-alloc replayed on llama.cpp's graph (graph.py, ggml_graph.py) where paramscope rebuilds it,
  else a per-phase estimate (``compute_buffer``).

Defaults are those of llama.cpp's command line (common/common.h: n_batch 2048, n_ubatch 512,
swa_full off, flash attention auto). The C library's own defaults differ (llama_context_default_params:
swa_full = true) and so do llama-cpp-python's (Llama(): n_batch 512, flash_attn off, swa_full left at
the library's true).
"""
