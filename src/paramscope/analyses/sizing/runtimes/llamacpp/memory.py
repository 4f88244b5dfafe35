"""``llamacpp_memory``: one context's buffers as llama.cpp prints them (model, CPU_REPACK, KV, output,
compute) and the lines ``size --explain`` prints for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from paramscope.analyses.sizing.kv_cache import (
    KVCache,
    encoder_cells,
    encoder_width,
    layer_kinds,
)
from paramscope.analyses.sizing.runtimes.llamacpp.compute import ComputeBuffer, compute_buffer, output_buffer
from paramscope.analyses.sizing.runtimes.llamacpp.flash_attention import (
    FORCED_OFF_ARCHS,
    FlashAttnChoice,
    resolve_auto,
)
from paramscope.analyses.sizing.runtimes.llamacpp.forks import fork as fork_rules
from paramscope.analyses.sizing.runtimes.llamacpp.kv import (
    as_llamacpp_loads,
    block_count,
    check_cache_types,
    encoder_only,
    encoder_output_bytes,
    llamacpp_kv_cache,
    v_padded,
)
from paramscope.analyses.sizing.runtimes.llamacpp.params import (
    F16_KV_COPY_BUILDS,
    KV_PAD,
    LEGACY_BUILDS,
    LEGACY_KV_PAD_NO_FA,
    NO_POOLED_OUTPUT_BUILDS,
    TENSOR_ALIGNMENT,
    LlamaCppParams,
    pad,
    resolve_params,
)
from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig, Tensor
from paramscope.model.dtypes import DType
from paramscope.records import record, replace

F32, F16, I32, I64 = 4, 2, 4, 8  # bytes of the graph's element types

MIB = 1024 * 1024
# What a Python process running llama-cpp-python holds besides llama.cpp's buffers, measured by
# bench/bench_llamacpp.py (RSS after `import llama_cpp`: interpreter, numpy, libllama/libggml).
LLAMA_CPP_PYTHON_BASE_BYTES = 40 * MIB
# Heap llama.cpp keeps per vocabulary entry once a model is loaded: the GGUF tokenizer arrays plus
# llama_vocab's token_data and token_to_id map (llama-vocab.cpp). Measured: +42.0 MiB anonymous memory
# loading Gemma 3 270M (262,144 tokens) = 168 B per token.
VOCAB_BYTES_PER_TOKEN = 168

# ggml-cpu/repack.cpp, ggml_repack_get_optimal_repack_type: the types each instruction set repacks, and
# the row count (ggml ne[1]) they must divide. AMX (ggml-cpu/amx) has its own layout and is not modelled.
CPU_REPACK_RULES: dict[str, dict[DType, int]] = {
    "none": {},
    "x86-avx2": {DType.Q4_0: 8, DType.Q4_K: 8, DType.IQ4_NL: 8, DType.MXFP4: 8},
    "x86-avx512": {DType.Q4_0: 8, DType.Q4_K: 8, DType.IQ4_NL: 8, DType.MXFP4: 8, DType.Q2_K: 8},
    "arm-i8mm": {DType.Q4_0: 4, DType.Q4_K: 8, DType.Q5_K: 8, DType.Q6_K: 8, DType.IQ4_NL: 4,
                 DType.MXFP4: 4, DType.Q8_0: 4, DType.Q1_0: 4},
}
# The first llama.cpp builds that repack a type on ARM (the rest of each instruction set's types were
# there by early 2025): Q4_K with i8mm, PR 16739 (its benchmark build b7070, October 2025); Q8_0, PR 18096
# (merged December 2025, after its benchmark build b7365: taken as b7400); Q5_K and Q6_K, PRs 18860 and
# 18888 (b7845's release notes, January 2026); Q1_0, PR 23492 (opened May 2026, still in review against
# b10907 in September 2026, in b11549: taken as b11000). The dotprod-only CPUs got Q4_K, Q5_K and Q6_K later
# (PRs 17494, 19356, 19360) and are read as i8mm here. A phone's build b7343 repacked its Q4_K matrices
# alone (tests/fixtures/engine_logs/llamacpp/r34l-qvac-*)
ARM_REPACK_FIRST_BUILD: dict[DType, int] = {DType.Q4_K: 7070, DType.Q8_0: 7400, DType.Q5_K: 7845,
                                            DType.Q6_K: 7845, DType.Q1_0: 11000}
# the lookup tables among 2-D tensors (gathered from, never multiplied): Gemma 3n's and Gemma 4's per-layer
# embedding table, besides the token and position embeddings the roles name
LOOKUP_TABLES = ("per_layer_token_embd", "embed_tokens_per_layer")


@record
class LlamaCppMemory:
    """llama.cpp's buffers as it prints them: model, KV cache, output and compute."""

    params: LlamaCppParams
    tensor_bytes: int  # all weights
    repacked_bytes: int  # weights copied into CPU_REPACK
    use_mmap: bool
    kv: KVCache
    compute: ComputeBuffer
    output_bytes: int
    overhead_bytes: int  # process and vocabulary, outside llama.cpp's buffers
    explain: tuple[str, ...]
    # what flash attention "auto" resolved to on the backend (flash_attention.py); None: asked for by name,
    # forced on by a quantized V cache, or a legacy build without "auto"
    flash_attn_choice: FlashAttnChoice | None = None

    @property
    def model_buffer_bytes(self) -> int:
        """What llama.cpp prints as the CPU / CPU_Mapped model buffer (mapped: the whole span)."""
        return self.tensor_bytes if self.use_mmap else self.tensor_bytes - self.repacked_bytes

    @property
    def weights_bytes(self) -> int:
        """Resident weights: the model buffer plus the repacked copies."""
        return self.model_buffer_bytes + self.repacked_bytes

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv.total_bytes

    @property
    def compute_bytes(self) -> int:
        return self.compute.total_bytes

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.output_bytes
                + self.overhead_bytes)


def repack_types(isa: str, build: int | None = None) -> dict[DType, int]:
    """The types ``isa`` repacks, with the rows they must divide, in ``build`` (None: the current one)."""
    try:
        rules = CPU_REPACK_RULES[isa]
    except KeyError:
        raise UnsupportedError(f"unknown CPU instruction set {isa!r} (known: "
                               f"{', '.join(CPU_REPACK_RULES)})") from None
    if build is None or not isa.startswith("arm"):
        return rules
    return {t: rows for t, rows in rules.items() if ARM_REPACK_FIRST_BUILD.get(t, 0) <= build}


def cpu_repack_bytes(tensors: Iterable[Tensor], isa: str = "x86-avx2", build: int | None = None,
                     lm_head: bool = True) -> int:
    """Bytes llama.cpp's CPU backend copies into CPU_REPACK: matrices multiplied by activations
    (2-D weights, 3-D expert stacks; not the token embedding, which is only gathered from), of the types
    ``isa`` repacks in ``build`` (``repack_types``); with ``lm_head`` (a decoder) a tied model's output
    layer too."""
    rules = repack_types(isa, build)
    from paramscope.knowledge.roles import place  # see _split

    def multiplied(t: Tensor) -> bool:
        """A matrix the graph multiplies: 2-D weights but the lookup tables (token, position and per-layer
        embeddings), and the experts' 3-D stacks (MUL_MAT_ID); MLA's 3-D k_b / v_b are batched products
        the repacked kernels do not take."""
        component = place(t.name).component
        if len(t.shape) == 3:
            return component.startswith("experts")
        return len(t.shape) == 2 and not component.startswith("embedding") and not any(
            table in t.name for table in LOOKUP_TABLES)

    def repacked(t: Tensor) -> bool:
        rows = rules.get(t.dtype)
        return rows is not None and multiplied(t) and t.shape[-2] % rows == 0

    tensors = list(tensors)
    total = sum(pad(t.nbytes, TENSOR_ALIGNMENT) for t in tensors if repacked(t))
    # a tied model's output layer is the token embedding loaded a second time (llama-model.cpp: output =
    # token_embd, TENSOR_DUPLICATED), a multiplied matrix in the output's buffer: repacked where its type is
    components = [place(t.name).component for t in tensors]
    if lm_head and "output" not in components:
        embedding = next((t for t, c in zip(tensors, components, strict=True)
                          if c == "embedding" and len(t.shape) == 2), None)
        rows = rules.get(embedding.dtype) if embedding is not None else None
        if embedding is not None and rows is not None and embedding.shape[-2] % rows == 0:
            total += pad(embedding.nbytes, TENSOR_ALIGNMENT)
    return total


def llamacpp_memory(
    cfg: ArchConfig,
    tensor_bytes: int,
    *,
    n_ctx: int,
    n_seq: int = 1,
    n_ubatch: int = 512,
    n_batch: int = 2048,
    swa_full: bool = False,
    kv_unified: bool = False,
    type_k: DType = DType.F16,
    type_v: DType = DType.F16,
    flash_attn: bool | None = None,
    repacked_bytes: int = 0,
    use_mmap: bool = True,
    n_outputs: int | None = None,
    embeddings: bool = False,
    pooled: bool | None = None,
    runtime_base_bytes: int = LLAMA_CPP_PYTHON_BASE_BYTES,
    build: str = "current",
    backend: str = "cpu",
    encoder_length: int | None = None,
    n_outputs_max: int = 0,
    fa_backend: str = "cpu",
    f16_kv_copies: bool | None = None,
    fork: str = "mainline",
    server: bool = True,
) -> LlamaCppMemory:
    """Every buffer of a llama.cpp context on one device (CPU, or all layers on one GPU).

    ``flash_attn`` None is llama.cpp's "auto": on where ``fa_backend`` (flash_attention.py BACKENDS: the
    backend that runs the attention, "cpu" without a GPU) has kernels for the model's heads and cache
    types, else off with the cache made as for on (flash_attention.py); on with a quantized V cache,
    which llama_init_from_model turns it on for; off in a "legacy" ``build``, which had no "auto".
    ``n_outputs`` rows of logits (default: one per sequence, what the context reserves up front).
    ``backend`` "cpu" or "gpu": whether a GPU backend takes part in the graph (``compute_buffer``).
    ``n_outputs_max``: the context's cap on the rows of logits its prompt graph reserves (PR 23861, noted
    at BUILDS; llama-server sets its -np; 0: unset, n_ubatch rows). ``pooled``: with ``embeddings``,
    whether they are pooled (--pooling mean, cls, last, rank; None: an encoder's GGUF pools, a decoder's
    does not), which a legacy build's output buffer follows (``output_buffer``). ``f16_kv_copies``: whether
    the build keeps f16 copies of a quantized cache with CUDA's flash attention (None: by the build family,
    params.py F16_KV_COPY_BUILDS). ``fork``: mainline or a fork whose rules differ (forks.py FORKS);
    ``server``: the context is llama-server's, whose rows of logits a fork's server may add to (False: a
    CLI or library caller's).
    """
    variant = fork_rules(fork)
    if pooled is None:  # an encoder's GGUF names its pooling (CLS, mean); a decoder's is none
        pooled = encoder_only(cfg)
    cfg = as_llamacpp_loads(cfg, build)
    if cfg.architecture in FORCED_OFF_ARCHS or cfg.family in FORCED_OFF_ARCHS:
        flash_attn = False  # llama_init_from_model forces it off before the context is made
    choice = None
    if flash_attn is None and build not in LEGACY_BUILDS and not type_v.info.quantized:
        choice = resolve_auto(cfg, fa_backend, type_k, type_v, build)
    p = resolve_params(cfg, n_ctx=n_ctx, n_seq=n_seq, n_ubatch=n_ubatch, n_batch=n_batch,
                       swa_full=swa_full, kv_unified=kv_unified, flash_attn=flash_attn, build=build,
                       n_outputs_max=n_outputs_max, auto_resolved_off=choice is not None and not choice.on)
    check_cache_types(cfg, type_k, type_v, p.flash_attn)
    if variant.caches_mtp_blocks and (mtp_blocks := block_count(cfg) - cfg.n_layers) > 0:
        p = replace(p, mtp_blocks_cached=mtp_blocks)
    kv = llamacpp_kv_cache(cfg, p, type_k, type_v)
    # CUDA and ROCm keep f16 copies of a quantized K and V with the flash attention result (params.py
    # F16_KV_COPY_BUILDS)
    # F16_KV_COPY_BUILDS; ``f16_kv_copies`` decides it where the build number is known (b9489 on)
    f16_copies = fa_backend in ("cuda", "rocm") and variant.f16_kv_copies and (
        build in F16_KV_COPY_BUILDS if f16_kv_copies is None else f16_kv_copies)
    compute = compute_buffer(cfg, p, kv, type_k, type_v, backend, f16_kv_copies=f16_copies)
    # a fork's llama-server may run more sequences than asked (forks.py): its n_seq_max takes them too
    rows = max(n_outputs or n_seq, n_seq + (variant.server_extra_rows if server else 0))
    output = output_buffer(cfg, n_seq, rows, embeddings, build in NO_POOLED_OUTPUT_BUILDS, pooled)
    overhead = runtime_base_bytes + VOCAB_BYTES_PER_TOKEN * cfg.vocab_size
    encoder = encoder_output_bytes(cfg, p, encoder_length)
    explain = explanation(cfg, p, tensor_bytes, repacked_bytes, kv, compute, (rows, output), overhead)
    if p.mtp_blocks_cached:
        explain += (f"KV cache: {variant.summary} caches the model's {p.mtp_blocks_cached} MTP block(s) too, "
                    f"each as the trunk's last full-attention layer, after its {cfg.n_layers} (forks.py)",)
    if encoder:
        overhead += encoder
        n_enc = encoder_cells(cfg, p.n_ctx_seq, encoder_length)
        explain += (f"encoder output (host, in the overhead): {n_seq} seqs × {n_enc} positions × "
                    f"{encoder_width(cfg)} × 4 B = {encoder:,} B",
                    "cross-attention K/V: not cached (recomputed from the encoder output each step)")
    if choice is not None and not choice.on:
        made = "" if encoder_only(cfg) else "; the cache was made for it on, V untransposed"
        explain = (*explain[:1], f"flash attention auto resolved off: {choice.why} (llama-context.cpp "
                   f"resolve_fused_ops){made}", *explain[1:])
    return LlamaCppMemory(p, tensor_bytes, repacked_bytes, use_mmap, kv, compute, output, overhead,
                          explain, choice)


def explanation(cfg: ArchConfig, p: LlamaCppParams, tensor_bytes: int, repacked: int, kv: KVCache,
             compute: ComputeBuffer, output: tuple[int, int], overhead: int) -> tuple[str, ...]:
    kinds = layer_kinds(cfg)
    seqs = f" × {p.n_seq}" if p.kv_unified else ""
    window = (f"{p.n_ctx_seq} (swa_full)" if p.swa_full else
              f"GGML_PAD(min({p.n_ctx_seq}, {cfg.sliding_window}{seqs} + {p.n_ubatch}), 256) = {p.swa_cells}")
    lines = [
        f"n_ctx = GGML_PAD(n_ctx, {LEGACY_KV_PAD_NO_FA if p.legacy and not p.flash_attn else KV_PAD}) = "
        f"{p.n_ctx}; {p.n_streams} stream(s) of {p.n_ctx_seq} cells; "
        f"n_batch {p.n_batch}, n_ubatch {p.n_ubatch}, flash attention {'on' if p.flash_attn else 'off'}",
        f"weights: {tensor_bytes:,} B" + (f" + {repacked:,} B repacked copies" if repacked else ""),
    ]
    if "sliding" in kinds:
        lines.append(f"sliding-window cells per stream: {window}")
    padded = v_padded(cfg, p)
    if padded:
        lines.append(f"KV: layers differ in width and flash attention is off: every layer's V is padded "
                     f"to the widest, {padded} values (llama-kv-cache.cpp, TAG_V_CACHE_VARIABLE)")
    lines += [f"KV {line}" for line in kv.explain]
    lines += [f"compute {line}" for line in compute.explain]
    rows, output_bytes = output
    lines.append(f"output: {rows} rows × {output_bytes // rows // F32} × 4 B = {output_bytes:,} B"
                 if output_bytes else "output: none reserved (this build family keeps pooled embeddings in a "
                 "map of their own)")
    lines.append(f"overhead: runtime base + {VOCAB_BYTES_PER_TOKEN} B × {cfg.vocab_size} vocab = "
                 f"{overhead:,} B")
    return tuple(lines)
