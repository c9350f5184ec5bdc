"""``@record``: a dataclass whose ``__repr__``, ``__eq__`` and ``__hash__`` are shared, not compiled per class.

``dataclasses`` writes each method it adds as source and compiles it when the class is made:
about 0.1 ms a method, six for a frozen class, and a start of hwdbg makes some ninety classes
(a third of the start's own work, before any symbol is read). Here ``dataclasses`` compiles only
``__init__`` (and a frozen class's ``__setattr__``/``__delattr__``: the same checks as ever);
the other three are these functions, which do what the generated ones do: the fields' reprs,
equal only to an instance of the same class with equal fields, a frozen instance hashed as the
tuple of its fields, a mutable one unhashable. ``fields``, ``replace`` and ``asdict`` still work.
"""
from __future__ import annotations

import dataclasses
import reprlib
from operator import attrgetter
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T", bound=type)

try:
    from typing import dataclass_transform  # Python 3.11: type checkers see @record as @dataclass
except ImportError:  # Python 3.10 (supported): the same decorator, minus the hint
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorator: decorator


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """obj -> the tuple of those attributes (attrgetter gives a bare value for one name)."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return attrgetter(*names) if names else (lambda obj: ())


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__class__.__record_repr__)
    return f"{self.__class__.__qualname__}({shown})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__class__.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__class__.__record_hash__(self))


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(cls: Optional[T] = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False) -> Any:
    """``@dataclass`` with the same options (``frozen``, ``eq``, ``slots``) and the same behaviour."""

    def wrap(cls: T) -> T:
        own = cls.__dict__
        own_hash = own.get("__hash__", dataclasses.MISSING)
        explicit_hash = not (own_hash is dataclasses.MISSING or (own_hash is None and "__eq__" in own))
        own_repr, own_eq = "__repr__" in own, "__eq__" in own
        made = dataclasses.dataclass(cls, frozen=frozen, eq=False, repr=False, slots=slots)
        fields = dataclasses.fields(made)
        if not own_repr:
            made.__record_repr__ = tuple(f.name for f in fields if f.repr)
            made.__repr__ = _repr
        if eq:
            if not own_eq:
                made.__record_key__ = _getter(tuple(f.name for f in fields if f.compare))
                made.__eq__ = _eq
            if not explicit_hash:  # dataclasses' rule: frozen and eq hash the fields, eq alone is unhashable
                if frozen:
                    made.__record_hash__ = _getter(tuple(
                        f.name for f in fields if (f.compare if f.hash is None else f.hash)))
                    made.__hash__ = _hash
                else:
                    made.__hash__ = None
        return made

    return wrap if cls is None else wrap(cls)
