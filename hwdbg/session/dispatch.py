"""What each process event means (a part of Session): a hit, a step, a signal, a new thread, an exec.

Each handler returns a Stopped record when the user must see the stop, or resumes the thread
and returns None.
"""
from __future__ import annotations

import dataclasses
import signal as _signal
from typing import Any, Optional

from .. import records as rec
from ..hw.router import TrapKind
from ..process import events as pev
from ..process.control import Inferior
from . import scoped, thread_bound
from .dummies import CALL
from .pagefast import PageResume
from .stops import exit_record, fork_reason, passed_on, signal_name, stop_reason


class StopDispatch:
    """Session's stop handlers; the state they use is set up by Session.__init__."""

    def _handle(self, inf: Inferior, event: pev.ProcessEvent) -> Optional[Any]:
        tid = event.tid
        if isinstance(event, pev.Trap):
            return self._handle_trap(inf, tid, event.info)
        if isinstance(event, pev.SyscallStop):
            trap = self.kernel.handle(inf, event)
            if trap.stop:
                return self._stopped(inf, tid, "breakpoint", hits=tuple(trap.hits))
            self._resume(inf, tid)
            return None
        if isinstance(event, pev.ThreadCreated):
            self._thread_event(inf, event)
            self._resume(inf, tid)
            return None
        if isinstance(event, pev.ThreadExited):
            self._thread_event(inf, event)
            return None
        if isinstance(event, pev.Exec):
            self.table.release_counters()  # the old image's addresses; rearm opens new ones
            self.manager.reset_after_exec(tid)
            self.strings.reset()
            self.soft.reset()
            self.ifuncs.reset()
            self.dummies.forget()  # the old image's calls: nothing returns to them
            self.image.after_exec()
            self.pages.reset()
            self.kernel.reset()
            self.emit(rec.Notice("exec", f"process {inf.pid} is executing a new program", tid=tid))
            self.table.rearm("exec")
            self.sites.watch_loader()
            self.manager.sync([tid])
            if self.exec_events:
                return self._stopped(inf, tid, "exec")
            self._resume(inf, tid)
            return None
        if isinstance(event, pev.Forked) and not self.fork_events:
            return self._vfork_child(inf, tid, event.child)
        if isinstance(event, (pev.Forked, pev.VforkDone)):
            stop = self._stopped(inf, tid, fork_reason(event))
            return dataclasses.replace(stop, child=getattr(event, "child", None))
        if isinstance(event, (pev.Exited, pev.Killed)):
            if inf.leader_gone:  # gdb meets the process's id again, as a new thread's
                self.thread_numbers.as_process(inf.pid)
                self.emit(rec.Notice("thread-created", f"the process's exit comes under {inf.pid}", tid=inf.pid))
            self._gone()
            return exit_record(event, inf.pid)
        if isinstance(event, pev.Interrupted):
            if self._interrupt_wanted:
                return self._stopped(inf, tid, "timeout" if self._timed_out else "interrupted")
            self._resume(inf, tid)  # an interrupt that arrived after the stop it was for
            return None
        if isinstance(event, pev.GroupStop):
            return self._stopped(inf, tid, "signal", signal=signal_name(event.signo))
        if isinstance(event, PageResume):
            return self._page_fault(inf, tid, event)
        if isinstance(event, pev.Signal):
            if self.pages.owns(event.signo, event.info):
                return self._page_fault(inf, tid, event)
            return self._handle_signal(inf, tid, event)
        return None

    def _thread_event(self, inf: Inferior, event: pev.ThreadCreated | pev.ThreadExited) -> None:
        """A thread appeared (stopped, not resumed here) or exited: book-keeping and gdb's notice."""
        tid = event.tid
        if isinstance(event, pev.ThreadCreated):
            self.table.thread_created(tid)
            self.thread_numbers.appeared(tid, lambda: inf.get_regs(tid), list(inf.threads))
            self.manager.add_thread(tid)
            self.manager.sync([tid])
            self.emit(rec.Notice("thread-created", f"new thread {tid}", tid=tid))
            return
        bound = thread_bound.bound_to(self.breakpoints, tid)
        self.table.thread_exited(tid)
        self.manager.remove_thread(tid)
        self.strings.forget(tid)
        self.kernel.forget(tid)
        self.thread_numbers.keep_pointer(tid, event.thread_pointer)
        self.thread_numbers.ended(tid, selected=tid == self.current_tid)
        self.emit(rec.Notice("thread-exited", f"thread {tid} exited", tid=tid))
        if bound:
            if not inf.all_stopped:
                inf.stop_all()  # an int3 comes out: as at a user's delete
                self._resume_all_after = True
            thread_bound.thread_gone(bound, tid, self.thread_numbers.number(tid), self.delete, self.emit)
        self.thread_numbers.forget(tid)  # its pointer named it in that notice

    def _page_fault(self, inf: Inferior, tid: int, event: pev.Signal | PageResume) -> Optional[rec.Stopped]:
        """A write to a protected page, made with every other thread stopped (pagewatch.py); or
        one the C loop's trampoline run left half done (pagefast.py)."""
        resume = event if isinstance(event, PageResume) else None
        if resume is not None:
            inf.threads[tid].running = False  # at the stop that cut the run short (read by the C loop)
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        trap = self.pages.handle_fault(inf, tid, event.addr if resume else event.info.addr, resume)
        if trap.stop:
            return self._stopped(inf, tid, "breakpoint", hits=tuple(trap.hits))
        if tid in inf.threads and not inf.threads[tid].held:
            self._resume(inf, tid)  # written by the trampoline: no stop of the step is queued
        return None

    def _vfork_child(self, inf: Inferior, tid: int, child: int) -> Optional[rec.Stopped]:
        """A vfork child that shares protected pages, followed to its exec or exit with every
        thread of the parent stopped (vforkchild.py); its hits stop the thread that vforked."""
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        trap = self.vforks.follow(inf, child)
        if trap.stop:
            return self._stopped(inf, tid, "breakpoint", hits=tuple(trap.hits))
        self._resume(inf, tid)
        return None

    def _handle_signal(self, inf: Inferior, tid: int, event: pev.Signal) -> Optional[rec.Stopped]:
        name = signal_name(event.signo)
        reason = stop_reason(event.signo, self.signals, interrupt_wanted=self._interrupt_wanted,
                             tracing=self._tracing)
        if not passed_on(event.signo, self.signals):
            inf.threads[tid].signal = 0
        if reason is not None:
            return self._stopped(inf, tid, reason, signal=name)
        self.emit(rec.Notice("signal", f"thread {tid} received {name}; passed on", tid=tid,
                             data={"signal": name, "print": event.signo in self.signals.print}))
        self._resume(inf, tid)
        return None

    def _stopped(self, inf: Inferior, tid: int, reason: str, *, hits: tuple = (), signal: Optional[str] = None,
                 pc: Optional[int] = None) -> rec.Stopped:
        if pc is None:
            pc = self.arch.get_pc(inf.get_regs(tid))
        if reason == "breakpoint" and all(h.kind.is_data for h in hits if h.stopped):
            reason = "watchpoint"  # only watches stopped it (their hits say which kind)
        return rec.Stopped(reason=reason, tid=tid, pc=pc, hits=hits, signal=signal, where=self.describe(pc))

    def _handle_trap(self, inf: Inferior, tid: int, info: Any) -> Optional[rec.Stopped]:
        if self.kernel.in_call(tid):  # a step out of a watched system call: its exit (kernelwrites.py)
            trap, again = self.kernel.stepped_out(inf, tid)
            if trap.stop:
                return self._stopped(inf, tid, "breakpoint", hits=tuple(trap.hits))
            if again:
                self._resume(inf, tid)
                return None
        report = self.router.classify(tid, info, stepped=inf.threads[tid].stepping)
        if report.kind is TrapKind.CAUSELESS:
            report = self.causeless.resolve(inf, tid, info.addr, report)
        kind = report.kind
        if kind in (TrapKind.USER, TrapKind.OTHER):
            inf.threads[tid].signal = _signal.SIGTRAP  # the program's own SIGTRAP: deliver it back
            self.emit(rec.Notice("signal", f"thread {tid} received SIGTRAP from the program; passed on", tid=tid,
                                 data={"signal": "SIGTRAP"}))
            self._resume(inf, tid)
            return None
        if kind is TrapKind.INT3:
            addr = self.soft.claim(inf, tid)
            if addr is None:
                return self._stopped(inf, tid, "int3", signal="SIGTRAP")  # the program's own int3
            owners = self.ifuncs.at_trap(inf, tid, addr, inf.breaks.owners(addr))  # IFUNC resolvers: no stop
            gone = scoped.frames_left(self.breakpoints, owners, self.arch.get_sp(inf.get_regs(tid)))
            if gone:  # a watched local's frame returned
                return scoped.left(gone, self._stopped(inf, tid, "watchpoint-scope", pc=addr), self.delete, self.emit)
            if self.soft.LOADER in owners:
                self.image.refresh()  # a library came or went
                self.table.resolve_pending()
                self.table.reresolve()
            if CALL in owners and self.dummies.returned(inf, tid, addr):
                return self._stopped(inf, tid, "call-return", pc=addr)  # popped by the run loop
            trap = self.soft.hits_at(tid, addr, owners)
            if trap.stop or tid in self._stepping or (self.soft.STEP in owners and self._step_stop(tid, addr)):
                return self._stopped(inf, tid, "breakpoint" if trap.stop else "step", hits=tuple(trap.hits), pc=addr)
            self._resume(inf, tid)
            return None
        if kind in (TrapKind.STEP, TrapKind.SPURIOUS):
            if kind is TrapKind.STEP and tid in self._stepping:
                pc = self.arch.get_pc(inf.get_regs(tid))
                # a step onto the int3 of a dummy frame's return is that return (gdb's bpstat)
                returned = CALL in inf.breaks.owners(pc) and self.dummies.returned(inf, tid, pc)
                return self._stopped(inf, tid, "call-return" if returned else "step", pc=pc)
            self._resume(inf, tid)
            return None
        trap = self.hits.collect(tid, report)
        if trap.stop or (report.single_step and tid in self._stepping):
            # si_addr is the pc for TRAP_HWBKPT (after the write for data, at the instruction for exec)
            return self._stopped(inf, tid, "breakpoint" if trap.stop else "step", hits=tuple(trap.hits),
                                 pc=None if report.single_step else info.addr)
        self._resume(inf, tid)
        return None

    def interrupt_handled(self) -> None:
        """The step engine stopped for an interrupt between its moves: the SIGSTOP still on its way
        is absorbed when it arrives, as one that came late."""
        self._interrupt_wanted = False

    def _step_stop(self, tid: int, addr: int) -> bool:
        return self.step_filter is not None and self.step_filter(tid, addr)
