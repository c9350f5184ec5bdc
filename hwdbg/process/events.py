"""What the process layer reports: one event per ptrace stop that matters (plain records)."""
from __future__ import annotations

from typing import Optional

from ..linux.ptrace import SigInfo, SyscallInfo
from ..recordtype import record


@record(frozen=True)
class ProcessEvent:
    tid: int


@record(frozen=True)
class ThreadCreated(ProcessEvent):
    """A new thread, stopped before its first user instruction."""

    parent: Optional[int]


@record(frozen=True)
class ThreadExited(ProcessEvent):
    status: int  # raw wait status
    thread_pointer: Optional[int] = None  # the main thread's, read at its exit event (leader.py)


@record(frozen=True)
class Exec(ProcessEvent):
    """The process replaced its image; every debug register is clear again."""

    former_tid: int


@record(frozen=True)
class Forked(ProcessEvent):
    """tid forked (or vforked) ``child``, which is kept stopped and traced (Inferior.fork_events)."""

    child: int
    vfork: bool


@record(frozen=True)
class VforkDone(ProcessEvent):
    """The vfork child exec'd or exited: the parent's memory is its own again."""


@record(frozen=True)
class Exited(ProcessEvent):
    code: int


@record(frozen=True)
class Killed(ProcessEvent):
    signal: int
    core: bool


@record(frozen=True)
class Trap(ProcessEvent):
    """A SIGTRAP signal-delivery-stop; the hw router decides what it means."""

    info: SigInfo


@record(frozen=True)
class Signal(ProcessEvent):
    """Any other signal about to be delivered (pending on the thread until resumed)."""

    signo: int
    info: Optional[SigInfo]


@record(frozen=True)
class GroupStop(ProcessEvent):
    signo: int


@record(frozen=True)
class Interrupted(ProcessEvent):
    """The stop hwdbg asked for (Ctrl-C, a timeout)."""


@record(frozen=True)
class SyscallStop(ProcessEvent):
    """A system-call stop: a seccomp stop (the kernel-write filter), or a syscall entry or exit
    stop (PTRACE_SYSCALL); ``info`` says which, with the number and arguments or the result."""

    info: SyscallInfo
