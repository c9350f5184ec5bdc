"""Page watches let go cleanly while threads write the protected pages in a tight loop: after
SIGTERM of hwdbg, after the watch is deleted, after detach. Nothing stays protected and no
SIGSEGV of ours reaches the program (it would die of it), nor our SIGSTOP (it would hang)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

DEBUGGER = textwrap.dedent('''
    import faulthandler, sys, hwdbg
    faulthandler.dump_traceback_later(90, exit=True)  # a hang shows where it waits
    from hwdbg.errors import TargetTimeout
    pid, how = int(sys.argv[1]), sys.argv[2]
    target = hwdbg.attach(pid)
    bp = target.watch("big", keep=100)
    print("armed", flush=True)
    if how == "sigterm":
        target.run_until_exit()  # the test SIGTERMs this debugger while the target faults
    try:
        target.run_until_exit(timeout=0.3)  # stops with faults of the other thread queued
    except TargetTimeout:
        pass
    assert target.session.pages.faults, "the threads wrote big: faults expected"
    # every fault is a write that changes big (the hammer writes a new value at each pass): one
    # hit each, the last 100 kept; but a step our timeout's SIGSTOP ends before the write is
    # not a hit (the write faults again when the thread resumes)
    assert 0 <= target.session.pages.faults - bp.hit_count <= 2, (bp.hit_count, target.session.pages.faults)
    assert len(bp.hits) == min(100, bp.hit_count), (len(bp.hits), bp.hit_count)
    if how == "delete":
        bp.delete()
        try:
            target.run_until_exit(timeout=0.3)  # runs on unwatched: no fault may reach it
        except TargetTimeout:
            pass
    target.detach()
    print("detached", flush=True)
''')


@pytest.fixture(scope="module")
def page_exe(build_target):
    return build_target("page_target")


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def one_round(exe, how: str) -> None:
    proc = subprocess.Popen([str(exe), "hammer"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "looping"
        debugger = subprocess.Popen([sys.executable, "-c", DEBUGGER, str(proc.pid), how], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        assert debugger.stdout.readline().strip() == "armed", debugger.stderr.read()
        if how == "sigterm":
            while state(proc.pid) in ("t", "T"):
                time.sleep(0.001)
            time.sleep(0.05)  # faults under way
            debugger.send_signal(signal.SIGTERM)
        out, err = debugger.communicate(timeout=120)
        assert debugger.returncode == (128 + signal.SIGTERM if how == "sigterm" else 0), err
        assert "Traceback" not in err
        os.kill(proc.pid, signal.SIGUSR1)  # threads stop, main writes big, exits 0
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("how", ["sigterm", "delete", "detach"])
def test_letting_go_while_threads_fault(page_exe, how):
    for _ in range(4):
        one_round(page_exe, how)


@pytest.mark.stress
@pytest.mark.parametrize("how", ["sigterm", "delete", "detach"])
def test_letting_go_while_threads_fault_many_rounds(page_exe, how):
    for _ in range(40):
        one_round(page_exe, how)
