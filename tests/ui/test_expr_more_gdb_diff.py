"""Differential test: the conditional operator, the comma operator, output and print's /c and
/t formats print what gdb prints (gdb -nx -batch, same program, same stop)."""
from __future__ import annotations

import pytest

from gdb_diff import compare, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

EXPRESSIONS = [
    "p n > 2 ? n : -1", "p n < 2 ? n : -1", "p n ? 'y' : 'n'", "p 0 ? 1 : n ? 7 : 8", "p n > 2 ? 1.5 : 2",
    "p (n, 7)", "p n, 7", "p (1, n) * 2", "p sink, n", "p n == 4 ? sink : n",
    "p/c 65", "p/c n + 64", "p/t n", "p/t 10", "p/x n > 2 ? 255 : 0", "p/c n ? 'a' : 'b'",
    "output n", "echo \\n", "output/x n * 255", "echo \\n", "output n > 2 ? 1 : 0", "echo \\n",
    "output n ? 'y' : 'n'", "echo \\n", "p $", "p n ? ", "p n ? 1", "output",
]


def test_conditional_comma_output_and_formats(build_target):
    exe = build_target("regvars")
    commands = ["break work", "run", *EXPRESSIONS]
    assert compare(exe, commands, only=lambda c: c in EXPRESSIONS[:-3]) == []


def test_bad_conditionals_are_one_line_errors(build_target):
    from gdb_diff import hwdbg_outputs
    out = hwdbg_outputs(build_target("regvars"), ["break work", "run", "p n ? ", "p n ? 1", "output", "p n"])
    assert [line.count("\n") for line in out[2:5]] == [0, 0, 0]
    assert out[2].startswith("syntax error") and out[3].startswith("syntax error") and "expression" in out[4]
    assert out[5] == "$1 = 4"  # nothing was entered in the value history
