"""Differential tests against gdb: how a stop that is not a breakpoint reads. A watchpoint's
stop prints gdb's block (`Hardware watchpoint 2: total`, a blank line, `Old value = ...` and
`New value = ...`, or `Value = ...` for rwatch and awatch reads) and then frame 0 where the thread
is after the access, with its arguments (`bump (by=2, times=3) at stops_target.c:11`, an address
first when the pc is inside a line) and the source line; a signal or the program's own int3 end
with the same frame and source lines. In JSON a stop only watches caused says reason watchpoint."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace, pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

WATCHES = ["break bump", "run", "watch total", "rwatch table[1]", "awatch table[2]"]
# A watch's block through the source line that ends the stop.
WATCH_STOP = re.compile(r"^Hardware (?:read |access \(read/write\) )?watchpoint \d+: .*\n\n(?:.*\n)*?\d+\t.*$", re.M)
# The frame and source lines after "Program received signal ..." (gdb) or "Thread N ..." (hwdbg).
SIGNAL_STOP = re.compile(r"^(?:Program received signal|Thread \d+ (?:received signal|executed int3)).*\n"
                         r"(.*\n\d+\t.*)$", re.M)
POINTER = re.compile(r"=0x7[0-9a-f]{11}\b")


def gdb_text(exe, commands, args):
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    for line in commands:
        argv += ["-ex", line]
    proc = subprocess.run(argv + ["--args", str(exe), *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    return proc.stdout


def hwdbg_text(exe, commands, args, *extra):
    argv = list(extra) + ["--batch"]
    for line in commands:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, *args)
    assert run.returncode == 0 and "***" not in run.stdout, run
    return run


def test_watchpoint_stops_read_as_gdb(build_target):
    exe = build_target("stops_target")
    commands = WATCHES + ["continue"] * 6
    expected = WATCH_STOP.findall(gdb_text(exe, commands, ["watch"]))
    assert len(expected) == 5, expected  # 3 writes, a read of table[1], an access of table[2]
    assert WATCH_STOP.findall(hwdbg_text(exe, commands, ["watch"]).stdout) == expected


@pytest.mark.parametrize("mode", ["int3", "segv"])
def test_signal_stops_show_the_frame_as_gdb(build_target, mode):
    exe = build_target("stops_target")
    expected = [POINTER.sub("=0xADDR", m) for m in SIGNAL_STOP.findall(gdb_text(exe, ["run"], [mode]))]
    assert len(expected) == 1 and ("(code=7)" in expected[0] or "(p=0x0, v=5)" in expected[0]), expected
    got = hwdbg_text(exe, ["run", "kill"] if mode == "segv" else ["run"], [mode]).stdout
    assert [POINTER.sub("=0xADDR", m) for m in SIGNAL_STOP.findall(got)] == expected


def test_json_reason_names_the_watchpoint(build_target):
    exe = build_target("stops_target")
    run = hwdbg_text(exe, WATCHES + ["continue"] * 6, ["watch"], "--json")
    stops = [e for e in run.events if e["event"] == "stopped"]
    kinds = [e["kind"] for e in run.events if e["event"] == "hit" and e["kind"] != "break"]
    assert [s["reason"] for s in stops] == ["breakpoint"] + ["watchpoint"] * 5
    assert kinds == ["watch", "rwatch", "watch", "awatch", "watch"]
