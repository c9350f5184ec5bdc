"""System calls with several buffers, or fixed-size and in/out ones, into page-watched memory
are made into hwdbg's scratch memory too (arch/scratchplan.py): readv/preadv2 get a scratch
iovec array, recvmsg a scratch msghdr, iovec, name and control buffer, select and ppoll a copy
of their fd set or pollfd array, fstat, uname, wait4 ... a scratch struct, process_vm_readv a
scratch local iovec array. The pages stay protected
while the call blocks, so each of the other thread's writes meanwhile is a hit; the program's
output (results, errno, the bytes written) is that of a run without hwdbg; no call lifts
the pages."""
from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 20
MODES = {"readv": "readv", "preadv2": "preadv2", "recvmsg": "recvmsg", "select": None, "ppoll": "ppoll",
         "wait4": "wait4", "recvmmsg": "recvmmsg"}
FIXED = ["newfstatat", "prlimit64", "uname", "getresuid", "pipe2", "process_vm_readv"]  # glibc's fstat, getrlimit


@pytest.fixture(scope="module")
def calls_exe(build_target):
    return build_target("page_block_calls")


@pytest.mark.parametrize("kernel_mode", ["seccomp", "ptrace-syscall"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_blocked_call_keeps_pages_protected(calls_exe, mode, kernel_mode, watched_run):
    alone = subprocess.run([str(calls_exe), mode, str(ROUNDS)], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    run = watched_run([str(calls_exe), mode, str(ROUNDS)], kernel_mode)
    assert run.output == alone.stdout
    # the main thread's writes while the worker blocked (the worker's own set-up writes are hits too)
    assert [(h.function, h.tid, h.changed, h.new) for h in run.hits if h.function == "b_write"] == [
        ("b_write", run.pid, (run.base + 2048 + i, 1), i % 250 + 1) for i in range(ROUNDS)]
    kernel = [h.syscall for h in run.hits if h.syscall]
    blocked = MODES[mode]
    if blocked is not None:
        assert kernel[0] == blocked
    else:
        assert kernel[0] in ("select", "pselect6")
    assert [n for n in FIXED if n not in kernel] == [], kernel
    assert [h.tid for h in run.hits if h.syscall == kernel[0]] != [run.pid]  # the worker's
    assert run.lifts == 0
    assert run.redirected >= 1 + len(FIXED) + 3
