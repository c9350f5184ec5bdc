"""call: print's inferior calls, without the void result."""
from __future__ import annotations

import argparse
from typing import Any

from . import Category, CommandParser, Result, command, raw_split
from .data import format_and_expression, is_void, shown_value
from .printopts import pretty, print_options


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
    as their address, float and double, structs of at most 16 bytes of integer or
    floating-point fields, bigger ones on the stack) and its value read as the
    x86-64 ABI returns it, as finish does. A function without debug information
    needs a cast naming its return type: print (int)getpid(). The return address is
    the program's entry point, with an int3 there while the call runs;
    breakpoints and watchpoints stay armed. A call that stops before it returns (a
    breakpoint, a signal such as SIGSEGV, Ctrl-C) is abandoned: the thread's
    registers, vector state and pending signal are restored as before the call
    (gdb's set unwindonsignal on), and one line says so. Without a process: "You
    can't do that without a process to debug.\""""
    options, rest = print_options(args.text or "")
    fmt, text = format_and_expression(rest, "call")
    value = ctx.evaluate(text)
    if is_void(value):
        return Result("call", {"expr": text, "history": None, "value": None, "text": None}, "")
    return shown_value(ctx, "call", text, fmt, value, pretty(ctx, options))
