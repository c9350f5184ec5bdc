"""Differential test: `break FUNCTION` on functions that realign the stack before their frame
(gdb's amd64_analyze_stack_align, modelled in arch/x86_64.py stack_align_length): gcc's own
sequence (a variable-length array beside an over-aligned local, at -O0 and -O1), and in
assembler a callee-saved register, a 32-bit mask, an extended register and a sequence whose
registers do not match (not a realignment: the function stays at its first byte). Addresses
are compared for every function; the whole message where the function is gcc's."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

FUNCTIONS = ("aligned_work", "callee_saved", "wide_mask", "extended_saved", "mismatched", "main")


def address(output: str) -> int:
    found = re.search(r"^Breakpoint \d+ at (0x[0-9a-f]+)", output, re.M)
    assert found, output
    return int(found[1], 16)


@pytest.mark.parametrize("level", ("-O0", "-O1"))
def test_break_on_realigning_functions_goes_where_gdb_puts_it(build_target, level):
    exe = build_target("realign", cflags=(level,))
    commands = [f"break {name}" for name in FUNCTIONS]
    expected, got = gdb_outputs(exe, commands), hwdbg_outputs(exe, commands)
    assert [address(g) for g in got] == [address(e) for e in expected], list(zip(expected, got))
    assert got[0] == expected[0]  # aligned_work: gcc's code, with its line
    entries = {name: address(gdb_outputs(exe, [f"break *{name}"])[0]) for name in FUNCTIONS[:5]}
    moved = [name for name, e in zip(FUNCTIONS, expected) if address(e) != entries.get(name, address(e))]
    # the realigning ones move past their set-up (aligned_work at -O1 is trusted: its first byte)
    assert set(moved) == ({"aligned_work"} if level == "-O0" else set()) | {"callee_saved", "wide_mask",
                                                                               "extended_saved"}
