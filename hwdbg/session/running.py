"""Running the process (a part of Session): resume, then wait for the next stop that needs the user.

Hits the C loop can take without Python are handed to it; everything else comes back as a
process event and goes to the stop dispatch.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Optional

from .. import records as rec
from ..errors import TargetTimeout, UsageError
from ..hw.fastpath import BUFFER as FAST_BUFFER
from ..process import events as pev
from ..process.control import Inferior
from . import cleanup
from .fastplan import run_fast_loop
from .publisher import announcers
from .stops import where_text


class Running:
    """Session's run loop; the state it uses is set up by Session.__init__."""

    def cont(self, timeout: Optional[float] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """Resumes every thread and returns at the next stop that needs the user."""
        end = self._unreported_end()
        if end is not None:
            return end
        inf = self.require_stopped()
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self._on_timeout)
            timer.daemon = True
            timer.start()
        try:
            self.manager.sync()  # free when nothing changed; lent slots stay lent
            self._resume_all_after = False
            self._locked = self.current_tid if self.scheduler_locking == "on" and self.current_tid in inf.threads \
                else None
            return self._run_loop(inf, lambda: self.soft.resume_all(inf, only=self._locked))
        except BaseException:
            if inf.alive:
                inf.stop_all()  # whatever went wrong, leave the target in a consistent all-stopped state
            raise
        finally:
            self._locked = None
            if timer is not None:
                timer.cancel()
                timer.join()  # ended here, not later: a lingering timer thread would keep this session alive

    def step(self, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """Executes one instruction in one thread (the others stay stopped)."""
        return self.go(tid, step=True, lock=True)

    def go(self, tid: Optional[int] = None, *, step: bool, lock: bool) -> rec.Stopped | rec.Exited | rec.Killed:
        """Resumes one thread, for one instruction (``step``) or until a stop, and the others
        too unless ``lock``; returns the next stop that needs the user (the step engine's move)."""
        end = self._unreported_end()
        if end is not None:
            return end
        inf = self.require_stopped()
        tid = tid or self.current_tid or inf.pid
        if tid not in inf.threads:
            raise UsageError(f"no thread {tid}; see `info threads`")
        self.manager.sync()
        if step:
            self._stepping.add(tid)
        self._locked = tid if lock else None
        self._resume_all_after = False
        try:
            return self._run_loop(inf, lambda: self.soft.start(
                inf, tid, step=step and not self.kernel.step_by_syscall(inf, tid), lock=lock))
        except BaseException:
            if inf.alive:
                inf.stop_all()
            raise
        finally:
            self._stepping.discard(tid)
            self._locked = None

    def interrupt(self) -> None:
        """Asks a running target to stop (from a signal handler or another thread)."""
        inf = self.inferior
        if inf is not None and inf.alive:
            self._interrupt_wanted = True
            self.interrupts += 1  # the step engine checks it between its moves
            inf.request_interrupt()

    @contextlib.contextmanager
    def tracing(self, batch: Optional[int] = None) -> Iterator[None]:
        """Hits are recorded but do not stop; with ``batch``, cont() returns a "batch" stop every
        ``batch`` hits so a caller can stream them."""
        saved = self._tracing, self._batch
        self._tracing, self._batch, self._batch_start = True, batch, self.hits.published
        try:
            yield
        finally:
            self._tracing, self._batch = saved

    def _on_timeout(self) -> None:
        self._timed_out = True
        self.interrupt()

    def _unreported_end(self) -> rec.Exited | rec.Killed | None:
        """The program's end read in a run that a listener's exception cut short: the next run reports it."""
        inf = self.inferior
        event = inf.take_end() if inf is not None else None
        if event is None:
            return None
        with self.notrace.guard():
            return self._handle(inf, event)

    def _run_loop(self, inf: Inferior, start: Callable[[], None]) -> rec.Stopped | rec.Exited | rec.Killed:
        cleanup.running_sessions.add(self)  # from here a signal is only noted (a step-over may wait)
        self.thread_numbers.prune()
        self.frames.reset(stopped=False)
        try:
            self.kernel.before_resume(inf)
            start()
            # batches (events()) count announced hits: those are announced inline
            with announcers(self.publisher, self.notrace, offload=self.fast_path and self._batch is None):
                return self._loop(inf)
        finally:
            cleanup.running_sessions.discard(self)

    def _loop(self, inf: Inferior) -> rec.Stopped | rec.Exited | rec.Killed:
        while True:
            self.flush()
            event = self._next_event(inf)
            if event is not None and self.publisher.running:
                try:
                    self.publisher.wait_idle()  # the C loop's hits are announced before this event
                except BaseException:
                    inf.requeue(event)
                    raise
            with self.notrace.guard():
                result = self._handle(inf, event) if event is not None else None
            if event is not None and event.tid in self.manager.stale:
                self.manager.sync([event.tid])  # its stop is read: now it may have the new registers
            if cleanup.signal_pending():
                if inf.alive:
                    inf.stop_all()
                cleanup.raise_pending_signal()
            if result is not None:
                self.flush()
                if isinstance(result, rec.Stopped):
                    inf.stop_all()
                    for event in inf.take_thread_events():
                        self._thread_event(inf, event)  # reported before the stop, as gdb does
                    if result.reason == "call-return":
                        result = self.dummies.pop_returned(inf, result)
                    self.current_tid = result.tid
                    self.last_stop = result
                    self.frames.reset(stopped=True)
                    self.frames.at_breakpoints(result.tid, [self.breakpoints.get(h.id) for h in result.hits if h.stopped])
                    result = self.frames.innermost_stop(result)
                    for hit in result.hits:
                        bp = self.breakpoints.get(hit.id)
                        if hit.stopped and bp is not None and bp.temporary:
                            self.delete(bp)
                    self._interrupt_wanted = False
                    if self._timed_out:
                        self._timed_out = False
                        if result.reason == "timeout":
                            raise TargetTimeout(f"the target did not stop in time; it was interrupted at "
                                                f"{where_text(result)}")
                        # A real stop won the race: report it; the late interrupt is absorbed later.
                return result
            if self._batch is not None and self._batched() >= self._batch and inf.alive:
                self._batch_start = self.hits.published
                inf.stop_all()
                self.frames.reset(stopped=True)
                self.last_stop = rec.Stopped(reason="batch", tid=inf.pid, pc=0)
                return self.last_stop
            if self._resume_all_after:
                self._resume_all_after = False
                self.manager.sync(self.manager.stale)  # those whose stops were read meanwhile
                self.soft.resume_all(inf, only=self._locked)

    def _batched(self) -> int:
        return self.hits.published - self._batch_start

    def _next_event(self, inf: Inferior) -> Optional[pev.ProcessEvent]:
        """The next stop for Python, letting the C loop handle delegated hits meanwhile.

        Returns None when hits were recorded and the caller should look at its batch limit.
        """
        loop = self._fast_loop(inf)
        if loop is None:
            return inf.wait_event()
        limit = FAST_BUFFER if self._batch is None else max(1, self._batch - self._batched())
        self.pagefast.attach(loop, inf if self._paged else None, limit)
        return run_fast_loop(loop, inf, limit, self._publish_fast, self.pagefast)

    def _publish_fast(self, burst: Any, page_hits: list) -> None:
        if not len(burst) and not page_hits:
            return
        self.fast_hits += len(burst) + len(page_hits)
        if self.publisher.running:
            # decoded and announced on the publisher's thread while the target runs
            self.publisher.submit(lambda: burst.decode() + page_hits)
            if self.publisher.failed:
                self.publisher.wait_idle()  # a listener failed: raise it here, as inline announcing would
            return
        with self.notrace.guard():
            self.hits.publish_many(burst.decode() + page_hits)

    def _fast_loop(self, inf: Inferior) -> Any:
        if (not self.fast_path or not inf.idle or self._stepping or self.strings.in_flight or inf.mem_fd is None
                or cleanup.signal_pending()):
            return None
        self._paged = self.pagefast.eligible(inf, self._tracing)
        if inf.trace_syscalls and not self._paged:
            return None  # the C loop resumes hits with PTRACE_CONT (page faults: as inf.resume would)
        loop = self._planner.plan(generation=inf.generation, mem_fd=inf.mem_fd, tids=inf.threads,
                                  plain_pcs=self.strings.plain_pcs, tracing=self._tracing,
                                  breakpoints=self.breakpoints, paged=self._paged)
        return None if loop is not None and loop.bps and inf.trace_syscalls else loop

    def _held(self, tid: int) -> bool:
        """A stop of this thread is queued and not yet read (see BreakpointManager.stale)."""
        inf = self.inferior
        thread = inf.threads.get(tid) if inf is not None else None
        return thread is not None and thread.held

    def _resume(self, inf: Inferior, tid: int) -> None:
        if self._locked is not None and tid != self._locked:
            return  # scheduler-locking: it waits, stopped, for the next command that lets it run
        if tid in inf.threads and not inf.threads[tid].running and not inf.threads[tid].held:
            # (held: another stop of it is queued unread; it must still be stopped when that is read)
            if tid in self.manager.stale:
                self.manager.sync([tid])  # its registers waited for this stop to be read
            addr = self.soft.needs_step_over(inf, tid) if self.soft.over else None
            if addr is not None:
                if not inf.all_stopped:
                    inf.stop_all()  # no other thread may pass the address while its int3 is out
                    self._resume_all_after = True
                self.soft.step_over(inf, tid, addr)
                return
            inf.resume(tid, step=tid in self._stepping and not self.kernel.step_by_syscall(inf, tid))
