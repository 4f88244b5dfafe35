"""The batch G real configs (tests/fixtures/configs/README.md, "Batch G sources"): an out-of-sample check
of the family table on 26 checkpoints it had not seen (docs/families.md, "Batch G: out of sample").

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, the counts transformers gives and the checkpoints publish, the shapes that set
each config apart, and what the table refuses: task heads it does not list, repository code it cannot
read, model types without a row. The one test that needs torch compares every decoder row's
…ForSequenceClassification / …ForTokenClassification class with transformers."""

from __future__ import annotations

from typing import Any

import pytest

import paramscope
from builders.real_configs import FIXTURES, load_config, table_shapes
from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import NoFamilyRow, arch_config_from_hf, expected_tensors
from paramscope.knowledge.roles import place

SKYWORK_RM = "Skywork__Skywork-Reward-Llama-3.1-8B-v0.2.json"
OLMO2_RM = "allenai__OLMo-2-1124-7B-RM.json"
DOTS = "rednote-hilab__dots.llm1.inst.json"
MAVERICK = "meta-llama__Llama-4-Maverick-17B-128E-Instruct-FP8.json"


def _params(ts: tuple[Any, ...]) -> int:
    return sum(t.params for t in ts if t.is_parameter)


# The counts transformers 5.24.0 gives each config (built on the meta device, parameters summed, a tied
# head once); the oracle test checks them tensor for tensor. Published beside them: whisper-small
# 241,734,912 exactly, GLM-4-9B 9,399,951,360 exactly (batch C), dots.llm1 "142B", SmolLM3 "3B",
# OLMo 2 32B "32B", Bamba "9B", MiniCPM3 "4B", Llama 4 Maverick "400B".
@pytest.mark.parametrize(("name", "tensors", "params"), [
    ("Qwen__Qwen3.5-35B-A3B.json", 31666, 35_107_181_936),
    ("Qwen__Qwen3.5-27B.json", 1184, 27_356_728_560),
    (MAVERICK, 1061, 401_583_781_376),
    ("openbmb__MiniCPM3-4B.json", 746, 4_073_875_968),
    (SKYWORK_RM, 291, 7_504_928_768),
    ("intfloat__e5-mistral-7b-instruct.json", 290, 7_110_660_096),
    ("THUDM__glm-4-9b.json", 284, 9_399_951_360),
    ("Alibaba-NLP__gte-Qwen2-7B-instruct.json", 339, 7_612_620_288),
    ("Qwen__Qwen3-8B-FP8.json", 399, 8_190_735_360),
    ("Qwen__Qwen2.5-14B.json", 579, 14_770_033_664),
    ("arcee-ai__AFM-4.5B.json", 291, 4_619_189_760),
    ("ibm-ai-platform__Bamba-9B-v2.json", 407, 9_780_235_392),
    # transformers' 142,774,373,888 parameters plus the 61 × 128 e_score_correction_bias values, buffers it
    # stores in the checkpoint, which the table counts as parameters (as for DeepSeek-V3 and GLM-4.5)
    (DOTS, 24231, 142_774_373_888 + 61 * 128),
    (OLMO2_RM, 355, 6_887_284_736),
    ("allenai__OLMo-2-0325-32B-Instruct.json", 707, 32_234_279_936),
    ("netique__ModernBertForMultipleChoice.json", 138, 149_605_633),
    ("HuggingFaceTB__SmolLM3-3B.json", 326, 3_075_098_624),
    ("openai__whisper-small.json", 479, 241_734_912),
    ("arcee-ai__Trinity-Mini.json", 12031, 26_123_974_400),  # the card's "26B"
    ("nvidia__Nemotron-H-47B-Reasoning-128K.json", 577, 46_791_554_816),  # "47B"
])
def test_counts_equal_transformers(name: str, tensors: int, params: int) -> None:
    ts = expected_tensors(load_config(name), fallback=False)
    assert (len(ts), _params(ts)) == (tensors, params)


# -- task heads: a reward model is the decoder with a one-output score, not the LM head ------------------
@pytest.mark.parametrize("name", [SKYWORK_RM, OLMO2_RM])
def test_sequence_classification_decoders_have_a_score_and_no_lm_head(name: str) -> None:
    cfg = load_config(name)
    shapes = table_shapes(cfg)
    assert shapes["score.weight"] == (len(cfg["id2label"]), cfg["hidden_size"]) == (1, cfg["hidden_size"])
    assert "lm_head.weight" not in shapes and "score.bias" not in shapes
    assert shapes["model.embed_tokens.weight"] == (cfg["vocab_size"], cfg["hidden_size"])
    # before batch G the table listed lm_head instead: vocab_size - 1 rows of hidden too many
    with_head = expected_tensors({**cfg, "architectures": [cfg["architectures"][0].replace(
        "ForSequenceClassification", "ForCausalLM")]}, fallback=False)
    assert _params(with_head) - _params(expected_tensors(cfg, fallback=False)) == \
        (cfg["vocab_size"] - 1) * cfg["hidden_size"]


@pytest.mark.parametrize("name", [SKYWORK_RM, OLMO2_RM])
def test_a_classification_head_is_the_output_head_and_no_tied_copy_is_announced(name: str) -> None:
    """`inspect` of a reward model: the score head is the model's output component (not "other"), and the
    note about a tied head's second copy, which is for a language model whose head shares the embedding,
    is not given: this head shares nothing."""
    model = paramscope.open_model(str(FIXTURES / name))
    assert {place(t.name).component for t in model.tensors if t.name.startswith("score.")} == {"output"}
    assert not any(n.startswith("tied output head") for n in model.metadata.get("warnings", ()))


def test_token_classification_heads_follow_the_class_transformers_defines() -> None:
    # the Generic class: score with bias (token_classification_bias, default true); the older classes of
    # the transformer.-prefixed families: classifier with bias
    llama = {**load_config(SKYWORK_RM), "architectures": ["LlamaForTokenClassification"],
             "id2label": {"0": "O", "1": "B", "2": "I"}}
    shapes = table_shapes(llama)
    assert (shapes["score.weight"], shapes["score.bias"]) == ((3, 4096), (3,))
    assert table_shapes({**llama, "token_classification_bias": False}).get("score.bias") is None
    bloom = {"model_type": "bloom", "architectures": ["BloomForTokenClassification"], "n_layer": 2,
             "hidden_size": 64, "n_head": 4, "vocab_size": 100}
    shapes = table_shapes(bloom)
    assert (shapes["classifier.weight"], shapes["classifier.bias"]) == ((2, 64), (2,))
    assert "score.weight" not in shapes


@pytest.mark.parametrize(("cfg", "arch"), [
    (load_config("internlm__internlm2-7b-reward.json"), "InternLM2ForRewardModel"),
    ({**load_config(SKYWORK_RM), "architectures": ["LlamaForQuestionAnswering"]},
     "LlamaForQuestionAnswering"),
    ({**load_config("Qwen__Qwen2.5-14B.json"), "architectures": ["Qwen2ForQuestionAnswering"]},
     "Qwen2ForQuestionAnswering"),
])
def test_decoder_heads_the_table_does_not_list_are_refused_in_one_line(cfg: dict[str, Any],
                                                                      arch: str) -> None:
    # InternLM2ForRewardModel (repository code) stores a one-output v_head where the language model has
    # its 92,544-row output layer: counted as the language model it was 379 M parameters too many
    with pytest.raises(UnsupportedError, match=f"architectures {arch}: paramscope's table lists") as e:
        expected_tensors(cfg, fallback=False)
    assert "\n" not in str(e.value)


# -- families without a row: no silent count, one line; transformers counts them where it is installed --
@pytest.mark.parametrize(("name", "model_type"), [
    # gemma4 has a row since the tenth session (tests/test_families_oracle.py compares these three with
    # transformers); granite_speech has a row since batch H (tests/test_real_configs_batch_h.py counts
    # granite-speech-3.3-8b)
    ("deepseek-ai__Janus-1.3B.json", "multi_modality"),
])
def test_model_types_without_a_row_are_not_counted_by_the_table(name: str, model_type: str) -> None:
    with pytest.raises(NoFamilyRow, match=f"model_type '{model_type}' has no row"):
        expected_tensors(load_config(name), fallback=False)


# -- shapes that set the configs apart ------------------------------------------------------------------
def test_dots_llm1_first_layer_dense_then_128_experts_and_two_shared() -> None:
    cfg = load_config(DOTS)
    ts = expected_tensors(cfg, fallback=False)
    shapes = {t.name: t.shape for t in ts}
    h, e = cfg["hidden_size"], cfg["moe_intermediate_size"]
    assert shapes["model.layers.0.mlp.gate_proj.weight"] == (cfg["intermediate_size"], h)
    assert shapes["model.layers.1.mlp.shared_experts.gate_proj.weight"] == (2 * e, h)
    assert shapes["model.layers.1.mlp.gate.e_score_correction_bias"] == (128,)
    assert shapes["model.layers.1.self_attn.q_norm.weight"] == (128,)  # Qwen3's per-head q/k norms
    assert "model.layers.1.self_attn.o_proj.bias" not in shapes  # attention_bias false
    # the card's "142B total, 14B active": every tensor but the 122 of 128 experts a token does not reach
    idle = (128 - cfg["num_experts_per_tok"]) * 3 * h * e * (cfg["num_hidden_layers"] - 1)
    total = sum(t.params for t in ts)
    assert (total // 10**9, (total - idle) // 10**9) == (142, 14)


def test_trinity_mini_gated_attention_four_norms_and_experts_after_two_dense_layers() -> None:
    cfg = load_config("arcee-ai__Trinity-Mini.json")
    shapes = table_shapes(cfg)
    h, q = cfg["hidden_size"], cfg["num_attention_heads"] * cfg["head_dim"]
    assert shapes["model.layers.0.self_attn.gate_proj.weight"] == (q, h)  # the output gate, per head
    for norm in ("input_layernorm", "post_attention_layernorm", "pre_mlp_layernorm", "post_mlp_layernorm"):
        assert shapes[f"model.layers.5.{norm}.weight"] == (h,)
    for i in range(cfg["num_hidden_layers"]):
        assert (f"model.layers.{i}.mlp.router.gate.weight" in shapes) is (i >= cfg["num_dense_layers"])
    assert shapes["model.layers.2.mlp.expert_bias"] == (cfg["num_experts"],)
    assert shapes["model.layers.2.mlp.shared_experts.gate_proj.weight"] == (cfg["moe_intermediate_size"], h)


def test_nemotron_h_one_mixer_per_layer_from_its_pattern() -> None:
    cfg = load_config("nvidia__Nemotron-H-47B-Reasoning-128K.json")
    shapes = table_shapes(cfg)
    pattern = cfg["hybrid_override_pattern"]
    assert len(pattern) == cfg["num_hidden_layers"] == 98
    for i, c in enumerate(pattern):  # M Mamba-2, * attention, - relu² MLP; one norm before each
        p = f"backbone.layers.{i}."
        assert shapes[p + "norm.weight"] == (cfg["hidden_size"],)
        assert (p + "mixer.in_proj.weight" in shapes) is (c == "M")
        assert (p + "mixer.q_proj.weight" in shapes) is (c == "*")
        assert (p + "mixer.up_proj.weight" in shapes) is (c == "-")
    d_inner = cfg["mamba_num_heads"] * cfg["mamba_head_dim"]  # 256 × 64, not expand × hidden
    conv = d_inner + 2 * cfg["n_groups"] * cfg["ssm_state_size"]
    assert shapes["backbone.layers.0.mixer.in_proj.weight"] == (d_inner + conv + 256, cfg["hidden_size"])
    assert shapes["backbone.layers.0.mixer.norm.weight"] == (d_inner,)
    assert shapes["backbone.layers.1.mixer.up_proj.weight"] == (cfg["intermediate_size"], cfg["hidden_size"])
    # the KV-cache analysis: a recurrent state for the 45 Mamba-2 layers only, a cache for the 5 attention
    # layers, nothing for the 48 MLP layers; the state is the conv window and the SSM state per head
    arch = arch_config_from_hf(cfg, fallback=False)
    assert (arch.recurrent_layers, arch.layer_types.count("full")) == (pattern.count("M"), 5) == (45, 5)
    assert arch.layer_types.count("none") == pattern.count("-") == 48
    assert arch.conv_state_size == conv * (cfg["conv_kernel"] - 1)
    assert arch.ssm_state_size == cfg["mamba_num_heads"] * cfg["mamba_head_dim"] * cfg["ssm_state_size"]
    # NemotronHForCausalLM ties nothing (_tied_weights_keys = {}), whatever tie_word_embeddings says
    assert "lm_head.weight" in table_shapes({**cfg, "tie_word_embeddings": True})


def test_llama_4_maverick_moe_every_second_layer_dense_mlp_between() -> None:
    cfg = load_config(MAVERICK)
    shapes = table_shapes(cfg)
    text = cfg["text_config"]
    p = "language_model.model.layers."
    for i in range(text["num_hidden_layers"]):
        moe = i % text["interleave_moe_layer_step"] == 1
        assert (p + f"{i}.feed_forward.router.weight" in shapes) is moe
        assert (p + f"{i}.feed_forward.gate_proj.weight" in shapes) is not moe
    dense = (text["intermediate_size_mlp"], text["hidden_size"])
    assert shapes[p + "0.feed_forward.gate_proj.weight"] == dense
    assert shapes[p + "1.feed_forward.experts.gate_up_proj"] == (128, 5120, 2 * text["intermediate_size"])


def test_qwen3_5_gated_attention_every_fourth_layer_deltanet_between() -> None:
    cfg = load_config("Qwen__Qwen3.5-27B.json")
    text = cfg["text_config"]
    shapes = table_shapes(cfg)
    names = "".join(shapes)
    attn = [i for i, k in enumerate(text["layer_types"]) if k == "full_attention"]
    assert attn == list(range(3, 64, 4))
    q = [n for n in shapes if n.endswith("layers.3.self_attn.q_proj.weight")]
    # attn_output_gate: q_proj also projects the per-head output gate, twice the query width
    assert shapes[q[0]] == (2 * text["num_attention_heads"] * text["head_dim"], text["hidden_size"])
    assert "layers.0.linear_attn." in names and "layers.0.self_attn." not in names


def test_smollm3_without_a_tie_key_is_tied_and_minicpm3_is_mla_without_experts() -> None:
    assert "lm_head.weight" not in table_shapes(load_config("HuggingFaceTB__SmolLM3-3B.json"))
    cfg = load_config("openbmb__MiniCPM3-4B.json")
    shapes = table_shapes(cfg)
    a = "model.layers.0.self_attn."
    assert shapes[a + "q_a_proj.weight"] == (cfg["q_lora_rank"], cfg["hidden_size"])
    assert shapes[a + "kv_a_proj_with_mqa.weight"] == (cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"],
                                                       cfg["hidden_size"])
    assert shapes["model.layers.0.mlp.gate_proj.weight"] == (cfg["intermediate_size"], cfg["hidden_size"])


# -- every decoder row's classification classes against transformers ------------------------------------
@pytest.mark.slow
def test_every_decoder_classification_class_equals_transformers() -> None:
    transformers = pytest.importorskip("transformers", reason="the oracle needs transformers")
    pytest.importorskip("torch", reason="the oracle needs torch")
    from paramscope.knowledge.families import FAMILIES, oracle, supported_model_types
    from paramscope.knowledge.families.compare import compare

    checked = 0
    for model_type in supported_model_types():
        fam = FAMILIES.get(model_type)
        if fam is None or fam.layout != "decoder" or oracle.not_native({"model_type": model_type}):
            continue
        stem = (fam.architectures or fam.describes or ("",))[0]
        for end in ("ForCausalLM", "LMHeadModel", "Model"):
            stem = stem.removesuffix(end) if stem.endswith(end) else stem
        for head in ("ForSequenceClassification", "ForTokenClassification"):
            if not hasattr(transformers, stem + head):
                continue
            cfg = {"model_type": model_type, **oracle.DEFAULT_COMPLETIONS.get(model_type, {}),
                   "architectures": [stem + head]}
            ref = oracle.reference(cfg, preferred=(stem + head,))
            c = compare(expected_tensors(cfg, fallback=False), ref)
            assert c.equal, f"{stem + head}: {c.summary()}"
            checked += 1
    assert checked >= 80
