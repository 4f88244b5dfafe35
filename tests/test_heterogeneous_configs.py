"""Families whose layers differ (knowledge/families/heterogeneous.py): Nemotron-NAS block_configs,
DeciLM-7B's per-layer KV heads and OpenELM's per-layer heads and FFN widths.

Reference for the real config (tests/fixtures/heterogeneous/README.md): the parameter count of
nvidia/Llama-3_3-Nemotron-Super-49B-v1 quoted in a public research log (search-tool file id 63224824488:
"Confirmed size 49,867,145,216 bf16 params"); its checkpoint is all bf16, so the bytes are twice that.
The KV cache per token is the hand formula Σ over attending layers 2 × (heads / n_heads_in_group) ×
head_dim × 2 B (f16), which a third-party sizing tool's test also gives for this model (file id
57936580879: "attention layers 49", "200704 bytes/token").

OpenELM: the parameter counts of the Hugging Face artifacts apple/OpenELM-1_1B (1,079,891,456) and
apple/OpenELM-450M (457,179,136) quoted in a public experiment plan (file id 69587622226); the 1.1B config is
mlx-community/OpenELM-1_1B-Instruct-4bit's, quoted field for field in a public test (file id 61360280119),
i.e. apple's config plus mlx-lm's "quantization"; the 450M per-layer heads and FFN widths come from a
public converter's table (file id 2777741477), with the same tensor names as listed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.kv_cache import kv_cache_for_context
from paramscope.errors import FormatError, UnsupportedError
from paramscope.knowledge.families import arch_config_from_hf, expected_tensors
from paramscope.knowledge.families.heterogeneous import (
    ffn_mult_to_intermediate_size,
    kv_bytes_per_token,
    shape,
)
from paramscope.knowledge.roles import place
from paramscope.model.dtypes import DType

FIXTURES = Path(__file__).parent / "fixtures" / "heterogeneous"
SUPER = json.loads((FIXTURES / "nvidia__Llama-3_3-Nemotron-Super-49B-v1.config.json").read_text())
OPENELM_MLX = json.loads((FIXTURES / "mlx-community__OpenELM-1_1B-Instruct-4bit.config.json").read_text())


def test_super_49b_total_to_the_parameter_and_byte() -> None:
    tensors = expected_tensors(SUPER)
    assert sum(t.params for t in tensors) == 49_867_145_216
    assert sum(t.nbytes for t in tensors) == 99_734_290_432
    assert {t.dtype for t in tensors} == {DType.BF16}


def _expected_names(cfg: dict) -> set[str]:
    """The names modeling_decilm.py's DeciLMDecoderLayer registers, written out from the block configs."""
    names = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
    for i, block in enumerate(cfg["block_configs"]):
        p, attn, ffn = f"model.layers.{i}.", block["attention"], block["ffn"]
        if not attn.get("no_op"):
            names.add(p + "input_layernorm.weight")
            if attn.get("replace_with_linear"):
                names.add(p + "self_attn.linear_attn.weight")
            else:
                names |= {f"{p}self_attn.{x}_proj.weight" for x in "qkvo"}
        if not ffn.get("no_op"):
            names.add(p + "post_attention_layernorm.weight")
            if ffn.get("replace_with_linear"):
                names.add(p + "mlp.linear_mlp.weight")
            else:
                names |= {f"{p}mlp.{x}_proj.weight" for x in ("gate", "up", "down")}
    return names


def test_super_49b_names_and_layers() -> None:
    names = [t.name for t in expected_tensors(SUPER)]
    assert len(names) == len(set(names)) == 568
    assert set(names) == _expected_names(SUPER)
    # block 6 has no attention: no self_attn and no input_layernorm in that layer
    assert not any(n.startswith("model.layers.6.self_attn") or n == "model.layers.6.input_layernorm.weight"
                   for n in names)
    cfg = arch_config_from_hf(SUPER)
    assert cfg.layer_types.count("full") == 49 and cfg.layer_types.count("none") == 31
    assert (cfg.n_kv_heads, cfg.head_dim_k, cfg.ffn_size) == (8, 128, 28672)
    widths = cfg.extra["ffn_size_per_layer"]
    assert widths[0] == ffn_mult_to_intermediate_size(2.625, 8192) == 14336
    assert widths[11] == ffn_mult_to_intermediate_size(3.28125, 8192) == 17920


def test_super_49b_kv_cache_per_token() -> None:
    cfg = arch_config_from_hf(SUPER)
    assert kv_cache_for_context(cfg, 1).total_bytes == 200_704 == 49 * 2 * 8 * 128 * 2
    assert kv_cache_for_context(cfg, 8192).total_bytes == 8192 * 200_704
    assert kv_bytes_per_token(shape(SUPER)) == 200_704


def test_linear_replacements_and_components() -> None:
    cfg = _nas([{"attention": {"replace_with_linear": True}, "ffn": {"replace_with_linear": True}},
                {"attention": {"n_heads_in_group": 2}, "ffn": {"no_op": True}},
                {"attention": {"no_op": True}, "ffn": {"ffn_mult": 1.0}}])
    by_name = {t.name: t for t in expected_tensors(cfg)}
    assert by_name["model.layers.0.self_attn.linear_attn.weight"].shape == (64, 64)
    assert by_name["model.layers.0.mlp.linear_mlp.weight"].shape == (64, 64)
    assert "model.layers.1.post_attention_layernorm.weight" not in by_name
    assert by_name["model.layers.1.self_attn.k_proj.weight"].shape == (2 * 16, 64)
    assert by_name["model.layers.2.mlp.gate_proj.weight"].shape == (256, 64)  # int(2·64/3)=42 → 256
    assert place("model.layers.0.self_attn.linear_attn.weight").component == "attention/linear"
    assert place("model.layers.0.mlp.linear_mlp.weight").component == "ffn/linear"
    arch = arch_config_from_hf(cfg)
    assert arch.layer_types == ("none", "full", "none")  # a linear-replaced attention caches nothing
    assert kv_cache_for_context(arch, 1).total_bytes == 2 * 2 * 16 * 2


def test_refusals_name_the_block() -> None:
    with pytest.raises(UnsupportedError, match=r"block_configs\[0\].*parallel_blocks"):
        expected_tensors(_nas([{"attention": {}, "ffn": {}, "parallel_blocks": [{}]}]))
    with pytest.raises(UnsupportedError, match=r"block_configs\[0\]\.attention\.window_length is set"):
        expected_tensors(_nas([{"attention": {"n_heads_in_group": 2, "window_length": 128}, "ffn": {}}]))
    with pytest.raises(UnsupportedError, match=r"ffn\.moe is set"):
        expected_tensors(_nas([{"attention": {"no_op": True}, "ffn": {"moe": {"num_local_experts": 8}}}]))
    with pytest.raises(FormatError, match=r"n_heads_in_group"):
        expected_tensors(_nas([{"attention": {"n_heads_in_group": 3}, "ffn": {"ffn_mult": 1.0}}]))
    with pytest.raises(FormatError, match=r"num_hidden_layers"):
        expected_tensors({**_nas([{"attention": {"no_op": True}, "ffn": {"no_op": True}}]),
                          "num_hidden_layers": 2})


def test_deci_per_layer_kv_heads() -> None:
    cfg = {"model_type": "deci", "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 96,
           "num_hidden_layers": 3, "num_key_value_heads_per_layer": [4, 2, 1], "vocab_size": 100,
           "torch_dtype": "bfloat16"}
    by_name = {t.name: t for t in expected_tensors(cfg)}
    assert [by_name[f"model.layers.{i}.self_attn.k_proj.weight"].shape[0] for i in range(3)] == [64, 32, 16]
    arch = arch_config_from_hf(cfg)
    kv = kv_cache_for_context(arch, 10)
    assert kv.total_bytes == 10 * 2 * (4 + 2 + 1) * 16 * 2
    assert sorted(p.k_width for p in kv.parts) == [16, 32, 64]


def _nas(blocks: list[dict], hidden: int = 64, heads: int = 4) -> dict:
    return {"model_type": "nemotron-nas", "hidden_size": hidden, "num_attention_heads": heads,
            "vocab_size": 100, "max_position_embeddings": 512, "torch_dtype": "bfloat16",
            "block_configs": blocks}


_attention = st.one_of(st.just({"no_op": True}), st.just({"replace_with_linear": True}),
                       st.sampled_from([1, 2, 4, 8]).map(lambda g: {"n_heads_in_group": g}))
_ffn = st.one_of(st.just({"no_op": True}), st.just({"replace_with_linear": True}),
                 st.sampled_from([0.5, 1.0, 1.3125, 2.625, 3.28125, 5.25]).map(lambda m: {"ffn_mult": m}))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({"attention": _attention, "ffn": _ffn}), min_size=1, max_size=12),
       st.booleans(), st.booleans())
def test_generated_blocks_sum_per_layer(blocks: list[dict], attention_bias: bool, tied: bool) -> None:
    """Each layer's count by hand from its block (q/o: h·h, k/v: h·kv·hd, gated FFN 3·h·w, linear h·h,
    a norm per present slot) summed with embedding, final norm and head equals the listed total; the
    KV cache per token is Σ 2 · kv · hd · 2 B over attending layers."""
    h, heads, hd, vocab = 64, 8, 8, 100
    cfg = {**_nas(blocks, h, heads), "attention_bias": attention_bias, "tie_word_embeddings": tied}
    tensors = expected_tensors(cfg)
    total = vocab * h + h + (0 if tied else vocab * h)
    kv_bytes = 0
    for i, b in enumerate(blocks):
        layer = sum(t.params for t in tensors if t.name.startswith(f"model.layers.{i}."))
        expect = 0
        a, f = b["attention"], b["ffn"]
        if "n_heads_in_group" in a:
            kv = heads // a["n_heads_in_group"]
            expect += h + 2 * h * h + 2 * h * kv * hd + (h + 2 * kv * hd + h if attention_bias else 0)
            kv_bytes += 2 * kv * hd * 2
        elif a.get("replace_with_linear"):
            expect += h + h * h
        if "ffn_mult" in f:
            expect += h + 3 * h * ffn_mult_to_intermediate_size(f["ffn_mult"], h)
        elif f.get("replace_with_linear"):
            expect += h + h * h
        assert layer == expect
        total += layer
    assert sum(t.params for t in tensors) == total
    assert sum(t.nbytes for t in tensors) == 2 * total
    assert len({t.name for t in tensors}) == len(tensors)
    arch = arch_config_from_hf(cfg)
    got = kv_cache_for_context(arch, 1).total_bytes if "full" in arch.layer_types else 0
    assert got == kv_bytes == kv_bytes_per_token(shape(cfg))


def test_openelm_1_1b_total_and_layers() -> None:
    cfg = {k: v for k, v in OPENELM_MLX.items() if k != "quantization"}  # apple's own config
    tensors = expected_tensors(cfg)
    assert sum(t.params for t in tensors) == 1_079_891_456
    by_name = {t.name: t for t in tensors}
    assert by_name["transformer.layers.0.attn.qkv_proj.weight"].shape == ((16 + 2 * 4) * 64, 2048)
    assert by_name["transformer.layers.27.attn.out_proj.weight"].shape == (2048, 32 * 64)
    # the public test's widths: layer 0 → 1024, 1 → 1280, 13 → 4608, 27 → 8192 (proj_1 holds gate + up)
    assert [by_name[f"transformer.layers.{i}.ffn.proj_2.weight"].shape[1] for i in (0, 1, 13, 27)] == \
        [1024, 1280, 4608, 8192]
    assert by_name["transformer.layers.13.ffn.proj_1.weight"].shape == (2 * 4608, 2048)
    assert "lm_head.weight" not in by_name  # share_input_output_layers
    assert len(tensors) == 1 + 28 * 8 + 1
    assert place("transformer.layers.0.ffn.proj_1.weight").component == "ffn/gate_up"
    assert place("transformer.token_embeddings.weight").component == "embedding"
    arch = arch_config_from_hf(cfg)
    heads = [4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 8, 8, 8, 8]
    assert arch.extra["n_kv_heads_per_layer"] == tuple(heads)
    assert kv_cache_for_context(arch, 1).total_bytes == 2 * sum(heads) * 64 * 2


def test_openelm_mlx_config_lists_as_stored() -> None:
    """The MLX 4-bit config itself: the same parameters, stored as mlx-lm's packed weights."""
    tensors = expected_tensors(OPENELM_MLX)
    assert sum(t.params for t in tensors) == 1_079_891_456


def test_openelm_450m_from_the_public_table() -> None:
    q = [12, 12, 12, 16, 16, 16, 16, 16, 16, 16, 20, 20, 20, 20, 20, 20, 24, 24, 24, 24]
    kv = [3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6]
    ffn = [768, 1024, 1280, 1536, 1792, 2304, 2560, 2816, 3072, 3328, 3584, 3840, 4096, 4352, 4608, 5120,
           5376, 5632, 5888, 6144]
    cfg = {"model_type": "openelm", "model_dim": 1536, "head_dim": 64, "num_transformer_layers": 20,
           "vocab_size": 32000, "num_query_heads": q, "num_kv_heads": kv,
           "ffn_multipliers": [w / 1536 for w in ffn], "ffn_dim_divisor": 256, "ffn_with_glu": True,
           "normalize_qk_projections": True, "share_input_output_layers": True}
    assert sum(t.params for t in expected_tensors(cfg)) == 457_179_136


def test_openelm_refuses_short_lists() -> None:
    cfg = {k: v for k, v in OPENELM_MLX.items() if k != "quantization"}
    with pytest.raises(FormatError, match=r"num_kv_heads must list one value per layer"):
        expected_tensors({**cfg, "num_kv_heads": [4] * 27})


def test_gguf_deci_layers_without_kv_heads_hold_no_cache() -> None:
    """llama.cpp's deci graph: n_head(il) == 0 skips attention, n_head_kv(il) == 0 applies wo alone;
    neither keeps K/V or a state (before: such layers were read as recurrent and refused for lack of a
    state size). The remaining layers cache their own KV head count each."""
    import numpy as np

    from paramscope.knowledge.gguf_arch import arch_config as gguf_arch_config

    metadata = {"general.architecture": "deci", "deci.block_count": 6, "deci.embedding_length": 64,
                "deci.attention.head_count": np.array([4, 0, 4, 4, 0, 4], np.int32),
                "deci.attention.head_count_kv": np.array([2, 0, 0, 1, 0, 2], np.int32),
                "deci.feed_forward_length": np.array([128, 128, 0, 256, 128, 128], np.int32)}
    cfg = gguf_arch_config(metadata, set(), 100, "f.gguf")
    assert cfg is not None
    assert cfg.layer_types == ("full", "none", "none", "full", "none", "full")
    assert kv_cache_for_context(cfg, 1).total_bytes == 2 * (2 + 1 + 2) * 16 * 2
