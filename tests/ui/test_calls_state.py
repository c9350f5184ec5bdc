"""Inferior calls leave nothing changed: after a call that returned, one refused before it ran,
one that faulted (SIGSEGV, set unwindonsignal on), and once a call that stopped (a breakpoint,
a fault, Ctrl-C) has been run on to its return, every thread's registers and vector state, the
live stack and the program's data read as before, no int3 is left at the entry point, and the
program runs on to exit 0. Python API: Frame.evaluate makes calls too."""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import pytest

import hwdbg
from hwdbg.session import cleanup
from ui_helpers import make_context

pytestmark = pytest.mark.requires_ptrace

SOURCE = Path(__file__).resolve().parents[1] / "targets" / "calls.c"
GLOBALS = ("counter", "origin", "span", "block", "last_double", "last_long", "name")


def _state(session):
    inf = session.require_stopped()
    threads = {}
    for tid in sorted(inf.threads):
        regs = inf.get_regs(tid)
        threads[tid] = (bytes(regs), inf.get_xstate(tid), inf.threads[tid].signal)
    main = inf.get_regs(inf.pid)
    stack = inf.read_memory(main.rsp, 512)
    data = {name: inf.read_memory(session.symbols.lookup(name).addr, 16) for name in GLOBALS}
    entry = session.symbols.executable.image.elf["e_entry"] + session.symbols.executable.bias
    return threads, stack, data, inf.read_raw(entry, 8), session.frames.level


@pytest.fixture
def stopped(build_target):
    exe = build_target("calls")
    ctx, stream = make_context(reraise=False)
    ctx.session.load([str(exe)])
    for line in ("break checkpoint", "run", "up"):
        ctx.dispatch(line)
    stream.truncate(0)
    stream.seek(0)
    yield ctx, stream
    ctx.close()


def _run(ctx, stream, line):
    ctx.dispatch(line)
    text = stream.getvalue()
    stream.truncate(0)
    stream.seek(0)
    return "\n".join(line for line in text.splitlines() if line and not line.startswith("[New Thread"))


@pytest.mark.parametrize("line, expected", [
    ("print add(2, 3)", "$1 = 5"),
    ("print add(x, 3)", "$1 = 10"),
    ("print make_big(3)", "$1 = {v = {3, 4, 5, 6}}"),
    ("print mix(1, 2.5, 0.25, 10) + half(1)", "$1 = 14.25"),
    ("print add(1)", "*** Too few arguments in function call."),
    ("print strlen(name)", "*** 'strlen' has unknown return type; cast the call to its declared return type"),
    ("print origin(1)", "*** Invalid data type for function to be called."),
    ("print crash(0)", "Thread 1 \"calls\" received signal SIGSEGV, Segmentation fault.\n"
                       "*** The program being debugged was signaled while in a function called from GDB.\n"
                       "GDB has restored the context to what it was before the call.\n"
                       "To change this behavior use \"set unwindonsignal off\".\n"
                       "Evaluation of the expression containing the function\n(crash) will be abandoned."),
])
def test_a_call_changes_nothing_it_should_not(stopped, line, expected):
    ctx, stream = stopped
    session = ctx.session
    _run(ctx, stream, "set unwindonsignal on")
    before = _state(session)
    out = _run(ctx, stream, line)
    if line.startswith("print crash"):  # the fault's frame line names a source path: only its first line
        shown = out.splitlines()
        out = "\n".join(shown[:1] + shown[3:])
    assert out == expected
    assert _state(session) == before
    assert _run(ctx, stream, "continue").endswith("exited normally]")
    assert ctx.last_exit.code == 0


def test_a_breakpoint_in_the_called_function_stops_there_until_it_returns(stopped):
    ctx, stream = stopped
    _run(ctx, stream, "break stopper")
    before = _state(ctx.session)
    assert before[-1] == 1  # main is selected
    out = _run(ctx, stream, "print stopper(4) + 1")
    # the program has had a second thread (its worker): gdb names the thread that stopped
    assert out.startswith('Thread 1 "calls" hit Breakpoint 2, stopper (x=4) at '), out
    assert out.endswith("*** The program being debugged stopped while in a function called from GDB.\n"
                        "Evaluation of the expression containing the function\n(stopper) will be abandoned.\n"
                        "When the function is done executing, GDB will silently stop."), out
    assert _run(ctx, stream, "bt 2") == ("#0  stopper (x=4) at " + str(SOURCE) + ":65\n#1  <function called from gdb>\n"
                                         "(More stack frames follow...)")
    # back at the dummy frame: silently, as gdb (the worker thread kept still, to compare its registers)
    for line in ("set scheduler-locking on", "continue", "set scheduler-locking replay"):
        assert _run(ctx, stream, line) == "", line
    assert _state(ctx.session) == (*before[:-1], 0)  # restored; frame 0 selected, as at any stop
    assert _run(ctx, stream, "delete 2") == ""
    assert _run(ctx, stream, "print stopper(4)") == "$1 = 10"
    assert _run(ctx, stream, "continue").endswith("exited normally]")


def test_void_calls_and_the_python_api(build_target):
    exe = build_target("calls")
    with hwdbg.spawn([str(exe)]) as target:
        target.break_at("checkpoint")
        target.cont()
        frame = target.frames()[1]
        assert frame.evaluate("add(x, 1)") == 8
        assert frame.evaluate("make_pair(x, 2)") == {"a": 7, "b": 2}
        assert frame.evaluate("bump(3)") is None
        assert target.evaluate("counter") == 8
        assert target.evaluate("(int)getpid()") == target.pid
        assert ctypes.c_double.from_buffer_copy(target.read_memory(target.address_of("last_double"), 8)).value == 0
        target.run_until_exit()


def _interrupted_call(ctx, stream, line):
    done = threading.Event()

    def interrupt():  # once, when the call runs (a later one would stop the next command)
        while not done.wait(0.05):
            if ctx.session in cleanup.running_sessions:
                ctx.session.interrupt()
                return

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        return _run(ctx, stream, line)  # spins while `spin` is 1: until interrupted
    finally:
        done.set()
        helper.join()


def test_ctrl_c_leaves_the_thread_in_the_call_until_it_returns(stopped):
    ctx, stream = stopped
    before = _state(ctx.session)
    out = _interrupted_call(ctx, stream, "print worker(0)")
    assert out.splitlines()[0] == 'Thread 1 "calls" received signal SIGINT, Interrupt.', out  # gdb: a SIGINT stops it
    assert "*** The program being debugged was signaled while in a function called from GDB.\n" \
           "GDB remains in the frame where the signal was received." in out, out
    frames = _run(ctx, stream, "bt").splitlines()
    assert [f[23:] if "worker" in f else f[4:] for f in frames if "worker" in f or "<function" in f][-2:] == [
        "in worker (arg=0x0) at " + str(SOURCE) + ":73", "<function called from gdb>"], frames
    # only the called thread runs on to the return (the real worker would end on spin = 0)
    for line in ("set scheduler-locking on", "set var spin = 0", "continue", "set var spin = 1",
                 "set scheduler-locking replay"):
        assert _run(ctx, stream, line) == "", line
    assert _state(ctx.session) == (*before[:-1], 0)
    assert _run(ctx, stream, "continue").endswith("exited normally]")


def test_ctrl_c_abandons_the_call_with_unwindonsignal_on(stopped):
    ctx, stream = stopped
    _run(ctx, stream, "set unwindonsignal on")
    before = _state(ctx.session)
    out = _interrupted_call(ctx, stream, "print worker(0)")
    assert out.endswith("*** The program being debugged was signaled while in a function called from GDB.\n"
                        "GDB has restored the context to what it was before the call.\n"
                        "To change this behavior use \"set unwindonsignal off\".\n"
                        "Evaluation of the expression containing the function\n(worker) will be abandoned."), out
    assert _state(ctx.session) == before
    assert _run(ctx, stream, "continue").endswith("exited normally]")


def test_a_call_that_exits_says_so(stopped):
    ctx, stream = stopped
    pid = ctx.session.inferior.pid
    out = _run(ctx, stream, "call exit(3)")
    assert out.splitlines()[-4:] == [
        f"[Inferior 1 (process {pid}) exited with code 03]",
        "*** The program being debugged exited while in a function called from GDB.",
        "Evaluation of the expression containing the function", "(exit) will be abandoned."]
    assert not ctx.session.alive
    assert _run(ctx, stream, "print add(1, 2)") == "*** You can't do that without a process to debug."
