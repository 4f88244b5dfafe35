"""The oracle's fast path (knowledge/families/oracle.py, ``fast=True``: revert_weight_conversion without
a regex per tensor) against transformers' own calls (``fast=False``): the same class, the same tensors
in the same order (names, shapes, dtypes, is_parameter) and the same tied tuple, or the same refusal."""

from __future__ import annotations

import contextlib
import json
import re
import weakref
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="the oracle tests need torch (make .venv/.torch)")
pytest.importorskip("transformers", reason="the oracle tests need transformers (the oracle extra)")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paramscope.errors import UnsupportedError
from paramscope.gcpause import gc_paused
from paramscope.knowledge.families import expected_tensors, oracle
from paramscope.model import Tensor
from paramscope.model.dtypes import DType

FIXTURES = Path(__file__).resolve().parent / "fixtures/configs"


# the models the test builds are freed as they are dropped (no reference cycles: checked below), as
# under oracle.reference: the collector's passes over them while they live are left out
@gc_paused
def _assert_same(cfg: dict[str, Any]) -> None:
    """``oracle.reference(cfg, fast=True)`` and ``fast=False`` give the same answer: the same refusal, or
    the same class, tensors in order (names, shapes, dtypes, is_parameter) and tied tuple.

    The two paths build the model alike (the same ``_from_config`` of equal configs, held equal here),
    so each class is built once and both paths count that model, as ``reference`` does class after
    class; the model is shown to come out of both unchanged. transformers' renamings of every name
    either side of a comparison meet (the saved names, the model's own and our table's) are held equal
    to its own ``apply_renamings`` too."""
    try:
        config = oracle.hf_config(cfg)
    except UnsupportedError as e:
        with pytest.raises(UnsupportedError) as plain:
            oracle.hf_config(cfg, fast=False)
        assert str(plain.value) == str(e)
        return
    assert _state(config) == _state(oracle.hf_config(cfg, fast=False))
    dtype = oracle.torch_dtype_of(cfg) or DType.F32
    try:
        classes = oracle.model_classes(config, cfg)
    except UnsupportedError:  # no class for the config's class: the same refusal on either path
        return
    failures = []
    for cls in classes:
        try:
            model = oracle._build(cls, config, dtype)
        except Exception as e:  # the one build both paths share
            failures.append(oracle._failure(cls, e))
            continue
        before = _model_state(model)
        plain, fast = (_count(model, cls, dtype, fast) for fast in (False, True))
        assert _model_state(model) == before, "counting the model changed it"
        if fast != plain and not isinstance(fast, str) and not isinstance(plain, str):
            first = next((i for i, (a, b) in enumerate(zip(fast[1], plain[1], strict=False)) if a != b), None)
            where = "lengths" if first is None else f"tensor {first}: {fast[1][first]} vs {plain[1][first]}"
            pytest.fail(f"{cfg.get('model_type')}: fast path differs at {where}")
        assert fast == plain
        if not isinstance(fast, str):
            _assert_renamed_alike(model, cfg, fast[1], fast[2])
            # and nothing counting made refers back to the model in a cycle: it is freed when dropped,
            # not at the collector's next full pass over every object of the process
            alive = weakref.ref(model)
            del model
            assert alive() is None, "counting left the model in a reference cycle"
            return
        failures.append(fast)
    assert failures  # no class built and saved: reference refuses, quoting failures[0], on either path


def _count(model: Any, cls: Any, dtype: DType, fast: bool) -> Any:
    try:
        state, tied = oracle._state_to_save(model, fast)
    except Exception as e:
        return oracle._failure(cls, e)
    ref = oracle._saved(model, state, tied, dtype)
    return ref.class_name, ref.tensors, ref.tied  # each Reference has its own renamer: compared below


def _model_state(model: Any) -> Any:
    """Everything counting could change: each module's attributes, each tensor (the very object) and
    the config."""
    return ([(name, type(m), sorted(vars(m))) for name, m in model.named_modules(remove_duplicate=False)],
            [(name, id(t), t.shape, t.dtype) for name, t in model.state_dict(keep_vars=True).items()],
            _state(model.config))


def _assert_renamed_alike(model: Any, cfg: dict[str, Any], saved: tuple[Tensor, ...],
                          tied: tuple[Tensor, ...]) -> None:
    """Renamer.all (each renaming asked at C speed which names it can match; each distinct name once)
    against transformers' apply_renamings name by name, in the order a comparison renames them: our
    table's names (where the type has a row), the saved ones, the tied ones, then the model's own."""
    try:
        ours = [t.name for t in expected_tensors(cfg, fallback=False)]
    except UnsupportedError:
        ours = []
    batches = [ours, [t.name for t in saved], [t.name for t in tied], list(model.state_dict())]
    fast, plain = oracle.Renamer(model), oracle.Renamer(model)
    assert [fast.all(names) for names in batches] == [[plain(n) for n in names] for names in batches]


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


# the pieces of regex Renamer.all's filter reads (oracle._needed_text): literal text, any character,
# classes, repeats, groups (named, flagged), alternations, anchors and lookarounds, as transformers'
# renaming patterns use them
_PIECES = st.sampled_from(["a", "b", "ab", ".", r"\.", r"\d+", "[ab]", "a*", "(?:b)?", "^", "$", r"(?!\w)",
                           r"(?<=a)", "(?i:ab)", r"\w"])


@st.composite
def _patterns(draw: st.DrawFn, depth: int = 2) -> str:
    def sequence() -> str:
        items = draw(st.lists(_PIECES, min_size=1, max_size=4))
        if depth and draw(st.booleans()):
            items.insert(draw(st.integers(0, len(items))), f"({draw(_patterns(depth - 1))})")
        return "".join(items)

    return "|".join(sequence() for _ in range(draw(st.integers(1, 3))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_patterns(), st.lists(st.text("ab.1A\n", max_size=10), max_size=6), st.data())
def test_a_key_without_the_needed_text_never_matches(pattern: str, keys: list[str],
                                                     data: st.DataObject) -> None:
    compiled = re.compile(pattern)
    needs = oracle._needed_text(compiled.pattern, compiled.flags)
    if needs is None:
        return
    # and a key that matches, where hypothesis can write one (not past every lookaround)
    with contextlib.suppress(Exception):
        keys.append(data.draw(st.from_regex(compiled)))
    for key in keys:
        if compiled.search(key):
            assert any(text in key for text in needs), (pattern, key, needs)
