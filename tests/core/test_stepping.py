"""Stepping through the API: threads hitting watchpoints while one thread steps (exact counts),
scheduler-locking, Ctrl-C in a long next, bad input, and no internal int3 left behind."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import hwdbg
from hwdbg.session.softstops import SoftStops

pytestmark = pytest.mark.requires_ptrace
SOURCE = Path(__file__).resolve().parents[1] / "targets" / "steps.c"


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(SOURCE.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def steps(build_target):
    exe = build_target("steps")
    targets = []

    def spawn(*args: str) -> hwdbg.Target:
        target = hwdbg.spawn([str(exe), *args], stdout=open(os.devnull, "w"))
        targets.append(target)
        return target

    yield spawn
    for target in targets:
        target.close()


def internal_int3s(target) -> list[int]:
    inf = target.session.inferior
    return [a for a, site in inf.breaks.sites.items() if SoftStops.STEP in site.owners]


def step_main_to_exit(target, main_tid, watches):
    """next in the main thread until the program exits; returns the stops each watch caused."""
    stopped_by = {w.id: 0 for w in watches}
    for _ in range(100_000):
        try:
            result = target.next(tid=main_tid)
        except hwdbg.TargetError as exc:
            if "Cannot find bounds of current function" not in str(exc):
                raise
            # Another thread's hit stopped main where no function is known (a PLT entry, the
            # loader's PLT0): gdb refuses `next` there too; an instruction step moves on.
            result = target.stepi(tid=main_tid)
        if not isinstance(result, hwdbg.Stopped):
            return result, stopped_by
        assert not internal_int3s(target)
        for hit in result.hits:
            if hit.stopped:
                stopped_by[hit.id] += 1
        assert result.reason in ("step", "watchpoint"), result
    raise AssertionError("the program did not end")


@pytest.mark.requires_hw_watchpoints
def test_other_threads_hit_traced_watches_while_main_steps(steps):
    t = steps("threads")
    t.break_at(f"steps.c:{line_of('/* go */')}")
    assert t.cont().reason == "breakpoint"
    main_tid = t.pid
    w1 = t.watch("w1", length=8)
    w2 = t.watch("w2", length=8)
    with t.session.tracing():  # hits are recorded, the steps go on
        exit_, stopped_by = step_main_to_exit(t, main_tid, [w1, w2])
    assert exit_.code == 0
    assert stopped_by == {w1.id: 0, w2.id: 0}
    # Each worker wrote 1..1000 after the watches were set: every write is one hit.
    assert [h.new for h in w1.hits] == [h.new for h in w2.hits] == list(range(1, 1001))


@pytest.mark.requires_hw_watchpoints
def test_watch_hits_in_other_threads_end_the_step_and_each_is_reported_once(steps):
    t = steps("threads")
    t.break_at(f"steps.c:{line_of('/* go */')}")
    t.cont()
    w2 = t.watch("w2", length=8)
    exit_, stopped_by = step_main_to_exit(t, t.pid, [w2])
    assert exit_.code == 0
    assert stopped_by[w2.id] == w2.hit_count == 1000
    assert [h.new for h in w2.hits] == list(range(1, 1001))


@pytest.mark.requires_hw_watchpoints
def test_scheduler_locking_step_keeps_the_other_threads_stopped(steps):
    t = steps("threads")
    t.break_at(f"steps.c:{line_of('/* go */')}")
    t.cont()
    w1 = t.watch("w1", length=8)
    w2 = t.watch("w2", length=8)
    t.session.scheduler_locking = "step"
    with t.session.tracing():
        for _ in range(20):
            assert t.next(tid=t.pid).reason == "step"
        assert w1.hit_count == w2.hit_count == 0  # the workers did not run
        t.session.scheduler_locking = "off"
        assert t.cont().code == 0
    assert [h.new for h in w1.hits] == [h.new for h in w2.hits] == list(range(1, 1001))


def test_finish_values_and_frames(steps):
    t = steps()
    t.break_at("make_mixed")
    bp = t.break_at("fact")
    t.cont()
    stop, value = t.finish()
    assert stop.reason == "finish" and stop.where.function == "main" and value == "{x = 1.5, n = 7}"
    assert [t.cont().where.function for _ in range(3)] == ["fact"] * 3  # in fact(3)
    bp.delete()
    stop, value = t.finish()
    assert (stop.reason, stop.where.function, value) == ("finish", "fact", "6")  # back in fact(4)
    assert t.next().where.line == line_of("return n * fact(n - 1);") + 1


def test_bad_input_is_one_clean_error_and_changes_nothing(steps, build_target):
    t = steps()
    t.break_at("main")
    t.cont()
    pc = t.registers()["rip"]
    with pytest.raises(hwdbg.HwdbgError, match='"finish" not meaningful in the outermost frame.'):
        t.finish()
    with pytest.raises(hwdbg.SymbolError):
        t.advance("no_such_function")
    with pytest.raises(hwdbg.HwdbgError):
        t.until("steps.c:99999")
    assert t.registers()["rip"] == pc and not internal_int3s(t)
    assert t.next().reason == "step"


def interrupted(t, action, after=1.0):
    timer = threading.Timer(after, t.interrupt)
    timer.start()
    try:
        return action()
    finally:
        timer.join()


def _user_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[11])  # utime: field 14


def interrupted_in_its_code(t, action, seconds=0.2):
    """Interrupts once the target has run its own code for ``seconds`` of CPU: a fixed delay
    could end before a loaded machine has even resumed it (then it stops where it was)."""
    start, done = _user_ticks(t.pid), threading.Event()

    def watch():
        while not done.is_set() and _user_ticks(t.pid) - start < seconds * os.sysconf("SC_CLK_TCK"):
            time.sleep(0.01)
        if not done.is_set():
            t.interrupt()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        return action()
    finally:
        done.set()
        watcher.join()


def test_ctrl_c_interrupts_a_long_finish_and_next_and_leaves_no_int3(steps):
    t = steps("long", str(10**11))
    t.break_at("busy")
    t.cont()
    ret = t.session.stepper._frames(t.pid, 2)[1][0]  # where finish puts its int3
    stop, value = interrupted_in_its_code(t, t.finish)  # inside the loop: its line is known
    assert (stop.reason, stop.where.function, value) == ("interrupted", "busy", None)
    assert not internal_int3s(t)
    inf = t.session.inferior
    assert inf.read_raw(ret, 1) == inf.read_memory(ret, 1)  # the original byte is back
    assert stop.where.line == line_of("for (long i = 0; i < n; i++) t += i ^ shared;")
    stop = interrupted(t, t.next)  # one line, a whole loop: stepped instruction by instruction
    assert (stop.reason, stop.where.function) == ("interrupted", "busy")
    assert not internal_int3s(t)


def test_detach_after_an_interrupted_step_lets_the_program_end_normally(steps, build_target):
    t = steps("long", str(3 * 10**8))
    t.break_at("busy")
    t.cont()
    stop, _ = interrupted(t, t.finish, 0.3)
    pid = t.pid
    t.detach()
    if isinstance(stop, hwdbg.Stopped):
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status  # no int3 left to kill it


def test_no_process(steps):
    t = steps()
    t.kill()
    with pytest.raises(hwdbg.HwdbgError):
        t.next()
