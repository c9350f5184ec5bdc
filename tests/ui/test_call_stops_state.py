"""A thread left inside a called function (gdb's dummy frame) comes back exactly: once the
function returns to the dummy frame (continue, finish, step), the registers, the stack and the
globals read as before the call in gdb, and in hwdbg (every register, the XSAVE area too); and
whichever way hwdbg lets go of the process meanwhile (detach; close, what quit, SIGTERM and
interpreter exit do with an attached process), no int3 is left at the entry point and the
program runs on from before the call: it prints what it computes without a debugger and exits 0."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from ui_helpers import make_context

pytestmark = pytest.mark.requires_ptrace

OUTPUT = "19 7 12.5 0"  # counter, x, big, last_ld when main ends (tests/targets/call_stops.c)
LOOK = ["info registers rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags",
        "x/24gx $sp", "print counter", "print last_ld"]


def _history_free(text: str) -> str:
    return re.sub(r"^\$\d+ = ", "", text)


@needs_gdb
@pytest.mark.parametrize("calls, back", [
    (["print stopper(4)"], ["continue"]), (["print stopper(4)"], ["finish"]), (["print stopper(4)"], ["step"]),
    (["print stopper(4)"], ["next"]), (["print crash(0)", "set unwindonsignal on", "print crash(0)"], []),
    (["print twice(1)", "print stopper(9)"], ["delete", "continue", "continue"]),
])
def test_the_return_to_the_dummy_frame_restores_as_in_gdb(build_target, calls, back):
    exe = build_target("call_stops")
    shim = build_target("gdb_xstate_shim", shared=True)
    if not back:  # a fault left in place, then one unwound: the state is the first call's
        commands = ["break checkpoint", "run", "break stopper", calls[0], *LOOK, *calls[1:], *LOOK]
    else:
        commands = ["break checkpoint", "run", *LOOK, "break stopper", *calls, *back, *LOOK]
    gdb = gdb_outputs(exe, commands, preload=shim)
    ours = hwdbg_outputs(exe, commands)
    n = len(LOOK)
    start = commands.index(LOOK[0])
    for outputs in (gdb, ours):
        assert [_history_free(o) for o in outputs[start:start + n]] == [_history_free(o) for o in outputs[-n:]], \
            (calls, back, outputs)
    stops = [i for i, c in enumerate(commands) if c in calls and c.startswith("print")]
    for i in stops:
        assert ours[i].splitlines()[-1] == gdb[i].splitlines()[-1], (commands[i], gdb[i], ours[i])
    if back and back[-1] == "continue":
        assert ours[-n - 1] == gdb[-n - 1] == ""  # the silent stop


def test_every_register_comes_back(build_target):
    exe = build_target("call_stops")
    ctx, stream = make_context(reraise=False)
    try:
        ctx.session.load([str(exe)])
        for line in ("break checkpoint", "run", "break stopper"):
            ctx.dispatch(line)
        inf = ctx.session.require_stopped()
        before = bytes(inf.get_regs(inf.pid)), inf.get_xstate(inf.pid)
        for line in ("print stopper(4)", "print stopper(5)", "finish", "continue"):
            ctx.dispatch(line)
        inf = ctx.session.require_stopped()
        assert (bytes(inf.get_regs(inf.pid)), inf.get_xstate(inf.pid)) == before, stream.getvalue()
        assert not ctx.session.dummies.frames
        entry = ctx.session.symbols.executable.image.elf["e_entry"]
        assert inf.read_raw(entry, 1) == inf.read_memory(entry, 1) != b"\xcc"
    finally:
        ctx.close()


@pytest.mark.parametrize("parked", [["print stopper(4)"], ["print twice(1)", "print stopper(9)", "print crash(0)"]])
def test_detach_lets_the_program_run_on_from_before_the_call(build_target, parked):
    exe = build_target("call_stops")
    ctx, stream = make_context(reraise=False)
    read, write = os.pipe()
    try:
        ctx.session.load([str(exe)])
        ctx.session.spawn(stdout=write)
        pid = ctx.session.inferior.pid
        for line in ("break checkpoint", "continue", "break stopper", *parked, "detach"):
            ctx.dispatch(line)
        assert "<function called from gdb>" not in stream.getvalue()
        assert stream.getvalue().rstrip().endswith(f"[Inferior 1 (process {pid}) detached]"), stream.getvalue()
        os.close(write)
        write = -1
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read) as out:
            read = -1
            assert out.read().splitlines() == [OUTPUT]
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        for fd in (read, write):
            if fd >= 0:
                os.close(fd)
        ctx.close()


def test_letting_go_of_an_attached_program_in_a_call(build_target):
    """close() is what quit, SIGINT/SIGTERM/SIGHUP of hwdbg and its interpreter exit do with an
    attached process (session/cleanup.py)."""
    exe = build_target("call_stops")
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "CALL_STOPS_WAIT": "1"})
    ctx, stream = make_context(reraise=False)
    try:
        assert proc.stdout.readline() == "ready\n"
        for line in (f"attach {proc.pid}", "break checkpoint", "break stopper"):
            ctx.dispatch(line)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        for line in ("continue", "print stopper(4)", "bt"):
            ctx.dispatch(line)
        assert "#1  <function called from gdb>" in stream.getvalue(), stream.getvalue()
        ctx.close()
        assert proc.stdout.read().splitlines() == [OUTPUT]
        assert proc.wait(timeout=60) == 0
    finally:
        ctx.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_json_names_the_dummy_frame_and_the_return_to_it(build_target):
    exe = build_target("call_stops")
    ctx, stream = make_context(json_output=True, reraise=False)
    try:
        ctx.session.load([str(exe)])
        for line in ("break checkpoint", "run", "break stopper", "print stopper(3)", "bt", "continue"):
            ctx.dispatch(line)
        events = [json.loads(line) for line in stream.getvalue().splitlines()]
        error = next(e for e in events if e["event"] == "error")
        assert error["kind"] == "CallStopped" and "(stopper) will be abandoned." in error["message"]
        frames = next(e for e in events if e.get("command") == "backtrace")["frames"]
        assert [f["function"] for f in frames[:3]] == ["stopper", "<function called from gdb>", "checkpoint"]
        assert events[-1]["event"] == "stopped" and events[-1]["reason"] == "call-return"
        assert events[-1]["function"] == "checkpoint"
    finally:
        ctx.close()


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_hwdbg_during_a_call_lets_the_attached_program_run_on(build_target, signo):
    """hwdbg (the command, attached) gets SIGTERM or SIGINT while a called function spins:
    the call is abandoned, the thread restored, and the program runs on from before it."""
    exe = build_target("call_stops")
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "CALL_STOPS_WAIT": "1"})
    debugger = None
    try:
        assert proc.stdout.readline() == "ready\n"
        debugger = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "hwdbg", "--batch", "-p", str(proc.pid),
             "-ex", "break checkpoint", "-ex", "continue", "-ex", "echo calling\\n", "-ex", "print spinner()"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert debugger.stdout.readline().startswith("Attaching to process")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        seen = []
        while not seen or seen[-1] != "calling\n":
            seen.append(debugger.stdout.readline())
            assert seen[-1], seen  # hwdbg ended early
        time.sleep(0.3)  # the call runs (its outcome is the same if it has not started yet)
        debugger.send_signal(signo)
        try:
            debugger.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a hang: where every thread of hwdbg is (faulthandler)
            debugger.send_signal(signal.SIGABRT)
            pytest.fail("hwdbg did not end after the signal:\n" + "".join(seen) + debugger.communicate(timeout=30)[0])
        assert proc.stdout.read().splitlines() == [OUTPUT]
        assert proc.wait(timeout=60) == 0
    finally:
        for p in (debugger, proc):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
