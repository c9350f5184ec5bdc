"""Inferior function calls (gdb's ``call f(1)``, ``print add(2, 3) * 10``), on x86-64 SysV.

The calling thread's registers and whole vector state (XSAVE) are saved; the arguments are
converted to the parameters' types (C's default promotions where there is no prototype) and
laid out by the ABI (arch/sysv_abi.py) in registers and on a stack built below the red
zone; the return address pushed is the program's entry point, where an internal int3 ends
the call. gdb does the same (its amd64 call-dummy location is AT_ENTRY_POINT): the entry
point's code has run once, at start, and never runs again, so the int3 there stops nothing
else. Only the calling thread runs (scheduler-locking on for the call): gdb 13 lets the
others run under its default "replay" mode, but here a call must not let another thread
move past watchpoints and breakpoints unseen while its stops cannot be shown. Breakpoints
and watchpoints stay armed. The state before the call is kept in a dummy frame (dummies.py)
and put back when the call returns: registers, vector state, pending signal, selected frame.
A call that stops before it returns (a breakpoint, a signal, Ctrl-C) leaves the thread
stopped inside the called function, its dummy frame under it, as gdb does by default; with
``set unwindonsignal on``, a signal (Ctrl-C too) abandons the call and restores everything.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterator, Optional

from .. import expr
from .. import records as rec
from ..arch.sysv_abi import MEMORY, XMM0_OFFSET, call_frame, classify, layout_arguments
from ..errors import CallStopped, EvaluationError, HwdbgError, PtraceError, TargetError, UsageError
from ..expr.values import convert, decode_float, encode_float, read_exact, untyped_type
from ..process.inject import settle
from ..symbols.ifunc import ifunc_addresses
from ..symbols.types import CType, integer_type, is_complex, type_name
from . import cleanup
from .dummies import DummyFrame
from .returns import returned_bytes

NO_PROCESS = "You can't do that without a process to debug."
INT = integer_type(4, signed=True)
DOUBLE = CType("float", "double", 8, signed=True)
VOID = CType("void", "void", 0)
ULONG = integer_type(8)
CHAR = CType("char", "char", 1, signed=True)
MASK64 = (1 << 64) - 1
SIGNALED = ("signal", "interrupted", "timeout", "int3")  # gdb's random signals (Ctrl-C is SIGINT there)


def _promoted(value: expr.Value) -> CType:
    """C's default argument promotions: the type an argument without a parameter is passed as."""
    ctype = value.ctype
    if ctype is None:
        return untyped_type(value.value)
    if ctype.kind in ("array", "func"):
        return CType("pointer", "", 8, target=ctype.target if ctype.kind == "array" else ctype)
    if ctype.kind in ("int", "char", "bool", "enum") and ctype.size < 4:
        return INT
    if ctype.kind == "float" and ctype.size == 4:
        return DOUBLE
    return ctype


@contextmanager
def watchpoints_off(s: Any) -> Iterator[None]:
    """gdb disables every watchpoint while a called function runs and enables them again once
    the call stops, returned or not (breakpoint.c: disable_watchpoints_before_interactive_call_start):
    a write in the called function is neither reported nor counted, and the old value a watch
    shows next is still the one from before the call."""
    off: list[tuple[Any, Optional[bytes]]] = []
    try:
        for bp in [bp for bp in s.breakpoints.values() if bp.kind.is_data and bp.enabled]:
            off.append((bp, bp.value))
            s.set_enabled(bp, False)
        yield
    finally:
        for bp, value in off:
            if bp.id in s.breakpoints:
                s.set_enabled(bp, True)
                bp.value = value


class InferiorCalls:
    def __init__(self, session: Any) -> None:
        self.s = session
        self._ifuncs: dict[str, frozenset[int]] = {}  # per ELF file: its IFUNC symbols' addresses
        self.unwind_on_signal = False  # gdb's set unwindonsignal: a signal in a call abandons it
        # while a called function runs: the front end's Ctrl-C stops it (gdb: SIGINT), as during continue
        self.interruptible: Callable[[], ContextManager[Any]] = nullcontext

    # ------------------------------------------------------------ what is called, with what

    def _callee(self, callee: expr.Value, cast: Optional[CType], name: str) -> tuple[int, Optional[CType], CType]:
        """(address, function type or None, return type) of what ``name`` names."""
        ctype = callee.ctype
        if ctype is not None and ctype.kind == "pointer" and ctype.target is not None \
                and ctype.target.kind == "func":
            ctype = ctype.target
        if ctype is not None and ctype.kind == "func":
            ftype: Optional[CType] = ctype
        elif ctype is None or ctype.kind in ("int", "char", "enum", "pointer", "bool"):
            ftype = None  # an address: a function without debug info, or a number (gdb calls it too)
            if ctype is not None:
                name = f"at {int(callee.value) & MASK64:#x}"
        else:
            raise EvaluationError("Invalid data type for function to be called.")
        if ftype is not None and self._ifunc(int(callee.value) & MASK64):
            ftype = None  # the debug info describes the resolver (gdb: the return type is unknown)
        rtype = ftype.target if ftype is not None else None
        if rtype is None:
            if cast is None:
                raise EvaluationError(f"'{name}' has unknown return type; cast the call to its declared return type")
            rtype = cast
        return int(callee.value) & MASK64, ftype, rtype

    def _argument(self, value: expr.Value, param: Optional[CType], env: Any) -> tuple[CType, bytes]:
        """One argument as (its type in the call, its bytes): converted to the parameter's type."""
        ctype = param if param is not None else _promoted(value)
        if ctype.kind in ("struct", "union") or is_complex(ctype):
            given = value.ctype
            if given is None or given.kind != ctype.kind or given.size != ctype.size:
                raise EvaluationError(f"cannot pass {type_name(given)} as {type_name(ctype)}")
            if value.address is None:
                raise EvaluationError("the struct argument is not in memory")
            return ctype, read_exact(env, int(value.value), ctype.size)
        if ctype.kind not in ("int", "char", "bool", "enum", "pointer", "float"):
            raise UsageError(f"arguments of type {type_name(ctype)} are not supported in calls")
        source = value.ctype
        if source is not None and source.kind in ("array", "func"):
            value = expr.Value(value.value, CType("pointer", "", 8, target=source))  # decays to its address
        number = convert(value, ctype).value
        if ctype.kind == "float":
            return ctype, encode_float(number, ctype.size)  # a long double keeps its exact bytes
        return ctype, (int(number) & MASK64).to_bytes(8, "little")[:max(ctype.size, 1)]

    def _arguments(self, ftype: Optional[CType], arguments: list[expr.Value], env: Any) -> list[tuple[CType, bytes]]:
        params = ftype.params if ftype is not None else None
        fixed = [p for p in params if p is not None] if params is not None else []
        if params is not None and len(arguments) < len(fixed):
            raise EvaluationError("Too few arguments in function call.")
        return [self._argument(value, fixed[i] if i < len(fixed) else None, env)
                for i, value in enumerate(arguments)]

    def _entry_point(self) -> int:
        symbols = self.s.symbols
        module = symbols.executable if symbols is not None else None
        if module is None:
            raise TargetError("no executable: hwdbg returns from a call to its entry point")
        return module.image.elf["e_entry"] + module.bias

    # ------------------------------------------------------------ the call

    def call(self, callee: expr.Value, arguments: list[expr.Value], cast: Optional[CType], name: str,
             tid: Optional[int], env: Any) -> expr.Value:
        """Runs the call in thread ``tid`` (the current one) and returns its value (void: a Value
        of type void)."""
        if not self.s.alive:
            raise TargetError(NO_PROCESS)
        inf = self.s.require_stopped()
        if self.s in cleanup.running_sessions:
            raise UsageError("cannot call a function in the program while it runs (in a condition or a command)")
        tid = tid or self.s.current_tid or inf.pid
        address, ftype, rtype = self._callee(callee, cast, name)
        layout_args = self._arguments(ftype, arguments, env)
        thread = inf.threads.get(tid)
        if thread is None or thread.held or not settle(inf, tid):
            raise TargetError(f"thread {tid} cannot run a call from where it stopped (a system call or event stop)")
        symbols = self.s.symbols
        shown = name
        if symbols is not None:
            function = symbols.function_at(address)
            if function is not None and function.addr == address:
                shown = function.name
        address = self._resolve_ifunc(inf, tid, address, env)
        return self._value(rtype, self._run(inf, tid, address, layout_args, rtype, shown), tid, env)

    def _ifunc(self, address: int) -> bool:
        symbols = self.s.symbols
        module = symbols.module_for(address) if symbols is not None else None
        if module is None:
            return False
        if module.path not in self._ifuncs:
            self._ifuncs[module.path] = ifunc_addresses(module.image.elf)
        return address - module.bias in self._ifuncs[module.path]

    def string_in_process(self, data: bytes, tid: Optional[int], env: Any) -> expr.Value:
        """A string literal argument copied into the process, in memory from its malloc (gdb's
        value_coerce_to_target; never freed, as in gdb): a char * to it."""
        try:
            found = env.lookup("malloc", None)
        except HwdbgError:
            raise EvaluationError('evaluation of this expression requires the program to have a function "malloc".') \
                from None
        address, ctype = found if isinstance(found, tuple) else (0, None)
        pointer = self.call(expr.Value(address, ctype, address), [expr.Value(len(data) + 1, ULONG)], ULONG, "malloc",
                            tid, env)
        where = int(pointer.value) & MASK64
        if where == 0:
            raise TargetError(f"malloc({len(data) + 1}) in the program returned NULL")
        self.s.write_memory(where, data + b"\0")
        return expr.Value(where, CType("pointer", "", 8, target=CHAR))

    def _resolve_ifunc(self, inf: Any, tid: int, address: int, env: Any) -> int:
        """An IFUNC symbol's address is its resolver's: calling that returns the function's (gdb
        calls the resolver too)."""
        if not self._ifunc(address):
            return address
        return int.from_bytes(self._run(inf, tid, address, [], ULONG, "ifunc resolver"), "little")

    def _value(self, rtype: CType, data: bytes, tid: int, env: Any) -> expr.Value:
        if rtype.kind == "void":
            return expr.Value(0, VOID)
        if rtype.kind in ("struct", "union", "array"):
            frame = env.frame() if getattr(env, "frame", None) is not None else self.s.frames.selected(tid)
            if frame is None:
                raise TargetError("the returned value has no frame to be kept in")
            where = frame.held.place(data)  # served at a made-up address, as registers' structs are
            return expr.Value(where, rtype, where)
        if rtype.kind == "float":
            return expr.Value(decode_float(data[:rtype.size]), rtype)
        number = int.from_bytes(data, "little", signed=rtype.signed and rtype.kind != "pointer")
        return expr.Value(number, rtype)

    def _run(self, inf: Any, tid: int, address: int, arguments: list[tuple[CType, bytes]], rtype: CType,
             name: str) -> bytes:
        """Sets the call up in a dummy frame (dummies.py), runs it to its return and pops the
        frame: the returned bytes. A call that stops before it returns raises CallStopped."""
        saved = inf.get_regs(tid)
        fpregs = inf.get_fpregs(tid)
        try:
            vector: Optional[bytes] = inf.get_xstate(tid)
        except PtraceError:  # a CPU without XSAVE: its whole vector state is the FXSAVE area
            vector = None
        thread = inf.threads[tid]
        s = self.s
        memory = classify(rtype) == [MEMORY] and rtype.kind != "void"
        layout = layout_arguments(arguments, hidden_return=memory)
        buffer, stack, sp = call_frame(saved.rsp, len(layout.stack), rtype.size if memory else 0)
        entry = self._entry_point()
        regs = type(saved).from_buffer_copy(saved)
        for register, value in layout.integers.items():
            setattr(regs, register, value)
        if memory:
            regs.rdi = buffer
        regs.rax = len(layout.sse)  # a variadic callee reads how many vector registers carry arguments
        regs.orig_rax = MASK64  # no system-call restart applies to the call's registers
        regs.rsp, regs.rip = sp, address
        regs.eflags &= ~0x400  # the direction flag is clear at a call (psABI 3.2.1)
        fp = bytearray(fpregs)
        for i, word in enumerate(layout.sse):
            fp[XMM0_OFFSET + 16 * i:XMM0_OFFSET + 16 * i + 16] = word.ljust(16, b"\0")
        inf.write_memory(stack, layout.stack)
        inf.write_memory(sp, entry.to_bytes(8, "little"))
        kept = (thread.signal, thread.to_exit, s.soft.over.get(tid), s.current_tid, s.last_stop,
                s.frames.tid, s.frames.level)
        frame = DummyFrame(tid, sp, entry, name, saved, vector, fpregs, kept)
        s.dummies.push(inf, frame)
        try:
            thread.signal, thread.to_exit = 0, False
            s.soft.over.pop(tid, None)
            inf.set_regs(tid, regs)
            inf.set_fpregs(tid, bytes(fp))
            with watchpoints_off(s), self.interruptible():
                stop = s.go(tid, step=False, lock=True)
        except BaseException:
            if inf.alive and frame in s.dummies.frames:
                s.dummies.pop(inf, frame, selection=True)
            raise
        last = s.dummies.last
        if isinstance(stop, rec.Stopped) and stop.reason == "call-return" and last is not None and last.frame is frame:
            s.dummies.restore_selection(frame)
            if rtype.kind == "void":
                return b""
            return returned_bytes(rtype, last.regs, lambda: last.fpregs, inf.read_memory)[0]
        s.emit(stop)  # shown as gdb shows it, before the error and before an unwind
        if not inf.alive or not isinstance(stop, rec.Stopped):
            raise CallStopped(stopped_message(name, exited=True), stop)
        signaled = stop.reason in SIGNALED
        if signaled and self.unwind_on_signal and frame in s.dummies.frames:
            s.dummies.pop(inf, frame, selection=True)
        raise CallStopped(stopped_message(name, signaled=signaled, unwound=self.unwind_on_signal), stop)


def stopped_message(name: str, *, exited: bool = False, signaled: bool = False, unwound: bool = False) -> str:
    """gdb 13's words (infcall.c) for a call that did not return."""
    tail = f"Evaluation of the expression containing the function\n({name}) will be abandoned."
    silently = "\nWhen the function is done executing, GDB will silently stop."
    if exited:
        return f"The program being debugged exited while in a function called from GDB.\n{tail}"
    if not signaled:
        return f"The program being debugged stopped while in a function called from GDB.\n{tail}{silently}"
    head = "The program being debugged was signaled while in a function called from GDB.\n"
    if unwound:
        return (f"{head}GDB has restored the context to what it was before the call.\n"
                f'To change this behavior use "set unwindonsignal off".\n{tail}')
    return (f"{head}GDB remains in the frame where the signal was received.\n"
            f'To change this behavior use "set unwindonsignal on".\n{tail}{silently}')
