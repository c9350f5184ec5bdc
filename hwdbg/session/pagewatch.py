"""Watches larger than the debug registers: page protection.

The pages of such a watch lose PROT_WRITE (an mprotect injected into the target). A write
by the program faults (SIGSEGV, SEGV_ACCERR, the address in si_addr) before it happens;
then, with every other thread stopped, the page is made writable, the faulting thread
single-steps the instruction, the watched bytes are compared with the copy kept, and the
page is protected again. A change is a hit at the exact writing pc, with the byte range
that changed; a write elsewhere on the page, or of the same bytes, is stepped over silently.

A system call writing into a protected page would fail with EFAULT: at its entry stop
(the seccomp filter or PTRACE_SYSCALL, as for --kernel) the call is first turned into an
mprotect that unprotects those pages and then made again, and the pages are protected
again at its exit (kernelwrites.py reports the kernel's write when --kernel is on).

Every page goes back to its own protection on detach, kill, exit and exec, and in a forked
child's copy of the memory before it runs (a write there would kill it: it is not ours). A vfork
child shares the pages themselves: vforkchild.py follows it until it execs or exits.
"""
from __future__ import annotations

import os
import signal
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Callable, Iterable, Mapping, Optional

from ..errors import AddressError, LengthError, TargetError
from ..linux import procfs
from ..linux import ptrace as sc
from ..process import forks, inject
from ..process.control import Inferior
from ..process.events import Signal
from .hits import HitSemantics, TrapHits
from .model import UserBreakpoint
from .pagestub import FaultStub

PAGE = os.sysconf("SC_PAGE_SIZE")
MAX_LENGTH = 1 << 30
SEGV_ACCERR = 2
# Measured by bench/page_watch.py (bench/results/pages.md).
FAULT_COST = ("about 0.02-0.07 ms per write to its pages in the C hit loop (one thread, hits only recorded), "
              "0.1-0.2 ms otherwise, 0.25 ms with several threads, 0.15-0.3 ms when stepped")


def _page_span(addr: int, length: int) -> range:
    first = addr - addr % PAGE
    return range(first, addr + length, PAGE)


def _runs(pages: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted pages as (start, length) runs of contiguous pages."""
    out: list[list[int]] = []
    for page in sorted(pages):
        if out and out[-1][0] + out[-1][1] == page:
            out[-1][1] += PAGE
        else:
            out.append([page, PAGE])
    return [(a, n) for a, n in out]


def _prot(perms: str) -> int:
    return ((inject.PROT_READ if perms[0] == "r" else 0) | (inject.PROT_WRITE if perms[1] == "w" else 0)
            | (inject.PROT_EXEC if perms[2] == "x" else 0))


def _segv_pending(pid: int, tid: int) -> bool:
    """A SIGSEGV waits in the kernel for tid (its own pending set: a fault is thread-directed)."""
    return bool(procfs.status_int(f"{pid}/task/{tid}", "SigPnd", 0, 16) >> (signal.SIGSEGV - 1) & 1)


class PageWatches:
    def __init__(self, *, breakpoints: Callable[[], Mapping[int, UserBreakpoint]], hits: HitSemantics,
                 read_memory: Callable[[int, int], bytes]) -> None:
        self._breakpoints, self._hits, self._read_memory = breakpoints, hits, read_memory
        self.protected: dict[int, int] = {}  # page -> its own protection, while we keep it read-only
        self.lifted: dict[int, list[tuple[int, int]]] = {}  # tid -> runs unprotected around its system call
        self.shared: set[int] = set()  # protected pages of MAP_SHARED mappings (no scratch copy there)
        # Set by kernelwrites: hwdbg's own areas in the target (refused as watches), and what
        # must happen before pages are given back (calls in flight finished, areas unmapped).
        self.own_memory: Callable[[int, int], bool] = lambda _addr, _length: False
        self.before_release: Optional[Callable[[Inferior], None]] = None
        self.release_own: Optional[Callable[[Inferior, Callable[[], int]], None]] = None
        self.stub: Optional[FaultStub] = FaultStub(read_raw=read_memory)  # the one-trip fault path
        self.faults = 0  # page faults handled (false hits included)
        # Set by kernelwrites: moves a thread off a system-call stop (handling its unread stop).
        self.leave_syscall_stop: Optional[Callable[[Inferior, int], bool]] = None

    # ------------------------------------------------------------ arming

    def watches(self) -> list[UserBreakpoint]:
        return [bp for bp in self._breakpoints().values() if bp.paged and bp.enabled]

    @staticmethod
    def check_length(length: int) -> None:
        if length <= 0 or length > MAX_LENGTH:
            raise LengthError(f"length {length} cannot be watched: a watch covers 1 byte to 1 GiB")

    def check_own(self, pid: int, addr: int, length: int) -> None:
        """Any watch (debug registers too): not over hwdbg's trampoline or scratch pages."""
        if self.own_memory(addr, length) or (self.stub is not None and self.stub.overlaps(addr, length)):
            raise AddressError(f"{addr:#x} length {length} overlaps hwdbg's own scratch memory in process {pid}")

    def validate(self, inf: Inferior, addr: int, length: int) -> tuple[dict[int, int], set[int]]:
        """Checks a range for page protection; returns its pages and their protections, and
        those of shared mappings."""
        self.check_length(length)
        self.check_own(inf.pid, addr, length)
        maps = procfs.read_maps(inf.pid)
        pages: dict[int, int] = {}
        shared: set[int] = set()
        for page in _page_span(addr, length):
            where = next((m for m in maps if m.contains(page)), None)
            if where is None:
                raise AddressError(f"{addr:#x} length {length}: {page:#x} is not mapped in process {inf.pid}")
            if where.perms[1] != "w" and page not in self.protected:
                raise AddressError(f"{addr:#x} length {length}: {page:#x} is not writable memory ({where.perms} "
                                   f"{where.path or 'anonymous'}): nothing can write it")
            pages[page] = self.protected.get(page, _prot(where.perms))
            if where.perms[3] == "s":
                shared.add(page)
        for tid in inf.threads:
            rsp = inf.get_regs(tid).rsp
            stack = next((m for m in maps if m.contains(rsp)), None)
            if stack is not None and stack.start < addr + length and addr < stack.end:
                raise AddressError(f"{addr:#x} length {length} lies in the stack of thread {tid} "
                                   f"({stack.start:#x}-{stack.end:#x}): page protection cannot watch a stack; "
                                   "watch at most 32 bytes there (debug registers)")
        return pages, shared

    def arm(self, inf: Inferior, bp: UserBreakpoint) -> None:
        pages, shared = self.validate(inf, bp.addr, bp.length)
        fresh = [p for p in pages if p not in self.protected]
        tid = self.injector(inf)
        done: list[tuple[int, int]] = []
        try:
            for start, size in _runs(fresh):
                prot = pages[start]
                if any(pages[p] != prot for p in range(start, start + size, PAGE)):
                    for p in range(start, start + size, PAGE):  # mixed protections: page by page
                        inject.mprotect(inf, tid, p, PAGE, pages[p] & ~inject.PROT_WRITE)
                        done.append((p, PAGE))
                else:
                    inject.mprotect(inf, tid, start, size, prot & ~inject.PROT_WRITE)
                    done.append((start, size))
        except BaseException:
            for start, size in done:
                for p in range(start, start + size, PAGE):
                    self._restore(inf, tid, p, pages[p])
            raise
        for p in fresh:
            self.protected[p] = pages[p]
        self.shared |= shared
        inf.clean_child = self.clean_child
        inf.follow_vfork = lambda: bool(self.protected)  # vforkchild.py
        bp.value = self._read_memory(bp.addr, bp.length)
        bp.armed_pages = True

    def disarm(self, inf: Optional[Inferior], bp: UserBreakpoint) -> None:
        """Gives back the pages no other page watch needs."""
        bp.armed_pages = False
        keep = {p for other in self.watches() if other is not bp and other.armed_pages
                for p in _page_span(other.addr, other.length)}
        mine = [p for p in _page_span(bp.addr, bp.length) if p in self.protected and p not in keep]
        if inf is not None and inf.alive and mine:
            self.absorb_faults(inf, set(mine))
            tid = self.injector(inf)
            for p in mine:
                self._restore(inf, tid, p, self.protected[p])
        for p in mine:
            self.protected.pop(p, None)
            self.shared.discard(p)

    def disarm_all(self, inf: Inferior) -> None:
        """Detach, quit, errors: every page back to its own protection."""
        if inf.alive and self.before_release is not None:
            self.before_release(inf)  # calls made into our scratch memory finish first
        if self.protected and inf.alive:
            self.absorb_faults(inf, set(self.protected))
            tid = self.injector(inf)
            for start, size in _runs(self.protected):
                for p in range(start, start + size, PAGE):
                    self._restore(inf, tid, p, self.protected[p])
        if inf.alive and self.release_own is not None:
            self.release_own(inf, lambda: self.injector(inf))
        if inf.alive and self.stub is not None and self.stub.area is not None:
            inject.inject_syscall(inf, self.injector(inf), 11, self.stub.area, 2 * PAGE)  # munmap
        self.reset()

    def clean_child(self, child: int) -> None:
        """A forked child (stopped before it ran): its copy of our pages gets their own protection."""
        runs: list[list[int]] = []
        for page in sorted(self.protected):
            prot = self.protected[page]
            if runs and runs[-1][0] + runs[-1][1] == page and runs[-1][2] == prot:
                runs[-1][1] += PAGE
            else:
                runs.append([page, PAGE, prot])
        for start, size, prot in runs:
            forks.child_syscall(child, inject.NR_MPROTECT, start, size, prot)

    def reset(self) -> None:
        """The process is gone or has a new image: nothing of ours is protected any more."""
        self.protected.clear()
        self.lifted.clear()
        self.shared.clear()
        if self.stub is not None:
            self.stub.reset()
        for bp in self._breakpoints().values():
            bp.armed_pages = False

    def absorb_faults(self, inf: Inferior, pages: set[int]) -> None:
        """Before pages are given back: our SIGSEGVs on them not yet handled (a stop queued unread,
        or a signal still pending in the kernel behind an interrupt stop) are taken and dropped;
        left, detach or the next resume would deliver them to the program. The writing
        instruction runs again once the page is writable."""
        for tid in sorted(inf.threads):
            thread = inf.threads.get(tid)
            if thread is None or thread.running:
                continue
            event = inf.unread(tid)
            if event is None and _segv_pending(inf.pid, tid):
                event = inf.step_alone(tid)  # the stop it is at comes before signal delivery
            if event is None:
                continue
            info = event.info if isinstance(event, Signal) else None
            if isinstance(event, Signal) and self.owns(event.signo, info) and info is not None \
                    and info.addr - info.addr % PAGE in pages:
                thread.signal = 0  # ours: dropped; the thread stays at that stop
            else:
                inf.requeue(event)

    @staticmethod
    def _restore(inf: Inferior, tid: int, page: int, prot: int) -> None:
        # Only a page the program unmapped meanwhile is skipped: a failed injection is an error.
        inject.mprotect(inf, tid, page, PAGE, prot, missing_ok=True)

    def injector(self, inf: Inferior) -> int:
        """A thread that may run an injected call: stopped, and not at a system-call stop."""
        stopped = [t for t in [inf.pid] + sorted(inf.threads) if t in inf.threads and not inf.threads[t].running]
        # Threads whose stop is queued unread come last: injecting moves them to a new stop.
        order = sorted(stopped, key=lambda t: inf.threads[t].held)
        for tid in order:
            if inject.settle(inf, tid):
                return tid
        # All at system-call stops (PTRACE_SYSCALL: a stop_all often ends at one): step one out.
        for tid in order:
            if (self.leave_syscall_stop is not None and tid in inf.threads and self.leave_syscall_stop(inf, tid)
                    and inject.settle(inf, tid)):
                return tid
        raise TargetError(f"no thread of process {inf.pid} can change page protections now (all are inside "
                          "system calls); interrupt it again")

    # ------------------------------------------------------------ faults

    def owns(self, signo: int, info: Optional[sc.SigInfo]) -> bool:
        return (signo == signal.SIGSEGV and info is not None and info.code == SEGV_ACCERR
                and info.addr - info.addr % PAGE in self.protected)

    def handle_fault(self, inf: Inferior, tid: int, addr: int, resume: Any = None) -> TrapHits:
        """A write to a protected page (at addr): run it with the page writable (in the trampoline,
        or stepped between two injected mprotects), compare, protect again. resume (a
        pagefast.PageResume): the C loop started the trampoline run and a stop cut it short."""
        self.faults += 1
        inf.threads[tid].signal = 0  # our fault, not the program's SIGSEGV
        page = addr - addr % PAGE
        # An instruction can write across a page boundary: lift the neighbour too if it is ours.
        span = [p for p in (page - PAGE, page, page + PAGE) if p in self.protected]
        if resume is not None:
            assert self.stub is not None
            held = self.stub.resume(inf, tid, resume.status, resume.saved, resume.start, resume.length, resume.prot)
        else:
            held = self._in_trampoline(inf, tid, span)
        if held is None:
            for p in span:
                inject.mprotect(inf, tid, p, PAGE, self.protected[p])
            try:
                event = inf.step_alone(tid)
            finally:
                for p in span:
                    if inf.alive:
                        inject.mprotect(inf, tid, p, PAGE, self.protected[p] & ~inject.PROT_WRITE)
            if event is not None:
                inf.requeue(event)  # the step's own stop: the run loop resumes the thread (or routes a DR hit)
        trap = TrapHits()
        if not inf.alive or tid not in inf.threads:
            return trap
        pc = inf.get_regs(tid).rip
        for bp in self.watches():
            if bp.armed_pages and bp.addr < page + 2 * PAGE and page - PAGE < bp.addr + bp.length:
                self.compare(bp, tid, pc, trap)
        if held and self.stub is not None:
            self.stub.requeue(inf, held)  # signals that came while it ran: handled after the write
        return trap

    def registers_in_use(self) -> bool:
        """Data watches on debug registers (or perf): a trap inside the trampoline would name it."""
        return any(bp.kind.is_data and not bp.paged and bp.enabled for bp in self._breakpoints().values())

    def _in_trampoline(self, inf: Inferior, tid: int, span: list[int]) -> Optional[list]:
        """The write run by the trampoline (pagestub.py); None if it was not (the old way)."""
        if self.stub is None or inf.threads[tid].stepping or self.registers_in_use() \
                or len({self.protected[p] for p in span}) != 1:
            return None  # a stepping thread (stepi, a step-over) must end at its step's own trap
        return self.stub.run(inf, tid, span[0], len(span) * PAGE, self.protected[span[0]])

    def compare(self, bp: UserBreakpoint, tid: int, pc: int, trap: TrapHits,
                syscall: Optional[tuple[str, dict[str, int], int]] = None) -> None:
        """Records a hit of bp if its bytes changed: old/new of the bytes that changed."""
        before = bp.value
        now = self._read_memory(bp.addr, bp.length)
        change = changed_range(before, now)
        if change is None:
            return
        lo, hi = change
        bp.value = now
        old = int.from_bytes(before[lo:hi], "little") if before is not None else None
        new = int.from_bytes(now[lo:hi], "little")
        self._hits.record(bp, tid, pc, trap, at=pc if syscall else None, syscall=syscall,
                          change=(old, new, bp.addr + lo, hi - lo))

    # ------------------------------------------------------------ system calls (no EFAULT)

    def overlapping_runs(self, buffers: list[tuple[int, int]]) -> list[tuple[int, int]]:
        pages = {p for addr, size in buffers for p in _page_span(addr, size) if p in self.protected}
        return _runs(pages)


def changed_range(before: Optional[bytes], now: bytes, block: int = 256) -> Optional[tuple[int, int]]:
    """[lo, hi) of the bytes that differ, or None (blocks compared in C first: ranges are large)."""
    if before is None or len(before) != len(now):
        return (0, len(now))
    if before == now:
        return None
    n = len(now)
    first = next(i for i in range(0, n, block) if before[i:i + block] != now[i:i + block])
    last = next(i for i in range((n - 1) // block * block, -1, -block) if before[i:i + block] != now[i:i + block])
    # within a block, the lowest and highest differing bytes from the XOR of the two as integers
    x = int.from_bytes(before[first:first + block], "little") ^ int.from_bytes(now[first:first + block], "little")
    lo = first + ((x & -x).bit_length() - 1) // 8
    y = int.from_bytes(before[last:last + block], "little") ^ int.from_bytes(now[last:last + block], "little")
    return lo, last + (y.bit_length() + 7) // 8


def backend_text(bp: UserBreakpoint) -> str:
    """Which mechanism took a watch, and what a hit costs there (info breakpoints, watch)."""
    if bp.paged:
        return f"page protection, {len(_page_span(bp.addr, bp.length))} page(s), {FAULT_COST}"
    return "debug registers"


class SyscallLift:
    """A system call about to write into protected pages: it first runs as the mprotect that
    lifts them (its number and arguments changed at the entry stop), then, at that call's
    exit, the thread is set back onto its `syscall` instruction to make the real call, whose
    exit protects the pages again. The program sees one call with its own result."""

    def __init__(self, pages: PageWatches,
                 all_stopped: Callable[[Inferior], AbstractContextManager[None]] = lambda _inf: nullcontext()) -> None:
        self.pages = pages
        self._all_stopped = all_stopped  # stops every thread if some run; the run loop resumes them
        self._entry_regs: dict[int, sc.Regs] = {}  # tid -> its registers at the entry we turned into mprotect
        self.lifts = 0  # calls made with their pages lifted

    def reset(self) -> None:
        self._entry_regs.clear()

    def at_entry(self, inf: Inferior, tid: int, buffers: list[tuple[int, int]]) -> bool:
        """True if this entry became the lifting mprotect (the caller resumes to its exit)."""
        lifted = {p for run in self.pages.lifted.get(tid, []) for p in range(run[0], run[0] + run[1], PAGE)}
        runs = [r for r in self.pages.overlapping_runs(buffers) if r[0] not in lifted]
        if not runs:
            return False
        start, size = runs[0]
        prot = self.pages.protected[start]
        size = next((p - start for p in range(start, start + size, PAGE) if self.pages.protected[p] != prot), size)
        regs = inf.get_regs(tid)
        self._entry_regs[tid] = sc.Regs.from_buffer_copy(regs)
        regs.orig_rax, regs.rdi, regs.rsi, regs.rdx = inject.NR_MPROTECT, start, size, prot
        inf.set_regs(tid, regs)
        self.pages.lifted.setdefault(tid, []).append((start, size))
        self.lifts += 1
        return True

    def at_exit(self, inf: Inferior, tid: int) -> bool:
        """True if this was the exit of our mprotect: the thread goes back to make its own call."""
        saved = self._entry_regs.pop(tid, None)
        if saved is None:
            return False
        regs = sc.Regs.from_buffer_copy(saved)
        regs.rip -= inject.SYSCALL_LENGTH
        regs.rax, regs.orig_rax = saved.orig_rax, inject.MASK64
        inf.set_regs(tid, regs)
        return True

    def restore(self, inf: Inferior, tid: int) -> None:
        """The real call's exit: its pages are protected again, by an mprotect injected at the
        thread's pc, so every other thread is stopped first: one returning from its own call
        into the same code ran our `syscall` and the bytes after it (SIGILL in libc's syscall())."""
        runs = self.pages.lifted.pop(tid, [])
        if not runs:
            return
        with self._all_stopped(inf):
            for start, size in runs:
                inject.mprotect(inf, tid, start, size, self.pages.protected[start] & ~inject.PROT_WRITE)

    def wants_exit(self, tid: int) -> bool:
        return tid in self.pages.lifted

    def in_flight(self, tid: int) -> bool:
        return tid in self._entry_regs or tid in self.pages.lifted
