"""The name matching a quantization config asks for (knowledge/quant_selectors.py): a stranger's expression
that could backtrack for hours on a module name is refused, the expressions people write run, and the
earliest key of a config wins, whether a name or a pattern."""

from __future__ import annotations

import pytest

from paramscope.knowledge.quant_selectors import FirstMatch, autoround_override, untrusted_regex

NAME = "model.language_model.layers.47.mlp.shared_expert.experts.127.gate_up_proj.base_layer"

# each of these takes seconds to hours on NAME or on "a" * 40 + "!" with Python's re (a review's probes)
CATASTROPHIC = [r"(.|\w)*Z", r"(.|.)*Z", r".*.*.*.*.*.*.*Z", r"(.?){40}.{40}Z", r"(a|a)*$", r"(?:a|a)*$",
                r"(a|aa)+$", r"(a|a)*b", r"(a?){30}a{30}", r"(a+)+$", r"(.*a){20}", r"(a*)*$", r"(x+x+)+y",
                r"^((\w|\.)*)*Q$", "a{99999999999}", "(", "x" * 2000]
# what AutoRound's regex_config, Quark's "re:" excludes and GPTQModel's dynamic rules hold in practice
ORDINARY = [r"model\.layers\.\d+\.mlp\.gate$", r".*self_attn.*", r"(?i).*LM_HEAD", r"(?<=mlp\.)gate",
            r"layers\.\d{1,2}\.", r".*mlp.gate$", r"model.layers.61.*", r".*\.(q|k|v)_proj$",
            r".*layers\.\d+\.mlp\.experts\.\d+\.down_proj$", r"-:model\.layers\.1\..*"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_pattern_that_can_backtrack_badly_is_refused(pattern):
    assert untrusted_regex(pattern) is None


@pytest.mark.parametrize("pattern", ORDINARY)
def test_ordinary_patterns_run(pattern):
    rx = untrusted_regex(pattern)
    assert rx is not None
    rx.search(NAME)


def test_the_earliest_key_wins_across_names_and_patterns():
    match = FirstMatch([("a.*", 1), ("abc", 2), ("ab.*", 3)], lambda k: "*" in k, untrusted_regex)
    assert match.first("abc") == 1 and match.first("xyz") is None
    match = FirstMatch([("abc", 2), ("a.*", 1)], lambda k: "*" in k, untrusted_regex)
    assert match.first("abc") == 2 and match.first("abd") == 1


def test_autoround_names_before_expressions():
    """vLLM's INC parser: a module's own name, then the first key it ends with, then the first expression."""
    extra = {".*": {"bits": 8}, "lm_head": {"bits": 16}, "model.layers.0.mlp.up_proj": {"bits": 2}}
    assert autoround_override(extra, "model.layers.0.mlp.up_proj") == ({"bits": 2}, True)
    assert autoround_override(extra, "model.language_model.lm_head") == ({"bits": 16}, True)
    assert autoround_override(extra, "model.layers.3.mlp.up_proj") == ({"bits": 8}, False)
    assert autoround_override({"x": "not a mapping"}, "x") is None
