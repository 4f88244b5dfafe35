"""The test suite's own machinery: what `make test` relies on to run in minutes on two cores."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.mark.xdist_group("suite-check")
def test_xdist_groups_take_effect(request: pytest.FixtureRequest) -> None:
    """Under `--dist loadgroup` a test marked xdist_group carries its group in its id: that is how
    pytest-xdist sends a group to one worker (the browser's tests share one Chromium, the gguf-py
    reader of the Gemma file is built once). pytest 9.2 with pytest-xdist 3.8 silently loses it
    (pytest-dev/pytest-xdist#1386): every group is then dealt out to every worker."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under pytest-xdist --dist loadgroup")
    assert request.node.nodeid.endswith("@suite-check"), (
        f"{request.node.nodeid}: pytest-xdist did not group this test (pytest "
        f"{pytest.__version__}; pyproject.toml's [test] extra says which pytest groups)")


def test_shared_fixtures_group_their_tests(request: pytest.FixtureRequest) -> None:
    """conftest.py groups the tests of an expensive per-worker fixture; a test that does not use one
    is in no group (it goes to whichever worker is free)."""
    assert not list(request.node.iter_markers("xdist_group"))


# --- tests never import each other ------------------------------------------------------------------
# A test module imported by another runs its collection twice, ties the two files' edits together and
# hides shared builders where no one looks for them: what two tests share lives in tests/builders/.
# The bench and tools scripts count too: what they take from the tests comes from tests/builders/.

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def imported_test_modules(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every test module (``test_*``, from the tests folder) the code imports,
    anywhere in it: at the top, inside a function, or through importlib.import_module/__import__
    with a literal name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base]
            if base in ("", "tests"):  # `from . import test_x`, `from tests import test_x`: modules
                modules += [a.name for a in node.names]
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            modules = [node.args[0].value]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "tests":
                parts = parts[1:]
            if parts and parts[0].startswith("test_"):
                yield node.lineno, module


def _is_import_call(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or \
        (isinstance(func, ast.Attribute) and func.attr == "import_module")


def offenders(files: list[Path]) -> list[str]:
    return [f"{f.relative_to(ROOT)}:{line} imports {module}"
            for f in files for line, module in imported_test_modules(f.read_text(encoding="utf-8"))]


def test_no_test_module_imports_another() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len([f for f in files if f.name.startswith("test_")]) > 50  # the walk found the suite
    found = offenders(files)
    assert not found, "tests import test modules (move what they share into tests/builders/): " + \
        "; ".join(found)


def test_no_bench_or_tool_script_imports_a_test_module() -> None:
    """bench/ and tools/ put tests/ on sys.path for the builders; a test module imported there runs
    its module-level code (parametrize lists, fixtures) in the script and breaks when a test moves."""
    files = sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "tools").glob("*.py")])
    assert {"bench_scan.py", "bench_decode.py", "fetch_models.py"} <= {f.name for f in files}
    found = offenders(files)
    assert not found, "scripts import test modules (take what they need from tests/builders/): " + \
        "; ".join(found)


@pytest.mark.parametrize(("source", "found"), [
    ("import test_zoo", ["test_zoo"]),
    ("import test_gguf_malformed as gm", ["test_gguf_malformed"]),
    ("from test_pickle_attacks import PAYLOADS", ["test_pickle_attacks"]),
    ("def f():\n    import test_zoo\n", ["test_zoo"]),
    ("import tests.test_zoo", ["tests.test_zoo"]),
    ("from tests import test_zoo, builders", ["test_zoo"]),
    ("from . import test_zoo", ["test_zoo"]),
    ("import importlib\nimportlib.import_module('test_zoo')", ["test_zoo"]),
    ("__import__('test_zoo')", ["test_zoo"]),
    ("from builders import pickle_attacks\nfrom builders.zoo_files import test_names\nimport pytest", []),
    ("import paramscope.test_utils", []),
    ("x = 'import test_zoo'", []),
])
def test_the_import_check_sees_every_spelling(source: str, found: list[str]) -> None:
    assert [m for _line, m in imported_test_modules(source)] == found
