"""Frozen records: `dataclasses.dataclass(frozen=True, slots=True)`, at a fraction of its start-up cost.

paramscope describes everything it computes as frozen dataclasses (~170 of them). On Python 3.11 the
standard decorator compiles six methods from source text for each frozen class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`): about 5 M instructions a class, a
third of a bare interpreter's whole start, so that the 50 classes `paramscope fit` defines cost more
than the rest of its import. A `@record` class is a real dataclass (`dataclasses.fields`, `replace`,
`asdict` and `is_dataclass` work, the fields are the standard `Field` objects, and type checkers read
it as a frozen dataclass through `dataclass_transform`), but

- `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`, `__getstate__` and `__setstate__`
  are shared functions that read the class's field names, compiled once for all classes;
- `__init__` is compiled from source, as the standard library does it (positional-or-keyword
  parameters in field order, defaults, `default_factory`, `init=False` fields, `__post_init__`), on
  the class's first instantiation, so that a class a command never instantiates costs no compile.

tests/test_records.py holds every behaviour equal to the standard decorator's on generated classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["record"]

_T = TypeVar("_T", bound=type)

# what each class's shared methods read, set once by `record`
_EQ = "__record_eq__"  # attrgetter of the compared fields (a tuple whatever their number)
_HASH = "__record_hash__"  # attrgetter of the hashed fields
_REPR = "__record_repr__"  # names of the fields repr shows
_ALL = "__record_all__"  # names of every field, for pickling and copying


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A C-level getter that always returns a tuple (attrgetter of one name returns the value)."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    if not names:
        return lambda obj: ()
    return attrgetter(*names)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        get = getattr(self.__class__, _EQ)
        return get(self) == get(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(getattr(self.__class__, _HASH)(self))


def _repr(self: Any) -> str:
    cls = self.__class__
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in getattr(cls, _REPR))
    return f"{cls.__qualname__}({shown})"


def _setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, name) for name in getattr(self.__class__, _ALL)]


def _setstate(self: Any, state: list[Any]) -> None:
    for name, value in zip(getattr(self.__class__, _ALL), state, strict=True):
        object.__setattr__(self, name, value)


class _Factory:
    """The default of a parameter whose field has a default_factory, shown as the stdlib shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _init_source(cls: type) -> tuple[str, dict[str, Any]]:
    """The source of `cls.__init__` and the names it reads, as dataclasses' `_init_fn` writes it."""
    names: dict[str, Any] = {"__object_setattr": object.__setattr__, "__FACTORY": _FACTORY}
    params: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_default:
            names[f"__default_{f.name}"] = f.default
        if has_factory:
            names[f"__factory_{f.name}"] = f.default_factory
        if f.init:
            default = f"=__default_{f.name}" if has_default else "=__FACTORY" if has_factory else ""
            names[f"__type_{f.name}"] = f.type
            params.append(f"{f.name}: __type_{f.name}{default}")
            value = f"__factory_{f.name}() if {f.name} is __FACTORY else {f.name}" if has_factory else f.name
        elif has_factory:
            value = f"__factory_{f.name}()"
        elif has_default:
            value = f"__default_{f.name}"
        else:
            continue  # an init=False field without a default stays unset, as in the stdlib
        body.append(f"  __object_setattr(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + ("\n".join(body) or "  pass") + "\n"
    return source, names


def _compile_init(cls: type) -> Callable[..., None]:
    source, names = _init_source(cls)
    # the same text-to-function step dataclasses takes, once per class; without this module's
    # `from __future__ import annotations`, so that the annotations are the fields' own
    exec(compile(source, f"<record {cls.__qualname__}>", "exec", dont_inherit=True), names)
    init: Callable[..., None] = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _lazy_init(cls: type) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        real = _compile_init(cls)
        type.__setattr__(cls, "__init__", real)  # from now on, the compiled one
        real(self, *args, **kwargs)

    return __init__


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: _T) -> _T:
    """`@dataclass(frozen=True, slots=True)` with shared methods and a lazily compiled `__init__`."""
    if any("InitVar" in str(t) for t in getattr(cls, "__annotations__", {}).values()):
        raise TypeError(f"{cls.__qualname__}: InitVar fields need @dataclass, not @record")
    own = dict(cls.__dict__)  # what the class body defines itself, which the stdlib keeps too
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    made: Any = dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=True)
    fields = dataclasses.fields(made)
    _check_order(made, fields)
    if "__init__" not in own:
        made.__init__ = _lazy_init(made)
    if "__repr__" not in own:
        made.__repr__ = _repr
    if "__eq__" not in own:
        made.__eq__ = _eq
    # the stdlib's rule for a frozen class with eq: keep a __hash__ the body sets (None included),
    # unless that None is the one Python puts there for a body that defines __eq__ alone
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if not explicit_hash:
        made.__hash__ = _hash
    made.__setattr__ = _setattr
    made.__delattr__ = _delattr
    made.__getstate__ = _getstate
    made.__setstate__ = _setstate
    compared = tuple(f.name for f in fields if f.compare)
    hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
    type.__setattr__(made, _EQ, _getter(compared))
    type.__setattr__(made, _HASH, _getter(hashed))
    type.__setattr__(made, _REPR, tuple(f.name for f in fields if f.repr))
    type.__setattr__(made, _ALL, tuple(f.name for f in fields))
    result: _T = made
    return result


def _check_order(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    """A parameter without a default after one with: the error the stdlib raises at class creation."""
    seen_default = False
    for f in fields:
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument in {cls.__qualname__}")
