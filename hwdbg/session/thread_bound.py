"""Breakpoints bound to one thread (``break LOC thread N``, ``watch EXPR thread N``) end with it,
as in gdb: deleted when the thread exits, each with gdb's message."""
from __future__ import annotations

from typing import Any, Callable, Optional

from .. import records as rec
from .model import UserBreakpoint

MESSAGE = "Thread-specific breakpoint {id} deleted - thread {number} no longer in the thread list."


def bound_to(breakpoints: dict[int, UserBreakpoint], tid: int) -> list[UserBreakpoint]:
    return sorted((bp for bp in breakpoints.values() if bp.thread == tid), key=lambda bp: bp.id)


def thread_gone(bound: list[UserBreakpoint], tid: int, number: Optional[int],
                delete: Callable[[UserBreakpoint], None], emit: Callable[[Any], None]) -> None:
    """Deletes the breakpoints of thread tid (gdb's number ``number``) and tells it, one notice each."""
    for bp in bound:
        delete(bp)
        emit(rec.Notice("breakpoint-deleted", MESSAGE.format(id=bp.id, number=number or tid), tid=tid,
                        data={"id": bp.id, "thread": number or tid}))
