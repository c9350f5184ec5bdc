"""Watches on locals live as long as their frame (gdb's watchpoint scope).

A scoped watch remembers its frame by the frame's CFA and puts an internal int3 at the
frame's return address (owner ``guard_owner(id)``, a range of its own). When a thread
reaches that address with its stack pointer at or above the CFA, the frame has returned:
the watch is deleted and the stop reported. A deeper call of the same function (recursion)
returns to the same address with a lower stack pointer and is let through.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Optional

from .. import records as rec
from ..recordtype import record
from .model import UserBreakpoint

# Guard owners sit below this, clear of the other internal owners (LOADER 0, STEP -1, CALL -2,
# ifunc_stops.RETURN -2**62): a guard owned by -id would be taken for watch 1's or 2's.
GUARD_BASE = -(1 << 32)


def guard_owner(bp_id: int) -> int:
    """The owner of scoped watch ``bp_id``'s int3."""
    return GUARD_BASE - bp_id


def guarded_id(owner: int) -> Optional[int]:
    """The watch whose guard ``owner`` is, or None for any other owner."""
    bp_id = GUARD_BASE - owner
    return bp_id if 0 < bp_id < 1 << 32 else None


MESSAGE = ("Watchpoint {id} deleted because the program has left the block in\n"
           "which its expression is valid.")


@record(frozen=True)
class Scope:
    """The frame a watch's expression was evaluated in."""

    cfa: int  # the frame's identity: its caller's stack pointer before the call
    return_address: int  # where the internal int3 goes
    function: str = ""


def scope_of(frame: Any) -> Optional[Scope]:
    """The scope of a watch whose expression used locals of ``frame`` (an ExpressionEnv's
    ``frame_used``); None: not scoped (no locals, or a frame with nowhere to return to)."""
    if frame is None or frame.return_address is None or frame.cfa is None:
        return None
    return Scope(frame.cfa, frame.return_address, frame.function or "")


def frames_left(breakpoints: dict[int, UserBreakpoint], owners: Iterable[int], sp: int) -> list[UserBreakpoint]:
    """The scoped watches among an int3's ``owners`` whose frame has returned (sp at or above its CFA)."""
    gone = []
    for owner in sorted(owners):
        bp_id = guarded_id(owner)
        bp = breakpoints.get(bp_id) if bp_id is not None else None
        if bp is not None and bp.scope is not None and sp >= bp.scope.cfa:
            gone.append(bp)
    return gone


def left(gone: list[UserBreakpoint], stop: rec.Stopped, delete: Callable[[UserBreakpoint], None],
         emit: Callable[[Any], None]) -> rec.Stopped:
    """Deletes the watches whose frame returned, tells it (a notice each) and returns the stop."""
    for bp in gone:
        delete(bp)  # its guard int3 goes with it
        emit(left_notice(bp, stop.tid))
    return replace(stop, message="\n".join(MESSAGE.format(id=bp.id) for bp in gone))


def left_notice(bp: UserBreakpoint, tid: int) -> rec.Notice:
    """For --json: the watch left its scope (the stop that follows says it in text)."""
    return rec.Notice("watchpoint-scope", MESSAGE.format(id=bp.id).replace("\n", " "), tid=tid,
                      data={"id": bp.id, "expr": bp.expr}, routine=True)
