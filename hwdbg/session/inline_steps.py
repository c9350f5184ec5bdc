"""gdb's rules for line steps that meet inlined code: an inlined call is a call. In the same
real frame as the step began:
- at the first instruction of an inlined call not shown yet ("stepped into inlined function"):
  ``next`` goes on when the call is on the line being stepped, else stops at the call; ``step``
  enters the call (shows its frame) when it is on that line, and stops;
- deeper in inlined code called from the stepping frame ("stepping through inlined function"):
  ``next`` goes on, ``step`` stops.
Frames are told apart by their chain of inlined subroutines (their DIE offsets, outermost first).
"""
from __future__ import annotations

from typing import Any, Optional

KEEP, STOP = "keep", "stop"


def shown_chain(frames: Any, tid: int) -> tuple[int, ...]:
    """The inlined calls shown at frame 0 of ``tid``, outermost first (the stepping frame's identity
    beyond its CFA)."""
    return inline_ids(frames.stack(tid, 1))


def inline_ids(stack: list[Any]) -> tuple[int, ...]:
    """The inlined calls of the first frames of ``stack`` (innermost first) down to the first real
    frame: that frame's identity beyond its CFA, outermost first."""
    chain = []
    for frame in stack:
        if frame.kind != "inline":
            break
        chain.append(frame.scope.inline.die.offset)
    return tuple(reversed(chain))


def frame_line(frames: Any, tid: int) -> tuple[Optional[str], Optional[int]]:
    """The (file, line) frame 0 shows: the call's for an inlined call not entered yet (gdb's
    find_frame_sal, the line a step compares with)."""
    stack = frames.stack(tid, 1)
    return (stack[0].where.file, stack[0].where.line) if stack else (None, None)


def inline_rule(frames: Any, tid: int, chain: tuple[int, ...], file: Optional[str], line: Optional[int],
                over: bool) -> Optional[str]:
    """KEEP (step on), STOP or None (the ordinary line rules decide) at a pc out of the step range,
    in the real frame the step began in; ``chain``: the stepping frame's inlined calls."""
    here = shown_chain(frames, tid)
    if here == chain and frames.hidden_inline(tid):
        call_file, call_line = frame_line(frames, tid)
        same_line = call_line == line and call_file == file
        if over:
            return KEEP if same_line else STOP
        if same_line:
            frames.show_inline(tid, 1)
        return STOP
    if len(here) > len(chain) and here[:len(chain)] == chain:
        return KEEP if over else STOP
    return None
