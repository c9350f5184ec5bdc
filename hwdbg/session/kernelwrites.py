"""Writes by the kernel into watched ranges (``watch --kernel``).

Debug registers do not fire for the kernel's copy_to_user, so writes made during a system
call are found at its exit: at the entry of a call that can write user memory
(arch/syscalls.py), if one of its buffers overlaps a --kernel watch, the thread is resumed
to the call's exit stop; there the watched bytes are compared with the watch's last known
value. A hit is a change of bytes that lie inside the call's buffers (other changes were
made by someone else: a thread's write is a debug-register hit of its own).

Two ways to get the stops. A program hwdbg starts while a --kernel watch exists runs under
a seccomp filter that stops only the writing calls (one stop at entry, one at exit when a
buffer overlaps); any other program (attached, or started before the watch) is resumed
with PTRACE_SYSCALL, which stops at the entry and exit of every call.
"""
from __future__ import annotations

import ctypes
from contextlib import AbstractContextManager
from typing import Callable, Mapping, Optional

from ..arch import syscalls
from ..errors import PtraceError, TargetError
from ..linux import ptrace as sc
from ..linux import seccomp
from ..process import events as pev
from ..process import inject
from ..process.control import Inferior
from ..recordtype import record
from .hits import HitSemantics, TrapHits
from .model import UserBreakpoint
from .pagewatch import PageWatches, SyscallLift
from .scratch import ScratchRedirect

SYSCALL_INSN_LENGTH = 2  # 0f 05
# Measured by bench/kernel_writes.py (bench/results/kernel.md): what PTRACE_SYSCALL adds to each system call.
SYSCALL_STOP_COST = "about 90 µs added to each call"


@record(frozen=True)
class _Call:
    nr: int
    args: tuple[int, ...]
    pc: int  # the syscall instruction
    buffers: list[tuple[int, int]]


class KernelWrites:
    def __init__(self, *, breakpoints: Callable[[], Mapping[int, UserBreakpoint]], hits: HitSemantics,
                 read_memory: Callable[[int, int], bytes], pages: PageWatches,
                 all_stopped: Callable[[Inferior], AbstractContextManager[None]]) -> None:
        self._breakpoints, self._hits, self._read_memory = breakpoints, hits, read_memory
        self.pages, self.lift, self.scratch = pages, SyscallLift(pages, all_stopped), ScratchRedirect(pages)
        self._calls: dict[int, _Call] = {}  # tid -> the call it is in, whose exit we wait for
        # tid -> its poll/nanosleep/clock_nanosleep that ended with ERESTART_RESTARTBLOCK: if the
        # thread's next call is restart_syscall, that call's exit is this one's (and its writes)
        self._restarts: dict[int, _Call] = {}
        self._filter: Optional[bytes] = None
        self.stops = 0  # syscall and seccomp stops handled (what the filter saves shows here)
        pages.leave_syscall_stop = self.leave_syscall_stop
        pages.own_memory = self.scratch.overlaps
        pages.before_release = self.finish_in_flight
        pages.release_own = self.scratch.release

    def watches(self) -> list[UserBreakpoint]:
        return [bp for bp in self._breakpoints().values()
                if bp.kernel and bp.enabled and (bp.hw is not None or bp.armed_pages)]

    def spawn_filter(self, wanted: bool = False) -> Optional[bytes]:
        """The seccomp program for a program about to be started, if wanted or a --kernel watch exists."""
        if not wanted and not any(bp.kernel or bp.paged for bp in self._breakpoints().values()):
            return None
        if self._filter is None:
            self._filter = seccomp.build_filter(syscalls.writing_numbers())
        return self._filter

    def mode(self, inf: Optional[Inferior]) -> str:
        """How this process's kernel writes are seen: "seccomp", "ptrace-syscall" (every call stops)."""
        return "seccomp" if inf is not None and inf.filtered else "ptrace-syscall"

    def before_resume(self, inf: Inferior) -> None:
        """Every-syscall stops only while a --kernel watch needs them and no filter does the job."""
        inf.trace_syscalls = not inf.filtered and bool(self.watches() or self.pages.protected)

    def reset(self) -> None:
        self._calls.clear()
        self._restarts.clear()
        self.lift.reset()
        self.scratch.reset()

    def forget(self, tid: int) -> None:
        self._calls.pop(tid, None)
        self._restarts.pop(tid, None)
        self.scratch.forget(tid)

    def check_detach(self, inf: Inferior) -> None:
        if inf.filtered:
            raise TargetError(f"process {inf.pid} runs under hwdbg's kernel-write filter (seccomp, set because a "
                              "watch --kernel existed when it started): detached, its read(2), stat(2)... would "
                              "fail with ENOSYS. `kill` it, or restart it without --kernel watches")

    def handle(self, inf: Inferior, event: pev.SyscallStop) -> TrapHits:
        """A syscall or seccomp stop: at entry, decide whether the exit matters; at exit, compare."""
        info, tid = event.info, event.tid
        trap = TrapHits()
        self.stops += 1
        if info.op in (sc.SYSCALL_INFO_ENTRY, sc.SYSCALL_INFO_SECCOMP):
            self._calls.pop(tid, None)
            if self._resumed(inf, tid, info.nr):
                return trap
            call = self._entry(info)
            if call is None:
                return trap
            inf.threads[tid].to_exit = True
            # Into protected pages: made into scratch memory (the pages stay protected), or else
            # preceded by our mprotect that lifts them.
            how = (self.scratch.at_entry(inf, tid, call.nr, call.args, call.buffers)
                   if self.pages.overlapping_runs(call.buffers) else None)
            if how == "prelude" or (how is None and self.lift.at_entry(inf, tid, call.buffers)):
                return trap  # our call first, then its own call again
            self._calls[tid] = call
        elif info.op == sc.SYSCALL_INFO_EXIT:
            self._at_exit(inf, tid, info.rval, trap)
        return trap

    def _resumed(self, inf: Inferior, tid: int, nr: int) -> bool:
        """restart_syscall after an interrupted poll/nanosleep/clock_nanosleep of tid: its exit is
        awaited as that call's. Any other call: the interrupted one is over."""
        call = self._restarts.pop(tid, None)
        if call is None or nr != syscalls.NR_RESTART_SYSCALL:
            self.scratch.drop_restart(tid)
            return False
        inf.threads[tid].to_exit = True
        if not self.scratch.resume(tid) and self.pages.overlapping_runs(call.buffers) \
                and self.lift.at_entry(inf, tid, call.buffers):
            # Made with its pages lifted, protected again at its exit: lifted again first (this
            # entry becomes the mprotect), or the kernel's write through the pointer it saved
            # fails with EFAULT. Then the thread makes restart_syscall again, still this call.
            self._restarts[tid] = call
            return True
        self._calls[tid] = call
        return True

    def _at_exit(self, inf: Inferior, tid: int, rval: int, trap: TrapHits) -> bool:
        """A call's exit; True if the thread was set back onto its `syscall` instruction."""
        if self.scratch.prelude_exit(inf, tid, rval) or self.lift.at_exit(inf, tid):
            return True  # it goes back to make its own call
        self.scratch.at_exit(inf, tid, rval)  # the kernel's bytes reach the real buffer first
        call = self._calls.pop(tid, None)
        if call is not None:
            self._exit(tid, call, rval, trap)
            if rval == -syscalls.ERESTART_RESTARTBLOCK and syscalls.BY_NR[call.nr].name in syscalls.RESTARTED:
                self._restarts[tid] = call
        if self.lift.wants_exit(tid):
            self.lift.restore(inf, tid)
        return False

    def in_call(self, tid: int) -> bool:
        """tid's entry stop was handled and its exit is awaited."""
        return tid in self._calls or self.scratch.in_flight(tid) or self.lift.in_flight(tid)

    def stepped_out(self, inf: Inferior, tid: int) -> tuple[TrapHits, bool]:
        """A thread single-stepped from a syscall entry stop ends at a trap after the call, with no
        exit stop (stepi, next, cleanup): that trap is its exit. Also returns whether the thread
        was set back onto its `syscall` instruction (a step must make the call again)."""
        trap = TrapHits()
        if not self.in_call(tid):
            return trap, False
        inf.threads[tid].to_exit = False
        return trap, self._at_exit(inf, tid, ctypes.c_int64(inf.get_regs(tid).rax).value, trap)

    def step_by_syscall(self, inf: Inferior, tid: int) -> bool:
        """A step of tid must start with PTRACE_SYSCALL: it stands on a `syscall` instruction and
        every call is watched that way (a single step would pass the call unseen). Under the
        seccomp filter a step stops at the filter's stop anyway."""
        if not inf.trace_syscalls or inject.at_syscall_stop(tid):
            return False
        try:
            return inf.read_raw(inf.get_regs(tid).rip, inject.SYSCALL_LENGTH) == inject.SYSCALL_INSN
        except TargetError:
            return False

    def finish_in_flight(self, inf: Inferior) -> None:
        """Before letting go: every call made into scratch memory, or preceded by one of ours,
        reaches its exit here (a blocking one is interrupted, to be restarted by the kernel
        with the program's own arguments); no new one starts."""
        self.scratch.closing = True
        for tid in sorted(inf.threads):
            if self.scratch.in_flight(tid) or self.lift.in_flight(tid):
                self.leave_syscall_stop(inf, tid)

    def leave_syscall_stop(self, inf: Inferior, tid: int) -> bool:
        """Moves a stopped thread from a system-call stop to one an injection can start from
        (a trap inside signal delivery): its unread stop is handled first, then it is stepped
        with an interrupt pending, so a blocking call returns at once to be restarted later
        as the kernel decides. False if it exited or another event took it."""
        for _ in range(4):  # entry -> exit -> out; a lift's exit makes the call once more
            queued = inf.unread(tid)
            if isinstance(queued, pev.SyscallStop):
                self.handle(inf, queued)  # hits at cleanup are recorded, not reported
            elif queued is not None:
                inf.requeue(queued)
            if not inject.at_syscall_stop(tid):
                return True
            try:
                if sc.get_syscall_info(tid).op == sc.SYSCALL_INFO_EXIT:
                    event = inject.leave_exit_stop(inf, tid)  # a step would restart a blocking call
                    if event is not None:
                        inf.requeue(event)
                    continue
                sc.interrupt(tid)
            except PtraceError:
                return False
            event = inf.step_alone(tid)
            if event is None:
                return False
            if isinstance(event, pev.Trap):
                self.stepped_out(inf, tid)  # from an entry stop: the step's trap is the call's exit
            inf.requeue(event)  # the step's trap (resumed by the run loop) or a syscall stop: looked at above
        return not inject.at_syscall_stop(tid)

    def _watched(self) -> list[UserBreakpoint]:
        """What a call's exit must look at: --kernel watches, and page watches (whose kept copy
        must follow the kernel's writes even when they are not reported)."""
        return self.watches() + [bp for bp in self.pages.watches() if bp.armed_pages and not bp.kernel]

    def _entry(self, info: sc.SyscallInfo) -> Optional[_Call]:
        if info.arch != sc.AUDIT_ARCH_X86_64:
            return None  # int 0x80 / x32: other numbers, not decoded (stated in help)
        watches = self._watched()
        if not watches and not self.pages.protected:
            return None
        found = syscalls.buffers(info.nr, info.args, self._read_memory)
        if not found or not (any(syscalls.overlaps(found, bp.addr, bp.length) for bp in watches)
                             or self.pages.overlapping_runs(found)):
            return None
        return _Call(info.nr, info.args, info.ip - SYSCALL_INSN_LENGTH, found)

    def _exit(self, tid: int, call: _Call, rval: int, trap: TrapHits) -> None:
        entry = syscalls.BY_NR[call.nr]
        described = (entry.name, entry.describe(call.args), rval)
        for bp in self._watched():
            if not syscalls.overlaps(call.buffers, bp.addr, bp.length):
                continue
            if bp.paged:
                if bp.kernel:
                    self.pages.compare(bp, tid, call.pc, trap, syscall=described)
                else:
                    bp.value = self._read_memory(bp.addr, bp.length)  # not reported: only kept current
                continue
            now = self._hits.read_value(bp)
            if now is None or now == bp.value or not self._changed_inside(bp, now, call.buffers):
                continue
            self._hits.record(bp, tid, call.pc, trap, at=call.pc, syscall=described)

    @staticmethod
    def _changed_inside(bp: UserBreakpoint, now: bytes, found: list[tuple[int, int]]) -> bool:
        before = bp.value
        for i, byte in enumerate(now):
            if before is not None and i < len(before) and before[i] == byte:
                continue
            if syscalls.overlaps(found, bp.addr + i, 1):
                return True
        return False
