"""`paramscope.records.record` behaves as `dataclasses.dataclass(frozen=True, slots=True)`.

Generated class definitions (fields with and without defaults, default factories, init=False,
repr=False, compare=False, explicit hash flags, a __post_init__) are made twice, once with each
decorator, and every observable behaviour is compared: the constructor's accepted and refused
arguments, the fields, repr, ==, hash, frozenness, replace, asdict, copy and pickle.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paramscope import records
from paramscope.records import record

_made = 0


def _spec():
    field = st.fixed_dictionaries({
        "default": st.sampled_from(["none", "value", "factory"]),
        "init": st.booleans(),
        "repr": st.booleans(),
        "compare": st.booleans(),
        "hash": st.sampled_from([None, True, False]),
    })
    return st.tuples(st.lists(field, min_size=0, max_size=6), st.booleans())


def _source(fields: list[dict[str, Any]], post_init: bool, decorator: str, name: str) -> str:
    lines = [f"@{decorator}", f"class {name}:"]
    for i, f in enumerate(fields):
        args = [f"init={f['init']}", f"repr={f['repr']}", f"compare={f['compare']}", f"hash={f['hash']}"]
        if f["default"] == "value":
            args.append(f"default={i * 10}")
        elif f["default"] == "factory":
            args.append("default_factory=list")
        lines.append(f"    f{i}: int = field({', '.join(args)})")
    if post_init:
        lines += ["    def __post_init__(self):",
                  "        if getattr(self, 'f0', None) == -3:",
                  "            raise ValueError('minus three')"]
    if not fields and not post_init:
        lines.append("    pass")
    return "\n".join(lines) + "\n"


def _make(fields, post_init, decorator):
    global _made
    _made += 1
    name = f"Generated{_made}"
    field = records.field if decorator == "record" else dataclasses.field
    ns: dict[str, Any] = {"dataclasses": dataclasses, "record": record, "field": field, "__name__": __name__}
    source = _source(fields, post_init, decorator, name)
    try:
        exec(source, ns)
    except TypeError as e:
        return type(e), str(e)
    cls = ns[name]
    setattr(sys.modules[__name__], name, cls)  # so that pickle finds it
    return cls


def _outcome(call):
    try:
        return "ok", call()
    except Exception as e:
        return "raised", type(e)


@given(_spec(), st.data(), st.sampled_from(["interpreted", "compiled"]))
def test_every_behaviour_equals_the_stdlib_decorator(spec, data, init):
    """Both ways a record's `__init__` runs: reading the fields (a class's first instances), and compiled."""
    saved = records.COMPILE_AFTER
    records.COMPILE_AFTER = 10**9 if init == "interpreted" else 0
    try:
        _compare(*spec, data, init)
    finally:
        records.COMPILE_AFTER = saved


def _compare(fields, post_init, data, init):
    ours = _make(fields, post_init, "record")
    theirs = _make(fields, post_init, "dataclasses.dataclass(frozen=True, slots=True)")
    if isinstance(theirs, tuple) or isinstance(ours, tuple):  # a definition the stdlib refuses
        assert isinstance(ours, tuple) and isinstance(theirs, tuple), (ours, theirs)
        assert ours[0] is theirs[0]
        return
    assert [(f.name, f.init, f.repr, f.compare, f.hash) for f in records.fields(ours)] == [
        (f.name, f.init, f.repr, f.compare, f.hash) for f in dataclasses.fields(theirs)]
    assert ours.__match_args__ == theirs.__match_args__
    assert ours.__slots__ == theirs.__slots__
    init_names = [f"f{i}" for i, f in enumerate(fields) if f["init"]]
    # calls the constructor accepts and refuses: positional, keyword, too many, unknown, missing
    args = data.draw(st.lists(st.integers(-3, 3), max_size=len(init_names) + 1))
    kwargs = data.draw(st.dictionaries(st.sampled_from([*init_names, "nope"]), st.integers(-3, 3),
                                       max_size=3))
    a = _outcome(lambda: ours(*args, **kwargs))
    b = _outcome(lambda: theirs(*args, **kwargs))
    assert a[0] == b[0], (a, b, args, kwargs)
    if a[0] == "raised":
        assert a[1] is b[1]
        return
    x, y = a[1], b[1]

    def same(op):
        """The operation gives the same result on both, or the same exception (an unset init=False
        field, an unhashable list default); `lib` is the module of fields/replace/asdict for each."""
        ox = _outcome(lambda: op(x, ours, records))
        oy = _outcome(lambda: op(y, theirs, dataclasses))
        assert ox == oy, (ox, oy)

    same(lambda o, c, lib: repr(o).replace(c.__qualname__, "C"))
    same(lambda o, c, lib: lib.asdict(o))
    same(lambda o, c, lib: hash(o))
    same(lambda o, c, lib: o == c(*args, **kwargs))
    same(lambda o, c, lib: o.__eq__(object()))
    same(lambda o, c, lib: repr(copy.copy(o)).replace(c.__qualname__, "C"))
    same(lambda o, c, lib: copy.deepcopy(o) == o)
    same(lambda o, c, lib: pickle.loads(pickle.dumps(o)) == o)
    same(lambda o, c, lib: [f.name for f in lib.fields(o)])
    for name in [f"f{i}" for i in range(len(fields))]:  # init=False fields refused, as the stdlib does
        same(lambda o, c, lib, name=name: lib.asdict(lib.replace(o, **{name: 99})))
    same(lambda o, c, lib: lib.asdict(lib.replace(o)))
    assert x != y  # different classes never compare equal, as in the stdlib
    for target in [x, y]:
        for attr in ["f0", "other"]:
            # the stdlib's frozen slotted class fails on a name that is no field with a TypeError of its
            # own `super()` (CPython gh-90562, fixed in 3.12); ours says FrozenInstanceError throughout
            frozen = records.FrozenInstanceError if target is x else dataclasses.FrozenInstanceError
            refused = frozen if target is x or (attr == "f0" and fields) else Exception
            with pytest.raises(refused):
                setattr(target, attr, 1)
            with pytest.raises(refused):
                delattr(target, attr)
    if init == "compiled":
        assert str(inspect.signature(ours)) == str(inspect.signature(theirs))


def test_a_compared_field_differs_and_equality_follows():
    @record
    class P:
        a: int
        b: list[int] = records.field(default_factory=list, compare=False)

    assert P(1, [1]) == P(1, [2]) and P(1) != P(2)
    assert P(1).b is not P(1).b  # a fresh default per instance
    assert hash(P(1, [1])) == hash(P(1, [2]))


def test_body_methods_are_kept_and_frozen_methods_refused():
    @record
    class Q:
        a: int

        def __repr__(self) -> str:
            return "mine"

    assert repr(Q(1)) == "mine"
    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
        @record
        class R:
            a: int

            def __setattr__(self, name: str, value: object) -> None:
                pass


def test_records_nest_and_inherit():
    @record
    class Base:
        a: int
        b: int = 2

    @record
    class Child(Base):
        c: int = 3

    assert Child(1) == Child(1, 2, 3)
    assert repr(Child(1)) == "test_records_nest_and_inherit.<locals>.Child(a=1, b=2, c=3)"
    assert [f.name for f in records.fields(Child)] == ["a", "b", "c"]
    assert Child.__slots__ == ("c",) and Base.__slots__ == ("a", "b")


def test_class_variables_and_mutable_defaults_as_the_stdlib():
    from typing import ClassVar

    @record
    class K:
        limit: ClassVar[int] = 3
        a: int = 1

    assert [f.name for f in records.fields(K)] == ["a"] and K.limit == 3 and K() == K(1)
    for decorate, field in [(record, records.field), (dataclasses.dataclass(frozen=True, slots=True),
                                                      dataclasses.field)]:
        with pytest.raises(ValueError, match="mutable default"):
            decorate(type("M", (), {"__annotations__": {"a": "list[int]"}, "a": []}))
        with pytest.raises(ValueError, match="cannot specify both"):
            field(default=1, default_factory=list)
    with pytest.raises(TypeError, match="InitVar"):
        record(type("I", (), {"__annotations__": {"a": "InitVar[int]"}}))


def test_no_dataclasses_module_is_imported():
    """The point of records: `inspect` and its imports stay out of a command's start-up."""
    import subprocess

    code = ("import sys, paramscope.model, paramscope.app.size; "
            "print(sorted(m for m in ('dataclasses', 'inspect', 'ast', 'dis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_init_is_compiled_after_the_first_instances(monkeypatch):
    monkeypatch.setattr(records, "COMPILE_AFTER", 2)

    @record
    class T:
        a: int
        b: tuple[int, ...] = records.field(default_factory=tuple)

    lazy = T.__init__
    made = [T(1), T(1, ()), T(a=1)]  # two read the fields, the third compiles
    assert T.__init__ is not lazy and T.__init__.__qualname__.endswith("T.__init__")
    assert made[0] == made[1] == made[2] == T(1)
    assert str(inspect.signature(T)) == "(a: 'int', b: 'tuple[int, ...]' = <factory>) -> None"
