"""Our family table against transformers itself on the meta device (knowledge/families/oracle.py):
every row on its default config, every real config we keep, random small configs of the families
with the most config-dependent layouts, the fallback for model types without a row, and the sizes of
the recurrent state the KV-cache analysis holds for state-space layers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from paramscope import records

pytest.importorskip("torch", reason="the oracle tests need torch (make .venv/.torch)")
pytest.importorskip("transformers", reason="the oracle tests need transformers (the oracle extra)")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.kv_cache import kv_cache_for_context
from paramscope.errors import UnsupportedError
from paramscope.knowledge import catalogue
from paramscope.knowledge.families import (
    arch_config_from_hf,
    expected_tensors,
    fallback,
    oracle,
    supported_model_types,
)
from paramscope.knowledge.families.compare import compare, compare_config
from paramscope.model.dtypes import DType

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests/fixtures/configs"
SHARED = ROOT.parent / "shared/configs"


def _real_configs() -> list[Path]:
    folders = (FIXTURES, Path(catalogue.__file__).parent, SHARED)
    return sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.json"))


def _timm_works() -> bool:
    try:  # PyPI's torchvision does not import beside the CPU build of torch: timm then fails too
        import timm  # noqa: F401
    except Exception:
        return False
    return True


# Gemma 3n's vision tower is timm's MobileNetV5 (TimmWrapperModel): transformers builds the whole model
# only where timm (and a torchvision that imports) is installed; its text and audio parts are checked
# without it below
NEEDS_TIMM = frozenset({"gemma3n"})
TIMM = _timm_works()


# one comparison per distinct config: the same config.json is kept in more than one folder (the
# catalogue's DeepSeek-V3 and the shared configs'), and building it again would only repeat the answer
# (only the verdict and its line are kept: a default MoE config's comparison lists 100k tensors)
_COMPARED: dict[str, tuple[bool, str]] = {}


def _assert_equal(cfg: dict[str, Any], source: str) -> None:
    if cfg.get("model_type") in NEEDS_TIMM and not TIMM:
        pytest.skip(f"{source}: transformers builds {cfg['model_type']} only with timm installed")
    key = json.dumps(cfg, sort_keys=True)
    if key not in _COMPARED:
        c = compare_config(cfg, source)
        _COMPARED[key] = (c.equal, "" if c.equal else c.summary())
    equal, summary = _COMPARED[key]
    assert equal, f"{source}: {summary}"


def _by_type(model_type: Any) -> pytest.MarkDecorator:
    """The tests of one model type share a pytest-xdist worker: the first build of a type imports its
    modeling code, three quarters of that build's time (~0.2 s), which the next builds skip."""
    return pytest.mark.xdist_group(f"hf-{model_type}")


NATIVE_ROWS = [t for t in supported_model_types() if oracle.not_native({"model_type": t}) is None]
REMOTE_ROWS = sorted(set(supported_model_types()) - set(NATIVE_ROWS))


# -- every row, on transformers' own default config ------------------------------------------------
def test_at_least_100_rows_and_which_are_remote_only() -> None:
    assert len(NATIVE_ROWS) >= 100
    assert REMOTE_ROWS == ["RefinedWeb", "RefinedWebModel", "chatglm", "internlm", "internlm2", "qwen"]


DEFAULT_COMPLETIONS = oracle.DEFAULT_COMPLETIONS  # what transformers needs to build a few defaults


# slow: the defaults are full-size models (30-40 CPU-s for the 134 builds); make test runs them, and
# test-fast still checks the table against transformers on the real and random small configs below
@pytest.mark.slow
@pytest.mark.parametrize("model_type", [pytest.param(t, marks=_by_type(t)) for t in NATIVE_ROWS])
def test_every_row_equals_transformers_on_its_default_config(model_type: str) -> None:
    cfg = {"model_type": model_type, **DEFAULT_COMPLETIONS.get(model_type, {})}
    if model_type in DEFAULT_COMPLETIONS:  # the completions leave the default model as it is
        assert expected_tensors(cfg, fallback=False) == expected_tensors({"model_type": model_type},
                                                                        fallback=False)
    _assert_equal(cfg, f"default {model_type}")


# Falcon's first configs (tiiuae modelling_RW.py) against FalconForCausalLM on the same numbers: the
# RW code's n_layer/n_head/n_head_kv under transformers' names, RefinedWeb as the new decoder architecture
_RW_NAMES = {"n_layer": "num_hidden_layers", "n_head": "num_attention_heads", "n_head_kv": "num_kv_heads"}


@pytest.mark.parametrize(("cfg", "new_arch"), [
    ({"model_type": "RefinedWebModel"}, False),
    ({"model_type": "RefinedWebModel", "architectures": ["RWForCausalLM"], "bias": False, "hidden_size": 256,
      "multi_query": True, "n_head": 4, "n_layer": 2, "parallel_attn": True, "vocab_size": 1000}, False),
    ({"model_type": "RefinedWeb", "n_layer": 3}, True),
    ({"model_type": "RefinedWeb", "architectures": ["RWForCausalLM"], "bias": True, "hidden_size": 512,
      "n_head": 8, "n_head_kv": 2, "n_layer": 2, "parallel_attn": True, "vocab_size": 1000}, True),
])
def test_refinedweb_configs_equal_falcon(cfg: dict[str, Any], new_arch: bool) -> None:
    ours = expected_tensors(cfg, fallback=False)
    resolved = {"hidden_size": 8192, "n_head": 128, "n_head_kv": 8, "n_layer": 60} if new_arch else {}
    falcon = {_RW_NAMES.get(k, k): v for k, v in {**resolved, **cfg}.items() if k != "architectures"}
    falcon.update(model_type="falcon", new_decoder_architecture=new_arch)
    c = compare(ours, oracle.reference(falcon, preferred=("FalconForCausalLM",)))
    assert c.equal, c.summary()


# -- every real config.json we keep ----------------------------------------------------------------
# real configs the installed transformers refuses to build, and why: each is compared on the same numbers
# elsewhere (tests/test_real_configs_batch_a.py / _b.py: still refused; equal once the value is corrected)
REFUSED_BY_TRANSFORMERS = {
    "mlx-community__dbrx-instruct-4bit.json": "moe_normalize_expert_weights is the integer 1, typed float",
    "meta-llama__Llama-4-Scout-17B-16E.json": "text_config.attn_temperature_tuning is 4, typed bool",
    # the first, remote-code release names its projector granite_speech_qformer, a model type transformers
    # 5 does not know; tests/test_real_configs_batch_h.py compares it as blip_2_qformer
    "ibm-granite__granite-speech-3.2-8b.json": "projector_config.model_type granite_speech_qformer",
}


def _many_experts(path: Path) -> bool:
    """A model of a thousand experts or more (DeepSeek-V3: 256 in each of 61 layers) takes seconds to
    build and compare: make test-fast leaves it out."""
    cfg = json.loads(path.read_text())
    cfg = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    counts = [cfg.get(k) for k in ("n_routed_experts", "num_local_experts", "num_experts")]
    experts = max((n for n in counts if isinstance(n, int)), default=0)
    layers = cfg.get("num_hidden_layers")
    return isinstance(layers, int) and experts * layers >= 1000


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name, marks=[pytest.mark.slow] * _many_experts(p)
                                               + [_by_type(json.loads(p.read_text()).get("model_type"))])
                                  for p in _real_configs()])
def test_real_configs_equal_transformers(path: Path) -> None:
    cfg = json.loads(path.read_text())
    if oracle.not_native(cfg) is not None:
        pytest.skip(f"{cfg.get('model_type')} is repository code: checked against its checkpoint below")
    if path.name in REFUSED_BY_TRANSFORMERS:
        pytest.skip(f"transformers refuses it ({REFUSED_BY_TRANSFORMERS[path.name]})")
    if cfg.get("model_type") not in supported_model_types():  # no row (batch G: gemma4, afmoe, …)
        with pytest.raises(UnsupportedError, match="has no row"):
            expected_tensors(cfg, str(path), fallback=False)
        # counted by transformers itself (the oracle extra): what its model saves, never nothing
        assert sum(t.params for t in expected_tensors(cfg, str(path))) > 0
        return
    _assert_equal(cfg, str(path))


@pytest.mark.parametrize(("name", "tensors", "params", "nbytes"), [
    # ChatGLM2/3-6B pytorch_model.bin.index.json total_size (float16, inv_freq buffer included)
    ("mlc-llm-preset__chatglm.json", 200, 6_243_584_000, 12_487_168_064),
    # InternLM2-chat-7B: 227 tensors, 7,737,708,544 values, bfloat16
    ("mlc-llm-preset__internlm2.json", 227, 7_737_708_544, 15_475_417_088),
])
def test_remote_code_families_match_their_checkpoints(name: str, tensors: int, params: int,
                                                      nbytes: int) -> None:
    ts = expected_tensors(json.loads((FIXTURES / name).read_text()), fallback=False)
    assert (len(ts), sum(t.params for t in ts), sum(t.nbytes for t in ts)) == (tensors, params, nbytes)


def test_real_configs_cover_the_families_people_run() -> None:
    types = {json.loads(p.read_text()).get("model_type") for p in FIXTURES.glob("*.json")}
    assert {"chatglm", "internlm2", "llava", "gpt_neox", "gptj", "gpt_bigcode", "stablelm", "starcoder2",
            "cohere", "gemma", "gemma2", "gemma3_text", "qwen2", "qwen2_moe", "qwen3", "deepseek_v2", "bert",
            "llama", "qwen2_5_vl", "mistral3", "mpnet", "gemma3n", "t5", "mt5", "umt5",
            "bloom", "olmoe", "olmo2", "granite", "glm4_moe", "phi", "mpt", "exaone", "exaone4",
            "hunyuan_v1_dense", "ernie4_5", "dbrx", "RefinedWeb", "glm", "falcon", "olmo", "granitemoe",
            "ernie4_5_moe", "whisper", "mamba", "mamba2", "falcon_mamba", "jamba", "roberta", "xlm-roberta",
            "bart", "modernbert", "llava_next", "qwen2_vl", "qwen3_vl", "qwen3_vl_moe", "qwen3_next",
            "llama4", "granitemoehybrid", "mllama", "nemotron", "phimoe", "cohere2", "falcon_h1",
            "paligemma", "glm4", "idefics3", "smolvlm", "minimax", "apertus", "lfm2", "seed_oss"} <= types
    readme = (FIXTURES / "README.md").read_text()
    assert all(p.name in readme for p in FIXTURES.glob("*.json")), "every fixture names its source"


def test_untied_t5_family_heads_are_counted_as_the_checkpoints_store_them() -> None:
    # transformers 5 ties T5 v1.1 / Flan-T5 / mT5 heads whatever the config says; the checkpoints store
    # lm_head.weight: google/flan-t5-base's safetensors hold 247,577,856 parameters (T5 v1.1 base shape)
    cfg = json.loads((FIXTURES / "t5-v1_1-base.json").read_text())
    ours = expected_tensors(cfg, fallback=False)
    assert sum(t.params for t in ours) == 247_577_856
    ref = oracle.reference(cfg, preferred=("T5ForConditionalGeneration",))
    lenient, strict = compare(ours, ref, untied=True), compare(ours, ref)
    assert lenient.equal and lenient.tied == ("lm_head.weight",)
    assert strict.extra == ("lm_head.weight",) and not strict.equal  # only where the config unties it


def _part(cfg: dict[str, Any], prefix: str, ref_cfg: dict[str, Any], preferred: tuple[str, ...],
          into: str = "") -> Any:
    """Our tensors under ``prefix`` (renamed to ``into``) against transformers' model of a section."""
    ours = [records.replace(t, name=into + t.name.removeprefix(prefix))
            for t in expected_tensors(cfg, fallback=False) if t.name.startswith(prefix)]
    return compare(ours, oracle.reference(ref_cfg, preferred=preferred))


@pytest.mark.parametrize("name", ["gemma-3n-E2B.json", "default"])
def test_gemma3n_text_and_audio_towers_equal_transformers_without_timm(name: str) -> None:
    # the text model as Gemma3nForCausalLM and the audio tower as Gemma3nAudioEncoder, each built from
    # its section of the config: what the whole-model comparison checks, less the timm tower
    cfg = json.loads((FIXTURES / name).read_text()) if name != "default" else {"model_type": "gemma3n"}
    text_cfg = {"model_type": "gemma3n_text", **cfg.get("text_config", {})}
    text = _part(cfg, "model.language_model.", text_cfg, ("Gemma3nForCausalLM",), "model.")
    assert text.equal, text.summary()
    audio_cfg = {"model_type": "gemma3n_audio", **cfg.get("audio_config", {})}
    audio = _part(cfg, "model.audio_tower.", audio_cfg, ("Gemma3nAudioEncoder",))
    assert audio.equal and audio.theirs > 0, audio.summary()


def test_gemma3n_kv_sharing_layers_hold_no_cache() -> None:
    # gemma-3n-E2B: 30 layers, the last 10 reuse the KV of layers 18 (sliding) and 19 (full): 16 sliding
    # and 4 full layers hold a cache; published checkpoints also store the unused k/v of the shared ones
    a = arch_config_from_hf(json.loads((FIXTURES / "gemma-3n-E2B.json").read_text()))
    assert [a.layer_types.count(k) for k in ("sliding", "full", "none")] == [16, 4, 10]
    assert a.layer_types[20:] == ("none",) * 10 and a.sliding_window == 512
    kv = kv_cache_for_context(a, 32768)
    assert kv.total_bytes == (4 * 32768 + 16 * 512) * 2 * 2 * 256 * 2  # K and V, 2 heads of 256, bf16
    per_shared = 2 * 2 * 256 * 2048 + 256  # k_proj, v_proj, k_norm
    assert f"({10 * per_shared:,} parameters" in a.extra["not_listed"]


# -- random small configs of the families whose layout depends most on the config ------------------
def _small(draw: st.DrawFn, heads: int) -> dict[str, Any]:
    head_dim = draw(st.sampled_from([4, 8]))
    return {"hidden_size": heads * head_dim, "num_attention_heads": heads,
            "num_hidden_layers": draw(st.integers(1, 4)), "vocab_size": draw(st.integers(8, 64)),
            "intermediate_size": draw(st.integers(4, 40)), "max_position_embeddings": 64,
            "tie_word_embeddings": draw(st.booleans())}


@st.composite
def small_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([2, 4]))
    cfg = _small(draw, heads)
    kind = draw(st.sampled_from(["llama", "qwen3", "mixtral", "falcon", "gpt_neox", "phi", "olmo2",
                                 "cohere", "stablelm", "mamba2", "jamba", "granitemoehybrid", "bert",
                                 "roberta", "opt", "gpt_bigcode", "deepseek_v2", "qwen3_next", "lfm2",
                                 "minimax", "llama4_text", "modernbert", "bart"]))
    cfg["model_type"] = kind
    kv = draw(st.sampled_from([h for h in (1, 2, 4) if heads % h == 0]))
    if kind in ("llama", "qwen3", "mixtral", "olmo2", "cohere", "jamba", "granitemoehybrid"):
        cfg["num_key_value_heads"] = kv
    if kind == "llama":
        cfg.update(attention_bias=draw(st.booleans()), mlp_bias=draw(st.booleans()))
    if kind == "qwen3":
        cfg.update(head_dim=draw(st.sampled_from([4, 16])), attention_bias=draw(st.booleans()))
    if kind == "mixtral":
        cfg.update(num_local_experts=draw(st.integers(1, 4)), num_experts_per_tok=1)
    if kind == "falcon":
        new = draw(st.booleans())
        cfg.update(new_decoder_architecture=new, multi_query=draw(st.booleans()),
                   parallel_attn=draw(st.booleans()), bias=draw(st.booleans()), num_kv_heads=kv)
        if new:
            cfg["num_ln_in_parallel_attn"] = draw(st.sampled_from([1, 2]))
    if kind == "gpt_neox":
        cfg.update(attention_bias=draw(st.booleans()), use_parallel_residual=draw(st.booleans()))
    if kind == "phi":
        cfg["qk_layernorm"] = draw(st.booleans())
    if kind == "cohere":
        cfg["use_qk_norm"] = draw(st.booleans())
    if kind == "stablelm":
        cfg.update(use_qkv_bias=draw(st.booleans()), use_parallel_residual=draw(st.booleans()))
    if kind == "mamba2":
        cfg.update(num_heads=heads, head_dim=cfg["hidden_size"] * 2 // heads, n_groups=1,
                   state_size=draw(st.sampled_from([4, 8])), expand=2)
    if kind == "jamba":
        cfg.update(num_experts=draw(st.integers(1, 3)), num_experts_per_tok=1, attn_layer_period=2,
                   attn_layer_offset=draw(st.integers(0, 1)), expert_layer_period=2, expert_layer_offset=1,
                   mamba_d_state=4, use_mamba_kernels=False)
    if kind == "granitemoehybrid":
        n = cfg["num_hidden_layers"]
        cfg.update(num_local_experts=draw(st.integers(0, 3)), num_experts_per_tok=1,
                   shared_intermediate_size=draw(st.integers(4, 16)), mamba_n_heads=heads,
                   mamba_d_head=2 * cfg["hidden_size"] // heads, mamba_d_state=4, mamba_n_groups=1,
                   layer_types=draw(st.lists(st.sampled_from(["mamba", "attention"]), min_size=n,
                                             max_size=n)))
    if kind == "opt":
        cfg.update(ffn_dim=draw(st.integers(4, 40)), enable_bias=draw(st.booleans()))
    if kind == "gpt_bigcode":
        cfg.update(multi_query=draw(st.booleans()), n_inner=draw(st.sampled_from([None, 12])))
    if kind == "deepseek_v2":
        cfg.update(n_routed_experts=draw(st.integers(1, 4)), n_shared_experts=draw(st.integers(1, 2)),
                   num_experts_per_tok=1, moe_intermediate_size=8,
                   first_k_dense_replace=draw(st.integers(0, 2)),
                   q_lora_rank=draw(st.sampled_from([None, 8])), kv_lora_rank=8, qk_rope_head_dim=4,
                   qk_nope_head_dim=4, v_head_dim=4)
    if kind == "qwen3_next":
        cfg.update(head_dim=8, num_key_value_heads=kv, num_experts=draw(st.integers(1, 4)),
                   num_experts_per_tok=1, moe_intermediate_size=8,
                   shared_expert_intermediate_size=8,
                   linear_num_key_heads=2, linear_num_value_heads=4, linear_key_head_dim=4,
                   linear_value_head_dim=4, full_attention_interval=2)
    n = cfg["num_hidden_layers"]
    if kind == "lfm2":
        cfg.update(num_key_value_heads=kv, conv_bias=draw(st.booleans()),
                   layer_types=draw(st.lists(st.sampled_from(["conv", "full_attention"]), min_size=n,
                                             max_size=n)))
    if kind == "minimax":
        cfg.update(num_key_value_heads=kv, num_local_experts=draw(st.integers(1, 3)), num_experts_per_tok=1,
                   block_size=draw(st.sampled_from([4, 8])),
                   layer_types=draw(st.lists(st.sampled_from(["full_attention", "linear_attention"]),
                                             min_size=n, max_size=n)))
    if kind == "llama4_text":
        cfg.update(num_key_value_heads=kv, head_dim=draw(st.sampled_from([4, 8])),
                   num_local_experts=draw(st.integers(1, 3)), num_experts_per_tok=1,
                   interleave_moe_layer_step=draw(st.integers(1, 2)),
                   intermediate_size_mlp=draw(st.integers(4, 40)))
    if kind == "modernbert":
        cfg.update(pad_token_id=0, norm_bias=draw(st.booleans()), attention_bias=draw(st.booleans()),
                   mlp_bias=draw(st.booleans()),
                   architectures=[draw(st.sampled_from(["ModernBertModel", "ModernBertForMaskedLM"]))])
    if kind == "bart":
        cfg.update(d_model=cfg["hidden_size"], encoder_layers=n, decoder_layers=draw(st.integers(1, 3)),
                   encoder_ffn_dim=draw(st.integers(4, 40)), decoder_ffn_dim=draw(st.integers(4, 40)),
                   encoder_attention_heads=heads, decoder_attention_heads=heads,
                   architectures=[draw(st.sampled_from(["BartModel", "BartForConditionalGeneration"]))])
    if kind == "roberta":
        cfg.update(type_vocab_size=1, architectures=[draw(st.sampled_from(["RobertaModel",
                                                                           "RobertaForMaskedLM"]))])
    if kind == "bert":
        cfg.update(type_vocab_size=draw(st.integers(1, 3)),
                   architectures=[draw(st.sampled_from(["BertModel", "BertForMaskedLM"]))])
    return cfg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_configs())
def test_random_small_configs_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, f"random {cfg['model_type']}")


@st.composite
def aria_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small AriaConfig values: the MoE text model's widths and shared experts, a SigLIP tower of any
    width and patch grid, any query table of the projector."""
    heads = draw(st.sampled_from([2, 4]))
    text = {**_small(draw, heads), "model_type": "aria_text",
            "num_key_value_heads": draw(st.sampled_from([h for h in (1, 2, 4) if heads % h == 0])),
            "moe_num_experts": draw(st.integers(1, 4)), "moe_topk": 1,
            "moe_num_shared_experts": draw(st.integers(1, 3)), "attention_bias": draw(st.booleans()),
            "mlp_bias": draw(st.booleans())}
    patch = draw(st.sampled_from([2, 4]))
    vision = {"model_type": "idefics3_vision", "hidden_size": heads * 4, "num_attention_heads": heads,
              "intermediate_size": draw(st.integers(4, 24)), "num_hidden_layers": draw(st.integers(1, 2)),
              "patch_size": patch, "image_size": patch * draw(st.integers(1, 4))}
    queries = draw(st.dictionaries(st.integers(1, 5000), st.integers(1, 9), min_size=1, max_size=3))
    return {"model_type": "aria", "text_config": text, "vision_config": vision,
            "projector_patch_to_query_dict": {str(k): v for k, v in queries.items()},
            "tie_word_embeddings": text.pop("tie_word_embeddings")}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aria_configs())
def test_random_aria_configs_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, "random aria")


@st.composite
def gemma4_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small Gemma4Config values: any layer pattern (the last layer full, as Gemma4TextConfig forces) whose
    KV-owning layers cover every kind, full layers of their own head width and KV heads (attention_k_eq_v:
    no v_proj), per-layer inputs or none, the routed block or none, double-wide MLPs in the shared layers;
    a vision and an audio tower each present or absent, with or without clipped linears."""
    n = draw(st.integers(1, 6))
    kinds = [*draw(st.lists(st.sampled_from(["sliding_attention", "full_attention"]), min_size=n - 1,
                            max_size=n - 1)), "full_attention"]
    shared = draw(st.integers(0, n - 1))
    while shared and set(kinds[: n - shared]) != set(kinds):
        shared -= 1
    heads = draw(st.sampled_from([2, 4]))
    moe = draw(st.booleans())
    text = {"model_type": "gemma4_text", "num_hidden_layers": n, "layer_types": kinds,
            "num_kv_shared_layers": shared, "hidden_size": heads * 8, "num_attention_heads": heads,
            "num_key_value_heads": draw(st.sampled_from([1, 2])), "head_dim": draw(st.sampled_from([4, 8])),
            "global_head_dim": draw(st.sampled_from([4, 8, 16])),
            "attention_k_eq_v": draw(st.booleans()),
            "num_global_key_value_heads": draw(st.sampled_from([None, 1, 2])),
            "use_double_wide_mlp": draw(st.booleans()), "intermediate_size": draw(st.integers(4, 40)),
            "vocab_size": draw(st.integers(8, 64)), "vocab_size_per_layer_input": draw(st.integers(8, 64)),
            "hidden_size_per_layer_input": draw(st.sampled_from([0, 1, 4])),
            "enable_moe_block": moe, "num_experts": draw(st.integers(1, 4)) if moe else None,
            "top_k_experts": 1 if moe else None,
            "moe_intermediate_size": draw(st.integers(4, 16)) if moe else None,
            "attention_bias": draw(st.booleans()), "max_position_embeddings": 64, "sliding_window": 4}
    cfg: dict[str, Any] = {"model_type": "gemma4", "text_config": text,
                           "tie_word_embeddings": draw(st.booleans())}
    if draw(st.booleans()):
        v_heads = draw(st.sampled_from([1, 2]))
        cfg["vision_config"] = {
            "model_type": "gemma4_vision", "hidden_size": 8, "num_attention_heads": 2 * v_heads,
            "num_key_value_heads": v_heads, "head_dim": draw(st.sampled_from([4, 8])),
            "intermediate_size": draw(st.integers(4, 24)), "num_hidden_layers": draw(st.integers(0, 2)),
            "patch_size": draw(st.sampled_from([2, 4])), "position_embedding_size": draw(st.integers(4, 16)),
            "use_clipped_linears": draw(st.booleans()), "standardize": draw(st.booleans())}
    if draw(st.booleans()):
        a_heads = draw(st.sampled_from([1, 2, 4]))
        cfg["audio_config"] = {
            "model_type": "gemma4_audio", "hidden_size": 4 * a_heads, "num_attention_heads": a_heads,
            "num_hidden_layers": draw(st.integers(0, 2)), "conv_kernel_size": draw(st.integers(1, 5)),
            "subsampling_conv_channels": [draw(st.sampled_from([4, 8, 12])), draw(st.integers(1, 8))],
            "use_clipped_linears": draw(st.booleans()), "output_proj_dims": draw(st.integers(4, 16))}
    return cfg


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gemma4_configs())
def test_random_gemma4_configs_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, "random gemma4")
    a = arch_config_from_hf(cfg)  # the shared layers hold no cache of their own
    assert a.layer_types.count("none") == cfg["text_config"]["num_kv_shared_layers"]


@pytest.mark.parametrize("name", ["google__gemma-4-E4B.json", "tiny-random__gemma-4-moe.json"])
def test_gemma4_kv_cache_rows_are_the_widths_of_transformers_projections(name: str) -> None:
    # each layer caches a K row as wide as its k_proj and a V row as wide as its v_proj (the keys again
    # where attention_k_eq_v leaves a full layer without one); KV-sharing layers, without k_proj, none
    cfg = json.loads((FIXTURES / name).read_text())
    shapes = {t.name: t.shape for t in oracle.saved_tensors(cfg)}
    a = arch_config_from_hf(cfg)
    context = 4096
    want = 0
    for i, kind in enumerate(a.layer_types):
        p = f"model.language_model.layers.{i}.self_attn."
        if p + "k_proj.weight" not in shapes:
            assert kind == "none"
            continue
        k = shapes[p + "k_proj.weight"][0]
        v = shapes.get(p + "v_proj.weight", (k,))[0]
        want += (k + v) * 2 * (context if kind == "full" else min(a.sliding_window, context))  # f16
    assert kv_cache_for_context(a, context).total_bytes == want


@st.composite
def blt_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small BltConfig values: each stack's widths, heads, KV heads and depth, cross-attention in one or
    every local layer, cross_attn_k per section and at the top, the hash tables, with or without the
    patcher, tied or not (a tie needs the encoder's byte table and the head alike), bare or with its head."""
    def stack(width: int, **more: Any) -> dict[str, Any]:
        heads = draw(st.sampled_from([1, 2, 4]))
        return {"hidden_size": heads * width, "num_attention_heads": heads,
                "num_key_value_heads": draw(st.sampled_from([None, 1])),
                "num_hidden_layers": draw(st.integers(1, 3)), "intermediate_size": draw(st.integers(4, 24)),
                **more}

    vocab = draw(st.integers(8, 40))
    tied = draw(st.booleans())
    encoder = stack(8, vocab_size=vocab if tied else draw(st.integers(8, 40)),
                    cross_attn_all_layers=draw(st.booleans()), cross_attn_k=draw(st.integers(1, 3)))
    if not tied and draw(st.booleans()):
        encoder["intermediate_size"] = None  # int(8 · hidden / 3)
    glob = stack(draw(st.sampled_from([4, 8])))
    decoder = stack(8, cross_attn_all_layers=draw(st.booleans()), cross_attn_k=draw(st.integers(1, 3)),
                    hidden_size_global=glob["hidden_size"])
    if tied:
        decoder.update(hidden_size=encoder["hidden_size"], num_attention_heads=encoder["num_attention_heads"])
    cfg = {"model_type": "blt", "vocab_size": vocab, "cross_attn_k": draw(st.integers(1, 3)),
           "encoder_hash_byte_group_size": draw(st.lists(st.integers(2, 8), min_size=1, max_size=4)),
           "encoder_hash_byte_group_vocab": draw(st.integers(4, 50)),
           "encoder_hash_byte_group_nb_functions": draw(st.integers(1, 2)),
           "patch_in_forward": draw(st.booleans()), "tie_word_embeddings": tied,
           "encoder_config": encoder, "global_config": glob, "decoder_config": decoder,
           "patcher_config": stack(4, vocab_size=draw(st.integers(8, 40))),
           "architectures": [draw(st.sampled_from(["BltForCausalLM", "BltModel"]))]}
    return cfg


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blt_configs())
def test_random_blt_configs_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, "random blt")


def test_blt_kv_cache_is_said_not_priced() -> None:
    # BltModel.forward runs the global transformer (whose numbers the ArchConfig gives) with cache=None
    # and caches its local encoder and decoder over bytes: no KV figure for the global layers, and the
    # size estimate says what it leaves out instead of a silent 0
    from paramscope.analyses.sizing.memory import _kv_not_priced

    a = arch_config_from_hf(json.loads((FIXTURES / "itazap__blt-1b-hf.json").read_text()))
    assert (a.n_layers, a.hidden_size) == (25, 2048)
    assert set(a.layer_types) == {"none"} and kv_cache_for_context(a, 4096).total_bytes == 0
    assert "local encoder and decoder" in _kv_not_priced(a)[0]


@st.composite
def gemma3n_text_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Small Gemma3nTextConfig values: per-layer widths, any layer pattern whose KV-owning layers cover
    every kind (Gemma3nTextConfig.kv_sharing_modes requires it), any number of AltUp streams."""
    n = draw(st.integers(1, 6))
    kinds = draw(st.lists(st.sampled_from(["sliding_attention", "full_attention"]), min_size=n, max_size=n))
    shared = draw(st.integers(0, n - 1))
    while shared and set(kinds[: n - shared]) != set(kinds):
        shared -= 1
    heads = draw(st.sampled_from([2, 4]))
    width = draw(st.one_of(st.integers(4, 40), st.lists(st.integers(4, 40), min_size=n, max_size=n)))
    return {"model_type": "gemma3n_text", "num_hidden_layers": n, "layer_types": kinds,
            "num_kv_shared_layers": shared, "hidden_size": heads * 8, "num_attention_heads": heads,
            "num_key_value_heads": draw(st.sampled_from([1, 2])), "head_dim": draw(st.sampled_from([4, 8])),
            "intermediate_size": width, "vocab_size": draw(st.integers(8, 64)),
            "vocab_size_per_layer_input": draw(st.integers(8, 64)),
            "hidden_size_per_layer_input": draw(st.integers(1, 8)),
            "altup_num_inputs": draw(st.integers(1, 4)), "laurel_rank": draw(st.integers(1, 8)),
            "attention_bias": draw(st.booleans()), "tie_word_embeddings": draw(st.booleans()),
            "max_position_embeddings": 64, "sliding_window": 4}


@pytest.mark.slow  # runs long: builds dozens of models in transformers
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gemma3n_text_configs())
def test_random_gemma3n_text_configs_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, "random gemma3n_text")
    a = arch_config_from_hf(cfg)  # the shared layers hold no cache of their own
    assert a.layer_types.count("none") == cfg["num_kv_shared_layers"]


@st.composite
def gemma3n_audio_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    return {"model_type": "gemma3n_audio", "hidden_size": heads * draw(st.sampled_from([4, 6])),
            "conf_num_attention_heads": heads, "conf_num_hidden_layers": draw(st.integers(0, 2)),
            "conf_conv_kernel_size": draw(st.integers(1, 5)), "input_feat_size": draw(st.integers(8, 40)),
            "sscp_conv_channel_size": draw(st.lists(st.integers(1, 8), min_size=2, max_size=2)),
            "sscp_conv_kernel_size": draw(st.lists(st.lists(st.integers(1, 3), min_size=2, max_size=2),
                                                   min_size=2, max_size=2)),
            "sscp_conv_stride_size": draw(st.lists(st.lists(st.integers(1, 2), min_size=2, max_size=2),
                                                   min_size=2, max_size=2))}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gemma3n_audio_configs())
def test_random_gemma3n_audio_towers_equal_transformers(audio: dict[str, Any]) -> None:
    c = _part({"model_type": "gemma3n", "audio_config": audio}, "model.audio_tower.", audio,
              ("Gemma3nAudioEncoder",))
    assert c.equal and c.theirs > 0, c.summary()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["t5", "mt5", "umt5"]), st.integers(1, 3), st.integers(1, 3), st.booleans(),
       st.sampled_from(["relu", "gated-gelu"]), st.booleans())
def test_random_t5_family_configs_equal_transformers(model_type: str, layers: int, decoder: int, tied: bool,
                                                     ffn: str, untie_key: bool) -> None:
    cfg: dict[str, Any] = {"model_type": model_type, "d_model": 16, "d_kv": 4, "num_heads": 2, "d_ff": 12,
                           "num_layers": layers, "num_decoder_layers": decoder, "vocab_size": 40,
                           "relative_attention_num_buckets": 8, "feed_forward_proj": ffn}
    if untie_key or not tied:
        cfg["tie_word_embeddings"] = tied
    _assert_equal(cfg, f"random {model_type}")


# -- the fallback: transformers counts what the table has no row for -------------------------------
def test_fallback_counts_a_model_type_without_a_row() -> None:
    cfg = {"model_type": "rwkv", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100,
           "attention_hidden_size": 64, "intermediate_size": 128}
    with pytest.raises(UnsupportedError, match="model_type 'rwkv' has no row"):
        expected_tensors(cfg, fallback=False)
    ours = expected_tensors(cfg)
    assert ours == oracle.saved_tensors(cfg) and sum(t.params for t in ours) > 0
    a = arch_config_from_hf(cfg)
    assert (a.family, a.hidden_size, a.n_layers) == ("rwkv", 64, 2)
    assert "transformers" in a.extra["counted_by"]


@pytest.mark.parametrize("model_type", ["mistral4", "longcat_flash", "axk1"])
def test_fallback_caches_the_latent_of_an_mla_model_without_a_row(model_type: str) -> None:
    # transformers' own default config of an MLA family the table has no row for: the cache holds the
    # latent and the RoPE key, as wide as transformers' kv_a_proj_with_mqa writes them, not per-head K/V
    cfg = {"model_type": model_type}
    if oracle.not_native(cfg) is not None:
        pytest.skip(f"the installed transformers does not define {model_type}")
    with pytest.raises(UnsupportedError, match="has no row"):
        expected_tensors(cfg, fallback=False)
    a = arch_config_from_hf(cfg)
    assert a.is_mla and a.rope_head_dim > 0
    (width, _), = {t.shape for t in oracle.saved_tensors(cfg) if t.name.endswith("kv_a_proj_with_mqa.weight")}
    assert a.kv_lora_rank + a.rope_head_dim == width
    assert a.is_moe and a.expert_ffn_size > 0


def test_fallback_names_the_layer_kinds_it_cannot_price() -> None:
    cfg = {"model_type": "deepseek_v4"}
    if oracle.not_native(cfg) is not None:
        pytest.skip("the installed transformers does not define deepseek_v4")
    from paramscope.analyses.sizing.kv_cache import kv_cache_for_context

    a = arch_config_from_hf(cfg)
    with pytest.raises(UnsupportedError, match="transformers calls them compressed_sparse_attention"):
        kv_cache_for_context(a, 4096)


def test_fallback_never_runs_repository_code(monkeypatch: pytest.MonkeyPatch) -> None:
    remote = {"model_type": "baichuan", "architectures": ["BaichuanForCausalLM"],
              "auto_map": {"AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"}}
    with pytest.raises(UnsupportedError,
                       match=r"'baichuan' has no row .* lives in its repository \(auto_map\)"):
        expected_tensors(remote, "Baichuan2-7B-Chat/config.json")
    with pytest.raises(UnsupportedError, match=r"transformers .* does not define it"):
        expected_tensors({"model_type": "no_such_family"})
    monkeypatch.setattr(fallback.oracle, "available", lambda: False)
    with pytest.raises(UnsupportedError, match=r"pip install 'paramscope\[oracle\]'"):
        expected_tensors({"model_type": "rwkv"})


def test_auto_map_of_a_native_type_builds_the_native_class() -> None:
    # DeepSeek-V3's config names its repository code, but transformers defines deepseek_v3 itself
    cfg = catalogue.load_config("deepseek-v2-lite")
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"}
    assert oracle.not_native(cfg) is None


# -- recurrent state sizes, checked against the shapes of transformers' own mixer tensors -----------
def _tensor(cfg: dict[str, Any], suffix: str) -> tuple[int, ...]:
    return next(t.shape for t in oracle.saved_tensors(cfg) if t.name.endswith(suffix))


@pytest.mark.parametrize(("model_type", "conv", "ssm"), [
    # Mamba-1 (llama.cpp n_embd_r / n_embd_s): conv (d_conv − 1) × d_inner, ssm d_state × d_inner
    ("mamba", "layers.0.mixer.conv1d.weight", "layers.0.mixer.A_log"),
    ("falcon_mamba", "layers.0.mixer.conv1d.weight", "layers.0.mixer.A_log"),
    ("jamba", "layers.0.mamba.conv1d.weight", "layers.0.mamba.A_log"),
])
def test_mamba1_state_from_transformers_shapes(model_type: str, conv: str, ssm: str) -> None:
    cfg = {"model_type": model_type}
    channels, _, d_conv = _tensor(cfg, conv)
    a = arch_config_from_hf(cfg)
    assert a.conv_state_size == (d_conv - 1) * channels
    assert a.ssm_state_size == math.prod(_tensor(cfg, ssm))


@pytest.mark.parametrize(("model_type", "prefix"), [
    ("mamba2", "layers.0.mixer."), ("falcon_h1", "layers.0.mamba."), ("granitemoehybrid", "layers.0.mamba."),
    ("nemotron_h", "layers.0.mixer."),  # its default layer list opens with a Mamba-2 layer
])
def test_mamba2_state_from_transformers_shapes(model_type: str, prefix: str) -> None:
    cfg = {"model_type": model_type}
    channels, _, d_conv = _tensor(cfg, prefix + "conv1d.weight")
    heads = _tensor(cfg, prefix + "A_log")[0]
    d_inner = _tensor(cfg, prefix + "out_proj.weight")[1]
    a = arch_config_from_hf(cfg)
    d_state = a.extra["ssm"]["d_state"]
    n_groups = a.extra["ssm"]["n_groups"]
    assert channels == d_inner + 2 * n_groups * d_state  # the conv runs over x, B and C
    assert a.conv_state_size == (d_conv - 1) * channels
    assert a.ssm_state_size == heads * (d_inner // heads) * d_state


@pytest.mark.slow  # runs long: builds full-size Qwen3-Next models in transformers
def test_gated_deltanet_state_from_transformers_shapes() -> None:
    cfg = {"model_type": "qwen3_next"}
    channels, _, d_conv = _tensor(cfg, "layers.0.linear_attn.conv1d.weight")
    v_heads = _tensor(cfg, "layers.0.linear_attn.A_log")[0]
    v_dim = _tensor(cfg, "layers.0.linear_attn.norm.weight")[0]
    a = arch_config_from_hf(cfg)
    k_dim = a.extra["ssm"]["k_head_dim"]
    assert a.conv_state_size == (d_conv - 1) * channels
    assert a.ssm_state_size == v_heads * k_dim * v_dim
    assert (a.recurrent_layers, a.layer_types.count("full")) == (36, 12)


def test_kv_cache_holds_state_for_recurrent_layers_and_nothing_for_encoders() -> None:
    mamba = arch_config_from_hf({"model_type": "mamba"})  # state-spaces/mamba-130m-hf's shape
    kv = kv_cache_for_context(mamba, 100_000)
    assert kv.total_bytes == 32 * (3 * 1536 + 16 * 1536) * 4 == kv_cache_for_context(mamba, 10).total_bytes
    kv16 = kv_cache_for_context(mamba, 10, type_state=DType.BF16)
    assert kv16.total_bytes * 2 == kv.total_bytes
    jamba = kv_cache_for_context(arch_config_from_hf({"model_type": "jamba"}), 4096)
    assert (jamba.part("full").layers, jamba.part("linear").layers) == (4, 28)
    h1 = kv_cache_for_context(arch_config_from_hf({"model_type": "falcon_h1"}), 4096)
    assert h1.part("full").layers == h1.part("linear").layers == 32  # attention and Mamba-2 side by side
    bert = arch_config_from_hf(catalogue.load_config("all-minilm-l6-v2"))
    assert kv_cache_for_context(bert, 512).total_bytes == 0


# -- the exhaustive sweep (tools/families_report.py writes docs/families.md from the same checks) ---
# The types with a row are test_every_row_equals_transformers_on_its_default_config's (the same check
# on the same config): building each a second time here would only double the sweep's cost.
WITHOUT_A_ROW = [t for t in oracle.native_model_types() if t not in supported_model_types()]


def test_the_sweep_and_the_rows_cover_every_native_type() -> None:
    assert set(NATIVE_ROWS) | set(WITHOUT_A_ROW) == set(oracle.native_model_types())
    assert not set(NATIVE_ROWS) & set(WITHOUT_A_ROW)


@pytest.mark.slow
@pytest.mark.parametrize("model_type", WITHOUT_A_ROW)
def test_every_model_type_is_counted_or_refused_in_one_line(model_type: str) -> None:
    cfg = {"model_type": model_type}
    try:
        assert expected_tensors(cfg)
    except UnsupportedError as e:
        assert "\n" not in str(e)


# -- composites with another tower or projector setting than their default ------------------------------
@pytest.mark.parametrize("cfg", [
    # pixtral-12b's shape: LLaVA around a Pixtral tower (no vision_model. level) and a Mistral text model
    {"model_type": "llava",
     "text_config": {"model_type": "mistral", "num_hidden_layers": 2, "hidden_size": 512,
                     "num_attention_heads": 8,
                     "num_key_value_heads": 2, "head_dim": 64, "intermediate_size": 100, "vocab_size": 1000},
     "vision_config": {"model_type": "pixtral", "num_hidden_layers": 2, "hidden_size": 256,
                       "num_attention_heads": 4, "intermediate_size": 100, "head_dim": 64}},
    {"model_type": "llava_next", "multimodal_projector_bias": False, "text_config": {"num_hidden_layers": 2},
     "vision_config": {"num_hidden_layers": 1}},
    {"model_type": "qwen2_vl", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
     "tie_word_embeddings": True, "vision_config": {"depth": 1, "embed_dim": 64, "hidden_size": 256,
                                                    "in_chans": 3, "model_type": "qwen2_vl"}},
    {"model_type": "mllama", "tie_word_embeddings": True,
     "text_config": {"num_hidden_layers": 3, "cross_attention_layers": [0, 2]},
     "vision_config": {"num_hidden_layers": 1, "num_global_layers": 2, "image_size": 560,
                       "supported_aspect_ratios": [[1, 1], [1, 2]], "max_num_tiles": 2}},
], ids=["llava+pixtral", "llava_next-no-bias", "qwen2_vl-inline-text", "mllama-tied-560"])
def test_composite_variants_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, f"variant {cfg['model_type']}")


@pytest.mark.xdist_group("hf-dots3_note")
def test_a_config_whose_heads_vary_by_layer_is_refused_in_one_line() -> None:
    # transformers' heterogeneous configs (dots3_note: 64 or 128 heads by layer) refuse one global
    # num_attention_heads: a one-line refusal naming it, not an internal error
    with pytest.raises(UnsupportedError) as e:
        arch_config_from_hf({"model_type": "dots3_note"})
    assert "num_attention_heads layer by layer" in str(e.value) and "\n" not in str(e.value)


# -- transformers' _keep_in_fp32_modules (table.KEEP_IN_FP32) ------------------------------------------
def test_keep_in_fp32_table_is_transformers_own() -> None:
    """One entry for every row whose transformers class keeps modules in float32 when loaded in float16,
    and the same module names."""
    import transformers

    from paramscope.knowledge.families.table import FAMILIES, KEEP_IN_FP32

    found = {}
    for model_type in NATIVE_ROWS:
        fam = FAMILIES.get(model_type)
        names = (*fam.architectures, *fam.describes) if fam else ()
        classes = [getattr(transformers, a, None) for a in names]
        keep = next((c._keep_in_fp32_modules for c in classes if c is not None), None)
        if keep:
            found[model_type] = tuple(keep)
    assert found == KEEP_IN_FP32


_TINY_T5 = {"d_model": 64, "d_ff": 128, "d_kv": 16, "num_heads": 4, "num_layers": 2, "num_decoder_layers": 2,
            "vocab_size": 100, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}


@pytest.mark.parametrize(("model_type", "arch"), [
    ("t5", "T5EncoderModel"), ("mt5", "MT5EncoderModel"), ("umt5", "UMT5EncoderModel"),
    ("t5", "T5ForConditionalGeneration")])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_t5_saved_in_16_bits_as_transformers_saves_it(tmp_path: Path, model_type: str, arch: str,
                                                      dtype: str) -> None:
    """A tiny T5 loaded with from_pretrained in 16 bits and saved again: the file's names and dtypes are
    ours (the encoder alone for …EncoderModel; float16 keeps DenseReluDense.wo in float32, bfloat16 does
    not)."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(model_type, **_TINY_T5)
    getattr(transformers, arch)(config).save_pretrained(tmp_path / "fp32")
    loaded = getattr(transformers, arch).from_pretrained(tmp_path / "fp32", dtype=getattr(torch, dtype))
    loaded.save_pretrained(tmp_path / "saved")
    raw = (tmp_path / "saved" / "model.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    header.pop("__metadata__", None)
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    ours = {t.name: t.dtype.value for t in expected_tensors(saved, fallback=False)}
    assert ours == {name: v["dtype"] for name, v in header.items()}
    assert any(v == "F32" for v in ours.values()) is (dtype == "float16")


# -- InternLM (1), repository code: LlamaForCausalLM on the same numbers, q/k/v/o biases as ``bias`` says ----
@pytest.mark.parametrize("bias", [True, False])
def test_internlm_equals_llama_with_its_biases(bias: bool) -> None:
    numbers = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
               "vocab_size": 1000, "max_position_embeddings": 512}
    ours = expected_tensors({"model_type": "internlm", "architectures": ["InternLMForCausalLM"],
                             "auto_map": {"AutoModelForCausalLM": "modeling_internlm.InternLMForCausalLM"},
                             "bias": bias, **numbers}, fallback=False)
    llama = {"model_type": "llama", "attention_bias": bias, "mlp_bias": False, "tie_word_embeddings": False,
             **numbers}
    c = compare(ours, oracle.reference(llama, preferred=("LlamaForCausalLM",)))
    assert c.equal, c.summary()


def test_fallback_keeps_the_indexer_layers_transformers_names() -> None:
    # a DSA model without a row whose indexer_types give only some layers an indexer of their own (the
    # rest "shared"): the cache prices indexer keys on those layers only, as a table row would
    cfg = {"model_type": "hy_v4"}
    if oracle.not_native(cfg) is not None:
        pytest.skip("the installed transformers does not define hy_v4")
    from paramscope.analyses.sizing.kv_cache import indexer_layers

    a = arch_config_from_hf(cfg)
    kinds = a.extra.get("indexer_types")
    assert a.is_mla and isinstance(kinds, tuple) and len(kinds) == a.n_layers
    assert 0 < indexer_layers(a) == sum(k == "full" for k in kinds) < a.n_layers


# -- session 32's decoder rows on configs other than their defaults ----------------------------------------
@pytest.mark.parametrize("cfg", [
    {"model_type": "jais2", "num_hidden_layers": 3, "attention_bias": False, "mlp_bias": False,
     "tie_word_embeddings": True, "num_key_value_heads": 2},
    {"model_type": "sarvam_moe", "num_hidden_layers": 4, "first_k_dense_replace": 2, "num_experts": 8,
     "num_shared_experts": 2, "use_qkv_bias": True, "use_qk_norm": False, "tie_word_embeddings": True},
    {"model_type": "sarvam_moe", "num_hidden_layers": 3, "first_k_dense_replace": 0, "n_routed_experts": 4,
     "n_shared_experts": 2, "attention_bias": True},
    {"model_type": "hy_v3", "num_hidden_layers": 4, "num_experts": 4, "num_shared_experts": 2,
     "attention_bias": True, "mlp_bias": True, "tie_word_embeddings": True},
    {"model_type": "hy_v3", "num_hidden_layers": 4, "num_local_experts": 3,
     "mlp_layer_types": ["dense", "dense", "sparse", "dense"]},
    {"model_type": "laguna", "num_hidden_layers": 4, "num_experts": 4, "gating": "full",
     "attention_bias": True, "num_attention_heads_per_layer": [48, 64, 32, 48], "tie_word_embeddings": True,
     "layer_types": ["full_attention", "sliding_attention", "sliding_attention", "full_attention"],
     "mlp_layer_types": ["dense", "sparse", "dense", "sparse"]},
    {"model_type": "laguna", "num_hidden_layers": 2, "num_experts": 2, "gating": "per-head"},
    {"model_type": "lfm3", "num_hidden_layers": 6, "use_sandwich_norm": False, "use_attention_gate": False,
     "conv_bias": True, "attention_bias": True, "tie_word_embeddings": False},
    {"model_type": "lfm3", "num_hidden_layers": 3,
     "layer_types": ["sliding_attention", "conv", "full_attention"]},
    {"model_type": "mimo_v2_flash", "num_hidden_layers": 7, "n_routed_experts": 4, "num_experts_per_tok": 2},
    {"model_type": "mimo_v2_flash", "num_hidden_layers": 4, "n_routed_experts": 3, "attention_bias": True,
     "tie_word_embeddings": True, "num_key_value_heads": 2,
     "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
     "mlp_layer_types": ["sparse", "dense", "dense", "sparse"]},
    {"model_type": "mimo_v2_flash", "num_hidden_layers": 3, "n_routed_experts": 2, "hidden_size": 512,
     "intermediate_size": 1024, "moe_intermediate_size": 256, "num_attention_heads": 8,
     "num_key_value_heads": 1, "head_dim": 64, "v_head_dim": 48, "vocab_size": 1000,
     "sliding_window_size": 31, "layer_types": ["full_attention"] * 3, "mlp_layer_types": ["dense"] * 3},
    {"model_type": "mimo_v2_flash", "architectures": ["MiMoV2FlashModel"], "num_hidden_layers": 2,
     "n_routed_experts": 2, "torch_dtype": "float16"},
], ids=["jais2-no-bias-tied", "sarvam_moe-aliases", "sarvam_moe-all-moe", "hy_v3-biases-tied",
        "hy_v3-mlp_layer_types", "laguna-heads-per-layer", "laguna-per-head-gate", "lfm3-no-sandwich",
        "lfm3-layer_types", "mimo_v2_flash-7-layers", "mimo_v2_flash-bias-tied-layer_types",
        "mimo_v2_flash-all-full-dense", "mimo_v2_flash-bare-f16"])
def test_session32_row_variants_equal_transformers(cfg: dict[str, Any]) -> None:
    _assert_equal(cfg, f"variant {cfg['model_type']}")


def test_mimo_v2_flash_caches_each_layer_at_its_own_heads_and_window(tmp_path: Path) -> None:
    # MiMoV2FlashAttention: sliding layers keep 2 × num_key_value_heads KV heads, full layers
    # num_key_value_heads; keys head_dim (192) wide, values v_head_dim (128); full layers at 0 and every
    # sixth; window sliding_window (129), or sliding_window_size + 1 (MiMoV2FlashConfig.__post_init__)
    import subprocess
    import sys

    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
    from paramscope.analyses.sizing.runtimes.vllm.memory import vllm_memory

    cfg = {"model_type": "mimo_v2_flash", "architectures": ["MiMoV2FlashForCausalLM"],
           "torch_dtype": "bfloat16"}
    a = arch_config_from_hf(cfg)
    full_ids = [i for i in range(48) if i == 0 or (i + 1) % 6 == 0]
    heads = [4 if i in full_ids else 8 for i in range(48)]
    assert (a.head_dim_k, a.head_dim_v, a.sliding_window) == (192, 128, 129)
    assert a.extra["n_kv_heads_per_layer"] == tuple(heads)
    assert arch_config_from_hf({**cfg, "sliding_window_size": 128}).sliding_window == 129

    def expected(cells: dict[str, int], width: int = 2) -> int:
        return sum(h * (192 + 128) * width * cells["full" if i in full_ids else "sliding"]
                   for i, h in enumerate(heads))

    assert kv_cache_for_context(a, 8192).total_bytes == expected({"full": 8192, "sliding": 129})
    # llama.cpp (LLM_ARCH_MIMO2 has SWA): window + ubatch padded to 256 = 768 cells in a sliding layer
    lcpp = llamacpp_memory(a, 0, n_ctx=8192, flash_attn=True).kv
    assert lcpp.total_bytes == expected({"full": 8192, "sliding": 768})
    # vLLM: with chunked prefill a sliding layer holds the context plus a block; its hybrid allocator adds
    # the padding slots of its groups (9 layers each: 1 full, 5 sliding groups, 6 sliding slots unused)
    v = vllm_memory(a, 0, context=8192, gpu_memory_bytes=80 << 30)
    assert v.kv is not None and v.kv.total_bytes == expected({"full": 8192, "sliding": 8192 + 16})
    assert v.kv_padding_bytes == 6 * (8192 + 16) * 8 * (192 + 128) * 2
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    for runtime, total in (("llama.cpp", lcpp.total_bytes), ("vllm", v.kv.total_bytes + v.kv_padding_bytes)):
        r = subprocess.run([sys.executable, "-m", "paramscope", "size", str(path), "--runtime", runtime,
                            "--gpu", "h100", "--context", "8192", "--json"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["kv_cache_bytes"] == total


def test_lfm3_caches_its_attention_layers_and_keeps_state_for_its_convolutions() -> None:
    # Lfm3Config's default layer_types: full at i % 4 == 2, sliding at i % 4 == 0 from layer 4, conv elsewhere
    kv = kv_cache_for_context(arch_config_from_hf({"model_type": "lfm3"}), 8192)
    full, sliding, linear = kv.part("full"), kv.part("sliding"), kv.part("linear")
    assert (full.layers, sliding.layers, linear.layers) == (6, 5, 13)
    assert full.k_width == full.v_width == 4 * 128
    assert full.total_bytes == 6 * 8192 * (512 + 512) * 2
    assert sliding.cells == 256  # the window, not the context


def test_laguna_and_lfm3_caches_as_their_runtimes_hold_them() -> None:
    """Review findings on the session-32 rows: llama.cpp runs Laguna with its window (convert_hf_to_gguf
    writes LLM_ARCH_LAGUNA, swa_type STANDARD) and its per-layer query heads reach ArchConfig.extra;
    an LFM3 config whose sliding_window is null caches those layers whole (no window), as transformers'
    DynamicCache does; a too-long mlp_layer_types is refused as LagunaConfig refuses it."""
    from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
    from paramscope.errors import FormatError

    n = 8
    kinds = ["full_attention" if i % 4 == 0 else "sliding_attention" for i in range(n)]
    laguna = {"model_type": "laguna", "num_hidden_layers": n, "layer_types": kinds, "sliding_window": 512,
              "num_attention_heads": 48, "num_attention_heads_per_layer": [48 if i % 4 == 0 else 64
                                                                           for i in range(n)],
              "mlp_layer_types": ["dense"] + ["sparse"] * (n - 1)}
    a = arch_config_from_hf(laguna)
    assert a.extra["n_heads_per_layer"] == tuple(48 if i % 4 == 0 else 64 for i in range(n))
    per_cell = a.n_kv_heads * (a.head_dim_k + a.head_dim_v) * 2
    kv = llamacpp_memory(a, 0, n_ctx=8192, flash_attn=True).kv
    # full layers at the context; sliding ones at window + ubatch (512 + 512), padded to 256
    assert kv.total_bytes == per_cell * (2 * 8192 + 6 * 1024)
    with pytest.raises(FormatError, match="mlp_layer_types"):
        expected_tensors({**laguna, "mlp_layer_types": ["dense"] * (n + 1)}, fallback=False)

    lfm3 = arch_config_from_hf({"model_type": "lfm3", "sliding_window": None})
    assert "sliding" not in lfm3.layer_types and "full" in lfm3.layer_types
    windowed = arch_config_from_hf({"model_type": "lfm3"})
    assert "sliding" in windowed.layer_types and windowed.sliding_window
