"""Dummy frames (gdb's): what a function called from the debugger returns to, and the state of
the thread before the call, kept until the call returns.

A call pushes one; the program's entry point, its return address, holds an int3 (owner CALL)
while any exists. A call that stops before it returns (a breakpoint, a signal, Ctrl-C) leaves
its dummy frame on the thread, as gdb does by default: ``bt`` shows it as
``<function called from gdb>``, the unwinder goes on from the registers saved in it, and when
the function returns there, whatever command runs the thread stops silently and the dummy
frame is popped: the caller's registers, vector state and pending signal come back exactly.
A process let go (detach, hwdbg's exit) first has every thread's dummy frames popped, so it
runs on from where it was before the first call; one that ends just forgets them.
"""
from __future__ import annotations

from typing import Any, Optional

from .. import records as rec
from ..errors import HwdbgError
from ..recordtype import record

CALL = -2  # owner of the int3 at the entry point (SoftStops: LOADER 0, STEP -1; breakpoints from 1)


@record
class DummyFrame:
    tid: int
    sp: int  # the callee's stack pointer at its entry: where the return address is
    entry: int  # that return address
    name: str  # the function called, as gdb names it in its messages
    regs: Any  # the thread's registers before the call
    vector: Optional[bytes]  # its XSAVE area (None: no XSAVE, fpregs is the whole vector state)
    fpregs: bytes
    kept: tuple  # (pending signal, to_exit, the step-over it owed, current thread, last stop, frame tid, level)


@record
class Returned:
    """The registers of a thread at the return to a dummy frame, before the pop (the returned value)."""

    frame: DummyFrame
    regs: Any
    fpregs: bytes


class DummyFrames:
    def __init__(self, session: Any) -> None:
        self.s = session
        self.frames: list[DummyFrame] = []  # every thread's, oldest first
        self.last: Optional[Returned] = None  # the last return to a dummy frame

    def push(self, inf: Any, frame: DummyFrame) -> None:
        inf.breaks.insert(frame.entry, CALL)  # raises if unwritable: nothing pushed
        self.frames.append(frame)

    def of(self, tid: int) -> list[DummyFrame]:
        return [f for f in self.frames if f.tid == tid]

    def at(self, tid: int, pc: int, sp: int) -> Optional[DummyFrame]:
        """The dummy frame a thread at (pc, sp) has returned to: sp is just above its return address."""
        for frame in self.frames:
            if frame.tid == tid and frame.entry == pc and frame.sp + 8 == sp:
                return frame
        return None

    def unwinder(self, tid: int) -> Any:
        """For unwind_frames: the registers saved in the dummy frame at (pc, sp) of ``tid``."""
        if not self.frames:
            return None

        def saved(pc: int, sp: int) -> Any:
            frame = self.at(tid, pc, sp)
            return frame.regs if frame is not None else None

        return saved

    def returned(self, inf: Any, tid: int, pc: int) -> bool:
        """Is this stop of ``tid`` at ``pc`` the return to one of its dummy frames?"""
        return bool(self.frames) and self.at(tid, pc, inf.get_regs(tid).rsp) is not None

    def pop_returned(self, inf: Any, stop: rec.Stopped) -> rec.Stopped:
        """The run loop's stop at a dummy frame's return: the values are kept (self.last), the
        frame popped; the stop is then where the thread was before the call."""
        regs = inf.get_regs(stop.tid)
        frame = self.at(stop.tid, stop.pc, regs.rsp)
        if frame is None:
            return stop
        self.last = Returned(frame, regs, inf.get_fpregs(stop.tid))
        self.pop(inf, frame)
        pc = self.s.arch.get_pc(inf.get_regs(stop.tid))
        return rec.Stopped(reason="call-return", tid=stop.tid, pc=pc, where=self.s.describe(pc))

    def pop(self, inf: Any, frame: DummyFrame, *, selection: bool = False) -> None:
        """Restores the thread as it was before the call of ``frame`` (calls made since in that
        thread are dropped with it); ``selection``: the current thread, last stop and selected
        frame too (a call abandoned, gdb's restore_infcall_control_state)."""
        index = self.frames.index(frame)
        self.frames[index:] = [f for f in self.frames[index + 1:] if f.tid != frame.tid]
        if not self.frames:
            inf.breaks.remove(frame.entry, CALL)
        if frame.tid not in inf.threads:
            return
        s, thread = self.s, inf.threads[frame.tid]
        inf.set_regs(frame.tid, frame.regs)
        if frame.vector is not None:
            inf.set_xstate(frame.tid, frame.vector)
        else:
            inf.set_fpregs(frame.tid, frame.fpregs)
        thread.signal, thread.to_exit, over = frame.kept[:3]
        s.soft.over.pop(frame.tid, None)
        if over is not None:
            s.soft.over[frame.tid] = over
        s.frames.reset(stopped=True)
        if selection:
            self.restore_selection(frame)

    def restore_selection(self, frame: DummyFrame) -> None:
        """The current thread, last stop and selected frame as they were before the call."""
        s = self.s
        *_, s.current_tid, s.last_stop, frame_tid, level = frame.kept
        if frame_tid is not None:
            try:
                s.frames.select(frame_tid, level)
            except HwdbgError:
                pass

    def unwind_all(self, inf: Any) -> None:
        """Before the process is let go: each thread back to where it was before its first call."""
        while self.frames:
            self.pop(inf, self.frames[0])

    def forget(self) -> None:
        self.frames.clear()
        self.last = None
