"""Differential test against gdb/MI: a JSON ``stopped`` event names the innermost frame, an
inlined function's name and line when the pc is in inlined code, as gdb/MI's ``*stopped``
frame does (not the ELF symbol around the pc). inline_target.c at -O2."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from gdb_diff import needs_gdb
from ui_helpers import as_args, run_hwdbg

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SCRIPT = ["break scale", "run", "next", "continue", "finish", "step", "step", "up", "finish", "next", "kill"]
MI_FRAME = re.compile(r'^\*stopped,.*?frame=\{addr="0x([0-9a-f]+)",func="([^"]*)",.*?line="(\d+)"', re.M)


def gdb_stops(exe, args):
    argv = ["gdb", "-nx", "-batch", "-i=mi", *[a for c in SCRIPT for a in ("-ex", c)], "--args", str(exe), *args]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180,
                         stdin=subprocess.DEVNULL).stdout
    return [(int(pc, 16), func, int(line)) for pc, func, line in MI_FRAME.findall(out)]


def hwdbg_stops(exe, args):
    run = run_hwdbg("--batch", "--json", *as_args(SCRIPT), exe, *args, timeout=180)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return [(e["pc"], e["function"], e["line"]) for e in events if e.get("event") == "stopped"]


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_json_stops_name_the_inlined_frame_as_gdb_mi(build_target, dwarf):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    expected = gdb_stops(exe, ["3"])
    assert len(expected) == len(SCRIPT) - 3  # every command but break, up and kill stops once
    assert {f for _, f, _ in expected} >= {"scale", "twice_scaled", "work"}
    assert hwdbg_stops(exe, ["3"]) == expected
