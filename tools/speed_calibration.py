"""Derive the speed calibration table from the measurements in tests/fixtures/speed/*_bench.json.

One file per runtime (its "runtime" key is paramscope's runtime name): llama-bench runs for llama.cpp,
one-request-at-a-time runs of vLLM and SGLang (their serving benchmarks at --max-concurrency 1, or batch-1
latency runs). A measurement's test is ``tgN`` (decode reading a context of N tokens: llama-bench's
generated tokens; for the engines the mean input plus half the mean output, the context an average step
reads) or ``ppN`` (a prefill of N tokens). For each, our own bound for that model, quantization, device and
context (analyses/sizing/speed.py through ``paramscope.size``) is compared with what was measured:

* decode (tgN): memory-bandwidth utilisation MBU = measured tokens/s / bound tokens/s, i.e.
  measured tokens/s × bytes read per token / the device's bandwidth (knowledge/hardware.py), with the
  bound itself, which the fit of an efficiency and a per-step overhead takes
  (knowledge/speed_calibration.py ``fit_decode``);
* prefill (ppN): FLOP utilisation MFU = measured tokens/s × FLOPs per token / the device's 16-bit
  peak (dense, FP32 accumulate: ``Device.half_flops``). llama.cpp's quantized prefill kernels run on int8
  or 16-bit matrix units; the 16-bit peak is the reference the predictions divide by, so the ratio is
  consistent whichever the kernel uses.

``python tools/speed_calibration.py`` prints every measurement's utilisation and the table's rows;
``--write`` puts the rows into src/paramscope/knowledge/speed_calibration.py. tests/test_speed_calibration.py
recomputes them.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from paramscope.knowledge.speed_calibration import Metric

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "speed"


def measurements() -> list[dict]:
    """Every runtime's measurements, each tagged with its file's runtime."""
    rows: list[dict] = []
    for path in sorted(FIXTURES.glob("*_bench.json")):
        doc = json.loads(path.read_text())
        rows += [dict(m, runtime=doc["runtime"]) for m in doc["measurements"]]
    return rows


def against_bound(m: dict) -> tuple[float, float] | None:
    """(measured / bound, the bound) for one measurement, the bound in tokens/s for a decode and in seconds
    for a prefill; None where the device has no figure to divide by."""
    import paramscope
    from paramscope.analyses.sizing.speed import speed_for
    from paramscope.knowledge.hardware import find_device

    device = find_device(m["device"])
    tokens = int(m["test"][2:])
    options = {} if m["weights"] == "as stored" else {"weights": m["weights"]}
    # a model the catalogue lacks is a config.json (under tests/fixtures/speed/ or the engine logs' configs)
    model = str(ROOT / m["model"]) if m["model"].endswith(".json") else m["model"]
    r = paramscope.size(model, context=tokens, runtime=m["runtime"], **options)
    s = speed_for(r.model, r.estimate, device)
    if m["test"].startswith("tg"):
        bound = s.decode_tokens_per_s
        return (m["tokens_per_s"] / bound, bound) if bound else None
    if s.prefill_seconds is None:
        return None
    return m["tokens_per_s"] * s.prefill_seconds / s.prefill_tokens, s.prefill_seconds


def groups(rows: list[dict]) -> dict[tuple[str, str, Metric, str], list[tuple[float, str, float]]]:
    """(runtime, backend, metric, era) → [(utilisation, source, bound)] over the rows a figure exists for;
    the era is the first release of the one the run's engine version falls in (knowledge/
    speed_calibration.py ERAS; a run that names no version: the first)."""
    from paramscope.knowledge.speed_calibration import era_of, parse_version

    out: dict[tuple[str, str, Metric, str], list[tuple[float, str, float]]] = defaultdict(list)
    for m in rows:
        found = against_bound(m)
        if found is not None:
            metric: Metric = "decode" if m["test"].startswith("tg") else "prefill"
            era = era_of(m["runtime"], parse_version(m.get("engine_version")) or (0,))
            out[(m["runtime"], m["backend"], metric, era)].append((found[0], m["source"], found[1]))
    return out


def table(rows: list[dict]):
    from paramscope.knowledge.speed_calibration import calibrate_eras

    by_metric: dict[tuple[str, str, Metric], dict] = defaultdict(dict)
    for (runtime, backend, metric, era), found in groups(rows).items():
        by_metric[(runtime, backend, metric)][era] = ([u for u, _, _ in found], [s for _, s, _ in found],
                                                      [b for _, _, b in found] if metric == "decode" else ())
    return tuple(row for (runtime, backend, metric), eras in sorted(by_metric.items())
                 for row in calibrate_eras(runtime, backend, metric, eras))


def write(rows: list[dict]) -> None:
    """Replace TABLE in knowledge/speed_calibration.py with the rows the measurements give."""
    import re

    path = ROOT / "src" / "paramscope" / "knowledge" / "speed_calibration.py"
    body = "\n".join(c.as_source() for c in table(rows))
    text = re.sub(r"TABLE: tuple\[Calibration, \.\.\.\] = \(\n.*?\n\)\n",
                  lambda _: f"TABLE: tuple[Calibration, ...] = (\n{body}\n)\n", path.read_text(), flags=re.S)
    path.write_text(text)


def main() -> int:
    rows = measurements()
    if "--write" in sys.argv[1:]:
        write(rows)
        return 0
    for m in rows:
        found = against_bound(m)
        u = found[0] if found else None
        path = Path(m["model"])  # a catalogue name, or a config (NAME/config.json, NAME.config.json)
        model = path.parent.name if path.name == "config.json" else path.name.removesuffix(".config.json")
        print(f"{m['runtime']:9} {m['backend']:7} {m['device']:17} {model[:30]:30} {m['weights']:9} "
              f"{m['test']:7} {m['tokens_per_s']:>9,.2f} t/s  " + ("—" if u is None else f"{u:6.1%}"))
    print()
    for c in table(rows):
        print(c.as_source())
    return 0


if __name__ == "__main__":
    sys.exit(main())
