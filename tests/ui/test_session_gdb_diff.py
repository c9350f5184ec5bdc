"""Differential test: a typical gdb session on a -O0 program, command by command, in gdb
(-nx -batch) and hwdbg: break main, run, next x5, step, bt, info locals, finish, watch, continue,
delete, continue to the exit. Each command's output is compared whole, pids and addresses
normalized, except where noted:
- lines gdb prints only when a command is typed at a terminal ("Starting program: ...", finish's
  "Run till exit from #0 ..."), which hwdbg always prints: dropped from hwdbg's output;
- a watchpoint stop's frame line (hwdbg: "Thread N at PC in ..."): its first lines are compared;
- info breakpoints: hwdbg's table has more columns (Status, Len, slots): not compared;
- the end: gdb's output has the program's, hwdbg's the exit line (gdb's is the same words)."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SESSION = ["break main", "run", "next", "next", "next", "next", "next", "step", "bt", "info locals", "finish",
           "watch total", "continue", "continue", "info breakpoints", "delete", "info breakpoints", "continue"]
TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #0 )")
PID = re.compile(r"\(process \d+\)")


def test_a_typical_session_reads_as_in_gdb(build_target):
    exe = build_target("session")
    expected = gdb_outputs(exe, SESSION)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, SESSION)]
    for command, gdb, ours in zip(SESSION, expected, got):
        if command == "continue" and gdb.startswith("Hardware watchpoint"):
            assert ours.splitlines()[:3] == gdb.splitlines()[:3], (command, gdb, ours)
        elif command == "continue":
            assert gdb == "sum = 14" and PID.sub("(process N)", ours) == "[Inferior 1 (process N) exited normally]"
        elif command == "info breakpoints" and gdb.startswith("Num"):
            assert ours.startswith("Num")
        else:
            assert ours == gdb, (command, gdb, ours)
