"""Differential test: locals and arguments the compiler keeps in registers (-O2) read, written
and refused as in gdb. set var writes the register as the selected frame sees it: frame #0's
register, or for an outer frame the stack slot where a callee saved it (regvars.c: leaf saves
work's total); a value the compiler computes is no lvalue; watch -l, rwatch and awatch refuse
with gdb's words; watch (a software watchpoint in gdb) is one clear line, nothing added."""
from __future__ import annotations

import pytest

from gdb_diff import compare, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

# Not compared: "break" (gdb names the file by its full DW_AT_name) and "run" ("Starting program").
SKIP = ("break ", "run")


@pytest.fixture(scope="module")
def regvars(build_target):
    return build_target("regvars", cflags=("-O2",))


def test_set_var_in_registers_of_each_frame(regvars):
    commands = ["break tick", "run", "up 2", "info locals", "set var i = 2", "p i", "set var total = 40",
                "p total", "down", "p w", "set var w = 9", "p w", "p u", "set var u = -1", "p u", "up", "p i",
                "p total", "down 2", "p $rbx", "p $rbp", "continue", "up 2", "info locals", "frame"]
    assert compare(regvars, commands, only=lambda c: not c.startswith(SKIP)) == []


def test_address_and_watches_of_a_register_argument(regvars):
    commands = ["break leaf", "run", "watch -l v", "rwatch v", "p &v", "set var v = 3", "p v",
                "p v * 2", "finish"]
    differ = compare(regvars, commands, only=lambda c: not c.startswith(SKIP))
    # finish: gdb -batch does not say "Run till exit from ..." (not typed at a terminal); the
    # value returned is computed from the v written (3 * 3 + 3 + 1).
    assert [(c, e, "\n".join(g.splitlines()[1:])) for c, e, g in differ] == [("finish", e, e) for _, e, _ in differ]
    assert len(differ) == 1 and differ[0][1].endswith("Value returned is $3 = 13")


def test_watch_of_a_register_variable_is_one_line_and_adds_nothing(regvars):
    # gdb 13 takes it as a software watchpoint, and an awatch refused as rwatch is (both then
    # hang gdb at the end of a -batch run): hwdbg has no software watchpoints, and says so.
    out = hwdbg_outputs(regvars, ["break leaf", "run", "watch v", "awatch v", "up", "watch i", "info breakpoints"])
    assert out[2] == "Cannot watch v: it lives in register $rdi, not in memory, and hwdbg has no software watchpoints"
    assert out[3] == "Expression cannot be implemented with read/access watchpoint."
    assert out[5] == "Cannot watch i: it is computed by the compiler, not in memory, and hwdbg has no software watchpoints"
    assert "watchpoint" not in out[6] and out[6].count("\n") == 2  # the header, breakpoint 1, its hit count
