"""Frozen records: what `dataclasses.dataclass(frozen=True, slots=True)` gives, at a fraction of its cost.

Everything paramscope computes is a frozen record (~180 classes). On Python 3.11 the standard decorator
costs a start-up dearly: `import dataclasses` pulls in `inspect` (with `ast`, `dis`, `tokenize`: ~45 M
instructions, more than a bare interpreter's whole start), and each frozen class compiles six methods
from source text (`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`: ~5 M
instructions a class), so that the 50 classes `paramscope fit` defines cost more than the rest of
its work. Here

- `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`, `__getstate__` and `__setstate__`
  are shared functions that read the class's field names, defined once for all classes;
- `__init__` reads the class's fields for its first instances (`COMPILE_AFTER`), and is then compiled
  from source as the standard library writes it (parameters in field order, defaults,
  `default_factory`, `init=False` fields, `__post_init__`): the few instances most classes make in
  one command cost no compile at all, and a class made by the thousand is as fast as a dataclass.

`field`, `fields`, `replace` and `asdict` are the dataclasses functions of the same names, for
records; type checkers read `@record` as a frozen dataclass (`dataclass_transform`).
tests/test_records.py holds every behaviour equal to the standard decorator's on generated classes.
Not supported, and refused when used: `InitVar`, `KW_ONLY`, `kw_only`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["MISSING", "Field", "FrozenInstanceError", "asdict", "field", "fields", "is_record", "record",
           "replace"]

_T = TypeVar("_T", bound=type)
_R = TypeVar("_R")


class FrozenInstanceError(AttributeError):
    """Assigning to or deleting a field of a frozen record (as dataclasses.FrozenInstanceError)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a record: its name, annotation, default and flags (as dataclasses.Field)."""

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "name", "repr", "type")

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool, compare: bool,
                 hash: bool | None) -> None:
        self.name: str = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare
        self.hash = hash

    def __repr__(self) -> str:
        return (f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r}, "
                f"default_factory={self.default_factory!r}, init={self.init}, repr={self.repr}, "
                f"compare={self.compare}, hash={self.hash})")

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.default_factory is not MISSING


def field(*, default: Any = MISSING, default_factory: Callable[[], Any] | Any = MISSING, init: bool = True,
          repr: bool = True, compare: bool = True, hash: bool | None = None) -> Any:
    """A field's default and flags, as `dataclasses.field` takes them."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, init, repr, compare, hash)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in definition order (base classes' first)."""
    try:
        found: tuple[Field, ...] = obj.__record_fields__
    except AttributeError:
        raise TypeError("must be called with a record type or instance") from None
    return found


def is_record(obj: Any) -> bool:
    return hasattr(obj, "__record_fields__")


def replace(obj: _R, /, **changes: Any) -> _R:
    """A copy of a record with some fields changed, through its `__init__` (as dataclasses.replace)."""
    for f in fields(obj):
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name} is declared with init=False, it cannot be specified with "
                                 "replace()")
            continue
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    made: _R = obj.__class__(**changes)
    return made


def asdict(obj: Any) -> dict[str, Any]:
    """A record as a dict, records inside it too, other values deep-copied (as dataclasses.asdict)."""
    if not is_record(obj) or isinstance(obj, type):
        raise TypeError("asdict() should be called on record instances")
    return {f.name: _asdict_inner(getattr(obj, f.name)) for f in fields(obj)}


def _asdict_inner(value: Any) -> Any:
    if is_record(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple keeps its type
        return type(value)(*[_asdict_inner(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_asdict_inner(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_asdict_inner(k), _asdict_inner(v)) for k, v in value.items())
    import copy  # only here: records otherwise never copy

    return copy.deepcopy(value)


# What each class's shared methods read, set once by `record`.
_EQ = "__record_eq__"  # getter of the compared fields' values (a tuple whatever their number)
_HASH = "__record_hash__"  # getter of the hashed fields' values
_REPR = "__record_repr__"  # names of the fields repr shows
_ALL = "__record_all__"  # names of every field, for pickling and copying


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A C-level getter that always returns a tuple (attrgetter of one name returns the bare value)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
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
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


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
    for f in fields(cls):
        has_default, has_factory = f.default is not MISSING, f.default_factory is not MISSING
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
        slot = _slot(cls, f.name)
        if slot is None:
            body.append(f"  __object_setattr(self, {f.name!r}, {value})")
        else:
            names[f"__set_{f.name}"] = slot.__set__
            body.append(f"  __set_{f.name}(self, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("  self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + ("\n".join(body) or "  pass") + "\n"
    return source, names


_SLOT = type(Field.__dict__["name"])  # what __slots__ makes of each name: a member descriptor


def _slot(cls: type, name: str) -> Any:
    """The slot descriptor object.__setattr__ would store ``name`` through, or None.

    Its own ``__set__`` stores the same value without looking the name up in the class's MRO first:
    half the cost of object.__setattr__ (a Tensor made in 0.6 µs instead of 1.2 µs; DeepSeek-V3's listing
    and inventory make 320k records)."""
    for base in cls.__mro__:
        if name in base.__dict__:
            found = base.__dict__[name]
            return found if type(found) is _SLOT else None
    return None


def _compile_init(cls: type) -> Callable[..., None]:
    source, names = _init_source(cls)
    # the text-to-function step dataclasses takes, once per class; without this module's
    # `from __future__ import annotations`, so that the annotations are the fields' own
    exec(compile(source, f"<record {cls.__qualname__}>", "exec", dont_inherit=True), names)
    init: Callable[..., None] = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


# A class's first instances are built by `_interpreted_init`, which reads its fields; its `__init__` is
# compiled once it has made this many: interpreting costs ~2 µs more an instance, compiling ~0.3 ms a
# class (more for a family row's 40 fields). Most classes make a handful of instances in a command, a
# few (tensors, placements) hundreds, and a DeepSeek-V3 listing 91,991 tensors. 512: of 32 to 4,096,
# where size, fit and inspect together execute the fewest instructions (731 M; 761 M at 128).
COMPILE_AFTER = 512


def _interpreted_init(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """What the compiled `__init__` does, field by field: the same values, the same TypeErrors."""
    cls = self.__class__
    setter = object.__setattr__
    given = len(args)
    taken = 0
    for name, init, default, factory in cls.__record_plan__:
        if not init:
            if factory is not MISSING:
                setter(self, name, factory())
            elif default is not MISSING:
                setter(self, name, default)
            continue
        if taken < given:
            if kwargs and name in kwargs:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument '{name}'")
            setter(self, name, args[taken])
            taken += 1
        elif kwargs and name in kwargs:
            setter(self, name, kwargs[name])
        elif default is not MISSING:
            setter(self, name, default)
        elif factory is not MISSING:
            setter(self, name, factory())
        else:
            raise TypeError(f"{cls.__qualname__}.__init__() missing required argument: '{name}'")
    if taken < given:
        raise TypeError(f"{cls.__qualname__}.__init__() takes {taken + 1} positional arguments but "
                        f"{given + 1} were given")
    if kwargs:
        for name in kwargs:
            if name not in cls.__record_params__:
                raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument '{name}'")
    if hasattr(cls, "__post_init__"):
        self.__post_init__()


def _lazy_init(home: list[type]) -> Callable[..., None]:
    """The `__init__` of the class `home` will hold once it is made (so that the class is made once)."""
    made = 0

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made <= COMPILE_AFTER:
            _interpreted_init(self, args, kwargs)
            return
        cls = home[0]
        real = _compile_init(cls)
        type.__setattr__(cls, "__init__", real)  # from now on, the compiled one
        real(self, *args, **kwargs)

    return __init__


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _own_fields(cls: type) -> dict[str, Field]:
    """The fields of `cls`: its bases' records' first, then those its body annotates, in order."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        if "__record_fields__" in base.__dict__:
            found.update((f.name, f) for f in base.__dict__["__record_fields__"])
    # the body's own annotations, as dataclasses reads them on 3.11 (inspect.get_annotations would import
    # the module whose cost records avoid)
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        if _is_classvar(annotation):
            continue
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if "InitVar" in text or "KW_ONLY" in text:
            raise TypeError(f"{cls.__qualname__}.{name}: InitVar and KW_ONLY need @dataclass, not @record")
        default = cls.__dict__.get(name, MISSING)
        f = default if isinstance(default, Field) else Field(default, MISSING, True, True, True, None)
        if f.default.__class__.__hash__ is None and f.default is not MISSING:  # list, dict, set: as 3.11
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: use "
                             "default_factory")
        f.name, f.type = name, annotation
        found[name] = f
    return found


def _check_order(cls: type, found: dict[str, Field]) -> None:
    """A parameter without a default after one with: the error the stdlib raises at class creation."""
    seen_default = False
    for f in found.values():
        if not f.init:
            continue
        if f.has_default:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")


def _inherited_slots(cls: type) -> set[str]:
    slots: set[str] = set()
    for base in cls.__mro__[1:-1]:
        own = base.__dict__.get("__slots__", ())
        slots.update([own] if isinstance(own, str) else own)
    return slots


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def record(cls: _T) -> _T:
    """A frozen, slotted record of the class's annotated fields (see the module's docstring)."""
    for name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    found = _own_fields(cls)
    _check_order(cls, found)
    own = dict(cls.__dict__)  # what the body defines itself, which the stdlib keeps too
    every = tuple(found.values())
    inherited = _inherited_slots(cls)
    home: list[type] = []
    # everything in the namespace of the one class made (each attribute set on a class afterwards
    # costs a type-cache invalidation)
    namespace = {k: v for k, v in own.items() if k not in found and k not in ("__dict__", "__weakref__")}
    namespace.update({
        "__slots__": tuple(name for name in found if name not in inherited),
        "__record_fields__": every,
        "__match_args__": tuple(f.name for f in every if f.init),
        "__record_params__": frozenset(f.name for f in every if f.init),
        "__record_plan__": tuple((f.name, f.init, f.default, f.default_factory) for f in every),
        "__setattr__": _setattr, "__delattr__": _delattr,
        "__getstate__": _getstate, "__setstate__": _setstate,
        _EQ: _getter(tuple(f.name for f in every if f.compare)),
        _HASH: _getter(tuple(f.name for f in every if (f.compare if f.hash is None else f.hash))),
        _REPR: tuple(f.name for f in every if f.repr),
        _ALL: tuple(f.name for f in every),
    })
    if "__init__" not in own:
        namespace["__init__"] = _lazy_init(home)
    if "__repr__" not in own:
        namespace["__repr__"] = _repr
    if "__eq__" not in own:
        namespace["__eq__"] = _eq
    # the stdlib's rule for a frozen class with eq: keep a __hash__ the body sets (None included),
    # unless that None is the one Python puts there for a body that defines __eq__ alone
    if not ("__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)):
        namespace["__hash__"] = _hash
    made: Any = type(cls)(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    home.append(made)
    result: _T = made
    return result
