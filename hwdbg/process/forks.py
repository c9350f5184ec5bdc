"""Forked children. PTRACE_O_TRACEFORK/TRACEVFORK auto-attach them (with our options), so
each one stops once before it runs a user instruction. By default it is let go there, after
our int3s are taken out of its copy of the memory (a vfork child shares the parent's memory:
there the int3s are lifted until VFORK_DONE, as gdb does). Debug registers are never inherited
(the kernel clears ptrace_bps and the virtual DR7 in copy_thread); its copy of page-watched
pages gets their own protection back (an mprotect made by the child, child_syscall) or its
first write there would kill it with SIGSEGV; a vfork child over protected pages is kept
(``Inferior.follow_vfork``) and followed by session/vforkchild.py until it execs or exits. A client that follows forks (``Inferior.fork_events``: gdb's fork-events through
hwdbg serve) gets the child kept, clean and stopped, and decides: detach it or adopt it.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any

from ..errors import PtraceError
from ..linux import ptrace as sc
from .passthrough import PASSTHROUGH
from .reaper import REAPER
from .swbreak import read_child, write_child

SYSCALL_INSN = b"\x0f\x05"
MASK64 = (1 << 64) - 1


def take_child(inf: Any, child: int, vfork: bool) -> bool:
    """Cleans a new child (stopped at its first stop); True if it is kept stopped and traced
    for the client, False if it was let go (or died before it ran)."""
    statuses = REAPER.unclaimed.pop(child, [])
    try:
        if not statuses:
            os.waitpid(child, sc.WALL)
        if vfork:
            inf.breaks.lift_all()  # shared memory: no int3 until the child execs or exits (gdb too)
            if not inf.fork_events and inf.follow_vfork is not None and inf.follow_vfork():
                return True  # it shares protected pages: followed until it execs or exits (session/vforkchild.py)
        else:
            inf.breaks.strip(lambda addr, data: write_child(child, addr, data))
            if inf.clean_child is not None:
                inf.clean_child(child)  # its copy of page-watched pages writable again
        if inf.fork_events and not inf.filtered:
            return True
        release_child(child, filtered=inf.filtered)
    except (OSError, PtraceError):
        pass  # killed before it ran: nothing to clean
    return False


def release_child(child: int, *, filtered: bool = False) -> None:
    """Lets a clean child go. One under the kernel-write filter is passed through instead: its
    filtered calls would fail with ENOSYS untraced."""
    if filtered:
        sc.cont(child, 0)
        PASSTHROUGH.adopt(child)
        return
    sc.detach(child)


def child_syscall(child: int, nr: int, *args: int) -> int:
    """Makes a stopped forked child (traced, never run) run system call nr: a `syscall`
    instruction at its pc, stepped once, then its bytes and registers back. Its result."""
    saved = sc.getregs(child)
    regs = sc.Regs.from_buffer_copy(saved)
    regs.rax, regs.orig_rax = nr, MASK64
    for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
        setattr(regs, name, value & MASK64)
    original = read_child(child, saved.rip, len(SYSCALL_INSN))
    write_child(child, saved.rip, SYSCALL_INSN)
    try:
        sc.setregs(child, regs)
        sc.singlestep(child)
        os.waitpid(child, sc.WALL)
        return ctypes.c_int64(sc.getregs(child).rax).value
    finally:
        write_child(child, saved.rip, original)
        sc.setregs(child, saved)
