"""Differential test: where `break FUNCTION` and `break FILE:LINE` go, against gdb 13, for every
function (with or without debug info: crt code too) and every line of several programs built at
-O0, -O1, -O2 and -Os with DWARF 4 and 5. gdb trusts an optimised unit (its variables have
location lists) and stops at the function's first byte; elsewhere it skips `push %rbp; mov
%rsp,%rbp` and the rest of that line (symbols/prologue.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

TARGETS = Path(__file__).resolve().parents[1] / "targets"
PROGRAMS = ("steps", "calls", "frames_target", "inline_target", "regvars", "values_target")
LEVELS = ("-O0", "-O1", "-O2", "-Os")


def functions(exe: Path) -> list[str]:
    """Every function the executable defines, from its symbol table."""
    with open(exe, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return sorted({s.name for s in symtab.iter_symbols() if s["st_info"]["type"] == "STT_FUNC"
                       and s["st_shndx"] != "SHN_UNDEF" and s["st_value"] and s.name})


def announced(output: str) -> list[str]:
    """The breakpoint lines of a command's output, without the breakpoint's number."""
    return [re.sub(r"^Breakpoint \d+ ", "", line) for line in output.splitlines() if line.startswith("Breakpoint ")]


@pytest.mark.parametrize("dwarf", ("-gdwarf-4", "-gdwarf-5"))
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_break_function_and_line_go_where_gdb_puts_them(build_target, name, level, dwarf):
    exe = build_target(name, cflags=(level, dwarf))
    names = functions(exe)
    lines = len((TARGETS / f"{name}.c").read_text().splitlines())
    commands = [f"break {n}" for n in names] + [f"break {name}.c:{n}" for n in range(1, lines + 1)]
    expected = [announced(out) for out in gdb_outputs(exe, commands)]
    got = [announced(out) for out in hwdbg_outputs(exe, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ[:5]
    assert all(expected[:len(names)]), "gdb placed every function's breakpoint"
    assert "main" in names and len(names) > 8
