"""The house's rules, checked on the code itself (every import, at any depth, read with ast).

Data flows one way (docs/architecture.md): sources → formats → model → analyses → app → cli | web.
A module below may never import one above it, and no two modules may import each other, directly or
through others: an import inside a function is still an import. Imports under ``if TYPE_CHECKING:`` are
left out (they name types for the checker and run nothing).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "paramscope"

# Who may import each layer (by module-name prefix). Absent from the table: anyone may import it.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "paramscope.cli": ("paramscope.cli", "paramscope.__main__"),
    "paramscope.web": ("paramscope.web", "paramscope.cli"),  # `serve` and `report` start the web side
    "paramscope.render": ("paramscope.render", "paramscope.cli", "paramscope.web"),
    # the package's __init__ is the public API
    "paramscope.app": ("paramscope.app", "paramscope.cli", "paramscope.web", "paramscope"),
}
# What each layer must never import, whoever else may.
NEVER: dict[str, tuple[str, ...]] = {
    "paramscope.analyses": ("paramscope.formats", "paramscope.sources", "paramscope.tokenize"),
    "paramscope.formats": ("paramscope.analyses", "paramscope.tokenize"),
    "paramscope.sources": ("paramscope.formats", "paramscope.analyses", "paramscope.knowledge",
                           "paramscope.model", "paramscope.tokenize"),
    "paramscope.knowledge": ("paramscope.formats", "paramscope.sources", "paramscope.analyses",
                             "paramscope.tokenize"),
    "paramscope.model": ("paramscope.knowledge", "paramscope.formats", "paramscope.sources",
                         "paramscope.analyses", "paramscope.tokenize"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.joinpath(PACKAGE).rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every paramscope module ``name`` imports, anywhere in the file, resolved to a module we have."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                   for stmt in block.body for n in ast.walk(stmt)}  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join([*here, base] if base else here)
            # `from pkg import mod` imports pkg.mod when that is a module, else a name of pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # a name inside a module stands for its module
                t = t.rpartition(".")[0]
            if t.startswith(PACKAGE) and t != name:
                yield t


def _is_type_checking(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Name | ast.Attribute)
            and "TYPE_CHECKING" in ast.unparse(node.test))


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: set(imports(name, path, known)) for name, path in mods.items()}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# parsed when a test here runs, not at collection; once a run (the tests share a pytest-xdist worker)
pytestmark = pytest.mark.xdist_group("import-graph")


@pytest.fixture(scope="module")
def import_graph() -> dict[str, set[str]]:
    return graph()


def test_the_graph_is_read(import_graph: dict[str, set[str]]) -> None:
    # a guard against a parser that finds nothing: the CLI's app imports its commands' package
    assert "paramscope.errors" in import_graph["paramscope.cli.app"]
    assert len(import_graph) > 100


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_only_those_above_import_a_layer(layer: str, import_graph: dict[str, set[str]]) -> None:
    bad = sorted(f"{src} imports {dst}" for src, dsts in import_graph.items() for dst in dsts
                 if within(dst, (layer,)) and not within(src, MAY_IMPORT[layer]) and src != PACKAGE)
    if layer == "paramscope.app":  # the package root may import app (the public API); nothing else outside
        bad = [b for b in bad if not b.startswith("paramscope imports")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_lower_layers_never_import_upward(layer: str, import_graph: dict[str, set[str]]) -> None:
    bad = sorted(f"{src} imports {dst}" for src, dsts in import_graph.items() if within(src, (layer,))
                 for dst in dsts if within(dst, NEVER[layer]))
    assert not bad, "\n".join(bad)


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles(import_graph: dict[str, set[str]]) -> None:
    # a package's __init__ importing its own submodules, which import siblings through it, is not a cycle
    # we care about only when two real modules need each other; __init__ files take part like any module.
    assert cycles(import_graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
