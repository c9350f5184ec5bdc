"""One hit per string instruction: ``rep movs``/``rep stos`` stop once per element written into a
watched range on some CPUs (Intel: per byte in the first 256 bytes of a copy, then at 128-byte
block ends). The first stop lends the slot that fired to an execute breakpoint just after the
instruction (``BreakpointManager.lend_slot``); when that fires the instruction is done, and
the caller reports one hit, with the final value, for every breakpoint that fired inside it.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Callable, Optional

from ..arch import ArchSpec, BpType, Chunk
from ..errors import TargetError
from ..recordtype import record
from .breakpoint import BreakpointManager
from .router import SlotHit, TrapReport


@record
class InFlight:
    """A string instruction stopped mid-way: the breakpoints it fired, merged into one hit each."""

    slot: int
    pc: int
    owners: dict[int, Any] = field(default_factory=dict)  # breakpoint id -> the caller's object for it

    @property
    def breakpoints(self) -> list[Any]:
        return [self.owners[ident] for ident in sorted(self.owners)]


class StringStores:
    def __init__(self, manager: BreakpointManager, arch: ArchSpec, read_memory: Callable[[int, int], bytes],
                 get_regs: Callable[[int], object]) -> None:
        self.manager, self.arch = manager, arch
        self._read_memory, self._get_regs = read_memory, get_regs
        self._code: dict[int, bytes] = {}
        self.plain_pcs: set[int] = set()  # pcs whose instruction never stops mid-way (the C loop may take them)
        self.in_flight: dict[int, InFlight] = {}

    def reset(self) -> None:
        """A new image (start, exec): nothing known about its code."""
        self._code.clear()
        self.plain_pcs.clear()
        self.in_flight.clear()

    def forget(self, tid: int) -> None:
        self.in_flight.pop(tid, None)

    def finished(self, tid: int, report: TrapReport) -> Optional[InFlight]:
        """The instruction this thread was in has ended (its lent slot fired): the slot goes back."""
        pending = self.in_flight.get(tid)
        if pending is None or pending.slot not in report.fired_slots:
            return None
        del self.in_flight[tid]
        self.manager.end_loan(tid)
        return pending

    def defer(self, tid: int, pc: int, slot_hit: SlotHit, owner: Any) -> bool:
        """True if this data hit stopped inside a string instruction: it is merged and reported
        (for ``owner``) when the instruction ends. The stop is then mid-instruction."""
        pending = self.in_flight.get(tid)
        if pending is not None and pending.pc == pc:
            pending.owners[slot_hit.bp.id] = owner  # another slot fired inside the same instruction
            self.manager.extend_loan(tid, slot_hit.bp.id)
            return True
        code = self._code.get(pc)
        if code is None:
            code = self._code[pc] = self._read_code(pc)
            if code and not self.arch.is_string_store(code):
                self.plain_pcs.add(pc)
        if pc in self.plain_pcs:
            return False  # the common case: no register read needed
        length = self.arch.string_store_in_flight(code, self._get_regs(tid), slot_hit.chunk)
        if length is None or pending is not None:
            return False
        self.manager.lend_slot(tid, slot_hit.slot, Chunk(pc + length, self.arch.exec_length, BpType.X),
                               lenders=(slot_hit.bp.id,))
        self.in_flight[tid] = InFlight(slot=slot_hit.slot, pc=pc, owners={slot_hit.bp.id: owner})
        return True

    def _read_code(self, pc: int) -> bytes:
        try:
            return self._read_memory(pc, 8)  # up to 4 prefixes, REX, opcode
        except TargetError:
            return b""
