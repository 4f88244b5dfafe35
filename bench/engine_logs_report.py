"""paramscope's memory predictions against what real engines printed at start-up (a report, not a test).

For each record in tests/fixtures/engine_logs/ (tools/engine_logs.py loads them) whose model paramscope can
open offline (a catalogue name, or a config.json kept in tests/fixtures/engine_logs/configs/),
tools/engine_log_compare.py runs the runtime profile with the record's own settings; this prints, figure by
figure, the predicted value against the printed one and the error, then the median and worst error per
engine and per figure.

Exit status 0 unless it crashes: the bounds are tests/test_engine_log_predictions.py's (a tolerance per
figure, the known misses listed with their reasons).
Run: .venv/bin/python bench/engine_logs_report.py [--verbose]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import engine_logs  # noqa: E402
from engine_log_compare import Row, compare  # noqa: E402


def _fmt(value: float, unit: str) -> str:
    if unit in engine_logs.UNIT_BYTES:
        return f"{value / 2**30:,.3f} GiB"
    return f"{value:,.2f}" if unit == "x" else f"{value:,.0f}"


def summary(rows: list[Row], key: Callable[[Row], str]) -> list[tuple[str, int, float, float, str]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    out = []
    for name, group in sorted(groups.items()):
        errors = [abs(r.error) for r in group]
        worst = max(group, key=lambda r: abs(r.error))
        out.append((name, len(group), statistics.median(errors), abs(worst.error), worst.record))
    return out


def markdown(rows: list[Row], skipped: list[tuple[str, str]]) -> str:
    """Every compared figure, one row each, then the records without a prediction."""
    lines = ["| engine | record | figure | printed | predicted | error |", "|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r.engine, r.record)):
        lines.append(f"| {row.engine} | `{row.record}` | {row.figure} | {_fmt(row.printed, row.unit)} | "
                     f"{_fmt(row.predicted, row.unit)} | {row.error:+.1%} |")
    lines += ["", "Without a prediction:", ""]
    # a reason naming a file names it from the checkout's root, never this machine's path
    lines += [f"- `{rid}`: {reason.replace(str(ROOT) + '/', '')}" for rid, reason in skipped]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="print every figure, not only the summary")
    parser.add_argument("--markdown", action="store_true",
                        help="print the per-log table of docs/runtimes.md (every figure, Markdown) and stop")
    args = parser.parse_args(argv)
    records = engine_logs.load_all()
    rows: list[Row] = []
    skipped: list[tuple[str, str]] = []
    for r in records:
        got, reason = compare(r)
        rows += got
        if reason:
            skipped.append((r.id, reason))
    if args.markdown:
        print(markdown(rows, skipped))
        return 0
    if args.verbose:
        print(f"{'record':44} {'figure':46} {'printed':>16} {'predicted':>16} {'error':>8}")
        for row in rows:
            print(f"{row.record:44} {row.figure:46} {_fmt(row.printed, row.unit):>16} "
                  f"{_fmt(row.predicted, row.unit):>16} {row.error:>+8.1%}")
        print()
    compared = len({row.record for row in rows})
    print(f"engine logs: {len(records)} records, {compared} compared ({len(rows)} figures), "
          f"{len(skipped)} without a prediction")
    for title, key in (("per engine", lambda row: row.engine),
                       ("per figure", lambda row: f"{row.engine}: {row.figure}")):
        print(f"\n{title:56} {'n':>4} {'median |err|':>13} {'worst |err|':>12}  worst record")
        for name, n, median, worst, where in summary(rows, key):
            print(f"{name:56} {n:>4} {median:>13.1%} {worst:>12.1%}  {where}")
    print("\nwithout a prediction:")
    for rid, reason in skipped:
        print(f"  {rid}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
