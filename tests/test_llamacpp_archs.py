"""The llama.cpp profile against llama.cpp on llama, qwen2, gemma3, qwen3, a Mixtral-style llama with
experts, qwen3moe, phi3, gpt-oss, and random recipes of those.

tests/fixtures/llamacpp_archs.json was recorded by bench/bench_llamacpp_archs.py --record (and --random
12 --seed 1, 3 and 4 --record): small random-weight GGUFs written with gguf-py from the recipes stored
in the fixture, a context created with llama-cpp-python (its version is in the fixture) for every case's
settings, CPU backend, and the lines llama.cpp printed: the KV cache per layer kind, the output buffer
and the compute buffer to 4 decimals. Every figure must be equal as printed. The test rebuilds each
ArchConfig from the fixture's fields; it needs neither the GGUFs nor llama-cpp-python.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.analyses.sizing.runtimes.llamacpp.memory import llamacpp_memory
from paramscope.model import ArchConfig
from paramscope.model.dtypes import DType

MIB = 1024 * 1024
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "llamacpp_archs.json").read_text())
CASES = [(name, arch["arch_config"], case) for name, arch in FIXTURE["archs"].items()
         for case in arch["cases"]]


def predicted(fields: dict, settings: dict):
    cfg = ArchConfig(**{**fields, "layer_types": tuple(fields["layer_types"])})
    n_ubatch = settings.get("n_ubatch", 512)
    return llamacpp_memory(
        cfg, 0, n_ctx=settings["n_ctx"], n_seq=settings.get("n_seq_max", 1), n_ubatch=n_ubatch,
        n_batch=max(2048, n_ubatch), swa_full=settings.get("swa_full", False),
        kv_unified=settings.get("kv_unified", False), type_k=DType[settings.get("type_k", "F16")],
        type_v=DType[settings.get("type_v", "F16")], flash_attn=bool(settings.get("flash_attn")),
        build="mid-2026")  # llama-cpp-python 0.3.36's build (test_llamacpp_b11549.py: the current family)


def test_coverage():
    named = {"llama", "qwen2", "gemma3", "qwen3", "mixtral", "qwen3moe", "phi3", "gpt-oss"}
    assert set(FIXTURE["archs"]) >= named
    assert all(len(FIXTURE["archs"][name]["cases"]) >= 15 for name in named)
    # random recipes (bench --random): three random settings each
    randoms = [name for name in FIXTURE["archs"] if name.startswith("random")]
    assert len(randoms) >= 36 and all(len(FIXTURE["archs"][name]["cases"]) == 3 for name in randoms)
    assert len(CASES) >= 280


@pytest.mark.parametrize(("arch", "fields", "case"), CASES,
                         ids=[f"{name}-{json.dumps(case['settings'])}" for name, _, case in CASES])
def test_buffers_as_printed(arch, fields, case):
    m = predicted(fields, case["settings"])
    printed = case["printed"]
    assert f"{m.compute_bytes / MIB:.4f}" == printed["compute_mib"]
    assert f"{m.output_bytes / MIB:.2f}" == printed["output_mib"]
    kv = sorted((f"{p.total_bytes / MIB:.2f}", p.cells, p.layers, p.streams) for p in m.kv.parts)
    assert kv == sorted((k["mib"], k["cells"], k["layers"], k["seqs"]) for k in printed["kv"])


@given(st.sampled_from(sorted(FIXTURE["archs"])), st.integers(1, 70000), st.integers(1, 4096),
       st.integers(1, 6), st.booleans(), st.booleans(), st.sampled_from(["F16", "Q8_0", "Q4_0"]))
@settings(max_examples=40)
def test_compute_holds_the_logits(arch, n_ctx, n_ubatch, n_seq, unified, flash, type_k):
    # the logits are a graph output, never freed: the buffer holds them whatever else it holds
    fields = FIXTURE["archs"][arch]["arch_config"]
    m = predicted(fields, dict(n_ctx=n_ctx, n_ubatch=n_ubatch, n_seq_max=n_seq, kv_unified=unified,
                               flash_attn=flash, type_k=type_k))
    assert m.compute.graph_bytes is not None
    assert m.compute_bytes >= m.params.n_ubatch * fields["vocab_size"] * 4
