"""hwdbg.expr.printer: the integer formats of print/F and x/F, C literals, C type names."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.errors import TargetError, UsageError
from hwdbg.expr import (
    INTEGER_FORMATS, Value, char_literal, format_integer, format_scalar, parse, read_c_string, string_literal,
)
from hwdbg.symbols.types import CType, pointer_name, type_name

INT = CType("int", "int", 4, signed=True)
CHAR = CType("char", "char", 1, signed=True)
DOUBLE = CType("float", "double", 8, signed=True)
FLOAT = CType("float", "float", 4, signed=True)
POINT = CType("struct", "struct point", 8)
SIZES = st.sampled_from((1, 2, 4, 8))


def label(address: int) -> str:
    return "<bump>" if address == 0x401166 else ""


# --- format_integer ----------------------------------------------------------

@pytest.mark.parametrize("number, fmt, size, full_width, text", [
    (255, "x", 1, False, "0xff"),
    (5, "x", 4, False, "0x5"),
    (5, "x", 4, True, "0x00000005"),
    (5, "z", 4, False, "0x00000005"),
    (-1, "x", 2, False, "0xffff"),
    (0xFF, "d", 1, False, "-1"),
    (0xFF, "u", 1, False, "255"),
    (-1, "u", 8, False, "18446744073709551615"),
    (8, "o", 4, False, "010"),
    (0, "o", 4, True, "0"),
    (5, "t", 1, False, "101"),
    (5, "t", 1, True, "00000101"),
    (0, "t", 2, False, "0"),
    (65, "c", 1, False, "65 'A'"),
    (200, "c", 1, True, "-56 '\\310'"),
    (0x141, "c", 4, False, "65 'A'"),
    (0x401166, "a", 8, False, "0x401166 <bump>"),
    (0x10, "a", 8, True, "0x10"),
])
def test_format_integer(number, fmt, size, full_width, text):
    assert format_integer(number, fmt, size, full_width=full_width, symbol=label) == text


def test_format_integer_without_symbols_shows_the_bare_address():
    assert format_integer(0x401166, "a", 8) == "0x401166"


def test_format_integer_refuses_an_unknown_letter():
    with pytest.raises(UsageError, match="unknown format /q"):
        format_integer(1, "q", 4)


def test_format_scalar_uses_the_width_of_the_type():
    assert format_scalar(Value(-1, INT), "x") == "0xffffffff"
    assert format_scalar(Value(-1), "x") == "0xffffffff"  # an untyped number is an int, as in gdb
    assert format_scalar(Value(-(1 << 40)), "x") == "0xffffff0000000000"  # or a long when it needs one
    assert format_scalar(Value(-1, INT), "z") == "0xffffffff"
    assert format_scalar(Value(0x401166), "a", label) == "0x401166 <bump>"


def test_format_scalar_on_floats_and_aggregates():
    # gdb formats the bits of a floating-point value (print/x 2.75 -> 0x4006000000000000)
    assert format_scalar(Value(2.75, DOUBLE), "x") == "0x4006000000000000"
    assert format_scalar(Value(2.75, DOUBLE), "d") == str(0x4006000000000000)
    assert format_scalar(Value(1.5, FLOAT), "x") == "0x3fc00000"
    assert format_scalar(Value(float("inf")), "d") == "9218868437227405312"  # print/d 1.0/0
    with pytest.raises(UsageError, match="/d formats numbers; this value is a struct"):
        format_scalar(Value(0x1000, POINT), "d")


@given(number=st.integers(-(1 << 64), 1 << 65), size=SIZES)
def test_format_integer_reads_back(number, size):
    bits = 8 * size
    unsigned = number % (1 << bits)
    signed = unsigned - (1 << bits) if unsigned >> (bits - 1) else unsigned
    assert int(format_integer(number, "d", size)) == signed
    assert int(format_integer(number, "u", size)) == unsigned
    assert int(format_integer(number, "o", size), 8) == unsigned
    for fmt in "xz":
        assert int(format_integer(number, fmt, size), 16) == unsigned
    assert int(format_integer(number, "t", size), 2) == unsigned
    assert len(format_integer(number, "z", size)) == 2 + 2 * size
    assert len(format_integer(number, "t", size, full_width=True)) == bits
    byte = unsigned & 0xFF
    assert int(format_integer(number, "c", size).split(" ")[0]) == (byte - 256 if byte > 127 else byte)


@given(number=st.integers(0, (1 << 64) - 1), size=SIZES, fmt=st.sampled_from(INTEGER_FORMATS))
def test_print_and_x_differ_only_in_padding(number, size, fmt):
    """x/F pads x and t to the unit; every other letter reads the same in print/F and x/F."""
    short = format_integer(number, fmt, size, symbol=label)
    wide = format_integer(number, fmt, size, full_width=True, symbol=label)
    if fmt in "xt":
        base = 16 if fmt == "x" else 2
        assert int(short, base) == int(wide, base)
        assert len(wide) >= len(short)
    else:
        assert short == wide


# --- C literals --------------------------------------------------------------

@pytest.mark.parametrize("byte, text", [
    (65, "'A'"), (0, "'\\000'"), (10, "'\\n'"), (39, "'\\''"), (34, "'\"'"), (92, "'\\\\'"), (127, "'\\177'"),
    (255, "'\\377'"), (0x141, "'A'"),
])
def test_char_literal(byte, text):
    assert char_literal(byte) == text


@given(st.integers(0, 255))
def test_char_literal_parses_back_to_its_byte(byte):
    assert parse(char_literal(byte)).value & 0xFF == byte


def test_string_literal_folds_long_runs_unless_told_not_to():
    assert string_literal(b"say \"hi\"\n") == '"say \\"hi\\"\\n"'
    assert string_literal(b"it's") == '"it\'s"'
    assert string_literal(b"") == '""'
    assert string_literal(b"ab" + b"x" * 11 + b"\0") == "\"ab\", 'x' <repeats 11 times>, \"\\000\""
    assert string_literal(b"x" * 10) == '"' + "x" * 10 + '"'
    assert string_literal(b"x" * 11, repeats=None) == '"' + "x" * 11 + '"'


class Pages:
    """Memory mapped from ``start`` for ``len(data)`` bytes; anything else is unreadable."""

    def __init__(self, start: int, data: bytes) -> None:
        self.start, self.data = start, data
        self.reads: list[tuple[int, int]] = []

    def read_memory(self, addr: int, size: int) -> bytes:
        self.reads.append((addr, size))
        offset = addr - self.start
        if offset < 0 or offset + size > len(self.data):
            raise TargetError(f"cannot read {size} bytes at {addr:#x}")
        return self.data[offset:offset + size]


def test_read_c_string_stops_at_the_nul_and_never_reads_across_a_page():
    memory = Pages(0x1000, b"x" * 4090 + b"end\0zz")  # one page, nothing after it
    assert read_c_string(memory, 0x1000 + 4090, 4096) == b"end"
    assert read_c_string(memory, 0x1000, 4096) == b"x" * 4090 + b"end"
    assert all(addr // 4096 == (addr + size - 1) // 4096 for addr, size in memory.reads)


def test_read_c_string_limit_and_unreadable_memory():
    memory = Pages(0x1000, b"y" * 4096)
    assert read_c_string(memory, 0x1000, 200) == b"y" * 200
    with pytest.raises(TargetError):
        read_c_string(memory, 0x1000, 5000)  # no NUL before the unmapped page


# --- type names --------------------------------------------------------------

def pointer(target: CType | None) -> CType:
    return CType("pointer", "", 8, target=target)


def test_pointer_names():
    assert type_name(pointer(INT)) == "int *"
    assert type_name(pointer(pointer(CHAR))) == "char **"
    assert type_name(pointer(None)) == "void *"
    assert type_name(pointer(CType("func", "int (void)", 1))) == "int (*)(void)"
    assert type_name(pointer(CType("array", "", 32, target=INT, count=8))) == "int (*)[8]"
    assert type_name(pointer(CType("array", "", 0, target=INT))) == "int (*)[]"
    row = CType("array", "int [4]", 16, target=INT, count=4)
    assert pointer_name(CType("array", "int [3][4]", 48, target=row, count=3)) == "int (*)[3][4]"
    assert pointer_name(CType("pointer", "char *", 8, target=CHAR)) == "char **"
    assert type_name(None) == "void"
    assert type_name(CType("array", "", 12, target=INT, count=3)) == "int [3]"
