"""System calls with several buffers, or fixed-size and in/out ones, into page-watched memory
are made into hwdbg's scratch memory too (arch/scratchplan.py): readv/preadv2 get a scratch
iovec array, recvmsg a scratch msghdr, iovec, name and control buffer, select and ppoll a copy
of their fd set or pollfd array, fstat, uname, wait4 ... a scratch struct. The pages stay protected
while the call blocks, so each of the other thread's writes meanwhile is a hit; the program's
output (results, errno, the bytes written) is that of a run without hwdbg; no call lifts
the pages."""
from __future__ import annotations

import os
import subprocess

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 20
MODES = {"readv": "readv", "preadv2": "preadv2", "recvmsg": "recvmsg", "select": None, "ppoll": "ppoll",
         "wait4": "wait4", "recvmmsg": "recvmmsg"}
FIXED = ["newfstatat", "prlimit64", "uname", "getresuid", "pipe2"]  # glibc's fstat, getrlimit


@pytest.fixture(scope="module")
def calls_exe(build_target):
    return build_target("page_block_calls")


@pytest.mark.parametrize("kernel_mode", ["seccomp", "ptrace-syscall"])
@pytest.mark.parametrize("mode", sorted(MODES))
def test_blocked_call_keeps_pages_protected(calls_exe, mode, kernel_mode):
    alone = subprocess.run([str(calls_exe), mode, str(ROUNDS)], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    r, w = os.pipe()
    with hwdbg.spawn([str(calls_exe), mode, str(ROUNDS)], stdout=w,
                     kernel_writes=kernel_mode == "seccomp") as target:
        os.close(w)
        target.run_to("ready")
        bp = target.watch("big", kernel=True)
        assert target.session.breakpoints[bp.id].paged
        base, pid = target.address_of("big"), target.pid
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == alone.stdout
        hits = bp.hits
        # the main thread's writes while the worker blocked (the worker's own set-up writes are hits too)
        assert [(h.function, h.tid, h.changed, h.new) for h in hits if h.function == "b_write"] == [
            ("b_write", pid, (base + 2048 + i, 1), i % 250 + 1) for i in range(ROUNDS)]
        kernel = [h.syscall for h in hits if h.syscall]
        blocked = MODES[mode]
        if blocked is not None:
            assert kernel[0] == blocked
        else:
            assert kernel[0] in ("select", "pselect6")
        assert [n for n in FIXED if n not in kernel] == [], kernel
        assert [h.tid for h in hits if h.syscall == kernel[0]] != [pid]  # the worker's
        assert target.session.kernel.lift.lifts == 0
        assert target.session.kernel.scratch.redirected >= 1 + len(FIXED) + 3
