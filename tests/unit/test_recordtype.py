"""@record behaves as @dataclass with the same options: repr, equality, hashing, frozenness,
fields/replace/asdict, inheritance; checked side by side on generated classes."""
from __future__ import annotations

import dataclasses
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
