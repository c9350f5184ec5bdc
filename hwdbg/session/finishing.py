"""finish, until LOCATION and advance LOCATION (a part of Stepper): run until the selected
frame returns, or a location is reached in the right frame."""
from __future__ import annotations

from typing import Any, Optional

from .. import records as rec
from ..errors import TargetError, UsageError
from ..locations import resolve_break
from .inline_steps import inline_ids
from .returns import format_returned

Result = Any  # rec.Stopped | rec.Exited | rec.Killed


class Finishing:
    """Stepper's finish/until/advance; the helpers they use (_begin, _frames, _run_to...) are Stepper's."""

    def check_finish(self, tid: int) -> Any:
        """The frame ``finish`` runs out of: the selected one (gdb). An error in gdb's outermost
        frame: one without a caller, or main (backtraces stop there); an inlined frame always
        has its caller."""
        frame = self.s.frames.selected(tid)
        if frame is None:
            raise TargetError("No stack.")
        if frame.kind == "inline":
            return frame
        stack = self.s.frames.stack(tid, frame.level + 2)
        if frame.level + 1 >= len(stack) or frame.function == "main" or frame.cfa is None:
            raise TargetError('"finish" not meaningful in the outermost frame.')
        return frame

    def location(self, text: str) -> int:
        """The address of an until/advance LOCATION (break's syntax: FUNCTION is after its prologue)."""
        if not text.strip():
            raise UsageError("no location given: use FUNCTION, FILE:LINE, LINE or *ADDRESS")
        return resolve_break(self.s.symbols, self.s.env(), text, self.s.sites.default_file()).addr

    def finish(self, tid: Optional[int] = None, *,
               pretty: bool = False) -> tuple[Result, Optional[tuple[str, Any]], Optional[Any]]:
        """Runs until the selected function returns to its caller's frame: (the stop, the returned
        value as (printed, number or None) or None, its type or None). ``pretty``: a struct
        printed as with set print pretty on."""
        tid = self._begin(tid)
        frame = self.check_finish(tid)
        stack = self.s.frames.stack(tid, frame.level + 2)
        below = stack[:frame.level]
        if frame.kind == "inline":
            out_to = inline_ids(stack[frame.level + 1:])
            real = sum(1 for f in below if f.kind == "normal")
            if real:  # the real functions it called return first (gdb steps over them)
                result, reached = self._return_from(tid, real - 1)
                if not reached:
                    return result, None, None
            return self._one_line(tid, over=True, until=False, out_to=out_to), None, None
        # its index among the stack's real frames; a tail call frame returns with the real one below it
        physical = sum(1 for f in below if f.kind in ("normal", "dummy")) - (frame.kind == "tailcall")
        symbols = self.s.symbols
        # gdb prints no value out of a tail call frame (it returned before its caller knew)
        rtype = symbols.return_type(frame.lookup_pc) if symbols is not None and frame.kind == "normal" else None
        to_dummy = frame.level + 1 < len(stack) and stack[frame.level + 1].kind == "dummy"
        result, reached = self._return_from(tid, physical)
        returned = self.s.dummies.last if to_dummy and isinstance(result, rec.Stopped) \
            and result.reason == "call-return" else None
        if not reached and returned is None:
            return result, None, None
        # out of a called function: its value read at the return, shown where the dummy frame's pop left us (gdb)
        stop = self._stop(tid, "finish")
        if rtype is None or rtype.kind == "void":
            return stop, None, rtype
        inf = self.s.require_process()
        regs, fpregs = (returned.regs, lambda: returned.fpregs) if returned is not None \
            else (inf.get_regs(tid), lambda: inf.get_fpregs(tid))
        value = format_returned(rtype, regs, fpregs, self.s.env(tid), pretty)
        return stop, value, rtype

    def run_until(self, addr: int, tid: Optional[int] = None, *, anywhere: bool) -> Result:
        """``until LOCATION`` / ``advance LOCATION``: run until addr is reached, or the current
        frame returns. ``until`` stops at addr only in the current frame or an outer one when addr
        is in the current function (gdb); ``advance`` (``anywhere``) in any frame."""
        tid = self._begin(tid)
        frames = self._frames(tid, 2)
        pc = frames[0][0] if frames else self._pc(tid)
        cfa = frames[0][1] if frames else None
        same_function = self._function_start(addr) == self._function_start(pc)
        lock = self._lock(False)
        caller = frames[1] if len(frames) > 1 and frames[1][1] is not None else None

        def at_location() -> bool:
            if anywhere or not same_function or cfa is None:
                return True
            here = self._cfa(tid)
            return here is not None and here >= cfa

        places = {addr: at_location}
        if caller is not None and caller[0] != addr:
            places[caller[0]] = lambda: self._cfa(tid) == caller[1]
        result = self._run_to_any(tid, places, lock)
        if isinstance(result, rec.Stopped) and (result.reason == "call-return" or result.reason == "step" and not any(
                h.stopped for h in result.hits)):
            return self._stop(tid, "until")  # a dummy frame popped: gdb shows where that left the thread
        return result

    def _return_from(self, tid: int, physical: int) -> tuple[Result, bool]:
        """Runs until the real frame ``physical`` (0: the innermost) returns to its caller's
        frame: (the stop, whether it is that return)."""
        frames = self._frames(tid, physical + 2)
        if len(frames) < physical + 2:
            raise TargetError('"finish" not meaningful in the outermost frame.')
        cfa = frames[physical][1]
        ret, caller_cfa = frames[physical + 1]

        def returned() -> bool:  # in the caller's frame: by its CFA, or (unknown) the stack pointer
            if caller_cfa is not None:
                return self._cfa(tid) == caller_cfa
            return self.s.require_process().get_regs(tid).rsp == cfa

        result = self._run_to(tid, ret, returned, self._lock(False))
        return result, self._reached(result, ret)
