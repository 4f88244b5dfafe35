"""Print the table of which multimodal towers vLLM builds under which per-prompt limits, read from a vLLM
source tree (an unpacked sdist or wheel), as analyses/sizing/runtimes/vllm/towers.py keeps it.

    python tools/vllm_towers_table.py PATH/TO/vllm-0.31.0/vllm            # 0.15 and later: MARKED
    python tools/vllm_towers_table.py PATH/TO/vllm-0.14.0/vllm --gated    # 0.11 to 0.14: HAND_GATED

From 0.15 each model builds a tower inside ``with self._mark_tower_model(vllm_config, modalities):``
(model_executor/models/interfaces.py), which leaves it unbuilt when every one of those modalities is limited
to 0. Before that, some models tested the limits themselves (``if multimodal_config.get_limit_per_prompt(
"image") or ...: self.visual = ...`` else None). A call whose modalities are audio alone builds the audio
tower; any other builds the vision tower (a call naming audio beside images, Nemotron Nano VL's, builds both).
Classes are read one by one: a subclass without a call of its own is not listed (paramscope then keeps its
towers, the larger figure).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def _modalities(node: ast.expr | None) -> tuple[str, ...]:
    value = ast.literal_eval(node) if node is not None else ()
    return tuple(sorted({value} if isinstance(value, str) else set(value)))


def _towers(modality_sets: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for mods in modality_sets:
        if mods == ("audio",):
            out["audio"] = mods
        else:
            out["vision"] = mods
            if "audio" in mods:
                out["audio"] = mods
    return out


def _classes(models: Path, needle: str) -> list[ast.ClassDef]:
    """The top-level classes of the model files whose source holds ``needle``."""
    out: list[ast.ClassDef] = []
    for path in sorted(models.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if needle in source:
            out += [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    return out


def marked(models: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each class's towers from its ``with self._mark_tower_model(vllm_config, modalities):`` blocks."""
    table = {}
    for cls in _classes(models, "_mark_tower_model("):
        sets = [_modalities(c.args[1] if len(c.args) > 1 else None)
                for w in ast.walk(cls) if isinstance(w, ast.With) for item in w.items
                if isinstance(c := item.context_expr, ast.Call)
                and getattr(c.func, "attr", "") == "_mark_tower_model"]
        if sets:
            table[cls.name] = _towers(sets)
    return table


def _gating(node: ast.AST) -> tuple[str, ...]:
    """The modalities an ``if`` tests with get_limit_per_prompt before assigning to self; () otherwise."""
    if not isinstance(node, ast.If):
        return ()
    mods = tuple(sorted(c.args[0].value for c in ast.walk(node.test) if isinstance(c, ast.Call)
                        and getattr(c.func, "attr", "") == "get_limit_per_prompt"
                        and c.args and isinstance(c.args[0], ast.Constant)))
    builds = any(isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store)
                 for st in node.body for t in ast.walk(st))
    return mods if builds else ()


def gated(models: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """Each class's towers from its ``if multimodal_config.get_limit_per_prompt(...)`` tests."""
    table = {}
    for cls in _classes(models, "get_limit_per_prompt"):
        sets = [mods for node in ast.walk(cls) if (mods := _gating(node))]
        if sets:
            table[cls.name] = _towers(sets)
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vllm", type=Path, help="the vllm package folder of a source tree")
    ap.add_argument("--gated", action="store_true", help="the models that test the limits themselves")
    a = ap.parse_args(argv)
    models = a.vllm / "model_executor" / "models"
    if not models.is_dir():
        print(f"error: {models} is not a folder", file=sys.stderr)
        return 2
    table = gated(models) if a.gated else marked(models)
    for arch, towers in table.items():
        print(f"    {arch!r}: {towers!r},")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
