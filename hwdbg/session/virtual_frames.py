"""The frames gdb shows that the stack does not hold: a function that tail-called the next one
(its frame was replaced by the callee's) between a frame and its caller.

A tail call frame has the pc of its tail call's return (the instruction after the jump, as
gdb shows it), the caller's registers (what the CFI says the callee leaves to its caller) and
the callee's CFA: it occupies no stack of its own.
"""
from __future__ import annotations

from typing import Any, Callable

from ..symbols.tailcalls import tail_call_chain
from ..symbols.unwind import UnwoundFrame


def logical_frames(physical: list[Any], make: Callable[[UnwoundFrame], Any]) -> list[Any]:
    """``physical`` (the unwound frames, innermost first) with the tail call frames between
    them; ``make`` builds a frame for an UnwoundFrame. Levels are the caller's to set."""
    out: list[Any] = []
    for index, frame in enumerate(physical):
        out.append(frame)
        caller = physical[index + 1] if index + 1 < len(physical) else None
        if caller is not None:
            for pc in _tail_calls(frame, caller):
                virtual = make(UnwoundFrame(pc, dict(caller.regs), frame.cfa, False, {}))
                virtual.kind, virtual.return_address = "tailcall", frame.return_address
                out.append(virtual)
    _saved_pcs(out)
    return out


def _tail_calls(callee: Any, caller: Any) -> list[int]:
    """The return pcs (run-time) of the tail calls from ``caller``'s call to ``callee``'s function."""
    if caller.exact or callee.module is None or caller.module is not callee.module:
        return []  # a signal frame's pc is no return address
    scope, caller_scope = callee.scope, caller.scope
    dwarf = callee.module.dwarf
    if scope is None or caller_scope is None or dwarf is None:
        return []
    bias = callee.bias
    try:
        chain = tail_call_chain(dwarf, caller_scope, caller.pc - bias, scope.low)
    except Exception:  # malformed call site DIEs: no tail call frames, as gdb gives up
        return []
    return [pc + bias for pc in chain]


def _saved_pcs(frames: list[Any]) -> None:
    """gdb's "saved rip" of info frame: the next frame's pc; for a tail call frame, that of the
    first real frame above it."""
    for index, frame in enumerate(frames):
        if frame.kind == "normal":
            frame.saved_pc = frames[index + 1].pc if index + 1 < len(frames) else frame.return_address
    for index, frame in enumerate(frames):
        if frame.kind != "normal":
            real = next((f for f in frames[index + 1:] if f.kind == "normal"), None)
            frame.saved_pc = real.saved_pc if real is not None else frame.return_address
