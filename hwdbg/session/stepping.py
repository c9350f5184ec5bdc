"""Source-level stepping with gdb's rules: next, step, until, nexti, stepi (finish, until
LOCATION and advance: finishing.py).

A line step single-steps the thread through the line-table entry it is in. Leaving it:
- into a subroutine (the new frame's caller is the stepping frame, by CFA): ``next`` runs to
  the return address with an internal int3 that only stops in the stepping frame (so a
  recursive call of the same function does not end it); ``step`` runs to the callee's body
  (after its prologue, through a PLT stub to the function it calls) when it has line info,
  and steps over it otherwise;
- to the start of an is_stmt entry of another line: the step ends;
- into the middle of a line (a return into the caller mid-statement, a jump): that line
  becomes the one stepped through, so the step ends at the start of the next one.
Any stop that is not the engine's own (a breakpoint, a watchpoint, a signal, Ctrl-C, the
exit) ends the command and is returned as it is. The internal int3s are removed on every path.
"""
from __future__ import annotations

import dataclasses
import struct
from typing import Any, Callable, Optional

from .. import records as rec
from ..errors import TargetError, UsageError
from ..arch.x86_64 import CODE_NEEDED, SIGRETURN, UC_MCONTEXT_RSP, frame_setup_length
from ..recordtype import record
from ..symbols.unwind import walk
from .finishing import Finishing
from .inline_steps import KEEP, STOP, frame_line, inline_rule, shown_chain
from .softstops import SoftStops

Result = Any  # rec.Stopped | rec.Exited | rec.Killed
LOCKING_MODES = ("off", "on", "step", "replay")
MAX_RESOLVER_STEPS = 200_000  # instructions of the dynamic linker's lazy binding stepped through at most
LOADER_NAMES = ("ld-linux", "ld64.so", "ld.so")


@record
class _Range:
    """What a line step is stepping through, and in which frame (gdb's step range and step frame)."""

    start: int
    end: int
    file: Optional[str]
    line: Optional[int]
    frame: tuple[Optional[int], Optional[int]]  # (CFA, function start): the frame's identity


class Stepper(Finishing):
    def __init__(self, session: Any) -> None:
        self.s = session
        self._interrupts = 0  # the session's interrupt count when the command began

    def _begin(self, tid: Optional[int]) -> int:
        self._interrupts = self.s.interrupts
        return self._tid(tid)

    def _go(self, tid: int, *, step: bool, lock: bool) -> Result:
        """One move of the engine; Ctrl-C between two moves ends the command (its SIGSTOP may
        arrive after the move that was running has already stopped)."""
        if self.s.interrupts != self._interrupts:
            self.s.interrupt_handled()
            pc = self._pc(tid)
            return self._settle(rec.Stopped(reason="interrupted", tid=tid, pc=pc, where=self.s.describe(pc)))
        return self.s.go(tid, step=step, lock=lock)

    # ------------------------------------------------------------ the thread and its frames

    def _inf(self) -> Any:
        return self.s.require_stopped()

    def _tid(self, tid: Optional[int]) -> int:
        inf = self._inf()
        tid = tid or self.s.current_tid
        return tid if tid in inf.threads else inf.pid

    def _pc(self, tid: int) -> int:
        return self.s.arch.get_pc(self._inf().get_regs(tid))

    def _frames(self, tid: int, limit: int = 2) -> list[tuple[int, Optional[int]]]:
        inf = self.s.require_process()
        return walk(inf.get_regs(tid), inf.read_memory, lambda: self.s.symbols, self.s.refresh_symbols, limit,
                    self.s.dummies.unwinder(tid))

    def _cfa(self, tid: int) -> Optional[int]:
        frames = self._frames(tid, 1)
        return frames[0][1] if frames else None

    def _function_start(self, pc: int) -> Optional[int]:
        symbols = self.s.symbols
        fn = symbols.function_at(pc) if symbols is not None else None
        return fn.addr if fn is not None else None

    def _frame_id(self, tid: int, pc: int) -> tuple[Optional[int], Optional[int]]:
        return self._cfa(tid), self._function_start(pc)

    def _lock(self, stepping: bool) -> bool:
        mode = self.s.scheduler_locking
        return mode == "on" or (mode == "step" and stepping)

    # ------------------------------------------------------------ moves

    @staticmethod
    def _plain_step(result: Result) -> bool:
        return isinstance(result, rec.Stopped) and result.reason == "step" and not any(h.stopped for h in result.hits)

    def _single(self, tid: int, lock: bool) -> Result:
        """One instruction; a user breakpoint where it lands counts as hit there (gdb's bpstat)."""
        result = self._go(tid, step=True, lock=lock)
        if not self._plain_step(result):
            return result
        inf = self.s.require_process()
        if inf.breaks.is_ours(result.pc):
            self.s.soft.over[tid] = result.pc  # the int3 is not executed: stepped over when resumed
            owners = {o for o in inf.breaks.owners(result.pc) if o > 0}
            trap = self.s.soft.hits_at(tid, result.pc, owners)
            if trap.stop:
                self.s.frames.at_breakpoints(tid, [self.s.breakpoints.get(h.id) for h in trap.hits if h.stopped])
                return self._settle(dataclasses.replace(result, reason="breakpoint", hits=tuple(trap.hits)))
        return result

    def _settle(self, stop: rec.Stopped) -> rec.Stopped:
        stop = self.s.frames.innermost_stop(stop)
        self.s.last_stop = stop
        for hit in stop.hits:
            bp = self.s.breakpoints.get(hit.id)
            if hit.stopped and bp is not None and bp.temporary:
                self.s.delete(bp)
        return stop

    def _run_to(self, tid: int, addr: int, accept: Callable[[], bool], lock: bool) -> Result:
        """Runs until tid reaches addr with ``accept()`` true (its frame), or anything else stops it."""
        return self._run_to_any(tid, {addr: accept}, lock)

    def _run_to_any(self, tid: int, places: dict[int, Callable[[], bool]], lock: bool) -> Result:
        """Runs until tid reaches one of the addresses with its ``accept()`` true, or anything else
        stops it. The internal int3s are gone when it returns, however it returns."""
        inf = self._inf()
        inserted = []
        try:
            for addr in places:
                inf.breaks.insert(addr, SoftStops.STEP)
                inserted.append(addr)
            self.s.step_filter = lambda t, a: t == tid and a in places and places[a]()
            if self._pc(tid) in places:
                self.s.soft.over[tid] = self._pc(tid)  # standing on one: run from it, as gdb steps over it
            return self._go(tid, step=False, lock=lock)
        finally:
            self.s.step_filter = None
            for addr in inserted:
                if inf.alive:
                    inf.breaks.remove(addr, SoftStops.STEP)

    @staticmethod
    def _reached(result: Result, addr: int) -> bool:
        return isinstance(result, rec.Stopped) and result.reason == "step" and result.pc == addr and not any(
            h.stopped for h in result.hits)

    # ------------------------------------------------------------ the end of a command

    def _stop(self, tid: int, reason: str, origin: Optional[tuple] = None, start_function: Optional[int] = None,
              message: Optional[str] = None, chain: Optional[tuple] = None) -> rec.Stopped:
        """The stop a command ends with, and how to show it: the source line alone when the
        frame and function are the ones it started in, else the frame line too (gdb's
        print_stop_event); the address when the pc is not at the start of a line."""
        pc = self._pc(tid)
        entry = self.s.symbols.line_entry(pc) if self.s.symbols is not None else None
        same = origin is not None and self._frame_id(tid, pc) == origin and self._function_start(pc) == start_function \
            and (chain is None or shown_chain(self.s.frames, tid) == chain)
        style = ("line" if same else "frame") + ("" if entry is not None and entry.start == pc else "-address")
        stop = rec.Stopped(reason=reason, tid=tid, pc=pc, where=self.s.describe(pc), style=style, message=message)
        self.s.current_tid = tid
        return self._settle(stop)

    # ------------------------------------------------------------ next, step, until

    def line_step(self, tid: Optional[int] = None, count: int = 1, *, over: bool, until: bool = False) -> Result:
        """``next``/``step`` (``over``: calls are stepped over) ``count`` times; ``until``: like next,
        but a jump back to an earlier address of the function does not end it (loops)."""
        tid = self._begin(tid)
        result: Result = None
        for _ in range(count):
            if not over and self.s.frames.hidden_inline(tid):
                result = self._into_inline(tid)  # gdb: a step at an inlined call behaves like "down"
                continue
            result = self._one_line(tid, over=over, until=until)
            if not (isinstance(result, rec.Stopped) and result.reason == "step"):
                break
        return result

    def _into_inline(self, tid: int) -> rec.Stopped:
        """Steps into the inlined call that starts at the pc without running: its frame is
        shown from now on (gdb's step_into_inline_frame)."""
        self.s.frames.show_inline(tid, 1)
        pc = self._pc(tid)
        self.s.current_tid = tid
        return self._settle(rec.Stopped(reason="step", tid=tid, pc=pc, where=self.s.describe(pc), style="frame"))

    def _one_line(self, tid: int, *, over: bool, until: bool, out_to: Optional[tuple] = None) -> Result:
        """One line step; ``out_to``: finish an inlined function whose caller has these inlined
        calls (gdb's finish there: a next with an empty range in the caller's frame)."""
        symbols = self.s.symbols
        if symbols is None:
            raise TargetError("no symbol table is loaded; use stepi")
        lock = self._lock(True)
        pc = self._pc(tid)
        origin = self._frame_id(tid, pc)
        start_function = origin[1]
        entry = symbols.line_entry(pc)
        if entry is None:
            fn = symbols.function_at(pc)
            if fn is None or not fn.size:
                raise TargetError("Cannot find bounds of current function")
            self.s.emit(rec.Notice("no-line-info", f"Single stepping until exit from function {fn.name},\n"
                                                   "which has no line number information.", tid=tid))
            current = _Range(fn.addr, fn.addr + fn.size, None, None, origin)
            over = True  # gdb steps over everything in a function without line info
        else:
            current = _Range(entry.start, entry.end, entry.file, entry.line, origin)
            if until and start_function is not None:
                current.start = start_function
            current.file, current.line = frame_line(self.s.frames, tid)  # an inlined call's: its call line
        chain = shown_chain(self.s.frames, tid)
        reason = "step"
        if out_to is not None:
            current, chain, over, reason = _Range(pc, pc, None, 0, origin), out_to, True, "finish"

        def end(chain: Optional[tuple] = None) -> rec.Stopped:
            frame = None if reason == "finish" else current.frame  # finish shows the frame line
            return self._stop(tid, reason, frame, start_function, chain=chain)

        while True:
            result = self._single(tid, lock)
            if not self._plain_step(result):
                return result
            pc = result.pc
            if current.start <= pc < current.end:
                continue
            interrupted = self._signal_entry(tid)
            if interrupted is not None:  # a signal's handler: it runs, the step goes on where the signal came
                result = self._run_to(tid, interrupted[0], lambda: self._sp(tid) == interrupted[1], lock)
                if not self._reached(result, interrupted[0]):
                    return result
                pc = interrupted[0]
                if current.start <= pc < current.end:
                    continue
            frames = self._frames(tid, 2)
            here = frames[0][1] if frames else None
            caller = frames[1] if len(frames) > 1 else None
            if caller is not None and current.frame[0] is not None and caller[1] == current.frame[0] \
                    and here != current.frame[0]:
                # Stepped into a subroutine called from the stepping frame.
                target = None
                if not over and self._unbound_plt(pc):
                    reached = self._through_resolver(tid, lock)
                    if not isinstance(reached, int) and reached is not None:
                        return reached
                    if reached is not None:
                        pc = reached
                        target = self._body_of(pc)
                elif not over:
                    target = self._body_of(pc)
                if target is None:
                    back = current.frame[0]
                    result = self._run_to(tid, caller[0], lambda: self._cfa(tid) == back, lock)
                    if not self._reached(result, caller[0]):
                        return result
                    pc, here = caller[0], back
                    if current.start <= pc < current.end:
                        continue
                else:
                    if target != pc:
                        # Also back in this frame: a target that is never run (an unresolved IFUNC) is stepped over.
                        back = current.frame[0]
                        result = self._run_to_any(tid, {target: lambda: self._cfa(tid) == here,
                                                        caller[0]: lambda: self._cfa(tid) == back}, lock)
                        if self._reached(result, caller[0]) and target != caller[0]:
                            pc, here = caller[0], back
                            if current.start <= pc < current.end:
                                continue
                        elif not self._reached(result, target):
                            return result
                        else:
                            return end()
                    else:
                        return end()
            if here == current.frame[0] and here is not None and current.line is not None:
                decided = inline_rule(self.s.frames, tid, chain, current.file, current.line, over)
                if decided == KEEP:
                    continue
                if decided == STOP:
                    return end(chain)
            found = symbols.line_entry(pc)
            if found is None:
                return end()  # no line here: stop (gdb)
            line = found.line
            if pc == found.start and (found.line != current.line or found.file != current.file):
                if found.is_stmt:
                    return end(chain)
                if self._frame_id(tid, pc) == current.frame and shown_chain(self.s.frames, tid) == chain:
                    current.start, current.end = found.start, found.end
                    continue  # not a statement: look for a better place to stop, the line unchanged
                line = 0  # another frame, not a statement: a later entry of this line may stop
            # The middle of a line (or the same line again): step through it, in this frame.
            current = _Range(found.start, found.end, found.file, line, self._frame_id(tid, pc))
            chain = shown_chain(self.s.frames, tid)

    def _sp(self, tid: int) -> int:
        return self.s.arch.get_sp(self._inf().get_regs(tid))

    def _signal_entry(self, tid: int) -> Optional[tuple[int, int]]:
        """At the first instruction of a signal handler the kernel just entered (its return
        address is the sigreturn trampoline, as gdb recognises it): the pc and stack pointer
        it interrupted, from the signal frame's ucontext; else None."""
        inf = self._inf()
        try:
            sp = self._sp(tid)
            ret = int.from_bytes(inf.read_memory(sp, 8), "little")
            if inf.read_memory(ret, len(SIGRETURN)) != SIGRETURN:
                return None
            saved_sp, saved_pc = struct.unpack("<QQ", inf.read_memory(sp + UC_MCONTEXT_RSP, 16))
        except TargetError:
            return None
        return saved_pc, saved_sp

    def _unbound_plt(self, pc: int) -> bool:
        """A PLT stub whose slot the dynamic linker has not bound yet (a first call, lazy binding)."""
        symbols = self.s.symbols
        if not symbols.in_plt(pc):
            return False
        inf = self.s.require_process()
        return symbols.plt_target(pc, lambda addr: int.from_bytes(inf.read_memory(addr, 8), "little"),
                                  by_name=False) is None

    def _through_resolver(self, tid: int, lock: bool) -> Result | int | None:
        """The first call through a PLT slot: the dynamic linker binds it (running an IFUNC's
        selector too) and jumps to the function. Single-steps until the thread is out of the PLT
        and the loader at the stack depth of the call: that function's entry (gdb does not stop
        in ld.so either). A stop on the way is returned; None when the loader takes too long."""
        symbols = self.s.symbols
        entry_sp = self._sp(tid)
        for _ in range(MAX_RESOLVER_STEPS):
            result = self._single(tid, lock)
            if not self._plain_step(result):
                return result
            if self._sp(tid) == entry_sp and not symbols.in_plt(result.pc):
                module = symbols.module_for(result.pc)
                if module is None or not module.name.startswith(LOADER_NAMES):
                    return result.pc
        return None

    def _body_of(self, pc: int) -> Optional[int]:
        """Where ``step`` into the function at pc stops: after its prologue, if it has line info
        (through a PLT stub, the function the stub calls); None: step over it."""
        symbols = self.s.symbols
        if symbols.in_plt(pc):
            inf = self.s.require_process()

            def read_word(addr: int) -> int:
                return int.from_bytes(inf.read_memory(addr, 8), "little")

            target = symbols.plt_target(pc, read_word)
            if target is None:
                self.s.refresh_symbols()  # the library may have been mapped since the last look
                target = symbols.plt_target(pc, read_word)
            if target is None:
                return None
            pc = target
        fn = symbols.function_at(pc)
        if fn is None or fn.addr != pc or symbols.line_entry(fn.addr) is None:
            return None
        body = fn.addr + self._frame_setup(fn.addr)
        entry = symbols.line_entry(body)
        # The prologue ends mid-line: go on to the end of that line, inside the function (gdb).
        if entry is not None and entry.start != body and entry.end < fn.addr + fn.size:
            body = entry.end
        return body

    def _frame_setup(self, addr: int) -> int:
        """The length of ``[endbr64] push %rbp; mov %rsp,%rbp`` at a function's start, or 0 when
        it has no frame pointer: what gdb's amd64 prologue analysis skips when stepping in."""
        return frame_setup_length(self.s.require_process().read_memory(addr, CODE_NEEDED))

    # ------------------------------------------------------------ stepi, nexti

    def instruction_step(self, tid: Optional[int] = None, count: int = 1, *, over: bool) -> Result:
        """``stepi``/``nexti`` (``over``: a call runs to its return, in this frame)."""
        tid = self._begin(tid)
        lock = self._lock(True)
        result: Result = None
        for _ in range(count):
            pc = self._pc(tid)
            origin = self._frame_id(tid, pc)
            result = self._single(tid, lock)
            if not self._plain_step(result):
                return result
            if over:
                frames = self._frames(tid, 2)
                if len(frames) > 1 and frames[1][1] == origin[0] and frames[0][1] != origin[0]:
                    back = origin[0]
                    result = self._run_to(tid, frames[1][0], lambda: self._cfa(tid) == back, lock)
                    if not self._reached(result, frames[1][0]):
                        return result
            result = self._stop(tid, "step", origin, origin[1])
        return result

    # ------------------------------------------------------------ finish, until LOCATION, advance


def check_locking_mode(mode: str) -> str:
    if mode not in LOCKING_MODES:
        raise UsageError(f'Undefined item: "{mode}"; scheduler-locking is one of {", ".join(LOCKING_MODES)}')
    return mode

