"""A page watch over MAP_SHARED memory. /proc/PID/mem cannot write a read-only shared page (the
kernel refuses a forced write to a shared mapping: EIO), so a system call writing there is not
made into scratch memory: its pages are lifted around it (another thread's write meanwhile is
not trapped). The program's calls neither fail nor lose their bytes, and with --kernel they are
the kernel's hits; another process's write to the shared memory is not seen (it faults in no
traced thread)."""
from __future__ import annotations

import os
import subprocess

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace


@pytest.mark.parametrize("kernel_mode", ["seccomp", "ptrace-syscall"])
def test_calls_into_shared_watched_pages(build_target, kernel_mode):
    exe = build_target("page_shared")
    alone = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    r, w = os.pipe()
    with hwdbg.spawn([str(exe)], stdout=w, kernel_writes=kernel_mode == "seccomp") as target:
        os.close(w)
        target.run_to("ready")
        base = int.from_bytes(target.read_memory(target.address_of("area"), 8), "little")
        bp = target.watch("*area@8192", kernel=True)
        assert target.session.breakpoints[bp.id].paged
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == alone.stdout
        hits = [(h.syscall or h.function, h.changed[0] - base) for h in bp.hits]
        assert hits[0] == ("read", 100) and hits[1][0] in ("fstat", "newfstatat")
        assert hits[2:] == [("own_write", 50)]  # the child's write at 4000 is not seen
        assert target.session.kernel.lift.lifts == 2
        assert target.session.kernel.scratch.redirected == 0
