"""hwdbg.linux.ptrace's requests through the C library: a refused request is a PtraceError with
the kernel's errno, and the structures it fills have the kernel's layout (checked against a
stopped child's registers and siginfo)."""
from __future__ import annotations

import ctypes
import errno
import os
import signal

import pytest

from hwdbg.errors import PtraceError
from hwdbg.linux import ptrace as sc

pytestmark = pytest.mark.requires_ptrace


def test_a_refused_request_is_a_ptrace_error_with_its_errno():
    with pytest.raises(PtraceError) as info:
        sc.cont(os.getpid())  # not our tracee
    assert info.value.errno == errno.ESRCH and info.value.request == "PTRACE_CONT"
    assert "ESRCH" in str(info.value)


def test_registers_and_siginfo_of_a_seized_child():
    child = os.fork()
    if child == 0:
        while True:
            signal.pause()
    try:
        sc.seize(child, sc.PTRACE_O_EXITKILL)
        os.kill(child, signal.SIGUSR1)  # a signal-delivery stop: kill(2) by us
        _, status = os.waitpid(child, sc.WALL)
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGUSR1
        info = sc.getsiginfo(child)
        assert (info.signo, info.code, info.pid) == (signal.SIGUSR1, sc.SI_USER, os.getpid())
        assert ctypes.sizeof(sc.Regs) == 27 * 8  # struct user_regs_struct
        regs = sc.getregs(child)
        assert regs.cs == 0x33 and regs.ss == 0x2b  # the user code and stack segments of x86-64
        assert regs.rip != 0 and regs.rsp % 8 == 0
        assert len(sc.getfpregs(child)) == sc.FPREGS_SIZE
        regs.rax = 0x1234
        sc.setregs(child, regs)
        assert sc.getregs(child).rax == 0x1234
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
