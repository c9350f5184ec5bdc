"""gdb's amd64 stack-realignment patterns (arch/x86_64.py stack_align_length), encoded here
from the instruction set for every register and mask form, and garbled."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch.x86_64 import ENDBR64, frame_setup_length, stack_align_length

PUSH_MOV = b"\x55\x48\x89\xe5"
REGISTERS = [r for r in range(16) if r not in (4, 5)]  # neither %rsp nor %rbp


def lea(disp: int, reg: int) -> bytes:  # leaq disp(%rsp),%reg
    return bytes([0x4C if reg >= 8 else 0x48, 0x8D, 0x44 | (reg & 7) << 3, 0x24, disp])


def andq(mask_bytes: int) -> bytes:  # andq $-16,%rsp or $-256,%rsp
    return b"\x48\x83\xe4\xf0" if mask_bytes == 1 else b"\x48\x81\xe4\x00\xff\xff\xff"


def push_minus8(reg: int) -> bytes:  # pushq -8(%reg)
    return (b"\x41" if reg >= 8 else b"") + bytes([0xFF, 0x70 | (reg & 7), 0xF8])


def push(reg: int) -> bytes:  # pushq %reg
    return (b"\x41" if reg >= 8 else b"") + bytes([0x50 | (reg & 7)])


def realign(reg: int, mask_bytes: int, callee_saved: bool) -> bytes:
    head = push(reg) + lea(0x10, reg) if callee_saved else lea(0x08, reg)
    return head + andq(mask_bytes) + push_minus8(reg)


@given(st.sampled_from(REGISTERS), st.sampled_from((1, 4)), st.booleans(), st.binary(max_size=8))
def test_every_realignment_form_is_skipped_with_the_frame_after_it(reg, mask_bytes, callee_saved, tail):
    code = realign(reg, mask_bytes, callee_saved)
    assert stack_align_length(code + tail) == len(code)
    assert frame_setup_length(code + PUSH_MOV + tail) == len(code) + 4
    assert frame_setup_length(code + ENDBR64 + PUSH_MOV) == len(code) + 8
    assert frame_setup_length(code + b"\x48\x83\xec\x08") == 0  # realigned but frameless: the first byte


@given(st.sampled_from(REGISTERS), st.sampled_from(REGISTERS), st.sampled_from((1, 4)), st.booleans())
def test_registers_that_differ_are_no_realignment(reg, other, mask_bytes, callee_saved):
    head = push(reg) + lea(0x10, reg) if callee_saved else lea(0x08, reg)
    code = head + andq(mask_bytes) + push_minus8(other)
    assert stack_align_length(code) == (len(code) if reg == other else 0)


def test_rsp_rbp_a_wrong_displacement_or_a_cut_sequence_are_not_realignments():
    for reg in (4, 5):
        assert stack_align_length(realign(reg, 1, False)) == 0
    assert stack_align_length(lea(0x10, 10) + andq(1) + push_minus8(10)) == 0  # leaq 16 needs the push first
    full = realign(10, 1, False)
    for cut in range(len(full)):
        assert stack_align_length(full[:cut]) == 0
    assert stack_align_length(ENDBR64 + full) == 0  # gdb looks for it at the first byte only


@given(st.binary(max_size=30))
def test_any_bytes_give_a_length_within_them(code):
    n = stack_align_length(code)
    assert n == 0 or 12 <= n <= 18 and n <= len(code)
