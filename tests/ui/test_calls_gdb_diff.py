"""Differential test of inferior calls: the same call and print commands in gdb (-nx -batch) and
hwdbg on tests/targets/calls.c, each output compared whole: every integer width, pointers,
floats and doubles, structs by value and returned (in registers and in memory), nested calls,
calls in expressions, calls through pointers, void calls, libc's functions with and without
debug info, and the errors (too few arguments, unknown return type, no process).

gdb 13 cannot make a call on a machine whose XSAVE area is bigger than it knows (AMX): the
kernel wants its own size and refuses gdb's, so each call fails with "Couldn't write extended
state status: Bad address". tests/targets/gdb_xstate_shim.c, preloaded into gdb, hands gdb's
bytes to the kernel in a buffer of the kernel's size."""
from __future__ import annotations

from pathlib import Path

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SOURCE = Path(__file__).resolve().parents[1] / "targets" / "calls.c"
LINE = next(n for n, text in enumerate(SOURCE.read_text().splitlines(), 1) if "break here" in text)
BREAK = f"break calls.c:{LINE}"
CALLS = [
    "print add(2,3)", "call add(2,3)", "print add(2,3)*10", "print sq(x)", "print add(sq(2),1)",
    "call bump(1)", "print bump(1)", "print counter",
    "print my_strlen(name)", "print (int)strlen(name)", "print (long)strlen(greeting)",
    "print widths(-1, 255, -3, 65535, -5, 4000000000, -7, 18446744073709551615)",
    "print widths(-1, -1, -3, -1, -5, -6, -7, -8)", "print eight(1,2,3,4,5,6,7,8)",
    "print add_long(-5, 3)", "print add_ulong(-1, 0)", "print to_uchar(300)", "print to_short(70000)",
    "print is_even(4)", "print is_even(3)", "print half(5)", "print half(5.0)", "print scale(1.5, 3)",
    "print mix(1, 2.5, 0.25, 10)", "print nine_doubles(1,2,3,4,5,6,7,8,9)", "print mix(x, ratio, ratio, x)",
    "print counter_address()", "print *counter_address()", "print get_greeting()", "print first_char(word)",
    "print make_pair(1,2)", "print make_wide(-1, 5)", "print make_point(1.5, -2)", "print make_mixed(0.5, 7)",
    "print make_big(10)", "print make_tiny('a', 300)", "print make_pair(1,2).b", "print make_big(x).v[3]",
    "print pair_sum(origin)", "print pair_sum(local)", "print wide_diff(span)", "print big_sum(block)",
    "print abs(-4)", "print (long)labs(-9)", "print op(3, 4)", "print (*op)(3, 4)", "print add(1,2,3)",
    "print set_double(2)", "call set_double(2.5)", "print last_double", "print/x add(255, 1)",
    "print add(1)", "print strlen(name)", "print labs(3) + 1", "whatis add(1, 2)", "print sizeof(make_big(1))",
    'print my_strlen("abc")', 'print first_char("xyz")', 'print my_strlen("a\\tb\\"")',
    'print (long)strlen("hello world")', "call (void)add(1, 2)", "print (void)bump(0)", "print (char)add(300, 1)",
    "print counter",
]


def test_calls_print_as_in_gdb(build_target):
    exe = build_target("calls")
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = [BREAK, "run", *CALLS, "continue"]
    expected = gdb_outputs(exe, commands, preload=shim)
    # the worker thread's "[New Thread N]" may come after the breakpoint's stop (gdb's is dropped as noise)
    got = ["\n".join(line for line in text.splitlines() if not line.startswith("[New Thread"))
           for text in hwdbg_outputs(exe, commands)]
    assert "Couldn't write" not in "".join(expected)
    for command, gdb, ours in list(zip(commands, expected, got))[2:-1]:
        assert ours == gdb, (command, gdb, ours)
    assert got[-1].endswith("exited normally]"), got[-1]  # no int3 left at the entry point


def test_a_call_without_a_process_is_refused_as_in_gdb(build_target):
    exe = build_target("calls")
    commands = ["print add(1, 2)", "call bump(1)", "print 1 + sq(2)"]
    expected = gdb_outputs(exe, commands)
    assert hwdbg_outputs(exe, commands) == expected
    assert expected[0] == "You can't do that without a process to debug."
