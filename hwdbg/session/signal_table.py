"""gdb's signals: their names and descriptions, and the ``handle`` table with gdb 13's defaults.

gdb names Linux's real-time signals by number (SIG34, not SIGRTMIN) and describes some
signals in its own words (SIGFPE "Arithmetic exception"); `info signals` lists them in gdb's
order (include/gdb/signals.def), which differs from Linux's numbering.
"""
from __future__ import annotations

import signal as _signal
from typing import Optional

# gdb's order (its own signal numbers), the Linux signals only.
_GDB_ORDER = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGFPE", "SIGBUS", "SIGSEGV",
              "SIGSYS", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGURG", "SIGTSTP", "SIGCONT", "SIGCHLD", "SIGTTIN",
              "SIGTTOU", "SIGIO", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGUSR1", "SIGUSR2",
              "SIGPWR")
# gdb's words where they are not strsignal's.
_DESCRIPTIONS = {"SIGFPE": "Arithmetic exception", "SIGCHLD": "Child status changed", "SIGTSTP": "Stopped (user)",
                 "SIGWINCH": "Window size changed", "SIGPWR": "Power fail/restart"}
# gdb 13: neither stopped at nor reported, passed on (SIGPOLL is SIGIO on Linux).
QUIET = frozenset({_signal.SIGALRM, _signal.SIGURG, _signal.SIGCHLD, _signal.SIGIO, _signal.SIGVTALRM,
                   _signal.SIGPROF, _signal.SIGWINCH})
# gdb 13: stopped at and reported, not passed on (the debugger's own).
NOT_PASSED = frozenset({_signal.SIGINT, _signal.SIGTRAP})
_RT_MIN, _RT_MAX = 32, 64  # Linux's real-time range, as the kernel numbers it


def valid_signals() -> list[int]:
    """The signals a program can receive and the table can change, in gdb's order."""
    numbers = {int(s) for s in _signal.valid_signals()} - {_signal.SIGKILL, _signal.SIGSTOP}
    ordered = [int(getattr(_signal, name)) for name in _GDB_ORDER if int(getattr(_signal, name)) in numbers]
    return ordered + sorted(numbers - set(ordered))


def signal_name(signo: int) -> str:
    """gdb's name: SIGUSR1, SIG34 for a real-time signal."""
    if _RT_MIN <= signo <= _RT_MAX:
        return f"SIG{signo}"
    try:
        return _signal.Signals(signo).name
    except ValueError:
        return f"SIG{signo}"


def signal_number(name: str) -> Optional[int]:
    """The Linux number of a name as gdb spells it (SIGUSR1, SIG34; also SIGRTMIN, SIGPOLL), or None."""
    if not name.startswith("SIG"):
        return None
    try:
        return int(_signal.Signals[name])
    except KeyError:
        pass
    digits = name[3:]
    if digits.isdigit() and _RT_MIN <= int(digits) <= _RT_MAX:
        return int(digits)
    return None


def description(signo: int) -> str:
    """What gdb says after the name: "User defined signal 1", "Real-time event 34"."""
    if _RT_MIN <= signo <= _RT_MAX:
        return f"Real-time event {signo}"
    name = signal_name(signo)
    return _DESCRIPTIONS.get(name) or _signal.strsignal(signo) or name


class SignalTable:
    """gdb's ``handle`` table: per signal, whether it stops the program, is reported, is
    passed to it; gdb 13's defaults (stop print pass, but for QUIET and NOT_PASSED)."""

    def __init__(self) -> None:
        every = valid_signals()
        self.stop: set[int] = {signo for signo in every if signo not in QUIET}
        self.print: set[int] = set(self.stop)
        self.pass_: set[int] = {signo for signo in every if signo not in NOT_PASSED}

    def row(self, signo: int) -> tuple[bool, bool, bool]:
        return signo in self.stop, signo in self.print, signo in self.pass_

    def set(self, signo: int, action: str) -> None:
        """One of gdb's actions: stop (and print), nostop, print, noprint (and nostop),
        pass/noignore, nopass/ignore."""
        if action in ("stop", "print"):
            self.print.add(signo)
            if action == "stop":
                self.stop.add(signo)
        elif action in ("nostop", "noprint"):
            self.stop.discard(signo)
            if action == "noprint":
                self.print.discard(signo)
        elif action in ("pass", "noignore"):
            self.pass_.add(signo)
        elif action in ("nopass", "ignore"):
            self.pass_.discard(signo)
        else:
            raise ValueError(action)

    def follow_client(self, silent: set[int]) -> None:
        """gdb's QPassSignals (hwdbg serve): the signals in ``silent`` are passed without a stop
        or a report; every other one stops, for the client to decide (as gdbserver does)."""
        for signo in valid_signals():
            if signo in silent:
                self.stop.discard(signo)
                self.print.discard(signo)
            else:
                self.stop.add(signo)
                self.print.add(signo)
