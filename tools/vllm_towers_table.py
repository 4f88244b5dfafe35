"""Print the table of which multimodal towers vLLM builds under which per-prompt limits, by registered
architecture, read from vLLM source trees (unpacked sdists or wheels), as
analyses/sizing/runtimes/vllm/towers.py keeps it.

    python tools/vllm_towers_table.py TREE [TREE ...]            # 0.15 and later: MARKED
    python tools/vllm_towers_table.py --gated TREE [TREE ...]    # 0.11 to 0.14: HAND_GATED

Each TREE is a vllm package folder (.../vllm-0.31.0/vllm); its release is read from the folder names
(vllm-X.Y.Z or a path part X.Y.Z). From 0.15 a model builds a tower inside ``with
self._mark_tower_model(vllm_config, modalities):`` or names it in ``_mark_composite_model(...,
tower_targets={modality: ...})`` (model_executor/models/interfaces.py), and the tower is left unbuilt when
every one of its modalities is limited to 0. Before that, some models tested the limits themselves (``if
multimodal_config.get_limit_per_prompt("image") or ...: self.visual = ...``). A class's marks are its own
and its base classes' (read by name across the model files); an architecture is a key of the registry's
model tables (model_executor/models/registry.py), mapped to its class. A call whose modalities are audio
alone builds the audio tower; any other the vision tower (one naming audio beside images, Nemotron Nano
VL's, builds both). Each architecture is printed with the first release of the trees given that marks it
and, across them, the larger set of modalities. Not read: the Transformers backend's own marks
(models/transformers/, from 0.28), whose modalities come from the model at run time.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

Towers = dict[str, tuple[str, ...]]


def _literal(node: ast.expr | None) -> tuple[str, ...] | None:
    """A modalities argument written as a literal, else None (the call is then not read)."""
    try:
        value = ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (set, frozenset, list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(sorted(set(value)))
    return None


def _towers(modality_sets: list[tuple[str, ...]]) -> Towers:
    out: Towers = {}
    for mods in modality_sets:
        if mods == ("audio",):
            out["audio"] = mods
        else:
            out["vision"] = tuple(sorted(set(out.get("vision", ())) | set(mods)))
            if "audio" in mods:
                out["audio"] = tuple(sorted(set(out.get("audio", ())) | set(mods)))
    return out


def _marks(cls: ast.ClassDef) -> list[tuple[str, ...]]:
    """The modality sets of a class's own _mark_tower_model calls and _mark_composite_model targets."""
    sets: list[tuple[str, ...]] = []
    for node in ast.walk(cls):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", "")
        if name == "_mark_tower_model":
            arg = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "modalities"), None)
            mods = _literal(arg)
            if mods:
                sets.append(mods)
            else:
                print(f"warning: {cls.name}: a _mark_tower_model call whose modalities are not a literal "
                      f"({ast.unparse(arg) if arg is not None else 'none'}): not read", file=sys.stderr)
        elif name == "_mark_composite_model":
            targets = next((k.value for k in node.keywords if k.arg == "tower_targets"), None)
            if isinstance(targets, ast.Dict):
                sets += [m for key in targets.keys if (m := _literal(key))]
    return sets


def _gates(cls: ast.ClassDef) -> list[tuple[str, ...]]:
    """The modality sets a class's ``if`` statements test with get_limit_per_prompt before building."""
    sets = []
    for node in ast.walk(cls):
        if not isinstance(node, ast.If):
            continue
        mods = tuple(sorted(c.args[0].value for c in ast.walk(node.test) if isinstance(c, ast.Call)
                            and getattr(c.func, "attr", "") == "get_limit_per_prompt"
                            and c.args and isinstance(c.args[0], ast.Constant)))
        if mods and any(isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store)
                        for st in node.body for t in ast.walk(st)):
            sets.append(mods)
    return sets


def _inherited(cls: ast.ClassDef) -> list[str]:
    """The base classes whose __init__ runs for this class: all of them when it defines none, else those
    its __init__ calls (``super().__init__`` the first, ``Base.__init__(self, ...)`` by name); LightOnOCR's
    __init__ calls nn.Module's alone, so Mistral 3's marks are not its."""
    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in cls.bases]
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        return bases
    called = []
    for node in ast.walk(init):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "__init__":
            owner = node.func.value  # type: ignore[attr-defined]
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super":
                called += bases[:1]
            elif isinstance(owner, ast.Name) and owner.id in bases:
                called.append(owner.id)
    return called


def _classes(models: Path) -> dict[str, tuple[list[str], ast.ClassDef]]:
    """Every top-level class of the model files by name, with the base classes whose __init__ it runs."""
    out = {}
    for path in sorted(models.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, (_inherited(node), node))
    return out


def _registry(models: Path) -> dict[str, str]:
    """Architecture → class name, from registry.py's model tables (values ("module", "Class"))."""
    out: dict[str, str] = {}
    for node in ast.parse((models / "registry.py").read_text(encoding="utf-8")).body:
        if not (isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict)):
            continue
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(value, ast.Tuple) and len(value.elts) == 2 \
                    and all(isinstance(e, ast.Constant) for e in value.elts):
                out.setdefault(key.value, value.elts[1].value)
    return out


def read(tree: Path, gated: bool) -> dict[str, Towers]:
    """Each registered architecture's towers in one tree."""
    models = tree / "model_executor" / "models"
    classes = _classes(models)
    own = {name: (_gates(cls) if gated else _marks(cls)) for name, (_, cls) in classes.items()}

    def resolved(name: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, ...]]:
        if name not in classes or name in seen:
            return []
        out = list(own[name])
        for base in classes[name][0]:
            out += resolved(base, seen | {name})
        return out

    table = {}
    for arch, cls in _registry(models).items():
        sets = resolved(cls)
        if sets:
            table[arch] = _towers(sets)
    return table


def release_of(tree: Path) -> tuple[int, int, int]:
    for part in reversed(tree.absolute().parts):
        found = re.fullmatch(r"(?:vllm-)?(\d+)\.(\d+)\.(\d+)", part)
        if found:
            major, minor, patch = found.groups()
            return int(major), int(minor), int(patch)
    raise SystemExit(f"error: no release (X.Y.Z) in the path {tree}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("trees", type=Path, nargs="+", help="vllm package folders of source trees")
    ap.add_argument("--gated", action="store_true", help="the models that test the limits themselves")
    a = ap.parse_args(argv)
    merged: dict[str, tuple[tuple[int, int, int], Towers]] = {}
    for tree in sorted(a.trees, key=release_of):
        if not (tree / "model_executor" / "models" / "registry.py").is_file():
            print(f"error: {tree} is not a vllm package folder", file=sys.stderr)
            return 2
        release = release_of(tree)
        for arch, towers in read(tree, a.gated).items():
            first, known = merged.get(arch, (release, {}))
            union = {t: tuple(sorted(set(known.get(t, ())) | set(m))) for t, m in {**known, **towers}.items()}
            merged[arch] = (first, union)
    for arch in sorted(merged):
        first, towers = merged[arch]
        shown = ", ".join(f'"{t}": {m!r}'.replace("'", '"') for t, m in sorted(
            towers.items(), key=lambda kv: kv[0] != "vision"))
        print(f'    "{arch}": ({first!r}, {{{shown}}}),')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
