"""The catalogue of well-known configs: every published total, names, aliases, suggestions."""

from __future__ import annotations

import pytest

from paramscope.errors import SourceError
from paramscope.formats import open_model
from paramscope.knowledge import catalogue
from paramscope.knowledge.roles import place
from paramscope.model import Model

ENTRIES = catalogue.entries()
EXACT = [e for e in ENTRIES if e.exact_total]
ROUNDED = [e for e in ENTRIES if e.total_params is not None and not e.exact_total]


# The tests here share one worker (under pytest-xdist) and open each entry once, when a test first asks
# for it: DeepSeek-V3's and R1's 90k tensors take seconds to list.
pytestmark = pytest.mark.xdist_group("catalogue")


class _Opened(dict[str, Model]):
    def __missing__(self, name: str) -> Model:
        model = self[name] = catalogue.open_entry(name)
        return model


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    return _Opened()


def _unit(published: int) -> int:
    """The rounding unit of a published figure: 30,500,000,000 → 100,000,000."""
    unit = 1
    while published % (unit * 10) == 0:
        unit *= 10
    return unit


# DeepSeek-V3 and R1 (90k tensors each) run long: make test-fast leaves out the tests that open them
LONG = {"deepseek-v3", "deepseek-r1"}


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.name, marks=[pytest.mark.slow] * (e.name in LONG))
                                   for e in EXACT])
def test_exact_published_totals(entry: catalogue.Entry, models: dict[str, Model]) -> None:
    assert models[entry.name].params == entry.total_params


@pytest.mark.slow  # runs long: DeepSeek-V3 and R1
def test_the_shared_reference_totals_are_all_exact(models: dict[str, Model]) -> None:
    expected = {
        "llama-3.1-8b": 8_030_261_248, "llama-3.1-70b": 70_553_706_496, "llama-3.1-405b": 405_853_388_800,
        "mixtral-8x7b-v0.1": 46_702_792_704, "deepseek-v3": 671_026_419_200,
        "deepseek-r1": 671_026_419_200, "qwen3-8b": 8_190_735_360, "gemma-3-270m": 268_098_176,
        "gemma-3-27b": 27_432_406_640,
    }
    assert {name: models[name].params for name in expected} == expected


@pytest.mark.parametrize("entry", ROUNDED, ids=lambda e: e.name)
def test_rounded_published_totals(entry: catalogue.Entry, models: dict[str, Model]) -> None:
    assert entry.total_params is not None
    unit = _unit(entry.total_params)
    assert abs(models[entry.name].params - entry.total_params) * 2 <= unit


def test_gemma3_27b_splits_into_text_vision_projector(models: dict[str, Model]) -> None:
    split: dict[str, int] = {}
    for t in models["gemma-3-27b"].tensors:
        part = t.name.split(".", 1)[0]
        split[part] = split.get(part, 0) + t.params
    assert split == {"language_model": 27_009_346_304, "vision_tower": 416_866_032,
                     "multi_modal_projector": 6_194_304}
    extra = models["gemma-3-27b"].config.extra
    assert extra["vision"]["params"] == 416_866_032 and extra["projector"]["params"] == 6_194_304


# Active parameters as each vendor counts them: routed experts scaled by top-k / experts, with the
# vendor's own choice about embeddings (Mistral counts them; DeepSeek leaves the input embedding
# out; OpenAI leaves the unembedding out).
ACTIVE = [
    ("mixtral-8x7b-v0.1", (), 12_900_000_000),
    ("deepseek-v3", ("model.embed_tokens.weight",), 37_000_000_000),
    ("gpt-oss-20b", ("lm_head.weight",), 3_610_000_000),
    ("gpt-oss-120b", ("lm_head.weight",), 5_130_000_000),
    ("qwen1.5-moe-a2.7b", (), 2_700_000_000),
]


@pytest.mark.parametrize(("name", "left_out", "published"),
                         [pytest.param(*a, id=a[0], marks=[pytest.mark.slow] * (a[0] in LONG))
                          for a in ACTIVE])
def test_active_params_under_vendor_conventions(name: str, left_out: tuple[str, ...], published: int,
                                                models: dict[str, Model]) -> None:
    m = models[name]
    cfg = m.config
    assert cfg is not None and cfg.is_moe
    routed = sum(t.params for t in m.tensors if place(t.name).component.startswith("experts"))
    rest = sum(t.params for t in m.tensors if t.name not in left_out) - routed
    active = rest + routed * cfg.n_experts_per_token // cfg.n_experts
    assert abs(active - published) * 2 <= _unit(published)


def test_every_config_file_has_a_published_row() -> None:
    assert [e.name for e in ENTRIES if e.total_params is None] == []


def test_every_config_names_its_hub_repository() -> None:
    """Each catalogue config's repository (hub_repos.csv): what `fit` tells vLLM and SGLang to load. The
    repository's name is the config's file name, up to case and gemma-3-27b's instruction-tuned -it."""
    for e in ENTRIES:
        org, _, name = e.repo.partition("/")
        assert org and name and "/" not in name, e
        assert name.lower().removesuffix("-it") == e.name, e


def test_fit_commands_load_the_repository() -> None:
    import paramscope
    from paramscope.analyses.sizing.fit_advice import engine_model
    from paramscope.records import replace

    commands = paramscope.fit("qwen3-8b", gpu="h100").to_json()["commands"]
    assert any(c.startswith("vllm serve Qwen/Qwen3-8B ") for c in commands), commands
    m = paramscope.open_model("qwen3-8b")
    remote = {"hub": "https://huggingface.co", "repo": "Org/Name", "revision": "v2"}
    plain = {k: v for k, v in m.metadata.items() if k != "hub_repo"}
    assert engine_model(replace(m, metadata={**plain, "remote": remote})) == "Org/Name --revision v2"
    on_main = {**plain, "remote": {**remote, "revision": "main"}}
    assert engine_model(replace(m, metadata=on_main)) == "Org/Name"
    assert engine_model(replace(m, source="/models/q", metadata=plain)) == "/models/q"


def test_entries_are_named_by_lowercase_stem() -> None:
    names = [e.name for e in ENTRIES]
    assert names == sorted(names)
    for name in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b-v0.1", "deepseek-v3",
                 "deepseek-r1", "qwen3-8b", "gemma-3-270m", "gemma-3-27b"):
        assert name in names
    by_name = {e.name: e for e in ENTRIES}
    assert by_name["llama-3.1-8b"].file == "Llama-3.1-8B.json"
    assert by_name["mixtral-8x7b-v0.1"].aliases == ("mixtral-8x7b",)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "Llama-3.1-8B", " LLAMA-3.1-8B ",
                                  "meta-llama/Llama-3.1-8B", "Mixtral-8x7B", "mixtral-8x7b-v0.1",
                                  "DeepSeek-V3", "phi-3-mini"])
def test_has_ignores_case_org_and_takes_aliases(name: str) -> None:
    assert catalogue.has(name)


@pytest.mark.parametrize("name", ["llama-9", "", "gemma-3-27b/extra/", "../gemma-3-27b"])
def test_has_rejects_unknown(name: str) -> None:
    assert not catalogue.has(name)


def test_suggest_and_did_you_mean() -> None:
    assert catalogue.suggest("llama-3.1-7b")[0] in ("llama-3.1-8b", "llama-3.1-70b")
    assert "gemma-3-27b" in catalogue.suggest("gemma-3-72b")
    assert catalogue.suggest("zzzzzz") == []
    with pytest.raises(SourceError, match=r"lama3\.1-8b: not a catalogue name; did you mean llama-3\.1-8b"):
        catalogue.lookup("lama3.1-8b")
    with pytest.raises(SourceError, match="not a catalogue name"):
        catalogue.open_entry("zzzzzz")


def test_open_entry_builds_a_config_model() -> None:
    m = catalogue.open_entry("Mixtral-8x7B")
    assert (m.format, m.source, m.has_weights) == ("config", "mixtral-8x7b-v0.1", False)
    assert m.params == 46_702_792_704
    assert m.metadata["published"]["total_params"] == 46_702_792_704
    assert m.metadata["config"]["model_type"] == "mixtral"
    assert m.config is not None and m.config.family == "mixtral"


def test_open_model_falls_back_to_the_catalogue() -> None:
    m = open_model("qwen3-8b")
    assert (m.format, m.source, m.params) == ("config", "qwen3-8b", 8_190_735_360)
    with pytest.raises(SourceError):
        open_model("no-such-model-anywhere")
