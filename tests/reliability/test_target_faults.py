"""Faults in the target while breakpoints are armed: each is reported as what it is, the
debugger never hangs, and a new spawn in the same process works afterwards.

Exits (from a non-main thread), crashes (SIGSEGV in the main thread or in a worker while the
others write), SIGKILL from outside (running, stopped, mid-storm of hits), exec from a non-main
thread, fork/vfork storms, thread churn (every new thread armed before it runs: each writes
the watched variable once, hits == threads), a target blocked in pause() (TargetTimeout, and
still usable afterwards).
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import hwdbg

from .helpers import check_registers, env_int, intended_chunks, run_python, thread_ids

pytestmark = pytest.mark.requires_hw_watchpoints

CHURN = (1_000, env_int("CHURN", 10_000))
FORKS = (40, env_int("FORKS", 1_000))


def fresh_spawn_works(exe, rounds: int = 500) -> None:
    """After a fault: a new target in the same process, watched, gives exact hits."""
    with hwdbg.spawn([str(exe), "counter", "0", str(rounds)]) as t:
        t.run_to("ready", timeout=30)
        bp = t.watch("counter")
        assert t.run_until_exit(timeout=60).code == 0
        assert bp.hit_count == rounds


def slot_addr(target, i):
    return target.address_of("slots") + 64 * i + 8


# ------------------------------------------------------------------ exits and crashes

@pytest.mark.timeout(60)
def test_exit_group_from_worker_while_others_write(rel_start, rel_exe, figures):
    rounds = 3_000
    t = rel_start("thread-exit", 4, rounds)
    tids = thread_ids(t, 4)
    exiting = t.watch(slot_addr(t, 0), length=8)
    busy = t.watch(slot_addr(t, 1), length=8)  # written without end by a thread that dies with the rest
    result = t.run_until_exit(timeout=50)
    assert result == hwdbg.Exited(code=7, pid=t.pid or result.pid)
    assert exiting.hit_count == rounds and {h.tid for h in exiting.hits} == {tids[0]}
    assert busy.hit_count > 0 and {h.tid for h in busy.hits} == {tids[1]}
    assert not t.alive
    with pytest.raises(hwdbg.TargetError):
        t.cont()  # one clear error, no hang
    figures.add("faults injected")
    fresh_spawn_works(rel_exe)


@pytest.mark.timeout(60)
def test_segv_stops_then_kills(rel_start, rel_exe, figures):
    t = rel_start("segv")
    counter = t.watch("counter")
    first = t.cont(timeout=10)
    assert isinstance(first, hwdbg.Stopped) and first.reason == "watchpoint" and first.hits[0].id == counter.id
    crash = t.cont(timeout=10)
    assert isinstance(crash, hwdbg.Stopped) and crash.reason == "signal" and crash.signal == "SIGSEGV"
    assert crash.where is not None and crash.where.function == "main"
    check_registers(t, intended_chunks(t))  # still armed while stopped at the crash
    assert t.read_memory(t.address_of("counter"), 8) == (1).to_bytes(8, "little")  # still inspectable
    end = t.cont(timeout=10)
    assert isinstance(end, hwdbg.Killed) and end.signal == "SIGSEGV"
    assert t.exit == end and not t.alive
    figures.add("faults injected")
    fresh_spawn_works(rel_exe)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["cont", "run_until_exit"])
def test_segv_in_worker_while_others_write(rel_start, rel_exe, figures, how):
    rounds = 200
    t = rel_start("crash", 4, rounds)
    tids = thread_ids(t, 4)
    crasher = t.watch(slot_addr(t, 3), length=8)
    if how == "run_until_exit":  # signals are passed on: the program dies as it would alone
        end = t.run_until_exit(timeout=50)
    else:
        while True:
            stop = t.cont(timeout=20)
            if isinstance(stop, hwdbg.Stopped) and stop.reason == "signal":
                break
            assert stop.reason == "watchpoint" and stop.tid == tids[3]
        assert stop.signal == "SIGSEGV" and stop.tid == tids[3]
        check_registers(t, intended_chunks(t))
        end = t.cont(timeout=10)
    assert isinstance(end, hwdbg.Killed) and end.signal == "SIGSEGV"
    assert crasher.hit_count == rounds and {h.tid for h in crasher.hits} == {tids[3]}
    figures.add("faults injected")
    fresh_spawn_works(rel_exe)


# ------------------------------------------------------------------ SIGKILL from outside

@pytest.mark.timeout(60)
@pytest.mark.parametrize("when", ["running", "stopped", "hit-storm"])
def test_sigkill_from_outside(rel_start, rel_exe, figures, when):
    if when == "hit-storm":
        t = rel_start("own", 16, 10_000_000)
        for i, tid in enumerate(thread_ids(t, 4)):
            t.watch(slot_addr(t, i), length=8)
    else:
        t = rel_start("forever", 0, 30)
        t.watch("counter")
    pid = t.pid
    if when == "stopped":
        assert isinstance(t.cont(timeout=10), hwdbg.Stopped)
        os.kill(pid, signal.SIGKILL)
        end = t.cont(timeout=10)
    else:
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            end = t.run_until_exit(timeout=50)
        finally:
            killer.cancel()
    assert end == hwdbg.Killed(signal="SIGKILL", pid=pid, core=False)
    assert not t.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped, not a zombie
    t.close()  # closing a dead target is a no-op
    figures.add("faults injected")
    fresh_spawn_works(rel_exe)


# ------------------------------------------------------------------ exec, fork, thread churn

@pytest.mark.timeout(60)
def test_exec_from_worker_thread_rearms_in_new_image(rel_start, figures):
    """A worker thread execs while three others write: the process keeps one thread (with the
    leader's pid), the watch is re-armed in the new image, every write is counted."""
    rounds = 200
    t = rel_start("thread-exec", 4, rounds)
    counter = t.watch("counter")
    notices = []
    t.session.listeners.append(lambda e: notices.append(e) if isinstance(e, hwdbg.Notice) else None)
    end = t.run_until_exit(timeout=50)
    assert end.code == 0
    assert counter.hit_count == rounds + 3  # rounds before the exec, 3 (exec-child) after
    assert [n.what for n in notices].count("exec") == 1
    after = counter.hits[-3:]
    assert {h.tid for h in after} == {end.pid} and {h.function for h in after} == {"bump"}
    figures.add("faults injected")


@pytest.mark.parametrize("forks", [pytest.param(FORKS[0], marks=pytest.mark.timeout(60), id="short"),
                                   pytest.param(FORKS[1], marks=[pytest.mark.stress, pytest.mark.timeout(1800)],
                                                id="stress")])
def test_fork_and_vfork_storm(rel_start, figures, forks):
    """Forked/vforked children (not traced) write the watched variable 100 times each: they
    inherit no debug register (they would die of SIGTRAP) and report nothing."""
    t = rel_start("forks", forks)
    counter = t.watch("counter")
    assert t.run_until_exit(timeout=1700).code == 0  # 3 = a child did not exit 0
    assert counter.hit_count == forks and {h.tid for h in counter.hits} == {t.exit.pid}
    figures.add("faults injected", forks)


@pytest.mark.parametrize("threads", [pytest.param(CHURN[0], marks=pytest.mark.timeout(60), id="short"),
                                     pytest.param(CHURN[1], marks=[pytest.mark.stress, pytest.mark.timeout(1800)],
                                                  id="stress")])
def test_thread_churn_every_new_thread_is_armed(rel_start, figures, threads):
    t = rel_start("churn", threads)
    churn = t.watch("churn_var")
    created = []
    t.session.listeners.append(lambda e: created.append(e.tid) if getattr(e, "what", "") == "thread-created"
                               else None)
    main = t.pid
    end = t.run_until_exit(timeout=1700)
    assert end.code == 0  # 4: the program's own count differs
    assert len(created) == threads
    assert churn.hit_count == threads  # each thread wrote once, before it could run unarmed
    tally = {}
    for h in churn.hits:
        tally[h.tid] = tally.get(h.tid, 0) + 1
    assert main not in tally and set(tally) <= set(created)
    figures.add("threads traced", threads)
    figures.add("hits checked", threads)


# ------------------------------------------------------------------ a target that stops responding

@pytest.mark.timeout(60)
def test_blocked_target_times_out_and_stays_usable(rel_start, figures):
    t = rel_start("pause")
    counter = t.watch("counter")
    assert isinstance(t.cont(timeout=10), hwdbg.Stopped)  # the write before pause()
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(hwdbg.TargetTimeout) as info:
            t.cont(timeout=0.5)
        assert 0.4 < time.monotonic() - started < 10
        assert "\n" not in str(info.value)
        inf = t.session.inferior
        assert t.alive and inf.all_stopped
        check_registers(t, intended_chunks(t))
        assert t.evaluate("counter") == 1 and t.registers()["rip"]
    os.kill(t.pid, signal.SIGUSR1)  # pending while stopped; delivered when resumed
    stop = t.cont(timeout=10)  # gdb's table: SIGUSR1 stops first, then reaches its handler
    assert isinstance(stop, hwdbg.Stopped) and stop.reason == "signal" and stop.signal == "SIGUSR1"
    stop = t.cont(timeout=10)
    assert isinstance(stop, hwdbg.Stopped) and stop.hits and stop.hits[0].id == counter.id
    assert t.cont(timeout=10).code == 0
    assert counter.hit_count == 2
    figures.add("faults injected", 2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["detach", "close"])
def test_blocked_target_let_go_after_timeout(rel_exe, figures, how):
    # Runs in a subprocess: after detach, the (former) target is this process's own child to wait for.
    code = '''
        import os, signal, sys, hwdbg
        t = hwdbg.spawn([sys.argv[1], "pause"], stdout=open(os.devnull, "w").fileno())
        t.run_to("ready", timeout=10)
        t.watch("counter")
        t.cont(timeout=10)
        try:
            t.cont(timeout=0.5)
            raise SystemExit("no timeout")
        except hwdbg.TargetTimeout:
            pass
        pid = t.pid
        if sys.argv[2] == "detach":
            t.detach()
            os.kill(pid, signal.SIGUSR1)
            _, status = os.waitpid(pid, 0)
            print("exit", os.waitstatus_to_exitcode(status))
        else:
            t.close()
            try:
                os.kill(pid, 0)
                print("still there")
            except ProcessLookupError:
                print("gone")
    '''
    proc = run_python(code, rel_exe, how, timeout=50)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.split() == (["exit", "0"] if how == "detach" else ["gone"])
    figures.add("faults injected")


# ------------------------------------------------------------------ all of it in one interpreter

@pytest.mark.timeout(120)
def test_fault_sequence_in_one_interpreter_leaks_no_traceback(rel_exe, figures):
    """Every fault above, one after another, in one fresh interpreter that then exits:
    nothing on stderr (no traceback, no 'Exception ignored'), exit 0, exact hits at the end."""
    code = '''
        import os, signal, sys, threading, hwdbg
        exe = sys.argv[1]
        def start(*args):
            t = hwdbg.spawn([exe, *map(str, args)], stdout=open(os.devnull, "w").fileno())
            t.run_to("ready", timeout=10)
            return t
        out = []
        t = start("segv"); t.watch("counter")
        out.append([type(t.cont(timeout=20)).__name__ for _ in range(3)])
        t = start("crash", 4, 100); t.watch("slots[3].v")
        out.append(type(t.run_until_exit(timeout=20)).__name__)
        t = start("thread-exit", 4, 100); t.watch("slots[0].v")
        out.append(t.run_until_exit(timeout=20).code)
        t = start("forever", 0, 30); t.watch("counter")
        threading.Timer(0.3, os.kill, (t.pid, signal.SIGKILL)).start()
        out.append(t.run_until_exit(timeout=20).signal)
        t = start("pause"); t.watch("counter"); t.cont(timeout=20)
        try:
            t.cont(timeout=0.3)
        except hwdbg.TargetTimeout:
            out.append("timeout")
        t.close()
        t = start("thread-exec", 4, 10); t.watch("counter")
        out.append(t.run_until_exit(timeout=20).code)
        t = start("churn", 200); bp = t.watch("churn_var")
        t.run_until_exit(timeout=20); out.append(bp.hit_count)
        t = start("pause"); t.watch("counter")  # left armed and stopped: interpreter exit cleans up
        print(out)
    '''
    proc = run_python(code, rel_exe, timeout=110)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == str([["Stopped", "Stopped", "Killed"], "Killed", 7, "SIGKILL", "timeout", 0, 200])
    figures.add("faults injected", 7)


# ------------------------------------------------------------------ timeouts: bugs found

@pytest.mark.timeout(60)
def test_run_until_exit_with_timeout_works_twice(rel_start):
    t = rel_start("pause")
    t.watch("counter")
    with pytest.raises(hwdbg.TargetTimeout):
        t.run_until_exit(timeout=0.5)  # blocked in pause(): a real timeout
    os.kill(t.pid, signal.SIGUSR1)
    assert t.run_until_exit(timeout=10).code == 0  # now it can finish: raises TargetTimeout instead


@pytest.mark.timeout(60)
def test_hit_that_races_the_timeout_is_returned_not_lost(rel_start):
    t = rel_start("forever", 0, 30)  # one write of `counter` per millisecond
    counter = t.watch("counter")
    returned = 0
    for _ in range(400):
        try:
            stop = t.cont(timeout=0.0011)
            returned += sum(1 for h in stop.hits if h.id == counter.id)
        except hwdbg.TargetTimeout:
            pass
    assert returned == counter.hit_count  # every recorded hit was handed to the caller
