"""printf's conversions against the C library's own snprintf, and its argument splitting."""
from __future__ import annotations

import ctypes
import ctypes.util

from hypothesis import given, settings, strategies as st

from hwdbg import expr
from hwdbg.symbols.types import CType
from hwdbg.ui.commands.printf import _SPEC, _convert, split_arguments

libc = ctypes.CDLL(ctypes.util.find_library("c"))
INT = CType("int", "int", 4, signed=True)
LONG = CType("int", "long", 8, signed=True)
DOUBLE = CType("float", "double", 8, signed=True)


def c_printf(fmt: str, *args) -> str:
    buf = ctypes.create_string_buffer(512)
    libc.snprintf(buf, 512, fmt.encode(), *args)
    return buf.value.decode("latin-1")


flags = st.text(alphabet="-+ #0", max_size=3)
widths = st.one_of(st.just(""), st.integers(0, 20).map(str))
precisions = st.one_of(st.none(), st.integers(0, 12).map(str))


@settings(max_examples=400, deadline=None)
@given(flags, widths, precisions, st.sampled_from(["", "l", "ll", "z"]), st.sampled_from("diouxXc"),
       st.integers(-(1 << 63), (1 << 63) - 1))
def test_integer_conversions_are_cs(flag, width, precision, size, conversion, number):
    if conversion == "c":
        if size or precision is not None:
            return  # C leaves these undefined; gdb refuses %lc
        flag = flag.replace("#", "").replace("+", "").replace(" ", "").replace("0", "")
    spec = f"%{flag}{width}" + (f".{precision}" if precision is not None else "") + size + conversion
    [match] = list(_SPEC.finditer(spec))
    value = expr.Value(number, LONG if size else INT)
    argument = ctypes.c_longlong(number) if size else ctypes.c_int(ctypes.c_int(number).value)
    if conversion == "c":
        argument = ctypes.c_int(number & 0xFF or 1)
        value = expr.Value(number & 0xFF or 1, INT)
    assert _convert(None, value, *match.groups()) == c_printf(spec, argument)


@settings(max_examples=300, deadline=None)
@given(flags, widths, precisions, st.sampled_from("eEfFgG"),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_floating_conversions_are_cs(flag, width, precision, conversion, number):
    spec = f"%{flag}{width}" + (f".{precision}" if precision is not None else "") + conversion
    [match] = list(_SPEC.finditer(spec))
    assert _convert(None, expr.Value(number, DOUBLE), *match.groups()) == c_printf(spec, ctypes.c_double(number))


def test_arguments_split_at_top_level_commas_only():
    assert split_arguments('a, f(b, c), "x,y", s[1,2]') == ["a", "f(b, c)", '"x,y"', "s[1,2]"]
    assert split_arguments("','") == ["','"]
