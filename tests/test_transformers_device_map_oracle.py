"""paramscope's device_map placement against transformers' own (integrations/accelerate.py
``_get_device_map``, what ``from_pretrained(device_map=…, max_memory=…)`` runs), on models built on the
``meta`` device from real configs (tests/fixtures/configs/, sources in its README).

Two comparisons:
- the rule: analyses/sizing/device_map.py fed the meta model's own tensors (parameters and buffers, tied
  copies at 0 bytes, the class's ``_no_split_modules``) must place every tensor where transformers does;
- paramscope's neutral Model read from the config (no torch): every decoder layer on the same device,
  and the same parameter bytes per device where the Model holds what the meta model does.

Needs torch, transformers and accelerate (transformers imports accelerate's ``get_max_memory``): skipped
with the reason otherwise (``make test`` installs accelerate beside torch).
"""

from __future__ import annotations

import json
import logging
import warnings
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

pytest.importorskip("torch", reason="the device_map oracle needs torch (make .venv/.torch)")
pytest.importorskip("transformers", reason="the device_map oracle needs transformers (the oracle extra)")
pytest.importorskip("accelerate", reason="the device_map oracle needs accelerate (make .venv/.torch "
                                         "installs it beside torch)")

from paramscope.analyses.sizing.device_map import device_map, tied_copies
from paramscope.analyses.sizing.request import model_dtype
from paramscope.app.common import open_source
from paramscope.knowledge.families import oracle
from paramscope.knowledge.roles import place

pytestmark = pytest.mark.slow  # a few seconds per model: full-size builds on the meta device

CONFIGS = {
    "mlc-llm-preset__smollm2_135m.json": "Llama, tied embeddings",
    "mistralai__Ministral-8B-Instruct-2410.json": "dense Mistral 8B",
    "allenai__OLMoE-1B-7B-0125-Instruct.json": "MoE, 64 experts",
    "mlc-llm-preset__qwen2moe.json": "MoE with a shared expert",
    "mlc-llm-preset__llava.json": "multimodal: CLIP tower, projector, Llama",
    "Qwen__Qwen2-VL-7B-Instruct.json": "multimodal, vision blocks",
    "mlc-llm-preset__gemma3_1b_it.json": "tied, sliding window",
    "t5-v1_1-base.json": "encoder-decoder, one embedding tied three ways",
    "openai__whisper-small.json": "encoder-decoder, tied output projection",
    "FacebookAI__roberta-base.json": "encoder, RobertaEmbeddings kept whole",
    "facebook__bart-large-mnli.json": "encoder-decoder, shared embedding the checkpoint stores once",
}
# max_memory as fractions of the model's bytes, per mode: offload to CPU, to CPU and disk, none, two and
# three GPUs
GRID: tuple[tuple[str, dict[Any, float]], ...] = (
    ("auto", {0: 0.3, "cpu": 2}), ("auto", {0: 0.6, "cpu": 0.3}), ("auto", {0: 1.5, "cpu": 1}),
    ("sequential", {0: 0.5, "cpu": 2}), ("balanced", {0: 0.4, 1: 0.4, "cpu": 2}),
    ("balanced", {0: 0.7, 1: 0.7}), ("balanced_low_0", {0: 0.5, 1: 0.5, 2: 0.5, "cpu": 1}),
    ("auto", {0: 0.2, "cpu": 0.2}),
)


@cache
def _quiet() -> None:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("accelerate").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Device .* is not available")


@cache
def built(name: str) -> tuple[Any, Any]:
    """(paramscope's Model of the config, transformers' model on the meta device at the Model's dtype)."""
    _quiet()
    path = f"tests/fixtures/configs/{name}"
    with open(path) as f:
        cfg = json.load(f)
    model = open_source(path)
    config = oracle.hf_config(cfg, path)
    dtype = model_dtype(model.tensors)
    for cls in oracle.model_classes(config, cfg):
        try:
            return model, oracle._build(cls, config, dtype)
        except Exception:  # the next class transformers offers for this config
            continue
    pytest.fail(f"{name}: transformers could not build it")


def transformers_map(meta: Any, mode: str, max_memory: dict[Any, int]) -> tuple[dict[str, Any], dict]:
    """Each tensor's device as from_pretrained would place it, and bytes per device (buffers apart)."""
    from transformers.integrations.accelerate import _get_device_map, _get_param_device

    placed = _get_device_map(meta, mode, dict(max_memory), None)
    tied = set(meta.all_tied_weights_keys)
    where: dict[str, Any] = {}
    params: dict[Any, int] = {}
    for name, t in meta.named_parameters():
        if name not in tied:
            where[name] = _get_param_device(name, placed)
            params[where[name]] = params.get(where[name], 0) + t.numel() * t.element_size()
    for name, _ in meta.named_buffers():
        where[name] = _get_param_device(name, placed)
    return where, params


def ours_on_meta(meta: Any, mode: str, max_memory: dict[Any, int]):
    tied = meta.all_tied_weights_keys
    # in definition order, module by module, as a config-built Model lists them (a buffer-only module such
    # as a rotary embedding sits where its module is defined); a tensor shared by modules counted once, as
    # named_parameters / named_buffers count it
    seen: set[int] = set()
    tensors = []
    for prefix, module in meta.named_modules():
        for items in (module.named_parameters(recurse=False), module.named_buffers(recurse=False)):
            for leaf, t in items:
                name = f"{prefix}.{leaf}" if prefix else leaf
                if name not in tied and id(t) not in seen:
                    seen.add(id(t))
                    tensors.append((name, t.numel() * t.element_size()))
    groups: dict[str, list[str]] = {}
    for copy, source in tied.items():
        groups.setdefault(source, [source]).append(copy)
    no_split = {n for n, m in meta.named_modules() if type(m).__name__ in (meta._no_split_modules or ())}
    return device_map([*tensors, *((n, 0) for n in tied)], mode, max_memory, tied=list(groups.values()),
                      no_split=no_split)


def budgets(meta: Any, fractions: dict[Any, float]) -> dict[Any, int]:
    size = sum(t.numel() * t.element_size() for t in meta.parameters())
    return {d: int(f * size) for d, f in fractions.items()}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_rule_places_every_tensor_where_transformers_does(name):
    _, meta = built(name)
    for mode, fractions in GRID:
        max_memory = budgets(meta, fractions)
        expected, _ = transformers_map(meta, mode, max_memory)
        ours = ours_on_meta(meta, mode, max_memory)
        got = {n: ours.device_of(n) for n in expected}
        assert got == expected, f"{name} {mode} {fractions}"


# transformers itself raises there (get_module_size_with_ties: an IndexError looking for the tied decoder's
# module once the walk has placed it)
RAISES_IN_TRANSFORMERS = {"FacebookAI__roberta-base.json"}


@pytest.mark.parametrize("name", [n for n in CONFIGS if n not in RAISES_IN_TRANSFORMERS])
def test_buffers_past_the_budget_go_where_the_modeling_code_defines_them(name):
    """A GPU budget of exactly the parameters' bytes: the non-persistent buffers (a few KB) tip the last
    modules to disk in definition order, a rotary embedding after the final norm (the neutral Model holds
    no buffers, so only the rule is held to this)."""
    _, meta = built(name)
    max_memory = budgets(meta, {0: 1.0})
    expected, _ = transformers_map(meta, "auto", max_memory)
    ours = ours_on_meta(meta, "auto", max_memory)
    assert {n: ours.device_of(n) for n in expected} == expected


# where the neutral Model cannot tell: a head tied to the embedding but holding tensors of its own
# (RobertaForMaskedLM's lm_head: dense, layer_norm and bias) goes with the embedding, and the Model does
# not name the tied copy (lm_head.decoder.weight) that says so
NEUTRAL_DIFFERS = {"FacebookAI__roberta-base.json"}


@pytest.mark.parametrize("name", [n for n in CONFIGS if n not in NEUTRAL_DIFFERS])
def test_the_neutral_model_lands_layer_by_layer_where_transformers_puts_it(name):
    model, meta = built(name)
    stored = sum(t.nbytes for t in model.tensors)
    meta_bytes = sum(t.numel() * t.element_size() for t in meta.parameters())
    for mode, fractions in GRID:
        max_memory = budgets(meta, fractions)
        where, params = transformers_map(meta, mode, max_memory)
        tied = tied_copies(t.name for t in model.tensors)
        copies = [(c, 0) for group in tied for c in group[1:]]
        tensors = [(t.name, t.nbytes) for t in model.tensors]
        ours = device_map([*tensors, *copies], mode, max_memory, tied=tied)
        if stored == meta_bytes:  # T5 v1.1: transformers 5 ties the head the checkpoint stores apart
            assert {d: b for d, b in ours.bytes_by_device if b} == {d: b for d, b in params.items() if b}, \
                f"{name} {mode} {fractions}"
        theirs = _layers(where)
        mine = _layers({t.name: ours.device_of(t.name) for t in model.tensors})
        assert mine == theirs or stored != meta_bytes, f"{name} {mode} {fractions}"


def _layers(where: dict[str, Any]) -> dict[int, set]:
    """Decoder layer → the devices its tensors are on (text layers: knowledge/roles.py)."""
    out: dict[int, set] = {}
    for name, d in where.items():
        layer = place(name).layer
        if layer is not None and "buffer" not in name:
            out.setdefault(layer, set()).add(d)
    return out


@st.composite
def max_memories(draw: st.DrawFn) -> dict[Any, float]:
    gpus = draw(st.integers(0, 3))
    out: dict[Any, float] = {i: draw(st.floats(0.0, 1.2)) for i in range(gpus)}
    if draw(st.booleans()) or not out:
        out["cpu"] = draw(st.floats(0.0, 1.5))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CONFIGS)),
       st.sampled_from(["auto", "balanced", "balanced_low_0", "sequential"]), max_memories())
def test_any_max_memory_places_as_transformers_does(name, mode, fractions):
    _, meta = built(name)
    max_memory = budgets(meta, fractions)
    if mode == "balanced_low_0" and 0 not in max_memory:
        return  # get_balanced_memory reads max_memory[0] then: a KeyError in transformers itself
    try:
        expected, _ = transformers_map(meta, mode, max_memory)
    except IndexError:  # RAISES_IN_TRANSFORMERS: no placement to compare with
        assert name in RAISES_IN_TRANSFORMERS
        reject()
    ours = ours_on_meta(meta, mode, max_memory)
    assert {n: ours.device_of(n) for n in expected} == expected
