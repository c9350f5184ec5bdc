"""A signal delivered while a thread's write runs in the page-watch trampoline (an interval
timer every 300 µs, two writing threads): its handler runs after the write, and the handler's
own write to the watched range is a hit too. Every write of the threads and of the handler is
a hit at its own function; the program's output is that of a run without hwdbg."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 1500


def writes_by_function(exe, *mode, timeout, check=lambda session: None):
    """Runs page_signal ROUNDS MODE alone, then with `big` page-watched to its end: its output
    must be the same; returns the session, the handler's count of its writes, and the hits per
    function. ``check(session)``: looked at once the watch is set."""
    argv = [str(exe), str(ROUNDS), *mode]
    alone = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    r, w = os.pipe()
    er, ew = os.pipe()
    with hwdbg.spawn(argv, stdout=w, stderr=ew) as target:
        os.close(w)
        os.close(ew)
        target.run_to("ready")
        bp = target.watch("big", keep=None)
        assert target.session.breakpoints[bp.id].paged
        check(target.session)
        assert isinstance(target.run_until_exit(timeout=timeout), hwdbg.records.Exited)  # starved: a timeout
        with os.fdopen(r) as out:
            assert out.read() == alone.stdout
        with os.fdopen(er) as err:
            handled = int(re.search(r"handled=(\d+)", err.read()).group(1))
        by_function: dict[str, int] = {}
        for h in bp.hits:
            by_function[h.function] = by_function.get(h.function, 0) + 1
        return target.session, handled, by_function


def test_signal_during_trampoline_writes(build_target):
    _, handled, by_function = writes_by_function(build_target("page_signal"), timeout=300)
    assert handled > 0
    assert by_function == {"loop_write": 2 * ROUNDS, "h_write": handled}


def test_a_300us_timer_with_every_system_call_stopping_in_the_c_loop(build_target):
    """One thread, started without the filter (PTRACE_SYSCALL: every call stops twice), its
    faults in the C loop: each SIGALRM's handler writes the array and ends in rt_sigreturn.
    When that call's two stops went through Python, a handler's round took longer than the
    timer's 300 µs, the next SIGALRM was pending whenever it returned, and the loop starved
    (about 30 writes in 3 s). The C loop passes such calls on as the filter would; the run
    ends, every write a hit."""

    def under_ptrace_syscall(session):
        assert session.kernel.mode(session.inferior) == "ptrace-syscall"

    session, handled, by_function = writes_by_function(build_target("page_signal"), "solo", timeout=240,
                                                       check=under_ptrace_syscall)
    assert by_function == {"loop_write": 2 * ROUNDS, "h_write": handled} and handled > 0
    assert session.pagefast.taken > 0 and session.pagefast.passed > 0


KILLED_IN_TRAMPOLINE = textwrap.dedent('''
    import os, signal, sys, hwdbg
    from hwdbg.linux import ptrace as sc
    from hwdbg.process import inject
    target = hwdbg.attach(int(sys.argv[1]))
    target.watch("big")

    def die(inf, tid, *args, **kwargs):  # the thread is sent into the trampoline, then hwdbg dies
        sc.cont(tid)
        os.kill(os.getpid(), signal.SIGKILL)

    inject.run_alone = die
    print("armed", flush=True)
    target.cont(timeout=60)
''')


def test_sigkill_of_hwdbg_while_a_thread_is_in_the_trampoline(build_target):
    """What the man page says: the thread finishes the trampoline untraced (pages lifted, the
    write, pages protected again) and dies of SIGTRAP at its int3, taking the process."""
    exe = build_target("page_signal")
    target = subprocess.Popen([str(exe), "100", "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert int(target.stdout.readline()) == target.pid
        debugger = subprocess.Popen([sys.executable, "-c", KILLED_IN_TRAMPOLINE, str(target.pid)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert debugger.stdout.readline().split() == ["armed"], debugger.stderr.read()
        target.stdin.write("\n")
        target.stdin.flush()
        assert debugger.wait(timeout=120) == -signal.SIGKILL
        assert target.wait(timeout=60) == -signal.SIGTRAP
    finally:
        for proc in (target,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
