"""Weights at a precision or quantization that is not the file's own: the tables.

A scheme is one of three kinds (docs/quantization.md gives each with its source):

- a **plain scheme** (``PLAIN_SCHEMES``): cast every parameter (fp32, bf16, fp16), or quantize the linear
  weights the way one real checkpoint format does (fp8 block / per-tensor, int8, int4, nf4), each with
  its exact side data (scales, zeros, absmax);
- a **llama.cpp file type** (``FILE_TYPES``: ``llama-quantize IN OUT Q4_K_M``): a default ggml type
  (``llama_ftype_get_default_type``) and per-tensor exceptions (``llama_tensor_get_type_impl``), written
  below as ``BRANCHES`` of ``Rule`` rows in the source's own else-if order;
- a **single ggml type** for every quantizable tensor: ``q4_k_pure`` (llama-quantize ``--pure``), or a
  type no file type is named after (``mxfp4``, ``nvfp4``, ``q8_1``, ``q8_k``).

Names follow llama-quantize (``tools/quantize/quantize.cpp`` QUANT_OPTIONS), so ``q4_k`` is its alias
for Q4_K_M, ``q3_k`` for Q3_K_M and ``q5_k`` for Q5_K_M; ``q4_k_pure`` is every tensor in Q4_K.

llama.cpp source read: ggml-org/llama.cpp ``src/llama-quant.cpp`` at commit
007dbbf3fd17eefe9b47fee45f48f7ba5e62b714 (functions named in the comments below), and the same file as it
stood before PR #19770 (merged in March 2026) for the rules files made earlier follow (``BEFORE_2026_03``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from math import ceil

from paramscope.model.dtypes import DType
from paramscope.records import record, replace

# --- llama.cpp tensor categories (tensor_get_category) -----------------------------------------------
TOKEN_EMBD, OUTPUT = "token_embd", "output"
ATTN_Q, ATTN_K, ATTN_V, ATTN_QKV, ATTN_KV_B, ATTN_OUTPUT = (
    "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_kv_b", "attn_output")
FFN_UP, FFN_GATE, FFN_DOWN, OTHER = "ffn_up", "ffn_gate", "ffn_down", "other"
ATTN_V_LIKE = frozenset({ATTN_V, ATTN_QKV, ATTN_KV_B})  # category_is_attn_v

# knowledge.roles components → category. tensor_get_category matches substrings of GGUF names:
# "ffn_up" also catches ffn_up_exps / ffn_up_shexp, "ffn_gate" catches ffn_gate_exps, ffn_gate_shexp and
# the fused ffn_gate_up_exps ("ffn_gate_up" has no "ffn_up" in it).
CATEGORY_OF_COMPONENT: dict[str, str] = {
    "embedding": TOKEN_EMBD, "output": OUTPUT,
    "attention/q": ATTN_Q, "attention/k": ATTN_K, "attention/v": ATTN_V,
    "attention/qkv": ATTN_QKV, "attention/kv_b": ATTN_KV_B, "attention/o": ATTN_OUTPUT,
    "ffn/up": FFN_UP, "experts/up": FFN_UP, "shared_experts/up": FFN_UP,
    "ffn/gate": FFN_GATE, "ffn/gate_up": FFN_GATE, "experts/gate": FFN_GATE,
    "experts/gate_up": FFN_GATE, "shared_experts/gate": FFN_GATE, "shared_experts/gate_up": FFN_GATE,
    "ffn/down": FFN_DOWN, "experts/down": FFN_DOWN, "shared_experts/down": FFN_DOWN,
}
# DeepSeek GGUFs split attn_kv_b into attn_k_b / attn_v_b, which no category substring matches.
OTHER_GGUF_NAMES = ("attn_k_b.", "attn_v_b.")
# Hugging Face names whose GGUF name puts them in another category than their component's: (name suffix,
# category, GGUF name). Qwen3.5's Gated DeltaNet writes in_proj_qkv as blk.N.attn_qkv (in_proj_z as
# attn_gate, the rest as ssm_*): Unsloth's Qwen3.5-0.8B Q4_K_M holds 18 q5_K tensors, its 18 linear
# layers' attn_qkv (tests/fixtures/engine_logs/llamacpp/r36l-qwen35-08b-*). Qwen3-Next's in_proj_qkvz is
# ssm_in (category other).
CATEGORY_OF_NAME: tuple[tuple[str, str, str], ...] = (
    (".linear_attn.in_proj_qkv.weight", ATTN_QKV, "attn_qkv"),
)
# Gemma 3n's and Gemma 4's per-layer embedding table (embed_tokens_per_layer, per_layer_token_embd in a
# GGUF) is quantized as the token embedding (llama-quant.cpp tensor_name_match_token_embd: "token_embd.weight"
# or "per_layer_token_embd.weight"), so in these tied models as the output: Q6_K in Q4_K_M (Gemma 4 E4B's
# Q4_K_M file keeps 2,208 MiB of it on the host, 6.56 bits a weight)
TOKEN_EMBD_NAMES = ("embed_tokens_per_layer.weight", "per_layer_token_embd.weight")

# GGUF spelling of a component, for llama.cpp's iteration order inside a layer (weight_name_comparer in
# llama-model-loader.h sorts by block number, then by name): the running counters below depend on it.
GGUF_NAME_OF_COMPONENT: dict[str, str] = {
    "attention/v": "attn_v", "attention/qkv": "attn_qkv", "attention/kv_b": "attn_kv_b",
    "ffn/down": "ffn_down", "experts/down": "ffn_down_exps", "shared_experts/down": "ffn_down_shexp",
    "ffn/gate": "ffn_gate", "ffn/gate_up": "ffn_gate_up", "experts/gate": "ffn_gate_exps",
    "experts/gate_up": "ffn_gate_up_exps", "shared_experts/gate": "ffn_gate_shexp",
    "shared_experts/gate_up": "ffn_gate_up_shexp",
    "ffn/up": "ffn_up", "experts/up": "ffn_up_exps", "shared_experts/up": "ffn_up_shexp",
}

# tensor_allows_quantization: never quantized, whatever the file type. 1-D tensors, names not ending in
# "weight" (biases) and "_norm.weight" are caught by role; these components and name fragments remain.
# convert_hf_to_gguf.py stores the same tensors (and every 1-D tensor) in F32 ("Some tensor types are
# always in float32": FFN_GATE_INP, POS_EMBD, TOKEN_TYPES, SSM_CONV1D, …).
UNQUANTIZED_COMPONENTS = frozenset({"norm", "router", "embedding/position", "embedding/token_type"})
UNQUANTIZED_NAME_PARTS = (
    "ffn_gate_inp", "ffn_gate_tid2eid", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
    "shortconv.conv", "indexer.k_proj", "indexer.q_proj", "time_mix_first", "time_mix_w0", "time_mix_w1",
    "time_mix_w2", "time_mix_v0", "time_mix_v1", "time_mix_v2", "time_mix_a0", "time_mix_a1",
    "time_mix_a2", "time_mix_g1", "time_mix_g2", "time_mix_decay_w1", "time_mix_decay_w2",
    "time_mix_lerp_fused", "attn_rel_b", "rel_pos",
    # the Hugging Face names of ssm_conv1d (Mamba's and Gated DeltaNet's conv1d) and of LFM2's
    # shortconv.conv: convert_hf_to_gguf.py stores them in F32 (Qwen3.5-0.8B's file: 18 conv1d among its
    # 133 f32 tensors; Qwen3.5-27B's Q4_K_S GPU buffer matched to 0.01 MiB with them so)
    "conv1d.weight", "conv.conv.weight",
)
# Vision and audio towers and projectors go to a separate mmproj GGUF, which convert_hf_to_gguf writes
# in F16.
MMPROJ_COMPONENTS = frozenset({"vision", "audio", "projector"})
MMPROJ_TYPE = DType.F16
CONVERTER_UNQUANTIZED_TYPE = DType.F32


# --- llama.cpp file types ----------------------------------------------------------------------------
@record
class FileType:
    """A llama-quantize file type: its name, general.file_type value and default tensor type."""

    name: str  # llama-quantize spelling
    ftype: int  # LLAMA_FTYPE_MOSTLY_* (llama.h), the value of general.file_type
    default: DType  # llama_ftype_get_default_type
    needs_imatrix: bool = False  # tensor_requires_imatrix refuses it without --imatrix
    before_2026_03: bool = False  # the rules of llama-quantize before PR #19770 (BEFORE_2026_03)
    imatrix: bool | None = None  # made with an importance matrix (IMATRIX); None: only if it needs one

    @property
    def uses_imatrix(self) -> bool:
        """Made with an importance matrix: as spelled (IMATRIX), else only where llama-quantize needs one."""
        return self.imatrix if self.imatrix is not None else self.needs_imatrix

    @property
    def label(self) -> str:
        """The name a re-pricing shows: "Q4_K_M", "Q4_K_M (before 2026-03)", "IQ4_XS (imatrix)"."""
        marks = [mark for mark, on in (("imatrix", self.imatrix), (BEFORE_2026_03_LABEL, self.before_2026_03))
                 if on]
        return f"{self.name} ({', '.join(marks)})" if marks else self.name

    @property
    def spelling(self) -> str:
        """The scheme name that looks this file type up again: "q4_k_m_imatrix_before_2026_03"."""
        return (self.name + (IMATRIX if self.imatrix else "")
                + (BEFORE_2026_03 if self.before_2026_03 else "")).lower()


FILE_TYPES: dict[str, FileType] = {f.name: f for f in (
    FileType("Q4_0", 2, DType.Q4_0), FileType("Q4_1", 3, DType.Q4_1),
    FileType("Q8_0", 7, DType.Q8_0), FileType("Q5_0", 8, DType.Q5_0), FileType("Q5_1", 9, DType.Q5_1),
    FileType("Q2_K", 10, DType.Q2_K), FileType("Q3_K_S", 11, DType.Q3_K),
    FileType("Q3_K_M", 12, DType.Q3_K), FileType("Q3_K_L", 13, DType.Q3_K),
    FileType("Q4_K_S", 14, DType.Q4_K), FileType("Q4_K_M", 15, DType.Q4_K),
    FileType("Q5_K_S", 16, DType.Q5_K), FileType("Q5_K_M", 17, DType.Q5_K),
    FileType("Q6_K", 18, DType.Q6_K),
    FileType("IQ2_XXS", 19, DType.IQ2_XXS, True), FileType("IQ2_XS", 20, DType.IQ2_XS, True),
    FileType("Q2_K_S", 21, DType.Q2_K, True), FileType("IQ3_XS", 22, DType.IQ3_S, True),
    FileType("IQ3_XXS", 23, DType.IQ3_XXS, True), FileType("IQ1_S", 24, DType.IQ1_S, True),
    FileType("IQ4_NL", 25, DType.IQ4_NL), FileType("IQ3_S", 26, DType.IQ3_S),
    FileType("IQ3_M", 27, DType.IQ3_S),
    # IQ2_S is the 2.5 bpw mix whose default type is IQ2_XS; IQ2_M's default is IQ2_S
    FileType("IQ2_S", 28, DType.IQ2_XS, True), FileType("IQ2_M", 29, DType.IQ2_S, True),
    FileType("IQ4_XS", 30, DType.IQ4_XS), FileType("IQ1_M", 31, DType.IQ1_M, True),
    FileType("TQ1_0", 36, DType.TQ1_0), FileType("TQ2_0", 37, DType.TQ2_0),
    FileType("MXFP4_MOE", 38, DType.MXFP4), FileType("NVFP4", 39, DType.NVFP4),
    FileType("Q1_0", 40, DType.Q1_0),
)}
FILE_TYPE_ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}  # llama-quantize's aliases

# llama-quantize's rules changed in March 2026 (PR #19770, "refactor type selection"): attn_qkv and
# attn_kv_b joined attn_v's rules (category_is_attn_v). Before it, attn_qkv had a rule of its own (Q5_K in
# Q4_K_M, Q6_K in Q5_K_M, Q4_K in Q3_K_M, Q3_K_L and IQ3_M; every layer alike), attn_kv_b none, and only
# attn_v advanced the running counter (n_attention_wv counted all three, then as now). Files made earlier
# keep those types: Microsoft's Phi-3-mini and Phi-4-mini Q4_K_M (32 q5_K: every attn_qkv), Unsloth's
# Qwen3.5-0.8B (18). A file type spelled with this suffix ("q4_k_m_before_2026_03") prices them. The week
# between the two PRs (#20357 fixed a running n_attention_wv that put every attn_v-like tensor in Q6_K)
# is not modelled.
BEFORE_2026_03 = "_BEFORE_2026_03"
BEFORE_2026_03_LABEL = "before 2026-03"
# A file type spelled with this suffix ("iq4_xs_imatrix") was made with an importance matrix, as most files
# on the Hub are: the rules that read qs.has_imatrix (IQ3_XXS's attn_v and ffn_down, the first eighth of
# ffn_down in IQ4_NL / IQ4_XS, Q4_0 and Q5_0) then apply. Without it, only the file types llama-quantize
# refuses to make without one assume it.
IMATRIX = "_IMATRIX"

# tensor_type_fallback: a row (ne[0]) that is not a whole number of blocks takes a type with smaller
# blocks; if that still does not fit, F16. Types missing here make llama.cpp throw ("no tensor type
# fallback is defined"); we price those rows in F16 and say so.
FALLBACK: dict[DType, DType] = {
    **dict.fromkeys((DType.IQ1_S, DType.IQ1_M, DType.IQ2_XXS, DType.IQ2_XS, DType.IQ2_S, DType.IQ3_XXS,
                     DType.IQ3_S, DType.IQ4_XS), DType.IQ4_NL),
    **dict.fromkeys((DType.Q2_K, DType.Q3_K, DType.TQ1_0, DType.TQ2_0), DType.Q4_0),
    DType.Q4_K: DType.Q5_0, DType.Q5_K: DType.Q5_1, DType.Q6_K: DType.Q8_0,
}
LAST_RESORT = DType.F16
# Before PR #19770 rewrote tensor_type_fallback (as far as a copy of mid-2025 and today's show), Q2_K and
# Q3_K rows fell back to IQ4_NL; the same 4.5 bits as Q4_0, another type name.
FALLBACK_BEFORE_2026_03: dict[DType, DType] = {**FALLBACK, DType.Q2_K: DType.IQ4_NL, DType.Q3_K: DType.IQ4_NL}

# Single types priced for every quantizable tensor without a file type named after them.
PURE_ONLY: dict[str, DType] = {"MXFP4": DType.MXFP4, "NVFP4": DType.NVFP4, "Q8_1": DType.Q8_1,
                               "Q8_K": DType.Q8_K}
PURE_SUFFIX = "_PURE"


# --- what llama_tensor_get_type_impl reads about one tensor -----------------------------------------
@record
class Site:
    """What llama_tensor_get_type_impl reads about one tensor to choose its type."""

    ftype: str  # FILE_TYPES key
    default: DType  # the file type's default tensor type
    category: str
    ne0: int  # row length (ggml ne[0] = innermost, shape[-1])
    ne2: int  # ggml ne[2]: the experts of a merged MoE tensor, else 1
    count: int  # the category's running counter before this tensor (qs.i_attention_wv, qs.i_ffn_down …)
    count_total: int  # what it counts to (qs.n_attention_wv; n_layer for the FFN counters)
    layer: int  # layer_info(): the block number for MoE models, else the running counter
    n_layer: int
    n_gqa: int  # hparams.n_gqa(): n_head / n_head_kv
    n_expert: int
    falcon: bool  # arch == LLM_ARCH_FALCON
    is_70b: bool  # model.type == LLM_TYPE_70B
    imatrix: bool  # qs.has_imatrix
    tied: bool  # qs.has_tied_embeddings: no output.weight
    before_2026_03: bool = False  # llama-quantize's rules before PR #19770 (BEFORE_2026_03)


def use_more_bits(i: int, n: int) -> bool:
    """llama_tensor_get_type_impl's use_more_bits: the first and last eighth, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _attn_v_like(s: Site) -> bool:
    """category_is_attn_v; before PR #19770, attn_v's rules read "attn_v.weight" only."""
    return s.category == ATTN_V if s.before_2026_03 else s.category in ATTN_V_LIKE


def _first_eighth(s: Site) -> bool:
    return s.layer < s.n_layer // 8


def _always(s: Site) -> bool:
    return True


Pick = DType | None | Callable[[Site], DType | None]  # None: keep the type chosen so far


@record
class Rule:
    """One ``else if`` of llama_tensor_get_type_impl: the first rule whose file types and condition hold
    ends the chain, and ``then`` gives the type (None: the chain ends, the type stays)."""

    ftypes: frozenset[str]  # empty: every file type
    then: Pick
    when: Callable[[Site], bool] = _always


@record
class Branch:
    """One top-level ``else if`` of llama_tensor_get_type_impl: taken when ``applies`` holds; then
    ``rules`` (an else-if chain), then ``after`` (each applied in turn), then ``counter`` advances."""

    name: str
    applies: Callable[[Site], bool]
    rules: tuple[Rule, ...]
    after: tuple[Callable[[Site, DType], DType], ...] = ()
    counter: str | None = None  # which running counter this branch advances


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


IQ_LOW = _f("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M")
IQ2_SM = _f("IQ2_S", "IQ2_M")
MOE8_ATTN_OUTPUT_Q5K = _f("Q2_K", "IQ3_XS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M",
                          "IQ3_S", "IQ3_M", "IQ4_XS")
ANY = frozenset[str]()


def _ffn_down_q3_k_m(s: Site) -> DType:
    if s.layer < s.n_layer // 16:
        return DType.Q5_K
    return DType.Q4_K if not s.falcon or use_more_bits(s.layer, s.n_layer) else DType.Q3_K


def _ffn_down_q4_k_m(s: Site) -> DType | None:
    if s.falcon:
        return (DType.Q6_K if s.layer < s.n_layer // 16
                else DType.Q5_K if use_more_bits(s.layer, s.n_layer) else DType.Q4_K)
    return DType.Q6_K if use_more_bits(s.layer, s.n_layer) else None


def _iq_low_pick(s: Site) -> DType:
    return DType.IQ3_S if s.ftype in IQ2_SM else DType.Q2_K


def _bump_70b(s: Site, t: DType) -> DType:
    # "In the 70B model we have 8 heads sharing the same attn_v weights": more bits cost little
    return DType.Q5_K if s.is_70b and t in (DType.Q3_K, DType.Q4_K) else t


def _moe8_q8_0(s: Site, t: DType) -> DType:
    # "for the 8-expert model, bumping this to Q8_0 trades just ~128MB"
    return DType.Q8_0 if s.n_expert == 8 else t


def _ffn_gate_up_iq3_xs(s: Site) -> bool:
    return s.n_layer // 8 <= s.layer < 7 * s.n_layer // 8


# llama_tensor_get_type_impl, branch by branch, in the source's order.
BRANCHES: tuple[Branch, ...] = (
    # tied models quantize token_embd as the output tensor
    Branch("output", lambda s: s.category == OUTPUT or (s.tied and s.category == TOKEN_EMBD), (
        Rule(_f("MXFP4_MOE"), DType.Q8_0),
        Rule(ANY, DType.Q8_0, lambda s: s.falcon or s.ne0 % s.default.block_size != 0),
        Rule(_f("IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M"), DType.Q5_K),
        Rule(ANY, DType.Q6_K, lambda s: s.default != DType.Q8_0),
    )),
    # MoE tensors (ne[2] > 1) in MXFP4, everything else Q8_0 (BAILINGMOE3's 3-D MLA tensors: not modelled)
    Branch("mxfp4_moe", lambda s: s.ftype == "MXFP4_MOE", (
        Rule(ANY, lambda s: DType.MXFP4 if s.ne2 > 1 else DType.Q8_0),
    )),
    Branch("token_embd", lambda s: s.category == TOKEN_EMBD, (
        Rule(_f("IQ2_XXS", "IQ2_XS", "IQ1_S", "IQ1_M"), DType.Q2_K),
        Rule(_f("IQ2_S", "IQ2_M", "IQ3_XXS"), DType.IQ3_S),
        Rule(_f("TQ1_0", "TQ2_0"), DType.Q4_K),
    )),
    Branch("iq_low_attn_v", lambda s: s.ftype in IQ_LOW and _attn_v_like(s), (
        Rule(ANY, DType.Q4_K, lambda s: s.n_gqa >= 4 or s.n_expert >= 4),
        Rule(ANY, _iq_low_pick),
    ), counter="attn_v"),
    Branch("iq_low_attn_k", lambda s: s.ftype in IQ_LOW and s.n_expert == 8 and s.category == ATTN_K, (
        Rule(ANY, DType.Q4_K),
    )),
    # reads the raw counter qs.i_ffn_down, not layer_info()
    Branch("iq_low_ffn_down", lambda s: s.ftype in IQ_LOW and s.category == FFN_DOWN, (
        Rule(ANY, _iq_low_pick, lambda s: s.count < s.count_total // 8),
    ), counter="ffn_down"),
    Branch("iq_low_attn_output", lambda s: s.ftype in IQ_LOW and s.category == ATTN_OUTPUT, (
        Rule(ANY, DType.Q5_K, lambda s: s.n_expert == 8),
        Rule(_f("IQ1_S", "IQ1_M"), DType.IQ2_XXS),
        Rule(IQ2_SM, DType.IQ3_S),
    )),
    Branch("iq_low_other", lambda s: s.ftype in IQ_LOW, ()),
    # attn_v, attn_qkv and attn_kv_b (category_is_attn_v); the later ATTENTION_QKV branch of the source
    # is unreachable since QKV is caught here, but was attn_qkv's own before PR #19770 (attn_qkv below)
    Branch("attn_v", _attn_v_like, (
        Rule(_f("Q2_K"), lambda s: DType.Q4_K if s.n_gqa >= 4 else DType.Q3_K),
        Rule(_f("Q2_K_S"), DType.Q4_K, lambda s: s.n_gqa >= 4),
        Rule(_f("IQ3_XXS"), lambda s: DType.Q4_K if s.n_gqa >= 4
             else DType.IQ3_S if not s.imatrix else DType.IQ3_XXS),
        Rule(_f("IQ3_XS", "IQ3_S"), DType.Q4_K, lambda s: s.n_gqa >= 4),
        Rule(_f("IQ3_M"), DType.Q4_K),
        Rule(_f("Q3_K_M"), lambda s: DType.Q5_K if s.count < 2 else DType.Q4_K),
        Rule(_f("Q3_K_L"), DType.Q5_K),
        Rule(_f("IQ4_NL", "IQ4_XS"), DType.Q5_K, lambda s: s.n_gqa >= 4),
        Rule(_f("Q4_K_M", "Q5_K_M"), DType.Q6_K, lambda s: use_more_bits(s.count, s.count_total)),
        Rule(_f("Q4_K_S"), DType.Q5_K, lambda s: s.count < 4),
    ), after=(_bump_70b, _moe8_q8_0), counter="attn_v"),
    Branch("attn_k", lambda s: s.category == ATTN_K, (
        Rule(ANY, DType.Q8_0, lambda s: s.n_expert == 8),
        Rule(_f("IQ3_XS"), DType.IQ3_XXS),
        Rule(_f("IQ3_XXS"), DType.IQ2_S),
    )),
    Branch("attn_q", lambda s: s.category == ATTN_Q, (
        Rule(_f("IQ3_XS"), DType.IQ3_XXS),
        Rule(_f("IQ3_XXS"), DType.IQ2_S),
    )),
    Branch("ffn_down", lambda s: s.category == FFN_DOWN, (
        Rule(_f("Q2_K"), DType.Q3_K),
        Rule(_f("Q2_K_S"), lambda s: DType.Q4_K if _first_eighth(s) else None),
        Rule(_f("IQ3_XXS"), lambda s: DType.Q4_K if _first_eighth(s) else DType.Q3_K,
             lambda s: not s.imatrix),
        Rule(_f("Q3_K_M"), _ffn_down_q3_k_m),
        Rule(_f("IQ3_M"), DType.Q4_K, lambda s: _first_eighth(s) or (
            s.n_expert == 8 and use_more_bits(s.layer, s.n_layer))),
        Rule(_f("Q3_K_L"), lambda s: DType.Q4_K if s.falcon else DType.Q5_K),
        Rule(_f("Q4_K_M"), _ffn_down_q4_k_m),
        Rule(_f("IQ4_NL", "IQ4_XS"), DType.Q5_K, lambda s: _first_eighth(s) and not s.imatrix),
        Rule(_f("Q5_K_M"), DType.Q6_K, lambda s: use_more_bits(s.layer, s.n_layer)),
        Rule(_f("Q4_K_S"), DType.Q5_K, lambda s: not s.falcon and _first_eighth(s)),
        # only with an imatrix, so that files made without one stay as they were
        Rule(_f("Q4_0"), DType.Q4_1, lambda s: s.imatrix and _first_eighth(s)),
        Rule(_f("Q5_0"), DType.Q5_1, lambda s: s.imatrix and _first_eighth(s)),
    ), counter="ffn_down"),
    Branch("attn_output", lambda s: s.category == ATTN_OUTPUT, (
        Rule(ANY, DType.Q4_K, lambda s: s.falcon and s.ftype == "Q3_K_L"),
        Rule(ANY, None, lambda s: s.falcon),
        Rule(MOE8_ATTN_OUTPUT_Q5K, DType.Q5_K, lambda s: s.n_expert == 8),
        Rule(ANY, None, lambda s: s.n_expert == 8),
        Rule(_f("Q2_K"), DType.Q3_K),
        Rule(_f("IQ3_XXS"), DType.IQ3_S),
        Rule(_f("Q3_K_M"), DType.Q4_K),
        Rule(_f("Q3_K_L"), DType.Q5_K),
        Rule(_f("IQ3_M"), DType.Q4_K),
    )),
    # before PR #19770 only: attn_qkv's own rule, the same in every layer, no counter
    Branch("attn_qkv", lambda s: s.before_2026_03 and s.category == ATTN_QKV, (
        Rule(_f("Q3_K_M", "Q3_K_L", "IQ3_M"), DType.Q4_K),
        Rule(_f("Q4_K_M"), DType.Q5_K),
        Rule(_f("Q5_K_M"), DType.Q6_K),
    )),
    Branch("ffn_gate", lambda s: s.category == FFN_GATE, (
        Rule(_f("IQ3_XS"), DType.IQ3_XXS, _ffn_gate_up_iq3_xs),
    ), counter="ffn_gate"),
    Branch("ffn_up", lambda s: s.category == FFN_UP, (
        Rule(_f("IQ3_XS"), DType.IQ3_XXS, _ffn_gate_up_iq3_xs),
    ), counter="ffn_up"),
)

# Which counter a category's tensors advance, and whether it counts to n_attention_wv or n_layer
# (init_quantize_state_counters: n_ffn_down = n_ffn_gate = n_ffn_up = n_layer_all).
COUNTER_OF_CATEGORY = {ATTN_V: "attn_v", ATTN_QKV: "attn_v", ATTN_KV_B: "attn_v",
                       FFN_DOWN: "ffn_down", FFN_GATE: "ffn_gate", FFN_UP: "ffn_up"}

# LLM_TYPE_70B, which the attn_v rule bumps: llama with 80 layers and grouped KV heads (65B without),
# qwen2 and deci with 80 layers (llama-model.cpp load_hparams). Keys: GGUF arch and paramscope family.
SEVENTY_B_ARCHS: dict[str, bool] = {"llama": True, "qwen2": False, "deci": False}  # value: needs GQA
SEVENTY_B_LAYERS = 80
FALCON_ARCHS = frozenset({"falcon"})


# --- plain schemes -----------------------------------------------------------------------------------
MatrixBytes = Callable[[int, int, int], int]  # (matrices, rows, cols) → bytes with side data


@record
class PlainScheme:
    """A re-pricing scheme outside llama.cpp: a cast to one dtype or a weight-only quantization."""

    name: str
    label: str  # the type column of a re-priced tensor
    description: str
    cast: DType | None = None  # every parameter in this dtype; None: quantize linear weights only
    matrix_bytes: MatrixBytes | None = None  # a quantized weight, side data included
    aliases: tuple[str, ...] = ()
    # whether a linear-attention block's projections (LINEAR_ATTENTION_PROJECTION: in and out alike) are
    # quantized; no published recipe quantizes one and not the others
    linear_attention: bool = True


def _fp8_block(m: int, r: int, c: int) -> int:
    # 1 byte per weight + one float32 scale per 128 × 128 block (DeepSeek-V3 weight_scale_inv)
    return m * r * c + 4 * m * ceil(r / 128) * ceil(c / 128)


def _fp8_tensor(m: int, r: int, c: int) -> int:
    # 1 byte per weight + one float32 scale per matrix (vLLM dynamic fp8 weight_scale)
    return m * r * c + 4 * m


def _int8(m: int, r: int, c: int) -> int:
    # 1 byte per weight + one float32 scale per output row (bitsandbytes Int8Params.SCB)
    return m * r * c + 4 * m * r


INT4_GROUP = 128
# The group sizes a 4-bit scheme may name (``int4_g32``): what AWQ, GPTQ, AutoRound and llm-compressor
# checkpoints use (Google's Gemma 4 QAT W4A16 and cyankiwi's AWQ repacks: 32; many GPTQ files: 64)
INT4_GROUPS = (32, 64, 128, 256)
# compressed-tensors' pack-quantized layout stores each matrix's logical shape as int64 [out, in]
WEIGHT_SHAPE_BYTES = 16


def _int4_bytes(group: int, symmetric: bool) -> MatrixBytes:
    def matrix_bytes(m: int, r: int, c: int) -> int:
        groups = ceil(c / group)
        if symmetric:
            # compressed-tensors pack-quantized, symmetric (llm-compressor's W4A16): weight_packed
            # (out, in/8) int32, weight_scale (out, in/group) 16-bit, weight_shape; no zero points (vLLM's
            # CompressedTensorsWNA16 and Marlin hold the same)
            return m * (r * ceil(c / 8) * 4 + groups * r * 2 + WEIGHT_SHAPE_BYTES)
        # AutoAWQ GEMM layout, per matrix (rows = out features, cols = in features):
        # qweight (in, out/8) int32, qzeros (in/group, out/8) int32 of 4-bit zeros, scales (in/group, out)
        # fp16
        packs = ceil(r / 8)
        return m * (c * packs * 4 + groups * packs * 4 + groups * r * 2)
    return matrix_bytes


_int4 = _int4_bytes(INT4_GROUP, symmetric=False)


NF4_BLOCK, NF4_NESTED_BLOCK = 64, 256


def _nf4(m: int, r: int, c: int) -> int:
    # bitsandbytes quantize_4bit(blocksize=64, compress_statistics=True): two weights per byte; one 8-bit
    # absmax per 64 weights; one float32 absmax per 256 absmax values; one float32 offset per tensor
    n = m * r * c
    blocks = ceil(n / NF4_BLOCK)
    return ceil(n / 2) + blocks + 4 * ceil(blocks / NF4_NESTED_BLOCK) + 4


NVFP4_GROUP = 16


def _nvfp4(m: int, r: int, c: int) -> int:
    # E2M1 pairs (two weights a byte), an FP8 E4M3 scale per 16 inputs of a row, two float32 scalars a
    # matrix (compressed-tensors weight_global_scale + input_global_scale; ModelOpt weight_scale_2 +
    # input_scale)
    return m * (r * ceil(c / 2) + r * ceil(c / NVFP4_GROUP) + 8)


PLAIN_SCHEMES: dict[str, PlainScheme] = {s.name: s for s in (
    PlainScheme("fp32", "F32", "every parameter in float32", cast=DType.F32, aliases=("f32", "float32")),
    PlainScheme("bf16", "BF16", "every parameter in bfloat16", cast=DType.BF16, aliases=("bfloat16",)),
    PlainScheme("fp16", "F16", "every parameter in float16", cast=DType.F16,
                aliases=("f16", "float16", "half")),
    PlainScheme("fp8", "F8_E4M3/b128", "linear weights in fp8 e4m3 with a float32 scale per 128 × 128 "
                "block (DeepSeek-V3, Qwen3-FP8 weight_block_size [128, 128])", matrix_bytes=_fp8_block,
                aliases=("f8", "fp8_e4m3", "e4m3", "fp8_block")),
    PlainScheme("fp8_tensor", "F8_E4M3/t", "linear weights in fp8 e4m3 with one float32 scale per "
                "matrix (vLLM --quantization fp8, dynamic)", matrix_bytes=_fp8_tensor,
                aliases=("fp8_per_tensor",)),
    PlainScheme("fp8_channel", "F8_E4M3/row", "linear weights in fp8 e4m3 with a float32 scale per output "
                "row (compressed-tensors' channel strategy: the *-FP8-dynamic checkpoints; vLLM's "
                "CompressedTensorsW8A8Fp8 weight_scale [rows, 1])", matrix_bytes=_int8,
                aliases=("fp8_dynamic", "fp8_per_channel")),
    PlainScheme("int8", "I8/row", "linear weights in int8 with a float32 scale per output row "
                "(bitsandbytes LLM.int8 Int8Params + SCB)", matrix_bytes=_int8,
                aliases=("i8", "llm_int8", "w8a16")),
    PlainScheme("int4", "I4/g128", "linear weights in 4 bits with an fp16 scale and a 4-bit zero per "
                "128 inputs per output (AWQ / GPTQ group size 128)", matrix_bytes=_int4,
                aliases=("i4", "awq", "gptq", "w4a16")),
    PlainScheme("nf4", "NF4/dq", "linear weights in bitsandbytes nf4: 4 bits, an 8-bit absmax per 64 "
                "weights, a float32 absmax per 256 blocks (double quantization)", matrix_bytes=_nf4,
                aliases=("bnb4", "bnb_nf4")),
    # not "nvfp4": that name is llama.cpp's NVFP4 file type, which quantizes the embeddings too
    PlainScheme("nvfp4_linear", "NVFP4/g16", "linear weights in NVFP4 as vLLM and SGLang load them "
                "(compressed-tensors or ModelOpt: E2M1, an FP8 E4M3 scale per 16 inputs, two float32 "
                "scalars a matrix); embeddings, head and linear-attention blocks kept",
                matrix_bytes=_nvfp4, aliases=("w4a4_nvfp4", "modelopt_fp4", "nvfp4_ct"),
                linear_attention=False),
)}
# Components whose weight matrices the quantized plain schemes quantize: the Linear layers of the decoder
# blocks. Embeddings, the output head (llm_int8_skip_modules, DeepSeek-V3 and vLLM keep it), routers,
# norms, biases and vision towers stay as stored.
PLAIN_QUANTIZED_TOPS = frozenset({"attention", "ffn", "experts", "shared_experts"})
# A linear-attention block's projection matrices (Qwen3-Next / Qwen3.5 Gated DeltaNet ``linear_attn.
# in_proj_qkvz``, ``in_proj_qkv``, ``in_proj_z``, ``in_proj_ba``, ``out_proj``; Mamba's ``mixer.in_proj``,
# ``mixer.out_proj``): quantized together or not at all (PlainScheme.linear_attention). The NVFP4 recipes
# for these models leave them in bf16 (llm-compressor's Qwen3.5 example ignores ``re:.*linear_attn.*``):
# RedHatAI's Qwen3.6-35B-A3B-NVFP4 loaded 21.86 GiB on vLLM 0.20, 21.52 priced with out_proj quantized,
# 21.86 with none; cyankiwi's Qwen3.5-9B AWQ quantizes them all (tests/fixtures/engine_logs/vllm/r12q-*)
LINEAR_ATTENTION_PROJECTION = re.compile(r"(^|\.)(linear_attn|mixer|mamba)\.(in_proj\w*|out_proj)\.weight$")
PLAIN_UNQUANTIZED_COMPONENTS = frozenset({"attention/sinks"})
# The dtypes whose parameter counts decide a model's 16-bit dtype (8-bit weights of an fp8 checkpoint
# do not: its embeddings and norms are BF16).
MODEL_DTYPES = frozenset({DType.F32, DType.F16, DType.BF16})


@record
class PureType:
    """One ggml type for every quantizable tensor (llama-quantize --pure), with the same fallbacks."""

    dtype: DType


Scheme = PlainScheme | FileType | PureType


def normalize(name: str) -> str:
    return name.strip().upper().replace("-", "_").replace(":", "_").replace(".", "_")


def lookup(name: str) -> Scheme | None:
    """The scheme a name means, by any accepted spelling ("Q4_K_M", "q4-k-m", "fp16", "q6_k_pure",
    "q4_k_m_before_2026_03", "int4_g32_sym")."""
    key = normalize(name)
    if (four := INT4_NAME.fullmatch(key)) and (four[1] or four[2] or four[3]):
        group = int(four[1] or four[3] or INT4_GROUP)
        return int4_scheme(group, bool(four[2])) if group in INT4_GROUPS else None
    key = FILE_TYPE_ALIASES.get(key, key)
    if key in FILE_TYPES:
        return FILE_TYPES[key]
    base, marks = key, set[str]()
    while (mark := next((m for m in (IMATRIX, BEFORE_2026_03) if base.endswith(m) and m not in marks),
                        None)):  # the two suffixes, in either order
        marks.add(mark)
        base = base.removesuffix(mark)
    base = FILE_TYPE_ALIASES.get(base, base)
    if marks and base in FILE_TYPES:
        return replace(FILE_TYPES[base], before_2026_03=BEFORE_2026_03 in marks,
                       imatrix=True if IMATRIX in marks else None)
    if key in PURE_ONLY:
        return PureType(PURE_ONLY[key])
    if key.endswith(PURE_SUFFIX):
        dtype = DType.__members__.get(key.removesuffix(PURE_SUFFIX))
        return PureType(dtype) if dtype is not None and dtype.info.quantized else None
    return _PLAIN_INDEX.get(key)


_PLAIN_INDEX = {normalize(n): s for s in PLAIN_SCHEMES.values() for n in (s.name, *s.aliases)}
# int4 (or an alias) with a group size, and ``_sym``: "int4_g32", "w4a16_g32_sym", "awq_g64". Not
# "awq_sym" or "gptq_sym": AutoAWQ and GPTQ files store zero points even for a symmetric quantization, so
# only the compressed-tensors names (int4, i4, w4a16) take the layout without them
INT4_NAME = re.compile(r"(?:(?:INT4|I4|W4A16)(?:_G([1-9]\d*))?(_SYM)?|(?:AWQ|GPTQ)(?:_G([1-9]\d*))?)")
_INT4_VARIANTS: dict[tuple[int, bool], PlainScheme] = {(INT4_GROUP, False): PLAIN_SCHEMES["int4"]}
# the label int4_scheme gives a variant ("I4/g32", "I4/g128/sym"), read back by quantize-error's round trip
INT4_LABEL = re.compile(r"I4/g(\d+)(/sym)?")


def int4_scheme(group: int, symmetric: bool) -> PlainScheme:
    """The 4-bit scheme with ``group`` inputs a scale, with zero points (AWQ's layout) or without
    (``symmetric``: compressed-tensors'); one object per variant, so schemes compare by identity."""
    key = (group, symmetric)
    if key not in _INT4_VARIANTS:
        name = f"int4_g{group}" + ("_sym" if symmetric else "")
        label = f"I4/g{group}" + ("/sym" if symmetric else "")
        what = ("no zero point (symmetric; compressed-tensors' pack-quantized layout)" if symmetric
                else "a 4-bit zero (AWQ's layout)")
        _INT4_VARIANTS[key] = PlainScheme(name, label, f"linear weights in 4 bits with an fp16 scale per "
                                          f"{group} inputs per output and {what}",
                                          matrix_bytes=_int4_bytes(group, symmetric))
    return _INT4_VARIANTS[key]


def is_int4(scheme: Scheme | None, *, symmetric: bool | None = None) -> bool:
    """Any 4-bit integer plain scheme (``int4`` and its group / symmetric variants); with ``symmetric``,
    only those with (False: AWQ's zero points) or without (True) zero points."""
    return isinstance(scheme, PlainScheme) and any(
        v is scheme and (symmetric is None or sym == symmetric) for (_, sym), v in _INT4_VARIANTS.items())


def known_schemes() -> list[str]:
    """Every accepted scheme name (aliases left out), for help and errors."""
    names = ([s.name for s in PLAIN_SCHEMES.values()] + [f.lower() for f in FILE_TYPES]
             + [k.lower() for k in FILE_TYPE_ALIASES] + [k.lower() for k in PURE_ONLY])
    # NVFP4 is a file type and a pure type
    return [*dict.fromkeys(names), "<ggml type>_pure", f"<file type>{IMATRIX.lower()}",
            f"<file type>{BEFORE_2026_03.lower()}",
            "int4_g{" + ",".join(map(str, INT4_GROUPS)) + "}[_sym]"]
