"""A small model of C types, filled from DWARF, used by symbols and expressions."""
from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Callable, Optional

from ..recordtype import record


@record(frozen=True)
class Field:
    name: str
    offset: int
    ctype: "CType"
    bit_size: Optional[int] = None
    bit_offset: Optional[int] = None  # from the start of the storage unit at ``offset``


@record(frozen=True)
class CType:
    """kind: 'int', 'bool', 'char', 'float', 'pointer', 'struct', 'union', 'array', 'enum', 'func', 'void'."""

    kind: str
    name: str
    size: int
    signed: bool = False
    target: Optional["CType"] = field(default=None, compare=False)  # pointee / element
    count: Optional[int] = None  # array length, None if unknown
    fields: tuple[Field, ...] = field(default=(), compare=False)
    enumerators: tuple[tuple[str, int], ...] = ()
    typedef_of: Optional["CType"] = field(default=None, compare=False, repr=False)  # what a typedef names
    # A function's parameter types (None: not prototyped); a last None stands for "..."
    params: Optional[tuple[Optional["CType"], ...]] = field(default=None, compare=False, repr=False)

    def field_named(self, name: str) -> Optional[Field]:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def is_scalar(self) -> bool:
        return self.kind in ("int", "bool", "char", "pointer", "enum", "float")


class _Fields:
    """``CType.fields``, which a struct read from DWARF fills when first asked for (reading a
    big program's types member by member, only as far as an expression goes). A typedef of
    such a struct always answers with the struct's fields."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return ()
        state = obj.__dict__
        same = state.get("_fields_of")
        if same is not None:
            return same.fields
        load = state.pop("_load_fields", None)
        if load is not None:
            state["_fields"] = ()  # a member that reaches this struct again sees it empty meanwhile
            state["_fields"] = tuple(load())
        return state.get("_fields", ())

    def __set__(self, obj, value) -> None:
        obj.__dict__["_fields"] = value


CType.fields = _Fields()  # type: ignore[assignment]  # after @dataclass, which took its default ()


class _MemberType:
    """``Field.ctype``, which a member read from DWARF converts when first asked for: finding
    one member of a struct of 80 costs that member's type, not all 80."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        state = obj.__dict__
        load = state.pop("_load_ctype", None)
        if load is not None:
            state["_ctype"] = load()
        return state["_ctype"]

    def __set__(self, obj, value) -> None:
        obj.__dict__["_ctype"] = value


Field.ctype = _MemberType()  # type: ignore[assignment]


def member(name: str, offset: int, load: Callable[[], "CType"]) -> Field:
    """A (not bit-) field whose type ``load()`` gives on first use of ``.ctype``."""
    made = Field(name, offset, None)  # type: ignore[arg-type]
    made.__dict__["_load_ctype"] = load
    return made


def fill_later(ctype: CType, load: Callable[[], tuple]) -> None:
    """Let ``load()`` produce the struct's fields on first use of ``ctype.fields``."""
    ctype.__dict__["_load_fields"] = load


def renamed(ctype: CType, name: str) -> CType:
    """``ctype`` under another name (a typedef), its fields shared rather than copied."""
    if ctype.kind not in ("struct", "union"):
        return dataclasses.replace(ctype, name=name, typedef_of=ctype)
    alias = CType(ctype.kind, name, ctype.size, ctype.signed, ctype.target, ctype.count, (), ctype.enumerators,
                  typedef_of=ctype)
    alias.__dict__["_fields_of"] = ctype.__dict__.get("_fields_of", ctype)
    return alias


def is_complex(ctype: Optional[CType]) -> bool:
    """C's _Complex T: DWARF's complex base type, read as an array of two T named "complex T"."""
    while ctype is not None and ctype.typedef_of is not None:
        ctype = ctype.typedef_of
    return ctype is not None and ctype.kind == "array" and ctype.count == 2 and ctype.name.startswith("complex") \
        and ctype.target is not None and ctype.target.kind == "float"


_GDB_SPELLING = {  # DWARF's names of C's integer types, as gdb shows them
    "long int": "long", "long unsigned int": "unsigned long", "short int": "short",
    "short unsigned int": "unsigned short", "long long int": "long long",
    "long long unsigned int": "unsigned long long", "__int128 unsigned": "unsigned __int128",
}


def base_type_name(name: str) -> str:
    """``long unsigned int`` -> ``unsigned long``: the spelling gdb uses for a base type."""
    return _GDB_SPELLING.get(name, name)


def integer_type(size: int, signed: bool = False) -> CType:
    """The type of a location known only by its size (no DWARF)."""
    names = {1: "char", 2: "short", 4: "int", 8: "long"}
    name = names.get(size, f"uint{size * 8}")
    return CType("int", name if signed else f"unsigned {name}", size, signed=signed)


def type_name(ctype: Optional[CType]) -> str:
    """C spelling of a type; types built without a name (``&x``, casts) are spelled from their parts."""
    if ctype is None:
        return "void"
    if ctype.name:
        return ctype.name
    if ctype.kind == "pointer":
        return pointer_name(ctype.target)
    if ctype.kind == "array":
        return f"{type_name(ctype.target)} [{ctype.count or ''}]"
    return ctype.kind


def pointer_name(target: Optional[CType]) -> str:
    """C spelling of a pointer to ``target``: 'int *', 'int (*)(int)', 'int (*)[8]', 'int (*)[3][4]'."""
    if target is not None and target.kind == "array" and not target.name:  # DWARF names carry every dimension
        return f"{type_name(target.target)} (*)[{target.count or ''}]"
    inner = type_name(target)
    if target is not None and target.kind == "func" and " (" in inner:
        result, _, parameters = inner.partition(" (")  # 'int (void)' -> 'int (*)(void)'
        return f"{result} (*)({parameters}"
    if target is not None and target.kind == "array" and " [" in inner:
        element, _, dimensions = inner.partition(" [")  # 'int [3][4]' -> 'int (*)[3][4]'
        return f"{element} (*)[{dimensions}"
    return f"{inner}*" if inner.endswith("*") else f"{inner} *"
