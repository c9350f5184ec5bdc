"""Stepping through the source: next, step, until, advance, finish, nexti, stepi, scheduler-locking."""
from __future__ import annotations

import argparse
from typing import Any, Callable

from ... import expr
from ... import records as rec
from ...errors import TargetError, UsageError
from ...session.stepping import check_locking_mode
from .frames import frame_env, frame_line
from . import Category, CommandParser, Result, command, current_tid, number, raw_split

R = Category.RUNNING
MAX_COUNT = 1_000_000


def _count_parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("n", nargs="?", type=number, default=1, metavar="N")
    return parser


def _running(ctx: Any) -> int:
    """The thread a step acts on; gdb's message when there is no process."""
    if not ctx.session.alive:
        raise TargetError("The program is not being run.")
    ctx.session.require_stopped()
    return current_tid(ctx)


def _count(args: argparse.Namespace, name: str) -> int:
    if args.n < 1 or args.n > MAX_COUNT:
        raise UsageError(f"{name} N needs 1 <= N <= {MAX_COUNT}, not {args.n}")
    return args.n


def _step_command(ctx: Any, args: argparse.Namespace, name: str, move: Callable[[int, int], Any]) -> None:
    tid = _running(ctx)
    n = _count(args, name)
    if ctx.request_resume(lambda: move(tid, n)):
        return
    ctx.resume(lambda: move(tid, n))


@command(_count_parser("next"), category=R, aliases=("n",), repeatable=True)
def next_(ctx: Any, args: argparse.Namespace) -> None:
    """next [N]

    Runs to the next source line in the current function, N times (default 1); calls are
    stepped over, recursion included (the step ends in the frame it began in). Other
    threads run meanwhile unless scheduler-locking is on or step. A breakpoint or
    watchpoint hit, a signal or Ctrl-C ends it early."""
    _step_command(ctx, args, "next",
                  lambda tid, n: ctx.session.stepper.line_step(tid, n, over=True))


@command(_count_parser("step"), category=R, aliases=("s",), repeatable=True)
def step(ctx: Any, args: argparse.Namespace) -> None:
    """step [N]

    Like next, but enters the functions called on the way that have line information (it
    stops after their prologue, as `break FUNCTION`, following a PLT stub to the library
    function it calls); functions without line information are stepped over. At the
    start of an inlined call it enters it without running (as gdb: like down)."""
    _step_command(ctx, args, "step",
                  lambda tid, n: ctx.session.stepper.line_step(tid, n, over=False))


@command(_count_parser("nexti"), category=R, aliases=("ni",), repeatable=True)
def nexti(ctx: Any, args: argparse.Namespace) -> None:
    """nexti [N]

    Executes N machine instructions (default 1) in the current thread; a call is run to
    its return, in this frame."""
    _step_command(ctx, args, "nexti",
                  lambda tid, n: ctx.session.stepper.instruction_step(tid, n, over=True))


@command(_count_parser("stepi"), category=R, aliases=("si",), repeatable=True)
def stepi(ctx: Any, args: argparse.Namespace) -> None:
    """stepi [N]

    Executes N machine instructions (default 1) in the current thread, into calls. Stops
    early at a breakpoint hit or a signal."""
    _step_command(ctx, args, "stepi",
                  lambda tid, n: ctx.session.stepper.instruction_step(tid, n, over=False))


def _location(ctx: Any, text: str, name: str) -> int:
    text = (text or "").strip()
    if not text:
        raise UsageError(f"{name} needs a location: FUNCTION, FILE:LINE, LINE or *ADDRESS")
    return ctx.session.stepper.location(text)


_until_parser = CommandParser("until")
_until_parser.add_argument("text", nargs="?", metavar="LOCATION")


@command(_until_parser, category=R, split=raw_split, aliases=("u",), repeatable=True, complete="symbols")
def until(ctx: Any, args: argparse.Namespace) -> None:
    """until [LOCATION]

    Without LOCATION: like next, but a jump back to an earlier line of the function (the end
    of a loop) does not stop it, so it runs to the line after the loop. With LOCATION: runs
    until LOCATION is reached in the current frame (or an outer one), or the current
    function returns."""
    tid = _running(ctx)
    if not (args.text or "").strip():
        ctx.resume(lambda: ctx.session.stepper.line_step(tid, 1, over=True, until=True))
        return
    addr = _location(ctx, args.text, "until")
    ctx.resume(lambda: ctx.session.stepper.run_until(addr, tid, anywhere=False))


_advance_parser = CommandParser("advance")
_advance_parser.add_argument("text", nargs="?", metavar="LOCATION")


@command(_advance_parser, category=R, split=raw_split, complete="symbols")
def advance(ctx: Any, args: argparse.Namespace) -> None:
    """advance LOCATION

    Runs until LOCATION is reached, in any frame, or the current function returns."""
    tid = _running(ctx)
    addr = _location(ctx, args.text, "advance")
    ctx.resume(lambda: ctx.session.stepper.run_until(addr, tid, anywhere=True))


@command(category=R, aliases=("fin",))
def finish(ctx: Any, args: argparse.Namespace) -> Any:
    """finish

    Runs until the selected frame's function returns, and shows the value it returned (read as the
    x86-64 ABI returns it: rax, rdx, xmm0, xmm1, st(0) or memory, by its type), numbered in the
    value history as print does. Other threads run meanwhile unless scheduler-locking is on.
    In an inlined function it steps out of the function's code, once the real functions
    it called have returned (no value, as gdb); in a
    tail call frame it runs until the real frame below it returns (no value, as gdb). With
    set print pretty on, a returned struct is shown on several lines, as print shows it."""
    session = ctx.session
    tid = _running(ctx)
    frame = session.stepper.check_finish(tid)
    outcome: dict[str, Any] = {}

    def run() -> Any:
        stop, value, ctype = session.stepper.finish(tid, pretty=ctx.print_pretty)
        outcome.update(stop=stop, value=value, ctype=ctype)
        return stop

    ctx.message(f"Run till exit from {frame_line(frame, frame_env(session, tid))}")
    ctx.resume(run)
    stop, value = outcome.get("stop"), outcome.get("value")
    if not isinstance(stop, rec.Stopped) or stop.reason != "finish" or value is None:
        return None
    text, number_ = value
    ctype = outcome["ctype"]
    if isinstance(number_, float):  # kept with its type: a long double keeps its digits
        number_ = expr.Value(number_, ctype)
    ctx.values.append(number_ if isinstance(number_, (int, expr.Value)) else None)
    history = len(ctx.values)
    return Result("finish", {"value": text, "history": history, "type": ctype.name if ctype else None},
                  f"Value returned is ${history} = {text}")


_locking_parser = CommandParser("set scheduler-locking")
_locking_parser.add_argument("mode", metavar="MODE")


@command(_locking_parser, category=R, group="set", name="scheduler-locking")
def set_scheduler_locking(ctx: Any, args: argparse.Namespace) -> Result:
    """set scheduler-locking off|on|step|replay

    Which threads run while one is stepped: off (and replay, the default) lets every
    thread run, as gdb does; step keeps the others stopped during next, step, nexti,
    stepi and until, but not continue, finish or advance; on keeps them stopped always."""
    ctx.session.scheduler_locking = check_locking_mode(args.mode)
    return Result("set scheduler-locking", {"mode": args.mode})


@command(category=R, group="show", name="scheduler-locking")
def show_scheduler_locking(ctx: Any, args: argparse.Namespace) -> Result:
    """show scheduler-locking

    Shows the scheduler-locking mode: off, on, step or replay."""
    mode = ctx.session.scheduler_locking
    return Result("show scheduler-locking", {"mode": mode},
                  f'Mode for locking scheduler during execution is "{mode}".')
