"""The debugging session: one process, its breakpoints, and the loop that runs it.

It ties the process layer (stops), the hw layer (slots, routing) and the symbols
together, and gives hits their meaning: value changes for ``watch``, reads for
``rwatch``, conditions, ignore counts, one hit per string instruction. It returns
records and calls listeners; it never prints.
"""
from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import itertools
import os
import signal as _signal
import sys
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from . import records as rec
from .arch import ArchSpec, BpType, Chunk, current
from .errors import AddressError, HwdbgError, SlotError, SymbolError, TargetError, TargetTimeout, UsageError, ValidationError
from .hw.breakpoint import BreakpointManager, HwBreakpoint
from .hw.counting import Counter
from .hw.fastpath import BUFFER as FAST_BUFFER
from .hw.fastpath import MODE_ALL, MODE_CHANGES, MODE_UNCHANGED, FastBreakpoint, FastLoop
from .hw.router import Router, TrapKind
from .linux import procfs
from .process import events as pev
from .process.control import Inferior, find_program

KINDS = {"watch": BpType.W, "rwatch": BpType.R, "awatch": BpType.RW, "hbreak": BpType.X}
# Signals that stop the target and are passed on at the next continue (gdb's defaults).
STOP_AND_PASS = {_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGILL, _signal.SIGFPE, _signal.SIGABRT}
STOP_NO_PASS = {_signal.SIGINT}
KEPT_HITS = 10_000  # per breakpoint, by default: hit_count counts them all, memory stays flat
FAST_MAX_LENGTH = 32  # the C hit loop's value buffer


def signal_name(signo: int) -> str:
    try:
        return _signal.Signals(signo).name
    except ValueError:
        return f"SIG{signo}"


@dataclass(eq=False)
class Breakpoint:
    """A logical breakpoint as the user sees it; its number never depends on the slot."""

    id: int
    kind: str
    expr: str
    addr: int
    length: int
    priority: int = 0
    thread: Optional[int] = None
    condition: Optional[str] = None
    ignore_count: int = 0
    trace: bool = False
    changes_only: bool = False
    backtrace: bool = False
    signed: bool = False
    commands: list[str] = field(default_factory=list)
    on_hit: Optional[Callable[[rec.Hit], Any]] = None
    hit_count: int = 0
    hits: deque = field(default_factory=lambda: deque(maxlen=KEPT_HITS))
    value: Optional[bytes] = None
    hw: Optional[HwBreakpoint] = None
    counter: Optional[Counter] = None  # watch --count: perf counts, never stops
    resolve: Optional[Callable[[], tuple[int, int]]] = None  # re-resolution after exec/restart
    enabled: bool = True
    count: bool = False
    counted: int = 0  # counts of earlier runs/images of a --count watch
    _condition_ast: Any = None

    @property
    def access(self) -> BpType:
        return KINDS[self.kind]

    @property
    def status(self) -> str:
        if not self.enabled:
            return "DISABLED"
        if self.counter is not None:
            return "COUNTING"
        if self.hw is None:
            return "PENDING"
        return self.hw.status.name

    @property
    def total(self) -> int:
        """Hits so far: trapped ones, or the perf count of a --count watch."""
        return self.counted + (self.counter.total() if self.counter is not None else self.hit_count)

    def slots(self) -> dict[int, tuple[int, ...]]:
        return dict(self.hw.slots_by_tid) if self.hw else {}

    def to_json(self) -> dict[str, Any]:
        return {"event": "breakpoint", "id": self.id, "kind": self.kind, "expr": self.expr, "address": self.addr,
                "length": self.length, "status": self.status, "priority": self.priority, "thread": self.thread,
                "condition": self.condition, "ignore": self.ignore_count, "hits": self.total,
                "trace": self.trace, "slots": {str(t): list(s) for t, s in self.slots().items()}}


@dataclass
class _PendingString:
    """A string instruction stopped mid-way: its remaining stops are merged into one hit."""

    slot: int
    pc: int
    bp_ids: set[int] = field(default_factory=set)


_live_sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()


class Session:
    def __init__(self, *, arch: Optional[ArchSpec] = None) -> None:
        self.arch = arch or current()
        self.manager = BreakpointManager(self.arch)
        self.router = Router(self.manager)
        self.inferior: Optional[Inferior] = None
        self.program: Optional[list[str]] = None
        self.symbols: Any = None  # hwdbg.symbols.SymbolTable, when the program is known
        self.breakpoints: dict[int, Breakpoint] = {}
        self.listeners: list[Callable[[Any], None]] = []
        self.flushers: list[Callable[[], None]] = []  # called after a burst of hits was announced
        self._unflushed = 0
        self.current_tid: Optional[int] = None
        self.last_stop: Optional[rec.Stopped] = None
        self.pin = False
        self._saved_affinity: dict[int, set[int]] = {}
        self._ids = itertools.count(1)
        self._code: dict[int, bytes] = {}
        self._plain_pcs: set[int] = set()  # pcs whose instruction never stops mid-way
        self._unmapped_pcs: set[int] = set()
        self._frames: dict[int, rec.Frame] = {}
        self._missing_names: set[tuple[str, Optional[str]]] = set()  # looked up after a map refresh
        self.fast_path = True  # let the C loop take hits that need no Python
        self.fast_hits = 0  # how many of them it took
        self._fast_key: Any = None
        self._fast: Optional[FastLoop] = None
        self._pending_strings: dict[int, _PendingString] = {}
        self._stepping: set[int] = set()
        self._interrupt_wanted = False
        self._timed_out = False
        self._resume_all_after = False
        self._tracing = False  # hits never stop the target (run_until_exit, events)
        self._batch: Optional[int] = None  # in tracing mode, return after this many hits
        self._batched = 0
        _live_sessions.add(self)

    # ------------------------------------------------------------ events out

    def flush(self) -> None:
        """Tells listeners that buffered the hits of a burst to pass them on now."""
        if self._unflushed:
            self._unflushed = 0
            for flusher in list(self.flushers):
                flusher()

    def emit(self, event: Any) -> None:
        if self.listeners:
            for listener in list(self.listeners):
                listener(event)

    # ------------------------------------------------------------ process lifecycle

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
        self.symbols = _load_symbols(find_program(self.program[0]))

    def spawn(self, argv: Optional[Sequence[str]] = None, **kwargs: Any) -> None:
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `kill` or `detach` it first")
        if argv is not None:
            self.load(argv)
        if not self.program:
            raise UsageError("no program to run: give one on the command line or to `run`")
        if self.pin:
            _pin_to_one_cpu()
        self.inferior = Inferior.spawn(self.program, **kwargs)
        self._started()

    def attach(self, pid: int) -> None:
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `detach` it first")
        inferior = Inferior.attach(pid)
        self.inferior = inferior
        if self.pin:
            self._saved_affinity = _pin_with_target(pid, list(inferior.threads))
        try:
            exe = procfs.exe_path(pid)
            self.program = [exe]
            self.symbols = _load_symbols(exe)
        except HwdbgError:
            self.symbols = None
        self._started()

    def _started(self) -> None:
        inf = self.inferior
        assert inf is not None
        self._code.clear()
        self._plain_pcs.clear()
        self._unmapped_pcs.clear()
        self._pending_strings.clear()
        self._refresh_symbols()
        for tid in inf.threads:
            self.manager.add_thread(tid)
        self.current_tid = inf.pid
        self._rearm("start")

    def detach(self) -> None:
        """Clears every thread's debug registers, then lets the process go."""
        inf = self.require_process()
        inf.stop_all()
        self._disarm_all(inf)
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
        return _exit_record(event, inf.pid) if event is not None else None

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
                inf.kill() if inf.spawned else None

    def _disarm_all(self, inf: Inferior) -> None:
        for tid in list(inf.threads):
            self.manager.clear_thread(tid)

    def _gone(self) -> None:
        for bp in self.breakpoints.values():
            self._release_counter(bp)
        for tid in list(self.manager.threads):
            self.manager.remove_thread(tid)
        self._pending_strings.clear()
        self._stepping.clear()
        self.inferior = None

    # ------------------------------------------------------------ breakpoints

    def add_breakpoint(self, kind: str, addr: int, length: int, *, expr: Optional[str] = None,
                       priority: int = 0, thread: Optional[int] = None, condition: Optional[str] = None,
                       trace: bool = False, changes_only: Optional[bool] = None, backtrace: bool = False,
                       signed: bool = False, on_hit: Optional[Callable[[rec.Hit], Any]] = None,
                       resolve: Optional[Callable[[], tuple[int, int]]] = None, count: bool = False,
                       keep: Optional[int] = KEPT_HITS) -> Breakpoint:
        if kind not in KINDS:
            raise UsageError(f"unknown breakpoint kind {kind!r}; use watch, rwatch, awatch or hbreak")
        if count and (kind == "rwatch" or condition or on_hit or backtrace):
            raise UsageError("--count counts in the CPU without stopping: it cannot filter reads (rwatch), "
                             "test conditions, call back or take backtraces")
        condition_ast = _parse_condition(condition)
        if kind == "hbreak":
            length = self.arch.exec_length
        if 0 <= addr < procfs.mmap_min_addr():
            raise AddressError(f"{addr:#x} is below vm.mmap_min_addr ({procfs.mmap_min_addr():#x}): no program can "
                               "have memory there, so this breakpoint could never trigger")
        self.manager.make_chunks(addr, length, KINDS[kind])  # validate before anything changes
        bp = Breakpoint(id=next(self._ids), kind=kind, expr=expr or f"*{addr:#x}", addr=addr, length=length,
                        priority=priority, thread=thread, condition=" ".join(condition.split()) if condition else None,
                        trace=trace,
                        changes_only=(kind == "watch") if changes_only is None else changes_only,
                        backtrace=backtrace, signed=signed, on_hit=on_hit, resolve=resolve, count=count,
                        hits=deque(maxlen=keep), _condition_ast=condition_ast)
        if self.alive:
            self._install(bp)
        self.breakpoints[bp.id] = bp
        return bp

    def _install(self, bp: Breakpoint) -> None:
        """Registers bp with the hw layer on the stopped process (all or nothing)."""
        inf = self.require_process()
        if bp.count:
            return self._install_counter(bp, inf)
        with self._all_threads_stopped(inf):
            if bp.thread is not None and bp.thread not in inf.threads:
                raise ValidationError(f"no thread {bp.thread} in process {inf.pid}; see `info threads`")
            bp.hw = self.manager.register_user_hw_breakpoint(
                bp.addr, bp.length, bp.access, priority=bp.priority, tid=bp.thread, bp_id=bp.id,
                installed=lambda hw: self.emit(rec.Notice("installed", f"breakpoint {hw.id} installed",
                                                          data={"id": hw.id})),
                uninstalled=lambda hw: self.emit(rec.Notice("uninstalled", f"breakpoint {hw.id} waits for a slot",
                                                            data={"id": hw.id})))
            if not bp.enabled:
                self.manager.modify_user_hw_breakpoint(bp.hw, enabled=False)
            bp.value = self._read_value(bp)

    def _install_counter(self, bp: Breakpoint, inf: Inferior) -> None:
        """watch --count: perf counters on every thread, and their slots kept free of ptrace."""
        chunks = self.manager.make_chunks(bp.addr, bp.length, bp.access)
        with self._all_threads_stopped(inf):
            self.manager.reserved += len(chunks)
            counter = Counter(chunks)
            try:
                if self.manager.reserved > self.arch.nslots:
                    raise SlotError(f"--count needs {len(chunks)} debug register(s) per thread and only "
                                    f"{self.arch.nslots - self.manager.reserved + len(chunks)} are left for counting")
                self.manager.sync()  # moves ptrace breakpoints out of the reserved slots first
                for tid in inf.threads:
                    counter.add_thread(tid)
            except BaseException:
                counter.close()
                self.manager.reserved -= len(chunks)
                self.manager.sync()
                raise
            bp.counter = counter

    def _release_counter(self, bp: Breakpoint) -> None:
        if bp.counter is not None:
            bp.counted += bp.counter.total()
            bp.counter.close()
            bp.counter = None
            self.manager.reserved -= len(self.manager.make_chunks(bp.addr, bp.length, bp.access))

    def delete(self, bp: Breakpoint) -> None:
        self._release_counter(bp)
        if bp.hw is not None and self.alive:
            with self._all_threads_stopped(self.require_process()):
                self.manager.unregister_hw_breakpoint(bp.hw)
        self.breakpoints.pop(bp.id, None)
        bp.hw = None

    def set_enabled(self, bp: Breakpoint, enabled: bool) -> None:
        if bp.count:
            if not enabled:
                self._release_counter(bp)
            elif bp.counter is None and self.alive:
                self._install_counter(bp, self.require_process())
            bp.enabled = enabled
            return
        if bp.hw is not None and self.alive:
            with self._all_threads_stopped(self.require_process()):
                self.manager.modify_user_hw_breakpoint(bp.hw, enabled=enabled)
        bp.enabled = enabled

    def set_priority(self, bp: Breakpoint, priority: int) -> None:
        if bp.hw is not None and self.alive:
            with self._all_threads_stopped(self.require_process()):
                self.manager.modify_user_hw_breakpoint(bp.hw, priority=priority)
        bp.priority = priority

    def set_condition(self, bp: Breakpoint, condition: Optional[str]) -> None:
        bp._condition_ast = _parse_condition(condition)
        bp.condition = " ".join(condition.split()) if condition else None

    def get_breakpoint(self, ident: Any) -> Breakpoint:
        try:
            return self.breakpoints[int(ident)]
        except (KeyError, ValueError, TypeError):
            raise UsageError(f"no breakpoint number {ident}; see `info breakpoints`") from None

    @contextlib.contextmanager
    def _all_threads_stopped(self, inf: Inferior) -> Iterator[None]:
        """Changes need every thread stopped; if some run (a callback mid-run), stop them all
        now, and the run loop resumes them all afterwards."""
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        yield

    def _rearm(self, why: str) -> None:
        """(Re-)registers every breakpoint on a fresh image (start, exec); reports those that cannot be."""
        for bp in list(self.breakpoints.values()):
            self._release_counter(bp)
            if bp.hw is not None:
                try:
                    self.manager.unregister_hw_breakpoint(bp.hw)
                except HwdbgError:
                    pass
                bp.hw = None
            if bp.thread is not None:
                self.breakpoints.pop(bp.id)
                self.emit(rec.Notice("breakpoint-dropped", f"breakpoint {bp.id} dropped: its thread is gone",
                                     data={"id": bp.id}))
                continue
            try:
                if bp.resolve is not None:
                    bp.addr, bp.length = bp.resolve()
                elif why == "exec":
                    self.require_process().read_memory(bp.addr, 1)  # still mapped in the new image?
                self._install(bp)
            except HwdbgError as exc:
                bp.enabled = False
                self.emit(rec.Notice("breakpoint-dropped", f"breakpoint {bp.id} ({bp.expr}) disabled after {why}: "
                                     f"{exc}", data={"id": bp.id}))

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
            self._sync_all(inf)
            self._resume_all_after = False
            inf.resume_all()
            return self._run_loop(inf)
        except BaseException:
            if inf.alive:
                inf.stop_all()  # whatever went wrong, leave the target in a consistent all-stopped state
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def step(self, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """Executes one instruction in one thread (the others stay stopped)."""
        inf = self.require_stopped()
        tid = tid or self.current_tid or inf.pid
        if tid not in inf.threads:
            raise UsageError(f"no thread {tid}; see `info threads`")
        self._sync_all(inf)
        self._stepping.add(tid)
        self._resume_all_after = False
        try:
            if inf.has_pending_events:
                return self._run_loop(inf)
            inf.resume(tid, step=True)
            return self._run_loop(inf)
        except BaseException:
            if inf.alive:
                inf.stop_all()
            raise
        finally:
            self._stepping.discard(tid)

    def _sync_all(self, inf: Inferior) -> None:
        """Brings every thread's registers up to date (free when nothing changed); a thread in
        the middle of a string instruction keeps its lent slot (the manager keeps loans)."""
        self.manager.sync()

    def interrupt(self) -> None:
        """Asks a running target to stop (from a signal handler or another thread)."""
        inf = self.inferior
        if inf is not None and inf.alive:
            self._interrupt_wanted = True
            inf.request_interrupt()

    @contextlib.contextmanager
    def tracing(self, batch: Optional[int] = None) -> Iterator[None]:
        """Hits are recorded but do not stop; with ``batch``, cont() returns a "batch" stop every
        ``batch`` hits so a caller can stream them."""
        saved = self._tracing, self._batch
        self._tracing, self._batch, self._batched = True, batch, 0
        try:
            yield
        finally:
            self._tracing, self._batch = saved

    def _on_timeout(self) -> None:
        self._timed_out = True
        self.interrupt()

    def _run_loop(self, inf: Inferior) -> rec.Stopped | rec.Exited | rec.Killed:
        _running_sessions.add(self)
        try:
            return self._loop(inf)
        finally:
            _running_sessions.discard(self)

    def _loop(self, inf: Inferior) -> rec.Stopped | rec.Exited | rec.Killed:
        while True:
            self.flush()
            event = self._next_event(inf)
            result = self._handle(inf, event) if event is not None else None
            if _pending_signal is not None:
                if inf.alive:
                    inf.stop_all()
                _raise_pending_signal()
            if result is not None:
                self.flush()
                if isinstance(result, rec.Stopped):
                    inf.stop_all()
                    self.current_tid = result.tid
                    self.last_stop = result
                    self._interrupt_wanted = False
                    if self._timed_out:
                        self._timed_out = False
                        if result.reason == "timeout":
                            raise TargetTimeout(f"the target did not stop in time; it was interrupted at "
                                                f"{_where(result)}")
                        # A real stop won the race: report it; the late interrupt is absorbed later.
                return result
            if self._batch is not None and self._batched >= self._batch and inf.alive:
                self._batched = 0
                inf.stop_all()
                self.last_stop = rec.Stopped(reason="batch", tid=inf.pid, pc=0)
                return self.last_stop
            if self._resume_all_after:
                self._resume_all_after = False
                inf.resume_all()

    def _next_event(self, inf: Inferior) -> Optional[pev.ProcessEvent]:
        """The next stop for Python, letting the C loop handle delegated hits meanwhile.

        Returns None when hits were recorded and the caller should look at its batch limit.
        """
        loop = self._fast_loop(inf)
        if loop is None:
            return inf.wait_event()
        limit = FAST_BUFFER if self._batch is None else max(1, self._batch - self._batched)
        outcome, err = loop.run(limit)
        failure: Optional[BaseException] = None
        try:
            for fast, tid, pc, old, new in loop.drain():
                self.fast_hits += 1
                bp = fast.bp
                try:
                    self._publish(bp, tid, pc, _as_int(old, bp.signed), _as_int(new, bp.signed))
                except Exception as exc:  # a listener failed: every hit that happened still counts
                    failure = failure or exc
            if failure is not None:
                raise failure
        finally:
            # The stop the C loop handed back must not be lost if a listener raised.
            event = inf.accept(*outcome) if outcome is not None else None
            if event is not None and sys.exc_info()[0] is not None:
                inf.requeue(event)
        if outcome is not None:
            return event
        if err not in (0, errno.EINTR):
            return inf.wait_event()  # reports the failure (the process is gone) as wait_event does
        return None

    def _fast_loop(self, inf: Inferior) -> Optional[FastLoop]:
        """The C loop prepared for the current breakpoints and threads, or None if it cannot help."""
        if (not self.fast_path or not inf.idle or self._stepping or self._pending_strings or inf.mem_fd is None
                or _pending_signal is not None):
            return None
        key = (inf.generation, self.manager.epoch, len(self._plain_pcs), self._tracing,
               tuple((bp.id, bp.condition, bp.ignore_count, bp.trace, bp.on_hit is None) for bp in
                     self.breakpoints.values()))
        if key != self._fast_key:
            self._fast_key, self._fast = key, self._build_fast_loop(inf)
        return self._fast

    def _build_fast_loop(self, inf: Inferior) -> Optional[FastLoop]:
        shadows = [self.manager.threads.get(tid) for tid in inf.threads]
        if not shadows or any(s is None for s in shadows):
            return None
        layout = shadows[0].slots
        if any(s.slots != layout for s in shadows[1:]):
            return None  # thread-scoped breakpoints: per-thread layouts stay in Python
        slot_bp = [-1] * self.arch.nslots
        fast: list[FastBreakpoint] = []
        index: dict[int, int] = {}
        for slot, chunk in enumerate(layout):
            if chunk is None:
                continue
            owners = [hw for hw in self.manager.breakpoints.values() if hw.enabled and chunk in hw.chunks]
            bp = self.breakpoints.get(owners[0].id) if len(owners) == 1 else None
            if bp is None or not self._delegable(bp):
                continue
            if bp.id not in index:
                index[bp.id] = len(fast)
                mode = MODE_CHANGES if bp.changes_only else MODE_UNCHANGED if bp.kind == "rwatch" else MODE_ALL
                fast.append(FastBreakpoint(bp, bp.addr, bp.length, mode))
            slot_bp[slot] = index[bp.id]
        if not fast:
            return None
        armed = [i for i, chunk in enumerate(layout) if chunk is not None]
        return FastLoop(inf.mem_fd, list(inf.threads), sorted(self._plain_pcs),
                        armed[0] if len(armed) == 1 else -1, slot_bp, fast)

    def _delegable(self, bp: Breakpoint) -> bool:
        """A hit of bp needs nothing but recording: the C loop may take it."""
        return (bp.enabled and bp.kind != "hbreak" and bp.hw is not None and bp._condition_ast is None
                and bp.ignore_count == 0 and bp.on_hit is None and not bp.backtrace
                and (bp.trace or self._tracing) and 0 < bp.length <= FAST_MAX_LENGTH)

    def _resume(self, inf: Inferior, tid: int) -> None:
        if tid in inf.threads and not inf.threads[tid].running:
            inf.resume(tid, step=tid in self._stepping)

    def _handle(self, inf: Inferior, event: pev.ProcessEvent) -> Optional[Any]:
        tid = event.tid
        if isinstance(event, pev.Trap):
            return self._handle_trap(inf, tid, event.info)
        if isinstance(event, pev.ThreadCreated):
            for bp in self.breakpoints.values():
                if bp.counter is not None:
                    bp.counter.add_thread(tid)  # before ptrace writes any of its slots
            self.manager.add_thread(tid)
            self.manager.sync([tid])
            self.emit(rec.Notice("thread-created", f"new thread {tid}", tid=tid))
            self._resume(inf, tid)
            return None
        if isinstance(event, pev.ThreadExited):
            for bp in self.breakpoints.values():
                if bp.counter is not None:
                    bp.counter.remove_thread(tid)
            self.manager.remove_thread(tid)
            self._pending_strings.pop(tid, None)
            self.emit(rec.Notice("thread-exited", f"thread {tid} exited", tid=tid))
            return None
        if isinstance(event, pev.Exec):
            for bp in self.breakpoints.values():
                self._release_counter(bp)  # the old image's addresses; _rearm opens new ones
            self.manager.reset_after_exec(tid)
            self._code.clear()
            self._plain_pcs.clear()
            self._unmapped_pcs.clear()
            self._pending_strings.clear()
            self._refresh_symbols(exec_happened=True)
            self.emit(rec.Notice("exec", f"process {inf.pid} is executing a new program", tid=tid))
            self._rearm("exec")
            self.manager.sync([tid])
            self._resume(inf, tid)
            return None
        if isinstance(event, (pev.Exited, pev.Killed)):
            self._gone()
            return _exit_record(event, inf.pid)
        if isinstance(event, pev.Interrupted):
            if self._interrupt_wanted:
                return self._stopped(inf, tid, "timeout" if self._timed_out else "interrupted")
            self._resume(inf, tid)  # an interrupt that arrived after the stop it was for
            return None
        if isinstance(event, pev.GroupStop):
            return self._stopped(inf, tid, "signal", signal=signal_name(event.signo))
        if isinstance(event, pev.Signal):
            return self._handle_signal(inf, tid, event)
        return None

    def _handle_signal(self, inf: Inferior, tid: int, event: pev.Signal) -> Optional[rec.Stopped]:
        name = signal_name(event.signo)
        if event.signo in STOP_NO_PASS:
            inf.threads[tid].signal = 0
            return self._stopped(inf, tid, "interrupted" if self._interrupt_wanted else "signal", signal=name)
        if event.signo in STOP_AND_PASS and not self._tracing:
            return self._stopped(inf, tid, "signal", signal=name)
        self.emit(rec.Notice("signal", f"thread {tid} received {name}; passed on", tid=tid,
                             data={"signal": name}))
        self._resume(inf, tid)
        return None

    def _stopped(self, inf: Inferior, tid: int, reason: str, *, hits: tuple = (), signal: Optional[str] = None,
                 pc: Optional[int] = None) -> rec.Stopped:
        if pc is None:
            pc = self.arch.get_pc(inf.get_regs(tid))
        return rec.Stopped(reason=reason, tid=tid, pc=pc, hits=hits, signal=signal, where=self.describe(pc))

    # ------------------------------------------------------------ traps and hits

    def _handle_trap(self, inf: Inferior, tid: int, info: Any) -> Optional[rec.Stopped]:
        report = self.router.classify(tid, info)
        kind = report.kind
        if kind in (TrapKind.USER, TrapKind.OTHER):
            inf.threads[tid].signal = _signal.SIGTRAP  # the program's own SIGTRAP: deliver it back
            self.emit(rec.Notice("signal", f"thread {tid} received SIGTRAP from the program; passed on", tid=tid,
                                 data={"signal": "SIGTRAP"}))
            self._resume(inf, tid)
            return None
        if kind is TrapKind.INT3:
            return self._stopped(inf, tid, "int3", signal="SIGTRAP")
        if kind is TrapKind.STEP:
            if tid in self._stepping:
                return self._stopped(inf, tid, "step")
            self._resume(inf, tid)
            return None
        pc = info.addr
        hits: list[rec.Hit] = []
        stop = False
        pending = self._pending_strings.get(tid)
        if pending is not None and pending.slot in report.fired_slots:
            del self._pending_strings[tid]
            self.manager.end_loan(tid)
            for bp_id in sorted(pending.bp_ids):
                bp = self.breakpoints.get(bp_id)
                if bp is not None:
                    stop |= self._record_hit(inf, bp, tid, pending.pc, hits, at=pending.pc)
        seen: set[int] = set()
        for slot_hit in report.hits:
            bp = self.breakpoints.get(slot_hit.bp.id)
            if bp is None or bp.id in seen:
                continue
            seen.add(bp.id)
            if bp.kind != "hbreak" and self._defer_string_store(inf, tid, pc, slot_hit):
                continue
            stop |= self._record_hit(inf, bp, tid, pc, hits)
        if stop or (report.single_step and tid in self._stepping):
            # si_addr is the pc for TRAP_HWBKPT (after the write for data, at the instruction for exec)
            return self._stopped(inf, tid, "breakpoint" if stop else "step", hits=tuple(hits),
                                 pc=None if report.single_step else pc)
        self._resume(inf, tid)
        return None

    def _defer_string_store(self, inf: Inferior, tid: int, pc: int, slot_hit: Any) -> bool:
        """A rep movs/stos stops once per element written into the range: merge them into one hit.

        The stop is inside the instruction (the pc is the instruction itself). We lend the
        slot that fired to an execute breakpoint just after the instruction; when that fires,
        the instruction is done and the merged hit is reported with the final value.
        """
        pending = self._pending_strings.get(tid)
        if pending is not None and pending.pc == pc:
            pending.bp_ids.add(slot_hit.bp.id)  # another slot fired inside the same instruction
            self.manager.extend_loan(tid, slot_hit.bp.id)
            return True
        code = self._code.get(pc)
        if code is None:
            code = self._code[pc] = self._read_code(inf, pc)
            if code and not self.arch.is_string_store(code):
                self._plain_pcs.add(pc)  # the C hit loop may take hits at this pc from now on
        if pc in self._plain_pcs:
            return False  # the common case: no register read needed
        length = self.arch.string_store_in_flight(code, inf.get_regs(tid), slot_hit.chunk)
        if length is None or pending is not None:
            return False
        self.manager.lend_slot(tid, slot_hit.slot, Chunk(pc + length, self.arch.exec_length, BpType.X),
                               lenders=(slot_hit.bp.id,))
        self._pending_strings[tid] = _PendingString(slot=slot_hit.slot, pc=pc, bp_ids={slot_hit.bp.id})
        return True

    def _read_code(self, inf: Inferior, pc: int) -> bytes:
        try:
            return inf.read_memory(pc, 8)  # up to 4 prefixes, REX, opcode
        except TargetError:
            return b""

    def _record_hit(self, inf: Inferior, bp: Breakpoint, tid: int, pc: int, out: list,
                    at: Optional[int] = None) -> bool:
        """Applies the breakpoint's semantics to one hit; True if the target should stop."""
        old = new = None
        if bp.kind != "hbreak":
            data = self._read_value(bp)
            previous, bp.value = bp.value, data
            old, new = _as_int(previous, bp.signed), _as_int(data, bp.signed)
            if bp.changes_only and data == previous:
                return False  # watch: same value written again
            if bp.kind == "rwatch" and previous is not None and data != previous:
                return False  # rwatch on x86-64: an access that changed the value was a write
        if bp._condition_ast is not None and not self._condition_holds(bp, tid, old, new):
            return False
        if bp.ignore_count > 0:
            bp.ignore_count -= 1
            return False
        out.append(self._publish(bp, tid, pc, old, new, at))
        return not (bp.trace or self._tracing)

    def _publish(self, bp: Breakpoint, tid: int, pc: int, old: Optional[int], new: Optional[int],
                 at: Optional[int] = None) -> rec.Hit:
        """Counts, keeps and announces one hit, located at ``at`` (default: the accessing instruction)."""
        # Data traps come after the access: pc - 1 lies in the instruction that made it.
        where = self.describe(at if at is not None else pc if bp.kind == "hbreak" else pc - 1)
        hit = rec.Hit(id=bp.id, kind=bp.kind, expr=bp.expr, address=bp.addr, length=bp.length, tid=tid, pc=pc,
                      old=old, new=new, function=where.function, file=where.file, line=where.line,
                      backtrace=self.backtrace(tid) if bp.backtrace else None)
        bp.hit_count += 1
        bp.hits.append(hit)
        self._unflushed += 1
        self.emit(hit)
        if bp.on_hit is not None:
            bp.on_hit(hit)
        self._batched += 1
        return hit

    def _condition_holds(self, bp: Breakpoint, tid: int, old: Optional[int], new: Optional[int]) -> bool:
        from . import expr
        bindings = {"new": new if new is not None else 0, "old": old if old is not None else 0}
        try:
            return expr.truth(expr.evaluate(bp._condition_ast, self.env(tid), bindings))
        except HwdbgError as exc:
            self.emit(rec.Notice("error", f"error in condition of breakpoint {bp.id} ({bp.condition}): {exc}; "
                                          "stopping", tid=tid))
            return True  # like gdb: a condition that cannot be evaluated stops

    def _read_value(self, bp: Breakpoint) -> Optional[bytes]:
        if bp.kind == "hbreak" or not self.alive:
            return None
        try:
            return self.inferior.read_memory(bp.addr, bp.length)
        except TargetError:
            return None

    # ------------------------------------------------------------ inspection

    def describe(self, pc: int) -> rec.Frame:
        frame = self._frames.get(pc)
        if frame is None:
            if len(self._frames) > 65536:
                self._frames.clear()
            frame = self._frames[pc] = self._describe(pc)
        return frame

    def _describe(self, pc: int) -> rec.Frame:
        if self.symbols is not None:
            try:
                loc = self.symbols.describe(pc)
                if loc.module is None and pc not in self._unmapped_pcs and self.alive:
                    # Libraries are mapped after exec (and by dlopen): re-read the map once per pc.
                    self._unmapped_pcs.add(pc)
                    self._refresh_symbols()
                    loc = self.symbols.describe(pc)
                return rec.Frame(pc=pc, function=loc.function, offset=loc.offset, file=loc.file, line=loc.line,
                                 module=loc.module)
            except HwdbgError:
                pass
        return rec.Frame(pc=pc)

    def backtrace(self, tid: int, limit: int = 64) -> tuple[rec.Frame, ...]:
        from .symbols.unwind import unwind
        inf = self.require_process()
        return tuple(self.describe(pc) for pc in unwind(self, inf, tid, limit))

    def set_register(self, name: str, value: int, tid: Optional[int] = None) -> None:
        """Writes one register of a stopped thread. Moving the pc clears RF, so an execute
        breakpoint at the new pc is not skipped."""
        inf = self.require_stopped()
        tid = tid or self.current_tid or inf.pid
        regs = inf.get_regs(tid)
        name = {"pc": "rip", "sp": "rsp", "fp": "rbp"}.get(name.lstrip("$"), name.lstrip("$"))
        if name not in {f[0] for f in regs._fields_}:
            raise UsageError(f"unknown register ${name}")
        if name == "rip":
            self.arch.set_pc(regs, value)
        else:
            setattr(regs, name, value & (2**64 - 1))
        inf.set_regs(tid, regs)

    def env(self, tid: Optional[int] = None) -> "SessionEnv":
        return SessionEnv(self, tid or self.current_tid)

    def _refresh_symbols(self, exec_happened: bool = False) -> None:
        self._frames.clear()
        if exec_happened:
            self._missing_names.clear()
        inf = self.inferior
        if inf is None:
            return
        if exec_happened:
            try:
                self.symbols = _load_symbols(procfs.exe_path(inf.pid))
            except HwdbgError:
                self.symbols = None
        if self.symbols is not None:
            try:
                self.symbols.refresh(inf.pid)
            except (HwdbgError, OSError):
                pass

    def refresh_symbols(self) -> None:
        """Re-reads the memory map (after dlopen)."""
        self._refresh_symbols()


class SessionEnv:
    """What the expression language may see: symbols, memory, the registers of one thread."""

    def __init__(self, session: Session, tid: Optional[int]) -> None:
        self.session, self.tid = session, tid

    def lookup(self, name: str, lib: Optional[str]) -> tuple[int, Any]:
        symbols = self.session.symbols
        if symbols is None:
            raise SymbolError(f"no symbol table loaded; cannot look up {name!r}")
        try:
            var = symbols.lookup(name, lib)
        except SymbolError:
            key = (name, lib)
            if not self.session.alive or key in self.session._missing_names:
                raise
            self.session._missing_names.add(key)  # once per name: a condition may ask at every hit
            self.session.refresh_symbols()  # a library mapped since the last look (dlopen)
            var = symbols.lookup(name, lib)
        return var.addr, var.ctype

    def read_memory(self, addr: int, size: int) -> bytes:
        return self.session.require_process().read_memory(addr, size)

    def register(self, name: str) -> int:
        session = self.session
        if name == "tid":
            return self.tid or 0
        inf = session.require_process()
        regs = inf.get_regs(self.tid or inf.pid)
        aliases = {"pc": "rip", "sp": "rsp", "fp": "rbp"}
        field_name = aliases.get(name, name)
        if field_name not in {f[0] for f in regs._fields_}:
            raise UsageError(f"unknown register ${name}")
        return int(getattr(regs, field_name))


def _as_int(data: Optional[bytes], signed: bool) -> Optional[int]:
    return None if data is None else int.from_bytes(data, "little", signed=signed)


def _parse_condition(text: Optional[str]) -> Any:
    if not text:
        return None
    from . import expr
    return expr.parse(text)


def _exit_record(event: Any, pid: int) -> rec.Exited | rec.Killed:
    if isinstance(event, pev.Exited):
        return rec.Exited(code=event.code, pid=pid)
    return rec.Killed(signal=signal_name(event.signal), pid=pid, core=event.core)


def _where(stop: rec.Stopped) -> str:
    where = stop.where
    if where is not None and where.function:
        return f"{stop.pc:#x} in {where.function}"
    return f"{stop.pc:#x}"


def _load_symbols(path: str) -> Any:
    from .symbols import SymbolTable
    try:
        return SymbolTable(path)
    except (OSError, ValueError) as exc:
        raise SymbolError(f"cannot read symbols from {path}: {exc}") from None


def _pin_to_one_cpu() -> None:
    """--pin: the debugger and the target share one CPU (the child inherits the mask)."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})


def _pin_with_target(pid: int, tids: list[int]) -> dict[int, set[int]]:
    """--pin on attach: the debugger joins the CPU the target last ran on, and the target's
    threads stay there (they are given their old CPU sets back at detach)."""
    cpu = procfs.last_cpu(pid)
    if cpu is None:
        return {}
    try:
        saved = {tid: os.sched_getaffinity(tid) for tid in tids}
        for tid in tids:
            os.sched_setaffinity(tid, {cpu})
        os.sched_setaffinity(0, {cpu})
        return saved
    except OSError:
        return {}


def _cleanup_all() -> None:
    """At interpreter exit: never leave a target with armed debug registers behind."""
    for session in list(_live_sessions):
        try:
            session.close()
        except Exception:
            pass


atexit.register(_cleanup_all)


_running_sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()
_pending_signal: Optional[int] = None


def _signal_exception(signo: int) -> BaseException:
    return KeyboardInterrupt() if signo == _signal.SIGINT else SystemExit(128 + signo)


def _on_fatal_signal(signo: int, _frame: Any) -> None:
    """SIGINT/SIGTERM/SIGHUP: raise where it is safe.

    While a session runs its loop, an exception at an arbitrary point could leave a thread
    running that we believe stopped; so we only note the signal and interrupt the target,
    and the loop raises once every thread is stopped. Cleanup (clear the registers, then
    detach or kill) runs as the exception unwinds, or at interpreter exit.
    """
    global _pending_signal
    running = [s for s in list(_running_sessions) if s.alive]
    if not running:
        raise _signal_exception(signo)
    _pending_signal = signo
    for session in running:
        session.interrupt()


def _raise_pending_signal() -> None:
    global _pending_signal
    if _pending_signal is not None:
        signo, _pending_signal = _pending_signal, None
        raise _signal_exception(signo)


def install_signal_cleanup(signals: Iterable[int] = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)) -> None:
    """Makes SIGINT/SIGTERM/SIGHUP end the program through cleanup (main thread only; handlers
    the program installed itself are left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signo in signals:
        if _signal.getsignal(signo) in (_signal.SIG_DFL, _signal.default_int_handler, None):
            _signal.signal(signo, _on_fatal_signal)
