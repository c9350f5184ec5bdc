"""What a stop is called: signal dispositions (gdb's defaults), exit records, a stop's place."""
from __future__ import annotations

import signal as _signal
from typing import Any, Optional

from .. import records as rec
from ..process import events as pev

# Signals that stop the target and are passed on at the next continue (gdb's defaults).
STOP_AND_PASS = {_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGILL, _signal.SIGFPE, _signal.SIGABRT}
STOP_NO_PASS = {_signal.SIGINT}


def signal_name(signo: int) -> str:
    try:
        return _signal.Signals(signo).name
    except ValueError:
        return f"SIG{signo}"


def stop_reason(signo: int, *, interrupt_wanted: bool, tracing: bool) -> Optional[str]:
    """Why a signal stops the target ("signal", "interrupted"), or None: it is passed on at once."""
    if signo in STOP_NO_PASS:
        return "interrupted" if interrupt_wanted else "signal"
    if signo in STOP_AND_PASS and not tracing:
        return "signal"
    return None


def passed_on(signo: int) -> bool:
    """Whether the next continue delivers the signal that stopped the target (SIGINT: not)."""
    return signo not in STOP_NO_PASS


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
