"""Forked children of a program that runs under the kernel-write filter.

The seccomp filter is inherited across fork and cannot be removed: a child hwdbg let go
would see ENOSYS from every filtered call (read, stat, ...). So such children stay traced,
untouched: every stop they make is resumed at once (signals delivered as they came), and
their own children join them. Their stops are handled whenever hwdbg waits for the
program; while the program is stopped at the prompt, a child that reaches a filtered call
waits too.
"""
from __future__ import annotations

import os
import signal
from collections import deque

from ..errors import PtraceError
from ..linux import ptrace as sc
from .reaper import REAPER

_PASSED_EVENTS = (sc.PTRACE_EVENT_FORK, sc.PTRACE_EVENT_VFORK, sc.PTRACE_EVENT_CLONE)


class Passthrough:
    """The owner (for the reaper) of the children that are traced only to be let run."""

    def __init__(self) -> None:
        self.inbox: deque[tuple[int, int]] = deque()  # the reaper's interface; never filled
        self.tids: set[int] = set()

    def adopt(self, tid: int) -> None:
        self.tids.add(tid)
        for status in REAPER.claim(tid, self):
            self.absorb(tid, status)

    def absorb(self, tid: int, status: int) -> None:
        """One wait status of a passed-through task: resume it as if nobody watched."""
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self.tids.discard(tid)
            REAPER.release(tid)
            return
        if not os.WIFSTOPPED(status):
            return
        sig, event = os.WSTOPSIG(status), status >> 16
        deliver = 0
        if event in _PASSED_EVENTS:
            self.adopt(sc.geteventmsg(tid))
        elif event == 0 and sig not in (signal.SIGTRAP, sc.SYSCALL_STOP_SIGNAL):
            deliver = sig  # a signal for the child: deliver it
        elif event == 0 and sig == signal.SIGTRAP:
            deliver = sig
        try:
            sc.cont(tid, deliver)
        except PtraceError:
            pass  # gone meanwhile: its exit status follows


PASSTHROUGH = Passthrough()
