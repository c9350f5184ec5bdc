"""The hw_breakpoint API: logical breakpoints, virtualised onto every thread's slots.

Names follow the kernel (``register_user_hw_breakpoint``, ``modify_user_hw_breakpoint``,
``unregister_hw_breakpoint``). The manager keeps, per thread, a shadow of what the
hardware holds; a sync writes only the difference, so an unchanged thread costs no
system call. Writes are transactional across threads: if one thread refuses, every
thread already written is put back and the request is undone.

The caller (the session) guarantees that every thread passed in is in a ptrace-stop.
"""
from __future__ import annotations

import enum
import errno
import itertools
from dataclasses import field
from typing import Callable, Iterable, Optional

from ..arch import ArchSpec, BpType, Chunk
from ..errors import PtraceError, SlotError, ValidationError
from ..linux import procfs
from ..recordtype import record
from . import debugregs
from .ranges import split_range
from .slots import Allocation, SlotRequest, ThreadRegisters, allocate, plan_writes, state_after


class Status(enum.Enum):
    REGISTERED = "registered"  # known, waiting for a slot (or disabled)
    INSTALLED = "installed"  # in the hardware of every thread it applies to


Callback = Optional[Callable[..., None]]


@record(eq=False)
class HwBreakpoint:
    id: int
    addr: int
    length: int
    type: BpType  # as requested (R is emulated with RW)
    priority: int
    tid: Optional[int]  # None: every thread of the process
    chunks: tuple[Chunk, ...]
    seq: int
    enabled: bool = True
    triggered: Callback = None  # triggered(bp, hit)
    installed: Callback = None  # installed(bp)
    uninstalled: Callback = None  # uninstalled(bp)
    slots_by_tid: dict[int, tuple[int, ...]] = field(default_factory=dict)
    status: Status = Status.REGISTERED

    @property
    def hw_type(self) -> BpType:
        return self.chunks[0].type

    def applies_to(self, tid: int) -> bool:
        return self.enabled and (self.tid is None or self.tid == tid)

    def __repr__(self) -> str:
        return (f"<HwBreakpoint {self.id} {self.type.label} {self.addr:#x} len {self.length} "
                f"prio {self.priority} {self.status.value}>")


@record(frozen=True)
class Loan:
    """A slot of one thread lent to a chunk no breakpoint owns (the end of a string instruction).

    Every sync keeps the loan in place, and keeps the lenders (the breakpoints whose hit led
    to it) out of that thread, until ``end_loan``: a change made meanwhile (from a callback,
    from another thread's stop) must not re-arm the instruction it is waiting for.
    """

    slot: int
    chunk: Chunk
    lenders: frozenset[int]


class SyncError(SlotError):
    """A thread refused a debug-register write; every thread was rolled back."""


class BreakpointManager:
    def __init__(self, arch: ArchSpec) -> None:
        self.arch = arch
        self.breakpoints: dict[int, HwBreakpoint] = {}
        self.threads: dict[int, ThreadRegisters] = {}
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self.epoch = 0  # bumped whenever a shadow or the breakpoint set may have changed
        self.reserved = 0  # slots left to perf counters (watch --count), taken from the top
        self.loans: dict[int, Loan] = {}
        # A thread whose stop is queued, unread, keeps the registers it stopped with: the stop's
        # DR6 names slots of that layout. Its sync waits (``stale``) until the stop is read.
        self.is_held: Callable[[int], bool] = lambda tid: False
        self.stale: set[int] = set()

    # ------------------------------------------------------------ the kernel-style API

    def register_user_hw_breakpoint(self, addr: int, length: int, bp_type: BpType, *, priority: int = 0,
                                    tid: Optional[int] = None, triggered: Callback = None,
                                    installed: Callback = None, uninstalled: Callback = None,
                                    split: bool = True, bp_id: Optional[int] = None) -> HwBreakpoint:
        if tid is not None and tid not in self.threads:
            raise ValidationError(f"no thread {tid} in this process")
        chunks = self.make_chunks(addr, length, bp_type, split=split)
        bp = HwBreakpoint(id=bp_id if bp_id is not None else next(self._ids), addr=addr,
                          length=self.arch.exec_length if bp_type == BpType.X else length,
                          type=bp_type, priority=priority, tid=tid, chunks=chunks, seq=next(self._seq),
                          triggered=triggered, installed=installed, uninstalled=uninstalled)
        self.breakpoints[bp.id] = bp
        try:
            self.sync()
        except BaseException:
            del self.breakpoints[bp.id]
            raise
        return bp

    def modify_user_hw_breakpoint(self, bp: HwBreakpoint, *, addr: Optional[int] = None,
                                  length: Optional[int] = None, bp_type: Optional[BpType] = None,
                                  priority: Optional[int] = None, enabled: Optional[bool] = None) -> None:
        before = (bp.addr, bp.length, bp.type, bp.chunks, bp.priority, bp.enabled)
        new_addr = bp.addr if addr is None else addr
        new_len = bp.length if length is None else length
        new_type = bp.type if bp_type is None else bp_type
        chunks = self.make_chunks(new_addr, new_len, new_type)
        bp.addr, bp.length, bp.type, bp.chunks = new_addr, new_len, new_type, chunks
        if priority is not None:
            bp.priority = priority
        if enabled is not None:
            bp.enabled = enabled
        try:
            self.sync()
        except BaseException:
            bp.addr, bp.length, bp.type, bp.chunks, bp.priority, bp.enabled = before
            raise

    def unregister_hw_breakpoint(self, bp: HwBreakpoint) -> None:
        removed = self.breakpoints.pop(bp.id, None)
        if removed is None:
            return
        try:
            self.sync()
        except BaseException:
            self.breakpoints[bp.id] = removed
            raise

    def make_chunks(self, addr: int, length: int, bp_type: BpType, *, split: bool = True) -> tuple[Chunk, ...]:
        """Validates a request and cuts it into hardware chunks (or raises; nothing changes)."""
        arch = self.arch
        hw_type = BpType.RW if bp_type == BpType.R and not arch.supports(BpType.R) else bp_type
        if hw_type == BpType.X or not split:
            return (arch.validate(addr, length, hw_type),)
        if length <= 0:
            raise ValidationError(f"length must be positive, got {length}")
        if length > 1 << 20:
            raise ValidationError(f"length {length} is too long: {arch.nslots} debug registers watch at most "
                                  f"{arch.nslots * arch.max_length} bytes")
        arch.validate(addr - addr % arch.max_length, 1, hw_type)  # range check with a clear message first
        pieces = split_range(addr, length, arch.lengths)
        if len(pieces) > arch.nslots:
            raise ValidationError(
                f"{addr:#x} length {length} needs {len(pieces)} debug registers, the CPU has {arch.nslots} "
                f"(at most {arch.nslots * arch.max_length} aligned bytes); watch a smaller range")
        return tuple(arch.validate(a, n, hw_type) for a, n in pieces)

    # ------------------------------------------------------------ threads

    def add_thread(self, tid: int) -> None:
        """A thread whose debug registers are all clear (new thread, or after exec)."""
        self.threads[tid] = ThreadRegisters.clear(self.arch.nslots)
        self.epoch += 1

    def remove_thread(self, tid: int) -> None:
        self.threads.pop(tid, None)
        self.loans.pop(tid, None)
        self.stale.discard(tid)
        self.epoch += 1
        for bp in list(self.breakpoints.values()):
            bp.slots_by_tid.pop(tid, None)
            if bp.tid == tid:
                del self.breakpoints[bp.id]  # its thread is gone, and so is it
        self._update_status()

    def reset_after_exec(self, tid: int) -> None:
        """execve cleared every register, and only ``tid`` survives."""
        for old in list(self.threads):
            self.remove_thread(old)
        self.add_thread(tid)

    # ------------------------------------------------------------ syncing

    def desired(self, tid: int) -> Allocation:
        loan = self.loans.get(tid)
        lenders = loan.lenders if loan is not None else frozenset()
        requests = [SlotRequest(bp.id, bp.priority, bp.seq, bp.chunks)
                    for bp in self.breakpoints.values() if bp.applies_to(tid) and bp.id not in lenders]
        usable = list(self.threads[tid].slots[:self.arch.nslots - self.reserved])
        if loan is not None:
            if loan.slot >= len(usable):
                raise SlotError(f"slot {loan.slot} of thread {tid} is lent until its string instruction ends; "
                                "try again at the next stop")
            del usable[loan.slot]  # not the allocator's while lent
        alloc = allocate(requests, len(usable), usable)
        slots = list(alloc.slots)
        if loan is not None:
            slots.insert(loan.slot, loan.chunk)
        return Allocation(tuple(slots) + (None,) * self.reserved, alloc.installed)

    def sync(self, tids: Optional[Iterable[int]] = None) -> None:
        """Brings the given threads (default: all) to the desired state, all or nothing."""
        targets = list(self.threads if tids is None else tids)
        plans = []
        for tid in targets:
            alloc = self.desired(tid)
            plans.append((tid, alloc, plan_writes(self.arch, self.threads[tid], alloc.slots)))
        done: list[tuple[int, ThreadRegisters]] = []
        gone: list[int] = []
        held: list[int] = []
        for tid, alloc, writes in plans:
            if writes and self.is_held(tid):
                held.append(tid)
                continue
            before = self.threads[tid]
            try:
                debugregs.write_sequence(tid, writes)
            except PtraceError as exc:
                if exc.errno == errno.ESRCH and not procfs.is_alive(tid):
                    gone.append(tid)  # it exited, its exit not yet handled: nothing to arm there
                    continue
                self.threads[tid] = state_after(self.arch, before, writes[:getattr(exc, "done", 0)])
                self._restore(tid, before)
                for other, state in reversed(done):
                    self._restore(other, state)
                raise self._sync_error(tid, exc) from None
            self.threads[tid] = state_after(self.arch, before, writes)
            self.stale.discard(tid)
            done.append((tid, before))
        self.stale.update(held)
        for tid, alloc, _ in plans:
            if tid not in gone and tid not in held:
                self._record(tid, alloc)
        for tid in gone:
            self.remove_thread(tid)
        self.epoch += 1
        self._update_status()

    def _restore(self, tid: int, state: ThreadRegisters) -> None:
        """Puts a thread's armed slots back to ``state`` after a failed transaction.

        Only what differs is written: writing an address the thread never held could
        itself fail (ENOSPC). A slot that was written and is now disabled again keeps its
        address (harmless: disabled), and the shadow records it.
        """
        current = self.threads[tid]
        writes = plan_writes(self.arch, current, state.slots)
        try:
            debugregs.write_sequence(tid, writes)
            self.threads[tid] = state_after(self.arch, current, writes)
        except PtraceError:
            # The thread is gone or refuses everything: make sure nothing stays armed.
            try:
                debugregs.write(tid, self.arch.control_register, 0)
            except PtraceError:
                pass
            self.threads[tid] = ThreadRegisters(list(current.addrs), [None] * self.arch.nslots)

    def _sync_error(self, tid: int, exc: PtraceError) -> SlotError:
        if exc.errno == errno.ENOSPC:
            from ..diagnose import explain_slots_busy  # local: only a failure needs the diagnostics
            return SyncError(f"{explain_slots_busy(tid, nslots=self.arch.nslots)} ({exc.request} {exc.what}: "
                             "ENOSPC); nothing was changed")
        return SyncError(f"thread {tid} refused the debug-register update ({exc}); nothing was changed")

    def _record(self, tid: int, alloc: Allocation) -> None:
        for bp in self.breakpoints.values():
            if bp.id in alloc.installed:
                bp.slots_by_tid[tid] = tuple(alloc.slots.index(c) for c in bp.chunks)
            else:
                bp.slots_by_tid.pop(tid, None)

    def _update_status(self) -> None:
        """Recomputes every status; fires installed/uninstalled exactly on transitions."""
        if not self.threads:
            return  # the last thread ended before the main one: the process's end is on its way
        for bp in list(self.breakpoints.values()):
            scope = [bp.tid] if bp.tid is not None else list(self.threads)
            installed = bool(scope) and bp.enabled and all(t in bp.slots_by_tid for t in scope)
            status = Status.INSTALLED if installed else Status.REGISTERED
            if status is bp.status:
                continue
            bp.status = status
            callback = bp.installed if installed else bp.uninstalled
            if callback is not None:
                callback(bp)

    def clear_thread(self, tid: int) -> None:
        """Disarms one thread completely (before it is let go)."""
        state = self.threads.get(tid)
        if state is None:
            return
        # DR7 first (disarms everything at once), then only the addresses still set.
        writes = [(self.arch.control_register, 0)] if any(s is not None for s in state.slots) else []
        writes += [(n, 0) for n, addr in enumerate(state.addrs) if addr]
        debugregs.write_sequence(tid, writes)
        self.threads[tid] = ThreadRegisters.clear(self.arch.nslots)
        self.loans.pop(tid, None)
        self.stale.discard(tid)
        self.epoch += 1
        for bp in self.breakpoints.values():
            bp.slots_by_tid.pop(tid, None)

    def lend_slot(self, tid: int, slot: int, chunk: Chunk, lenders: Iterable[int]) -> None:
        """Puts ``chunk`` (owned by no breakpoint) in ``slot`` of one thread until ``end_loan``;
        the ``lenders`` stay out of that thread meanwhile."""
        if slot >= self.arch.nslots - self.reserved:
            raise ValidationError(f"slot {slot} belongs to a perf counter and cannot be lent")
        self.loans[tid] = Loan(slot, chunk, frozenset(lenders))
        try:
            self.sync([tid])
        except BaseException:
            del self.loans[tid]
            raise

    def extend_loan(self, tid: int, lender: int) -> None:
        """Another breakpoint fired inside the instruction the loan waits for: it waits too."""
        loan = self.loans[tid]
        self.loans[tid] = Loan(loan.slot, loan.chunk, loan.lenders | {lender})
        self.sync([tid])

    def end_loan(self, tid: int) -> None:
        """The slot goes back to the breakpoints (the lenders come back in)."""
        if self.loans.pop(tid, None) is not None and tid in self.threads:
            self.sync([tid])

    # ------------------------------------------------------------ routing

    def armed_slot_count(self, tid: int) -> int:
        return sum(1 for s in self.threads[tid].slots if s is not None)

    def only_armed_slot(self, tid: int) -> Optional[int]:
        slots = [i for i, s in enumerate(self.threads[tid].slots) if s is not None]
        return slots[0] if len(slots) == 1 else None

    def hits_for_slots(self, tid: int, slots: Iterable[int]) -> list[tuple[HwBreakpoint, Chunk, int]]:
        """Every (breakpoint, chunk, slot) behind the given fired slots of one thread."""
        state = self.threads.get(tid)
        out = []
        if state is None:
            return out
        for slot in slots:
            chunk = state.slots[slot]
            if chunk is None:
                continue
            for bp in self.breakpoints.values():
                if chunk in bp.chunks and slot in bp.slots_by_tid.get(tid, ()):
                    out.append((bp, chunk, slot))
        return out
