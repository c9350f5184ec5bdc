"""call: print's inferior calls, without the void result; set/show unwindonsignal."""
from __future__ import annotations

import argparse
from typing import Any

from ...errors import UsageError
from . import Category, CommandParser, Result, command, printable, raw_split
from .data import format_and_expression, is_void, shown_value
from .printopts import SWITCH, pretty, print_options


def _parser() -> CommandParser:
    parser = CommandParser("call")
    parser.add_argument("text", nargs="?", metavar="EXPR")
    return parser


@command(_parser(), category=Category.DATA, split=raw_split, complete="symbols")
def call(ctx: Any, args: argparse.Namespace) -> Result:
    """call [-pretty [on|off] --] [/F] EXPR

    Evaluates EXPR as print does and shows its value, except that a call of a void
    function shows nothing (gdb's call). A function call runs in the current thread
    alone (the others stay stopped; gdb 13 lets them run): its arguments are
    converted to the parameters' types (integers of every width, pointers, arrays
    as their address, float, double and long double, complex types, structs and
    unions classed by the x86-64 ABI's rules, bigger ones on the stack) and its
    value read as the ABI returns it, as finish does (a long double, or a struct of
    one, in st(0), shown with 21 digits as gdb; a complex long double in st(0) and
    st(1)). A function without debug information
    needs a cast naming its return type: print (int)getpid(). The return address is
    the program's entry point, with an int3 there while the call runs;
    breakpoints stay armed, watchpoints are disabled until the call stops, as in
    gdb (a write in the called function is not reported and the next old value
    is the one from before the call). A call that stops before it returns (a
    breakpoint, a signal such as SIGSEGV, Ctrl-C) shows that stop and
    leaves the thread there, inside the called function, as gdb does: backtrace
    shows "<function called from gdb>" between it and the frames it was called
    from; when the function returns there (continue, next, finish...), the thread
    stops silently and its registers, vector state and pending signal are restored
    as before the call (finish shows the value). detach and hwdbg's exit restore
    them too. With set unwindonsignal on, a signal abandons the call and restores
    everything at once. Without a process: "You can't do that without a process to
    debug.\""""
    options, rest = print_options(args.text or "")
    fmt, text = format_and_expression(rest, "call")
    value = ctx.evaluate(text)
    if is_void(value):
        return Result("call", {"expr": text, "history": None, "value": None, "text": None}, "")
    return shown_value(ctx, "call", text, fmt, value, pretty(ctx, options))


_unwind_parser = CommandParser("set unwindonsignal")
_unwind_parser.add_argument("value", nargs="?", default="on", metavar="on|off")


@command(_unwind_parser, category=Category.DATA, group="set", name="unwindonsignal")
def set_unwindonsignal(ctx: Any, args: argparse.Namespace) -> Result:
    """set unwindonsignal [on|off]

    What a signal (SIGSEGV, Ctrl-C...) received in a function called by print or
    call does: off (the default, as gdb) leaves the thread where the signal stopped
    it, inside the called function; on abandons the call and restores the thread
    as it was before it (gdb's "GDB has restored the context..."). A breakpoint hit
    in the called function always leaves the thread there."""
    switch = SWITCH.fullmatch(args.value)
    if switch is None:
        raise UsageError(f'"on" or "off" expected, not "{printable(args.value)}"')
    ctx.session.calls.unwind_on_signal = switch.group(1) in ("on", "1", "yes", "enable")
    return Result("set unwindonsignal", {"unwindonsignal": ctx.session.calls.unwind_on_signal})


@command(category=Category.STATUS, group="show", name="unwindonsignal")
def show_unwindonsignal(ctx: Any, args: argparse.Namespace) -> Result:
    """show unwindonsignal

    Whether a signal in a called function abandons the call (set unwindonsignal)."""
    state = ctx.session.calls.unwind_on_signal
    return Result("show unwindonsignal", {"unwindonsignal": state},
                  f"Unwinding of stack if a signal is received while in a call dummy is {'on' if state else 'off'}.")
