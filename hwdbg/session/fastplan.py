"""The C hit loop's plan: the one place that maps Python's value rules onto the loop's modes.

A slot may be handled in C when exactly one breakpoint holds it and its hits need nothing
but recording (no condition, ignore count, callback or backtrace, and it does not stop the
target); every thread must have the same layout. The plan is rebuilt only when something
it depends on changed.
"""
from __future__ import annotations

import errno
import sys
from typing import Any, Callable, Iterable, Mapping, Optional

from ..hw.breakpoint import BreakpointManager
from ..hw.fastpath import MODE_ALL, MODE_CHANGES, MODE_UNCHANGED, Burst, FastBreakpoint, FastLoop
from ..process.control import Inferior
from ..process.events import ProcessEvent
from ..records import Kind
from .model import UserBreakpoint
from .pagefast import PageFast

FAST_MAX_LENGTH = 32  # the C hit loop's value buffer


def delegable(bp: UserBreakpoint, tracing: bool) -> bool:
    """A hit of bp needs nothing but recording: the C loop may take it."""
    return (bp.enabled and bp.kind.is_data and bp.hw is not None and bp.condition_ast is None
            and bp.ignore_count == 0 and bp.on_hit is None and not bp.backtrace
            and (bp.trace or tracing) and 0 < bp.length <= FAST_MAX_LENGTH
            and not bp.kernel)  # its value must stay current in Python for the syscall-exit compare


def _mode(bp: UserBreakpoint) -> int:
    if bp.changes_only:
        return MODE_CHANGES
    return MODE_UNCHANGED if bp.kind is Kind.RWATCH else MODE_ALL


class FastPlanner:
    def __init__(self, manager: BreakpointManager, nslots: int) -> None:
        self.manager, self.nslots = manager, nslots
        self._key: Any = None
        self._loop: Optional[FastLoop] = None

    def plan(self, *, generation: int, mem_fd: int, tids: Iterable[int], plain_pcs: set[int], tracing: bool,
             breakpoints: Mapping[int, UserBreakpoint], paged: bool = False) -> Optional[FastLoop]:
        """The C loop prepared for the current breakpoints and threads, or None if it cannot help
        (paged: it is wanted for page faults, pagefast.py, even with no breakpoint of its own)."""
        key = (generation, self.manager.epoch, len(plain_pcs), tracing, paged,
               tuple((bp.id, bp.condition, bp.ignore_count, bp.trace, bp.on_hit is None) for bp in
                     breakpoints.values()))
        if key != self._key:
            self._key, self._loop = key, self._build(mem_fd, list(tids), plain_pcs, tracing, breakpoints, paged)
        return self._loop

    def _build(self, mem_fd: int, tids: list[int], plain_pcs: set[int], tracing: bool,
               breakpoints: Mapping[int, UserBreakpoint], paged: bool) -> Optional[FastLoop]:
        shadows = [self.manager.threads.get(tid) for tid in tids]
        if not shadows or any(s is None for s in shadows):
            return None
        layout = shadows[0].slots
        if any(s.slots != layout for s in shadows[1:]):
            return None  # thread-scoped breakpoints: per-thread layouts stay in Python
        slot_bp = [-1] * self.nslots
        fast: list[FastBreakpoint] = []
        index: dict[int, int] = {}
        for slot, chunk in enumerate(layout):
            if chunk is None:
                continue
            owners = [hw for hw in self.manager.breakpoints.values() if hw.enabled and chunk in hw.chunks]
            bp = breakpoints.get(owners[0].id) if len(owners) == 1 else None
            if bp is None or not delegable(bp, tracing):
                continue
            if bp.id not in index:
                index[bp.id] = len(fast)
                fast.append(FastBreakpoint(bp, bp.addr, bp.length, _mode(bp)))
            slot_bp[slot] = index[bp.id]
        if not fast and not paged:
            return None
        armed = [i for i, chunk in enumerate(layout) if chunk is not None]
        return FastLoop(mem_fd, tids, sorted(plain_pcs), armed[0] if len(armed) == 1 else -1, slot_bp, fast)


def run_fast_loop(loop: FastLoop, inf: Inferior, limit: int,
                  publish: Callable[[Burst, list[tuple[UserBreakpoint, int, int, Optional[int], Optional[int]]]], None],
                  pages: Optional[PageFast] = None) -> Optional[ProcessEvent]:
    """Lets the C loop take up to ``limit`` hits, publishes them (every one, even if a listener
    fails: the debug-register hits as the C buffer, still to decode, then the page hits), and
    returns the stop it handed back for Python (None when it only recorded hits: the caller
    looks at its batch limit)."""
    outcome, err = loop.run(limit)
    try:
        publish(loop.take(), pages.drain(loop) if pages is not None else [])
    finally:
        # The stop the C loop handed back must not be lost if a listener raised.
        if outcome is not None and loop.inflight and pages is not None:
            event: Optional[ProcessEvent] = pages.resume_event(loop, *outcome)
        else:
            event = inf.accept(*outcome) if outcome is not None else None
        if event is not None and sys.exc_info()[0] is not None:
            inf.requeue(event)
    if outcome is not None:
        return event
    if err not in (0, errno.EINTR):
        return inf.wait_event()  # reports the failure (the process is gone) as wait_event does
    return None
