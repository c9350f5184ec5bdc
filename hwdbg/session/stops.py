"""What a stop is called: signal dispositions (gdb's defaults), exit records, a stop's place."""
from __future__ import annotations

import signal as _signal
from typing import Any, Optional

from .. import records as rec
from ..process import events as pev

# Signals that stop the target and are passed on at the next continue (gdb's defaults).
STOP_AND_PASS = {_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGILL, _signal.SIGFPE, _signal.SIGABRT}
STOP_NO_PASS = {_signal.SIGINT}


# Signals gdb neither stops at nor reports (it passes them, silently).
QUIET = {_signal.SIGALRM, _signal.SIGURG, _signal.SIGCHLD, _signal.SIGIO, _signal.SIGVTALRM, _signal.SIGPROF,
         _signal.SIGWINCH}


class SignalTable:
    """gdb's ``handle`` table: per signal, whether it stops the program, is reported, is passed
    to it. The reported and passed defaults are gdb's; a stop, by default, only for the signals
    of STOP_AND_PASS and SIGINT (gdb also stops at SIGUSR1, SIGTERM, SIGHUP...: ``handle SIG stop``)."""

    def __init__(self) -> None:
        self.stop: set[int] = set(STOP_AND_PASS | STOP_NO_PASS)
        self.print: set[int] = {signo for signo in valid_signals() if signo not in QUIET}
        self.pass_: set[int] = {signo for signo in valid_signals() if signo not in STOP_NO_PASS | {_signal.SIGTRAP}}
        self.changed: set[int] = set()  # set by the user: they win over hwdbg serve's stop_signals

    def row(self, signo: int) -> tuple[bool, bool, bool]:
        return signo in self.stop, signo in self.print, signo in self.pass_

    def set(self, signo: int, action: str) -> None:
        """One of gdb's actions: stop (and print), nostop, print, noprint (and nostop),
        pass/noignore, nopass/ignore."""
        self.changed.add(signo)
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


def valid_signals() -> list[int]:
    return sorted(int(s) for s in _signal.valid_signals() if s not in (_signal.SIGKILL, _signal.SIGSTOP))


def signal_name(signo: int) -> str:
    try:
        return _signal.Signals(signo).name
    except ValueError:
        return f"SIG{signo}"


def stop_reason(signo: int, *, interrupt_wanted: bool, tracing: bool,
                table: Optional[SignalTable] = None) -> Optional[str]:
    """Why a signal stops the target ("signal", "interrupted"), or None: it is passed on at once."""
    if signo in STOP_NO_PASS and interrupt_wanted:
        return "interrupted"
    stops = table.stop if table is not None else STOP_AND_PASS | STOP_NO_PASS
    if signo in stops and (not tracing or signo in STOP_NO_PASS):
        return "signal"
    return None


def passed_on(signo: int, table: Optional[SignalTable] = None) -> bool:
    """Whether the program gets the signal (at once, or at the next continue if it stopped)."""
    return signo in table.pass_ if table is not None else signo not in STOP_NO_PASS


def exit_record(event: Any, pid: int) -> rec.Exited | rec.Killed:
    if isinstance(event, pev.Exited):
        return rec.Exited(code=event.code, pid=pid)
    return rec.Killed(signal=signal_name(event.signal), pid=pid, core=event.core)


def where_text(stop: rec.Stopped) -> str:
    where = stop.where
    if where is not None and where.function:
        return f"{stop.pc:#x} in {where.function}"
    return f"{stop.pc:#x}"


def fork_reason(event: pev.ProcessEvent) -> str:
    """A kept fork's stop reason, as gdb's stop replies name them."""
    if isinstance(event, pev.Forked):
        return "vfork" if event.vfork else "fork"
    return "vforkdone"
