"""Reads and writes one thread's debug registers (through the cffi module, ``linux.native``).

Every call is one PTRACE_PEEKUSER/POKEUSER. ``counters`` counts them so tests can
prove that a sync with nothing to change costs zero system calls.
"""
from __future__ import annotations

import errno
from typing import Sequence

from ..errors import PtraceError
from ..linux.native import ffi, lib
from ..recordtype import record

U_DEBUGREG_OFFSET: int = lib.HWDBG_U_DEBUGREG_OFFSET
DEBUGREG_SIZE: int = lib.HWDBG_DEBUGREG_SIZE
NUM_DEBUGREGS: int = lib.HWDBG_NUM_DEBUGREGS

HINTS = {
    errno.EINVAL: "the kernel refused this address or DR7 value",
    errno.ENOSPC: "no free debug register on this thread: perf or another tool holds the slots",
    errno.ESRCH: "the thread is not stopped under our ptrace (running, exited, or not traced)",
    errno.EPERM: "not permitted to trace this thread",
    errno.EIO: "no such debug register (DR4/DR5 are not accessible)",
}


@record
class Counters:
    peeks: int = 0
    pokes: int = 0

    @property
    def total(self) -> int:
        return self.peeks + self.pokes


counters = Counters()


def _error(request: str, tid: int, reg: int, rc: int, value: int | None = None) -> PtraceError:
    what = f"DR{reg}" if value is None else f"DR{reg}={value:#x}"
    return PtraceError(request, tid, -rc, what=what, hint=HINTS.get(-rc, ""))


def read(tid: int, reg: int) -> int:
    out = ffi.new("unsigned long *")
    counters.peeks += 1
    rc = lib.hwdbg_peek_dr(tid, reg, out)
    if rc:
        raise _error("PTRACE_PEEKUSER", tid, reg, rc)
    return int(out[0])


def write(tid: int, reg: int, value: int) -> None:
    counters.pokes += 1
    rc = lib.hwdbg_poke_dr(tid, reg, value)
    if rc:
        raise _error("PTRACE_POKEUSER", tid, reg, rc, value)


class SequenceError(PtraceError):
    """A write sequence stopped part-way; ``done`` writes had succeeded."""

    done: int = 0


def write_sequence(tid: int, writes: Sequence[tuple[int, int]]) -> None:
    """Performs the (register, value) writes in order in one C call."""
    if not writes:
        return
    regs = ffi.new("int[]", [r for r, _ in writes])
    values = ffi.new("unsigned long[]", [v for _, v in writes])
    done = ffi.new("int *")
    rc = lib.hwdbg_poke_dr_sequence(tid, len(writes), regs, values, done)
    counters.pokes += done[0] + (1 if rc else 0)
    if rc:
        reg, value = writes[done[0]]
        err = _error("PTRACE_POKEUSER", tid, reg, rc, value)
        failure = SequenceError(err.request, tid, err.errno, err.what, HINTS.get(err.errno, ""))
        failure.done = done[0]
        raise failure


def write_set(tid: int, addrs: Sequence[int], dr7: int) -> None:
    """Writes DR0-DR3 and DR7 in the safe order: DR7 = 0, the addresses, then DR7.

    Writing an address while its slot is disabled is always accepted, and the final DR7
    write is all-or-nothing, so a failure never leaves a half-armed slot behind.
    """
    writes = [(7, 0)] + [(n, a) for n, a in enumerate(addrs)] + [(7, dr7)]
    write_sequence(tid, writes)


def read_all(tid: int) -> dict[int, int]:
    """DR0-DR3, DR6, DR7 of one stopped thread (what the thread really holds)."""
    return {reg: read(tid, reg) for reg in (0, 1, 2, 3, 6, 7)}
