"""The SysV x86-64 argument layout of inferior calls (hwdbg/arch/sysv_abi.py), against the psABI's
rules: registers in order, then the stack; an argument that does not fit goes whole on the stack
and later ones still take the registers left; the stack below the red zone, aligned."""
from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch.sysv_abi import (
    ARGUMENT_REGISTERS, COMPLEX_X87, INTEGER, MEMORY, RED_ZONE, SSE, X87, X87UP, call_frame, classify,
    layout_arguments,
)
from hwdbg.symbols.types import CType, Field

LONG = CType("int", "long", 8, signed=True)
INT = CType("int", "int", 4, signed=True)
DOUBLE = CType("float", "double", 8, signed=True)
FLOAT = CType("float", "float", 4, signed=True)
PAIR = CType("struct", "struct pair", 8, fields=(Field("a", 0, INT), Field("b", 4, INT)))
WIDE = CType("struct", "struct wide", 16, fields=(Field("x", 0, LONG), Field("y", 8, LONG)))
MIXED = CType("struct", "struct mixed", 16, fields=(Field("d", 0, DOUBLE), Field("n", 8, LONG)))
BIG = CType("struct", "struct big", 24, fields=(Field("a", 0, LONG), Field("b", 8, LONG), Field("c", 16, LONG)))


LDOUBLE = CType("float", "long double", 16, signed=True)


def _record(kind, size, *members):
    return CType(kind, f"{kind} t", size, fields=tuple(Field(f"m{i}", offset, ctype)
                                                       for i, (offset, ctype) in enumerate(members)))


def _complex(part):
    return CType("array", f"complex {part.name}", 2 * part.size, target=part, count=2)


def test_classes_of_argument_types():
    assert classify(PAIR) == [INTEGER]
    assert classify(MIXED) == [SSE, INTEGER]
    assert classify(BIG) == [MEMORY]
    assert classify(FLOAT) == [SSE]


def test_classes_merged_by_the_psabi_rules():
    assert classify(_record("struct", 8, (0, FLOAT), (4, FLOAT))) == [SSE]  # two floats share xmm0
    assert classify(_record("struct", 16, (0, INT), (4, FLOAT), (8, DOUBLE))) == [INTEGER, SSE]
    assert classify(_record("struct", 16, (0, FLOAT), (8, LONG))) == [SSE, INTEGER]
    assert classify(_record("struct", 16, (0, LDOUBLE))) == [X87, X87UP]  # returned in st(0)
    assert classify(_record("struct", 32, (0, LDOUBLE), (16, INT))) == [MEMORY]
    # a long double's first eightbyte shared with an int: INTEGER, then an X87UP without X87
    assert classify(_record("union", 16, (0, LDOUBLE), (0, INT))) == [MEMORY]
    assert classify(_record("union", 8, (0, DOUBLE), (0, INT))) == [INTEGER]
    assert classify(_complex(DOUBLE)) == [SSE, SSE]  # xmm0 and xmm1
    assert classify(_complex(FLOAT)) == [SSE]
    assert classify(_complex(LDOUBLE)) == [COMPLEX_X87]  # st(0) and st(1)
    assert classify(LDOUBLE) == [X87, X87UP]


def test_long_double_arguments_go_on_the_stack_16_byte_aligned():
    ldi = _record("struct", 32, (0, LDOUBLE), (16, INT))
    layout = layout_arguments([(LONG, bytes(8))] * 6 + [(LONG, b"\x07" + bytes(7)), (ldi, b"\x01" * 32),
                                                         (_complex(LDOUBLE), b"\x02" * 32)])
    assert layout.stack == b"\x07" + bytes(7) + bytes(8) + b"\x01" * 32 + b"\x02" * 32


@given(st.lists(st.sampled_from(["int", "double"]), max_size=20))
def test_scalars_fill_the_registers_in_order_then_the_stack(kinds):
    arguments = [(LONG, struct.pack("<q", i)) if kind == "int" else (DOUBLE, struct.pack("<d", i))
                 for i, kind in enumerate(kinds)]
    layout = layout_arguments(arguments)
    integers = [i for i, kind in enumerate(kinds) if kind == "int"]
    doubles = [i for i, kind in enumerate(kinds) if kind == "double"]
    assert [layout.integers[r] for r in ARGUMENT_REGISTERS[:len(integers)]] == integers[:6]
    assert [struct.unpack("<d", word)[0] for word in layout.sse] == doubles[:8]
    on_stack = sorted(integers[6:] + doubles[8:])
    words = [layout.stack[i:i + 8] for i in range(0, len(layout.stack), 8)]
    assert len(words) == len(on_stack)
    for index, word in zip(on_stack, words):
        assert word == (struct.pack("<q", index) if kinds[index] == "int" else struct.pack("<d", index))


def test_a_struct_that_does_not_fit_goes_whole_on_the_stack_and_later_ones_take_registers():
    five = [(LONG, struct.pack("<q", i)) for i in range(5)]
    wide = struct.pack("<qq", 10, 11)
    layout = layout_arguments([*five, (WIDE, wide), (LONG, struct.pack("<q", 12))])
    assert layout.stack == wide
    assert layout.integers["r9"] == 12


def test_memory_structs_go_on_the_stack_and_the_hidden_return_pointer_takes_rdi():
    big = struct.pack("<qqq", 1, 2, 3)
    layout = layout_arguments([(BIG, big), (PAIR, struct.pack("<ii", 4, 5)), (MIXED, struct.pack("<dq", 0.5, 6))],
                              hidden_return=True)
    assert layout.stack == big
    assert "rdi" not in layout.integers
    assert layout.integers["rsi"] == 4 | 5 << 32 and layout.integers["rdx"] == 6
    assert layout.sse == [struct.pack("<d", 0.5)]


@given(st.integers(0x1000, 2**47).map(lambda sp: sp & ~7), st.integers(0, 40).map(lambda n: 8 * n),
       st.sampled_from([0, 17, 24, 100]))
def test_the_call_frame_is_below_the_red_zone_and_aligned(sp, stack_bytes, return_size):
    buffer, arguments, entry_sp = call_frame(sp, stack_bytes, return_size)
    assert (entry_sp + 8) % 16 == 0  # as after a call instruction
    assert arguments == entry_sp + 8
    top = buffer if return_size else sp - RED_ZONE
    assert arguments + stack_bytes <= top
    if return_size:
        assert buffer + return_size <= sp - RED_ZONE
