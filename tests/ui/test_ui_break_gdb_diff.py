"""Differential test: break/tbreak/continue scripts print the same stop lines in gdb and hwdbg
(`Breakpoint 1, add (a=1, b=1) at sw_target.c:16` whole, arguments included, and the source line),
on -O0 and -O2 builds (where FUNCTION means after the prologue, by the line table, and arguments
are entry values or optimized out: at -O2 twice() tail-calls add(), and add's entry values come
through twice's tail call frame). Pointers into the stack differ between the runs: masked."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

STOP = re.compile(r"^((?:Temporary b|B)reakpoint \d+, .*)\n(\d+\t.*)$", re.M)
POINTER = re.compile(r"(=|@entry=)0x[0-9a-f]+")

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
    stops = stop_lines(proc.stdout)
    assert stops, f"gdb did not stop: {proc.stdout[-400:]} {proc.stderr[-400:]}"  # the script or the parse is wrong
    return stops


def stop_lines(text):
    return [(POINTER.sub(r"\g<1>0xADDR", m[1]), m[2]) for m in STOP.finditer(text)]


def hwdbg_stops(exe, commands, args, count):
    argv = ["--batch"]
    for line in commands + ["run"] + ["continue"] * count:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, *args)
    assert run.returncode == 0, run
    assert "exited normally]" in run.stdout and "***" not in run.stdout, run
    return stop_lines(run.stdout)


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_same_stops_as_gdb(build_target, script, opt):
    program = PROGRAMS[script]
    exe = build_target(program, cflags=(opt,))
    expected = gdb_stops(exe, SCRIPTS[script], ARGS[program])
    assert hwdbg_stops(exe, SCRIPTS[script], ARGS[program], len(expected)) == expected
