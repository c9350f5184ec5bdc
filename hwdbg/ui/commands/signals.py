"""What signals do: handle and info signals (gdb's table: stop, print, pass)."""
from __future__ import annotations

import argparse
import signal as _signal
from typing import Any

from ...errors import UsageError
from ...session.signal_table import description, signal_name, signal_number, valid_signals
from . import Category, CommandParser, Result, command, shell_split

R = Category.RUNNING
ACTIONS = ("stop", "nostop", "print", "noprint", "pass", "nopass", "ignore", "noignore")
HEADER = "Signal        Stop\tPrint\tPass to program\tDescription"


def _row(ctx: Any, signo: int) -> tuple[str, dict[str, Any]]:
    stop, shown, passed = ctx.session.signals.row(signo)
    yes = {True: "Yes", False: "No"}
    text = f"{signal_name(signo):<14}{yes[stop]}\t{yes[shown]}\t{yes[passed]}\t\t{description(signo)}"
    return text, {"signal": signal_name(signo), "stop": stop, "print": shown, "pass": passed,
                  "description": description(signo)}


def _signals(words: list[str]) -> list[int]:
    """SIGNAME words (or all), as gdb takes them."""
    numbers: list[int] = []
    for word in words:
        if word == "all":
            numbers += [s for s in valid_signals() if s not in (_signal.SIGINT, _signal.SIGTRAP)]
            continue
        signo = signal_number(word)
        if signo is None or signo not in valid_signals():
            raise UsageError(f'Unrecognized or ambiguous flag word: "{word}".')
        numbers.append(signo)
    return list(dict.fromkeys(numbers))


def _table(ctx: Any, name: str, numbers: list[int], whole: bool = False) -> Result:
    rows = [_row(ctx, signo) for signo in numbers]
    lines = [HEADER, *([""] if whole else []), *(text for text, _ in rows)]
    if whole:  # gdb's layout of the whole table
        lines += ["", 'Use the "handle" command to change these tables.']
    return Result(name, {"signals": [data for _, data in rows]}, "\n".join(lines))


_handle_parser = CommandParser("handle")
_handle_parser.add_argument("words", nargs="+", metavar="SIGNAL|ACTION")


@command(_handle_parser, category=R, split=shell_split)
def handle(ctx: Any, args: argparse.Namespace) -> Result:
    """handle SIGNAL... [stop|nostop] [print|noprint] [pass|nopass]

    What a signal the program receives does (gdb's handle): stop stops the program
    and reports the signal (print too); print reports it and lets the program run
    on; noprint says nothing (nostop too); pass gives the signal to the program,
    nopass (ignore) discards it. SIGNAL is a name such as SIGUSR1, or all (every
    signal but SIGINT and SIGTRAP); real-time signals are SIG34 to SIG64, as gdb
    names them. A signal that does not stop does not end a next or step either: its handler runs, and the step goes on where the signal came.
    Prints the new settings as info signals does."""
    signals = [w for w in args.words if w not in ACTIONS]
    actions = [w for w in args.words if w in ACTIONS]
    numbers = _signals(signals)
    if not numbers:
        raise UsageError("Argument required (signal names and actions, e.g. handle SIGUSR1 nostop noprint).")
    table = ctx.session.signals
    for signo in numbers:
        for action in actions:
            table.set(signo, action)
    return _table(ctx, "handle", numbers)


_info_parser = CommandParser("info signals")
_info_parser.add_argument("words", nargs="*", metavar="SIGNAL")


@command(_info_parser, category=R, group="info", name="signals", aliases=("handle",), split=shell_split)
def info_signals(ctx: Any, args: argparse.Namespace) -> Result:
    """info signals [SIGNAL]

    The table of what each signal does (Stop, Print, Pass to program), or of SIGNAL alone.
    The defaults are gdb's: every signal stops the program, is reported and is passed
    to it at the next continue, but SIGALRM, SIGURG, SIGCHLD, SIGIO (SIGPOLL),
    SIGVTALRM, SIGPROF and SIGWINCH, which are passed silently, and SIGINT and SIGTRAP,
    which stop and are not passed. Runs that never stop (the Python API's
    run_until_exit and events, the pytest plugin) report and pass every signal but
    an interrupt; under hwdbg serve the client's table decides."""
    if args.words:
        return _table(ctx, "info signals", _signals(args.words))
    return _table(ctx, "info signals", valid_signals(), whole=True)
