"""System calls made by a stopped thread on hwdbg's behalf (mprotect for page watches).

The thread's two bytes at its pc are replaced by a `syscall` instruction, its registers set
to the call, and it is single-stepped while every other thread stays stopped; then the bytes
and registers are put back exactly. The step's stop happens inside the kernel's signal
delivery, so a thread that was stopped inside an interrupted system call still restarts it
(or fails it with EINTR) as it would have: the kernel decides from the restored registers.

Not from a syscall stop: there, changing the registers would change the call the thread is
making (``at_syscall_stop`` tells; the caller picks another moment or thread).
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
from typing import TYPE_CHECKING, Optional

from ..errors import PtraceError, TargetError
from ..linux import ptrace as sc
from .events import Interrupted, ProcessEvent, Signal, Trap
from .reaper import REAPER

if TYPE_CHECKING:
    from .control import Inferior

SYSCALL_INSN = b"\x0f\x05"
SYSCALL_LENGTH = len(SYSCALL_INSN)
NR_MPROTECT = 10
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MASK64 = (1 << 64) - 1


def at_syscall_stop(tid: int) -> bool:
    try:
        return sc.get_syscall_info(tid).op != 0
    except PtraceError:  # an old kernel without the request: assume the worst case
        return True


# Event stops that sit inside a system call (exec, clone, fork...): the call's return would
# overwrite our rax. Stepping one instruction first completes the call and leaves the thread
# at a trap stop, inside signal delivery, where injecting is safe.
_IN_SYSCALL_EVENTS = (sc.PTRACE_EVENT_EXEC, sc.PTRACE_EVENT_CLONE, sc.PTRACE_EVENT_FORK, sc.PTRACE_EVENT_VFORK,
                      sc.PTRACE_EVENT_VFORK_DONE)


def settle(inf: "Inferior", tid: int) -> bool:
    """Makes tid's stop one an injection can start from; False if it cannot be (a syscall stop, exiting)."""
    if at_syscall_stop(tid):
        return False
    try:
        code = sc.getsiginfo(tid).code
    except PtraceError:
        return False
    event = (code >> 8) & 0xFF if code > 0 else 0
    if event == sc.PTRACE_EVENT_EXIT:
        return False
    if event in _IN_SYSCALL_EVENTS:
        result = inf.step_alone(tid)
        if not isinstance(result, Trap):
            if result is not None:
                inf.requeue(result)
            return False
    return True


def leave_exit_stop(inf: "Inferior", tid: int) -> Optional[ProcessEvent]:
    """From a syscall-exit stop to a stop an injection can start from, running no instruction:
    our PTRACE_INTERRUPT stops the thread in signal delivery, before the kernel restarts an
    interrupted call (a step would restart it, and a blocking one would block). Returns the
    stop if it is another one (a signal); None at the interrupt's stop (or if the thread died)."""
    sc.interrupt(tid)
    inf.resume(tid)
    while inf.alive and tid in inf.threads:
        other, status = REAPER.next_status(inf)
        if other == tid and os.WIFSTOPPED(status) and status >> 16 == sc.PTRACE_EVENT_STOP:
            inf.threads[tid].running = False
            return None
        event = inf._reap(other, status, stopping=True)
        if event is not None and other == tid:
            return event
        if event is not None:
            inf.requeue(event)
    return None


def run_alone(inf: "Inferior", tid: int, until_pc: int,
              first: Optional[tuple[int, int]] = None) -> tuple[Optional[ProcessEvent], list[ProcessEvent]]:
    """Resumes tid alone (PTRACE_CONT, no system-call stops), every other thread staying stopped,
    until it stops at the int3 that ends at until_pc. Signals that come meanwhile (the
    program's, our interrupt) are held and returned, to be handled after; any other stop
    (a fault, the thread's end) is returned first, meaning the code did not run to its end.
    first: it was resumed already, and this (tid, wait status) is its first stop since."""
    held: list[ProcessEvent] = []
    if first is None:
        sc.cont(tid, 0)
        inf.threads[tid].running = True
    while inf.alive and tid in inf.threads:
        other, status = first if first is not None else REAPER.next_status(inf)
        first = None
        event = inf._reap(other, status, stopping=True)
        if other != tid:
            if event is not None:
                inf.requeue(event)
            continue
        if event is None:  # a stop of ours with nothing to report (a stale interrupt): go on
            if tid in inf.threads and not inf.threads[tid].running:
                sc.cont(tid, 0)
                inf.threads[tid].running = True
            continue
        if isinstance(event, Trap) and inf.get_regs(tid).rip == until_pc:
            return None, held
        if isinstance(event, Interrupted) or (isinstance(event, Signal) and event.signo not in _FAULTS):
            held.append(event)
            inf.threads[tid].signal = 0
            sc.cont(tid, 0)
            inf.threads[tid].running = True
            continue
        return event, held
    return None, held


_FAULTS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP)


def inject_syscall(inf: "Inferior", tid: int, nr: int, *args: int) -> int:
    """Runs syscall ``nr`` in thread ``tid`` (stopped, every other thread stopped); returns its
    result (-errno on failure)."""
    thread = inf.threads[tid]
    saved = inf.get_regs(tid)
    regs = sc.Regs.from_buffer_copy(saved)
    pc = saved.rip
    original = inf.read_raw(pc, len(SYSCALL_INSN))
    regs.rax, regs.orig_rax = nr, MASK64  # orig_rax -1: no restart logic applies to our registers
    for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
        setattr(regs, name, value & MASK64)
    pending, thread.signal = thread.signal, 0
    to_exit, thread.to_exit = thread.to_exit, False
    interrupted = False
    inf.write_raw(pc, SYSCALL_INSN)
    try:
        inf.set_regs(tid, regs)
        event = inf.step_alone(tid)
        # A signal that was pending got in first: deliver it later. Our own interrupt (SIGSTOP)
        # too: it is consumed here and asked for again afterwards, not taken for failure.
        while isinstance(event, (Signal, Interrupted)):
            if isinstance(event, Interrupted):
                interrupted = True
            else:
                pending = pending or event.signo
            thread.signal = 0
            event = inf.step_alone(tid)
        if not isinstance(event, Trap):
            if event is not None:
                inf.requeue(event)
            raise TargetError(f"thread {tid} did not come back from an injected system call ({event})")
        result = ctypes.c_int64(inf.get_regs(tid).rax).value
    finally:
        if inf.alive and tid in inf.threads:
            inf.write_raw(pc, original)
            inf.set_regs(tid, saved)
            thread.signal, thread.to_exit = pending, to_exit
            if interrupted:
                inf.request_interrupt()  # not queued: the thread may have another stop queued
    return result


def mprotect(inf: "Inferior", tid: int, start: int, length: int, prot: int, *, missing_ok: bool = False) -> None:
    """missing_ok: memory the program unmapped meanwhile (ENOMEM) is not an error."""
    rc = inject_syscall(inf, tid, NR_MPROTECT, start, length, prot)
    if rc == -errno.ENOMEM and missing_ok:
        return
    if rc != 0:
        raise TargetError(f"mprotect({start:#x}, {length}, {prot}) in process {inf.pid} failed: errno {-rc}")
