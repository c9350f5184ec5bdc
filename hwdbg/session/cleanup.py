"""Process-wide safety: no target is left with armed debug registers when hwdbg goes.

At interpreter exit every live session lets go of its target. SIGINT/SIGTERM/SIGHUP raise
only where it is safe: while a session runs its loop, an exception at an arbitrary point
could leave a thread running that we believe stopped; so the handler only notes the signal
and interrupts the target, and the loop raises once every thread is stopped. Cleanup (clear
the registers, then detach or kill) runs as the exception unwinds, or at interpreter exit.
"""
from __future__ import annotations

import atexit
import signal as _signal
import threading
import weakref
from typing import Any, Iterable, Optional

live_sessions: "weakref.WeakSet[Any]" = weakref.WeakSet()  # every Session not yet collected
running_sessions: "weakref.WeakSet[Any]" = weakref.WeakSet()  # those inside their run loop
_pending_signal: Optional[int] = None


def signal_pending() -> bool:
    return _pending_signal is not None


def raise_pending_signal() -> None:
    global _pending_signal
    if _pending_signal is not None:
        signo, _pending_signal = _pending_signal, None
        raise _signal_exception(signo)


def _signal_exception(signo: int) -> BaseException:
    return KeyboardInterrupt() if signo == _signal.SIGINT else SystemExit(128 + signo)


def _on_fatal_signal(signo: int, _frame: Any) -> None:
    global _pending_signal
    running = [s for s in list(running_sessions) if s.alive]
    if not running:
        raise _signal_exception(signo)
    _pending_signal = signo
    for session in running:
        session.interrupt()


FATAL_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


def leave_fatal_signals_to_the_main_thread() -> None:
    """Called first in hwdbg's own threads. Python runs a handler in the main thread, but the
    kernel may hand a process's signal to any thread that does not block it: taken by a helper
    while the main thread sleeps in waitpid for a target that will not stop by itself (a
    spinning called function), the handler would wait, and with it the interrupt, forever."""
    _signal.pthread_sigmask(_signal.SIG_BLOCK, FATAL_SIGNALS)


def install_signal_cleanup(signals: Iterable[int] = FATAL_SIGNALS) -> None:
    """Makes SIGINT/SIGTERM/SIGHUP end the program through cleanup (main thread only; handlers
    the program installed itself are left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signo in signals:
        if _signal.getsignal(signo) in (_signal.SIG_DFL, _signal.default_int_handler, None):
            _signal.signal(signo, _on_fatal_signal)


def _cleanup_all() -> None:
    """At interpreter exit: never leave a target with armed debug registers behind."""
    for session in list(live_sessions):
        try:
            session.close()
        except Exception:
            pass


atexit.register(_cleanup_all)
