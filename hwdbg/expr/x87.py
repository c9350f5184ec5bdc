"""x86-64's long double: the x87 80-bit extended format (Intel SDM vol. 1, 4.2.2: sign, 15-bit
exponent biased by 16383, 64-bit significand with an explicit integer bit), stored in 10 bytes
padded to 16. Python floats are doubles: a long double read from the process keeps its exact
bytes (LongDouble), so it prints with all its digits, as gdb does (%.21Lg), and goes back to the
process unchanged. Arithmetic with a long double is done as the x87 does it at its 64-bit
precision (and gdb with the host's long double): exactly, in fractions, then rounded to the
nearest long double, ties to even."""
from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from fractions import Fraction

# fractions and decimal are imported where exact arithmetic needs them: they cost every start
# ~2 ms, and a session that never meets a long double never uses them.

BIAS = 16383
INTEGER_BIT = 1 << 63
DIGITS = 21  # gdb's %.21Lg: enough for the 64-bit significand


class LongDouble(float):
    """A float with the exact x87 bytes it was read from (``raw``, 10 bytes)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> "LongDouble":
        self = super().__new__(cls, _approximate(raw[:10]))
        self.raw = bytes(raw[:10])
        return self


def _fields(raw: bytes) -> tuple[int, int, int]:
    top = int.from_bytes(raw[8:10], "little")
    return top >> 15, top & 0x7FFF, int.from_bytes(raw[:8], "little")


def _approximate(raw: bytes) -> float:
    sign, exponent, mantissa = _fields(raw)
    signed = -1.0 if sign else 1.0
    if exponent == 0x7FFF:
        return signed * math.inf if mantissa << 1 & (2**64 - 1) == 0 else math.nan
    try:
        return signed * math.ldexp(mantissa, max(exponent, 1) - BIAS - 63)
    except OverflowError:
        return signed * math.inf


def exact(raw: bytes) -> Optional[Fraction]:
    """The value of finite x87 bytes, exactly (None for inf and nan)."""
    from fractions import Fraction
    sign, exponent, mantissa = _fields(raw)
    if exponent == 0x7FFF:
        return None
    value = Fraction(mantissa) * Fraction(2) ** (max(exponent, 1) - BIAS - 63)
    return -value if sign else value


def encode(number: float) -> bytes:
    """10 bytes of x87 extended precision: a LongDouble's own, or a double's (exact: 53 bits fit in 64)."""
    if isinstance(number, LongDouble):
        return number.raw
    sign = 0x8000 if math.copysign(1.0, number) < 0 else 0
    if math.isnan(number):
        return (0xC000_0000_0000_0000).to_bytes(8, "little") + (sign | 0x7FFF).to_bytes(2, "little")
    if math.isinf(number):
        return INTEGER_BIT.to_bytes(8, "little") + (sign | 0x7FFF).to_bytes(2, "little")
    if number == 0:
        return bytes(8) + sign.to_bytes(2, "little")
    fraction, power = math.frexp(abs(number))  # 0.5 <= fraction < 1: the integer bit is bit 63
    return int(fraction * 2**64).to_bytes(8, "little") + (sign | (power - 1 + BIAS)).to_bytes(2, "little")


def text(number: float) -> str:
    """As C's printf("%.21Lg") writes it (gdb's long double format)."""
    from decimal import ROUND_HALF_EVEN, Context, Decimal
    from fractions import Fraction
    value = exact(number.raw) if isinstance(number, LongDouble) else (
        Fraction(number) if math.isfinite(number) else None)
    if value is None:
        return f"{number}"  # inf, -inf, nan: the caller spells those
    negative = value < 0 or (value == 0 and math.copysign(1.0, number) < 0)
    if value == 0:
        return "-0" if negative else "0"
    context = Context(prec=DIGITS, rounding=ROUND_HALF_EVEN)
    rounded = context.divide(Decimal(abs(value.numerator)), Decimal(value.denominator)) if value.denominator != 1 \
        else context.plus(Decimal(abs(value.numerator)))
    digits, exponent = rounded.as_tuple().digits, rounded.adjusted()
    significant = "".join(map(str, digits)).ljust(DIGITS, "0")
    if -4 <= exponent < DIGITS:  # %g: fixed notation, trailing zeros dropped
        if exponent >= 0:
            whole, tail = significant[:exponent + 1], significant[exponent + 1:]
        else:
            whole, tail = "0", "0" * (-exponent - 1) + significant
        tail = tail.rstrip("0")
        body = whole + ("." + tail if tail else "")
    else:
        tail = significant[1:].rstrip("0")
        body = significant[0] + ("." + tail if tail else "") + f"e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return ("-" if negative else "") + body


_OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _of(number: float) -> Optional[Fraction]:
    """The exact value of a long double, double or integer (None for inf and nan)."""
    from fractions import Fraction
    if isinstance(number, LongDouble):
        return exact(number.raw)
    if isinstance(number, float):
        return Fraction(number) if math.isfinite(number) else None
    return Fraction(number)


def nearest(value: Fraction | int, negative_zero: bool = False) -> LongDouble:
    """The long double nearest ``value`` (ties to even; subnormals; past the largest: inf)."""
    from fractions import Fraction
    sign = 0x8000 if value < 0 or (value == 0 and negative_zero) else 0
    value = abs(value)
    if value == 0:
        return LongDouble(bytes(8) + sign.to_bytes(2, "little"))
    power = value.numerator.bit_length() - value.denominator.bit_length() - 1  # 2**power < value < 2**(power+2)
    if value >= Fraction(2) ** (power + 1):
        power += 1
    power = max(power, 1 - BIAS)  # below the smallest normal: subnormal, the exponent field 0
    mantissa = round(value * Fraction(2) ** (63 - power))  # Fraction rounds half to even
    if mantissa >> 64:  # rounded up to the next power of two
        mantissa, power = mantissa >> 1, power + 1
    biased = power + BIAS if mantissa & INTEGER_BIT else 0
    if biased >= 0x7FFF:
        return LongDouble(INTEGER_BIT.to_bytes(8, "little") + (sign | 0x7FFF).to_bytes(2, "little"))
    return LongDouble(mantissa.to_bytes(8, "little") + (sign | biased).to_bytes(2, "little"))


def _negative(number: float) -> bool:
    if isinstance(number, LongDouble):
        return bool(number.raw[9] & 0x80)
    return math.copysign(1.0, number) < 0


def arithmetic(op: str, a: float, b: float) -> LongDouble:
    """``a op b`` (+ - * /, not a division by zero) in long double: exact, then rounded once.
    With inf or nan it follows IEEE as a double does (the result is exact in both formats)."""
    x, y = _of(a), _of(b)
    if x is None or y is None:
        return LongDouble(encode(_OPERATIONS[op](float(a), float(b))))
    value = _OPERATIONS[op](x, y)
    if value != 0:
        return nearest(value)
    if op in ("*", "/"):
        return nearest(value, negative_zero=_negative(a) != _negative(b))
    # a sum of zero is -0 only when both terms are -0 (rounding to nearest)
    return nearest(value, negative_zero=x == 0 and _negative(a) and _negative(b) != (op == "-"))


def compare(op: Callable[[object, object], bool], a: float, b: float) -> bool:
    """A comparison with a long double: exact (its double approximation may tie with a neighbour)."""
    x, y = _of(a), _of(b)
    return op(x, y) if x is not None and y is not None else op(float(a), float(b))


def special(raw: bytes) -> Optional[str]:
    """gdb's spelling of x87 bytes that are not a finite number: inf, -inf, -nan(0xc000000000000000)."""
    sign, exponent, mantissa = _fields(raw)
    if exponent != 0x7FFF:
        return None
    if mantissa << 1 & (2**64 - 1) == 0:
        return "-inf" if sign else "inf"
    return f"{'-' if sign else ''}nan({mantissa:#x})"
