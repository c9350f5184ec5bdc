"""Differential test: a string literal on its own, as gdb 13 reads it without a process: a char
array of its length plus the NUL (print, print/F, sizeof, ptype, whatis, an element, adjacent
literals joined, escapes, the value history), and gdb's errors for what needs no memory to refuse.
What gdb can only do by copying the literal into the process (arithmetic, comparison, a cast, its
address) is refused in one line naming the way that works (a function call's argument)."""
from __future__ import annotations

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from hwdbg import expr
from hwdbg.errors import HwdbgError

SAME = [
    'print "abc"', 'print sizeof("abc")', 'ptype "abc"', 'whatis "abc"', 'print "a" "b"', 'ptype "a" "bc"',
    'p/x "ab"', 'p/d "ab"', 'p/c "ab"', 'print ""', 'print "a\\nb\\"c"', 'p "\\101\\x42"', 'p $1', 'p $',
    'p sizeof "xy"', 'p sizeof("abc") * 2', 'p "abc"[1]', 'whatis "abc"[0]', 'p sizeof("abc"[0])',
    'print -pretty -- "x"', 'output "x"', 'p "abc"[5]', 'p "abc"[-1]', 'p &"abc"[1]', 'whatis &"abc"[0]',
    'p "abc"@2',
]
IN_PROCESS = ['p "ab" == "ab"', 'p "abc" + 1', 'p (long)"abc"', 'p !"abc"', 'p &"abc"']


@needs_gdb
def test_string_literals_read_as_in_gdb(build_target):
    exe = build_target("pretty")
    commands = SAME + IN_PROCESS
    expected = gdb_outputs(exe, commands)
    got = hwdbg_outputs(exe, commands)
    for command, gdb, ours in zip(SAME, expected, got):
        assert ours == gdb, (command, gdb, ours)
    for command, gdb, ours in zip(IN_PROCESS, expected[len(SAME):], got[len(SAME):]):
        assert gdb == "evaluation of this expression requires the target program to be active"
        assert len(ours.splitlines()) == 1 and not ours.startswith("$"), (command, ours)


class _NoMemory:
    def read_memory(self, addr: int, size: int) -> bytes:
        raise AssertionError("a string literal is not read from memory")

    def lookup(self, name, lib):
        raise AssertionError(name)

    def register(self, name):
        raise AssertionError(name)


@pytest.mark.parametrize("text, shown", [('"abc"', '"abc"'), ('"a" "" "b"', '"ab"'), ('""', '""')])
def test_literal_values_need_no_memory(text, shown):
    value = expr.evaluate_text(text, _NoMemory())
    assert expr.format_value(value, _NoMemory()) == shown
    assert value.ctype.size == len(shown) - 1


@pytest.mark.parametrize("text", ['"ab" == "ab"', '"a" + 1', '(char *)"a"', '-"a"', '"a" ? 1 : 2'])
def test_literal_without_an_address_is_refused(text):
    with pytest.raises(HwdbgError, match="string literal"):
        expr.evaluate_text(text, _NoMemory())
