"""The steady-state hit loop in C (``hwdbg_fast_loop``), for hits that need no Python work.

Python decides which slots may be handled there (a slot held by exactly one breakpoint
with no condition, ignore count, callback or backtrace, that does not stop the target)
and at which pcs (instructions known not to stop mid-way, unlike ``rep movs``). The C
loop waits, checks siginfo and DR6, reads the watched bytes, applies the watch/rwatch
value rule, records the hit and resumes the thread: four or five system calls, no
Python. Anything else comes back to Python untouched, as a raw wait status.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..linux.native import ffi, lib

BUFFER = 1024
MODE_ALL, MODE_CHANGES, MODE_UNCHANGED = 0, 1, 2


@dataclass
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

    def _array(self, ctype: str, init: Any) -> Any:
        array = ffi.new(ctype, init)
        self._keep.append(array)
        return array

    def run(self, max_hits: int = BUFFER) -> tuple[Optional[tuple[int, int]], int]:
        """Runs until a stop needs Python ((tid, status), err 0), the buffer is full (None, 0),
        or waitpid failed (None, errno; EINTR when a signal arrived)."""
        args = self.args
        for i, fast in enumerate(self.bps):  # Python may have seen hits since: start from its values
            value = fast.bp.value
            self.table[i].have_last = int(value is not None and len(value) == fast.length)
            if self.table[i].have_last:
                ffi.memmove(self.table[i].last, value, fast.length)
        args.nhits = 0
        args.max_hits = max(1, min(max_hits, BUFFER))
        rc = lib.hwdbg_fast_loop(args)
        if rc == 1:
            return (args.tid, args.status), 0
        return None, -rc if rc < 0 else 0

    def drain(self) -> list[tuple[FastBreakpoint, int, int, Optional[bytes], bytes]]:
        """The hits recorded by the last run: (breakpoint, tid, pc, old bytes, new bytes); also
        hands each breakpoint's last value back to Python."""
        out = []
        hits = self.args.hits
        for i in range(self.args.nhits):
            hit = hits[i]
            fast = self.bps[hit.bp]
            n = fast.length
            old = bytes(ffi.buffer(hit.old, n)) if hit.had_old else None
            out.append((fast, hit.tid, hit.pc, old, bytes(ffi.buffer(hit.new, n))))
        for i, fast in enumerate(self.bps):
            if self.table[i].have_last:
                fast.bp.value = bytes(ffi.buffer(self.table[i].last, fast.length))
        return out
