"""Differential test: `break FILE:LINE` on a big program, Debian's python3.11d (python3.11-dbg),
against gdb 13: lines spread over the interpreter loop (ceval.c, by base name and by a
directory suffix), object and dict code, and a header whose inline functions every unit has
copies of (object.h: one location per copy); the `Breakpoint N at ...` lines must be the same."""
from __future__ import annotations

from pathlib import Path

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

PYTHON_DBG = Path("/usr/bin/python3.11d")
LINES = {"ceval.c": range(1200, 7001, 450), "Python/ceval.c": range(2950, 3101, 50),
         "object.c": range(100, 2401, 300), "dictobject.c": range(300, 5001, 600), "object.h": range(400, 801, 50)}


def announced(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Breakpoint ")]


def test_lines_of_python_break_where_gdb_does():
    if not PYTHON_DBG.exists():
        pytest.skip("no python3.11d (install python3.11-dbg)")
    commands = [f"break {file}:{line}" for file, lines in LINES.items() for line in lines]
    expected = [announced(out) for out in gdb_outputs(PYTHON_DBG, commands)]
    if not any(expected):
        pytest.skip("gdb finds no debug information for python3.11d")
    got = [announced(out) for out in hwdbg_outputs(PYTHON_DBG, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ[:5]
    assert sum(1 for e in expected if e) > len(commands) * 3 // 4
    assert any("locations)" in line for e in expected for line in e)  # object.h's inline copies
