"""Opening a config whose quantization names its layers one by one: against the same config unquantized.

    python bench/bench_quant_configs.py [--config CONFIG_JSON] [--repeat 3]

A per-layer quantization config lists a name for every quantized module (NVIDIA ModelOpt's MIXED_PRECISION
``quantized_layers``, Intel AutoRound's ``extra_config``, AMD Quark's ``exclude`` and ``layer_quant_config``):
tens of thousands of names on a large MoE model. This times ``paramscope.open_model`` (the tensors the
checkpoint stores, knowledge/quant_layouts.py) on such configs built from the model's own Linears, each as a
ratio to opening the unquantized config in the same run. The target: every ratio ≤ 20 (names looked up, not
scanned: knowledge/quant_selectors.py); exits 1 when missed. The default config is Qwen3.5-35B-A3B's
(tests/fixtures/engine_logs/configs/). Measured (2-core machine): 9.4 / 10.6 / 8.3 / 2.2 x of 55 ms, where
the AutoRound case took 218 s before the names were indexed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import paramscope

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "tests" / "fixtures" / "engine_logs" / "configs" / "qwen3.5-35b-a3b.config.json"
TARGET_RATIO = 20.0


def best_of(path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        paramscope.open_model(str(path))
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--config", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    plain_model = paramscope.open_model(str(args.config))
    linears = [t.name.removesuffix(".weight") for t in plain_model.tensors
               if t.name.endswith(".weight") and len(t.shape) == 2 and "norm" not in t.name
               and "embed" not in t.name]
    fp8 = {"dtype": "fp8_e4m3", "qscheme": "per_tensor", "is_dynamic": False}
    configs = {
        "modelopt MIXED_PRECISION, every Linear named": {
            "quant_method": "modelopt", "quant_algo": "MIXED_PRECISION",
            "quantized_layers": {n: {"quant_algo": "NVFP4" if i % 2 else "FP8"}
                                 for i, n in enumerate(linears)}},
        "auto-round, extra_config naming every Linear": {
            "quant_method": "auto-round", "bits": 4, "group_size": 128, "sym": True,
            "packing_format": "auto_round:auto_gptq", "extra_config": {n: {"bits": 8} for n in linears}},
        "quark, every Linear in layer_quant_config": {
            "quant_method": "quark", "global_quant_config": {"weight": fp8},
            "layer_quant_config": {n: {"weight": fp8} for n in linears}, "exclude": []},
        "quark, every Linear excluded": {
            "quant_method": "quark", "global_quant_config": {"weight": fp8}, "exclude": linears},
    }
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain" / "config.json"
        plain.parent.mkdir()
        plain.write_text(json.dumps(cfg))
        base = best_of(plain, args.repeat)
        print(f"{args.config.name}: {len(plain_model.tensors):,} tensors, {len(linears):,} Linears; "
              f"unquantized {base * 1000:.0f} ms")
        worst = 0.0
        for label, qc in configs.items():
            path = Path(tmp) / label.split(",")[0].replace(" ", "-") / label.split(",")[1].strip().replace(
                " ", "-") / "config.json"
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps({**cfg, "quantization_config": qc}))
            t = best_of(path, args.repeat)
            worst = max(worst, t / base)
            print(f"  {label:<48} {t * 1000:8.0f} ms   {t / base:6.1f} x")
    print(f"worst ratio {worst:.1f} (target ≤ {TARGET_RATIO:.0f})")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
