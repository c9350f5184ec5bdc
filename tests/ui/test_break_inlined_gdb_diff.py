"""Differential test: `break FUNCTION` on functions the C library (libc6-dbg) and python3.11d
(python3.11-dbg) have inlined copies of, against gdb 13: the same number of locations at the
same addresses, and `info breakpoints` rows 2.1, 2.2, ... naming the same function, file and
line. The sample comes from the file's symbol table: functions of libc that the DWARF also has
inlined somewhere (copies found by gdb's rule: an inlined subroutine whose abstract origin has
that linkage name or name). Addresses are compared relative to libc's `main`-time base (gdb runs
without address randomisation)."""
from __future__ import annotations

import collections
import os
import re
from pathlib import Path
from typing import Optional

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from test_break_libc_gdb_diff import _function_names, _libc_and_loader, _libraries

from hwdbg.symbols.inlines import inline_sites
from hwdbg.symbols.resolver import _Images

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SAMPLE = 24
PYTHON_DBG = Path("/usr/bin/python3.11d")
# gdb: "2.1   y   0x00007ffff7e09300 in __ctype_b_loc at ../include/ctype.h:41"; hwdbg has two more
# columns (Status, Len) and the file's base name.
ROW = re.compile(r"^(\d+\.\d+)\s+(y|n)\s+(0x[0-9a-f]+)\s+(?:in (\S+) at (\S+):(\d+)|(<\S+>))\s*$", re.M)
HEAD = re.compile(r"^Breakpoint \d+ at (0x[0-9a-f]+)(.*)$", re.M)


def with_copies(path: Path, names: Optional[list[str]], limit: int) -> list[str]:
    """Every n-th of ``names`` (functions of ``path``'s symbol table; None: every name) that
    DWARF has inlined copies of."""
    image_dwarf = _Images().get(str(path))
    assert image_dwarf is not None and image_dwarf[1] is not None
    dwarf = image_dwarf[1]
    inline_sites(dwarf, "main")
    found = sorted(n for n in (dwarf._inline_sites if names is None else set(names)) if inline_sites(dwarf, n))
    step = max(1, len(found) // limit)
    return found[::step][:limit]


def table(head_output: str, info_output: str, base: int) -> tuple:
    """A breakpoint's head line and its location rows, addresses relative to ``base``."""
    head = HEAD.search(head_output)
    rows = [(n.partition(".")[2], e, int(a, 16) - base, f, os.path.basename(p) if p else None, line, sym)
            for n, e, a, f, p, line, sym in ROW.findall(info_output)]
    return ((int(head[1], 16) - base, head[2]) if head else head_output.strip()), rows


def compare(exe: Path, names: list[str], setup: list[str], base_symbol: str) -> tuple[list, list]:
    """gdb's and hwdbg's (head, rows) of `break NAME` for each name. gdb runs afresh for each:
    gdb 13 finds inlined copies only in the units it has expanded, so what earlier commands
    expanded would add copies (hwdbg's answer does not depend on history)."""
    where = f"print/x (long) &{base_symbol}"  # last: looking it up expands units in gdb
    expected = []
    for name in names:
        out = gdb_outputs(exe, setup + [f"break {name}", "info breakpoints", where])
        expected.append(table(out[-3], out[-2], _base(out[-1])))
    commands = setup + [where]
    for name in names:
        commands += ["delete", f"break {name}", "info breakpoints"]
    got = hwdbg_outputs(exe, commands)
    base = _base(got[len(setup)])
    return expected, [table(got[i], got[i + 1], base) for i in range(len(setup) + 2, len(commands), 3)]


def _base(output: str) -> int:
    return int(re.search(r"0x[0-9a-f]+", output)[0], 16)


def same(name: str, expected: tuple, got: tuple) -> bool:
    """The same head line and rows. Left out: the function a row names where gdb names another
    function than the breakpoint's (the out-of-line copy found through an ELF alias: gdb names
    the DWARF function there, e.g. __gnu_dev_minor for break __GI_gnu_dev_minor; hwdbg the
    breakpoint's), and file and line of a row gdb prints as <symbol+offset> (no line for it)."""
    if expected[0] != got[0] or len(expected[1]) != len(got[1]):
        return False
    for e, g in zip(expected[1], got[1]):
        keep = 3 if e[6] else 6
        if e[3] != name:
            e, g = e[:3] + e[4:], g[:3] + g[4:]
            keep -= 1
        if e[:keep] != g[:keep]:
            return False
    return True


def test_break_on_libc_functions_with_inlined_copies_has_gdbs_locations(build_target):
    exe = build_target("steps")
    libc, libc_debug, ld_debug = _libc_and_loader(exe)
    in_loader = set(_function_names(ld_debug, ".symtab")) if ld_debug is not None else set()
    ifuncs = {n.partition("@")[0] for n in _function_names(libc, ".dynsym", ("STT_GNU_IFUNC", "STT_LOOS"))}
    names = collections.Counter(_function_names(libc_debug, ".symtab"))
    sample = with_copies(libc, [n for n, k in names.items() if k == 1 and n not in in_loader | ifuncs], SAMPLE)
    assert len(sample) >= SAMPLE * 3 // 4, sample
    expected, got = compare(exe, sample, ["break main", "run"], "malloc")
    several = [n for n, (head, rows) in zip(sample, expected) if len(rows) > 1]
    assert len(several) >= len(sample) // 3, several  # the sample does exercise inlined copies
    differ = [(n, e, g) for n, e, g in zip(sample, expected, got) if not same(n, e, g)]
    assert not differ, differ[:3]
    assert sum(1 for n, e in zip(sample, expected) for row in e[1] if row[3] == n) > len(sample)


def test_break_on_python_functions_with_inlined_copies_has_gdbs_locations():
    if not PYTHON_DBG.exists():
        pytest.skip("no python3.11d (install python3.11-dbg)")
    # Not the C library's functions (fortify wrappers: mbstowcs, readlink): before the program
    # runs gdb breaks in their PLT stubs too, which hwdbg does not do (yet).
    libc = _libraries(PYTHON_DBG).get("libc")
    in_libc = {n.partition("@")[0] for n in _function_names(libc, ".dynsym")} if libc is not None else set()
    # Nor static functions defined in several units (each unit's copy is a location of its own).
    several = {n for n, k in collections.Counter(_function_names(PYTHON_DBG, ".symtab")).items() if k > 1}
    sample = [n for n in with_copies(PYTHON_DBG, None, SAMPLE * 3) if n not in in_libc | several][:SAMPLE // 2]
    assert len(sample) >= SAMPLE // 2, sample
    expected, got = compare(PYTHON_DBG, sample, [], "main")
    assert sum(len(rows) for _, rows in expected) > len(sample)
    differ = [(n, e, g) for n, e, g in zip(sample, expected, got) if not same(n, e, g)]
    assert not differ, differ[:3]
