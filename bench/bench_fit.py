"""Whole-process `paramscope fit deepseek-v3 --gpu h100 --ram 64GiB --json` against `size deepseek-v3 --json`.

fit prices DeepSeek-V3 (90k tensors) at a dozen weight schemes and asks ~40 estimates; size opens the
same model and makes one estimate as stored, so the ratio is what fit's search costs over opening the
model. The floor: fit within 4 × size (measured 2026-12-03, 2-core shared machine: 5.8 × before the
re-pricing priced units by kind and summed without a record per tensor, 2.7 × after).
"""

from __future__ import annotations

from _common import BIN, median_seconds, report, run_process

FLOOR_RATIO = 4.0


def main() -> int:
    cli = str(BIN / "paramscope")
    fit_args = ["fit", "deepseek-v3", "--gpu", "h100", "--ram", "64GiB", "--json"]
    fit = median_seconds(run_process([cli, *fit_args]), repeat=5)
    size = median_seconds(run_process([cli, "size", "deepseek-v3", "--json"]), repeat=5)
    ratio = fit / size
    verdict = "met" if ratio <= FLOOR_RATIO else "NOT MET"
    report([
        ("paramscope fit deepseek-v3 --gpu h100 --ram 64GiB --json", f"{fit * 1000:.0f} ms (median of 5)"),
        ("paramscope size deepseek-v3 --json (baseline)", f"{size * 1000:.0f} ms"),
        ("floor", f"fit ≤ {FLOOR_RATIO:.0f} × size: {ratio:.1f} × ({verdict})"),
    ])
    return 0 if ratio <= FLOOR_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
