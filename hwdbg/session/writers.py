"""Who wrote a watched range: the hits of one breakpoint grouped by writing instruction.

``HitSemantics.publish`` feeds every hit here, the C loop's included, so the counts stay
exact when the breakpoint keeps only its last ``keep`` hits. Per hit it is one dict lookup
and a few attribute writes; the work of a new writer (its place, its first values) is done
once per pc. The timeline is a fixed number of bins over the breakpoint's hits of this run:
when the run outgrows them, neighbouring bins merge and each bin covers twice as many hits,
so memory stays flat and every bin stays exact.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from .. import records as rec

TIMELINE_BINS = 64


class _Row:
    """One writing instruction, updated per hit (kept mutable and small: it is on the hot path)."""

    __slots__ = ("pc", "where", "threads", "first", "last", "backtrace", "bins", "syscall")

    def __init__(self, pc: int, where: rec.Frame, old: Optional[int], new: Optional[int],
                 backtrace: Optional[tuple[rec.Frame, ...]], syscall: Optional[str]) -> None:
        self.pc, self.where, self.syscall = pc, where, syscall
        self.threads: set[int] = set()
        self.first = self.last = (old, new)
        self.backtrace = backtrace
        self.bins = [0] * TIMELINE_BINS


class WriterTable:
    """The writers of one breakpoint during the current (or last) run."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """A new run starts with no writers (after exit, the table keeps the last run's)."""
        self.rows: dict[Any, _Row] = {}  # by pc; the kernel's by (pc, syscall)
        self.total = 0  # hits of this run: the timeline's x axis
        self.shift = 0  # a timeline bin covers 1 << shift hits
        self.limit = TIMELINE_BINS  # total at which the bins must widen

    def knows(self, pc: int, syscall: Optional[str] = None) -> bool:
        """Has this instruction (or system call) written already in this run?"""
        return (pc if syscall is None else (pc, syscall)) in self.rows

    def add(self, pc: int, tid: int, old: Optional[int], new: Optional[int], where: rec.Frame,
            backtrace: Optional[tuple[rec.Frame, ...]], syscall: Optional[str] = None) -> None:
        key = pc if syscall is None else (pc, syscall)  # one syscall instruction can make several calls
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = _Row(pc, where, old, new, backtrace, syscall)
        row.threads.add(tid)
        row.last = (old, new)
        total = self.total
        if total >= self.limit:
            self._widen()
        row.bins[total >> self.shift] += 1  # a row's count is the sum of its bins
        self.total = total + 1

    def _widen(self) -> None:
        half = TIMELINE_BINS // 2
        for row in self.rows.values():
            bins = row.bins
            row.bins = [bins[2 * i] + bins[2 * i + 1] for i in range(half)] + [0] * half
        self.shift += 1
        self.limit *= 2

    def writers(self, bp_id: int) -> list[rec.Writer]:
        """The rows, most writes first (ties: the lower pc)."""
        counted = sorted(((sum(r.bins), r) for r in self.rows.values()), key=lambda cr: (-cr[0], cr[1].pc))
        return [rec.Writer(id=bp_id, pc=r.pc, function=r.where.function, offset=r.where.offset,
                           file=r.where.file, line=r.where.line, count=count, threads=tuple(sorted(r.threads)),
                           first=r.first, last=r.last, backtrace=r.backtrace, timeline=tuple(r.bins),
                           hits_per_bin=1 << self.shift, syscall=r.syscall) for count, r in counted]


def writers_of(breakpoints: Iterable[Any]) -> list[rec.Writer]:
    """The rows of several breakpoints (the watches among them), most writes first."""
    rows = [row for bp in breakpoints if bp.kind.is_data for row in bp.writers.writers(bp.id)]
    return sorted(rows, key=lambda w: -w.count)
