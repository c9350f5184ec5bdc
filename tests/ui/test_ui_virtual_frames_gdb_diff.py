"""Differential tests against gdb: the frames gdb shows that the stack does not hold. At -O2
sw_target's twice() tail-calls add() (a jump), so add returns straight to main; gdb finds
twice again from the call sites' DWARF (DW_AT_call_tail_call) and shows it as frame #1, with
the pc after the jump, and add's arguments as entry values passed through it. inline_target.c
at -O2 has functions inlined into others (DW_TAG_inlined_subroutine): each is a frame of its
own, and `break FUNCTION` stops at every inlined copy. Each command's output is compared whole;
stack addresses differ between the runs and are masked."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

STACK = re.compile(r"0x7[0-9a-f]{11}\b")  # the stack and the libraries (ASLR: 0x7e... too)


def masked(outputs: list[str]) -> list[str]:
    return [STACK.sub("0xSTACK", text) for text in outputs]


def differences(exe, commands, args=()):
    # gdb says "Run till exit from ..." only when finish is typed (from_tty), as hwdbg does
    typed = ['python gdb.execute("finish", from_tty=True)' if c == "finish" else c for c in commands]
    expected, got = masked(gdb_outputs(exe, typed, args)), masked(hwdbg_outputs(exe, commands, args))
    # hwdbg says which program it starts; gdb names a breakpoint's file by its whole path
    got = [re.sub(r"^Starting program: .*\n", "", text) for text in got]
    return [f"--- {c}\n[gdb]\n{e}\n[hwdbg]\n{g}" for c, e, g in zip(commands, expected, got)
            if e != g and not (c.startswith("break") and "locations)" not in e)]


TAIL_CALL = ["break add", "run", "bt", "info frame", "up", "info frame", "print x", "up",
             "info frame", "down", "down", "continue", "bt", "frame 1", "info args"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_tail_call_frames_as_gdb(build_target, dwarf):
    exe = build_target("sw_target", cflags=("-O2", dwarf))
    different = differences(exe, TAIL_CALL, ["calls", "3"])
    assert not different, "\n\n".join(different)


# finish out of the tail call frame twice (#1): add's real frame returns straight to main, which
# gdb reports with no value (and "Run till exit from #1 ..."); then finish from add itself.
TAIL_CALL_FINISH = ["break add", "run", "up", "finish", "bt", "info frame", "continue", "finish", "continue",
                    "up", "up", "down", "finish", "bt"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_finish_out_of_a_tail_call_frame_as_gdb(build_target, dwarf):
    exe = build_target("sw_target", cflags=("-O2", dwarf))
    different = differences(exe, TAIL_CALL_FINISH, ["calls", "3"])
    assert not different, "\n\n".join(different)


# inline_calls.c: middle() inlined into main() calls the real leaf(); finish from middle (#1, above
# leaf's real frame) runs until leaf returns, then out of middle's code, as gdb's step out of it.
INLINE_ABOVE_REAL_FINISH = ["break leaf", "run", "up", "finish", "bt", "continue", "up", "finish", "bt", "next"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_finish_out_of_an_inlined_frame_above_a_real_one_as_gdb(build_target, dwarf):
    exe = build_target("inline_calls", cflags=("-O2", dwarf))
    different = differences(exe, INLINE_ABOVE_REAL_FINISH)
    assert not different, "\n\n".join(different)


# inline_target.c: scale() inlined twice into twice_scaled(), itself inlined into work()'s loop,
# and scale() inlined into main() right after the call of work() returns.
INLINED = ["break inline_target.c:17", "run", "bt", "info frame", "up", "info frame", "info locals", "info args",
           "up", "info locals", "info frame", "down", "down", "info locals", "info args", "frame 1", "print v",
           "frame 2", "print sum", "frame 0", "continue", "bt"]
# finish from work() returns to the first instruction of scale() inlined into main(): gdb does not
# show that frame yet (the call has not begun for the user) and stands at the call's line; a
# step there enters the inlined call without running (like "down"), a step more runs; finish in
# the inlined frame steps out of its code (no value).
RETURN_INTO_INLINED = ["break work", "run", "finish", "bt", "info frame", "info locals", "step", "bt", "step", "bt",
                       "step", "bt", "info frame", "finish", "bt", "next", "bt"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_inlined_frames_as_gdb(build_target, dwarf):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    different = differences(exe, INLINED, ["3"]) + differences(exe, RETURN_INTO_INLINED, ["3"])
    assert not different, "\n\n".join(different)


# break FUNCTION on an inlined function: one location per inlined copy (gdb's "1.2"), the stop
# shows the inlined frame down to that function; two breakpoints at one pc: the first is named.
BREAK_INLINED = ["break scale", "break twice_scaled", "run", "bt", "continue", "bt", "info frame", "continue",
                 "continue", "continue", "bt", "info frame", "up", "info locals"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_break_on_inlined_function_as_gdb(build_target, dwarf):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    different = differences(exe, BREAK_INLINED, ["2"])
    assert not different, "\n\n".join(different)
