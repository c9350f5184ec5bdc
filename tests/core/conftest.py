from __future__ import annotations

import contextlib
import ctypes
import os
from dataclasses import dataclass

import pytest

import hwdbg


@pytest.fixture(scope="session")
def core_exe(build_target):
    return build_target("core_target")


@pytest.fixture
def start(core_exe):
    """start(mode, n) -> a Target stopped at ready(), closed at teardown."""
    targets = []

    def _start(mode: str, n: int = 10, **kwargs) -> hwdbg.Target:
        target = hwdbg.spawn([str(core_exe), mode, str(n)], **kwargs)
        targets.append(target)
        target.run_to("ready")
        return target

    yield _start
    for target in targets:
        with contextlib.suppress(Exception):
            target.close()


# Holding debug-register slots of one thread with perf_event_open breakpoints, as another tool would.


SYS_perf_event_open = 298  # x86-64
PERF_TYPE_BREAKPOINT = 5
HW_BREAKPOINT_W = 2
ATTR_SIZE = 72  # PERF_ATTR_SIZE_VER1: enough for bp_type/bp_addr/bp_len
EXCLUDE_KERNEL_HV = (1 << 5) | (1 << 6)

_libc = ctypes.CDLL(None, use_errno=True)


def open_breakpoint(tid: int, addr: int) -> int:
    attr = bytearray(ATTR_SIZE)
    attr[0:4] = PERF_TYPE_BREAKPOINT.to_bytes(4, "little")
    attr[4:8] = ATTR_SIZE.to_bytes(4, "little")
    attr[40:48] = EXCLUDE_KERNEL_HV.to_bytes(8, "little")
    attr[52:56] = HW_BREAKPOINT_W.to_bytes(4, "little")
    attr[56:64] = addr.to_bytes(8, "little")
    attr[64:72] = (8).to_bytes(8, "little")
    buf = (ctypes.c_char * ATTR_SIZE).from_buffer(attr)
    fd = _libc.syscall(SYS_perf_event_open, buf, tid, -1, -1, 0)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


@contextlib.contextmanager
def slots_held(tid: int, addr: int, count=None):
    """Holds ``count`` of the thread's slots (default: every free one) until the block ends."""
    fds = []
    while count is None or len(fds) < count:
        try:
            fds.append(open_breakpoint(tid, addr))
        except OSError:
            if count is not None:
                raise
            break
    try:
        yield fds
    finally:
        for fd in fds:
            os.close(fd)


@pytest.fixture
def hold_slots():
    return slots_held


# A program whose `big` array is page-watched with --kernel from ready() to its exit.


@dataclass
class WatchedRun:
    output: str  # the program's stdout
    hits: list
    base: int  # &big
    pid: int
    redirected: int  # calls made into scratch memory
    lifts: int  # calls made with the pages lifted
    resumed: int  # restart_syscalls that went on with a call made into scratch


def run_watching_big(argv: list[str], kernel_mode: str) -> WatchedRun:
    """Starts argv ("seccomp": under the kernel-write filter, else PTRACE_SYSCALL), watches its
    array `big` (page protection, --kernel) at ready() and runs it to its exit."""
    r, w = os.pipe()
    with hwdbg.spawn(argv, stdout=w, kernel_writes=kernel_mode == "seccomp") as target:
        os.close(w)
        target.run_to("ready")
        bp = target.watch("big", kernel=True)
        assert target.session.breakpoints[bp.id].paged
        base, pid = target.address_of("big"), target.pid
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            output = out.read()
        kernel = target.session.kernel
        return WatchedRun(output, list(bp.hits), base, pid, kernel.scratch.redirected, kernel.lift.lifts,
                          kernel.scratch.resumed)


@pytest.fixture
def watched_run():
    return run_watching_big
