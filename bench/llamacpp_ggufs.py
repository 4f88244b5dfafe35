"""Small random-weight GGUFs of several architectures for checking the llama.cpp profile against llama.cpp.

Each entry of ARCHS is the whole recipe of one file: the GGUF metadata llama.cpp reads and, from the same
numbers, the ArchConfig paramscope predicts with (``arch_config``). bench/bench_llamacpp_archs.py writes
the files with gguf-py, runs them through llama-cpp-python and records what llama.cpp printed in
tests/fixtures/llamacpp_archs.json together with these recipes, so that CI rebuilds the ArchConfig without
the files. The weights are random F16 (norms F32): the compute buffer depends on shapes only.

The tokenizer is llama.cpp's "none" vocabulary ({arch}.vocab_size dummy tokens): the graph and the
output buffer need the vocabulary's size, not its strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The recipes: realistic widths (a vocabulary of 32k-152k tokens makes the logits the large tensor they
# are in real models), few layers. "swa_pattern": gemma3's hard-coded pattern (every 6th layer full).
ARCHS: dict[str, dict[str, Any]] = {
    "llama": dict(arch="llama", n_layer=4, n_embd=512, n_head=8, n_head_kv=4, head_dim=64, n_ff=1408,
                  n_vocab=32000, n_ctx_train=32768, tied=False),
    "qwen2": dict(arch="qwen2", n_layer=3, n_embd=256, n_head=4, n_head_kv=2, head_dim=64, n_ff=704,
                  n_vocab=151936, n_ctx_train=32768, tied=True, qkv_bias=True),
    "gemma3": dict(arch="gemma3", n_layer=7, n_embd=384, n_head=4, n_head_kv=1, head_dim=128, n_ff=1024,
                   n_vocab=65536, n_ctx_train=32768, tied=True, sliding_window=512, swa_pattern=6),
    # more of what the graph builder covers: Qwen3 dense (q/k norms, head dim 128: a 128 × 128 K
    # rotation) and a Mixtral-style llama with experts (llama.cpp's llama graph, MoE branch)
    "qwen3": dict(arch="qwen3", n_layer=3, n_embd=512, n_head=8, n_head_kv=2, head_dim=128, n_ff=1536,
                  n_vocab=151936, n_ctx_train=32768, tied=True),
    "mixtral": dict(arch="llama", n_layer=2, n_embd=256, n_head=8, n_head_kv=2, head_dim=32, n_ff=512,
                    n_vocab=32000, n_ctx_train=32768, tied=False, n_expert=4, n_expert_used=2, n_ff_exp=512),
    # Phi-3: fused attn_qkv and gate/up; the GGUF states a 2047-token window that llama.cpp ignores
    "phi3": dict(arch="phi3", n_layer=3, n_embd=384, n_head=6, n_head_kv=6, head_dim=64, n_ff=1024,
                 n_vocab=32064, n_ctx_train=32768, tied=False, sliding_window=2047, swa_pattern=None),
    # gpt-oss: sliding and full layers alternating (llama.cpp's pattern 2), attention sinks, biases on
    # attention, router and experts
    "gpt-oss": dict(arch="gpt-oss", n_layer=4, n_embd=384, n_head=8, n_head_kv=2, head_dim=64, n_ff=256,
                    n_vocab=100000, n_ctx_train=32768, tied=False, qkv_bias=True, sliding_window=128,
                    swa_pattern=2, n_expert=8, n_expert_used=2, n_ff_exp=256),
    "qwen3moe": dict(arch="qwen3moe", n_layer=3, n_embd=512, n_head=8, n_head_kv=4, head_dim=64, n_ff=768,
                     n_vocab=151936, n_ctx_train=32768, tied=False, n_expert=8, n_expert_used=2,
                     n_ff_exp=256),
}

# Files only llama.cpp's quantizer reads (bench/bench_llamacpp_quantize.py), which loads a model's metadata
# and not its tensors: a llama whose layers hold fused attn_qkv (three layers of four, as Qwen3.5's linear
# layers), attn_v (the fourth) and in two layers an attn_kv_b, so that the three categories share
# llama-quantize's attn_v counter over 16 layers, and in one layer the split attn_k_b / attn_v_b of newer
# MLA files, which no rule reaches; widths whole in 256-blocks, so that no fallback hides a rule's type
# (but k_b's rows, one head wide).
QUANTIZE_ONLY: dict[str, dict[str, Any]] = {
    "mixed-attn": dict(arch="llama", n_layer=16, n_embd=512, n_head=8, n_head_kv=4, head_dim=64, n_ff=1536,
                       n_vocab=32000, n_ctx_train=32768, tied=False,
                       fused_qkv_layers=tuple(il for il in range(16) if il % 4 != 3), kv_b_layers=(5, 10),
                       k_b_layers=(9,)),
}


def layer_types(r: dict[str, Any]) -> tuple[str, ...]:
    if not r.get("sliding_window"):
        return ()
    pattern = r["swa_pattern"]
    if pattern is None:  # every layer slides (as the GGUF reader reads Phi-3)
        return ("sliding",) * r["n_layer"]
    return tuple("full" if (il + 1) % pattern == 0 else "sliding" for il in range(r["n_layer"]))


def arch_config(r: dict[str, Any]):
    """The ArchConfig paramscope's GGUF reader builds for this recipe."""
    from paramscope.model import ArchConfig

    return ArchConfig(
        family=r["arch"], architecture=r["arch"], n_layers=r["n_layer"], hidden_size=r["n_embd"],
        n_heads=r["n_head"], n_kv_heads=r["n_head_kv"], head_dim_k=r["head_dim"], head_dim_v=r["head_dim"],
        ffn_size=r["n_ff"], vocab_size=r["n_vocab"], context_length=r["n_ctx_train"],
        tied_embeddings=r["tied"], n_experts=r.get("n_expert", 0),
        n_experts_per_token=r.get("n_expert_used", 0), expert_ffn_size=r.get("n_ff_exp", 0),
        sliding_window=r.get("sliding_window", 0), layer_types=layer_types(r))


def tensor_specs(r: dict[str, Any]) -> list[tuple[str, tuple[int, ...], str]]:
    """The file's tensors in writing order: (name, numpy shape (ggml ne reversed), kind), kind "mat" (F16
    weights), "bias" (f32) or "vec" (a norm, f32)."""
    out: list[tuple[str, tuple[int, ...], str]] = []
    arch, n_embd, hd = r["arch"], r["n_embd"], r["head_dim"]
    q_width, kv_width = r["n_head"] * hd, r["n_head_kv"] * hd

    def mat(name: str, *shape: int) -> None:  # numpy order: rows (ggml ne[1]) first
        out.append((name, shape, "mat"))

    def bias(name: str, *shape: int) -> None:
        out.append((name, shape, "bias"))

    def vec(name: str, n: int) -> None:
        out.append((name, (n,), "vec"))

    mat("token_embd.weight", r["n_vocab"], n_embd)
    vec("output_norm.weight", n_embd)
    if not r["tied"]:
        mat("output.weight", r["n_vocab"], n_embd)
    for il in range(r["n_layer"]):
        b = f"blk.{il}."
        vec(b + "attn_norm.weight", n_embd)
        if arch == "phi3" or il in r.get("fused_qkv_layers", ()):
            mat(b + "attn_qkv.weight", q_width + 2 * kv_width, n_embd)
        else:
            mat(b + "attn_q.weight", q_width, n_embd)
            mat(b + "attn_k.weight", kv_width, n_embd)
            mat(b + "attn_v.weight", kv_width, n_embd)
        if il in r.get("kv_b_layers", ()):  # an MLA up-projection, as DeepSeek's older GGUFs hold it
            mat(b + "attn_kv_b.weight", 2 * q_width, n_embd)
        if il in r.get("k_b_layers", ()):  # the same split, as the converter writes it since MLA: k_b's
            mat(b + "attn_k_b.weight", r["n_head"], n_embd, hd)  # rows (ne[0]) are one head's width
            mat(b + "attn_v_b.weight", r["n_head"], hd, n_embd)
        mat(b + "attn_output.weight", n_embd, q_width)
        if r.get("qkv_bias"):
            vec(b + "attn_q.bias", q_width)
            vec(b + "attn_k.bias", kv_width)
            vec(b + "attn_v.bias", kv_width)
        if arch in ("gemma3", "qwen3", "qwen3moe"):
            vec(b + "attn_q_norm.weight", hd)
            vec(b + "attn_k_norm.weight", hd)
        if arch == "gemma3":
            vec(b + "post_attention_norm.weight", n_embd)
            vec(b + "post_ffw_norm.weight", n_embd)
        if arch == "gpt-oss":
            vec(b + "post_attention_norm.weight", n_embd)  # the FFN's input norm
            vec(b + "attn_output.bias", n_embd)
            vec(b + "attn_sinks.weight", r["n_head"])
        else:
            vec(b + "ffn_norm.weight", n_embd)
        if r.get("n_expert"):
            n_exp, n_ff_exp = r["n_expert"], r["n_ff_exp"]
            mat(b + "ffn_gate_inp.weight", n_exp, n_embd)
            mat(b + "ffn_gate_exps.weight", n_exp, n_ff_exp, n_embd)
            mat(b + "ffn_up_exps.weight", n_exp, n_ff_exp, n_embd)
            mat(b + "ffn_down_exps.weight", n_exp, n_embd, n_ff_exp)
            if arch == "gpt-oss":
                bias(b + "ffn_gate_inp.bias", n_exp)
                bias(b + "ffn_gate_exps.bias", n_exp, n_ff_exp)
                bias(b + "ffn_up_exps.bias", n_exp, n_ff_exp)
                bias(b + "ffn_down_exps.bias", n_exp, n_embd)
        elif arch == "phi3":
            mat(b + "ffn_up.weight", 2 * r["n_ff"], n_embd)
            mat(b + "ffn_down.weight", n_embd, r["n_ff"])
        else:
            mat(b + "ffn_gate.weight", r["n_ff"], n_embd)
            mat(b + "ffn_up.weight", r["n_ff"], n_embd)
            mat(b + "ffn_down.weight", n_embd, r["n_ff"])
    return out


def _writer(r: dict[str, Any], path: Path):
    """A GGUFWriter holding the recipe's metadata, no tensors yet."""
    import gguf

    n_embd, hd = r["n_embd"], r["head_dim"]
    w = gguf.GGUFWriter(str(path), r["arch"])
    w.add_context_length(r["n_ctx_train"])
    w.add_embedding_length(n_embd)
    w.add_block_count(r["n_layer"])
    w.add_feed_forward_length(r["n_ff"])
    w.add_head_count(r["n_head"])
    w.add_head_count_kv(r["n_head_kv"])
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(r["n_vocab"])
    w.add_tokenizer_model("none")
    if r.get("sliding_window"):
        w.add_sliding_window(r["sliding_window"])
    if r.get("n_expert"):
        w.add_expert_count(r["n_expert"])
        w.add_expert_used_count(r["n_expert_used"])
        w.add_expert_feed_forward_length(r["n_ff_exp"])
    return w


def write_gguf(r: dict[str, Any], path: Path, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    w = _writer(r, path)
    for name, shape, kind in tensor_specs(r):
        if kind == "mat":  # F16 weights
            w.add_tensor(name, (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16))
        elif kind == "bias":  # f32, as converted GGUFs store biases
            w.add_tensor(name, rng.standard_normal(shape, dtype=np.float32) * 0.02)
        else:  # a norm's f32 ones
            w.add_tensor(name, np.ones(shape, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_gguf_header(r: dict[str, Any], path: Path) -> None:
    """The same file's metadata and tensor list, its data a sparse hole of the right length: a reader that
    reads no values sees the file write_gguf makes, in a few kB of disk (the tests' way to it)."""
    import gguf
    import numpy as np

    w = _writer(r, path)
    data = 0
    for name, shape, kind in tensor_specs(r):
        dtype = np.dtype(np.float16 if kind == "mat" else np.float32)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        w.add_tensor_info(name, shape, dtype, nbytes)
        data += gguf.GGUFWriter.ggml_pad(nbytes, w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    with open(path, "r+b") as f:
        f.seek(0, 2)
        f.truncate(gguf.GGUFWriter.ggml_pad(f.tell(), w.data_alignment) + data)
