"""Differential test: break/tbreak/continue scripts stop at the same (function, line) in gdb and hwdbg,
on -O0 and -O2 builds (where FUNCTION means after the prologue, by the line table)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

STOP = re.compile(r"^(?:Temporary b|B)reakpoint \d+, (?:0x[0-9a-f]+ in )?(\w+) \(.*\) at .+:(\d+)$", re.M)

SCRIPTS = {
    "functions": ["break add", "break twice", "break main"],
    "tbreak": ["tbreak twice", "break add", "tbreak main"],
    "lines": ["break sw_target.c:17", "tbreak sw_target.c:24", "break sw_target.c:52"],
    "star": ["break *add", "break twice"],
    "counter": ["break bump", "tbreak same", "break ui_counter.c:21"],
}
PROGRAMS = {"functions": "sw_target", "tbreak": "sw_target", "lines": "sw_target", "star": "sw_target",
            "counter": "ui_counter"}
ARGS = {"sw_target": ["calls", "3"], "ui_counter": ["4"]}


def gdb_stops(exe, commands, args):
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    for line in commands + ["run"] + ["continue"] * 40:
        argv += ["-ex", line]
    proc = subprocess.run(argv + ["--args", str(exe), *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    stops = [(m[1], int(m[2])) for m in STOP.finditer(proc.stdout)]
    assert stops, f"gdb did not stop: {proc.stdout[-400:]} {proc.stderr[-400:]}"  # the script or the parse is wrong
    return stops


def hwdbg_stops(exe, commands, args, count):
    argv = ["--batch", "--json"]
    for line in commands + ["run"] + ["continue"] * count:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, *args)
    assert run.returncode == 0, run
    assert run.of("exited") and run.of("exited")[0]["code"] == 0, run
    return [(s["function"], s["line"]) for s in run.of("stopped") if s["reason"] == "breakpoint"]


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_same_stops_as_gdb(build_target, script, opt):
    program = PROGRAMS[script]
    exe = build_target(program, cflags=(opt,))
    expected = gdb_stops(exe, SCRIPTS[script], ARGS[program])
    assert hwdbg_stops(exe, SCRIPTS[script], ARGS[program], len(expected)) == expected
