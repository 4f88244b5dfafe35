"""The batch H real configs (tests/fixtures/configs/README.md, "Batch H sources"): an out-of-sample check
of the family table on 25 checkpoints it had not seen (docs/families.md, "Batch H: out of sample").

test_families_oracle.py compares every fixture with transformers tensor for tensor on the meta device;
this checks, without torch, the counts transformers gives, the shapes behind each fix of this batch (a
BERT-layout task head, a model_type that is not the class the checkpoint was saved from, LFM2-MoE,
Granite Speech, Aya Vision, InternVL, GLM-4.1V) and what the table still refuses. The tests that need
torch compare every BERT-layout task head class, the first Granite Speech release and the vision options
of InternViT and GLM-4.1V with transformers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from builders.real_configs import FIXTURES, load_config, table_shapes
from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import NoFamilyRow, arch_config_from_hf, expected_tensors
from paramscope.knowledge.families.encoders import ENCODER_HEADS
from paramscope.model.dtypes import DType

CAMEMBERT_NER = "Jean-Baptiste__camembert-ner.json"
MINIMAX_AWQ = "QuantTrio__MiniMax-M2-AWQ.json"
LFM2_MOE = "LiquidAI__LFM2-8B-A1B.json"
SPEECH_2B = "ibm-granite__granite-speech-3.3-2b.json"
SPEECH_FIRST = "ibm-granite__granite-speech-3.2-8b.json"
AYA = "unsloth__aya-vision-8b.json"
INTERNVL = "OpenGVLab__InternVL3-1B-hf.json"
GLM4V = "zai-org__GLM-4.1V-9B-Thinking.json"


def _params(ts: tuple[Any, ...]) -> int:
    return sum(t.params for t in ts if t.is_parameter)


# The counts transformers 5.24.0 gives each config (built on the meta device, parameters summed, a tied
# head once); the oracle test checks them tensor for tensor. Two differ from transformers' parameter sum
# by what it keeps as buffers and the checkpoints store: LFM2-8B-A1B's float32 expert_bias (22 sparse
# layers × 32, counted as parameters as DeepSeek's e_score_correction_bias is) and camembert-ner's
# embeddings.position_ids (a buffer transformers 4.3.2 saved; not a parameter). granite-speech-3.2-8b
# is refused by transformers 5 (its projector_config's model_type): compared below with it corrected.
@pytest.mark.parametrize(("name", "tensors", "params"), [
    ("HuggingFaceTB__SmolLM-1.7B.json", 218, 1_711_376_384),
    (CAMEMBERT_NER, 200, 110_035_205),
    (LFM2_MOE, 2302, 8_339_929_856 + 22 * 32),
    (MINIMAX_AWQ, 48239, 228_689_764_864),
    ("Qwen__Qwen2.5-3B.json", 434, 3_085_938_688),
    ("Qwen__Qwen3-4B-Instruct-2507.json", 398, 4_022_468_096),
    ("Salesforce__codegen-350M-nl.json", 165, 356_712_448),
    ("dnakov__cwm-mlx.json", 579, 32_581_097_472),
    ("google__gemma-3-1b-it.json", 340, 999_885_952),
    (SPEECH_FIRST, 755, 8_483_457_322),
    (SPEECH_2B, 953, 3_009_219_840),
    ("ibm-granite__granite-speech-4.1-2b-plus.json", 953, 2_111_812_956),
    ("ibm-granite__granite-speech-3.3-8b.json", 953, 8_648_645_888),  # batch G's, counted since batch H
    ("mistralai__Ministral-3-14B-Instruct-2512.json", 585, 13_945_031_680),
    ("mistralai__Ministral-3-3B-Base-2512.json", 458, 3_849_090_048),
    ("mistralai__Ministral-8B-Instruct-2410.json", 327, 8_019_808_256),
    ("tencent__Hunyuan-0.5B-Pretrain.json", 266, 539_010_048),
    # = Hunyuan-7B-Instruct's published metadata.total_parameters (batch F): the GPTQ copy's config
    ("tencent__Hunyuan-7B-Instruct-GPTQ-Int4.json", 354, 7_504_568_320),
    (AYA, 701, 8_631_842_032),
    # saved by transformers 4.52 with no tie field: 4.x tied by the text config (Qwen2's default, untied),
    # so the head is its own tensor (hfconfig.saved_by_v4); transformers 5 alone would tie it (732 tensors)
    (INTERNVL, 733, 802_293_120 + 151_674 * 896),
    (GLM4V, 704, 10_292_777_472),
])
def test_counts_equal_transformers(name: str, tensors: int, params: int) -> None:
    ts = expected_tensors(load_config(name), fallback=False)
    assert (len(ts), _params(ts)) == (tensors, params)


# -- BERT-layout task heads: blind, camembert-ner was the bare model with a pooler ------------------------
def test_a_token_classification_encoder_has_its_classifier_and_no_pooler() -> None:
    cfg = load_config(CAMEMBERT_NER)
    shapes = table_shapes(cfg)
    h = cfg["hidden_size"]
    assert (shapes["classifier.weight"], shapes["classifier.bias"]) == ((5, h), (5,))  # id2label: 5 tags
    assert not any("pooler" in n for n in shapes)
    assert shapes["roberta.embeddings.word_embeddings.weight"] == (cfg["vocab_size"], h)
    # blind: pooler.dense (h·h + h) listed, classifier (5·h + 5) not: 586,747 parameters too many
    bare = expected_tensors({**cfg, "architectures": ["CamembertModel"]}, fallback=False)
    too_many = _params(bare) - _params(expected_tensors(cfg, fallback=False))
    assert too_many == (h * h + h) - (5 * h + 5) == 586_747


@pytest.mark.parametrize(("style", "head", "pooler", "layers"), [
    ("bert", "ForSequenceClassification", True, {"classifier.weight": (3, 64)}),
    ("roberta", "ForSequenceClassification", False,
     {"classifier.dense.weight": (64, 64), "classifier.out_proj.weight": (3, 64)}),
    ("bert", "ForMultipleChoice", True, {"classifier.weight": (1, 64)}),
    ("roberta", "ForQuestionAnswering", False, {"qa_outputs.weight": (3, 64)}),
])
def test_encoder_heads_follow_their_style(style: str, head: str, pooler: bool,
                                          layers: dict[str, tuple[int, ...]]) -> None:
    stem = {"bert": "Bert", "roberta": "Roberta"}[style]
    cfg = {"model_type": style, "architectures": [stem + head], "num_hidden_layers": 1, "hidden_size": 64,
           "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100,
           "id2label": {"0": "a", "1": "b", "2": "c"}}
    shapes = table_shapes(cfg)
    assert (f"{style}.pooler.dense.weight" in shapes) is pooler
    assert {n: shapes[n] for n in layers} == layers
    assert f"{style}.encoder.layer.0.attention.self.query.weight" in shapes


@pytest.mark.parametrize("arch", ["BertForPreTraining", "BertLMHeadModel", "RobertaForCausalLM",
                                  "SplinterForQuestionAnswering", "ElectraForMaskedLM"])
def test_encoder_heads_the_table_does_not_list_are_refused_in_one_line(arch: str) -> None:
    model_type = arch.split("For")[0].removesuffix("LMHeadModel").lower()
    with pytest.raises(UnsupportedError, match=f"architectures {arch}: paramscope's table lists") as e:
        expected_tensors({"model_type": model_type, "architectures": [arch]}, fallback=False)
    assert "\n" not in str(e.value)


# -- a model_type that is not the class the checkpoint was saved from --------------------------------------
@pytest.mark.slow
def test_a_config_naming_another_rows_class_is_counted_by_that_row() -> None:
    cfg = load_config(MINIMAX_AWQ)
    assert (cfg["model_type"], cfg["architectures"][0]) == ("mixtral", "MiniMaxM2ForCausalLM")
    shapes = table_shapes(cfg)
    q = cfg["num_attention_heads"] * cfg["head_dim"]
    # MiniMaxM2Attention's q/k norms over all heads (qk_norm_type per_layer) and the router's score bias,
    # which Mixtral has not: blind, 62 × 3 tensors (460,288 parameters) were missing
    assert shapes["model.layers.0.self_attn.q_norm.weight"] == (q,)
    assert shapes["model.layers.0.self_attn.k_norm.weight"] == (cfg["num_key_value_heads"] * cfg["head_dim"],)
    assert shapes["model.layers.0.block_sparse_moe.e_score_correction_bias"] == (cfg["num_local_experts"],)
    mixtral = expected_tensors({**cfg, "architectures": ["MixtralForCausalLM"]}, fallback=False)
    assert _params(expected_tensors(cfg, fallback=False)) - _params(mixtral) == 460_288
    extra = arch_config_from_hf(cfg, fallback=False).extra
    assert extra["counted_as"].startswith("minimax_m2") and "model_type says mixtral" in extra["counted_as"]
    import paramscope  # and inspect says so among its notes

    notes = paramscope.inspect(str(FIXTURES / MINIMAX_AWQ)).to_json()["notes"]
    assert f"counted as {extra['counted_as']}" in notes
    assert extra["quantization"]["quant_method"] == "awq"


def test_repository_code_is_not_redirected_by_its_class_name() -> None:
    # Hunyuan-A13B's first release: model_type "hunyuan" (repository code, auto_map) whose class name is
    # also the class of transformers' hunyuan_v1_moe row: still refused, never counted as that row
    with pytest.raises(NoFamilyRow, match="'hunyuan'"):
        expected_tensors(load_config("tencent__Hunyuan-A13B-Instruct.json"), fallback=False)


# -- LFM2-MoE: LFM2's conv and attention layers, dense then sparse feed-forwards ---------------------------
def test_lfm2_moe_dense_layers_then_experts_with_a_float32_bias() -> None:
    cfg = load_config(LFM2_MOE)
    ts = expected_tensors(cfg, fallback=False)
    shapes = {t.name: t.shape for t in ts}
    h, dense = cfg["hidden_size"], cfg["num_dense_layers"]
    for i, kind in enumerate(cfg["layer_types"]):
        p = f"model.layers.{i}."
        assert (p + "conv.in_proj.weight" in shapes) is (kind == "conv")
        assert (p + "self_attn.q_layernorm.weight" in shapes) is (kind == "full_attention")
        assert (p + "feed_forward.gate.weight" in shapes) is (i >= dense)
    # the dense width is intermediate_size itself: not LFM2's 2/3 rule (7168 → 4864)
    assert shapes["model.layers.0.feed_forward.w1.weight"] == (cfg["intermediate_size"], h)
    assert shapes["model.layers.2.feed_forward.experts.31.w2.weight"] == (h, cfg["moe_intermediate_size"])
    bias = next(t for t in ts if t.name == "model.layers.2.feed_forward.expert_bias")
    assert (bias.shape, bias.dtype) == ((cfg["num_experts"],), DType.F32)
    assert "feed_forward.expert_bias" not in "".join(table_shapes({**cfg, "use_expert_bias": False}))
    assert "lm_head.weight" not in shapes  # tie_word_embeddings defaults to true


# -- Granite Speech: Conformer encoder, windowed Q-Former, Granite text -----------------------------------
def test_granite_speech_encoder_projector_and_text_model() -> None:
    cfg = load_config(SPEECH_2B)
    ts = expected_tensors(cfg, fallback=False)
    shapes = {t.name: t.shape for t in ts}
    enc, proj, text = cfg["encoder_config"], cfg["projector_config"], cfg["text_config"]
    d = enc["hidden_dim"]
    assert shapes["encoder.input_linear.weight"] == (d, enc["input_dim"])
    assert shapes["encoder.layers.15.attn.rel_pos_emb.weight"] == (2 * enc["max_pos_emb"] + 1,
                                                                   enc["dim_head"])
    assert shapes["encoder.layers.0.conv.depth_conv.conv.weight"] == (2 * d, 1, enc["conv_kernel_size"])
    assert shapes["encoder.out.weight"] == (enc["output_dim"], d)
    running = [t for t in ts if t.name.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert len(running) == 3 * enc["num_layers"] and not any(t.is_parameter for t in running)
    # window_size // downsample_rate queries; cross-attention in every layer (frequency 1)
    assert shapes["projector.query"] == (1, cfg["window_size"] // cfg["downsample_rate"], proj["hidden_size"])
    assert shapes["projector.qformer.encoder.layer.1.crossattention.attention.key.weight"] == \
        (proj["hidden_size"], proj["encoder_hidden_size"])
    assert shapes["projector.linear.weight"] == (text["hidden_size"], proj["hidden_size"])
    assert shapes["language_model.model.embed_tokens.weight"] == (text["vocab_size"], text["hidden_size"])
    assert "language_model.lm_head.weight" not in shapes  # tied
    arch = arch_config_from_hf(cfg, fallback=False)
    assert (arch.family, arch.n_layers, arch.n_kv_heads) == ("granite", 40, 8)


def test_granite_speech_plus_cross_attends_to_its_concatenated_encoder_layers() -> None:
    cfg = load_config("ibm-granite__granite-speech-4.1-2b-plus.json")
    shapes = table_shapes(cfg)
    assert cfg["encoder_config"]["cat_hidden_layers"] == [3]
    assert shapes["projector.qformer.encoder.layer.0.crossattention.attention.value.weight"] == (1024, 2048)


# -- Aya Vision: SigLIP, a pixel-shuffle SwiGLU projector, Cohere2 ----------------------------------------
def test_aya_vision_projector_halves_its_swiglu_width() -> None:
    cfg = load_config(AYA)
    shapes = table_shapes(cfg)
    shuffled = cfg["vision_config"]["hidden_size"] * cfg["downsample_factor"] ** 2
    align = cfg["alignment_intermediate_size"]
    assert shapes["multi_modal_projector.layernorm.weight"] == (shuffled,)
    assert shapes["multi_modal_projector.linear_1.weight"] == (align, shuffled)
    assert shapes["multi_modal_projector.linear_2.weight"] == (cfg["text_config"]["hidden_size"], align // 2)
    assert "language_model.lm_head.weight" not in shapes  # AyaVisionConfig ties by default


# -- InternVL: InternViT, a pixel-shuffle projector, Qwen2 -------------------------------------------------
def test_internvl_vision_tower_and_projector() -> None:
    cfg = load_config(INTERNVL)
    shapes = table_shapes(cfg)
    v, text = cfg["vision_config"], cfg["text_config"]
    h = v["hidden_size"]
    patches = (v["image_size"][0] // v["patch_size"][0]) * (v["image_size"][1] // v["patch_size"][1])
    assert shapes["vision_tower.embeddings.position_embeddings"] == (1, patches + 1, h)  # + the cls token
    assert shapes["vision_tower.embeddings.patch_embeddings.projection.weight"] == (h, 3, 14, 14)
    assert shapes["vision_tower.encoder.layer.23.lambda_2"] == (h,)
    assert "vision_tower.encoder.layer.0.attention.q_norm.weight" not in shapes  # use_qk_norm false
    assert "vision_tower.layernorm.weight" not in shapes  # use_mean_pooling: no final norm
    shuffled = h * int(1 / cfg["downsample_ratio"]) ** 2
    assert shapes["multi_modal_projector.layer_norm.weight"] == (shuffled,)
    assert shapes["multi_modal_projector.linear_1.weight"] == (text["hidden_size"], shuffled)
    assert "lm_head.weight" not in shapes  # InternVLConfig ties by default


# -- GLM-4.1V: its own vision tower and merger, GLM-4's sandwich norms --------------------------------------
def test_glm4v_vision_blocks_are_out_hidden_wide_and_the_merger_intermediate_wide() -> None:
    cfg = load_config(GLM4V)
    shapes = table_shapes(cfg)
    v = cfg["vision_config"]
    h, out, ffn = v["hidden_size"], v["out_hidden_size"], v["intermediate_size"]
    p = "model.visual."
    assert shapes[p + "blocks.0.mlp.gate_proj.weight"] == (out, h)  # Glm4VisionMlp: out_hidden_size wide
    assert shapes[p + "merger.gate_proj.weight"] == (ffn, out)
    assert shapes[p + "patch_embed.proj.weight"] == (h, 3, v["temporal_patch_size"], 14, 14)
    patches = (v["image_size"] // v["patch_size"]) ** 2
    assert shapes[p + "embeddings.position_embedding.weight"] == (patches, h)
    assert shapes[p + "downsample.weight"] == (out, h, v["spatial_merge_size"], v["spatial_merge_size"])
    assert "model.visual.blocks.0.attn.qkv.bias" not in shapes  # attention_bias false
    text = cfg["text_config"]["hidden_size"]
    assert shapes["model.language_model.layers.0.post_mlp_layernorm.weight"] == (text,)
    assert "lm_head.weight" in shapes  # untied


# -- what the table still does not count ------------------------------------------------------------------
@pytest.mark.parametrize(("name", "model_type"), [
    # (gemma4, aria and blt have rows since the tenth session: tests/test_families_oracle.py compares them)
    # repository code: transformers 5.24 does not define them either
    ("deepseek-ai__deepseek-vl2-tiny.json", "deepseek_vl_v2"),
    ("microsoft__Phi-3-small-8k-instruct.json", "phi3small"),
])
def test_model_types_without_a_row_are_not_counted_by_the_table(name: str, model_type: str) -> None:
    with pytest.raises(NoFamilyRow, match=f"model_type '{model_type}' has no row"):
        expected_tensors(load_config(name), fallback=False)


def test_every_fixture_of_this_batch_names_its_source() -> None:
    readme = (FIXTURES / "README.md").read_text()
    section = readme[readme.index("## Batch H sources"):]
    for name in (CAMEMBERT_NER, MINIMAX_AWQ, LFM2_MOE, SPEECH_2B, SPEECH_FIRST, AYA):
        assert name in section
        json.loads((FIXTURES / name).read_text())


# -- against transformers ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_every_encoder_head_class_equals_transformers() -> None:
    transformers = pytest.importorskip("transformers", reason="the oracle needs transformers")
    pytest.importorskip("torch", reason="the oracle needs torch")
    from paramscope.knowledge.families import FAMILIES, oracle
    from paramscope.knowledge.families.compare import compare

    checked = 0
    for model_type, fam in FAMILIES.items():
        if fam.layout != "bert" or "heads" not in fam.names:
            continue
        stem = fam.architectures[0].removesuffix("Model")
        for head in ENCODER_HEADS[fam.names["heads"]]:
            if not hasattr(transformers, stem + head):
                continue
            cfg = {"model_type": model_type, "architectures": [stem + head], "num_hidden_layers": 2,
                   "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100,
                   "id2label": {"0": "a", "1": "b", "2": "c"}}
            ref = oracle.reference(cfg, preferred=(stem + head,))
            c = compare(expected_tensors(cfg, fallback=False), ref)
            assert c.equal and c.params_equal, f"{stem + head}: {c.summary()}"
            checked += 1
    assert checked == 32  # 8 rows × 4 heads (Splinter has none of the four)


@pytest.mark.slow
def test_the_first_granite_speech_release_equals_transformers_with_its_projector_type_corrected() -> None:
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    pytest.importorskip("torch", reason="the oracle needs torch")
    from paramscope.knowledge.families import oracle
    from paramscope.knowledge.families.compare import compare

    cfg = load_config(SPEECH_FIRST)
    with pytest.raises(oracle.ConfigRefused, match="granite_speech_qformer"):
        oracle.reference(cfg)
    fixed = {**cfg, "projector_config": {**cfg["projector_config"], "model_type": "blip_2_qformer"}}
    assert expected_tensors(fixed, fallback=False) == expected_tensors(cfg, fallback=False)
    ref = oracle.reference(fixed)
    c = compare(expected_tensors(cfg, fallback=False), ref)
    # the BatchNorm running statistics are buffers in transformers' list too (its saved names are
    # renamed from the model's: the oracle asks the renamed name)
    assert c.equal and c.params_equal and not c.kinds, c.summary()


@pytest.mark.slow
@pytest.mark.parametrize("vision", [
    {"use_qk_norm": True, "norm_type": "rms_norm", "attention_bias": False},
    {"use_mean_pooling": False, "use_mask_token": True, "image_size": 224, "patch_size": 16},
    {"use_absolute_position_embeddings": False},
])
def test_internvl_vision_options_equal_transformers(vision: dict[str, Any]) -> None:
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    pytest.importorskip("torch", reason="the oracle needs torch")
    from paramscope.knowledge.families.compare import compare_config

    cfg = load_config(INTERNVL)
    cfg = {**cfg, "text_config": {**cfg["text_config"], "num_hidden_layers": 2},
           "vision_config": {**cfg["vision_config"], "num_hidden_layers": 2, **vision},
           "downsample_ratio": 0.25, "tie_word_embeddings": False}
    c = compare_config(cfg, "InternVL3-1B variant")
    assert c.equal and c.params_equal, c.summary()


@pytest.mark.slow
def test_glm4v_vision_options_equal_transformers() -> None:
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    pytest.importorskip("torch", reason="the oracle needs torch")
    from paramscope.knowledge.families.compare import compare_config

    cfg = load_config(GLM4V)
    cfg = {**cfg, "text_config": {**cfg["text_config"], "num_hidden_layers": 2},
           "tie_word_embeddings": True,
           "vision_config": {**cfg["vision_config"], "depth": 2, "attention_bias": True, "image_size": 448,
                             "patch_size": 16, "model_type": "glm4v_vision"}}
    c = compare_config(cfg, "GLM-4.1V variant")
    assert c.equal and c.params_equal, c.summary()
