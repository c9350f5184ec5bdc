"""lldb through hwdbg serve (gdb-remote): the hits and stops gdb reports natively."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from remote_helpers import env_without_debuginfod

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("lldb") is None, reason="lldb is not installed"),
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def lldb(exe, stub, *commands: str) -> str:
    args = ["lldb", "--batch", "--no-lldbinit", "-o", f"gdb-remote {stub.address}"]
    for command in commands:
        args += ["-o", command]
    proc = subprocess.run([*args, str(exe)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env_without_debuginfod())
    return proc.stdout + proc.stderr


def native_gdb(exe, *commands: str) -> str:
    args = ["gdb", "-nx", "-batch", "-ex", "break main", "-ex", "run"]
    for command in commands:
        args += ["-ex", command]
    proc = subprocess.run([*args, str(exe)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env_without_debuginfod())
    return proc.stdout


def test_watchpoint_hits_match_gdb(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe)
    out = lldb(exe, stub, "breakpoint set -n main", "continue", "watchpoint set variable counter",
               *["continue"] * 4, "kill")
    got = [(int(a), int(b)) for a, b in re.findall(r"old value: (-?\d+)\s+new value: (-?\d+)", out)]
    gdb_out = native_gdb(exe, "watch counter", *["continue"] * 4)
    expected = [(int(a), int(b)) for a, b in re.findall(r"Old value = (-?\d+)\s+New value = (-?\d+)", gdb_out)]
    assert expected and got == expected, out
    assert stub.wait() == 0
    assert "Traceback" not in stub.stderr()


@pytest.mark.parametrize("hardware", [False, True], ids=["break", "hbreak"])
def test_breakpoint_stops_match_gdb(build_target, serve, hardware):
    exe = build_target("remote_target")
    stub = serve(exe)
    # bump, not add: lldb puts a breakpoint on a one-line function before its prologue, gdb after it
    out = lldb(exe, stub, f"breakpoint set {'-H ' if hardware else ''}-n bump", *["continue"] * 4, "bt",
               "thread list", "kill")
    gdb_out = native_gdb(exe, "hbreak bump" if hardware else "break bump", *["continue"] * 4)
    expected = re.findall(r"bump \(i=(-?\d+)\)", gdb_out)
    # lldb shows a stop and then bt's frames: the stops are the frame lines without a leading "*"
    stops = re.findall(r"stop reason = breakpoint[^\n]*\n\s+frame #0: [^\n]*`bump\(i=(-?\d+)\)", out)
    assert expected == ["0", "1", "2", "3"] and stops == expected, out
    assert re.search(r"frame #1: .*`main", out), out
    assert re.search(r"thread #1: tid = \d+, .*`bump", out), out
    assert stub.wait() == 0


def test_watchpoint_in_a_second_thread(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe)
    out = lldb(exe, stub, "breakpoint set -n main", "continue", "watchpoint set variable by_thread",
               "continue", "thread list", *["continue"] * 3, "kill")
    got = [(int(a), int(b)) for a, b in re.findall(r"old value: (-?\d+)\s+new value: (-?\d+)", out)]
    gdb_out = native_gdb(exe, "watch by_thread", *["continue"] * 3)
    expected = [(int(a), int(b)) for a, b in re.findall(r"Old value = (-?\d+)\s+New value = (-?\d+)", gdb_out)]
    assert expected == [(0, 1), (1, 2), (2, 3)] and got == expected, out
    assert re.search(r"\* thread #2: tid = \d+, .*`worker.*stop reason = watchpoint", out), out
    assert re.search(r"  thread #1: tid = \d+", out), out  # main, waiting in pthread_join
    assert stub.wait() == 0


def test_step_over_in_and_out_stop_where_gdb_does(build_target, serve):
    """lldb's thread step-in/step-out/step-over against gdb's step/finish/next."""
    exe = build_target("remote_target")
    stub = serve(exe)
    out = lldb(exe, stub, "breakpoint set -n bump", "continue", "thread step-in", "thread step-out",
               "thread step-over", "thread step-over", "thread step-in", "kill")
    stops = re.findall(r"stop reason = (?:breakpoint|step in|step out|step over)[^\n]*\n(?:Return value[^\n]*\n)?"
                       r"\s+frame #0: 0x([0-9a-f]+) \S+`(\w+)\(.*at remote_target\.c:(\d+)", out)
    gdb_out = native_gdb(exe, "delete", "break bump", "continue", "step", "finish", "next", "next", "step")
    lines = re.findall(r"^(\d+)\t", gdb_out, re.M)[1:]  # the first is main's, where `run` stopped
    returned_to = re.search(r"^0x([0-9a-f]+) in bump ", gdb_out, re.M)  # where finish returned
    assert len(lines) == 6 and returned_to, gdb_out
    assert [line for _, _, line in stops] == lines, out
    assert [fn for _, fn, _ in stops][:3] == ["bump", "add", "bump"], out
    assert int(stops[2][0], 16) == int(returned_to[1], 16), out  # step-out lands where finish does
    assert stub.wait() == 0
