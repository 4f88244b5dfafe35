"""How close real engines come to the speed bounds: one row per runtime, backend, metric and era (ERAS).

Fitted on public runs at batch 1 on one device (tests/fixtures/speed/*_bench.json, one file per runtime,
every run with its page): llama-bench for llama.cpp; for vLLM and SGLang their serving benchmarks with one
request at a time (``--max-concurrency 1``) or batch-1 latency runs.

* ``decode``: a step takes the time its bytes take at a share ``efficiency`` of the bandwidth, plus a
  fixed ``overhead_ms`` (scheduling, sampling, kernel launches), both fitted by least squares on the time
  per token of the runs: ``fitted tokens/s = 1 / (1 / (efficiency × bound) + overhead)``, the bound being
  our decode bound (bandwidth / bytes read per token, analyses/sizing/speed.py) on the run's model,
  quantization, context and device. Low / typical / high = the fitted figure × the 10th percentile,
  median and 90th percentile of measured ÷ fitted. A backend with fewer than MIN_FIT_RUNS runs (or a fit
  outside 0 < efficiency ≤ 1, overhead ≥ 0) keeps efficiency 1 and no overhead: its quantiles are then
  plain memory-bandwidth utilisations, measured ÷ bound.
* ``prefill``: FLOP utilisation, measured prefill tokens/s × FLOPs per token ÷ the device's dense 16-bit
  peak (``Device.half_flops``), the same peak the prefill bound divides by; prefill seconds = bound ÷ its
  quantiles.

The rows are derived, never edited by hand: ``python tools/speed_calibration.py --write`` writes them from
the fixtures, and tests/test_speed_calibration.py fails when they drift from them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from paramscope.records import record, replace

Metric = Literal["decode", "prefill"]
RUNTIME_NAMES = {"vllm": "vLLM", "sglang": "SGLang"}  # as the projects spell themselves, for labels
QUANTILES = (0.1, 0.5, 0.9)  # low, typical, high
MIN_RUNS = 3  # fewer measurements than this: no interval, the bound alone
MIN_FIT_RUNS = 8  # decode runs needed to fit an efficiency and an overhead; fewer: utilisation alone
Release = tuple[int, ...]
# Releases from which a runtime's speed changed enough to be calibrated apart, its runs grouped by the era
# their engine version falls in: vLLM 0.11 removed the V0 engine (V1, the default from 0.8, runs CUDA graphs
# and schedules asynchronously): its runs since (0.11, 0.19, 0.30) are 1.25-1.34x the fit of the 0.4-0.6 ones
ERAS: dict[str, tuple[Release, ...]] = {"vllm": ((0, 11, 0),)}


def parse_version(version: str | None) -> Release | None:
    """(0, 7, 4) of "0.7.4.dev388 (rocm/vllm-dev:main)"; None when it names none."""
    found = re.match(r"\s*(\d+(?:\.\d+)*)", version or "")
    return tuple(int(x) for x in found.group(1).split(".")[:3]) if found else None


def era_of(runtime: str, release: Release | None) -> str:
    """The first release of the era ``release`` falls in, as text ("0.11"), "" for a runtime's first era or
    one without eras; an unknown release: the newest era (a run or request that names none is taken as
    current, a run's unknown version as the first era by ``tools/speed_calibration.py``)."""
    starts = [b for b in ERAS.get(runtime, ()) if release is None or release >= b]
    return ".".join(map(str, starts[-1][:2])) if starts else ""


@record
class Calibration:
    """One backend's fit for one metric (see above), with how many runs and where from."""

    runtime: str  # paramscope's runtime name: "llama.cpp", "vllm", "sglang"
    backend: str  # "CUDA", "Metal", "Vulkan", "ROCm", "CPU"
    metric: Metric
    low: float  # 10th percentile of measured / fitted (prefill, or without a fit: measured / bound)
    typical: float  # median
    high: float  # 90th percentile
    n: int  # measurements
    sources: tuple[str, ...]  # the pages they were read on
    efficiency: float = 1.0  # decode: the fitted share of the bandwidth a step's bytes take
    overhead_ms: float = 0.0  # decode: the fitted fixed time of a step
    since: str = ""  # the first release of the runs' era (ERAS), "" for the first era or none

    @property
    def label(self) -> str:
        eras = ERAS.get(self.runtime)
        era = ""
        if eras:  # which of the runtime's eras the runs are of
            era = f", from {self.since}" if self.since else f", before {'.'.join(map(str, eras[0][:2]))}"
        name = RUNTIME_NAMES.get(self.runtime, self.runtime)
        return f"calibrated ({self.n} runs, {name} {self.backend}{era})"

    def fitted(self, bound: float) -> float:
        """Decode tokens/s the fit gives for a bound of ``bound`` tokens/s (without a fit: the bound)."""
        return 1 / (1 / (self.efficiency * bound) + self.overhead_ms / 1000)

    def as_source(self) -> str:
        """The row as Python source, for pasting into TABLE."""
        fitted = (self.efficiency, self.overhead_ms) != (1, 0) or self.since
        fit = f", {self.efficiency!r}, {self.overhead_ms!r}" if fitted else ""
        fit += f", {self.since!r}" if self.since else ""
        head = (f"    Calibration({self.runtime!r}, {self.backend!r}, {self.metric!r}, {self.low!r}, "
                f"{self.typical!r}, {self.high!r}, {self.n}, (")
        return "\n".join([head, *(f"        {s!r}," for s in self.sources), f"    ){fit}),"])


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile with linear interpolation between order statistics (numpy's default, R type 7)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fit_decode(bounds: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """(efficiency, overhead in ms) fitted by least squares on the time per token, measured = bound time /
    efficiency + overhead (tokens/s in); (1.0, 0.0) with fewer than MIN_FIT_RUNS runs or a fit outside
    0 < efficiency ≤ 1, overhead ≥ 0."""
    if len(bounds) < MIN_FIT_RUNS:
        return 1.0, 0.0
    xs, ys = [1 / b for b in bounds], [1 / m for m in measured]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    if not spread:
        return 1.0, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread
    overhead = my - slope * mx
    if slope < 1 or overhead < 0:
        return 1.0, 0.0
    return round(1 / slope, 4), round(overhead * 1000, 3)


def calibrate(runtime: str, backend: str, metric: Metric, utilisations: Sequence[float],
              sources: Sequence[str], bounds: Sequence[float] = (), since: str = "") -> Calibration:
    """The row for a set of measured utilisations (measured ÷ bound) and, for decode, the bounds in
    tokens/s they were taken against, whose fit (``fit_decode``) the quantiles are then relative to;
    rounded to 4 digits: the data is no finer."""
    efficiency, overhead_ms = 1.0, 0.0
    if metric == "decode" and bounds:
        measured = [u * b for u, b in zip(utilisations, bounds, strict=True)]
        efficiency, overhead_ms = fit_decode(bounds, measured)
    row = Calibration(runtime, backend, metric, 0, 0, 0, len(utilisations), tuple(sorted(set(sources))),
                      efficiency, overhead_ms, since)
    return _with_spread(row, _ratios(row, utilisations, bounds))


def _ratios(row: Calibration, utilisations: Sequence[float], bounds: Sequence[float]) -> list[float]:
    """Measured ÷ fitted of each run (without a fit: its utilisation)."""
    if (row.efficiency, row.overhead_ms) == (1.0, 0.0):
        return list(utilisations)
    return [u * b / row.fitted(b) for u, b in zip(utilisations, bounds, strict=True)]


def _with_spread(row: Calibration, ratios: Sequence[float]) -> Calibration:
    low, typical, high = (round(quantile(ratios, q), 4) for q in QUANTILES)
    return replace(row, low=low, typical=typical, high=high)


Runs = tuple[Sequence[float], Sequence[str], Sequence[float]]  # utilisations, sources, bounds


def calibrate_eras(runtime: str, backend: str, metric: Metric, eras: dict[str, Runs]) -> list[Calibration]:
    """One row per era (``since`` → its runs' utilisations, sources and bounds), each fitted on its own runs;
    where every era of a decode is fitted, the quantiles are those of all the runs' measured ÷ their own
    era's fit: the era sets the centre, the spread of models and types is read on every run (vLLM's
    runs since 0.11 are eight, of three models)."""
    rows = {since: calibrate(runtime, backend, metric, us, sources, bounds, since)
            for since, (us, sources, bounds) in eras.items()}
    if metric != "decode" or len(rows) < 2 or any((r.efficiency, r.overhead_ms) == (1.0, 0.0)
                                                    for r in rows.values()):
        return [rows[since] for since in sorted(rows, key=_era_key)]
    pooled = [x for since, (us, _, bounds) in eras.items() for x in _ratios(rows[since], us, bounds)]
    return [_with_spread(rows[since], pooled) for since in sorted(rows, key=_era_key)]


# generated by `python tools/speed_calibration.py --write`; do not edit by hand
TABLE: tuple[Calibration, ...] = (
    Calibration('llama.cpp', 'CPU', 'decode', 0.4809, 0.5483, 0.6122, 5, (
        'https://ahelpme.com/?p=6685',
        'https://llm-tracker.info/AMD-Strix-Halo-(Ryzen-AI-Max+-395)-GPU-Performance',
    )),
    Calibration('llama.cpp', 'CUDA', 'decode', 0.9128, 1.0412, 1.1633, 12, (
        'https://github.com/dmatora/LLM-inference-speed-benchmarks/issues/12',
        'https://github.com/ggml-org/llama.cpp/discussions/15013',
        'https://github.com/ggml-org/llama.cpp/discussions/15396',
        'https://github.com/ggml-org/llama.cpp/discussions/16578',
    ), 0.9132, 1.462),
    Calibration('llama.cpp', 'CUDA', 'prefill', 0.2862, 0.6679, 0.953, 10, (
        'https://github.com/dmatora/LLM-inference-speed-benchmarks/issues/12',
        'https://github.com/ggml-org/llama.cpp/discussions/15013',
        'https://github.com/ggml-org/llama.cpp/discussions/15396',
    )),
    Calibration('llama.cpp', 'Metal', 'decode', 0.9118, 1.0218, 1.0508, 35, (
        'https://github.com/ggml-org/llama.cpp/discussions/15396',
        'https://github.com/ggml-org/llama.cpp/discussions/4167',
    ), 0.8909, 4.593),
    Calibration('llama.cpp', 'ROCm', 'decode', 0.7721, 0.7721, 0.7721, 1, (
        'https://llm-tracker.info/AMD-Strix-Halo-(Ryzen-AI-Max+-395)-GPU-Performance',
    )),
    Calibration('llama.cpp', 'Vulkan', 'decode', 0.6153, 0.7244, 0.7711, 5, (
        'https://github.com/ggml-org/llama.cpp/discussions/10879',
        'https://llm-tracker.info/AMD-Strix-Halo-(Ryzen-AI-Max+-395)-GPU-Performance',
    )),
    Calibration('llama.cpp', 'Vulkan', 'prefill', 0.4726, 0.6988, 0.8254, 4, (
        'https://github.com/ggml-org/llama.cpp/discussions/10879',
    )),
    Calibration('sglang', 'CUDA', 'decode', 0.8518, 1.0058, 1.1193, 16, (
        'https://github.com/FreedomIntelligence/AccelMark/blob/1b539cb7d03bdfcd0eabcfb023239cfa44639c57/results/community/nvidia_a100_sxm4_40gbx1_suite_D_nvidia_sglang_c43a8309_99c43b97/result.json',
        'https://github.com/FreedomIntelligence/AccelMark/blob/5797fc42745be2494e6213938d9e5afa0c6c5bef/results/community/nvidia_a100_sxm4_40gbx1_suite_A_nvidia_sglang_c43a8309_958afbbd/result.json',
        'https://github.com/sgl-project/sgl-cookbook/blob/267c5a403d73bed41b007698542bc6d9d7caf407/docs/autoregressive/Google/Gemma4.md',
        'https://github.com/sgl-project/sglang/issues/2219',
        'https://github.com/varad-more/inference-engine-benchmark-system/blob/445992d949d481defef3e906c2449bd57fd9bc3d/reports/tpot_analysis.md',
        'https://github.com/varad-more/inference-engine-benchmark-system/blob/b0d4505bea9a3f360c11ccfca05276be9845d030/reports/tpot_analysis.md',
    ), 0.7936, 2.327),
    Calibration('sglang', 'CUDA', 'prefill', 0.7905, 0.7905, 0.7905, 1, (
        'https://github.com/FreedomIntelligence/AccelMark/blob/1b539cb7d03bdfcd0eabcfb023239cfa44639c57/results/community/nvidia_a100_sxm4_40gbx1_suite_D_nvidia_sglang_c43a8309_99c43b97/result.json',
    )),
    Calibration('sglang', 'ROCm', 'decode', 0.2184, 0.4875, 0.537, 3, (
        'https://github.com/sgl-project/sgl-cookbook/blob/267c5a403d73bed41b007698542bc6d9d7caf407/docs/autoregressive/Google/Gemma4.md',
        'https://github.com/sgl-project/sglang/pull/31216',
    )),
    Calibration('vllm', 'CUDA', 'decode', 0.9485, 1.027, 1.1637, 19, (
        'https://github.com/QwenLM/Qwen2.5/blob/010c37c33b13a1ac59944b349620e13404efe97d/docs/source/benchmark/speed_benchmark.rst',
        'https://hamel.dev/notes/llm/inference/03_inference.html',
        'https://qwen.readthedocs.io/en/v2.0/_sources/benchmark/speed_benchmark.rst.txt',
    ), 0.6316, 3.114),
    Calibration('vllm', 'CUDA', 'decode', 0.9485, 1.027, 1.1637, 8, (
        'https://github.com/gpustack/gpustack/blob/main/docs/performance-lab/qwen3-8b/h100-latency.md',
        'https://github.com/noonghunna/club-3090/issues/697',
        'https://github.com/tgarg01/silybench-data/blob/93e4887353137e64bd5605fa3d1f4529da0a1dc5/derived/csv/perf_points.csv',
    ), 0.8136, 1.446, '0.11'),
    Calibration('vllm', 'CUDA', 'prefill', 0.5019, 0.5641, 0.6397, 4, (
        'https://github.com/tgarg01/silybench-data/blob/93e4887353137e64bd5605fa3d1f4529da0a1dc5/derived/csv/perf_points.csv',
    ), 1.0, 0.0, '0.11'),
    Calibration('vllm', 'ROCm', 'decode', 0.4239, 0.4239, 0.4239, 1, (
        'https://github.com/search?q=%22Azure%20AMD%20GPU%20VM%E7%9B%B8%E5%85%B3%E6%B5%8B%E8%AF%95%22&type=code',
    )),
)


# the backend a runtime runs on a vendor's GPUs: llama.cpp's Vulkan on AMD (the backend with AMD
# measurements in the table); the serving engines' CUDA and ROCm builds (neither runs on Apple GPUs)
GPU_BACKENDS = {"llama.cpp": {"Apple": "Metal", "NVIDIA": "CUDA", "AMD": "Vulkan"},
                "vllm": {"NVIDIA": "CUDA", "AMD": "ROCm"}, "sglang": {"NVIDIA": "CUDA", "AMD": "ROCm"}}


def backend_for(runtime: str, vendor: str, kind: str) -> str | None:
    """The backend a runtime would run on a device (GPU_BACKENDS; llama.cpp's CPU backend on a CPU row);
    None where the table has no such backend (transformers, a serving engine on a CPU)."""
    if kind == "cpu":
        return "CPU" if runtime == "llama.cpp" else None
    return GPU_BACKENDS.get(runtime, {}).get(vendor)


def lookup(runtime: str, vendor: str, kind: str, metric: Metric,
           release: Release | None = None) -> Calibration | None:
    """The calibration for a runtime on a device, where the table has enough runs for its backend: the
    era ``release`` falls in (None: the newest), else the latest era before it that has them."""
    backend = backend_for(runtime, vendor, kind)
    wanted = era_of(runtime, release)
    found = [c for c in TABLE if (c.runtime, c.backend, c.metric) == (runtime, backend, metric)
             and c.n >= MIN_RUNS and _era_key(c.since) <= _era_key(wanted)]
    return max(found, key=lambda c: _era_key(c.since), default=None)


def _era_key(since: str) -> Release:
    return parse_version(since) or ()
