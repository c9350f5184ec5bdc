"""poll, nanosleep and clock_nanosleep with their pointers in page-watched memory are made into
hwdbg's scratch memory too, though the kernel may go on with them as restart_syscall through the
pointer it saved (interrupted with no handler to run: SIGSTOP/SIGCONT, or hwdbg's own stops
while the other thread's writes are handled): the scratch area stays theirs until the
restarted call ends, and what the kernel wrote there (the time left when a SIGALRM handler
ends the call, poll's revents) reaches the program's buffer. The program's output is that of
a run without hwdbg; each of the other thread's writes during the block is a hit; no call
lifts the pages."""
from __future__ import annotations

import os
import subprocess

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 10


@pytest.fixture(scope="module")
def sleep_exe(build_target):
    return build_target("page_block_sleep")


@pytest.mark.parametrize("how", ["alarm", "stop"])
@pytest.mark.parametrize("kernel_mode", ["seccomp", "ptrace-syscall"])
@pytest.mark.parametrize("call", ["poll", "nanosleep", "clock_nanosleep"])
def test_restarted_call_writes_through_scratch(sleep_exe, call, kernel_mode, how, watched_run):
    argv = [str(sleep_exe), call, str(ROUNDS)] + (["stop"] if how == "stop" else [])
    alone = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    run = watched_run(argv, kernel_mode)
    assert run.output == alone.stdout
    writes = ROUNDS * (2 if call == "poll" else 1)
    assert [(h.function, h.tid, h.changed) for h in run.hits if h.function == "b_write"] == [
        ("b_write", run.pid, (run.base + 2048 + i, 1)) for i in range(writes)]
    kernel = [(h.syscall, h.syscall_result) for h in run.hits if h.syscall == call]
    # the time left / revents written when the handler ended the call; poll's data after that
    assert kernel[0][1] in (-4, -516) and all(h.tid != run.pid for h in run.hits if h.syscall == call)
    if call == "poll":
        assert kernel[-1] == ("poll", 1)
        assert run.base + 1300 + 6 in [h.changed[0] for h in run.hits if h.syscall == call]
    else:
        left = [h for h in run.hits if h.syscall == call]
        assert left and all(run.base + 1400 <= h.changed[0] < run.base + 1416 for h in left)
    assert run.lifts == 0
    assert run.redirected >= 1
    assert run.resumed >= (1 if how == "stop" else 0)


@pytest.mark.parametrize("kernel_mode", ["seccomp", "ptrace-syscall"])
@pytest.mark.parametrize("call", ["poll", "nanosleep", "clock_nanosleep"])
def test_restarted_call_into_shared_pages_is_lifted_again(sleep_exe, call, kernel_mode):
    """MAP_SHARED: the call is made with its pages lifted (not in scratch memory) and they are
    protected again at its exit. Stopped and continued, it goes on as restart_syscall through
    the pointer the kernel saved: lifted again there, or the kernel's write (SIGCONT ends the
    restarted sleep early, poll's revents, the time left when the handler ends it) failed with
    EFAULT. The mprotect injected at an exit runs with the other threads stopped: the main
    thread, returning from syscall() into the bytes it replaced, ran it and died of SIGILL."""
    argv = [str(sleep_exe), call, str(ROUNDS), "stop", "shared"]
    alone = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    r, w = os.pipe()
    with hwdbg.spawn(argv, stdout=w, kernel_writes=kernel_mode == "seccomp") as target:
        os.close(w)
        target.run_to("ready")
        pid = target.pid
        base = int.from_bytes(target.read_memory(target.address_of("area"), 8), "little")
        bp = target.watch("*area@65536", kernel=True)
        assert target.session.breakpoints[bp.id].paged
        end = target.run_until_exit(timeout=120)
        with os.fdopen(r) as out:
            assert (end, out.read()) == (hwdbg.records.Exited(code=0, pid=pid), alone.stdout)
        kernel = target.session.kernel
        assert kernel.scratch.redirected == 0 and kernel.lift.lifts >= 2  # the call's entry, its restart
        found = [(h.syscall, h.changed[0] - base) for h in bp.hits if h.syscall == call]
    if call == "poll":
        assert ("poll", 1300 + 6) in found  # revents
    else:
        assert found and all(1400 <= at < 1416 for _, at in found)  # the time left
