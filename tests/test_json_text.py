"""cli.json_text.dumps writes what json.dumps(indent=2, ensure_ascii=False) writes; refuses alike."""

from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paramscope.cli.json_text import dumps

scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(10**40), 10**40)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text())
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.tuples(inner, inner)
                      | st.dictionaries(keys, inner, max_size=6), max_leaves=60)


def reference(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@settings(max_examples=600, deadline=None)
@given(values)
def test_same_text_as_json_dumps(value: object) -> None:
    assert dumps(value) == reference(value)


class Colour(enum.IntEnum):
    RED = 1


class Name(enum.StrEnum):
    A = "a\u00e9\n\"x\""


class Ratio(float):
    pass


def test_subclasses_are_written_as_their_base_type() -> None:
    value = {Colour.RED: [Colour.RED, Name.A, Ratio(0.5), Ratio(math.inf)], Name.A: {}, 2.5: [], None: ()}
    assert dumps(value) == reference(value)


@pytest.mark.parametrize("value", [{(1, 2): 3}, {"a": object()}, [b"bytes"], {1j: 0}])
def test_refuses_what_json_refuses(value: object) -> None:
    with pytest.raises(TypeError) as ours:
        dumps(value)
    with pytest.raises(TypeError) as theirs:
        reference(value)
    assert str(ours.value) == str(theirs.value)


def test_a_container_that_holds_itself_is_an_error() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(loop)
    shared = [1, 2]
    assert dumps([shared, shared]) == reference([shared, shared])  # the same list twice is no cycle
