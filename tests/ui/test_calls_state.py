"""Inferior calls leave nothing changed: after a call that returned, one refused before it ran,
one that faulted (SIGSEGV) and one that hit a breakpoint, every thread's registers and vector
state, the live stack and the program's data read as before, no int3 is left at the entry
point, and the program runs on to exit 0. Python API: Frame.evaluate makes calls too."""
from __future__ import annotations

import ctypes
import threading

import pytest

import hwdbg
from hwdbg.session import cleanup
from ui_helpers import make_context

pytestmark = pytest.mark.requires_ptrace

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
    ("print crash(0)", "*** The program being debugged was signaled (SIGSEGV) while in a function called from "
                       "hwdbg. hwdbg has restored the context to what it was before the call. Evaluation of the "
                       "expression containing the function (crash) will be abandoned."),
])
def test_a_call_changes_nothing_it_should_not(stopped, line, expected):
    ctx, stream = stopped
    session = ctx.session
    before = _state(session)
    assert _run(ctx, stream, line) == expected
    assert _state(session) == before
    assert _run(ctx, stream, "continue").endswith("exited normally]")
    assert ctx.last_exit.code == 0


def test_a_breakpoint_in_the_called_function_abandons_the_call(stopped):
    ctx, stream = stopped
    _run(ctx, stream, "break stopper")
    before = _state(ctx.session)
    assert before[-1] == 1  # main is selected, and still is after the call
    out = _run(ctx, stream, "print stopper(4) + 1")
    assert out.startswith("*** The program being debugged stopped (breakpoint) while in a function called from "
                          "hwdbg. hwdbg has restored"), out
    assert out.endswith("(stopper) will be abandoned.")
    assert _state(ctx.session) == before
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


def test_ctrl_c_abandons_a_call_that_does_not_return(stopped):
    ctx, stream = stopped
    before = _state(ctx.session)
    done = threading.Event()

    def interrupt():  # once, when the call runs (a later one would stop the next command)
        while not done.wait(0.05):
            if ctx.session in cleanup.running_sessions:
                ctx.session.interrupt()
                return

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        out = _run(ctx, stream, "print worker(0)")  # spins while `spin` is 1: until interrupted
    finally:
        done.set()
        helper.join()
    assert out.startswith("*** The program being debugged stopped (interrupted) while in a function called"), out
    assert _state(ctx.session) == before
    assert _run(ctx, stream, "continue").endswith("exited normally]")


def test_a_call_that_exits_says_so(stopped):
    ctx, stream = stopped
    out = _run(ctx, stream, "call exit(3)")
    assert out.splitlines()[-1] == ("*** The program being debugged exited (code 3) while in a function called from "
                                    "hwdbg. Evaluation of the expression containing the function (exit) will be "
                                    "abandoned.")
    assert not ctx.session.alive
    assert _run(ctx, stream, "print add(1, 2)") == "*** You can't do that without a process to debug."
