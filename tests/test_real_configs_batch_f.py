"""The batch F real configs (tests/fixtures/configs/README.md, "Batch F sources"): whole Hub files of
MiniMax-Text-01-hf (`minimax`, the first real config of that family), OLMo, granitemoe, native Falcon,
Granite 4.0-H-1B, Hunyuan dense, Apertus, the first LFM2 format and a Seed-OSS fine-tune. The shapes
that set MiniMax apart, read from the real file, and the counts published for the checkpoints.

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, what the comparison would not name if both sides were wrong the same way:
the figures the checkpoints themselves publish."""

from __future__ import annotations

from typing import Any

import pytest

import paramscope
from builders.real_configs import FIXTURES, load_config, table_shapes
from paramscope.knowledge.families import arch_config_from_hf, expected_tensors

MINIMAX = "MiniMaxAI__MiniMax-Text-01-hf.json"
MINIMAX_M1 = "MiniMaxAI__MiniMax-M1.json"  # batch C: the remote-code release of the same architecture
OLMO_1B, OLMO_1B_TRIMMED = "allenai__OLMo-1B-hf__whole.json", "allenai__OLMo-1B-hf.json"
FALCON_7B, FALCON_7B_RESAVED = "tiiuae__falcon-7b.json", "ybelkada__falcon-7b-sharded-bf16.json"
GRANITE_3B_BASE = "ibm-granite__granite-3.0-3b-a800m-base.json"
GRANITE_3B_INSTRUCT = "ibm-granite__granite-3.1-3b-a800m-instruct.json"  # batch C
HUNYUAN_7B, HUNYUAN_4B = "tencent__Hunyuan-7B-Instruct.json", "tencent__Hunyuan-4B-Instruct.json"
LFM2_700M = "LiquidAI__LFM2-700M__refs-pr-8.json"




def _params(cfg: dict[str, Any]) -> int:
    return sum(t.params for t in expected_tensors(cfg, fallback=False) if t.is_parameter)


# The counts transformers 5.24.0 gives each config (the model built on the meta device, the parameters
# summed, the tied head once): the oracle test checks them tensor for tensor where torch is installed;
# here the table alone must give them. Published beside them: MiniMax-Text-01 "456B", OLMo-1B
# 1,176,764,416 (batch C), OLMo-7B "6.888B", Apertus "70B", Seed-OSS-36B "36B", LFM2-700M 742,489,344
# exactly (the LFM2 README's table); Hunyuan below, to the parameter.
@pytest.mark.parametrize(("name", "tensors", "params"), [
    (MINIMAX, 8523, 456_089_655_296),
    (OLMO_1B, 113, 1_176_764_416),
    ("allenai__OLMo-1B-0724-hf.json", 114, 1_279_787_008),
    ("allenai__OLMo-7B-0724-hf.json", 226, 6_888_095_744),
    ("ibm-granite__granite-3.0-1b-a400m-base.json", 218, 1_334_625_280),
    (GRANITE_3B_BASE, 290, 3_298_788_864),
    (FALCON_7B, 195, 6_921_720_704),
    (FALCON_7B_RESAVED, 195, 6_921_720_704),
    ("ssmits__Falcon2-5.5B-Swedish.json", 172, 5_465_415_680),
    ("ibm-granite__granite-4.0-h-1b.json", 466, 1_461_538_368),
    (HUNYUAN_7B, 354, 7_504_568_320),
    (HUNYUAN_4B, 398, 4_221_757_440),
    ("swiss-ai__Apertus-70B-2509.json", 1123, 70_599_864_480),
    (LFM2_700M, 148, 742_489_344),
    ("darkc0de__4.3test2.json", 771, 36_151_104_512),
])
def test_counts_equal_transformers(name: str, tensors: int, params: int) -> None:
    ts = expected_tensors(load_config(name), fallback=False)
    assert (len(ts), sum(t.params for t in ts if t.is_parameter)) == (tensors, params)


# -- MiniMax-Text-01 ----------------------------------------------------------------------------------
def test_minimax_seven_lightning_layers_to_one_softmax_attention_layer() -> None:
    cfg = load_config(MINIMAX)
    arch = arch_config_from_hf(cfg, fallback=False)
    assert arch.layer_types == (("linear",) * 7 + ("full",)) * 10
    assert arch.recurrent_layers == 70
    shapes = table_shapes(cfg)
    h, heads, d = cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]
    kv = cfg["num_key_value_heads"]
    # a lightning (linear) attention layer: one fused q/k/v over all 64 heads (no grouped KV), a sigmoid
    # output gate and an RMSNorm over the 64 x 128 outputs before out_proj
    lin = "model.layers.0.self_attn."
    assert shapes[lin + "qkv_proj.weight"] == (3 * heads * d, h)
    assert shapes[lin + "output_gate.weight"] == (heads * d, h)
    assert shapes[lin + "out_proj.weight"] == (h, heads * d)
    assert shapes[lin + "norm.weight"] == (heads * d,)
    assert not any(n.startswith(lin) and n.split(".")[-2] in ("q_proj", "k_proj", "v_proj") for n in shapes)
    # a softmax attention layer: grouped-query, 8 KV heads of 128, no fused projection, no gate
    full = "model.layers.7.self_attn."
    assert shapes[full + "q_proj.weight"] == (heads * d, h)
    assert shapes[full + "k_proj.weight"] == (kv * d, h)
    assert shapes[full + "v_proj.weight"] == (kv * d, h)
    assert shapes[full + "o_proj.weight"] == (h, heads * d)
    assert {n for n in shapes if n.startswith(full)} == {full + p + "_proj.weight" for p in "qkvo"}


def test_minimax_lightning_decay_tables_are_stored_buffers_not_parameters() -> None:
    # MiniMaxLightningAttention keeps slope_rate and the query / key / diagonal decays of its 256-token
    # blocks (block_size: transformers' default, the file has none) as persistent buffers: save_pretrained
    # writes them, model.parameters() does not hold them
    cfg = load_config(MINIMAX)
    ts = expected_tensors(cfg, fallback=False)
    buffers = {t.name.split(".")[-1]: t.shape for t in ts if not t.is_parameter and ".layers.0." in t.name}
    heads, block = cfg["num_attention_heads"], 256
    assert buffers == {"slope_rate": (heads, 1, 1), "query_decay": (heads, block, 1),
                       "key_decay": (heads, block, 1), "diagonal_decay": (1, heads, block, block)}
    assert not any(not t.is_parameter and ".layers.7." in t.name for t in ts)  # softmax layers: none
    per_layer = heads + 2 * heads * block + heads * block * block
    bf16 = 2
    est = paramscope.size(str(FIXTURES / MINIMAX)).estimate
    assert est.weights_bytes == bf16 * (456_089_655_296 + 70 * per_layer)


def test_minimax_moe_in_every_layer_with_no_shared_expert_and_two_norms() -> None:
    cfg = load_config(MINIMAX)
    shapes = table_shapes(cfg)
    h, ffn, experts = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_local_experts"]
    for i in (0, 7, 79):
        moe = f"model.layers.{i}.block_sparse_moe."
        assert shapes[moe + "gate.weight"] == (experts, h)
        assert shapes[moe + f"experts.{experts - 1}.w1.weight"] == (ffn, h)
        assert shapes[moe + f"experts.{experts - 1}.w3.weight"] == (ffn, h)
        assert shapes[moe + f"experts.{experts - 1}.w2.weight"] == (h, ffn)
        assert moe + f"experts.{experts}.w1.weight" not in shapes
        # "postnorm": true, the alpha/beta factors: how the residual is scaled, no weights; RMSNorms
        # before attention and before the MoE only
        layer = f"model.layers.{i}."
        assert {n for n in shapes if n.startswith(layer) and "layernorm" in n} == {
            layer + "input_layernorm.weight", layer + "post_attention_layernorm.weight"}
    # shared_intermediate_size 0 / shared_moe_mode: read by the remote-code release only
    assert not any("shared" in n for n in shapes)
    arch = arch_config_from_hf(cfg, fallback=False)
    assert (arch.n_experts, arch.n_experts_per_token, arch.n_shared_experts) == (32, 2, 0)
    assert shapes["lm_head.weight"] == (cfg["vocab_size"], h)  # tie_word_embeddings false
    assert shapes["model.norm.weight"] == (h,)


def test_minimax_kv_cache_grows_in_the_ten_softmax_layers_only() -> None:
    cfg = load_config(MINIMAX)
    f16, layers_full = 2, 10
    kv = cfg["num_key_value_heads"] * cfg["head_dim"]
    small, large = (paramscope.size(str(FIXTURES / MINIMAX), context=c, runtime="llama.cpp").estimate
                    for c in (4096, 8192))
    assert large.kv_cache_bytes - small.kv_cache_bytes == layers_full * 4096 * 2 * kv * f16
    # the lightning layers' state is a fixed 128 x 128 matrix per head, whatever the context
    assert dict(small.kv_parts)["linear"] == dict(large.kv_parts)["linear"]


def test_minimax_text_01_hf_is_the_m1_architecture_as_transformers_converts_it() -> None:
    # batch C compares the remote-code MiniMax-M1 file, its attn_type_list rewritten as layer_types,
    # with transformers: the -hf file of MiniMax-Text-01 has the same shape keys and the same count
    hf, m1 = load_config(MINIMAX), load_config(MINIMAX_M1)
    kinds = {0: "linear_attention", 1: "full_attention"}
    assert hf["layer_types"] == [kinds[k] for k in m1["attn_type_list"]]
    for key in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
                "num_hidden_layers", "num_local_experts", "num_experts_per_tok", "vocab_size", "head_dim"):
        assert hf[key] == m1[key], key


# -- published counts ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params", "total_size"), [
    # metadata.total_parameters and total_size of each checkpoint's model.safetensors.index.json
    # (bfloat16; the tied head stored once)
    (HUNYUAN_7B, 7_504_568_320, 15_009_136_640),
    (HUNYUAN_4B, 4_221_757_440, 8_443_514_880),
])
def test_hunyuan_dense_equals_its_safetensors_index(name: str, params: int, total_size: int) -> None:
    cfg = load_config(name)
    assert _params(cfg) == params
    assert "lm_head.weight" not in table_shapes(cfg)  # tie_word_embeddings true
    assert paramscope.size(str(FIXTURES / name)).estimate.weights_bytes == total_size


def test_falcon_7b_checkpoint_stores_the_tied_head_again() -> None:
    # tiiuae/falcon-7b: 6,921,720,704 parameters (the head tied to the embedding: the file names no
    # tie_word_embeddings, FalconConfig's default is true); its checkpoints also store lm_head.weight,
    # 7,217,189,760 with it (tests/fixtures/configs/README.md, batch C)
    cfg = load_config(FALCON_7B)
    shapes = table_shapes(cfg)
    assert "lm_head.weight" not in shapes
    assert _params(cfg) + cfg["vocab_size"] * cfg["hidden_size"] == 7_217_189_760
    # multi-query: one k/v head of 64 beside the 71 query heads, fused
    assert shapes["transformer.h.31.self_attention.query_key_value.weight"] == ((71 + 2) * 64, 4544)
    assert not any(n.endswith(".bias") and "layernorm" not in n and "ln_f" not in n for n in shapes)


def test_falcon_7b_resaved_with_legacy_names_is_the_same_model() -> None:
    # ybelkada's re-save writes n_head / n_layer, which FalconConfig maps to its own names
    resaved = load_config(FALCON_7B_RESAVED)
    assert {"n_head", "n_layer"} <= resaved.keys() and "num_attention_heads" not in resaved
    original = load_config(FALCON_7B)
    assert expected_tensors(resaved, fallback=False) == expected_tensors(original, fallback=False)


def test_olmo_1b_whole_file_and_trimmed_copy_give_the_same_model() -> None:
    whole, trimmed = load_config(OLMO_1B), load_config(OLMO_1B_TRIMMED)
    assert table_shapes(whole) == table_shapes(trimmed)
    # what the trimmed copy left out: the checkpoint's "torch_dtype": "float32", four bytes a value
    assert (whole["torch_dtype"], "torch_dtype" in trimmed) == ("float32", False)
    assert paramscope.size(str(FIXTURES / OLMO_1B)).estimate.weights_bytes == 4 * 1_176_764_416


def test_granite_3b_a800m_base_and_instruct_differ_by_three_vocabulary_rows() -> None:
    # the batch C instruct count 3,298,793,472 (published) is the same model with a vocabulary of 49155
    # (three added tokens) instead of the base checkpoint's 49152; the head is tied, so 3 rows of 1536
    base, instruct = load_config(GRANITE_3B_BASE), load_config(GRANITE_3B_INSTRUCT)
    a, b = table_shapes(base), table_shapes(instruct)
    assert a.keys() == b.keys()
    assert {n for n in a if a[n] != b[n]} == {"model.embed_tokens.weight"}
    assert (base["vocab_size"], instruct["vocab_size"]) == (49152, 49155)
    assert _params(instruct) - _params(base) == 3 * base["hidden_size"]
    assert _params(instruct) == 3_298_793_472


# -- LFM2's first format --------------------------------------------------------------------------------
def test_lfm2_first_format_full_attn_idxs_and_block_ff_dim() -> None:
    cfg = load_config(LFM2_700M)
    assert "layer_types" not in cfg and "intermediate_size" not in cfg
    shapes = table_shapes(cfg)
    n = cfg["num_hidden_layers"]
    attention = [i for i in range(n) if f"model.layers.{i}.self_attn.q_proj.weight" in shapes]
    conv = [i for i in range(n) if f"model.layers.{i}.conv.in_proj.weight" in shapes]
    assert attention == cfg["full_attn_idxs"] == [2, 5, 8, 10, 12, 14]
    assert conv == sorted(set(range(n)) - set(attention))
    # Lfm2Config takes block_ff_dim for intermediate_size; Lfm2MLP: 2/3 of 10240 = 6826, rounded up to
    # a multiple of 256
    assert shapes["model.layers.0.feed_forward.w1.weight"] == (6912, cfg["hidden_size"])


@pytest.mark.parametrize("extra", [
    {"block_ff_dim": 1000},
    {"block_ff_dim": 1000, "intermediate_size": 512},  # block_ff_dim wins, as Lfm2Config pops it last
    {"tie_embedding": False},
    {"tie_embedding": False, "tie_word_embeddings": True},
])
def test_lfm2_first_format_aliases_equal_transformers(extra: dict[str, Any]) -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare

    cfg = {"model_type": "lfm2", "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 100, "full_attn_idxs": [1], **extra}
    c = compare(expected_tensors(cfg, fallback=False), oracle.reference(cfg, preferred=("Lfm2ForCausalLM",)))
    assert c.equal, c.summary()
