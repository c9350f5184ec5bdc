"""Values of the expression language and how they are read from and written to bytes: the
value and place records, loads from memory, floating-point encodings, C's scalar conversions."""
from __future__ import annotations

import math
import struct
from typing import NamedTuple, Optional, Protocol

from ..errors import TargetError, UsageError
from ..recordtype import record
from ..symbols.types import CType, integer_type, type_name
from . import x87
from .syntax import MASK64, Number, _truncate
from .x87 import LongDouble

INT = integer_type(4, signed=True)
LONG = integer_type(8, signed=True)


class Held(NamedTuple):
    """A variable that is not in memory (a register, a computed value): readable, never addressable."""

    data: bytes  # its bytes, little-endian
    ctype: CType
    why: str  # the error for taking its address (gdb's words)
    register: Optional[int] = None  # the DWARF number of the register holding it: assignable there


class _Memory(Protocol):
    def read_memory(self, addr: int, size: int) -> bytes: ...


@record(frozen=True)
class Value:
    value: Number  # for structs, unions, arrays and functions: their address
    ctype: CType | None = None  # None: a plain integer (or float) without a C type
    address: int | None = None  # set when the value was read from memory
    data: bytes | None = None  # an array outside the program's memory (a string literal): its bytes


class _Place(NamedTuple):
    """A location in memory: what an lvalue names."""

    address: int
    ctype: Optional[CType]
    bits: Optional[tuple[int, int]] = None  # (bit_offset, bit_size) of a bit-field
    held: Optional[Held] = None  # a value outside memory: address is meaningless


_RECORDS = ("struct", "union")  # never usable as numbers
_AGGREGATES = (*_RECORDS, "array", "func")  # values are their address; read only on demand
_SCALARS = ("int", "char", "bool", "enum", "pointer", "float")


def _place(address: int, ctype: CType | None, bits: tuple[int, int] | None = None) -> _Place:
    return _Place(address & MASK64, ctype, bits)


def _wrap(number: int, unsigned: bool = False) -> int:
    return _truncate(number, 64, signed=not unsigned)


def read_exact(memory: _Memory, address: int, size: int) -> bytes:
    data = memory.read_memory(address, size)
    if len(data) != size:
        raise TargetError(f"short read: {len(data)} of {size} bytes at {address:#x}")
    return bytes(data)


def _load_held(held: Held) -> Value:
    ctype = held.ctype
    if ctype.kind in ("struct", "union", "array") and len(held.data) >= ctype.size:
        return Value(0, ctype, data=held.data[:ctype.size])  # a copy: its members are served from it
    if ctype.kind in _AGGREGATES or ctype.kind == "void":
        raise UsageError(f"cannot show a {type_name(ctype)} held in registers or computed by the compiler")
    if ctype.kind == "float":
        return Value(decode_float(held.data[:ctype.size]), ctype)
    raw = int.from_bytes(held.data[:ctype.size], "little")
    return Value(_truncate(raw, 8 * ctype.size, ctype.signed and ctype.kind != "pointer"), ctype)


def _load(memory: _Memory, place: _Place) -> Value:
    if place.held is not None:
        return _load_held(place.held)
    ctype = place.ctype or LONG  # no debug information: read as a signed long
    if ctype.kind in _AGGREGATES:
        return Value(place.address, ctype, place.address)  # read lazily, field by field
    if ctype.kind == "void":
        raise UsageError(f"cannot read a value of type {type_name(ctype)}")  # also DWARF it could not parse
    if place.bits:
        bit_offset, bit_size = place.bits
        raw = int.from_bytes(read_exact(memory, place.address, (bit_offset + bit_size + 7) // 8), "little")
        number: Number = _truncate(raw >> bit_offset, bit_size, ctype.signed)
    elif ctype.kind == "float":
        number = decode_float(read_exact(memory, place.address, ctype.size))
    else:
        raw = int.from_bytes(read_exact(memory, place.address, ctype.size), "little")
        number = _truncate(raw, 8 * ctype.size, ctype.signed and ctype.kind != "pointer")
    return Value(number, place.ctype, place.address)


def decode_float(data: bytes) -> float:
    if len(data) == 4:
        return struct.unpack("<f", data)[0]
    if len(data) == 8:
        return struct.unpack("<d", data)[0]
    if len(data) in (10, 12, 16):  # x87 extended precision, padded: kept exact
        return LongDouble(data)
    raise UsageError(f"cannot read a {len(data)}-byte floating-point value")


def _float32(number: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)


def encode_float(number: float, size: int) -> bytes:
    if size == 4:
        return struct.pack("<f", _float32(number))
    if size == 8:
        return struct.pack("<d", number)
    if size in (10, 12, 16):
        return x87.encode(number).ljust(size, b"\0")
    raise UsageError(f"cannot write a {size}-byte floating-point value")


def convert(value: Value, ctype: CType) -> Value:
    """C's conversion of a scalar to ``ctype``, for casts and assignments."""
    source = value.ctype
    if source is not None and source.kind in _RECORDS:
        raise UsageError(f"cannot convert a {source.kind} to {type_name(ctype)}")
    if ctype.kind not in _SCALARS:
        raise UsageError(f"cannot convert to {type_name(ctype)}")
    number = value.value
    if ctype.kind == "float":
        if ctype.size > 8:  # exact: a long double keeps its bytes, a double and a 64-bit integer fit
            return Value(number if isinstance(number, LongDouble) else x87.nearest(number)
                         if isinstance(number, int) else LongDouble(x87.encode(float(number))), ctype)
        return Value(_float32(float(number)) if ctype.size == 4 else float(number), ctype)
    if isinstance(number, float):
        if ctype.kind == "pointer" or not math.isfinite(number):
            raise UsageError(f"cannot convert {number} to {type_name(ctype)}")
        number = int(number)
    if ctype.kind == "bool":
        return Value(int(number != 0), ctype)
    if ctype.kind == "pointer":
        return Value(number & MASK64, ctype)
    return Value(_truncate(number, 8 * ctype.size, ctype.signed), ctype)


def float_result(number: float, left: Value, right: Value) -> Value:
    """A floating-point result typed as C types it: float when no operand is a double (a float
    and an int make a float), else double (untyped)."""
    kinds = [v.ctype for v in (left, right) if v.ctype is not None and v.ctype.kind == "float"]
    if kinds and all(ctype.size == 4 for ctype in kinds) and \
            all(isinstance(v.value, int) or v.ctype is not None and v.ctype.size == 4 for v in (left, right)):
        return Value(_float32(number), kinds[0])
    return Value(number)


def untyped_type(number: Number) -> CType:
    """The C type of a value that has none: a literal or arithmetic result (int if it fits, as in C)."""
    if isinstance(number, float):
        return CType("float", "double", 8, signed=True)
    return INT if -(1 << 31) <= number < (1 << 31) else LONG


def array_of(element: CType | None, count: int) -> CType:
    element = element or LONG
    return CType("array", "", element.size * count, target=element, count=count)
