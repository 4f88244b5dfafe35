"""The oracle's fast path (knowledge/families/oracle.py, ``fast=True``: revert_weight_conversion without
a regex per tensor) against transformers' own calls (``fast=False``): the same class, the same tensors
in the same order (names, shapes, dtypes, is_parameter) and the same tied tuple, or the same refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the oracle tests need torch (make .venv/.torch)")
pytest.importorskip("transformers", reason="the oracle tests need transformers (the oracle extra)")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paramscope.errors import UnsupportedError
from paramscope.knowledge.families import oracle

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"


def _answer(cfg: dict[str, Any], fast: bool) -> Any:
    try:
        r = oracle.reference(cfg, preferred=(), fast=fast)
    except UnsupportedError as e:
        return str(e)
    return r.class_name, r.tensors, r.tied


def _assert_same(cfg: dict[str, Any]) -> None:
    fast, plain = _answer(cfg, True), _answer(cfg, False)
    if fast != plain and not isinstance(fast, str) and not isinstance(plain, str):
        first = next((i for i, (a, b) in enumerate(zip(fast[1], plain[1], strict=False)) if a != b), None)
        where = f"tensor {first}: {fast[1][first]} vs {plain[1][first]}" if first is not None else "lengths"
        pytest.fail(f"{cfg.get('model_type')}: fast path differs at {where}")
    assert fast == plain


def test_the_fast_path_runs_on_the_installed_transformers() -> None:
    # it runs only with the transformers code it was checked against (oracle._CHECKED); after an upgrade
    # that changed it, re-read the pieces oracle._checked_sources names against oracle._revert_fast and
    # oracle._parameters_looked_up_once, then record the new digest
    assert oracle._checked(), "transformers changed the code the oracle's fast path repeats: check it"


# default configs: converters only (fused experts: mixtral, qwen3_moe, gpt_oss), renamings only
# (legacy VLM prefixes: gemma3, llava, paligemma; ViT-style backbones: vit, swin), encoder-decoders
# (t5, whisper), and the renaming kinds with code of their own: LayerPairCollapse (dory),
# Inkling2IndexOffsetWeightRename (inkling2_text)
DEFAULTS = ["mixtral", "qwen3_moe", "gpt_oss", "gemma3", "llava", "paligemma", "vit", "swin", "t5",
            "whisper", "dory", "timm_wrapper"]

# the default MoE configs of tens of thousands of tensors, converters and renamings in one model, and
# kimi_k25's GroupWeightRename (a renaming that remembers the keys it has seen)
BIG = ["dots3_note", "glm5_next", "kimi_k25", "deepseek_v3", "inkling2_text"]


def _by_type(types: list[str]) -> list[Any]:
    """Each type on the pytest-xdist worker of test_families_oracle.py's tests of it (its modeling code
    imported once)."""
    return [pytest.param(t, marks=pytest.mark.xdist_group(f"hf-{t}")) for t in types]


@pytest.mark.parametrize("model_type", _by_type(DEFAULTS))
def test_fast_path_equals_transformers_on_default_configs(model_type: str) -> None:
    _assert_same({"model_type": model_type})


@pytest.mark.slow  # seconds each, twice
@pytest.mark.parametrize("model_type", _by_type(BIG))
def test_fast_path_equals_transformers_on_big_default_configs(model_type: str) -> None:
    _assert_same({"model_type": model_type})


REAL = ["Qwen__Qwen3-VL-30B-A3B-Instruct.json", "qwen2.5-vl-7b-instruct.json",
        "mistral-community__pixtral-12b.json", "llava-hf__llava-v1.6-mistral-7b-hf.json",
        "meta-llama__Llama-3.2-11B-Vision-Instruct.json", "vidore__colpali-v1.2-merged.json",
        "HuggingFaceTB__SmolVLM2-2.2B-Instruct.json", "allenai__OLMoE-1B-7B-0125-Instruct.json",
        "openai__whisper-large-v3.json", "t5-v1_1-base.json"]


@pytest.mark.parametrize("name", REAL)
def test_fast_path_equals_transformers_on_real_configs(name: str) -> None:
    _assert_same(json.loads((FIXTURES / name).read_text()))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["mixtral", "qwen3_moe", "deepseek_v3", "gpt_oss", "qwen2_moe"]),
       st.integers(1, 3), st.integers(1, 4), st.booleans())
def test_fast_path_equals_transformers_on_small_moe_configs(model_type: str, layers: int, experts: int,
                                                            tied: bool) -> None:
    cfg = {"model_type": model_type, "num_hidden_layers": layers, "hidden_size": 32, "intermediate_size": 16,
           "moe_intermediate_size": 8, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
           "vocab_size": 64, "tie_word_embeddings": tied, "num_local_experts": experts,
           "num_experts": experts, "n_routed_experts": experts, "num_experts_per_tok": 1,
           "first_k_dense_replace": min(1, layers - 1), "kv_lora_rank": 8, "q_lora_rank": 8,
           "qk_rope_head_dim": 4, "qk_nope_head_dim": 4, "v_head_dim": 8, "n_group": 1, "topk_group": 1}
    _assert_same(cfg)


def _config(cfg: dict[str, Any], fast: bool) -> Any:
    try:
        return _state(oracle.hf_config(cfg, fast=fast))
    except UnsupportedError as e:
        return str(e)


def _state(value: Any) -> Any:
    """A config's class and attributes, nested configs' too (read from ``__dict__`` directly: Gemma 4's
    per-layer configs refuse ``==`` and attribute access of a value that varies by layer)."""
    from transformers import PreTrainedConfig

    if isinstance(value, PreTrainedConfig):
        return type(value), {k: _state(v) for k, v in object.__getattribute__(value, "__dict__").items()}
    if isinstance(value, list | tuple):
        return type(value), [_state(v) for v in value]
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name", REAL)
def test_fast_config_equals_from_dict_on_real_configs(name: str) -> None:
    cfg = json.loads((FIXTURES / name).read_text())
    assert _config(cfg, True) == _config(cfg, False)


@pytest.mark.slow  # ~1,600 config objects
def test_fast_config_equals_from_dict_on_every_default_config() -> None:
    differ = [t for t in oracle.native_model_types()
              if _config({"model_type": t}, True) != _config({"model_type": t}, False)]
    assert not differ
