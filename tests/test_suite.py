"""The test suite's own machinery: what `make test` relies on to run in minutes on two cores."""

from __future__ import annotations

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
