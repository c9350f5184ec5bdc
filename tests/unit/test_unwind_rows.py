"""The CFI row table of one FDE, built from hand-written CFA programs (no process)."""
from __future__ import annotations

import pytest
from elftools.dwarf import constants as dw
from elftools.dwarf.callframe import CIE, FDE, CallFrameInstruction

from hwdbg.symbols.unwind import RBP, RIP, RSP, _CannotUnwind, _row_at

START = 0x1000


def fde_of(*program: tuple, cie_program: tuple = ()) -> FDE:
    """An FDE at START with x86-64's alignment factors; each instruction is (opcode, *args)."""
    def instrs(ops):
        return [CallFrameInstruction(op, list(args)) for op, *args in ops]

    cie = CIE({"code_alignment_factor": 1, "data_alignment_factor": -8}, None,
              instrs(cie_program or ((dw.DW_CFA_def_cfa, RSP, 8), (dw.DW_CFA_offset, RIP, 1))), 0)
    return FDE({"initial_location": START, "address_range": 0x100}, None, instrs(program), 0x40, cie=cie)


def cfa(fde: FDE, pc: int) -> tuple:
    row = _row_at(fde, pc)
    return row.cfa_reg, row.cfa_offset


def test_rows_follow_the_advances_and_are_built_once():
    fde = fde_of((dw.DW_CFA_advance_loc, 1), (dw.DW_CFA_def_cfa_offset, 16), (dw.DW_CFA_offset, RBP, 2),
                 (dw.DW_CFA_advance_loc, 3), (dw.DW_CFA_def_cfa_register, RBP))
    assert cfa(fde, START) == (RSP, 8)
    assert cfa(fde, START + 1) == cfa(fde, START + 3) == (RSP, 16)
    assert cfa(fde, START + 4) == cfa(fde, START + 0xFF) == (RBP, 16)
    assert _row_at(fde, START + 2).rules == {RIP: ("offset", -8), RBP: ("offset", -16)}
    assert _row_at(fde, START + 2) is _row_at(fde, START + 3)  # one cached row, not re-run


def test_signed_cfa_offsets_are_scaled_by_the_data_alignment_factor():
    # pyelftools' own decoder scales DW_CFA_def_cfa_sf by the code alignment factor.
    fde = fde_of((dw.DW_CFA_def_cfa_sf, RBP, -2), (dw.DW_CFA_advance_loc, 1), (dw.DW_CFA_def_cfa_offset_sf, -3))
    assert cfa(fde, START) == (RBP, 16)
    assert cfa(fde, START + 1) == (RBP, 24)


def test_remembered_state_is_restored():
    fde = fde_of((dw.DW_CFA_def_cfa_offset, 16), (dw.DW_CFA_remember_state,), (dw.DW_CFA_advance_loc, 2),
                 (dw.DW_CFA_def_cfa_offset, 8), (dw.DW_CFA_advance_loc, 2), (dw.DW_CFA_restore_state,))
    assert [cfa(fde, START + i)[1] for i in range(5)] == [16, 16, 8, 8, 16]


def test_a_backwards_set_loc_keeps_the_first_row_the_program_reaches():
    fde = fde_of((dw.DW_CFA_advance_loc, 8), (dw.DW_CFA_def_cfa_offset, 16), (dw.DW_CFA_set_loc, START + 4),
                 (dw.DW_CFA_def_cfa_offset, 24), (dw.DW_CFA_advance_loc, 8), (dw.DW_CFA_def_cfa_offset, 32))
    # Running the program up to each pc, as an unwinder without a table does.
    assert [cfa(fde, START + i)[1] for i in (0, 7, 8, 11, 12, 13)] == [8, 8, 24, 24, 32, 32]


def test_a_restore_without_remember_ends_the_rows_it_is_reached_for():
    fde = fde_of((dw.DW_CFA_advance_loc, 4), (dw.DW_CFA_def_cfa_offset, 16), (dw.DW_CFA_advance_loc, 4),
                 (dw.DW_CFA_restore_state,))
    assert cfa(fde, START + 7) == (RSP, 16)
    for pc in (START + 8, START + 0x20):
        with pytest.raises(_CannotUnwind, match="restore_state"):
            _row_at(fde, pc)


def test_a_broken_cie_leaves_no_row():
    fde = fde_of((dw.DW_CFA_advance_loc, 4),
                 cie_program=((dw.DW_CFA_def_cfa, RSP, 8), (dw.DW_CFA_restore_state,)))
    with pytest.raises(_CannotUnwind):
        _row_at(fde, START)
