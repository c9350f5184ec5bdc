"""The frames of a stopped thread, the selected one (gdb's ``frame``/``up``/``down``), and the
locals and arguments each frame sees.

Frames come from the CFI unwinder (registers per frame, the CFA); variables from the DIE
scopes of the frame's pc (hwdbg/symbols/scopes.py), located by their DWARF expressions
(hwdbg/symbols/dwarf_locations.py). The list is built at the first question after a stop
and dropped when the target runs; the selection goes back to frame #0 at every stop.
While the target runs (a condition at a hit), frame #0 is built afresh for each question.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Optional

from .. import expr
from .. import records as rec
from ..errors import FrameError, HwdbgError, OptimizedOut
from ..symbols.dwarf_locations import (
    MASK64, OPTIMIZED_OUT, REGISTER_NAMES, FrameState, Located, evaluate, expression_at, read_located,
)
from ..symbols.scopes import FunctionScope, ScopeVariable, const_value, function_scope
from ..symbols.unwind import UnwoundFrame, unwind_frames
from .virtual_frames import inline_starts, logical_frames

MAX_FRAMES = 4096
_FUNCTION = re.compile(r"^(?:[\w.+-]+:)?[A-Za-z_]\w*$")  # break FUNCTION or LIB:FUNCTION
XMM0 = 17  # DWARF number of xmm0 on x86-64
DUMMY_NAME = "<function called from gdb>"  # a dummy frame, where a function called from hwdbg returns (gdb's words)


class StackFrame:
    """One frame of a stopped thread: level 0 is the innermost."""

    def __init__(self, level: int, unwound: UnwoundFrame, module: Any, where: rec.Frame,
                 read_memory: Callable[[int, int], bytes], caller: Callable[[], Optional["StackFrame"]]) -> None:
        self.level, self.pc, self.regs, self.cfa = level, unwound.pc, unwound.regs, unwound.cfa
        self.exact, self.saved = unwound.exact, unwound.saved
        self.module, self.where = module, where
        self._read_memory, self._caller = read_memory, caller
        self._scope: Any = False  # not looked up yet
        self.whole_stack: Callable[[], list[StackFrame]] = lambda: [self]  # set by FrameTable
        self.held = HeldRegions()  # the table's, set by FrameTable
        self.return_address: Optional[int] = None  # where this frame's code returns to, even beyond main
        self.kind = "normal"  # or "tailcall" (virtual_frames.py); "inline"
        self.saved_pc: Optional[int] = None  # gdb's "saved rip" (virtual_frames.py)
        self.calls_inline = False  # the frame below is inlined here: this one is at the call's line
        self.after_dummy = False  # the frame below is a dummy frame (a function called from hwdbg)

    # -------------------------------------------------------------- where

    @property
    def lookup_pc(self) -> int:
        """A return address is after the call: pc - 1 lies in the calling line (gdb's rule)."""
        return self.pc if self.exact else self.pc - 1

    @property
    def bias(self) -> int:
        return self.module.bias if self.module is not None else 0

    @property
    def scope(self) -> Optional[FunctionScope]:
        if self._scope is False:
            dwarf = self.module.dwarf if self.module is not None else None
            self._scope = function_scope(dwarf, self.lookup_pc - self.bias) if dwarf is not None else None
        return self._scope

    @property
    def function(self) -> Optional[str]:
        if self.kind == "dummy":
            return DUMMY_NAME
        scope = self.scope
        return scope.name if scope is not None else self.where.function

    @property
    def file(self) -> Optional[str]:
        return self.where.file

    @property
    def line(self) -> Optional[int]:
        return self.where.line

    @property
    def file_shown(self) -> Optional[str]:
        """The source file as gdb names it in frame lines."""
        dwarf = self.module.dwarf if self.module is not None else None
        return dwarf.display_name(self.file, self.lookup_pc - self.bias) if dwarf is not None and self.file else self.file

    def caller(self) -> Optional["StackFrame"]:
        return self._caller()

    # -------------------------------------------------------------- variables

    def state(self) -> FrameState:
        return FrameState(self.regs, self.cfa, self._read_memory, self.bias, self._frame_base, self._entry_value)

    def _frame_base(self) -> int:
        scope = self.scope
        attr = scope.frame_base if scope is not None else None
        if attr is None:
            raise OptimizedOut("no frame base")
        found = expression_at(attr, scope.die, self.module.dwarf.location_lists, self.lookup_pc - self.bias)
        where = evaluate(found, scope.parser, FrameState(self.regs, self.cfa, self._read_memory, self.bias)) \
            if found is not None else OPTIMIZED_OUT
        if where.address is not None:
            return where.address
        if where.register is not None:
            return self.regs[where.register]
        raise OptimizedOut("no frame base")

    def _entry_value(self, ops: list) -> Optional[int]:
        """What DW_OP_entry_value(DW_OP_regN) stands for: the caller's DW_AT_call_value for
        register N at the call site this frame returns to."""
        if len(ops) != 1 or not ops[0].op_name.startswith("DW_OP_reg") or ops[0].op_name == "DW_OP_regx":
            return None
        register = int(ops[0].op_name[len("DW_OP_reg"):])
        caller = self.caller()
        scope = caller.scope if caller is not None else None
        if scope is None:
            return None
        value_expr = scope.call_site_value(caller.pc - caller.bias, register, self.function or "")
        if value_expr is None:
            return None
        state = caller.state()
        state.entry_value = None  # no chains of entry values
        where = evaluate(value_expr, scope.parser, state)
        if where.optimized_out:
            return None
        if where.address is not None:
            return where.address  # DW_AT_call_value computes the value itself
        return int.from_bytes(read_located(where, 8, state), "little")

    def locate(self, var: ScopeVariable) -> Located:
        const = const_value(var)
        if const is not None:
            return Located(data=const)
        attr = var.die.attributes.get("DW_AT_location")
        scope = self.scope
        if attr is None or scope is None:
            return OPTIMIZED_OUT
        found = expression_at(attr, var.die, self.module.dwarf.location_lists, self.lookup_pc - self.bias)
        if found is None:
            return OPTIMIZED_OUT
        return evaluate(found, scope.parser, self.state(), var.ctype.size or 8)

    def entry_value(self, var: ScopeVariable) -> Optional[bytes]:
        """The bytes an argument had when the function was entered, when the caller's call site
        says (gdb's ``p@entry``); None when that is not known."""
        scope, attr = self.scope, var.die.attributes.get("DW_AT_location")
        if scope is None or attr is None:
            return None
        found = expression_at(attr, var.die, self.module.dwarf.location_lists, scope.low)
        if found is None or len(found) != 1 or not 0x50 <= found[0] <= 0x6F:
            return None  # gdb resolves DW_OP_regN only
        try:
            value = self._entry_value(scope.parser.parse_expr(found))
        except Exception:
            return None
        size = var.ctype.size or 8
        return None if value is None else (value & MASK64).to_bytes(8, "little")[:size]

    def base_address(self) -> Optional[int]:
        """gdb's "Arglist at" of info frame (amd64's frame base): rbp once the function has set
        it up (push %rbp; mov %rsp,%rbp), else the stack pointer as on entry, less 8."""
        scope, sp = self.scope, self.regs.get(7)
        if sp is None:
            return None
        if scope is None:
            return sp - 8
        start = scope.low + self.bias
        try:
            code = bytes(self._read_memory(start, 8))
        except Exception:
            return sp - 8
        if code.startswith(b"\xf3\x0f\x1e\xfa"):  # endbr64
            start, code = start + 4, code[4:]
        if not code.startswith(b"\x55"):
            return sp - 8
        if self.lookup_pc <= start + 1 and self.exact:
            return sp  # the push ran, not the mov
        if code[1:4] in (b"\x48\x89\xe5", b"\x48\x8b\xec") and (self.lookup_pc > start + 1 or not self.exact):
            return self.regs.get(6)
        return sp

    def at_line_start(self) -> bool:
        """Is the pc the first address of its line-table row, and that row a statement's (gdb's
        frame_show_address: pc != sal.pc || !sal.is_stmt)? gdb then shows no address."""
        dwarf = self.module.dwarf if self.module is not None else None
        link = self.pc - self.bias
        if dwarf is None or not self.exact or dwarf.row_start(link) != link:
            return False
        entry = dwarf.line_entry(link)  # gdb's sal.pc: a row repeating a discriminated line is none
        return entry is None or (entry[0] == link and entry[4])

    @property
    def shows_address(self) -> bool:
        """Does gdb print the pc before the function (``0x... in f (...)``)? Not at the call of
        an inlined function, nor in frame 0 at the start of a line."""
        if self.calls_inline:
            return False
        if self.after_dummy:
            return not self.at_line_start()  # its pc is where a call from hwdbg interrupted it (gdb)
        return self.level > 0 or not self.at_line_start()

    def found(self, var: ScopeVariable) -> tuple[int, Any] | expr.Held:
        """What the expression language's lookup returns for ``var``; OptimizedOut if nothing is there."""
        where = self.locate(var)
        if where.address is not None:
            return where.address & MASK64, var.ctype
        if where.optimized_out:
            raise OptimizedOut("value has been optimized out")
        size = var.ctype.size or 8
        if where.register is not None:
            why = f'Address requested for identifier "{var.name}" which is in register ${REGISTER_NAMES[where.register]}'
        else:
            why = f'Can\'t take address of "{var.name}" which isn\'t an lvalue.'
        try:
            data = read_located(where, size, self.state())
        except Exception:
            raise OptimizedOut("value has been optimized out") from None
        if var.ctype.kind in ("struct", "union", "array"):
            return self.held.place(data), var.ctype  # read field by field from there
        return expr.Held(data, var.ctype, why, where.register)

    def saved_slot(self, register: int) -> Optional[int]:
        """Where the value ``register`` has in this frame is kept: the stack slot a frame it
        called saved it in (the innermost such), or None: the thread's register itself."""
        stack = self.whole_stack()
        for inner in reversed(stack[:self.level]):
            if register in inner.saved:
                return inner.saved[register]
        return None

    def visible(self, name: str) -> Optional[ScopeVariable]:
        scope = self.scope
        return scope.visible(name, self.lookup_pc - self.bias) if scope is not None else None

    def arguments(self) -> list[ScopeVariable]:
        scope = self.scope
        return scope.arguments if scope is not None else []

    def locals(self) -> list[ScopeVariable]:
        scope = self.scope
        return scope.locals_at(self.lookup_pc - self.bias) if scope is not None else []

    def register(self, name: str) -> Optional[int]:
        """A register as this frame sees it (None: not known here, or not a DWARF register)."""
        aliases = {"pc": "rip", "sp": "rsp", "fp": "rbp"}
        name = aliases.get(name, name)
        if name not in REGISTER_NAMES[:XMM0]:
            return None
        return self.pc if name == "rip" else self.regs.get(REGISTER_NAMES.index(name))

    def record(self) -> rec.Frame:
        return rec.Frame(pc=self.pc, function=self.function, offset=self.where.offset, file=self.file,
                         line=self.line, module=self.where.module)


class FrameTable:
    """The frames of each stopped thread, and the selected frame (one, as gdb has)."""

    def __init__(self, *, regs: Callable[[int], Any], xmm: Callable[[int], list[int]],
                 dummy: Callable[[int], Any] = lambda tid: None,
                 read_memory: Callable[[int, int], bytes],
                 symbols: Callable[[], Any], refresh: Callable[[], None], describe: Callable[[int], rec.Frame]) -> None:
        self._regs, self._xmm, self._read_memory, self._symbols = regs, xmm, read_memory, symbols
        self._refresh, self._describe, self._dummy = refresh, describe, dummy
        self._stacks: dict[int, list[StackFrame]] = {}
        self._names_at: dict[int, frozenset[str]] = {}  # pc -> locals and arguments frame #0 sees there
        self.held = HeldRegions()
        self.stopped = False  # the target waits for the user: frames may be kept
        self.tid: Optional[int] = None  # the thread the selection is in
        self.level = 0
        self._shown_inline: dict[int, int] = {}  # tid -> inlined calls starting at its pc shown (a step into one)

    def changed(self) -> None:
        """A register or stack slot was written: frames are read again, the selection kept."""
        tid, level = self.tid, self.level
        self.reset(stopped=self.stopped)
        self.tid, self.level = tid, level

    def reset(self, stopped: bool, gone: bool = False) -> None:
        """At every stop (``stopped``) and resume: frames are forgotten, #0 is selected;
        ``gone``: the process too (its code, so the names visible at each pc)."""
        self._stacks.clear()
        self.held.clear()
        self._shown_inline.clear()
        self.stopped, self.level, self.tid = stopped, 0, None
        if gone or len(self._names_at) > 4096:
            self._names_at.clear()

    def _may_see(self, tid: int, name: str) -> bool:
        """While the target runs (a condition at a hit): can frame #0 see a local ``name``? The
        names visible at a pc are kept, so a condition on a global costs one register read."""
        pc = int(self._regs(tid).rip)
        names = self._names_at.get(pc)
        if names is None:
            frames = self.stack(tid, 1)
            names = frozenset(v.name for v in frames[0].locals() + frames[0].arguments()) if frames else frozenset()
            self._names_at[pc] = names
        return name in names

    def stack(self, tid: int, limit: int = MAX_FRAMES) -> list[StackFrame]:
        """The frames of ``tid``, innermost first: at least ``limit`` of them when it has that
        many (unwinding only as far as asked: frame #0 needs no library's CFI)."""
        cached = self._stacks.get(tid) if self.stopped else None
        if cached is not None and (cached[1] or len(cached[0]) >= limit):
            return cached[0]
        if not self.stopped:
            limit = 1
        symbols = self._symbols()
        unwound = unwind_frames(self._regs(tid), self._read_memory, self._symbols, self._refresh, limit,
                                self._dummy(tid))
        physical: list[StackFrame] = []
        xmm = {XMM0 + n: value for n, value in enumerate(self._xmm(tid))} if unwound else {}
        # The last frame's return address (a scoped watch's end) comes from its CFI: its
        # caller's own CFI (another library's, maybe) is not read.
        complete = len(unwound) < limit or (unwound[-1].caller_pc is None and not unwound[-1].dummy)
        for index, unwound_frame in enumerate(unwound):
            unwound_frame.regs.update(xmm)  # call-clobbered: every frame sees frame 0's, as gdb shows them
            physical.append(self._frame(tid, unwound_frame, symbols))
            physical[-1].after_dummy = index > 0 and unwound[index - 1].dummy
            physical[-1].return_address = unwound_frame.caller_pc
            if physical[-1].function == "main":
                complete = True
                break  # gdb's backtrace past-main off: the C library's frames are not shown
        frames = logical_frames(physical, lambda unwound_frame: self._frame(tid, unwound_frame, symbols),
                                self._shown_inline.get(tid, 0))
        for level, frame in enumerate(frames):
            frame.level = level
            frame.whole_stack, frame.held = (lambda: self.stack(tid)), self.held
            frame._caller = lambda n=level + 1: self._nth(tid, n)
        if self.stopped:
            self._stacks[tid] = (frames, complete)
        return frames

    def _frame(self, tid: int, unwound: UnwoundFrame, symbols: Any) -> "StackFrame":
        """A frame at ``unwound``'s pc: its function and line by pc - 1 when that is a return address."""
        lookup_pc = unwound.pc if unwound.exact else unwound.pc - 1
        module = symbols.module_for(lookup_pc) if symbols is not None else None
        where = self._describe(unwound.pc)
        if lookup_pc != unwound.pc:
            line = self._describe(lookup_pc)
            # A tail call's return pc may lie past its function's end: the function is pc - 1's.
            function, offset = (where.function, where.offset) if line.function == where.function \
                else (line.function, unwound.pc - lookup_pc + (line.offset or 0))
            where = rec.Frame(pc=where.pc, function=function, offset=offset, file=line.file,
                              line=line.line, module=where.module)
        frame = StackFrame(0, unwound, module, where, self._read_memory, lambda: None)
        if unwound.dummy:
            frame.kind, frame._scope = "dummy", None  # gdb's <function called from gdb>
        return frame

    def show_inline(self, tid: int, count: int) -> None:
        """Show ``count`` more of the inlined calls that start at ``tid``'s pc (gdb's
        step_into_inline_frame), until the target runs."""
        self._shown_inline[tid] = self._shown_inline.get(tid, 0) + count
        self._stacks.pop(tid, None)
        if tid == self.tid:
            self.level = 0

    def at_breakpoints(self, tid: int, breakpoints: list[Any]) -> None:
        """gdb's stopped_by_user_bp_inline_frame: a stop at a code breakpoint set by address or
        line shows the inlined calls that start there; one set on a function inlined there shows
        the frames down to that function's."""
        code = [bp for bp in breakpoints if bp is not None and not bp.kind.is_data]
        pc = int(self._regs(tid).rip) if code else 0
        # a location without a symbol (an IFUNC's resolver, a PLT stub) is as one set by address
        if any(not _FUNCTION.match(bp.expr) or any(site.addr == pc and site.label for site in bp.sites)
               for bp in code):
            self.show_inline(tid, MAX_FRAMES)
            return
        hidden = self.hidden_inline(tid) if code else []
        names = [scope.name for scope in hidden]
        wanted = [names.index(bp.expr.split(":")[-1]) for bp in code if bp.expr.split(":")[-1] in names]
        if wanted:
            self.show_inline(tid, max(wanted) + 1)

    def innermost_stop(self, stop: rec.Stopped) -> rec.Stopped:
        """``stop`` with ``where`` as its thread's frame 0 shows it: an inlined function's name and
        line when the pc is in inlined code (gdb/MI's *stopped frame), not the ELF symbol's."""
        try:
            frames = self.stack(stop.tid, 1)
        except HwdbgError:
            return stop
        if not frames or frames[0].pc != stop.pc:
            return stop
        return dataclasses.replace(stop, where=frames[0].record())

    def hidden_inline(self, tid: int) -> list[Any]:
        """The inlined calls that start at ``tid``'s pc and are not shown (scopes, outermost first)."""
        frames = self.stack(tid, 1)
        if not frames:
            return []
        physical = next((f for f in frames if f.kind == "normal"), None)
        starting = inline_starts(physical) if physical is not None else []
        return starting[:max(0, len(starting) - self._shown_inline.get(tid, 0))][::-1]

    def _nth(self, tid: int, level: int) -> Optional[StackFrame]:
        frames = self.stack(tid, level + 1)
        return frames[level] if level < len(frames) else None

    def selected(self, tid: int, name: Optional[str] = None) -> Optional[StackFrame]:
        """The selected frame if ``tid`` is the thread it was selected in, else frame #0 of ``tid``
        (None when its registers cannot be read: it runs). With ``name``, while the target runs,
        None unless that frame sees a local of that name."""
        try:
            if name is not None and not self.stopped and not self._may_see(tid, name):
                return None
            level = self.level if tid == self.tid else 0
            frames = self.stack(tid, level + 1)
        except HwdbgError:
            return None
        if not frames:
            return None
        return frames[min(level, len(frames) - 1)]

    def select(self, tid: int, level: int) -> StackFrame:
        frames = self.stack(tid)
        if not frames:
            raise FrameError("No stack.")
        if not 0 <= level < len(frames):
            raise FrameError(f"No frame at level {level}.")
        self.tid, self.level = tid, level
        return frames[level]

    def move(self, tid: int, count: int, explicit: bool = False) -> StackFrame:
        """``up COUNT`` (positive) or ``down COUNT`` (negative), stopping at either end. As in gdb,
        only a plain up or down at the end is an error: ``down 9999`` means "all the way down"."""
        frames = self.stack(tid)
        if not frames:
            raise FrameError("No stack.")
        current = self.level if tid == self.tid else 0
        wanted = current + count
        if not explicit and wanted >= len(frames):
            raise FrameError("Initial frame selected; you cannot go up.")
        if not explicit and wanted < 0:
            raise FrameError("Bottom (innermost) frame selected; you cannot go down.")
        return self.select(tid, max(0, min(len(frames) - 1, wanted)))


def variable_value(frame: StackFrame, var: ScopeVariable, env: Any) -> Optional[expr.Value]:
    """The value of one variable of ``frame`` (None: optimized out), for info locals and the API."""
    try:
        found = frame.found(var)
    except OptimizedOut:
        return None
    return expr.evaluate(expr.Name(var.name, None, var.name), _OneName(env, var.name, found))


HELD_BASE = 0xFFFF_F000_0000_0000  # in the kernel half: no user-space object can be there


class HeldRegions:
    """Aggregates held outside memory (a struct passed in two registers), served at made-up
    addresses no process has, so the expression language and the printer read them field by
    field. Forgotten when the target runs."""

    def __init__(self) -> None:
        self._regions: list[tuple[int, bytes]] = []

    def clear(self) -> None:
        self._regions.clear()

    def place(self, data: bytes) -> int:
        for start, known in self._regions:
            if known == data:
                return start
        start = HELD_BASE + (len(self._regions) << 20)
        self._regions.append((start, data))
        return start

    def read(self, addr: int, size: int) -> Optional[bytes]:
        for start, data in self._regions:
            if start <= addr and addr + size <= start + len(data):
                return data[addr - start:addr - start + size]
        return None


class _OneName:
    """An Env where one name is one given variable (info locals shows shadowed ones too)."""

    def __init__(self, env: Any, name: str, found: Any) -> None:
        self._env, self._name, self._found = env, name, found

    def lookup(self, name: str, lib: Optional[str]) -> Any:
        return self._found if name == self._name and lib is None else self._env.lookup(name, lib)

    def read_memory(self, addr: int, size: int) -> bytes:
        return self._env.read_memory(addr, size)

    def register(self, name: str) -> int:
        return self._env.register(name)
