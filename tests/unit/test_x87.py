"""long double (x87 extended precision): bytes to value and back, and gdb's %.21Lg text."""
from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, strategies as st

from hwdbg.arch.sysv_abi import ST0_OFFSET, layout_arguments
from hwdbg.expr import x87
from hwdbg.expr.values import decode_float, encode_float
from hwdbg.session.returns import returned_bytes
from hwdbg.symbols.types import CType, integer_type

LONG_DOUBLE = CType("float", "long double", 16, signed=True)
doubles = st.floats(allow_nan=False, allow_infinity=False)


@given(doubles)
def test_a_double_goes_to_long_double_and_back_exactly(number):
    data = encode_float(number, 16)
    assert len(data) == 16 and data[10:] == bytes(6)
    back = decode_float(data)
    assert back == number and math.copysign(1, back) == math.copysign(1, number)
    assert x87.exact(data) == Fraction(number)
    assert encode_float(back, 16) == data  # a value read keeps its bytes


@given(doubles)
def test_a_double_held_in_a_long_double_prints_as_printf_would(number):
    # %.21Lg of a long double holding a double: that double's exact value to 21 digits, which
    # Python's own correctly rounded formatting gives
    assert x87.text(number) == (f"{number:.21g}" if number else ("-0" if math.copysign(1, number) < 0 else "0"))


@given(st.integers(0, 2**64 - 1), st.integers(1, 0x7FFE), st.booleans())
def test_every_finite_long_double_prints_its_exact_value_rounded_to_21_digits(mantissa, exponent, negative):
    mantissa |= 1 << 63  # a normal number
    raw = mantissa.to_bytes(8, "little") + (exponent | (0x8000 if negative else 0)).to_bytes(2, "little")
    value = x87.LongDouble(raw)
    text = x87.text(value)
    exact = x87.exact(raw)
    assert text.startswith("-") == negative
    shown = Fraction(text)  # exactly: a float would lose the digits checked
    assert abs(shown - exact) <= abs(exact) / 10**20  # 21 significant digits, correctly rounded


def test_known_texts_and_bits():
    third = bytes.fromhex("abaaaaaaaaaaaaaafd3f")  # 1.0L / 3 as gcc stores it
    assert x87.text(x87.LongDouble(third)) == "0.333333333333333333342"  # gdb's print (1.0L/3)
    assert encode_float(1.5, 16)[:10].hex() == "00000000000000c0ff3f"  # integer bit and the half; 2^0
    assert x87.text(float("inf")) == "inf" and x87.text(5e299) == "5.00000000000000026252e+299"  # gdb: print ld_half(1e300)


def test_long_double_arguments_go_on_the_stack_16_byte_aligned_and_come_back_in_st0():
    long = integer_type(8, signed=True)
    args = [(long, (1).to_bytes(8, "little"))] * 7 + [(LONG_DOUBLE, encode_float(2.5, 16))]
    layout = layout_arguments(args)
    assert len(layout.integers) == 6
    assert layout.stack[:8] == (1).to_bytes(8, "little") and layout.stack[8:16] == bytes(8)  # padding
    assert decode_float(layout.stack[16:32]) == 2.5
    fp = bytearray(512)
    fp[ST0_OFFSET:ST0_OFFSET + 10] = encode_float(-0.75, 16)[:10]
    data, address = returned_bytes(LONG_DOUBLE, None, lambda: bytes(fp), None)
    assert address is None and decode_float(data) == -0.75
