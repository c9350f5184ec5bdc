"""The session's side of software breakpoints: whose int3 a trap is, and the step-over.

A thread reported at one of our int3s has its pc set back to the breakpoint; before it runs
again it must execute the original instruction: the byte is restored, that thread alone
single-steps (every other thread stopped, so none runs past the address unseen), and the
int3 goes back. The step's own event is queued, so a debug-register hit during it is
handled like any other.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..process.control import Inferior
from ..process.swbreak import INT3
from .hits import HitSemantics, TrapHits
from .model import UserBreakpoint


class SoftStops:
    def __init__(self, arch: Any, hits: HitSemantics, breakpoints: Callable[[], dict[int, UserBreakpoint]]) -> None:
        self.arch, self.hits, self._breakpoints = arch, hits, breakpoints
        self.over: dict[int, int] = {}  # tid -> breakpoint address it stands on, to step over

    def reset(self) -> None:
        self.over.clear()

    def claim(self, inf: Inferior, tid: int) -> Optional[int]:
        """If this int3 trap is ours, sets the pc back onto the breakpoint and returns its address."""
        regs = inf.get_regs(tid)
        addr = self.arch.get_pc(regs) - 1
        breaks = inf.breaks
        if not breaks.is_ours(addr):
            # One we removed while this trap waited in the queue (gdb's moribund locations).
            if addr not in breaks.ever or addr in breaks.sites or inf.read_raw(addr, 1)[0] == INT3:
                return None
        self.arch.set_pc(regs, addr)
        inf.set_regs(tid, regs)
        self.over[tid] = addr
        return addr

    def hits_at(self, tid: int, addr: int, owners: set[int]) -> TrapHits:
        """Applies each breakpoint's semantics (thread, condition, ignore count) to one int3 hit."""
        trap = TrapHits()
        breakpoints = self._breakpoints()
        for bp_id in sorted(owners):
            bp = breakpoints.get(bp_id)
            if bp is None or not bp.enabled or (bp.thread is not None and bp.thread != tid):
                continue
            self.hits.record(bp, tid, addr, trap)
        return trap

    def needs_step_over(self, inf: Inferior, tid: int) -> Optional[int]:
        addr = self.over.pop(tid, None)
        if addr is None or not inf.breaks.is_ours(addr):
            return None
        if self.arch.get_pc(inf.get_regs(tid)) != addr:
            return None  # the user moved the pc
        return addr

    @staticmethod
    def step_over(inf: Inferior, tid: int, addr: int) -> None:
        """Runs the original instruction at addr in tid alone; its event is queued for the loop."""
        inf.breaks.lift(addr)
        try:
            event = inf.step_alone(tid)
        finally:
            if inf.alive:
                inf.breaks.drop(addr)
        if event is not None:
            inf.requeue(event)
