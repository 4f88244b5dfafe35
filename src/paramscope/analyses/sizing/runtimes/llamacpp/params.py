"""llama.cpp's context parameters as its command line resolves them (common/common.h defaults, the build
families whose rules differ, the context padded to 256).
"""

from __future__ import annotations

from paramscope.errors import UnsupportedError
from paramscope.model import ArchConfig
from paramscope.records import record

KV_PAD = 256  # llama-context.cpp: cparams.n_ctx = GGML_PAD(n_ctx, 256); llama-kv-cache-iswa.cpp: SWA too
# Builds of mid-2025 and earlier ("legacy"): llama_kv_cache_unified::get_padding = flash attention ? 256 :
# 32; flash attention off unless asked for; the cache written with ggml_cpy into views (LLAMA_SET_ROWS=0,
# the default until August 2025), so no k_idxs / v_idxs inputs in the graph. Checked on two logs of such
# builds: 70000 → 70016 cells (tests/fixtures/engine_logs/llamacpp/15009-*), 72000 cells kept (11598-*).
LEGACY_KV_PAD_NO_FA = 32
# Builds before llama.cpp PR 13194 ("kv-cache : add SWA support", May 2025), which gave sliding-window
# layers their own cache of the window plus a batch (llama_kv_cache_unified_iswa); until then "the
# llama_kv_cache_unified ... always caching all layers" at the full context (the PR's description), so
# a Gemma 3 or gpt-oss sliding-window layer took n_ctx cells like the others ("legacy-no-swa": the legacy
# rules plus that). Checked on Gemma 3 1B, build 5050, n_ctx 4096: 26 layers x 4096 cells = 104 MiB
# printed (tests/fixtures/engine_logs/llamacpp/tqm-*), where the SWA cache would give 38 MiB.
# llama.cpp PR 18148 ("offload output layer to GPU first", December 2025): -ngl N puts the output layer on
# the GPU first, then the last N − 1 repeating layers (load_tensors: i_gpu_start = max(n_layer + 1 − N, 0));
# builds before it put the last N repeating layers there and the output layer only with N > n_layer
# ("late-2025" and the legacy families). Their logs tell them apart: "offloading output layer to GPU"
# before "offloading N repeating layers" (b8169, b8193, b8586; Ollama's llama-server of 2026), after it or
# not at all (b7057, b7217, b7342, b7445). Qwen3.5-27B, b8586, -ngl 26 of 65: 30 recurrent layers'
# state on the host (93.52 MiB = 30 × 3.117), where the older rule leaves 29.
# llama.cpp b11401 (October 5, 2026; absent from b11393, present in b11434 and b11549): build_inp_embd adds
# a third, "mixed batch", input path for every architecture but six (llm_arch_supports_mixed_batch):
# inp_mixed_tokens and a get_rows of the token embedding, inp_mixed_slots, inp_mixed_embd and a ggml_dup of
# it that a set_rows writes into; ggml_build_forward_select allocates the unselected branches, and the dup,
# which nothing reads, stays allocated. On the CPU backend that enlarges the compute buffer (Llama 3.1 8B
# widths at 8192 cells with flash attention: 266.50 MiB in llama-cpp-python 0.3.36, 298.52 in b11549, as a
# build of it here printed and the replay gives, tests/test_llamacpp_b11549.py); a GPU's buffer keeps
# none of it (host inputs: not measured on a GPU). "current" is b11401 on, "mid-2026" the builds from
# b9410 (below) before it (llama-cpp-python 0.3.36 vendors one of them, b11311 to b11349), "early-2026"
# those from PR 18148 (December 2025) to b9409.
# llama.cpp PR 23764 (b9410, May 29, 2026: "use f16 mask for FA to save VRAM") reserves the KQ mask in f16
# under flash attention; the builds before it reserved it in f32 and cast it to f16 in the graph, both in
# the compute buffer (graph.py ``mask``, compute.py). Ollama's llama.cpp runner of 2026 (0.17.0) printed
# 108.01 MiB of Metal compute buffer for Phi-3-mini at 32,768 cells (replayed: 108.01, 92.01 with an f16
# mask alone), a Llama 3.2 3B one 408.01 MiB of ROCm buffer at 131,072 (408.01, 256.5); b9849 logs keep
# the f16 mask alone (Qwen3.5-9B on Vulkan: 416.16 MiB printed, 416.06 replayed).
BUILDS = ("current", "mid-2026", "early-2026", "late-2025", "legacy", "legacy-no-swa")
F32_MASK_BUILDS = frozenset({"early-2026", "late-2025", "legacy", "legacy-no-swa"})
MIXED_BATCH_BUILDS = frozenset({"current"})
# the families with llama-server's n_outputs_max (PR 23861, June 2026)
OUTPUTS_MAX_BUILDS = frozenset({"current", "mid-2026"})
# llama.cpp PR 23861 ("llama: limit max outputs of llama_context", June 2026): the context reserves its
# prompt graph with min(n_ubatch, n_outputs_max) rows of logits, and llama-server sets n_outputs_max to its
# -np (its log: "n_outputs_max = 1"); a library caller that leaves it unset keeps n_ubatch rows. Llama 3.1
# 8B Q4_0 at 32768 cells, -ub 512, one sequence: the server's fit dry run printed 140 MiB of CUDA compute
# buffer, the graph replayed with one output row 140.01 (with 512: 258.5)
# llama.cpp PR 23907 ("cuda: reserve space for quantize kv-cache at startup", b9489, June 3, 2026): CUDA's
# and ROCm's flash attention result is allocated with f16 copies of a quantized K and V beside it
# (ggml_graph.py flash_attn_f16_extra), in the compute buffer; the families from mid-2026 (whose first
# builds, b9410 to b9488, predate it). A b10240 log on an RTX 5090 (Qwen2.5-7B, 16,384 cells of q8_0):
# 148.09 MiB of CUDA0 compute buffer printed, 148.09 replayed with the copies, 141.09 without
F16_KV_COPY_BUILDS = frozenset({"current", "mid-2026"})
F16_KV_COPY_FIRST_BUILD = 9489
LEGACY_BUILDS = frozenset({"legacy", "legacy-no-swa"})
OUTPUT_LAST_BUILDS = frozenset({"late-2025", *LEGACY_BUILDS})
# the families within PR #12801 (April 2025) to PR #19067 (January 2026), whose MLA cache keeps a V row of
# kv_lora_rank beside the latent (kv.py with_mla_v_cache): "legacy-no-swa" too, which reaches May 2025
# (b5331's DeepSeek-V3 log is one); a build before the MLA rewrite runs an MLA GGUF it cannot read as MLA
# at all. The "early-2026" family's first weeks (mid-December 2025 to January 24, 2026) had the row as well:
# not told apart here (the engine-log comparison does it by build number)
MLA_V_CACHE_BUILDS = frozenset({"late-2025", *LEGACY_BUILDS})
# the families whose output buffer holds nothing for pooled embeddings (compute.py output_buffer): seen on
# b4410 and b5618 (June 2025); an Ollama runner of 2026 holds logits and embeddings for BGE-M3 (250,002 +
# 1,024 floats a row); which build of the second half of 2025 changed it is not known
NO_POOLED_OUTPUT_BUILDS = frozenset({"late-2025", *LEGACY_BUILDS})
TENSOR_ALIGNMENT = 32  # ggml/src/ggml-impl.h: every tensor in a CPU buffer starts on 32 B


@record
class LlamaCppParams:
    """Context parameters after llama_context's constructor has resolved and padded them."""

    n_ctx: int  # padded to 256, and to a multiple of n_seq when each sequence has its own stream
    n_ctx_seq: int  # cells per stream in full-attention layers
    n_seq: int
    n_streams: int  # 1 with a unified cache, else n_seq
    n_batch: int
    n_ubatch: int
    swa_cells: int  # cells per stream in sliding-window layers
    swa_full: bool
    kv_unified: bool
    flash_attn: bool
    n_tokens: int = 0  # tokens of the reserved graph: n_ubatch rounded up to a multiple of n_seq
    legacy: bool = False  # a build of mid-2025 or earlier (BUILDS)
    mixed_batch: bool = False  # the graph's third input path (MIXED_BATCH_BUILDS)
    # the graph allocates an embeddings input beside the token ids whatever the batch holds (see
    # compute_buffer); builds before PR 13194 (May 2025) made one of the two
    embd_input: bool = True
    # rows of logits in the reserved prompt graph: n_ubatch, or fewer where the context's n_outputs_max says
    # so (``resolve_params``); 0: n_ubatch
    n_outputs: int = 0
    f32_mask: bool = False  # the KQ mask reserved in f32 and cast for flash attention (F32_MASK_BUILDS)
    # V stored transposed: without flash attention, unless "auto" made the cache with it on and then
    # resolved it off (flash_attention.py); None: not flash_attn
    v_trans: bool | None = None
    # a GGUF's MTP blocks cached beside the trunk's layers, as full-attention layers (forks.py: ik_llama.cpp
    # of 2025); mainline caches the trunk alone
    mtp_blocks_cached: int = 0

    @property
    def v_transposed(self) -> bool:
        return not self.flash_attn if self.v_trans is None else self.v_trans


def pad(x: int, n: int) -> int:
    """GGML_PAD: round ``x`` up to a multiple of ``n``."""
    return (x + n - 1) // n * n


def resolve_params(
    cfg: ArchConfig, *, n_ctx: int, n_seq: int, n_ubatch: int, n_batch: int, swa_full: bool,
    kv_unified: bool, flash_attn: bool | None, build: str = "current", n_outputs_max: int = 0,
    auto_resolved_off: bool = False,
) -> LlamaCppParams:
    """llama_context::llama_context and llama_kv_cache_iswa's constructor, in their order.

    ``flash_attn`` None is "auto": on for the current build (the CPU, CUDA, Metal and Vulkan backends
    support it), off for a legacy one, which had no "auto". ``n_outputs_max`` (0: unset) caps the rows of
    logits the reserved prompt graph holds (PR 23861, noted at BUILDS). ``auto_resolved_off``: "auto" was
    asked for and the backend lacks a kernel (flash_attention.py resolve_auto): off, with the cache made
    for it on (V untransposed).
    """
    if build not in BUILDS:
        raise UnsupportedError(f"unknown llama.cpp build family {build!r} (known: {', '.join(BUILDS)})")
    if n_outputs_max and build not in OUTPUTS_MAX_BUILDS:
        raise UnsupportedError(
            f"n_outputs_max (llama-server's cap on rows of logits, --llama-server-outputs) came with "
            f"llama.cpp PR 23861 in June 2026, in the builds of the current and mid-2026 families; the "
            f"{build!r} family predates it")
    legacy = build in LEGACY_BUILDS
    # Legacy builds keep one cache of n_ctx cells for all sequences: per-sequence streams came with
    # llama.cpp PR 14363 (July 2025, "llama : add high-throughput mode") and need ggml_set_rows, which
    # those builds did not use (llama-context.cpp then: "non-unified KV cache requires ggml_set_rows() -
    # forcing unified KV cache"). Ollama's Feb 2025 runner, 4 sequences in n_ctx 8192: kv_size = 8192
    kv_unified = kv_unified or legacy
    fa = (not legacy and not auto_resolved_off) if flash_attn is None else flash_attn
    kv_pad = LEGACY_KV_PAD_NO_FA if legacy and not fa else KV_PAD
    if n_seq < 1 or n_ubatch < 1 or n_batch < 1 or n_ctx < 0:
        raise UnsupportedError(
            f"llama.cpp needs n_seq, n_batch, n_ubatch ≥ 1 and n_ctx ≥ 0 "
            f"(found n_seq {n_seq}, n_batch {n_batch}, n_ubatch {n_ubatch}, n_ctx {n_ctx})")
    ctx = n_ctx or cfg.context_length  # n_ctx 0 = the training context
    batch = min(ctx, n_batch)  # causal attention: a batch never exceeds the (unpadded) context
    ubatch = min(batch, n_ubatch)
    ctx = pad(ctx, kv_pad)
    ctx_seq = ctx if kv_unified else pad(ctx // n_seq, kv_pad)
    streams = 1 if kv_unified else n_seq
    # llama-kv-cache-iswa.cpp: the window of every sequence sharing the stream, plus one ubatch
    window = cfg.sliding_window * (n_seq if kv_unified else 1) + ubatch
    swa = ctx_seq if swa_full or build == "legacy-no-swa" else pad(min(ctx_seq, window), kv_pad)
    # llama_context::graph_reserve: the reserve ubatch gives every one of the n_seq_max sequences as many
    # tokens, so the worst-case graph rounds n_ubatch up to a multiple of n_seq (512 tokens over 3
    # sequences: 513), unified cache or not; n_outputs stays n_ubatch
    tokens = pad(ubatch, n_seq)
    if n_outputs_max < 0:
        raise UnsupportedError(f"llama.cpp n_outputs_max must be ≥ 0 (found {n_outputs_max})")
    outputs = min(ubatch, max(n_outputs_max, n_seq)) if n_outputs_max else ubatch
    return LlamaCppParams(ctx_seq * streams, ctx_seq, n_seq, streams, batch, ubatch, swa, swa_full,
                          kv_unified, fa, tokens, legacy, mixed_batch=build in MIXED_BATCH_BUILDS,
                          embd_input=build != "legacy-no-swa", n_outputs=outputs,
                          f32_mask=build in F32_MASK_BUILDS,
                          v_trans=False if flash_attn is None and auto_resolved_off and not legacy else None)
