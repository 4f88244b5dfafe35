"""Batch B of the real configs (tests/fixtures/configs, README "Batch B sources"): the layouts their
checkpoints exposed that our table had not covered, checked against transformers on the meta device,
and the published counts the fixtures identify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paramscope.knowledge.families import arch_config_from_hf, expected_tensors

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"


def _params(name: str) -> int:
    return sum(t.params for t in expected_tensors(json.loads((FIXTURES / name).read_text()), fallback=False))


# published parameter counts of the checkpoints (model cards / Hub), which the fixtures must reproduce
@pytest.mark.parametrize(("name", "params"), [
    ("mistralai__Mamba-Codestral-7B-v0.1.json", 7_285_403_648),
    ("llava-hf__llava-v1.6-mistral-7b-hf.json", 7_566_747_648),
    ("openai__whisper-large-v3.json", 1_543_490_560),
])
def test_fixtures_reproduce_published_counts(name: str, params: int) -> None:
    assert _params(name) == params


# the weight tables that GitHub gogongxt/python's model_inspector.py wrote from the checkpoints
# (scripts/models/*.md, commit ec996269): tensors, parameters, and bytes in bfloat16
@pytest.mark.parametrize(("name", "tensors", "params"), [
    ("Qwen__Qwen3-VL-8B-Instruct.json", 750, 8_767_123_696),
    ("Qwen__Qwen3-VL-30B-A3B-Instruct.json", 882, 31_070_754_032),
])
def test_fixtures_equal_their_checkpoints_weight_tables(name: str, tensors: int, params: int) -> None:
    ts = expected_tensors(json.loads((FIXTURES / name).read_text()), fallback=False)
    assert (len(ts), sum(t.params for t in ts), sum(t.nbytes for t in ts)) == (tensors, params, 2 * params)


def test_qwen3_next_is_its_checkpoint_less_the_multi_token_prediction_layer() -> None:
    # Qwen3-Next-80B-A3B-Instruct's checkpoint: 75,944 tensors, 81,324,862,720 parameters, of which the
    # mtp.* rows (fc, 3 norms, one decoder layer with 512 experts) are 1,553 tensors, 1,650,471,424
    # parameters; transformers builds no MTP layer, and neither does our table
    ts = expected_tensors(json.loads((FIXTURES / "Qwen__Qwen3-Next-80B-A3B-Instruct.json").read_text()),
                          fallback=False)
    assert not any(t.name.startswith("mtp.") for t in ts)
    assert (len(ts), sum(t.params for t in ts)) == (75_944 - 1_553, 81_324_862_720 - 1_650_471_424)
    # and the summary says the checkpoint also holds it
    arch = arch_config_from_hf(json.loads((FIXTURES / "Qwen__Qwen3-Next-80B-A3B-Instruct.json").read_text()))
    assert "mtp." in arch.extra["not_listed"]


# Llama-4-Scout-17B-16E's config says "attn_temperature_tuning": 4 where transformers 5 types the field
# bool and refuses the file; the flag names no tensor, so with it as a bool the model is built and must
# equal our table (1133 tensors, 108,641,793,536 parameters: the published "109B")
def test_llama4_scout_is_refused_by_transformers_and_equal_with_the_flag_as_bool() -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.errors import UnsupportedError
    from paramscope.knowledge.families.compare import compare_config

    cfg = json.loads((FIXTURES / "meta-llama__Llama-4-Scout-17B-16E.json").read_text())
    with pytest.raises(UnsupportedError, match="attn_temperature_tuning"):
        compare_config(cfg, "Llama-4-Scout")
    cfg["text_config"]["attn_temperature_tuning"] = True
    c = compare_config(cfg, "Llama-4-Scout")
    assert c.equal and (c.ours, c.ours_params) == (1133, 108_641_793_536), c.summary()


# -- ModernBERT classification heads (MoritzLaurer/ModernBERT-large-zeroshot-v2.0 is one) ------------
_SMALL_MODERNBERT: dict[str, Any] = {
    "model_type": "modernbert", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 3, "num_attention_heads": 4, "max_position_embeddings": 64,
    "global_attn_every_n_layers": 3, "local_attention": 8, "pad_token_id": 0,
}


@pytest.mark.parametrize("arch", ["ModernBertForSequenceClassification", "ModernBertForTokenClassification",
                                  "ModernBertForQuestionAnswering", "ModernBertForMultipleChoice"])
@pytest.mark.parametrize("labels", [None, {"0": "a", "1": "b", "2": "c"}])
@pytest.mark.parametrize("biases", [False, True])
def test_modernbert_classification_heads_equal_transformers(arch: str, labels: dict[str, str] | None,
                                                            biases: bool) -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families.compare import compare_config

    cfg = {**_SMALL_MODERNBERT, "architectures": [arch], "norm_bias": biases, "classifier_bias": biases}
    if labels is not None:
        cfg["id2label"] = labels
    c = compare_config(cfg, arch)
    assert c.equal, c.summary()


# -- BART classification heads (facebook/bart-large-mnli is BartForSequenceClassification) ----------
_SMALL_BART: dict[str, Any] = {
    "model_type": "bart", "vocab_size": 64, "d_model": 32, "encoder_layers": 2, "decoder_layers": 1,
    "encoder_ffn_dim": 48, "decoder_ffn_dim": 40, "encoder_attention_heads": 4, "decoder_attention_heads": 4,
    "max_position_embeddings": 32, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
    "decoder_start_token_id": 2, "forced_eos_token_id": 2,
}


@pytest.mark.parametrize("arch", ["BartForSequenceClassification", "BartForQuestionAnswering"])
@pytest.mark.parametrize("labels", [None, {"0": "a", "1": "b", "2": "c"}])
@pytest.mark.parametrize("tied", [True, False])
def test_bart_classification_heads_equal_transformers(arch: str, labels: dict[str, str] | None,
                                                      tied: bool) -> None:
    pytest.importorskip("torch", reason="the oracle needs torch")
    pytest.importorskip("transformers", reason="the oracle needs transformers")
    from paramscope.knowledge.families.compare import compare_config

    cfg = {**_SMALL_BART, "architectures": [arch], "tie_word_embeddings": tied}
    if labels is not None:
        cfg["id2label"] = labels
    c = compare_config(cfg, arch)
    assert c.equal, c.summary()
