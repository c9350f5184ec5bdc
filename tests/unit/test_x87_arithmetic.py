"""long double arithmetic in expressions (hwdbg/expr/x87.py): each of + - * / is the exact
rational result rounded once to the nearest long double (64-bit significand, ties to even), as
the x87 computes at its full precision; checked against Fraction arithmetic and the result's
two neighbours in the format, over every exponent (subnormals and overflow included)."""
from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import assume, given, strategies as st

from hwdbg.expr import x87

BIAS = 16383
LARGEST = (0x7FFF << 63) - 1  # the key of the largest finite long double


def _key(number: x87.LongDouble) -> tuple[int, int]:
    """(sign, k): k orders the non-negative long doubles, one step a neighbour (normal or subnormal)."""
    top = int.from_bytes(number.raw[8:10], "little")
    exponent, mantissa = top & 0x7FFF, int.from_bytes(number.raw[:8], "little")
    return top >> 15, (max(exponent - 1, 0) << 63) + mantissa


def _from_key(sign: int, key: int) -> x87.LongDouble:
    exponent = key >> 63
    mantissa = key - ((exponent - 1) << 63) if exponent else key  # a normal one has its integer bit set
    return x87.LongDouble(mantissa.to_bytes(8, "little") + (sign << 15 | exponent).to_bytes(2, "little"))


long_doubles = st.builds(
    lambda sign, key: _from_key(sign, key), st.integers(0, 1),
    st.one_of(st.integers(0, LARGEST), st.integers(0, 1 << 70),  # anything; tiny ones
              st.integers((BIAS - 80) << 63, (BIAS + 80) << 63)))  # near 1, where results stay finite
operands = st.one_of(long_doubles, st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**64, 2**64))


def _value(number) -> Fraction:
    return x87.exact(number.raw) if isinstance(number, x87.LongDouble) else Fraction(number)


@given(st.sampled_from("+-*/"), long_doubles, operands)
def test_each_operation_is_the_exact_result_rounded_to_the_nearest_long_double(op, a, b):
    exact = {"+": lambda: _value(a) + _value(b), "-": lambda: _value(a) - _value(b),
             "*": lambda: _value(a) * _value(b), "/": lambda: _value(a) / _value(b) if _value(b) else None}[op]()
    assume(exact is not None)
    result = x87.arithmetic(op, a, b)
    sign, key = _key(result)
    got = x87.exact(result.raw)
    if got is None:  # overflow: only past the largest finite one, by more than half its last step
        largest = x87.exact(_from_key(0, LARGEST).raw)
        assert x87.special(result.raw) == ("-inf" if exact < 0 else "inf")
        assert abs(exact) >= largest + (largest - x87.exact(_from_key(0, LARGEST - 1).raw)) / 2
        return
    if exact:
        assert (got < 0) == (exact < 0) or got == 0
    neighbours = [x87.exact(_from_key(sign, k).raw) for k in (max(key - 1, 0), min(key + 1, LARGEST))]
    error = abs(exact - got)
    assert all(error <= abs(exact - n) for n in neighbours), (a, b, op, got, exact)
    if error and error in [abs(exact - n) for n in neighbours if n != got]:
        assert int.from_bytes(result.raw[:8], "little") % 2 == 0  # a tie: the even significand


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**63, 2**64))
def test_doubles_and_64_bit_integers_convert_exactly(number, integer):
    assert x87.nearest(Fraction(number)).raw == x87.encode(number) or number == 0
    assert x87.exact(x87.nearest(Fraction(integer)).raw) == integer


def test_zeros_signs_and_infinities_follow_ieee():
    one, zero = x87.nearest(Fraction(1)), x87.nearest(Fraction(0))
    minus_zero = x87.nearest(Fraction(0), negative_zero=True)
    assert x87.text(x87.arithmetic("*", minus_zero, 3)) == "-0"
    assert x87.text(x87.arithmetic("-", one, one)) == "0"
    assert x87.text(x87.arithmetic("+", minus_zero, minus_zero)) == "-0"
    assert x87.text(x87.arithmetic("-", minus_zero, zero)) == "-0"
    assert x87.text(x87.arithmetic("-", 0, minus_zero)) == "0"  # gdb's negation is 0 - x
    assert x87.special(x87.arithmetic("*", one, math.inf).raw) == "inf"
    assert x87.special(x87.arithmetic("-", math.inf, math.inf).raw).endswith("nan(0xc000000000000000)")
    third = x87.arithmetic("/", one, 3)
    assert x87.text(third) == "0.333333333333333333342"  # gdb's and printf's digits of 1.0L / 3
    assert x87.compare(lambda a, b: a < b, third, 1 / 3) is False  # the double 1/3 is below
