"""Batch B of the real configs (tests/fixtures/configs, README "Batch B sources"): the layouts their
checkpoints exposed that our table had not covered, checked against transformers on the meta device,
and the published counts the fixtures identify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from paramscope.knowledge.families import expected_tensors

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
