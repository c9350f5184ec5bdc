"""Process control: the waitpid(-1, __WALL) loop, stop/resume, memory (spawn and attach: launch.py).

One ``Inferior`` per traced process. All ptrace requests must come from the thread
that attached, so an Inferior is driven from one thread; only ``request_interrupt``
may be called from elsewhere (a signal handler, a timer thread).

Stops are decoded here for what ptrace says they are (clone, exec, exit, group-stop,
interrupt, signal); what a SIGTRAP means is the hw router's business.
"""
from __future__ import annotations

import errno
import os
import signal
from collections import deque
from typing import Callable, Iterable, Optional

from ..arch.sysv_abi import XMM0_OFFSET
from ..errors import PtraceError, TargetError
from ..linux import procfs
from ..linux import ptrace as sc
from ..recordtype import record
from .events import (Exec, Exited, Forked, GroupStop, Interrupted, Killed, ProcessEvent, Signal, SyscallStop,
                     ThreadCreated, ThreadExited, Trap, VforkDone)
from .forks import release_child, take_child
from .launch import Launch
from .leader import ends_alone, let_go
from .reaper import REAPER
from .swbreak import SoftwareBreakpoints


@record
class TraceeThread:
    tid: int
    running: bool = True  # not known to be in a ptrace-stop
    new: bool = False  # created, initial stop not yet seen or not yet reported
    held: bool = False  # stopped with an event queued that nobody has consumed yet
    signal: int = 0  # signal to deliver when resumed
    parent: Optional[int] = None
    stepping: bool = False  # last resumed with PTRACE_SINGLESTEP (its trap may be the step's)
    to_exit: bool = False  # resume with PTRACE_SYSCALL: its syscall's exit stop is wanted (kernel writes)


class Inferior(Launch):
    """A traced process and its threads."""

    def __init__(self, pid: int, *, spawned: bool, options: int) -> None:
        self.pid = pid
        self.spawned = spawned
        self.options = options
        self.threads: dict[int, TraceeThread] = {}
        self.alive = True
        self._queue: deque[ProcessEvent] = deque()
        self.inbox: deque[tuple[int, int]] = deque()
        self._sigstops_pending = 0
        self._mem_fd: Optional[int] = None
        self.exit_event: Optional[ProcessEvent] = None
        self.leader_gone = False  # the main thread ended before the process (leader.py)
        self.generation = 0  # bumped whenever the thread set changes
        self.breaks = SoftwareBreakpoints(self.read_raw, self.write_raw)  # our int3s in its code
        self.filtered = False  # started under the kernel-write seccomp filter (linux/seccomp.py)
        self.trace_syscalls = False  # resume with PTRACE_SYSCALL: stop at every syscall (kernel writes)
        self.fork_events = False  # keep forked children stopped and report Forked/VforkDone (forks.py)
        # Set by page watches: gives a forked child (stopped, its own memory) its pages' protection back.
        self.clean_child: Optional[Callable[[int], None]] = None
        # Set by page watches: True keeps a vfork child (it shares the protected pages) as a Forked event.
        self.follow_vfork: Optional[Callable[[], bool]] = None


    # ---------------------------------------------------------------- threads

    def _add_thread(self, tid: int, *, running: bool, new: bool = False, parent: Optional[int] = None) -> TraceeThread:
        thread = TraceeThread(tid, running=running, new=new, parent=parent)
        self.threads[tid] = thread
        self.generation += 1
        for status in REAPER.claim(tid, self):
            self.inbox.append((tid, status))
        return thread

    def _drop_thread(self, tid: int) -> None:
        self.threads.pop(tid, None)
        self.generation += 1
        REAPER.release(tid)

    @property
    def all_stopped(self) -> bool:
        return all(not t.running for t in self.threads.values())

    # ---------------------------------------------------------------- events

    def wait_event(self) -> ProcessEvent:
        """Blocks until a stop that matters; queued events (from stop_all) come first."""
        while True:
            if self._queue:
                event = self._queue.popleft()
                self._update_held(event.tid)
                return event
            if not self.alive:
                raise TargetError(f"process {self.pid} has exited")
            if not any(t.running for t in self.threads.values()) and not self.inbox \
                    and not (self.leader_gone and not self.threads):  # else the process's exit is on its way
                raise TargetError(f"process {self.pid} is stopped: nothing to wait for")
            tid, status = REAPER.next_status(self)
            event = self._reap(tid, status, stopping=False)
            if event is not None:
                return event

    @property
    def idle(self) -> bool:
        """Nothing queued on our side: every pending stop is still in the kernel."""
        return not self._queue and not self.inbox

    @property
    def mem_fd(self) -> Optional[int]:
        return self._mem_fd

    def take_end(self) -> Optional[ProcessEvent]:
        """The process's end when it was read but never taken (its consumer raised first), else None."""
        if self.alive or not self._queue or not isinstance(self._queue[0], (Exited, Killed)):
            return None
        return self._queue.popleft()

    def requeue(self, event: ProcessEvent) -> None:
        """Puts back an event its consumer could not handle; wait_event returns it first."""
        self._queue.appendleft(event)
        thread = self.threads.get(event.tid)
        if thread is not None:
            thread.held = True

    def unread(self, tid: int) -> Optional[ProcessEvent]:
        """Takes tid's queued, unread event out of the queue (its consumer handles it now)."""
        event = next((e for e in self._queue if e.tid == tid), None)
        if event is not None:
            self._queue.remove(event)
            self._update_held(tid)
        return event

    def _update_held(self, tid: int) -> None:
        """A thread stays held while any of its stops is queued: a run of the page-fault
        trampoline can hold two (a signal and our interrupt) for one stopped thread."""
        thread = self.threads.get(tid)
        if thread is not None:
            thread.held = any(e.tid == tid for e in self._queue)

    def accept(self, tid: int, status: int) -> Optional[ProcessEvent]:
        """A wait status obtained elsewhere (the C hit loop): routed and decoded as wait_event would."""
        if not REAPER.route(self, tid, status):
            return None
        return self._reap(tid, status, stopping=False)

    def _reap(self, tid: int, status: int, *, stopping: bool) -> Optional[ProcessEvent]:
        """Book-keeping for one wait status; returns the event it means, if any."""
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return self._gone(tid, status)
        if not os.WIFSTOPPED(status):
            return None
        thread = self.threads.get(tid)
        if thread is None:
            return None  # a thread we dropped (exec) reporting late
        thread.running = False
        sig, event = os.WSTOPSIG(status), status >> 16
        if event == sc.PTRACE_EVENT_CLONE:
            child = sc.geteventmsg(tid)
            if child not in self.threads:
                self._add_thread(child, running=True, new=True, parent=tid)
            if not stopping:
                self.resume(tid)
            return None
        if event == sc.PTRACE_EVENT_EXEC:
            former = sc.geteventmsg(tid)
            for other in list(self.threads):
                if other != tid:
                    self._drop_thread(other)
            self.breaks.forget()
            self._open_memory()
            return Exec(tid, former)
        if event == sc.PTRACE_EVENT_EXIT:
            if tid == self.pid and ends_alone(self.pid, tid, self.threads, self.get_regs):
                return let_go(self)  # its exit queued
            if not stopping:
                self.resume(tid)
            return None
        if event in (sc.PTRACE_EVENT_FORK, sc.PTRACE_EVENT_VFORK):
            child, vfork = sc.geteventmsg(tid), event == sc.PTRACE_EVENT_VFORK
            if take_child(self, child, vfork):
                return Forked(tid, child, vfork)
        elif event == sc.PTRACE_EVENT_VFORK_DONE:
            self.breaks.drop_all()  # the vfork child has let go of our memory
            if self.fork_events:
                return VforkDone(tid)
        if event in (sc.PTRACE_EVENT_FORK, sc.PTRACE_EVENT_VFORK, sc.PTRACE_EVENT_VFORK_DONE):
            if not stopping:
                self.resume(tid)
            return None
        if event == sc.PTRACE_EVENT_STOP:
            if thread.new:
                thread.new = False
                return ThreadCreated(tid, thread.parent)
            if sig == signal.SIGTRAP:  # a PTRACE_INTERRUPT trap
                if not stopping:
                    self.resume(tid, step=thread.stepping)  # stale: asked for while the thread was already stopped
                return None
            return GroupStop(tid, sig)
        if event == sc.PTRACE_EVENT_SECCOMP or (event == 0 and sig == sc.SYSCALL_STOP_SIGNAL):
            if event == 0 and thread.to_exit:
                thread.to_exit = False  # this is that exit stop (or the entry of a restarted call)
            return SyscallStop(tid, sc.get_syscall_info(tid))
        if sig == signal.SIGTRAP:
            return Trap(tid, sc.getsiginfo(tid))
        if sig == signal.SIGSTOP and self._sigstops_pending > 0:
            self._sigstops_pending -= 1
            return Interrupted(tid)
        thread.signal = sig
        try:
            info: Optional[sc.SigInfo] = sc.getsiginfo(tid)
        except PtraceError:
            info = None
        return Signal(tid, sig, info)

    def _gone(self, tid: int, status: int) -> Optional[ProcessEvent]:
        known = tid in self.threads
        self._drop_thread(tid)
        if tid != self.pid:
            return ThreadExited(tid, status) if known else None
        if os.WIFEXITED(status):
            event: ProcessEvent = Exited(tid, os.WEXITSTATUS(status))
        else:
            event = Killed(tid, os.WTERMSIG(status), os.WCOREDUMP(status))
        self.exit_event = event
        self._forget()
        return event

    def hold(self, event: Optional[ProcessEvent]) -> None:
        """Queues an event read while stopping (wait_event returns it first)."""
        if event is not None:
            self._queue.append(event)
            thread = self.threads.get(event.tid)
            if thread is not None:
                thread.held = True

    def step_alone(self, tid: int) -> Optional[ProcessEvent]:
        """Single-steps tid while every other thread stays stopped; returns the event the step
        ends with (others' events are queued). Ptrace event stops on the way are stepped through."""
        self.resume(tid, step=True)
        while self.alive and tid in self.threads:
            other, status = REAPER.next_status(self)
            event = self._reap(other, status, stopping=True)
            if other == tid and event is not None:
                return event
            if other == tid:
                if tid in self.threads and not self.threads[tid].running:
                    self.resume(tid, step=True)
            elif event is not None:
                self._queue.append(event)
                if event.tid in self.threads:
                    self.threads[event.tid].held = True
        return None

    # ---------------------------------------------------------------- stop and go

    def resume(self, tid: int, *, step: bool = False) -> None:
        thread = self.threads[tid]
        signo, thread.signal = thread.signal, 0
        thread.running, thread.stepping = True, step  # first: an exception must not hide a running thread
        try:
            if step:
                sc.singlestep(tid, signo)
            elif self.trace_syscalls or thread.to_exit:
                sc.syscall(tid, signo)
            else:
                sc.cont(tid, signo)
        except PtraceError as exc:
            if exc.errno != errno.ESRCH:
                thread.running, thread.signal = False, signo
                raise
            # Killed under us: its death is on its way through waitpid.

    def resume_all(self, except_tids: Iterable[int] = ()) -> None:
        skip = set(except_tids)
        for thread in list(self.threads.values()):
            if not thread.running and not thread.held and thread.tid not in skip:
                self.resume(thread.tid)

    def stop_all(self) -> None:
        """Interrupts every running thread and waits until all are stopped.

        Stops other than our interrupt (a hit, a signal, a new thread, the exit) are
        queued; ``wait_event`` returns them before waiting again.
        """
        for thread in list(self.threads.values()):
            if thread.running and not thread.new:
                try:
                    sc.interrupt(thread.tid)
                except PtraceError as exc:
                    if exc.errno != errno.ESRCH:
                        raise
        while self.alive and any(t.running for t in self.threads.values()):
            tid, status = REAPER.next_status(self)
            self.hold(self._reap(tid, status, stopping=True))

    def take_thread_events(self) -> list[ProcessEvent]:
        """The queued appearances and exits of threads (stop_all waits for a thread that was
        ending or starting): gdb reports them as they come, before the stop it was stopping for.
        A new thread stays stopped (not held) for the next resume."""
        events = [event for event in self._queue if isinstance(event, (ThreadCreated, ThreadExited))]
        for event in events:
            self._queue.remove(event)
            self._update_held(event.tid)
        return events

    def request_interrupt(self) -> None:
        """Asks the running process to stop; safe from signal handlers and other threads."""
        if self.alive:
            self._sigstops_pending += 1
            try:
                os.kill(self.pid, signal.SIGSTOP)
            except ProcessLookupError:
                self._sigstops_pending -= 1

    @property
    def has_pending_events(self) -> bool:
        return bool(self._queue)

    def detach(self) -> None:
        """Lets every thread go (debug registers must already be clear: see hw.breakpoint)."""
        self.stop_all()
        self._take_pending_traps()
        self._rewind_unread_int3s()
        self.breaks.remove_all()
        self._let_go_kept_children()
        for thread in list(self.threads.values()):
            try:
                sc.detach(thread.tid, thread.signal)
            except PtraceError as exc:
                if exc.errno != errno.ESRCH:
                    raise
        if self._sigstops_pending:
            os.kill(self.pid, signal.SIGCONT)  # our interrupt may still be queued
        self.exit_event = None
        self._forget()

    def _take_pending_traps(self) -> None:
        """A thread stopped by PTRACE_INTERRUPT reports that stop before it takes the signals
        already queued for it (job-control traps come first in the kernel's get_signal): the
        SIGTRAP of a hit or int3 it had just made is then still pending, and once detached the
        thread would die of it. Each such thread is stepped alone, so it takes the SIGTRAP under
        ptrace before it runs an instruction. No interrupt may be sent meanwhile: a thread woken
        and interrupted at once stops for the interrupt first again. A trap we caused is dropped
        by the detach (its int3 rewound first); the program's own (kill, raise) is handed back."""
        trap = 1 << (signal.SIGTRAP - 1)
        for thread in list(self.threads.values()):
            if thread.running or thread.held or not (
                    procfs.status_int(thread.tid, "SigPnd", 0, 16) & ~procfs.status_int(thread.tid, "SigBlk", 0, 16)
                    & trap):
                continue
            held_signal, thread.signal = thread.signal, 0  # the stop it is in keeps its own signal
            event = self.step_alone(thread.tid)
            if thread.tid not in self.threads or event is None:
                continue  # it exited meanwhile
            if isinstance(event, Trap) and event.info.sent_by_process:
                thread.signal = signal.SIGTRAP
            else:
                thread.signal = thread.signal or held_signal
                self.requeue(event)

    def _rewind_unread_int3s(self) -> None:
        """A queued, unread stop at one of our int3s leaves its pc one byte into the instruction
        the original byte begins: set it back, or the thread would resume mid-instruction."""
        for event in self._queue:
            if isinstance(event, Trap) and event.info.code == sc.SI_KERNEL:  # x86 int3 (TRAP_BRKPT is not)
                regs = self.get_regs(event.tid)
                if regs.rip - 1 in self.breaks.sites:
                    regs.rip -= 1
                    self.set_regs(event.tid, regs)

    def kept_children(self) -> list[int]:
        """Takes the unread events of vfork children kept for page watches (follow_vfork) out of
        the queue: their callers follow them (the thread that vforked waits for them)."""
        events = [e for e in self._queue if isinstance(e, Forked) and not self.fork_events]
        for event in events:
            self._queue.remove(event)
            self._update_held(event.tid)
        return [e.child for e in events]

    def _let_go_kept_children(self) -> None:
        """Kept vfork children nobody followed: let go, or each and the thread that vforked
        would wait for the other forever."""
        for child in self.kept_children():
            release_child(child, filtered=self.filtered)

    def kill(self) -> Optional[ProcessEvent]:
        """SIGKILLs the process and reaps it; returns its death event."""
        if not self.alive:
            return self.exit_event
        self._let_go_kept_children()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while self.alive:
            tid, status = REAPER.next_status(self)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(tid, status)
            else:  # e.g. the PTRACE_EVENT_EXIT stop a SIGKILLed thread still makes
                try:
                    sc.cont(tid, 0)
                except PtraceError:
                    pass
        return self.exit_event

    def _forget(self) -> None:
        self.alive = False
        for tid in list(self.threads):
            self._drop_thread(tid)
        REAPER.release(self.pid)
        if self._mem_fd is not None:
            os.close(self._mem_fd)
            self._mem_fd = None

    def _abandon(self) -> None:
        """Cleanup after a failed spawn/attach: kill what we started, let go of the rest."""
        if self.spawned:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        else:
            for tid in list(self.threads):
                try:
                    sc.detach(tid)
                except PtraceError:
                    pass
        self._forget()

    # ---------------------------------------------------------------- memory and registers

    def _open_memory(self) -> None:
        if self._mem_fd is not None:
            os.close(self._mem_fd)
        self._mem_fd = os.open(procfs.mem_path(self.pid), os.O_RDWR | os.O_CLOEXEC)

    def read_memory(self, addr: int, size: int) -> bytes:
        """The program's bytes: the original ones where our int3s are."""
        return self.breaks.mask(addr, self.read_raw(addr, size))

    def write_memory(self, addr: int, data: bytes) -> None:
        """Writes the program's bytes; an int3 written over stays, keeping the new byte as its original."""
        self.write_raw(addr, self.breaks.store(addr, data))

    def read_raw(self, addr: int, size: int) -> bytes:
        if self._mem_fd is None:
            raise TargetError(f"process {self.pid} is not running")
        try:
            data = os.pread(self._mem_fd, size, addr)
        except (OSError, OverflowError):
            data = b""
        if len(data) != size:
            raise TargetError(f"cannot read {size} bytes at {addr:#x}: not mapped in process {self.pid}")
        return data

    def write_raw(self, addr: int, data: bytes) -> None:
        if self._mem_fd is None:
            raise TargetError(f"process {self.pid} is not running")
        try:
            written = os.pwrite(self._mem_fd, data, addr)
        except (OSError, OverflowError):
            written = -1
        if written != len(data):
            raise TargetError(f"cannot write {len(data)} bytes at {addr:#x} in process {self.pid}")

    def get_regs(self, tid: int) -> sc.Regs:
        return sc.getregs(tid)

    def set_regs(self, tid: int, regs: sc.Regs) -> None:
        sc.setregs(tid, regs)

    def get_fpregs(self, tid: int) -> bytes:
        return sc.getfpregs(tid)

    def set_fpregs(self, tid: int, data: bytes) -> None:
        sc.setfpregs(tid, data)

    def get_xstate(self, tid: int) -> bytes:
        """The whole vector state (XSAVE area): saved and put back around an inferior call."""
        return sc.getxstate(tid)

    def set_xstate(self, tid: int, data: bytes) -> None:
        sc.setxstate(tid, data)

    def get_xmm(self, tid: int) -> list[int]:
        """XMM0-15 of a stopped thread (where floating-point arguments and locals live)."""
        raw = sc.getfpregs(tid)
        return [int.from_bytes(raw[XMM0_OFFSET + 16 * i:XMM0_OFFSET + 16 * i + 16], "little") for i in range(16)]


