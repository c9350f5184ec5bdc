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
