"""poll, nanosleep and clock_nanosleep with their pointers in page-watched memory are made into
hwdbg's scratch memory too, though the kernel may go on with them as restart_syscall through the
pointer it saved (interrupted with no handler to run: SIGSTOP/SIGCONT, or hwdbg's own stops
while the other thread's writes are handled): the scratch area stays theirs until the
restarted call ends, and what the kernel wrote there (the time left when a SIGALRM handler
ends the call, poll's revents) reaches the program's buffer. The program's output is that of
a run without hwdbg; each of the other thread's writes during the block is a hit; no call
lifts the pages."""
from __future__ import annotations

import subprocess

import pytest

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
