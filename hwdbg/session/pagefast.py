"""Page-watch faults in the C hit loop (cext/pagehit.c): when it may take them, its tables, its hits.

The C loop makes a fault's write through pagestub.py's trampoline, compares the watched bytes
and records the change, as pagewatch.handle_fault does, without a trip through Python. Only
the plain case goes there:
- one thread: the trampoline lifts the pages for the whole process, and stopping the other
  threads meanwhile stays Python's;
- every armed page watch only records (no condition, ignore count, callback, backtrace,
  stop or --kernel) and is at most MAX_LENGTH bytes; no data watch on debug registers and no
  other breakpoint in the C loop (hits keep their order);
- the trampoline page is in place and that pc's trampoline built (its first fault is Python's).
Anything else comes back to Python; a surprise inside the trampoline (a signal, our interrupt,
a second fault) comes back as a PageResume, finished by pagestub.py as its own run would.
Where every system call stops (PTRACE_SYSCALL: attached, or started without the filter) the C
loop resumes the entry and exit stops of calls that cannot write user memory, as the filter
lets them run: Python (kernelwrites.py) has nothing to do there, and a trip through it for each
cost a handler running every 300 µs its program (rt_sigreturn's two stops: the next SIGALRM
was always pending when the handler returned, tests/core/test_page_watch_signals.py).
"""
from __future__ import annotations

from typing import Any, Optional

from ..arch import syscalls
from ..hw.fastpath import FastLoop
from ..linux import ptrace as sc
from ..linux.native import ffi
from ..process import events as pev
from ..process.control import Inferior
from ..recordtype import record
from .model import UserBreakpoint
from .pagewatch import PageWatches

MAX_LENGTH = 256 << 10  # larger watches stay in Python (the C loop keeps two copies of each)
HITS = 1024


@record(frozen=True)
class PageResume(pev.ProcessEvent):
    """The C loop's trampoline run stopped short (status: that stop); pagestub.py finishes it."""
    status: int
    saved: sc.Regs  # the registers at the fault
    start: int
    length: int
    prot: int
    addr: int  # the faulting address


class PageFast:
    def __init__(self, pages: PageWatches) -> None:
        self.pages = pages
        self.enabled = True  # False: every fault goes through Python (tests compare the two paths)
        self.taken = 0  # faults the C loop handled
        self.passed = 0  # syscall stops (PTRACE_SYSCALL) it resumed: calls that cannot write user memory
        self._key: Any = None
        self._args: Any = None
        self._bps: list[UserBreakpoint] = []
        self._keep: list[Any] = []

    def eligible(self, inf: Inferior, tracing: bool) -> bool:
        pages, stub = self.pages, self.pages.stub
        if not self.enabled or stub is None or stub.area is None or not pages.protected \
                or len(inf.threads) != 1 or pages.lifted or pages.registers_in_use():
            return False
        thread = next(iter(inf.threads.values()))
        if thread.stepping or thread.to_exit or thread.signal:
            return False
        armed = [bp for bp in pages.watches() if bp.armed_pages]
        return bool(armed) and all(
            bp.enabled and bp.condition_ast is None and bp.ignore_count == 0 and bp.on_hit is None
            and not bp.backtrace and (bp.trace or tracing) and not bp.kernel and 0 < bp.length <= MAX_LENGTH
            for bp in armed)

    def attach(self, loop: FastLoop, inf: Optional[Inferior], limit: int) -> None:
        """Gives the loop the page tables for its next run (inf None or other breakpoints: none)."""
        if inf is None or loop.bps:
            loop.args.pages = ffi.NULL
            return
        stub = self.pages.stub
        assert stub is not None and stub.area is not None
        bps = [bp for bp in self.pages.watches() if bp.armed_pages]
        tid = next(iter(inf.threads))
        key = (tid, stub.area, tuple(sorted(self.pages.protected.items())), stub.version,
               tuple((bp.id, bp.addr, bp.length) for bp in bps))
        if key != self._key:
            self._build(tid, stub.area, bps)
            self._key = key
        p = self._args
        for i, bp in enumerate(self._bps):  # Python may have compared since: start from its copies
            entry = p.bps[i]
            entry.have_last = int(bp.value is not None and len(bp.value) == bp.length)
            if entry.have_last:
                ffi.memmove(entry.last, bp.value, bp.length)
        p.loaded_pc = stub._loaded or 0
        p.resume_syscall = int(inf.trace_syscalls)
        p.passed_tid = 0  # an exit stop is passed only after its entry, in the same run
        p.nhits = p.pool_used = p.faults = p.passed = 0
        p.max_hits = max(1, min(HITS, limit))
        loop.args.pages = p

    def _build(self, tid: int, area: int, bps: list[UserBreakpoint]) -> None:
        keep: list[Any] = []
        p = ffi.new("struct hwdbg_page_args *")
        keep.append(p)
        p.tid, p.area = tid, area
        pages = sorted(self.pages.protected)
        p.pages = self._new(keep, "unsigned long[]", pages or [0])
        p.prots = self._new(keep, "int[]", [self.pages.protected[x] for x in pages] or [0])
        p.npages = len(pages)
        built = sorted((pc, found) for pc, found in self.pages.stub._decoded.items()  # type: ignore[union-attr]
                       if found is not None and found[1] is not None)
        insns = self._new(keep, "struct hwdbg_page_insn[]", max(1, len(built)))
        for i, (pc, (write, code)) in enumerate(built):
            insns[i].pc, insns[i].len, insns[i].code_len = pc, write.length, len(code)
            ffi.memmove(insns[i].insn, write.code[:write.length], write.length)
            ffi.memmove(insns[i].code, code, len(code))
        p.insns, p.ninsns = insns, len(built)
        table = self._new(keep, "struct hwdbg_page_bp[]", max(1, len(bps)))
        for i, bp in enumerate(bps):
            table[i].addr, table[i].len = bp.addr, bp.length
            table[i].last = self._new(keep, "unsigned char[]", bp.length)
            table[i].cur = self._new(keep, "unsigned char[]", bp.length)
        p.bps, p.nbps = table, len(bps)
        p.hits = self._new(keep, "struct hwdbg_page_hit[]", HITS)
        need = 2 * max((bp.length for bp in bps), default=0)
        p.pool_need, p.pool_size = need, max(1 << 20, 2 * need)
        p.pool = self._new(keep, "unsigned char[]", p.pool_size)
        wanted = syscalls.writing_numbers()  # the filter's calls: their stops are kernelwrites.py's
        p.wanted_nrs, p.nwanted = self._new(keep, "int[]", wanted), len(wanted)
        self._args, self._bps, self._keep = p, bps, keep

    @staticmethod
    def _new(keep: list[Any], ctype: str, init: Any) -> Any:
        array = ffi.new(ctype, init)
        keep.append(array)
        return array

    def drain(self, loop: FastLoop) -> list[tuple]:
        """The run's page hits as (bp, tid, pc, old, new, (address, length)) for publish_many;
        the counters and the trampoline page's content handed back to Python."""
        p = loop.args.pages
        if p == ffi.NULL:
            return []
        stub = self.pages.stub
        assert stub is not None
        stub._loaded = p.loaded_pc or None
        stub.used += p.faults
        self.taken += p.faults
        self.passed += p.passed
        self.pages.faults += p.faults
        pool = ffi.buffer(p.pool, p.pool_used)[:]
        out = []
        for i in range(p.nhits):
            h = p.hits[i]
            bp = self._bps[h.bp]
            n, off = h.hi - h.lo, h.pool_off
            old = int.from_bytes(pool[off:off + n], "little") if h.had_old else None
            new = int.from_bytes(pool[off + n:off + 2 * n], "little")
            out.append((bp, h.tid, h.pc, old, new, (bp.addr + h.lo, n)))
        for i, bp in enumerate(self._bps):
            if p.bps[i].have_last:
                bp.value = bytes(ffi.buffer(p.bps[i].last, bp.length))
        return out

    def resume_event(self, loop: FastLoop, tid: int, status: int) -> PageResume:
        p = loop.args.pages
        saved = sc.Regs.from_buffer_copy(bytes(ffi.buffer(p.saved, ffi.sizeof(p.saved))))
        return PageResume(tid=tid, status=status, saved=saved, start=p.start, length=p.length, prot=p.prot,
                          addr=p.fault_addr)
