"""Faults in the debugger's own input at hit time: conditions that cannot be evaluated.

(Exceptions in on_hit callbacks, signals to the debugger, its exit and SIGKILL are covered by
tests/core/test_exit_paths.py; a closed stdout pipe is in test_cli_reliability.py.)

A condition that references an unknown symbol, divides by zero, shifts out of range or reads
unmapped memory is accepted when set (it is only parsed then) and fails at each hit: the
failure is reported as one ``error`` Notice naming the breakpoint, the target stops there (as
gdb does), and nothing crashes; run_until_exit records those hits and goes on to the exit.
"""
from __future__ import annotations

import subprocess
import time

import pytest

import hwdbg

from .helpers import last_json, run_python

pytestmark = pytest.mark.requires_hw_watchpoints

BAD_CONDITIONS = ["nosuch_symbol > 1", "new / 0", "old % 0", "1 << 99", "*(int *)0 == 1", "$nosuch_register",
                  "counter.field", "libnosuch.so:x == 1"]


def errors_of(target):
    notices = []
    target.session.listeners.append(
        lambda e: notices.append(e) if isinstance(e, hwdbg.Notice) and e.what == "error" else None)
    return notices


@pytest.mark.timeout(60)
@pytest.mark.parametrize("condition", BAD_CONDITIONS)
def test_condition_error_at_hit_time_stops_and_is_reported(rel_start, figures, condition):
    t = rel_start("counter", 0, 5)
    errors = errors_of(t)
    bp = t.watch("counter", condition=condition)
    for n in range(1, 3):
        stop = t.cont(timeout=10)
        assert isinstance(stop, hwdbg.Stopped) and stop.reason == "watchpoint"
        assert [h.id for h in stop.hits] == [bp.id] and stop.hits[0].new == n
        assert len(errors) == n
        message = errors[-1].message
        assert f"breakpoint {bp.id}" in message and condition in message and "\n" not in message
    bp.delete()
    assert t.cont(timeout=10).code == 0
    figures.add("malformed inputs tried")


@pytest.mark.timeout(60)
def test_condition_errors_in_run_until_exit(rel_start, figures):
    """10 / (new % 3) == 5: true when new % 3 == 2, false when 1, an error (division by zero) when
    0. Tracing records the true and the failed ones, skips the false ones, and reaches the exit."""
    n = 3_000
    t = rel_start("counter", 0, n)
    errors = errors_of(t)
    bp = t.watch("counter", condition="10 / (new % 3) == 5")
    assert t.run_until_exit(timeout=50).code == 0
    assert [h.new for h in bp.hits] == [v for v in range(1, n + 1) if v % 3 != 1]
    assert len(errors) == n // 3
    assert all("division by zero" in e.message for e in errors)
    figures.add("hits checked", bp.hit_count)
    figures.add("malformed inputs tried", len(errors))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("condition,rounds", [("new / 0", 2_000), ("nosuch > 0", 50)])
def test_condition_error_in_one_thread_while_others_write(rel_start, figures, condition, rounds):
    """Four threads; a failing condition on one thread's variable, a plain watch on another's:
    errors are reported per hit and the plain watch still counts exactly. (An unknown symbol
    costs far more per hit than the other errors: its time per hit is reported as a figure.)"""
    t = rel_start("own", 4, rounds)
    errors = errors_of(t)
    base = t.address_of("slots") + 8
    failing = t.watch(base, length=8, condition=condition)
    plain = t.watch(base + 64, length=8)
    started = time.monotonic()
    assert t.run_until_exit(timeout=50).code == 0
    per_hit = (time.monotonic() - started) / (2 * rounds)
    assert failing.hit_count == rounds and plain.hit_count == rounds and len(errors) == rounds
    figures.add("hits checked", 2 * rounds)
    figures.note(f"time per hit with a failing condition `{condition}` (4 threads)", f"{per_hit * 1e3:.2f} ms")


@pytest.mark.timeout(60)
def test_condition_error_message_is_one_line_even_with_a_newline_in_the_condition(rel_start):
    t = rel_start("counter", 0, 3)
    errors = errors_of(t)
    t.watch("counter", condition="new >\n nosuch")
    assert isinstance(t.cont(timeout=10), hwdbg.Stopped)
    assert len(errors) == 1 and "\n" not in errors[0].message


# ------------------------------------------------------------------ a listener that raises (the CLI's
# output is a listener: a closed stdout pipe raises BrokenPipeError from inside the hit loop)

LISTENER_RAISES = '''
    import json, sys, hwdbg
    exe, mode, raise_at, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t = hwdbg.spawn([exe, mode, "0", str(rounds)])
    t.run_to("ready", timeout=10)
    bp = t.watch("counter")
    def listener(event):
        if isinstance(event, hwdbg.Hit) and event.new == raise_at:
            raise BrokenPipeError("the listener's pipe is closed")
    t.session.listeners.append(listener)
    try:
        t.run_until_exit(timeout=20)
    except BrokenPipeError:
        pass
    t.session.listeners.remove(listener)
    end = t.run_until_exit(timeout=20)
    print(json.dumps({"end": end.to_json(), "hits": bp.hit_count}))
'''


def run_listener_case(exe, mode, raise_at, rounds, timeout=60):
    try:
        proc = run_python(LISTENER_RAISES, exe, mode, raise_at, rounds, timeout=timeout)  # < 1 s when it works; the timeout catches a hang
    except subprocess.TimeoutExpired:  # the spawned target dies with the debugger (PTRACE_O_EXITKILL)
        pytest.fail("the debugger hung after the listener raised")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return last_json(proc.stdout)


@pytest.mark.timeout(60)
def test_listener_exception_before_a_signal_does_not_hang(rel_exe, figures):
    """(Found hanging forever: the stop the C fast loop returned along with its buffered hits was
    dropped when a listener raised while they were published; cont()'s cleanup then waited for it.)"""
    out = run_listener_case(rel_exe, "burst-signal", 100, 100)  # raises on the last hit before raise()
    assert out["end"]["code"] == 0 and out["hits"] == 200
    figures.add("faults injected")


@pytest.mark.timeout(60)
def test_listener_exception_in_the_last_burst_keeps_the_programs_end(rel_exe):
    """(Found by helper pinspeed: raised among the last hits, the exit read with them was queued
    again, but the process counted as gone, so the next run said "the program is not being run".)"""
    out = run_listener_case(rel_exe, "counter", 1_200, 1_500)
    assert out["end"]["code"] == 0 and out["hits"] == 1_500


@pytest.mark.timeout(60)
def test_listener_exception_loses_no_buffered_hit(rel_exe):
    out = run_listener_case(rel_exe, "counter", 5, 5_000)
    assert out["end"]["code"] == 0 and out["hits"] == 5_000
