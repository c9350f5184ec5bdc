"""A small model of C types, filled from DWARF, used by symbols and expressions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    ctype: "CType"
    bit_size: Optional[int] = None
    bit_offset: Optional[int] = None  # from the start of the storage unit at ``offset``


@dataclass(frozen=True)
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

    def field_named(self, name: str) -> Optional[Field]:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def is_scalar(self) -> bool:
        return self.kind in ("int", "bool", "char", "pointer", "enum", "float")


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
