"""C's arithmetic on values, as gdb computes it: integers wrapped to their type, C division, floating
point at each operand's precision (long double at the x87's), pointers scaled by their pointee."""
from __future__ import annotations

import math
import operator
import struct

from ..errors import UsageError
from ..symbols.types import CType
from . import x87
from .parser import _pointer_to
from .syntax import _COMPARE, MASK64, ULONG, Number
from .values import _RECORDS, INT, Value, float_result, _wrap

LONG_DOUBLE = CType("float", "long double", 16, signed=True)
_X86_NAN = struct.unpack("<d", (0xFFF8 << 48).to_bytes(8, "little"))[0]  # what 0.0/0 gives on x86: -nan


def _pointer_type(value: Value) -> CType | None:
    """The pointer type a value acts as in arithmetic: arrays and functions decay."""
    ctype = value.ctype
    if ctype is None:
        return None
    if ctype.kind == "pointer":
        return ctype
    if ctype.kind == "array":
        return _pointer_to(ctype.target)
    if ctype.kind == "func":
        return _pointer_to(ctype)
    return None


def _pointee(pointer: CType) -> CType:
    target = pointer.target
    return INT if target is None or target.kind == "void" else target


def _stride(pointer: CType) -> int:
    target = pointer.target
    return target.size if target is not None and target.kind not in ("void", "func") and target.size > 0 else 1


def _unsigned64(value: Value) -> bool:
    ctype = value.ctype
    if ctype is None:
        return False
    if _pointer_type(value) is not None:
        return True
    return ctype.kind in ("int", "char", "enum", "bool") and ctype.size >= 8 and not ctype.signed


_NOT_IN_MEMORY = "Attempt to take address of value not located in memory."
_LITERAL_ADDRESS = ("a string literal is not in the program's memory: print, index or measure it "
                    "(sizeof); pass it to a function to have it copied there")


def _no_address(value: Value) -> str:
    """Why a value that is a copy of bytes has no address: a string literal, or a struct that is a copy."""
    records = value.ctype is not None and value.ctype.kind in _RECORDS
    return _NOT_IN_MEMORY if records else _LITERAL_ADDRESS


def _scalar(value: Value, op: str) -> Number:
    ctype = value.ctype
    if ctype is not None and ctype.kind in _RECORDS:
        verb = "compare" if op in _COMPARE else f"apply '{op}' to"
        raise UsageError(f"cannot {verb} a {ctype.kind}")
    if value.data is not None:
        raise UsageError(_LITERAL_ADDRESS)
    return value.value


def _integer(number: Number, op: str) -> int:
    if isinstance(number, float):
        raise UsageError(f"'{op}' needs an integer, not a floating-point value")
    return number


def _integer_result(number: int, unsigned: bool) -> Value:
    return Value(_wrap(number, unsigned), ULONG if unsigned else None)


def _c_divide(a: int, b: int) -> int:
    if b == 0:
        raise UsageError("division by zero")
    quotient = abs(a) // abs(b)
    return -quotient if (a < 0) != (b < 0) else quotient


def _integer_operation(op: str, a: int, b: int) -> int:
    if op == "/":
        return _c_divide(a, b)
    if op == "%":
        return a - b * _c_divide(a, b)
    if op in ("<<", ">>"):
        if not 0 <= b <= 63:
            raise UsageError(f"shift count {b} is out of range 0..63")
        return a << b if op == "<<" else a >> b
    return {"+": operator.add, "-": operator.sub, "*": operator.mul,
            "&": operator.and_, "|": operator.or_, "^": operator.xor}[op](a, b)


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    a, b = _scalar(left, op), _scalar(right, op)
    if isinstance(a, float) or isinstance(b, float):
        if op not in ("+", "-", "*", "/"):
            raise UsageError(f"'{op}' needs integers, not floating-point values")
        wide = _long_double(left, right)
        if op == "/" and b == 0:  # IEEE, as gdb computes it: inf, -inf, or the x86 default NaN
            quotient = math.copysign(math.inf, a) * math.copysign(1, b) if a else _X86_NAN
            return Value(x87.LongDouble(x87.encode(quotient)), wide) if wide is not None else Value(quotient)
        if wide is not None:  # C's conversions: both to long double, computed at its precision
            return Value(x87.arithmetic(op, a, b), wide)
        return float_result({"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op](a, b),
                            left, right)
    return _integer_result(_integer_operation(op, a, b), _unsigned64(left) or _unsigned64(right))


def _long_double(*values: Value) -> CType | None:
    """The long double type of an operand, if one is a long double (None: none is)."""
    for value in values:
        ctype = value.ctype
        if ctype is not None and ctype.kind == "float" and ctype.size > 8:
            return ctype
        if isinstance(value.value, x87.LongDouble):
            return LONG_DOUBLE
    return None


def _pointer_arithmetic(op: str, left: Value, right: Value) -> Value | None:
    """``p + n``, ``n + p``, ``p - n`` scale by the pointee; ``p - q`` counts elements."""
    if left.data is not None or right.data is not None:
        raise UsageError(_no_address(left if left.data is not None else right))
    left_pointer, right_pointer = _pointer_type(left), _pointer_type(right)
    if left_pointer and right_pointer and op == "-":
        return Value(_wrap(_c_divide(left.value - right.value, _stride(left_pointer))))
    if left_pointer and not right_pointer:
        pointer, base, offset, sign = left_pointer, left, right, 1 if op == "+" else -1
    elif right_pointer and not left_pointer and op == "+":
        pointer, base, offset, sign = right_pointer, right, left, 1
    else:
        return None
    count = _integer(_scalar(offset, op), op)
    return Value((base.value + sign * count * _stride(pointer)) & MASK64, pointer)
