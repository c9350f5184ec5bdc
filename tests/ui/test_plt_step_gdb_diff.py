"""Differential test: next and step at calls into the C library through the PLT, the first time
(the dynamic linker binds the slot lazily; strlen's IFUNC selector runs too) and the second:
next never stops in ld.so, step stops in the function the slot binds to (__strlen_evex, the IFUNC's choice)
as gdb does, whose debug information (libc6-dbg) it has. Stop lines compared whole; the C
library's file names are compared by base name (gdb keeps its line table's '../' or './')."""
from __future__ import annotations

import re

import pytest

from test_ui_step_gdb_diff import POINTER, gdb_run, hwdbg_run

pytestmark = [pytest.mark.requires_ptrace, pytest.mark.skipif(gdb_run is None, reason="no gdb")]

SCRIPTS = {
    "next": ["break main", "run", "next", "next", "next", "next", "next", "next"],
    # (puts: gdb names its frame __GI__IO_puts, with its argument, from libc's DWARF; hwdbg _IO_puts ())
    "step": ["break main", "run", "next", "step", "finish", "next", "step", "finish", "next", "next", "next", "next"],
}
LIBRARY_PATH = re.compile(r"(?:\.\.?/)?(?:[\w.-]+/)+([\w.-]+\.[chS])\b")


def normalized(lines):
    return [LIBRARY_PATH.sub(lambda m: m[0] if m[1] == "plt_first.c" else m[1], POINTER.sub(r"\g<1>0xADDR", line))
            for line in lines]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_first_and_second_calls_through_the_plt(build_target, name):
    exe = build_target("plt_first")
    expected = normalized(gdb_run(exe, SCRIPTS[name]))
    got, run = hwdbg_run(exe, SCRIPTS[name])
    assert normalized(got) == expected, run
    assert "ld-linux" not in run.stdout and "_dl_" not in run.stdout
