"""Commands that move a thread by hand: return (pop frames, no code run) and jump (resume elsewhere)."""
from __future__ import annotations

import argparse
from typing import Any

from ... import expr
from ...errors import TargetError, UsageError
from ...symbols.dwarf_locations import REGISTER_NAMES
from . import Category, CommandParser, Result, command, current_tid, raw_split

R = Category.RUNNING
_GENERAL = 16  # DWARF registers 0-15: rax ... r15 (rip is set apart)


def _raw(name: str, metavar: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("text", nargs="?", metavar=metavar)
    return parser


def _stopped_tid(ctx: Any) -> int:
    if not ctx.session.alive:
        raise TargetError("The program is not being run.")
    ctx.session.require_stopped()
    return current_tid(ctx)


@command(_raw("return", "EXPR"), category=R, split=raw_split, complete="symbols")
def return_(ctx: Any, args: argparse.Namespace) -> Any:
    """return [EXPR]

    Pops the selected frame (and the frames it called) without running their code:
    the thread is where the selected frame's function would have returned to, with
    the caller's registers as the unwinder finds them. EXPR, converted to the
    function's return type, is put where the ABI returns it (rax; integers and
    pointers). As gdb -batch, it does not ask; at the prompt the new frame is shown
    (hwdbg does not ask either, as gdb with set confirm off)."""
    session = ctx.session
    if not session.alive:
        raise TargetError("No selected frame.")
    tid = _stopped_tid(ctx)
    frame = session.frames.selected(tid)
    caller = frame.caller() if frame is not None else None
    if frame is None or caller is None:
        raise UsageError('Can not force return from the outermost frame.')
    if frame.kind != "normal" or caller.kind == "dummy":
        raise UsageError(f"return from {'a function called from hwdbg' if caller.kind == 'dummy' else 'an inlined or tail call frame'} "
                         "is not supported; use finish")
    value = None
    text = (args.text or "").strip()
    if text:
        symbols = session.symbols
        rtype = symbols.return_type(frame.lookup_pc) if symbols is not None else None
        value = ctx.evaluate(text)
        if rtype is not None and rtype.kind == "void":
            raise UsageError("the function returns void: give no value")
        if rtype is not None and rtype.kind not in ("int", "char", "bool", "enum", "pointer") \
                or isinstance(value.value, float) or value.data is not None:
            raise UsageError("return EXPR: only integer and pointer values are supported")
        if rtype is not None:
            value = expr.evaluate_text(f"({rtype.name}) ({ctx.history_text(text)})", session.env(), ctx.bindings()) \
                if rtype.name else value
    inf = session.inferior
    regs = inf.get_regs(tid)
    for number, saved in caller.regs.items():
        if number < _GENERAL:
            setattr(regs, REGISTER_NAMES[number], saved & (2**64 - 1))
    if value is not None:
        regs.rax = int(value.value) & (2**64 - 1)
    session.arch.set_pc(regs, caller.pc)
    inf.set_regs(tid, regs)
    session.frames.reset(stopped=True)
    ctx.listing = None
    if ctx.interactive:  # gdb shows the new frame when typed at a terminal
        ctx.dispatch("frame")
    return Result("return", {"pc": caller.pc})


@command(_raw("jump", "LOCATION"), category=R, split=raw_split, complete="symbols")
def jump(ctx: Any, args: argparse.Namespace) -> None:
    """jump LOCATION

    Resumes the current thread at LOCATION (LINE, FILE:LINE, FUNCTION or *ADDRESS)
    instead of where it stopped, as continue does: no code between is run. A
    breakpoint at LOCATION stops it at once (gdb)."""
    session = ctx.session
    tid = _stopped_tid(ctx)
    text = (args.text or "").strip()
    if not text:
        raise UsageError("Argument required (starting address).")
    addr = session.stepper.location(text)
    if ctx.interactive:
        ctx.message(f"Continuing at {addr:#x}.")
    session.set_register("rip", addr, tid)
    if ctx.request_resume(session.cont):
        return
    ctx.resume(session.cont)
