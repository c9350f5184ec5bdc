"""SIGTRAP routing: what a trap means, decided from siginfo first, then the thread's live DR6.

DR6 is read only at a TRAP_HWBKPT or TRAP_TRACE stop (anywhere else it is stale), and
every set slot bit is reported, not only the lowest. When exactly one slot is armed
in the thread, a TRAP_HWBKPT stop can only be that slot: the DR6 read is skipped.

On x86 an int3 is SI_KERNEL; TRAP_BRKPT is a debug exception whose DR6 named no cause
(traps.c: "icebp"): a single step that ended in a system call, an icebp (int1) instruction,
or a debug-register hit whose DR6 bits the (virtual) CPU lost before the kernel read them,
seen once in millions of hits in KVM guests under load. Such a stop is CAUSELESS: the session
works out from the code which armed slot it was (``session/causeless.py``).
``deliver`` then hands each hit to its breakpoint's ``triggered`` callback, as the kernel's
handler calls ``ptrace_triggered`` for a ptrace breakpoint.
"""
from __future__ import annotations

import enum

from ..arch import Chunk
from ..linux import ptrace as sc
from ..recordtype import record
from . import debugregs
from .breakpoint import BreakpointManager, HwBreakpoint


class TrapKind(enum.Enum):
    HW = "hw"  # a debug-register hit (possibly during a single step)
    STEP = "step"  # a single step that hit nothing
    INT3 = "int3"  # a breakpoint instruction in the program
    USER = "user"  # a SIGTRAP the program sent (kill, raise): deliver it back
    OTHER = "other"  # a kernel SIGTRAP we do not own (perf sigtrap, ...): deliver it back
    CAUSELESS = "causeless"  # a debug exception with nothing in DR6 (see above): fired_slots are the armed ones
    SPURIOUS = "spurious"  # already accounted for: resume the thread, nothing to report


@record(frozen=True)
class SlotHit:
    bp: HwBreakpoint
    chunk: Chunk
    slot: int
    tid: int
    pc: int  # si_addr: after the access for data, the instruction itself for execute


@record(frozen=True)
class TrapReport:
    kind: TrapKind
    hits: tuple[SlotHit, ...] = ()
    fired_slots: tuple[int, ...] = ()  # every slot DR6 named, owned by a breakpoint or not
    single_step: bool = False


class Router:
    def __init__(self, manager: BreakpointManager) -> None:
        self.manager = manager

    def classify(self, tid: int, info: sc.SigInfo, *, stepped: bool = False) -> TrapReport:
        """``stepped``: the thread was resumed with a single step."""
        if info.sent_by_process:
            return TrapReport(TrapKind.USER)
        if info.code == sc.TRAP_HWBKPT:
            only = self.manager.only_armed_slot(tid) if tid in self.manager.threads else None
            if only is not None:
                return self._report(tid, info.addr, (only,), single_step=False)
            return self._from_status(tid, info.addr, single_step=False)
        if info.code == sc.TRAP_TRACE:
            if tid in self.manager.threads and self.manager.armed_slot_count(tid):
                return self._from_status(tid, info.addr, single_step=True)
            return TrapReport(TrapKind.STEP, single_step=True)
        if info.code == sc.SI_KERNEL:
            return TrapReport(TrapKind.INT3)
        if info.code == sc.STEP_INTO_HANDLER and stepped:  # the handler's frame is set up, nothing ran
            return TrapReport(TrapKind.STEP, single_step=True)
        if info.code == sc.TRAP_BRKPT:
            if stepped:  # the step ended in a system call (user_single_step_report)
                return TrapReport(TrapKind.STEP, single_step=True)
            state = self.manager.threads.get(tid)
            armed = tuple(i for i, s in enumerate(state.slots) if s is not None) if state else ()
            return TrapReport(TrapKind.CAUSELESS, fired_slots=armed)
        return TrapReport(TrapKind.OTHER)

    def report_slots(self, tid: int, pc: int, slots: tuple[int, ...]) -> TrapReport:
        """The report of a data trap whose slots were found another way than DR6."""
        return self._report(tid, pc, slots, single_step=False)

    def _from_status(self, tid: int, pc: int, single_step: bool) -> TrapReport:
        status = self.manager.arch.decode_status(debugregs.read(tid, self.manager.arch.status_register))
        return self._report(tid, pc, status.slots, single_step or status.single_step)

    def _report(self, tid: int, pc: int, slots: tuple[int, ...], single_step: bool) -> TrapReport:
        hits = tuple(SlotHit(bp, chunk, slot, tid, pc) for bp, chunk, slot in self.manager.hits_for_slots(tid, slots))
        if not slots:
            return TrapReport(TrapKind.STEP if single_step else TrapKind.OTHER, single_step=single_step)
        return TrapReport(TrapKind.HW, hits, slots, single_step)

    @staticmethod
    def deliver(hits: tuple[SlotHit, ...]) -> None:
        """Calls each breakpoint's ``triggered(bp, hit)`` once, for its first slot that fired."""
        seen: set[int] = set()
        for hit in hits:
            if hit.bp.id not in seen:
                seen.add(hit.bp.id)
                if hit.bp.triggered is not None:
                    hit.bp.triggered(hit.bp, hit)
