"""The frames gdb shows that the stack does not hold: a function that tail-called the next one
(its frame was replaced by the callee's) between a frame and its caller, and the functions
inlined at a frame's pc (DW_TAG_inlined_subroutine), each a frame of its own.

A tail call frame has the pc of its tail call's return (the instruction after the jump, as
gdb shows it), the caller's registers (what the CFI says the callee leaves to its caller) and
the callee's CFA: it occupies no stack of its own. An inline frame shares its pc, registers and
CFA with the real frame it lies in; the frame that called it is at the call's line
(DW_AT_call_line) and shows no address. At a stop on the first instruction of inlined code the
inlined frames are not shown yet (gdb's skip_inline_frames: the call has not happened for the
user), unless the stop is a breakpoint on that function or a ``step`` went into it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..symbols.tailcalls import tail_call_chain
from ..symbols.unwind import UnwoundFrame


def logical_frames(physical: list[Any], make: Callable[[UnwoundFrame], Any], shown_inline: int = 0) -> list[Any]:
    """``physical`` (the unwound frames, innermost first) with the inlined and tail call frames
    among them; ``make`` builds a frame for an UnwoundFrame. ``shown_inline``: how many of the
    inlined calls that start at frame 0's pc are shown. Levels are the caller's to set."""
    out: list[Any] = []
    for index, frame in enumerate(physical):
        out += _inline_frames(frame, make, skippable_shown=shown_inline if index == 0 else None)
        caller = physical[index + 1] if index + 1 < len(physical) else None
        if caller is not None:
            for pc in _tail_calls(frame, caller):
                virtual = make(UnwoundFrame(pc, dict(caller.regs), frame.cfa, False, {}))
                virtual.kind, virtual.return_address = "tailcall", frame.return_address
                out.append(virtual)
    _saved_pcs(out)
    return out


def inline_starts(frame: Any) -> list[Any]:
    """The inlined subroutines (scopes, innermost first) whose code starts at frame 0's pc: the
    ones a stop there does not show yet."""
    scope = frame.scope
    if scope is None or not frame.exact:
        return []
    link_pc = frame.pc - frame.bias
    starting = []
    for inline in reversed(scope.inline_chain(link_pc)):
        if inline.inline.entry != link_pc and inline.top.contains(link_pc - 1):
            break
        starting.append(inline)
    return starting


def _inline_frames(frame: Any, make: Callable[[UnwoundFrame], Any], skippable_shown: Any) -> list[Any]:
    """``frame`` preceded by a frame for each function inlined at its pc, innermost first."""
    scope = frame.scope
    if scope is None:
        return [frame]
    chain = scope.inline_chain(frame.lookup_pc - frame.bias)
    if skippable_shown is not None:
        hidden = max(0, len(inline_starts(frame)) - skippable_shown)
        chain = chain[:len(chain) - hidden] if hidden else chain
        skipped = scope.inline_chain(frame.lookup_pc - frame.bias)[len(chain):]
    else:
        skipped = []
    out = []
    for position, inline in enumerate(reversed(chain)):  # innermost first
        virtual = make(UnwoundFrame(frame.pc, frame.regs, frame.cfa, frame.exact, frame.saved))
        virtual.kind, virtual.return_address, virtual._scope = "inline", frame.return_address, inline
        if position == 0 and skipped:
            _at_call(virtual, skipped[0])
        elif position > 0:
            _at_call(virtual, chain[len(chain) - position].inline)
        out.append(virtual)
    if chain:
        _at_call(frame, chain[0].inline)
    elif skipped:
        _at_call(frame, skipped[0].inline)
    return out + [frame]


def _at_call(frame: Any, inline: Any) -> None:
    """The frame that called an inlined function stands at the call's line, with no address."""
    inline = getattr(inline, "inline", inline)  # a scope or its InlineCall
    frame.where = dataclasses.replace(frame.where, file=inline.call_file or frame.where.file,
                                      line=inline.call_line or frame.where.line)
    frame.calls_inline = True


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
    first real frame above it; for a dummy frame, that of the frame the call was made from."""
    for index, frame in enumerate(frames):
        if frame.kind in ("normal", "dummy"):
            frame.saved_pc = frames[index + 1].pc if index + 1 < len(frames) else frame.return_address
    for index, frame in enumerate(frames):
        if frame.kind not in ("normal", "dummy"):
            real = next((f for f in frames[index + 1:] if f.kind == "normal"), None)
            frame.saved_pc = real.saved_pc if real is not None else frame.return_address
