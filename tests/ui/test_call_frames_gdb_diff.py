"""Differential test of ``info frame`` while stopped inside a function called from the debugger
(tests/targets/call_stops.c): the called function's frame, the dummy frame below it (gdb's
<function called from gdb>: no function named, its saved rip the pc the call was made from,
the previous frame's sp the one the call was made with) and the frame that made the call,
nested calls too. Stack addresses differ (gdb turns ASLR off and lays its call out otherwise),
and so does the dummy's pc (gdb's is on the stack, hwdbg's the entry point): those are masked
before the outputs are compared whole, and the links between the frames are checked apart:
the dummy frame's address is 8 above its callee's CFA, it is the "called by" of the frame
above and the "caller of" of the one below, and the previous sp it names is that caller's."""
from __future__ import annotations

import re

import pytest
from elftools.elf.elffile import ELFFile

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #)")  # gdb -batch says neither
STACK = re.compile(r"0x7f[0-9a-f]{10}\b")
COMMANDS = ["break checkpoint", "run", "up", "break stopper", "print stopper(4)",
            "info frame", "up", "info frame", "up", "info frame", "frame 0", "print twice(2)", "bt",
            "info frame", "up", "info frame", "up", "info frame", "up", "info frame", "frame 0", "finish", "finish"]


def _masked(text: str, entry: int) -> str:
    return STACK.sub("ADDR", text.replace(f"{entry:#x}", "ADDR"))


def _addresses(text: str) -> dict[str, int]:
    found = {}
    for key, pattern in (("at", r"frame at (0x[0-9a-f]+):"), ("called_by", r"called by frame at (0x[0-9a-f]+)"),
                         ("caller_of", r"caller of frame at (0x[0-9a-f]+)"), ("sp", r"Previous frame's sp is (0x[0-9a-f]+)")):
        match = re.search(pattern, text)
        if match:
            found[key] = int(match[1], 16)
    return found


def _check_links(frames: list[str]) -> None:
    """``frames``: info frame of the called function, the dummy frame, its caller."""
    callee, dummy, caller = (_addresses(text) for text in frames)
    assert dummy["at"] == callee["at"] + 8 == callee["called_by"] == caller["caller_of"]
    assert dummy["called_by"] == caller["at"] and dummy["caller_of"] == callee["at"]
    assert dummy["sp"] == caller["at"] - 16  # the caller's sp (at -O0, below its saved rbp and rip)


def test_info_frame_in_a_called_function_as_in_gdb(build_target):
    exe = build_target("call_stops")
    shim = build_target("gdb_xstate_shim", shared=True)
    with open(exe, "rb") as f:
        entry = ELFFile(f)["e_entry"]
    expected = gdb_outputs(exe, COMMANDS, preload=shim)
    assert "Couldn't write" not in "".join(expected)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, COMMANDS)]
    for command, gdb, ours in list(zip(COMMANDS, expected, got))[2:]:
        assert _masked(ours, entry) == _masked(gdb, entry), (command, gdb, ours)
    frames = [i for i, command in enumerate(COMMANDS) if command == "info frame"]
    for outputs in (expected, got):
        _check_links([outputs[i] for i in frames[:3]])  # stopper, the dummy, checkpoint
        _check_links([outputs[i] for i in frames[4:7]])  # stopper nested in twice: twice, the dummy, stopper
