"""Quantized checkpoints priced from config.json alone, against real checkpoint indexes.

tests/fixtures/quantized_totals/quantized_oos.json holds 13 public checkpoints collected after the pricing
code was written (none in the other fixtures): MLX (mixed 4/8-bit with per-module overrides, 4-bit MoE with
fused experts, 3-bit, a MoE with 8-bit routers), compressed-tensors W4A16 and W4A8, a PaddlePaddle FP8
release, and a few unquantized configs of recent architectures. Every entry is pinned: its listing sums to
total_size byte for byte, or the difference is exact and the listing's own note states it, or (note null) the
file holds what no config describes, or the config's quantization is not read and a note says so, or it is
refused in one line.
"""

from __future__ import annotations

import json

import pytest

from builders.index_totals import entries, entry_id, first_names_listed, listed, refused_as_expected

ENTRIES = entries("quantized_oos.json")
_id = entry_id


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_total_size_from_config(entry):
    if refused_as_expected(entry):
        return
    expected = entry["expected"]
    tensors, notes = listed(entry["config"])
    ours = sum(t.nbytes for t in tensors)
    assert ours == entry["after"]["ours"]
    if expected == "equal":
        assert ours == entry["total_size"]
    elif "unpriced" in expected:
        # no total is claimed for the file: the note says the quantization was not read
        assert any(expected["unpriced"] in n for n in notes), notes
    else:
        assert ours - entry["total_size"] == expected["difference"] != 0
        if expected["note"] is not None:  # a difference the config can state, stated exactly
            assert any(expected["note"] in n for n in notes), notes


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["names"] and "names_differ" not in e
                                   and "refused" not in e["expected"]], ids=_id)
def test_first_index_names_are_listed(entry):
    assert first_names_listed(entry)


def test_blind_measurement_is_recorded():
    """Every entry keeps what main answered before this file's fixes (docs/quantization.md's table)."""
    blind_equal = sum(1 for e in ENTRIES if e["blind"].get("difference") == 0)
    now_equal = sum(1 for e in ENTRIES if e["expected"] == "equal")
    assert len(ENTRIES) == 13 and (blind_equal, now_equal) == (7, 8)  # 8th: MLX 3-bit, Tensor.weight_bits
    assert {e["method"] for e in ENTRIES} >= {"mlx", "compressed-tensors", "paddle_fp8", "none"}
    for e in ENTRIES:
        assert ("ours" in e["blind"]) != ("error" in e["blind"])
        assert e["source"]["repo"].startswith("github.com/")


def _mlx_cfg(**quant) -> dict:
    return {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 256,
            "intermediate_size": 512, "num_attention_heads": 4, "num_key_value_heads": 2,
            "num_hidden_layers": 2,
            "vocab_size": 1024, "torch_dtype": "bfloat16", "tie_word_embeddings": False,
            "quantization": {"group_size": 64, "bits": 4, **quant}}


def test_mlx_override_matches_the_module_under_another_writers_wrappers():
    """An mlx-vlm override key (language_model.model.layers.0.mlp.down_proj) reaches the listed module
    (model.layers.0.mlp.down_proj): mlx_lm keys the config by MLX module path."""
    cfg = _mlx_cfg(**{"language_model.model.layers.0.mlp.down_proj": {"bits": 8, "group_size": 64}})
    shapes = {t.name: t.shape for t in listed(cfg)[0]}
    assert shapes["model.layers.0.mlp.down_proj.weight"] == (256, 512 * 8 // 32)
    assert shapes["model.layers.1.mlp.down_proj.weight"] == (256, 512 * 4 // 32)


def test_mlx_three_bit_words_are_listed_as_stored():
    """3-bit words straddle uint32: each (out, in) matrix is stored w_q (out, in*3/32) uint32 with bf16
    scales and biases per 64 (mlx ops.cpp quantize), and the packed words count every weight."""
    cfg = _mlx_cfg(bits=3)
    tensors, notes = listed(cfg)
    plain = {t.name: t for t in listed({k: v for k, v in cfg.items() if k != "quantization"})[0]}
    packed = [t for t in tensors if t.weight_bits]
    assert packed and all(t.weight_bits == 3 and t.dtype.value == "U32" for t in packed)
    for t in packed:
        o, i = plain[t.name].shape
        assert t.shape == (o, i * 3 // 32) and t.params == o * i
    assert sum(t.params for t in tensors) == sum(t.params for t in plain.values())
    assert not any("3-bit" in n for n in notes)


def test_unread_quantization_config_is_said():
    paddle = {"quantization": "mix_quant", "dense_quant_type": "block_wise_fp8"}
    cfg = dict(_mlx_cfg(), quantization_config=paddle)
    del cfg["quantization"]
    notes = listed(cfg)[1]
    assert any("names no quantization method" in n and "dense_quant_type" in n for n in notes)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "names_differ" in e
                                   and "refused" not in e["expected"]], ids=_id)
def test_names_spelled_otherwise_are_not_ours(entry):
    """mlx-vlm's language_model.lm_head / mlx-lm's switch_mlp and embed_q: the bytes are pinned above."""
    assert not first_names_listed(entry)


def test_mlx_input_major_experts_are_quantized_along_their_input():
    """Llama4TextExperts stores down_proj (E, ffn, hidden): MLX's SwitchLinear holds it (E, hidden, ffn), so
    the packed words and the groups run along ffn (128 / 8 words, 128 / 64 groups), not along hidden."""
    cfg = {"architectures": ["Llama4ForCausalLM"], "model_type": "llama4_text", "hidden_size": 256,
           "intermediate_size": 128, "intermediate_size_mlp": 512, "num_attention_heads": 4,
           "num_key_value_heads": 2, "num_hidden_layers": 1, "head_dim": 64, "num_local_experts": 4,
           "num_experts_per_tok": 1, "vocab_size": 1024, "torch_dtype": "bfloat16",
           "interleave_moe_layer_step": 1, "quantization": {"group_size": 64, "bits": 4}}
    shapes = {t.name: t.shape for t in listed(cfg)[0]}
    assert shapes["model.layers.0.feed_forward.experts.down_proj.weight"] == (4, 256, 16)
    assert shapes["model.layers.0.feed_forward.experts.down_proj.scales"] == (4, 256, 2)
    assert shapes["model.layers.0.feed_forward.experts.gate_up_proj.weight"] == (4, 256, 32)


def test_size_says_the_unread_quantization_too(tmp_path):
    """`size` prices the same unquantized listing as stored, so it repeats the note (a 16-bit total for an
    FP8 file, said); re-priced at a scheme, the stored bytes do not enter and nothing is said."""
    import paramscope

    (ernie,) = [e for e in ENTRIES if e["method"] == "paddle_fp8"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(ernie["config"]))
    notes = paramscope.size(str(path)).estimate.notes
    assert any("names no quantization method" in n for n in notes), notes
    notes = paramscope.size(str(path), weights="q4_k_m").estimate.notes
    assert not any("names no quantization method" in n for n in notes)
