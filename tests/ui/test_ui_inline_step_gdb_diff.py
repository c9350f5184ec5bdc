"""Differential tests against gdb: stepping meets inlined code (inline_target.c at -O2). gdb
treats an inlined call as a call: ``next`` on a line that calls an inlined function steps over
its whole body, ``step`` enters it (its frame shown, nothing run) when the call is on the line
being stepped, and a step out of it stops in the caller; ``finish`` with an outer frame selected
runs out of that frame ("Run till exit from #1 ...") whether it is inlined or real. Each
command's output is compared whole."""
from __future__ import annotations

import pytest

from gdb_diff import needs_gdb
from test_ui_virtual_frames_gdb_diff import differences

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

# main's line 31 calls atol(), inlined from stdlib.h: next steps over it (and over strtol it calls).
NEXT_OVER_INLINED = ["break main", "run", "next", "bt", "next", "next", "next", "bt"]
# step from work's first line: into twice_scaled() and scale() as gdb enters them, out again.
STEP_THROUGH_INLINED = ["break work", "run"] + ["step", "bt"] * 8
# next from inside scale() (a breakpoint there shows the inlined frames) and through the loop:
# the breakpoint at the inlined copy stops the next and shows its inlined frames again.
NEXT_FROM_INLINED = ["break inline_target.c:16", "run", "next", "next", "next", "bt", "next", "next", "bt",
                     "next", "bt", "step", "step", "bt"]
# finish with an outer frame selected: an inlined one (the step out of its code), the real
# frame around them (to its return, a breakpoint on the way stops it), main (refused).
FINISH_SELECTED = ["break scale", "run", "up", "finish", "bt", "next", "continue", "up 2", "finish", "bt",
                   "up 3", "finish", "delete", "finish", "bt"]


@pytest.mark.parametrize("script", [NEXT_OVER_INLINED, STEP_THROUGH_INLINED, NEXT_FROM_INLINED, FINISH_SELECTED],
                         ids=["next-over", "step-through", "next-from-inlined", "finish-selected"])
@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_stepping_inlined_code_as_gdb(build_target, dwarf, script):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    # gdb wraps an error of a finish typed through python in a traceback: compare its last line
    different = [d for d in differences(exe, script, ["3"])
                 if not ("gdb.error: " in d and d.split("gdb.error: ")[1].split("\n")[0] in d.split("[hwdbg]\n")[1])]
    assert not different, "\n\n".join(different)
