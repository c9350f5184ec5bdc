"""What a hit means: the value rules of watch/rwatch, conditions, ignore counts, the Hit record.

``HitSemantics.triggered`` is what the hw layer calls for each breakpoint that fired, as the
kernel calls ``ptrace_triggered``; the session collects the trap's hits and whether to stop.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from .. import expr
from .. import records as rec
from ..errors import HwdbgError, TargetError
from ..hw.router import Router, SlotHit, TrapReport
from ..hw.strings import StringStores
from ..records import Kind
from .model import UserBreakpoint


def as_int(data: Optional[bytes], signed: bool) -> Optional[int]:
    return None if data is None else int.from_bytes(data, "little", signed=signed)


class TrapHits:
    """The hits of one trap, and whether any of them stops the target."""

    def __init__(self) -> None:
        self.hits: list[rec.Hit] = []
        self.stop = False


class HitSemantics:
    def __init__(self, strings: StringStores, *, read_memory: Callable[[int, int], bytes], describe: Callable[[int], rec.Frame],
                 backtrace: Callable[[int], tuple[rec.Frame, ...]], env: Callable[[int], Any],
                 emit: Callable[[Any], None], tracing: Callable[[], bool], current: Callable[[int], bool],
                 function_at: Optional[Callable[[int, rec.Frame], Optional[str]]] = None) -> None:
        self._read_memory, self._describe, self._backtrace = read_memory, describe, backtrace
        # the name a hit gives its place (hit_places.py: the innermost, inlined, function)
        self._function_at = function_at or (lambda pc, where: where.function)
        self._env, self._emit, self._tracing, self._current = env, emit, tracing, current
        self.strings = strings  # rep movs/stos merging
        self.published = 0  # hits announced so far (the session flushes and batches by it)
        self._trap: Optional[TrapHits] = None  # the hits of the trap being handled

    def collect(self, tid: int, report: TrapReport) -> TrapHits:
        """The hits of one debug trap: a string instruction that ended, then every breakpoint
        that fired, each handed to ``triggered`` by the hw layer."""
        trap = self._trap = TrapHits()
        try:
            ended = self.strings.finished(tid, report)
            if ended is not None:
                for bp in ended.breakpoints:
                    if self._current(bp.id):
                        self.record(bp, tid, ended.pc, trap, at=ended.pc)
            Router.deliver(report.hits)
        finally:
            self._trap = None
        return trap

    def triggered(self, bp: UserBreakpoint, hit: SlotHit) -> None:
        """The hw layer's callback for a breakpoint that fired (the role of the kernel's ptrace_triggered)."""
        trap, strings = self._trap, self.strings
        assert trap is not None, "triggered outside a trap"
        if not self._current(bp.id):
            return  # deleted by a callback of another hit of the same trap
        if bp.kind.is_data and strings.defer(hit.tid, hit.pc, hit, bp):
            return
        self.record(bp, hit.tid, hit.pc, trap)

    def read_value(self, bp: UserBreakpoint) -> Optional[bytes]:
        if not bp.kind.is_data:
            return None
        try:
            return self._read_memory(bp.addr, bp.length)
        except TargetError:
            return None

    def record(self, bp: UserBreakpoint, tid: int, pc: int, trap: TrapHits, at: Optional[int] = None,
               syscall: Optional[tuple[str, dict[str, int], int]] = None,
               change: Optional[tuple[Optional[int], int, int, int]] = None) -> None:
        """Applies the breakpoint's semantics to one hit, adding it to ``trap`` if it counts.
        ``change`` (old, new, address, length): a page watch's changed bytes, already compared."""
        old = new = None
        if change is not None:
            old, new = change[0], change[1]
        elif bp.kind.is_data:
            data = self.read_value(bp)
            previous, bp.value = bp.value, data
            old, new = as_int(previous, bp.signed), as_int(data, bp.signed)
            if bp.changes_only and data == previous:
                return  # watch: same value written again
            if bp.kind is Kind.RWATCH and previous is not None and data != previous:
                return  # rwatch on x86-64: an access that changed the value was a write
        if bp.condition_ast is not None and not self._condition_holds(bp, tid, old, new):
            return
        if bp.ignore_count > 0:
            bp.ignore_count -= 1
            return
        stops = not (bp.trace or self._tracing())
        hit = self.publish(bp, tid, pc, old, new, at, stopped=stops, syscall=syscall,
                           changed=change[2:] if change is not None else None)
        trap.hits.append(hit)
        trap.stop |= stops

    def publish(self, bp: UserBreakpoint, tid: int, pc: int, old: Optional[int], new: Optional[int],
                at: Optional[int] = None, stopped: bool = False, backtrace: Optional[tuple[rec.Frame, ...]] = None,
                note: Optional[str] = None, time: Optional[int] = None,
                syscall: Optional[tuple[str, dict[str, int], int]] = None,
                changed: Optional[tuple[int, int]] = None) -> rec.Hit:
        """Counts, keeps and announces one hit, located at ``at`` (default: the accessing instruction).
        ``backtrace``, ``note`` and ``time`` come with records read without stopping (--no-stop);
        ``syscall`` (name, arguments, result) makes it a write by the kernel."""
        # Data traps come after the access: pc - 1 lies in the instruction that made it.
        place = at if at is not None else pc - 1 if bp.kind.is_data else pc
        where = self._describe(place)
        if backtrace is None and bp.backtrace and note is None:
            backtrace = self._backtrace(tid)
        hit = rec.Hit(id=bp.id, kind=bp.kind, expr=bp.expr, address=bp.addr, length=bp.length, tid=tid, pc=pc,
                      old=old, new=new, function=self._function_at(place, where), file=where.file, line=where.line,
                      backtrace=backtrace, stopped=stopped, note=note, time=time)
        if syscall is not None:
            hit.syscall, hit.syscall_args, hit.syscall_result = syscall
        hit.changed = changed
        bp.hit_count += 1
        sample = hit.backtrace
        if sample is None and note is None and not bp.writers.knows(pc, hit.syscall):
            sample = self._sample(tid)  # a new writer, its thread stopped here: info writers shows its caller
        bp.writers.add(pc, tid, old, new, where, sample, hit.syscall)  # exact even when few hits are kept
        bp.hits.append(hit)
        self.published += 1
        self._emit(hit)
        if bp.on_hit is not None:
            bp.on_hit(hit)
        return hit

    def _sample(self, tid: int) -> Optional[tuple[rec.Frame, ...]]:
        """One backtrace for a writer's row (once per writer, so the hit path stays fast); None if
        the stack cannot be read."""
        try:
            return self._backtrace(tid)
        except HwdbgError:
            return None

    def publish_many(self, hits: list[tuple[UserBreakpoint, int, int, Optional[int], Optional[int]]]) -> None:
        """``publish`` for the C loop's hits, (bp, tid, pc, old, new) of trace breakpoints with no
        backtrace or callback: the same records, one call per burst. Every hit is counted
        and kept even if a listener fails; the first failure is raised at the end."""
        describe, emit, make = self._describe, self._emit, rec.Hit
        places: dict[tuple[int, int], tuple[rec.Frame, Optional[str]]] = {}
        failure: Optional[Exception] = None
        for bp, tid, pc, old, new, *changed in hits:  # a page watch's hit adds (address, length)
            known = places.get((bp.id, pc))
            if known is None:
                place = pc - 1 if bp.kind.is_data else pc
                where = describe(place)
                known = places[(bp.id, pc)] = (where, self._function_at(place, where))
            where, function = known
            hit = make(bp.id, bp.kind, bp.expr, bp.addr, bp.length, tid, pc, old, new, function, where.file,
                       where.line)
            if changed:
                hit.changed = changed[0]
            bp.hit_count += 1
            bp.writers.add(pc, tid, old, new, where, None)
            bp.hits.append(hit)
            self.published += 1
            try:
                emit(hit)
            except Exception as exc:  # a listener failed: every hit that happened still counts
                failure = failure or exc
        if failure is not None:
            raise failure

    def publish_records(self, bp: UserBreakpoint, records: list[tuple[int, int, int]], note: str) -> None:
        """``publish`` for --no-stop records without call chains, (tid, pc, time): one call per
        batch, so the reader keeps up with the kernel."""
        describe, emit, make = self._describe, self._emit, rec.Hit
        places: dict[int, tuple[rec.Frame, Optional[str]]] = {}
        data = bp.kind.is_data
        for tid, pc, time in records:
            known = places.get(pc)
            if known is None:
                place = pc - 1 if data else pc
                where = describe(place)
                known = places[pc] = (where, self._function_at(place, where))
            where, function = known
            hit = make(bp.id, bp.kind, bp.expr, bp.addr, bp.length, tid, pc, None, None, function, where.file,
                       where.line, None, False, note, time)
            bp.hit_count += 1
            bp.writers.add(pc, tid, None, None, where, None)
            bp.hits.append(hit)
            self.published += 1
            emit(hit)
            if bp.on_hit is not None:
                bp.on_hit(hit)

    def _condition_holds(self, bp: UserBreakpoint, tid: int, old: Optional[int], new: Optional[int]) -> bool:
        bindings = {"new": new if new is not None else 0, "old": old if old is not None else 0}
        try:
            return expr.truth(expr.evaluate(bp.condition_ast, self._env(tid), bindings))
        except HwdbgError as exc:
            self._emit(rec.Notice("error", f"error in condition of breakpoint {bp.id} ({bp.condition}): {exc}; "
                                           "stopping", tid=tid))
            return True  # like gdb: a condition that cannot be evaluated stops
