"""Differential test of calls that stop before they return (gdb 13's default, set unwindonsignal
off): the stop and gdb's message, bt with the dummy frame (<function called from gdb>), frame
N, step, next and finish out of the called function (the silent stop at the dummy frame, the
value finish shows), calls nested in a stopped call, a fault in a call, set/show
unwindonsignal, and long double arguments and values (x87: on the stack, in st(0), 21 digits), on tests/targets/call_stops.c (single-threaded: gdb's stop lines name no
thread). Each command's output is compared whole with gdb's (preloaded with the XSAVE shim, see
test_calls_gdb_diff.py); gdb -batch does not say "Starting program" nor "Run till exit from"
(not typed at a terminal): those lines are dropped from hwdbg's."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

# ...and gdb's exit line is dropped as noise from its output (gdb_diff.GDB_NOISE)
TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #|\[Inferior 1 \(process \d+\) exited with)")
OUTPUT = "19 7 12.5 0"  # counter, x, big, last_ld when main ends
SOURCE = Path(__file__).resolve().parents[1] / "targets" / "call_stops.c"
LINE = next(n for n, text in enumerate(SOURCE.read_text().splitlines(), 1) if "break here" in text)
START = ["break checkpoint", "run", "up", "break stopper"]
SCRIPTS = {
    "stay, bt, frames, step": [
        "print stopper(4) + 1", "bt", "frame 1", "frame 2", "frame 0", "print x", "info args",
        "step", "step", "bt", "print/x $pc", "print counter", "next", "bt", "continue"],
    "continue and finish return to the dummy frame": [
        "print stopper(4) + 1", "finish", "bt", "print $", "print stopper(5)", "bt", "continue", "bt",
        "print/x $pc", "next", "bt"],
    "nested calls": [
        "print twice(1)", "bt", "print stopper(9)", "bt", "finish", "bt", "next", "bt", "next", "bt",
        "delete", "print twice(2)", "print stopper(3) + twice(1)", "bt", "continue", "bt", "continue"],
    "signals": [
        "show unwindonsignal", "print crash(0)", "bt", "print counter", "print stopper(2)", "bt",
        "set unwindonsignal on", "show unwindonsignal", "print crash(0)", "bt", "set unwindonsignal off",
        "show unwindonsignal", "set unwindonsignal", "show unwindonsignal", "set unwindonsignal 0",
        "show unwindonsignal", "kill"],
    "until, advance, stepi": [
        "print stopper(4)", f"until {LINE}", "bt", "print stopper(4)", f"advance {LINE}", "print stopper(4)", "until",
        "bt", "print stopper(4)", "bt", *["stepi"] * 9, "bt"],
    "exit": ["print stopper(1)", "bt", "print leave(3)", "print counter", "bt"],
    "long double": [
        "print big", "print ld_half(big)", "print ld_half(3)", "print ld_mix(1, 2.5, 0.5, big)", "print ld_store(0.25)",
        "print last_ld", "print ld_to_double(big, 3)", "print ld_third()", "print ld_third() * 3",
        "print ld_half(ld_third())", "print ld_half(1e300)", "whatis ld_half(1)", "print ld_store(last_ld)",
        "print/x ld_half(3)", "print ld_mix(2, big, 1.5, ld_third())", "print ld_half(1e-300)", "print ld_half(0.001)",
        "print ld_half(2e21)", "call ld_store(2)", "output ld_half(5)", "break ld_half", "print ld_half(7) + 1",
        "bt", "finish", "print $", "print last_ld", "kill"],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_calls_that_stop_as_in_gdb(build_target, capfd, name):
    exe = build_target("call_stops")
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = START + SCRIPTS[name]
    expected = gdb_outputs(exe, commands, preload=shim)
    assert "Couldn't write" not in "".join(expected)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, commands)]
    for command, gdb, ours in zip(commands, expected, got):
        if gdb == OUTPUT:
            # the program's own line, with what it computed: as without a debugger (in gdb's output; ours
            # went to this process's stdout)
            assert ours.endswith("exited normally]"), (command, ours)
            assert OUTPUT in capfd.readouterr().out.splitlines()
        elif command != "kill":  # its pid differs
            assert ours == gdb, (command, gdb, ours)
    assert "<function called from gdb>" in "".join(got)
