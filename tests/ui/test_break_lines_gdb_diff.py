"""Differential test: `break FILE:LINE` on every line of a source, against gdb 13. A line that
exists only inlined gets one location per inlined copy ("Breakpoint 1 at 0x...: FILE:LINE.
(3 locations)"); a single location reports the line asked (not the line the address's last
line-table row names), or the line past the prologue where gdb moves it; a line without code
moves to the next one with code. inline_target.c at -O2 (DWARF 4 and 5), steps.c at -O0."""
from __future__ import annotations

from pathlib import Path

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

TARGETS = Path(__file__).resolve().parents[1] / "targets"
CASES = {"inline-dwarf4": ("inline_target", ("-O2", "-gdwarf-4")),
         "inline-dwarf5": ("inline_target", ("-O2", "-gdwarf-5")),
         "steps-O0": ("steps", ())}


def announced(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Breakpoint ")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_line_breaks_where_gdb_does(build_target, case):
    name, cflags = CASES[case]
    exe = build_target(name, cflags=cflags)
    count = len((TARGETS / f"{name}.c").read_text().splitlines())
    commands = [f"break {name}.c:{line}" for line in range(1, count + 1)]
    expected = [announced(out) for out in gdb_outputs(exe, commands)]
    got = [announced(out) for out in hwdbg_outputs(exe, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ[:5]
    assert sum(1 for e in expected if e) > count // 2
    if name == "inline_target":  # scale's lines: one location per inlined copy
        assert any("locations)" in line for e in expected for line in e)
