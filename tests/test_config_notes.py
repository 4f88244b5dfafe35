"""Notes a config-only listing carries: what the config does not say, said rather than guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paramscope

LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
         "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 256}
LLAVA = {"model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
         "text_config": {**LLAMA}, "vision_config": {"model_type": "clip_vision_model", "hidden_size": 32,
                                                     "intermediate_size": 64, "num_hidden_layers": 1,
                                                     "num_attention_heads": 2, "image_size": 32,
                                                     "patch_size": 16}}


def _no_dtype_notes(tmp_path: Path, cfg: dict) -> list[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return [n for n in paramscope.inspect(str(path)).to_json()["notes"] if "names no dtype" in n]


@pytest.mark.parametrize(("cfg", "said"), [
    (LLAMA, True),
    ({**LLAMA, "torch_dtype": "auto"}, True),  # "auto" names no type either
    ({**LLAMA, "torch_dtype": "float16"}, False),
    ({**LLAMA, "dtype": "bfloat16"}, False),  # transformers >= 4.56 writes `dtype`
    (LLAVA, True),
    ({**LLAVA, "text_config": {**LLAMA, "torch_dtype": "bfloat16"}}, False),  # in a sub-config
], ids=["none", "auto", "torch_dtype", "dtype", "composite-none", "sub-config"])
def test_a_config_without_a_dtype_says_which_type_it_was_priced_in(tmp_path: Path, cfg: dict,
                                                                   said: bool) -> None:
    notes = _no_dtype_notes(tmp_path, cfg)
    assert bool(notes) is said
    if said:  # the types named are the ones listed
        listed = set(paramscope.inspect(str(tmp_path / "config.json")).to_json()["by_dtype"])
        assert all(t in notes[0] for t in listed), (notes, listed)


def test_size_repeats_the_no_dtype_note_with_the_float32_total(tmp_path: Path) -> None:
    """`size` prices the weights as listed, so it says the type was assumed too, with the float32 bytes a
    file transformers wrote without a dtype holds (a Llama-3-8B .bin whose config names none is float32:
    tests/fixtures/quantized_totals/out_of_sample_r6.json)."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA))
    params = sum(t.params for t in paramscope.open_model(str(path)).tensors)
    notes = paramscope.size(str(path)).estimate.notes
    said = [n for n in notes if n.startswith("weights: config.json names no dtype")]
    assert len(said) == 1 and f"would be {4 * params:,} bytes" in said[0], notes
    path.write_text(json.dumps({**LLAMA, "torch_dtype": "bfloat16"}))
    assert not any("names no dtype" in n for n in paramscope.size(str(path)).estimate.notes)
