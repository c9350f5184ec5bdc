"""A main thread that ends by itself (``pthread_exit``) while other threads run on.

The kernel keeps such a thread as a zombie that waitpid reports only once the last thread has
gone, under the process's id: neither an interrupt nor a wait would ever stop it again. So at its
exit event (PTRACE_EVENT_EXIT, where it can no longer run a user instruction) it is let go and
reported gone at once, as gdb reports a zombie main thread while others remain; the process's
exit later still comes under its id.

It ends by itself only in exit(2), the call pthread_exit makes; exit_group(2) ends the whole
process (orig_rax tells them apart at the exit event, which comes inside the call: reading the
other threads' state instead raced with their SIGKILL). Nor when a fatal signal ends it: the
kernel has then queued SIGKILL to every other thread, and a thread that has taken it is marked
PF_SIGNALED, the main thread too when another thread started the end."""
from __future__ import annotations

import signal
from typing import Any, Callable, Iterable, Optional

from ..arch.x86_64 import NR_EXIT
from ..errors import PtraceError
from ..linux import procfs
from .events import ThreadExited
from .reaper import REAPER

PF_SIGNALED = 0x400  # include/linux/sched.h: killed by a signal (the group exit's SIGKILL too)


def _signalled(tid: int) -> bool:
    fields = procfs.stat_fields(tid)
    try:
        return fields is None or bool(int(fields[6]) & PF_SIGNALED)  # stat field 9, flags
    except (IndexError, ValueError):
        return True


def _running_on(tid: int) -> bool:
    """A thread that goes on after the main thread: alive, not dying of the process's end."""
    fields = procfs.stat_fields(tid)
    if not fields or fields[0] in ("Z", "X"):
        return False
    killed = 1 << (signal.SIGKILL - 1)
    return not _signalled(tid) and not procfs.status_int(tid, "SigPnd", 0, 16) & killed


def ends_alone(pid: int, tid: int, others: Iterable[int], get_regs: Callable[[int], Any]) -> bool:
    """At thread tid's exit event: whether it is the main thread ending while the process goes on."""
    if tid != pid or _signalled(tid):
        return False
    try:
        if get_regs(tid).orig_rax != NR_EXIT:  # the system call it ends in
            return False
    except PtraceError:  # gone meanwhile (SIGKILL)
        return False
    return any(_running_on(other) for other in others if other != tid)


def let_go(inf: Any) -> None:
    """The main thread of Inferior ``inf`` ends alone: let go to become a zombie, no more one of
    its threads. Threads it created are reported first (gdb reports them at the clone): their
    first stops, on their way, are queued before its exit."""
    try:
        pointer: Optional[int] = inf.get_regs(inf.pid).fs_base
    except PtraceError:
        pointer = None
    inf.resume(inf.pid)
    inf.threads.pop(inf.pid, None)  # its id stays the Inferior's (REAPER): the process's exit comes under it
    inf.generation += 1
    inf.leader_gone = True
    while inf.alive and any(t.new and t.running for t in inf.threads.values()):
        tid, status = REAPER.next_status(inf)
        inf.hold(inf._reap(tid, status, stopping=True))
    inf.hold(ThreadExited(inf.pid, 0, pointer))
