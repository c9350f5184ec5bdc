"""The steady-state hit loop in C (``hwdbg_fast_loop``), for hits that need no Python work.

Python decides which slots may be handled there (a slot held by exactly one breakpoint
with no condition, ignore count, callback or backtrace, that does not stop the target)
and at which pcs (instructions known not to stop mid-way, unlike ``rep movs``). The C
loop waits, checks siginfo and DR6, reads the watched bytes, applies the watch/rwatch
value rule, records the hit and resumes the thread: four or five system calls, no
Python. Anything else comes back to Python untouched, as a raw wait status.
"""
from __future__ import annotations

import _signal
import signal
import struct
from typing import Any, Optional, Sequence

from ..linux.native import ffi, lib
from ..recordtype import record

BUFFER = 1024  # hits per return to Python (each return costs the trap path ~0.1 ms of Python)
MODE_ALL, MODE_CHANGES, MODE_UNCHANGED = 0, 1, 2
# struct hwdbg_fast_hit, read in one pass (cext/build.py): pc, old_u, new_u, tid, bp, had_old, pad, old, new
HIT_FORMAT = struct.Struct("=QQQiiii32s32s")
# Signals a Python program commonly handles: with a Python handler, one makes the loop return so
# the handler runs now, not after the next hit (which may never come: cleanup.py, remote SIGIO).
WAKE_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                                                        "SIGALRM", "SIGTERM", "SIGIO"))


@record
class FastBreakpoint:
    bp: Any  # the session's Breakpoint
    addr: int
    length: int
    mode: int


class FastLoop:
    """One prepared table: the threads, the delegated slots and pcs, the hit buffer."""

    def __init__(self, mem_fd: int, tids: Sequence[int], plain_pcs: Sequence[int], single_slot: int,
                 slot_bp: Sequence[int], bps: Sequence[FastBreakpoint]) -> None:
        self.bps = list(bps)
        self._keep = []  # cffi arrays must outlive the args struct
        args = ffi.new("struct hwdbg_fast_args *")
        args.mem_fd = mem_fd
        args.tids = self._array("int[]", sorted(tids))
        args.ntids = len(tids)
        args.plain_pcs = self._array("unsigned long[]", sorted(plain_pcs) or [0])
        args.nplain = len(plain_pcs)
        args.single_slot = single_slot
        for slot, index in enumerate(slot_bp):
            args.slot_bp[slot] = index
        table = self._array("struct hwdbg_fast_bp[]", len(self.bps))
        for i, fast in enumerate(self.bps):
            table[i].addr, table[i].len, table[i].mode = fast.addr, fast.length, fast.mode
        args.bps, args.nbps = table, len(self.bps)
        args.hits = self._array("struct hwdbg_fast_hit[]", BUFFER)
        args.max_hits = BUFFER
        self.args = args
        self.table = table
        self._handled: Optional[tuple[int, ...]] = None  # the signals args.signals lists
        self.inflight = False

    def _array(self, ctype: str, init: Any) -> Any:
        array = ffi.new(ctype, init)
        self._keep.append(array)
        return array

    def run(self, max_hits: int = BUFFER) -> tuple[Optional[tuple[int, int]], int]:
        """Runs until a stop needs Python ((tid, status), err 0), the buffer is full (None, 0),
        a signal with a Python handler arrived (None, EINTR) or waitpid failed (None, errno)."""
        args = self.args
        for i, fast in enumerate(self.bps):  # Python may have seen hits since: start from its values
            value = fast.bp.value
            self.table[i].have_last = int(value is not None and len(value) == fast.length)
            if self.table[i].have_last:
                ffi.memmove(self.table[i].last, value, fast.length)
        args.nhits = 0
        args.max_hits = max(1, min(max_hits, BUFFER))
        handled = tuple(signo for signo in WAKE_SIGNALS if callable(_signal.getsignal(signo)))  # no enum: per burst
        if handled != self._handled:
            self._handled = handled
            args.signals = self._array("int[]", handled or (0,))
            args.nsignals = len(handled)
        rc = lib.hwdbg_fast_loop(args)
        self.inflight = rc == 2  # a page fault's trampoline run it stopped short (session/pagefast.py)
        if rc in (1, 2):
            return (args.tid, args.status), 0
        return None, -rc if rc < 0 else 0

    def take(self) -> Burst:
        """The hits recorded by the last run, as a copy of the C buffer (decoded later, on the
        thread that announces them: this runs between two hits of the trap path); also hands
        each breakpoint's last value back to Python."""
        count = self.args.nhits
        raw = ffi.buffer(self.args.hits, count * HIT_FORMAT.size)[:] if count else b""
        for i, fast in enumerate(self.bps):
            if self.table[i].have_last:
                fast.bp.value = bytes(ffi.buffer(self.table[i].last, fast.length))
        return Burst(raw, count, self.bps)


class Burst:
    """One run's hits as the C loop recorded them (struct hwdbg_fast_hit, HIT_FORMAT)."""

    __slots__ = ("raw", "count", "bps")

    def __init__(self, raw: bytes, count: int, bps: Sequence[FastBreakpoint]) -> None:
        self.raw, self.count, self.bps = raw, count, bps

    def __len__(self) -> int:
        return self.count

    def decode(self) -> list[tuple[Any, int, int, Optional[int], int]]:
        """(the session's breakpoint, tid, pc, old, new) with the values as numbers (signed if
        the breakpoint says so). One pass over the buffer: this is per hit."""
        out: list[tuple[Any, int, int, Optional[int], int]] = []
        if not self.count:
            return out
        assert ffi.sizeof("struct hwdbg_fast_hit") == HIT_FORMAT.size
        # (bp, length, sign bit or 0, 2**bits): two's complement by arithmetic for up to 8 bytes
        bps = [(f.bp, f.length, 1 << (8 * min(f.length, 8) - 1) if f.bp.signed else 0, 1 << (8 * min(f.length, 8)))
               for f in self.bps]
        append = out.append
        for pc, old_u, new_u, tid, index, had_old, _pad, old_b, new_b in HIT_FORMAT.iter_unpack(self.raw):
            bp, n, sign, span = bps[index]
            if n > 8:
                old = int.from_bytes(old_b[:n], "little", signed=bool(sign)) if had_old else None
                append((bp, tid, pc, old, int.from_bytes(new_b[:n], "little", signed=bool(sign))))
                continue
            if sign:
                if old_u & sign:
                    old_u -= span
                if new_u & sign:
                    new_u -= span
            append((bp, tid, pc, old_u if had_old else None, new_u))
        return out
