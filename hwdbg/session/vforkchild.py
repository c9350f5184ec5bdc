"""A vfork child over page-watched memory (vfork, and posix_spawn's clone(CLONE_VM|CLONE_VFORK)).

Such a child shares the parent's memory, so the parent's protected pages too: let go, its
first write there would kill it with SIGSEGV, and that write is a real write into the watched
memory. So while watched pages are protected the child stays traced until it execs or exits
(the thread that vforked waits for that anyway; the parent's other threads are kept stopped
meanwhile, so none writes unseen while a page is lifted): each write of it to a protected page
is lifted by an mprotect the child makes (forks.child_syscall: one memory, so the pages are
the parent's too), single-stepped, protected again and compared, a hit whose writer is the
child (its pid and pc). Any other stop of the child is passed on as if nobody watched; at its
exec it is let go (its new memory holds nothing of ours), its own children are let go at once.
Its hits are reported as a stop of the thread that vforked when a watch stops. A child that
neither execs nor exits (POSIX allows it nothing else) keeps hwdbg waiting with it.
"""
from __future__ import annotations

import os
import signal
from typing import Optional

from ..errors import PtraceError
from ..linux import ptrace as sc
from ..process import forks, inject
from ..process.control import Inferior
from ..process.reaper import REAPER
from .hits import TrapHits
from .pagewatch import PAGE, PageWatches

_CHILD_EVENTS = (sc.PTRACE_EVENT_FORK, sc.PTRACE_EVENT_VFORK, sc.PTRACE_EVENT_CLONE)


def _wait(child: int) -> int:
    waiting = REAPER.unclaimed.get(child)
    if waiting:  # reaped by a waitpid(-1) meanwhile
        return waiting.pop(0)
    return os.waitpid(child, sc.WALL)[1]


def _let_go(child: int) -> None:
    """A child of the vfork child: stopped once before it runs; nothing of ours is in its memory
    but what its parent shares (a vfork grandchild of a vfork child is not followed)."""
    try:
        _wait(child)
        sc.detach(child)
    except (OSError, PtraceError):
        pass


class VforkChildren:
    def __init__(self, pages: PageWatches) -> None:
        self.pages = pages
        self.writes = 0  # the children's writes into protected pages (tests)

    def wanted(self) -> bool:
        """Keep a new vfork child traced (forks.take_child asks): it shares protected pages."""
        return bool(self.pages.protected)

    def follow(self, inf: Inferior, child: int) -> TrapHits:
        """Runs the vfork child (traced, stopped before it ran; every thread of the parent
        stopped) until it execs or exits; returns its hits."""
        trap = TrapHits()
        status: Optional[int] = None
        deliver = 0
        while True:
            if status is None:
                try:
                    sc.cont(child, deliver)
                except PtraceError:
                    pass  # killed: its exit status follows
                deliver = 0
                status = _wait(child)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                return trap
            current, status = status, None
            if not os.WIFSTOPPED(current):
                continue
            sig, event = os.WSTOPSIG(current), current >> 16
            if event == sc.PTRACE_EVENT_EXEC:
                forks.release_child(child, filtered=inf.filtered)
                return trap
            if event in _CHILD_EVENTS:
                _let_go(sc.geteventmsg(child))
            elif event == 0 and sig == signal.SIGSEGV:
                info = sc.getsiginfo(child)
                if self.pages.owns(sig, info):
                    status = self._write(inf, child, info.addr, trap)
                else:
                    deliver = sig
            elif event == 0 and sig not in (sc.SYSCALL_STOP_SIGNAL,):
                deliver = sig  # the child's own signal (our int3s are lifted, debug registers not inherited)

    def _write(self, inf: Inferior, child: int, addr: int, trap: TrapHits) -> Optional[int]:
        """The child's write at addr made with its pages lifted; returns a stop of the step
        that is not the step's own trap (handled by the caller), else None."""
        protected = self.pages.protected
        page = addr - addr % PAGE
        span = [p for p in (page - PAGE, page, page + PAGE) if p in protected]
        status: Optional[int] = None
        try:
            for p in span:
                forks.child_syscall(child, inject.NR_MPROTECT, p, PAGE, protected[p])
            sc.singlestep(child, 0)
            status = _wait(child)
        except PtraceError:
            status = None  # killed under us: its exit status follows
        finally:
            self._protect_again(inf, child, span, status)
        if status is None:
            return None
        self.writes += 1
        if os.WIFSTOPPED(status) and (status >> 16) == 0 and os.WSTOPSIG(status) == signal.SIGTRAP:
            pc = sc.getregs(child).rip
            for bp in self.pages.watches():
                if bp.armed_pages and bp.addr < page + 2 * PAGE and page - PAGE < bp.addr + bp.length:
                    self.pages.compare(bp, child, pc, trap)
            return None
        return status

    def _protect_again(self, inf: Inferior, child: int, span: list[int], status: Optional[int]) -> None:
        """The pages lifted for the child's write protected again: by the child while it is
        stopped, else (it is gone) by the parent, whose threads are stopped."""
        protected = self.pages.protected
        if status is not None and os.WIFSTOPPED(status):
            try:
                for p in span:
                    forks.child_syscall(child, inject.NR_MPROTECT, p, PAGE, protected[p] & ~inject.PROT_WRITE)
                return
            except PtraceError:
                pass
        if inf.alive:
            for p in span:
                inject.mprotect(inf, self.pages.injector(inf), p, PAGE, protected[p] & ~inject.PROT_WRITE,
                                missing_ok=True)
