"""The debugging session: one process, its breakpoints, and the loop that runs it.

It ties the process layer (stops), the hw layer (slots, routing, string stores) and the
symbols together, handing each collaborator only what it needs: the breakpoint table, the
hit semantics, the C loop's planner and the expression environment. It returns records
and calls listeners; it never prints.
"""
from __future__ import annotations

import contextlib
import os
import signal as _signal
import threading
from typing import Any, Callable, Iterator, Optional, Sequence

from .. import records as rec
from ..arch import ArchSpec, current
from ..errors import HwdbgError, TargetError, TargetTimeout, UsageError
from ..hw.breakpoint import BreakpointManager
from ..hw.fastpath import BUFFER as FAST_BUFFER
from ..hw.router import Router, TrapKind
from ..hw.strings import StringStores
from ..linux import affinity, procfs
from ..process import events as pev
from ..process.control import Inferior, find_program
from . import cleanup, scoped
from .causeless import CauselessTraps
from .env import ExpressionEnv
from .fastplan import FastPlanner, run_fast_loop
from .frames import FrameTable
from .hits import HitSemantics, as_int
from .image import ProgramImage, load_symbols
from .kernelwrites import KernelWrites
from .pagewatch import PageWatches
from .model import UserBreakpoint
from .notrace import NoStopTraces, slot_holders
from .publisher import Publisher, announcers
from .softstops import BreakSites, SoftStops
from .stepping import Stepper
from .stops import SignalTable, exit_record, passed_on, signal_name, stop_reason, where_text
from .table import BreakpointTable

class Session:
    def __init__(self, *, arch: Optional[ArchSpec] = None) -> None:
        self.arch = arch or current()
        self.manager = BreakpointManager(self.arch)
        self.router = Router(self.manager)
        self.inferior: Optional[Inferior] = None
        self.program: Optional[list[str]] = None
        self.listeners: list[Callable[[Any], None]] = []
        self.flushers: list[Callable[[], None]] = []  # called after a burst of hits was announced
        self.current_tid: Optional[int] = None
        self.last_stop: Optional[rec.Stopped] = None
        self.pin = False
        self.fast_path = True  # let the C loop take hits that need no Python
        self.fast_hits = 0  # how many of them it took
        self.stop_signals: set[int] = set()  # signals that stop too (hwdbg serve: those its client does not pass)
        self.signals = SignalTable()  # gdb's handle table
        self._saved_affinity: dict[int, set[int]] = {}
        self._stepping: set[int] = set()
        self._locked: Optional[int] = None  # while set, only this thread runs (scheduler-locking)
        self.scheduler_locking = "replay"  # gdb's modes: off, on, step, replay (= off when not replaying)
        self.step_filter: Optional[Callable[[int, int], bool]] = None  # the step engine's int3s: stop here?
        self._interrupt_wanted = False
        self.interrupts = 0
        self._timed_out = False
        self._resume_all_after = False
        self._tracing = False  # hits never stop the target (run_until_exit, events)
        self._batch: Optional[int] = None  # in tracing mode, return after this many hits
        self._batch_start = 0
        self._flushed = 0
        self.image = ProgramImage(self.arch, lambda: self.inferior, self.require_process)
        self.strings = StringStores(self.manager, self.arch, read_memory=self.read_memory,
                                    get_regs=lambda tid: self.require_process().get_regs(tid))
        self.hits = HitSemantics(self.strings, read_memory=self.read_memory, describe=self.describe,
                                 backtrace=self.backtrace, env=self.env, emit=self.emit,
                                 tracing=lambda: self._tracing, current=lambda bp_id: bp_id in self.breakpoints)
        self.pages = PageWatches(breakpoints=lambda: self.breakpoints, hits=self.hits, read_memory=self.read_memory)
        self.notrace = NoStopTraces(self.manager, publish=self.hits.publish, publish_records=self.hits.publish_records,
                                    describe=self.describe, emit=self.emit,
                                    flush=self.flush, holders=lambda: slot_holders(self.breakpoints.values()))
        self._cpus: Optional[set[int]] = None  # the debugger's CPUs before --pin (the publisher runs there)
        self.publisher = Publisher(self.hits.publish_many, self.flush, self.notrace.lock, lambda: self._cpus)
        self.table = BreakpointTable(self.manager, process=self.require_process, alive=lambda: self.alive,
                                     all_stopped=self._all_threads_stopped, read_value=self.hits.read_value,
                                     triggered=self.hits.triggered, emit=self.emit, notrace=self.notrace,
                                     pages=self.pages)
        self._planner = FastPlanner(self.manager, self.arch.nslots)
        self.soft = SoftStops(self.arch, self.hits, lambda: self.breakpoints)
        self.causeless = CauselessTraps(self.manager, self.router, lambda: self.breakpoints)
        self.sites = BreakSites(symbols=lambda: self.symbols, env=self.env, describe=self.describe,
                                inferior=lambda: self.inferior, last_stop=lambda: self.last_stop,
                                add=self.add_breakpoint, any_pending=lambda: self.table.any_pending)
        self.kernel = KernelWrites(breakpoints=lambda: self.breakpoints, hits=self.hits, read_memory=self.read_memory,
                                   pages=self.pages)
        self.stepper = Stepper(self)  # next, step, finish, until, advance, nexti
        self.frames = FrameTable(regs=lambda tid: self.require_process().get_regs(tid),
                                 xmm=lambda tid: self.require_process().get_xmm(tid), read_memory=self.read_memory,
                                 symbols=lambda: self.symbols, refresh=self.refresh_symbols, describe=self.describe)
        self.manager.is_held = self._held
        cleanup.live_sessions.add(self)

    # ------------------------------------------------------------ events out

    def flush(self) -> None:
        """Tells listeners that buffered the hits of a burst to pass them on now."""
        if self.hits.published != self._flushed:
            with self.notrace.guard():
                self._flushed = self.hits.published
                for flusher in list(self.flushers):
                    flusher()

    def emit(self, event: Any) -> None:
        if self.listeners:
            if self.notrace.reading:  # the --no-stop reader announces hits too: one at a time
                with self.notrace.lock:
                    for listener in list(self.listeners):
                        listener(event)
                return
            for listener in self.listeners[:]:
                listener(event)

    # ------------------------------------------------------------ process lifecycle

    @property
    def symbols(self) -> Any:
        """The program's symbol table (hwdbg.symbols.SymbolTable), or None when it is not known."""
        return self.image.symbols

    @symbols.setter
    def symbols(self, table: Any) -> None:
        self.image.symbols = table

    @property
    def alive(self) -> bool:
        return self.inferior is not None and self.inferior.alive

    def require_process(self) -> Inferior:
        if not self.alive:
            raise TargetError("the program is not being run; use `run`, `start` or `attach PID`")
        assert self.inferior is not None
        return self.inferior

    def require_stopped(self) -> Inferior:
        inf = self.require_process()
        if not inf.all_stopped:
            raise TargetError(f"process {inf.pid} is running; interrupt it first (Ctrl-C)")
        return inf

    def load(self, program: Sequence[str]) -> None:
        """Names the program to run; symbols are read now so breakpoints can be set before `run`."""
        self.program = list(program)
        self.symbols = load_symbols(find_program(self.program[0]))

    def spawn(self, argv: Optional[Sequence[str]] = None, *, kernel_writes: bool = False, **kwargs: Any) -> None:
        """Starts the program; under the kernel-write filter if ``kernel_writes`` or a --kernel watch exists."""
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `kill` or `detach` it first")
        if argv is not None:
            self.load(argv)
        if not self.program:
            raise UsageError("no program to run: give one on the command line or to `run`")
        if self.pin:
            self._cpus = os.sched_getaffinity(0)
            affinity.pin_to_one_cpu()
        kwargs["kernel_filter"] = self.kernel.spawn_filter(kernel_writes)
        self.inferior = Inferior.spawn(self.program, **kwargs)
        self._started()

    def attach(self, pid: int) -> None:
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `detach` it first")
        inferior = Inferior.attach(pid)
        self.inferior = inferior
        if self.pin:
            self._cpus = os.sched_getaffinity(0)
            self._saved_affinity = affinity.pin_with_target(pid, list(inferior.threads))
        try:
            exe = procfs.exe_path(pid)
            self.program = [exe]
            self.symbols = load_symbols(exe)
        except HwdbgError:
            self.symbols = None
        self._started()

    def _started(self) -> None:
        inf = self.inferior
        assert inf is not None
        self.strings.reset()
        self.soft.reset()
        self.image.new_process()
        for bp in self.breakpoints.values():
            bp.writers.reset()  # info writers tells of the last run
        for tid in inf.threads:
            self.manager.add_thread(tid)
        self.current_tid = inf.pid
        self.pages.reset()
        self.frames.reset(stopped=True)
        self.table.rearm("start")
        self.sites.watch_loader()

    def detach(self) -> None:
        """Clears every thread's debug registers, then lets the process go."""
        inf = self.require_process()
        self.kernel.check_detach(inf)
        inf.stop_all()
        self.pages.disarm_all(inf)  # no page left protected
        self._disarm_all(inf)
        self.table.release_counters()  # perf events too, while nothing runs: their counts are exact
        inf.detach()
        for tid, cpus in self._saved_affinity.items():
            try:
                os.sched_setaffinity(tid, cpus)  # --pin moved the target's threads: give them back
            except OSError:
                pass
        self._saved_affinity = {}
        self._gone()

    def kill(self) -> Optional[rec.Exited | rec.Killed]:
        inf = self.require_process()
        event = inf.kill()
        self._gone()
        return exit_record(event, inf.pid) if event is not None else None

    def close(self) -> None:
        """Lets go of the target safely whatever state it is in: kill what we spawned, detach the rest."""
        inf = self.inferior
        if inf is None or not inf.alive:
            return
        try:
            if inf.spawned:
                self.kill()
            else:
                self.detach()
        except HwdbgError:
            if inf.alive:
                inf.kill() if inf.spawned else self._let_go(inf)

    def _let_go(self, inf: Inferior) -> None:
        """A detach that failed at cleanup: still clear the registers and let go (SIGCONT for
        a pending interrupt), rather than leave the process to stop at our SIGSTOP."""
        try:
            self._disarm_all(inf)
            inf.detach()
        except HwdbgError:
            pass

    def _disarm_all(self, inf: Inferior) -> None:
        for tid in list(inf.threads):
            self.manager.clear_thread(tid)

    def _gone(self) -> None:
        self.table.release_counters()
        for tid in list(self.manager.threads):
            self.manager.remove_thread(tid)
        self.strings.reset()
        self.soft.reset()
        self.kernel.reset()
        self.pages.reset()
        self._stepping.clear()
        self.frames.reset(stopped=False, gone=True)
        self.inferior = None

    # ------------------------------------------------------------ breakpoints (the table's, on this process)

    @property
    def breakpoints(self) -> dict[int, UserBreakpoint]:
        return self.table.breakpoints

    def add_breakpoint(self, kind: Any, addr: int, length: int, **options: Any) -> UserBreakpoint:
        return self.table.add(kind, addr, length, **options)

    def add_break(self, location: str, **options: Any) -> tuple[UserBreakpoint, Optional[str]]:
        """A software breakpoint at a location (gdb's linespecs); returns it and a note to tell
        the user (the line moved to the next one with code, or it waits for its library), or None."""
        return self.sites.add_break(location, **options)

    def delete(self, bp: UserBreakpoint) -> None:
        self.table.delete(bp)

    def set_enabled(self, bp: UserBreakpoint, enabled: bool) -> None:
        self.table.set_enabled(bp, enabled)

    def set_priority(self, bp: UserBreakpoint, priority: int) -> None:
        self.table.set_priority(bp, priority)

    def set_condition(self, bp: UserBreakpoint, condition: Optional[str]) -> None:
        self.table.set_condition(bp, condition)

    def get_breakpoint(self, ident: Any) -> UserBreakpoint:
        return self.table.get(ident)

    @contextlib.contextmanager
    def _all_threads_stopped(self, inf: Inferior) -> Iterator[None]:
        """Changes need every thread stopped; if some run (a callback mid-run), stop them all
        now, and the run loop resumes them all afterwards."""
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        yield

    # ------------------------------------------------------------ running

    def cont(self, timeout: Optional[float] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """Resumes every thread and returns at the next stop that needs the user."""
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
            return self._run_loop(inf, lambda: self.soft.start(inf, tid, step=step, lock=lock))
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

    def _run_loop(self, inf: Inferior, start: Callable[[], None]) -> rec.Stopped | rec.Exited | rec.Killed:
        cleanup.running_sessions.add(self)  # from here a signal is only noted (a step-over may wait)
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
                    self.current_tid = result.tid
                    self.last_stop = result
                    self.frames.reset(stopped=True)
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
        return run_fast_loop(loop, inf, limit, self._publish_fast)

    def _publish_fast(self, hits: list) -> None:
        self.fast_hits += len(hits)
        if self.publisher.running:
            self.publisher.submit(hits)  # announced on the publisher's thread while the target runs
            if self.publisher.failed:
                self.publisher.wait_idle()  # a listener failed: raise it here, as inline announcing would
            return
        with self.notrace.guard():
            self.hits.publish_many(hits)

    def _fast_loop(self, inf: Inferior) -> Any:
        if (not self.fast_path or not inf.idle or self._stepping or self.strings.in_flight or inf.mem_fd is None
                or cleanup.signal_pending() or inf.trace_syscalls):  # the C loop resumes with PTRACE_CONT
            return None
        return self._planner.plan(generation=inf.generation, mem_fd=inf.mem_fd, tids=inf.threads,
                                  plain_pcs=self.strings.plain_pcs, tracing=self._tracing,
                                  breakpoints=self.breakpoints)

    def _held(self, tid: int) -> bool:
        """A stop of this thread is queued and not yet read (see BreakpointManager.stale)."""
        inf = self.inferior
        thread = inf.threads.get(tid) if inf is not None else None
        return thread is not None and thread.held

    def _resume(self, inf: Inferior, tid: int) -> None:
        if self._locked is not None and tid != self._locked:
            return  # scheduler-locking: it waits, stopped, for the next command that lets it run
        if tid in inf.threads and not inf.threads[tid].running:
            if tid in self.manager.stale:
                self.manager.sync([tid])  # its registers waited for this stop to be read
            addr = self.soft.needs_step_over(inf, tid) if self.soft.over else None
            if addr is not None:
                if not inf.all_stopped:
                    inf.stop_all()  # no other thread may pass the address while its int3 is out
                    self._resume_all_after = True
                self.soft.step_over(inf, tid, addr)
                return
            inf.resume(tid, step=tid in self._stepping)


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
            self.table.thread_created(tid)
            self.manager.add_thread(tid)
            self.manager.sync([tid])
            self.emit(rec.Notice("thread-created", f"new thread {tid}", tid=tid))
            self._resume(inf, tid)
            return None
        if isinstance(event, pev.ThreadExited):
            self.table.thread_exited(tid)
            self.manager.remove_thread(tid)
            self.strings.forget(tid)
            self.kernel.forget(tid)
            self.emit(rec.Notice("thread-exited", f"thread {tid} exited", tid=tid))
            return None
        if isinstance(event, pev.Exec):
            self.table.release_counters()  # the old image's addresses; rearm opens new ones
            self.manager.reset_after_exec(tid)
            self.strings.reset()
            self.soft.reset()
            self.image.after_exec()
            self.pages.reset()
            self.kernel.reset()
            self.emit(rec.Notice("exec", f"process {inf.pid} is executing a new program", tid=tid))
            self.table.rearm("exec")
            self.sites.watch_loader()
            self.manager.sync([tid])
            self._resume(inf, tid)
            return None
        if isinstance(event, (pev.Exited, pev.Killed)):
            self._gone()
            return exit_record(event, inf.pid)
        if isinstance(event, pev.Interrupted):
            if self._interrupt_wanted:
                return self._stopped(inf, tid, "timeout" if self._timed_out else "interrupted")
            self._resume(inf, tid)  # an interrupt that arrived after the stop it was for
            return None
        if isinstance(event, pev.GroupStop):
            return self._stopped(inf, tid, "signal", signal=signal_name(event.signo))
        if isinstance(event, pev.Signal):
            if self.pages.owns(event.signo, event.info):
                return self._page_fault(inf, tid, event)
            return self._handle_signal(inf, tid, event)
        return None

    def _page_fault(self, inf: Inferior, tid: int, event: pev.Signal) -> Optional[rec.Stopped]:
        """A write to a protected page: stepped with every other thread stopped (pagewatch.py)."""
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        trap = self.pages.handle_fault(inf, tid, event.info)
        return self._stopped(inf, tid, "breakpoint", hits=tuple(trap.hits)) if trap.stop else None

    def _handle_signal(self, inf: Inferior, tid: int, event: pev.Signal) -> Optional[rec.Stopped]:
        name = signal_name(event.signo)
        reason = stop_reason(event.signo, interrupt_wanted=self._interrupt_wanted, tracing=self._tracing,
                             table=self.signals)
        if reason is None and event.signo in self.stop_signals - self.signals.changed and not self._tracing:
            reason = "signal"
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
        return rec.Stopped(reason=reason, tid=tid, pc=pc, hits=hits, signal=signal, where=self.describe(pc))

    # ------------------------------------------------------------ traps and hits

    def _handle_trap(self, inf: Inferior, tid: int, info: Any) -> Optional[rec.Stopped]:
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
            owners = inf.breaks.owners(addr)
            gone = scoped.frames_left(self.breakpoints, owners, self.arch.get_sp(inf.get_regs(tid)))
            if gone:  # a watched local's frame returned
                return scoped.left(gone, self._stopped(inf, tid, "watchpoint-scope", pc=addr), self.delete, self.emit)
            if self.soft.LOADER in owners:
                self.image.refresh()  # a library came or went
                self.table.resolve_pending()
            trap = self.soft.hits_at(tid, addr, owners)
            if trap.stop or tid in self._stepping or (self.soft.STEP in owners and self._step_stop(tid, addr)):
                return self._stopped(inf, tid, "breakpoint" if trap.stop else "step", hits=tuple(trap.hits), pc=addr)
            self._resume(inf, tid)
            return None
        if kind in (TrapKind.STEP, TrapKind.SPURIOUS):
            if kind is TrapKind.STEP and tid in self._stepping:
                return self._stopped(inf, tid, "step")
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

    # ------------------------------------------------------------ memory, registers, symbols

    def read_memory(self, addr: int, size: int) -> bytes:
        return self.require_process().read_memory(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Writes target memory; watches over those bytes take them as their current value (so
        the next hit reports the right ``old``, and ``watch`` does not skip a real change)."""
        self.require_process().write_memory(addr, data)
        self.table.refresh_values(addr, len(data))

    def describe(self, pc: int) -> rec.Frame:
        return self.image.describe(pc)

    def backtrace(self, tid: int, limit: int = 64) -> tuple[rec.Frame, ...]:
        return self.image.backtrace(tid, limit)

    def set_register(self, name: str, value: int, tid: Optional[int] = None, keep_frame: bool = False) -> None:
        """Writes one register of a stopped thread. Moving the pc clears RF, so an execute
        breakpoint at the new pc is not skipped. ``keep_frame``: the selected frame stays selected."""
        inf = self.require_stopped()
        tid = tid or self.current_tid or inf.pid
        regs = inf.get_regs(tid)
        name = self.arch.register_name(name)
        if name not in {f[0] for f in regs._fields_}:
            raise UsageError(f"unknown register ${name}")
        if name == "rip":
            self.arch.set_pc(regs, value)
        else:
            setattr(regs, name, value & (2**64 - 1))
        inf.set_regs(tid, regs)
        self.frames.changed() if keep_frame else self.frames.reset(stopped=True)

    def env(self, tid: Optional[int] = None) -> ExpressionEnv:
        """The expression environment of one thread (default: the current one), in its selected frame."""
        env = self.image.env(tid or self.current_tid)
        env.frame = lambda name=None: self.frames.selected(env.tid or self.require_process().pid, name)
        return env

    def refresh_symbols(self) -> None:
        """Re-reads the memory map (after dlopen)."""
        self.image.refresh()
