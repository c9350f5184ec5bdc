"""What the process layer reports: one event per ptrace stop that matters (plain records)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..linux.ptrace import SigInfo, SyscallInfo


@dataclass(frozen=True)
class ProcessEvent:
    tid: int


@dataclass(frozen=True)
class ThreadCreated(ProcessEvent):
    """A new thread, stopped before its first user instruction."""

    parent: Optional[int]


@dataclass(frozen=True)
class ThreadExited(ProcessEvent):
    status: int  # raw wait status


@dataclass(frozen=True)
class Exec(ProcessEvent):
    """The process replaced its image; every debug register is clear again."""

    former_tid: int


@dataclass(frozen=True)
class Forked(ProcessEvent):
    """tid forked (or vforked) ``child``, which is kept stopped and traced (Inferior.fork_events)."""

    child: int
    vfork: bool


@dataclass(frozen=True)
class VforkDone(ProcessEvent):
    """The vfork child exec'd or exited: the parent's memory is its own again."""


@dataclass(frozen=True)
class Exited(ProcessEvent):
    code: int


@dataclass(frozen=True)
class Killed(ProcessEvent):
    signal: int
    core: bool


@dataclass(frozen=True)
class Trap(ProcessEvent):
    """A SIGTRAP signal-delivery-stop; the hw router decides what it means."""

    info: SigInfo


@dataclass(frozen=True)
class Signal(ProcessEvent):
    """Any other signal about to be delivered (pending on the thread until resumed)."""

    signo: int
    info: Optional[SigInfo]


@dataclass(frozen=True)
class GroupStop(ProcessEvent):
    signo: int


@dataclass(frozen=True)
class Interrupted(ProcessEvent):
    """The stop hwdbg asked for (Ctrl-C, a timeout)."""


@dataclass(frozen=True)
class SyscallStop(ProcessEvent):
    """A system-call stop: a seccomp stop (the kernel-write filter), or a syscall entry or exit
    stop (PTRACE_SYSCALL); ``info`` says which, with the number and arguments or the result."""

    info: SyscallInfo
