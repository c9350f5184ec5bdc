"""What a stop is called: what a signal does (the handle table: signal_table.py), exit records, a stop's place."""
from __future__ import annotations

import signal as _signal
from typing import Any, Optional

from .. import records as rec
from ..process import events as pev

from .signal_table import SignalTable, signal_name, valid_signals  # noqa: F401 (re-exported)

INTERRUPT = _signal.SIGINT  # the signal Ctrl-C sends: an interrupt hwdbg asked for, or the user's


def stop_reason(signo: int, table: SignalTable, *, interrupt_wanted: bool, tracing: bool) -> Optional[str]:
    """Why a signal stops the target ("signal", "interrupted"), or None: it is passed on at once.
    ``tracing`` (runs that never stop: run_until_exit, events): only an interrupt stops."""
    if signo == INTERRUPT and interrupt_wanted:
        return "interrupted"
    if signo in table.stop and (not tracing or signo == INTERRUPT):
        return "signal"
    return None


def passed_on(signo: int, table: SignalTable) -> bool:
    """Whether the program gets the signal (at once, or at the next continue if it stopped)."""
    return signo in table.pass_


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
