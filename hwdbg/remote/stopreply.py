"""Stop replies: the session's records as ``T``/``W``/``X`` packets (gdb manual, "Stop Reply
Packets"), and gdb's own signal numbering, which differs from Linux's above 6
(include/gdb/signals.def: 7 EMT, 10 BUS, 12 SYS, 16 URG, 17 STOP, 30 USR1...)."""
from __future__ import annotations

import signal as _signal
from typing import Callable, Iterable, Optional

from .. import records as rec
from ..records import Kind

_GDB_NUMBERS = {
    "SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6, "SIGFPE": 8,
    "SIGKILL": 9, "SIGBUS": 10, "SIGSEGV": 11, "SIGSYS": 12, "SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15,
    "SIGURG": 16, "SIGSTOP": 17, "SIGTSTP": 18, "SIGCONT": 19, "SIGCHLD": 20, "SIGTTIN": 21, "SIGTTOU": 22,
    "SIGIO": 23, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27, "SIGWINCH": 28,
    "SIGUSR1": 30, "SIGUSR2": 31, "SIGPWR": 32,
}
# Real-time signals: 33-63 are gdb's 45-75, 32 is 77, 64 is 78 (signals.def, REALTIME_*)
_RT = {**{n: 45 + n - 33 for n in range(33, 64)}, 32: 77, 64: 78}
_GDB_BY_HOST = {**{int(getattr(_signal, name)): n for name, n in _GDB_NUMBERS.items() if hasattr(_signal, name)},
                **_RT}
_HOST_BY_GDB = {n: host for host, n in _GDB_BY_HOST.items()}
GDB_SIGNAL_0, GDB_SIGNAL_INT, GDB_SIGNAL_TRAP = 0, 2, 5
GDB_SIGNAL_UNKNOWN = 143


def gdb_signal(name: Optional[str]) -> int:
    """gdb's number for a signal name ("SIGSEGV", "SIGRTMIN", "SIG35"), GDB_SIGNAL_UNKNOWN for others."""
    if not name:
        return GDB_SIGNAL_0
    if name in _GDB_NUMBERS:
        return _GDB_NUMBERS[name]
    try:
        host = int(_signal.Signals[name])
    except KeyError:
        host = int(name[3:]) if name[3:].isdigit() else 0
    return _GDB_BY_HOST.get(host, GDB_SIGNAL_UNKNOWN)


def host_signal(number: int) -> int:
    """The Linux signal for one of gdb's numbers (0: none); ValueError for one Linux lacks."""
    if number == 0:
        return 0
    try:
        return _HOST_BY_GDB[number]
    except KeyError:
        raise ValueError(f"no Linux signal for gdb's signal {number}") from None


def thread_id(tid: int) -> str:
    return f"{tid:x}"


_REASON = {Kind.WATCH: "watch", Kind.RWATCH: "rwatch", Kind.AWATCH: "awatch"}


def stop_reply(stop: rec.Stopped, *, expedite: Callable[[int], Iterable[tuple[int, bytes]]],
               address_of: Callable[[rec.Hit], Optional[int]], swbreak: bool, hwbreak: bool,
               ident: Callable[[int], str] = thread_id, event: str = "") -> bytes:
    """``T`` with the thread, expedited registers and at most one stop reason.

    ``address_of`` maps a hit to the data address to report (one inside the range the client
    asked for), or None when the hit is not one of the client's. ``ident`` writes a thread id
    (``pPID.TID`` once the client speaks multiprocess); ``event`` is a fork, vfork, vforkdone or
    exec reason (``fork:pPID.TID;``), which comes first, as gdbserver sends it.
    """
    if stop.reason == "interrupted" or stop.reason == "timeout":
        signo = GDB_SIGNAL_INT
    elif stop.reason in ("signal",):
        signo = gdb_signal(stop.signal)
    else:
        signo = GDB_SIGNAL_TRAP
    parts = [f"T{signo:02x}", event]
    for num, value in expedite(stop.tid):
        parts.append(f"{num:02x}:{value.hex()};")
    parts.append(f"thread:{ident(stop.tid)};")
    if signo == GDB_SIGNAL_TRAP and not event:
        parts.append(_reason(stop.hits, address_of, swbreak=swbreak, hwbreak=hwbreak))
    return "".join(parts).encode()


def _reason(hits: Iterable[rec.Hit], address_of: Callable[[rec.Hit], Optional[int]], *, swbreak: bool,
            hwbreak: bool) -> str:
    hits = [h for h in hits if h.stopped and address_of(h) is not None] or [h for h in hits if h.stopped]
    for hit in hits:
        if hit.kind in _REASON:
            addr = address_of(hit)
            return f"{_REASON[hit.kind]}:{(hit.address if addr is None else addr):x};"
    for hit in hits:
        if hit.kind is Kind.HBREAK and hwbreak:
            return "hwbreak:;"
        if hit.kind is Kind.BREAK and swbreak:
            return "swbreak:;"
    return ""


def exit_reply(end: rec.Exited | rec.Killed, pid: Optional[int] = None) -> bytes:
    """``W``/``X``, with ``;process:PID`` for a multiprocess client."""
    suffix = b";process:%x" % pid if pid is not None else b""
    if isinstance(end, rec.Exited):
        return b"W%02x" % (end.code & 0xFF) + suffix
    return b"X%02x" % gdb_signal(end.signal) + suffix
