"""``@record``: a dataclass whose methods cost nothing until they are used.

``dataclasses`` writes each method it adds as source and compiles it when the class is made:
about 0.1 ms a method, 0.4 ms for a frozen class without a docstring (whose signature it
computes), and a start of hwdbg makes some ninety classes and instantiates a third of them.
Here ``dataclasses`` only collects the fields: ``__init__`` is
compiled at the class's first instantiation (a class never made costs none), ``__repr__``,
``__eq__`` and ``__hash__`` are shared functions, a frozen class's ``__setattr__``/``__delattr__``
small closures, and the docstring of a class without one is written when it is read. Each does
what the generated one does: the same parameters and defaults, ``default_factory``, ``kw_only``,
``__post_init__``, frozen fields set through ``object.__setattr__``; the fields' reprs; equal
only to an instance of the same class with equal fields; a frozen instance hashed as the tuple
of its fields, a mutable one unhashable; ``FrozenInstanceError`` with the same words.
``fields``, ``replace`` and ``asdict`` still work. ``InitVar`` fields are not supported.
"""
from __future__ import annotations

import dataclasses
import reprlib
from operator import attrgetter
from types import MethodType
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T", bound=type)
_HAS_DEFAULT_FACTORY = dataclasses._HAS_DEFAULT_FACTORY  # the marker dataclasses' own __init__ uses

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


def _init_source(cls: type) -> tuple[str, dict[str, Any]]:
    """The source of the ``__init__`` dataclasses would write for cls, and the names it uses."""
    names: dict[str, Any] = {"__HAS_DEFAULT_FACTORY__": _HAS_DEFAULT_FACTORY, "__setattr__": object.__setattr__}
    frozen = "__record_frozen__" in cls.__dict__
    this = "__dataclass_self__" if "self" in cls.__dataclass_fields__ else "self"
    params, kw_params, body = [], [], []
    for f in dataclasses.fields(cls):
        default, factory = f"__dflt_{f.name}__", f"__factory_{f.name}__"
        if f.init:
            if f.default is not dataclasses.MISSING:
                names[default] = f.default
                param = f"{f.name}={default}"
            elif f.default_factory is not dataclasses.MISSING:
                param = f"{f.name}=__HAS_DEFAULT_FACTORY__"
            else:
                param = f.name
            (kw_params if f.kw_only is True else params).append(param)
        if f.default_factory is not dataclasses.MISSING:
            names[factory] = f.default_factory
            value = f"{factory}() if {f.name} is __HAS_DEFAULT_FACTORY__ else {f.name}" if f.init else f"{factory}()"
        elif f.init:
            value = f.name
        elif "__slots__" in cls.__dict__ and f.default is not dataclasses.MISSING:
            names[default] = f.default  # no class attribute holds a slotted field's default
            value = default
        else:
            continue
        body.append(f"__setattr__({this}, {f.name!r}, {value})" if frozen else f"{this}.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append(f"{this}.__post_init__()")
    signature = ", ".join([this, *params, *(["*", *kw_params] if kw_params else [])])
    return f"def __init__({signature}):\n    " + ("\n    ".join(body) or "pass") + "\n", names


def _compiled_init(cls: type) -> Callable[..., None]:
    """cls's ``__init__``, compiled now and kept on the class."""
    init = cls.__dict__.get("__init__")
    if isinstance(init, _LazyInit):
        source, names = _init_source(cls)
        exec(compile(source, f"<record {cls.__qualname__}>", "exec"), names)
        init = names["__init__"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        init.__module__ = cls.__module__
        init.__annotations__ = {**{f.name: f.type for f in dataclasses.fields(cls) if f.init}, "return": None}
        type.__setattr__(cls, "__init__", init)
    return init


class _LazyInit:
    """A class's ``__init__`` until its first call, which compiles the real one and puts it in place;
    ``inspect.signature`` sees the real one's signature."""

    __record_stub__ = True

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.__qualname__ = f"{cls.__qualname__}.__init__"

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        return self if obj is None else MethodType(self, obj)

    def __call__(self, obj: Any, *args: Any, **kwargs: Any) -> None:
        _compiled_init(self.cls)(obj, *args, **kwargs)

    @property
    def __signature__(self) -> Any:
        import inspect  # only help() and the like ask
        return inspect.signature(_compiled_init(self.cls))


def _check_defaults(cls: type) -> None:
    """dataclasses' check, made when the class is (not at its first instantiation)."""
    seen_default = False
    for f in dataclasses.fields(cls):
        if f.init and f.kw_only is not True:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")


def _frozen_methods(cls: type, names: frozenset[str]) -> None:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (__setattr__, __delattr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        type.__setattr__(cls, method.__name__, method)


def _is_frozen(cls: type) -> bool:
    params = cls.__dict__.get("__dataclass_params__")
    return "__record_frozen__" in cls.__dict__ or (params is not None and params.frozen)


def _check_frozen_bases(cls: type, frozen: bool) -> None:
    """dataclasses' rule: frozen and not frozen do not inherit from each other."""
    bases = [b for b in cls.__mro__[1:] if "__dataclass_fields__" in b.__dict__]
    if bases:
        any_frozen = any(_is_frozen(b) for b in bases)
        if any_frozen and not frozen:
            raise TypeError("cannot inherit non-frozen dataclass from a frozen one")
        if frozen and not any_frozen:
            raise TypeError("cannot inherit frozen dataclass from a non-frozen one")


class _Doc:
    """A class's docstring as dataclasses writes it (name and signature), made when first read."""

    def __get__(self, obj: Any, owner: type) -> str:
        import inspect  # only help() and the like read it
        _compiled_init(owner)
        text = owner.__name__ + str(inspect.signature(owner)).replace(" -> None", "")
        type.__setattr__(owner, "__doc__", text)
        return text


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(cls: Optional[T] = None, /, *, frozen: bool = False, eq: bool = True, slots: bool = False) -> Any:
    """``@dataclass`` with the same options (``frozen``, ``eq``, ``slots``) and the same behaviour."""

    def wrap(cls: T) -> T:
        own = cls.__dict__
        own_hash = own.get("__hash__", dataclasses.MISSING)
        explicit_hash = not (own_hash is dataclasses.MISSING or (own_hash is None and "__eq__" in own))
        own_repr, own_eq, own_init = "__repr__" in own, "__eq__" in own, "__init__" in own
        if frozen and ("__setattr__" in own or "__delattr__" in own):
            name = "__setattr__" if "__setattr__" in own else "__delattr__"
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
        _check_frozen_bases(cls, frozen)
        docless = not own.get("__doc__")
        if docless:
            cls.__doc__ = "(written when read)"  # spares dataclasses' inspect.signature
        made = dataclasses.dataclass(cls, init=False, eq=False, repr=False, slots=slots)
        fields = dataclasses.fields(made)
        if any(getattr(f, "_field_type", None) is getattr(dataclasses, "_FIELD_INITVAR", None)
               for f in made.__dataclass_fields__.values()):
            raise TypeError(f"@record {made.__name__}: InitVar fields are not supported; use @dataclass")
        if frozen:
            made.__record_frozen__ = True
            _frozen_methods(made, frozenset(f.name for f in fields))
        if not own_init:
            _check_defaults(made)
            made.__init__ = _LazyInit(made)
        if docless:
            made.__doc__ = _Doc()
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
