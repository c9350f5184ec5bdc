"""Differential test: set print pretty on|off, show print pretty and print -pretty [on|off] -- EXPR,
in gdb (-nx -batch) and hwdbg, on nested structs, unions, arrays of structs (gdb's odd indentation
of their elements), repeated elements and /x, compared whole; print's option parsing alone."""
from __future__ import annotations

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from hwdbg.ui.commands.printopts import print_options

COMMANDS = [
    "print o", "set print pretty on", "print o", "print pairs", "print inners", "print matrix", "print same",
    "print o.in", "print/x o.arr", "output o.in.p", "show print pretty", "set print pretty off", "print o",
    "print -pretty -- o.in", "print -pretty on -- o.arr", "print -p -- o.in.p", "print -pretty off -- o.in",
    "print -pretty -- /x o.in.p", "print o.in", "show print pretty", "print -o.id", "print -pretty -- -o.id",
]


@needs_gdb
def test_pretty_printing_reads_as_in_gdb(build_target):
    exe = build_target("pretty")
    expected = gdb_outputs(exe, COMMANDS)
    got = hwdbg_outputs(exe, COMMANDS)
    for command, gdb, ours in zip(COMMANDS, expected, got):
        assert ours == gdb, (command, gdb, ours)


@pytest.mark.parametrize("text, options, rest", [
    ("-pretty -- o", {"pretty": True}, "o"),
    ("-pretty off -- o", {"pretty": False}, "o"),
    ("-p on -- /x o", {"pretty": True}, "/x o"),
    ("-pretty o", {"pretty": True}, "o"),
    ("-x", {}, "-x"),
    ("-5 + a", {}, "-5 + a"),
    ("-- -x", {}, "-x"),
    ("o.in", {}, "o.in"),
])
def test_print_options(text, options, rest):
    assert print_options(text) == (options, rest)
