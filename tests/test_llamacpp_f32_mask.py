"""llama.cpp PR 23764 (b9410, May 29, 2026): the KQ mask reserved in f16 under flash attention. The builds
before it ("early-2026" and older, params.py F32_MASK_BUILDS) reserved it in f32 and cast it in the graph,
so the compute buffer held both while the cast ran; on a GPU the f32 copy comes when the cast runs
(graph.py ``mask``). Pinned on gpt-oss-20b at 131,072 cells and -ub 2048 on Metal, b7217: 1,672.08 MiB
printed (tests/fixtures/engine_logs/llamacpp/ontouchstart-gpt-oss-20b-metal-m5-b7217-ub2048)."""

from __future__ import annotations

import pytest

import paramscope
from paramscope.analyses.sizing.runtimes import RUNTIMES
from paramscope.analyses.sizing.runtimes.llamacpp.graph import compute_buffer_bytes
from paramscope.analyses.sizing.runtimes.llamacpp.params import BUILDS, F32_MASK_BUILDS, resolve_params
from paramscope.model.dtypes import DType

MiB = 1 << 20
PRINTED_B7217 = 1_753_302_958  # "Metal compute buffer size = 1672.08 MiB"


def _gpt_oss(f32_mask: bool, on_gpu: bool = True) -> int:
    cfg = paramscope.open_model("gpt-oss-20b").config
    size, _ = compute_buffer_bytes(cfg, n_ubatch=2048, n_tokens=2048, n_seqs=1, n_streams=1, kv_unified=False,
                                   flash_attn=True, cells={"full": 131072, "sliding": 2304}, type_k=DType.F16,
                                   type_v=DType.F16, on_gpu=on_gpu, f32_mask=f32_mask)
    return size


def test_the_f32_mask_and_its_cast_as_b7217_printed():
    assert abs(_gpt_oss(True) / PRINTED_B7217 - 1) < 1e-5
    assert _gpt_oss(False) == 1616 * MiB  # the f16 mask alone: 56 MiB short
    # on the CPU the f32 mask is the graph's own input, made with the others: a larger buffer
    assert _gpt_oss(True, on_gpu=False) > _gpt_oss(True)


def test_the_families_before_b9410_hold_the_f32_mask():
    cfg = paramscope.open_model("gpt-oss-20b").config
    held = {b for b in BUILDS if resolve_params(cfg, n_ctx=8192, n_seq=1, n_ubatch=512, n_batch=2048,
                                                swa_full=False, kv_unified=False, flash_attn=True,
                                                build=b).f32_mask}
    assert held == F32_MASK_BUILDS == {"early-2026", "late-2025", "legacy", "legacy-no-swa"}


def test_the_option_lists_every_family():
    runtime = next(r for r in RUNTIMES if r.name == "llama.cpp")
    option = next(o for o in runtime.options if o.name == "llamacpp_build")
    assert tuple(option.choices) == BUILDS


@pytest.mark.parametrize("source", ["gpt-oss-20b", "llama-3.1-8b"])
def test_size_prices_the_f32_mask_for_early_2026(source):
    from paramscope.app.size import size

    def compute(build: str) -> int:
        est = size(source, runtime="llamacpp", gpu="rtx-4090", context=131072, llamacpp_build=build).estimate
        return est.compute_bytes

    assert compute("early-2026") > compute("mid-2026")


def _record(engine_version: str, version_note: str = "", log: str = "llama_context: n_ctx = 4096\n"):
    from pathlib import Path

    import engine_logs

    return engine_logs.Record("synthetic", "llamacpp", engine_version, version_note, "", "", {}, {}, {}, {},
                              (), "", log, Path("synthetic.json"))


@pytest.mark.parametrize(("version", "note", "family"), [
    ("b9409", "", "early-2026"), ("b9410", "", "mid-2026"), ("b11400", "", "mid-2026"),
    ("b11401", "", "current"), ("b8586", "", "early-2026"),
    ("unknown", "a log of May 2026", "early-2026"), ("unknown", "a log of June 2026", "mid-2026"),
    ("unknown", "", "mid-2026"),  # no build and no date: taken as before b11401, after b9410
])
def test_the_compare_tool_reads_the_family_from_the_build_or_the_date(version, note, family):
    """tools/engine_log_compare.py llamacpp_build: b9410 (PR 23764) and b11401 (the mixed-batch path) by
    number; a log known only by its month, from June 2026 as mid-2026 (b9410 came on May 29)."""
    import engine_log_compare

    assert engine_log_compare.llamacpp_build(_record(version, note)) == family
