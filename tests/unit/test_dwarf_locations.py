"""DWARF location expressions evaluated against a made-up frame (hwdbg/symbols/dwarf_locations.py)."""
from __future__ import annotations

import struct

from elftools.dwarf.dwarf_expr import DW_OP_name2opcode as OP
from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.structs import DWARFStructs
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.symbols.dwarf_locations import OPTIMIZED_OUT, FrameState, Located, evaluate, read_located

PARSER = DWARFExprParser(DWARFStructs(little_endian=True, dwarf_format=32, address_size=8))
MASK = (1 << 64) - 1
RSP, RBP, RDI = 7, 6, 5


def sleb(value: int) -> list[int]:
    out = []
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            return out + [byte]
        out.append(byte | 0x80)


def uleb(value: int) -> list[int]:
    out = []
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            return out + [byte]
        out.append(byte | 0x80)


MEMORY = {0x7000 + 8 * i: 0x1111 * (i + 1) for i in range(8)}


def read_memory(addr: int, size: int) -> bytes:
    word = MEMORY[addr & ~7]
    return word.to_bytes(8, "little")[addr & 7:][:size]


def frame(**kwargs) -> FrameState:
    defaults = dict(regs={RSP: 0x7000, RBP: 0x7020, RDI: 42, 17: 0x3FF8 << 48}, cfa=0x7030,
                    read_memory=read_memory, bias=0x1000, frame_base=lambda: 0x7030)
    defaults.update(kwargs)
    return FrameState(**defaults)


def run(ops: list[int], state: FrameState | None = None, size: int = 8) -> Located:
    return evaluate(bytes(ops), PARSER, state or frame(), size)


def test_frame_base_cfa_and_registers():
    assert run([OP["DW_OP_fbreg"], *sleb(-20)]) == Located(address=0x7030 - 20)
    assert run([OP["DW_OP_call_frame_cfa"]]) == Located(address=0x7030)
    assert run([OP["DW_OP_breg6"], *sleb(-8)]) == Located(address=0x7018)
    assert run([OP["DW_OP_bregx"], *uleb(RSP), *sleb(16)]) == Located(address=0x7010)
    assert run([OP["DW_OP_reg5"]]) == Located(register=RDI)
    assert run([OP["DW_OP_addr"], *(0x404040).to_bytes(8, "little")]) == Located(address=0x405040)  # + bias


def test_values_pieces_and_memory():
    assert run([OP["DW_OP_lit7"], OP["DW_OP_stack_value"]]) == Located(data=(7).to_bytes(8, "little"))
    assert run([OP["DW_OP_breg7"], 0, OP["DW_OP_deref"], OP["DW_OP_stack_value"]]).data == \
        (0x1111).to_bytes(8, "little")
    two = run([OP["DW_OP_reg5"], OP["DW_OP_piece"], 8, OP["DW_OP_breg7"], 8, OP["DW_OP_piece"], 8], size=16)
    assert two.data == (42).to_bytes(8, "little") + (0x2222).to_bytes(8, "little")
    double = read_located(run([OP["DW_OP_reg17"]]), 8, frame())
    assert struct.unpack("<d", double)[0] == 1.5  # xmm0
    assert run([OP["DW_OP_implicit_value"], 4, 1, 2, 3, 4]) == Located(data=bytes([1, 2, 3, 4]))


def test_nothing_there_is_optimized_out():
    assert run([]) == OPTIMIZED_OUT
    assert run([OP["DW_OP_reg3"]]) == OPTIMIZED_OUT  # rbx is not known in this frame
    assert run([OP["DW_OP_fbreg"], 0], frame(frame_base=None)) == OPTIMIZED_OUT
    assert run([OP["DW_OP_call_frame_cfa"]], frame(cfa=None)) == OPTIMIZED_OUT
    assert run([OP["DW_OP_entry_value"], 1, OP["DW_OP_reg5"], OP["DW_OP_stack_value"]]) == OPTIMIZED_OUT
    assert run([OP["DW_OP_GNU_push_tls_address"]]) == OPTIMIZED_OUT  # not a local's business here
    assert run([OP["DW_OP_plus"]]) == OPTIMIZED_OUT  # an empty stack
    assert run([0xFF]) == OPTIMIZED_OUT  # an unknown opcode


def test_entry_values_come_from_the_callback():
    seen = []

    def entry(ops):
        seen.append([op.op_name for op in ops])
        return 99

    got = run([OP["DW_OP_entry_value"], 1, OP["DW_OP_reg5"], OP["DW_OP_stack_value"]], frame(entry_value=entry))
    assert got.data == (99).to_bytes(8, "little") and seen == [["DW_OP_reg5"]]


BINARY = {"DW_OP_plus": lambda a, b: a + b, "DW_OP_minus": lambda a, b: a - b, "DW_OP_mul": lambda a, b: a * b,
          "DW_OP_and": lambda a, b: a & b, "DW_OP_or": lambda a, b: a | b, "DW_OP_xor": lambda a, b: a ^ b}


@given(st.integers(0, MASK), st.integers(0, MASK), st.sampled_from(sorted(BINARY)))
def test_arithmetic_wraps_to_64_bits(a, b, name):
    ops = [OP["DW_OP_const8u"], *a.to_bytes(8, "little"), OP["DW_OP_const8u"], *b.to_bytes(8, "little"),
           OP[name], OP["DW_OP_stack_value"]]
    assert int.from_bytes(run(ops).data, "little") == BINARY[name](a, b) & MASK


@given(st.integers(-(1 << 40), 1 << 40), st.integers(0, 1 << 20))
def test_breg_plus_uconst_is_an_address(offset, more):
    ops = [OP["DW_OP_breg7"], *sleb(offset), OP["DW_OP_plus_uconst"], *uleb(more)]
    assert run(ops) == Located(address=(0x7000 + offset + more) & MASK)
