"""A debug trap whose cause was lost: which armed slot or perf counter it was, read from the code.

The router calls a TRAP_BRKPT stop CAUSELESS (see hw/router.py): the kernel found nothing in
DR6. Under load in KVM guests a real debug-register hit sometimes arrives so, once in millions:
taken for an int3 it was a lost hit (and a perf counter misses the count). What else can raise
one here is an icebp (int1): that trap is the program's own. A data trap is reported after the
access, so the instruction that ends at the pc did it: every start 1..15 bytes back that
decodes to an instruction ending exactly there is tried, and its memory operands, computed
from the registers, are matched against the thread's trap sources (as the CPU would have set a
DR6 bit for each). An execute breakpoint is a fault before its instruction: resumed, it fires
again with its cause. A thread with one data source needs no decoding.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from ..arch import BpType
from ..errors import HwdbgError
from ..hw.breakpoint import BreakpointManager
from ..hw.router import Router, TrapKind, TrapReport
from ..process.control import Inferior
from ..recordtype import record

ICEBP = 0xF1
MAX_INSTRUCTION = 15  # bytes, x86


@record(frozen=True)
class Source:
    """Something that can raise a debug trap in one thread: an armed slot, or a perf counter's chunk."""
    addr: int
    length: int
    type: BpType
    slot: Optional[int] = None
    counter: Any = None  # hw.counting.Counter


class CauselessTraps:
    def __init__(self, manager: BreakpointManager, router: Router, breakpoints: Callable[[], dict[int, Any]]) -> None:
        self.manager, self.router, self._breakpoints = manager, router, breakpoints
        self.recovered = 0  # hits found this way (for tests and curiosity)

    def sources(self, tid: int, armed: tuple[int, ...]) -> list[Source]:
        state = self.manager.threads[tid]
        out = [Source(c.addr, c.length, c.type, slot=i) for i in armed if (c := state.slots[i]) is not None]
        for bp in self._breakpoints().values():
            counter = getattr(bp, "counter", None)
            if counter is not None and tid in counter.fds:
                out += [Source(c.addr, c.length, c.type, counter=counter) for c in counter.chunks]
        return out

    def resolve(self, inf: Inferior, tid: int, pc: int, report: TrapReport) -> TrapReport:
        """What the CAUSELESS ``report`` was: HW (the slots that fired), SPURIOUS (nothing to report:
        an execute breakpoint that will fire again, or perf counts mended), or INT3 (the program's own)."""
        if tid not in self.manager.threads:
            return TrapReport(TrapKind.INT3)
        sources = self.sources(tid, report.fired_slots)
        code = _code_before(inf, pc)
        fired = _accessed(sources, code, pc, inf.get_regs(tid)) if sources else []
        if not fired:
            if any(s.type == BpType.X and s.addr == pc for s in sources):
                return TrapReport(TrapKind.SPURIOUS)
            data = [s for s in sources if s.type != BpType.X]
            if (code and code[-1] == ICEBP) or len(data) != 1:
                return TrapReport(TrapKind.INT3)  # an icebp, or nothing we can name: the program's
            fired = data
        self.recovered += 1
        for source in fired:
            if source.counter is not None:
                source.counter.missed += 1
        slots = tuple(s.slot for s in fired if s.slot is not None)
        return self.router.report_slots(tid, pc, slots) if slots else TrapReport(TrapKind.SPURIOUS)


def _code_before(inf: Inferior, pc: int) -> bytes:
    """Up to 15 bytes that end at pc (fewer at the start of a mapping)."""
    for n in range(MAX_INSTRUCTION, 0, -1):
        try:
            return inf.read_memory(pc - n, n)
        except HwdbgError:
            continue
    return b""


def _accessed(sources: list[Source], code: bytes, pc: int, regs: Any) -> list[Source]:
    """The sources an instruction ending at pc accessed as they trap (writes for W, any access for RW)."""
    fired: list[Source] = []
    for addr, size, writes in _memory_operands(code, pc, regs):
        for s in sources:
            if s.type == BpType.X or s in fired or (s.type == BpType.W and not writes):
                continue
            if addr < s.addr + s.length and s.addr < addr + size:
                fired.append(s)
    return fired


def _memory_operands(code: bytes, pc: int, regs: Any) -> list[tuple[int, int, bool]]:
    """(address, size, writes) of every memory operand of every decoding of ``code`` that ends at pc."""
    decoder = _decoder()
    if decoder is None:
        return []
    from capstone import CS_AC_WRITE
    from capstone.x86 import X86_OP_MEM
    out = []
    for n in range(1, len(code) + 1):
        insns = list(decoder.disasm(code[-n:], pc - n, 1))
        if not insns or insns[0].size != n:
            continue
        insn = insns[0]
        for op in insn.operands:
            if op.type == X86_OP_MEM and op.access:
                addr = _effective_address(insn, op.mem, regs, pc)
                if addr is not None:
                    out.append((addr, op.size, bool(op.access & CS_AC_WRITE)))
    return out


def _effective_address(insn: Any, mem: Any, regs: Any, pc: int) -> Optional[int]:
    total = mem.disp
    for reg, scale in ((mem.base, 1), (mem.index, mem.scale)):
        if reg:
            name = insn.reg_name(reg)
            value = pc if name == "rip" else getattr(regs, name, None)  # 64-bit registers only
            if value is None:
                return None
            total += value * scale
    if mem.segment:
        total += getattr(regs, f"{insn.reg_name(mem.segment)}_base", 0)
    return total & (2**64 - 1)


@functools.lru_cache(maxsize=1)
def _decoder() -> Any:
    try:
        import capstone  # optional: without it only a thread's single data source is recognised
    except ImportError:
        return None
    decoder = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    decoder.detail = True
    return decoder
