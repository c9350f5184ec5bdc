"""Differential test against gdb: a breakpoint with several locations (a function inlined in
several places, inline_target.c at -O2). info breakpoints shows gdb's <MULTIPLE> row and one
row per location (1.1, 1.2, ...: enabled state, address, "in FUNCTION at FILE:LINE");
disable 1.2 / enable 1.2 switch one location, and the stops follow (a disabled location does
not stop, the others do). hwdbg's table has more columns than gdb's (Status, Len): the rows are
compared field by field, the stops whole. JSON and the API carry each location's state."""
from __future__ import annotations

import json
import os
import re

import pytest

import hwdbg

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from test_ui_virtual_frames_gdb_diff import differences
from ui_helpers import as_args, run_hwdbg

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SCRIPT = ["break scale", "break work", "info breakpoints", "run", "disable 1.2", "info breakpoints", "continue",
          "bt", "enable 1.2", "disable 1.3", "continue", "bt", "disable 1.1-3", "info breakpoints", "enable 1.1",
          "disable 1", "info breakpoints", "enable 1", "info breakpoints", "disable 1.9", "kill"]
LOCATION_ROW = re.compile(r"^(\d+\.\d+)\s+(y-?|n)\s+(0x[0-9a-f]+)\s+in (\S+) at (.+):(\d+)$", re.M)
MAIN_ROW = re.compile(r"^(\d+)\s+breakpoint\s+keep\s+(y|n)\s+.*?(<MULTIPLE>|0x[0-9a-f]+)", re.M)


def rows(text):
    return ([m.groups() for m in MAIN_ROW.finditer(text)],
            [(n, e, int(a, 16), f, os.path.basename(p), int(line)) for n, e, a, f, p, line in LOCATION_ROW.findall(text)])


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_breakpoint_locations_as_gdb(build_target, dwarf):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    expected, got = gdb_outputs(exe, SCRIPT, ["3"]), hwdbg_outputs(exe, SCRIPT, ["3"])
    for command, e, g in zip(SCRIPT, expected, got):
        if command == "info breakpoints":
            assert rows(g) == rows(e), f"{command}\n[gdb]\n{e}\n[hwdbg]\n{g}"
    assert sum(len(rows(e)[1]) for c, e in zip(SCRIPT, expected) if c == "info breakpoints") == 15  # 3 rows in each of the 5 tables
    # the stops (and the refusal of a location that does not exist) whole
    different = [d for d in differences(exe, SCRIPT, ["3"]) if not d.startswith("--- info breakpoints")
                 and not d.startswith("--- kill")]
    assert not different, "\n\n".join(different)


def test_json_and_api_carry_each_location_state(build_target):
    exe = build_target("inline_target", cflags=("-O2",))
    run = run_hwdbg("--batch", "--json", *as_args(["break scale", "disable 1.2", "info breakpoints"]), exe, "3")
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    disabled = next(r for r in results if r.get("command") == "disable")
    assert disabled["data"]["locations"] == ["1.2"] if "data" in disabled else disabled["locations"] == ["1.2"]
    info = next(r for r in results if r.get("command") == "info breakpoints")
    table = info["data"]["breakpoints"] if "data" in info else info["breakpoints"]
    assert [(loc["number"], loc["enabled"]) for loc in table[0]["locations"]] == [("1.1", True), ("1.2", False),
                                                                                   ("1.3", True)]

    with hwdbg.spawn([str(exe), "3"], stdout=open(os.devnull, "w")) as target:
        bp = target.break_at("scale")
        bp.disable_location(1)
        assert [loc["enabled"] for loc in bp.locations] == [False, True, True]
        stop = target.cont()
        assert (stop.reason, stop.pc, stop.where.function) == ("breakpoint", bp.locations[1]["address"], "scale")
        bp.enable_location(1)
        bp.disable_location(2)
        bp.disable_location(3)
        assert target.run_until_exit().code == 0


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_a_line_breakpoints_rows_name_the_function_each_location_is_in(build_target, dwarf):
    """break FILE:LINE on a line of an inlined function: each row names that function (not the
    one it was inlined into) and the line asked, as gdb's."""
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    source = os.path.join(os.path.dirname(__file__), "..", "targets", "inline_target.c")
    with open(source) as f:
        line = next(n for n, text in enumerate(f, 1) if "long r = v * k;" in text)
    script = [f"break inline_target.c:{line}", "run", "info breakpoints", "kill"]
    expected, got = gdb_outputs(exe, script, ["3"]), hwdbg_outputs(exe, script, ["3"])
    assert rows(got[2]) == rows(expected[2]), f"[gdb]\n{expected[2]}\n[hwdbg]\n{got[2]}"
    assert [row[3:] for row in rows(expected[2])[1]] == [("scale", "inline_target.c", line)] * 3
