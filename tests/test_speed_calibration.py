"""The calibrated speed intervals: the shipped table is what its measurements give, held-out measurements
fall inside the interval made from the others, and size / fit apply the table as documented.

The measurements are public runs at batch 1 on one device (tests/fixtures/speed/*_bench.json, one file per
runtime, each run with its page): llama-bench for llama.cpp, one request at a time for vLLM and SGLang;
tools/speed_calibration.py turns each into a utilisation of our own bound.
"""

import statistics
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paramscope
from paramscope.analyses.sizing.speed import BOUND
from paramscope.knowledge.hardware import find_device
from paramscope.knowledge.speed_calibration import (
    MIN_FIT_RUNS,
    MIN_RUNS,
    TABLE,
    backend_for,
    calibrate,
    era_of,
    fit_decode,
    lookup,
    parse_version,
    quantile,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import speed_calibration as tool

# measured on the fixtures as shipped: 76 of 108 held-out measurements inside their p10–p90 interval (70 %);
# an interval between two order statistics of n others covers a new draw with probability about
# 0.8 × (n − 1) / (n + 1), so small groups cover less than 80 %
HELD_OUT_FLOOR = 0.65


@pytest.fixture(scope="module")
def groups():
    return tool.groups(tool.measurements())


def test_fixture_rows_are_complete():
    rows = tool.measurements()
    assert len(rows) >= 30
    for m in rows:
        assert m["source"].startswith("https://")
        assert m["test"][:2] in ("pp", "tg") and int(m["test"][2:]) > 0
        assert m["tokens_per_s"] > 0
        device = find_device(m["device"])  # every device is a row of the hardware table
        if m["runtime"] != "llama.cpp":  # (llama.cpp runs other backends than its default: Vulkan on NVIDIA)
            assert m["backend"] == backend_for(m["runtime"], device.vendor, device.kind)
    by_runtime = {r: {m["backend"] for m in rows if m["runtime"] == r}
                  for r in ("llama.cpp", "vllm", "sglang")}
    assert by_runtime["llama.cpp"] >= {"CUDA", "Metal", "Vulkan", "ROCm", "CPU"}
    assert by_runtime["vllm"] >= {"CUDA"} and by_runtime["sglang"] >= {"CUDA"}
    # the serving engines' rows name what was served and where it was read
    for m in rows:
        if m["runtime"] != "llama.cpp":
            assert m["source_note"] and "engine_version" in m and "checkpoint" in m


def test_table_is_what_the_measurements_give(groups):
    """The shipped rows cannot drift from their data: recomputed from the fixture, they are equal."""
    assert tool.table(tool.measurements()) == TABLE


def test_every_decode_utilisation_is_below_the_bound(groups):
    """The decode bound is an upper bound: no run beat it (gpt-oss-20b did before the untied embedding
    table was left out of the bytes read per token)."""
    for (_, _, metric, _), found in groups.items():
        if metric == "decode":
            assert all(0 < u < 1 for u, _, _ in found)


def _interval(metric, us, bounds):
    """The (low, high) a calibration made of ``us`` (with their ``bounds``) gives a run of bound ``b``."""
    c = calibrate("r", "b", metric, us, ["s"] * len(us), bounds if metric == "decode" else ())
    return lambda b: (c.fitted(b) * c.low, c.fitted(b) * c.high) if metric == "decode" else (c.low, c.high)


def test_held_out_measurements_fall_inside_the_interval(groups):
    """Leave one out: calibrate on the others (the decode fit too), check the left-out run lies in the
    [p10, p90] interval that gives it: decode tokens/s, prefill utilisation."""
    inside = total = 0
    for (_, _, metric, _), found in groups.items():
        if len(found) <= MIN_RUNS:
            continue
        for i, (u, _, b) in enumerate(found):
            rest = found[:i] + found[i + 1:]
            low, high = _interval(metric, [r[0] for r in rest], [r[2] for r in rest])(b)
            total += 1
            inside += low <= (u * b if metric == "decode" else u) <= high
    assert total >= 100
    assert inside / total >= HELD_OUT_FLOOR


def test_the_decode_fit_recovers_a_known_efficiency_and_overhead():
    """Runs made exactly by 1 / (1 / (0.8 × bound) + 3 ms): the fit finds 0.8 and 3 ms, the quantiles 1."""
    bounds = [25.0, 60.0, 110.0, 180.0, 250.0, 400.0, 700.0, 1200.0]
    measured = [1 / (1 / (0.8 * b) + 0.003) for b in bounds]
    assert fit_decode(bounds, measured) == pytest.approx((0.8, 3.0))
    utilisations = [m / b for m, b in zip(measured, bounds, strict=True)]
    c = calibrate("r", "b", "decode", utilisations, ["s"] * 8, bounds)
    assert (c.low, c.typical, c.high) == pytest.approx((1, 1, 1))
    assert c.fitted(100.0) == pytest.approx(1 / (1 / 80 + 0.003))
    # too few runs, or a fit no engine can have (faster than the bandwidth, a negative overhead): none
    assert fit_decode(bounds[:MIN_FIT_RUNS - 1], measured[:MIN_FIT_RUNS - 1]) == (1.0, 0.0)
    assert fit_decode(bounds, [1.2 * b for b in bounds]) == (1.0, 0.0)
    without = calibrate("r", "b", "decode", [0.5] * 3, ["s"] * 3, [100.0] * 3)
    assert (without.efficiency, without.overhead_ms, without.typical) == (1.0, 0.0, 0.5)


@given(st.lists(st.floats(0.01, 2.0), min_size=2, max_size=60))
def test_quantile_matches_the_standard_library(xs):
    """Linear interpolation between order statistics, as statistics.quantiles(method='inclusive')."""
    deciles = statistics.quantiles(xs, n=10, method="inclusive")
    assert quantile(xs, 0.1) == pytest.approx(deciles[0])
    assert quantile(xs, 0.5) == pytest.approx(deciles[4])
    assert quantile(xs, 0.9) == pytest.approx(deciles[8])


def test_backends():
    assert backend_for("llama.cpp", "Apple", "unified") == "Metal"
    assert backend_for("llama.cpp", "NVIDIA", "gpu") == "CUDA"
    assert backend_for("llama.cpp", "AMD", "gpu") == "Vulkan"
    assert backend_for("llama.cpp", "JEDEC", "cpu") == "CPU"
    assert backend_for("vllm", "NVIDIA", "gpu") == "CUDA" and backend_for("sglang", "AMD", "gpu") == "ROCm"
    assert backend_for("vllm", "Apple", "unified") is None  # the serving engines run no Apple GPU
    assert backend_for("vllm", "JEDEC", "cpu") is None
    assert backend_for("transformers", "NVIDIA", "gpu") is None
    assert lookup("llama.cpp", "JEDEC", "cpu", "decode").backend == "CPU"
    assert lookup("llama.cpp", "JEDEC", "cpu", "prefill") is None  # CPU rows have no FLOP/s to divide by


def test_calibrated_figures_are_the_bound_times_the_quantiles():
    r = paramscope.size("llama-2-7b", weights="Q4_0", context=512, gpu="rtx-4090")
    s = r.speed
    c = lookup("llama.cpp", "NVIDIA", "gpu", "decode")
    assert s.decode_calibration == c and s.decode_label == c.label
    bound = s.decode_tokens_per_s
    fitted = 1 / (1 / (c.efficiency * bound) + c.overhead_ms / 1000)
    assert c.efficiency < 1 and c.overhead_ms > 0  # twelve runs: fitted
    assert s.decode_range == pytest.approx(tuple(min(fitted * q, bound) for q in (c.low, c.typical, c.high)))
    p = s.prefill_calibration
    assert s.prefill_range == pytest.approx(tuple(s.prefill_seconds / q for q in (p.high, p.typical, p.low)))
    data = r.to_json()["speed"]
    assert data["decode_label"] == f"calibrated ({c.n} runs, llama.cpp CUDA)"
    assert data["decode_tokens_per_s_typical"] == pytest.approx(s.decode_range[1])
    assert data["calibration"]["decode"]["runs"] == c.n
    assert data["calibration"]["decode"]["efficiency"] == c.efficiency
    assert data["calibration"]["decode"]["overhead_ms"] == c.overhead_ms
    assert data["calibration"]["decode"]["since"] is None  # llama.cpp has no eras


def test_the_serving_engines_are_calibrated_on_their_own_runs():
    """vLLM and SGLang on an NVIDIA GPU take their own rows (one request at a time), not llama.cpp's."""
    for runtime, name in (("vllm", "vLLM"), ("sglang", "SGLang")):
        s = paramscope.size("llama-3.1-8b", context=1024, runtime=runtime, gpu="h100-sxm").speed
        c = lookup(runtime, "NVIDIA", "gpu", "decode")
        assert c.runtime == runtime and s.decode_label == c.label
        assert c.label.startswith(f"calibrated ({c.n} runs, {name} CUDA")
        fitted = c.fitted(s.decode_tokens_per_s)
        assert s.decode_range == pytest.approx(tuple(min(fitted * q, s.decode_tokens_per_s)
                                                     for q in (c.low, c.typical, c.high)))
    vllm = paramscope.size("llama-3.1-8b", context=8192, runtime="vllm", gpu="h100-sxm").speed
    assert vllm.prefill_label == lookup("vllm", "NVIDIA", "gpu", "prefill").label
    sglang = paramscope.size("llama-3.1-8b", context=8192, runtime="sglang", gpu="h100-sxm").speed
    assert sglang.prefill_label == BOUND  # one SGLang prefill run: fewer than MIN_RUNS
    rocm = paramscope.size("llama-3.1-8b", context=1024, runtime="vllm", gpu="mi300x").speed
    assert rocm.decode_label == BOUND  # one ROCm run: fewer than MIN_RUNS
    sglang_rocm = paramscope.size("llama-3.1-8b", context=1024, runtime="sglang", gpu="mi300x").speed
    assert sglang_rocm.decode_label == "calibrated (3 runs, SGLang ROCm)"  # Gemma 4 on MI300Xs


def test_vllm_is_calibrated_by_the_era_of_its_release():
    """vLLM 0.11 removed the V0 engine: a release from 0.11 takes the runs since (the default, the newest),
    an older one the runs before; the prefill runs are all of 0.30, so an older release has none."""
    assert parse_version("0.7.4.dev388 (rocm/vllm-dev:main)") == (0, 7, 4) and parse_version(None) is None
    assert era_of("vllm", (0, 6, 3)) == "" and era_of("vllm", (0, 30, 0)) == "0.11"
    assert era_of("vllm", None) == "0.11" and era_of("sglang", (0, 4, 6)) == ""
    new, old = lookup("vllm", "NVIDIA", "gpu", "decode"), lookup("vllm", "NVIDIA", "gpu", "decode", (0, 6, 3))
    assert new.since == "0.11" and old.since == "" and new.n + old.n == 27
    assert new.label.endswith(", from 0.11)") and old.label.endswith(", before 0.11)")
    assert lookup("vllm", "NVIDIA", "gpu", "prefill", (0, 6, 3)) is None
    on_h100 = {"context": 1024, "runtime": "vllm", "gpu": "h100-sxm"}
    current = paramscope.size("qwen3-8b", **on_h100).speed
    earlier = paramscope.size("qwen3-8b", vllm_release="0.6.3", **on_h100).speed
    assert current.decode_calibration == new and earlier.decode_calibration == old
    assert current.decode_range[1] > earlier.decode_range[1]  # the V1 engine runs faster at one request


@pytest.mark.parametrize("options", [
    {"runtime": "transformers", "gpu": "rtx-4090"},  # no transformers measurements
    {"runtime": "vllm", "gpu": "mi300x"},  # too few vLLM runs on ROCm
    {"gpu": "rtx-4090x2"},  # measured on one device only
    {"gpu": "rtx-4090", "batch": 4},  # measured at batch 1 only
    {"gpu": "rtx-4090", "n_gpu_layers": 20},  # part in host memory
])
def test_bound_only_where_nothing_was_measured(options):
    s = paramscope.size("llama-3.1-8b", context=1024, **options).speed
    assert s.decode_range is None and s.decode_label == BOUND
    assert s.prefill_label == BOUND
    assert s.decode_tokens_per_s is not None


def test_untied_embedding_is_looked_up_not_read():
    """llama-2-7b has its own output head: decode reads the head, one row of the embedding table."""
    r = paramscope.size("llama-2-7b", weights="F16", context=256, gpu="rtx-4090")
    vocab, hidden = 32000, 4096
    assert r.speed.active_weight_bytes == r.estimate.weights_bytes - vocab * hidden * 2
    # prefill: the embedding is a lookup and the head runs for the last token only
    params = 6_738_415_616
    dense = params - 2 * vocab * hidden
    assert r.speed.prefill_flops > 2 * dense * 256 + 2 * vocab * hidden
    tied = paramscope.size("gemma-3-270m", context=256, gpu="rtx-4090")
    assert tied.speed.active_weight_bytes == tied.estimate.weights_bytes


def test_a_serving_engines_mixture_of_experts_is_said_to_run_below_the_fit():
    """The serving engines' fits are of dense runs; a mixture of experts on them says so, llama.cpp's
    (whose gpt-oss-20b runs fit) and a dense model's do not."""
    cases = (("gpt-oss-120b", "vllm", True), ("gpt-oss-120b", "sglang", True),
             ("gpt-oss-20b", "llama.cpp", False), ("llama-3.1-8b", "vllm", False))
    for src, runtime, said in cases:
        lines = paramscope.size(src, context=1024, runtime=runtime, gpu="h100-sxm").speed.explain
        assert any("mixture of experts" in line for line in lines) is said, (src, runtime)
