"""@record behaves as @dataclass with the same options: repr, equality, hashing, frozenness,
fields/replace/asdict, inheritance; checked side by side on generated classes."""
from __future__ import annotations

import dataclasses
import inspect
from typing import ClassVar, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.recordtype import record

VALUES = st.one_of(st.integers(-3, 3), st.text(max_size=2), st.none(), st.tuples(st.integers(0, 2)))


def _pair(spec, frozen: bool, eq: bool):
    """The same class body made by @dataclass and by @record."""
    made = []
    for decorate in (dataclasses.dataclass(frozen=frozen, eq=eq), record(frozen=frozen, eq=eq)):
        namespace = {"__annotations__": {name: "object" for name, _, _ in spec}}
        for name, compare, shown in spec:
            namespace[name] = dataclasses.field(compare=compare, repr=shown)
        made.append(decorate(type("Point", (), namespace)))
    return made


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=4), st.booleans(), st.booleans(),
       st.lists(VALUES, min_size=8, max_size=8))
def test_record_matches_dataclass(flags, frozen, eq, values):
    spec = [(f"f{i}", compare, shown) for i, (compare, shown) in enumerate(flags)]
    ours_cls, theirs_cls = _pair(spec, frozen, eq)
    n = len(spec)
    a, b = values[:n], values[4:4 + n]
    ours, theirs = ours_cls(*a), theirs_cls(*a)
    ours_b, theirs_b = ours_cls(*b), theirs_cls(*b)
    assert repr(ours) == repr(theirs)
    assert (ours == ours_b) == (theirs == theirs_b)
    assert (ours == ours_cls(*a)) == (theirs == theirs_cls(*a))
    assert (ours == theirs) is False  # another class: never equal
    assert (ours_cls.__hash__ is None) == (theirs_cls.__hash__ is None)
    if ours_cls.__hash__ is not None and eq and frozen:
        assert hash(ours) == hash(theirs)
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(theirs)]
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    if n:
        assert dataclasses.replace(ours, f0=7).f0 == 7
        if frozen:
            with pytest.raises(dataclasses.FrozenInstanceError):
                ours.f0 = 1
            with pytest.raises(dataclasses.FrozenInstanceError):
                del ours.f0
        else:
            ours.f0 = 1
            assert ours.f0 == 1


def test_inheritance_defaults_and_own_methods():
    @record(frozen=True)
    class Base:
        tid: int
        height: ClassVar[int] = 1

    @record(frozen=True)
    class Child(Base):
        info: Optional[int] = None
        extra: list = dataclasses.field(default_factory=list, compare=False)

    @record(eq=False)
    class Identity:
        x: int

        def __repr__(self) -> str:
            return "mine"

    assert repr(Child(1)) == "test_inheritance_defaults_and_own_methods.<locals>.Child(tid=1, info=None, extra=[])"
    assert Child(1, 2, [3]) == Child(1, 2, [4]) and Child(1) != Base(1) and hash(Child(1, 2)) == hash((1, 2))
    assert {Child(1), Child(1)} == {Child(1)}
    assert Child.height == 1 and [f.name for f in dataclasses.fields(Child)] == ["tid", "info", "extra"]
    assert repr(Identity(1)) == "mine" and Identity(1) != Identity(1) and hash(Identity(1)) is not None

    @record(slots=True)
    class Slotted:
        x: int
        y: int = 2

    assert Slotted(1) == Slotted(1, 2) and repr(Slotted(1)).endswith("Slotted(x=1, y=2)") and Slotted.__hash__ is None
    assert not hasattr(Slotted(1), "__dict__")


def test_recursive_repr_is_cut_as_dataclasses_cut_it():
    @record
    class Ours:
        other: object = None

    @dataclasses.dataclass
    class Ours2:  # noqa: N801 (the same qualname shape, to compare the text)
        other: object = None

    a, b = Ours(), Ours2()
    a.other, b.other = a, b
    assert repr(a).replace("Ours(", "X(") == repr(b).replace("Ours2(", "X(")


def _both(body: dict, **options):
    """The same class body (a dict of annotations and defaults) made by @dataclass and by @record."""
    made = []
    for decorate in (dataclasses.dataclass(**options), record(**options)):
        namespace = {key: (dataclasses.field(**value) if key in body["__annotations__"] else value)
                     for key, value in body.items()}
        made.append(decorate(type("Shape", (), namespace)))
    return made


FIELD_KINDS = st.sampled_from(["plain", "default", "factory", "no_init_default", "no_init_factory", "kw_only"])


@settings(max_examples=80, deadline=None)
@given(st.lists(FIELD_KINDS, max_size=5), st.booleans(), st.booleans(), st.booleans(), st.data())
def test_init_matches_dataclass(kinds, frozen, slots, post_init, data):
    """Parameters, defaults, factories, kw_only, init=False and __post_init__ as dataclasses' __init__
    (compiled at the first instantiation here): the same signature, docstring and instances."""
    annotations, body = {}, {}
    for i, kind in enumerate(kinds):
        name = f"f{i}"
        annotations[name] = "object"
        body[name] = {"plain": {}, "default": {"default": i}, "factory": {"default_factory": list},
                      "no_init_default": {"init": False, "default": -i}, "no_init_factory": {"init": False, "default_factory": dict},
                      "kw_only": {"kw_only": True}}[kind]
    body["__annotations__"] = annotations
    if post_init:
        body["__post_init__"] = lambda self: object.__setattr__(self, "seen", True)
    slots = slots and not post_init
    try:
        theirs_cls, ours_cls = _both(body, frozen=frozen, slots=slots)
    except TypeError as error:  # a non-default field after a default one: refused the same way, at once
        assert "follows default argument" in str(error)
        with pytest.raises(TypeError, match=str(error)):
            record(frozen=frozen, slots=slots)(type("Shape", (), {"__annotations__": annotations, **{
                name: dataclasses.field(**spec) for name, spec in body.items() if name in annotations}}))
        return
    assert str(inspect.signature(ours_cls)) == str(inspect.signature(theirs_cls))
    assert ours_cls.__doc__ == theirs_cls.__doc__
    positional = [n for n, k in zip(annotations, kinds) if k == "plain"]
    args = data.draw(st.lists(VALUES, min_size=len(positional), max_size=len(positional)))
    keywords = {n: data.draw(VALUES) for n, k in zip(annotations, kinds) if k == "kw_only"}
    ours, theirs = ours_cls(*args, **keywords), theirs_cls(*args, **keywords)
    assert repr(ours).replace("Shape(", "") == repr(theirs).replace("Shape(", "")
    assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
    assert getattr(ours, "seen", None) == getattr(theirs, "seen", None)
    assert ours_cls(*args, **keywords) == ours  # the compiled __init__ now in place
    assert inspect.isfunction(vars(ours_cls)["__init__"])


def test_frozen_inheritance_as_dataclasses():
    @record(frozen=True)
    class Base:
        a: int

    @record(frozen=True)
    class Child(Base):
        b: int = 2

    class Plain(Child):  # not a record: may set attributes that are not fields
        pass

    p = Plain(1)
    p.other = 3
    assert p.other == 3 and repr(p).endswith("Plain(a=1, b=2)")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'a'"):
        p.a = 5
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'b'"):
        del Child(1).b
    with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen one"):
        record(type("Loose", (Base,), {}))
    with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen one"):
        record(frozen=True)(type("Tight", (record(type("Open", (), {})),), {}))
    with pytest.raises(TypeError, match="Cannot overwrite attribute __setattr__"):
        record(frozen=True)(type("Own", (), {"__setattr__": lambda self, name, value: None}))
    with pytest.raises(TypeError, match="InitVar"):
        record(type("Var", (), {"__annotations__": {"x": dataclasses.InitVar[int]}}))
