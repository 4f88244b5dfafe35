"""The oracle's fast path against transformers' own calls (knowledge/families/oracle.py), same run.

    python bench/bench_oracle.py [--types all|big|TYPE,TYPE,...]

For every model type (default ``all``: each native type without a table row, the sweep of
tests/test_families_oracle.py and of ``paramscope inspect`` on an unknown family; ``big``: the default
MoE configs of tens of thousands of tensors) the type is first counted once untimed (its modeling code
imported), then ``oracle.reference(fast=True)`` and ``oracle.reference(fast=False)`` are timed one
after the other, their order swapped from type to type, and their answers compared (class, tensors in
order, tied tensors, or the same refusal). Reports both totals and their ratio, the whole count (build
included) and the ratio on the big MoE configs. Then the renaming a comparison applies to both sides
(``Reference.rename.all``) against transformers' ``apply_renamings`` name by name, on the big ones.

Exits 1 when an answer differs, or when the fast path is not ``FLOOR`` times as fast on the big ones
(``RENAME_FLOOR`` for the renaming).
Skips (exit 0) where torch or transformers is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BIG = ["dots3_note", "glm5_next", "kimi_k25", "deepseek_v3", "mistral_large4", "deepseek_v4"]
FLOOR = 1.3  # fast-path speed-up on BIG, whole count included (×2.0 measured on a loaded 2-core box)
# Renamer.all against apply_renamings per name, on BIG's saved names renamed twice as a comparison does
RENAME_FLOOR = 2.0


def _answer(oracle: Any, model_type: str, fast: bool) -> tuple[Any, float]:
    from paramscope.errors import UnsupportedError

    t0 = time.perf_counter()
    try:
        r = oracle.reference({"model_type": model_type}, fast=fast)
        answer: Any = (r.class_name, r.tensors, r.tied)
    except UnsupportedError as e:
        answer = str(e)
    return answer, time.perf_counter() - t0


def sweep(oracle: Any, types: list[str]) -> tuple[float, float, list[str]]:
    from paramscope.errors import UnsupportedError

    fast_s = plain_s = 0.0
    differ = []
    for i, model_type in enumerate(types):
        with contextlib.suppress(UnsupportedError):  # imports the type's modeling code: untimed
            oracle.reference({"model_type": model_type}, fast=False)
        order = (True, False) if i % 2 == 0 else (False, True)
        answers = {}
        for fast in order:
            answers[fast], seconds = _answer(oracle, model_type, fast)
            if fast:
                fast_s += seconds
            else:
                plain_s += seconds
        if answers[True] != answers[False]:
            differ.append(model_type)
    return fast_s, plain_s, differ


def renames(oracle: Any, types: list[str]) -> tuple[float, float, list[str]]:
    """A comparison's renaming of each type's saved names, twice (ours and transformers', mostly the
    same names): ``Reference.rename.all`` against transformers' ``apply_renamings`` name by name, each
    on a Reference of its own (a Renamer remembers the names it has renamed)."""
    from paramscope.errors import UnsupportedError

    fast_s = plain_s = 0.0
    differ = []
    for model_type in types:
        try:
            fast, plain = (oracle.reference({"model_type": model_type}) for _ in range(2))
        except UnsupportedError:  # a type transformers refuses has nothing to rename
            continue
        names = [t.name for t in fast.tensors]
        t0 = time.perf_counter()
        fast_names = [fast.rename.all(names), fast.rename.all(names)]
        t1 = time.perf_counter()
        plain_names = [[plain.rename(n) for n in names] for _ in range(2)]
        t2 = time.perf_counter()
        fast_s, plain_s = fast_s + t1 - t0, plain_s + t2 - t1
        if fast_names != plain_names:
            differ.append(f"{model_type} (renamed names)")
    return fast_s, plain_s, differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default="all", help="all, big, or a comma-separated list")
    args = parser.parse_args()
    if any(importlib.util.find_spec(m) is None for m in ("torch", "transformers")):
        print("skipped: the oracle needs torch and transformers (pip install 'paramscope[oracle]')")
        return 0
    from paramscope.knowledge.families import oracle, supported_model_types

    if not oracle._checked():
        print("note: the installed transformers is not the one the fast path was checked against: both "
              "timings are of transformers' own calls")
    if args.types == "all":
        types = [t for t in oracle.native_model_types() if t not in supported_model_types()]
    elif args.types == "big":
        types = []
    else:
        types = args.types.split(",")
    rows = []
    differ: list[str] = []
    if types:
        fast_s, plain_s, differ = sweep(oracle, types)
        rows.append((f"{len(types)} types", fast_s, plain_s))
    big_fast, big_plain, big_differ = sweep(oracle, BIG)
    rows.append((f"big MoE defaults ({len(BIG)})", big_fast, big_plain))
    differ += big_differ
    rename_fast, rename_plain, rename_differ = renames(oracle, BIG)
    rows.append(("renaming their names", rename_fast, rename_plain))
    differ += rename_differ
    width = max(len(r[0]) for r in rows)
    for name, fast_s, plain_s in rows:
        print(f"  {name:<{width}}  fast {fast_s:7.2f} s   transformers' calls {plain_s:7.2f} s   "
              f"× {plain_s / fast_s:.2f}")
    ratio = big_plain / big_fast
    print(f"  floor on the big ones: × {FLOOR}: " + ("met" if ratio >= FLOOR else "NOT MET"))
    rename_ratio = rename_plain / rename_fast
    met = "met" if rename_ratio >= RENAME_FLOOR else "NOT MET"
    print(f"  floor on their renaming: × {RENAME_FLOOR}: {met}")
    if differ:
        print(f"  DIFFERENT answers: {', '.join(differ)}")
    return 0 if ratio >= FLOOR and rename_ratio >= RENAME_FLOOR and not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
