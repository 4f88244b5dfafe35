"""Per-layer buffers old writers saved beside the parameters (knowledge/config_tensors.SAVED_BUFFERS), keyed
on the config: transformers' version for Llama and GPT-NeoX, the repository code's generation for InternLM.
The real files behind each rule are in tests/fixtures/quantized_totals/out_of_sample*.json."""

from __future__ import annotations

import pytest

from builders.index_totals import listed
from paramscope.errors import UnsupportedError
from paramscope.model.dtypes import DType

NEOX = {"model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "hidden_size": 256,
        "intermediate_size": 1024, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000,
        "max_position_embeddings": 64, "rotary_pct": 0.25, "torch_dtype": "float16"}
INTERNLM = {"model_type": "internlm", "architectures": ["InternLMForCausalLM"], "hidden_size": 256,
            "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000,
            "bias": True, "torch_dtype": "float16",
            "auto_map": {"AutoModelForCausalLM": "modeling_internlm.InternLMForCausalLM"}}


def _buffers(cfg: dict) -> dict[str, tuple[tuple[int, ...], DType]]:
    return {t.name: (t.shape, t.dtype) for t in listed(cfg)[0] if not t.is_parameter}


@pytest.mark.parametrize(("version", "mask"), [
    ("4.26.1", DType.U8),  # modeling_gpt_neox.py 4.26: torch.uint8 mask
    ("4.28.1", DType.BOOL),  # 4.27-4.30: torch.bool
    ("4.30.0.dev0", DType.BOOL),
    ("4.31.0", None),  # mask and masked_bias persistent=False; inv_freq still saved
    ("4.35.0", None),  # inv_freq persistent=False too: nothing
])
def test_gpt_neox_buffers_by_transformers_version(version: str, mask: DType | None) -> None:
    found = _buffers({**NEOX, "transformers_version": version})
    layer = "gpt_neox.layers.1.attention."
    if version == "4.35.0":
        assert found == {}
        return
    assert found[layer + "rotary_emb.inv_freq"] == ((8,), DType.F32)  # head 64 x 0.25 = 16 rotary dims
    if mask is None:
        assert set(found) == {f"gpt_neox.layers.{i}.attention.rotary_emb.inv_freq" for i in (0, 1)}
    else:
        assert found[layer + "bias"] == ((1, 1, 64, 64), mask)
        assert found[layer + "masked_bias"] == ((), DType.F16)  # built in the dtype it was loaded in
        assert len(found) == 6


def test_a_bool_mask_says_what_the_index_counts() -> None:
    notes = listed({**NEOX, "transformers_version": "4.28.1"})[1]
    # 2 masks of 64 x 64 bool: 8,192 bytes in the file, 1,024 in the index's total_size
    assert any("total_size is 7,168 bytes below the listing" in n for n in notes), notes
    assert not any("1/8 byte" in n for n in listed({**NEOX, "transformers_version": "4.26.1"})[1])


@pytest.mark.parametrize(("keys", "saved"), [
    ({}, True),  # the first internlm-7b InternLMConfig writes no rotary settings: inv_freq persistent
    ({"rotary": {"base": 10000, "type": "dynamic"}}, False),  # internlm-7b's later code
    ({"rope_theta": 10000.0, "rope_scaling": None}, False),  # internlm-20b's code
])
def test_internlm_inv_freq_follows_its_code_generation(keys: dict, saved: bool) -> None:
    found = _buffers({**INTERNLM, **keys})
    expected = {f"model.layers.{i}.self_attn.rotary_emb.inv_freq": ((32,), DType.F32) for i in (0, 1)}
    assert found == (expected if saved else {})


@pytest.mark.parametrize("arch", ["InternLMForSequenceClassification", "InternLM2ForCausalLM"])
def test_internlm_classes_the_row_does_not_list_are_refused(arch: str) -> None:
    with pytest.raises(UnsupportedError, match=f"architectures {arch}: the internlm row lists"):
        listed({**INTERNLM, "architectures": [arch]})


@pytest.mark.parametrize(("runtime", "weights"), [("vllm", None), ("llama.cpp", None), ("llama.cpp", "q4_0"),
                                                  ("transformers", None)])
def test_sizing_leaves_out_the_buffers_no_engine_loads(tmp_path, runtime: str, weights: str | None) -> None:
    """The listing holds the old writer's masks and inv_freq (the file does); the weights an engine holds
    do not (llama.cpp's converter and vLLM skip them; transformers builds none persistent now)."""
    import json

    import paramscope

    old, new = tmp_path / "old" / "config.json", tmp_path / "new" / "config.json"
    for path, version in ((old, "4.26.1"), (new, "4.40.0")):
        path.parent.mkdir()
        path.write_text(json.dumps({**NEOX, "transformers_version": version}))
    assert paramscope.open_model(str(old)).tensor_bytes > paramscope.open_model(str(new)).tensor_bytes

    def priced(path) -> int:
        return paramscope.size(str(path), runtime=runtime, weights=weights).estimate.weights_bytes

    assert priced(old) == priced(new)
