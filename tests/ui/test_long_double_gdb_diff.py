"""Differential test of long double arithmetic in expressions (tests/targets/call_stops.c's
long doubles and the calls returning them): gdb computes with the host's long double, the x87's
64-bit precision, so each result is rounded once from the exact one; hwdbg does the same
(hwdbg/expr/x87.py). Overflow past a double's range, subnormals, signed zeros (gdb negates
as 0 - x), division by zero, comparisons, casts, and the values passed back to called
functions; every output compared whole with gdb's (preloaded with the XSAVE shim, see
test_calls_gdb_diff.py)."""
from __future__ import annotations

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

ONE_E_308 = " * 1e308" * 16
COMMANDS = [
    "print big / 3", "print big * big * big / 7", "print ld_third() * 3", "print ld_third() * 3 - 1",
    "print ld_third() + 1e-20", "print -ld_third()", "print ld_third() == 1.0/3", "print ld_third() > 0.3333333333333333",
    "print (long double)123456789012345678", "print (long double)1/3", "print big / 0", "print -big / 0",
    "print (big - big) / 0", "print -(big - 12.5)", "print (big - big) * -1", "whatis big * 2", "print 1 + big",
    "print ld_half(big / 3)", "print 2.5 * ld_third()", "print ld_third() / 3 / 1e4930", "print (double)(big / 3)",
    "print (int)(big * 3)", "print ld_third() < ld_third() + 1e-19", "print -(0.0)", "print big / 1e-4940",
    "print -ld_third() * 1e-4945", "print big * 1e308 * 1e308", f"print big{ONE_E_308}", f"print (big{ONE_E_308}) * 0",
    "print/x big / 3", "output big / 3", "print (float)ld_third()", "print ld_store(ld_third() * 7)",
    "print last_ld - 7 * ld_third()", "print last_ld * last_ld - 49", "print ld_mix(3, big / 7, 0.1, -ld_third())",
]


def test_long_double_arithmetic_as_in_gdb(build_target):
    exe = build_target("call_stops")
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = ["break checkpoint", "run", "up", *COMMANDS, "kill"]
    expected = gdb_outputs(exe, commands, preload=shim)
    assert "Couldn't write" not in "".join(expected)
    got = hwdbg_outputs(exe, commands)
    for command, gdb, ours in list(zip(commands, expected, got))[2:-1]:
        assert ours == gdb, (command, gdb, ours)
