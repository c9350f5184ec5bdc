"""Tracing without stopping (``watch --no-stop``): sampled perf breakpoints into mmap rings.

Each access the CPU traps becomes a record (pc, tid, time, optionally the user call chain)
that the kernel writes into a ring buffer mapped into hwdbg; the target never stops and
never waits for hwdbg. The events belong to hwdbg's file descriptors: if hwdbg dies, the
kernel closes them and the target runs on with nothing armed.

One event per (thread, chunk), opened on the thread itself (``pid = tid, cpu = -1``), no
``inherit``: the kernel refuses to mmap an inherited per-task event (an inherited ring
needs one event per CPU, and even then the threads that exist before the open need their
own events). ptrace already stops every new thread at its first instruction (clone
events), so its events are opened there, before it runs: no access is missed and every
thread has its own exact lost-record count. The chunks of one thread share its first
chunk's ring (PERF_EVENT_IOC_SET_OUTPUT; the kernel allows it within one task only).

Each event takes one of the thread's debug-register slots, as a ptrace breakpoint does
(the caller keeps them free of ptrace); the ring is read in C (``hwdbg_ring_read``).
"""
from __future__ import annotations

import errno
import fcntl
import os
import resource
from typing import Iterable, Optional

from ..arch import BpType, Chunk
from ..errors import SlotError, UnsupportedError
from ..linux.native import ffi, lib
from ..recordtype import record

PERF_BP_TYPES = {BpType.W: 2, BpType.RW: 3, BpType.X: 4}  # HW_BREAKPOINT_W/RW/X
EXEC_LENGTH = 8  # perf wants sizeof(long) for execute breakpoints on x86-64
PAGES = 512  # data pages per thread's ring (2 MiB: ~65,000 records, ~1 s at the floor rate)
BATCH = 4096  # records decoded per C call
MAX_IPS = 64 * BATCH  # call-chain entries per C call
PERF_EVENT_IOC_ENABLE = 0x2400


@record(frozen=True)
class Sample:
    tid: int
    pc: int  # the ip the kernel recorded: after the access for data, the instruction for execute
    time: int  # perf clock, ns
    callchain: Optional[tuple[int, ...]]  # user return addresses, innermost first (with --backtrace)


class PerfSlotsBusy(SlotError):
    """perf_event_open said ENOSPC: every debug register of the thread is held."""

    def __init__(self, tid: int) -> None:
        super().__init__(f"no free debug register in thread {tid}")
        self.tid = tid


def open_event(tid: int, chunk: Chunk, *, callchain: bool, output_fd: int, wakeup_bytes: int) -> int:
    length = EXEC_LENGTH if chunk.type == BpType.X else chunk.length
    fd = lib.hwdbg_perf_trace_open(tid, chunk.addr, length, PERF_BP_TYPES[chunk.type], int(callchain), output_fd,
                                   wakeup_bytes)
    if fd == -errno.EMFILE and _raise_fd_limit():  # a descriptor per thread: thousands of threads need more
        return open_event(tid, chunk, callchain=callchain, output_fd=output_fd, wakeup_bytes=wakeup_bytes)
    if fd >= 0:
        return fd
    if -fd == errno.ENOSPC:
        raise PerfSlotsBusy(tid)
    from ..diagnose import explain_perf_refused  # local: only a refusal needs the diagnostics
    raise UnsupportedError(explain_perf_refused(-fd, "--no-stop"))


def _raise_fd_limit() -> bool:
    """Lifts the soft limit on open files to the hard one; False if it already was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= hard:
        return False
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return True


class _ThreadRing:
    """One thread's ring, mapped on its first event; the other chunks' events write into it."""

    def __init__(self, tid: int, fd: int, pages: int) -> None:
        self.tid, self.fds = tid, [fd]
        self.received = 0  # samples read out of this ring
        self.reported_lost = 0  # what its PERF_RECORD_LOST records said so far
        self.ring = ffi.new("struct hwdbg_ring *")
        rc = lib.hwdbg_ring_map(fd, pages, self.ring)
        if rc < 0:
            raise UnsupportedError(f"the kernel refused a {pages}-page perf ring buffer for thread {tid} "
                                   f"({errno.errorcode.get(-rc, -rc)}: {os.strerror(-rc)}); see "
                                   "kernel.perf_event_mlock_kb, or use --trace without --no-stop")

    def fired(self) -> int:
        """How many times its events fired: each one a sample written, or lost."""
        return sum(int.from_bytes(os.read(fd, 8), "little") for fd in self.fds)

    def enable(self) -> None:
        for fd in self.fds:
            fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)

    def close(self) -> None:
        lib.hwdbg_ring_unmap(self.ring)
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class TraceEvents:
    """One --no-stop breakpoint: a ring per thread, and its records read out in batches."""

    def __init__(self, chunks: Iterable[Chunk], *, callchain: bool = False, pages: Optional[int] = None) -> None:
        self.chunks = tuple(chunks)
        self.callchain, self.pages = callchain, pages or PAGES
        self.threads: dict[int, _ThreadRing] = {}
        self.lost = 0  # records the kernel could not write (PERF_RECORD_LOST), over every thread
        self._samples = ffi.new("struct hwdbg_sample[]", BATCH)
        self._ips = ffi.new("unsigned long long[]", MAX_IPS if callchain else 1)
        self._lost = ffi.new("unsigned long long *")

    def add_thread(self, tid: int) -> None:
        """Opens the thread's events (disabled), maps the ring, then enables them: all or nothing."""
        wakeup = self.pages * os.sysconf("SC_PAGESIZE") // 4  # a reader wake-up per quarter ring
        ring: Optional[_ThreadRing] = None
        first = -1
        try:
            first = open_event(tid, self.chunks[0], callchain=self.callchain, output_fd=-1, wakeup_bytes=wakeup)
            ring = _ThreadRing(tid, first, self.pages)
            for chunk in self.chunks[1:]:  # the kernel redirects only to a ring already mapped
                ring.fds.append(open_event(tid, chunk, callchain=self.callchain, output_fd=first,
                                           wakeup_bytes=wakeup))
            ring.enable()
        except BaseException:
            if ring is not None:
                ring.close()
            elif first >= 0:
                os.close(first)
            raise
        self.threads[tid] = ring

    def remove_thread(self, tid: int) -> list[Sample]:
        """An ended thread: its last records, then its fds closed."""
        ring = self.threads.get(tid)
        if ring is None:
            return []
        samples = self._read(ring)
        # The kernel reports a loss only in a record written after it; at the end, the events'
        # own counts say exactly how many records never arrived.
        try:
            missing = ring.fired() - ring.received
        except OSError:
            missing = ring.reported_lost
        self.lost += max(0, missing - ring.reported_lost)
        ring.close()
        del self.threads[tid]
        return samples

    def fds(self) -> list[int]:
        return [ring.fds[0] for ring in self.threads.values() if ring.fds]

    def drain(self) -> list[Sample]:
        """Every record written so far, in every thread's ring."""
        out: list[Sample] = []
        for ring in list(self.threads.values()):
            out += self._read(ring)
        return out

    def _read(self, ring: _ThreadRing) -> list[Sample]:
        out: list[Sample] = []
        samples, ips, lost = self._samples, self._ips, self._lost
        while ring.fds:
            lost[0] = 0
            n = lib.hwdbg_ring_read(ring.ring, samples, BATCH, ips, len(ips), lost)
            self.lost += lost[0]
            ring.reported_lost += lost[0]
            ring.received += n
            for i in range(n):
                s = samples[i]
                chain = tuple(ips[s.first + j] for j in range(s.nips)) if self.callchain else None
                out.append(Sample(s.tid, s.ip, s.time, chain))
            if n < BATCH and not lost[0]:
                break
        return out

    def close(self) -> list[Sample]:
        """Drains and closes every thread's events; the records still in the rings."""
        out: list[Sample] = []
        for tid in list(self.threads):
            out += self.remove_thread(tid)
        return out
