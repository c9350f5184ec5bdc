"""Counting without stopping: perf_event_open breakpoints on every thread (``watch --count``).

The CPU counts matching accesses at native speed; nothing stops. Each counter takes one
of the thread's debug-register slots, as a ptrace breakpoint does, so the allocator
keeps those slots free (``BreakpointManager.reserved``). A thread's counter is opened
before its ptrace slots are armed: a slot whose DRn ptrace ever wrote stays reserved
for ptrace, and perf would be refused (ENOSPC).
"""
from __future__ import annotations

import errno
import os
from typing import Iterable

from ..linux.native import lib
from ..arch import BpType, Chunk
from ..errors import SlotError, UnsupportedError

PERF_BP_TYPES = {BpType.W: 2, BpType.RW: 3, BpType.X: 4}  # HW_BREAKPOINT_W/RW/X
EXEC_LENGTH = 8  # perf wants sizeof(long) for execute breakpoints on x86-64


def _open(tid: int, chunk: Chunk) -> int:
    length = EXEC_LENGTH if chunk.type == BpType.X else chunk.length
    fd = lib.hwdbg_perf_bp_open(tid, chunk.addr, length, PERF_BP_TYPES[chunk.type])
    if fd >= 0:
        return fd
    err = -fd
    if err == errno.ENOSPC:
        raise SlotError(f"no free debug register in thread {tid} to count {chunk}: its slots are taken "
                        "(by watches set earlier in this process, or another tool); add --count watches first")
    if err in (errno.EACCES, errno.EPERM):
        raise UnsupportedError(f"perf refused a counting breakpoint ({errno.errorcode[err]}): see "
                               "kernel.perf_event_paranoid, or run as root; use watch --trace instead")
    raise UnsupportedError(f"this kernel cannot count with perf breakpoints ({errno.errorcode.get(err, err)}: "
                           f"{os.strerror(err)}); use watch --trace instead")


class Counter:
    """One counting breakpoint: a perf fd per (thread, chunk), and the counts of ended threads."""

    def __init__(self, chunks: Iterable[Chunk]) -> None:
        self.chunks = tuple(chunks)
        self.fds: dict[int, list[int]] = {}
        self.finished = 0
        self.missed = 0  # counts the kernel lost with a hit's DR6 bits (see session/causeless.py)

    def add_thread(self, tid: int) -> None:
        opened: list[int] = []
        try:
            for chunk in self.chunks:
                opened.append(_open(tid, chunk))
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        self.fds[tid] = opened

    def remove_thread(self, tid: int) -> None:
        """An ended thread: its count is kept, its fds closed (10,000 threads must not mean 10,000 fds)."""
        for fd in self.fds.pop(tid, []):
            self.finished += _read(fd)
            os.close(fd)

    def total(self) -> int:
        return self.finished + self.missed + sum(_read(fd) for fds in self.fds.values() for fd in fds)

    def close(self) -> None:
        for tid in list(self.fds):
            self.remove_thread(tid)


def _read(fd: int) -> int:
    try:
        return int.from_bytes(os.read(fd, 8), "little")
    except OSError:
        return 0
