"""Differential test of watchpoints around functions called from the debugger, on
tests/targets/call_watch.c: gdb disables every watchpoint (watch, rwatch, awatch) while a called
function runs and enables them again once the call stops, returned or not (breakpoint.c:
disable_watchpoints_before_interactive_call_start); so a write in the called function is not
reported nor counted, and the old value the next stop shows is the one from before the call.
(A read of a watched address by an access watchpoint makes gdb check the value of a write
watchpoint on the same address too, and after a call that value may be stale: hwdbg does not
check it, so the scripts keep those two apart.) Each command's output is compared whole with gdb's (preloaded with the XSAVE shim, see
test_calls_gdb_diff.py), and each watchpoint's hit count ("already hit N times")."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

OUTPUT = re.compile(r"^-?\d+ -?\d+ -?\d+$")  # the program's own line (ours went to this process's stdout)
TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #)")  # gdb -batch says neither
HITS = re.compile(r"already hit \d+ times?")
START = ["break checkpoint", "run", "up"]
SCRIPTS = {
    "a returned call": [
        "watch g", "rwatch reads", "print setg(5)", "print readg()", "print g", "print reads", "info breakpoints",
        "continue", "continue", "info breakpoints", "print setg(7)", "continue", "continue", "continue", "continue",
        "continue", "info breakpoints"],
    "a call stopped at a breakpoint": [
        "watch g", "rwatch reads", "print setg(5)", "break bump", "print bump(2)", "continue", "continue",
        "bt", "print readg()", "continue", "bt", "print g", "continue", "continue", "info breakpoints"],
    "nested calls, a watch set inside a call": [
        "break bump", "print bump(1)", "watch g", "print setg(3)", "print g", "finish", "continue",
        "info breakpoints", "delete", "continue"],
}


def _hit_counts(text: str) -> list[str]:
    return HITS.findall(text)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_watchpoints_during_calls_as_in_gdb(build_target, name):
    exe = build_target("call_watch")
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = START + SCRIPTS[name]
    expected = gdb_outputs(exe, commands, preload=shim)
    assert "Couldn't write" not in "".join(expected)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, commands)]
    for command, gdb, ours in zip(commands, expected, got):
        if command == "info breakpoints":  # hwdbg's table has its own columns: the counts are compared
            assert _hit_counts(ours) == _hit_counts(gdb), (command, gdb, ours)
        elif command == "continue" and (OUTPUT.match(gdb.splitlines()[-1]) if gdb else False):
            assert ours.endswith("exited normally]"), (command, gdb, ours)
        else:
            assert ours == gdb, (command, gdb, ours)
