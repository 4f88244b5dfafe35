"""From GGUF metadata to an ``ArchConfig``: which keys hold which hyperparameter, per architecture.

Keys are templates on ``general.architecture`` the way gguf-py's ``Keys.LLM``/``Keys.Attention`` write
them (``"{arch}.attention.head_count"``). What the file does not say, llama.cpp hard-codes per
architecture in ``src/llama-model.cpp`` (``load_hparams``); those defaults are the tables below, each
row citing where it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any

import numpy as np

from paramscope.errors import HeaderError
from paramscope.model import ArchConfig

# GGUF architecture → Hugging Face ``model_type``; an architecture not listed keeps its GGUF name.
FAMILIES: dict[str, str] = {
    "llama": "llama", "llama4": "llama4_text", "mistral3": "mistral3", "deci": "deci",
    "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3_text", "gemma3n": "gemma3n_text",
    "gemma-embedding": "gemma3_text",
    "qwen": "qwen", "qwen2": "qwen2", "qwen2moe": "qwen2_moe", "qwen2vl": "qwen2_vl", "qwen3": "qwen3",
    "qwen3moe": "qwen3_moe", "qwen3next": "qwen3_next",
    "deepseek": "deepseek", "deepseek2": "deepseek_v2",
    "phi2": "phi", "phi3": "phi3", "phimoe": "phimoe",
    "gpt2": "gpt2", "gptneox": "gpt_neox", "gpt-oss": "gpt_oss", "gptj": "gptj",
    "bert": "bert", "nomic-bert": "nomic_bert", "jina-bert-v2": "jina_bert", "t5": "t5",
    "falcon": "falcon", "bloom": "bloom", "mpt": "mpt", "starcoder": "gpt_bigcode",
    "starcoder2": "starcoder2",
    "stablelm": "stablelm", "command-r": "cohere", "cohere2": "cohere2", "dbrx": "dbrx",
    "olmo": "olmo", "olmo2": "olmo2", "olmoe": "olmoe", "granite": "granite", "granitemoe": "granitemoe",
    "minicpm": "minicpm", "minicpm3": "minicpm3", "internlm2": "internlm2", "baichuan": "baichuan",
    "chatglm": "chatglm", "glm4": "glm4", "glm4moe": "glm4_moe", "exaone": "exaone", "exaone4": "exaone4",
    "smollm3": "smollm3", "mamba": "mamba", "mamba2": "mamba2", "jamba": "jamba", "lfm2": "lfm2",
    "ernie4_5": "ernie4_5", "ernie4_5-moe": "ernie4_5_moe", "hunyuan-moe": "hunyuan_v1_moe",
    "arcee": "arcee", "dots1": "dots1", "seed_oss": "seed_oss", "bailingmoe": "bailing_moe",
}

# Same architecture name, different Hugging Face family, told apart by one key: (arch, key suffix,
# predicate on its value, family). Mixtral converts to arch "llama" with experts; DeepSeek V3 (and
# Kimi K2) convert to "deepseek2" and write expert_gating_func = 2 (sigmoid), where V2 has 1 (softmax)
# or, in older conversions, no key at all (llama.cpp LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID = 2).
FAMILY_VARIANTS: list[tuple[str, str, Any, str]] = [
    ("llama", "expert_count", lambda v: v > 0, "mixtral"),
    ("deepseek2", "expert_gating_func", lambda v: v == 2, "deepseek_v3"),
]

# Sliding-window layer pattern llama.cpp hard-codes when the file has no
# ``{arch}.attention.sliding_window_pattern``: arch → (period, dense_first, default window or 0 for
# "the file's key"). llama_hparams::set_swa_pattern(n, dense_first): layer il slides when
# il % n < n - 1 (dense_first: when il % n != 0). Gemma 3 270M: period 6, so layers 5, 11, 17 are full.
SWA_PATTERNS: dict[str, tuple[int, bool, int]] = {
    "gemma2": (2, False, 4096),  # llama-model.cpp LLM_ARCH_GEMMA2: n_swa = 4096 unless the key says
    "gemma3": (6, False, 0),  # LLM_ARCH_GEMMA3 (no SWA when the sliding_window key is absent or 0)
    "gemma-embedding": (6, False, 0),  # LLM_ARCH_GEMMA_EMBEDDING (symmetric window)
    "gemma3n": (5, False, 0),  # LLM_ARCH_GEMMA3N
    "cohere2": (4, False, 0),  # LLM_ARCH_COHERE2
    "gpt-oss": (2, False, 0),  # LLM_ARCH_OPENAI_MOE: swa_period = 2, key may override
    "llama4": (4, False, 8192),  # LLM_ARCH_LLAMA4: chunked attention, 8192-token chunks, 3 of 4 layers
}
CHUNKED_ATTENTION = {"llama4"}  # LLAMA_SWA_TYPE_CHUNKED: the window is a chunk, not a sliding span
# Architectures whose every layer keeps a fixed-size recurrent state instead of a KV cache.
RECURRENT = {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"}
# Encoder-decoders (llama.cpp: T5): block_count is the encoder's; the decoder's is decoder_block_count
# (LLM_KV_DECODER_BLOCK_COUNT, hparams.dec_n_layer, defaulting to block_count), the layers that cache.
ENCODER_DECODER = {"t5"}
# Architectures whose layers with no KV heads hold no cache at all rather than a recurrent state:
# llama.cpp's deci graph (Nemotron-NAS, src/models/deci.cpp) skips attention where n_head(il) == 0 and
# applies wo alone where n_head_kv(il) == 0 ("linear attention"); neither keeps K, V or a state.
NO_KV_MEANS_NO_CACHE = {"deci"}
# Architectures llama.cpp runs with no memory at all (llama_model::create_memory returns nullptr: the
# encoders and the diffusion models attend over the batch alone): every layer "none", no KV cache.
NO_MEMORY = {"bert", "jina-bert-v2", "jina-bert-v3", "nomic-bert", "nomic-bert-moe", "neo-bert",
             "wavtokenizer-dec", "modern-bert", "gemma-embedding", "dream", "llada", "llada-moe", "rnd1"}
MAX_LAYERS = 10_000  # far above any real model (DeepSeek V3: 61); more means a corrupt block_count
# archs whose nextn_predict_layers is no MTP block after the trunk: Granite Switch adds its router layer at
# load and sets n_layer_nextn to 1 for it ("no MTP: it leaks ... into a re-saved nextn_predict_layers",
# models/granite-switch.cpp), the file's block_count being the trunk already
NEXTN_NOT_MTP = frozenset({"graniteswitch"})

# ArchConfig field → key suffix after "{arch}." (counts; a per-layer array gives its maximum).
COUNT_KEYS: dict[str, str] = {
    "n_layers": "block_count",
    "hidden_size": "embedding_length",
    "n_heads": "attention.head_count",
    "n_kv_heads": "attention.head_count_kv",
    "ffn_size": "feed_forward_length",
    "context_length": "context_length",
    "n_experts": "expert_count",
    "n_experts_per_token": "expert_used_count",
    "n_shared_experts": "expert_shared_count",
    "n_dense_layers": "leading_dense_block_count",
    "expert_ffn_size": "expert_feed_forward_length",
    "kv_lora_rank": "attention.kv_lora_rank",
    "q_lora_rank": "attention.q_lora_rank",
}
# extra name → key (a "{arch}." template or a general key); copied into ArchConfig.extra when present.
EXTRA_KEYS: dict[str, str] = {
    "rope_theta": "{arch}.rope.freq_base",
    "rope_dim": "{arch}.rope.dimension_count",
    "rope_scaling_type": "{arch}.rope.scaling.type",
    "rope_scaling_factor": "{arch}.rope.scaling.factor",
    "norm_eps": "{arch}.attention.layer_norm_rms_epsilon",
    "layer_norm_eps": "{arch}.attention.layer_norm_epsilon",
    "expert_gating_func": "{arch}.expert_gating_func",
    "expert_shared_ffn_size": "{arch}.expert_shared_feed_forward_length",
    "key_length_mla": "{arch}.attention.key_length_mla",
    "value_length_mla": "{arch}.attention.value_length_mla",
    # Gemma 3n / 4's per-layer inputs, as the HF config's name (runtimes/llamacpp/compute.py)
    "hidden_size_per_layer_input": "{arch}.embedding_length_per_layer_input",
    "file_type": "general.file_type",
    "quantization_version": "general.quantization_version",
}
PER_LAYER = {"n_heads": "n_heads_per_layer", "n_kv_heads": "n_kv_heads_per_layer",
             "ffn_size": "ffn_size_per_layer"}


def arch_config(metadata: Mapping[str, Any], tensor_names: set[str], embedding_rows: int,
                file: str) -> ArchConfig | None:
    """The ArchConfig a GGUF file's keys describe; None for files that are not a layered model."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str) or _count(metadata.get(f"{arch}.block_count")) is None:
        return None
    counts = {f: _count(metadata.get(f"{arch}.{k}")) or 0 for f, k in COUNT_KEYS.items()}
    blocks = counts["n_layers"]
    if blocks > MAX_LAYERS:
        raise HeaderError(file, f"{arch}.block_count is implausible", blocks, f"at most {MAX_LAYERS}")
    extra = _extra(metadata, arch)
    # GLM-4.5's, GLM-5's and DeepSeek-V3.2's GGUFs append their multi-token-prediction layers as blocks
    # after the trunk (nextn_predict_layers of them): llama.cpp caches the trunk alone (llama_hparams::
    # n_layer() = n_layer_all − n_layer_nextn) and places layers over every block (runtimes/llamacpp/kv.py
    # block_count), so n_layers is the trunk and extra["nextn_layers"] the rest
    nextn = _count(metadata.get(f"{arch}.nextn_predict_layers")) or 0 if arch not in NEXTN_NOT_MTP else 0
    n_layers = blocks - nextn if 0 < nextn < blocks else blocks
    counts["n_layers"] = n_layers
    if n_layers < blocks:
        extra["nextn_layers"] = blocks - n_layers
    for f, name in PER_LAYER.items():
        per_layer = _per_layer(metadata.get(f"{arch}.{COUNT_KEYS[f]}"))
        if per_layer is not None:
            extra[name] = per_layer[:n_layers]
    n_heads = counts["n_heads"]
    if metadata.get(f"{arch}.attention.head_count_kv") is None:
        counts["n_kv_heads"] = n_heads  # llama.cpp: n_head_kv defaults to n_head
    head_k, head_v = _head_dims(metadata, arch, counts["hidden_size"], n_heads)
    window, layer_types = _layers(metadata, arch, n_layers, extra, file)
    # MLA (DeepSeek V2/V3): rope.dimension_count is the decoupled RoPE key width (qk_rope_head_dim, 64)
    rope_dim = _count(metadata.get(f"{arch}.rope.dimension_count")) or 0
    if counts["kv_lora_rank"]:
        # llama.cpp caches the compressed latent only with both per-head MLA widths in the file
        # (llama_hparams::is_mla: n_embd_head_k_mla != 0 && n_embd_head_v_mla != 0; convert_hf_to_gguf
        # writes them since PR 12801, April 2025). Without them (older DeepSeek-V2/V3 GGUFs, MiniCPM3)
        # it runs multi-head attention over head_count_kv heads of key_length / value_length
        # (runtimes/llamacpp/kv.py caches_mla_latent)
        extra["mla_latent_cache"] = bool(_count(metadata.get(f"{arch}.attention.key_length_mla"))
                                         and _count(metadata.get(f"{arch}.attention.value_length_mla")))
    return ArchConfig(
        family=_family(metadata, arch), architecture=arch, **counts,
        head_dim_k=head_k, head_dim_v=head_v, vocab_size=_vocab(metadata, arch, embedding_rows),
        tied_embeddings="output.weight" not in tensor_names,
        rope_head_dim=rope_dim if counts["kv_lora_rank"] else 0,
        sliding_window=window, layer_types=layer_types, extra=extra,
        decoder_layers=(_count(metadata.get(f"{arch}.decoder_block_count")) or n_layers
                        if arch in ENCODER_DECODER else 0),
    )


def _family(metadata: Mapping[str, Any], arch: str) -> str:
    for name, suffix, test, family in FAMILY_VARIANTS:
        value = _count(metadata.get(f"{arch}.{suffix}"))
        if arch == name and value is not None and test(value):
            return family
    return FAMILIES.get(arch, arch)


def _head_dims(metadata: Mapping[str, Any], arch: str, hidden: int, n_heads: int) -> tuple[int, int]:
    """Key and value head widths. llama.cpp defaults both to n_embd / n_head when the keys are absent;
    MLA files (DeepSeek V2/V3) that store the absorbed cache width in key_length keep the per-head
    width in key_length_mla / value_length_mla, which is what a head is."""
    default = hidden // n_heads if n_heads else 0
    dims = []
    for kind in ("key", "value"):
        mla = _count(metadata.get(f"{arch}.attention.{kind}_length_mla"))
        plain = _count(metadata.get(f"{arch}.attention.{kind}_length"))
        dims.append(mla or plain or default)
    return dims[0], dims[1]


def _vocab(metadata: Mapping[str, Any], arch: str, embedding_rows: int) -> int:
    size = _count(metadata.get(f"{arch}.vocab_size"))
    if size is None:
        tokens = metadata.get("tokenizer.ggml.tokens")
        size = len(tokens) if isinstance(tokens, Sized) and not isinstance(tokens, str) else None
    return size if size is not None else embedding_rows


def _layers(metadata: Mapping[str, Any], arch: str, n_layers: int, extra: dict[str, Any],
            file: str) -> tuple[int, tuple[str, ...]]:
    """The sliding window and each layer's kind: "full", "sliding", "linear" or "none" (a deci layer
    without KV heads).

    Layers slide only where llama.cpp makes them slide: a pattern (from the file or the arch table)
    and a non-zero window (the file's key, else the arch default). A window key on an arch llama.cpp
    runs without one (Phi-3, Mistral as "llama") is kept in extra as declared_sliding_window.
    """
    declared = _count(metadata.get(f"{arch}.attention.sliding_window"))
    window = declared if declared is not None else SWA_PATTERNS.get(arch, (0, False, 0))[2]
    sliding = _sliding_layers(metadata, arch, n_layers, file)
    if sliding is None or not window or not any(sliding):
        if declared:
            extra["declared_sliding_window"] = declared
        window, sliding = 0, [False] * n_layers
    elif arch in CHUNKED_ATTENTION:
        extra["attention_chunked"] = True
    linear = _linear_layers(metadata, arch, n_layers)
    if arch in NO_MEMORY:
        return window, ("none",) * n_layers
    recurrent = "none" if arch in NO_KV_MEANS_NO_CACHE else "linear"
    kinds = tuple(recurrent if lin else "sliding" if sl else "full"
                  for sl, lin in zip(sliding, linear, strict=True))
    return window, kinds


def _sliding_layers(metadata: Mapping[str, Any], arch: str, n_layers: int, file: str) -> list[bool] | None:
    """Which layers slide: the file's sliding_window_pattern (a period, or one flag per layer, the MTP
    blocks after the trunk left out), else the period llama.cpp hard-codes for the arch; None when neither
    exists."""
    pattern = metadata.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, np.ndarray) and pattern.dtype.kind in "biu":
        if len(pattern) not in (n_layers, _block_count(metadata, arch)):
            raise HeaderError(file, f"{arch}.attention.sliding_window_pattern needs one entry per layer",
                              f"{len(pattern)} entries", f"{n_layers}")
        return [bool(x) for x in pattern.tolist()[:n_layers]]
    period = _count(pattern)
    if period is None and arch in SWA_PATTERNS:
        period = SWA_PATTERNS[arch][0]
    if period is None:
        return None
    dense_first = SWA_PATTERNS.get(arch, (0, False, 0))[1]
    # llama_hparams::set_swa_pattern (llama-hparams.cpp); period 0 means every layer slides
    if dense_first:
        return [period == 0 or il % period != 0 for il in range(n_layers)]
    return [period == 0 or il % period < period - 1 for il in range(n_layers)]


def _block_count(metadata: Mapping[str, Any], arch: str) -> int:
    """The file's block_count: the trunk's layers and any MTP blocks after them."""
    return _count(metadata.get(f"{arch}.block_count")) or 0


def _linear_layers(metadata: Mapping[str, Any], arch: str, n_layers: int) -> list[bool]:
    """Layers with a recurrent state instead of attention: every layer of a recurrent arch; layers
    whose per-layer KV head count is 0 (Jamba, Falcon-H1 style hybrids); or all but every Nth layer
    when the file has full_attention_interval (Qwen3-Next: llama.cpp recurrent_layer_arr[il] =
    (il + 1) % interval != 0)."""
    if arch in RECURRENT:
        return [True] * n_layers
    kv = metadata.get(f"{arch}.attention.head_count_kv")
    if isinstance(kv, np.ndarray) and kv.dtype.kind in "iu" and len(kv) in (n_layers,
                                                                             _block_count(metadata, arch)):
        return [x == 0 for x in kv.tolist()[:n_layers]]
    interval = _count(metadata.get(f"{arch}.full_attention_interval"))
    if interval:
        return [(il + 1) % interval != 0 for il in range(n_layers)]
    return [False] * n_layers


def _extra(metadata: Mapping[str, Any], arch: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for name, template in EXTRA_KEYS.items():
        value = metadata.get(template.format(arch=arch))
        if isinstance(value, int | float | str):
            extra[name] = value
    return extra


def _count(value: Any) -> int | None:
    """A non-negative integer from a scalar key or a per-layer array (its maximum); None otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1 and len(value):
        top = int(value.max())
        return top if top >= 0 else None
    return None


def _per_layer(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.ndim == 1:
        return tuple(value.tolist())
    return None
