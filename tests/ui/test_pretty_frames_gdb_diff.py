"""Differential test: set print pretty on reaches info args, info locals, finish's "Value returned"
and display, as in gdb (-nx -batch), on structs passed, kept, returned in memory and in registers;
and set print pretty off puts them back on one line."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

COMMANDS = [
    "break build", "break small", "run", "set print pretty on", "display global_o", "display/x global_o.in",
    "display global_o.id", "info args", "info locals", "finish", "info locals", "continue", "finish",
    "display", "info display", "set print pretty off", "info locals", "display", "finish",
]
TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #0 )")  # gdb -batch prints neither


@pytest.mark.parametrize("pretty", ["on", "off"])
def test_pretty_reaches_frames_finish_and_displays(build_target, pretty):
    exe = build_target("pretty_frames")
    commands = [f"set print pretty {pretty}" if c == "set print pretty on" else c for c in COMMANDS]
    expected = gdb_outputs(exe, commands)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, commands)]
    for command, gdb, ours in zip(commands, expected, got):
        assert ours == gdb, (command, gdb, ours)
    if pretty == "on":
        assert "Value returned is $1 = {\n  id = 7,\n  in = {" in "\n".join(expected)
