"""A fault on a watched page handled in one trip: the write runs in a trampoline.

The old way (pagewatch.handle_fault) costs four stops of the faulting thread: an injected
mprotect that lifts the page, a single step of the write, an injected mprotect that
protects it again, then the resume. Here the thread is sent, with every other thread still
stopped, to a trampoline (arch/trampoline.py) in two pages of hwdbg's own in the target: it
lifts the pages, makes the write, protects them again and stops at an int3, where the
registers are set as the write left them and the pc after it. One stop instead of four;
bench/results/pages.md has the figures.

Not taken (the old way instead): an instruction that cannot run elsewhere (jumps, rep
string instructions, a rip-relative operand out of reach), pages of different protections,
a process with debug-register watches (a trap inside the trampoline would name the
trampoline), and anything unexpected on the way (the write faulting again: a neighbouring
page, a real fault), after which the registers and protections are put back as they were.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..arch import trampoline
from ..errors import TargetError
from ..linux import ptrace as sc
from ..process import events as pev
from ..process import inject
from ..process.control import Inferior

PAGE = 4096
NR_MMAP, NR_MUNMAP, NR_MADVISE = 9, 11, 28
MADV_DONTFORK = 10
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20


class FaultStub:
    def __init__(self, *, read_raw: Callable[[int, int], bytes]) -> None:
        self._read_raw = read_raw
        self.area: Optional[int] = None  # code page; data page after it
        self._failed = False
        self._decoded: dict[int, Optional[tuple[trampoline.Write, Optional[bytes]]]] = {}
        self._loaded: Optional[int] = None  # the pc whose trampoline is in the code page now
        self.used = 0  # faults handled here (tests, benchmarks)
        self.version = 0  # bumped when a decoded trampoline changes (pagefast.py rebuilds its table)

    def reset(self) -> None:
        """Exec or exit: the area went with the old image."""
        self.area, self._failed, self._loaded = None, False, None
        self._decoded.clear()
        self.version += 1

    def overlaps(self, addr: int, length: int) -> bool:
        return self.area is not None and self.area < addr + length and addr < self.area + 2 * PAGE

    def _trampoline(self, pc: int) -> Optional[bytes]:
        found = self._decoded.get(pc)
        if found is not None:  # the code may have changed since (a library unloaded, a JIT)
            try:
                if self._read_raw(pc, found[0].length) != found[0].code:
                    del self._decoded[pc]
                    self.version += 1
                    if self._loaded == pc:
                        self._loaded = None
            except TargetError:
                return None
        if pc not in self._decoded:
            try:
                write = trampoline.decode(self._read_raw(pc, trampoline.MAX_INSN), pc)
            except TargetError:
                write = None
            code = trampoline.build_for(self.area, self.area + PAGE, write) if write and self.area else None
            self._decoded[pc] = (write, code) if write else None
            self.version += 1
            if len(self._decoded) > 4096:
                self._decoded.clear()
        found = self._decoded[pc]
        return found[1] if found else None

    def _allocate(self, inf: Inferior, tid: int, near: int) -> bool:
        """Two pages (code, data) near the faulting code, so rip-relative operands reach."""
        hint = max(PAGE * 16, (near & ~(PAGE - 1)) - (1 << 30))
        rc = inject.inject_syscall(inf, tid, NR_MMAP, hint, 2 * PAGE, inject.PROT_READ | inject.PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, inject.MASK64, 0)
        if rc < 0 or rc >= 1 << 63:
            self._failed = True
            return False
        # code page read+exec (written through /proc/PID/mem); not inherited by forked children
        if inject.inject_syscall(inf, tid, 10, rc, PAGE, inject.PROT_READ | inject.PROT_EXEC) != 0 \
                or inject.inject_syscall(inf, tid, NR_MADVISE, rc, 2 * PAGE, MADV_DONTFORK) != 0:
            inject.inject_syscall(inf, tid, NR_MUNMAP, rc, 2 * PAGE)
            self._failed = True
            return False
        self.area = rc
        return True

    def run(self, inf: Inferior, tid: int, start: int, length: int, prot: int) -> Optional[list[pev.ProcessEvent]]:
        """Runs the faulting write of tid (stopped at its fault, others stopped) with pages
        [start, start+length) lifted to prot and protected again. Returns the events held
        meanwhile (to be handled after), or None if it was not done (nothing changed)."""
        if self._failed:
            return None
        regs = inf.get_regs(tid)
        pc = regs.rip
        if self.area is None and not self._allocate(inf, tid, pc):
            return None
        code = self._trampoline(pc)
        if code is None:
            return None
        assert self.area is not None
        data = self.area + PAGE
        if self._loaded != pc:
            inf.write_raw(self.area, code)
            self._loaded = pc
        inf.write_raw(data, trampoline.DATA.pack(*(getattr(regs, r) for r in trampoline.SAVED),
                                                 start, length, prot & ~inject.PROT_WRITE))
        saved = sc.Regs.from_buffer_copy(regs)
        regs.rip, regs.rax, regs.orig_rax = self.area, trampoline.NR_MPROTECT, inject.MASK64
        regs.rdi, regs.rsi, regs.rdx = start, length, prot
        inf.set_regs(tid, regs)
        return self._finish(inf, tid, saved, start, length, prot)

    def resume(self, inf: Inferior, tid: int, status: int, saved: sc.Regs, start: int, length: int,
               prot: int) -> Optional[list[pev.ProcessEvent]]:
        """run's end for a run the C hit loop started (pagefast.py) and a stop (status) cut short."""
        found = self._decoded.get(saved.rip)
        if found is None or found[1] is None or self.area is None or self._loaded != saved.rip:
            raise TargetError(f"thread {tid}: the C loop's trampoline run is not the one loaded")  # cannot happen
        return self._finish(inf, tid, saved, start, length, prot, first=(tid, status))

    def _finish(self, inf: Inferior, tid: int, saved: sc.Regs, start: int, length: int, prot: int,
                first: Optional[tuple[int, int]] = None) -> Optional[list[pev.ProcessEvent]]:
        pc = saved.rip
        assert self.area is not None
        data = self.area + PAGE
        code = self._decoded[pc][1]  # type: ignore[index]
        end = self.area + len(code)  # type: ignore[arg-type]
        event, held = inject.run_alone(inf, tid, end, first)
        if event is not None or not inf.alive or tid not in inf.threads:
            self._undo(inf, tid, saved, start, length, prot, event)
            self._requeue(inf, held)
            return None if inf.alive and tid in inf.threads else []
        after = inf.get_regs(tid)
        values = trampoline.DATA.unpack(inf.read_raw(data, trampoline.DATA.size))
        for name, value in zip(trampoline.SAVED, values):
            setattr(after, name, value)
        after.rip = pc + len(self._decoded[pc][0].code)  # type: ignore[index]
        inf.set_regs(tid, after)
        self.used += 1
        return held

    def _undo(self, inf: Inferior, tid: int, saved: sc.Regs, start: int, length: int, prot: int,
              event: Optional[pev.ProcessEvent]) -> None:
        """The trampoline stopped before its end: the write did not happen (it faults before it
        writes); registers and protections back as at the fault; the old way takes over."""
        pc = saved.rip
        self._decoded[pc] = None  # this write goes the old way from now on (a page-crossing write, say)
        self.version += 1
        if not inf.alive or tid not in inf.threads:
            return
        inf.threads[tid].signal = 0
        inf.set_regs(tid, saved)
        inject.mprotect(inf, tid, start, length, prot & ~inject.PROT_WRITE)

    @staticmethod
    def _requeue(inf: Inferior, held: list[pev.ProcessEvent]) -> None:
        for event in reversed(held):
            if isinstance(event, pev.Signal) and event.tid in inf.threads:
                inf.threads[event.tid].signal = event.signo
            inf.requeue(event)

    requeue = _requeue
